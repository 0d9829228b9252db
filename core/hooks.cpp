#include "core/hooks.hpp"

#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

struct HookRepoFree {
    void operator()(git_repository* r) const { git_repository_free(r); }
};
struct HookConfigFree {
    void operator()(git_config* c) const { git_config_free(c); }
};
// Frees a git_buf's memory at scope exit.
struct HookBuf {
    git_buf buf = GIT_BUF_INIT;
    ~HookBuf() { git_buf_dispose(&buf); }
    std::string str() const { return std::string(buf.ptr ? buf.ptr : "", buf.size); }
};

std::string hook_git_message() {
    const git_error* e = git_error_last();
    return e && e->message ? e->message : "unknown error";
}

struct HookGit {
    fs::path hooks_dir;
    fs::path workdir;  // empty for a bare repository
};

HookGit hook_git(const fs::path& root) {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, root.c_str(), 0, nullptr);
    std::unique_ptr<git_repository, HookRepoFree> repo(raw);
    if (rc == GIT_ENOTFOUND)
        throw Error("cannot install git hooks: " + quote(root) + " is not inside a git repository");
    if (rc < 0)
        throw Error("cannot open the git repository of " + quote(root) + ": " + hook_git_message());
    HookGit g;
    if (const char* wd = git_repository_workdir(raw)) {
        g.workdir = wd;
        if (!g.workdir.has_filename()) g.workdir = g.workdir.parent_path();
    }
    git_config* cfg_raw = nullptr;
    if (git_repository_config_snapshot(&cfg_raw, raw) < 0)
        throw Error("cannot read the git configuration: " + hook_git_message());
    std::unique_ptr<git_config, HookConfigFree> cfg(cfg_raw);
    HookBuf path;
    rc = git_config_get_path(&path.buf, cfg_raw, "core.hooksPath");
    if (rc == 0) {
        // git runs hooks in the top of the work tree (the git directory when bare), and a
        // relative core.hooksPath is relative to where they run.
        fs::path p = path.str();
        if (p.is_relative())
            p = (g.workdir.empty() ? fs::path(git_repository_path(raw)) : g.workdir) / p;
        g.hooks_dir = p.lexically_normal();
        return g;
    }
    if (rc != GIT_ENOTFOUND) throw Error("cannot read core.hooksPath: " + hook_git_message());
    HookBuf item;
    if (git_repository_item_path(&item.buf, raw, GIT_REPOSITORY_ITEM_HOOKS) < 0)
        throw Error("cannot find the git hooks directory: " + hook_git_message());
    g.hooks_dir = fs::path(item.str()).lexically_normal();
    if (!g.hooks_dir.has_filename()) g.hooks_dir = g.hooks_dir.parent_path();
    return g;
}

// 'text' for sh, whatever it holds.
std::string hook_sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

bool hook_exists(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

bool hook_is_ours(const fs::path& p) {
    std::string text;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return false;
    try {
        if (!read_file_if_exists(p, text)) return false;
    } catch (const Error&) {
        return false;  // unreadable: not something we wrote
    }
    return text.find(std::string("\n") + kHookMarker) != std::string::npos;
}

fs::path hook_chain_path(const fs::path& hook, int n) {
    std::string name = hook.filename().string() + kChainSuffix;
    if (n > 1) name += "." + std::to_string(n);
    return hook.parent_path() / name;
}

const char* hook_purpose(const std::string& name) {
    if (name == "post-checkout")
        return "# Written by 'mlo install-hooks': after a branch checkout, checks out the data\n"
               "# its pointer files name ('mlo checkout').\n";
    if (name == "pre-push")
        return "# Written by 'mlo install-hooks': pushes the data objects to the default mlo\n"
               "# remote ('mlo push') before git pushes the pointer files.\n";
    return "# Written by 'mlo install-hooks': stops a commit while tracked data differs from\n"
           "# its pointer files ('mlo status --exit-code').\n";
}

std::string hook_body(const std::string& name, const std::string& mlo_dir) {
    if (name == "post-checkout") {
        return "# Third argument 1: a branch checkout (0: files checked out of the index).\n"
               "[ \"$3\" = 1 ] || exit 0\n"
               "[ -d \"$mlo_dir/.mlo\" ] || exit 0\n"
               "exec \"$mlo\" -C \"$mlo_dir\" -q checkout\n";
    }
    if (name == "pre-push") {
        return "[ -d \"$mlo_dir/.mlo\" ] || exit 0\n"
               "\"$mlo\" -C \"$mlo_dir\" install-hooks --default-remote >/dev/null\n"
               "case $? in\n"
               "    0) ;;\n"
               "    1)\n"
               "        echo \"mlo: no default mlo remote, so no data was pushed (set one with "
               "'mlo remote add NAME URL --default')\" >&2\n"
               "        exit 0\n"
               "        ;;\n"
               "    *) exit 1 ;;\n"
               "esac\n"
               "\"$mlo\" -C \"$mlo_dir\" push <\"$stdin_copy\"\n";
    }
    // pre-commit. `status` with a path checks tracked data only, not pipeline stages, and
    // needs a pointer file to select; git knows whether there is one.
    std::string pattern = mlo_dir == "." ? "*.mlo" : mlo_dir + "/*.mlo";
    return "[ -d \"$mlo_dir/.mlo\" ] || exit 0\n"
           "[ -n \"$(git ls-files -- " +
           hook_sh_quote(pattern) +
           " | head -n 1)\" ] || exit 0\n"
           "\"$mlo\" -C \"$mlo_dir\" -q status --exit-code . >&2\n"
           "status=$?\n"
           "[ \"$status\" = 1 ] || exit \"$status\"\n"
           "echo \"mlo: commit stopped: the tracked data listed above" +
           (mlo_dir == "." ? std::string() : " (in '$mlo_dir')") +
           " differs from its pointer files\" >&2\n"
           "echo \"mlo: record it with 'mlo add PATH' (the tracked file or directory) and 'git "
           "add PATH.mlo', or restore it with 'mlo checkout --force PATH'\" >&2\n"
           "echo \"mlo: ('git commit --no-verify' skips this check)\" >&2\n"
           "exit 1\n";
}

}  // namespace

