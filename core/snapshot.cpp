#include "core/snapshot.hpp"

#include <algorithm>
#include <set>

#include "core/hashing.hpp"
#include "core/pointer.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/link.hpp"
#include "storage/manifest.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

// One file's digest: from the stat cache or by hashing (hash mode), or by storing it.
Digest file_digest(Repository& repo, const std::string& rel, const fs::path& abs,
                   const FileStat& st, SnapshotMode mode, int64_t started, uint64_t* size) {
    *size = st.size;
    if (mode == SnapshotMode::hash) return workspace_digest(repo, rel, abs, st, started);
    StatCache& cache = repo.stat_cache();
    if (auto known = cache.lookup(rel, st); known && repo.store().contains(*known)) return *known;
    Fd fd = open_read(abs);
    ObjectStore::Put put = repo.store().put_fd(fd.get(), st.size, abs.string(), Reflink::no);
    *size = put.size;
    if (put.size == st.size) cache.record(rel, st, put.digest, started);
    return put.digest;
}

}  // namespace

Snapshot snapshot_path(Repository& repo, const std::string& rel, SnapshotMode mode,
                       int64_t started_ns) {
    Snapshot s;
    const fs::path abs = repo.abs(rel);
    FileStat st;
    bool is_dir = false;
    if (!stat_path(abs, st, &is_dir)) {
        if (mode == SnapshotMode::hash) {
            fs::path ptr = pointer_file_for(abs);
            std::error_code ec;
            if (fs::exists(ptr, ec)) {
                Pointer p = read_pointer(ptr, rel, repo.rel(ptr));
                s.exists = true;
                s.digest = p.digest;
                s.size = p.size;
                s.is_dir = p.is_dir;
                s.files = p.files;
            }
        }
        return s;
    }
    s.exists = true;
    if (!is_dir) {
        s.digest = file_digest(repo, rel, abs, st, mode, started_ns, &s.size);
        return s;
    }
    s.is_dir = true;
    repo.stat_cache().load_dir(rel);
    std::vector<ScanEntry> files =
        scan_tree(abs, repo.root(), repo.jobs(), NestedPointers::allowed);
    std::vector<ManifestEntry> entries(files.size());
    parallel_for(files.size(), repo.jobs(), [&](size_t i) {
        entries[i].path = files[i].path;
        entries[i].executable = files[i].st.executable;
        entries[i].digest = file_digest(repo, rel + "/" + files[i].path, abs / files[i].path,
                                        files[i].st, mode, started_ns, &entries[i].size);
    });
    Manifest m(std::move(entries));
    std::string text = m.serialize();
    s.size = m.total_size();
    s.files = m.entries().size();
    if (mode == SnapshotMode::store) {
        s.digest = repo.store().put_bytes(text).digest;
    } else {
        s.digest = sha256(text);
    }
    return s;
}

bool snapshot_in_store(Repository& repo, const Snapshot& s) {
    ObjectStore& store = repo.store();
    if (!s.is_dir) return store.contains(s.digest);
    std::string text;
    if (!read_file_if_exists(store.path_of(s.digest), text)) return false;
    Manifest m = Manifest::parse(text, to_hex(s.digest));
    return std::all_of(m.entries().begin(), m.entries().end(),
                       [&](const ManifestEntry& e) { return store.contains(e.digest); });
}

void restore_path(Repository& repo, const std::string& rel, const Snapshot& s) {
    ObjectStore& store = repo.store();
    const fs::path abs = repo.abs(rel);
    std::vector<ManifestEntry> entries;
    if (s.is_dir) {
        std::string text;
        if (!read_file_if_exists(store.path_of(s.digest), text))
            throw Error("cannot restore " + quote(rel) + ": its manifest " +
                        quote(to_hex(s.digest)) + " is not in the store");
        entries = Manifest::parse(text, to_hex(s.digest)).entries();
    } else {
        entries.push_back({"", s.digest, s.size, false});
        FileStat st;
        if (stat_path(abs, st)) entries[0].executable = st.executable;
    }
    for (const auto& e : entries) {
        if (!store.contains(e.digest))
            throw Error("cannot restore " + quote(e.path.empty() ? rel : rel + "/" + e.path) +
                        ": object " + quote(to_hex(e.digest)) + " is not in the store");
    }
    std::error_code ec;
    fs::remove_all(abs, ec);
    if (ec) throw Error("cannot remove " + quote(abs) + ": " + ec.message());
    std::set<fs::path> parents;
    for (const auto& e : entries)
        parents.insert((e.path.empty() ? abs : abs / e.path).parent_path());
    for (const auto& d : parents)
        make_dirs(d);
    Linker linker(repo.config().link);
    StatCache& cache = repo.stat_cache();
    parallel_for(entries.size(), repo.jobs(), [&](size_t i) {
        const ManifestEntry& e = entries[i];
        fs::path dest = e.path.empty() ? abs : abs / e.path;
        linker.place(store.path_of(e.digest), dest, e.executable, {e.size, true});
        FileStat st;
        if (stat_path(dest, st))
            cache.record(e.path.empty() ? rel : rel + "/" + e.path, st, e.digest, now_ns());
    });
}

}  // namespace mlo::core
