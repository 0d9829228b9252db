#include "core/meta_sync.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/registry.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

namespace {

// ---- keys -----------------------------------------------------------------------------------

enum class MetaKind { run, version, event };

struct MetaKeyParts {
    MetaKind kind = MetaKind::run;
    std::string id;  // the run id, or the model name
    int64_t version = 0;
};

bool meta_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

// Run ids are hex (older ones too); any id of [A-Za-z0-9_.-] starting with a letter or digit
// is a file name on every remote.
bool meta_valid_run_id(const std::string& id) {
    if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-' || id[0] == '_') return false;
    return std::all_of(id.begin(), id.end(), meta_id_char);
}

bool meta_lower_hex(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string meta_hex16(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::optional<MetaKeyParts> parse_meta_key(const std::string& key) {
    constexpr std::string_view ext = ".json";
    if (key.size() <= ext.size() || key.compare(key.size() - ext.size(), ext.size(), ext) != 0)
        return std::nullopt;
    std::string stem = key.substr(0, key.size() - ext.size());
    size_t slash = stem.find('/');
    if (slash == std::string::npos) return std::nullopt;
    std::string dir = stem.substr(0, slash);
    std::string rest = stem.substr(slash + 1);
    MetaKeyParts parts;
    if (dir == "runs") {
        if (!meta_valid_run_id(rest)) return std::nullopt;
        parts.kind = MetaKind::run;
        parts.id = rest;
        return parts;
    }
    size_t second = rest.find('/');
    if (second == std::string::npos) return std::nullopt;
    parts.id = rest.substr(0, second);
    std::string leaf = rest.substr(second + 1);
    if (!valid_model_name(parts.id)) return std::nullopt;
    if (dir == "models") {
        // A version number as Registry writes it: 1 or more, no leading zero, fits int64_t.
        if (leaf.empty() || leaf.size() > 18 || leaf[0] == '0' ||
            !std::all_of(leaf.begin(), leaf.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        parts.kind = MetaKind::version;
        parts.version = std::stoll(leaf);
        return parts;
    }
    if (dir == "events") {
        if (leaf.size() != 33 || leaf[16] != '-' || !meta_lower_hex(leaf.substr(0, 16)) ||
            !meta_lower_hex(leaf.substr(17)))
            return std::nullopt;
        parts.kind = MetaKind::event;
        return parts;
    }
    return std::nullopt;
}

std::string meta_run_key(const std::string& id) {
    return "runs/" + id + ".json";
}

std::string meta_version_key(const std::string& name, int64_t version) {
    return "models/" + name + "/" + std::to_string(version) + ".json";
}

// ---- JSON -----------------------------------------------------------------------------------

// Deterministic: nlohmann's objects are sorted maps; no spaces. Text that is not UTF-8 (a path
// in some other encoding) cannot be JSON: its bad bytes become U+FFFD rather than failing the
// push.
std::string meta_dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json meta_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

nlohmann::json meta_opt_digest(const Database::Statement& q, int col) {
    if (q.column_is_null(col)) return nullptr;
    return to_hex(q.column_digest(col));
}

// A record that is not what its key says; caught per record and reported with the key.
class MetaMalformed : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Typed access to the fields of one JSON object, each failure naming the field.
class MetaFields {
public:
    MetaFields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
        if (!j_.is_object()) bad("", "is not an object");
    }

    const nlohmann::json& at(const char* name) const {
        auto it = j_.find(name);
        if (it == j_.end()) bad(name, "is missing");
        return *it;
    }
    std::string str(const char* name) const {
        const auto& v = at(name);
        if (!v.is_string()) bad(name, "is not a string");
        return v.get<std::string>();
    }
    int64_t i64(const char* name) const { return int_of(at(name), name); }
    std::optional<int64_t> opt_i64(const char* name) const {
        const auto& v = at(name);
        if (v.is_null()) return std::nullopt;
        return int_of(v, name);
    }
    bool boolean(const char* name) const {
        const auto& v = at(name);
        if (!v.is_boolean()) bad(name, "is not true or false");
        return v.get<bool>();
    }
    double number(const char* name) const { return number_of(at(name), name); }
    Digest digest(const char* name) const { return digest_of(at(name), name); }
    std::optional<Digest> opt_digest(const char* name) const {
        const auto& v = at(name);
        if (v.is_null()) return std::nullopt;
        return digest_of(v, name);
    }
    const nlohmann::json& object(const char* name) const {
        const auto& v = at(name);
        if (!v.is_object()) bad(name, "is not an object");
        return v;
    }
    const nlohmann::json& array(const char* name) const {
        const auto& v = at(name);
        if (!v.is_array()) bad(name, "is not an array");
        return v;
    }

    int64_t int_of(const nlohmann::json& v, const std::string& name) const {
        if (v.is_number_unsigned()) {
            if (v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
                bad(name, "is out of range");
            return int64_t(v.get<uint64_t>());
        }
        if (!v.is_number_integer()) bad(name, "is not an integer");
        return v.get<int64_t>();
    }
    double number_of(const nlohmann::json& v, const std::string& name) const {
        if (v.is_number()) return v.get<double>();
        if (v == "inf") return std::numeric_limits<double>::infinity();
        if (v == "-inf") return -std::numeric_limits<double>::infinity();
        bad(name, "is not a number");
    }
    Digest digest_of(const nlohmann::json& v, const std::string& name) const {
        std::optional<Digest> d;
        if (v.is_string()) d = digest_from_hex(v.get<std::string>());
        if (!d) bad(name, "is not 64 lowercase hex digits");
        return *d;
    }
    [[noreturn]] void bad(const std::string& name, const std::string& why) const {
        std::string field = where_.empty() ? name : name.empty() ? where_ : where_ + "." + name;
        throw MetaMalformed(field.empty() ? "the record " + why
                                          : "field " + quote(field) + " " + why);
    }

private:
    const nlohmann::json& j_;
    std::string where_;
};

// ---- registry events ------------------------------------------------------------------------

struct MetaEvent {
    int64_t time_ns = 0;
    std::string user, action, name;
    int64_t version = 0;
    std::string alias;
    std::optional<int64_t> previous;
    std::string reason;
    Digest object{};  // of (name, version) where the event was recorded
    std::string body;
    std::string key;
};

bool meta_moves_alias(const std::string& action) {
    return action == "alias" || action == "promote" || action == "rollback";
}

// The canonical body and the key that hashes it: the same event gets the same key anywhere.
void meta_seal_event(MetaEvent& e) {
    nlohmann::json j = {{"action", e.action},
                        {"alias", e.alias},
                        {"name", e.name},
                        {"object", to_hex(e.object)},
                        {"previous", e.previous ? nlohmann::json(*e.previous) : nullptr},
                        {"reason", e.reason},
                        {"time_ns", e.time_ns},
                        {"user", e.user},
                        {"version", e.version}};
    e.body = meta_dump(j);
    e.key = "events/" + e.name + "/" + meta_hex16(uint64_t(e.time_ns)) + "-" +
            to_hex(sha256(e.body)).substr(0, 16) + ".json";
}

// The events recorded here (of one model, or all when `name` is empty), oldest first. An event
// whose version row is missing (never written by mlo) cannot name its object and is left out.
std::vector<MetaEvent> meta_local_events(Database& db, const std::string& name) {
    std::string sql =
        "SELECT e.time_ns, e.user, e.action, e.name, e.version, e.alias, e.previous, e.reason, "
        "v.object FROM model_events e JOIN model_versions v "
        "ON v.name = e.name AND v.version = e.version ";
    sql += name.empty() ? "ORDER BY e.seq" : "WHERE e.name = ? ORDER BY e.seq";
    Database::Statement q(db, sql.c_str());
    if (!name.empty()) q.bind(1, name);
    std::vector<MetaEvent> out;
    while (q.step()) {
        MetaEvent e;
        e.time_ns = q.column_int(0);
        e.user = q.column_text(1);
        e.action = q.column_text(2);
        e.name = q.column_text(3);
        e.version = q.column_int(4);
        e.alias = q.column_text(5);
        if (!q.column_is_null(6)) e.previous = q.column_int(6);
        e.reason = q.column_text(7);
        e.object = q.column_digest(8);
        meta_seal_event(e);
        out.push_back(std::move(e));
    }
    return out;
}

// Reads one consistent state of the tables; inside a caller's transaction it joins that one.
class MetaReadTransaction {
public:
    explicit MetaReadTransaction(Database& db) : db_(db) {
        if (sqlite3_get_autocommit(db_.handle())) {
            db_.exec("BEGIN");
            open_ = true;
        }
    }
    ~MetaReadTransaction() {
        if (open_) sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
    }
    MetaReadTransaction(const MetaReadTransaction&) = delete;
    MetaReadTransaction& operator=(const MetaReadTransaction&) = delete;

private:
    Database& db_;
    bool open_ = false;
};

// ---- export ---------------------------------------------------------------------------------

// Builds run records with statements prepared once.
class MetaRunExporter {
public:
    explicit MetaRunExporter(Database& db)
        : row_(db,
               "SELECT id, kind, name, parent, sweep, stage, cmd, params_json, started_ns, "
               "ended_ns, status, exit_code, host, user, pid, git_in_repo, git_commit, git_dirty, "
               "git_diff_hash, cache_key, log_object, restored_from, lock_object "
               "FROM runs WHERE id = ?"),
          params_(db, "SELECT key, value_json FROM run_params WHERE run_id = ? ORDER BY key"),
          metrics_(db, "SELECT key, value FROM run_metrics WHERE run_id = ? ORDER BY key"),
          tags_(db, "SELECT key, value FROM run_tags WHERE run_id = ? ORDER BY key"),
          artifacts_(db,
                     "SELECT direction, path, seq, hash, size, is_dir FROM run_artifacts "
                     "WHERE run_id = ? ORDER BY direction, seq, path"),
          series_(db,
                  "SELECT id, key, last_step, points FROM metric_series WHERE run_id = ? "
                  "ORDER BY key"),
          points_(db,
                  "SELECT step, seq, value, time_ns FROM metric_points WHERE series = ? "
                  "ORDER BY step, seq") {}

    // nullopt when there is no such finished run.
    std::optional<std::string> body(const std::string& id) {
        row_.reset();
        row_.bind(1, id);
        if (!row_.step()) return std::nullopt;
        nlohmann::json j;
        j["id"] = row_.column_text(0);
        j["kind"] = row_.column_text(1);
        j["name"] = row_.column_text(2);
        j["parent"] = row_.column_text(3);
        j["sweep"] = row_.column_text(4);
        j["stage"] = row_.column_text(5);
        j["cmd"] = row_.column_text(6);
        j["params_json"] = row_.column_text(7);
        j["started_ns"] = row_.column_int(8);
        j["ended_ns"] = row_.column_int(9);
        j["status"] = row_.column_text(10);
        if (j["status"] == "running") return std::nullopt;
        j["exit_code"] =
            row_.column_is_null(11) ? nlohmann::json(nullptr) : nlohmann::json(row_.column_int(11));
        j["host"] = row_.column_text(12);
        j["user"] = row_.column_text(13);
        j["pid"] = row_.column_int(14);
        j["git_in_repo"] = row_.column_int(15) != 0;
        j["git_commit"] = row_.column_text(16);
        j["git_dirty"] = row_.column_int(17) != 0;
        j["git_diff_hash"] = row_.column_text(18);
        j["cache_key"] = row_.column_text(19);
        j["log_object"] = meta_opt_digest(row_, 20);
        j["restored_from"] = row_.column_text(21);
        j["lock_object"] = meta_opt_digest(row_, 22);

        nlohmann::json params = nlohmann::json::object();
        for (bind(params_, id); params_.step();)
            params[params_.column_text(0)] = params_.column_text(1);  // the JSON text as stored
        j["params"] = std::move(params);
        nlohmann::json metrics = nlohmann::json::object();
        for (bind(metrics_, id); metrics_.step();)
            metrics[metrics_.column_text(0)] = meta_number(metrics_.column_double(1));
        j["metrics"] = std::move(metrics);
        nlohmann::json tags = nlohmann::json::object();
        for (bind(tags_, id); tags_.step();)
            tags[tags_.column_text(0)] = tags_.column_text(1);
        j["tags"] = std::move(tags);
        nlohmann::json artifacts = nlohmann::json::array();
        for (bind(artifacts_, id); artifacts_.step();) {
            artifacts.push_back({{"direction", artifacts_.column_text(0)},
                                 {"path", artifacts_.column_text(1)},
                                 {"seq", artifacts_.column_int(2)},
                                 {"hash", to_hex(artifacts_.column_digest(3))},
                                 {"size", artifacts_.column_int(4)},
                                 {"is_dir", artifacts_.column_int(5) != 0}});
        }
        j["artifacts"] = std::move(artifacts);
        nlohmann::json series = nlohmann::json::array();
        for (bind(series_, id); series_.step();) {
            nlohmann::json values = nlohmann::json::array();
            points_.reset();
            points_.bind(1, series_.column_int(0));
            while (points_.step()) {
                values.push_back({points_.column_int(0), points_.column_int(1),
                                  meta_number(points_.column_double(2)), points_.column_int(3)});
            }
            series.push_back({{"key", series_.column_text(1)},
                              {"last_step", series_.column_int(2)},
                              {"points", series_.column_int(3)},
                              {"values", std::move(values)}});
        }
        j["series"] = std::move(series);
        return meta_dump(j);
    }

private:
    static void bind(Database::Statement& q, const std::string& id) {
        q.reset();
        q.bind(1, id);
    }

    Database::Statement row_, params_, metrics_, tags_, artifacts_, series_, points_;
};

std::optional<std::string> meta_version_body(Database& db, const std::string& name,
                                             int64_t version) {
    Database::Statement q(db,
                          "SELECT object, size, is_dir, run_id, source_path, created_ns, user "
                          "FROM model_versions WHERE name = ? AND version = ?");
    q.bind(1, name).bind(2, version);
    if (!q.step()) return std::nullopt;
    nlohmann::json j = {{"name", name},
                        {"version", version},
                        {"object", to_hex(q.column_digest(0))},
                        {"size", q.column_int(1)},
                        {"is_dir", q.column_int(2) != 0},
                        {"run_id", q.column_text(3)},
                        {"source_path", q.column_text(4)},
                        {"created_ns", q.column_int(5)},
                        {"user", q.column_text(6)}};
    return meta_dump(j);
}

// ---- import: parsing ------------------------------------------------------------------------

struct MetaArtifactIn {
    std::string direction, path;
    int64_t seq = 0;
    Digest hash{};
    int64_t size = 0;
    bool is_dir = false;
};

struct MetaPointIn {
    int64_t step = 0, seq = 0;
    double value = 0;
    int64_t time_ns = 0;
};

struct MetaSeriesIn {
    std::string key;
    int64_t last_step = 0, points = 0;
    std::vector<MetaPointIn> values;
};

struct MetaRunIn {
    std::string key;
    std::string id, kind, name, parent, sweep, stage, cmd, params_json;
    int64_t started_ns = 0, ended_ns = 0;
    std::string status;
    std::optional<int64_t> exit_code;
    std::string host, user;
    int64_t pid = 0;
    bool git_in_repo = false, git_dirty = false;
    std::string git_commit, git_diff_hash, cache_key;
    std::optional<Digest> log_object, lock_object;
    std::string restored_from;
    std::vector<std::pair<std::string, std::string>> params, tags;
    std::vector<std::pair<std::string, double>> metrics;
    std::vector<MetaArtifactIn> artifacts;
    std::vector<MetaSeriesIn> series;
};

struct MetaVersionIn {
    std::string key;
    std::string name;
    int64_t version = 0;
    Digest object{};
    int64_t size = 0;
    bool is_dir = false;
    std::string run_id, source_path;
    int64_t created_ns = 0;
    std::string user;
};

MetaRunIn parse_meta_run(const nlohmann::json& j, const MetaKeyParts& parts) {
    MetaFields f(j, "");
    MetaRunIn r;
    r.id = f.str("id");
    if (r.id != parts.id) f.bad("id", "does not match the key");
    r.kind = f.str("kind");
    if (!run_kind_from(r.kind)) f.bad("kind", "is not a run kind");
    r.name = f.str("name");
    r.parent = f.str("parent");
    r.sweep = f.str("sweep");
    r.stage = f.str("stage");
    r.cmd = f.str("cmd");
    r.params_json = f.str("params_json");
    if (!nlohmann::json::accept(r.params_json)) f.bad("params_json", "is not JSON text");
    r.started_ns = f.i64("started_ns");
    r.ended_ns = f.i64("ended_ns");
    r.status = f.str("status");
    if (!run_status_from(r.status)) f.bad("status", "is not a run status");
    if (r.status == "running") f.bad("status", "is 'running' (only finished runs are shared)");
    r.exit_code = f.opt_i64("exit_code");
    r.host = f.str("host");
    r.user = f.str("user");
    r.pid = f.i64("pid");
    r.git_in_repo = f.boolean("git_in_repo");
    r.git_commit = f.str("git_commit");
    r.git_dirty = f.boolean("git_dirty");
    r.git_diff_hash = f.str("git_diff_hash");
    r.cache_key = f.str("cache_key");
    r.log_object = f.opt_digest("log_object");
    r.restored_from = f.str("restored_from");
    r.lock_object = f.opt_digest("lock_object");

    for (const auto& [k, v] : f.object("params").items()) {
        if (!v.is_string() || !nlohmann::json::accept(v.get<std::string>()))
            f.bad("params." + k, "is not JSON text");
        r.params.emplace_back(k, v.get<std::string>());
    }
    for (const auto& [k, v] : f.object("metrics").items())
        r.metrics.emplace_back(k, f.number_of(v, "metrics." + k));
    for (const auto& [k, v] : f.object("tags").items()) {
        if (!v.is_string()) f.bad("tags." + k, "is not a string");
        r.tags.emplace_back(k, v.get<std::string>());
    }
    const auto& artifacts = f.array("artifacts");
    for (size_t i = 0; i < artifacts.size(); ++i) {
        MetaFields a(artifacts[i], "artifacts[" + std::to_string(i) + "]");
        MetaArtifactIn in;
        in.direction = a.str("direction");
        if (in.direction != "in" && in.direction != "out") a.bad("direction", "is not in or out");
        in.path = a.str("path");
        in.seq = a.i64("seq");
        in.hash = a.digest("hash");
        in.size = a.i64("size");
        in.is_dir = a.boolean("is_dir");
        r.artifacts.push_back(std::move(in));
    }
    const auto& series = f.array("series");
    for (size_t i = 0; i < series.size(); ++i) {
        MetaFields s(series[i], "series[" + std::to_string(i) + "]");
        MetaSeriesIn in;
        in.key = s.str("key");
        in.last_step = s.i64("last_step");
        in.points = s.i64("points");
        const auto& values = s.array("values");
        for (size_t p = 0; p < values.size(); ++p) {
            const auto& v = values[p];
            std::string where = "values[" + std::to_string(p) + "]";
            if (!v.is_array() || v.size() != 4) s.bad(where, "is not [step, seq, value, time_ns]");
            in.values.push_back({s.int_of(v[0], where), s.int_of(v[1], where),
                                 s.number_of(v[2], where), s.int_of(v[3], where)});
        }
        r.series.push_back(std::move(in));
    }
    return r;
}

MetaVersionIn parse_meta_version(const nlohmann::json& j, const MetaKeyParts& parts) {
    MetaFields f(j, "");
    MetaVersionIn v;
    v.name = f.str("name");
    if (v.name != parts.id) f.bad("name", "does not match the key");
    v.version = f.i64("version");
    if (v.version != parts.version) f.bad("version", "does not match the key");
    v.object = f.digest("object");
    v.size = f.i64("size");
    v.is_dir = f.boolean("is_dir");
    v.run_id = f.str("run_id");
    v.source_path = f.str("source_path");
    v.created_ns = f.i64("created_ns");
    v.user = f.str("user");
    return v;
}

MetaEvent parse_meta_event(const nlohmann::json& j, const std::string& key) {
    MetaFields f(j, "");
    MetaEvent e;
    e.time_ns = f.i64("time_ns");
    e.user = f.str("user");
    e.action = f.str("action");
    if (e.action != "register" && !meta_moves_alias(e.action) && e.action != "reject")
        f.bad("action", "is not a registry action");
    e.name = f.str("name");
    if (!valid_model_name(e.name)) f.bad("name", "is not a model name");
    e.version = f.i64("version");
    if (e.version < 1) f.bad("version", "is not a version");
    e.alias = f.str("alias");
    if (e.action == "register" ? !e.alias.empty() : !valid_alias(e.alias))
        f.bad("alias", "is not an alias");
    e.previous = f.opt_i64("previous");
    e.reason = f.str("reason");
    e.object = f.digest("object");
    meta_seal_event(e);
    if (e.key != key) throw MetaMalformed("its key does not match its content");
    return e;
}

// ---- import: merging ------------------------------------------------------------------------

std::string meta_short(const Digest& d) {
    return to_hex(d).substr(0, 12);
}

class MetaImporter {
public:
    explicit MetaImporter(Database& db) : db_(db) {}

    void add_run(const MetaRunIn& r) {
        if (!run_exists_) run_exists_.emplace(db_, "SELECT 1 FROM runs WHERE id = ?");
        run_exists_->reset();
        run_exists_->bind(1, r.id);
        if (run_exists_->step()) return;
        Database::Statement ins(
            db_,
            "INSERT INTO runs(id, kind, name, parent, sweep, stage, cmd, params_json, started_ns, "
            "ended_ns, status, exit_code, host, user, pid, git_in_repo, git_commit, git_dirty, "
            "git_diff_hash, cache_key, log_object, restored_from, lock_object) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        ins.bind(1, r.id)
            .bind(2, r.kind)
            .bind(3, r.name)
            .bind(4, r.parent)
            .bind(5, r.sweep)
            .bind(6, r.stage)
            .bind(7, r.cmd)
            .bind(8, r.params_json)
            .bind(9, r.started_ns)
            .bind(10, r.ended_ns)
            .bind(11, r.status);
        if (r.exit_code)
            ins.bind(12, *r.exit_code);
        else
            ins.bind_null(12);
        ins.bind(13, r.host)
            .bind(14, r.user)
            .bind(15, r.pid)
            .bind(16, r.git_in_repo)
            .bind(17, r.git_commit)
            .bind(18, r.git_dirty)
            .bind(19, r.git_diff_hash)
            .bind(20, r.cache_key);
        bind_opt_digest(ins, 21, r.log_object);
        ins.bind(22, r.restored_from);
        bind_opt_digest(ins, 23, r.lock_object);
        ins.step();

        Database::Statement param(
            db_, "INSERT INTO run_params(run_id, key, value_json) VALUES (?, ?, ?)");
        for (const auto& [k, v] : r.params) {
            param.reset();
            param.bind(1, r.id).bind(2, k).bind(3, v);
            param.step();
        }
        Database::Statement metric(db_,
                                   "INSERT INTO run_metrics(run_id, key, value) VALUES (?, ?, ?)");
        for (const auto& [k, v] : r.metrics) {
            metric.reset();
            metric.bind(1, r.id).bind(2, k).bind(3, v);
            metric.step();
        }
        Database::Statement tag(db_, "INSERT INTO run_tags(run_id, key, value) VALUES (?, ?, ?)");
        for (const auto& [k, v] : r.tags) {
            tag.reset();
            tag.bind(1, r.id).bind(2, k).bind(3, v);
            tag.step();
        }
        Database::Statement art(db_,
                                "INSERT INTO run_artifacts(run_id, direction, path, seq, hash, "
                                "size, is_dir) VALUES (?, ?, ?, ?, ?, ?, ?)");
        for (const MetaArtifactIn& a : r.artifacts) {
            art.reset();
            art.bind(1, r.id)
                .bind(2, a.direction)
                .bind(3, a.path)
                .bind(4, a.seq)
                .bind_blob(5, a.hash.data(), a.hash.size())
                .bind(6, a.size)
                .bind(7, a.is_dir);
            art.step();
        }
        Database::Statement series(db_,
                                   "INSERT INTO metric_series(run_id, key, last_step, points) "
                                   "VALUES (?, ?, ?, ?)");
        Database::Statement point(db_,
                                  "INSERT INTO metric_points(series, step, seq, value, time_ns) "
                                  "VALUES (?, ?, ?, ?, ?)");
        for (const MetaSeriesIn& s : r.series) {
            series.reset();
            series.bind(1, r.id).bind(2, s.key).bind(3, s.last_step).bind(4, s.points);
            series.step();
            int64_t sid = sqlite3_last_insert_rowid(db_.handle());
            for (const MetaPointIn& p : s.values) {
                point.reset();
                point.bind(1, sid)
                    .bind(2, p.step)
                    .bind(3, p.seq)
                    .bind(4, p.value)
                    .bind(5, p.time_ns);
                point.step();
            }
        }
        ++merge_.runs;
    }

    void add_version(const MetaVersionIn& v) {
        if (std::optional<Digest> here = local_object(v.name, v.version)) {
            if (*here == v.object) return;
            merge_.conflicts.push_back("model " + quote(v.name + ":" + std::to_string(v.version)) +
                                       " differs: here it is object " + meta_short(*here) +
                                       ", on the remote object " + meta_short(v.object) +
                                       " (registered by " + user_text(v.user) +
                                       "); kept the one here");
            return;
        }
        Database::Statement model_row(db_,
                                      "INSERT OR IGNORE INTO models(name, created_ns, user) "
                                      "VALUES (?, ?, ?)");
        model_row.bind(1, v.name).bind(2, v.created_ns).bind(3, v.user);
        model_row.step();
        Database::Statement ins(db_,
                                "INSERT INTO model_versions(name, version, object, size, is_dir, "
                                "run_id, source_path, created_ns, user) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        ins.bind(1, v.name)
            .bind(2, v.version)
            .bind_blob(3, v.object.data(), v.object.size())
            .bind(4, v.size)
            .bind(5, v.is_dir)
            .bind(6, v.run_id)
            .bind(7, v.source_path)
            .bind(8, v.created_ns)
            .bind(9, v.user);
        ins.step();
        versions_[{v.name, v.version}] = v.object;
        ++merge_.versions;
    }

    // Records the event unless it is here already or names a version that is not (the same)
    // here; remembers the alias moves for settle_aliases.
    void add_event(const MetaEvent& e) {
        Model& m = model(e.name);
        if (m.keys.count(e.key)) return;  // here already (or earlier in this batch)
        m.keys.insert(e.key);
        std::optional<Digest> here = local_object(e.name, e.version);
        bool available = here && *here == e.object;
        if (meta_moves_alias(e.action)) {
            m.moves[e.alias].fresh.push_back({e, available, false, here.has_value()});
        }
        if (!available) return;
        Database::Statement ins(db_,
                                "INSERT INTO model_events(time_ns, user, action, name, version, "
                                "alias, previous, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        ins.bind(1, e.time_ns)
            .bind(2, e.user)
            .bind(3, e.action)
            .bind(4, e.name)
            .bind(5, e.version)
            .bind(6, e.alias);
        if (e.previous)
            ins.bind(7, *e.previous);
        else
            ins.bind_null(7);
        ins.bind(8, e.reason);
        ins.step();
        ++merge_.events;
    }

    // Sets every alias an imported event moved to the version of its latest move in time.
    void settle_aliases() {
        for (auto& [name, m] : models_) {
            for (auto& [alias, moves] : m.moves) {
                if (!moves.fresh.empty()) settle(name, alias, moves);
            }
        }
    }

    MetaMerge result() { return std::move(merge_); }

private:
    struct Move {
        MetaEvent e;
        bool available = true;  // its version is here, the same object
        bool local = true;      // recorded here before this import
        bool version_here = true;
    };
    struct Moves {
        std::vector<Move> local, fresh;
    };
    struct Model {
        std::set<std::string> keys;          // events here (and imported so far)
        std::map<std::string, Moves> moves;  // by alias
    };

    static bool meta_later(const Move& a, const Move& b) {
        return std::tie(a.e.time_ns, a.e.key) > std::tie(b.e.time_ns, b.e.key);
    }

    static std::string user_text(const std::string& user) {
        return user.empty() ? "someone" : user;
    }

    static void bind_opt_digest(Database::Statement& q, int i, const std::optional<Digest>& d) {
        if (d)
            q.bind_blob(i, d->data(), d->size());
        else
            q.bind_null(i);
    }

    std::optional<Digest> local_object(const std::string& name, int64_t version) {
        auto it = versions_.find({name, version});
        if (it != versions_.end()) return it->second;
        Database::Statement q(db_,
                              "SELECT object FROM model_versions WHERE name = ? AND version = ?");
        q.bind(1, name).bind(2, version);
        if (!q.step()) return std::nullopt;
        Digest d = q.column_digest(0);
        versions_[{name, version}] = d;
        return d;
    }

    // The events of `name` recorded here before this import, loaded once.
    Model& model(const std::string& name) {
        auto [it, fresh] = models_.try_emplace(name);
        if (fresh) {
            for (MetaEvent& e : meta_local_events(db_, name)) {
                it->second.keys.insert(e.key);
                if (meta_moves_alias(e.action)) {
                    std::string alias = e.alias;
                    it->second.moves[alias].local.push_back({std::move(e), true, true, true});
                }
            }
        }
        return it->second;
    }

    std::optional<int64_t> alias_here(const std::string& name, const std::string& alias) {
        Database::Statement q(db_,
                              "SELECT version FROM model_aliases WHERE name = ? AND alias = ?");
        q.bind(1, name).bind(2, alias);
        if (!q.step()) return std::nullopt;
        return q.column_int(0);
    }

    void settle(const std::string& name, const std::string& alias, Moves& moves) {
        auto order = [](const Move& a, const Move& b) { return meta_later(b, a); };
        std::sort(moves.local.begin(), moves.local.end(), order);
        std::sort(moves.fresh.begin(), moves.fresh.end(), order);
        const Move& first_fresh = moves.fresh.front();
        const Move& remote_head = moves.fresh.back();
        const Move* winner = &remote_head;
        if (!moves.local.empty() && meta_later(moves.local.back(), *winner))
            winner = &moves.local.back();
        // Both sides moved the alias since they last agreed when a move here is later than the
        // remote's first new one, or the remote's first new move started from another version
        // than the one the moves here had left the alias at by then.
        bool diverged = false;
        if (!moves.local.empty()) {
            std::optional<int64_t> here_then;
            for (const Move& l : moves.local) {
                if (meta_later(l, first_fresh)) {
                    diverged = true;
                    break;
                }
                here_then = l.e.version;
            }
            diverged = diverged || here_then != first_fresh.e.previous;
        }
        const std::string ref = quote(name + "@" + alias);
        std::optional<int64_t> before = alias_here(name, alias);
        auto at = [&](std::optional<int64_t> v) {
            return v ? "version " + std::to_string(*v) : std::string("unset");
        };
        if (!winner->available) {
            std::string why =
                winner->version_here
                    ? "version " + std::to_string(winner->e.version) + " here is another model"
                    : "version " + std::to_string(winner->e.version) + " is not here";
            merge_.conflicts.push_back(
                "cannot move alias " + ref + " to version " + std::to_string(winner->e.version) +
                " (the latest move, by " + user_text(winner->e.user) + " on the remote): " + why +
                "; it stays " + (before ? "at " : "") + at(before));
            return;
        }
        if (before != winner->e.version) {
            Database::Statement up(
                db_,
                "INSERT INTO model_aliases(name, alias, version) VALUES (?, ?, ?) "
                "ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version");
            up.bind(1, name).bind(2, alias).bind(3, winner->e.version);
            up.step();
        }
        if (diverged && before && *before != remote_head.e.version) {
            merge_.conflicts.push_back(
                "alias " + ref + " moved on both sides: here to version " +
                std::to_string(*before) + ", on the remote to version " +
                std::to_string(remote_head.e.version) + " (by " + user_text(remote_head.e.user) +
                "); the later move wins: version " + std::to_string(winner->e.version) +
                (winner->local ? " (here)" : " (the remote's)"));
        }
    }

    Database& db_;
    MetaMerge merge_;
    std::optional<Database::Statement> run_exists_;
    std::map<std::pair<std::string, int64_t>, Digest> versions_;
    std::map<std::string, Model> models_;
};

}  // namespace

bool is_meta_key(const std::string& key) {
    return parse_meta_key(key).has_value();
}

std::vector<std::string> meta_keys(Database& db) {
    MetaReadTransaction tx(db);
    std::vector<std::string> out;
    {
        Database::Statement q(db, "SELECT id FROM runs WHERE status != 'running' ORDER BY id");
        while (q.step()) {
            std::string id = q.column_text(0);
            if (meta_valid_run_id(id)) out.push_back(meta_run_key(id));
        }
    }
    {
        Database::Statement q(db,
                              "SELECT name, version FROM model_versions ORDER BY name, version");
        while (q.step())
            out.push_back(meta_version_key(q.column_text(0), q.column_int(1)));
    }
    for (MetaEvent& e : meta_local_events(db, ""))
        out.push_back(std::move(e.key));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<MetaRecord> export_meta(Database& db, const std::vector<std::string>& keys) {
    MetaReadTransaction tx(db);
    MetaRunExporter runs(db);
    std::map<std::string, std::map<std::string, std::string>> events;  // name -> key -> body
    std::vector<MetaRecord> out;
    out.reserve(keys.size());
    for (const std::string& key : keys) {
        std::optional<MetaKeyParts> parts = parse_meta_key(key);
        std::optional<std::string> body;
        if (parts && parts->kind == MetaKind::run) {
            body = runs.body(parts->id);
        } else if (parts && parts->kind == MetaKind::version) {
            body = meta_version_body(db, parts->id, parts->version);
        } else if (parts) {
            auto [it, fresh] = events.try_emplace(parts->id);
            if (fresh) {
                for (MetaEvent& e : meta_local_events(db, parts->id))
                    it->second.emplace(std::move(e.key), std::move(e.body));
            }
            if (auto found = it->second.find(key); found != it->second.end()) body = found->second;
        }
        if (!body) throw Error("cannot export record " + quote("meta/" + key) + ": no such record");
        out.push_back({key, std::move(*body)});
    }
    return out;
}

MetaMerge import_meta(Database& db, const std::vector<MetaRecord>& records) {
    // Everything is read and checked before anything is written.
    std::vector<MetaRunIn> runs;
    std::vector<MetaVersionIn> versions;
    std::vector<MetaEvent> events;
    for (const MetaRecord& rec : records) {
        std::optional<MetaKeyParts> parts = parse_meta_key(rec.key);
        if (!parts) continue;  // not a record this mlo reads
        try {
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(rec.body);
            } catch (const nlohmann::json::parse_error& e) {
                // "[json.exception.parse_error.101] parse error at line 1, ..." without the tag.
                std::string what = e.what();
                size_t tag = what.find("] ");
                throw MetaMalformed(tag == std::string::npos ? what : what.substr(tag + 2));
            }
            switch (parts->kind) {
                case MetaKind::run:
                    runs.push_back(parse_meta_run(j, *parts));
                    runs.back().key = rec.key;
                    break;
                case MetaKind::version:
                    versions.push_back(parse_meta_version(j, *parts));
                    versions.back().key = rec.key;
                    break;
                case MetaKind::event:
                    events.push_back(parse_meta_event(j, rec.key));
                    break;
            }
        } catch (const MetaMalformed& e) {
            throw Error("malformed record " + quote("meta/" + rec.key) + ": " + e.what());
        }
    }
    // Deterministic order whatever order the transport listed: versions by number (a model's
    // row takes its lowest new version's time and user, as Registry writes it), events by key.
    // Stable: of two records under one key, the first wins.
    std::stable_sort(runs.begin(), runs.end(),
                     [](const MetaRunIn& a, const MetaRunIn& b) { return a.key < b.key; });
    std::stable_sort(versions.begin(), versions.end(),
                     [](const MetaVersionIn& a, const MetaVersionIn& b) {
                         return std::tie(a.name, a.version) < std::tie(b.name, b.version);
                     });
    std::stable_sort(events.begin(), events.end(),
                     [](const MetaEvent& a, const MetaEvent& b) { return a.key < b.key; });

    Database::Transaction tx(db);
    MetaImporter importer(db);
    std::string current;
    try {
        for (const MetaRunIn& r : runs) {
            current = r.key;
            importer.add_run(r);
        }
        for (const MetaVersionIn& v : versions) {
            current = v.key;
            importer.add_version(v);
        }
        for (const MetaEvent& e : events) {
            current = e.key;
            importer.add_event(e);
        }
        current.clear();
        importer.settle_aliases();
    } catch (const Error& e) {
        if (current.empty()) throw;
        throw Error("cannot import record " + quote("meta/" + current) + ": " + e.what());
    }
    tx.commit();
    return importer.result();
}

}  // namespace mlo::core
