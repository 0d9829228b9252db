#pragma once

// What `mlo train` does after the pipeline ran (issue 4): the model named in mlo.yaml's
// `model:` section is registered when its `gate` holds over the evaluation metrics.
//
//   model: {name: churn, path: models/churn.json, gate: "accuracy >= 0.80", alias: champion}
//
// - The metrics are those of the stages `mlo evaluate` would run (their `metrics:` files, as
//   the last run wrote them), flattened ("f1.yes"). A gate naming a metric they do not have is
//   an error (exit 2), not a failed gate.
// - No gate: the model is registered whenever training succeeds.
// - The registered object is the one mlo.lock records for `path`; its run is the newest run
//   that wrote it. Registering the same object again is a no-op.
// - A model's first version that passes the gate also gets `alias` (default "champion") when
//   no version holds it yet; later versions are only registered: promoting them is a decision
//   (`mlo model promote`, or the retrain policy).

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline.hpp"
#include "core/registry.hpp"
#include "core/repository.hpp"

namespace mlo::core {

struct GateOutcome {
    std::string model;  // the model's name
    std::string gate;   // the expression ("" = none)
    bool holds = true;
    std::vector<std::string> failed;         // comparisons that did not hold, with values
    std::map<std::string, double> metrics;   // what the gate saw
    std::optional<ModelVersion> registered;  // set when it holds
    bool created = false;                    // a new version (false: already registered)
    std::string alias_set;                   // the alias given to it ("" = none)

    nlohmann::json to_json() const;
};

// The stages whose metrics the gate reads (the evaluate stages), or empty when `p` has no
// `model:` gate.
std::vector<std::string> gate_stages(const Pipeline& p);

// Applies the gate of `p.model` and registers the model when it holds. Throws Error when `p` has
// no `model:` section, `path` is not an output in mlo.lock, a metrics file is missing, or the
// gate names an unknown metric.
GateOutcome apply_model_gate(Repository& repo, const Pipeline& p);

}  // namespace mlo::core
