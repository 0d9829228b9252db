#!/usr/bin/env bash
# A full disk: each test runs in its own small tmpfs. A failing add or checkout says 'No space
# left on device' in one line and leaves no pointer, no temporary files and no damaged object;
# once space is freed everything works again; gc can free space on a full disk.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum mount umount df

# Mounting needs root (or CAP_SYS_ADMIN); find out once, up front.
probe=$TEST_ROOT/probe
mkdir -p "$probe"
if ! mount -t tmpfs -o size=1m tmpfs "$probe" 2>"$TEST_ROOT/mount.err"; then
    echo "$SUITE_NAME: skipped: cannot mount a tmpfs: $(cat "$TEST_ROOT/mount.err")" >&2
    exit 125
fi
umount "$probe"

# Mounts a tmpfs of SIZE (default 8m) at $TEST_DIR/fs, unmounted when the test ends, makes a
# repository in it and cd's there.
small_fs_repo() {
    local fs=$TEST_DIR/fs
    mkdir -p "$fs"
    mount -t tmpfs -o "size=${1:-8m}" tmpfs "$fs" || skip "cannot mount a tmpfs"
    trap 'cd / && umount -l "'"$fs"'"' EXIT
    mkdir "$fs/repo"
    cd "$fs/repo" || fail "cd"
    expect_exit 0 -- mlo init
}

# make_parts DIR COUNT SIZE: COUNT files of SIZE distinct pseudo-random bytes in DIR.
make_parts() {
    python3 - "$@" <<'EOF'
import os, random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, "part%02d.bin" % i), "wb") as f:
        f.write(random.Random("part%d" % i).randbytes(size))
EOF
}

free_kib() { df -k --output=avail . | tail -n 1 | tr -d ' '; }

# Fills the file system up to KIB kilobytes of free space (0: completely) with filler.bin.
fill_to() {
    local left=$1 free
    free=$(free_kib)
    if [ "$free" -gt "$left" ]; then
        head -c $(((free - left) * 1024)) /dev/zero >filler.bin 2>/dev/null
    fi
    [ "$left" = 0 ] && head -c 1M /dev/zero >>filler.bin 2>/dev/null
    return 0
}

# The checks after an add that ran out of space.
assert_failed_add_left_nothing_half_done() {
    local pointer=$1
    assert_one_line_error 'No space left on device'
    assert_no_file "$pointer"
    assert_eq '*.tmp' "$(cat .gitignore)" ".gitignore"
    assert_eq "" "$(temp_objects)" "temporary files in .mlo/objects"
    assert_eq "" "$(temp_files_anywhere .)" "temporary files anywhere"
    verify_objects || fail "an object under its final name has the wrong bytes"
}

# After freeing space: a small add works, fsck is clean, and the data comes back.
assert_works_again() {
    printf 'small model\n' >small.bin
    ok mlo add small.bin
    assert_eq "sha256:$(sha256_of small.bin)" "$(pointer_field small.bin.mlo hash)" "hash of small.bin"
    expect_exit 0 -- mlo fsck
    rm small.bin
    ok mlo checkout
    assert_eq "small model" "$(cat small.bin)" "restored small.bin"
    expect_exit 0 -- mlo status --exit-code
}

test_add_of_a_file_bigger_than_the_free_space() {
    small_fs_repo 8m
    printf '*.tmp\n' >.gitignore
    make_bytes big.bin $((5 * 1024 * 1024)) big # leaves about 3 MiB free
    [ "$(free_kib)" -lt 5120 ] || fail "the file system has more room than expected"
    expect_exit 2 -- mlo add big.bin
    assert_failed_add_left_nothing_half_done big.bin.mlo
    rm big.bin
    assert_works_again
}

test_add_of_a_directory_bigger_than_the_free_space() {
    small_fs_repo 8m
    printf '*.tmp\n' >.gitignore
    mkdir data
    make_parts data 45 102400 # 4.5 MiB in all, about 3.5 MiB free
    expect_exit 2 -- mlo add data
    assert_failed_add_left_nothing_half_done data.mlo
    rm -rf data
    assert_works_again
}

test_add_that_runs_out_of_space_leaves_the_store_as_it_was() {
    # DESIGN.md: "A failing command leaves the store and database as they were." On a full disk
    # that matters: objects of a half-done add would hold on to the space the user needs.
    small_fs_repo 8m
    printf 'keep\n' >kept.bin
    ok mlo add kept.bin
    mkdir data
    make_parts data 45 102400
    take_snapshot before
    expect_exit 2 -- mlo add data
    assert_one_line_error 'No space left on device'
    assert_unchanged before
}

test_checkout_without_space() {
    small_fs_repo 8m
    make_bytes model.bin $((2 * 1024 * 1024)) model
    local want
    want=$(sha256_of model.bin)
    ok mlo add model.bin
    rm model.bin
    fill_to 512 # half a megabyte left: not enough for the 2 MiB file
    take_snapshot before
    expect_exit 2 -- mlo checkout
    assert_one_line_error 'No space left on device'
    # Never a half-written file under the real name, never a temporary left behind.
    assert_no_file model.bin
    assert_eq "" "$(temp_files_anywhere .)" "temporary files"
    assert_unchanged before
    rm filler.bin
    ok mlo checkout
    assert_eq "$want" "$(sha256_of model.bin)" "sha256 of the restored model.bin"
    expect_exit 0 -- mlo fsck
}

test_gc_frees_space_on_a_full_disk() {
    # The disk is full and old versions fill the store: gc is how the user gets space back.
    small_fs_repo 8m
    make_bytes model.bin $((1024 * 1024)) v1
    ok mlo add model.bin
    local old
    old=$(sha256_of model.bin)
    make_bytes model.bin $((1024 * 1024)) v2
    ok mlo add model.bin
    fill_to 0
    [ "$(free_kib)" -lt 64 ] || fail "could not fill the file system"
    expect_exit 0 -- mlo gc
    assert_no_file "$(object_path "$old")"
    assert_file_exists "$(object_path "$(sha256_of model.bin)")"
    [ "$(free_kib)" -ge 1000 ] || fail "gc did not free the old version's megabyte"
}

test_status_on_a_full_disk() {
    # Reading commands either work on a full disk or say why not, precisely.
    small_fs_repo 8m
    printf 'data\n' >d.bin
    ok mlo add d.bin
    fill_to 0
    local c
    for c in status fsck; do
        mlo "$c" >"$OUT" 2>"$ERR"
        _LAST_RC=$?
        _LAST_CMD="mlo $c"
        case $_LAST_RC in
            0) ;;
            2) assert_one_line_error 'No space left on device' ;;
            *) fail "'mlo $c' on a full disk exited with $_LAST_RC" ;;
        esac
    done
}

run_tests
