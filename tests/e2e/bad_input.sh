#!/usr/bin/env bash
# Bad input: every case must exit 2 with one line on stderr that names the offending path (or
# file and line), and must leave the workspace, the store and the database exactly as they were.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum

# A repository with data/ (a directory) and models/m.bin (a file) tracked, and a file outside
# the repository at $TEST_DIR/outside.csv.
base_repo() {
    new_repo
    mkdir -p data/sub models
    printf 'id,label\n1,cat\n' >data/train.csv
    printf 'deep\n' >data/sub/deep.csv
    printf 'model bytes' >models/m.bin
    ok mlo add data models/m.bin
    printf 'outside\n' >"$TEST_DIR/outside.csv"
}

# refused REGEX -- CMD...: CMD exits 2 with a one-line error matching REGEX and changes nothing
# in the current directory (workspace, objects, pointers, .gitignore files, database).
refused() {
    local re=$1
    shift
    [ "${1:-}" = "--" ] && shift
    take_snapshot refused
    expect_exit 2 -- "$@"
    assert_stdout_empty
    assert_one_line_error "$re"
    assert_unchanged refused
}

# mlo run as user nobody (root reads everything, so permissions only bite another user).
mlo_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups -- \
        timeout -k 5 "$CMD_TIMEOUT" "$MLO" "$@" </dev/null
}

# Lets user nobody work in the repository in the current directory.
open_to_nobody() {
    require_tools setpriv
    [ "$(id -u)" = 0 ] || skip "needs root to run mlo as another user"
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$MLO" --version >/dev/null 2>&1 ||
        skip "user nobody cannot run $MLO"
    local d=$PWD
    while [ "$d" != / ]; do
        chmod o+x "$d" 2>/dev/null
        d=$(dirname "$d")
    done
    find . -type d -exec chmod 0777 {} +
    find . -type f ! -path './.mlo/objects/*' -exec chmod a+rw {} +
}

test_add_outside_the_repository() {
    base_repo
    refused "'\.\./outside\.csv'" -- mlo add ../outside.csv
    refused "'$TEST_DIR/outside\.csv'" -- mlo add "$TEST_DIR/outside.csv"
    refused "'\.\./\.\./x'" -- mlo add ../../x
    # Through a symbolic link to a directory outside.
    ln -s "$TEST_DIR" up
    refused "'up/outside\.csv'" -- mlo add up/outside.csv
    # With a good path alongside: nothing of the good one is stored either.
    printf 'good\n' >good.csv
    refused "'\.\./outside\.csv'" -- mlo add good.csv ../outside.csv
    assert_no_file good.csv.mlo
    assert_no_file "$(object_path "$(sha256_of good.csv)")"
}

test_add_missing_path() {
    base_repo
    refused "'no-such-file\.csv'" -- mlo add no-such-file.csv
    refused "'data/no-such-dir/x'" -- mlo add data/no-such-dir/x
    refused "'missing/'" -- mlo add missing/
    printf 'good\n' >good.csv
    refused "'missing\.csv'" -- mlo add good.csv missing.csv
    assert_no_file good.csv.mlo
    refused '' -- mlo add ""
}

test_add_inside_dot_mlo() {
    base_repo
    refused "'\.mlo/config\.yaml'" -- mlo add .mlo/config.yaml
    refused "'\.mlo'" -- mlo add .mlo
    refused "'\.mlo/objects'" -- mlo add .mlo/objects
    refused "'\./\.mlo/tmp'" -- mlo add ./.mlo/tmp
    (cd .mlo && mlo add config.yaml >"$OUT" 2>"$ERR")
    _LAST_RC=$?
    assert_eq 2 "$_LAST_RC" "exit code of 'mlo add config.yaml' inside .mlo/"
    assert_one_line_error "config\.yaml"
}

test_add_repository_root_or_pointer_file() {
    base_repo
    refused "'\.'" -- mlo add .
    refused "'data\.mlo'" -- mlo add data.mlo
    refused "'models/m\.bin\.mlo'" -- mlo add models/m.bin.mlo
}

# data2/ with a readable file and data2/sub/secret.csv, open to user nobody.
unreadable_setup() {
    base_repo
    mkdir -p data2/sub
    printf 'good\n' >data2/good.csv
    printf 'secret\n' >data2/sub/secret.csv
    printf 'lonely secret\n' >secret.bin
    open_to_nobody
}

test_add_unreadable_file_in_a_directory() {
    unreadable_setup
    chmod 000 data2/sub/secret.csv
    # A failing add leaves the store as it was: not even good.csv's object may stay behind.
    refused "secret\.csv'?: Permission denied" -- mlo_nobody add data2
    assert_no_file data2.mlo
}

test_add_unreadable_single_file() {
    unreadable_setup
    chmod 000 secret.bin
    refused "secret\.bin'?: Permission denied" -- mlo_nobody add secret.bin
    assert_no_file secret.bin.mlo
    # Readable again: nobody can add it (so the refusal was about the permission).
    chmod 644 secret.bin
    ok mlo_nobody add secret.bin
    assert_file_exists secret.bin.mlo
}

