#include "core/runs.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/yaml.h>

#include "core/yaml_util.hpp"
#include "storage/error.hpp"

namespace mlo::core {

const char* run_status_name(RunStatus s) {
    switch (s) {
        case RunStatus::running:
            return "running";
        case RunStatus::succeeded:
            return "succeeded";
        case RunStatus::failed:
            return "failed";
        case RunStatus::interrupted:
            return "interrupted";
        case RunStatus::restored:
            return "restored";
    }
    return "unknown";
}

std::optional<RunStatus> run_status_from(const std::string& name) {
    for (RunStatus s : {RunStatus::running, RunStatus::succeeded, RunStatus::failed,
                        RunStatus::interrupted, RunStatus::restored}) {
        if (name == run_status_name(s)) return s;
    }
    return std::nullopt;
}

const char* run_kind_name(RunKind k) {
    switch (k) {
        case RunKind::stage:
            return "stage";
        case RunKind::exp:
            return "exp";
        case RunKind::command:
            return "command";
    }
    return "unknown";
}

std::optional<RunKind> run_kind_from(const std::string& name) {
    for (RunKind k : {RunKind::stage, RunKind::exp, RunKind::command}) {
        if (name == run_kind_name(k)) return k;
    }
    return std::nullopt;
}

std::string this_host() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "";
    return buf;
}

std::string current_user() {
    std::vector<char> buf(16384);
    struct passwd pw {};
    struct passwd* found = nullptr;
    if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found &&
        found->pw_name && *found->pw_name) {
        return found->pw_name;
    }
    const char* u = std::getenv("USER");
    return u ? u : "";
}

namespace {

// The columns every query that loads a Run selects, in the order row_to_run reads them.
constexpr const char* kRunColumns =
    "runs.id, runs.stage, runs.cmd, runs.params_json, runs.started_ns, runs.ended_ns, "
    "runs.status, runs.exit_code, runs.host, runs.user, runs.git_in_repo, runs.git_commit, "
    "runs.git_dirty, runs.git_diff_hash, runs.cache_key, runs.log_object, runs.restored_from, "
    "runs.kind, runs.name, runs.parent, runs.sweep, runs.lock_object";

std::string select_runs(const std::string& rest) {
    return std::string("SELECT ") + kRunColumns + " FROM runs " + rest;
}

Run row_to_run(const Database::Statement& q) {
    Run r;
    r.id = q.column_text(0);
    r.stage = q.column_text(1);
    r.cmd = q.column_text(2);
    r.params = nlohmann::json::parse(q.column_text(3), nullptr, false);
    if (!r.params.is_object()) r.params = nlohmann::json::object();
    r.started_ns = q.column_int(4);
    r.ended_ns = q.column_int(5);
    std::string status = q.column_text(6);
    auto s = run_status_from(status);
    if (!s) throw Error("run " + quote(r.id) + " has an unknown status " + quote(status));
    r.status = *s;
    if (!q.column_is_null(7)) r.exit_code = int(q.column_int(7));
    r.host = q.column_text(8);
    r.user = q.column_text(9);
    r.git.in_git = q.column_int(10) != 0;
    r.git.commit = q.column_text(11);
    r.git.dirty = q.column_int(12) != 0;
    r.git.diff_hash = q.column_text(13);
    r.cache_key = q.column_text(14);
    if (!q.column_is_null(15)) r.log = q.column_digest(15);
    r.restored_from = q.column_text(16);
    std::string kind = q.column_text(17);
    auto k = run_kind_from(kind);
    if (!k) throw Error("run " + quote(r.id) + " has an unknown kind " + quote(kind));
    r.kind = *k;
    r.name = q.column_text(18);
    r.parent = q.column_text(19);
    r.sweep = q.column_text(20);
    if (!q.column_is_null(21)) r.lock_object = q.column_digest(21);
    return r;
}

// Loads runs and their artifacts and metrics, reusing the prepared detail statements.
class Loader {
public:
    explicit Loader(Database& db)
        : artifacts_(db,
                     "SELECT direction, path, hash, size, is_dir FROM run_artifacts "
                     "WHERE run_id = ? ORDER BY direction, seq, path"),
          metrics_(db, "SELECT key, value FROM run_metrics WHERE run_id = ? ORDER BY key"),
          tags_(db, "SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key") {}

    std::vector<Run> all(Database::Statement& q) {
        std::vector<Run> runs;
        while (q.step())
            runs.push_back(row_to_run(q));
        for (Run& r : runs)
            details(r);
        return runs;
    }

