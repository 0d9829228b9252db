#include "core/experiments.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "core/lockfile.hpp"
#include "core/params.hpp"
#include "core/pointer.hpp"
#include "core/repro.hpp"
#include "core/snapshot.hpp"
#include "core/workspace.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"
#include "storage/link.hpp"

namespace mlo::core {

// ---- parameter values in YAML text -------------------------------------------------------

namespace {

std::string shown_name(const std::string& file, const std::string& key) {
    return file == kDefaultParamsFile ? key : file + ":" + key;
}

// Shortest text that reads back as the same double, with a '.' or exponent so that YAML
// keeps reading it as a float.
std::string float_text(double v) {
    if (std::isnan(v)) return ".nan";
    if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, end);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

}  // namespace

nlohmann::json parse_param_value(const std::string& text) {
    if (text.empty()) return std::string();
    YAML::Node n;
    try {
        n = YAML::Load(text);
    } catch (const YAML::Exception&) {
        return text;  // not valid YAML on its own: take it as a string
    }
    if (!n.IsScalar() && !n.IsNull()) return text;
    return scalar_node_to_json(n);
}

namespace {

// The YAML text of a scalar value, plain when it reads back as itself, else double-quoted.
std::string yaml_scalar_text(const nlohmann::json& v) {
    switch (v.type()) {
        case nlohmann::json::value_t::null:
            return "null";
        case nlohmann::json::value_t::boolean:
            return v.get<bool>() ? "true" : "false";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
            return v.dump();
        case nlohmann::json::value_t::number_float:
            return float_text(v.get<double>());
        case nlohmann::json::value_t::string: {
            const std::string& s = v.get_ref<const std::string&>();
            bool simple = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '.' || c == '/';
            });
            if (simple && s.front() != '-' && parse_param_value(s) == v) return s;
            return v.dump();  // JSON's escapes are valid in a YAML double-quoted scalar
        }
        default:
            return v.dump(-1);  // a list or mapping in flow style (JSON is YAML)
    }
}

struct Located {
    YAML::Node node;
    bool in_flow = false;
};

// Like lookup_key, remembering whether the node sits inside a flow collection.
std::optional<Located> locate(const YAML::Node& root, const std::string& key) {
    YAML::Node cur(root);
    bool flow = false;
    size_t start = 0;
    while (true) {
        size_t dot = key.find('.', start);
        std::string seg =
            key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (seg.empty()) return std::nullopt;
        if (cur.Style() == YAML::EmitterStyle::Flow) flow = true;
        std::optional<YAML::Node> next;
        if (cur.IsMap()) {
            for (auto it = cur.begin(); it != cur.end(); ++it) {
                if (it->first.IsScalar() && it->first.Scalar() == seg) {
                    next = it->second;
                    break;
                }
            }
        } else if (cur.IsSequence()) {
            size_t idx = 0;
            auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
            if (ec == std::errc() && p == seg.data() + seg.size() && idx < cur.size()) {
                const YAML::Node& seq = cur;
                next = seq[idx];
            }
        }
        if (!next) return std::nullopt;
        cur.reset(*next);
        if (dot == std::string::npos) return Located{cur, flow};
        start = dot + 1;
    }
}

