#!/usr/bin/env bash
# Storage benchmark: times mlo add / status / checkout against cp -r, git,
# git-annex and openssl on (a) many small files and (b) one big file, and
# prints a markdown section for docs/benchmarks.md.
#
#   bench/storage.sh [--files N] [--dirs N] [--file-size BYTES] [--big-size BYTES]
#                    [--runs N] [--annex-runs N] [--smoke] [--mlo PATH]
#                    [--out FILE] [--workdir DIR] [--loop-fs GIB] [--keep]
#
# Exit status: 0 when every timed command behaved (a missed target is reported,
# not an error); 2 when a timed command failed or gave a wrong answer; 130 when
# interrupted. `--smoke` is what CI runs, to keep this script working.
set -Eeuo pipefail

usage() {
    cat <<'EOF'
usage: bench/storage.sh [options]

  --files N          small files in the tree (default 100000)
  --dirs N           directories they are spread over (default 200)
  --file-size BYTES  size of each small file (default 4096)
  --big-size BYTES   size of the big file (default 1073741824 = 1 GiB)
  --runs N           timed runs per operation; the table shows medians (default 5)
  --annex-runs N     runs of `git annex add` (default 1: it takes minutes at 100k files)
  --smoke            tiny sizes, one run, skip git-annex if it is not installed (CI)
  --mlo PATH         mlo binary (default: build/mlo of this repository, else mlo on PATH)
  --out FILE         write the markdown results to FILE (default: stdout)
  --workdir DIR      make the scratch directory inside DIR (default: a temporary
                     directory on the same filesystem as this repository)
  --loop-fs GIB      run on a fresh ext4 of GIB GiB made for this run (Debian's mkfs
                     defaults, with a journal) in an image file inside the work directory,
                     loop-mounted with direct I/O; needs root. Use it where the work
                     directory's own file system would skew the figures (see
                     docs/benchmarks.md)
  --keep             keep the scratch directory (its path is printed)
EOF
}

# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"

# ---------------------------------------------------------------- options
FILES=100000
DIRS=200
FILE_SIZE=4096
BIG_SIZE=$((1024 * 1024 * 1024))
RUNS=5
ANNEX_RUNS=1
SMOKE=0
MLO=
OUT=
WORKDIR_PARENT=
LOOP_GIB=0
KEEP=0
set_files='' set_dirs='' set_big='' set_runs='' set_annex=''

while [[ $# -gt 0 ]]; do
    case $1 in
        --files) need_arg "$@"; FILES=$2; set_files=1; shift 2 ;;
        --dirs) need_arg "$@"; DIRS=$2; set_dirs=1; shift 2 ;;
        --file-size) need_arg "$@"; FILE_SIZE=$2; shift 2 ;;
        --big-size) need_arg "$@"; BIG_SIZE=$2; set_big=1; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; set_runs=1; shift 2 ;;
        --annex-runs) need_arg "$@"; ANNEX_RUNS=$2; set_annex=1; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --workdir) need_arg "$@"; WORKDIR_PARENT=$2; shift 2 ;;
        --loop-fs) need_arg "$@"; LOOP_GIB=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
# --smoke only changes the sizes that were not given explicitly.
if [[ $SMOKE == 1 ]]; then
    [[ -n $set_files ]] || FILES=200
    [[ -n $set_dirs ]] || DIRS=4
    [[ -n $set_big ]] || BIG_SIZE=$((8 * 1024 * 1024))
    [[ -n $set_runs ]] || RUNS=1
    [[ -n $set_annex ]] || ANNEX_RUNS=1
fi
for v in FILES DIRS FILE_SIZE BIG_SIZE RUNS ANNEX_RUNS LOOP_GIB; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "'${!v}' is not a whole number (${v,,})"
done
((FILES >= 1 && DIRS >= 1 && DIRS <= FILES)) || die "need 1 <= --dirs <= --files"
((FILE_SIZE >= 1 && BIG_SIZE >= 1)) || die "--file-size and --big-size must be at least 1"
((RUNS >= 1)) || die "--runs must be at least 1"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
GEN="$HERE/gen_tree.py"
[[ -f $GEN ]] || die "cannot find '$GEN'"

if [[ -z $MLO ]]; then
    if [[ -x $REPO/build/mlo ]]; then
        MLO=$REPO/build/mlo
    else
        MLO=$(command -v mlo) || die "no mlo binary: build it or pass --mlo PATH"
    fi