    void details(Run& r) {
        artifacts_.reset();
        artifacts_.bind(1, r.id);
        while (artifacts_.step()) {
            Artifact a;
            a.path = artifacts_.column_text(1);
            a.digest = artifacts_.column_digest(2);
            a.size = uint64_t(artifacts_.column_int(3));
            a.is_dir = artifacts_.column_int(4) != 0;
            (artifacts_.column_text(0) == "in" ? r.inputs : r.outputs).push_back(std::move(a));
        }
        metrics_.reset();
        metrics_.bind(1, r.id);
        while (metrics_.step())
            r.metrics[metrics_.column_text(0)] = metrics_.column_double(1);
        tags_.reset();
        tags_.bind(1, r.id);
        while (tags_.step())
            r.tags[tags_.column_text(0)] = tags_.column_text(1);
    }

private:
    Database::Statement artifacts_;
    Database::Statement metrics_;
    Database::Statement tags_;
};

void insert_artifacts(Database& db, const std::string& run_id, const char* direction,
                      const std::vector<Artifact>& list) {
    Database::Statement ins(db,
                            "INSERT OR REPLACE INTO run_artifacts"
                            "(run_id, direction, path, seq, hash, size, is_dir) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)");
    int64_t seq = 0;
    for (const Artifact& a : list) {
        ins.reset();
        ins.bind(1, run_id)
            .bind(2, std::string_view(direction))
            .bind(3, a.path)
            .bind(4, seq++)
            .bind_blob(5, a.digest.data(), a.digest.size())
            .bind(6, int64_t(a.size))
            .bind(7, a.is_dir);
        ins.step();
    }
}

// Start time of process `pid` (wall clock, ns) from /proc, or 0 when unknown.
int64_t process_start_ns(long pid) {
    std::string stat;
    if (!read_file_if_exists("/proc/" + std::to_string(pid) + "/stat", stat)) return 0;
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream in(stat.substr(close + 1));
    std::string field;
    // Fields after the command name start at field 3 (state); starttime is field 22.
    for (int i = 3; i <= 22; ++i) {
        if (!(in >> field)) return 0;
    }
    unsigned long long ticks = std::strtoull(field.c_str(), nullptr, 10);
    std::string all;
    if (!read_file_if_exists("/proc/stat", all)) return 0;
    size_t at = all.find("\nbtime ");
    if (at == std::string::npos) return 0;
    long long btime = std::strtoll(all.c_str() + at + 7, nullptr, 10);
    long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0 || btime <= 0) return 0;
    return int64_t(btime) * 1000000000 + int64_t(ticks) * (1000000000 / hz);
}

}  // namespace

// True when the process that recorded a run (on this host) is gone: no such pid, or the pid
// now belongs to a process that started well after the run did (pid reuse, e.g. after a
// reboot). The margin absorbs clock steps and the coarse boot time.
bool process_gone(long pid, int64_t started_ns) {
    if (pid <= 0) return true;
    if (::kill(pid_t(pid), 0) != 0 && errno == ESRCH) return true;
    // A zombie has exited; nobody may be left to reap it (an orphan whose init does not).
    std::string stat;
    if (read_file_if_exists("/proc/" + std::to_string(pid) + "/stat", stat)) {
        size_t close = stat.rfind(')');
        if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z')
            return true;
    }
    int64_t start = process_start_ns(pid);
    constexpr int64_t kMargin = int64_t(60) * 1000000000;
    return start != 0 && started_ns > 0 && start > started_ns + kMargin;
}

RunStore::RunStore(Database& db) : db_(db) {}

// Seeded once per process from the kernel; ids need uniqueness, not secrecy.
uint64_t random_u64() {
    static std::mutex mu;
    static std::mt19937_64 gen = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), unsigned(::getpid()), unsigned(now_ns())};
        return std::mt19937_64(seq);
    }();
    std::lock_guard<std::mutex> g(mu);
    return gen();
}

std::string RunStore::new_id() {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%016llx%08x", static_cast<unsigned long long>(random_u64()),
                  static_cast<unsigned>(random_u64() >> 32));
    return buf;
}

std::string RunStore::new_name() {
    static const char* const adjectives[] = {
        "amber", "bold",   "brave",  "brisk",  "calm",  "clever", "crisp",  "dapper",
        "eager", "fair",   "fleet",  "gentle", "glad",  "grand",  "happy",  "jolly",
        "keen",  "kind",   "lively", "lucid",  "merry", "mellow", "nimble", "noble",
        "proud", "quick",  "quiet",  "rapid",  "shiny", "sleek",  "smart",  "snug",
        "solid", "steady", "sunny",  "swift",  "tidy",  "vivid",  "warm",   "witty"};
    static const char* const nouns[] = {
        "badger", "bat",   "bear",  "bison", "crane", "crow",  "deer",  "dove",  "eagle", "falcon",
        "finch",  "fox",   "gecko", "goose", "hare",  "hawk",  "heron", "ibis",  "koala", "lark",
        "lemur",  "lion",  "lynx",  "mole",  "moose", "newt",  "otter", "owl",   "panda", "puffin",
        "quail",  "raven", "robin", "seal",  "shrew", "stork", "swan",  "tiger", "wolf",  "wren"};
    uint64_t r = random_u64();
    constexpr size_t na = std::size(adjectives), nn = std::size(nouns);
    std::string out = adjectives[r % na];
    out += '-';
    out += nouns[(r / na) % nn];
    out += '-';
    out += std::to_string(100 + (r / na / nn) % 900);
    return out;
}

