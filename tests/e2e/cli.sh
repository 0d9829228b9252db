#!/usr/bin/env bash
# The command-line surface: --version, --help, unknown commands and options, global options
# (-C, --json, -q, -v, --no-progress) before and after the command, running outside a
# repository, and init run twice.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum

COMMANDS="init add status checkout diff ls gc fsck dag repro train evaluate runs lineage"

# A small repository with one tracked directory and one tracked file.
tracked_repo() {
    new_repo "${1:-repo}"
    mkdir -p data/sub
    printf 'a,b\n1,2\n' >data/train.csv
    printf 'x' >data/sub/x.txt
    printf 'model' >model.bin
    ok mlo add data model.bin
}

test_version() {
    expect_exit 0 -- mlo --version
    assert_stderr_empty
    assert_eq 1 "$(wc -l <"$OUT")" "lines of --version output"
    assert_matches "$(stdout)" '^(mlo )?(version )?[0-9]+\.[0-9]+\.[0-9]+' "--version output"
    local version
    version=$(stdout)
    # --version is a global option: accepted after any command too, with the same answer.
    local c
    for c in $COMMANDS; do
        expect_exit 0 -- mlo "$c" --version
        assert_eq "$version" "$(stdout)" "'mlo $c --version'"
    done
}

test_help_for_every_command() {
    expect_exit 0 -- mlo --help
    assert_stderr_empty
    local top c
    top=$(stdout)
    for c in $COMMANDS; do
        assert_matches "$top" "^ +$c( |$)" "'mlo --help' listing of '$c'"
    done
    for c in $COMMANDS; do
        expect_exit 0 -- mlo "$c" --help
        assert_stderr_empty
        assert_contains "$(stdout)" "mlo $c" "'mlo $c --help'"
        # -h is the short form.
        expect_exit 0 -- mlo "$c" -h
        assert_contains "$(stdout)" "mlo $c" "'mlo $c -h'"
    done
    # Help needs no repository: we are not in one here.
    assert_no_file .mlo
}

test_unknown_command_suggests_nearest() {
    expect_exit 2 -- mlo statsu
    assert_stdout_empty
    assert_one_line_error "'statsu'.*'status'"
    expect_exit 2 -- mlo chekout
    assert_one_line_error "'chekout'.*'checkout'"
    expect_exit 2 -- mlo fsk
    assert_one_line_error "'fsk'.*'fsck'"
    # After global options too.
    expect_exit 2 -- mlo -q --json satus
    assert_one_line_error "'satus'.*'status'"
    # Nothing near: still one line, no suggestion of an unrelated command.
    expect_exit 2 -- mlo xyzzyplugh
    assert_one_line_error "'xyzzyplugh'"
    local c
    for c in $COMMANDS; do
        assert_not_contains "$(stderr)" "'$c'" "error for 'xyzzyplugh'"
    done
    # The unknown command is refused before anything is created.
    assert_no_file .mlo
}

test_no_command_is_a_usage_error() {
    expect_exit 2 -- mlo
    assert_stdout_empty
    assert_one_line_error
    expect_exit 2 -- mlo -q
    assert_one_line_error
}

test_bad_option_is_a_usage_error() {
    tracked_repo
    take_snapshot before
    expect_exit 2 -- mlo status --bogus
    assert_stdout_empty
    assert_one_line_error '--bogus'
    expect_exit 2 -- mlo --bogus status
    assert_one_line_error '--bogus'
    expect_exit 2 -- mlo checkout --no-such-flag
    assert_one_line_error '--no-such-flag'
    expect_exit 2 -- mlo gc --dry-run extra-argument
    assert_one_line_error 'extra-argument'
    expect_exit 2 -- mlo fsck unexpected
    assert_one_line_error 'unexpected'
    # An option that needs a value and has none.
    expect_exit 2 -- mlo -C
    assert_one_line_error '-C'
    # A command that needs an argument and has none.
    expect_exit 2 -- mlo add
    assert_one_line_error 'path'
    assert_unchanged before
}

