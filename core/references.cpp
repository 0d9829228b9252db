#include "core/references.hpp"

#include "core/git_revs.hpp"
#include "core/lockfile.hpp"
#include "core/monitor.hpp"
#include "core/registry.hpp"
#include "storage/error.hpp"
#include "storage/manifest.hpp"

namespace mlo::core {

References collect_references(Repository& repo, const std::vector<Pointer>& pointers,
                              AllCommits all_commits) {
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
    auto keep_lock = [&](const LockFile& lock, const std::string& prefix) {
        for (const auto& [stage, entry] : lock.stages) {
            for (const auto* list : {&entry.deps, &entry.outs}) {
                for (const auto& lp : *list) {
                    refs.objects.emplace(to_hex(lp.snap.digest), prefix + lp.path);
                    if (!lp.snap.is_dir) continue;
                    std::string text;
                    if (!read_file_if_exists(repo.store().path_of(lp.snap.digest), text)) continue;
                    Manifest m = Manifest::parse(text, to_hex(lp.snap.digest));
                    for (const auto& e : m.entries())
                        refs.objects.emplace(to_hex(e.digest), prefix + lp.path + "/" + e.path);
                }
            }
        }
    };
    keep_lock(LockFile::load(repo), "");
    // Every recorded experiment keeps the mlo.lock it ended with and what that names, so that
    // `exp apply` works after a gc; `exp rm` releases them.
    {
        Database::Statement q(repo.db(),
                              "SELECT name, lock_object FROM runs "
                              "WHERE kind = 'exp' AND lock_object IS NOT NULL");
        while (q.step()) {
            std::string name = "experiment " + q.column_text(0) + ": ";
            Digest d = q.column_digest(1);
            refs.objects.emplace(to_hex(d), name + "mlo.lock");
            std::string text;
            if (!read_file_if_exists(repo.store().path_of(d), text)) continue;
            try {
                keep_lock(LockFile::parse(text, name + "mlo.lock"), name);
            } catch (const Error&) {
                // Not parseable: it keeps only itself (fsck judges objects, not gc).
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
    // Reference profiles stay while monitor_profiles names them (they are recomputed if lost,
    // but computing one reads the whole reference).
    for (const Digest& d : profile_objects(repo.db()))
        refs.objects.emplace(to_hex(d), "monitor profile");
    if (all_commits == AllCommits::yes) {
        HistoryReferences history = history_references(repo);
        refs.commits = history.commits;
        refs.warnings = std::move(history.warnings);
        for (const HistoryObject& o : history.objects) {
            refs.objects.emplace(o.id, o.where);
            if (o.kind == HistoryObject::Kind::file) continue;
            std::optional<Digest> d = digest_from_hex(o.id);
            std::string text;
            if (!d || !read_file_if_exists(repo.store().path_of(*d), text)) continue;
            // An id read from a file that did not parse may name a directory: its object
            // says so.
            if (o.kind == HistoryObject::Kind::unknown && text.rfind("mlo-manifest 1\n", 0) != 0)
                continue;
            Manifest m = Manifest::parse(text, o.id);
            for (const auto& e : m.entries())
                refs.objects.emplace(to_hex(e.digest), o.where + ": " + e.path);
        }
    }
    return refs;
}

}  // namespace mlo::core
