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
    };
    return table;
}

}  // namespace mlo::cli