test_dash_C_runs_in_that_directory() {
    tracked_repo repo
    mkdir -p "$TEST_DIR/elsewhere"
    cd "$TEST_DIR/elsewhere" || fail "cd"
    expect_exit 0 -- mlo -C ../repo status --exit-code
    expect_exit 0 -- mlo -C "$TEST_DIR/repo" --json status
    assert_eq true "$(json_get 'j["clean"]')" "clean"
    assert_eq "data model.bin" "$(json_get '[t["path"] for t in j["tracked"]]' | tr '\n' ' ' | sed 's/ $//')" \
        "tracked paths"
    # Paths on the command line are relative to -C's directory, like git.
    printf 'new' >"$TEST_DIR/repo/other.txt"
    expect_exit 0 -- mlo -C ../repo add other.txt
    assert_file_exists "$TEST_DIR/repo/other.txt.mlo"
    assert_no_file "$TEST_DIR/elsewhere/other.txt.mlo"
    assert_eq "sha256:$(sha256_of "$TEST_DIR/repo/other.txt")" \
        "$(pointer_field "$TEST_DIR/repo/other.txt.mlo" hash)" "hash in other.txt.mlo"
    rm "$TEST_DIR/repo/model.bin"
    expect_exit 0 -- mlo -C ../repo checkout model.bin
    assert_eq model "$(cat "$TEST_DIR/repo/model.bin")" "restored model.bin"
    # Also accepted after the command.
    expect_exit 0 -- mlo status -C ../repo --exit-code
    # The directory must exist.
    expect_exit 2 -- mlo -C "$TEST_DIR/no-such-dir" status
    assert_one_line_error "'$TEST_DIR/no-such-dir'"
    # -C into a subdirectory of the repository finds the root above it.
    expect_exit 0 -- mlo -C ../repo/data status --exit-code
    # Nothing was created where we stand.
    assert_eq "" "$(ls -A "$TEST_DIR/elsewhere")" "contents of the current directory"
}

test_outside_any_repository() {
    # $TEST_DIR lies in a fresh temporary directory; make sure no parent has a .mlo/.
    local p=$TEST_DIR
    while [ "$p" != / ]; do
        [ -d "$p/.mlo" ] && skip "a parent directory ($p) holds .mlo/"
        p=$(dirname "$p")
    done
    printf 'x' >file.txt
    mkdir sub
    local c
    for c in "add file.txt" status "status --exit-code" checkout diff ls gc "gc --dry-run" fsck; do
        # shellcheck disable=SC2086
        expect_exit 2 -- mlo $c
        assert_stdout_empty
        assert_one_line_error 'not an mlo repository'
    done
    expect_exit 2 -- mlo --json status
    assert_one_line_error 'not an mlo repository'
    expect_exit 2 -- mlo -C sub status
    assert_one_line_error 'not an mlo repository'
    # Nothing was created.
    assert_no_file .mlo
    assert_no_file file.txt.mlo
    assert_no_file .gitignore
}

test_global_flags_after_the_command() {
    tracked_repo
    expect_exit 0 -- mlo status --json
    assert_stdout_json
    local after before
    after=$(stdout)
    expect_exit 0 -- mlo --json status
    before=$(stdout)
    assert_eq "$before" "$after" "'mlo --json status' vs 'mlo status --json'"
    expect_exit 0 -- mlo ls --json
    assert_stdout_json
    expect_exit 0 -- mlo status -q
    assert_stdout_empty
    expect_exit 0 -- mlo fsck --no-progress -q
    assert_stdout_empty
    expect_exit 0 -- mlo checkout -v --no-progress
    expect_exit 0 -- mlo gc --dry-run --json
    assert_stdout_json
    assert_eq true "$(json_get 'j["dry_run"]')" "dry_run"
}

