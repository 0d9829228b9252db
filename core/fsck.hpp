#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "core/repository.hpp"

namespace mlo::core {

struct FsckResult {
    struct Corrupt {
        std::string name;    // the object id it was stored under
        std::string actual;  // the SHA-256 of its bytes
        fs::path moved_to;   // in .mlo/quarantine/
    };
    struct Missing {
        std::string id;
        std::string used_by;  // a repository-relative path that needs it
    };
    uint64_t checked = 0;
    std::vector<Corrupt> corrupt;
    std::vector<Missing> missing;
    std::vector<std::string> stray;  // files in the store that are not objects
    bool ok() const { return corrupt.empty() && missing.empty(); }
};

// Re-hashes every object; moves those whose bytes do not match their name to .mlo/quarantine/;
// reports objects that pointer files need but the store lacks.
FsckResult fsck(Repository& repo, Progress* progress, const std::function<void(long)>& on_wait);

}  // namespace mlo::core
