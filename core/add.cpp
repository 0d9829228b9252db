#include "core/add.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "core/gitignore.hpp"
#include "core/hashing.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"
#include "storage/manifest.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

struct Target {
    std::string arg;
    fs::path abs;
    std::string rel;
    bool is_dir = false;
    std::vector<ScanEntry> files;  // for a directory; a file has one entry with path ""
    std::vector<ManifestEntry> results;
};

bool is_inside(const std::string& child, const std::string& parent) {
    return child.size() > parent.size() && child.compare(0, parent.size(), parent) == 0 &&
           child[parent.size()] == '/';
}

// Checks one command-line path; throws with a one-line reason if it cannot be added.
Target check_target(const Repository& repo, const std::string& arg) {
    Target t;
    t.arg = arg;
    t.abs = repo.resolve_arg(arg);
    t.rel = repo.rel(t.abs);
    const std::string why = "cannot add " + quote(arg);
    if (t.rel.empty())
        throw Error(why + ": it is the repository root (add its data directories instead)");
    if (is_pointer_name(t.abs.filename().string())) throw Error(why + ": it is a pointer file");
    struct stat st {};
    if (::lstat(t.abs.c_str(), &st) != 0) throw_errno(why);
    if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        fs::path target = fs::canonical(t.abs, ec);
        if (ec) throw Error(why + ": cannot follow the symbolic link: " + ec.message());
        fs::path r = target.lexically_relative(repo.root());
        std::string s = r.generic_string();
        if (r.empty() || s == ".." || s.rfind("../", 0) == 0) {
            throw Error(why + ": it is a symbolic link leading outside the repository, to " +
                        quote(target));
        }
        if (::stat(t.abs.c_str(), &st) != 0) throw_errno(why);
        if (S_ISDIR(st.st_mode)) throw Error(why + ": it is a symbolic link to a directory");
    }
    if (S_ISDIR(st.st_mode)) {
        t.is_dir = true;
    } else if (!S_ISREG(st.st_mode)) {
        throw Error(why + ": not a regular file or directory");
    }
    // A path inside a directory that is tracked as a whole belongs to that directory's pointer.
    for (fs::path up = t.abs.parent_path(); up != repo.root() && up.has_relative_path();
         up = up.parent_path()) {
        if (fs::exists(pointer_file_for(up))) {
            throw Error(why + ": it is inside " + quote(repo.rel(up)) +
                        ", which is tracked as a whole (add " + quote(repo.rel(up)) + " instead)");
        }
    }
    return t;
}

}  // namespace

