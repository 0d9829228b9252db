// mlo exp run/list/show/diff/apply/rm: parameter sweeps in isolated workspaces, and queries over
// experiments and tracked runs (core/experiments.hpp).

#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>

#include "cli/commands.hpp"
#include "core/experiments.hpp"
#include "core/query.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"

namespace mlo::cli {

namespace {

std::string cell(const core::FieldValue& v) {
    if (std::holds_alternative<std::monostate>(v)) return "-";
    if (const double* d = std::get_if<double>(&v)) return short_number(*d);
    return std::get<std::string>(v);
}

nlohmann::json field_json(const core::FieldValue& v) {
    if (std::holds_alternative<std::monostate>(v)) return nullptr;
    if (const double* d = std::get_if<double>(&v)) return *d;
    return std::get<std::string>(v);
}

std::string value_text(const nlohmann::json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

// --sort KEY, KEY:asc, KEY:desc or -KEY.
struct SortKey {
    std::string field;
    bool descending = false;
};

SortKey parse_sort(const std::string& text) {
    SortKey k;
    k.field = text;
    if (!k.field.empty() && k.field[0] == '-') {
        k.descending = true;
        k.field = k.field.substr(1);
    }
    auto ends = [&](const char* suffix) {
        std::string s = suffix;
        return k.field.size() > s.size() &&
               k.field.compare(k.field.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(":desc")) {
        k.descending = true;
        k.field.resize(k.field.size() - 5);
    } else if (ends(":asc")) {
        k.field.resize(k.field.size() - 4);
    }
    if (k.field.empty()) throw Error("--sort: empty field name");
    return k;
}

class Exp : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(1);

        run_ = app.add_subcommand(
            "run", "Run the pipeline for each combination of parameter values, in isolation");
        run_->add_option("-S,--set-param", sets_,
                         "Sweep a parameter: [STAGE_OR_FILE:]KEY=V1,V2,... (repeatable; the "
                         "cartesian product runs)")
            ->type_name("SPEC");
        run_->add_option("-j,--jobs", jobs_, "Experiments at once (default 1)")->type_name("N");
        run_->add_option("--name", name_, "Name the experiments NAME (NAME-1, NAME-2, ...)")
            ->type_name("NAME");
        run_->add_flag("--no-run-cache", no_run_cache_, "Run stages even if a run matches");
        run_->add_option("stages", stages_, "Stages to run (default: all)")->type_name("STAGE");

        list_ = app.add_subcommand("list", "List experiments and tracked runs, newest first");
        list_
            ->add_option("--where", where_,
                         "Filter: metrics.acc > 0.9 and params.l2 = 0.1 or tags.team ~ 'a*'")
            ->type_name("EXPR");
        list_->add_option("--sort", sort_, "Order by a field (KEY, KEY:desc or -KEY)")
            ->type_name("KEY");
        list_->add_option("-n,--limit", limit_, "Show at most N runs")->type_name("N");
        list_
            ->add_option("--columns", columns_,
                         "Fields to show, comma-separated; globs allowed (metrics.*)")
            ->type_name("LIST");
        list_->add_flag("--csv", csv_, "Print CSV");
        list_->add_flag("--all", all_, "Include the stage runs of pipelines and experiments");

        show_ = app.add_subcommand("show", "Show one experiment or run in detail");
        show_->add_option("run", refs_, "Run id (a unique prefix) or name")
            ->required()
            ->expected(1);

        diff_ = app.add_subcommand("diff", "Show the parameters and metrics that differ");
        diff_->add_option("runs", refs_, "Two runs")->required()->expected(2);

        apply_ = app.add_subcommand(
            "apply", "Write an experiment's parameters and restore its outputs into the workspace");
        apply_->add_option("run", refs_, "The experiment")->required()->expected(1);
        apply_->add_flag("-f,--force", force_, "Overwrite outputs with changes not in the store");

        rm_ = app.add_subcommand("rm", "Delete runs (with their stage runs) from the records");
        rm_->add_option("runs", refs_, "Runs to delete")->type_name("RUN");
        rm_->add_option("--where", where_, "Delete every experiment or run that matches")
            ->type_name("EXPR");
    }

    int run(Context& ctx) override {
        if (run_->parsed()) return do_run(ctx);
        if (list_->parsed()) return do_list(ctx);
        if (show_->parsed()) return do_show(ctx);
        if (diff_->parsed()) return do_diff(ctx);
        if (apply_->parsed()) return do_apply(ctx);
        if (rm_->parsed()) return do_rm(ctx);
        throw Error("no subcommand given for 'exp' (see 'mlo exp --help')");
    }

private:
    // ---- run --------------------------------------------------------------------------------
    int do_run(Context& ctx) {
        core::Repository& repo = ctx.repo();
        core::Pipeline p = core::load_pipeline(repo);
        std::vector<core::SweepParam> params;
        for (const auto& s : sets_)
            params.push_back(core::parse_sweep_arg(s, p, repo));
        std::vector<core::Combination> combos = core::expand_sweep(params);
        if (jobs_ < 1) throw Error("-j: must be at least 1");
        core::ExpOptions opt;
        opt.targets = stages_;
        opt.jobs = unsigned(jobs_);
        opt.name = name_;
        opt.run_cache = !no_run_cache_;
        const bool quiet = ctx.g.quiet, json = ctx.g.json;
        auto describe = [](const core::ExpReport& r) {
            std::string s;
            for (const auto& o : r.overrides)
                s += (s.empty() ? "" : " ") + o.shown + "=" + value_text(o.value);
            return s;
        };
        opt.on_output = [&](const core::ExpReport& r, const std::string& stage,
                            const std::string& line) {
            if (quiet) return;
            (json ? std::cerr : ctx.out()) << "[" << r.name << ":" << stage << "] " << line << '\n';
        };
        opt.on_start = [&](const core::ExpReport& r) {
            if (!quiet && !json)
                std::cerr << "experiment " << r.name << " (" << r.id.substr(0, 8) << ")"
                          << (r.overrides.empty() ? "" : ": " + describe(r)) << '\n';
        };
        core::SweepResult result = core::run_sweep(repo, combos, opt);

        bool failed = false;
        for (const auto& r : result.exps)
            failed = failed || r.status != core::RunStatus::succeeded;
        if (json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& r : result.exps) {
                nlohmann::json params_j = nlohmann::json::object(),
                               metrics = nlohmann::json::object();
                for (const auto& o : r.overrides)
                    params_j[o.shown] = o.value;
                for (const auto& [k, v] : r.metrics)
                    metrics[k] = v;
                a.push_back({{"id", r.id},
                             {"name", r.name},
                             {"status", core::run_status_name(r.status)},
                             {"params", params_j},
                             {"metrics", metrics},
                             {"seconds", r.seconds},
                             {"error", r.error.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(r.error)}});
            }
            ctx.emit({{"sweep", result.sweep}, {"experiments", a}});
        } else {
            std::set<std::string> metric_names;
            for (const auto& r : result.exps)
                for (const auto& [k, v] : r.metrics)
                    metric_names.insert(k);
            std::vector<std::vector<std::string>> rows;
            std::vector<std::string> head = {"ID", "NAME", "STATUS", "PARAMS"};
            for (const auto& m : metric_names)
                head.push_back(m);
            rows.push_back(head);
            for (const auto& r : result.exps) {
                std::vector<std::string> row = {r.id.substr(0, 8), r.name,
                                                core::run_status_name(r.status),
                                                r.overrides.empty() ? "-" : describe(r)};
                for (const auto& m : metric_names) {
                    auto it = r.metrics.find(m);
                    row.push_back(it == r.metrics.end() ? "-" : short_number(it->second));
                }
                rows.push_back(row);
            }
            if (!quiet) print_table(ctx.out(), rows);
        }
        if (!failed) return 0;
        for (const auto& r : result.exps) {
            if (r.status == core::RunStatus::succeeded) continue;
            std::cerr << "mlo: error: experiment " << quote(r.name) << " "
                      << core::run_status_name(r.status) << (r.error.empty() ? "" : ": " + r.error)
                      << '\n';
        }
        size_t n = 0;
        for (const auto& r : result.exps)
            n += r.status != core::RunStatus::succeeded;
        throw Error(std::to_string(n) + " of " + std::to_string(result.exps.size()) +
                    " experiments failed");
    }

