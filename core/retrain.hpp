#pragma once

// `mlo retrain` (issue 7): closes the loop after `mlo monitor`. mlo.yaml:
//
//   retrain:
//     when: "drift or accuracy < champion.accuracy - 0.05"  # over the latest monitor report
//     data: data/churn.csv       # the training data the labelled current rows are appended to
//     append: true               # false: the pipeline finds new data itself; nothing appended
//     holdout: data/holdout.csv  # where champion and challenger are compared (default: the data
//                                # of the pipeline's evaluate stage, after the rerun)
//     promote: "accuracy >= champion.accuracy"   # bare names: the challenger's metrics
//
// One retrain, under .mlo/tmp/retrain.lock (one at a time; a second waits, then finds the report
// handled): the latest report → `when` → append its labelled rows to `data` (written atomically,
// re-added: a new object) → rerun the train and evaluate stages, register the challenger when
// the model's gate holds → evaluate champion and challenger on the same holdout → promote the
// challenger if `promote` holds, else record a "reject" event; both with their reasons in the
// model history. A report is acted on once: running retrain again (cron) finds it handled and
// does nothing; --force retrains anyway (never appending the same report's rows twice).

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/pipeline.hpp"
#include "core/repository.hpp"

namespace mlo::core {

struct RetrainSettings {
    std::string when = "drift or performance_failed";
    std::string data;  // repository-relative ("" = none)
    bool append = true;
    std::string holdout;  // "" = the evaluate stage's data
    std::string promote;  // "" = accuracy >= champion.accuracy (classifier), rmse <= champion.rmse
};

// Throws Error "mlo.yaml: retrain.<key>: <why>".
RetrainSettings retrain_settings(const Pipeline& p);

struct RetrainOptions {
    bool dry_run = false;  // decide and say what would happen; change nothing
    bool force = false;    // retrain whatever `when` says and even if the report was handled
};

// The names `when` sees for a report: drift (0/1), drift_share (drifted / compared columns),
// drifted_columns, columns, rows, performance_failed (0/1), drift.<column> (0/1), and, when the
// report has labels, its metrics (accuracy, ...) and champion.<metric>.
std::map<std::string, double> report_values(const nlohmann::json& report);

// Runs one retrain. `log` gets the story, one line per step. Returns the result document
// (recorded in the retrains table); its "status" is "handled" (nothing to do: the latest report
// was acted on already), "skipped" (`when` does not hold), "unchanged" (the retrained model is
// the champion), "promoted", "rejected", or "dry_run". Throws Error for bad configuration, no
// monitor report, or a failing stage (the retrain is then recorded "failed").
nlohmann::json retrain(Repository& repo, const Pipeline& p, const RetrainOptions& options,
                       std::ostream& log);

}  // namespace mlo::core
