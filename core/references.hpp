#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/pointer.hpp"
#include "core/repository.hpp"

namespace mlo::core {

// The objects the workspace keeps alive: each pointer file's object and, for a directory,
// every file its manifest names; and the same for every dependency and output recorded in
// mlo.lock; and every version in the model registry (named "churn:3"). Maps object id (hex) to
// one path (or model version) that uses it.
struct References {
    std::map<std::string, std::string> objects;
    // Directory pointers whose manifest is not in the store: what they reference is unknown.
    std::vector<const Pointer*> unknown;
};

References collect_references(Repository& repo, const std::vector<Pointer>& pointers);

}  // namespace mlo::core
