#pragma once

// mlo.yaml: the pipeline definition, parsed, interpolated and expanded (issue 3).
//
// Contract shared by the parser (pipeline.cpp, params.cpp), the DAG (dag.cpp), the executor
// (repro.cpp) and the run records (runs.cpp). Every error about the file throws mlo::Error
// whose message starts with "<file>:<line>:<column>: " (1-based; file relative to the
// repository root, e.g. "mlo.yaml:12:7: unknown key 'dpes' in stage 'train'").

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/repository.hpp"

namespace mlo::core {

inline constexpr const char* kPipelineFile = "mlo.yaml";
inline constexpr const char* kDefaultParamsFile = "params.yaml";

// A place in a YAML file, for error messages.
struct SourcePos {
    std::string file;  // repository-relative, e.g. "mlo.yaml"
    int line = 0;      // 1-based; 0 = unknown
    int column = 0;    // 1-based
    // "mlo.yaml:3:5" (or just the file when line is 0).
    std::string str() const;
};

struct DepSpec {
    std::string path;  // repository-relative, normalised ('/'-separated, no "./", no trailing /)
    SourcePos pos;
};

struct OutSpec {
    std::string path;      // repository-relative, normalised
    bool persist = false;  // not removed before the command runs
    bool cache = true;     // false: hashed into mlo.lock but not stored in the object store
    bool metric = false;   // listed under `metrics:` (also an output; parsed into the run record)
    SourcePos pos;
};

// `validate: {data: PATH, schema: PATH}` (or a list of such): before the stage runs, the CSV
// file must match the schema (core/validation.hpp), else the stage fails. Both paths are also
// dependencies of the stage (added to `deps` unless listed there).
struct ValidateSpec {
    std::string data;    // repository-relative, normalised
    std::string schema;  // repository-relative, normalised
    SourcePos pos;
};

// A parameter a stage depends on: listed under `params:` or used in a ${...} of the stage.
struct ParamRef {
    std::string file = kDefaultParamsFile;  // repository-relative parameter file
    std::string key;                        // dotted key, e.g. "train.l2"
    SourcePos pos;
};

struct Stage {
    std::string name;   // "train", or "train@small" for an expansion of foreach/matrix
    std::string group;  // the name as written in mlo.yaml ("train"); equals name if not expanded
    std::string cmd;    // after ${} interpolation; empty when `builtin` is set
    nlohmann::json builtin;  // the `builtin:` mapping after interpolation; null when `cmd` is set
    std::vector<DepSpec> deps;
    std::vector<ParamRef> params;  // sorted by (file, key), no duplicates
    std::vector<OutSpec> outs;     // `outs:` then `metrics:` entries, each marked
    std::vector<ValidateSpec> validate;
    std::string wdir;              // repository-relative directory the command runs in ("" = root)
    bool always_changed = false;
    bool frozen = false;
    std::string desc;
    std::string role;  // "train", "evaluate" or ""
    SourcePos pos;     // where the stage's name is written
};

struct Pipeline {
    std::vector<Stage> stages;  // in file order; expansions in foreach/matrix order
    // Resolved parameter values, by file then dotted key (only the keys stages use).
    std::map<std::string, std::map<std::string, nlohmann::json>> param_values;
    // Top-level sections for later issues, as written (null when absent).
    nlohmann::json model, deploy, monitor, retrain;

    const Stage* find(const std::string& name) const;
    // The values of `s.params`, flattened to {"train.l2": 0.1} (keys of files other than
    // params.yaml are written "file:key").
    nlohmann::json values_for(const Stage& s) const;
};

// Reads mlo.yaml (and params.yaml plus the files under `vars:`) at the repository root.
// Throws Error "<file>:<line>:<column>: <why>" for: a missing or unreadable mlo.yaml, YAML
// syntax errors, unknown keys, wrong types, a stage with both or neither of cmd/builtin, an
// undefined ${...}, a path outside the repository, a bad foreach/matrix.
Pipeline load_pipeline(const Repository& repo);

// Same, from text (for unit tests); `params` maps a repository-relative file name to its text
// (a file missing from the map is treated as absent).
Pipeline parse_pipeline(const std::string& text, const std::map<std::string, std::string>& params,
                        const std::string& file = kPipelineFile);

}  // namespace mlo::core