void RunStore::begin(const Run& r) {
    if (r.id.empty()) throw Error("cannot record a run without an id");
    std::string host = r.host.empty() ? this_host() : r.host;
    std::string user = r.user.empty() ? current_user() : r.user;
    nlohmann::json params = r.params.is_object() ? r.params : nlohmann::json::object();
    Database::Transaction tx(db_);
    Database::Statement ins(
        db_,
        "INSERT INTO runs(id, stage, cmd, params_json, started_ns, ended_ns, status, exit_code, "
        "host, user, pid, git_in_repo, git_commit, git_dirty, git_diff_hash, cache_key, "
        "log_object, restored_from, kind, name, parent, sweep) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.bind(1, r.id)
        .bind(2, r.stage)
        .bind(3, r.cmd)
        .bind(4, params.dump())
        .bind(5, r.started_ns ? r.started_ns : now_ns())
        .bind(6, r.ended_ns)
        .bind(7, std::string_view(run_status_name(r.status)));
    if (r.exit_code)
        ins.bind(8, *r.exit_code);
    else
        ins.bind_null(8);
    ins.bind(9, host)
        .bind(10, user)
        .bind(11, int64_t(::getpid()))
        .bind(12, r.git.in_git)
        .bind(13, r.git.commit)
        .bind(14, r.git.dirty)
        .bind(15, r.git.diff_hash)
        .bind(16, r.cache_key);
    if (r.log)
        ins.bind_blob(17, r.log->data(), r.log->size());
    else
        ins.bind_null(17);
    ins.bind(18, r.restored_from)
        .bind(19, std::string_view(run_kind_name(r.kind)))
        .bind(20, r.name)
        .bind(21, r.parent)
        .bind(22, r.sweep);
    if (sqlite3_step(ins.raw()) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(db_.handle()) & 0xff) == SQLITE_CONSTRAINT)
            throw Error("cannot record run " + quote(r.id) + ": a run with this id exists");
        db_.fail("cannot record run " + quote(r.id));
    }
    Database::Statement param(db_,
                              "INSERT OR REPLACE INTO run_params(run_id, key, value_json) "
                              "VALUES (?, ?, ?)");
    for (const auto& [key, value] : params.items()) {
        param.reset();
        param.bind(1, r.id).bind(2, key).bind(3, value.dump());
        param.step();
    }
    insert_artifacts(db_, r.id, "in", r.inputs);
    Database::Statement tag(db_,
                            "INSERT OR REPLACE INTO run_tags(run_id, key, value) VALUES (?, ?, ?)");
    for (const auto& [key, value] : r.tags) {
        tag.reset();
        tag.bind(1, r.id).bind(2, key).bind(3, value);
        tag.step();
    }
    tx.commit();
}

void RunStore::finish(const Run& r) {
    int64_t ended = r.ended_ns;
    if (ended == 0 && r.status != RunStatus::running) ended = now_ns();
    Database::Transaction tx(db_);
    Database::Statement up(db_,
                           "UPDATE runs SET status = ?, ended_ns = ?, exit_code = ?, "
                           "log_object = ?, restored_from = ?, lock_object = ? WHERE id = ?");
    up.bind(1, std::string_view(run_status_name(r.status))).bind(2, ended);
    if (r.exit_code)
        up.bind(3, *r.exit_code);
    else
        up.bind_null(3);
    if (r.log)
        up.bind_blob(4, r.log->data(), r.log->size());
    else
        up.bind_null(4);
    up.bind(5, r.restored_from);
    if (r.lock_object)
        up.bind_blob(6, r.lock_object->data(), r.lock_object->size());
    else
        up.bind_null(6);
    up.bind(7, r.id);
    up.step();
    if (sqlite3_changes(db_.handle()) != 1)
        throw Error("cannot finish run " + quote(r.id) + ": it was never started");
    insert_artifacts(db_, r.id, "out", r.outputs);
    Database::Statement metric(db_,
                               "INSERT OR REPLACE INTO run_metrics(run_id, key, value) "
                               "VALUES (?, ?, ?)");
    for (const auto& [key, value] : r.metrics) {
        metric.reset();
        metric.bind(1, r.id).bind(2, key).bind(3, value);
        metric.step();
    }
    tx.commit();
}

