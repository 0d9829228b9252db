#pragma once

// The model registry (issue 4), in .mlo/mlo.db (migration 3). A registered model is a name with
// numbered versions; each version is an object in the store (a model file, or a directory
// manifest) and, when known, the run that produced it. Aliases ("champion", "staging", ...)
// point at one version each. Every change is an event with time, user and reason, so
// `model history` answers who promoted what and why, and `rollback` can move an alias back to
// the version that held it before.
//
// References, accepted wherever a model is expected:
//   NAME:VERSION   a version number ("churn:3")
//   NAME@ALIAS     the version the alias points at ("churn@champion")
//   NAME           the latest version
// Names: 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit. Aliases: the same,
// but not all digits (so "churn@2" is never ambiguous with a version).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/database.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

struct ModelVersion {
    std::string name;
    int64_t version = 0;
    Digest object{};
    uint64_t size = 0;
    bool is_dir = false;
    std::string run_id;       // "" when no recorded run produced it
    std::string source_path;  // repository-relative path it was registered from ("" if none)
    int64_t created_ns = 0;
    std::string user;
    std::vector<std::string> aliases;  // aliases pointing at it now, sorted
};

struct ModelEvent {
    int64_t seq = 0;      // increasing
    int64_t time_ns = 0;  // wall clock
    std::string user;     // $USER or the passwd name
    std::string action;   // "register", "alias", "promote", "rollback", "reject"
    std::string name;
    int64_t version = 0;              // the version registered / the alias now points at
    std::string alias;                // "" for register
    std::optional<int64_t> previous;  // the version the alias pointed at before, if any
    std::string reason;               // "" when none given
};

struct ModelRef {
    std::string name;
    std::optional<int64_t> version;  // NAME:VERSION
    std::string alias;               // NAME@ALIAS
};

// Parses a reference; nullopt when `text` is not reference syntax (it may be a path). A version
// is 1 or more; "churn:0", "churn@2" and "a:b" are not references.
std::optional<ModelRef> parse_model_ref(const std::string& text);
// "churn", "churn:3" or "churn@champion".
std::string format_model_ref(const ModelRef& ref);
bool valid_model_name(const std::string& name);
bool valid_alias(const std::string& alias);
// What a valid name / alias is, for error messages.
inline constexpr const char* kModelNameRule =
    "a name is 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or "
    "digit";
inline constexpr const char* kAliasRule =
    "an alias is 1-64 characters of letters, digits, '_', '.' and '-', starting with a letter or "
    "digit, and not all digits";

class Registry {
public:
    explicit Registry(Database& db);

    // Creates version N+1 of `name` (the model is created on its first version). When the
    // newest version already has this object and run, returns it instead (registering the same
    // model twice is idempotent); `*created` says which. Throws Error for an invalid name.
    ModelVersion register_version(const std::string& name, const Digest& object, uint64_t size,
                                  bool is_dir, const std::string& run_id,
                                  const std::string& source_path, const std::string& reason,
                                  bool* created = nullptr);

    // Moves (or sets) `alias` of `name` to `version`; event "alias" or "promote" as `action`
    // says. Returns the event. Throws Error for an unknown model or version or invalid alias.
    // An alias that already points at `version` is left alone: nothing is recorded (history
    // and the rollback stack stay as they were) and the returned event has seq 0 and
    // previous == version, so scripts can repeat a promotion safely.
    ModelEvent set_alias(const std::string& name, int64_t version, const std::string& alias,
                         const std::string& action, const std::string& reason);
    // Moves `alias` back to the version that held it before the current one. The alias's
    // events form a stack: "alias" and "promote" push a version, "rollback" pops one; so after
    // v1 -> v2 -> v3 two rollbacks land on v1 and a third fails ("no earlier version"), and
    // after v1 -> v2, rollback, -> v4 a rollback lands on v1. Throws Error when the model is
    // unknown or the alias is unset or has no earlier version.
    ModelEvent rollback(const std::string& name, const std::string& alias,
                        const std::string& reason);
    // Records that `version` was considered for `alias` and not given it (`mlo retrain`'s
    // challenger that lost): event "reject", previous = where the alias stays. The alias does
    // not move, and rollback ignores these events.
    ModelEvent reject(const std::string& name, int64_t version, const std::string& alias,
                      const std::string& reason);

    // Resolves a reference; throws Error "unknown model 'x'", "model 'x' has no version 7",
    // "model 'x' has no alias 'prod'".
    ModelVersion resolve(const ModelRef& ref);
    std::optional<ModelVersion> find(const std::string& name, int64_t version);
    bool has_model(const std::string& name);

    std::vector<std::string> names();                             // sorted
    std::vector<ModelVersion> versions(const std::string& name);  // oldest first
    std::vector<ModelEvent> history(const std::string& name);     // oldest first; Error if unknown
    // Every object any version references (gc keeps them).
    std::vector<Digest> all_objects();
    // Every version of every model, by name then version (gc and fsck read their objects).
    std::vector<ModelVersion> all_versions();

private:
    Database& db_;
};

// Stable keys. Version: name, version, object (64 hex), size, is_dir, run_id and source_path
// (null when ""), created (ISO 8601 UTC), created_ns, user, aliases. Event: seq, time, time_ns,
// user, action, name, version, alias, previous and reason (null when ""/none).
nlohmann::json to_json(const ModelVersion& v);
nlohmann::json to_json(const ModelEvent& e);

}  // namespace mlo::core
