#include "storage/stat_cache.hpp"

#include <algorithm>
#include <cstring>
#include <set>

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

// `path` equals `dir` or lies below it ("" holds everything).
bool below(std::string_view path, std::string_view dir) {
    return dir.empty() || path == dir ||
           (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
            path[dir.size()] == '/');
}

// A block as stored: the magic, the entry count, the size of the path pool, then one fixed
// record per entry (sorted by path), then the paths. Native byte order: mlo.db never leaves the
// machine (it is not committed), and a block that does not parse is only a cache miss.
constexpr char kBlockMagic[8] = {'m', 'l', 'o', 's', 'c', '1', 0, 0};
struct BlockRecord {
    uint64_t size;
    int64_t mtime_ns;
    int64_t ctime_ns;
    uint64_t inode;
    int64_t cached_at_ns;
    uint32_t path_offset;
    uint16_t path_size;  // a path is at most PATH_MAX (4096) bytes
    uint16_t flags;      // kExecutable
    uint8_t digest[32];
};
constexpr uint16_t kExecutable = 1;
static_assert(sizeof(BlockRecord) == 80, "the stored record layout must not change silently");
constexpr size_t kBlockHeader = sizeof(kBlockMagic) + 2 * sizeof(uint64_t);

constexpr const char* kRowColumns =
    "SELECT path, size, mtime_ns, ctime_ns, inode, hash, cached_at_ns FROM stat_cache";

}  // namespace

// One row of kRowColumns, but its path; false for a row without a 32-byte hash.
bool StatCache::read_row(const Database::Statement& q, Row& r) {
    size_t n = 0;
    const void* blob = q.column_blob(5, &n);
    if (n != r.digest.size()) return false;
    std::memcpy(r.digest.data(), blob, n);
    r.st.size = uint64_t(q.column_int(1));
    r.st.mtime_ns = q.column_int(2);
    r.st.ctime_ns = q.column_int(3);
    r.st.inode = uint64_t(q.column_int(4));
    r.cached_at_ns = q.column_int(6);
    return true;
}

struct StatCache::Block {
    struct Entry {
        std::string_view path;  // into `pool`
        Row row;
    };
    std::string pool;
    std::vector<Entry> entries;  // sorted by path, unique
    // Recorded below the directory since the block was loaded, paths relative to it; merged at
    // flush().
    std::vector<std::pair<std::string, Row>> updates;
    bool dirty = false;      // the stored block is out of date
    bool drop_rows = false;  // rows of table stat_cache below the directory are to go
    // The manifest whose files the entries are, exactly (see replace_dir()).
    std::optional<Digest> manifest;

    const Row* find(std::string_view rel) const {
        auto it = std::lower_bound(entries.begin(), entries.end(), rel,
                                   [](const Entry& e, std::string_view p) { return e.path < p; });
        return it != entries.end() && it->path == rel ? &it->row : nullptr;
    }

    // Replaces the entries with `sorted` (unique paths, ascending), copying their paths.
    template <typename Paths>
    void assign(const Paths& sorted) {
        size_t total = 0;
        for (const auto& [path, row] : sorted)
            total += std::string_view(path).size();
        std::string next_pool;
        next_pool.reserve(total);
        std::vector<Entry> next;
        next.reserve(sorted.size());
        for (const auto& [path, row] : sorted) {
            std::string_view p(path);
            next_pool.append(p);
            next.push_back({p, row});  // pointed into the pool below, once it is in place
        }
        pool.swap(next_pool);  // (a short pool lives inside the string: views come after)
        size_t offset = 0;
        for (auto& e : next) {
            e.path = std::string_view(pool.data() + offset, e.path.size());
            offset += e.path.size();
        }
        entries.swap(next);
    }

    // Applies the updates: a later update of a path wins over an earlier one and the entry.
    // An update that is not the same file content (digest, size, executable bit) as its entry
    // ends the block's mirroring of a manifest.
    void merge_updates() {
        if (updates.empty()) return;
        std::stable_sort(updates.begin(), updates.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [path, row] : updates) {
            if (!manifest) break;
            const Row* have = find(path);
            if (!have || have->digest != row.digest || have->st.size != row.st.size ||
                have->st.executable != row.st.executable)
                manifest.reset();
        }
        std::vector<std::pair<std::string_view, Row>> merged;
        merged.reserve(entries.size() + updates.size());
        size_t i = 0, j = 0;
        while (i < entries.size() || j < updates.size()) {
            if (j < updates.size() && j + 1 < updates.size() &&
                updates[j].first == updates[j + 1].first) {
                ++j;  // a later update of the same path follows
                continue;
            }
            int cmp = i == entries.size()   ? 1
                      : j == updates.size() ? -1
                                            : entries[i].path.compare(updates[j].first);
            if (cmp < 0) {
                merged.emplace_back(entries[i].path, entries[i].row);
                ++i;
            } else {
                merged.emplace_back(updates[j].first, updates[j].second);
                if (cmp == 0) ++i;
                ++j;
            }
        }
        assign(merged);  // copies the paths before `updates` (which some point into) goes
        updates.clear();
        dirty = true;
    }

