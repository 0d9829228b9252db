#include "core/registry.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>

#include "core/runs.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

bool ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool all_digits(const std::string& s) {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return !s.empty();
}

nlohmann::json text_or_null(const std::string& s) {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

// Every read that must see one state of the tables (a version and its aliases) runs in one
// read transaction; inside a caller's transaction it just joins that one.
class ReadTransaction {
public:
    explicit ReadTransaction(Database& db) : db_(db) {
        if (sqlite3_get_autocommit(db_.handle())) {
            db_.exec("BEGIN");
            open_ = true;
        }
    }
    ~ReadTransaction() {
        if (open_) sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
    }
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    Database& db_;
    bool open_ = false;
};

// Column lists as macros so that each query is one string literal, joined at compile time.
#define MLO_VERSION_COLUMNS                                                              \
    "SELECT name, version, object, size, is_dir, run_id, source_path, created_ns, user " \
    "FROM model_versions "

ModelVersion row_to_version(const Database::Statement& q) {
    ModelVersion v;
    v.name = q.column_text(0);
    v.version = q.column_int(1);
    v.object = q.column_digest(2);
    v.size = uint64_t(q.column_int(3));
    v.is_dir = q.column_int(4) != 0;
    v.run_id = q.column_text(5);
    v.source_path = q.column_text(6);
    v.created_ns = q.column_int(7);
    v.user = q.column_text(8);
    return v;
}

#define MLO_EVENT_COLUMNS                                                        \
    "SELECT seq, time_ns, user, action, name, version, alias, previous, reason " \
    "FROM model_events "

ModelEvent row_to_event(const Database::Statement& q) {
    ModelEvent e;
    e.seq = q.column_int(0);
    e.time_ns = q.column_int(1);
    e.user = q.column_text(2);
    e.action = q.column_text(3);
    e.name = q.column_text(4);
    e.version = q.column_int(5);
    e.alias = q.column_text(6);
    if (!q.column_is_null(7)) e.previous = q.column_int(7);
    e.reason = q.column_text(8);
    return e;
}

bool model_exists(Database& db, const std::string& name) {
    Database::Statement q(db, "SELECT 1 FROM models WHERE name = ?");
    q.bind(1, name);
    return q.step();
}

// Aliases of `name`, by the version they point at (each list sorted).
std::map<int64_t, std::vector<std::string>> aliases_by_version(Database& db,
                                                               const std::string& name) {
    std::map<int64_t, std::vector<std::string>> out;
    Database::Statement q(db,
                          "SELECT version, alias FROM model_aliases WHERE name = ? ORDER BY alias");
    q.bind(1, name);
    while (q.step())
        out[q.column_int(0)].push_back(q.column_text(1));
    return out;
}

std::optional<ModelVersion> load_version(Database& db, const std::string& name,
                                         std::optional<int64_t> version) {
    const char* sql = version ? MLO_VERSION_COLUMNS "WHERE name = ?1 AND version = ?2"
                              : MLO_VERSION_COLUMNS "WHERE name = ?1 ORDER BY version DESC LIMIT 1";
    Database::Statement q(db, sql);
    q.bind(1, name);
    if (version) q.bind(2, *version);
    if (!q.step()) return std::nullopt;
    ModelVersion v = row_to_version(q);
    auto aliases = aliases_by_version(db, name);
    if (auto it = aliases.find(v.version); it != aliases.end()) v.aliases = it->second;
    return v;
}

std::optional<int64_t> alias_version(Database& db, const std::string& name,
                                     const std::string& alias) {
    Database::Statement q(db, "SELECT version FROM model_aliases WHERE name = ? AND alias = ?");
    q.bind(1, name).bind(2, alias);
    if (!q.step()) return std::nullopt;
    return q.column_int(0);
}

// Appends an event; returns it with its seq.
ModelEvent insert_event(Database& db, ModelEvent e) {
    Database::Statement ins(db,
                            "INSERT INTO model_events(time_ns, user, action, name, version, alias, "
                            "previous, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
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
    e.seq = sqlite3_last_insert_rowid(db.handle());
    return e;
}

// Writes the alias and its event; returns the event with its seq.
ModelEvent move_alias(Database& db, ModelEvent e) {
    Database::Statement up(db,
                           "INSERT INTO model_aliases(name, alias, version) VALUES (?, ?, ?) "
                           "ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version");
    up.bind(1, e.name).bind(2, e.alias).bind(3, e.version);
    up.step();
    return insert_event(db, std::move(e));
}

std::string unknown_model(const std::string& name) {
    return "unknown model " + quote(name);
}

std::string no_version(const std::string& name, int64_t version) {
    return "model " + quote(name) + " has no version " + std::to_string(version);
}

std::string no_alias(const std::string& name, const std::string& alias) {
    return "model " + quote(name) + " has no alias " + quote(alias);
}

}  // namespace

bool valid_model_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || !ascii_alnum(name[0])) return false;
    for (char c : name) {
        if (!ascii_alnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

bool valid_alias(const std::string& alias) {
    return valid_model_name(alias) && !all_digits(alias);
}

std::optional<ModelRef> parse_model_ref(const std::string& text) {
    size_t colon = text.find(':');
    size_t at = text.find('@');
    if (colon != std::string::npos && at != std::string::npos) return std::nullopt;
    if (colon != std::string::npos) {
        std::string name = text.substr(0, colon);
        std::string number = text.substr(colon + 1);
        // 18 digits always fit in int64_t.
        if (!valid_model_name(name) || !all_digits(number) || number.size() > 18)
            return std::nullopt;
        int64_t v = std::strtoll(number.c_str(), nullptr, 10);
        if (v < 1) return std::nullopt;
        return ModelRef{name, v, ""};
    }
    if (at != std::string::npos) {
        std::string name = text.substr(0, at);
        std::string alias = text.substr(at + 1);
        if (!valid_model_name(name) || !valid_alias(alias)) return std::nullopt;
        return ModelRef{name, std::nullopt, alias};
    }
    if (!valid_model_name(text)) return std::nullopt;
    return ModelRef{text, std::nullopt, ""};
}

std::string format_model_ref(const ModelRef& ref) {
    if (ref.version) return ref.name + ":" + std::to_string(*ref.version);
    if (!ref.alias.empty()) return ref.name + "@" + ref.alias;
    return ref.name;
}

Registry::Registry(Database& db) : db_(db) {}

ModelVersion Registry::register_version(const std::string& name, const Digest& object,
                                        uint64_t size, bool is_dir, const std::string& run_id,
                                        const std::string& source_path, const std::string& reason,
                                        bool* created) {
    if (!valid_model_name(name))
        throw Error("cannot register model " + quote(name) + ": " + kModelNameRule);
    // The write lock is taken before the newest version is read, so two processes registering
    // at once get N+1 and N+2.
    Database::Transaction tx(db_);
    std::optional<ModelVersion> newest = load_version(db_, name, std::nullopt);
    if (newest && newest->object == object && newest->run_id == run_id) {
        if (created) *created = false;
        return *newest;  // the transaction rolls back: it wrote nothing
    }
    ModelVersion v;
    v.name = name;
    v.version = newest ? newest->version + 1 : 1;
    v.object = object;
    v.size = size;
    v.is_dir = is_dir;
    v.run_id = run_id;
    v.source_path = source_path;
    v.created_ns = now_ns();
    v.user = current_user();
    {
        Database::Statement q(db_,
                              "INSERT OR IGNORE INTO models(name, created_ns, user) "
                              "VALUES (?, ?, ?)");
        q.bind(1, name).bind(2, v.created_ns).bind(3, v.user);
        q.step();
    }
    {
        Database::Statement q(db_,
                              "INSERT INTO model_versions(name, version, object, size, is_dir, "
                              "run_id, source_path, created_ns, user) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, name)
            .bind(2, v.version)
            .bind_blob(3, object.data(), object.size())
            .bind(4, int64_t(size))
            .bind(5, is_dir)
            .bind(6, run_id)
            .bind(7, source_path)
            .bind(8, v.created_ns)
            .bind(9, v.user);
        q.step();
    }
    {
        Database::Statement q(
            db_,
            "INSERT INTO model_events(time_ns, user, action, name, version, "
            "alias, previous, reason) VALUES (?, ?, 'register', ?, ?, '', NULL, ?)");
        q.bind(1, v.created_ns).bind(2, v.user).bind(3, name).bind(4, v.version).bind(5, reason);
        q.step();
    }
    tx.commit();
    if (created) *created = true;
    return v;
}

ModelEvent Registry::set_alias(const std::string& name, int64_t version, const std::string& alias,
                               const std::string& action, const std::string& reason) {
    if (action != "alias" && action != "promote")
        throw Error("cannot set alias " + quote(alias) + ": unknown action " + quote(action));
    const std::string what = "cannot set alias " + quote(alias) + " of model " + quote(name);
    if (!valid_alias(alias)) throw Error(what + ": " + kAliasRule);
    Database::Transaction tx(db_);
    if (!model_exists(db_, name)) throw Error(what + ": " + unknown_model(name));
    if (!load_version(db_, name, version)) throw Error(what + ": " + no_version(name, version));
    ModelEvent e;
    e.time_ns = now_ns();
    e.user = current_user();
    e.action = action;
    e.name = name;
    e.version = version;
    e.alias = alias;
    e.previous = alias_version(db_, name, alias);
    e.reason = reason;
    if (e.previous == version) return e;  // already there: nothing to record (seq 0)
    e = move_alias(db_, std::move(e));
    tx.commit();
    return e;
}

ModelEvent Registry::reject(const std::string& name, int64_t version, const std::string& alias,
                            const std::string& reason) {
    const std::string what =
        "cannot record the rejection of " + quote(name + ":" + std::to_string(version));
    if (!valid_alias(alias)) throw Error(what + ": " + kAliasRule);
    Database::Transaction tx(db_);
    if (!load_version(db_, name, version)) throw Error(what + ": " + no_version(name, version));
    ModelEvent e;
    e.time_ns = now_ns();
    e.user = current_user();
    e.action = "reject";
    e.name = name;
    e.version = version;
    e.alias = alias;
    e.previous = alias_version(db_, name, alias);
    e.reason = reason;
    e = insert_event(db_, std::move(e));
    tx.commit();
    return e;
}

ModelEvent Registry::rollback(const std::string& name, const std::string& alias,
                              const std::string& reason) {
    const std::string what = "cannot roll back " + quote(name + "@" + alias);
    if (!valid_alias(alias)) throw Error(what + ": " + kAliasRule);
    Database::Transaction tx(db_);
    if (!model_exists(db_, name)) throw Error(what + ": " + unknown_model(name));
    std::optional<int64_t> current = alias_version(db_, name, alias);
    if (!current) throw Error(what + ": " + no_alias(name, alias));
    // Replay the alias's moves as a stack: alias/promote push, rollback pops. In time order, not
    // seq: events pulled from a remote (core/meta_sync) get later seqs even when they are older.
    std::vector<int64_t> stack;
    {
        Database::Statement q(db_,
                              "SELECT action, version FROM model_events "
                              "WHERE name = ? AND alias = ? ORDER BY time_ns, seq");
        q.bind(1, name).bind(2, alias);
        while (q.step()) {
            if (q.column_text(0) == "rollback") {
                if (!stack.empty()) stack.pop_back();
            } else if (q.column_text(0) == "reject") {
                continue;  // a decision not to move the alias
            } else {
                stack.push_back(q.column_int(1));
            }
        }
    }
    if (stack.size() < 2) {
        throw Error(what + ": no earlier version to go back to (it is at version " +
                    std::to_string(*current) + ")");
    }
    ModelEvent e;
    e.time_ns = now_ns();
    e.user = current_user();
    e.action = "rollback";
    e.name = name;
    e.version = stack[stack.size() - 2];
    e.alias = alias;
    e.previous = current;
    e.reason = reason;
    e = move_alias(db_, std::move(e));
    tx.commit();
    return e;
}

ModelVersion Registry::resolve(const ModelRef& ref) {
    ReadTransaction tx(db_);
    if (!model_exists(db_, ref.name)) throw Error(unknown_model(ref.name));
    std::optional<int64_t> version = ref.version;
    if (!ref.alias.empty()) {
        version = alias_version(db_, ref.name, ref.alias);
        if (!version) throw Error(no_alias(ref.name, ref.alias));
    }
    auto v = load_version(db_, ref.name, version);
    if (!v) {
        if (version) throw Error(no_version(ref.name, *version));
        throw Error(unknown_model(ref.name));  // a model row without versions: never written
    }
    return *v;
}

std::optional<ModelVersion> Registry::find(const std::string& name, int64_t version) {
    ReadTransaction tx(db_);
    return load_version(db_, name, version);
}

bool Registry::has_model(const std::string& name) {
    return model_exists(db_, name);
}

std::vector<std::string> Registry::names() {
    std::vector<std::string> out;
    Database::Statement q(db_, "SELECT name FROM models ORDER BY name");
    while (q.step())
        out.push_back(q.column_text(0));
    return out;
}

std::vector<ModelVersion> Registry::versions(const std::string& name) {
    ReadTransaction tx(db_);
    std::vector<ModelVersion> out;
    Database::Statement q(db_, MLO_VERSION_COLUMNS "WHERE name = ? ORDER BY version");
    q.bind(1, name);
    while (q.step())
        out.push_back(row_to_version(q));
    auto aliases = aliases_by_version(db_, name);
    for (ModelVersion& v : out) {
        if (auto it = aliases.find(v.version); it != aliases.end()) v.aliases = it->second;
    }
    return out;
}

std::vector<ModelEvent> Registry::history(const std::string& name) {
    ReadTransaction tx(db_);
    if (!model_exists(db_, name)) throw Error(unknown_model(name));
    std::vector<ModelEvent> out;
    Database::Statement q(db_, MLO_EVENT_COLUMNS "WHERE name = ? ORDER BY time_ns, seq");
    q.bind(1, name);
    while (q.step())
        out.push_back(row_to_event(q));
    return out;
}

std::vector<Digest> Registry::all_objects() {
    std::vector<Digest> out;
    Database::Statement q(db_, "SELECT DISTINCT object FROM model_versions ORDER BY object");
    while (q.step())
        out.push_back(q.column_digest(0));
    return out;
}

std::vector<ModelVersion> Registry::all_versions() {
    std::vector<ModelVersion> out;
    Database::Statement q(db_, MLO_VERSION_COLUMNS "ORDER BY name, version");
    while (q.step())
        out.push_back(row_to_version(q));
    return out;
}

nlohmann::json to_json(const ModelVersion& v) {
    return {{"name", v.name},
            {"version", v.version},
            {"object", to_hex(v.object)},
            {"size", v.size},
            {"is_dir", v.is_dir},
            {"run_id", text_or_null(v.run_id)},
            {"source_path", text_or_null(v.source_path)},
            {"created", iso_utc(v.created_ns)},
            {"created_ns", v.created_ns},
            {"user", v.user},
            {"aliases", v.aliases}};
}

nlohmann::json to_json(const ModelEvent& e) {
    return {{"seq", e.seq},
            {"time", iso_utc(e.time_ns)},
            {"time_ns", e.time_ns},
            {"user", e.user},
            {"action", e.action},
            {"name", e.name},
            {"version", e.version},
            {"alias", text_or_null(e.alias)},
            {"previous", e.previous ? nlohmann::json(*e.previous) : nlohmann::json(nullptr)},
            {"reason", text_or_null(e.reason)}};
}

}  // namespace mlo::core
