#pragma once

#include <string>

#include "core/repository.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

// The SHA-256 of a workspace file: from the stat cache when the entry can be trusted, otherwise
// by reading the file (and then remembered). `rel` is the repository-relative path, `st` the
// file's current stat, `started_ns` when the command began (for the racy-git guard).
Digest workspace_digest(Repository& repo, const std::string& rel, const fs::path& abs,
                        const FileStat& st, int64_t started_ns);

// stat(2) following links, as FileStat; false if the path does not exist.
bool stat_path(const fs::path& p, FileStat& out, bool* is_dir = nullptr);

}  // namespace mlo::core
