#include "core/sync.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>

#include "core/lockfile.hpp"
#include "core/references.hpp"
#include "core/registry.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/manifest.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

constexpr const char* kObjectsPrefix = "objects/";
constexpr const char* kMetaPrefix = "meta/";
// A download whose bytes do not hash to its name is tried this many times in all.
constexpr int kVerifyAttempts = 3;
// Records are built and sent in batches of this many, so a push of 100,000 runs does not hold
// every body in memory at once.
constexpr size_t kRecordBatch = 512;

std::string object_key(const std::string& hex) {
    return kObjectsPrefix + hex.substr(0, 2) + "/" + hex.substr(2);
}

// What a command needs: object id (hex) -> one place that uses it, and which of them are
// directory manifests (sent after their files, and read to find those files).
struct Wanted {
    std::map<std::string, std::string> objects;
    std::set<std::string> manifests;
    // Objects mlo.lock, experiments or monitor profiles name: in the store when mlo made them,
    // but a dependency tracked by git (prepare.py) never is, so lacking one is no error.
    std::set<std::string> optional;
};

void add_manifest_entries(Repository& repo, const std::string& hex, const std::string& where,
                          const Selection* sel, Wanted& w) {
    std::string text;
    Digest d = *digest_from_hex(hex);
    if (!read_file_if_exists(repo.store().path_of(d), text)) return;
    Manifest m = Manifest::parse(text, hex);
    for (const auto& e : m.entries()) {
        if (sel && !sel->covers(e.path)) continue;
        w.objects.emplace(to_hex(e.digest), where + "/" + e.path);
    }
}

Wanted wanted_objects(Repository& repo, const std::vector<std::string>& paths) {
    Wanted w;
    if (!paths.empty()) {
        for (const Selection& s : select_tracked(repo, paths)) {
            std::string hex = to_hex(s.ptr.digest);
            w.objects.emplace(hex, s.ptr.rel);
            if (!s.ptr.is_dir) continue;
            w.manifests.insert(hex);
            add_manifest_entries(repo, hex, s.ptr.rel, &s, w);
        }
        return w;
    }
    std::vector<Pointer> pointers = find_pointers(repo);
    References refs = collect_references(repo, pointers);
    w.objects = std::move(refs.objects);
    // Required: what pointer files and the registry name; everything else is optional.
    std::set<std::string> required;
    for (const auto& p : pointers) {
        std::string hex = to_hex(p.digest);
        required.insert(hex);
        if (!p.is_dir) continue;
        w.manifests.insert(hex);
        Wanted entries;
        add_manifest_entries(repo, hex, p.rel, nullptr, entries);
        for (const auto& e : entries.objects)
            required.insert(e.first);
    }
    for (const ModelVersion& v : Registry(repo.db()).all_versions()) {
        std::string hex = to_hex(v.object);
        required.insert(hex);
        if (!v.is_dir) continue;
        Wanted entries;
        add_manifest_entries(repo, hex, v.name, nullptr, entries);
        for (const auto& e : entries.objects)
            required.insert(e.first);
    }
    for (const auto& o : w.objects)
        if (!required.count(o.first)) w.optional.insert(o.first);
    for (const auto& [stage, entry] : LockFile::load(repo).stages)
        for (const auto* list : {&entry.deps, &entry.outs})
            for (const auto& lp : *list)
                if (lp.snap.is_dir) w.manifests.insert(to_hex(lp.snap.digest));
    for (const ModelVersion& v : Registry(repo.db()).all_versions())
        if (v.is_dir) w.manifests.insert(to_hex(v.object));
    return w;
}

// The objects among `hexes` that the remote has: one listing per shard they fall in, in
// parallel. With `everything`, all of the remote's objects.
std::unordered_set<std::string> remote_objects(Remote& remote,
                                               const std::vector<std::string>& hexes,
                                               bool everything, unsigned jobs) {
    std::vector<std::string> shards;
    if (everything) {
        static const char hexdig[] = "0123456789abcdef";
        for (int i = 0; i < 256; ++i)
            shards.push_back({hexdig[i >> 4], hexdig[i & 15]});
    } else {
        std::set<std::string> s;
        for (const auto& h : hexes)
            s.insert(h.substr(0, 2));
        shards.assign(s.begin(), s.end());
    }
    std::unordered_set<std::string> have;
    std::mutex mu;
    parallel_for(shards.size(), jobs, [&](size_t i) {
        const std::string prefix = kObjectsPrefix + shards[i] + "/";
        std::vector<std::string> found;
        remote.list(prefix, [&](std::string_view key, uint64_t) {
            std::string_view rest = key.substr(prefix.size());
            if (rest.size() != 62) return;  // not an object name
            std::string hex = shards[i] + std::string(rest);
            if (digest_from_hex(hex)) found.push_back(std::move(hex));
        });
        std::lock_guard<std::mutex> lock(mu);
        for (auto& h : found)
            have.insert(std::move(h));
    });
    return have;
}