std::optional<Run> RunStore::get(const std::string& id_or_prefix) {
    if (id_or_prefix.empty()) return std::nullopt;
    std::string prefix = id_or_prefix;
    for (char& c : prefix)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    // Every id starting with `prefix` sorts in [prefix, prefix + "\x7f").
    std::string upper = prefix + "\x7f";
    std::string id;
    {
        Database::Statement q(db_, "SELECT count(*), min(id) FROM runs WHERE id >= ? AND id < ?");
        q.bind(1, prefix).bind(2, upper);
        if (!q.step()) return std::nullopt;
        int64_t n = q.column_int(0);
        if (n == 0) return std::nullopt;
        if (n > 1) {
            throw Error("run id prefix " + quote(id_or_prefix) + " is ambiguous (" +
                        std::to_string(n) + " runs)");
        }
        id = q.column_text(1);
    }
    Database::Statement q(db_, select_runs("WHERE id = ?").c_str());
    q.bind(1, id);
    Loader loader(db_);
    auto runs = loader.all(q);
    if (runs.empty()) return std::nullopt;
    return std::move(runs.front());
}

std::vector<Run> RunStore::list(const std::string& stage, size_t limit) {
    std::string sql = select_runs(stage.empty() ? "" : "WHERE stage = ?1 ") +
                      "ORDER BY started_ns DESC, id DESC LIMIT ?2";
    Database::Statement q(db_, sql.c_str());
    if (!stage.empty()) q.bind(1, stage);
    q.bind(2, limit == 0 ? int64_t(-1) : int64_t(limit));
    Loader loader(db_);
    return loader.all(q);
}

std::optional<Run> RunStore::find_cached(const std::string& cache_key) {
    if (cache_key.empty()) return std::nullopt;
    Database::Statement q(db_, select_runs("WHERE cache_key = ? AND status = 'succeeded' "
                                           "ORDER BY started_ns DESC, id DESC LIMIT 1")
                                   .c_str());
    q.bind(1, cache_key);
    Loader loader(db_);
    auto runs = loader.all(q);
    if (runs.empty()) return std::nullopt;
    return std::move(runs.front());
}

std::vector<Run> RunStore::producers_of(const Digest& d) {
    Database::Statement q(db_, select_runs("WHERE runs.id IN (SELECT run_id FROM run_artifacts "
                                           "WHERE hash = ? AND direction = 'out') "
                                           "AND runs.status IN ('succeeded', 'restored') "
                                           "ORDER BY runs.started_ns DESC, runs.id DESC")
                                   .c_str());
    q.bind_blob(1, d.data(), d.size());
    Loader loader(db_);
    return loader.all(q);
}

size_t RunStore::reap_stale() {
    struct Candidate {
        std::string id;
        long pid;
        int64_t started_ns;
    };
    std::string host = this_host();
    auto gone = [&]() {
        std::vector<Candidate> out;
        Database::Statement q(db_,
                              "SELECT id, pid, started_ns FROM runs "
                              "WHERE status = 'running' AND host = ?");
        q.bind(1, host);
        while (q.step()) {
            Candidate c{q.column_text(0), long(q.column_int(1)), q.column_int(2)};
            if (process_gone(c.pid, c.started_ns)) out.push_back(std::move(c));
        }
        return out;
    };
    // Look first without the write lock: usually nothing is stale.
    if (gone().empty()) return 0;
    Database::Transaction tx(db_);
    auto stale = gone();  // again under the lock: a run may have finished meanwhile
    Database::Statement up(db_,
                           "UPDATE runs SET status = 'interrupted', ended_ns = ? "
                           "WHERE id = ? AND status = 'running'");
    size_t n = 0;
    int64_t now = now_ns();
    for (const auto& c : stale) {
        up.reset();
        up.bind(1, now).bind(2, c.id);
        up.step();
        n += size_t(sqlite3_changes(db_.handle()));
    }
    tx.commit();
    return n;
}

namespace {

std::optional<Artifact> one_artifact(Database::Statement& q) {
    if (!q.step()) return std::nullopt;
    Artifact a;
    a.path = q.column_text(0);
    a.digest = q.column_digest(1);
    a.size = uint64_t(q.column_int(2));
    a.is_dir = q.column_int(3) != 0;
    return a;
}

}  // namespace

