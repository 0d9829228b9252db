#include "storage/database.hpp"

#include <cstring>
#include <iterator>

#include "storage/error.hpp"

namespace mlo {

namespace {

// Numbered migrations: migration N brings the schema from version N-1 to N. Never edit one that
// has shipped; append a new one.
const char* const kMigrations[] = {
    // 1: the stat cache. A row says: the file at `path` (repository-relative) had this size,
    // mtime, ctime and inode when it hashed to `hash`; `cached_at_ns` is the wall clock when the
    // command that recorded the row started (the racy-git guard compares against it).
    R"sql(
CREATE TABLE stat_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash BLOB NOT NULL,
    cached_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: run records (issue 3). A run is one execution of a stage (or a run-cache restore, or a
    // tracked command). Ids are 16 hex digits of the start time plus 8 random ones, so ordering
    // by id orders by start. status is 'running', 'succeeded', 'failed', 'interrupted' or
    // 'restored'; ended_ns is 0 while running. Hashes (artifacts, log) are 32-byte SHA-256 blobs.
    R"sql(
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    cmd TEXT NOT NULL,
    params_json TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    ended_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    host TEXT NOT NULL,
    user TEXT NOT NULL,
    pid INTEGER NOT NULL,
    git_in_repo INTEGER NOT NULL,
    git_commit TEXT NOT NULL,
    git_dirty INTEGER NOT NULL,
    git_diff_hash TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    log_object BLOB,
    restored_from TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX runs_by_stage ON runs(stage, started_ns);
CREATE INDEX runs_by_started ON runs(started_ns);
CREATE INDEX runs_by_cache_key ON runs(cache_key, status);
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';

-- What a run read (direction 'in', with the hashes the dependencies had) and wrote ('out').
-- seq keeps the order they were given in.
CREATE TABLE run_artifacts (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    path TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    size INTEGER NOT NULL,
    is_dir INTEGER NOT NULL,
    PRIMARY KEY (run_id, direction, path)
) WITHOUT ROWID;
CREATE INDEX run_artifacts_by_hash ON run_artifacts(hash, direction);
CREATE INDEX run_artifacts_by_path ON run_artifacts(path, direction);

-- Flattened metrics ("a.b" -> value) and parameters ("train.l2" -> JSON value) of a run.
CREATE TABLE run_metrics (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE run_params (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX run_params_by_key ON run_params(key, value_json);
)sql",
    // 3: the model registry (issue 4). A model is a name whose versions are numbered from 1 in
    // the order they were registered (never reused, never deleted). A version is an object in
    // the store: a file, or a directory's manifest (is_dir), 32-byte SHA-256 blob like the run
    // tables. run_id is the run that produced it, "" when none is known; it is not a foreign key
    // so that pruning runs never loses a model. Names are checked by core/registry.cpp.
    R"sql(
CREATE TABLE models (
    name TEXT PRIMARY KEY,
    created_ns INTEGER NOT NULL,
    user TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE model_versions (
    name TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL CHECK (version >= 1),
    object BLOB NOT NULL CHECK (length(object) = 32),
    size INTEGER NOT NULL,
    is_dir INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    source_path TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    user TEXT NOT NULL,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_object ON model_versions(object);

-- Where each alias ("champion") of a model points now.
CREATE TABLE model_aliases (
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
) WITHOUT ROWID;

-- Every change, in order (seq): action 'register' (alias ''), or 'alias', 'promote',
-- 'rollback' moving `alias` to `version` from `previous` (NULL when it was unset). Rollback
-- replays these rows of one alias as a stack, so they are never edited or deleted.
CREATE TABLE model_events (
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
CREATE INDEX model_events_by_alias ON model_events(name, alias, seq);
)sql",
    // 4: experiment tracking (issue 5). A run now has a kind: 'stage' (a pipeline stage, as
    // before), 'exp' (one combination of `mlo exp run`: a whole pipeline run in an isolated
    // workspace, whose stage runs name it as their parent) or 'command' (`mlo run -- CMD`).
    // `name` is a human name; `sweep` groups the experiments one `exp run` started;
    // `lock_object` is the mlo.lock an experiment ended with (for `exp apply`). New ids are
    // random (24 hex digits) so that short prefixes are unambiguous, like git's.
    // Metric histories: one series per (run, metric), its points in `metric_points` (not a
    // foreign key, so that logging a million points does not check one per point;
    // RunStore::remove deletes them), keyed in history order. run_metrics keeps each metric's
    // value at its highest step.
    R"sql(
ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'stage';
ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN sweep TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lock_object BLOB;
CREATE INDEX runs_by_kind ON runs(kind, started_ns);
CREATE INDEX runs_by_parent ON runs(parent) WHERE parent != '';
CREATE INDEX runs_by_name ON runs(name) WHERE name != '';
CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE TABLE metric_series (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    last_step INTEGER NOT NULL,
    points INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, key)
);
-- One b-tree in history order; seq numbers a series' points in the order they were logged.
CREATE TABLE metric_points (
    series INTEGER NOT NULL,
    step INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    value REAL NOT NULL,
    time_ns INTEGER NOT NULL,
    PRIMARY KEY (series, step, seq)
) WITHOUT ROWID;
)sql",
    // 5: deployments (issue 6). A deployment is one `mlo deploy` process; its events record
    // which model version each variant served from when (start, switch, stop).
    R"sql(
CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    model_ref TEXT NOT NULL,
    model_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    canary_ref TEXT NOT NULL DEFAULT '',
    canary_version INTEGER NOT NULL DEFAULT 0,
    canary_percent REAL NOT NULL DEFAULT 0,
    flavor TEXT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    hostname TEXT NOT NULL,
    user TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    stopped_ns INTEGER,
    status TEXT NOT NULL,
    log_dir TEXT NOT NULL
);
CREATE INDEX deployments_by_start ON deployments(started_ns);
CREATE TABLE deployment_events (
    deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    action TEXT NOT NULL,
    variant TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (deployment_id, seq)
) WITHOUT ROWID;
)sql",
    // 6: monitoring (issue 7). A reference profile is an object in the store (core/monitor's
    // binary format); monitor_profiles finds it by the reference data's object id and the
    // settings that shape it (which columns are read as categories, the format version).
    // Every `mlo monitor` report is kept whole (report_json) with the columns history lists.
    R"sql(
CREATE TABLE monitor_profiles (
    data_object BLOB NOT NULL CHECK (length(data_object) = 32),
    settings TEXT NOT NULL,
    profile_object BLOB NOT NULL CHECK (length(profile_object) = 32),
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (data_object, settings)
) WITHOUT ROWID;
CREATE TABLE monitor_reports (
    id TEXT PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    user TEXT NOT NULL,
    reference_path TEXT NOT NULL,
    reference_object BLOB NOT NULL,
    current_path TEXT NOT NULL,
    current_kind TEXT NOT NULL,
    current_rows INTEGER NOT NULL,
    columns INTEGER NOT NULL,
    drifted INTEGER NOT NULL,
    drift INTEGER NOT NULL,
    performance_ok INTEGER,
    status TEXT NOT NULL,
    report_json TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX monitor_reports_by_time ON monitor_reports(time_ns);
)sql",
    // 7: retraining (issue 7).
    R"sql(
-- `mlo retrain`: each run, what it decided and why. A report counts as handled once
-- a retrain finished on it (status other than 'running' or 'failed'); appended_object is the
-- training data it wrote, so the same labelled rows are never appended twice.
CREATE TABLE retrains (
    id TEXT PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    user TEXT NOT NULL,
    report_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'failed', 'skipped', 'unchanged',
                                           'promoted', 'rejected')),
    forced INTEGER NOT NULL,
    appended_object BLOB,
    appended_rows INTEGER NOT NULL DEFAULT 0,
    challenger TEXT NOT NULL DEFAULT '',
    champion TEXT NOT NULL DEFAULT '',
    result_json TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE INDEX retrains_by_report ON retrains(report_id, status);

-- Model events gain 'reject': a retrain's challenger that did not win (the alias stays).
CREATE TABLE model_events_new (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('register', 'alias', 'promote', 'rollback', 'reject')),
    name TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    alias TEXT NOT NULL,
    previous INTEGER,
    reason TEXT NOT NULL
);
INSERT INTO model_events_new SELECT seq, time_ns, user, action, name, version, alias, previous,
    reason FROM model_events;
DROP TABLE model_events;
ALTER TABLE model_events_new RENAME TO model_events;
CREATE INDEX model_events_by_alias ON model_events(name, alias, seq);
)sql",
    // 8: what this repository knows a remote holds (issue 8), by the remote's URL: objects it
    // pushed there, fetched from there or saw in a listing. Push trusts it instead of listing
    // again (`push --refresh` lists everything and rebuilds it); gc --remote removes what it
    // deletes.
    R"sql(
