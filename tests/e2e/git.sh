#!/usr/bin/env bash
# Git integration in a real git repository: the hooks `mlo install-hooks` writes (and how they
# chain to hooks that were already there), `checkout --rev`, `diff REV [REV]` and
# `gc --all-commits`.
source "$(dirname "$0")/lib.bash"
require_tools git sha256sum cmp

export GIT_AUTHOR_NAME=mlo GIT_AUTHOR_EMAIL=mlo@example.com
export GIT_COMMITTER_NAME=mlo GIT_COMMITTER_EMAIL=mlo@example.com
export GIT_CONFIG_NOSYSTEM=1
unset GIT_INDEX_FILE GIT_OBJECT_DIRECTORY

# The hooks find mlo on PATH, as a user's would.
mkdir -p "$TEST_ROOT/bin"
ln -s "$MLO" "$TEST_ROOT/bin/mlo"
export PATH="$TEST_ROOT/bin:$PATH"

# A git repository with an mlo repository at its top (or in ${1}), in $TEST_DIR/repo.
git_repo() {
    mkdir -p "$TEST_DIR/repo" && cd "$TEST_DIR/repo" || fail "cannot create the repository"
    git init -q . || fail "git init failed"
    git symbolic-ref HEAD refs/heads/main || fail "cannot name the branch"
    if [ -n "${1:-}" ]; then
        mkdir -p "$1" && cd "$1" || fail "cannot create $1"
    fi
    ok mlo init
}

# git, with its output in $OUT / $ERR like expect_exit.
g() { ok git "$@"; }

# Adds data/x.csv with BYTES, commits its pointer (and whatever else changed) as MESSAGE.
commit_x() {
    mkdir -p data
    printf '%s' "$1" >data/x.csv
    ok mlo add data/x.csv
    g add -A .
    g commit -q -m "$2"
}

object_of() { pointer_field "$1" hash | sed 's/^sha256://'; }

# Name, mode, modification time and content of every hook (not the samples).
hooks_state() {
    (cd .git/hooks && find . -maxdepth 1 -type f ! -name '*.sample' -printf '%P %m %T@\n' | sort &&
        find . -maxdepth 1 -type f ! -name '*.sample' -exec sha256sum {} + | sort)
}

test_install_hooks_chains_a_hook_that_was_there() {
    git_repo
    printf 'readme\n' >README
    cat >.git/hooks/pre-commit <<'EOF'
#!/bin/sh
echo "ran with [$*]" >>"$(git rev-parse --show-toplevel)/marker"
exit 0
EOF
    chmod +x .git/hooks/pre-commit
    ok mlo --json install-hooks
    assert_stdout_json
    assert_eq "chained" "$(json_get '[h["action"] for h in j["hooks"] if h["name"] == "pre-commit"][0]')" "pre-commit action"
    assert_eq "pre-commit.pre-mlo" "$(json_get '[h["chained"] for h in j["hooks"] if h["name"] == "pre-commit"][0]')" "chained hooks"
    assert_eq "installed installed" "$(json_get '" ".join(h["action"] for h in j["hooks"] if h["name"] != "pre-commit")')" "other hooks"
    assert_eq "$(cd .git/hooks && pwd -P)" "$(cd "$(json_get 'j["hooks_dir"]')" && pwd -P)" "hooks_dir"
    assert_file_exists .git/hooks/pre-commit.pre-mlo
    grep -q '^# mlo-hook: pre-commit' .git/hooks/pre-commit || fail "pre-commit is not mlo's"
    [ -x .git/hooks/pre-commit ] || fail "pre-commit is not executable"

    # Both run: the old hook (marker) and mlo's (nothing tracked yet, so it lets the commit be).
    g add README
    g commit -q -m readme
    assert_eq "ran with []" "$(cat marker)" "marker of the chained hook"
    commit_x $'id\n1\n' "data"
    assert_eq 2 "$(wc -l <marker)" "chained hook runs"

    # A failing chained hook still stops the commit, with its exit status.
    printf '#!/bin/sh\necho "old hook says no" >&2\nexit 3\n' >.git/hooks/pre-commit.pre-mlo
    local head
    head=$(git rev-parse HEAD)
    printf 'more\n' >>README
    g add README
    expect_exit 1 -- git commit -q -m blocked
    assert_contains "$(stderr)" "old hook says no"
    assert_eq "$head" "$(git rev-parse HEAD)" "HEAD after a blocked commit"
}