std::optional<Artifact> RunStore::artifact_at(const std::string& path) {
    {
        Database::Statement q(db_,
                              "SELECT a.path, a.hash, a.size, a.is_dir FROM run_artifacts a "
                              "JOIN runs ON runs.id = a.run_id "
                              "WHERE a.path = ? AND a.direction = 'out' "
                              "AND runs.status IN ('succeeded', 'restored') "
                              "ORDER BY runs.started_ns DESC, runs.id DESC LIMIT 1");
        q.bind(1, path);
        if (auto a = one_artifact(q)) return a;
    }
    Database::Statement q(db_,
                          "SELECT a.path, a.hash, a.size, a.is_dir FROM run_artifacts a "
                          "JOIN runs ON runs.id = a.run_id WHERE a.path = ? AND a.direction = 'in' "
                          "ORDER BY runs.started_ns DESC, runs.id DESC LIMIT 1");
    q.bind(1, path);
    return one_artifact(q);
}

std::optional<Artifact> RunStore::artifact_with(const Digest& d) {
    Database::Statement q(db_,
                          "SELECT a.path, a.hash, a.size, a.is_dir FROM run_artifacts a "
                          "JOIN runs ON runs.id = a.run_id WHERE a.hash = ? "
                          "ORDER BY a.direction = 'out' DESC, runs.started_ns DESC, runs.id DESC "
                          "LIMIT 1");
    q.bind_blob(1, d.data(), d.size());
    return one_artifact(q);
}

std::vector<Digest> RunStore::digests_with_prefix(const std::string& hex_prefix, size_t limit) {
    std::vector<Digest> out;
    if (hex_prefix.size() > 64) return out;
    for (char c : hex_prefix) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return out;
    }
    // Every id with the prefix lies between the prefix padded with 0s and with fs.
    auto lo = digest_from_hex(hex_prefix + std::string(64 - hex_prefix.size(), '0'));
    auto hi = digest_from_hex(hex_prefix + std::string(64 - hex_prefix.size(), 'f'));
    Database::Statement q(db_,
                          "SELECT DISTINCT hash FROM run_artifacts WHERE hash BETWEEN ? AND ? "
                          "ORDER BY hash LIMIT ?");
    q.bind_blob(1, lo->data(), lo->size())
        .bind_blob(2, hi->data(), hi->size())
        .bind(3, limit == 0 ? int64_t(-1) : int64_t(limit));
    while (q.step())
        out.push_back(q.column_digest(0));
    return out;
}

// ---- references, recording from inside a run, removal --------------------------------------

std::string RunStore::resolve(const std::string& ref) {
    if (ref.empty()) throw Error("empty run reference");
    std::vector<std::pair<std::string, std::string>> found;  // id, name
    bool hex = ref.size() >= 4 && std::all_of(ref.begin(), ref.end(), [](char c) {
                   return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
               });
    if (hex) {
        // Every id starting with `ref` sorts in [ref, ref + "\x7f").
        Database::Statement q(db_, "SELECT id, name FROM runs WHERE id >= ? AND id < ? LIMIT 6");
        q.bind(1, ref).bind(2, ref + "\x7f");
        while (q.step())
            found.emplace_back(q.column_text(0), q.column_text(1));
        for (const auto& f : found)
            if (f.first == ref) return ref;
    }
    if (found.empty()) {
        Database::Statement q(db_, "SELECT id, name FROM runs WHERE name = ? LIMIT 6");
        q.bind(1, ref);
        while (q.step())
            found.emplace_back(q.column_text(0), q.column_text(1));
    }
    if (found.empty()) {
        std::string hint = !hex && ref.size() < 4 && std::all_of(ref.begin(), ref.end(), ::isxdigit)
                               ? " (an id prefix needs at least 4 hex digits)"
                               : "";
        throw Error("unknown run " + quote(ref) + hint);
    }
    if (found.size() == 1) return found.front().first;
    std::string list;
    for (size_t i = 0; i < found.size() && i < 5; ++i) {
        list += (i ? ", " : "") + found[i].first.substr(0, 12);
        if (!found[i].second.empty()) list += " (" + found[i].second + ")";
    }
    if (found.size() > 5) list += ", ...";
    throw Error("run " + quote(ref) + " is ambiguous: it matches " + list);
}

std::vector<std::string> RunStore::all_ids() {
    std::vector<std::string> out;
    Database::Statement q(db_, "SELECT id FROM runs ORDER BY id");
    while (q.step())
        out.push_back(q.column_text(0));
    return out;
}

std::vector<Run> RunStore::children(const std::string& parent) {
    Database::Statement q(db_, select_runs("WHERE parent = ? ORDER BY started_ns, id").c_str());
    q.bind(1, parent);
    Loader loader(db_);
    return loader.all(q);
}

namespace {

// Throws unless `run_id` names a run that is still running.
void require_running(Database& db, const std::string& run_id) {
    Database::Statement q(db, "SELECT status FROM runs WHERE id = ?");
    q.bind(1, run_id);
    if (!q.step()) throw Error("unknown run " + quote(run_id));
    std::string status = q.column_text(0);
    if (status != "running")
        throw Error("run " + quote(run_id) + " has ended (" + status + "); cannot record into it");
}

}  // namespace

