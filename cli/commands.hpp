#pragma once

#include <memory>

#include "cli/command.hpp"

namespace mlo::cli {

std::unique_ptr<Command> make_init();
std::unique_ptr<Command> make_add();
std::unique_ptr<Command> make_status();
std::unique_ptr<Command> make_checkout();
std::unique_ptr<Command> make_diff();
std::unique_ptr<Command> make_ls();
std::unique_ptr<Command> make_gc();
std::unique_ptr<Command> make_fsck();
std::unique_ptr<Command> make_repro();
std::unique_ptr<Command> make_train();
std::unique_ptr<Command> make_evaluate();
std::unique_ptr<Command> make_dag();
std::unique_ptr<Command> make_runs();
std::unique_ptr<Command> make_lineage();
std::unique_ptr<Command> make_model();
std::unique_ptr<Command> make_predict();
std::unique_ptr<Command> make_export();
std::unique_ptr<Command> make_builtin();
std::unique_ptr<Command> make_run();
std::unique_ptr<Command> make_log();
std::unique_ptr<Command> make_exp();
std::unique_ptr<Command> make_plots();
std::unique_ptr<Command> make_metrics();
std::unique_ptr<Command> make_params();
std::unique_ptr<Command> make_deploy();
std::unique_ptr<Command> make_deployments();
std::unique_ptr<Command> make_validate();
std::unique_ptr<Command> make_schema();
std::unique_ptr<Command> make_monitor();
std::unique_ptr<Command> make_retrain();
std::unique_ptr<Command> make_remote();
std::unique_ptr<Command> make_push();
std::unique_ptr<Command> make_pull();
std::unique_ptr<Command> make_fetch();
std::unique_ptr<Command> make_install_hooks();

}  // namespace mlo::cli