fi
[[ -x $MLO ]] || die "'$MLO' is not an executable"
[[ -z $OUT ]] || OUT=$(realpath -m -- "$OUT")
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")

for tool in git cp openssl sha256sum python3 dd find xargs sync; do
    command -v "$tool" >/dev/null || die "'$tool' is needed and not installed"
done

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || return 1
    if [[ $apt_updated == 0 ]]; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

# Peak RSS comes from GNU time (%M). A smoke run does not install anything and
# simply reports no memory figures when it is missing.
GNU_TIME=
if /usr/bin/time -f %M true >/dev/null 2>&1; then
    GNU_TIME=/usr/bin/time
elif [[ $SMOKE == 0 ]]; then
    log "installing GNU time (Debian package 'time') for peak memory"
    if apt_install time; then
        GNU_TIME=/usr/bin/time
    else
        log "cannot install GNU time: peak memory not measured"
    fi
fi

HAVE_ANNEX=0
if git annex version >/dev/null 2>&1; then
    HAVE_ANNEX=1
elif [[ $SMOKE == 0 && $ANNEX_RUNS -gt 0 ]]; then
    log "installing git-annex"
    if apt_install git-annex && git annex version >/dev/null 2>&1; then
        HAVE_ANNEX=1
    else
        log "cannot install git-annex: its row will say 'not available'"
    fi
fi
((ANNEX_RUNS > 0)) || HAVE_ANNEX=0

# ---------------------------------------------------------------- scratch space
# Default: the temporary directory when it shares a filesystem with the
# repository, else next to the repository, so timings are for that disk.
if [[ -z $WORKDIR_PARENT ]]; then
    WORKDIR_PARENT=${TMPDIR:-/tmp}
    if [[ $(stat -c %d "$WORKDIR_PARENT") != $(stat -c %d "$REPO") ]]; then
        WORKDIR_PARENT=$(dirname "$REPO")
    fi
fi
mkdir -p "$WORKDIR_PARENT"
LOOP_IMG= LOOP_DEV= LOOP_MNT=
if ((LOOP_GIB > 0)); then
    # A file system made for this run: same state for every run of the script, whatever the
    # work directory's file system has been through.
    for tool in mkfs.ext4 losetup mount umount; do
        command -v "$tool" >/dev/null || die "--loop-fs needs '$tool'"
    done
    LOOP_IMG=$(mktemp "$WORKDIR_PARENT/mlo-bench-fs.XXXXXX.img")
    truncate -s "${LOOP_GIB}G" "$LOOP_IMG"
    mkfs.ext4 -q -F "$LOOP_IMG" || die "mkfs.ext4 of $LOOP_IMG failed"
    LOOP_DEV=$(losetup --direct-io=on --show -f "$LOOP_IMG") || die "losetup failed (run as root)"
    LOOP_MNT=$(mktemp -d "$WORKDIR_PARENT/mlo-bench-mnt.XXXXXX")
    mount "$LOOP_DEV" "$LOOP_MNT" || die "cannot mount $LOOP_DEV"
    WORKDIR_PARENT=$LOOP_MNT
fi
W=$(mktemp -d "$WORKDIR_PARENT/mlo-bench.XXXXXX")
W=$(cd "$W" && pwd)

# Removing files costs more here than making them: the filesystem is mounted
# with `discard`, so ext4 trims every freed extent synchronously, 1 ms or more
# per small file that reached the disk (a file deleted before writeback frees
# nothing). Several rm processes overlap those waits, about 2x faster.
rmtree() {
    [[ -e $1 || -L $1 ]] || return 0
    rm -rf -- "$1" 2>/dev/null || { chmod -R u+w -- "$1" && rm -rf -- "$1"; }
}
purge() {
    [[ -e $1 || -L $1 ]] || return 0
    find "$1" -type f -print0 2>/dev/null | xargs -0 -r -n 1000 -P 8 rm -f -- 2>/dev/null || true
    rmtree "$1"
}
cleanup() {
    local rc=$? t0=$SECONDS
    cd /
    if [[ $KEEP == 1 ]]; then
        log "kept scratch directory $W"
    else
        log "removing scratch directory $W"
        if [[ -n $LOOP_MNT ]]; then rm -rf -- "$W"; else purge "$W" || log "could not remove $W"; fi
        log "removed it in $((SECONDS - t0)) s"
    fi
    if [[ -n $LOOP_MNT && $KEEP == 0 ]]; then
        umount "$LOOP_MNT" && rmdir "$LOOP_MNT"
        losetup -d "$LOOP_DEV" 2>/dev/null || true
        rm -f "$LOOP_IMG"
    elif [[ -n $LOOP_MNT ]]; then
        log "kept the file system $LOOP_IMG mounted at $LOOP_MNT ($LOOP_DEV)"
    fi
    exit "$rc"
}
trap cleanup EXIT
# Name the command when `set -e` stops the script (not inside $(...), where a
# failure is an answer rather than an error).
on_err() {
    if [[ $BASH_SUBSHELL == 0 ]]; then
        printf 'bench: error: line %s: command failed with status %s: %s\n' "$1" "$2" "$3" >&2
    fi
}
trap 'on_err "$LINENO" "$?" "$BASH_COMMAND"' ERR
trap 'exit 130' INT TERM HUP

