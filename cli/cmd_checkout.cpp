#include "cli/commands.hpp"
#include "core/checkout.hpp"

namespace mlo::cli {

namespace {

class Checkout : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Limit to these tracked paths");
        app.add_flag("-f,--force", force_,
                     "Overwrite or remove local changes that are not in the store");
    }
    int run(Context& ctx) override {
        auto sels = core::select_tracked(ctx.repo(), paths_);
        core::Progress progress;
        core::CheckoutOptions options;
        options.force = force_ ? core::Force::yes : core::Force::no;
        options.on_wait = ctx.on_wait();
        options.progress = &progress;
        core::CheckoutResult r;
        {
            ProgressBar bar(ctx, progress);
            r = core::checkout(ctx.repo(), sels, options);
        }
        if (ctx.g.json) {
            ctx.emit({{"restored", r.restored},
                      {"removed", r.removed},
                      {"unchanged", r.unchanged},
                      {"link", r.by_link}});
            return 0;
        }
        if (ctx.g.verbose) {
            for (const auto& p : r.restored)
                ctx.out() << "restored " << p << '\n';
            for (const auto& p : r.removed)
                ctx.out() << "removed  " << p << '\n';
        }
        if (!ctx.g.quiet) {
            ctx.out() << "restored " << r.restored.size() << " file"
                      << (r.restored.size() == 1 ? "" : "s");
            if (!r.removed.empty()) ctx.out() << ", removed " << r.removed.size();
            ctx.out() << ", " << r.unchanged << " unchanged";
            if (!r.by_link.empty()) {
                ctx.out() << " (";
                bool first = true;
                for (const auto& [kind, n] : r.by_link) {
                    ctx.out() << (first ? "" : ", ") << kind << ": " << n;
                    first = false;
                }
                ctx.out() << ")";
            }
            ctx.out() << '\n';
        }
        return 0;
    }

private:
    std::vector<std::string> paths_;
    bool force_ = false;
};

}  // namespace

std::unique_ptr<Command> make_checkout() {
    return std::make_unique<Checkout>();
}

}  // namespace mlo::cli