struct RunStore::MetricWriter::State {
    State(Database& d, const std::string& id)
        : db(d),
          run_id(id),
          tx(d),
          find(d, "SELECT id, last_step, points FROM metric_series WHERE run_id = ? AND key = ?"),
          make(d, "INSERT INTO metric_series(run_id, key, last_step) VALUES (?, ?, ?)"),
          point(d,
                "INSERT INTO metric_points(series, step, seq, value, time_ns) "
                "VALUES (?, ?, ?, ?, ?)"),
          last(d, "UPDATE metric_series SET last_step = ?, points = ? WHERE id = ?"),
          latest(d, "INSERT OR REPLACE INTO run_metrics(run_id, key, value) VALUES (?, ?, ?)") {}

    struct Series {
        int64_t id;
        int64_t last_step;
        int64_t points = 0;       // logged so far (numbers the next point's seq)
        bool seen_value = false;  // a point at or after last_step came in this batch
        double value = 0;
    };
    Database& db;
    std::string run_id;
    Database::Transaction tx;
    Database::Statement find, make, point, last, latest;
    std::unordered_map<std::string, Series> series;
    int64_t now = now_ns();
    std::vector<uint32_t> order;
};

RunStore::MetricWriter::MetricWriter(RunStore& store, const std::string& run_id)
    : state_(std::make_unique<State>(store.db_, run_id)) {
    require_running(store.db_, run_id);
}

RunStore::MetricWriter::~MetricWriter() = default;

void RunStore::MetricWriter::add(const std::vector<MetricPoint>& points) {
    State& st = *state_;
    // Inserted in (metric, step) order, the logged order kept among equals: the index on
    // (series, step) then grows at its end instead of splitting pages in the middle, which is
    // most of the cost of a large batch.
    std::vector<uint32_t>& order = st.order;
    order.resize(points.size());
    for (uint32_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const MetricPoint &x = points[a], &y = points[b];
        int c = x.key.compare(y.key);
        return c != 0 ? c < 0 : x.step < y.step;
    });
    auto it = st.series.end();
    for (uint32_t i : order) {
        const MetricPoint& p = points[i];
        if (it == st.series.end() || it->first != p.key) it = st.series.find(p.key);
        if (it == st.series.end()) {
            st.find.reset();
            st.find.bind(1, st.run_id).bind(2, p.key);
            State::Series s{};
            if (st.find.step()) {
                s.id = st.find.column_int(0);
                s.last_step = st.find.column_int(1);
                s.points = st.find.column_int(2);
            } else {
                st.make.reset();
                st.make.bind(1, st.run_id).bind(2, p.key).bind(3, p.step);
                st.make.step();
                s.id = sqlite3_last_insert_rowid(st.db.handle());
                s.last_step = p.step;
            }
            it = st.series.emplace(p.key, s).first;
        }
        State::Series& s = it->second;
        st.point.reset();
        st.point.bind(1, s.id)
            .bind(2, p.step)
            .bind(3, s.points++)
            .bind(4, p.value)
            .bind(5, p.time_ns ? p.time_ns : st.now);
        st.point.step();
        // The run's value of a metric is the one at its highest step (the latest among equals).
        if (p.step >= s.last_step) {
            s.last_step = p.step;
            s.value = p.value;
            s.seen_value = true;
        }
    }
}

void RunStore::MetricWriter::commit() {
    State& st = *state_;
    for (const auto& [key, s] : st.series) {
        st.last.reset();
        st.last.bind(1, s.last_step).bind(2, s.points).bind(3, s.id);
        st.last.step();
        if (!s.seen_value) continue;
        st.latest.reset();
        st.latest.bind(1, st.run_id).bind(2, key).bind(3, s.value);
        st.latest.step();
    }
    st.tx.commit();
}

void RunStore::log_metrics(const std::string& run_id, const std::vector<MetricPoint>& points) {
    MetricWriter w(*this, run_id);
    w.add(points);
    w.commit();
}