    std::string serialize() const {
        std::string out(kBlockHeader + entries.size() * sizeof(BlockRecord) + pool.size(), '\0');
        char* p = out.data();
        std::memcpy(p, kBlockMagic, sizeof(kBlockMagic));
        uint64_t count = entries.size(), pool_size = pool.size();
        std::memcpy(p + sizeof(kBlockMagic), &count, sizeof(count));
        std::memcpy(p + sizeof(kBlockMagic) + sizeof(count), &pool_size, sizeof(pool_size));
        char* rec = p + kBlockHeader;
        for (const auto& e : entries) {
            BlockRecord r{};
            r.size = e.row.st.size;
            r.mtime_ns = e.row.st.mtime_ns;
            r.ctime_ns = e.row.st.ctime_ns;
            r.inode = e.row.st.inode;
            r.cached_at_ns = e.row.cached_at_ns;
            r.path_offset = uint32_t(e.path.data() - pool.data());
            r.path_size = uint16_t(e.path.size());
            r.flags = e.row.st.executable ? kExecutable : 0;
            std::memcpy(r.digest, e.row.digest.data(), sizeof(r.digest));
            std::memcpy(rec, &r, sizeof(r));
            rec += sizeof(r);
        }
        std::memcpy(rec, pool.data(), pool.size());
        return out;
    }

    // false: not a block this version wrote (the entries stay empty).
    bool parse(const char* data, size_t size) {
        if (size < kBlockHeader || std::memcmp(data, kBlockMagic, sizeof(kBlockMagic)) != 0)
            return false;
        uint64_t count = 0, pool_size = 0;
        std::memcpy(&count, data + sizeof(kBlockMagic), sizeof(count));
        std::memcpy(&pool_size, data + sizeof(kBlockMagic) + sizeof(count), sizeof(pool_size));
        if (count > (size - kBlockHeader) / sizeof(BlockRecord) ||
            size - kBlockHeader - count * sizeof(BlockRecord) != pool_size)
            return false;
        pool.assign(data + kBlockHeader + count * sizeof(BlockRecord), pool_size);
        std::vector<Entry> out(count);
        const char* rec = data + kBlockHeader;
        for (uint64_t k = 0; k < count; ++k, rec += sizeof(BlockRecord)) {
            BlockRecord r;
            std::memcpy(&r, rec, sizeof(r));
            if (uint64_t(r.path_offset) + r.path_size > pool_size) return false;
            Entry& e = out[k];
            e.path = std::string_view(pool.data() + r.path_offset, r.path_size);
            if (k > 0 && !(out[k - 1].path < e.path)) return false;
            e.row.st.size = r.size;
            e.row.st.mtime_ns = r.mtime_ns;
            e.row.st.ctime_ns = r.ctime_ns;
            e.row.st.inode = r.inode;
            e.row.st.executable = (r.flags & kExecutable) != 0;
            e.row.cached_at_ns = r.cached_at_ns;
            std::memcpy(e.row.digest.data(), r.digest, sizeof(r.digest));
        }
        entries.swap(out);
        return true;
    }
};

StatCache::StatCache(Database& db, bool persistent) : db_(db), persistent_(persistent) {}

StatCache::~StatCache() = default;

int64_t StatCache::racy_window(const FileStat& st) {
    bool whole_seconds = st.mtime_ns % 1000000000 == 0;
    return whole_seconds ? 2000000000LL : 100000000LL;
}

bool StatCache::trusted(const Row& r, const FileStat& st) {
    return r.st.size == st.size && r.st.mtime_ns == st.mtime_ns && r.st.ctime_ns == st.ctime_ns &&
           r.st.inode == st.inode && st.mtime_ns + racy_window(st) <= r.cached_at_ns;
}

