// The code version a run used, read with libgit2 (no `git` process, works without git
// installed).

#include <git2.h>

#include <memory>
#include <mutex>

#include "core/runs.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

template <typename T, void (*Free)(T*)>
struct GitFree {
    void operator()(T* p) const {
        if (p) Free(p);
    }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitFree<T, Free>>;

using RepoPtr = GitPtr<git_repository, git_repository_free>;
using StatusPtr = GitPtr<git_status_list, git_status_list_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using DiffPtr = GitPtr<git_diff, git_diff_free>;

void init_libgit2() {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
}

struct GitFailure {
    std::string message;
};

// Throws GitFailure with libgit2's message when `rc` is an error.
void check(int rc, const char* what) {
    if (rc >= 0) return;
    const git_error* e = git_error_last();
    throw GitFailure{std::string(what) + ": " + (e && e->message ? e->message : "unknown error")};
}

int hash_patch_line(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line,
                    void* payload) {
    auto* sha = static_cast<Sha256*>(payload);
    // Context, added and removed lines carry their marker separately from their text.
    char origin = line->origin;
    if (origin == GIT_DIFF_LINE_CONTEXT || origin == GIT_DIFF_LINE_ADDITION ||
        origin == GIT_DIFF_LINE_DELETION) {
        sha->update(&origin, 1);
    }
    sha->update(line->content, line->content_len);
    return 0;
}

}  // namespace

GitState read_git_state(const fs::path& root, std::string* error) {
    init_libgit2();
    GitState st;
    try {
        git_repository* raw = nullptr;
        int rc = git_repository_open_ext(&raw, root.c_str(), 0, nullptr);
        RepoPtr repo(raw);
        if (rc == GIT_ENOTFOUND) return st;  // not inside a git work tree
        check(rc, "cannot open the git repository");
        if (git_repository_is_bare(repo.get())) return st;

        rc = git_repository_head_unborn(repo.get());
        check(rc, "cannot read HEAD");
        bool unborn = rc == 1;
        ObjectPtr head_tree;
        if (!unborn) {
            git_oid oid;
            check(git_reference_name_to_id(&oid, repo.get(), "HEAD"), "cannot read HEAD");
            char hex[GIT_OID_HEXSZ + 1] = {};
            git_oid_tostr(hex, sizeof hex, &oid);
            st.commit = hex;
            git_object* tree = nullptr;
            check(git_revparse_single(&tree, repo.get(), "HEAD^{tree}"), "cannot read HEAD's tree");
            head_tree.reset(tree);
        }

        // Tracked files only: no untracked or ignored files, no submodules.
        git_status_options so = GIT_STATUS_OPTIONS_INIT;
        so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
        so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
        git_status_list* list_raw = nullptr;
        check(git_status_list_new(&list_raw, repo.get(), &so), "cannot read the git status");
        StatusPtr list(list_raw);
        size_t n = git_status_list_entrycount(list.get());
        for (size_t i = 0; i < n && !st.dirty; ++i) {
            const git_status_entry* e = git_status_byindex(list.get(), i);
            unsigned s = e ? e->status : 0;
            s &= ~unsigned(GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED);
            if (s != GIT_STATUS_CURRENT) st.dirty = true;
        }

        if (st.dirty) {
            // The patch from HEAD to the work tree (through the index, so staged changes count
            // too). Its text names blobs by content, so the same changes give the same hash.
            git_diff_options dopts = GIT_DIFF_OPTIONS_INIT;
            dopts.ignore_submodules = GIT_SUBMODULE_IGNORE_ALL;
            git_diff* diff_raw = nullptr;
            check(git_diff_tree_to_workdir_with_index(
                      &diff_raw, repo.get(), reinterpret_cast<git_tree*>(head_tree.get()), &dopts),
                  "cannot diff the work tree");
            DiffPtr diff(diff_raw);
            Sha256 sha;
            check(git_diff_print(diff.get(), GIT_DIFF_FORMAT_PATCH, hash_patch_line, &sha),
                  "cannot print the diff");
            st.diff_hash = to_hex(sha.finish());
        }
        st.in_git = true;
        return st;
    } catch (const GitFailure& f) {
        if (error) *error = f.message;
        return GitState{};
    } catch (const std::exception& e) {
        if (error) *error = e.what();
        return GitState{};
    }
}

}  // namespace mlo::core