namespace {

// Adds `key` to a run's parameters (run_params and params_json); false when it is already there
// (with `had` set to its JSON text). Inside the caller's transaction.
bool add_param(Database& db, const std::string& run_id, const std::string& key,
               const nlohmann::json& value, std::string* had) {
    Database::Statement q(db, "SELECT value_json FROM run_params WHERE run_id = ? AND key = ?");
    q.bind(1, run_id).bind(2, key);
    if (q.step()) {
        if (had) *had = q.column_text(0);
        return false;
    }
    Database::Statement ins(db, "INSERT INTO run_params(run_id, key, value_json) VALUES (?, ?, ?)");
    ins.bind(1, run_id).bind(2, key).bind(3, value.dump());
    ins.step();
    Database::Statement get(db, "SELECT params_json FROM runs WHERE id = ?");
    get.bind(1, run_id);
    if (!get.step()) throw Error("unknown run " + quote(run_id));
    nlohmann::json params = nlohmann::json::parse(get.column_text(0), nullptr, false);
    if (!params.is_object()) params = nlohmann::json::object();
    params[key] = value;
    Database::Statement up(db, "UPDATE runs SET params_json = ? WHERE id = ?");
    up.bind(1, params.dump()).bind(2, run_id);
    up.step();
    return true;
}

}  // namespace

void RunStore::log_param(const std::string& run_id, const std::string& key,
                         const nlohmann::json& value) {
    Database::Transaction tx(db_);
    require_running(db_, run_id);
    std::string had;
    if (!add_param(db_, run_id, key, value, &had)) {
        if (had == value.dump()) return;  // the same value again
        throw Error("parameter " + quote(key) + " of run " + quote(run_id.substr(0, 12)) +
                    " is already " + had + "; a parameter keeps its first value");
    }
    tx.commit();
}

void RunStore::add_missing_params(const std::string& run_id, const nlohmann::json& params) {
    Database::Transaction tx(db_);
    for (auto it = params.begin(); it != params.end(); ++it)
        add_param(db_, run_id, it.key(), it.value(), nullptr);
    tx.commit();
}

void RunStore::set_tag(const std::string& run_id, const std::string& key,
                       const std::string& value) {
    Database::Transaction tx(db_);
    require_running(db_, run_id);
    Database::Statement ins(db_,
                            "INSERT OR REPLACE INTO run_tags(run_id, key, value) "
                            "VALUES (?, ?, ?)");
    ins.bind(1, run_id).bind(2, key).bind(3, value);
    ins.step();
    tx.commit();
}

void RunStore::add_output(const std::string& run_id, const Artifact& a) {
    Database::Transaction tx(db_);
    require_running(db_, run_id);
    Database::Statement seq(db_,
                            "SELECT count(*) FROM run_artifacts "
                            "WHERE run_id = ? AND direction = 'out'");
    seq.bind(1, run_id);
    seq.step();
    Database::Statement ins(db_,
                            "INSERT OR REPLACE INTO run_artifacts"
                            "(run_id, direction, path, seq, hash, size, is_dir) "
                            "VALUES (?, 'out', ?, ?, ?, ?, ?)");
    ins.bind(1, run_id)
        .bind(2, a.path)
        .bind(3, seq.column_int(0))
        .bind_blob(4, a.digest.data(), a.digest.size())
        .bind(5, int64_t(a.size))
        .bind(6, a.is_dir);
    ins.step();
    tx.commit();
}

std::vector<MetricPoint> RunStore::history(const std::string& run_id, const std::string& key) {
    std::vector<MetricPoint> out;
    Database::Statement q(db_,
                          "SELECT p.step, p.value, p.time_ns FROM metric_points p "
                          "JOIN metric_series s ON s.id = p.series "
                          "WHERE s.run_id = ? AND s.key = ? ORDER BY p.step, p.seq");
    q.bind(1, run_id).bind(2, key);
    while (q.step())
        out.push_back({key, q.column_double(1), q.column_int(0), q.column_int(2)});
    return out;
}

int64_t RunStore::next_step(const std::string& run_id, const std::string& key) {
    Database::Statement q(db_, "SELECT last_step FROM metric_series WHERE run_id = ? AND key = ?");
    q.bind(1, run_id).bind(2, key);
    return q.step() ? q.column_int(0) + 1 : 0;
}

std::vector<std::string> RunStore::history_keys(const std::string& run_id) {
    std::vector<std::string> out;
    Database::Statement q(db_, "SELECT key FROM metric_series WHERE run_id = ? ORDER BY key");
    q.bind(1, run_id);
    while (q.step())
        out.push_back(q.column_text(0));
    return out;
}

size_t RunStore::remove(const std::vector<std::string>& ids) {
    Database::Transaction tx(db_);
    Database::Statement kids(db_, "SELECT id FROM runs WHERE parent = ?");
    Database::Statement points(db_,
                               "DELETE FROM metric_points WHERE series IN "
                               "(SELECT id FROM metric_series WHERE run_id = ?)");
    Database::Statement del(db_, "DELETE FROM runs WHERE id = ?");
    std::vector<std::string> all;
    std::set<std::string> seen;
    for (const auto& id : ids) {
        if (!seen.insert(id).second) continue;
        all.push_back(id);
        kids.reset();
        kids.bind(1, id);
        while (kids.step()) {
            std::string k = kids.column_text(0);
            if (seen.insert(k).second) all.push_back(k);
        }
    }
    size_t n = 0;
    for (const auto& id : all) {
        points.reset();
        points.bind(1, id);
        points.step();
        // run_artifacts, run_metrics, run_params, run_tags and metric_series cascade.
        del.reset();
        del.bind(1, id);
        del.step();
        n += size_t(sqlite3_changes(db_.handle()));
    }
    tx.commit();
    return n;
}