// The end of the scalar that starts at `pos`.
size_t scalar_end(const std::string& text, size_t pos, bool in_flow, const std::string& where) {
    char q = text[pos];
    if (q == '"') {
        for (size_t i = pos + 1; i < text.size(); ++i) {
            if (text[i] == '\\')
                ++i;
            else if (text[i] == '"')
                return i + 1;
        }
        throw Error(where + ": unterminated quoted value");
    }
    if (q == '\'') {
        for (size_t i = pos + 1; i < text.size(); ++i) {
            if (text[i] == '\'') {
                if (i + 1 < text.size() && text[i + 1] == '\'') {
                    ++i;
                    continue;
                }
                return i + 1;
            }
        }
        throw Error(where + ": unterminated quoted value");
    }
    if (q == '|' || q == '>') throw Error(where + ": cannot set a block scalar");
    size_t i = pos;
    while (i < text.size() && text[i] != '\n' && text[i] != '\r') {
        if (text[i] == '#' && i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t')) break;
        if (in_flow && (text[i] == ',' || text[i] == ']' || text[i] == '}')) break;
        ++i;
    }
    while (i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t'))
        --i;
    return i;
}

}  // namespace

std::string set_yaml_value(const std::string& text, const std::string& file, const std::string& key,
                           const nlohmann::json& value) {
    YAML::Node root = load_yaml_at(text, file);
    auto found = locate(root, key);
    if (!found) throw Error("no parameter " + quote(key) + " in " + file);
    const YAML::Node& n = found->node;
    SourcePos at = pos_of(file, n);
    std::string where = at.str();
    if (!n.IsScalar() && !n.IsNull())
        throw Error(where + ": parameter " + quote(key) + " is not a single value");
    const YAML::Mark mark = n.Mark();
    if (mark.is_null() || mark.pos < 0 || size_t(mark.pos) > text.size())
        throw Error(where + ": cannot locate the value of " + quote(key));
    size_t pos = size_t(mark.pos);
    size_t end = pos;
    if (n.IsNull() && (pos >= text.size() || text[pos] == '\n' || text[pos] == '\r')) {
        // `key:` with nothing after it; yaml-cpp marks the end of the line.
        end = pos;
        std::string replacement = " " + yaml_scalar_text(value);
        std::string out = text.substr(0, pos) + replacement + text.substr(end);
        return out;
    }
    end = scalar_end(text, pos, found->in_flow, where);
    std::string out = text.substr(0, pos) + yaml_scalar_text(value) + text.substr(end);
    // What we wrote must read back as the value, everything else unchanged.
    YAML::Node check = load_yaml_at(out, file);
    auto again = lookup_key(check, key);
    if (!again || node_to_json(*again) != value)
        throw Error(where + ": cannot set " + quote(key) + " to " + value.dump() +
                    " without rewriting the file");
    return out;
}

// ---- -S arguments ---------------------------------------------------------------------------

namespace {

std::vector<std::string> split_values(const std::string& s, const std::string& shown) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    char quote_char = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote_char) {
            cur += c;
            if (c == '\\' && quote_char == '"' && i + 1 < s.size())
                cur += s[++i];
            else if (c == quote_char)
                quote_char = 0;
            continue;
        }
        if (c == '"' || c == '\'') {
            quote_char = c;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        } else if (c == ',' && depth == 0) {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (quote_char) throw Error("-S " + quote(shown) + ": unterminated quote");
    out.push_back(cur);
    for (auto& v : out) {
        size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
        v = b == std::string::npos ? "" : v.substr(b, e - b + 1);
        if (v.empty()) throw Error("-S " + quote(shown) + ": empty value");
    }
    return out;
}

std::optional<std::string> read_param_text(const Repository& repo, const std::string& file) {
    std::string text;
    if (!read_file_if_exists(repo.abs(file), text)) return std::nullopt;
    return text;
}

bool key_in_file(const Repository& repo, const std::string& file, const std::string& key) {
    auto text = read_param_text(repo, file);
    if (!text) return false;
    YAML::Node root = load_yaml_at(*text, file);
    return lookup_key(root, key).has_value();
}

}  // namespace

SweepParam parse_sweep_arg(const std::string& arg, const Pipeline& p, const Repository& repo) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("-S " + quote(arg) + ": expected [STAGE_OR_FILE:]KEY=VALUE[,VALUE...]");
    std::string lhs = arg.substr(0, eq);
    std::string file, key = lhs, prefix;
    if (size_t colon = lhs.rfind(':'); colon != std::string::npos) {
        prefix = lhs.substr(0, colon);
        key = lhs.substr(colon + 1);
    }
    if (key.empty()) throw Error("-S " + quote(arg) + ": empty parameter name");
    SweepParam sp;
    if (!prefix.empty()) {
        std::vector<const ParamRef*> matches;
        bool is_stage = false;
        for (const Stage& s : p.stages) {
            if (s.name != prefix && s.group != prefix) continue;
            is_stage = true;
            for (const ParamRef& r : s.params) {
                bool hit = r.key == key ||
                           (r.key.size() > key.size() &&
                            r.key.compare(r.key.size() - key.size(), key.size(), key) == 0 &&
                            r.key[r.key.size() - key.size() - 1] == '.');
                if (hit && std::none_of(matches.begin(), matches.end(), [&](const ParamRef* m) {
                        return m->file == r.file && m->key == r.key;
                    }))
                    matches.push_back(&r);
            }
        }
        if (is_stage) {
            if (matches.empty())
                throw Error("-S " + quote(arg) + ": stage " + quote(prefix) + " has no parameter " +
                            quote(key));
            if (matches.size() > 1)
                throw Error("-S " + quote(arg) + ": " + quote(key) + " is ambiguous in stage " +
                            quote(prefix) + " (" + shown_name(matches[0]->file, matches[0]->key) +
                            ", " + shown_name(matches[1]->file, matches[1]->key) + ")");
            file = matches[0]->file;
            key = matches[0]->key;
        } else {
            file = prefix;
        }
    } else {
        file = kDefaultParamsFile;
        if (!key_in_file(repo, file, key)) {
            // A parameter of another file that the stages use.
            for (const Stage& s : p.stages)
                for (const ParamRef& r : s.params)
                    if (r.key == key) file = r.file;
        }
    }
    if (!read_param_text(repo, file))
        throw Error("-S " + quote(arg) + ": no parameter file " + quote(file) + " (and no stage " +
                    quote(prefix) + ")");
    if (!key_in_file(repo, file, key))
        throw Error("-S " + quote(arg) + ": no parameter " + quote(key) + " in " + file);
    sp.file = file;
    sp.key = key;
    sp.shown = shown_name(file, key);
    for (const auto& v : split_values(arg.substr(eq + 1), arg))
        sp.values.push_back(parse_param_value(v));
    return sp;
}

