#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "storage/database.hpp"
#include "storage/error.hpp"
#include "testutil.hpp"

using namespace mlo;
using Catch::Matchers::Contains;
using mlo::test::TempDir;

namespace {

std::string journal_mode(Database& db) {
    Database::Statement q(db, "PRAGMA journal_mode");
    REQUIRE(q.step());
    return q.column_text(0);
}

int64_t count_rows(Database& db, const char* table) {
    Database::Statement q(db, (std::string("SELECT count(*) FROM ") + table).c_str());
    REQUIRE(q.step());
    return q.column_int(0);
}

}  // namespace

TEST_CASE("a new database is in WAL mode at the latest schema version", "[database]") {
    TempDir tmp;
    REQUIRE(Database::latest_version() >= 1);
    Database db(tmp / "mlo.db");
    CHECK(db.file() == tmp / "mlo.db");
    CHECK(journal_mode(db) == "wal");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "schema_version") == 1);
    // Migration 1 made the stat cache.
    CHECK(count_rows(db, "stat_cache") == 0);
    // Migrating wrote rows on this connection.
    CHECK(sqlite3_total_changes(db.handle()) > 0);
}

TEST_CASE("reopening a database does not run the migrations again", "[database]") {
    TempDir tmp;
    {
        Database db(tmp / "mlo.db");
        db.exec(
            "INSERT INTO stat_cache(path, size, mtime_ns, ctime_ns, inode, hash, cached_at_ns) "
            "VALUES ('kept', 1, 2, 3, 4, x'00', 5)");
    }
    Database db(tmp / "mlo.db");
    // Nothing was written while opening.
    CHECK(sqlite3_total_changes(db.handle()) == 0);
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "schema_version") == 1);
    CHECK(count_rows(db, "stat_cache") == 1);
    CHECK(journal_mode(db) == "wal");
}

TEST_CASE("a database without a schema gets every migration", "[database]") {
    TempDir tmp;
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((tmp / "mlo.db").c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "CREATE TABLE unrelated(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);

    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(journal_mode(db) == "wal");
    CHECK(count_rows(db, "stat_cache") == 0);
    CHECK(count_rows(db, "unrelated") == 0);
}

TEST_CASE("a database from a newer mlo is refused and left as it is", "[database]") {
    TempDir tmp;
    const int newer = Database::latest_version() + 1;
    {
        Database db(tmp / "mlo.db");
        db.exec(("UPDATE schema_version SET version = " + std::to_string(newer)).c_str());
    }
    try {
        Database db(tmp / "mlo.db");
        FAIL("a newer database was opened");
    } catch (const Error& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Contains("'" + (tmp / "mlo.db").string() + "'"));
        CHECK_THAT(msg, Contains("newer"));
        CHECK_THAT(msg, Contains(std::to_string(newer)));
    }
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((tmp / "mlo.db").c_str(), &raw) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT version FROM schema_version", -1, &q, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == newer);
    sqlite3_finalize(q);
    sqlite3_close(raw);
}

TEST_CASE("a transaction that is not committed is rolled back", "[database]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    db.exec("CREATE TABLE t(x INTEGER)");
    {
        Database::Transaction tx(db);
        db.exec("INSERT INTO t VALUES (1)");
    }
    CHECK(count_rows(db, "t") == 0);
    {
        Database::Transaction tx(db);
        db.exec("INSERT INTO t VALUES (2)");
        tx.commit();
    }
    CHECK(count_rows(db, "t") == 1);
}

TEST_CASE("statements bind and read back values", "[database]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    db.exec("CREATE TABLE t(i INTEGER, s TEXT, b BLOB)");
    const std::string blob("\0\1\2\xff", 4);
    {
        Database::Statement ins(db, "INSERT INTO t VALUES (?, ?, ?)");
        ins.bind(1, int64_t(-1) << 40)
            .bind(2, std::string_view("text with\0nul", 13))
            .bind_blob(3, blob.data(), blob.size());
        CHECK_FALSE(ins.step());
    }
    Database::Statement q(db, "SELECT i, s, b FROM t");
    REQUIRE(q.step());
    CHECK(q.column_int(0) == (int64_t(-1) << 40));
    CHECK(q.column_text(1) == std::string("text with\0nul", 13));
    size_t n = 0;
    const void* p = q.column_blob(2, &n);
    REQUIRE(n == 4);
    CHECK(std::string(static_cast<const char*>(p), n) == blob);
    CHECK_FALSE(q.step());
}