namespace mlo::core {

struct GitIgnores::Impl {
    RepoPtr repo;
    std::string prefix;  // the workspace root relative to the git work tree, "" or "sub/"
};

GitIgnores::GitIgnores(const fs::path& root) {
    init_libgit2();
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, root.c_str(), 0, nullptr) != 0) return;
    RepoPtr repo(raw);
    const char* workdir = git_repository_workdir(repo.get());
    if (!workdir) return;
    std::error_code ec;
    fs::path wd = fs::weakly_canonical(workdir, ec);
    fs::path r = fs::weakly_canonical(root, ec);
    std::string prefix = r.lexically_relative(wd).generic_string();
    if (prefix == ".")
        prefix.clear();
    else if (prefix.rfind("..", 0) == 0)
        return;
    else
        prefix += '/';
    impl_ = std::make_unique<Impl>(Impl{std::move(repo), std::move(prefix)});
}

GitIgnores::~GitIgnores() = default;

bool GitIgnores::ignored(const std::string& rel, bool is_dir) const {
    if (!impl_) return false;
    std::string path = impl_->prefix + rel;
    if (is_dir) path += '/';
    int ignored = 0;
    if (git_ignore_path_is_ignored(&ignored, impl_->repo.get(), path.c_str()) != 0) return false;
    return ignored != 0;
}

}  // namespace mlo::core

namespace mlo::core {

namespace {

// The repository containing `root` and root's path inside its work tree ("" or "sub/").
std::pair<RepoPtr, std::string> open_at(const fs::path& root) {
    init_libgit2();
    git_repository* raw = nullptr;
    if (git_repository_open_ext(&raw, root.c_str(), 0, nullptr) != 0)
        throw Error("not inside a git repository, so there are no revisions to read");
    RepoPtr repo(raw);
    std::string prefix;
    if (const char* workdir = git_repository_workdir(repo.get())) {
        std::error_code ec;
        std::string p = fs::weakly_canonical(root, ec)
                            .lexically_relative(fs::weakly_canonical(workdir, ec))
                            .generic_string();
        if (p != "." && !p.empty() && p.rfind("..", 0) != 0) prefix = p + "/";
    }
    return {std::move(repo), prefix};
}

}  // namespace

bool is_git_revision(const fs::path& root, const std::string& rev) {
    try {
        auto [repo, prefix] = open_at(root);
        git_object* obj = nullptr;
        if (git_revparse_single(&obj, repo.get(), (rev + "^{commit}").c_str()) != 0) return false;
        git_object_free(obj);
        return true;
    } catch (const Error&) {
        return false;
    }
}

std::optional<std::string> read_git_file(const fs::path& root, const std::string& rev,
                                         const std::string& rel) {
    auto [repo, prefix] = open_at(root);
    git_object* commit = nullptr;
    if (git_revparse_single(&commit, repo.get(), (rev + "^{commit}").c_str()) != 0)
        throw Error(quote(rev) + " is not a git revision");
    git_object_free(commit);
    git_object* obj = nullptr;
    int rc = git_revparse_single(&obj, repo.get(), (rev + ":" + prefix + rel).c_str());
    if (rc == GIT_ENOTFOUND) return std::nullopt;
    if (rc != 0) {
        const git_error* e = git_error_last();
        throw Error("cannot read " + quote(rel) + " at " + quote(rev) + ": " +
                    (e && e->message ? e->message : "unknown error"));
    }
    ObjectPtr owned(obj);
    if (git_object_type(obj) != GIT_OBJECT_BLOB) return std::nullopt;
    auto* blob = reinterpret_cast<git_blob*>(obj);
    return std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                       size_t(git_blob_rawsize(blob)));
}

}  // namespace mlo::core
