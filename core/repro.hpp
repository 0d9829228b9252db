#pragma once

// The pipeline executor (issue 3): `mlo repro`, `mlo train`, `mlo evaluate`, and the stage
// states `mlo status` shows. Runs stale stages like make, independent ones in parallel, records
// every execution as a run and reuses earlier results through the run cache.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/pipeline.hpp"
#include "core/repository.hpp"

namespace mlo::core {

enum class StageResult {
    up_to_date,   // nothing changed since mlo.lock
    ran,          // the command ran and succeeded
    restored,     // outputs restored from the run cache, the command did not run
    failed,       // the command failed, or its outputs were missing afterwards
    skipped,      // an upstream stage failed (or the pipeline stopped)
    interrupted,  // stopped by a signal while running
    would_run,    // --dry-run: would run (see reasons)
    frozen,       // `frozen: true`: never run
};
const char* stage_result_name(StageResult r);

struct StageReport {
    std::string stage;
    StageResult result = StageResult::skipped;
    std::vector<std::string> reasons;  // why it ran / would run ("parameter 'train.l2' changed")
    std::string run_id;                // the run recorded for it, if any
    std::optional<int> exit_code;
    std::string error;  // for failed: what went wrong
    double seconds = 0;
};

struct ReproOptions {
    std::vector<std::string> targets;  // stage names (a foreach group name means all of it)
    unsigned jobs = 1;
    bool force = false;  // run the selected stages even if up to date (not the run cache)
    bool dry_run = false;
    bool keep_going = false;
    bool run_cache = true;
    bool wait = true;        // wait for another repro in this repository; false: fail at once
    std::string parent_run;  // the experiment the stage runs belong to ("" for none)
    std::function<void(long holder_pid)> on_wait;
    // Each line a stage prints (stdout and stderr merged). Calls never overlap.
    std::function<void(const std::string& stage, const std::string& line)> on_output;
    // A stage starts executing (after the up-to-date check), or has finished. Never overlap.
    std::function<void(const StageReport&)> on_start;
    std::function<void(const StageReport&)> on_done;
};

struct ReproResult {
    std::vector<StageReport> stages;  // in the order they finished
    bool failed = false;
};

// Runs the pipeline. Throws Error for a bad mlo.yaml or DAG (before anything runs) and
// Interrupted (after recording the interrupted runs) when a signal arrives.
ReproResult repro(Repository& repo, const ReproOptions& options);

// The state of every stage without running anything: up_to_date, would_run (with reasons) or
// frozen. Upstream stages that would run make their dependants would_run too.
std::vector<StageReport> pipeline_status(Repository& repo);

// The stages `mlo train` / `mlo evaluate` run: the stage (or foreach group) named `role`, or
// the stages marked `role: <role>`, or else the built-in learner (train) or evaluation
// (evaluate) stages. Throws Error when there is none.
std::vector<std::string> stages_with_role(const Pipeline& p, const std::string& role);

}  // namespace mlo::core