std::set<std::string> remote_meta_keys(Remote& remote) {
    std::set<std::string> keys;
    remote.list(kMetaPrefix, [&](std::string_view key, uint64_t) {
        std::string rel(key.substr(std::string_view(kMetaPrefix).size()));
        if (is_meta_key(rel)) keys.insert(std::move(rel));
    });
    return keys;
}

// The remote index (migration 8).
std::unordered_set<std::string> index_load(Database& db, const std::string& id) {
    std::unordered_set<std::string> out;
    if (id.empty()) return out;
    Database::Statement q(db, "SELECT object FROM remote_objects WHERE remote = ?");
    q.bind(1, id);
    while (q.step())
        out.insert(to_hex(q.column_digest(0)));
    return out;
}

void index_change(Database& db, const std::string& id, const std::vector<std::string>& hexes,
                  bool add) {
    if (id.empty() || hexes.empty()) return;
    Database::Transaction tx(db);
    Database::Statement q(db, add ? "INSERT OR IGNORE INTO remote_objects VALUES (?, ?)"
                                  : "DELETE FROM remote_objects WHERE remote = ? AND object = ?");
    for (const auto& hex : hexes) {
        Digest d = *digest_from_hex(hex);
        q.reset();
        q.bind(1, id);
        q.bind_blob(2, d.data(), d.size());
        q.step();
    }
    tx.commit();
}

void index_clear(Database& db, const std::string& id) {
    if (id.empty()) return;
    Database::Statement q(db, "DELETE FROM remote_objects WHERE remote = ?");
    q.bind(1, id);
    q.step();
}

unsigned jobs_for(const Remote& remote, const SyncOptions& o) {
    return o.jobs ? o.jobs : remote.default_jobs();
}

uint64_t object_file_size(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

std::string missing_text(const std::string& where, const std::string& hex) {
    return where + " (" + hex.substr(0, 12) + ")";
}

}  // namespace

std::string remote_index_id(const RemoteSpec& spec) {
    return spec.endpoint.empty() ? spec.url : spec.url + " " + spec.endpoint;
}

SyncResult push(Repository& repo, Remote& remote, const SyncOptions& o) {
    SyncResult r;
    const unsigned jobs = jobs_for(remote, o);
    remote.set_jobs(jobs);
    Wanted w;
    if (o.all) {
        repo.store().list([&](const ObjectStore::Listed& l) {
            if (l.digest) w.objects.emplace(to_hex(*l.digest), "the store");
        });
    } else {
        w = wanted_objects(repo, o.paths);
    }
    if (o.refresh) index_clear(repo.db(), o.index_id);
    std::unordered_set<std::string> known = index_load(repo.db(), o.index_id);
    // What the index says the remote has needs no look at the store (a no-op push of 100,000
    // objects would spend a third of its time in access(2)).
    std::vector<std::string> local;
    for (const auto& [hex, where] : w.objects) {
        if (known.count(hex) || repo.store().contains(*digest_from_hex(hex)))
            local.push_back(hex);
        else if (!w.optional.count(hex))
            r.missing.push_back(missing_text(where, hex));
    }
    std::vector<std::string> unknown;
    for (const auto& hex : local)
        if (!known.count(hex)) unknown.push_back(hex);
    if (o.progress) o.progress->start("listing " + remote.describe(), 0);
    std::unordered_set<std::string> have;
    if (!unknown.empty()) have = remote_objects(remote, unknown, false, jobs);
    // Files first, manifests after them: a manifest on the remote means its files are there.
    std::vector<std::string> files, manifests, seen;
    for (const auto& hex : local) {
        if (known.count(hex) || have.count(hex)) {
            ++r.present;
            if (!known.count(hex)) seen.push_back(hex);
            continue;
        }
        (w.manifests.count(hex) ? manifests : files).push_back(hex);
    }
    index_change(repo.db(), o.index_id, seen, true);
    if (o.progress) o.progress->start("pushing", files.size() + manifests.size());
    std::atomic<uint64_t> bytes{0};
    // What went up is recorded as it goes (in batches), so an interrupted push keeps it.
    std::mutex done_mu, index_mu;
    std::vector<std::string> done;
    auto record_done = [&](bool all) {
        std::vector<std::string> batch;
        {
            std::lock_guard<std::mutex> g(done_mu);
            if (!all && done.size() < 1024) return;
            batch.swap(done);
        }
        std::lock_guard<std::mutex> g(index_mu);  // one transaction at a time on the connection
        index_change(repo.db(), o.index_id, batch, true);
    };
    try {
        for (const auto* batch : {&files, &manifests}) {
            parallel_for(batch->size(), jobs, [&](size_t i) {
                const std::string& hex = (*batch)[i];
                Digest d = *digest_from_hex(hex);
                fs::path src = repo.store().path_of(d);
                remote.put_file(object_key(hex), src, d);
                bytes += object_file_size(src);
                {
                    std::lock_guard<std::mutex> g(done_mu);
                    done.push_back(hex);
                }
                record_done(false);
                if (o.progress) o.progress->advance();
            });
        }
    } catch (...) {
        record_done(true);
        throw;
    }
    record_done(true);
    r.objects = files.size() + manifests.size();
    r.bytes = bytes;

    if (o.meta && o.paths.empty()) {
        std::vector<std::string> keys = meta_keys(repo.db());
        std::set<std::string> there = remote_meta_keys(remote);
        std::vector<std::string> send;
        for (auto& k : keys)
            if (!there.count(k)) send.push_back(std::move(k));
        if (o.progress) o.progress->start("pushing records", send.size());
        for (size_t at = 0; at < send.size(); at += kRecordBatch) {
            std::vector<std::string> part(
                send.begin() + long(at),
                send.begin() + long(std::min(send.size(), at + kRecordBatch)));
            std::vector<MetaRecord> records = export_meta(repo.db(), part);
            parallel_for(records.size(), jobs, [&](size_t i) {
                remote.put_bytes(kMetaPrefix + records[i].key, records[i].body);
                if (o.progress) o.progress->advance();
            });
        }
        r.records = send.size();
    }
    return r;
}