std::vector<AddedItem> add_paths(Repository& repo, const std::vector<std::string>& args,
                                 const AddOptions& options) {
    if (args.empty()) throw Error("nothing to add: name at least one file or directory");
    const int64_t started = now_ns();
    std::vector<Target> targets;
    for (const auto& arg : args) {
        Target t = check_target(repo, arg);
        bool repeated = std::any_of(targets.begin(), targets.end(),
                                    [&](const Target& o) { return o.rel == t.rel; });
        if (!repeated) targets.push_back(std::move(t));
    }
    for (const auto& a : targets) {
        for (const auto& b : targets) {
            if (is_inside(a.rel, b.rel)) {
                throw Error("cannot add " + quote(a.arg) + ": it is inside " + quote(b.arg) +
                            ", which is also being added");
            }
        }
    }

    auto lock = repo.lock_workspace(options.on_wait);
    const unsigned jobs = repo.jobs();

    // Gather the files. Scanning fails on anything we would refuse to store, before any write.
    // Work goes out directory by directory (files [begin, end) of one target that share a
    // parent), so that each directory is opened once and files are opened relative to it.
    struct Job {
        size_t target;
        size_t begin;
        size_t end;
    };
    std::vector<Job> work;
    size_t file_count = 0;
    for (size_t ti = 0; ti < targets.size(); ++ti) {
        Target& t = targets[ti];
        if (t.is_dir) {
            t.files = scan_tree(t.abs, repo.root(), jobs, NestedPointers::error);
        } else {
            FileStat st;
            if (!stat_path(t.abs, st))
                throw Error("cannot add " + quote(t.arg) + ": it disappeared");
            t.files.push_back({"", st});
        }
        t.results.resize(t.files.size());
        file_count += t.files.size();
        auto parent = [&](size_t i) {
            const std::string& p = t.files[i].path;
            size_t slash = p.rfind('/');
            return std::string_view(p).substr(0, slash == std::string::npos ? 0 : slash);
        };
        for (size_t i = 0; i < t.files.size();) {
            size_t end = i + 1;
            while (end < t.files.size() && end - i < 1024 && parent(end) == parent(i))
                ++end;
            work.push_back({ti, i, end});
            i = end;
        }
        if (t.is_dir)
            repo.stat_cache().load_dir(t.rel);
        else
            repo.stat_cache().load(t.rel);
    }

    ObjectStore& store = repo.store();
    StatCache& cache = repo.stat_cache();
    const Reflink reflink = std::find(repo.config().link.begin(), repo.config().link.end(),
                                      LinkKind::reflink) != repo.config().link.end()
                                ? Reflink::try_first
                                : Reflink::no;
    std::atomic<uint64_t> created_total{0};
    // Objects this add wrote, removed again if it fails before any pointer file names them, so
    // a failed add leaves the store as it was. (The workspace lock keeps other writers out.)
    std::mutex created_mu;
    std::vector<Digest> created_ids;
    struct Rollback {
        ObjectStore& store;
        std::vector<Digest>& ids;
        bool armed = true;
        ~Rollback() {
            if (!armed) return;
            for (const auto& d : ids)
                ::unlink(store.path_of(d).c_str());
        }
    } rollback{store, created_ids};
    auto remember = [&](const ObjectStore::Put& put) {
        if (!put.created) return;
        std::lock_guard<std::mutex> guard(created_mu);
        created_ids.push_back(put.digest);
    };
    std::vector<std::atomic<uint64_t>> created(targets.size());
    if (options.progress) options.progress->start("adding", file_count);

    parallel_for(work.size(), jobs, [&](size_t w) {
        Target& t = targets[work[w].target];
        const std::string& first = t.files[work[w].begin].path;
        const size_t slash = first.rfind('/');
        const fs::path dir_path = !t.is_dir                    ? t.abs.parent_path()
                                  : slash == std::string::npos ? t.abs
                                                               : t.abs / first.substr(0, slash);
        const std::string file_name = t.is_dir ? std::string() : t.abs.filename().string();
        Fd dir(::open(dir_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir.valid()) throw_errno("cannot open directory " + quote(dir_path));
        for (size_t i = work[w].begin; i < work[w].end; ++i) {
            check_interrupted();
            const ScanEntry& f = t.files[i];
            ManifestEntry& out = t.results[i];
            out.path = f.path;
            auto known =
                t.is_dir ? cache.lookup_in(t.rel, f.path, f.st) : cache.lookup(t.rel, f.st);
            if (known && store.contains(*known)) {
                out.digest = *known;
                out.size = f.st.size;
                out.executable = f.st.executable;
            } else {
                // The stat taken before reading is what the cache remembers: if the file changes
                // after it, its stat will differ from the remembered one and it is hashed again.
                const size_t base = f.path.rfind('/');
                const char* name = !t.is_dir                   ? file_name.c_str()
                                   : base == std::string::npos ? f.path.c_str()
                                                               : f.path.c_str() + base + 1;
                const int fd = ::openat(dir.get(), name, O_RDONLY | O_CLOEXEC);
                if (fd < 0) throw_errno("cannot open " + quote(t.is_dir ? t.abs / f.path : t.abs));
                Fd src(fd);
                ObjectStore::Put put =
                    store.put_fd(fd, f.st.size, dir_path.native() + "/" + name, reflink);
                out.digest = put.digest;
                out.size = put.size;
                out.executable = f.st.executable;
                if (put.created) created[work[w].target]++;
                remember(put);
                // A directory's entries go to the stat cache in one piece below.
                if (!t.is_dir && put.size == f.st.size)
                    cache.record(t.rel, f.st, put.digest, started);
            }
            if (options.progress) options.progress->advance();
        }
    });

    // Directory manifests are objects too.
    std::vector<AddedItem> items;
    for (size_t ti = 0; ti < targets.size(); ++ti) {
        Target& t = targets[ti];
        AddedItem item;
        item.ptr.file = pointer_file_for(t.abs);
        item.ptr.rel = t.rel;
        if (t.is_dir) {
            // The stat cache of the directory becomes exactly what was scanned: files that are
            // gone leave it. A file whose size changed while it was read is left out.
            std::vector<StatCache::DirEntry> known;
            known.reserve(t.files.size());
            for (size_t i = 0; i < t.files.size(); ++i) {
                if (t.results[i].size == t.files[i].st.size)
                    known.push_back({t.files[i].path, t.files[i].st, t.results[i].digest, started});
            }
            const bool complete = known.size() == t.files.size();
            Manifest m(std::move(t.results));
            ObjectStore::Put put = store.put_bytes(m.serialize());
            // Every file known: the block mirrors the manifest, and status need not read it.
            cache.replace_dir(t.rel, std::move(known),
                              complete ? std::optional<Digest>(put.digest) : std::nullopt);
            if (put.created) created[ti]++;
            remember(put);
            item.ptr.is_dir = true;
            item.ptr.digest = put.digest;
            item.ptr.size = m.total_size();
            item.ptr.files = m.entries().size();
        } else {
            item.ptr.digest = t.results[0].digest;
            item.ptr.size = t.results[0].size;
        }
        item.new_objects = created[ti];
        created_total += created[ti];
        items.push_back(std::move(item));
    }

    // The stat cache goes to mlo.db while the objects go to disk: the two are independent (a
    // cache entry describes a workspace file, whatever the store holds).
    auto cache_saved = std::async(std::launch::async, [&] { cache.flush(); });
    // Objects must be on disk before a pointer file that git may commit names them.
    if (repo.config().fsync && created_total > 0) store.sync();

    rollback.armed = false;
    const Sync sync = repo.config().fsync ? Sync::yes : Sync::no;
    for (auto& item : items) {
        std::string old_text;
        bool existed = read_file_if_exists(item.ptr.file, old_text);
        std::string text = pointer_text(item.ptr);
        item.changed = !existed || old_text != text;
        if (item.changed) write_pointer(item.ptr, sync);
        item.gitignore_changed = ensure_gitignored(item.ptr.data_path());
    }
    cache_saved.get();
    return items;
}

}  // namespace mlo::core
