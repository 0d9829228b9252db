#include <iostream>

#include "cli/commands.hpp"
#include "core/gc.hpp"
#include "core/remotes.hpp"
#include "core/sync.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class Gc : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_flag("-n,--dry-run", dry_run_, "Only list what would be removed");
        app.add_flag("--all-commits", all_commits_,
                     "Also keep what the pointer files and mlo.lock of every git commit name");
        app.add_option("--remote", remote_,
                       "Collect garbage on this remote instead of the local store (needs --force "
                       "unless --dry-run)");
        app.add_flag("-f,--force", force_, "With --remote: really delete objects on the remote");
    }
    int run(Context& ctx) override {
        if (!remote_.empty()) return run_remote(ctx);
        if (force_) throw Error("--force applies to 'gc --remote NAME' only");
        auto r =
            core::gc(ctx.repo(), dry_run_ ? core::DryRun::yes : core::DryRun::no, ctx.on_wait(),
                     all_commits_ ? core::AllCommits::yes : core::AllCommits::no);
        // A file in an old commit that does not parse is not fatal (its ids are kept), but the
        // user should hear of it.
        if (!ctx.g.quiet) {
            for (const auto& w : r.warnings)
                std::cerr << "mlo: warning: " << w << '\n';
        }
        if (ctx.g.json) {
            nlohmann::json j = {{"dry_run", dry_run_},
                                {"removed", r.removed},
                                {"bytes", r.bytes},
                                {"kept", r.kept},
                                {"temporaries", r.temporaries}};
            if (all_commits_) {
                j["commits"] = r.commits;
                j["warnings"] = r.warnings;
            }
            ctx.emit(j);
            return 0;
        }
        if (dry_run_ || ctx.g.verbose) {
            for (const auto& id : r.removed)
                ctx.out() << (dry_run_ ? "would remove " : "removed ") << id << '\n';
        }
        if (!ctx.g.quiet) {
            ctx.out() << (dry_run_ ? "would remove " : "removed ") << r.removed.size() << " object"
                      << (r.removed.size() == 1 ? "" : "s") << " (" << human_size(r.bytes)
                      << "), kept " << r.kept;
            if (r.temporaries) ctx.out() << ", " << r.temporaries << " leftover temporary files";
            if (all_commits_)
                ctx.out() << " (referenced from the workspace and " << r.commits << " commit"
                          << (r.commits == 1 ? "" : "s") << ")";
            ctx.out() << '\n';
        }
        return 0;
    }

private:
    bool dry_run_ = false;
    bool all_commits_ = false;
    bool force_ = false;
    std::string remote_;

    // Objects on a remote may be what a teammate's branch needs: deleting needs --force.
    int run_remote(Context& ctx) {
        if (!dry_run_ && !force_)
            throw Error(
                "gc --remote deletes objects that other clones may still need; add "
                "--force (or look first with --dry-run)");
        const RemoteSpec& spec = core::find_remote(ctx.repo().config(), remote_);
        std::unique_ptr<Remote> remote = open_remote(spec, ctx.repo().root());
        core::RemoteGcResult r =
            core::gc_remote(ctx.repo(), *remote, dry_run_ ? core::DryRun::yes : core::DryRun::no,
                            all_commits_ ? core::AllCommits::yes : core::AllCommits::no, 0,
                            core::remote_index_id(spec));
        if (ctx.g.json) {
            ctx.emit({{"dry_run", dry_run_},
                      {"remote", spec.name},
                      {"removed", r.removed},
                      {"bytes", r.bytes},
                      {"kept", r.kept}});
            return 0;
        }
        if (dry_run_ || ctx.g.verbose) {
            for (const auto& id : r.removed)
                ctx.out() << (dry_run_ ? "would remove " : "removed ") << id << '\n';
        }
        if (!ctx.g.quiet)
            ctx.out() << (dry_run_ ? "would remove " : "removed ") << r.removed.size() << " object"
                      << (r.removed.size() == 1 ? "" : "s") << " (" << human_size(r.bytes)
                      << ") from " << spec.name << ", kept " << r.kept << '\n';
        return 0;
    }
};

}  // namespace

std::unique_ptr<Command> make_gc() {
    return std::make_unique<Gc>();
}

}  // namespace mlo::cli
