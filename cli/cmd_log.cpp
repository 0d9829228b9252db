// mlo log metric/metrics/param/artifact/tag: record into the current run from inside it (a stage
// command, an experiment's stage or `mlo run`), which MLO_RUN_ID names.

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "cli/commands.hpp"
#include "core/experiments.hpp"
#include "core/runs.hpp"
#include "core/snapshot.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

std::optional<double> parse_number(const std::string& s) {
    double v = 0;
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e || b == e) return std::nullopt;
    return v;
}

std::optional<int64_t> parse_int(const std::string& s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::pair<std::string, std::string> split_assignment(const std::string& arg,
                                                     const std::string& what) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error(what + ": expected KEY=VALUE, got " + quote(arg));
    return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// ---- JSON lines: {"name": "loss", "value": 0.25, "step": 3} per line ------------------------
//
// A fast path for the flat objects such files hold (a million lines must take well under two
// seconds); anything else on a line (escapes, nesting) goes through nlohmann::json.

struct LineParser {
    const char* p;
    const char* end;

    void ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            ++p;
    }
    bool lit(char c) {
        ws();
        if (p < end && *p == c) {
            ++p;
            return true;
        }
        return false;
    }
    // A string without escapes; false (to fall back) otherwise.
    bool str(std::string_view& out) {
        ws();
        if (p >= end || *p != '"') return false;
        const char* s = ++p;
        while (p < end && *p != '"') {
            if (*p == '\\') return false;
            ++p;
        }
        if (p >= end) return false;
        out = std::string_view(s, size_t(p - s));
        ++p;
        return true;
    }
    bool num(double& out) {
        ws();
        auto [q, ec] = std::from_chars(p, end, out);
        if (ec != std::errc()) return false;
        p = q;
        return true;
    }
};

enum class LineResult { ok, fallback };

LineResult parse_fast(const char* b, const char* e, core::MetricPoint& out, bool& has_step) {
    LineParser lp{b, e};
    if (!lp.lit('{')) return LineResult::fallback;
    bool name = false, value = false;
    has_step = false;
    if (lp.lit('}')) return LineResult::fallback;
    do {
        std::string_view key;
        if (!lp.str(key) || !lp.lit(':')) return LineResult::fallback;
        if (key == "name") {
            std::string_view v;
            if (!lp.str(v)) return LineResult::fallback;
            out.key.assign(v);
            name = true;
        } else if (key == "value") {
            if (!lp.num(out.value)) return LineResult::fallback;
            value = true;
        } else if (key == "step") {
            double s = 0;
            if (!lp.num(s) || s != std::floor(s)) return LineResult::fallback;
            out.step = int64_t(s);
            has_step = true;
        } else {
            return LineResult::fallback;
        }
    } while (lp.lit(','));
    if (!lp.lit('}')) return LineResult::fallback;
    lp.ws();
    if (lp.p != lp.end || !name || !value) return LineResult::fallback;
    return LineResult::ok;
}

void parse_slow(const std::string& line, const std::string& where, core::MetricPoint& out,
                bool& has_step) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw Error(where + ": expected a JSON object {\"name\": ..., \"value\": ...}");
    auto name = j.find("name");
    auto value = j.find("value");
    if (name == j.end() || !name->is_string()) throw Error(where + ": \"name\" must be a string");
    if (value == j.end() || !value->is_number())
        throw Error(where + ": \"value\" must be a number");
    out.key = name->get<std::string>();
    out.value = value->get<double>();
    has_step = false;
    if (auto step = j.find("step"); step != j.end() && !step->is_null()) {
        if (!step->is_number_integer()) throw Error(where + ": \"step\" must be an integer");
        out.step = step->get<int64_t>();
        has_step = true;
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() != "name" && it.key() != "value" && it.key() != "step" &&
            it.key() != "timestamp")
            throw Error(where + ": unknown field " + quote(it.key()));
    }
}

