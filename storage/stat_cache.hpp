#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/database.hpp"
#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo {

// Remembers the hash of files by (path, size, mtime, ctime, inode), so an unchanged file is
// never read again. Entries live in mlo.db; lookups go through an in-memory copy loaded per
// prefix.
//
// Two layouts, one meaning. Below a directory declared with load_dir() (a tracked directory:
// 100,000 files, say) every entry lives in one packed block, a single row of table
// stat_cache_dirs read and written in one piece; anything else is a row of its own in table
// stat_cache. A block is what makes `status` of a large tree cost one read instead of a row per
// file (and `add` one write). An entry is a fact about a file's bytes whichever layout holds
// it, so the two may overlap without harm (rows below a block are folded into it when it loads).
//
// Racy-git guard: a file modified so soon before the command that cached it that a later edit
// could keep the same timestamp is not trusted. Timestamps come from a coarse clock, so an edit
// within the same tick leaves mtime unchanged; an entry is trusted only when the file's mtime is
// at least racy_window() older than the moment its row was recorded.
class StatCache {
public:
    // `persistent` false: entries live in memory only, never read from or written to the
    // database (an experiment's private workspace, whose paths equal the user's but whose files
    // do not).
    explicit StatCache(Database& db, bool persistent = true);
    ~StatCache();

    // The safety margin for a file timestamp: 100 ms where the file system keeps sub-second
    // timestamps (a clock tick is at most 10 ms), 2 s where it keeps whole seconds (FAT, old ext3).
    static int64_t racy_window(const FileStat& st);

    // Loads the entries whose path equals `prefix` or lies below `prefix/` ("" loads all).
    void load(std::string_view prefix);
    // Declares `dir` a block directory and loads its block: from now on every entry below it is
    // kept in the block.
    void load_dir(std::string_view dir);

    std::optional<Digest> lookup(std::string_view path, const FileStat& st) const;
    // The same for `dir`/`rel` where `dir` was passed to load_dir(): a binary search in its
    // block, without building the full path.
    std::optional<Digest> lookup_in(std::string_view dir, std::string_view rel,
                                    const FileStat& st) const;

    // Buffers an entry; thread-safe. `started_ns` is when the caller began looking at the file.
    void record(const std::string& path, const FileStat& st, const Digest& d, int64_t started_ns);

    struct DirEntry {
        std::string path;  // relative to the directory
        FileStat st;
        Digest digest{};
        int64_t cached_at_ns = 0;
    };
    // Everything known below block directory `dir` (a directory just added, every file
    // scanned): replaces its block at the next flush(), so files no longer there leave it.
    // `manifest`: the entries are exactly that manifest's files (path, digest, size, executable
    // bit), so that mirror() can stand in for reading and parsing it.
    void replace_dir(std::string_view dir, std::vector<DirEntry> entries,
                     std::optional<Digest> manifest = std::nullopt);

private:
    struct Block;

public:
    // The block of `dir` while it holds exactly the files of `manifest`, in path order.
    class Mirror {
    public:
        size_t size() const;
        std::string_view path(size_t i) const;
        const Digest& digest(size_t i) const;
        uint64_t file_size(size_t i) const;
        bool executable(size_t i) const;
        // Entry i's digest when `st` matches it and it is not racy.
        std::optional<Digest> lookup(size_t i, const FileStat& st) const;

    private:
        friend class StatCache;
        explicit Mirror(const Block* block) : block_(block) {}
        const Block* block_;
    };
    std::optional<Mirror> mirror(std::string_view dir, const Digest& manifest) const;

    // Writes what was recorded in one transaction. Best effort: returns false, and drops it,
    // when the database cannot be written.
    bool flush();

private:
    struct Row {
        FileStat st;
        Digest digest;
        int64_t cached_at_ns;
    };
    Database& db_;
    bool persistent_;
    std::unordered_map<std::string, Row> rows_;
    std::vector<std::string> loaded_;
    std::map<std::string, std::unique_ptr<Block>, std::less<>> blocks_;
    std::mutex mu_;
    std::vector<std::pair<std::string, Row>> pending_;

    static bool trusted(const Row& r, const FileStat& st);
    static bool read_row(const Database::Statement& q, Row& r);
    // The loaded block whose directory holds `path`, and the path relative to it.
    Block* block_for(std::string_view path, std::string_view* rel) const;
    Block& block_at(std::string_view dir);
    void load_blocks(std::string_view prefix);
    void write(std::vector<std::pair<std::string, Row>>& rows);
};

}  // namespace mlo
