#pragma once

#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/fs.hpp"
#include "storage/hash.hpp"

namespace mlo {

// .mlo/mlo.db: SQLite in WAL mode with a busy timeout, so parallel mlo processes wait for each
// other instead of failing with "database is locked". Opening it applies every numbered
// migration the file lacks; a file written by a newer mlo is refused.
class Database {
public:
    // The highest migration this binary knows.
    static int latest_version();

    explicit Database(const fs::path& file);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    sqlite3* handle() const { return db_; }
    const fs::path& file() const { return file_; }
    int schema_version();
    void exec(const char* sql);

    class Statement {
    public:
        Statement(Database& db, const char* sql);
        ~Statement();
        Statement(const Statement&) = delete;
        Statement& operator=(const Statement&) = delete;

        Statement& bind(int i, int64_t v);
        // Any other integer (int, size_t, bool) binds as int64_t; without this, bind(1, 5) would
        // be ambiguous between the int64_t and double overloads.
        template <std::integral T>
        Statement& bind(int i, T v) {
            return bind(i, int64_t(v));
        }
        Statement& bind(int i, double v);
        Statement& bind(int i, std::string_view v);
        Statement& bind_blob(int i, const void* data, size_t size);
        Statement& bind_null(int i);
        // true while there is a row.
        bool step();
        void reset();
        int64_t column_int(int i) const;
        double column_double(int i) const;
        bool column_is_null(int i) const;
        std::string column_text(int i) const;
        const void* column_blob(int i, size_t* size) const;
        // A 32-byte blob column as a digest (all zeros when it is NULL or another size).
        Digest column_digest(int i) const;
        sqlite3_stmt* raw() const { return stmt_; }

    private:
        Database& db_;
        sqlite3_stmt* stmt_ = nullptr;
    };

    // BEGIN IMMEDIATE: takes the write lock up front so that two writers queue on the busy
    // timeout instead of one failing when it upgrades a read transaction. Rolls back unless
    // committed.
    class Transaction {
    public:
        explicit Transaction(Database& db);
        ~Transaction();
        void commit();

    private:
        Database& db_;
        bool open_ = true;
    };

    [[noreturn]] void fail(const std::string& what) const;

private:
    fs::path file_;
    sqlite3* db_ = nullptr;
    int wal_frames_ = 0;  // pages in the WAL after our last commit
    void migrate();
};

}  // namespace mlo
