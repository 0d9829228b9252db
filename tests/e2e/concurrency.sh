#!/usr/bin/env bash
# Several mlo processes at once, and mlo processes that die: parallel adds in one repository
# (no "database is locked", both pointers right), kill -9 in the middle of an add (no object
# under its final name with the wrong bytes; the next add and fsck work), and SIGINT/SIGTERM
# (exit 130, no temporary files, no pointer file).
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum timeout

# make_files DIR COUNT TAG: COUNT small files with distinct contents in DIR (and a subdir).
make_files() {
    python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
d, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(os.path.join(d, "sub"), exist_ok=True)
for i in range(n):
    sub = "sub" if i % 3 == 0 else ""
    with open(os.path.join(d, sub, "f%05d.txt" % i), "w") as f:
        f.write("%s file %d\n" % (tag, i))
EOF
}

# A big file with distinct contents (fast to write, slow enough to add).
make_big() {
    local mb=$2
    { echo "$3"; yes "big file line for $3 .............................................."; } |
        head -c $((mb * 1024 * 1024)) >"$1"
}

# Checks that the pointer DIR.mlo describes DIR exactly: `ls --json DIR` lists every file with
# the sha256 and size the workspace has, and the pointer counts them all.
assert_pointer_matches_tree() {
    local dir=$1
    expect_exit 0 -- mlo ls --json "$dir"
    local listed actual
    listed=$(json_get '"\n".join(sorted("%s %s %s" % (e["path"], e["hash"], e["size"]) for e in j))')
    actual=$(python3 - "$dir" <<'EOF'
import hashlib, os, sys
rows = []
for base, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        p = os.path.join(base, name)
        with open(p, "rb") as f:
            data = f.read()
        rows.append("%s sha256:%s %d" % (p, hashlib.sha256(data).hexdigest(), len(data)))
print("\n".join(sorted(rows)))
EOF
)
    assert_eq "$actual" "$listed" "files recorded for $dir"
    assert_eq "$(find "$dir" -type f | wc -l)" "$(pointer_field "$dir.mlo" files)" "files in $dir.mlo"
}

# Errors that concurrency must never produce.
assert_no_lock_errors() {
    local f
    for f in "$@"; do
        if grep -qiE 'database is locked|busy|mlo: error' "$f"; then
            fail "error output in $f: [$(cat "$f")]"
        fi
    done
}

test_parallel_adds_of_different_directories() {
    new_repo
    local round pa pb ra rb
    for round in 1 2 3 4 5; do
        make_files "a$round" 300 "a$round"
        make_files "b$round" 300 "b$round"
        "$MLO" add "a$round" >"$TEST_ROOT/a.out" 2>"$TEST_ROOT/a.err" </dev/null &
        pa=$!
        "$MLO" add "b$round" >"$TEST_ROOT/b.out" 2>"$TEST_ROOT/b.err" </dev/null &
        pb=$!
        wait "$pa"
        ra=$?
        wait "$pb"
        rb=$?
        assert_no_lock_errors "$TEST_ROOT/a.err" "$TEST_ROOT/b.err"
        assert_eq 0 "$ra" "exit code of 'mlo add a$round' (round $round)"
        assert_eq 0 "$rb" "exit code of 'mlo add b$round' (round $round)"
        assert_pointer_matches_tree "a$round"
        assert_pointer_matches_tree "b$round"
    done
    local want
    want=$(for round in 1 2 3 4 5; do echo "/a$round"; echo "/b$round"; done | sort)
    assert_eq "$want" "$(sort .gitignore)" ".gitignore"
    expect_exit 0 -- mlo fsck
    expect_exit 0 -- mlo status --exit-code
    verify_objects || fail "an object's bytes do not match its name"
    assert_eq "" "$(temp_objects)" "temporary files left in .mlo/objects"
}

