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

void compare_dir(Repository& repo, TrackedState& state, Detail detail, Progress* progress,
                 int64_t started) {
    const Pointer& p = state.sel.ptr;
    const Selection& sel = state.sel;
    fs::path abs = p.data_path();
    std::string text;
    ObjectStore& store = repo.store();
    bool have_manifest = read_file_if_exists(store.path_of(p.digest), text);
    FileStat st;
    bool is_dir = false;
    bool exists = stat_path(abs, st, &is_dir);

    if (!have_manifest) {
        // Without the manifest only the whole can be compared: rebuild the workspace's manifest.
        state.manifest_missing = true;
        FileChange c;
        c.path = p.rel;
        c.old_digest = p.digest;
        c.old_size = p.size;
        if (!exists || !is_dir) {
            c.kind = exists ? ChangeKind::modified : ChangeKind::deleted;
            state.changes.push_back(c);
            return;
        }
        auto files = scan_tree(abs, repo.root(), repo.jobs(), NestedPointers::allowed);
        std::vector<ManifestEntry> entries(files.size());
        repo.stat_cache().load(p.rel);
        parallel_for(files.size(), repo.jobs(), [&](size_t i) {
            entries[i].path = files[i].path;
            entries[i].size = files[i].st.size;
            entries[i].executable = files[i].st.executable;
            entries[i].digest = workspace_digest(repo, p.rel + "/" + files[i].path,
                                                 abs / files[i].path, files[i].st, started);
        });
        Manifest now(std::move(entries));
        Digest d = sha256(now.serialize());
        if (d != p.digest) {
            c.new_digest = d;
            c.new_size = now.total_size();
            state.changes.push_back(c);
        }
        return;
    }
    // Parsing the manifest and loading the stat cache overlap with the directory scan: the
    // scan waits on the kernel, the other two on the CPU.
    StatCache& cache = repo.stat_cache();
    const std::string cache_prefix = sel.sub.empty() ? p.rel : p.rel + "/" + sel.sub;
    auto parsed =
        std::async(std::launch::async, [&] { return Manifest::parse(text, to_hex(p.digest)); });
    auto cache_loaded = std::async(std::launch::async, [&] { cache.load(cache_prefix); });
    std::vector<ScanEntry> files;
    if (exists && is_dir) {
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
    cache_loaded.get();
    Manifest m = parsed.get();

    // Merge the two sorted lists; the files present on both sides are compared in parallel.
    std::vector<std::pair<const ManifestEntry*, const ScanEntry*>> both;
    const auto& entries = m.entries();
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
            c.path = p.rel + "/" + entries[i].path;
            c.kind = ChangeKind::deleted;
            c.old_digest = entries[i].digest;
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
            both.emplace_back(&entries[i], &files[j]);
            ++i;
            ++j;
        }
    }
    if (progress) progress->start("checking", both.size());
    std::mutex mu;
    parallel_for(both.size(), repo.jobs(), [&](size_t k) {
        const ManifestEntry& e = *both[k].first;
        const ScanEntry& f = *both[k].second;
        if (progress) progress->advance();
        std::string rel = p.rel + "/" + e.path;
        bool changed = e.executable != f.st.executable || e.size != f.st.size;
        std::optional<Digest> now;
        if (!changed || detail == Detail::digests) {
            now = repo.stat_cache().lookup(rel, f.st);
            if (!now) now = workspace_digest(repo, rel, abs / f.path, f.st, started);
            changed = changed || *now != e.digest;
        }
        if (!changed) return;
        FileChange c;
        c.path = std::move(rel);
        c.old_digest = e.digest;
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
