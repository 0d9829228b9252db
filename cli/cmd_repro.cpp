#include <algorithm>
#include <iostream>
#include <optional>

#include "cli/commands.hpp"
#include "core/repro.hpp"
#include "core/train.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

nlohmann::json report_json(const core::StageReport& r) {
    nlohmann::json j = {{"stage", r.stage},
                        {"result", core::stage_result_name(r.result)},
                        {"reasons", r.reasons},
                        {"seconds", r.seconds}};
    j["run_id"] = r.run_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.run_id);
    j["exit_code"] = r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json(nullptr);
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : "; ") + s;
    return out;
}

// repro, train and evaluate: the same executor, different stage selection.
class Repro : public Command {
public:
    // `role` empty: `mlo repro [STAGE…]`; else the stages of that role.
    explicit Repro(std::string role) : role_(std::move(role)) {}

    void setup(CLI::App& app) override {
        if (role_.empty())
            app.add_option("stages", targets_, "Stages to bring up to date (default: all)");
        app.add_option("-j,--jobs", jobs_, "Run up to N independent stages at once")
            ->check(CLI::Range(1, 1024));
        app.add_flag("-f,--force", force_, "Run the selected stages even if up to date");
        app.add_flag("-n,--dry-run", dry_run_, "Print what would run and why; run nothing");
        app.add_flag("-k,--keep-going", keep_going_,
                     "After a failure, go on with the stages that do not depend on it");
        app.add_flag("--no-run-cache", no_run_cache_,
                     "Always run commands, even when an earlier run with the same inputs can "
                     "be restored");
        app.add_flag("--no-wait", no_wait_,
                     "Fail at once if another repro runs in this repository, instead of waiting");
        if (role_ == "train")
            app.add_flag("--no-register", no_register_,
                         "Do not check the gate or register the model of mlo.yaml's 'model:'");
    }

    int run(Context& ctx) override {
        core::ReproOptions opt;
        std::optional<core::Pipeline> pipeline;
        bool gate = false;
        if (!role_.empty()) {
            pipeline = core::load_pipeline(ctx.repo());
            opt.targets = core::stages_with_role(*pipeline, role_);
            // Training ends with the model's gate: the evaluation it reads runs too.
            gate = role_ == "train" && !no_register_ && pipeline->model.is_object();
            if (gate)
                for (const auto& s : core::gate_stages(*pipeline))
                    if (std::find(opt.targets.begin(), opt.targets.end(), s) == opt.targets.end())
                        opt.targets.push_back(s);
        } else {
            opt.targets = targets_;
        }
        opt.jobs = jobs_;
        opt.force = force_;
        opt.dry_run = dry_run_;
        opt.keep_going = keep_going_;
        opt.run_cache = !no_run_cache_;
        opt.wait = !no_wait_;
        const bool quiet = ctx.g.quiet;
        const bool json = ctx.g.json;
        opt.on_wait = [quiet](long pid) {
            if (quiet) return;
            std::cerr << "mlo: waiting for another 'mlo repro'"
                      << (pid > 0 ? " (process " + std::to_string(pid) + ")" : std::string())
                      << " to finish\n";
        };
        // Stage output goes to stdout, prefixed; with --json, stdout is the JSON document, so
        // stage output goes to stderr.
        std::ostream& stage_out = json ? std::cerr : ctx.out();
        opt.on_output = [&stage_out, quiet](const std::string& stage, const std::string& line) {
            if (quiet) return;
            stage_out << '[' << stage << "] " << line << '\n' << std::flush;
        };
        opt.on_start = [&](const core::StageReport& r) {
            bool restoring = !r.reasons.empty() && r.reasons.back().rfind("restored from", 0) == 0;
            ctx.note(std::string(restoring ? "restoring " : "running ") + quote(r.stage) + ": " +
                     join(r.reasons));
        };
        opt.on_done = [&](const core::StageReport& r) {
            using core::StageResult;
            switch (r.result) {
                case StageResult::up_to_date:
                    if (!quiet && !json) ctx.out() << quote(r.stage) << " is up to date\n";
                    break;
                case StageResult::would_run:
                    if (!json)
                        ctx.out() << "would run " << quote(r.stage) << ": " << join(r.reasons)
                                  << '\n';
                    break;
                case StageResult::frozen:
                    if (!quiet && !json) ctx.out() << quote(r.stage) << " is frozen\n";
                    break;
                case StageResult::ran:
                case StageResult::restored:
                    if (!quiet && !json) {
                        char secs[32];
                        std::snprintf(secs, sizeof secs, "%.2f", r.seconds);
                        ctx.out() << (r.result == StageResult::ran ? "ran " : "restored ")
                                  << quote(r.stage) << " in " << secs << " s (run "
                                  << r.run_id.substr(0, 12) << ")\n";
                    }
                    break;
                case StageResult::failed:
                    std::cerr << "mlo: error: stage " << quote(r.stage) << " failed: " << r.error
                              << '\n';
                    break;
                case StageResult::skipped:
                    ctx.note("skipped " + quote(r.stage) + ": " + join(r.reasons));
                    break;
                case StageResult::interrupted:
                    ctx.note("interrupted " + quote(r.stage));
                    break;
            }
        };
        core::ReproResult res = core::repro(ctx.repo(), opt);
        std::optional<core::GateOutcome> outcome;
        if (gate && !res.failed && !dry_run_)
            outcome = core::apply_model_gate(ctx.repo(), *pipeline);
        if (outcome && !json) report_gate(ctx, *outcome);
        if (json) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& r : res.stages)
                list.push_back(report_json(r));
            nlohmann::json doc = {{"stages", list}, {"failed", res.failed}};
            if (gate) doc["model"] = outcome ? outcome->to_json() : nlohmann::json(nullptr);
            ctx.emit(doc);
        }
        if (res.failed) return 2;
        return outcome && !outcome->holds ? 1 : 0;
    }

    static void report_gate(Context& ctx, const core::GateOutcome& g) {
        if (!g.holds) {
            std::string why;
            for (const auto& f : g.failed)
                why += (why.empty() ? "" : "; ") + f;
            std::cerr << "mlo: gate not met for model " << quote(g.model) << ": " << why
                      << " (not registered)\n";
            return;
        }
        if (ctx.g.quiet) return;
        if (!g.gate.empty()) ctx.out() << "gate passed: " << g.gate << '\n';
        const core::ModelVersion& v = *g.registered;
        if (g.created) {
            ctx.out() << "registered " << v.name << " version " << v.version << " (object "
                      << short_hash(v.object) << ")\n";
        } else {
            ctx.out() << v.name << " version " << v.version << " already has this model\n";
        }
        if (!g.alias_set.empty())
            ctx.out() << v.name << "@" << g.alias_set << " -> version " << v.version << '\n';
    }

private:
    std::string role_;
    std::vector<std::string> targets_;
    unsigned jobs_ = 1;
    bool force_ = false, dry_run_ = false, keep_going_ = false, no_run_cache_ = false,
         no_wait_ = false, no_register_ = false;
};

}  // namespace

std::unique_ptr<Command> make_repro() {
    return std::make_unique<Repro>("");
}
std::unique_ptr<Command> make_train() {
    return std::make_unique<Repro>("train");
}
std::unique_ptr<Command> make_evaluate() {
    return std::make_unique<Repro>("evaluate");
}

}  // namespace mlo::cli
