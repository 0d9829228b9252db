#pragma once

#include <cstdint>
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
// never read again. Rows live in mlo.db; lookups go through an in-memory copy loaded per prefix.
//
// Racy-git guard: a file modified so soon before the command that cached it that a later edit
// could keep the same timestamp is not trusted. Timestamps come from a coarse clock, so an edit
// within the same tick leaves mtime unchanged; an entry is trusted only when the file's mtime is
// at least racy_window() older than the moment its row was recorded.
class StatCache {
public:
    // `persistent` false: rows live in memory only, never read from or written to the database
    // (an experiment's private workspace, whose paths equal the user's but whose files do not).
    explicit StatCache(Database& db, bool persistent = true);

    // The safety margin for a file timestamp: 100 ms where the file system keeps sub-second
    // timestamps (a clock tick is at most 10 ms), 2 s where it keeps whole seconds (FAT, old ext3).
    static int64_t racy_window(const FileStat& st);

    // Loads rows whose path equals `prefix` or lies below `prefix/` ("" loads all).
    void load(std::string_view prefix);
    std::optional<Digest> lookup(const std::string& path, const FileStat& st) const;

    // Buffers a row; thread-safe. `started_ns` is when the caller began looking at the file.
    void record(const std::string& path, const FileStat& st, const Digest& d, int64_t started_ns);
    // Forgets rows below a prefix (a directory re-added from scratch, a path no longer tracked).
    void forget(std::string_view prefix);
    // Writes buffered rows in one transaction. Best effort: returns false, and drops the rows,
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
    std::mutex mu_;
    std::vector<std::pair<std::string, Row>> pending_;
    void write_rows(std::vector<std::pair<std::string, Row>>& rows);
};

}  // namespace mlo
