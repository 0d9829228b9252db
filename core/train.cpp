#include "core/train.hpp"

#include "core/expr.hpp"
#include "core/lockfile.hpp"
#include "core/repro.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"

namespace mlo::core {

nlohmann::json GateOutcome::to_json() const {
    nlohmann::json j = {{"model", model},
                        {"gate", gate.empty() ? nlohmann::json(nullptr) : nlohmann::json(gate)},
                        {"holds", holds},
                        {"failed", failed},
                        {"metrics", metrics}};
    if (registered) {
        j["registered"] = core::to_json(*registered);
        j["created"] = created;
    } else {
        j["registered"] = nullptr;
    }
    j["alias_set"] = alias_set.empty() ? nlohmann::json(nullptr) : nlohmann::json(alias_set);
    return j;
}

std::vector<std::string> gate_stages(const Pipeline& p) {
    if (!p.model.is_object() || !p.model.contains("gate")) return {};
    return stages_with_role(p, "evaluate");
}

GateOutcome apply_model_gate(Repository& repo, const Pipeline& p) {
    if (!p.model.is_object()) throw Error(std::string(kPipelineFile) + " has no 'model' section");
    GateOutcome out;
    out.model = p.model.at("name").get<std::string>();
    const std::string path = p.model.at("path").get<std::string>();
    out.gate = p.model.value("gate", "");
    const std::string alias = p.model.value("alias", "champion");

    // The model as the pipeline last wrote it.
    LockFile lock = LockFile::load(repo);
    const LockedPath* model = nullptr;
    std::string producer_stage;
    for (const auto& [stage, e] : lock.stages) {
        for (const auto& o : e.outs) {
            if (o.path == path) {
                model = &o;
                producer_stage = stage;
            }
        }
    }
    if (!model)
        throw Error("model path " + quote(path) + " is not an output of any stage in " + kLockFile +
                    " (run the stage that writes it)");

    if (!out.gate.empty()) {
        Expression gate = Expression::parse(out.gate, "gate " + quote(out.gate));
        for (const auto& name : gate_stages(p)) {
            const Stage* s = p.find(name);
            for (const auto& o : s->outs) {
                if (!o.metric) continue;
                std::error_code ec;
                if (!fs::exists(repo.abs(o.path), ec))
                    throw Error("metrics file " + quote(o.path) + " of stage " + quote(name) +
                                " is missing");
                auto m = read_metrics_file(repo.abs(o.path), o.path);
                out.metrics.insert(m.begin(), m.end());
            }
        }
        Expression::Result r = gate.evaluate(out.metrics);
        out.holds = r.holds;
        out.failed = r.failed;
        if (!out.holds) return out;
    }

    RunStore runs(repo.db());
    std::string run_id;
    for (const auto& r : runs.producers_of(model->snap.digest)) {
        run_id =
            r.status == RunStatus::restored && !r.restored_from.empty() ? r.restored_from : r.id;
        break;
    }
    Registry reg(repo.db());
    std::string reason = out.gate.empty() ? "trained by 'mlo train'" : "gate passed: " + out.gate;
    // A model the registry already has (the run cache restored an earlier one) keeps its
    // version rather than becoming a new one.
    for (const auto& v : reg.versions(out.model))
        if (v.object == model->snap.digest) out.registered = v;
    if (!out.registered)
        out.registered =
            reg.register_version(out.model, model->snap.digest, model->snap.size,
                                 model->snap.is_dir, run_id, path, reason, &out.created);
    bool alias_taken = false;
    for (const auto& v : reg.versions(out.model))
        for (const auto& a : v.aliases)
            alias_taken = alias_taken || a == alias;
    if (!alias_taken) {
        reg.set_alias(out.model, out.registered->version, alias, "promote",
                      "first version of '" + out.model + "' to pass the gate");
        out.alias_set = alias;
        out.registered->aliases.push_back(alias);
    }
    return out;
}

}  // namespace mlo::core