std::vector<Combination> expand_sweep(const std::vector<SweepParam>& params) {
    for (size_t i = 0; i < params.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (params[i].file == params[j].file && params[i].key == params[j].key)
                throw Error("-S: parameter " + quote(params[i].shown) + " is swept twice");
    std::vector<Combination> out(1);
    for (const SweepParam& sp : params) {
        std::vector<Combination> next;
        for (const Combination& c : out) {
            for (const auto& v : sp.values) {
                Combination d = c;
                d.push_back({sp.file, sp.key, sp.shown, v});
                next.push_back(std::move(d));
            }
        }
        out = std::move(next);
    }
    return out;
}

// ---- the experiment's workspace -------------------------------------------------------------

namespace {

// Which workspace paths an experiment needs whatever git ignores: what the pipeline reads and
// writes, the parameter files and the data pointer files track.
struct Declared {
    std::set<std::string> paths;
    bool covers(const std::string& rel) const {  // rel is declared or lies inside a declared dir
        for (size_t slash = 0;; ++slash) {
            slash = rel.find('/', slash);
            if (paths.count(rel.substr(0, slash))) return true;
            if (slash == std::string::npos) return false;
        }
    }
    bool above(const std::string& rel) const {  // a declared path lies inside directory rel
        auto it = paths.lower_bound(rel + "/");
        return it != paths.end() && it->compare(0, rel.size() + 1, rel + "/") == 0;
    }
};

class WorkspaceCopier {
public:
    WorkspaceCopier(Repository& main, Repository& ws, const Declared& declared)
        : main_(main),
          ws_(ws),
          declared_(declared),
          ignores_(main.root()),
          from_store_({LinkKind::reflink, LinkKind::hardlink, LinkKind::copy}),
          copy_({LinkKind::reflink, LinkKind::copy}),
          started_(now_ns()) {}

    void copy_dir(const std::string& rel) {
        const fs::path src = main_.abs(rel);
        DIR* d = ::opendir(src.c_str());
        if (!d) throw_errno("cannot read directory " + quote(src));
        std::vector<std::pair<std::string, unsigned char>> entries;
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            entries.emplace_back(name, e->d_type);
        }
        ::closedir(d);
        make_dirs(ws_.abs(rel));
        for (const auto& [name, type] : entries) {
            check_interrupted();
            std::string r = rel.empty() ? name : rel + "/" + name;
            if (rel.empty() && (name == kDotMlo || name == ".git")) continue;
            struct stat st {};
            if (::lstat(main_.abs(r).c_str(), &st) != 0) continue;  // gone meanwhile
            bool dir = S_ISDIR(st.st_mode);
            if (!declared_.covers(r) && !declared_.above(r) && ignores_.ignored(r, dir)) continue;
            if (S_ISLNK(st.st_mode)) {
                std::error_code ec;
                fs::path target = fs::read_symlink(main_.abs(r), ec);
                if (!ec) fs::create_symlink(target, ws_.abs(r), ec);
                continue;
            }
            if (dir) {
                copy_dir(r);
            } else if (S_ISREG(st.st_mode)) {
                copy_file(r, st);
            }
        }
    }

private:
    Repository& main_;
    Repository& ws_;
    const Declared& declared_;
    GitIgnores ignores_;
    Linker from_store_, copy_;
    int64_t started_;

    void copy_file(const std::string& rel, const struct stat& st) {
        FileStat fst = to_file_stat(st);
        const fs::path dest = ws_.abs(rel);
        std::optional<Digest> d = main_.stat_cache().lookup(rel, fst);
        Linker::Hint hint;
        hint.size = fst.size;
        hint.dest_absent = true;
        if (d && !fst.executable && main_.store().contains(*d)) {
            // Known content that is in the store: link the object (read-only), so a big data
            // set costs no copy, and tell the workspace's stat cache what it holds.
            from_store_.place(main_.store().path_of(*d), dest, false, hint);
        } else {
            copy_.place(main_.abs(rel), dest, fst.executable, hint);
            if (!d) return;
        }
        // Copies keep the source's mtime, so that the racy-git guard trusts the entry.
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        struct stat placed {};
        if (::lstat(dest.c_str(), &placed) != 0) return;
        if (placed.st_mtim.tv_sec != st.st_mtim.tv_sec ||
            placed.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
            if (placed.st_nlink > 1) return;  // a hard link to an object: leave its times
            if (::utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return;
            if (::lstat(dest.c_str(), &placed) != 0) return;
        }
        ws_.stat_cache().record(rel, to_file_stat(placed), *d, started_);
    }
};

Declared declared_paths(Repository& main, const Pipeline& p) {
    Declared d;
    d.paths.insert(kPipelineFile);
    d.paths.insert(kLockFile);
    d.paths.insert(kDefaultParamsFile);
    for (const Stage& s : p.stages) {
        for (const auto& x : s.deps)
            d.paths.insert(x.path);
        for (const auto& x : s.outs)
            d.paths.insert(x.path);
        for (const auto& x : s.params)
            d.paths.insert(x.file);
    }
    for (const Pointer& ptr : find_pointers(main)) {
        d.paths.insert(ptr.rel);
        d.paths.insert(main.rel(ptr.file));
    }
    return d;
}

// The ws lock and temporaries of experiment `id`, and its workspace.
fs::path exp_dir(const Repository& repo, const std::string& id) {
    return repo.dot_mlo() / "tmp" / "exp" / id;
}

void remove_tree(const fs::path& p) {
    std::error_code ec;
    // Hard links to objects are read-only files; removing them needs only the directory.
    fs::remove_all(p, ec);
}

}  // namespace

void remove_stale_workspaces(Repository& repo) {
    const fs::path dir = repo.dot_mlo() / "tmp" / "exp";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    RunStore runs(repo.db());
    runs.reap_stale();
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string id = e.path().filename().string();
        auto r = runs.get(id);
        if (r && r->id == id && r->status == RunStatus::running) continue;
        remove_tree(e.path());
    }
}

