#include "core/checkout.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "core/hashing.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"
#include "storage/link.hpp"
#include "storage/manifest.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

struct Place {
    std::string rel;
    fs::path abs;
    Digest digest{};
    bool executable = false;
    bool replace_dir = false;  // a directory stands where the file goes (only with --force)
    Linker::Hint hint;
};

struct Plan {
    std::vector<Place> places;
    std::vector<std::pair<std::string, fs::path>> removals;
    std::vector<std::string> conflicts;  // would lose content that is not in the store
    std::vector<std::string> missing;    // needed objects that the store lacks
    uint64_t unchanged = 0;
};

std::string list_some(const std::vector<std::string>& paths) {
    std::string out;
    for (size_t i = 0; i < paths.size() && i < 3; ++i)
        out += (i ? ", " : "") + quote(paths[i]);
    if (paths.size() > 3) out += " and " + std::to_string(paths.size() - 3) + " more";
    return out;
}

class Planner {
public:
    Planner(Repository& repo, Force force, int64_t started)
        : repo_(repo), force_(force), started_(started) {}

    // Decides what to do with an existing workspace file that differs from what it should be:
    // overwriting is safe when its content is in the store (or when forced).
    bool safe_to_lose(const std::string& rel, const fs::path& abs, const FileStat& st) {
        if (force_ == Force::yes) return true;
        Digest d = workspace_digest(repo_, rel, abs, st, started_);
        return repo_.store().contains(d);
    }

    void want(Plan& plan, std::string rel, fs::path abs, const Digest& d, bool exec,
              bool replace_dir = false, Linker::Hint hint = {}) {
        plan.places.push_back({std::move(rel), std::move(abs), d, exec, replace_dir, hint});
    }

    void plan_file(Plan& plan, const Pointer& p) {
        fs::path abs = p.data_path();
        FileStat st;
        bool is_dir = false;
        if (!stat_path(abs, st, &is_dir))
            return want(plan, p.rel, abs, p.digest, false, false, {p.size, true});
        if (is_dir) {
            if (force_ == Force::no) {
                plan.conflicts.push_back(p.rel);
                return;
            }
            return want(plan, p.rel, abs, p.digest, false, true);
        }
        if (st.size == p.size && workspace_digest(repo_, p.rel, abs, st, started_) == p.digest) {
            plan.unchanged++;
            return;
        }
        if (!safe_to_lose(p.rel, abs, st)) {
            plan.conflicts.push_back(p.rel);
            return;
        }
        want(plan, p.rel, abs, p.digest, st.executable);
    }

    void plan_dir(Plan& plan, const Selection& sel) {
        const Pointer& p = sel.ptr;
        fs::path abs = p.data_path();
        std::string text;
        if (!read_file_if_exists(repo_.store().path_of(p.digest), text)) {
            throw Error("cannot check out " + quote(p.rel) + ": its manifest " +
                        quote(to_hex(p.digest)) +
                        " is not in the store (get it with 'mlo fetch' or 'mlo pull')");
        }
        Manifest m = Manifest::parse(text, to_hex(p.digest));
        FileStat st;
        bool is_dir = false;
        std::vector<ScanEntry> files;
        if (stat_path(abs, st, &is_dir)) {
            if (!is_dir) {
                if (!safe_to_lose(p.rel, abs, st)) {
                    plan.conflicts.push_back(p.rel);
                    return;
                }
                plan.removals.emplace_back(p.rel, abs);
            } else {
                files = scan_tree(abs, repo_.root(), repo_.jobs(), NestedPointers::allowed);
            }
        }
        repo_.stat_cache().load_dir(p.rel);
        const auto& entries = m.entries();
        size_t i = 0, j = 0;
        while (i < entries.size() || j < files.size()) {
            if (i < entries.size() && !sel.covers(entries[i].path)) {
                ++i;
                continue;
            }
            if (j < files.size() && !sel.covers(files[j].path)) {
                ++j;
                continue;
            }
            int cmp = i == entries.size() ? 1
                      : j == files.size() ? -1
                                          : entries[i].path.compare(files[j].path);
            if (cmp < 0) {
                want(plan, p.rel + "/" + entries[i].path, abs / entries[i].path, entries[i].digest,
                     entries[i].executable, false, {entries[i].size, true});
                ++i;
            } else if (cmp > 0) {
                std::string rel = p.rel + "/" + files[j].path;
                if (safe_to_lose(rel, abs / files[j].path, files[j].st))
                    plan.removals.emplace_back(rel, abs / files[j].path);
                else
                    plan.conflicts.push_back(rel);
                ++j;
            } else {
                const ManifestEntry& e = entries[i];
                const ScanEntry& f = files[j];
                std::string rel = p.rel + "/" + e.path;
                fs::path fabs = abs / e.path;
                bool same = e.size == f.st.size &&
                            workspace_digest(repo_, rel, fabs, f.st, started_) == e.digest;
                if (same && e.executable == f.st.executable) {
                    plan.unchanged++;
                } else if (same || safe_to_lose(rel, fabs, f.st)) {
                    want(plan, rel, fabs, e.digest, e.executable, false, {e.size, false});
                } else {
                    plan.conflicts.push_back(rel);
                }
                ++i;
                ++j;
            }
        }
    }