    // ---- list ---------------------------------------------------------------------------------
    std::vector<core::RunRow> select_rows(Context& ctx, bool stage_runs) {
        std::optional<core::RunQuery> q;
        if (!where_.empty()) q = core::RunQuery::parse(where_, "--where");
        if (!q) return core::load_run_rows(ctx.repo().db(), stage_runs);
        return core::load_run_rows(ctx.repo().db(), stage_runs, [&](const core::RunRow& r) {
            return q->matches([&](const std::string& f) { return r.field(f); });
        });
    }

    int do_list(Context& ctx) {
        core::RunStore(ctx.repo().db()).reap_stale();
        std::vector<core::RunRow> rows = select_rows(ctx, all_);
        if (!sort_.empty()) {
            SortKey k = parse_sort(sort_);
            std::vector<std::pair<core::FieldValue, size_t>> keys;
            keys.reserve(rows.size());
            for (size_t i = 0; i < rows.size(); ++i)
                keys.emplace_back(rows[i].field(k.field), i);
            std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) {
                bool am = std::holds_alternative<std::monostate>(a.first);
                bool bm = std::holds_alternative<std::monostate>(b.first);
                if (am || bm) return !am && bm;  // missing values last either way
                int c = core::compare_field_values(a.first, b.first);
                return k.descending ? c > 0 : c < 0;
            });
            std::vector<core::RunRow> sorted;
            sorted.reserve(rows.size());
            for (const auto& [v, i] : keys)
                sorted.push_back(std::move(rows[i]));
            rows = std::move(sorted);
        }
        if (limit_ > 0 && rows.size() > limit_) rows.resize(limit_);

