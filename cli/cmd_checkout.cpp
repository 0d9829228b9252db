#include "cli/commands.hpp"
#include "core/checkout.hpp"
#include "core/git_revs.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class Checkout : public Command {
public:
    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Limit to these tracked paths");
        app.add_flag("-f,--force", force_,
                     "Overwrite or remove local changes that are not in the store");
        rev_opt_ =
            app.add_option("--rev", rev_,
                           "Restore the data as the pointer files of this git revision record it "
                           "(the pointer files and the git work tree stay as they are)");
    }
    int run(Context& ctx) override {
        std::vector<core::Selection> sels;
        std::string commit;
        const bool at_rev = rev_opt_->count() > 0;
        if (at_rev) {
            core::Revision rev = core::read_revision(ctx.repo(), rev_);
            commit = rev.commit;
            std::vector<bool> matched;
            sels = core::select_pointers(ctx.repo(), rev.pointers, paths_, &matched);
            for (size_t i = 0; i < matched.size(); ++i) {
                if (!matched[i])
                    throw Error(quote(paths_[i]) + " is not tracked by mlo at " + quote(rev_));
            }
        } else {
            sels = core::select_tracked(ctx.repo(), paths_);
        }
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
            nlohmann::json j = {{"restored", r.restored},
                                {"removed", r.removed},
                                {"unchanged", r.unchanged},
                                {"link", r.by_link}};
            if (at_rev) j["commit"] = commit;
            ctx.emit(j);
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
    std::string rev_;
    CLI::Option* rev_opt_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> make_checkout() {
    return std::make_unique<Checkout>();
}

}  // namespace mlo::cli
