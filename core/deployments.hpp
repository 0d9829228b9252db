#pragma once

// Deployment records (issue 6), in .mlo/mlo.db (migration 5): what `mlo deploy` served, where,
// by whom, from when to when; and which model version each variant served over time.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/database.hpp"

namespace mlo::core {

struct Deployment {
    std::string id;          // 12 hex digits
    std::string name;        // names the prediction log directory (.mlo/logs/<name>/)
    std::string model_ref;   // as given ("churn@champion")
    std::string model_name;  // "churn"
    int64_t version = 0;     // the version served now (or last)
    std::string canary_ref;  // "" when none
    int64_t canary_version = 0;
    double canary_percent = 0;
    std::string flavor;  // "builtin" or "command"
    std::string host;
    int port = 0;
    int64_t pid = 0;
    std::string hostname, user;
    int64_t started_ns = 0, stopped_ns = 0;  // stopped_ns 0 while running
    std::string status;                      // "running", "stopped", "failed"
    std::string log_dir;                     // absolute
};

struct DeploymentEvent {
    int64_t seq = 0;
    int64_t time_ns = 0;
    std::string action;   // "start", "switch", "stop"
    std::string variant;  // "primary" or "canary"
    int64_t version = 0;
};

class DeploymentStore {
public:
    explicit DeploymentStore(Database& db);

    static std::string new_id();

    // Records a started deployment and its "start" events (one per variant).
    void begin(const Deployment& d);
    // Records that `variant` now serves `version`.
    void switch_version(const std::string& id, const std::string& variant, int64_t version);
    // Records the end ("stopped" or "failed").
    void finish(const std::string& id, const std::string& status);

    // Newest first. A deployment recorded as running whose process is gone is shown as
    // "dead" (it was killed or crashed before it could record its stop).
    std::vector<Deployment> list();
    std::vector<DeploymentEvent> events(const std::string& id);
    // By id, unique id prefix (4 or more hex digits), or the name of the one running
    // deployment with that name. Throws Error "unknown deployment 'x'" / "... is ambiguous".
    Deployment resolve(const std::string& ref);

private:
    Database& db_;
};

// True when the deployment's process is alive (on this host).
bool deployment_alive(const Deployment& d);

// Stable keys: id, name, model, model_name, version, canary (null or {model, version,
// percent}), flavor, url, host, port, pid, hostname, user, started, stopped (null), status,
// log_dir.
nlohmann::json to_json(const Deployment& d);

}  // namespace mlo::core