test_json_output_parses_for_every_command() {
    mkdir repo && cd repo || fail "cd"
    expect_exit 0 -- mlo --json init
    assert_stdout_json
    assert_stderr_empty
    assert_eq true "$(json_get 'j["created"]')" "created on first init"
    mkdir -p data/sub
    printf 'a,b\n1,2\n' >data/train.csv
    printf 'x' >data/sub/x.txt
    printf 'model' >model.bin
    local c
    for c in "add data model.bin" status "status data" diff checkout "checkout model.bin" ls \
        "ls data" "gc --dry-run" gc fsck; do
        # shellcheck disable=SC2086
        expect_exit 0 -- mlo --json $c
        assert_stdout_json
        # Hints and notes go to people, never into --json runs.
        assert_stderr_empty
    done
    # With changes, too (status --exit-code still prints its JSON before exiting 1).
    printf 'changed' >model.bin
    rm data/sub/x.txt
    printf 'new' >data/new.txt
    expect_exit 1 -- mlo --json status --exit-code
    assert_stdout_json
    assert_eq false "$(json_get 'j["clean"]')" "clean"
    expect_exit 0 -- mlo --json diff
    assert_stdout_json
    expect_exit 0 -- mlo --json init
    assert_stdout_json
    assert_eq false "$(json_get 'j["created"]')" "created on second init"
}

test_quiet_silences_normal_output() {
    mkdir repo && cd repo || fail "cd"
    expect_exit 0 -- mlo -q init
    assert_stdout_empty
    assert_stderr_empty
    mkdir data
    printf '1' >data/one
    printf '2' >data/two
    expect_exit 0 -- mlo -q add data
    assert_stdout_empty
    assert_stderr_empty
    assert_file_exists data.mlo
    local c
    for c in status "status --exit-code" diff checkout "gc --dry-run" gc fsck; do
        # shellcheck disable=SC2086
        expect_exit 0 -- mlo -q $c
        assert_stdout_empty
        assert_stderr_empty
    done
    # Without -q the same commands do talk (so the assertions above could fail).
    expect_exit 0 -- mlo status
    assert_contains "$(stdout)" "nothing changed"
    # -q keeps the data a script asked for: the changed paths, and the exit code.
    printf 'changed' >data/one
    expect_exit 1 -- mlo -q status --exit-code
    assert_contains "$(stdout)" "data/one"
    assert_stderr_empty
    # Errors still reach stderr.
    expect_exit 2 -- mlo -q add missing-file
    assert_one_line_error "'missing-file'"
}

test_verbose_checkout_lists_restored_files() {
    tracked_repo
    rm data/train.csv model.bin
    expect_exit 0 -- mlo -v checkout
    assert_contains "$(stdout)" "data/train.csv"
    assert_contains "$(stdout)" "model.bin"
    assert_not_contains "$(stdout)" "data/sub/x.txt" "verbose checkout (x.txt was unchanged)"
}

test_init_twice_is_fine_and_keeps_everything() {
    tracked_repo
    # A user setting in the config must survive a second init.
    cat >.mlo/config.yaml <<'EOF'
core:
  link: copy
  jobs: 2
EOF
    take_snapshot before
    expect_exit 0 -- mlo init
    assert_stderr_empty
    assert_contains "$(stdout)" "reinitialised"
    assert_unchanged before
    # The same through -C from elsewhere.
    mkdir -p "$TEST_DIR/x"
    cd "$TEST_DIR/x" || fail "cd"
    expect_exit 0 -- mlo -C ../repo init
    cd "$TEST_DIR/repo" || fail "cd"
    assert_unchanged before
    # The repository still works: data tracked before the second init is still tracked.
    expect_exit 0 -- mlo status --exit-code
    assert_contains "$(stdout)" "2 tracked paths"
    rm -rf data
    expect_exit 0 -- mlo checkout
    assert_eq x "$(cat data/sub/x.txt)" "restored data/sub/x.txt"
}

