#pragma once

// Experiments (issue 5): parameter sweeps run in isolated workspaces (`mlo exp run`), and
// applying an experiment's results to the user's workspace (`mlo exp apply`).
//
// An experiment is a run of kind `exp`: the pipeline (or the stages asked for) run once with
// some parameters overridden, in a private copy of the workspace under
// .mlo/tmp/exp/<run id>/ws, so that parallel experiments never write each other's files and the
// user's workspace, params.yaml and mlo.lock are never touched. Its stage runs name it as their
// parent; its own record holds the parameters of the stages it ran (after the overrides), their
// metrics, and the mlo.lock it ended with (as an object), from which `exp apply` restores the
// outputs.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline.hpp"
#include "core/query.hpp"
#include "core/repository.hpp"
#include "core/runs.hpp"

namespace mlo::core {

// One parameter set to one value.
struct Override {
    std::string file;   // parameter file, repository-relative ("params.yaml")
    std::string key;    // dotted key in it ("train.l2")
    std::string shown;  // as run parameters name it: "train.l2", or "other.yaml:train.l2"
    nlohmann::json value;
};
using Combination = std::vector<Override>;

// One `-S [STAGE_OR_FILE:]key=v1,v2,...`: the values to sweep for one parameter.
struct SweepParam {
    std::string file, key, shown;
    std::vector<nlohmann::json> values;  // each typed as YAML reads it (0.1 number, abc string)
};

// Parses a -S argument against the pipeline. Without a prefix the key is looked up in
// params.yaml, else among the parameters the stages use; a prefix naming a stage picks that
// stage's parameter whose key is `key` or ends in ".key"; another prefix is a parameter file.
// The key must exist in its file. Values are split at commas outside quotes and brackets.
// Throws Error "-S 'arg': why".
SweepParam parse_sweep_arg(const std::string& arg, const Pipeline& p, const Repository& repo);
// Every combination of the values (the cartesian product), the first parameter varying
// slowest. Two sweeps of the same parameter are an error.
std::vector<Combination> expand_sweep(const std::vector<SweepParam>& params);

// A parameter value from the command line, typed as YAML reads it: "0.1" is a number, "true"
// a boolean, "abc" and "'0.1'" strings.
nlohmann::json parse_param_value(const std::string& text);

// Sets the scalar at dotted `key` in YAML `text` to `value`, keeping everything else (comments,
// order, quoting elsewhere) byte for byte. `file` is for error messages. Throws Error when the
// key does not exist or is not a plain or quoted scalar.
std::string set_yaml_value(const std::string& text, const std::string& file, const std::string& key,
                           const nlohmann::json& value);

struct ExpReport {
    std::string id, name;
    Combination overrides;
    RunStatus status = RunStatus::running;
    std::string error;  // when failed: the first failed stage and why
    std::map<std::string, double> metrics;
    double seconds = 0;
};

struct ExpOptions {
    std::vector<std::string> targets;  // stages to run (empty: all)
    unsigned jobs = 1;                 // experiments at once
    std::string name;                  // base name ("" = generated per experiment)
    bool run_cache = true;
    // Output of a stage of an experiment; calls never overlap.
    std::function<void(const ExpReport&, const std::string& stage, const std::string& line)>
        on_output;
    std::function<void(const ExpReport&)> on_start;  // never overlap
    std::function<void(const ExpReport&)> on_done;   // never overlap
};

struct SweepResult {
    std::string sweep;            // the sweep id (also in each experiment's run record)
    std::vector<ExpReport> exps;  // in the order of the combinations
};

// Runs each combination as an experiment, `jobs` at a time. A failed experiment does not stop
// the others. Throws Interrupted after recording every experiment as interrupted and removing
// their workspaces.
SweepResult run_sweep(Repository& repo, const std::vector<Combination>& combos,
                      const ExpOptions& options);

// Removes leftover experiment workspaces whose experiment is no longer running (after a kill).
void remove_stale_workspaces(Repository& repo);

struct ApplyResult {
    std::vector<std::string> params_set;  // "train.l2 = 0.1" for each value written
    std::vector<std::string> restored;    // output paths restored
};
// Writes an experiment's parameter values into the parameter files, restores its outputs from
// the store and writes the mlo.lock it ended with. An output whose current content is not in
// the store would be lost: that is an error before anything changes unless `force`.
ApplyResult apply_experiment(Repository& repo, const Run& exp, bool force);

// ---- metrics and parameters of the workspace, a run or a revision --------------------------

// What `mlo metrics show/diff` and `mlo params diff` compare.
struct SourceValues {
    std::string label;  // "workspace", "run a3f09c2b (name)", "HEAD"
    std::map<std::string, double> metrics;
    std::map<std::string, nlohmann::json> params;  // as runs name them ("train.l2", "f.yaml:k")
};
// `ref` is "" or "workspace" (the metrics files and parameter values in the workspace), a run
// (id prefix or name; an experiment's values are its own), or a git revision: its mlo.lock's
// parameters and the metrics files the pipeline names, read from the store by the hash in that
// mlo.lock, else from git at that revision. A ref that is both a run and a revision is a run.
SourceValues values_of(Repository& repo, const std::string& ref);

// ---- querying runs (`exp list`, `exp rm --where`) ----------------------------------------------

// A run as `exp list` sees it: flat fields, loaded for thousands of runs at once.
struct RunRow {
    std::string id, name, kind, status, stage, sweep, parent, cmd, commit;
    int64_t started_ns = 0, ended_ns = 0;
    std::vector<std::pair<std::string, std::string>> params;  // key -> JSON text, by key
    std::vector<std::pair<std::string, double>> metrics;      // by key
    std::vector<std::pair<std::string, std::string>> tags;    // by key

    // "id", "name", "kind", "status", "stage", "sweep", "parent", "cmd", "commit", "started"
    // (ISO 8601 UTC text), "duration" (seconds), "params.K", "metrics.K", "tags.K";
    // missing (monostate) when the run has no such field.
    FieldValue field(const std::string& name) const;
    // A parameter's JSON text as recorded, or nullptr.
    const std::string* param_json(const std::string& key) const;
};

// Experiments and tracked commands (and with `stage_runs`, stage runs too), newest first;
// with `keep`, only the runs it accepts (it sees each run with all its details).
std::vector<RunRow> load_run_rows(Database& db, bool stage_runs,
                                  const std::function<bool(const RunRow&)>& keep = {});

// The shortest prefix of each id, at least `min_len` long, that no other id shares.
std::map<std::string, std::string> abbreviate_ids(const std::vector<std::string>& sorted_ids,
                                                  size_t min_len = 8);

}  // namespace mlo::core