const char* hook_action_name(HookAction a) {
    switch (a) {
        case HookAction::installed:
            return "installed";
        case HookAction::chained:
            return "chained";
        case HookAction::updated:
            return "updated";
        case HookAction::unchanged:
            return "unchanged";
    }
    return "?";
}

fs::path git_hooks_dir(const fs::path& root) {
    return hook_git(root).hooks_dir;
}

std::string hook_script(const std::string& name, const std::string& mlo_dir,
                        const fs::path& mlo_exe, const std::vector<std::string>& chained) {
    const bool pre_push = name == "pre-push";
    std::string s = "#!/bin/sh\n";
    s += std::string(kHookMarker) + " " + name + "\n";
    s += hook_purpose(name);
    s += "# 'mlo install-hooks' rewrites this file. A hook that is not mlo's found here is moved\n"
         "# to " +
         name + kChainSuffix + " and runs first, with the same arguments and stdin.\n";
    s += "mlo_dir=" + hook_sh_quote(mlo_dir) + "\n";
    s += "mlo=$(command -v mlo 2>/dev/null) || mlo=" + hook_sh_quote(mlo_exe.string()) + "\n";
    if (pre_push) {
        // git writes the refs being pushed to stdin, once: each reader gets a copy.
        s += "stdin_copy=$(mktemp \"${TMPDIR:-/tmp}/mlo-pre-push.XXXXXX\") || exit 1\n"
             "trap 'rm -f -- \"$stdin_copy\"' EXIT\n"
             "trap 'exit 130' HUP INT TERM\n"
             "cat >\"$stdin_copy\" || exit 1\n";
    }
    if (!chained.empty()) {
        s += "hooks_dir=$(dirname -- \"$0\")\n"
             "run_chained() {\n"
             "    chained=$1\n"
             "    shift\n"
             "    [ -x \"$hooks_dir/$chained\" ] || return 0\n";
        s += pre_push ? "    \"$hooks_dir/$chained\" \"$@\" <\"$stdin_copy\" || exit $?\n"
                      : "    \"$hooks_dir/$chained\" \"$@\" || exit $?\n";
        s += "}\n";
        for (const auto& c : chained)
            s += "run_chained " + hook_sh_quote(c) + " \"$@\"\n";
    }
    s += hook_body(name, mlo_dir);
    return s;
}

HooksResult install_hooks(const Repository& repo, const fs::path& mlo_exe) {
    HookGit g = hook_git(repo.root());
    std::string mlo_dir = ".";
    if (!g.workdir.empty()) {
        std::error_code ec1, ec2;
        std::string rel = fs::weakly_canonical(repo.root(), ec1)
                              .lexically_relative(fs::weakly_canonical(g.workdir, ec2))
                              .generic_string();
        if (rel.empty() || rel.rfind("..", 0) == 0)
            throw Error("cannot install git hooks: " + quote(repo.root()) +
                        " is not inside the work tree of its git repository " + quote(g.workdir));
        mlo_dir = rel;
    }
    make_dirs(g.hooks_dir);
    HooksResult result;
    result.hooks_dir = g.hooks_dir;
    for (const char* name : {"post-checkout", "pre-commit", "pre-push"}) {
        InstalledHook h;
        h.name = name;
        h.path = g.hooks_dir / name;
        const bool existed = hook_exists(h.path);
        const bool ours = existed && hook_is_ours(h.path);
        if (existed && !ours) {
            int n = 1;
            while (hook_exists(hook_chain_path(h.path, n)))
                ++n;
            fs::path aside = hook_chain_path(h.path, n);
            if (::rename(h.path.c_str(), aside.c_str()) != 0)
                throw_errno("cannot move the existing hook " + quote(h.path) + " to " +
                            quote(aside));
        }
        // Everything moved aside so far, oldest first; never one of ours (it would run itself).
        for (int n = 1; hook_exists(hook_chain_path(h.path, n)); ++n) {
            fs::path c = hook_chain_path(h.path, n);
            if (!hook_is_ours(c)) h.chained.push_back(c.filename().string());
        }
        std::string script = hook_script(name, mlo_dir, mlo_exe, h.chained);
        std::string current;
        if (ours && read_file_if_exists(h.path, current) && current == script &&
            ::access(h.path.c_str(), X_OK) == 0) {
            h.action = HookAction::unchanged;
        } else {
            write_file_atomic(h.path, script, Sync::no, 0777);
            // git skips a hook that is not executable; the umask must not make ours one.
            struct stat st {};
            if (::stat(h.path.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) == 0)
                ::chmod(h.path.c_str(), (st.st_mode & 07777) | S_IRUSR | S_IXUSR);
            h.action = ours      ? HookAction::updated
                       : existed ? HookAction::chained
                                 : HookAction::installed;
        }
        result.hooks.push_back(std::move(h));
    }
    return result;
}

}  // namespace mlo::core
