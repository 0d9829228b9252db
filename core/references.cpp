#include "core/references.hpp"

#include "core/lockfile.hpp"
#include "core/registry.hpp"
#include "storage/manifest.hpp"

namespace mlo::core {

References collect_references(Repository& repo, const std::vector<Pointer>& pointers) {
    References refs;
    for (const auto& p : pointers) {
        refs.objects.emplace(to_hex(p.digest), p.rel);
        if (!p.is_dir) continue;
        std::string text;
        if (!read_file_if_exists(repo.store().path_of(p.digest), text)) {
            refs.unknown.push_back(&p);
            continue;
        }
        Manifest m = Manifest::parse(text, to_hex(p.digest));
        for (const auto& e : m.entries())
            refs.objects.emplace(to_hex(e.digest), p.rel + "/" + e.path);
    }
    // mlo.lock keeps the current version of every stage's outputs and dependencies, as a
    // pointer file would. (A cache: false output was never stored; nothing to keep then.)
    LockFile lock = LockFile::load(repo);
    for (const auto& [stage, entry] : lock.stages) {
        for (const auto* list : {&entry.deps, &entry.outs}) {
            for (const auto& lp : *list) {
                refs.objects.emplace(to_hex(lp.snap.digest), lp.path);
                if (!lp.snap.is_dir) continue;
                std::string text;
                if (!read_file_if_exists(repo.store().path_of(lp.snap.digest), text)) continue;
                Manifest m = Manifest::parse(text, to_hex(lp.snap.digest));
                for (const auto& e : m.entries())
                    refs.objects.emplace(to_hex(e.digest), lp.path + "/" + e.path);
            }
        }
    }
    // Every registered model version stays, pointer or not: the registry is what `deploy` and
    // `rollback` restore from. A directory version whose manifest is missing is skipped as in
    // mlo.lock (its files cannot be named; fsck reports the manifest as missing).
    Registry registry(repo.db());
    for (const ModelVersion& v : registry.all_versions()) {
        std::string ref = v.name + ":" + std::to_string(v.version);
        refs.objects.emplace(to_hex(v.object), ref);
        if (!v.is_dir) continue;
        std::string text;
        if (!read_file_if_exists(repo.store().path_of(v.object), text)) continue;
        Manifest m = Manifest::parse(text, to_hex(v.object));
        for (const auto& e : m.entries())
            refs.objects.emplace(to_hex(e.digest), ref + "/" + e.path);
    }
    return refs;
}

}  // namespace mlo::core