// ---- running experiments --------------------------------------------------------------------

namespace {

std::string describe(const Combination& c) {
    std::string s;
    for (const auto& o : c)
        s += (s.empty() ? "" : " ") + o.shown + "=" + yaml_scalar_text(o.value);
    return s;
}

class Sweep {
public:
    Sweep(Repository& repo, const std::vector<Combination>& combos, const ExpOptions& opt)
        : repo_(repo), combos_(combos), opt_(opt) {}

    SweepResult run() {
        result_.sweep = RunStore::new_id();
        pipeline_ = load_pipeline(repo_);  // errors in mlo.yaml stop everything up front
        declared_ = declared_paths(repo_, pipeline_);
        git_ = read_git_state(repo_.root());
        remove_stale_workspaces(repo_);
        // Loaded before the workers start; they only look rows up.
        repo_.stat_cache().load("");
        result_.exps.resize(combos_.size());
        for (size_t i = 0; i < combos_.size(); ++i) {
            ExpReport& r = result_.exps[i];
            r.id = RunStore::new_id();
            r.overrides = combos_[i];
            if (opt_.name.empty())
                r.name = RunStore::new_name();
            else
                r.name = combos_.size() == 1 ? opt_.name : opt_.name + "-" + std::to_string(i + 1);
        }
        unsigned jobs = std::max(1u, std::min<unsigned>(opt_.jobs, unsigned(combos_.size())));
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < jobs; ++t)
            threads.emplace_back([this] { worker(); });
        for (auto& t : threads)
            t.join();
        if (interrupted()) throw Interrupted();
        return std::move(result_);
    }

private:
    Repository& repo_;
    const std::vector<Combination>& combos_;
    const ExpOptions& opt_;
    Pipeline pipeline_;
    Declared declared_;
    GitState git_;
    SweepResult result_;
    std::atomic<size_t> next_{0};
    std::mutex mu_;  // callbacks and the database connection