// ---- metrics files ------------------------------------------------------------------------

namespace {

std::optional<double> number_from(const std::string& s) {
    if (s.empty()) return std::nullopt;
    double v = 0;
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    if (*begin == '+') ++begin;  // from_chars does not take a leading '+'
    auto [p, ec] = std::from_chars(begin, end, v);
    if (ec != std::errc() || p != end || !std::isfinite(v)) return std::nullopt;
    return v;
}

void flatten(const nlohmann::json& j, const std::string& key, std::map<std::string, double>& out) {
    auto join = [&](const std::string& k) { return key.empty() ? k : key + "." + k; };
    switch (j.type()) {
        case nlohmann::json::value_t::object:
            for (const auto& [k, v] : j.items())
                flatten(v, join(k), out);
            break;
        case nlohmann::json::value_t::array:
            for (size_t i = 0; i < j.size(); ++i)
                flatten(j[i], join(std::to_string(i)), out);
            break;
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
        case nlohmann::json::value_t::number_float:
            if (!key.empty() && std::isfinite(j.get<double>())) out[key] = j.get<double>();
            break;
        case nlohmann::json::value_t::boolean:
            if (!key.empty()) out[key] = j.get<bool>() ? 1.0 : 0.0;
            break;
        case nlohmann::json::value_t::string:
            if (!key.empty()) {
                if (auto v = number_from(j.get<std::string>())) out[key] = *v;
            }
            break;
        default:
            break;  // null, binary: skipped
    }
}

[[noreturn]] void metrics_fail(const std::string& shown, size_t line, size_t column,
                               const std::string& why) {
    throw Error("cannot read metrics " + quote(shown) + ": line " + std::to_string(line) +
                " column " + std::to_string(column) + ": " + why);
}

}  // namespace

std::map<std::string, double> read_metrics_file(const fs::path& file, const std::string& shown) {
    std::string text;
    try {
        text = read_file(file);
    } catch (const Error& e) {
        throw Error("cannot read metrics " + quote(shown) + ": " + e.what());
    }
    return parse_metrics(text, file, shown);
}

std::map<std::string, double> parse_metrics(const std::string& text, const fs::path& file,
                                            const std::string& shown) {
    std::string ext = file.extension().string();
    for (char& c : ext)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    nlohmann::json j;
    if (ext == ".yaml" || ext == ".yml") {
        YAML::Node n;
        try {
            n = YAML::Load(text);
        } catch (const YAML::ParserException& e) {
            metrics_fail(shown, e.mark.is_null() ? 1 : size_t(e.mark.line) + 1,
                         e.mark.is_null() ? 1 : size_t(e.mark.column) + 1, e.msg);
        }
        j = yaml_to_json(n);
        if (j.is_null()) return {};  // an empty file
    } else {
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::parse_error& e) {
            // e.byte counts the bytes read, the offending one included.
            size_t at = e.byte > 0 ? std::min<size_t>(e.byte - 1, text.size()) : 0;
            size_t line = 1, line_start = 0;
            for (size_t i = 0; i < at; ++i) {
                if (text[i] == '\n') {
                    ++line;
                    line_start = i + 1;
                }
            }
            // nlohmann: "[json.exception.parse_error.101] parse error at line 1, column 5:
            // syntax error while parsing value - ..."; keep what follows the position.
            std::string why = e.what();
            size_t colon = why.find("column ");
            colon = colon == std::string::npos ? why.find("] ") : why.find(": ", colon);
            if (colon != std::string::npos) why = why.substr(colon + 2);
            // nlohmann quotes the bytes it read, newlines included: keep the message one line.
            std::string one_line;
            for (char c : why) {
                if (c == '\n')
                    one_line += "\\n";
                else if (c == '\r')
                    one_line += "\\r";
                else if (c == '\t')
                    one_line += "\\t";
                else
                    one_line += c;
            }
            why = one_line;
            metrics_fail(shown, line, at - line_start + 1, why);
        }
    }
    if (!j.is_object() && !j.is_array()) {
        metrics_fail(shown, 1, 1, "expected an object of metric names and values");
    }
    std::map<std::string, double> out;
    flatten(j, "", out);
    return out;
}

}  // namespace mlo::core