    // Lists the planned files whose objects the store lacks. A shard that many of them need
    // is listed once, instead of probing each object.
    void find_missing(Plan& plan) {
        ObjectStore& store = repo_.store();
        std::vector<size_t> order(plan.places.size());
        for (size_t k = 0; k < order.size(); ++k)
            order[k] = k;
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return plan.places[a].digest < plan.places[b].digest;
        });
        size_t k = 0;
        while (k < order.size()) {
            const uint8_t shard = plan.places[order[k]].digest[0];
            size_t end = k;
            while (end < order.size() && plan.places[order[end]].digest[0] == shard)
                ++end;
            if (end - k < 16) {
                for (; k < end; ++k) {
                    const Place& pl = plan.places[order[k]];
                    if (!store.contains(pl.digest)) plan.missing.push_back(pl.rel);
                }
                continue;
            }
            std::vector<Digest> present = store.list_shard(shard);
            for (; k < end; ++k) {
                const Place& pl = plan.places[order[k]];
                if (!std::binary_search(present.begin(), present.end(), pl.digest))
                    plan.missing.push_back(pl.rel);
            }
        }
        std::sort(plan.missing.begin(), plan.missing.end());
    }

private:
    Repository& repo_;
    Force force_;
    int64_t started_;
};

}  // namespace

CheckoutResult checkout(Repository& repo, const std::vector<Selection>& sels,
                        const CheckoutOptions& options) {
    auto lock = repo.lock_workspace(options.on_wait);
    const int64_t started = now_ns();
    Plan plan;
    Planner planner(repo, options.force, started);
    for (const auto& sel : sels) {
        if (sel.ptr.is_dir)
            planner.plan_dir(plan, sel);
        else
            planner.plan_file(plan, sel.ptr);
    }
    planner.find_missing(plan);
    if (!plan.missing.empty()) {
        throw Error("cannot check out " + list_some(plan.missing) +
                    ": not in the store (get them with 'mlo fetch' or 'mlo pull'; 'mlo fsck' "
                    "lists what is missing)");
    }
    if (!plan.conflicts.empty()) {
        throw Error("cannot check out: local changes to " + list_some(plan.conflicts) +
                    " are not in the store and would be lost (use --force to discard them, or 'mlo "
                    "add' to keep them)");
    }

    CheckoutResult result;
    result.unchanged = plan.unchanged;
    for (const auto& [rel, abs] : plan.removals) {
        std::error_code ec;
        fs::remove_all(abs, ec);
        if (ec) throw Error("cannot remove " + quote(abs) + ": " + ec.message());
        result.removed.push_back(rel);
    }
    // Parent directories first (in order, once each), then the files in parallel.
    std::set<fs::path> parents;
    for (const auto& pl : plan.places)
        parents.insert(pl.abs.parent_path());
    for (const auto& d : parents)
        make_dirs(d);

    Linker linker(repo.config().link);
    ObjectStore& store = repo.store();
    StatCache& cache = repo.stat_cache();
    std::mutex mu;
    if (options.progress) options.progress->start("checking out", plan.places.size());
    auto done = [&](const Place& pl, LinkKind used, const FileStat* st) {
        FileStat now;
        if (!st && stat_path(pl.abs, now)) st = &now;
        if (st) cache.record(pl.rel, *st, pl.digest, now_ns());
        if (options.progress) options.progress->advance();
        std::lock_guard<std::mutex> guard(mu);
        result.by_link[std::string(link_name(used))]++;
        result.restored.push_back(pl.rel);
    };
    auto place_any = [&](const Place& pl) {
        if (pl.replace_dir) {
            std::error_code ec;
            fs::remove_all(pl.abs, ec);
            if (ec) throw Error("cannot remove " + quote(pl.abs) + ": " + ec.message());
        }
        LinkKind used;
        try {
            used = linker.place(store.path_of(pl.digest), pl.abs, pl.executable, pl.hint);
        } catch (const Error&) {
            // A directory where the file goes: whatever it held was planned for removal (its
            // content is in the store, or --force said so), so what is left is empty folders.
            std::error_code ec;
            if (!fs::is_directory(fs::symlink_status(pl.abs, ec))) throw;
            fs::remove_all(pl.abs, ec);
            if (ec) throw Error("cannot remove " + quote(pl.abs) + ": " + ec.message());
            used = linker.place(store.path_of(pl.digest), pl.abs, pl.executable);
        }
        done(pl, used, nullptr);
    };

    // Directory by directory, each on one thread: two threads adding names to one directory
    // queue on its lock, and an open directory saves walking the whole path for every file.
    // (A directory of more files than kChunk is still shared out, in chunks.)
    constexpr size_t kChunk = 1024;
    auto parent_of = [](const fs::path& p) {
        const std::string& s = p.native();
        return std::string_view(s).substr(0, s.rfind('/'));
    };
    std::vector<std::pair<size_t, size_t>> groups;
    for (size_t k = 0; k < plan.places.size();) {
        size_t end = k + 1;
        const std::string_view parent = parent_of(plan.places[k].abs);
        while (end < plan.places.size() && end - k < kChunk &&
               parent_of(plan.places[end].abs) == parent)
            ++end;
        groups.emplace_back(k, end);
        k = end;
    }
    parallel_for(groups.size(), repo.jobs(), [&](size_t g) {
        const auto [begin, end] = groups[g];
        const std::string parent(parent_of(plan.places[begin].abs));
        Fd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        for (size_t k = begin; k < end; ++k) {
            check_interrupted();
            const Place& pl = plan.places[k];
            if (dir.valid() && !pl.replace_dir && pl.hint.dest_absent &&
                pl.hint.size != Linker::Hint::kUnknownSize) {
                Fd object = store.open_object(pl.digest);
                LinkKind used;
                FileStat st;
                if (object.valid() && linker.place_new(store.path_of(pl.digest), object.get(),
                                                       dir.get(), pl.abs.filename().c_str(), pl.abs,
                                                       pl.executable, pl.hint.size, &used, &st)) {
                    done(pl, used, &st);
                    continue;
                }
            }
            place_any(pl);
        }
    });
    std::sort(result.restored.begin(), result.restored.end());
    cache.flush();
    return result;
}

}  // namespace mlo::core