    void worker() {
        while (!interrupted()) {
            size_t i = next_++;
            if (i >= combos_.size()) return;
            run_one(result_.exps[i]);
        }
    }

    void notify(const std::function<void(const ExpReport&)>& f, const ExpReport& r) {
        std::lock_guard<std::mutex> g(mu_);
        if (f) f(r);
    }

    void run_one(ExpReport& r) {
        int64_t t0 = now_ns();
        const fs::path dir = exp_dir(repo_, r.id);
        Run run;
        run.id = r.id;
        run.kind = RunKind::exp;
        run.name = r.name;
        run.sweep = result_.sweep;
        run.cmd = "exp run" + std::string(r.overrides.empty() ? "" : " ") + describe(r.overrides);
        run.started_ns = t0;
        run.git = git_;
        for (const auto& o : r.overrides)
            run.params[o.shown] = o.value;
        {
            std::lock_guard<std::mutex> g(mu_);
            RunStore(repo_.db()).begin(run);
        }
        notify(opt_.on_start, r);
        try {
            make_dirs(dir / "tmp");
            Repository ws = repo_.workspace(dir / "ws", dir / "tmp");
            WorkspaceCopier(repo_, ws, declared_).copy_dir("");
            for (const auto& o : r.overrides) {
                std::string text = read_file(ws.abs(o.file));
                write_file_atomic(ws.abs(o.file), set_yaml_value(text, o.file, o.key, o.value));
            }
            ReproOptions ro;
            ro.targets = opt_.targets;
            ro.jobs = 1;
            ro.run_cache = opt_.run_cache;
            ro.parent_run = r.id;
            ro.on_output = [&](const std::string& stage, const std::string& line) {
                std::lock_guard<std::mutex> g(mu_);
                if (opt_.on_output) opt_.on_output(r, stage, line);
            };
            ReproResult rr = repro(ws, ro);
            // The parameters and metrics of every stage the experiment covers, whether it ran
            // or was already up to date.
            Pipeline p = load_pipeline(ws);
            std::set<std::string> covered;
            for (const auto& s : rr.stages)
                covered.insert(s.stage);
            for (const Stage& s : p.stages) {
                if (!covered.count(s.name)) continue;
                nlohmann::json values = p.values_for(s);
                for (auto it = values.begin(); it != values.end(); ++it)
                    run.params[it.key()] = it.value();
                for (const auto& o : s.outs) {
                    if (!o.metric) continue;
                    std::error_code ec;
                    if (!fs::exists(ws.abs(o.path), ec)) continue;
                    auto m = read_metrics_file(ws.abs(o.path), o.path);
                    r.metrics.insert(m.begin(), m.end());
                }
            }
            std::string failure;
            for (const auto& s : rr.stages) {
                if (s.result == StageResult::failed && failure.empty())
                    failure = "stage " + quote(s.stage) + " failed: " + s.error;
            }
            std::string lock_text;
            if (read_file_if_exists(ws.abs(kLockFile), lock_text))
                run.lock_object = repo_.store().put_bytes(lock_text).digest;
            run.status = rr.failed ? RunStatus::failed : RunStatus::succeeded;
            r.error = failure;
        } catch (const Interrupted&) {
            run.status = RunStatus::interrupted;
        } catch (const std::exception& e) {  // Error, and std::filesystem's own
            run.status = RunStatus::failed;
            r.error = e.what();
        }
        if (interrupted()) run.status = RunStatus::interrupted;
        remove_tree(dir);
        // Metrics logged into the stage runs (`mlo log metric`) count too; a metrics file
        // wins over a logged value of the same name.
        try {
            std::lock_guard<std::mutex> g(mu_);
            RunStore store(repo_.db());
            std::map<std::string, double> logged;
            for (const Run& c : store.children(r.id))
                logged.insert(c.metrics.begin(), c.metrics.end());
            for (const auto& [k, v] : logged)
                r.metrics.emplace(k, v);
            run.metrics = r.metrics;
            run.ended_ns = now_ns();
            store.finish(run);
            // Parameters found after the stages ran (those the overrides did not name).
            store.add_missing_params(r.id, run.params);
        } catch (const std::exception& e) {
            if (r.error.empty()) r.error = e.what();
        }
        r.status = run.status;
        r.seconds = double(now_ns() - t0) / 1e9;
        notify(opt_.on_done, r);
    }
};

}  // namespace

