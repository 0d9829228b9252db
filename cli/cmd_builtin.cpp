// mlo __builtin JOB: runs one built-in stage (core/builtin.hpp). repro starts it as a child
// process, so built-in stages stream output, run in parallel and stop on SIGINT like commands.
// Not for people: hidden from --help.

#include <iostream>

#include "cli/commands.hpp"
#include "core/builtin.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class Builtin : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("job", job_, "The job document (JSON)")->required();
    }

    int run(Context& ctx) override {
        nlohmann::json job = nlohmann::json::parse(job_, nullptr, false);
        if (job.is_discarded() || !job.is_object())
            throw Error("the built-in job is not a JSON object");
        core::run_builtin_job(job, ctx.out());
        return 0;
    }

private:
    std::string job_;
};

}  // namespace

std::unique_ptr<Command> make_builtin() {
    return std::make_unique<Builtin>();
}

}  // namespace mlo::cli
