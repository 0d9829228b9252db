#pragma once

// Content of a workspace path as the pipeline sees it (issue 3): the digest of a dependency,
// the committed outputs of a stage, and outputs restored from the store by the run cache.

#include <cstdint>
#include <string>

#include "core/repository.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

struct Snapshot {
    bool exists = false;
    Digest digest{};  // of the file, or of the directory's manifest
    uint64_t size = 0;
    bool is_dir = false;
    uint64_t files = 0;  // for a directory
};

enum class SnapshotMode {
    hash,   // compute the digest (stat cache first); write nothing to the store
    store,  // also store every file and the manifest in the object store
};

// Hashes or stores the file or directory at repository-relative `rel`. A path that does not
// exist gives exists = false (then, in hash mode, a pointer file `rel.mlo` is used if present,
// so a fresh clone that has not checked out its data still knows its dependencies' hashes).
// Symbolic links are followed when they stay inside the repository (as `add` does).
Snapshot snapshot_path(Repository& repo, const std::string& rel, SnapshotMode mode,
                       int64_t started_ns);

// Replaces whatever is at `rel` with the stored content `s` (a file, or a directory with every
// file of its manifest), using the repository's link strategies. Throws Error if an object is
// missing from the store, before changing anything.
void restore_path(Repository& repo, const std::string& rel, const Snapshot& s);

// True if the object (and, for a directory, its manifest and every file) is in the store.
bool snapshot_in_store(Repository& repo, const Snapshot& s);

}  // namespace mlo::core