void StatCache::load(std::string_view prefix) {
    if (!persistent_) return;
    std::string p(prefix);
    for (const auto& l : loaded_) {
        if (below(p, l)) return;
    }
    loaded_.push_back(p);
    load_blocks(prefix);
    auto read_rows = [&](Database::Statement& q) {
        Row r;
        while (q.step()) {
            if (read_row(q, r)) rows_[q.column_text(0)] = r;
        }
    };
    const char* cols = kRowColumns;
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

void StatCache::load_blocks(std::string_view prefix) {
    std::vector<std::string> dirs;
    Database::Statement q(db_, "SELECT dir FROM stat_cache_dirs");
    while (q.step()) {
        std::string dir = q.column_text(0);
        // Blocks below the prefix, and the one holding it.
        if (below(dir, prefix) || below(prefix, dir)) dirs.push_back(std::move(dir));
    }
    for (const auto& dir : dirs)
        block_at(dir);
}

void StatCache::load_dir(std::string_view dir) {
    block_at(dir);
}

StatCache::Block& StatCache::block_at(std::string_view dir) {
    auto it = blocks_.find(dir);
    if (it != blocks_.end()) return *it->second;
    auto block = std::make_unique<Block>();
    if (persistent_) {
        {
            Database::Statement q(db_,
                                  "SELECT entries, manifest FROM stat_cache_dirs WHERE dir = ?1");
            q.bind(1, dir);
            if (q.step()) {
                size_t n = 0;
                const void* data = q.column_blob(0, &n);
                if (!block->parse(static_cast<const char*>(data), n)) {
                    block->entries.clear();
                    block->dirty = true;  // rewrite what this version cannot read
                } else if (!q.column_is_null(1)) {
                    block->manifest = q.column_digest(1);
                }
            }
        }
        // Rows below the directory (an older mlo wrote them, or the directory was a plain one
        // then) move into the block.
        Database::Statement q(
            db_, (std::string(kRowColumns) + " WHERE path >= ?1 AND path < ?2").c_str());
        std::string from = std::string(dir) + "/";
        q.bind(1, from).bind(2, prefix_end(from));
        Row r;
        while (q.step()) {
            if (!read_row(q, r)) continue;
            block->updates.emplace_back(q.column_text(0).substr(from.size()), r);
            block->drop_rows = true;
        }
        // Older than anything in the block? Not known: keep the newer of the two per path.
        if (!block->updates.empty()) {
            for (auto& [path, row] : block->updates) {
                if (const Row* have = block->find(path);
                    have && have->cached_at_ns > row.cached_at_ns)
                    row = *have;
            }
            block->merge_updates();
        }
    }
    Block& ref = *block;
    blocks_.emplace(std::string(dir), std::move(block));
    return ref;
}

StatCache::Block* StatCache::block_for(std::string_view path, std::string_view* rel) const {
    if (blocks_.empty()) return nullptr;
    for (size_t slash = path.rfind('/'); slash != std::string_view::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
        auto it = blocks_.find(path.substr(0, slash));
        if (it != blocks_.end()) {
            *rel = path.substr(slash + 1);
            return it->second.get();
        }
    }
    return nullptr;
}

std::optional<Digest> StatCache::lookup(std::string_view path, const FileStat& st) const {
    std::string_view rel;
    if (const Block* b = block_for(path, &rel)) {
        if (const Row* r = b->find(rel); r && trusted(*r, st)) return r->digest;
    }
    auto it = rows_.find(std::string(path));
    if (it == rows_.end() || !trusted(it->second, st)) return std::nullopt;
    return it->second.digest;
}

std::optional<Digest> StatCache::lookup_in(std::string_view dir, std::string_view rel,
                                           const FileStat& st) const {
    auto it = blocks_.find(dir);
    if (it == blocks_.end()) return lookup(std::string(dir) + "/" + std::string(rel), st);
    if (const Row* r = it->second->find(rel); r && trusted(*r, st)) return r->digest;
    return std::nullopt;
}

void StatCache::record(const std::string& path, const FileStat& st, const Digest& d,
                       int64_t started_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(path, Row{st, d, started_ns});
}

std::optional<StatCache::Mirror> StatCache::mirror(std::string_view dir,
                                                   const Digest& manifest) const {
    auto it = blocks_.find(dir);
    if (it == blocks_.end()) return std::nullopt;
    const Block& b = *it->second;
    if (b.manifest != manifest || !b.updates.empty()) return std::nullopt;
    return Mirror(&b);
}

size_t StatCache::Mirror::size() const {
    return block_->entries.size();
}
std::string_view StatCache::Mirror::path(size_t i) const {
    return block_->entries[i].path;
}
const Digest& StatCache::Mirror::digest(size_t i) const {
    return block_->entries[i].row.digest;
}
uint64_t StatCache::Mirror::file_size(size_t i) const {
    return block_->entries[i].row.st.size;
}
bool StatCache::Mirror::executable(size_t i) const {
    return block_->entries[i].row.st.executable;
}
std::optional<Digest> StatCache::Mirror::lookup(size_t i, const FileStat& st) const {
    const Row& r = block_->entries[i].row;
    if (!trusted(r, st)) return std::nullopt;
    return r.digest;
}

void StatCache::replace_dir(std::string_view dir, std::vector<DirEntry> entries,
                            std::optional<Digest> manifest) {
    Block& b = block_at(dir);
    std::sort(entries.begin(), entries.end(),
              [](const DirEntry& x, const DirEntry& y) { return x.path < y.path; });
    std::vector<std::pair<std::string_view, Row>> sorted;
    sorted.reserve(entries.size());
    for (const auto& e : entries) {
        if (!sorted.empty() && sorted.back().first == e.path) sorted.pop_back();
        sorted.emplace_back(e.path, Row{e.st, e.digest, e.cached_at_ns});
    }
    b.assign(sorted);
    b.updates.clear();
    b.dirty = true;
    b.drop_rows = true;
    b.manifest = manifest;
}

bool StatCache::flush() {
    std::vector<std::pair<std::string, Row>> rows;
    {
        std::lock_guard<std::mutex> lock(mu_);
        rows.swap(pending_);
    }
    try {
        write(rows);
    } catch (const Error&) {
        // A cache that cannot be saved (full disk, read-only file system) only costs hashing
        // again later; it must not fail the command.
        return false;
    }
    return true;
}

void StatCache::write(std::vector<std::pair<std::string, Row>>& rows) {
    bool dirty =
        std::any_of(blocks_.begin(), blocks_.end(), [](const auto& b) { return b.second->dirty; });
    if (rows.empty() && !dirty) return;
    std::optional<Database::Transaction> tx;
    if (persistent_) tx.emplace(db_);

    // Entries below a block directory go to its block, loaded now if it was not.
    std::set<std::string, std::less<>> dirs;
    for (const auto& [dir, block] : blocks_)
        dirs.insert(dir);
    if (persistent_ && !rows.empty()) {
        Database::Statement q(db_, "SELECT dir FROM stat_cache_dirs");
        while (q.step())
            dirs.insert(q.column_text(0));
    }
    std::vector<std::pair<std::string, Row>> plain;
    for (auto& [path, row] : rows) {
        std::string_view p(path);
        bool placed = false;
        for (size_t slash = p.rfind('/');
             !dirs.empty() && slash != std::string_view::npos && slash > 0;
             slash = p.rfind('/', slash - 1)) {
            auto it = dirs.find(p.substr(0, slash));
            if (it == dirs.end()) continue;
            block_at(*it).updates.emplace_back(path.substr(slash + 1), row);
            placed = true;
            break;
        }
        if (!placed) plain.emplace_back(std::move(path), row);
    }

    for (auto& [dir, block] : blocks_) {
        block->merge_updates();
        if (!block->dirty || !persistent_) continue;
        std::string blob = block->serialize();
        Database::Statement ins(
            db_, "INSERT OR REPLACE INTO stat_cache_dirs(dir, entries, manifest) VALUES (?, ?, ?)");
        ins.bind(1, dir).bind_blob(2, blob.data(), blob.size());
        if (block->manifest)
            ins.bind_blob(3, block->manifest->data(), block->manifest->size());
        else
            ins.bind_null(3);
        ins.step();
        if (block->drop_rows) {
            Database::Statement del(db_, "DELETE FROM stat_cache WHERE path >= ?1 AND path < ?2");
            del.bind(1, dir + "/").bind(2, prefix_end(dir + "/"));
            del.step();
        }
    }

    if (persistent_ && !plain.empty()) {
        Database::Statement ins(
            db_,
            "INSERT OR REPLACE INTO stat_cache(path, size, mtime_ns, ctime_ns, inode, "
            "hash, cached_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)");
        for (auto& [path, r] : plain) {
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
    }
    if (tx) tx->commit();
    for (auto& [dir, block] : blocks_) {
        block->dirty = false;
        block->drop_rows = false;
    }
    for (auto& [path, r] : plain)
        rows_[path] = r;
}

}  // namespace mlo
