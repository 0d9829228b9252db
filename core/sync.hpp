#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/gc.hpp"
#include "core/meta_sync.hpp"
#include "core/progress.hpp"
#include "core/repository.hpp"
#include "storage/remote.hpp"

namespace mlo::core {

// Push, fetch and what is not pushed, through a remote with the store's layout:
//
//   objects/ab/cdef…   the objects, named by their SHA-256 as in .mlo/objects/
//   meta/…             run and registry records (core/meta_sync.hpp)
//
// What the remote lacks is found by listing (one listing per object shard that matters, in
// parallel), never by asking for objects one at a time; what this side lacks is fetched with
// one GET per object, whose 404 says the remote lacks it too. Transfers run in parallel. A
// downloaded object enters the store only if its bytes hash to its name; a mismatch is
// downloaded again, and after three mismatches reported and never stored. Objects go up
// before the records that name them, and a directory's files before its manifest, so a
// teammate never fetches a record whose data is not there yet.

struct SyncOptions {
    // Tracked paths (as `mlo checkout` takes them). Empty: everything the workspace refers to
    // (pointer files, mlo.lock, experiments, the registry; core/references.hpp).
    std::vector<std::string> paths;
    bool all = false;   // push: every object in the store; fetch: every object on the remote
    unsigned jobs = 0;  // parallel transfers; 0: the remote's default
    bool meta = true;   // run and registry records too (only without paths)
    Progress* progress = nullptr;
    // Names the remote in the local index of what it holds (mlo.db's remote_objects): objects
    // pushed there, fetched from there or seen in its listings. Push lists only the shards of
    // objects the index does not know. Empty: no index.
    std::string index_id;
    // Push: forget the index and list every shard that matters (after someone else's
    // `gc --remote`, which this repository cannot know of).
    bool refresh = false;
};

struct SyncResult {
    uint64_t objects = 0;  // transferred
    uint64_t bytes = 0;
    uint64_t present = 0;  // needed but already on the receiving side
    uint64_t records = 0;  // meta records transferred
    MetaMerge merge;       // fetch: what the records added
    // Needed but missing on the sending side: "path (object)" for people.
    std::vector<std::string> missing;
    // fetch: objects whose every download failed verification (nothing stored).
    std::vector<std::string> corrupt;
};

SyncResult push(Repository& repo, Remote& remote, const SyncOptions& options);
SyncResult fetch(Repository& repo, Remote& remote, const SyncOptions& options);

struct Unpushed {
    std::string path;    // where the workspace uses it
    std::string object;  // hex
};
// The objects the selection refers to that the remote lacks (`mlo status --remote`); only those
// in the local store (what push could send).
std::vector<Unpushed> unpushed(Repository& repo, Remote& remote,
                               const std::vector<std::string>& paths, unsigned jobs);

struct RemoteGcResult {
    std::vector<std::string> removed;  // object ids (or would be, with DryRun::yes)
    uint64_t bytes = 0;
    uint64_t kept = 0;
};
// Removes from the remote every object that nothing here references (the same references as
// `mlo gc`, with every git commit under AllCommits::yes). Refuses when the remote holds run or
// registry records this database has not fetched: the model versions they name are kept only
// once they are known here.
RemoteGcResult gc_remote(Repository& repo, Remote& remote, DryRun dry, AllCommits all_commits,
                         unsigned jobs, const std::string& index_id = "");

// What identifies a remote in the index: its URL and, for S3, the endpoint.
std::string remote_index_id(const RemoteSpec& spec);

}  // namespace mlo::core