// Reads JSON lines; a line without "step" gets the next step of its metric (0, 1, 2, ...).
// Parses JSON lines, handing the points to `sink` in parts of 65,536 (a million-line file is
// never held as points all at once).
template <class Sink>
void read_json_lines(std::string_view text, const std::string& shown, Sink&& sink) {
    constexpr size_t kPart = 65536;
    std::vector<core::MetricPoint> points;
    points.reserve(std::min(kPart, text.size() / 30 + 1));
    std::unordered_map<std::string, int64_t> next_step;
    size_t line_no = 0;
    size_t at = 0;
    core::MetricPoint p;
    while (at < text.size()) {
        size_t nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        ++line_no;
        const char* b = text.data() + at;
        const char* e = text.data() + nl;
        at = nl + 1;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            ++b;
        if (b == e) continue;
        bool has_step = false;
        p.step = 0;
        if (parse_fast(b, e, p, has_step) == LineResult::fallback)
            parse_slow(std::string(b, e), shown + ":" + std::to_string(line_no), p, has_step);
        if (p.key.empty())
            throw Error(shown + ":" + std::to_string(line_no) + ": empty metric name");
        if (!std::isfinite(p.value))
            throw Error(shown + ":" + std::to_string(line_no) + ": value is not finite");
        auto [it, fresh] = next_step.try_emplace(p.key, 0);
        if (!has_step) p.step = it->second;
        it->second = std::max(it->second, p.step + 1);
        points.push_back(p);
        if (points.size() == kPart) {
            sink(points);
            points.clear();
        }
    }
    if (!points.empty()) sink(points);
}

class Log : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(1);

        metric_ = app.add_subcommand("metric", "Record one value of a metric");
        metric_->add_option("name", name_, "The metric's name")->required()->type_name("NAME");
        metric_->add_option("value", value_, "A number")->required()->type_name("VALUE");
        metric_->add_option("--step", step_, "The step (default: one after the last logged)")
            ->type_name("N");

        metrics_ = app.add_subcommand(
            "metrics",
            "Record metrics from a file: JSON lines {\"name\",\"value\",\"step\"}, "
            "or a JSON or YAML object of names and values");
        metrics_->add_option("file", file_, "The file")->required()->type_name("FILE");
        metrics_->add_option("--step", step_, "For an object file: the step of its values")
            ->type_name("N");

        param_ = app.add_subcommand("param", "Record parameters (a parameter keeps its value)");
        param_->add_option("assignments", assignments_, "KEY=VALUE (VALUE typed as YAML reads it)")
            ->required()
            ->type_name("KEY=VALUE");

        artifact_ = app.add_subcommand("artifact", "Store a file or directory as an output");
        artifact_->add_option("path", file_, "The file or directory")
            ->required()
            ->type_name("PATH");

        tag_ = app.add_subcommand("tag", "Set tags (a tag can be changed)");
        tag_->add_option("assignments", assignments_, "KEY=VALUE")
            ->required()
            ->type_name("KEY=VALUE");
        // After the subcommand (`mlo log metric loss 1 --run ID`): before it, mlo's dispatcher
        // would take the option's value for the subcommand's name.
        for (CLI::App* sub : {metric_, metrics_, param_, artifact_, tag_})
            sub->add_option("--run", run_, "The run to record into (default: $MLO_RUN_ID)")
                ->type_name("RUN");
    }

    int run(Context& ctx) override {
        std::string ref = run_;
        if (ref.empty()) {
            const char* env = std::getenv("MLO_RUN_ID");
            if (!env || !*env)
                throw Error(
                    "not inside a run: MLO_RUN_ID is not set (mlo sets it for stage commands, "
                    "experiments and 'mlo run'; or pass --run)");
            ref = env;
        }
        core::RunStore store(ctx.repo().db());
        std::string id = store.resolve(ref);
        if (metric_->parsed()) return do_metric(store, id);
        if (metrics_->parsed()) return do_metrics(ctx, store, id);
        if (param_->parsed()) return do_param(store, id);
        if (artifact_->parsed()) return do_artifact(ctx, store, id);
        if (tag_->parsed()) return do_tag(store, id);
        throw Error("no subcommand given for 'log' (see 'mlo log --help')");
    }