        std::vector<std::string> cols = columns_for(rows);
        if (ctx.g.json) {
            // Written as text, row by row: 10,000 rows never exist as one JSON tree (its
            // nodes were a third of the memory `exp list` touched). Keys in sorted order, as
            // a JSON object would print them.
            using nlohmann::json;
            auto dump = [](const json& j) {
                return j.dump(-1, ' ', false, json::error_handler_t::replace);
            };
            std::vector<std::string> keys = cols;
            std::sort(keys.begin(), keys.end());
            keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
            std::vector<std::string> key_text;
            for (const auto& k : keys)
                key_text.push_back(dump(json(k)) + ":");
            std::string text = "[";
            for (size_t i = 0; i < rows.size(); ++i) {
                const auto& r = rows[i];
                text += i ? ",{" : "{";
                for (size_t k = 0; k < keys.size(); ++k) {
                    const std::string& c = keys[k];
                    if (k) text += ',';
                    text += key_text[k];
                    // Parameters keep their JSON type (1 stays 1, "1" stays a string).
                    const std::string* raw =
                        c.rfind("params.", 0) == 0 ? r.param_json(c.substr(7)) : nullptr;
                    if (raw) {
                        json v = json::parse(*raw, nullptr, false);
                        text += v.is_discarded() ? "null" : dump(v);
                    } else {
                        text += dump(field_json(r.field(c)));
                    }
                }
                text += '}';
                if (text.size() >= (1u << 20)) {  // written as it goes, never one big string
                    ctx.out() << text;
                    text.clear();
                }
            }
            text += "]\n";
            ctx.out() << text;
            return 0;
        }
        if (csv_) {
            std::string line;
            for (const auto& c : cols)
                line += (line.empty() ? "" : ",") + csv_cell(c);
            ctx.out() << line << '\n';
            for (const auto& r : rows) {
                line.clear();
                for (size_t i = 0; i < cols.size(); ++i) {
                    auto v = r.field(cols[i]);
                    line += (i ? "," : "") +
                            (std::holds_alternative<std::monostate>(v) ? "" : csv_cell(cell(v)));
                }
                ctx.out() << line << '\n';
            }
            return 0;
        }
        if (rows.empty()) {
            ctx.note(where_.empty() ? "no experiments or tracked runs yet" : "no run matches");
            return 0;
        }
        auto abbrev = core::abbreviate_ids(core::RunStore(ctx.repo().db()).all_ids());
        std::vector<std::vector<std::string>> table;
        std::vector<std::string> head;
        for (const auto& c : cols)
            head.push_back(c);
        table.push_back(head);
        for (const auto& r : rows) {
            std::vector<std::string> row;
            for (const auto& c : cols) {
                if (c == "id")
                    row.push_back(abbrev.count(r.id) ? abbrev[r.id] : r.id);
                else if (c == "started")
                    row.push_back(local_time(r.started_ns));
                else
                    row.push_back(cell(r.field(c)));
            }
            table.push_back(std::move(row));
        }
        print_table(ctx.out(), table);
        return 0;
    }

    // The columns: --columns (globs expand over the rows' fields), else id, name, kind,
    // status, started, the parameters that differ between the rows (all of them for one row)
    // and every metric.
    std::vector<std::string> columns_for(const std::vector<core::RunRow>& rows) {
        std::set<std::string> params, metrics, tags;
        for (const auto& r : rows) {
            for (const auto& [k, v] : r.params)
                params.insert("params." + k);
            for (const auto& [k, v] : r.metrics)
                metrics.insert("metrics." + k);
            for (const auto& [k, v] : r.tags)
                tags.insert("tags." + k);
        }
        std::vector<std::string> fixed = {"id",     "name", "kind",   "status",  "stage",   "sweep",
                                          "parent", "cmd",  "commit", "started", "duration"};
        if (!columns_.empty()) {
            std::vector<std::string> out;
            size_t start = 0;
            while (start <= columns_.size()) {
                size_t comma = columns_.find(',', start);
                std::string c = columns_.substr(
                    start, comma == std::string::npos ? std::string::npos : comma - start);
                start = comma == std::string::npos ? columns_.size() + 1 : comma + 1;
                if (c.empty()) continue;
                if (c.find_first_of("*?[") == std::string::npos) {
                    out.push_back(c);
                    continue;
                }
                for (const auto* set : {&params, &metrics, &tags})
                    for (const auto& f : *set)
                        if (core::glob_match(c, f)) out.push_back(f);
                for (const auto& f : fixed)
                    if (core::glob_match(c, f)) out.push_back(f);
            }
            if (out.empty()) throw Error("--columns: no column matches " + quote(columns_));
            return out;
        }
        std::vector<std::string> out = {"id", "name", "kind", "status", "started"};
        for (const auto& p : params) {
            if (rows.size() > 1) {
                core::FieldValue first = rows.front().field(p);
                bool varies = false;
                for (const auto& r : rows) {
                    if (core::compare_field_values(first, r.field(p)) != 0) {
                        varies = true;
                        break;
                    }
                }
                if (!varies) continue;
            }
            out.push_back(p);
        }
        out.insert(out.end(), metrics.begin(), metrics.end());
        return out;
    }

    // ---- show ---------------------------------------------------------------------------------
    int do_show(Context& ctx) {
        core::RunStore store(ctx.repo().db());
        store.reap_stale();
        auto r = store.get(store.resolve(refs_.at(0)));
        if (!r) throw Error("unknown run " + quote(refs_.at(0)));
        auto kids = store.children(r->id);
        if (ctx.g.json) {
            nlohmann::json j = run_summary(*r);
            nlohmann::json stages = nlohmann::json::array();
            for (const auto& k : kids)
                stages.push_back(run_summary(k));
            j["stage_runs"] = stages;
            // Logged step histories, the experiment's own and its stage runs'.
            nlohmann::json history = nlohmann::json::object();
            std::vector<std::string> ids = {r->id};
            for (const auto& k : kids)
                ids.push_back(k.id);
            for (const auto& id : ids) {
                for (const auto& key : store.history_keys(id)) {
                    nlohmann::json points = nlohmann::json::array();
                    for (const auto& p : store.history(id, key))
                        points.push_back({p.step, p.value});
                    history[key] = points;
                }
            }
            j["history"] = history;
            ctx.emit(j);
            return 0;
        }
        std::ostream& out = ctx.out();
        auto field = [&](const char* name, const std::string& value) {
            std::string n = name;
            n.resize(12, ' ');
            out << n << value << '\n';
        };
        field("run", r->id);
        field("name", r->name.empty() ? "-" : r->name);
        field("kind", core::run_kind_name(r->kind));
        if (!r->stage.empty()) field("stage", r->stage);
        std::string status = core::run_status_name(r->status);
        if (r->exit_code) status += " (exit code " + std::to_string(*r->exit_code) + ")";
        field("status", status);
        field("command", r->cmd);
        field("started", local_time(r->started_ns));
        if (r->ended_ns)
            field("took", short_number(double(r->ended_ns - r->started_ns) / 1e9) + " s");
        if (!r->sweep.empty()) field("sweep", r->sweep);
        if (!r->parent.empty()) field("experiment", r->parent);
        if (r->git.in_git)
            field("git", (r->git.commit.empty() ? std::string("(no commit)") : r->git.commit) +
                             (r->git.dirty ? " + uncommitted changes" : ""));
        auto section = [&](const char* title, const auto& items, auto&& show) {
            if (items.empty()) return;
            out << title << '\n';
            for (const auto& it : items)
                out << "  " << show(it) << '\n';
        };
        std::vector<std::pair<std::string, nlohmann::json>> params;
        for (auto it = r->params.begin(); it != r->params.end(); ++it)
            params.emplace_back(it.key(), it.value());
        section("params", params,
                [](const auto& p) { return p.first + " = " + value_text(p.second); });
        section("metrics", r->metrics,
                [](const auto& m) { return m.first + " = " + short_number(m.second); });
        section("tags", r->tags, [](const auto& t) { return t.first + " = " + t.second; });
        section("outputs", r->outputs, [](const core::Artifact& a) {
            return a.path + (a.is_dir ? "/" : "") + "  sha256:" + to_hex(a.digest).substr(0, 12);
        });
        section("stage runs", kids, [](const core::Run& k) {
            return k.id.substr(0, 8) + "  " + k.stage + "  " + core::run_status_name(k.status);
        });
        return 0;
    }

    static nlohmann::json run_summary(const core::Run& r) {
        nlohmann::json metrics = nlohmann::json::object(), tags = nlohmann::json::object();
        for (const auto& [k, v] : r.metrics)
            metrics[k] = v;
        for (const auto& [k, v] : r.tags)
            tags[k] = v;
        nlohmann::json outs = nlohmann::json::array();
        for (const auto& a : r.outputs)
            outs.push_back({{"path", a.path}, {"hash", "sha256:" + to_hex(a.digest)}});
        return {{"id", r.id},
                {"name", r.name},
                {"kind", core::run_kind_name(r.kind)},
                {"stage", r.stage},
                {"status", core::run_status_name(r.status)},
                {"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nullptr},
                {"cmd", r.cmd},
                {"started", iso_utc(r.started_ns)},
                {"ended", r.ended_ns ? nlohmann::json(iso_utc(r.ended_ns)) : nullptr},
                {"sweep", r.sweep.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.sweep)},
                {"parent", r.parent.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.parent)},
                {"params", r.params},
                {"metrics", metrics},
                {"tags", tags},
                {"outputs", outs}};
    }

    // ---- diff ---------------------------------------------------------------------------------
    int do_diff(Context& ctx) {
        core::RunStore store(ctx.repo().db());
        auto a = store.get(store.resolve(refs_.at(0)));
        auto b = store.get(store.resolve(refs_.at(1)));
        if (!a || !b) throw Error("unknown run");
        struct Change {
            std::string key;
            std::optional<nlohmann::json> old_v, new_v;
        };
        std::vector<Change> params, metrics;
        std::set<std::string> keys;
        for (auto it = a->params.begin(); it != a->params.end(); ++it)
            keys.insert(it.key());
        for (auto it = b->params.begin(); it != b->params.end(); ++it)
            keys.insert(it.key());
        for (const auto& k : keys) {
            std::optional<nlohmann::json> x, y;
            if (a->params.contains(k)) x = a->params[k];
            if (b->params.contains(k)) y = b->params[k];
            if (x != y) params.push_back({k, x, y});
        }
        keys.clear();
        for (const auto& [k, v] : a->metrics)
            keys.insert(k);
        for (const auto& [k, v] : b->metrics)
            keys.insert(k);
        for (const auto& k : keys) {
            std::optional<nlohmann::json> x, y;
            if (auto it = a->metrics.find(k); it != a->metrics.end()) x = it->second;
            if (auto it = b->metrics.find(k); it != b->metrics.end()) y = it->second;
            if (x != y) metrics.push_back({k, x, y});
        }
        if (ctx.g.json) {
            auto section = [](const std::vector<Change>& list, bool numeric) {
                nlohmann::json o = nlohmann::json::object();
                for (const auto& c : list) {
                    nlohmann::json e = {{"old", c.old_v ? *c.old_v : nlohmann::json(nullptr)},
                                        {"new", c.new_v ? *c.new_v : nlohmann::json(nullptr)}};
                    if (numeric && c.old_v && c.new_v)
                        e["change"] = c.new_v->get<double>() - c.old_v->get<double>();
                    o[c.key] = e;
                }
                return o;
            };
            ctx.emit({{"a", a->id},
                      {"b", b->id},
                      {"params", section(params, false)},
                      {"metrics", section(metrics, true)}});
            return 0;
        }
        if (params.empty() && metrics.empty()) {
            ctx.note("no parameter or metric differs");
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"", a->id.substr(0, 8), b->id.substr(0, 8), "CHANGE"});
        auto text = [](const std::optional<nlohmann::json>& v) {
            if (!v) return std::string("-");
            if (v->is_number()) return short_number(v->get<double>());
            return value_text(*v);
        };
        for (const auto& c : params)
            rows.push_back({"params." + c.key, text(c.old_v), text(c.new_v), ""});
        for (const auto& c : metrics) {
            std::string change;
            if (c.old_v && c.new_v) {
                double d = c.new_v->get<double>() - c.old_v->get<double>();
                change = (d >= 0 ? "+" : "") + short_number(d);
            }
            rows.push_back({"metrics." + c.key, text(c.old_v), text(c.new_v), change});
        }
        print_table(ctx.out(), rows);
        return 0;
    }

    // ---- apply --------------------------------------------------------------------------------
    int do_apply(Context& ctx) {
        core::RunStore store(ctx.repo().db());
        auto r = store.get(store.resolve(refs_.at(0)));
        if (!r) throw Error("unknown run " + quote(refs_.at(0)));
        core::ApplyResult res = core::apply_experiment(ctx.repo(), *r, force_);
        if (ctx.g.json) {
            ctx.emit({{"id", r->id},
                      {"name", r->name},
                      {"params", res.params_set},
                      {"restored", res.restored}});
            return 0;
        }
        for (const auto& p : res.params_set)
            ctx.out() << "set " << p << '\n';
        for (const auto& o : res.restored)
            ctx.out() << "restored " << o << '\n';
        ctx.note("applied experiment " + r->name + " (" + r->id.substr(0, 8) + ")");
        return 0;
    }

    // ---- rm -----------------------------------------------------------------------------------
    int do_rm(Context& ctx) {
        if (refs_.empty() == where_.empty())
            throw Error("exp rm: give runs or --where (one of them)");
        core::RunStore store(ctx.repo().db());
        std::vector<std::string> ids;
        if (!where_.empty()) {
            for (const auto& r : select_rows(ctx, false))
                ids.push_back(r.id);
        } else {
            for (const auto& ref : refs_)
                ids.push_back(store.resolve(ref));  // every reference checked before deleting
        }
        for (const auto& id : ids) {
            auto r = store.get(id);
            if (r && r->status == core::RunStatus::running)
                throw Error("run " + quote(id.substr(0, 8)) + " is still running");
        }
        size_t n = ids.empty() ? 0 : store.remove(ids);
        if (ctx.g.json) {
            ctx.emit({{"removed", n}, {"ids", ids}});
            return 0;
        }
        ctx.note("removed " + std::to_string(n) + " run" + (n == 1 ? "" : "s"));
        return 0;
    }

    CLI::App *run_ = nullptr, *list_ = nullptr, *show_ = nullptr, *diff_ = nullptr,
             *apply_ = nullptr, *rm_ = nullptr;
    std::vector<std::string> sets_, stages_, refs_;
    int jobs_ = 1;
    std::string name_, where_, sort_, columns_;
    size_t limit_ = 0;
    bool no_run_cache_ = false, csv_ = false, all_ = false, force_ = false;
};

}  // namespace

std::unique_ptr<Command> make_exp() {
    return std::make_unique<Exp>();
}

}  // namespace mlo::cli
