#include "core/compare.hpp"

#include <sys/stat.h>

#include <future>
#include <mutex>

#include "core/hashing.hpp"
#include "storage/error.hpp"
#include "storage/manifest.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

const char* change_name(ChangeKind k) {
    switch (k) {
        case ChangeKind::modified:
            return "modified";
        case ChangeKind::added:
            return "added";
        case ChangeKind::deleted:
            return "deleted";
    }
    return "?";
}

namespace {

void compare_file(Repository& repo, TrackedState& state, Detail detail, int64_t started) {
    const Pointer& p = state.sel.ptr;
    fs::path abs = p.data_path();
    FileStat st;
    bool is_dir = false;
    FileChange c;
    c.path = p.rel;
    c.old_digest = p.digest;
    c.old_size = p.size;
    if (!stat_path(abs, st, &is_dir)) {
        c.kind = ChangeKind::deleted;
        state.changes.push_back(c);
        return;
    }
    if (is_dir) {
        c.kind = ChangeKind::modified;
        state.changes.push_back(c);
        return;
    }
    c.new_size = st.size;
    if (st.size != p.size && detail == Detail::changes_only) {
        state.changes.push_back(c);
        return;
    }
    Digest d = workspace_digest(repo, p.rel, abs, st, started);
    if (d != p.digest) {
        c.new_digest = d;
        state.changes.push_back(c);
    }
}

// A tracked file of a directory, from its manifest or from a stat-cache block mirroring it.
struct TrackedEntry {
    std::string_view path;
    const Digest* digest;
    uint64_t size;
    bool executable;
};

// The directory's manifest is not in the store: only the whole can be compared, by building the
// workspace's manifest.
void compare_dir_whole(Repository& repo, TrackedState& state, const std::vector<ScanEntry>& files,
                       bool is_dir, int64_t started) {
    const Pointer& p = state.sel.ptr;
    const fs::path abs = p.data_path();
    state.manifest_missing = true;
    FileChange c;
    c.path = p.rel;
    c.old_digest = p.digest;
    c.old_size = p.size;
    if (!is_dir) {
        c.kind = ChangeKind::deleted;
        state.changes.push_back(c);
        return;
    }
    std::vector<ManifestEntry> entries(files.size());
    parallel_for(files.size(), repo.jobs(), [&](size_t i) {
        entries[i].path = files[i].path;
        entries[i].size = files[i].st.size;
        entries[i].executable = files[i].st.executable;
        entries[i].digest = workspace_digest(repo, p.rel + "/" + files[i].path, abs / files[i].path,
                                             files[i].st, started);
    });
    Manifest now(std::move(entries));
    Digest d = sha256(now.serialize());
    if (d != p.digest) {
        c.new_digest = d;
        c.new_size = now.total_size();
        state.changes.push_back(c);
    }
}

void compare_dir(Repository& repo, TrackedState& state, Detail detail, Progress* progress,
                 int64_t started) {
    const Pointer& p = state.sel.ptr;
    const Selection& sel = state.sel;
    fs::path abs = p.data_path();
    ObjectStore& store = repo.store();
    FileStat st;
    bool is_dir = false;
    bool exists = stat_path(abs, st, &is_dir);
    if (exists && !is_dir) {
        FileChange c;
        c.path = p.rel;
        c.kind = ChangeKind::modified;
        c.old_digest = p.digest;
        c.old_size = p.size;
        state.changes.push_back(c);
        return;
    }

    // What the directory should hold comes from the stat cache's block when that mirrors the
    // manifest (what add or an earlier clean status left), else from the manifest: either is
    // read on another thread while this one scans the directory with the rest of the cores.
    StatCache& cache = repo.stat_cache();
    std::optional<StatCache::Mirror> mirror;
    std::optional<Manifest> manifest;
    auto loaded = std::async(std::launch::async, [&] {
        cache.load_dir(p.rel);
        mirror = cache.mirror(p.rel, p.digest);
        std::string text;
        if (!mirror && read_file_if_exists(store.path_of(p.digest), text))
            manifest = Manifest::parse(text, to_hex(p.digest));
    });
    std::vector<ScanEntry> files;
    if (exists) {
        fs::path scan_root = sel.sub.empty() ? abs : abs / sel.sub;
        FileStat sub_st;
        bool sub_is_dir = false;
        if (sel.sub.empty() || (stat_path(scan_root, sub_st, &sub_is_dir) && sub_is_dir)) {
            files = scan_tree(scan_root, repo.root(), repo.jobs(), NestedPointers::allowed);
            if (!sel.sub.empty()) {
                for (auto& f : files)
                    f.path = sel.sub + "/" + f.path;
            }
        } else if (!sel.sub.empty() && stat_path(scan_root, sub_st)) {
            files.push_back({sel.sub, sub_st});
        }
    }
    loaded.get();
    if (!mirror && !manifest) {
        if (!sel.sub.empty() && exists)
            files = scan_tree(abs, repo.root(), repo.jobs(), NestedPointers::allowed);
        compare_dir_whole(repo, state, files, exists, started);
        return;
    }
    std::vector<TrackedEntry> entries;
    if (mirror) {
        entries.resize(mirror->size());
        for (size_t k = 0; k < entries.size(); ++k)
            entries[k] = {mirror->path(k), &mirror->digest(k), mirror->file_size(k),
                          mirror->executable(k)};
    } else {
        entries.reserve(manifest->entries().size());
        for (const auto& e : manifest->entries())
            entries.push_back({e.path, &e.digest, e.size, e.executable});
    }

    // Merge the two sorted lists; the files present on both sides are compared in parallel.
    struct Both {
        size_t entry;
        const ScanEntry* file;
    };
    std::vector<Both> both;
    both.reserve(std::min(entries.size(), files.size()));
    size_t i = 0, j = 0;
    auto add_change = [&](FileChange c) { state.changes.push_back(std::move(c)); };
    while (i < entries.size() || j < files.size()) {
        if (i < entries.size() && !sel.covers(entries[i].path)) {
            ++i;
            continue;
        }
        int cmp = i == entries.size() ? 1
                  : j == files.size() ? -1
                                      : entries[i].path.compare(files[j].path);
        if (cmp < 0) {
            FileChange c;
            c.path = p.rel + "/" + std::string(entries[i].path);
            c.kind = ChangeKind::deleted;
            c.old_digest = *entries[i].digest;
            c.old_size = entries[i].size;
            c.old_executable = entries[i].executable;
            add_change(std::move(c));
            ++i;
        } else if (cmp > 0) {
            FileChange c;
            c.path = p.rel + "/" + files[j].path;
            c.kind = ChangeKind::added;
            c.new_size = files[j].st.size;
            c.new_executable = files[j].st.executable;
            if (detail == Detail::digests) {
                c.new_digest =
                    workspace_digest(repo, c.path, abs / files[j].path, files[j].st, started);
            }
            add_change(std::move(c));
            ++j;
        } else {
            both.push_back({i, &files[j]});
            ++i;
            ++j;
        }
    }
    if (progress) progress->start("checking", both.size());
    std::mutex mu;
    parallel_for(both.size(), repo.jobs(), [&](size_t k) {
        const TrackedEntry& e = entries[both[k].entry];
        const ScanEntry& f = *both[k].file;
        if (progress) progress->advance();
        bool changed = e.executable != f.st.executable || e.size != f.st.size;
        std::optional<Digest> now;
        if (!changed || detail == Detail::digests) {
            now =
                mirror ? mirror->lookup(both[k].entry, f.st) : cache.lookup_in(p.rel, e.path, f.st);
            if (!now) {
                now = workspace_digest(repo, p.rel + "/" + f.path, abs / f.path, f.st, started);
            }
            changed = changed || *now != *e.digest;
        }
        if (!changed) return;
        FileChange c;
        c.path = p.rel + "/" + f.path;
        c.old_digest = *e.digest;
        c.old_size = e.size;
        c.old_executable = e.executable;
        c.new_size = f.st.size;
        c.new_executable = f.st.executable;
        c.new_digest = now;
        std::lock_guard<std::mutex> lock(mu);
        state.changes.push_back(std::move(c));
    });
    std::sort(state.changes.begin(), state.changes.end(),
              [](const FileChange& a, const FileChange& b) { return a.path < b.path; });

    // A whole directory found clean: its block becomes the manifest's mirror, so that the next
    // status reads neither the manifest nor anything but the block.
    if (!mirror && sel.sub.empty() && state.changes.empty()) {
        std::vector<StatCache::DirEntry> known(both.size());
        for (size_t k = 0; k < both.size(); ++k) {
            known[k].path = both[k].file->path;
            known[k].st = both[k].file->st;
            known[k].digest = *entries[both[k].entry].digest;
            known[k].cached_at_ns = started;
        }
        cache.replace_dir(p.rel, std::move(known), p.digest);
    }
}

}  // namespace

std::vector<TrackedState> compare_workspace(Repository& repo, const std::vector<Selection>& sels,
                                            Detail detail, Progress* progress) {
    const int64_t started = now_ns();
    std::vector<TrackedState> out;
    for (const auto& sel : sels) {
        TrackedState state;
        state.sel = sel;
        if (sel.ptr.is_dir) {
            compare_dir(repo, state, detail, progress, started);
        } else {
            repo.stat_cache().load(sel.ptr.rel);
            compare_file(repo, state, detail, started);
        }
        out.push_back(std::move(state));
    }
    repo.stat_cache().flush();
    return out;
}

}  // namespace mlo::core
