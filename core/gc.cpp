#include "core/gc.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include "core/references.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"

namespace mlo::core {

GcResult gc(Repository& repo, DryRun dry, const std::function<void(long)>& on_wait,
            AllCommits all_commits) {
    // Holding the workspace lock keeps `add` from writing an object that no pointer names yet.
    auto lock = repo.lock_workspace(on_wait);
    std::vector<Pointer> pointers = find_pointers(repo);
    References refs = collect_references(repo, pointers, all_commits);
    if (!refs.unknown.empty()) {
        const Pointer* p = refs.unknown.front();
        throw Error("cannot collect garbage: the manifest of " + quote(p->rel) + " (" +
                    to_hex(p->digest) + ") is not in the store, so what it references is unknown");
    }
    GcResult result;
    result.commits = refs.commits;
    result.warnings = std::move(refs.warnings);
    repo.store().list([&](const ObjectStore::Listed& l) {
        if (l.temporary) {
            result.temporaries++;
            if (dry == DryRun::no) ::unlink(l.path.c_str());
            return;
        }
        if (!l.digest) return;  // not ours to judge; fsck reports it
        std::string hex = to_hex(*l.digest);
        if (refs.objects.count(hex)) {
            result.kept++;
            return;
        }
        struct stat st {};
        if (::stat(l.path.c_str(), &st) == 0) result.bytes += uint64_t(st.st_size);
        if (dry == DryRun::no && ::unlink(l.path.c_str()) != 0 && errno != ENOENT) {
            throw_errno("cannot remove object " + quote(l.path));
        }
        result.removed.push_back(hex);
    });
    return result;
}

}  // namespace mlo::core
