#include "storage/stat_cache.hpp"

#include <algorithm>
#include <cstring>

#include "storage/error.hpp"

namespace mlo {

namespace {

// The smallest string greater than every string that starts with `prefix`.
std::string prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        unsigned char c = static_cast<unsigned char>(prefix.back());
        if (c < 0xff) {
            prefix.back() = char(c + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return prefix;
}

}  // namespace

StatCache::StatCache(Database& db, bool persistent) : db_(db), persistent_(persistent) {}

int64_t StatCache::racy_window(const FileStat& st) {
    bool whole_seconds = st.mtime_ns % 1000000000 == 0;
    return whole_seconds ? 2000000000LL : 100000000LL;
}

void StatCache::load(std::string_view prefix) {
    if (!persistent_) return;
    std::string p(prefix);
    for (const auto& l : loaded_) {
        if (l.empty() || p == l ||
            (p.size() > l.size() && p.compare(0, l.size(), l) == 0 && p[l.size()] == '/'))
            return;
    }
    loaded_.push_back(p);
    auto read_rows = [&](Database::Statement& q) {
        while (q.step()) {
            Row r;
            std::string path = q.column_text(0);
            r.st.size = uint64_t(q.column_int(1));
            r.st.mtime_ns = q.column_int(2);
            r.st.ctime_ns = q.column_int(3);
            r.st.inode = uint64_t(q.column_int(4));
            size_t n = 0;
            const void* blob = q.column_blob(5, &n);
            if (n != r.digest.size()) continue;
            std::memcpy(r.digest.data(), blob, n);
            r.cached_at_ns = q.column_int(6);
            rows_[std::move(path)] = r;
        }
    };
    const char* cols =
        "SELECT path, size, mtime_ns, ctime_ns, inode, hash, cached_at_ns FROM stat_cache";
    if (p.empty()) {
        Database::Statement q(db_, cols);
        read_rows(q);
        return;
    }
    std::string exact = std::string(cols) + " WHERE path = ?1 OR (path >= ?2 AND path < ?3)";
    Database::Statement q(db_, exact.c_str());
    q.bind(1, p).bind(2, p + "/").bind(3, prefix_end(p + "/"));
    read_rows(q);
}

std::optional<Digest> StatCache::lookup(const std::string& path, const FileStat& st) const {
    auto it = rows_.find(path);
    if (it == rows_.end()) return std::nullopt;
    const Row& r = it->second;
    if (r.st.size != st.size || r.st.mtime_ns != st.mtime_ns || r.st.ctime_ns != st.ctime_ns ||
        r.st.inode != st.inode)
        return std::nullopt;
    if (st.mtime_ns + racy_window(st) > r.cached_at_ns) return std::nullopt;
    return r.digest;
}

void StatCache::record(const std::string& path, const FileStat& st, const Digest& d,
                       int64_t started_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(path, Row{st, d, started_ns});
}

void StatCache::forget(std::string_view prefix) {
    std::string p(prefix);
    if (persistent_) {
        Database::Statement q(
            db_, "DELETE FROM stat_cache WHERE path = ?1 OR (path >= ?2 AND path < ?3)");
        q.bind(1, p).bind(2, p + "/").bind(3, prefix_end(p + "/"));
        q.step();
    }
    auto below = [&](const std::string& path) {
        return p.empty() || path == p ||
               (path.size() > p.size() && path.compare(0, p.size(), p) == 0 &&
                path[p.size()] == '/');
    };
    for (auto it = rows_.begin(); it != rows_.end();)
        it = below(it->first) ? rows_.erase(it) : std::next(it);
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [&](const auto& r) { return below(r.first); }),
                   pending_.end());
}

bool StatCache::flush() {
    std::vector<std::pair<std::string, Row>> rows;
    {
        std::lock_guard<std::mutex> lock(mu_);
        rows.swap(pending_);
    }
    if (rows.empty()) return true;
    if (!persistent_) {
        for (auto& [path, r] : rows)
            rows_[path] = r;
        return true;
    }
    try {
        write_rows(rows);
    } catch (const Error&) {
        // A cache that cannot be saved (full disk, read-only file system) only costs hashing
        // again later; it must not fail the command.
        return false;
    }
    return true;
}

void StatCache::write_rows(std::vector<std::pair<std::string, Row>>& rows) {
    Database::Transaction tx(db_);
    Database::Statement ins(
        db_,
        "INSERT OR REPLACE INTO stat_cache(path, size, mtime_ns, ctime_ns, inode, "
        "hash, cached_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (auto& [path, r] : rows) {
        ins.bind(1, path)
            .bind(2, int64_t(r.st.size))
            .bind(3, r.st.mtime_ns)
            .bind(4, r.st.ctime_ns)
            .bind(5, int64_t(r.st.inode))
            .bind_blob(6, r.digest.data(), r.digest.size())
            .bind(7, r.cached_at_ns);
        ins.step();
        ins.reset();
    }
    tx.commit();
    for (auto& [path, r] : rows)
        rows_[path] = r;
}

}  // namespace mlo
