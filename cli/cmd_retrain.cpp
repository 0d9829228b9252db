// mlo retrain [--dry-run] [--force]: acts on the latest monitor report as mlo.yaml's `retrain:`
// says (core/retrain). Exit 0 when nothing was needed, the report was handled already, or the
// challenger was promoted; 1 when a challenger was trained and lost (or failed the gate); 2 for
// errors.

#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "core/retrain.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class Retrain : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_flag("--dry-run", dry_run_, "Say what would happen; change nothing");
        app.add_flag("--force", force_,
                     "Retrain even when 'retrain.when' does not hold or the report was handled");
    }

    int run(Context& ctx) override {
        core::Pipeline p = core::load_pipeline(ctx.repo());
        core::RetrainOptions o;
        o.dry_run = dry_run_;
        o.force = force_;
        // The story goes to stdout, or to stderr with --json (stdout is the document then).
        std::ostringstream quiet_sink;
        std::ostream& log = ctx.g.quiet ? quiet_sink : ctx.g.json ? std::cerr : ctx.out();
        nlohmann::json r = core::retrain(ctx.repo(), p, o, log);
        if (ctx.g.json) ctx.emit(r);
        return r.value("status", "") == "rejected" ? 1 : 0;
    }

private:
    bool dry_run_ = false, force_ = false;
};

}  // namespace

std::unique_ptr<Command> make_retrain() {
    return std::make_unique<Retrain>();
}

}  // namespace mlo::cli
