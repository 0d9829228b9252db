#pragma once

// Tracked data as git revisions record it (issue 8): the pointer files and mlo.lock of any
// commit, read with libgit2 from git's object database. Neither the git work tree nor its
// index is read or written, so this works on any revision without checking it out.
//
// The mlo repository may be a subdirectory of the git work tree; paths here are always
// relative to the mlo repository, as in the workspace.

#include <optional>
#include <string>
#include <vector>

#include "core/compare.hpp"
#include "core/lockfile.hpp"
#include "core/pointer.hpp"
#include "core/repository.hpp"
#include "core/workspace.hpp"

namespace mlo::core {

// What one revision records for the mlo repository.
struct Revision {
    std::string rev;     // as the user wrote it
    std::string commit;  // 40 hex digits
    // Sorted by tracked path. `file` is where the pointer file would be in the workspace, so
    // data_path() names the workspace file that checking out this revision writes.
    std::vector<Pointer> pointers;
    LockFile lock;  // empty when the revision has no mlo.lock
};

// The commit `rev` names (anything `git rev-parse` accepts: branch, tag, HEAD~2, abbreviated
// id), as 40 hex digits; nullopt when it names no commit. Throws Error when the repository is
// not inside a git repository.
std::optional<std::string> resolve_commit(const Repository& repo, const std::string& rev);

// Reads every pointer file and mlo.lock at `rev` with the workspace's parsers: an invalid
// pointer file is an error naming '<rev>:<path>' and the line. Pointer files are found as in
// the workspace (not inside .mlo/ or inside a tracked directory; regular files only).
Revision read_revision(const Repository& repo, const std::string& rev);

// An object some commit's pointer file or mlo.lock names.
struct HistoryObject {
    enum class Kind { file, dir, unknown };  // unknown: read from a file that did not parse
    std::string id;                          // 64 hex digits
    Kind kind = Kind::file;
    std::string where;  // "data/x.csv at 1a2b3c4d" (the first commit seen naming it)
};

struct HistoryReferences {
    std::vector<HistoryObject> objects;  // each id once
    uint64_t commits = 0;                // commits walked
    // Pointer or lock files that did not parse ('<commit>:<path>: why'); every sha256 id
    // written in them is kept anyway, as kind unknown.
    std::vector<std::string> warnings;
};

// Every object named by a pointer file or mlo.lock in any commit reachable from any ref
// (branches, tags, remote-tracking refs, stash, notes), HEAD, and the HEAD of every linked
// worktree. Trees are visited once per tree id and blobs parsed once per blob id, so commits
// that share most of their tree cost little. Throws Error outside a git repository.
HistoryReferences history_references(const Repository& repo);

// What changed from `before` to `after` (two sets of pointer files, e.g. a revision's and the
// workspace's): a path tracked only before is deleted, only after added, in both with another
// digest modified. Directories are compared file by file when the manifests involved are in
// the store, else as a whole. Sorted by path; every digest is filled in.
std::vector<FileChange> compare_pointers(Repository& repo, const std::vector<Selection>& before,
                                         const std::vector<Selection>& after);

}  // namespace mlo::core