test_add_unreadable_directory() {
    unreadable_setup
    chmod 000 data2/sub
    refused "data2/sub'?: Permission denied" -- mlo_nobody add data2
    chmod 755 data2/sub
    ok mlo_nobody add data2
    assert_file_exists data2.mlo
}

test_add_symlink_leading_outside() {
    base_repo
    ln -s ../outside.csv link.csv
    refused "'link\.csv'" -- mlo add link.csv
    # Inside a directory being added: a link to a file and a link to a directory outside.
    mkdir data3
    printf 'fine\n' >data3/fine.csv
    ln -s "$TEST_DIR/outside.csv" data3/evil
    refused "data3/evil'" -- mlo add data3
    assert_no_file data3.mlo
    rm data3/evil
    ln -s /etc data3/evil-dir
    refused "data3/evil-dir'" -- mlo add data3
    rm data3/evil-dir
    # A dangling link and a loop.
    ln -s does-not-exist data3/dangling
    refused "data3/dangling'" -- mlo add data3
    rm data3/dangling
    ln -s loop data3/loop
    refused "data3/loop'" -- mlo add data3
    rm data3/loop
    ln -s self self
    refused "'self'" -- mlo add self
    # Without the bad links the directory is fine (the refusals were about the links).
    ok mlo add data3
}

test_add_special_file() {
    require_tools mkfifo
    base_repo
    mkdir data4
    printf 'fine\n' >data4/fine.csv
    mkfifo data4/pipe
    refused "data4/pipe'" -- mlo add data4
    refused "'data4/pipe'" -- mlo add data4/pipe
}

test_add_path_inside_a_tracked_directory() {
    base_repo
    refused "'data/train\.csv'.*'data'" -- mlo add data/train.csv
    refused "'data/sub/deep\.csv'.*'data'" -- mlo add data/sub/deep.csv
    refused "'data/sub'.*'data'" -- mlo add data/sub
    refused "'$TEST_DIR/repo/data/train\.csv'" -- mlo add "$TEST_DIR/repo/data/train.csv"
    # The other way round: a directory that holds data tracked on its own.
    printf 'other\n' >models/other.bin
    refused "models/m\.bin\.mlo'" -- mlo add models
    assert_no_file models.mlo
}

# Writes each malformed form of models/m.bin.mlo in turn and checks that status and checkout
# refuse it, naming the pointer file and the line.
test_malformed_pointer_file() {
    base_repo
    local good hash
    good=$(cat models/m.bin.mlo)
    hash=$(pointer_field models/m.bin.mlo hash)
    # So that a checkout that ran anyway would change something.
    rm data/train.csv models/m.bin
    local p=models/m.bin.mlo
    local -a texts regexes
    texts+=($'path: m.bin\nhash: [unclosed\nsize: 11\n')
    regexes+=("'$p' line [0-9]+")
    texts+=($'path: m.bin\nhash: sha256:xyz\nsize: 11\n')
    regexes+=("'$p' line 2( |:).*sha256:xyz")
    texts+=($'path: m.bin\nhash: '"$hash"$'\nsize: 11\ncolor: red\n')
    regexes+=("'$p' line 4( |:).*'color'")
    texts+=($'path: m.bin\nhash: '"$hash"$'\n')
    regexes+=("'$p' line [0-9]+.*'size'")
    texts+=($'path: m.bin\nsize: 11\n')
    regexes+=("'$p' line [0-9]+.*'hash'")
    texts+=($'path: other.bin\nhash: '"$hash"$'\nsize: 11\n')
    regexes+=("'$p' line 1( |:).*'other\.bin'")
    texts+=($'path: m.bin\nhash: '"$hash"$'\nsize: -3\n')
    regexes+=("'$p' line 3( |:).*'-3'")
    texts+=($'path: m.bin\nhash: '"${hash^^}"$'\nsize: 11\n')
    regexes+=("'$p' line 2( |:)")
    texts+=($'just some text\n')
    regexes+=("'$p' line [0-9]+")
    local i
    for i in "${!texts[@]}"; do
        printf '%s' "${texts[$i]}" >"$p"
        refused "${regexes[$i]}" -- mlo status
        refused "${regexes[$i]}" -- mlo checkout
    done
    # Other commands that read every pointer refuse too (one malformed text is enough).
    printf 'path: m.bin\nhash: sha256:xyz\nsize: 11\n' >"$p"
    local c
    for c in "checkout --force" diff gc fsck "ls"; do
        # shellcheck disable=SC2086
        refused "'$p' line 2( |:)" -- mlo $c
    done
    # The good text again: the same commands work (so the refusals were about the text).
    printf '%s\n' "$good" >"$p"
    ok mlo checkout
    assert_eq "model bytes" "$(cat models/m.bin)" "models/m.bin"
}