CREATE TABLE remote_objects (
    remote TEXT NOT NULL,
    object BLOB NOT NULL CHECK (length(object) = 32),
    PRIMARY KEY (remote, object)
) WITHOUT ROWID;
)sql",
    // 9: the stat cache of a tracked directory as one packed block per directory (see
    // storage/stat_cache.hpp): status of 100,000 files reads one row instead of 100,000.
    // `manifest`: the manifest whose files the block holds exactly, if any.
    R"sql(
CREATE TABLE stat_cache_dirs (
    dir TEXT PRIMARY KEY,
    entries BLOB NOT NULL,
    manifest BLOB CHECK (manifest IS NULL OR length(manifest) = 32)
);
)sql",
};

constexpr int kBusyTimeoutMs = 10 * 60 * 1000;

}  // namespace

int Database::latest_version() {
    return int(std::size(kMigrations));
}

Database::Database(const fs::path& file) : file_(file) {
    int rc =
        sqlite3_open_v2(file.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error("cannot open database " + quote(file) + ": " + why);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // Keep the -wal and -shm files when the last connection closes, so that the next command
    // need not create them: on a full disk, gc (which frees space) must still open the database.
    int persist = 1;
    sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    sqlite3_extended_result_codes(db_, 1);
    try {
        // journal_mode is persistent; only switch (which needs a lock) when it is not WAL yet.
        std::string current;
        {
            Statement mode(*this, "PRAGMA journal_mode");
            if (mode.step()) current = mode.column_text(0);
        }
        // Switching the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at
        // once there instead of calling the busy handler: wait for it ourselves.
        for (int waited = 0; current != "wal"; waited += 20) {
            Statement set(*this, "PRAGMA journal_mode=WAL");
            int step_rc = sqlite3_step(set.raw());
            if (step_rc == SQLITE_ROW) {
                current = set.column_text(0);
                if (current == "wal") break;
            }
            if ((step_rc & 0xff) != SQLITE_BUSY && (step_rc & 0xff) != SQLITE_LOCKED &&
                step_rc != SQLITE_ROW) {
                fail("cannot switch to WAL mode");
            }
            if (waited >= kBusyTimeoutMs) fail("cannot switch to WAL mode");
            sqlite3_sleep(20);
        }
        exec("PRAGMA synchronous=NORMAL");
        // With the WAL kept (PERSIST_WAL above), the frames of the last write stay valid in it:
        // every later process would read them all back (recovery) and copy them into the
        // database again when it closes, 30 MB after a large add. A size limit makes the last
        // connection truncate the WAL once its checkpoint completed (sqlite3WalClose), and
        // bounds it after checkpoints while in use.
        exec("PRAGMA journal_size_limit=67108864");
        exec("PRAGMA foreign_keys=ON");
        // 16 MiB of page cache (SQLite's default is 2): a large batch (a million logged metric
        // values, a big add's stat cache) then stays in memory until it commits.
        exec("PRAGMA cache_size=-16384");
        // Read the database through a memory map (up to 1 GiB) instead of copying every page
        // into the page cache: `exp list` over 10,000 runs reads ~40,000 pages, and their
        // allocations were a fifth of its time.
        exec("PRAGMA mmap_size=1073741824");
        // SQLite checkpoints the WAL from the committing connection once it holds 1000 pages,
        // but not while the connection has a statement in progress (SQLITE_LOCKED), which is
        // when our transactions commit (the statements are objects that outlive the commit).
        // A shell loop of `mlo log metric` then grew the WAL without bound. So remember its
        // size here and checkpoint when the connection closes (see ~Database).
        sqlite3_wal_hook(
            db_,
            [](void* self, sqlite3*, const char*, int frames) {
                static_cast<Database*>(self)->wal_frames_ = frames;
                return SQLITE_OK;
            },
            this);
        migrate();
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

Database::~Database() {
    if (!db_) return;
    // Every statement is finalized by now. PASSIVE: never waits, never blocks a reader.
    if (wal_frames_ >= 1000)
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    sqlite3_close(db_);
}

// SQLite's messages say "disk I/O error"; the errno behind it says which ("No space left on
// device").
static std::string sqlite_reason(sqlite3* db, const std::string& message) {
    int err = sqlite3_system_errno(db);
    return err ? message + " (" + std::strerror(err) + ")" : message;
}

void Database::fail(const std::string& what) const {
    throw Error(what + " in " + quote(file_) + ": " + sqlite_reason(db_, sqlite3_errmsg(db_)));
}

void Database::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string why = sqlite_reason(db_, err ? err : "unknown error");
        sqlite3_free(err);
        throw Error("database error in " + quote(file_) + ": " + why);
    }
}

int Database::schema_version() {
    {
        Statement has(
            *this,
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'");
        if (!has.step() || has.column_int(0) == 0) return 0;
    }
    Statement v(*this, "SELECT version FROM schema_version");
    return v.step() ? int(v.column_int(0)) : 0;
}

void Database::migrate() {
    const int latest = latest_version();
    auto check_not_newer = [&](int v) {
        if (v > latest) {
            throw Error("cannot use database " + quote(file_) + ": its schema version " +
                        std::to_string(v) + " is newer than this mlo supports (" +
                        std::to_string(latest) + "); upgrade mlo");
        }
    };
    int v = schema_version();
    check_not_newer(v);
    if (v == latest) return;
    Transaction tx(*this);
    v = schema_version();  // another process may have migrated meanwhile
    check_not_newer(v);
    if (v == 0) exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    for (int next = v + 1; next <= latest; ++next)
        exec(kMigrations[next - 1]);
    exec("DELETE FROM schema_version");
    Statement set(*this, "INSERT INTO schema_version(version) VALUES (?)");
    set.bind(1, int64_t(latest)).step();
    tx.commit();
}

Database::Statement::Statement(Database& db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db.handle(), sql, -1, &stmt_, nullptr) != SQLITE_OK) {
        db.fail("cannot prepare statement");
    }
}