TEST_CASE("database errors name the database file", "[database]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    CHECK_THROWS_WITH(
        db.exec("NOT SQL"),
        Catch::Matchers::StartsWith("database error in '" + (tmp / "mlo.db").string() + "': "));
    CHECK_THROWS_WITH(Database::Statement(db, "SELECT * FROM missing_table"),
                      Contains("'" + (tmp / "mlo.db").string() + "'") && Contains("missing_table"));
    CHECK_THROWS_AS(Database(tmp / "no" / "such" / "dir" / "mlo.db"), Error);
}

TEST_CASE("concurrent writers on separate connections never fail with 'database is locked'",
          "[database]") {
    TempDir tmp;
    {
        Database db(tmp / "mlo.db");
        db.exec("CREATE TABLE t(writer INTEGER, n INTEGER)");
    }
    constexpr int kWriters = 3, kTransactions = 150;
    std::vector<std::string> errors(kWriters);
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
            try {
                Database db(tmp / "mlo.db");
                for (int i = 0; i < kTransactions; ++i) {
                    Database::Transaction tx(db);
                    Database::Statement read(db, "SELECT count(*) FROM t");
                    read.step();
                    Database::Statement ins(db, "INSERT INTO t VALUES (?, ?)");
                    ins.bind(1, int64_t(w)).bind(2, int64_t(i)).step();
                    tx.commit();
                }
            } catch (const std::exception& e) {
                errors[size_t(w)] = e.what();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    for (const auto& e : errors)
        CHECK(e == "");
    Database db(tmp / "mlo.db");
    CHECK(count_rows(db, "t") == kWriters * kTransactions);
}

TEST_CASE("opening waits for a writer on a database that is not in WAL mode yet", "[database]") {
    TempDir tmp;
    const fs::path file = tmp / "mlo.db";
    // Another connection writes to a database still in rollback-journal mode (a fresh mlo.db
    // that another mlo is setting up, or one made by the sqlite3 shell) and commits soon after.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw,
                         "CREATE TABLE other(x); BEGIN IMMEDIATE; INSERT INTO other VALUES (1)",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    });
    std::string error;
    try {
        Database db(file);
        CHECK(db.schema_version() == Database::latest_version());
        CHECK(journal_mode(db) == "wal");
        CHECK(count_rows(db, "other") == 1);
    } catch (const std::exception& e) {
        error = e.what();
    }
    writer.join();
    sqlite3_close(raw);
    CHECK(error == "");
}

TEST_CASE("connections opening a new database at the same moment all succeed", "[database]") {
    TempDir tmp;
    // Several mlo processes started at once on a fresh clone all create and migrate mlo.db.
    for (int round = 0; round < 10; ++round) {
        const fs::path file = tmp / ("mlo" + std::to_string(round) + ".db");
        constexpr int kOpeners = 4;
        std::vector<std::string> errors(kOpeners);
        std::atomic<int> ready{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kOpeners; ++t) {
            threads.emplace_back([&, t] {
                ++ready;
                while (ready < kOpeners) {
                }
                try {
                    Database db(file);
                    if (db.schema_version() != Database::latest_version())
                        errors[size_t(t)] = "wrong schema version";
                } catch (const std::exception& e) {
                    errors[size_t(t)] = e.what();
                }
            });
        }
        for (auto& t : threads)
            t.join();
        CAPTURE(round);
        for (const auto& e : errors)
            CHECK(e == "");
    }
}

// Today's schema back to version 3: what migration 4 added, removed again.
// Back to migration 6's schema: model_events without 'reject' (rows kept), no retrains.
void undo_migration_9(Database& db) {
    db.exec("DROP TABLE stat_cache_dirs; UPDATE schema_version SET version = 8;");
}

void undo_migration_8(Database& db) {
    undo_migration_9(db);
    db.exec("DROP TABLE remote_objects; UPDATE schema_version SET version = 7;");
}

void undo_migration_7(Database& db) {
    undo_migration_8(db);
    db.exec(R"sql(
DROP TABLE retrains;
CREATE TABLE model_events_old (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('register', 'alias', 'promote', 'rollback')),
    name TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    alias TEXT NOT NULL,
    previous INTEGER,
    reason TEXT NOT NULL
);
INSERT INTO model_events_old SELECT * FROM model_events;
DROP TABLE model_events;
ALTER TABLE model_events_old RENAME TO model_events;
CREATE INDEX model_events_by_alias ON model_events(name, alias, seq);
UPDATE schema_version SET version = 6;
)sql");
}

