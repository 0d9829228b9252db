#pragma once

// Built-in stages: a stage's `builtin:` mapping instead of `cmd:` (issue 4).
//
//   train:
//     builtin: {learner: logistic_regression, data: data/train.csv, target: churned,
//               features: [...], l2: 1.0, max_iter: 1000, tol: 1e-8, class_weight: balanced,
//               seed: 0}
//     params: [train.l2]          # a parameter named like an option (last key component)
//     outs: [models/churn.json]   #   sets it unless the mapping does
//   evaluate:
//     builtin: {evaluate: models/churn.json, data: data/test.csv}
//     metrics: [metrics.json]
//
// A learner stage writes its model file to its one `outs:` entry; an evaluate stage writes its
// metrics to its one `metrics:` entry. `data` and `evaluate` are dependencies of the stage
// without being listed under `deps:`. Paths are relative to the stage's `wdir`.
//
// repro runs a built-in stage like any other, in a child process (`mlo __builtin JOB`), so it
// streams its output, runs in parallel with -j, is interrupted with its process group and is
// recorded as a run the same way.

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/learner.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

struct Stage;
struct Pipeline;
struct LockedPath;
class Repository;

// Checks a `builtin:` mapping as written. Returns {key, why} for the first problem (key "" =
// the mapping itself), nullopt when it is valid.
std::optional<std::pair<std::string, std::string>> check_builtin_spec(const nlohmann::json& spec);

// Whether the spec is a learner ("learner" key) or an evaluation ("evaluate" key).
bool is_learner_spec(const nlohmann::json& spec);

// TrainOptions from the effective options (the mapping plus parameters); throws Error
// "<what>: 'l2' must be a positive number, not "x"".
TrainOptions train_options_from(const nlohmann::json& opts, const std::string& what);

// The job document for the child process: absolute paths, effective options, the training
// data's object id (from `deps`, the hashes repro just computed).
nlohmann::json builtin_job(const Repository& repo, const Pipeline& p, const Stage& s,
                           const std::vector<LockedPath>& deps);
// The shell command that runs the job: '<this mlo>' __builtin '<json>'.
std::string builtin_command_line(const nlohmann::json& job);
// A string as one word for /bin/sh: in single quotes, each embedded quote as '\''.
std::string shell_quote(const std::string& s);

// Runs a job (in the child): trains and writes the model file atomically, or evaluates and
// writes the metrics file atomically. Progress lines go to `out`. Throws Error.
void run_builtin_job(const nlohmann::json& job, std::ostream& out);

// Evaluates `model` on `table` and returns the flat metrics document (core/metrics.hpp's
// to_json, plus "rows").
nlohmann::json evaluate_model(const Model& model, const Table& table, const std::string& shown);

// Where a model named on the command line is: a file path (which wins when it exists) or a
// registry reference (NAME, NAME:VERSION, NAME@ALIAS; needs `repo`).
struct ModelSource {
    fs::path file;      // the model file (an object in the store for a reference)
    std::string shown;  // for messages: the path as given, or "churn:3"
    std::string name;   // registry name and version, when from a reference
    int64_t version = 0;
};
// Throws Error for a missing file that is not a reference, an unknown model/version/alias, a
// version whose object is a directory or not in the store.
ModelSource locate_model(const std::string& arg, Repository* repo);

}  // namespace mlo::core
