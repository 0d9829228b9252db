#include "cli/commands.hpp"

namespace mlo::cli {

namespace {

class Init : public Command {
public:
    void setup(CLI::App&) override {}
    int run(Context& ctx) override {
        fs::path here = fs::current_path();
        bool created = core::Repository::init(here);
        if (ctx.g.json) {
            ctx.emit({{"root", here.string()}, {"created", created}});
        } else if (!ctx.g.quiet) {
            ctx.out() << (created ? "initialised empty mlo repository in "
                                  : "reinitialised existing mlo repository in ")
                      << (here / core::kDotMlo).string() << '\n';
        }
        return 0;
    }
};

}  // namespace

std::unique_ptr<Command> make_init() {
    return std::make_unique<Init>();
}

}  // namespace mlo::cli