Database::Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Database::Statement& Database::Statement::bind(int i, int64_t v) {
    if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) db_.fail("cannot bind value");
    return *this;
}

Database::Statement& Database::Statement::bind(int i, double v) {
    if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) db_.fail("cannot bind value");
    return *this;
}

Database::Statement& Database::Statement::bind_null(int i) {
    if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) db_.fail("cannot bind value");
    return *this;
}

Database::Statement& Database::Statement::bind(int i, std::string_view v) {
    // A default string_view has no data pointer, which SQLite would bind as NULL: bind "".
    const char* data = v.data() ? v.data() : "";
    if (sqlite3_bind_text(stmt_, i, data, int(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail("cannot bind value");
    return *this;
}

Database::Statement& Database::Statement::bind_blob(int i, const void* data, size_t size) {
    if (sqlite3_bind_blob(stmt_, i, data, int(size), SQLITE_TRANSIENT) != SQLITE_OK)
        db_.fail("cannot bind value");
    return *this;
}

bool Database::Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.fail("database query failed");
}

void Database::Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int64_t Database::Statement::column_int(int i) const {
    return sqlite3_column_int64(stmt_, i);
}

double Database::Statement::column_double(int i) const {
    return sqlite3_column_double(stmt_, i);
}

bool Database::Statement::column_is_null(int i) const {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
}

std::string Database::Statement::column_text(int i) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_, i))) : std::string();
}

Digest Database::Statement::column_digest(int i) const {
    size_t size = 0;
    const void* p = column_blob(i, &size);
    Digest d{};
    if (p && size == d.size()) std::memcpy(d.data(), p, d.size());
    return d;
}

const void* Database::Statement::column_blob(int i, size_t* size) const {
    const void* p = sqlite3_column_blob(stmt_, i);
    *size = size_t(sqlite3_column_bytes(stmt_, i));
    return p;
}

Database::Transaction::Transaction(Database& db) : db_(db) {
    db_.exec("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction() {
    if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Database::Transaction::commit() {
    db_.exec("COMMIT");
    open_ = false;
}

}  // namespace mlo