test_install_hooks_twice_changes_nothing() {
    git_repo
    printf '#!/bin/sh\nexit 0\n' >.git/hooks/post-checkout
    chmod +x .git/hooks/post-checkout
    ok mlo install-hooks
    assert_contains "$(stdout)" "chained   post-checkout (runs post-checkout.pre-mlo first)"
    local before
    before=$(hooks_state)
    ok mlo --json install-hooks
    assert_eq "unchanged unchanged unchanged" "$(json_get '" ".join(h["action"] for h in j["hooks"])')" "actions"
    assert_eq "post-checkout.pre-mlo" "$(json_get '[h["chained"] for h in j["hooks"] if h["name"] == "post-checkout"][0]')" "chain"
    assert_eq "$before" "$(hooks_state)" "hooks directory"
    assert_no_file .git/hooks/post-checkout.pre-mlo.2

    # Another tool replaces our hook: it is chained too, after the first one; ours never is.
    printf '#!/bin/sh\nexit 0\n' >.git/hooks/post-checkout
    ok mlo --json install-hooks
    assert_eq "post-checkout.pre-mlo post-checkout.pre-mlo.2" "$(json_get '" ".join([h["chained"] for h in j["hooks"] if h["name"] == "post-checkout"][0])')" "chain"
    ok mlo --json install-hooks
    assert_eq "unchanged unchanged unchanged" "$(json_get '" ".join(h["action"] for h in j["hooks"])')" "actions"
}

test_post_checkout_checks_out_the_branch_data() {
    git_repo
    ok mlo install-hooks
    commit_x $'id,v\n1,main\n' "main data"
    cp data/x.csv "$TEST_DIR/main.csv"
    g checkout -q -b other
    commit_x $'id,v\n1,other\n2,other\n' "other data"
    cp data/x.csv "$TEST_DIR/other.csv"

    g checkout -q main
    cmp data/x.csv "$TEST_DIR/main.csv" || fail "data/x.csv is not main's after 'git checkout main'"
    assert_not_contains "$(stdout)$(stderr)" "restored" "git checkout output (the hook is quiet)"
    g checkout -q other
    cmp data/x.csv "$TEST_DIR/other.csv" || fail "data/x.csv is not other's after 'git checkout other'"
    # A file checkout (third argument 0) leaves the data alone.
    g checkout -q main -- data/x.csv.mlo
    cmp data/x.csv "$TEST_DIR/other.csv" || fail "a file checkout changed the data"
    g checkout -q other -- data/x.csv.mlo

    # The binary that installed the hooks is the fallback when mlo is not on PATH.
    grep -qF "$(readlink -f "$MLO")" .git/hooks/post-checkout || fail "the hook does not name $MLO"
    if ! PATH=/usr/bin:/bin command -v mlo >/dev/null; then
        PATH=/usr/bin:/bin git checkout -q main >"$OUT" 2>"$ERR" || fail "git checkout failed: $(stderr)"
        cmp data/x.csv "$TEST_DIR/main.csv" || fail "the hook did not run mlo without PATH"
    fi
}

test_pre_commit_stops_a_commit_with_data_not_added() {
    git_repo
    ok mlo install-hooks
    commit_x $'id\n1\n' "data"
    printf 'id\n1\n2\n' >data/x.csv
    printf 'readme\n' >README
    g add README
    local head
    head=$(git rev-parse HEAD)
    expect_exit 1 -- git commit -q -m "readme"
    assert_contains "$(stderr)" "modified: data/x.csv"
    assert_contains "$(stderr)" "mlo add"
    assert_eq "$head" "$(git rev-parse HEAD)" "HEAD"
    # Added, the commit goes through.
    ok mlo add data/x.csv
    g add data/x.csv.mlo
    g commit -q -m "readme and data"
    assert_ne "$head" "$(git rev-parse HEAD)" "HEAD"
}

test_hooks_for_an_mlo_repository_in_a_subdirectory_with_hooks_path() {
    git_repo ml
    git config core.hooksPath .githooks || fail "git config"
    ok mlo --json install-hooks
    assert_eq "$(cd ../.githooks 2>/dev/null && pwd -P)" "$(cd "$(json_get 'j["hooks_dir"]')" && pwd -P)" "hooks_dir"
    assert_file_exists ../.githooks/post-checkout
    assert_no_file ../.git/hooks/post-checkout
    commit_x $'a\n' "one"
    cp data/x.csv "$TEST_DIR/one.csv"
    g checkout -q -b two
    commit_x $'b\nb\n' "two"
    g checkout -q main
    cmp data/x.csv "$TEST_DIR/one.csv" || fail "data/x.csv is not main's"
    printf 'changed\n' >data/x.csv
    expect_exit 1 -- git commit -q --allow-empty -m "empty"
    assert_contains "$(stderr)" "modified: data/x.csv"
}