test_parallel_first_use_of_a_fresh_clone() {
    # A fresh git clone has .mlo/config.yaml but no mlo.db and no objects: the first commands
    # create the database, switch it to WAL and migrate it, possibly at the same time (a git
    # hook and the user, two CI steps). The window is small, so try many times with little data.
    local round pa pb ps ra rb rs
    for round in $(seq 1 25); do
        new_repo "clone$round"
        rm -rf .mlo/mlo.db* .mlo/objects .mlo/tmp
        mkdir a b
        printf 'a%s' "$round" >a/x
        printf 'b%s' "$round" >b/y
        "$MLO" add a >"$TEST_ROOT/a.out" 2>"$TEST_ROOT/a.err" </dev/null &
        pa=$!
        "$MLO" add b >"$TEST_ROOT/b.out" 2>"$TEST_ROOT/b.err" </dev/null &
        pb=$!
        "$MLO" status >"$TEST_ROOT/s.out" 2>"$TEST_ROOT/s.err" </dev/null &
        ps=$!
        wait "$pa"
        ra=$?
        wait "$pb"
        rb=$?
        wait "$ps"
        rs=$?
        assert_no_lock_errors "$TEST_ROOT/a.err" "$TEST_ROOT/b.err" "$TEST_ROOT/s.err"
        assert_eq 0 "$ra" "exit code of 'mlo add a' (round $round)"
        assert_eq 0 "$rb" "exit code of 'mlo add b' (round $round)"
        assert_eq 0 "$rs" "exit code of 'mlo status' (round $round)"
        assert_eq 1 "$(pointer_field a.mlo files)" "files in a.mlo (round $round)"
        assert_eq 1 "$(pointer_field b.mlo files)" "files in b.mlo (round $round)"
    done
    expect_exit 0 -- mlo fsck
    expect_exit 0 -- mlo status --exit-code
}

test_first_use_waits_for_a_writer_instead_of_failing() {
    # The deterministic form of the race above: while another connection writes the new
    # database (as the first mlo process does while it sets the database up), a second process
    # must wait (busy timeout) rather than fail with "database is locked".
    new_repo
    rm -rf .mlo/mlo.db*
    python3 - <<'EOF' &
import sqlite3, time
con = sqlite3.connect(".mlo/mlo.db", isolation_level=None)
con.execute("BEGIN IMMEDIATE")
con.execute("CREATE TABLE IF NOT EXISTS held_by_another_writer (x)")
open(".mlo/writer-ready", "w").close()
time.sleep(1.5)
con.execute("ROLLBACK")
con.close()
EOF
    local writer=$! i
    for ((i = 0; i < 500; i++)); do
        [ -e .mlo/writer-ready ] && break
        sleep 0.01
    done
    [ -e .mlo/writer-ready ] || fail "the other writer did not start"
    rm -f .mlo/writer-ready
    expect_exit 0 -- mlo status
    assert_no_lock_errors "$ERR"
    wait "$writer"
    expect_exit 0 -- mlo status
}

test_readers_alongside_an_add() {
    new_repo
    make_files data 300 data
    ok mlo add data
    make_files more 600 more
    # status, diff, ls and fsck over and over while an add runs; all read and write the stat
    # cache and the database.
    "$MLO" add more >"$TEST_ROOT/add.out" 2>"$TEST_ROOT/add.err" </dev/null &
    local padd=$! pids=() i c n=0
    for i in 1 2 3 4; do
        for c in status diff ls; do
            "$MLO" "$c" data >"$TEST_ROOT/r$n.out" 2>"$TEST_ROOT/r$n.err" </dev/null &
            pids+=($!)
            n=$((n + 1))
        done
    done
    local p rc
    for p in "${pids[@]}"; do
        wait "$p"
        rc=$?
        [ "$rc" = 0 ] || fail "a reader exited with $rc: $(cat "$TEST_ROOT"/r*.err)"
    done
    wait "$padd"
    rc=$?
    assert_eq 0 "$rc" "exit code of 'mlo add more': $(cat "$TEST_ROOT/add.err")"
    assert_no_lock_errors "$TEST_ROOT"/r*.err "$TEST_ROOT/add.err"
    assert_pointer_matches_tree more
    expect_exit 0 -- mlo status --exit-code
    expect_exit 0 -- mlo fsck
}

test_parallel_add_and_gc_keep_new_objects() {
    new_repo
    make_files old 100 old
    ok mlo add old
    printf 'changed\n' >old/f00001.txt
    ok mlo add old # the previous manifest and f00001's old bytes are now garbage
    local round pa pg ra rg
    for round in 1 2 3; do
        make_files "new$round" 300 "new$round"
        "$MLO" add "new$round" >"$TEST_ROOT/a.out" 2>"$TEST_ROOT/a.err" </dev/null &
        pa=$!
        "$MLO" gc >"$TEST_ROOT/g.out" 2>"$TEST_ROOT/g.err" </dev/null &
        pg=$!
        wait "$pa"
        ra=$?
        wait "$pg"
        rg=$?
        assert_eq 0 "$ra" "exit code of add (round $round): $(cat "$TEST_ROOT/a.err")"
        assert_eq 0 "$rg" "exit code of gc (round $round): $(cat "$TEST_ROOT/g.err")"
        assert_no_lock_errors "$TEST_ROOT/a.err" "$TEST_ROOT/g.err"
        # Whatever the order, every object the new pointer references survived.
        expect_exit 0 -- mlo fsck
        assert_pointer_matches_tree "new$round"
    done
    tree_listing new3 >"$TEST_ROOT/new3.listing"
    rm -rf new1 new2 new3 old
    ok mlo checkout
    assert_eq "$(cat "$TEST_ROOT/new3.listing")" "$(tree_listing new3)" "new3 after checkout"
}

