#pragma once

// Git hooks that keep data in step with git (issue 8): post-checkout runs `mlo checkout` after
// a branch checkout, pre-push runs `mlo push` to the default mlo remote, pre-commit runs
// `mlo status --exit-code` on the tracked data. A hook that is already there and is not ours
// keeps working: it is moved to `<hook>.pre-mlo` and our script runs it first, with the same
// arguments and stdin, and stops with its exit status when it fails.

#include <string>
#include <vector>

#include "core/repository.hpp"

namespace mlo::core {

// The first line after the shebang of every hook mlo writes; a hook holding it is ours.
inline constexpr const char* kHookMarker = "# mlo-hook:";
// A previous hook is moved to <hook><kChainSuffix> (then .2, .3, ... if that is taken).
inline constexpr const char* kChainSuffix = ".pre-mlo";

enum class HookAction {
    installed,  // nothing was there
    chained,    // another hook was there: moved aside, runs first
    updated,    // ours, rewritten (another mlo binary, another chain, a newer script)
    unchanged,  // ours, byte for byte what we would write
};
const char* hook_action_name(HookAction a);

struct InstalledHook {
    std::string name;  // "pre-commit"
    fs::path path;     // absolute
    HookAction action = HookAction::installed;
    std::vector<std::string> chained;  // file names in the hooks directory, run in this order
};

struct HooksResult {
    fs::path hooks_dir;
    std::vector<InstalledHook> hooks;
};

// The hooks directory of the git repository containing `root`: core.hooksPath when set
// (relative to the work tree, as git runs hooks there), else the common git directory's
// hooks/ (shared by linked worktrees). Throws Error outside a git repository.
fs::path git_hooks_dir(const fs::path& root);

// The script for hook `name`. `mlo_dir` is the mlo repository relative to the git work tree
// ("." or "sub/dir"); `mlo_exe` the binary used when `mlo` is not on PATH; `chained` the hooks
// (file names next to it) to run first.
std::string hook_script(const std::string& name, const std::string& mlo_dir,
                        const fs::path& mlo_exe, const std::vector<std::string>& chained);

// Installs post-checkout, pre-push and pre-commit for the mlo repository `repo`. Running it
// again changes nothing; it never chains a hook to itself.
HooksResult install_hooks(const Repository& repo, const fs::path& mlo_exe);

}  // namespace mlo::core