test_malformed_directory_pointer_in_subdirectory() {
    base_repo
    mkdir -p nested/deeper
    printf 'a\n' >nested/deeper/x.csv
    ok mlo add nested/deeper
    printf 'path: deeper\nhash: sha256:%s\nsize: 2\nkind: directory\nfiles: 1\n' \
        "$(printf '%064d' 0)" >nested/deeper.mlo
    refused "'nested/deeper\.mlo' line 4( |:).*'directory'" -- mlo status
    refused "'nested/deeper\.mlo' line 4( |:)" -- mlo checkout
    # From a subdirectory the message names the same file.
    (cd nested && mlo status >"$OUT" 2>"$ERR")
    _LAST_RC=$?
    assert_eq 2 "$_LAST_RC" "exit code of 'mlo status' in nested/"
    assert_one_line_error "deeper\.mlo' line 4"
}

test_status_outside_any_repository() {
    local p=$TEST_DIR
    while [ "$p" != / ]; do
        [ -d "$p/.mlo" ] && skip "a parent directory ($p) holds .mlo/"
        p=$(dirname "$p")
    done
    mkdir plain && cd plain || fail "cd"
    printf 'x' >x.csv
    refused "not an mlo repository" -- mlo status
    refused "not an mlo repository" -- mlo add x.csv
    refused "not an mlo repository" -- mlo checkout
    assert_no_file .mlo
}

test_untracked_path_for_status_checkout_diff() {
    base_repo
    printf 'loose\n' >loose.csv
    refused "'loose\.csv'" -- mlo status loose.csv
    refused "'loose\.csv'" -- mlo checkout loose.csv
    refused "'nothing-here'" -- mlo diff nothing-here
    refused "'nothing-here'" -- mlo ls nothing-here
    refused "'\.\./outside\.csv'" -- mlo status ../outside.csv
}

# Sets the database's schema version with Python's sqlite3 module.
set_schema_version() {
    python3 - "$1" <<'EOF' || fail "cannot update the schema version"
import sqlite3, sys
con = sqlite3.connect(".mlo/mlo.db")
con.execute("UPDATE schema_version SET version = ?", (int(sys.argv[1]),))
con.commit()
con.close()
EOF
}

test_newer_database_schema_is_refused() {
    base_repo
    local current
    current=$(python3 -c '
import sqlite3
print(sqlite3.connect(".mlo/mlo.db").execute("SELECT version FROM schema_version").fetchone()[0])')
    assert_matches "$current" '^[0-9]+$' "schema version"
    set_schema_version 999
    printf 'new\n' >new.csv
    rm models/m.bin
    local c
    for c in "add new.csv" status checkout diff gc fsck; do
        # shellcheck disable=SC2086
        refused "mlo\.db'.*999" -- mlo $c
        assert_contains "$(stderr)" "newer" "error for 'mlo $c'"
    done
    refused "mlo\.db'.*999" -- mlo init
    # Back to the version this mlo wrote: everything works again.
    set_schema_version "$current"
    ok mlo status
}

test_unreadable_database_is_refused() {
    base_repo
    rm -f .mlo/mlo.db-wal .mlo/mlo.db-shm
    printf 'this is not an SQLite database, only text that fills the header page' >.mlo/mlo.db
    refused "mlo\.db'" -- mlo status
    refused "mlo\.db'" -- mlo add data
}

test_broken_config_names_file_and_line() {
    base_repo
    rm models/m.bin
    local -a texts regexes
    texts+=($'# settings\ncore:\n  link: copy\n  colour: blue\n')
    regexes+=("config\.yaml' line 4( |:).*'core\.colour'")
    texts+=($'core:\n  jobs: many\n')
    regexes+=("config\.yaml' line 2( |:).*'many'")
    texts+=($'core:\n  link: symlink\n')
    regexes+=("config\.yaml' line 2( |:).*'symlink'")
    texts+=($'core:\n  fsync: maybe\n')
    regexes+=("config\.yaml' line 2( |:).*'maybe'")
    texts+=($'core:\n  link: copy\nartifacts:\n  x: y\n')
    regexes+=("config\.yaml' line 3( |:).*'artifacts'")
    texts+=($'remotes:\n  origin:\n    url: /tmp/x\n    colour: red\n')
    regexes+=("config\.yaml' line 4( |:).*'remotes\.origin\.colour'")
    texts+=($'core:\n  link: [copy\n')
    regexes+=("config\.yaml' line [0-9]+")
    texts+=($'- just\n- a list\n')
    regexes+=("config\.yaml' line [0-9]+")
    local i c
    for i in "${!texts[@]}"; do
        printf '%s' "${texts[$i]}" >.mlo/config.yaml
        for c in status checkout "add data"; do
            # shellcheck disable=SC2086
            refused "${regexes[$i]}" -- mlo $c
        done
    done
    # Every command that opens the repository refuses it (one broken text is enough).
    printf '%s' "${texts[0]}" >.mlo/config.yaml
    for c in ls diff gc fsck init; do
        # shellcheck disable=SC2086
        refused "${regexes[0]}" -- mlo $c
    done
    # A good configuration: the same commands work.
    printf 'core:\n  link: copy\n  jobs: 2\n' >.mlo/config.yaml
    ok mlo checkout
    assert_eq "model bytes" "$(cat models/m.bin)" "models/m.bin"
}

run_tests
