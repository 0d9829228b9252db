#include "cli/commands.hpp"
#include "core/fsck.hpp"

namespace mlo::cli {

namespace {

class Fsck : public Command {
public:
    void setup(CLI::App&) override {}
    int run(Context& ctx) override {
        core::Progress progress;
        core::FsckResult r;
        {
            ProgressBar bar(ctx, progress);
            r = core::fsck(ctx.repo(), &progress, ctx.on_wait());
        }
        if (ctx.g.json) {
            nlohmann::json corrupt = nlohmann::json::array(), missing = nlohmann::json::array();
            for (const auto& c : r.corrupt)
                corrupt.push_back({{"id", c.name},
                                   {"actual", c.actual},
                                   {"moved_to", ctx.repo().rel(c.moved_to)}});
            for (const auto& m : r.missing)
                missing.push_back({{"id", m.id}, {"used_by", m.used_by}});
            ctx.emit({{"ok", r.ok()},
                      {"checked", r.checked},
                      {"corrupt", corrupt},
                      {"missing", missing},
                      {"stray", r.stray}});
        } else {
            for (const auto& c : r.corrupt) {
                ctx.out() << "corrupt: " << c.name << " (its bytes hash to " << c.actual
                          << "), moved to " << ctx.repo().rel(c.moved_to) << '\n';
            }
            for (const auto& m : r.missing)
                ctx.out() << "missing: " << m.id << " (needed by " << m.used_by << ")\n";
            for (const auto& s : r.stray)
                ctx.out() << "stray:   " << s << " (not an object name; left alone)\n";
            if (!ctx.g.quiet || !r.ok()) {
                ctx.out() << "checked " << r.checked << " object" << (r.checked == 1 ? "" : "s")
                          << ": " << r.corrupt.size() << " corrupt, " << r.missing.size()
                          << " missing\n";
            }
        }
        return r.ok() ? 0 : 1;
    }
};

}  // namespace

std::unique_ptr<Command> make_fsck() {
    return std::make_unique<Fsck>();
}

}  // namespace mlo::cli