SweepResult run_sweep(Repository& repo, const std::vector<Combination>& combos,
                      const ExpOptions& options) {
    return Sweep(repo, combos, options).run();
}

// ---- exp apply ------------------------------------------------------------------------------

ApplyResult apply_experiment(Repository& repo, const Run& exp, bool force) {
    if (exp.kind != RunKind::exp)
        throw Error("run " + quote(exp.id.substr(0, 12)) + " is a " + run_kind_name(exp.kind) +
                    " run, not an experiment");
    if (exp.status != RunStatus::succeeded)
        throw Error("experiment " + quote(exp.name) + " did not succeed (" +
                    run_status_name(exp.status) + "); nothing to apply");
    if (!exp.lock_object || !repo.store().contains(*exp.lock_object))
        throw Error("experiment " + quote(exp.name) + " has no mlo.lock in the store");
    std::string lock_text = read_file(repo.store().path_of(*exp.lock_object));
    LockFile lock = LockFile::parse(lock_text, "mlo.lock of experiment " + exp.name);

    auto guard = repo.lock_workspace([](long) {});
    // Plan everything before writing anything.
    std::map<std::string, std::string> files;  // parameter file -> new text
    ApplyResult result;
    Pipeline p = load_pipeline(repo);
    for (auto it = exp.params.begin(); it != exp.params.end(); ++it) {
        const std::string& shown = it.key();
        const nlohmann::json& value = it.value();
        std::string file = kDefaultParamsFile, key = shown;
        if (size_t colon = shown.find(':'); colon != std::string::npos) {
            file = shown.substr(0, colon);
            key = shown.substr(colon + 1);
        }
        if (!files.count(file)) {
            std::string text;
            if (!read_file_if_exists(repo.abs(file), text))
                throw Error("cannot apply " + quote(shown) + ": " + file + " does not exist");
            files[file] = text;
        }
        YAML::Node root = load_yaml_at(files[file], file);
        auto now = lookup_key(root, key);
        if (now && node_to_json(*now) == value) continue;
        files[file] = set_yaml_value(files[file], file, key, value);
        result.params_set.push_back(shown + " = " + yaml_scalar_text(value));
    }
    std::vector<LockedPath> outs;
    for (const auto& [stage, entry] : lock.stages) {
        bool in_pipeline = p.find(stage) != nullptr;
        if (!in_pipeline) continue;
        for (const LockedPath& o : entry.outs) {
            if (!snapshot_in_store(repo, o.snap)) {
                const Stage* s = p.find(stage);
                bool cached = true;
                for (const auto& spec : s->outs)
                    if (spec.path == o.path) cached = spec.cache;
                if (!cached) continue;  // `cache: false`: never in the store
                throw Error("output " + quote(o.path) + " of experiment " + quote(exp.name) +
                            " is not in the store (removed by gc?)");
            }
            Snapshot cur = snapshot_path(repo, o.path, SnapshotMode::hash, now_ns());
            if (cur.exists && cur.digest == o.snap.digest) continue;
            if (cur.exists && !force && !snapshot_in_store(repo, cur))
                throw Error(quote(o.path) +
                            " has changes that are not in the store and would be lost "
                            "(use --force to overwrite)");
            outs.push_back(o);
        }
    }
    for (const auto& [file, text] : files)
        write_file_atomic(repo.abs(file), text);
    for (const LockedPath& o : outs) {
        restore_path(repo, o.path, o.snap);
        result.restored.push_back(o.path);
    }
    write_file_atomic(repo.abs(kLockFile), lock_text);
    repo.stat_cache().flush();
    return result;
}

// ---- querying runs ----------------------------------------------------------------------------

namespace {

template <class V>
const V* find_sorted(const std::vector<std::pair<std::string, V>>& v, std::string_view key) {
    auto it = std::lower_bound(v.begin(), v.end(), key,
                               [](const auto& a, std::string_view k) { return a.first < k; });
    return it != v.end() && it->first == key ? &it->second : nullptr;
}

FieldValue json_text_value(const std::string& text) {
    if (text.empty() || text == "null") return std::monostate{};
    if (text == "true") return 1.0;
    if (text == "false") return 0.0;
    if (text[0] == '"') {
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_string()) return j.get<std::string>();
        return text;
    }
    double v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc() && p == text.data() + text.size()) return v;
    return text;  // a list or mapping: compared as its JSON text
}

}  // namespace

const std::string* RunRow::param_json(const std::string& key) const {
    return find_sorted(params, key);
}