void undo_migration_6(Database& db) {
    undo_migration_7(db);
    db.exec(
        "DROP TABLE monitor_reports; DROP TABLE monitor_profiles; "
        "UPDATE schema_version SET version = 5;");
}

void undo_migration_5(Database& db) {
    undo_migration_6(db);
    db.exec(
        "DROP TABLE deployment_events; DROP TABLE deployments; "
        "UPDATE schema_version SET version = 4;");
}

void undo_migration_4(Database& db) {
    undo_migration_5(db);
    db.exec(
        "DROP INDEX runs_by_kind; DROP INDEX runs_by_parent; DROP INDEX runs_by_name; "
        "DROP TABLE run_tags; DROP TABLE metric_points; DROP TABLE metric_series; "
        "ALTER TABLE runs DROP COLUMN kind; ALTER TABLE runs DROP COLUMN name; "
        "ALTER TABLE runs DROP COLUMN parent; ALTER TABLE runs DROP COLUMN sweep; "
        "ALTER TABLE runs DROP COLUMN lock_object; UPDATE schema_version SET version = 3;");
}

TEST_CASE("migration 2 adds the run tables to a version 1 database and keeps its rows",
          "[database][runs]") {
    TempDir tmp;
    REQUIRE(Database::latest_version() >= 2);
    // A database as mlo with only migration 1 left it (its SQL as shipped, verbatim).
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((tmp / "mlo.db").c_str(), &raw) == SQLITE_OK);
    const char* v1 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version(version) VALUES (1);
CREATE TABLE stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash BLOB NOT NULL,
    cached_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO stat_cache VALUES ('kept', 1, 2, 3, 4, x'00', 5);
PRAGMA journal_mode=WAL;
)sql";
    REQUIRE(sqlite3_exec(raw, v1, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);

    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "schema_version") == 1);
    CHECK(count_rows(db, "stat_cache") == 1);
    for (const char* table : {"runs", "run_artifacts", "run_metrics", "run_params"})
        CHECK(count_rows(db, table) == 0);
    // The indexes that the run queries rely on exist.
    Database::Statement q(db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                          "('runs_by_stage', 'runs_by_cache_key', 'run_artifacts_by_hash')");
    REQUIRE(q.step());
    CHECK(q.column_int(0) == 3);
    // Deleting a run deletes its artifacts, metrics and parameters (foreign keys are on).
    db.exec(
        "INSERT INTO runs(id, stage, cmd, params_json, started_ns, ended_ns, status, exit_code, "
        "host, user, pid, git_in_repo, git_commit, git_dirty, git_diff_hash, cache_key, "
        "log_object, restored_from) VALUES ('r', 's', 'c', '{}', 1, 0, 'running', NULL, 'h', "
        "'u', 1, 0, '', 0, '', '', NULL, '');"
        "INSERT INTO run_artifacts VALUES ('r', 'in', 'p', 0, x'00', 1, 0);"
        "INSERT INTO run_metrics VALUES ('r', 'm', 1.5);"
        "INSERT INTO run_params VALUES ('r', 'k', '1');");
    CHECK_THROWS_AS(
        db.exec("INSERT INTO run_artifacts VALUES ('r', 'sideways', 'q', 0, x'00', 1, 0)"), Error);
    db.exec("DELETE FROM runs WHERE id = 'r'");
    CHECK(count_rows(db, "run_artifacts") == 0);
    CHECK(count_rows(db, "run_metrics") == 0);
    CHECK(count_rows(db, "run_params") == 0);
}

