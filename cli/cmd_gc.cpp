#include "cli/commands.hpp"
#include "core/gc.hpp"

namespace mlo::cli {

namespace {

class Gc : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_flag("-n,--dry-run", dry_run_, "Only list what would be removed");
    }
    int run(Context& ctx) override {
        auto r =
            core::gc(ctx.repo(), dry_run_ ? core::DryRun::yes : core::DryRun::no, ctx.on_wait());
        if (ctx.g.json) {
            ctx.emit({{"dry_run", dry_run_},
                      {"removed", r.removed},
                      {"bytes", r.bytes},
                      {"kept", r.kept},
                      {"temporaries", r.temporaries}});
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
            ctx.out() << '\n';
        }
        return 0;
    }

private:
    bool dry_run_ = false;
};

}  // namespace

std::unique_ptr<Command> make_gc() {
    return std::make_unique<Gc>();
}

}  // namespace mlo::cli