FieldValue RunRow::field(const std::string& f) const {
    auto text = [](const std::string& s) -> FieldValue {
        if (s.empty()) return std::monostate{};
        return s;
    };
    if (f.rfind("params.", 0) == 0) {
        const std::string* v = find_sorted(params, std::string_view(f).substr(7));
        return v ? json_text_value(*v) : FieldValue{};
    }
    if (f.rfind("metrics.", 0) == 0) {
        const double* v = find_sorted(metrics, std::string_view(f).substr(8));
        return v ? FieldValue{*v} : FieldValue{};
    }
    if (f.rfind("tags.", 0) == 0) {
        const std::string* v = find_sorted(tags, std::string_view(f).substr(5));
        return v ? FieldValue{*v} : FieldValue{};
    }
    if (f == "id") return id;
    if (f == "name") return text(name);
    if (f == "kind") return kind;
    if (f == "status") return status;
    if (f == "stage") return text(stage);
    if (f == "sweep") return text(sweep);
    if (f == "parent") return text(parent);
    if (f == "cmd") return text(cmd);
    if (f == "commit") return text(commit);
    if (f == "started") return iso_utc(started_ns);
    if (f == "duration") {
        if (ended_ns == 0 || ended_ns < started_ns) return std::monostate{};
        return double(ended_ns - started_ns) / 1e9;
    }
    return std::monostate{};
}

namespace {

// One of the detail tables (run_params, run_metrics, run_tags) read in run id order, next to
// the runs: the rows of one run at a time.
class DetailCursor {
public:
    DetailCursor(Database& db, const char* sql) : q_(db, sql) { more_ = q_.step(); }

    // Appends the rows of run `id` to `out`, skipping those of runs before it (runs not
    // listed: stage runs). Ids are visited in increasing order.
    template <class Vec, class Read>
    void take(std::string_view id, Vec& out, Read&& read) {
        while (more_) {
            std::string_view at = current();
            if (at > id) return;
            if (at == id) out.push_back(read(q_));
            more_ = q_.step();
        }
    }

private:
    std::string_view current() const {
        const unsigned char* raw = sqlite3_column_text(q_.raw(), 0);
        return {reinterpret_cast<const char*>(raw), size_t(sqlite3_column_bytes(q_.raw(), 0))};
    }
    Database::Statement q_;
    bool more_ = false;
};

}  // namespace

std::vector<RunRow> load_run_rows(Database& db, bool stage_runs,
                                  const std::function<bool(const RunRow&)>& keep) {
    // The runs and their three detail tables are read side by side, all in run id order (the
    // detail tables' primary keys begin with it): one pass each, one run in memory at a time.
    // Only the runs `keep` accepts are kept: a query over 10,000 runs with 40 values each
    // spent most of its time faulting in the memory of runs it then dropped.
    std::vector<RunRow> rows;
    Database::Statement q(db, stage_runs
                                  ? "SELECT id, name, kind, status, stage, sweep, parent, cmd, "
                                    "git_commit, started_ns, ended_ns FROM runs ORDER BY id"
                                  : "SELECT id, name, kind, status, stage, sweep, parent, cmd, "
                                    "git_commit, started_ns, ended_ns FROM runs "
                                    "WHERE kind != 'stage' ORDER BY id");
    DetailCursor params(db, "SELECT run_id, key, value_json FROM run_params ORDER BY run_id, key");
    DetailCursor metrics(db, "SELECT run_id, key, value FROM run_metrics ORDER BY run_id, key");
    DetailCursor tags(db, "SELECT run_id, key, value FROM run_tags ORDER BY run_id, key");
    auto text_pair = [](Database::Statement& d) {
        return std::pair<std::string, std::string>(d.column_text(1), d.column_text(2));
    };
    RunRow r;
    while (q.step()) {
        r.id = q.column_text(0);
        r.name = q.column_text(1);
        r.kind = q.column_text(2);
        r.status = q.column_text(3);
        r.stage = q.column_text(4);
        r.sweep = q.column_text(5);
        r.parent = q.column_text(6);
        r.cmd = q.column_text(7);
        r.commit = q.column_text(8);
        r.started_ns = q.column_int(9);
        r.ended_ns = q.column_int(10);
        r.params.clear();
        r.metrics.clear();
        r.tags.clear();
        params.take(r.id, r.params, text_pair);
        metrics.take(r.id, r.metrics, [](Database::Statement& d) {
            return std::pair<std::string, double>(d.column_text(1), d.column_double(2));
        });
        tags.take(r.id, r.tags, text_pair);
        if (!keep || keep(r)) {
            // Moved out; the next run starts with vectors of this one's size.
            size_t np = r.params.size(), nm = r.metrics.size(), nt = r.tags.size();
            rows.push_back(std::move(r));
            r = RunRow();
            r.params.reserve(np);
            r.metrics.reserve(nm);
            r.tags.reserve(nt);
        }
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const RunRow& x, const RunRow& y) { return x.started_ns > y.started_ns; });
    return rows;
}

