// mlo model register/list/show/alias/promote/rollback/history: the model registry.

#include <cstdio>
#include <ctime>

#include "cli/commands.hpp"
#include "core/pointer.hpp"
#include "core/registry.hpp"
#include "core/runs.hpp"
#include "core/snapshot.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string s;
    for (const auto& i : items)
        s += (s.empty() ? "" : sep) + i;
    return s;
}

// Runs `f`, putting `what` in front of any error it throws ("cannot show 'x': unknown model").
template <class F>
auto explain(const std::string& what, F&& f) {
    try {
        return f();
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

int64_t parse_version(const std::string& text, const std::string& what) {
    bool digits = !text.empty() && text.size() <= 18;
    for (char c : text)
        digits = digits && c >= '0' && c <= '9';
    int64_t v = digits ? std::stoll(text) : 0;
    if (v < 1) throw Error(what + ": " + quote(text) + " is not a version number");
    return v;
}

core::ModelRef parse_ref(const std::string& text, const std::string& what) {
    auto ref = core::parse_model_ref(text);
    if (!ref) {
        throw Error(what + ": " + quote(text) +
                    " is not a model reference (NAME, NAME:VERSION or NAME@ALIAS)");
    }
    return *ref;
}

std::string was(const core::ModelEvent& e) {
    return e.previous ? "was version " + std::to_string(*e.previous) : "was unset";
}

class Model : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(1);

        register_ = app.add_subcommand(
            "register", "Register a file or directory, or a run's output, as the next version");
        register_->add_option("name", name_, "The model's name")->required()->type_name("NAME");
        register_->add_option("source", source_, "A file or directory in the repository")
            ->type_name("PATH");
        register_->add_option("--run", run_id_, "Register an output of this run instead of PATH")
            ->type_name("RUN-ID");
        register_
            ->add_option("--path", output_, "With --run: which output, when the run wrote several")
            ->type_name("OUT");
        register_->add_option("--reason", reason_, "Why (kept in the history)")->type_name("TEXT");

        list_ = app.add_subcommand("list", "List registered models, latest version and aliases");

        show_ = app.add_subcommand("show", "Show one version and the run that produced it");
        show_->add_option("ref", ref_, "NAME (latest), NAME:VERSION or NAME@ALIAS")
            ->required()
            ->type_name("REF");

        alias_ = app.add_subcommand("alias", "Point an alias of a model at a version");
        alias_->add_option("name", name_, "The model's name")->required()->type_name("NAME");
        alias_->add_option("version", version_, "The version number")
            ->required()
            ->type_name("VERSION");
        alias_->add_option("alias", alias_name_, "The alias (e.g. staging)")
            ->required()
            ->type_name("ALIAS");
        alias_->add_option("--reason", reason_, "Why (kept in the history)")->type_name("TEXT");

        promote_ = app.add_subcommand("promote", "Make a version the champion (or --alias)");
        promote_->add_option("name", name_, "The model's name")->required()->type_name("NAME");
        promote_->add_option("version", version_, "The version number")
            ->required()
            ->type_name("VERSION");
        promote_->add_option("--alias", alias_name_, "The alias to move (default: champion)")
            ->type_name("ALIAS");
        promote_->add_option("--reason", reason_, "Why (kept in the history)")->type_name("TEXT");

        rollback_ = app.add_subcommand(
            "rollback", "Move the champion (or --alias) back to the version it had before");
        rollback_->add_option("name", name_, "The model's name")->required()->type_name("NAME");
        rollback_->add_option("--alias", alias_name_, "The alias to move (default: champion)")
            ->type_name("ALIAS");
        rollback_->add_option("--reason", reason_, "Why (kept in the history)")->type_name("TEXT");

        history_ =
            app.add_subcommand("history", "Every registration and alias change, oldest first");
        history_->add_option("name", name_, "The model's name")->required()->type_name("NAME");
    }

    int run(Context& ctx) override {
        if (register_->parsed()) return do_register(ctx);
        if (list_->parsed()) return do_list(ctx);
        if (show_->parsed()) return do_show(ctx);
        if (alias_->parsed()) return do_alias(ctx, "alias");
        if (promote_->parsed()) return do_alias(ctx, "promote");
        if (rollback_->parsed()) return do_rollback(ctx);
        if (history_->parsed()) return do_history(ctx);
        throw Error("no subcommand given for 'model' (see 'mlo model --help')");
    }

private:
    // The model to register: the content of a workspace path or an output of a run.
    struct Candidate {
        core::Snapshot snap;
        std::string run_id;
        std::string source_path;
    };

    Candidate from_path(Context& ctx, const std::string& what) {
        core::Repository& repo = ctx.repo();
        fs::path abs = explain(what, [&] { return repo.resolve_arg(source_); });
        std::string rel = repo.rel(abs);
        if (rel.empty()) throw Error(what + ": " + quote(source_) + " is the repository root");
        if (core::is_pointer_name(abs.filename().string()))
            throw Error(what + ": " + quote(source_) + " is a pointer file (name what it tracks)");
        // Storing and registering under the workspace lock keeps gc from deleting the new
        // object before the registry names it.
        lock_ = repo.lock_workspace(ctx.on_wait());
        int64_t started = now_ns();
        Candidate c;
        c.source_path = rel;
        c.snap = core::snapshot_path(repo, rel, core::SnapshotMode::store, started);
        if (!c.snap.exists) {
            // Not checked out: a pointer file still names it, and the store may hold it.
            c.snap = core::snapshot_path(repo, rel, core::SnapshotMode::hash, started);
            if (!c.snap.exists) throw Error(what + ": " + quote(source_) + " does not exist");
            if (!core::snapshot_in_store(repo, c.snap)) {
                throw Error(what + ": " + quote(source_) +
                            " is not checked out and its content is not in the store");
            }
        }
        if (repo.config().fsync) repo.store().sync();
        core::RunStore runs(repo.db());
        auto producers = runs.producers_of(c.snap.digest);
        if (!producers.empty()) c.run_id = producers.front().id;
        return c;
    }

    Candidate from_run(Context& ctx, const std::string& what) {
        core::Repository& repo = ctx.repo();
        core::RunStore runs(repo.db());
        auto run = explain(what, [&] { return runs.get(run_id_); });
        if (!run) throw Error(what + ": no run " + quote(run_id_));
        if (run->status != core::RunStatus::succeeded && run->status != core::RunStatus::restored) {
            throw Error(what + ": run " + quote(run->id) + " " +
                        core::run_status_name(run->status) +
                        " (only a succeeded or restored run's outputs can be registered)");
        }
        std::vector<std::string> paths;
        for (const auto& a : run->outputs)
            paths.push_back(a.path);
        if (paths.empty()) throw Error(what + ": run " + quote(run->id) + " recorded no outputs");
        const core::Artifact* chosen = nullptr;
        if (!output_.empty()) {
            // As recorded (repository-relative), or as a path from the current directory.
            std::string rel = output_;
            try {
                rel = repo.rel(repo.resolve_arg(output_));
            } catch (const Error&) {
            }
            for (const auto& a : run->outputs) {
                if (a.path == output_ || a.path == rel) chosen = &a;
            }
            if (!chosen) {
                throw Error(what + ": run " + quote(run->id) + " has no output " + quote(output_) +
                            " (its outputs: " + join(paths, ", ") + ")");
            }
        } else if (run->outputs.size() == 1) {
            chosen = &run->outputs.front();
        } else {
            throw Error(what + ": run " + quote(run->id) + " has " + std::to_string(paths.size()) +
                        " outputs (" + join(paths, ", ") + "); pick one with --path");
        }
        Candidate c;
        c.snap.exists = true;
        c.snap.digest = chosen->digest;
        c.snap.size = chosen->size;
        c.snap.is_dir = chosen->is_dir;
        c.run_id = run->id;
        c.source_path = chosen->path;
        lock_ = repo.lock_workspace(ctx.on_wait());
        if (!core::snapshot_in_store(repo, c.snap)) {
            throw Error(what + ": the output " + quote(c.source_path) + " of run " +
                        quote(run->id) + " is not in the store");
        }
        return c;
    }

    int do_register(Context& ctx) {
        const std::string what = "cannot register model " + quote(name_);
        if (!core::valid_model_name(name_)) throw Error(what + ": " + core::kModelNameRule);
        if (!run_id_.empty() && !source_.empty())
            throw Error(what + ": give a PATH or --run, not both");
        if (run_id_.empty() && source_.empty())
            throw Error(what + ": give the PATH of the model or --run RUN-ID");
        if (!output_.empty() && run_id_.empty())
            throw Error(what + ": --path picks an output of --run; give a PATH on its own");
        Candidate c = run_id_.empty() ? from_path(ctx, what) : from_run(ctx, what);
        core::Registry registry(ctx.repo().db());
        bool created = false;
        core::ModelVersion v =
            registry.register_version(name_, c.snap.digest, c.snap.size, c.snap.is_dir, c.run_id,
                                      c.source_path, reason_, &created);
        // Hashes learned while storing; best effort, like every command that hashes.
        ctx.repo().stat_cache().flush();
        if (ctx.g.json) {
            nlohmann::json j = core::to_json(v);
            j["created"] = created;
            ctx.emit(j);
            return 0;
        }
        std::string id = v.name + " version " + std::to_string(v.version);
        if (!created) {
            ctx.out() << id << " already has this model\n";
            return 0;
        }
        ctx.out() << "registered " << id << " (object " << short_hash(v.object)
                  << (v.run_id.empty() ? ", no recorded run" : ", run " + v.run_id.substr(0, 12))
                  << ")\n";
        return 0;
    }

    int do_list(Context& ctx) {
        core::Registry registry(ctx.repo().db());
        nlohmann::json all = nlohmann::json::array();
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"NAME", "LATEST", "VERSIONS", "ALIASES"});
        for (const auto& name : registry.names()) {
            auto versions = registry.versions(name);
            if (versions.empty()) continue;
            nlohmann::json aliases = nlohmann::json::object();
            std::vector<std::string> shown;
            for (const auto& v : versions) {
                for (const auto& a : v.aliases)
                    aliases[a] = v.version;
            }
            for (const auto& [a, version] : aliases.items())
                shown.push_back(a + "=" + std::to_string(version.get<int64_t>()));
            all.push_back({{"name", name},
                           {"latest", versions.back().version},
                           {"versions", versions.size()},
                           {"aliases", aliases}});
            rows.push_back({name, std::to_string(versions.back().version),
                            std::to_string(versions.size()),
                            shown.empty() ? "-" : join(shown, " ")});
        }
        if (ctx.g.json) {
            ctx.emit(all);
            return 0;
        }
        if (rows.size() == 1) {
            ctx.note("no models registered yet (see 'mlo model register --help')");
            return 0;
        }
        print_table(ctx.out(), rows);
        return 0;
    }

    int do_show(Context& ctx) {
        const std::string what = "cannot show " + quote(ref_);
        core::ModelRef ref = parse_ref(ref_, what);
        core::Registry registry(ctx.repo().db());
        core::ModelVersion v = explain(what, [&] { return registry.resolve(ref); });
        int64_t latest = registry.resolve({v.name, std::nullopt, ""}).version;
        std::optional<core::Run> run;
        core::RunStore runs(ctx.repo().db());
        if (!v.run_id.empty()) run = runs.get(v.run_id);
        if (ctx.g.json) {
            nlohmann::json j = core::to_json(v);
            j["latest"] = latest;
            if (v.run_id.empty()) {
                j["run"] = nullptr;
            } else {
                nlohmann::json metrics = nlohmann::json::object();
                if (run) {
                    for (const auto& [k, value] : run->metrics)
                        metrics[k] = value;
                }
                j["run"] = {{"id", v.run_id},
                            {"recorded", bool(run)},
                            {"stage", run ? nlohmann::json(run->stage) : nlohmann::json(nullptr)},
                            {"status", run ? nlohmann::json(core::run_status_name(run->status))
                                           : nlohmann::json(nullptr)},
                            {"metrics", metrics}};
            }
            ctx.emit(j);
            return 0;
        }
        std::ostream& out = ctx.out();
        auto field = [&](const char* name, const std::string& value) {
            std::string n = name;
            n.resize(10, ' ');
            out << n << value << '\n';
        };
        field("model", v.name);
        field("version", std::to_string(v.version) +
                             (v.version == latest ? " (latest)"
                                                  : " (latest is " + std::to_string(latest) + ")"));
        field("object", "sha256:" + to_hex(v.object));
        field("size", human_size(v.size) + (v.is_dir ? " (directory)" : ""));
        if (v.run_id.empty()) {
            field("run", "- (no recorded run produced it)");
        } else if (!run) {
            field("run", v.run_id + " (not recorded in this repository)");
        } else {
            field("run", run->id + " (" +
                             (run->stage.empty() ? std::string("command") : "stage " + run->stage) +
                             ", " + core::run_status_name(run->status) + ")");
        }
        field("source", v.source_path.empty() ? "-" : v.source_path);
        field("created", local_time(v.created_ns) + " by " + (v.user.empty() ? "?" : v.user));
        field("aliases", v.aliases.empty() ? "-" : join(v.aliases, ", "));
        if (run && !run->metrics.empty()) {
            out << "metrics\n";
            for (const auto& [k, value] : run->metrics)
                out << "  " << k << " = " << short_number(value) << '\n';
        }
        return 0;
    }

    void print_event(Context& ctx, const core::ModelEvent& e) {
        if (ctx.g.json) {
            nlohmann::json j = core::to_json(e);
            j["changed"] = e.seq != 0;
            ctx.emit(j);
            return;
        }
        std::string ref = e.name + "@" + e.alias;
        if (e.seq == 0) {
            ctx.out() << ref << " already points at version " << e.version << '\n';
        } else if (e.action == "rollback") {
            ctx.out() << "rolled back " << ref << " to version " << e.version << " (" << was(e)
                      << ")\n";
        } else {
            ctx.out() << (e.action == "promote" ? "promoted " : "") << ref << " -> version "
                      << e.version << " (" << was(e) << ")\n";
        }
    }

    int do_alias(Context& ctx, const std::string& action) {
        std::string alias = alias_name_.empty() ? "champion" : alias_name_;
        int64_t version = parse_version(
            version_, "cannot set alias " + quote(alias) + " of model " + quote(name_));
        core::Registry registry(ctx.repo().db());
        print_event(ctx, registry.set_alias(name_, version, alias, action, reason_));
        return 0;
    }

    int do_rollback(Context& ctx) {
        std::string alias = alias_name_.empty() ? "champion" : alias_name_;
        core::Registry registry(ctx.repo().db());
        print_event(ctx, registry.rollback(name_, alias, reason_));
        return 0;
    }

    int do_history(Context& ctx) {
        core::Registry registry(ctx.repo().db());
        auto events = explain("cannot show the history of " + quote(name_),
                              [&] { return registry.history(name_); });
        if (ctx.g.json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& e : events)
                a.push_back(core::to_json(e));
            ctx.emit(a);
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"TIME", "USER", "ACTION", "VERSION", "ALIAS", "PREVIOUS", "REASON"});
        for (const auto& e : events) {
            rows.push_back({local_time(e.time_ns), e.user.empty() ? "-" : e.user, e.action,
                            std::to_string(e.version), e.alias.empty() ? "-" : e.alias,
                            e.previous ? std::to_string(*e.previous) : "-",
                            e.reason.empty() ? "-" : e.reason});
        }
        print_table(ctx.out(), rows);
        return 0;
    }

    CLI::App* register_ = nullptr;
    CLI::App* list_ = nullptr;
    CLI::App* show_ = nullptr;
    CLI::App* alias_ = nullptr;
    CLI::App* promote_ = nullptr;
    CLI::App* rollback_ = nullptr;
    CLI::App* history_ = nullptr;

    std::string name_, source_, run_id_, output_, reason_, ref_, version_, alias_name_;
    std::unique_ptr<FileLock> lock_;
};

}  // namespace

std::unique_ptr<Command> make_model() {
    return std::make_unique<Model>();
}

}  // namespace mlo::cli