RES=$W/results LOGS=$W/logs
mkdir -p "$RES" "$LOGS"
# Each run writes into a directory of its own, named after the run, directly
# below $W, and what it wrote is deleted right after. The `T` attribute on $W
# makes ext4 spread those directories over block groups by name. Reusing one
# place would slow every run after the first: ext4 without a journal (as here)
# skips inodes freed in the last minute when it allocates one, scanning past
# them, and cp -r of 20,000 files right after rm -rf of the same took 2-10x
# longer, more with every run.
chattr +T "$W" 2>/dev/null || true
BIG_WS=$W/big # mlo repository whose tracked file is big.bin

# ---------------------------------------------------------------- helpers
group() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
human() {
    awk -v b="$1" 'BEGIN {
        split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        if (b == int(b)) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i] }'
}

# timed KEY DIR EXPECTED_RC CMD...: run CMD in DIR once, append its wall time
# (monotonic ns clock) to KEY.t, its peak RSS in KiB to KEY.m and its CPU time
# (user + system) to KEY.c. Dirty pages
# from the setup are flushed first so each run starts from the same disk state.
timed() {
    local key=$1 dir=$2 expect=$3
    shift 3
    local n=1 base t0 t1 rc=0
    if [[ -s $RES/$key.t ]]; then n=$(($(wc -l <"$RES/$key.t") + 1)); fi
    base=$LOGS/$key.$n
    sync
    cd "$dir"
    t0=$(date +%s%N)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -o "$base.time" -f '%M %U %S' "$@" >"$base.out" 2>"$base.err" || rc=$?
    else
        "$@" >"$base.out" 2>"$base.err" || rc=$?
    fi
    t1=$(date +%s%N)
    cd "$W"
    if [[ $rc != "$expect" ]]; then
        printf 'bench: error: %s exited with %s (expected %s) in %s\n' "$*" "$rc" "$expect" "$dir" >&2
        tail -n 20 "$base.err" "$base.out" >&2 || true
        exit 2
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }' >>"$RES/$key.t"
    # GNU time puts "Command exited with non-zero status" first when it does.
    if [[ -n $GNU_TIME ]]; then
        tail -n 1 "$base.time" | awk -v m="$RES/$key.m" -v c="$RES/$key.c" \
            '{ print $1 >> m; printf "%.2f\n", $2 + $3 >> c }'
    fi
}