std::map<std::string, std::string> abbreviate_ids(const std::vector<std::string>& ids,
                                                  size_t min_len) {
    std::map<std::string, std::string> out;
    auto common = [](const std::string& a, const std::string& b) {
        size_t n = 0;
        while (n < a.size() && n < b.size() && a[n] == b[n])
            ++n;
        return n;
    };
    for (size_t i = 0; i < ids.size(); ++i) {
        size_t need = min_len;
        if (i > 0) need = std::max(need, common(ids[i], ids[i - 1]) + 1);
        if (i + 1 < ids.size()) need = std::max(need, common(ids[i], ids[i + 1]) + 1);
        out[ids[i]] = ids[i].substr(0, std::min(need, ids[i].size()));
    }
    return out;
}

// ---- metrics and parameters of a source --------------------------------------------------------

SourceValues values_of(Repository& repo, const std::string& ref) {
    SourceValues out;
    if (ref.empty() || ref == "workspace") {
        out.label = "workspace";
        Pipeline p = load_pipeline(repo);
        for (const Stage& s : p.stages) {
            nlohmann::json values = p.values_for(s);
            for (auto it = values.begin(); it != values.end(); ++it)
                out.params[it.key()] = it.value();
            for (const auto& o : s.outs) {
                std::error_code ec;
                if (!o.metric || !fs::exists(repo.abs(o.path), ec)) continue;
                auto m = read_metrics_file(repo.abs(o.path), o.path);
                out.metrics.insert(m.begin(), m.end());
            }
        }
        return out;
    }
    RunStore runs(repo.db());
    std::string run_error;
    try {
        std::string id = runs.resolve(ref);
        auto r = runs.get(id);
        if (r) {
            out.label = r->name.empty() ? id.substr(0, 8) : r->name;
            out.metrics = r->metrics;
            for (auto it = r->params.begin(); it != r->params.end(); ++it)
                out.params[it.key()] = it.value();
            return out;
        }
    } catch (const Error& e) {
        run_error = e.what();
        if (run_error.find("ambiguous") != std::string::npos) throw;
    }
    if (!is_git_revision(repo.root(), ref))
        throw Error(quote(ref) + " is neither a run nor a git revision");
    out.label = ref;
    auto lock_text = read_git_file(repo.root(), ref, kLockFile);
    if (!lock_text) return out;  // nothing had run at that revision
    LockFile lock = LockFile::parse(*lock_text, ref + ":" + kLockFile);
    for (const auto& [stage, entry] : lock.stages) {
        for (const auto& [file, keys] : entry.params)
            for (const auto& [key, value] : keys)
                out.params[file == kDefaultParamsFile ? key : file + ":" + key] = value;
    }
    // Which outputs are metrics: the pipeline at that revision says, else today's.
    Pipeline p;
    if (auto yaml = read_git_file(repo.root(), ref, kPipelineFile)) {
        try {
            std::map<std::string, std::string> params;
            for (const char* f : {kDefaultParamsFile})
                if (auto t = read_git_file(repo.root(), ref, f)) params[f] = *t;
            p = parse_pipeline(*yaml, params);
        } catch (const Error&) {
            p = load_pipeline(repo);
        }
    } else {
        p = load_pipeline(repo);
    }
    for (const Stage& s : p.stages) {
        for (const auto& o : s.outs) {
            if (!o.metric) continue;
            std::optional<std::string> text;
            auto entry = lock.stages.find(s.name);
            if (entry != lock.stages.end()) {
                for (const auto& lp : entry->second.outs) {
                    std::string t;
                    if (lp.path == o.path && !lp.snap.is_dir &&
                        read_file_if_exists(repo.store().path_of(lp.snap.digest), t))
                        text = t;
                }
            }
            if (!text) text = read_git_file(repo.root(), ref, o.path);
            if (!text) continue;
            auto m = parse_metrics(*text, o.path, ref + ":" + o.path);
            out.metrics.insert(m.begin(), m.end());
        }
    }
    return out;
}

}  // namespace mlo::core
