#include "core/retrain.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/add.hpp"
#include "core/builtin.hpp"
#include "core/csv.hpp"
#include "core/expr.hpp"
#include "core/learner.hpp"
#include "core/lockfile.hpp"
#include "core/monitor.hpp"
#include "core/registry.hpp"
#include "core/repro.hpp"
#include "core/runs.hpp"
#include "core/train.hpp"
#include "core/workspace.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/lock.hpp"

namespace mlo::core {

using nlohmann::json;

namespace {

[[noreturn]] void bad_retrain_setting(const std::string& key, const std::string& why) {
    throw Error(std::string(kPipelineFile) + ": retrain." + key + ": " + why);
}

std::string four_digits(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

// The tracked unit (pointer file) that holds `rel`: the file itself or a tracked directory
// above it; `rel` itself when nothing tracks it yet (add then starts tracking it).
std::string tracked_unit(const Repository& repo, const std::string& rel) {
    for (const Pointer& p : find_pointers(repo))
        if (p.rel == rel || rel.rfind(p.rel + "/", 0) == 0) return p.rel;
    return rel;
}

// Appends the labelled rows to the training data file (columns matched by name; a data column
// the rows lack stays empty), writes it atomically and stores it. Returns the new object id of
// the tracked unit.
Digest append_training_rows(Repository& repo, const std::string& data, const LabelledRows& rows,
                            const std::string& label) {
    const fs::path abs = repo.abs(data);
    std::string text;
    if (!read_file_if_exists(abs, text))
        throw Error("cannot read the training data " + quote(data) +
                    " (retrain.data; 'mlo checkout' restores tracked data)");
    const size_t eol = text.find('\n');
    std::vector<std::string> header;
    for (const Column& c : parse_csv(text.substr(0, eol), data).columns)
        header.push_back(c.name);
    if (std::find(header.begin(), header.end(), label) == header.end())
        throw Error("the training data " + quote(data) + " has no label column " + quote(label));
    std::vector<int> from;
    for (const std::string& h : header) {
        auto it = std::find(rows.columns.begin(), rows.columns.end(), h);
        from.push_back(it == rows.columns.end() ? -1 : int(it - rows.columns.begin()));
    }
    if (!text.empty() && text.back() != '\n') text += '\n';
    std::string added;
    for (const auto& r : rows.rows) {
        for (size_t k = 0; k < header.size(); ++k) {
            if (k) added += ',';
            if (from[k] >= 0) added += csv_quote(r[size_t(from[k])]);
        }
        added += '\n';
    }
    // A retrain killed between writing the data and recording it must not append twice: the
    // file that already ends with these rows is only stored again.
    if (text.size() < added.size() ||
        text.compare(text.size() - added.size(), added.size(), added) != 0)
        write_file_atomic(abs, text + added, repo.config().fsync ? Sync::yes : Sync::no);
    const std::string unit = tracked_unit(repo, data);
    std::vector<AddedItem> items = add_paths(repo, {repo.abs(unit).string()}, {});
    if (items.empty()) throw Error("could not store " + quote(unit));
    return items.front().ptr.digest;
}

// The data the evaluate stage(s) score: the first built-in evaluation's `data`.
std::string evaluate_data(const Pipeline& p) {
    for (const std::string& name : stages_with_role(p, "evaluate")) {
        const Stage* s = p.find(name);
        if (s && s->builtin.is_object() && s->builtin.contains("evaluate") &&
            s->builtin.contains("data") && s->builtin["data"].is_string())
            return s->builtin["data"].get<std::string>();
    }
    return "";
}

json evaluate_version(Repository& repo, const ModelVersion& v, const std::string& holdout) {
    ModelSource src = locate_model(v.name + ":" + std::to_string(v.version), &repo);
    Model m = load_model(src.file, src.shown);
    Table t = read_csv(repo.abs(holdout), holdout, csv_options_for(m));
    return evaluate_model(m, t, holdout);
}

// "accuracy 0.83 vs champion 0.71" for the metrics an expression uses.
std::string comparison(const Expression& e, const std::map<std::string, double>& challenger,
                       const std::map<std::string, double>& champion) {
    std::string out;
    std::set<std::string> shown;
    for (std::string n : e.names()) {
        for (const char* prefix : {"champion.", "challenger."})
            if (n.rfind(prefix, 0) == 0) n = n.substr(std::strlen(prefix));
        if (!shown.insert(n).second) continue;
        auto a = challenger.find(n), b = champion.find(n);
        if (a == challenger.end() || b == champion.end()) continue;
        out += (out.empty() ? "" : ", ") + n + " " + four_digits(a->second) + " vs champion " +
               four_digits(b->second);
    }
    return out;
}

class RetrainRecord {
public:
    RetrainRecord(Repository& repo, json& result) : repo_(repo), result_(result) {}
    void begin() {
        Database::Statement q(repo_.db(),
                              "INSERT INTO retrains (id, time_ns, user, report_id, status, forced) "
                              "VALUES (?, ?, ?, ?, 'running', ?)");
        q.bind(1, result_["id"].get<std::string>())
            .bind(2, now_ns())
            .bind(3, current_user())
            .bind(4, result_["report"].get<std::string>())
            .bind(5, result_["forced"].get<bool>() ? 1 : 0);
        q.step();
        begun_ = true;
    }
    void appended(const Digest& d, size_t rows) {
        Database::Statement q(repo_.db(),
                              "UPDATE retrains SET appended_object = ?, appended_rows = ? "
                              "WHERE id = ?");
        q.bind_blob(1, d.data(), d.size()).bind(2, int64_t(rows)).bind(3, id());
        q.step();
    }
    void finish(const std::string& status) {
        result_["status"] = status;
        if (!begun_) begin();
        Database::Statement q(repo_.db(),
                              "UPDATE retrains SET status = ?, challenger = ?, champion = ?, "
                              "result_json = ? WHERE id = ?");
        q.bind(1, status)
            .bind(2, result_.value("challenger", json()).is_string()
                         ? result_["challenger"].get<std::string>()
                         : std::string())
            .bind(3, result_.value("champion", json()).is_string()
                         ? result_["champion"].get<std::string>()
                         : std::string())
            .bind(4, result_.dump())
            .bind(5, id());
        q.step();
    }

private:
    std::string id() const { return result_["id"].get<std::string>(); }
    Repository& repo_;
    json& result_;
    bool begun_ = false;
};

}  // namespace

RetrainSettings retrain_settings(const Pipeline& p) {
    RetrainSettings s;
    const json& r = p.retrain;
    if (r.is_null()) return s;
    if (!r.is_object()) throw Error(std::string(kPipelineFile) + ": 'retrain' must be a mapping");
    static const std::set<std::string> known = {"when", "data", "append", "holdout", "promote"};
    for (auto it = r.begin(); it != r.end(); ++it)
        if (!known.count(it.key())) bad_retrain_setting(it.key(), "unknown key");
    auto text = [&](const char* key, std::string& out) {
        if (!r.contains(key)) return;
        if (!r[key].is_string() || r[key].get<std::string>().empty())
            bad_retrain_setting(key, "must be a non-empty text");
        out = r[key].get<std::string>();
    };
    text("when", s.when);
    text("data", s.data);
    text("holdout", s.holdout);
    text("promote", s.promote);
    if (r.contains("append")) {
        if (!r["append"].is_boolean()) bad_retrain_setting("append", "must be true or false");
        s.append = r["append"].get<bool>();
    }
    Expression::parse(s.when, std::string(kPipelineFile) + ": retrain.when");
    if (!s.promote.empty())
        Expression::parse(s.promote, std::string(kPipelineFile) + ": retrain.promote");
    for (const Stage& st : p.stages)
        for (const OutSpec& o : st.outs)
            if (!s.data.empty() && (o.path == s.data || s.data.rfind(o.path + "/", 0) == 0))
                bad_retrain_setting("data", quote(s.data) + " is an output of stage " +
                                                quote(st.name) +
                                                "; name the source data the pipeline reads");
    return s;
}

std::map<std::string, double> report_values(const json& report) {
    std::map<std::string, double> v;
    const json& d = report.at("dataset");
    v["drift"] = d.value("drift", false) ? 1 : 0;
    v["drift_share"] = d.value("share", 0.0);
    v["drifted_columns"] = d.value("drifted", 0);
    v["columns"] = d.value("columns", 0);
    v["rows"] = report.at("current").value("rows", 0.0);
    for (const json& c : report.at("columns"))
        v["drift." + c.value("column", "")] = c.value("drifted", false) ? 1 : 0;
    const json& perf = report["performance"];
    v["performance_failed"] =
        perf.is_object() && perf.contains("holds") && !perf["holds"].get<bool>();
    if (perf.is_object()) {
        for (const auto& [k, x] : numeric_fields(perf["metrics"]))
            v[k] = x;
        for (const auto& [k, x] : numeric_fields(perf["champion"]))
            v["champion." + k] = x;
    }
    return v;
}

json retrain(Repository& repo, const Pipeline& p, const RetrainOptions& options,
             std::ostream& log) {
    const RetrainSettings rs = retrain_settings(p);
    if (!p.model.is_object())
        throw Error(std::string(kPipelineFile) +
                    " has no 'model:' section: retrain needs the model's name and path");
    const std::string name = p.model.at("name").get<std::string>();
    const std::string alias = p.model.value("alias", "champion");

    FileLock lock(repo.tmp_dir() / "retrain.lock");
    if (!lock.acquire([&](long pid) {
            log << "waiting for another 'mlo retrain'"
                << (pid > 0 ? " (process " + std::to_string(pid) + ")" : std::string()) << "\n";
        }))
        throw Error("cannot take the retrain lock");

    std::vector<json> reports = report_history(repo, 1);
    if (reports.empty()) throw Error("no monitor report yet: run 'mlo monitor' first");
    const json report = reports.front();
    const std::string rid = report.at("id").get<std::string>();
    json result = {{"id", RunStore::new_id()},
                   {"time", iso_utc(now_ns())},
                   {"report", rid},
                   {"forced", options.force},
                   {"dry_run", options.dry_run},
                   {"when", rs.when},
                   {"model", name},
                   {"alias", alias}};
    log << "latest monitor report " << rid.substr(0, 12) << " (" << report.value("time", "")
        << "): " << report.value("status", "") << "\n";

    // A report is acted on once.
    if (!options.force) {
        Database::Statement q(repo.db(),
                              "SELECT id, status FROM retrains WHERE report_id = ? AND status NOT "
                              "IN ('running', 'failed') ORDER BY time_ns DESC LIMIT 1");
        q.bind(1, rid);
        if (q.step()) {
            log << "already handled by retrain " << q.column_text(0).substr(0, 12) << " ("
                << q.column_text(1) << "); nothing to do (--force retrains anyway)\n";
            result["status"] = "handled";
            result["handled_by"] = q.column_text(0);
            return result;
        }
    }

    // The policy. A name the report lacks (no labels, so no accuracy) counts as NaN: every
    // comparison with it is false.
    std::map<std::string, double> values = report_values(report);
    Expression when = Expression::parse(rs.when, std::string(kPipelineFile) + ": retrain.when");
    json used = json::object();
    for (const std::string& n : when.names()) {
        auto it = values.find(n);
        if (it == values.end()) {
            values[n] = std::numeric_limits<double>::quiet_NaN();
            used[n] = nullptr;
        } else {
            used[n] = it->second;
        }
    }
    const bool triggered = when.evaluate(values).holds;
    result["values"] = used;
    result["triggered"] = triggered;
    {
        std::string shown;
        for (auto it = used.begin(); it != used.end(); ++it)
            shown += (shown.empty() ? "" : ", ") + it.key() + " = " +
                     (it->is_number() ? four_digits(it->get<double>()) : std::string("n/a"));
        log << "when " << rs.when << ": " << (triggered ? "holds" : "does not hold") << " ("
            << shown << ")\n";
    }
    RetrainRecord record(repo, result);
    if (!triggered && !options.force) {
        if (options.dry_run) {
            result["status"] = "dry_run";
            return result;
        }
        record.finish("skipped");
        log << "no retraining needed\n";
        return result;
    }

    Registry registry(repo.db());
    std::optional<ModelVersion> champion;
    try {
        champion = registry.resolve(ModelRef{name, std::nullopt, alias});
    } catch (const Error&) {
        // No champion yet: the first version that passes the gate becomes it.
    }
    result["champion"] = champion ? json(name + ":" + std::to_string(champion->version)) : json();
    const std::string holdout = !rs.holdout.empty() ? rs.holdout : evaluate_data(p);

    if (options.dry_run) {
        if (rs.append)
            log << "would append the labelled rows of report " << rid.substr(0, 12) << " to "
                << rs.data << "\n";
        log << "would rerun the train and evaluate stages, compare the challenger with "
            << (champion ? name + ":" + std::to_string(champion->version) : "no champion") << " on "
            << (holdout.empty() ? "(no holdout)" : holdout) << "\n";
        result["status"] = "dry_run";
        return result;
    }

    record.begin();
    try {
        // 1. The new training data.
        if (rs.append) {
            if (rs.data.empty())
                throw Error(std::string(kPipelineFile) +
                            ": retrain needs 'data' (the training data to append the labelled "
                            "rows to), or 'append: false'");
            Database::Statement q(repo.db(),
                                  "SELECT id FROM retrains WHERE report_id = ? AND "
                                  "appended_object IS NOT NULL LIMIT 1");
            q.bind(1, rid);
            if (q.step()) {
                log << "the labelled rows of report " << rid.substr(0, 12)
                    << " were appended by retrain " << q.column_text(0).substr(0, 12)
                    << "; not again\n";
            } else {
                std::string label;
                if (report["performance"].is_object())
                    label = report["performance"].value("label", "");
                if (label.empty() && p.monitor.is_object()) label = p.monitor.value("label", "");
                if (label.empty() && champion) {
                    ModelSource src =
                        locate_model(name + ":" + std::to_string(champion->version), &repo);
                    label = load_model(src.file, src.shown).target;
                }
                if (label.empty())
                    throw Error("cannot tell the label column: set monitor.label in " +
                                std::string(kPipelineFile));
                LabelledRows rows = labelled_current_rows(repo, report, label);
                if (rows.rows.empty()) {
                    log << "report " << rid.substr(0, 12)
                        << " has no labelled rows: the training data stays as it is\n";
                } else {
                    Digest d = append_training_rows(repo, rs.data, rows, label);
                    record.appended(d, rows.rows.size());
                    result["appended"] = {
                        {"path", rs.data}, {"rows", rows.rows.size()}, {"object", to_hex(d)}};
                    log << "appended " << rows.rows.size() << " labelled rows of "
                        << report["current"].value("path", "") << " to " << rs.data
                        << " (new version " << to_hex(d).substr(0, 12) << ")\n";
                }
            }
        }

        // 2. The challenger: train and evaluate, then the model's gate.
        ReproOptions ro;
        ro.targets = stages_with_role(p, "train");
        for (const std::string& s : stages_with_role(p, "evaluate"))
            if (std::find(ro.targets.begin(), ro.targets.end(), s) == ro.targets.end())
                ro.targets.push_back(s);
        json ran = json::array();
        ro.on_done = [&](const StageReport& r) {
            if (r.result == StageResult::ran || r.result == StageResult::restored) {
                ran.push_back(r.stage);
                log << (r.result == StageResult::ran ? "ran " : "restored ") << quote(r.stage)
                    << "\n";
            }
        };
        ReproResult res = repro(repo, ro);
        result["stages"] = ran;
        if (res.failed) {
            std::string why;
            for (const StageReport& r : res.stages)
                if (r.result == StageResult::failed) why = quote(r.stage) + ": " + r.error;
            throw Error("the pipeline failed (" + why + ")");
        }
        // The same model bytes as the champion (nothing it learns from changed): no challenger.
        if (champion) {
            const std::string path = p.model.at("path").get<std::string>();
            for (const auto& [stage, entry] : LockFile::load(repo).stages)
                for (const auto& o : entry.outs)
                    if (o.path == path && o.snap.digest == champion->object) {
                        log << "the retrained model is the champion already (same bytes)\n";
                        result["challenger"] = name + ":" + std::to_string(champion->version);
                        record.finish("unchanged");
                        return result;
                    }
        }
        GateOutcome gate = apply_model_gate(repo, p);
        if (!gate.holds) {
            std::string why;
            for (const auto& f : gate.failed)
                why += (why.empty() ? "" : "; ") + f;
            result["reasons"] = gate.failed;
            log << "the retrained model fails the gate (" << why
                << "): not registered, the champion stays\n";
            record.finish("rejected");
            return result;
        }
        const ModelVersion challenger = *gate.registered;
        result["challenger"] = name + ":" + std::to_string(challenger.version);
        if (!champion || challenger.version == champion->version) {
            log << (champion ? "the retrained model is the champion already (same bytes)"
                             : name + ":" + std::to_string(challenger.version) +
                                   " is the first champion")
                << "\n";
            record.finish(champion ? "unchanged" : "promoted");
            return result;
        }
        log << "challenger " << name << ":" << challenger.version << " registered\n";

        // 3. Champion and challenger on the same held-out data.
        if (holdout.empty())
            throw Error(std::string(kPipelineFile) +
                        ": retrain needs 'holdout' (no built-in evaluate stage names its data)");
        const json champion_metrics = evaluate_version(repo, *champion, holdout);
        const json challenger_metrics = evaluate_version(repo, challenger, holdout);
        result["holdout"] = holdout;
        result["metrics"] = {{"champion", champion_metrics}, {"challenger", challenger_metrics}};

        // 4. The decision.
        ModelSource src = locate_model(name + ":" + std::to_string(challenger.version), &repo);
        const bool classifier = load_model(src.file, src.shown).is_classifier();
        const std::string promote =
            !rs.promote.empty()
                ? rs.promote
                : (classifier ? "accuracy >= champion.accuracy" : "rmse <= champion.rmse");
        result["promote"] = promote;
        Expression e = Expression::parse(promote, std::string(kPipelineFile) + ": retrain.promote");
        std::map<std::string, double> pv;
        const auto ch = numeric_fields(challenger_metrics), cp = numeric_fields(champion_metrics);
        for (const auto& [k, x] : ch) {
            pv[k] = x;
            pv["challenger." + k] = x;
        }
        for (const auto& [k, x] : cp)
            pv["champion." + k] = x;
        Expression::Result decision = e.evaluate(pv);
        const std::string versus = comparison(e, ch, cp);
        const std::string reason = "retrain " + result["id"].get<std::string>().substr(0, 12) +
                                   " after report " + rid.substr(0, 12) + ": " + versus + " on " +
                                   holdout + " (" + promote + ")";
        result["reasons"] = decision.failed;
        if (decision.holds) {
            registry.set_alias(name, challenger.version, alias, "promote", reason);
            log << "promoted " << name << ":" << challenger.version << " to @" << alias << ": "
                << versus << "\n";
            record.finish("promoted");
        } else {
            registry.reject(name, challenger.version, alias, reason);
            log << "kept " << name << ":" << champion->version << " as @" << alias << ": " << versus
                << " (" << promote << " does not hold)\n";
            record.finish("rejected");
        }
        return result;
    } catch (const std::exception& err) {
        result["error"] = err.what();
        record.finish("failed");
        throw;
    }
}

}  // namespace mlo::core