TEST_CASE("migration 3 adds the registry tables to a version 2 database and keeps its rows",
          "[database][registry]") {
    TempDir tmp;
    REQUIRE(Database::latest_version() >= 3);
    // A version 2 database: today's schema without the registry tables, holding a run.
    {
        Database db(tmp / "mlo.db");
        undo_migration_4(db);
        db.exec(
            "DROP TABLE model_events; DROP TABLE model_aliases; DROP TABLE model_versions; "
            "DROP TABLE models; UPDATE schema_version SET version = 2;"
            "INSERT INTO runs VALUES ('r', 's', 'c', '{}', 1, 0, 'running', NULL, 'h', 'u', 1, "
            "0, '', 0, '', '', NULL, '');");
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "runs") == 1);
    for (const char* table : {"models", "model_versions", "model_aliases", "model_events"})
        CHECK(count_rows(db, table) == 0);
    // Versions belong to a model, aliases to a version, and objects are 32-byte ids.
    CHECK_THROWS_AS(db.exec("INSERT INTO model_versions VALUES ('m', 1, zeroblob(32), 1, 0, '', "
                            "'', 1, 'u')"),
                    Error);
    db.exec("INSERT INTO models VALUES ('m', 1, 'u')");
    CHECK_THROWS_AS(db.exec("INSERT INTO model_versions VALUES ('m', 1, x'00', 1, 0, '', '', 1, "
                            "'u')"),
                    Error);
    db.exec("INSERT INTO model_versions VALUES ('m', 1, zeroblob(32), 1, 0, '', '', 1, 'u')");
    CHECK_THROWS_AS(db.exec("INSERT INTO model_aliases VALUES ('m', 'champion', 2)"), Error);
    db.exec("INSERT INTO model_aliases VALUES ('m', 'champion', 1)");
    CHECK_THROWS_AS(db.exec("INSERT INTO model_events(time_ns, user, action, name, version, "
                            "alias, previous, reason) VALUES (1, 'u', 'delete', 'm', 1, '', "
                            "NULL, '')"),
                    Error);
    CHECK(count_rows(db, "model_aliases") == 1);
}

TEST_CASE("statements bind and read doubles and NULL", "[database]") {
    TempDir tmp;
    Database db(tmp / "mlo.db");
    db.exec("CREATE TABLE t(d REAL, n INTEGER, i INTEGER, s TEXT)");
    {
        Database::Statement ins(db, "INSERT INTO t VALUES (?, ?, ?, ?)");
        // Plain int, size_t and bool bind as integers (no ambiguity with double).
        ins.bind(1, 0.125).bind_null(2).bind(3, 7).bind(4, std::string_view());
        CHECK_FALSE(ins.step());
        ins.reset();
        ins.bind(1, -1e300).bind(2, size_t(3)).bind(3, true).bind(4, std::string("x"));
        CHECK_FALSE(ins.step());
    }
    Database::Statement q(db, "SELECT d, n, i, s, s IS NULL FROM t ORDER BY rowid");
    REQUIRE(q.step());
    CHECK(q.column_double(0) == 0.125);
    CHECK(q.column_is_null(1));
    CHECK_FALSE(q.column_is_null(0));
    CHECK(q.column_int(2) == 7);
    // An empty string_view binds as '' (not NULL).
    CHECK(q.column_text(3).empty());
    CHECK(q.column_int(4) == 0);
    REQUIRE(q.step());
    CHECK(q.column_double(0) == -1e300);
    CHECK(q.column_int(1) == 3);
    CHECK(q.column_int(2) == 1);
    CHECK_FALSE(q.step());
}

TEST_CASE("migration 4 gives existing runs a kind and adds tags and metric histories",
          "[database][runs]") {
    TempDir tmp;
    REQUIRE(Database::latest_version() >= 4);
    {
        Database db(tmp / "mlo.db");
        undo_migration_4(db);
        db.exec(
            "INSERT INTO runs VALUES ('18a3f09c2b7d4e00a1b2c3d4', 's', 'c', '{}', 1, 2, "
            "'succeeded', 0, 'h', 'u', 1, 0, '', 0, '', '', NULL, '');");
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    Database::Statement q(db, "SELECT kind, name, parent, sweep, lock_object IS NULL FROM runs");
    REQUIRE(q.step());
    CHECK(q.column_text(0) == "stage");
    CHECK(q.column_text(1) == "");
    CHECK(q.column_text(2) == "");
    CHECK(q.column_text(3) == "");
    CHECK(q.column_int(4) == 1);
    for (const char* table : {"run_tags", "metric_series", "metric_points"})
        CHECK(count_rows(db, table) == 0);
    // Tags and series go with their run.
    db.exec(
        "INSERT INTO run_tags VALUES ('18a3f09c2b7d4e00a1b2c3d4', 'k', 'v');"
        "INSERT INTO metric_series(run_id, key, last_step) "
        "VALUES ('18a3f09c2b7d4e00a1b2c3d4', 'loss', 0);");
    CHECK_THROWS_AS(db.exec("INSERT INTO run_tags VALUES ('nosuchrun', 'k', 'v')"), Error);
    db.exec("DELETE FROM runs");
    CHECK(count_rows(db, "run_tags") == 0);
    CHECK(count_rows(db, "metric_series") == 0);
}

TEST_CASE("migration 5 adds the deployment tables to a version 4 database", "[database]") {
    TempDir tmp;
    REQUIRE(Database::latest_version() >= 5);
    {
        Database db(tmp / "mlo.db");
        undo_migration_5(db);
        CHECK(db.schema_version() == 4);
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "deployments") == 0);
    CHECK(count_rows(db, "deployment_events") == 0);
}