test_checkout_rev_restores_old_data_and_leaves_git_alone() {
    git_repo
    commit_x $'old\n' "old"
    cp data/x.csv "$TEST_DIR/old.csv"
    commit_x $'new data\n' "new"
    cp data/x.csv "$TEST_DIR/new.csv"
    cp data/x.csv.mlo "$TEST_DIR/new.mlo"
    local status_before
    status_before=$(git status --porcelain)

    ok mlo checkout --rev HEAD~1
    cmp data/x.csv "$TEST_DIR/old.csv" || fail "data/x.csv is not HEAD~1's"
    cmp data/x.csv.mlo "$TEST_DIR/new.mlo" || fail "the pointer file changed"
    assert_eq "$status_before" "$(git status --porcelain)" "git status"
    # Now the workspace differs from its pointer file, as after any checkout of other data.
    ok mlo --json status
    assert_eq "modified data/x.csv" "$(json_get '[c["status"] + " " + c["path"] for t in j["tracked"] for c in t["changes"]][0]')"
    ok mlo checkout
    cmp data/x.csv "$TEST_DIR/new.csv" || fail "plain checkout did not restore HEAD's data"

    # A path, by its pointer file; JSON names the commit.
    ok mlo --json checkout --rev main~1 data/x.csv.mlo
    assert_eq "$(git rev-parse HEAD~1)" "$(json_get 'j["commit"]')" "commit"
    assert_eq "data/x.csv" "$(json_get 'j["restored"]')" "restored"
    ok mlo checkout

    # Local changes that are not in the store are kept unless --force.
    printf 'precious\n' >data/x.csv
    expect_exit 2 -- mlo checkout --rev HEAD~1
    assert_one_line_error "local changes to 'data/x.csv'"
    assert_eq "precious" "$(cat data/x.csv)" "the modified file"
    ok mlo checkout --rev HEAD~1 --force
    cmp data/x.csv "$TEST_DIR/old.csv" || fail "--force did not restore HEAD~1's data"

    # An object the store lacks: say how to get it.
    ok mlo checkout
    local old
    old=$(git show HEAD~1:data/x.csv.mlo | sed -n 's/^hash: sha256://p')
    rm -f "$(object_path "$old")"
    expect_exit 2 -- mlo checkout --rev HEAD~1
    assert_one_line_error "not in the store.*mlo fetch.*mlo pull"
    cmp data/x.csv "$TEST_DIR/new.csv" || fail "a failed checkout changed data/x.csv"

    expect_exit 2 -- mlo checkout --rev no-such-branch
    assert_one_line_error "'no-such-branch' is not a git revision"
    expect_exit 2 -- mlo checkout --rev HEAD~1 README
    assert_one_line_error "'README' is not tracked by mlo at 'HEAD~1'"
}

test_diff_between_revisions() {
    git_repo
    commit_x $'id\n1\n' "one"
    mkdir -p images/sub
    printf 'a\n' >images/a.txt
    printf 'b\n' >images/sub/b.txt
    ok mlo add images
    g add -A .
    g commit -q -m "images"
    commit_x $'id\n1\n2\n' "two"
    printf 'B\n' >images/sub/b.txt
    printf 'c\n' >images/c.txt
    ok mlo add images
    g add -A .
    g commit -q -m "images two"

    ok mlo diff HEAD~3 HEAD
    assert_contains "$(stdout)" "modified data/x.csv  (5 B -> 7 B"
    assert_contains "$(stdout)" "added    images/a.txt"
    ok mlo --json diff HEAD~2 HEAD
    assert_stdout_json
    assert_eq "data/x.csv images/sub/b.txt" "$(json_get '" ".join(m["path"] for m in j["modified"])')" "modified"
    assert_eq "images/c.txt" "$(json_get '" ".join(a["path"] for a in j["added"])')" "added"
    assert_eq "" "$(json_get '" ".join(d["path"] for d in j["deleted"])')" "deleted"
    assert_eq "sha256:$(sha256_of data/x.csv)" "$(json_get 'j["modified"][0]["new"]["hash"]')" "new hash"
    # One revision: against the workspace's pointer files (HEAD's here), limited to a path.
    ok mlo --json diff HEAD~1 images
    assert_eq "images/c.txt" "$(json_get '" ".join(a["path"] for a in j["added"])')" "added"
    assert_eq "images/sub/b.txt" "$(json_get '" ".join(m["path"] for m in j["modified"])')" "modified"
    ok mlo diff HEAD
    assert_eq "no differences" "$(stdout)"
    # Without the old manifest in the store, the directory as a whole.
    local manifest
    manifest=$(git show HEAD~1:images.mlo | sed -n 's/^hash: sha256://p')
    rm -f "$(object_path "$manifest")"
    ok mlo --json diff HEAD~1 HEAD images
    assert_eq "images" "$(json_get '" ".join(m["path"] for m in j["modified"])')" "modified"
    # A path wins over a revision of the same name: this is the workspace's images/.
    g branch images HEAD~3
    ok mlo diff images
    assert_eq "no differences" "$(stdout)"
}

