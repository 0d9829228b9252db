#include "cli/commands.hpp"
#include "cli/command.hpp"

namespace mlo::cli {

const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> table = {
        {"init", "Create an mlo repository in the current directory", Needs::nothing, make_init},
        {"add", "Store files or directories and write their pointer files", Needs::database,
         make_add},
        {"status", "List tracked files that differ from their pointer files", Needs::database,
         make_status},
        {"checkout", "Restore tracked files from the store", Needs::database, make_checkout},
        {"diff", "Show what changed in tracked data, with hashes and sizes", Needs::database,
         make_diff},
        {"ls", "List tracked data, or the files of a tracked directory", Needs::repository,
         make_ls},
        {"gc", "Remove objects that no pointer file references", Needs::database, make_gc},
        {"fsck", "Verify every object in the store", Needs::database, make_fsck},
        {"repro", "Run the pipeline's stale stages, independent ones in parallel", Needs::database,
         make_repro},
        {"train", "Run the train stage and what it needs; register the model when its gate holds",
         Needs::database, make_train},
        {"evaluate", "Run the pipeline's evaluate stage and what it needs", Needs::database,
         make_evaluate},
        {"dag", "Show the stages of the pipeline and how they depend on each other",
         Needs::repository, make_dag},
        {"runs", "List recorded runs, newest first, or show one (--id)", Needs::database,
         make_runs},
        {"run", "Run any command as a tracked run (after --), recording its outcome and output",
         Needs::database, make_run},
        {"log", "Record metrics, parameters, tags or artifacts into the current run",
         Needs::database, make_log},
        {"exp", "Sweep parameters in isolated workspaces; list, compare, apply and remove runs",
         Needs::database, make_exp},
        {"metrics", "Show metrics, or those that differ, of the workspace, runs or git revisions",
         Needs::database, make_metrics},
        {"params", "Show the parameters that differ between the workspace, runs or revisions",
         Needs::database, make_params},
        {"plots", "Plot metrics across runs (step curves, sweep scatters) as HTML or SVG",
         Needs::database, make_plots},
        {"lineage", "Show which runs and inputs produced a file, object or model version",
         Needs::database, make_lineage},
        {"model", "Register model versions, move aliases (promote, rollback), show history",
         Needs::database, make_model},
        {"predict", "Score a CSV file with a built-in model (a file or a registry reference)",
         Needs::nothing, make_predict},
        {"export", "Write a built-in model as dependency-free C source", Needs::nothing,
         make_export},
        {"deploy", "Serve a registered model over HTTP (MLflow and KServe V2 protocols)",
         Needs::database, make_deploy},
        {"deployments", "List deployments; 'deployments stop ID' stops one", Needs::database,
         make_deployments},
        {"validate", "Check a CSV file against a schema (types, ranges, domains, nulls)",
         Needs::nothing, make_validate},
        {"schema", "Infer a schema from a CSV file ('schema infer')", Needs::nothing, make_schema},
        {"monitor", "Compare current data with the reference: drift, performance; history",
         Needs::database, make_monitor},
        {"retrain", "Retrain when the latest monitor report says so; promote only a winner",
         Needs::database, make_retrain},
        // Runs a built-in stage for repro; hidden from --help (empty summary).
        {"__builtin", "", Needs::nothing, make_builtin},
    };
    return table;
}

}  // namespace mlo::cli