median_of() {
    [[ -s $RES/$1.t ]] || return 0
    sort -g "$RES/$1.t" | awk '{ a[NR] = $1 }
        END { if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
peak_mib() {
    [[ -s $RES/$1.m ]] || return 0
    sort -g "$RES/$1.m" | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'
}

warm_tree() { find "$1" -type f -print0 | xargs -0 -r cat >/dev/null; }

# mlo_fresh WS POINTER...: fresh mlo repository in WS in copy mode (the other
# settings stay default), after removing an old one and its pointer files.
mlo_fresh() {
    local ws=$1
    shift
    rmtree "$ws/.mlo"
    rm -f "$ws/.gitignore" "${@/#/$ws/}"
    (cd "$ws" && "$MLO" -q --no-progress init >/dev/null) || die "mlo init failed in $ws"
    local cfg=$ws/.mlo/config.yaml
    if grep -q '^[[:space:]]*link:' "$cfg" 2>/dev/null; then
        sed -i 's/^\([[:space:]]*\)link:.*/\1link: copy/' "$cfg"
    else
        printf 'core:\n  link: copy\n' >"$cfg"
    fi
}

# New git repository in $1 with one empty commit, like a real project's:
# on an unborn HEAD git-annex runs two git processes per file it adds.
git_fresh() {
    git -C "$1" init -q
    git -C "$1" config user.name bench
    git -C "$1" config user.email bench@example.invalid
    git -C "$1" config commit.gpgsign false
    # No background auto-gc: it would repack 100k loose objects while later rows are timed.
    git -C "$1" config gc.auto 0
    git -C "$1" config maintenance.auto false
    git -C "$1" commit -q --allow-empty -m "empty"
}

MLOQ=("$MLO" -q --no-progress)
start_ns=$(date +%s%N)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- data
# move_ws FROM TO NAME...: make directory TO and move the named entries of FROM
# into it (renames: the files themselves stay where they are), then drop FROM.
move_ws() {
    local from=$1 to=$2 name
    shift 2
    mkdir "$to"
    for name in "$@"; do
        if [[ -e $from/$name ]]; then mv -- "$from/$name" "$to/$name"; fi
    done
    purge "$from"
}

log "scratch directory $W"
log "generating $(group "$FILES") files of $(human "$FILE_SIZE") in $DIRS directories"
mkdir -p "$W/gen" "$W/gitgen" "$BIG_WS"
python3 "$GEN" tree "$W/gen/data" --files "$FILES" --dirs "$DIRS" --size "$FILE_SIZE" --seed 1
log "generating a $(human "$BIG_SIZE") file"
python3 "$GEN" file "$BIG_WS/big.bin" --size "$BIG_SIZE" --seed 2
cp -a "$W/gen/data" "$W/gitgen/data"
CHANGED=$(cd "$W/gen" && find data -type f | sort | sed -n 1p)
cp -p "$W/gen/$CHANGED" "$W/original.bin"
sync

# ---------------------------------------------------------------- add, small files
# The tree moves on to each run's fresh workspace; the previous store goes.
TREE_WS=$W/gen
for ((r = 1; r <= RUNS; r++)); do
    log "add $(group "$FILES") files: run $r/$RUNS"
    move_ws "$TREE_WS" "$W/add.$r" data
    TREE_WS=$W/add.$r
    mlo_fresh "$TREE_WS" data.mlo
    warm_tree "$TREE_WS/data"
    timed add_tree "$TREE_WS" 0 "${MLOQ[@]}" add data
    # The same without syncing the objects (core.fsync: false), as cp and git do not.
    mlo_fresh "$TREE_WS" data.mlo
    printf '  fsync: false\n' >>"$TREE_WS/.mlo/config.yaml"
    timed add_tree_nosync "$TREE_WS" 0 "${MLOQ[@]}" add data
    mlo_fresh "$TREE_WS" data.mlo
    timed cp_tree "$TREE_WS" 0 cp -r data "$W/cp.$r"
    purge "$W/cp.$r"
    # cp -r followed by a sync of the file system: what mlo's default add guarantees.
    timed cp_tree_sync "$TREE_WS" 0 sh -c 'cp -r data "$1" && sync -f "$1"' sh "$W/cps.$r"
    purge "$W/cps.$r"
done
"${MLOQ[@]}" -C "$TREE_WS" add data >/dev/null || die "mlo add failed in $TREE_WS"

GIT_WS=$W/gitgen
for ((r = 1; r <= RUNS; r++)); do
    log "git add $(group "$FILES") files: run $r/$RUNS"
    move_ws "$GIT_WS" "$W/git.$r" data
    GIT_WS=$W/git.$r
    git_fresh "$GIT_WS"
    warm_tree "$GIT_WS/data"
    timed git_add "$GIT_WS" 0 git add data
done
git -C "$GIT_WS" commit -q -m data

# ---------------------------------------------------------------- status
# One untimed status each first: it fills mlo's stat cache and refreshes git's index.
"${MLOQ[@]}" -C "$TREE_WS" status --exit-code >/dev/null || die "mlo status reports changes right after mlo add"
git -C "$GIT_WS" status >/dev/null
for ((r = 1; r <= RUNS; r++)); do
    log "status, nothing changed: run $r/$RUNS"
    timed status_clean "$TREE_WS" 0 "${MLOQ[@]}" status --exit-code
    timed git_status_clean "$GIT_WS" 0 git status
done

# Each run overwrites one file in place (same size, new bytes), times both
# tools, then puts the original bytes back and lets both tools settle.
for ((r = 1; r <= RUNS; r++)); do
    log "status, one file changed: run $r/$RUNS"
    for ws in "$TREE_WS" "$GIT_WS"; do
        dd if=/dev/urandom of="$ws/$CHANGED" bs="$FILE_SIZE" count=1 conv=notrunc iflag=fullblock status=none
    done
    timed status_changed "$TREE_WS" 1 "${MLOQ[@]}" status --exit-code
    grep -qF "$CHANGED" "$LOGS/status_changed.$r.out" || die "mlo status did not name '$CHANGED'"
    timed git_status_changed "$GIT_WS" 0 git status
    grep -qF "$CHANGED" "$LOGS/git_status_changed.$r.out" || die "git status did not name '$CHANGED'"
    for ws in "$TREE_WS" "$GIT_WS"; do cat "$W/original.bin" >"$ws/$CHANGED"; done
    "${MLOQ[@]}" -C "$TREE_WS" status --exit-code >/dev/null ||
        die "mlo status still reports changes after '$CHANGED' got its bytes back"
    git -C "$GIT_WS" status >/dev/null
done

# ---------------------------------------------------------------- checkout
# The repository (store and pointer file) moves on to each run's fresh
# workspace, which has no data/; the original tree stays where it was.
REF_TREE=$TREE_WS/data
CO_WS=$TREE_WS
for ((r = 1; r <= RUNS; r++)); do
    log "checkout $(group "$FILES") files: run $r/$RUNS"
    mkdir "$W/co.$r"
    for name in .mlo data.mlo .gitignore; do
        if [[ -e $CO_WS/$name ]]; then mv -- "$CO_WS/$name" "$W/co.$r/$name"; fi
    done
    [[ $CO_WS == "$TREE_WS" ]] || purge "$CO_WS"
    CO_WS=$W/co.$r
    timed checkout_tree "$CO_WS" 0 "${MLOQ[@]}" checkout
    got=$(find "$CO_WS/data" -type f | wc -l)
    [[ $got == "$FILES" ]] || die "mlo checkout restored $got files, expected $FILES"
    cmp -s "$CO_WS/$CHANGED" "$W/original.bin" || die "mlo checkout restored wrong bytes in '$CHANGED'"
    timed cp_tree2 "$CO_WS" 0 cp -r data "$W/cp2.$r"
    purge "$W/cp2.$r"
    if ((r < RUNS)); then purge "$CO_WS/data"; fi
done
diff -rq "$CO_WS/data" "$REF_TREE" >/dev/null || die "checked-out tree differs from the generated one"
purge "$CO_WS"

# ---------------------------------------------------------------- big file
# One file: deleting it between runs is cheap, and lets the next run reuse the
# freed memory (on this VM, memory touched for the first time is slow).
for ((r = 1; r <= RUNS; r++)); do
    log "add $(human "$BIG_SIZE") file: run $r/$RUNS"
    mlo_fresh "$BIG_WS" big.bin.mlo
    cat "$BIG_WS/big.bin" >/dev/null
    timed add_big "$BIG_WS" 0 "${MLOQ[@]}" add big.bin
    mlo_fresh "$BIG_WS" big.bin.mlo
    printf '  fsync: false\n' >>"$BIG_WS/.mlo/config.yaml"
    timed add_big_nosync "$BIG_WS" 0 "${MLOQ[@]}" add big.bin
    timed cp_big "$BIG_WS" 0 cp big.bin "$W/cp-big"
    rmtree "$W/cp-big"
    timed openssl_big "$BIG_WS" 0 openssl dgst -sha256 big.bin
    timed sha256sum_big "$BIG_WS" 0 sha256sum big.bin
done
want=$(awk '{ print $1 }' "$LOGS/sha256sum_big.1.out")
[[ $(awk '{ print $NF }' "$LOGS/openssl_big.1.out") == "$want" ]] || die "openssl and sha256sum disagree"
grep -qx "hash: sha256:$want" "$BIG_WS/big.bin.mlo" || die "big.bin.mlo does not hold the file's SHA-256 $want"

# ---------------------------------------------------------------- git annex
# git annex add turns the files into symlinks, so each run gets a copy of the
# tree, except the last, which takes the git workspace's own (no longer needed).
if [[ $HAVE_ANNEX == 1 ]]; then
    for ((r = 1; r <= ANNEX_RUNS; r++)); do
        log "git annex add $(group "$FILES") files: run $r/$ANNEX_RUNS (slow)"
        ANNEX_WS=$W/annex.$r
        mkdir "$ANNEX_WS"
        if ((r < ANNEX_RUNS)); then
            cp -a "$GIT_WS/data" "$ANNEX_WS/data"
        else
            mv "$GIT_WS/data" "$ANNEX_WS/data"
        fi
        git_fresh "$ANNEX_WS"
        (cd "$ANNEX_WS" && git annex init -q bench >/dev/null 2>&1) || die "git annex init failed"
        warm_tree "$ANNEX_WS/data"
        timed annex_add "$ANNEX_WS" 0 git annex add -q data
        purge "$ANNEX_WS"
    done
fi

end_ns=$(date +%s%N)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') || cpu=unknown
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fstype=$(df --output=fstype "$W" | tail -n 1 | tr -d ' ')
if [[ -n $LOOP_MNT ]]; then
    fstype="$fstype, made for this run (--loop-fs $LOOP_GIB: mkfs.ext4 defaults with a journal, ${LOOP_GIB} GiB image, loop device with direct I/O)"
fi
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi
mlo_built=$(date -u -r "$MLO" '+%Y-%m-%d %H:%M UTC')
mlo_version=$("$MLO" --version 2>/dev/null | sed -n 1p) || mlo_version=unknown
annex_version=$(git annex version 2>/dev/null | sed -n 1p | sed 's/^git-annex version: //') || true
total_s=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')
NF_=$(group "$FILES")
annex_missing="not available"
busy_note=
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l >= n / 2) }'; then
    busy_note="**The machine was busy** (load average ${load_start%% *} on $(nproc) cores at the start):