test_gc_all_commits_keeps_what_old_commits_name() {
    git_repo
    commit_x $'first version\n' "one"
    local old
    old=$(object_of data/x.csv.mlo)
    commit_x $'second version\n' "two"
    assert_file_exists "$(object_path "$old")"
    ok mlo --json gc --all-commits
    assert_eq 2 "$(json_get 'j["commits"]')" "commits walked"
    assert_eq 0 "$(json_get 'len(j["removed"])')" "objects removed"
    assert_file_exists "$(object_path "$old")"
    ok mlo gc --all-commits --dry-run
    assert_contains "$(stdout)" "2 commits"
    ok mlo gc
    assert_no_file "$(object_path "$old")"
    assert_file_exists "$(object_path "$(object_of data/x.csv.mlo)")"
}

test_pre_push_without_an_mlo_remote_lets_the_push_go() {
    git_repo
    ok mlo install-hooks
    commit_x $'id\n1\n' "data"
    git init -q --bare "$TEST_DIR/remote.git" || fail "git init --bare"
    g remote add origin "$TEST_DIR/remote.git"
    g push -q origin main
    assert_contains "$(stderr)" "no default mlo remote"
    assert_eq "$(git rev-parse HEAD)" "$(git --git-dir="$TEST_DIR/remote.git" rev-parse main)" "pushed"
}

test_pre_push_pushes_objects_to_the_default_remote() {
    git_repo
    printf '#!/bin/sh\ncat >"$(git rev-parse --show-toplevel)/pushed-refs"\n' >.git/hooks/pre-push
    chmod +x .git/hooks/pre-push
    ok mlo install-hooks
    mkdir -p "$TEST_DIR/store"
    expect_exit_any mlo remote add store "$TEST_DIR/store" --default
    case "$(stderr)" in
        *"not built yet"*) skip "'mlo remote add' is not built yet" ;;
    esac
    [ "$_LAST_RC" = 0 ] || fail "mlo remote add failed: $(stderr)"
    commit_x $'id\n1\n' "data"
    local id
    id=$(object_of data/x.csv.mlo)
    git init -q --bare "$TEST_DIR/remote.git" || fail "git init --bare"
    g remote add origin "$TEST_DIR/remote.git"
    g push -q origin main
    [ -n "$(find "$TEST_DIR/store" -type f -name "${id:2}*" 2>/dev/null)" ] ||
        fail "object $id is not in the mlo remote after git push"
    # The chained hook read the same refs git sent.
    assert_contains "$(cat pushed-refs)" "refs/heads/main $(git rev-parse HEAD) refs/heads/main"
}

test_errors_outside_a_git_repository() {
    new_repo
    if git rev-parse --git-dir >/dev/null 2>&1; then
        skip "the test directory is inside a git repository"
    fi
    expect_exit 2 -- mlo install-hooks
    assert_one_line_error "not inside a git repository"
    expect_exit 2 -- mlo checkout --rev HEAD
    assert_one_line_error "not inside a git repository"
    expect_exit 2 -- mlo gc --all-commits
    assert_one_line_error "not inside a git repository"
}

# Runs a command like expect_exit, whatever its exit status ($_LAST_RC).
expect_exit_any() {
    _LAST_CMD="$*"
    "$@" >"$OUT" 2>"$ERR"
    _LAST_RC=$?
}

run_tests
