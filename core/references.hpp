#pragma once

#include <cstdint>
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
    // With AllCommits::yes: the commits walked, and pointer or lock files in them that did not
    // parse (every sha256 id written in them is kept anyway).
    uint64_t commits = 0;
    std::vector<std::string> warnings;
};

// AllCommits::yes also keeps what every pointer file and mlo.lock of every commit reachable
// from a git ref or HEAD names (git_revs.hpp), with the files of each directory whose manifest
// is in the store. A historical directory whose manifest is not in the store keeps only the
// manifest's id: unlike the workspace's, it does not stop gc (an old commit's data is often
// not fetched at all). Throws Error outside a git repository.
enum class AllCommits { no, yes };

References collect_references(Repository& repo, const std::vector<Pointer>& pointers,
                              AllCommits all_commits = AllCommits::no);

}  // namespace mlo::core
