#include "core/deployments.hpp"

#include <cstdio>

#include "core/runs.hpp"
#include "storage/error.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

namespace {

// A literal, not a constant: gcc 12 misreads std::string concatenation here (-Warray-bounds).
#define MLO_DEPLOYMENT_COLUMNS                                                               \
    "id, name, model_ref, model_name, version, canary_ref, canary_version, canary_percent, " \
    "flavor, host, port, pid, hostname, user, started_ns, stopped_ns, status, log_dir"

Deployment read_row(Database::Statement& q) {
    Deployment d;
    d.id = q.column_text(0);
    d.name = q.column_text(1);
    d.model_ref = q.column_text(2);
    d.model_name = q.column_text(3);
    d.version = q.column_int(4);
    d.canary_ref = q.column_text(5);
    d.canary_version = q.column_int(6);
    d.canary_percent = q.column_double(7);
    d.flavor = q.column_text(8);
    d.host = q.column_text(9);
    d.port = int(q.column_int(10));
    d.pid = q.column_int(11);
    d.hostname = q.column_text(12);
    d.user = q.column_text(13);
    d.started_ns = q.column_int(14);
    d.stopped_ns = q.column_is_null(15) ? 0 : q.column_int(15);
    d.status = q.column_text(16);
    d.log_dir = q.column_text(17);
    if (d.status == "running" && !deployment_alive(d)) d.status = "dead";
    return d;
}

void add_event(Database& db, const std::string& id, const std::string& action,
               const std::string& variant, int64_t version) {
    Database::Statement q(db,
                          "INSERT INTO deployment_events(deployment_id, seq, time_ns, action, "
                          "variant, version) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                          "deployment_events WHERE deployment_id = ?), ?, ?, ?, ?)");
    q.bind(1, id).bind(2, id).bind(3, now_ns()).bind(4, action).bind(5, variant).bind(6, version);
    q.step();
}

bool is_hex(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

DeploymentStore::DeploymentStore(Database& db) : db_(db) {}

std::string DeploymentStore::new_id() {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%012llx",
                  static_cast<unsigned long long>(random_u64() & 0xffffffffffffull));
    return buf;
}

void DeploymentStore::begin(const Deployment& d) {
    Database::Transaction tx(db_);
    Database::Statement q(db_,
                          "INSERT INTO deployments(id, name, model_ref, model_name, version, "
                          "canary_ref, canary_version, canary_percent, flavor, host, port, pid, "
                          "hostname, user, started_ns, stopped_ns, status, log_dir) VALUES (?, "
                          "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)");
    q.bind(1, d.id)
        .bind(2, d.name)
        .bind(3, d.model_ref)
        .bind(4, d.model_name)
        .bind(5, d.version)
        .bind(6, d.canary_ref)
        .bind(7, d.canary_version)
        .bind(8, d.canary_percent)
        .bind(9, d.flavor)
        .bind(10, d.host)
        .bind(11, d.port)
        .bind(12, d.pid)
        .bind(13, d.hostname)
        .bind(14, d.user)
        .bind(15, d.started_ns)
        .bind(16, d.status)
        .bind(17, d.log_dir);
    q.step();
    add_event(db_, d.id, "start", "primary", d.version);
    if (!d.canary_ref.empty()) add_event(db_, d.id, "start", "canary", d.canary_version);
    tx.commit();
}

void DeploymentStore::switch_version(const std::string& id, const std::string& variant,
                                     int64_t version) {
    Database::Transaction tx(db_);
    Database::Statement q(db_, variant == "canary"
                                   ? "UPDATE deployments SET canary_version = ? WHERE id = ?"
                                   : "UPDATE deployments SET version = ? WHERE id = ?");
    q.bind(1, version).bind(2, id);
    q.step();
    add_event(db_, id, "switch", variant, version);
    tx.commit();
}

void DeploymentStore::finish(const std::string& id, const std::string& status) {
    Database::Transaction tx(db_);
    Database::Statement q(db_,
                          "UPDATE deployments SET stopped_ns = ?, status = ? WHERE id = ? AND "
                          "stopped_ns IS NULL");
    q.bind(1, now_ns()).bind(2, status).bind(3, id);
    q.step();
    Database::Statement v(db_, "SELECT version FROM deployments WHERE id = ?");
    v.bind(1, id);
    if (v.step()) add_event(db_, id, "stop", "primary", v.column_int(0));
    tx.commit();
}

std::vector<Deployment> DeploymentStore::list() {
    std::vector<Deployment> out;
    Database::Statement q(
        db_, "SELECT " MLO_DEPLOYMENT_COLUMNS " FROM deployments ORDER BY started_ns DESC, id");
    while (q.step())
        out.push_back(read_row(q));
    return out;
}

std::vector<DeploymentEvent> DeploymentStore::events(const std::string& id) {
    std::vector<DeploymentEvent> out;
    Database::Statement q(db_,
                          "SELECT seq, time_ns, action, variant, version FROM deployment_events "
                          "WHERE deployment_id = ? ORDER BY seq");
    q.bind(1, id);
    while (q.step()) {
        DeploymentEvent e;
        e.seq = q.column_int(0);
        e.time_ns = q.column_int(1);
        e.action = q.column_text(2);
        e.variant = q.column_text(3);
        e.version = q.column_int(4);
        out.push_back(std::move(e));
    }
    return out;
}

Deployment DeploymentStore::resolve(const std::string& ref) {
    std::vector<Deployment> all = list();
    std::vector<const Deployment*> hits;
    for (const auto& d : all)
        if (d.id == ref) return d;
    if (ref.size() >= 4 && is_hex(ref))
        for (const auto& d : all)
            if (d.id.rfind(ref, 0) == 0) hits.push_back(&d);
    if (hits.empty())
        for (const auto& d : all)
            if (d.name == ref && d.status == "running") hits.push_back(&d);
    if (hits.size() == 1) return *hits[0];
    if (hits.empty()) throw Error("unknown deployment " + quote(ref) + " (see 'mlo deployments')");
    std::string ids;
    for (const auto* d : hits)
        ids += (ids.empty() ? "" : ", ") + d->id;
    throw Error("deployment " + quote(ref) + " is ambiguous: " + ids);
}

bool deployment_alive(const Deployment& d) {
    if (d.stopped_ns != 0) return false;
    if (!d.hostname.empty() && d.hostname != this_host()) return true;  // cannot tell: assume so
    return !process_gone(long(d.pid), d.started_ns);
}

nlohmann::json to_json(const Deployment& d) {
    nlohmann::json canary = nullptr;
    if (!d.canary_ref.empty())
        canary = {
            {"model", d.canary_ref}, {"version", d.canary_version}, {"percent", d.canary_percent}};
    return {{"id", d.id},
            {"name", d.name},
            {"model", d.model_ref},
            {"model_name", d.model_name},
            {"version", d.version},
            {"canary", canary},
            {"flavor", d.flavor},
            {"url", "http://" + d.host + ":" + std::to_string(d.port)},
            {"host", d.host},
            {"port", d.port},
            {"pid", d.pid},
            {"hostname", d.hostname},
            {"user", d.user},
            {"started", iso_utc(d.started_ns)},
            {"stopped", d.stopped_ns ? nlohmann::json(iso_utc(d.stopped_ns)) : nullptr},
            {"status", d.status},
            {"log_dir", d.log_dir}};
}

}  // namespace mlo::core
