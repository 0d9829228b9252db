#pragma once

// mlo.lock (issue 3): the resolved state of each stage after it last succeeded, written by mlo
// and committed to git. A stage is up to date when its command, parameter values, dependency
// hashes and output hashes equal what the lock says.
//
//   schema: mlo-lock 1
//   stages:
//     train:
//       cmd: awk -f train.awk data/train.csv > models/model.txt
//       deps:
//         - path: data/train.csv
//           hash: sha256:<64 hex>
//           size: 1234
//       params:
//         params.yaml:
//           train.l2: 0.1
//       outs:
//         - path: models/model.txt
//           hash: sha256:<64 hex>
//           size: 321
//           (kind: dir and files: N for directories)

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/repository.hpp"
#include "core/snapshot.hpp"
#include "storage/atomic_file.hpp"

namespace mlo::core {

inline constexpr const char* kLockFile = "mlo.lock";

struct LockedPath {
    std::string path;
    Snapshot snap;
};

struct LockEntry {
    std::string cmd;
    std::vector<LockedPath> deps;
    std::map<std::string, std::map<std::string, nlohmann::json>> params;  // file -> key -> value
    std::vector<LockedPath> outs;
};

struct LockFile {
    std::map<std::string, LockEntry> stages;

    // A missing file is an empty lock. Errors name mlo.lock, line and column.
    static LockFile load(const Repository& repo);
    static LockFile parse(const std::string& text, const std::string& shown);
    std::string serialize() const;
    // Writes atomically (temporary file and rename); `sync` also flushes it to disk.
    void save(const Repository& repo, Sync sync) const;
};

}  // namespace mlo::core
