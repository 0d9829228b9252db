#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/references.hpp"
#include "core/repository.hpp"

namespace mlo::core {

enum class DryRun { no, yes };

struct GcResult {
    std::vector<std::string> removed;  // object ids (or would be, with DryRun::yes)
    uint64_t bytes = 0;
    uint64_t kept = 0;
    uint64_t temporaries = 0;  // leftovers of interrupted writes, removed
    uint64_t commits = 0;      // with AllCommits::yes: git commits whose references were kept
    std::vector<std::string> warnings;  // pointer or lock files in commits that did not parse
};

// Removes objects that nothing references (collect_references: the workspace's pointer files,
// mlo.lock, experiments, the registry, monitor profiles and, with AllCommits::yes, every git
// commit). Refuses to run when a workspace directory pointer's manifest is missing, since then
// it cannot know what that pointer needs.
GcResult gc(Repository& repo, DryRun dry, const std::function<void(long)>& on_wait,
            AllCommits all_commits = AllCommits::no);

}  // namespace mlo::core