SyncResult fetch(Repository& repo, Remote& remote, const SyncOptions& o) {
    SyncResult r;
    const unsigned jobs = jobs_for(remote, o);
    // Records first: the registry versions they add are objects to fetch.
    if (o.meta && o.paths.empty()) {
        if (o.progress) o.progress->start("listing records", 0);
        std::set<std::string> there = remote_meta_keys(remote);
        std::vector<std::string> local = meta_keys(repo.db());
        for (const auto& k : local)
            there.erase(k);
        std::vector<std::string> get(there.begin(), there.end());
        std::vector<MetaRecord> records(get.size());
        if (o.progress) o.progress->start("fetching records", get.size());
        parallel_for(get.size(), jobs, [&](size_t i) {
            records[i].key = get[i];
            records[i].body = remote.get_bytes(kMetaPrefix + get[i]);
            if (o.progress) o.progress->advance();
        });
        r.records = records.size();
        if (!records.empty()) r.merge = import_meta(repo.db(), records);
    }

    auto lock = repo.lock_workspace({});
    std::set<std::string> tried;  // every object asked for, so rounds never repeat one
    std::atomic<uint64_t> bytes{0}, objects{0};
    std::mutex mu;
    std::vector<std::string> fetched;
    // Round by round: a directory's manifest must be here before its files can be named.
    for (int round = 0; round < 4; ++round) {
        Wanted w;
        std::vector<std::string> need;
        std::unordered_set<std::string> have;
        if (o.all) {
            have = remote_objects(remote, {}, true, jobs);
            for (const auto& hex : have)
                if (!tried.count(hex)) w.objects.emplace(hex, "the remote");
        } else {
            w = wanted_objects(repo, o.paths);
        }
        for (const auto& [hex, where] : w.objects) {
            if (tried.count(hex)) continue;
            tried.insert(hex);
            if (repo.store().contains(*digest_from_hex(hex))) {
                ++r.present;
                continue;
            }
            need.push_back(hex);
        }
        if (need.empty()) break;
        // No listing first: every object asked for is one GET anyway, and a 404 says it is
        // missing. (A listing would only save requests for objects the remote lacks.)
        std::vector<std::string> get = std::move(need);
        if (o.progress) o.progress->start("fetching", get.size());
        parallel_for(get.size(), jobs, [&](size_t i) {
            const std::string& hex = get[i];
            Digest d = *digest_from_hex(hex);
            for (int attempt = 1;; ++attempt) {
                ObjectStore::Incoming in(repo.store(), d);
                try {
                    remote.get(
                        object_key(hex), [&](const char* p, size_t n) { in.write(p, n); },
                        [&] { in.restart(); });
                } catch (const RemoteNotFound&) {
                    if (w.optional.count(hex)) break;  // e.g. a dependency git tracks
                    std::lock_guard<std::mutex> g(mu);
                    r.missing.push_back(missing_text(w.objects.at(hex), hex));
                    break;
                }
                uint64_t n = in.size();
                if (in.commit()) {
                    bytes += n;
                    ++objects;
                    std::lock_guard<std::mutex> g(mu);
                    fetched.push_back(hex);
                    break;
                }
                if (attempt == kVerifyAttempts) {
                    std::lock_guard<std::mutex> g(mu);
                    r.corrupt.push_back(missing_text(w.objects.at(hex), hex));
                    break;
                }
            }
            if (o.progress) o.progress->advance();
        });
        if (o.all) break;
    }
    if (repo.config().fsync && objects > 0) repo.store().sync();
    index_change(repo.db(), o.index_id, fetched, true);
    r.objects = objects;
    r.bytes = bytes;
    std::sort(r.missing.begin(), r.missing.end());
    std::sort(r.corrupt.begin(), r.corrupt.end());
    return r;
}

