#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/repository.hpp"

namespace mlo::core {

enum class DryRun { no, yes };

struct GcResult {
    std::vector<std::string> removed;  // object ids (or would be, with DryRun::yes)
    uint64_t bytes = 0;
    uint64_t kept = 0;
    uint64_t temporaries = 0;  // leftovers of interrupted writes, removed
};

// Removes objects that no pointer file in the workspace references. Refuses to run when a
// directory pointer's manifest is missing, since then it cannot know what that pointer needs.
GcResult gc(Repository& repo, DryRun dry, const std::function<void(long)>& on_wait);

}  // namespace mlo::core