other processes competed for the CPU and disk, so wall times are noisy; the CPU times
in the last table are steadier."
fi
BIG_H=$(human "$BIG_SIZE")

# row OP MLO_KEY PEER_LABEL PEER_KEY TARGET_RATIO [MISSING]: one line of the
# table. An empty TARGET_RATIO has no target; MISSING stands in for a peer
# that did not run.
row() {
    local op=$1 mk=$2 peer=$3 pk=$4 target=$5 missing=${6:-not available}
    local mt pt ratio="—" tcell="—" met="—" mm="—" pm="—"
    mt=$(median_of "$mk")
    pt=$(median_of "$pk")
    [[ -n $mk && -n $(peak_mib "$mk") ]] && mm=$(peak_mib "$mk")
    [[ -n $(peak_mib "$pk") ]] && pm=$(peak_mib "$pk")
    if [[ -z $pt ]]; then
        pt=$missing pm="—"
    fi
    if [[ -n $mt && $pt != "$missing" ]]; then
        ratio=$(awk -v a="$mt" -v b="$pt" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "—" }')
    fi
    if [[ -n $target ]]; then
        tcell="≤ ${target}x"
        if [[ $ratio != "—" ]]; then
            met=$(awk -v a="$mt" -v b="$pt" -v t="$target" 'BEGIN { print (a <= t * b) ? "yes" : "**no**" }')
        fi
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$op" "${mt:-—}" "$peer" "$pt" "$ratio" "$tcell" "$met" "$mm" "$pm"
}

