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

}  // namespace mlo::cli
