#include "cli/commands.hpp"
#include "core/compare.hpp"
#include "core/remotes.hpp"
#include "core/repro.hpp"
#include "core/sync.hpp"

namespace mlo::cli {

namespace {

class Status : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Limit to these tracked paths");
        app.add_flag("--exit-code", exit_code_, "Exit with 1 if anything changed");
        app.add_flag("--remote", remote_,
                     "List what the remote lacks (objects not pushed) instead of local changes");
        app.add_option("-r", remote_name_, "With --remote: the remote (default: the default one)");
    }
    int run(Context& ctx) override {
        if (remote_ || !remote_name_.empty()) return run_remote(ctx);
        auto sels = core::select_tracked(ctx.repo(), paths_);
        core::Progress progress;
        std::vector<core::TrackedState> states;
        {
            ProgressBar bar(ctx, progress);
            states =
                core::compare_workspace(ctx.repo(), sels, core::Detail::changes_only, &progress);
        }
        bool clean = true;
        for (const auto& s : states)
            clean = clean && s.clean();
        // Stage states next to data states, when there is a pipeline and no path was named.
        std::vector<core::StageReport> stages;
        std::error_code ec;
        if (paths_.empty() && fs::exists(ctx.repo().root() / core::kPipelineFile, ec)) {
            stages = core::pipeline_status(ctx.repo());
            for (const auto& st : stages)
                clean = clean && st.result != core::StageResult::would_run;
        }
        auto stage_state = [](const core::StageReport& r) {
            return r.result == core::StageResult::would_run ? "changed"
                                                            : core::stage_result_name(r.result);
        };
        if (ctx.g.json) {
            nlohmann::json tracked = nlohmann::json::array();
            for (const auto& s : states) {
                nlohmann::json changes = nlohmann::json::array();
                for (const auto& c : s.changes)
                    changes.push_back({{"path", c.path}, {"status", core::change_name(c.kind)}});
                tracked.push_back({{"path", s.sel.ptr.rel},
                                   {"pointer", ctx.repo().rel(s.sel.ptr.file)},
                                   {"kind", s.sel.ptr.is_dir ? "dir" : "file"},
                                   {"clean", s.clean()},
                                   {"manifest_missing", s.manifest_missing},
                                   {"changes", changes}});
            }
            nlohmann::json stage_list = nlohmann::json::array();
            for (const auto& st : stages)
                stage_list.push_back(
                    {{"stage", st.stage}, {"state", stage_state(st)}, {"reasons", st.reasons}});
            ctx.emit({{"clean", clean}, {"tracked", tracked}, {"stages", stage_list}});
        } else {
            for (const auto& s : states) {
                for (const auto& c : s.changes) {
                    std::string kind = std::string(core::change_name(c.kind)) + ":";
                    kind.resize(10, ' ');
                    ctx.out() << kind << c.path << '\n';
                }
                if (s.manifest_missing && !s.clean()) {
                    ctx.note("note: the manifest of " + s.sel.ptr.rel +
                             " is not in the store; changes are shown for the whole directory");
                }
            }
            size_t width = 0;
            for (const auto& st : stages)
                width = std::max(width, st.stage.size());
            for (const auto& st : stages) {
                if (st.result != core::StageResult::would_run && (clean || ctx.g.quiet)) continue;
                std::string name = st.stage;
                name.resize(width, ' ');
                ctx.out() << "stage " << name << "  " << stage_state(st);
                for (size_t i = 0; i < st.reasons.size(); ++i)
                    ctx.out() << (i ? "; " : ": ") << st.reasons[i];
                ctx.out() << '\n';
            }
            if (clean && !ctx.g.quiet) {
                ctx.out() << "nothing changed (" << states.size() << " tracked path"
                          << (states.size() == 1 ? "" : "s");
                if (!stages.empty())
                    ctx.out() << ", " << stages.size() << " stage"
                              << (stages.size() == 1 ? "" : "s") << " up to date";
                ctx.out() << ")\n";
            }
        }
        return exit_code_ && !clean ? 1 : 0;
    }

private:
    std::vector<std::string> paths_;
    bool exit_code_ = false;
    bool remote_ = false;
    std::string remote_name_;

    // What push would send: the objects the selection refers to that the remote lacks.
    int run_remote(Context& ctx) {
        const RemoteSpec& spec = core::find_remote(ctx.repo().config(), remote_name_);
        std::unique_ptr<Remote> remote = open_remote(spec, ctx.repo().root());
        std::vector<core::Unpushed> missing = core::unpushed(ctx.repo(), *remote, paths_, 0);
        if (ctx.g.json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& u : missing)
                a.push_back({{"path", u.path}, {"object", u.object}});
            ctx.emit({{"remote", spec.name}, {"clean", missing.empty()}, {"not_pushed", a}});
        } else {
            for (const auto& u : missing)
                ctx.out() << "not pushed: " << u.path << '\n';
            if (!ctx.g.quiet && missing.empty())
                ctx.out() << "everything is on " << spec.name << '\n';
        }
        return exit_code_ && !missing.empty() ? 1 : 0;
    }
};

}  // namespace

std::unique_ptr<Command> make_status() {
    return std::make_unique<Status>();
}

}  // namespace mlo::cli
