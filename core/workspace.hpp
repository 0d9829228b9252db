#pragma once

#include <string>
#include <vector>

#include "core/pointer.hpp"
#include "core/repository.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

struct ScanEntry {
    std::string path;  // relative to the scanned directory, '/'-separated
    FileStat st;
};

enum class NestedPointers { allowed, error };

// Lists the regular files below `dir`, sorted by path, walking directories on `jobs` threads.
// A symbolic link counts as the file it points to when that file is inside `root`; a link
// leading outside `root`, or to a directory, is an error, and so is any other file type.
// Leftover temporary files of an interrupted mlo are skipped.
std::vector<ScanEntry> scan_tree(const fs::path& dir, const fs::path& root, unsigned jobs,
                                 NestedPointers nested);

// Every pointer file in the workspace, sorted by tracked path. Tracked directories, .git and
// .mlo are not walked into.
std::vector<Pointer> find_pointers(const Repository& repo);

// A tracked path selected by the user, possibly narrowed to a part of a tracked directory.
struct Selection {
    Pointer ptr;
    std::string sub;  // relative to the tracked directory; "" selects all of it
    bool covers(std::string_view entry_path) const {
        return sub.empty() || entry_path == sub ||
               (entry_path.size() > sub.size() && entry_path.compare(0, sub.size(), sub) == 0 &&
                entry_path[sub.size()] == '/');
    }
};

// Maps command-line paths (a pointer file, tracked data, a directory holding tracked data, or a
// path inside a tracked directory) to selections; no paths selects everything. A path that
// selects nothing is an error.
std::vector<Selection> select_tracked(Repository& repo, const std::vector<std::string>& args);
// Maps command-line paths to selections among `all` (as select_tracked does among the
// workspace's pointers). With `matched`, an argument that selects nothing is recorded there as
// false instead of being an error.
std::vector<Selection> select_pointers(const Repository& repo, const std::vector<Pointer>& all,
                                       const std::vector<std::string>& args,
                                       std::vector<bool>* matched = nullptr);

}  // namespace mlo::core