TEST_CASE("migration 6 adds the monitoring tables to a version 5 database", "[database]") {
    TempDir tmp;
    {
        Database db(tmp / "mlo.db");
        undo_migration_6(db);
        CHECK(db.schema_version() == 5);
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "monitor_profiles") == 0);
    CHECK(count_rows(db, "monitor_reports") == 0);
}

TEST_CASE("migration 8 adds the remote index to a version 7 database", "[database]") {
    TempDir tmp;
    {
        Database db(tmp / "mlo.db");
        undo_migration_8(db);
        db.exec("INSERT INTO models VALUES ('churn', 1, 'u')");
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "remote_objects") == 0);
    CHECK(count_rows(db, "models") == 1);
}

TEST_CASE("migration 9 adds the stat cache's directory blocks and keeps the rows", "[database]") {
    TempDir tmp;
    {
        Database db(tmp / "mlo.db");
        undo_migration_9(db);
        db.exec("INSERT INTO stat_cache VALUES ('data/a', 1, 2, 3, 4, zeroblob(32), 5)");
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    CHECK(count_rows(db, "stat_cache_dirs") == 0);
    CHECK(count_rows(db, "stat_cache") == 1);
    // A block's manifest is a 32-byte id or nothing.
    db.exec("INSERT INTO stat_cache_dirs VALUES ('data', x'', NULL)");
    CHECK_THROWS_AS(db.exec("INSERT INTO stat_cache_dirs VALUES ('other', x'', x'00')"), Error);
}

TEST_CASE("migration 7 keeps every model event and lets 'reject' in", "[database]") {
    TempDir tmp;
    {
        // A database as migration 6 left it: model_events without 'reject', no retrains.
        Database db(tmp / "mlo.db");
        undo_migration_7(db);
        db.exec(R"sql(
INSERT INTO models VALUES ('churn', 1, 'u');
INSERT INTO model_events VALUES (1, 10, 'u', 'register', 'churn', 1, '', NULL, 'first');
INSERT INTO model_events VALUES (2, 11, 'u', 'promote', 'churn', 1, 'champion', NULL, 'gate');
INSERT INTO model_events VALUES (7, 12, 'u', 'rollback', 'churn', 1, 'champion', 2, 'oops');
)sql");
        CHECK_THROWS(
            db.exec("INSERT INTO model_events VALUES (8, 13, 'u', 'reject', 'churn', "
                    "1, 'champion', 1, 'lost')"));
    }
    Database db(tmp / "mlo.db");
    CHECK(db.schema_version() == Database::latest_version());
    Database::Statement q(db,
                          "SELECT seq, action, previous, reason FROM model_events ORDER BY seq");
    std::vector<std::string> rows;
    while (q.step())
        rows.push_back(std::to_string(q.column_int(0)) + " " + q.column_text(1) + " " +
                       (q.column_is_null(2) ? "-" : std::to_string(q.column_int(2))) + " " +
                       q.column_text(3));
    CHECK(rows ==
          std::vector<std::string>{"1 register - first", "2 promote - gate", "7 rollback 2 oops"});
    db.exec(
        "INSERT INTO model_events(time_ns, user, action, name, version, alias, previous, "
        "reason) VALUES (13, 'u', 'reject', 'churn', 1, 'champion', 1, 'lost')");
    // New events continue after the highest seq, as before.
    Database::Statement last(db, "SELECT max(seq) FROM model_events");
    REQUIRE(last.step());
    CHECK(last.column_int(0) == 8);
    CHECK(count_rows(db, "retrains") == 0);
}
