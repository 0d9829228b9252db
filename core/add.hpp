#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/pointer.hpp"
#include "core/progress.hpp"
#include "core/repository.hpp"

namespace mlo::core {

struct AddedItem {
    Pointer ptr;
    uint64_t new_objects = 0;  // objects this add wrote to the store
    bool changed = false;      // the pointer file is new or now names other content
    bool gitignore_changed = false;
};

struct AddOptions {
    std::function<void(long holder_pid)> on_wait;  // told if another mlo holds the workspace
    Progress* progress = nullptr;
};

// Stores files and directories and writes their pointer files and .gitignore entries.
// Every path is checked before anything is written; objects are written (and flushed, unless
// core.fsync is off) before any pointer file names them, so a failure or interrupt leaves the
// pointer files, .gitignore files and database as they were.
std::vector<AddedItem> add_paths(Repository& repo, const std::vector<std::string>& args,
                                 const AddOptions& options);

}  // namespace mlo::core