test_init_creates_the_layout() {
    mkdir repo && cd repo || fail "cd"
    expect_exit 0 -- mlo init
    assert_stderr_empty
    [ -d .mlo/objects ] || fail ".mlo/objects was not created"
    assert_file_exists .mlo/config.yaml
    assert_file_exists .mlo/.gitignore
    assert_file_exists .mlo/mlo.db
    # .mlo/.gitignore keeps config.yaml in git and everything else out.
    assert_contains "$(cat .mlo/.gitignore)" "!/config.yaml"
    # Works inside a directory that is not empty and leaves its files alone.
    mkdir "$TEST_DIR/busy" && cd "$TEST_DIR/busy" || fail "cd"
    printf 'keep' >keep.txt
    expect_exit 0 -- mlo init
    assert_eq keep "$(cat keep.txt)" "keep.txt"
}

test_stdout_write_error_is_reported() {
    tracked_repo
    [ -w /dev/full ] || skip "/dev/full is not available"
    # A script piping mlo's data somewhere must learn when it did not arrive.
    _LAST_CMD="mlo ls >/dev/full"
    mlo ls >/dev/full 2>"$ERR"
    _LAST_RC=$?
    assert_eq 2 "$_LAST_RC" "exit code of 'mlo ls >/dev/full'"
    assert_one_line_error 'No space left on device|cannot write'
    mlo --json status >/dev/full 2>"$ERR"
    _LAST_RC=$?
    assert_eq 2 "$_LAST_RC" "exit code of 'mlo --json status >/dev/full'"
    assert_one_line_error
}

test_progress_bars_only_on_a_terminal() {
    require_tools script
    new_repo
    mkdir data
    python3 - <<'EOF2'
for i in range(1500):
    with open("data/f%05d" % i, "w") as f:
        f.write("%d\n" % i)
EOF2
    make_bytes data/big.bin $((32 * 1024 * 1024))
    local big_sha
    big_sha=$(sha256_of data/big.bin)
    expect_exit 0 -- mlo add data
    if grep -q $'\r\|\x1b' "$ERR"; then
        fail "progress drawn on a non-terminal stderr: [$(od -c "$ERR" | head -n 5)]"
    fi
    # A checkout of the whole tree runs long enough to draw a bar. First make sure it does draw
    # one on a terminal; otherwise this machine is too fast to tell bars from no bars.
    rm -rf data
    script -qec "'$MLO' checkout" /dev/null >"$TEST_ROOT/tty.out" 2>&1
    if ! grep -q $'\x1b' "$TEST_ROOT/tty.out"; then
        skip "checkout finished before a progress bar was due; cannot tell bars from no bars"
    fi
    rm -rf data
    expect_exit 0 -- mlo checkout
    assert_stderr_empty
    if grep -q $'\r\|\x1b' "$OUT"; then
        fail "progress drawn into stdout: [$(od -c "$OUT" | head -n 5)]"
    fi
    local flag
    for flag in --no-progress -q --json; do
        rm -rf data
        script -qec "'$MLO' $flag checkout" /dev/null >"$TEST_ROOT/tty.out" 2>&1
        if grep -q $'\x1b' "$TEST_ROOT/tty.out"; then
            fail "progress drawn on a terminal despite $flag: [$(od -c "$TEST_ROOT/tty.out" | head -n 5)]"
        fi
        assert_eq "$big_sha" "$(sha256_of data/big.bin)" "restored big.bin"
    done
}

test_json_output_with_non_utf8_file_names() {
    # File names on Linux are bytes; a data set from an old archive may have Latin-1 names.
    # --json must still print one parseable document.
    new_repo
    mkdir data
    printf 'x' >data/$'caf\xe9.csv'
    printf 'y' >data/plain.csv
    ok mlo add data
    local c
    for c in "ls data" status diff "add data" checkout fsck gc; do
        # shellcheck disable=SC2086
        expect_exit 0 -- mlo --json $c
        assert_stdout_json
    done
    printf 'z' >data/$'caf\xe9.csv'
    expect_exit 1 -- mlo --json status --exit-code
    assert_stdout_json
    assert_eq 1 "$(json_get 'len(j["tracked"][0]["changes"])')" "number of changes"
    expect_exit 0 -- mlo --json diff
    assert_stdout_json
    assert_eq 1 "$(json_get 'len(j["modified"])')" "number of modified files"
}

run_tests