private:
    int do_metric(core::RunStore& store, const std::string& id) {
        if (name_.empty()) throw Error("empty metric name");
        auto v = parse_number(value_);
        if (!v || !std::isfinite(*v))
            throw Error("metric " + quote(name_) + ": " + quote(value_) + " is not a number");
        core::MetricPoint p;
        p.key = name_;
        p.value = *v;
        if (!step_.empty()) {
            auto s = parse_int(step_);
            if (!s) throw Error("--step: " + quote(step_) + " is not an integer");
            p.step = *s;
        } else {
            p.step = store.next_step(id, name_);
        }
        store.log_metrics(id, {p});
        return 0;
    }

    int do_metrics(Context& ctx, core::RunStore& store, const std::string& id) {
        fs::path path = fs::absolute(file_);
        std::string ext = path.extension().string();
        std::optional<MappedFile> map;
        try {
            map.emplace(path);
        } catch (const Error& e) {
            throw Error("cannot read metrics " + quote(file_) + ": " + e.what());
        }
        std::string_view text = map->text();
        size_t first = text.find_first_not_of(" \t\r\n");
        bool lines = false;
        if (ext != ".yaml" && ext != ".yml" && first != std::string::npos && text[first] == '{') {
            // JSON lines when the first line is a whole object with a "name".
            size_t nl = text.find('\n', first);
            std::string line(text.substr(first, nl == std::string::npos ? nl : nl - first));
            nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
            lines = !j.is_discarded() && j.is_object() && j.contains("name") && j.contains("value");
        }
        size_t logged = 0;
        if (lines) {
            // One transaction, written part by part as the file is parsed; an error anywhere
            // in the file rolls all of it back.
            core::RunStore::MetricWriter writer(store, id);
            read_json_lines(text, file_, [&](const std::vector<core::MetricPoint>& part) {
                writer.add(part);
                logged += part.size();
            });
            writer.commit();
        } else {
            int64_t step = 0;
            if (!step_.empty()) {
                auto s = parse_int(step_);
                if (!s) throw Error("--step: " + quote(step_) + " is not an integer");
                step = *s;
            }
            std::vector<core::MetricPoint> points;
            for (const auto& [k, v] : core::read_metrics_file(path, file_))
                points.push_back({k, v, step, 0});
            store.log_metrics(id, points);
            logged = points.size();
        }
        if (!ctx.g.quiet && !ctx.g.json)
            ctx.note("logged " + std::to_string(logged) + " metric value" +
                     (logged == 1 ? "" : "s"));
        return 0;
    }

    int do_param(core::RunStore& store, const std::string& id) {
        for (const auto& a : assignments_) {
            auto [k, v] = split_assignment(a, "param");
            store.log_param(id, k, core::parse_param_value(v));
        }
        return 0;
    }

    int do_tag(core::RunStore& store, const std::string& id) {
        for (const auto& a : assignments_) {
            auto [k, v] = split_assignment(a, "tag");
            store.set_tag(id, k, v);
        }
        return 0;
    }

    int do_artifact(Context& ctx, core::RunStore& store, const std::string& id) {
        // Paths are relative to the run's workspace (an experiment's private copy, or the
        // repository), which repro and `mlo run` put in MLO_REPO.
        fs::path base = ctx.repo().root();
        if (const char* env = std::getenv("MLO_REPO"); env && *env) base = env;
        fs::path abs = fs::absolute(file_).lexically_normal();
        std::string rel = abs.lexically_relative(base).generic_string();
        if (rel.empty() || rel == "." || rel.rfind("..", 0) == 0)
            throw Error("artifact " + quote(file_) + " is outside the run's workspace " +
                        quote(base));
        std::error_code ec;
        if (!fs::exists(abs, ec)) throw Error("artifact " + quote(file_) + " does not exist");
        core::Repository ws = base == ctx.repo().root()
                                  ? core::Repository(ctx.repo().root())
                                  : ctx.repo().workspace(base, ctx.repo().tmp_dir());
        core::Snapshot s = core::snapshot_path(ws, rel, core::SnapshotMode::store, now_ns());
        if (ws.config().fsync) ws.store().sync();
        core::Artifact a;
        a.path = rel;
        a.digest = s.digest;
        a.size = s.size;
        a.is_dir = s.is_dir;
        store.add_output(id, a);
        return 0;
    }

    CLI::App *metric_ = nullptr, *metrics_ = nullptr, *param_ = nullptr, *artifact_ = nullptr,
             *tag_ = nullptr;
    std::string run_, name_, value_, step_, file_;
    std::vector<std::string> assignments_;
};

}  // namespace

std::unique_ptr<Command> make_log() {
    return std::make_unique<Log>();
}

}  // namespace mlo::cli
