#include "cli/commands.hpp"
#include "core/hooks.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

// The binary running now, which the hooks fall back to when `mlo` is not on PATH.
fs::path this_executable() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("mlo") : exe;
}

class InstallHooks : public Command {
public:
    void setup(CLI::App& app) override {
        // For the pre-push hook: whether there is a remote to push to, without depending on
        // how `mlo remote list` prints.
        app.add_flag("--default-remote", default_remote_,
                     "Print the default mlo remote's name; exit 1 when there is none")
            ->group("");
    }
    int run(Context& ctx) override {
        if (default_remote_) {
            const std::string& name = ctx.repo().config().default_remote;
            if (name.empty()) return 1;
            ctx.out() << name << '\n';
            return 0;
        }
        core::HooksResult r = core::install_hooks(ctx.repo(), this_executable());
        if (ctx.g.json) {
            nlohmann::json hooks = nlohmann::json::array();
            for (const auto& h : r.hooks)
                hooks.push_back({{"name", h.name},
                                 {"path", h.path.string()},
                                 {"action", core::hook_action_name(h.action)},
                                 {"chained", h.chained}});
            ctx.emit({{"hooks_dir", r.hooks_dir.string()}, {"hooks", hooks}});
            return 0;
        }
        if (ctx.g.quiet) return 0;
        for (const auto& h : r.hooks) {
            std::string action = core::hook_action_name(h.action);
            action.resize(10, ' ');
            ctx.out() << action << h.name;
            if (!h.chained.empty()) {
                ctx.out() << " (runs ";
                for (size_t i = 0; i < h.chained.size(); ++i)
                    ctx.out() << (i ? ", " : "") << h.chained[i];
                ctx.out() << " first)";
            }
            ctx.out() << '\n';
        }
        ctx.note("hooks in " + quote(r.hooks_dir));
        return 0;
    }

private:
    bool default_remote_ = false;
};

}  // namespace

std::unique_ptr<Command> make_install_hooks() {
    return std::make_unique<InstallHooks>();
}

}  // namespace mlo::cli