# mem_row OP KEY LIMIT_MIB
mem_row() {
    local m met="—"
    m=$(peak_mib "$2")
    if [[ -n $m ]]; then
        met=$(awk -v a="$m" -v t="$3" 'BEGIN { print (a < t) ? "yes" : "**no**" }')
    else
        m="not measured"
    fi
    printf '| %s | %s | < %s | %s |\n' "$1" "$m" "$3" "$met"
}

raw() {
    local k cpu mem
    for k in "$@"; do
        [[ -s $RES/$k.t ]] || continue
        cpu=— mem=—
        if [[ -s $RES/$k.m ]]; then
            cpu=$(paste -sd' ' "$RES/$k.c")
            mem=$(awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1024 }' "$RES/$k.m")
        fi
        printf '| %s | %s | %s | %s |\n' "$k" "$(paste -sd' ' "$RES/$k.t")" "$cpu" "$mem"
    done
}

report() {
    local annex_note
    if ((ANNEX_RUNS == 0)); then
        annex_note="not run (--annex-runs 0)"
        annex_missing="not run"
    elif [[ $HAVE_ANNEX == 1 ]]; then
        annex_note="$ANNEX_RUNS run(s) only, as it takes minutes at 100,000 files"
    else
        annex_note="not available on this machine"
    fi
    cat <<EOF
## Storage: add, status, checkout

Produced by \`bench/storage.sh$([[ $SMOKE == 1 ]] && printf ' --smoke')\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took ${total_s} s.

| machine | |
|---|---|
| CPU | $cpu |
| cores | $(nproc) |
| RAM | $ram |
| kernel | $(uname -sr) |
| filesystem of the work directory | $fstype |
| mlo | \`$mlo_version\`, binary built $mlo_built; source tree at commit $commit |
| peers | $(git --version), git-annex ${annex_version:-not available}, $(openssl version | cut -d' ' -f1-2), $(cp --version | sed -n 1p) |
| load average at start / end | $load_start / $load_end |

Method: a tree of $NF_ files of $(human "$FILE_SIZE") in $DIRS directories and one $BIG_H file,
pseudo-random bytes (distinct, incompressible). Every figure is the median wall time of
$RUNS run(s) (monotonic clock), each run starting from the same state with a warm page
cache: \`mlo add\` into a fresh \`mlo init\` repository with \`core.link: copy\` (other settings
default), \`git add\` after a fresh \`git init\`, \`cp -r\` into a removed destination,
\`mlo checkout\` into a workspace whose tree was removed. mlo's \`add\` syncs the new objects to
disk before it writes pointer files (\`core.fsync: true\`, the default); \`cp -r\` and \`git add\`
do not, so \`add\` is also timed with \`core.fsync: false\`, and \`cp -r\` also followed by
\`sync -f\` of the file system. "One change" overwrites one file
in place with new bytes of the same size before each run and restores it afterwards.
Dirty pages are flushed (\`sync\`) before every timed command, so a command that syncs
its writes pays for them and one that does not, does not. \`git status\` is plain
\`git status\` (it also looks for untracked files). \`git annex add\`: $annex_note.
Peak RSS is GNU time's maximum resident set size, the highest over the runs.
Each run writes into a new directory of its own, deleted right after (on ext4 without
a journal, creating files where many were just deleted is slow).
$busy_note

| operation | mlo median s | peer | peer median s | ratio (mlo/peer) | target | met? | mlo peak RSS MiB | peer peak RSS MiB |
|---|---|---|---|---|---|---|---|---|
$(row "add $NF_ files" add_tree "cp -r" cp_tree 1.0)
$(row "add $NF_ files, both synced" add_tree "cp -r && sync -f" cp_tree_sync 1.0)
$(row "add $NF_ files, core.fsync false" add_tree_nosync "cp -r" cp_tree 1.0)
$(row "add $BIG_H file (copy)" add_big "cp" cp_big 1.2)
$(row "add $BIG_H file (copy), core.fsync false" add_big_nosync "cp" cp_big 1.2)
$(row "status, nothing changed ($NF_ files)" status_clean "git status" git_status_clean 1.0)
$(row "status, one file changed" status_changed "git status" git_status_changed "")
$(row "checkout $NF_ files (copy) into an empty workspace" checkout_tree "cp -r" cp_tree2 1.2)
$(row "add $NF_ files — reference" add_tree "git add" git_add "")
$(row "add $NF_ files — reference" add_tree "git annex add" annex_add "" "$annex_missing")
$(row "add $BIG_H file — reference" add_big "openssl dgst -sha256" openssl_big "")
$(row "add $BIG_H file, core.fsync false — reference" add_big_nosync "openssl dgst -sha256" openssl_big "")
$(row "add $BIG_H file — reference" add_big "sha256sum" sha256sum_big "")

| peak memory | mlo peak RSS MiB | target MiB | met? |
|---|---|---|---|
$(mem_row "add $BIG_H file" add_big 64)
$(mem_row "add $NF_ files" add_tree 200)

<details><summary>All runs (wall and CPU seconds, peak RSS MiB)</summary>

| measurement | wall s per run | CPU s (user + system) per run | peak RSS MiB per run |
|---|---|---|---|
$(raw add_tree add_tree_nosync cp_tree cp_tree_sync git_add status_clean git_status_clean status_changed git_status_changed checkout_tree cp_tree2 add_big add_big_nosync cp_big openssl_big sha256sum_big annex_add)

</details>
EOF
}

if [[ -n $OUT ]]; then
    report >"$OUT"
    log "results written to $OUT"
else
    report
fi
log "done in ${total_s} s"