# start_and_catch_in_flight CONDITION-FUNCTION CMD...: starts CMD in the background (its pid
# in BG_PID, its output in $TEST_ROOT/bg.out and bg.err) and returns 0 once CONDITION succeeds
# (polled every 10 ms); returns 1 if CMD exits first; fails the test after 60 s.
start_and_catch_in_flight() {
    local cond=$1
    shift
    "$@" >"$TEST_ROOT/bg.out" 2>"$TEST_ROOT/bg.err" </dev/null &
    BG_PID=$!
    local i
    for ((i = 0; i < 6000; i++)); do
        if "$cond"; then
            return 0
        fi
        if ! kill -0 "$BG_PID" 2>/dev/null; then
            return 1
        fi
        sleep 0.01
    done
    kill -9 "$BG_PID" 2>/dev/null
    fail "'$*' neither finished nor reached the expected point within 60s"
}

# Conditions: a temporary object file with bytes in it exists; or at least 200 objects exist.
big_temp_in_flight() {
    local f
    for f in .mlo/objects/.mlo-tmp-* .mlo/objects/*/.*.mlo-tmp-*; do
        [ -s "$f" ] && return 0
    done
    return 1
}
many_objects_stored() {
    [ "$(find .mlo/objects -type f 2>/dev/null | head -n 200 | wc -l)" -ge 200 ]
}

# After an add died: objects are sound, the next add and fsck work, gc removes leftovers.
assert_recovers_after_a_dead_add() {
    local dir=$1
    verify_objects || fail "an object under its final name has the wrong bytes"
    ok mlo add "$dir"
    assert_pointer_matches_tree "$dir"
    expect_exit 0 -- mlo fsck
    expect_exit 0 -- mlo status --exit-code
    ok mlo gc
    assert_eq "" "$(temp_objects)" "temporary files left in .mlo/objects after gc"
    expect_exit 0 -- mlo fsck
    tree_listing "$dir" >"$TEST_ROOT/$dir.listing"
    rm -rf "$dir"
    ok mlo checkout
    assert_eq "$(cat "$TEST_ROOT/$dir.listing")" "$(tree_listing "$dir")" "$dir after checkout"
}

test_kill_9_during_a_big_add() {
    new_repo
    mkdir data
    make_big data/big.bin 120 "kill9 $$"
    make_files data 200 kill9
    local rc caught=0
    for _ in 1 2 3; do
        if start_and_catch_in_flight big_temp_in_flight "$MLO" add data; then
            kill -9 "$BG_PID"
            wait "$BG_PID" 2>/dev/null
            rc=$?
            if [ "$rc" = 137 ]; then
                caught=1
                break
            fi
        else
            wait "$BG_PID"
        fi
        # It finished before we caught it: start over.
        rm -f data.mlo .gitignore
        rm -rf .mlo/objects/*
    done
    [ "$caught" = 1 ] || skip "the add always finished before it could be killed"
    assert_no_file data.mlo
    assert_recovers_after_a_dead_add data
}

test_kill_9_during_an_add_of_many_files() {
    new_repo
    make_files data 2000 many
    local rc caught=0
    for _ in 1 2 3; do
        if start_and_catch_in_flight many_objects_stored "$MLO" add data; then
            kill -9 "$BG_PID"
            wait "$BG_PID" 2>/dev/null
            rc=$?
            if [ "$rc" = 137 ]; then
                caught=1
                break
            fi
        else
            wait "$BG_PID"
        fi
        rm -f data.mlo .gitignore
        rm -rf .mlo/objects/*
    done
    [ "$caught" = 1 ] || skip "the add always finished before it could be killed"
    assert_no_file data.mlo
    assert_recovers_after_a_dead_add data
}

# interrupt_add SIGNAL CONDITION: interrupts an add of data/ once CONDITION holds; checks the
# exit code (130), the one error line, and that nothing half-done is left.
interrupt_add() {
    local sig=$1 cond=$2
    printf '*.pyc\n' >.gitignore
    local rc caught=0
    for _ in 1 2 3; do
        if start_and_catch_in_flight "$cond" "$MLO" add data; then
            kill -"$sig" "$BG_PID"
            wait "$BG_PID" 2>/dev/null
            rc=$?
            if [ "$rc" != 0 ]; then
                caught=1
                break
            fi
        else
            wait "$BG_PID"
        fi
        rm -f data.mlo
        printf '*.pyc\n' >.gitignore
        rm -rf .mlo/objects/*
    done
    [ "$caught" = 1 ] || skip "the add always finished before the signal"
    assert_eq 130 "$rc" "exit code after SIG$sig"
    cp "$TEST_ROOT/bg.err" "$ERR"
    # A "waiting for the lock" note may precede it; the error is the last line and the only one.
    assert_eq 1 "$(grep -c '^mlo: error: ' "$ERR")" "error lines on stderr"
    assert_matches "$(tail -n 1 "$ERR")" '^mlo: error: .*interrupt' "last line on stderr"
    assert_eq "" "$(temp_files_anywhere .)" "temporary files left behind"
    assert_no_file data.mlo
    assert_eq '*.pyc' "$(cat .gitignore)" ".gitignore"
    verify_objects || fail "an object under its final name has the wrong bytes"
    expect_exit 0 -- mlo fsck
    # The interrupted add can simply be run again.
    ok mlo add data
    assert_pointer_matches_tree data
}

test_sigint_during_a_big_add() {
    new_repo
    mkdir data
    make_big data/big.bin 120 "sigint $$"
    interrupt_add INT big_temp_in_flight
}

test_sigint_during_an_add_of_many_files() {
    new_repo
    make_files data 2000 sigint-many
    interrupt_add INT many_objects_stored
}

test_sigterm_during_a_big_add() {
    new_repo
    mkdir data
    make_big data/big.bin 120 "sigterm $$"
    interrupt_add TERM big_temp_in_flight
}

test_sigint_while_waiting_for_the_lock() {
    require_tools flock
    new_repo
    make_files data 10 waiting
    take_snapshot before
    mkdir -p .mlo/tmp
    # Another holder of the workspace lock (flock(1) takes the same flock(2) lock).
    flock .mlo/tmp/workspace.lock sleep 30 &
    local holder=$!
    sleep 0.3
    "$MLO" add data >"$TEST_ROOT/bg.out" 2>"$TEST_ROOT/bg.err" </dev/null &
    local pid=$!
    # Signal only once mlo says it waits: a background job of a non-interactive shell starts
    # with SIGINT ignored until mlo installs its handler, so an early signal would be lost
    # (seen under ASan on a loaded machine, where start-up takes longer than any fixed sleep).
    local i
    for ((i = 0; i < 2000; i++)); do
        grep -q "waiting for" "$TEST_ROOT/bg.err" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    kill -0 "$pid" 2>/dev/null || fail "add did not wait for the lock: $(cat "$TEST_ROOT/bg.err")"
    grep -q "waiting for" "$TEST_ROOT/bg.err" || fail "add never said it waits for the lock"
    kill -INT "$pid"
    local rc
    wait "$pid"
    rc=$?
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    assert_eq 130 "$rc" "exit code after SIGINT while waiting"
    assert_contains "$(cat "$TEST_ROOT/bg.err")" "mlo: error: interrupted" "stderr"
    assert_unchanged before
}

test_sigint_during_checkout() {
    new_repo
    mkdir data
    make_big data/big.bin 120 "checkout $$"
    make_files data 600 checkout
    ok mlo add data
    tree_listing data >"$TEST_ROOT/data.listing"
    rm -rf data
    local rc caught=0
    for _ in 1 2 3; do
        if start_and_catch_in_flight checkout_in_flight "$MLO" checkout; then
            kill -INT "$BG_PID"
            wait "$BG_PID"
            rc=$?
            [ "$rc" != 0 ] && { caught=1; break; }
        else
            wait "$BG_PID"
        fi
        rm -rf data
    done
    [ "$caught" = 1 ] || skip "the checkout always finished before the signal"
    assert_eq 130 "$rc" "exit code after SIGINT"
    assert_eq "" "$(temp_files_anywhere .)" "temporary files left behind"
    # Every file that is there is complete (never half-written under its final name).
    local partial
    partial=$(tree_listing data | grep -vxF -f "$TEST_ROOT/data.listing")
    assert_eq "" "$partial" "restored files that differ from what was added"
    ok mlo checkout
    assert_eq "$(cat "$TEST_ROOT/data.listing")" "$(tree_listing data)" "data after a second checkout"
    expect_exit 0 -- mlo status --exit-code
}
checkout_in_flight() {
    [ -d data ]
}

run_tests
