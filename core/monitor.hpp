#pragma once

// Monitoring (issue 7): the drift and performance of current data against the reference the
// model was trained on. docs/monitoring.md is the user's contract; core/drift holds the
// statistics.
//
//   monitor:
//     reference: prepared/train.csv  # the training data (a CSV in the workspace); required
//     current: .mlo/logs/churn/       # default for --current: a CSV file, or a prediction log
//                                     # (a directory of *.jsonl, or one .jsonl file)
//     label: churned                  # the ground-truth column (default: the model's target)
//     model: churn@champion           # scores CSV data for performance (default: deploy.model,
//                                     # else <model.name>@champion)
//     columns: [tenure_months, ...]   # compared columns (default: all but the label)
//     categorical: [zip]              # read as categories whatever their values look like
//     drift_share: 0.5                # dataset drift when this share of columns drifted
//     tests: {tenure_months: {test: psi, threshold: 0.2}}
//     performance: "accuracy >= champion.accuracy - 0.05"   # exit 1 when it does not hold
//
// The reference profile (core/drift's NumericProfile / CategoricalProfile for every column) is
// computed once per reference content and stored as an object; monitor_profiles maps the
// reference's object id to it. Every report is stored in monitor_reports (migration 6).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/drift.hpp"
#include "core/pipeline.hpp"
#include "core/repository.hpp"
#include "storage/hash.hpp"

namespace mlo::core {

struct MonitorSettings {
    std::string reference;  // repository-relative path
    std::string current;    // "" = none configured
    std::string label;      // "" = the model's target, when a model is known
    std::string model;      // "" = the default (see above)
    std::vector<std::string> columns;
    std::vector<std::string> categorical;
    double drift_share = kDefaultDriftShare;
    std::map<std::string, DriftOptions> tests;
    std::string performance;  // expression, "" = none
};

// The `monitor:` section of mlo.yaml (and deploy.model / model.name for the default model).
// Throws Error "mlo.yaml: monitor.<key>: <why>" for an unknown key or a value of the wrong kind.
MonitorSettings monitor_settings(const Pipeline& p);

struct ProfileColumn {
    std::string name;
    ColumnKind kind = ColumnKind::numeric;
    NumericProfile numeric;          // kind numeric
    CategoricalProfile categorical;  // kind categorical
    uint64_t missing = 0;            // rows where the value is missing
};

struct ReferenceProfile {
    Digest data{};  // the reference file's SHA-256 (its object id)
    uint64_t rows = 0;
    std::vector<ProfileColumn> columns;  // in the file's column order
    const ProfileColumn* find(const std::string& name) const;
};

// Builds the profile of a CSV file, reading it in blocks. `categorical` columns are read as
// categories; any other column is numeric when its values are numbers or booleans. Throws Error
// naming the file and line for unreadable data or a column that changes kind part-way.
ReferenceProfile build_profile(const fs::path& file, const std::string& shown,
                               const std::vector<std::string>& categorical, unsigned jobs);
// The binary form stored in the object store (documented in docs/monitoring.md).
std::string serialize_profile(const ReferenceProfile& p);
ReferenceProfile parse_profile(std::string_view bytes, const std::string& shown);

// The stored profile of the reference's current content, built and stored when there is none.
// `*built` says which.
ReferenceProfile reference_profile(Repository& repo, const MonitorSettings& s, bool* built);

struct MonitorRequest {
    std::string current;     // a CSV file or a prediction log (file or directory); "" = config
    std::string deployment;  // a deployment id (or prefix): its prediction log
    int64_t since_ns = 0;    // only log records at most this old (0 = all)
};

// Runs the comparison and returns the report (the JSON documented in docs/monitoring.md; "status"
// is "ok", "drift", "performance" or "drift,performance"). Does not store it.
nlohmann::json run_monitor(Repository& repo, const MonitorSettings& s, const MonitorRequest& req);

// The labelled rows of a stored report's current data: the CSV's rows that have a label, or the
// prediction log's requests (in the report's window) joined with their /feedback labels. Values
// are CSV text as read ("" = missing). Throws Error when the data cannot be read any more.
struct LabelledRows {
    std::vector<std::string> columns;  // the label last
    std::vector<std::vector<std::string>> rows;
};
LabelledRows labelled_current_rows(Repository& repo, const nlohmann::json& report,
                                   const std::string& label);

// The number-valued keys of a flat metrics object ({"accuracy": 0.8, "rows": 120, ...}), for
// the expressions of `performance:`, `retrain.when` and `retrain.promote`.
std::map<std::string, double> numeric_fields(const nlohmann::json& j);

// Stores a report in monitor_reports; returns nothing, the report already carries its id.
void store_report(Repository& repo, const nlohmann::json& report);
// The newest reports first, at most `limit` (0 = all); each the stored JSON.
std::vector<nlohmann::json> report_history(Repository& repo, size_t limit);
// The report with this id (or unique prefix); nullopt when none.
std::optional<nlohmann::json> find_report(Repository& repo, const std::string& id);
// Every profile object monitor_profiles references (gc keeps them).
std::vector<Digest> profile_objects(Database& db);

// "30s", "15m", "24h", "7d" (or a bare number of seconds) as nanoseconds; Error otherwise.
int64_t parse_duration_ns(const std::string& text, const std::string& what);

}  // namespace mlo::core