std::vector<Unpushed> unpushed(Repository& repo, Remote& remote,
                               const std::vector<std::string>& paths, unsigned jobs) {
    Wanted w = wanted_objects(repo, paths);
    std::vector<std::string> local;
    for (const auto& [hex, where] : w.objects)
        if (repo.store().contains(*digest_from_hex(hex))) local.push_back(hex);
    std::unordered_set<std::string> have =
        remote_objects(remote, local, false, jobs ? jobs : remote.default_jobs());
    std::vector<Unpushed> out;
    for (const auto& hex : local)
        if (!have.count(hex)) out.push_back({w.objects.at(hex), hex});
    std::sort(out.begin(), out.end(),
              [](const Unpushed& a, const Unpushed& b) { return a.path < b.path; });
    return out;
}

RemoteGcResult gc_remote(Repository& repo, Remote& remote, DryRun dry, AllCommits all_commits,
                         unsigned jobs, const std::string& index_id) {
    if (!jobs) jobs = remote.default_jobs();
    {
        std::set<std::string> there = remote_meta_keys(remote);
        for (const auto& k : meta_keys(repo.db()))
            there.erase(k);
        if (!there.empty())
            throw Error("remote " + quote(remote.describe()) + " holds " +
                        std::to_string(there.size()) +
                        " run or registry records this repository has not fetched (such as " +
                        quote("meta/" + *there.begin()) +
                        "); run 'mlo fetch' first so the models they name are kept");
    }
    std::vector<Pointer> pointers = find_pointers(repo);
    References refs = collect_references(repo, pointers, all_commits);
    if (!refs.unknown.empty()) {
        const Pointer* p = refs.unknown.front();
        throw Error("cannot collect garbage: the manifest of " + quote(p->rel) + " (" +
                    to_hex(p->digest) + ") is not in the store, so what it references is unknown");
    }
    RemoteGcResult r;
    std::vector<std::string> doomed;
    std::mutex mu;
    parallel_for(256, jobs, [&](size_t i) {
        static const char hexdig[] = "0123456789abcdef";
        const std::string shard{hexdig[i >> 4], hexdig[i & 15]};
        const std::string prefix = kObjectsPrefix + shard + "/";
        std::vector<std::pair<std::string, uint64_t>> found;
        remote.list(prefix, [&](std::string_view key, uint64_t size) {
            std::string hex = shard + std::string(key.substr(prefix.size()));
            if (digest_from_hex(hex)) found.emplace_back(std::move(hex), size);
        });
        std::lock_guard<std::mutex> lock(mu);
        for (auto& [hex, size] : found) {
            if (refs.objects.count(hex)) {
                ++r.kept;
                continue;
            }
            r.bytes += size;
            r.removed.push_back(hex);
        }
    });
    std::sort(r.removed.begin(), r.removed.end());
    if (dry == DryRun::no) {
        for (const auto& hex : r.removed)
            doomed.push_back(object_key(hex));
        constexpr size_t kBatch = 1000;
        parallel_for((doomed.size() + kBatch - 1) / kBatch, jobs, [&](size_t b) {
            std::vector<std::string> part(
                doomed.begin() + long(b * kBatch),
                doomed.begin() + long(std::min(doomed.size(), (b + 1) * kBatch)));
            remote.remove(part);
        });
        index_change(repo.db(), index_id, r.removed, false);
    }
    return r;
}

}  // namespace mlo::core
