#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "core/repository.hpp"
#include "core/workspace.hpp"

namespace mlo::core {

enum class ChangeKind { modified, added, deleted };
const char* change_name(ChangeKind k);

struct FileChange {
    std::string path;  // repository-relative
    ChangeKind kind = ChangeKind::modified;
    // What the pointer says (modified, deleted) and what the workspace has (modified, added).
    // Digests are filled where they were computed; with Detail::digests always.
    std::optional<Digest> old_digest, new_digest;
    uint64_t old_size = 0, new_size = 0;
    bool old_executable = false, new_executable = false;
};

struct TrackedState {
    Selection sel;
    std::vector<FileChange> changes;
    // The directory's manifest is not in the store (e.g. a fresh clone before pull): changes can
    // only be seen for the directory as a whole.
    bool manifest_missing = false;
    bool clean() const { return changes.empty(); }
};

// changes_only: stop at the cheapest evidence (a size change needs no hash).
// digests: compute the new content's hash of every changed file (for `diff`).
enum class Detail { changes_only, digests };

// Compares the workspace with what the pointer files say, file by file, using the stat cache
// so that unchanged files are not read.
std::vector<TrackedState> compare_workspace(Repository& repo, const std::vector<Selection>& sels,
                                            Detail detail, Progress* progress);

}  // namespace mlo::core
