#!/usr/bin/env bash
# Remote benchmark (issue 8): `mlo push` and `mlo pull` against a loopback S3 server (moto) and
# a local-directory remote, side by side with `aws s3 sync` of the same data to the same server.
#   - Data (bench/gen_tree.py, fixed seeds): a tree of FILES files of FILE_SIZE bytes in DIRS
#     directories (seed 1) and one file of BIG_SIZE bytes (seed 2), pseudo-random and
#     incompressible; each shape is `mlo add`ed (not timed) in a repository of its own.
#   - S3: one `python3 -m moto.server` on 127.0.0.1 for the whole run (killed at exit). Every
#     run of every tool writes into a new bucket of its own (ListObjects in moto scans the whole
#     bucket, so a shared bucket would slow later runs); the server is reset after each run.
#       push: `mlo push -r REMOTE` (s3://BUCKET/mlo, --endpoint, --path-style; default -j) vs
#             `aws s3 sync TREE s3://BUCKET/aws/` (default settings: 10 concurrent requests);
#       pull: `mlo pull` in a fresh repository (`mlo init`, the pointer file copied, the remote
#             added: empty store, no workspace files) vs `aws s3 sync s3://BUCKET/aws/ DIR`
#             into an empty DIR. mlo pull downloads into the store, verifies every object's
#             hash and checks the files out (default `core.link`); aws writes DIR directly.
#   - Directory remote: `mlo push` to, and `mlo pull` from, a new directory on the same
#     filesystem each run; `cp -r` of the tree (and `cp` of the big file) as a reference.
#   - No-op push: NOOP_FILES files of NOOP_SIZE bytes (seed 3) added and pushed once to a
#     directory remote and to S3 (those first pushes are timed once, for information), then
#     `mlo push` again, nothing to send, --runs times each; the output must say "pushed 0
#     objects".
#   - Every pull is checked: sha256 of the whole tree (sorted `sha256sum` of every file, hashed)
#     or of the big file equal to the source's; a push must report the objects it sent.
#   - Wall time: median of --runs (monotonic clock around the process); peak memory: the highest
#     max RSS over the runs from GNU time (/usr/bin/time -f %M), when it is installed. For the
#     S3 rows, the moto server's CPU seconds and the requests it logged during the command are
#     recorded too (medians), to show which side limits the transfer.
# Prints a markdown section for docs/benchmarks.md on stdout (and into --out FILE). Needs python3
# with moto (`python3 -m moto.server`) and the aws CLI (skipped, exit 125, without them).
#
#   bench/remote.sh [--files N] [--dirs N] [--file-size BYTES] [--big-size BYTES]
#                   [--noop-files N] [--noop-size BYTES] [--runs N] [--port N] [--smoke]
#                   [--peer-timeout S] [--mlo PATH] [--out FILE] [--keep]
#
# --peer-timeout S (default 900): an `aws s3 sync` still running after S seconds is stopped and
# reported as "> S s (stopped)": moto serves each of the aws CLI's 8 MiB ranged GETs of a large
# object from the whole object, so its download of 1 GiB can take the better part of an hour.
#
# Defaults: 10,000 files of 4 KiB in 100 directories, a 1 GiB file, 100,000 files of 256 B for
# the no-op push, 3 runs. --smoke: 50 files of 4 KiB, a 2 MiB file, 1 run, no no-op push (CI).
# --noop-files 0 skips the no-op push. Targets: mlo push and pull at most 1.0x the time of
# `aws s3 sync` for both shapes; a no-op push of 100,000 objects below 2 s.
# Exit status: 0 when every command behaved (a missed target is reported, not an error); 2 when
# a command failed or gave a wrong answer; 125 when moto or aws is missing; 130 interrupted.
set -Eeuo pipefail

FILES=10000
DIRS=100
FILE_SIZE=4096
BIG_SIZE=$((1024 * 1024 * 1024))
NOOP_FILES=100000
NOOP_SIZE=256
RUNS=3
PORT=0
SMOKE=0
MLO=
OUT=
KEEP=0
PEER_TIMEOUT=900
NOOP_TARGET_S=2
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
set_files='' set_dirs='' set_big='' set_noop='' set_runs=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --files) need_arg "$@"; FILES=$2; set_files=1; shift 2 ;;
        --dirs) need_arg "$@"; DIRS=$2; set_dirs=1; shift 2 ;;
        --file-size) need_arg "$@"; FILE_SIZE=$2; shift 2 ;;
        --big-size) need_arg "$@"; BIG_SIZE=$2; set_big=1; shift 2 ;;
        --noop-files) need_arg "$@"; NOOP_FILES=$2; set_noop=1; shift 2 ;;
        --noop-size) need_arg "$@"; NOOP_SIZE=$2; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; set_runs=1; shift 2 ;;
        --port) need_arg "$@"; PORT=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --peer-timeout) need_arg "$@"; PEER_TIMEOUT=$2; shift 2 ;;
        -h | --help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
# --smoke only changes what was not given explicitly.
if [[ $SMOKE == 1 ]]; then
    [[ -n $set_files ]] || FILES=50
    [[ -n $set_dirs ]] || DIRS=5
    [[ -n $set_big ]] || BIG_SIZE=$((2 * 1024 * 1024))
    [[ -n $set_noop ]] || NOOP_FILES=0
    [[ -n $set_runs ]] || RUNS=1
fi
for v in FILES DIRS FILE_SIZE BIG_SIZE NOOP_FILES NOOP_SIZE RUNS PORT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "'${!v}' is not a whole number (--${v,,})"
done
((FILES >= 1 && DIRS >= 1 && DIRS <= FILES)) || die "need 1 <= --dirs <= --files"
((FILE_SIZE >= 1 && BIG_SIZE >= 1 && NOOP_SIZE >= 1)) || die "sizes must be at least 1"
((RUNS >= 1)) || die "--runs must be at least 1"
((PORT <= 65535)) || die "--port must be below 65536"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
GEN=$HERE/gen_tree.py
[[ -f $GEN ]] || die "cannot find '$GEN'"
if [[ -z $MLO ]]; then
    if [[ -x $REPO/build/mlo ]]; then MLO=$REPO/build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
[[ -z $OUT ]] || OUT=$(realpath -m -- "$OUT")
for tool in python3 sha256sum find xargs cp sort curl; do
    command -v "$tool" >/dev/null || skip "'$tool' is needed and not installed"
done
command -v aws >/dev/null || skip "the aws CLI is not installed (pip install awscli)"
"$MLO" push --help >/dev/null 2>&1 || die "$MLO has no 'push' command"

# The server and the clients share these fake credentials; nothing leaves 127.0.0.1.
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export PYTHONDONTWRITEBYTECODE=1

GNU_TIME=
if /usr/bin/time -f %M true >/dev/null 2>&1; then
    GNU_TIME=/usr/bin/time
else
    log "GNU time (/usr/bin/time) is missing: no peak memory figures"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-remote.XXXXXX")
W=$(cd "$W" && pwd)
RES=$W/results LOGS=$W/logs
mkdir -p "$RES" "$LOGS"
MOTO_PID=
# Deleting many small files is slow on a filesystem mounted with `discard` (see
# bench/storage.sh); several rm processes overlap the waits.
purge() {
    [[ -e $1 || -L $1 ]] || return 0
    find "$1" -type f -print0 2>/dev/null | xargs -0 -r -n 1000 -P 8 rm -f -- 2>/dev/null || true
    rm -rf -- "$1" 2>/dev/null || { chmod -R u+w -- "$1" && rm -rf -- "$1"; }
}
cleanup() {
    local rc=$?
    trap - ERR
    cd /
    if [[ -n $MOTO_PID ]]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then log "kept $W"; else purge "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap '[[ $BASH_SUBSHELL != 0 ]] || printf "bench: error: line %s: command failed (exit %s): %s\n" "$LINENO" "$?" "$BASH_COMMAND" >&2' ERR
start_ns=$(now)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- helpers
group() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }
human() {
    awk -v b="$1" 'BEGIN {
        split("B KiB MiB GiB TiB", u, " "); i = 1
        while (b >= 1024 && i < 5) { b /= 1024; i++ }
        if (b == int(b)) printf "%d %s", b, u[i]; else printf "%.1f %s", b, u[i] }'
}
# tree_hash DIR: one sha256 over the sorted relative paths and contents of every file.
tree_hash() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1)
}
file_hash() { sha256sum "$1" | cut -d' ' -f1; }
# CPU seconds (user + system) the moto server has used so far, in clock ticks.
moto_ticks() { awk '{ print $14 + $15 }' "/proc/$MOTO_PID/stat"; }
moto_requests() { grep -c '" [0-9][0-9][0-9] ' "$W/moto.log" || true; }

# timed KEY DIR CMD...: run CMD in DIR once (after `sync`); appends its wall seconds to KEY.t,
# peak RSS KiB to KEY.m and, when moto runs, moto's CPU seconds to KEY.sc and the requests
# it logged to KEY.sr. Output in $LOGS/KEY.N.out/.err; a failure exits 2.
timed() {
    local key=$1 dir=$2 n=1 base t0 t1 rc=0 c0=0 c1=0 q0=0 q1=0
    shift 2
    # TIMED_LIMIT=S in the caller's environment: stop the command after S seconds (STOPPED=1).
    STOPPED=0
    if [[ -n ${TIMED_LIMIT:-} ]]; then set -- timeout "$TIMED_LIMIT" "$@"; fi
    if [[ -s $RES/$key.t ]]; then n=$(($(wc -l <"$RES/$key.t") + 1)); fi
    base=$LOGS/$key.$n
    sync
    cd "$dir"
    if [[ -n $MOTO_PID ]]; then c0=$(moto_ticks); q0=$(moto_requests); fi
    t0=$(now)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -o "$base.time" -f %M "$@" >"$base.out" 2>"$base.err" || rc=$?
    else
        "$@" >"$base.out" 2>"$base.err" || rc=$?
    fi
    t1=$(now)
    if [[ -n $MOTO_PID ]]; then c1=$(moto_ticks); q1=$(moto_requests); fi
    cd "$W"
    if [[ -n ${TIMED_LIMIT:-} && $rc == 124 ]]; then
        STOPPED=1 rc=0
        echo "$n" >>"$RES/$key.stopped"
        log "stopped after $TIMED_LIMIT s: $*"
    fi
    if [[ $rc != 0 ]]; then
        tail -n 20 "$base.err" "$base.out" >&2 || true
        die "'$*' exited with $rc in $dir"
    fi
    { secs "$t0" "$t1"; echo; } >>"$RES/$key.t"
    if [[ -n $GNU_TIME ]]; then tail -n 1 "$base.time" >>"$RES/$key.m"; fi
    if [[ -n $MOTO_PID ]]; then
        awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", (b - a) / hz }' >>"$RES/$key.sc"
        echo $((q1 - q0)) >>"$RES/$key.sr"
    fi
    LAST_OUT=$base.out
}

# mlo_repo DIR: a fresh mlo repository in DIR (made if missing).
mlo_repo() {
    mkdir -p "$1"
    (cd "$1" && "$MLO" -q --no-progress init >/dev/null) || die "mlo init failed in $1"
}
MLOQ=("$MLO" --no-progress)

# ---------------------------------------------------------------- the S3 server
if [[ $PORT == 0 ]]; then
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
ENDPOINT=http://127.0.0.1:$PORT
AWS=(aws --endpoint-url "$ENDPOINT")
log "starting moto on $ENDPOINT"
python3 -m moto.server -H 127.0.0.1 -p "$PORT" >"$W/moto.log" 2>&1 &
MOTO_PID=$!
# Versions for the report, found while the server starts.
(python3 -c 'import importlib.metadata as m; print(m.version("moto"))' >"$W/moto-version" 2>/dev/null
    aws --version >"$W/aws-version" 2>&1) &
VERSIONS_PID=$!
for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null "$ENDPOINT/moto-api/" 2>/dev/null && break
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
        MOTO_PID=
        grep -q "No module named" "$W/moto.log" && skip "python3 cannot run moto.server (pip install 'moto[server]')"
        tail -n 20 "$W/moto.log" >&2
        die "moto did not start"
    fi
    sleep 0.1
done
((i < 100)) || die "moto did not answer on $ENDPOINT within 10 s"
moto_reset() { curl -fsS -X POST -o /dev/null "$ENDPOINT/moto-api/reset" || die "cannot reset moto"; }
# A plain PUT makes a bucket (moto does not check signatures), faster than starting the aws CLI.
make_bucket() { curl -fsS -X PUT -o /dev/null "$ENDPOINT/$1" || die "cannot create bucket $1"; }
wait "$VERSIONS_PID" || true
moto_version=$(sed -n 1p "$W/moto-version" 2>/dev/null)
aws_version=$(cut -d' ' -f1-2 "$W/aws-version" 2>/dev/null)

# ---------------------------------------------------------------- data
log "generating $(group "$FILES") files of $(human "$FILE_SIZE") and a $(human "$BIG_SIZE") file"
mlo_repo "$W/src-tree"
python3 "$GEN" tree "$W/src-tree/data" --files "$FILES" --dirs "$DIRS" --size "$FILE_SIZE" --seed 1
mlo_repo "$W/src-big"
python3 "$GEN" file "$W/src-big/big.bin" --size "$BIG_SIZE" --seed 2
(cd "$W/src-tree" && "${MLOQ[@]}" -q add data >/dev/null) || die "mlo add data failed"
(cd "$W/src-big" && "${MLOQ[@]}" -q add big.bin >/dev/null) || die "mlo add big.bin failed"
TREE_HASH=$(tree_hash "$W/src-tree/data")
BIG_HASH=$(file_hash "$W/src-big/big.bin")
# The big file sits in an aws-only directory too, so `aws s3 sync` sends just that file.
mkdir -p "$W/src-big-aws"
ln "$W/src-big/big.bin" "$W/src-big-aws/big.bin" 2>/dev/null || cp "$W/src-big/big.bin" "$W/src-big-aws/big.bin"

# pushed_ok FILE MIN: the push output says it sent at least MIN objects.
pushed_ok() {
    local n
    n=$(sed -n 's/^pushed \([0-9][0-9]*\) objects\{0,1\} .*/\1/p' "$1" | tail -n 1)
    if [[ -z $n ]] || ((n < $2)); then die "mlo push sent '${n:-?}' objects, expected at least $2: $(cat "$1")"; fi
}

# shape_run SHAPE R: one run of every push and pull of one shape (tree or big).
shape_run() {
    local s=$1 r=$2 src ptr want got awssrc min
    if [[ $s == tree ]]; then
        src=$W/src-tree ptr=data.mlo want=$TREE_HASH awssrc=$W/src-tree/data min=$FILES
    else
        src=$W/src-big ptr=big.bin.mlo want=$BIG_HASH awssrc=$W/src-big-aws min=1
    fi
    # --- S3, mlo
    local b=m-$s-$r
    make_bucket "$b"
    (cd "$src" && "${MLOQ[@]}" -q remote add "s3-$r" "s3://$b/mlo" --endpoint "$ENDPOINT" --path-style >/dev/null) ||
        die "mlo remote add failed"
    log "$s: mlo push to S3, run $r/$RUNS"
    timed "$s.s3.push" "$src" "${MLOQ[@]}" push -r "s3-$r"
    pushed_ok "$LAST_OUT" "$min"
    local ws=$W/pull-s3-$s-$r
    mlo_repo "$ws"
    cp "$src/$ptr" "$ws/"
    (cd "$ws" && "${MLOQ[@]}" -q remote add s3 "s3://$b/mlo" --endpoint "$ENDPOINT" --path-style --default >/dev/null) ||
        die "mlo remote add failed"
    log "$s: mlo pull from S3, run $r/$RUNS"
    timed "$s.s3.pull" "$ws" "${MLOQ[@]}" pull
    if [[ $s == tree ]]; then got=$(tree_hash "$ws/data"); else got=$(file_hash "$ws/big.bin"); fi
    [[ $got == "$want" ]] || die "$s: mlo pull from S3 gave different bytes (sha256 $got, expected $want)"
    purge "$ws"
    # --- S3, aws
    b=a-$s-$r
    make_bucket "$b"
    log "$s: aws s3 sync up, run $r/$RUNS"
    TIMED_LIMIT=$PEER_TIMEOUT timed "$s.aws.push" "$W" "${AWS[@]}" s3 sync --only-show-errors "$awssrc" "s3://$b/aws/"
    local dl=$W/aws-down-$s-$r
    mkdir "$dl"
    if [[ $STOPPED == 1 ]]; then
        log "$s: aws s3 sync down skipped: the upload did not finish"
    else
        log "$s: aws s3 sync down, run $r/$RUNS"
        TIMED_LIMIT=$PEER_TIMEOUT timed "$s.aws.pull" "$W" "${AWS[@]}" s3 sync --only-show-errors "s3://$b/aws/" "$dl"
    fi
    if [[ $STOPPED == 0 ]]; then
        if [[ $s == tree ]]; then got=$(tree_hash "$dl"); else got=$(file_hash "$dl/big.bin"); fi
        [[ $got == "$want" ]] || die "$s: aws s3 sync down gave different bytes (sha256 $got, expected $want)"
    fi
    purge "$dl"
    (cd "$src" && "${MLOQ[@]}" -q remote remove "s3-$r" >/dev/null 2>&1) || true
    moto_reset
    # --- directory remote
    local dir=$W/dirremote-$s-$r
    mkdir "$dir"
    (cd "$src" && "${MLOQ[@]}" -q remote add "dir-$r" "$dir" >/dev/null) || die "mlo remote add $dir failed"
    log "$s: mlo push to a directory, run $r/$RUNS"
    timed "$s.dir.push" "$src" "${MLOQ[@]}" push -r "dir-$r"
    pushed_ok "$LAST_OUT" "$min"
    ws=$W/pull-dir-$s-$r
    mlo_repo "$ws"
    cp "$src/$ptr" "$ws/"
    (cd "$ws" && "${MLOQ[@]}" -q remote add dir "$dir" --default >/dev/null) || die "mlo remote add failed"
    log "$s: mlo pull from a directory, run $r/$RUNS"
    timed "$s.dir.pull" "$ws" "${MLOQ[@]}" pull
    if [[ $s == tree ]]; then got=$(tree_hash "$ws/data"); else got=$(file_hash "$ws/big.bin"); fi
    [[ $got == "$want" ]] || die "$s: mlo pull from a directory gave different bytes"
    purge "$ws"
    (cd "$src" && "${MLOQ[@]}" -q remote remove "dir-$r" >/dev/null 2>&1) || true
    purge "$dir"
    if [[ $s == tree ]]; then
        timed "$s.cp" "$src" cp -r data "$W/cp-$s-$r"
    else
        timed "$s.cp" "$src" cp big.bin "$W/cp-$s-$r"
    fi
    purge "$W/cp-$s-$r"
}

# The server's memory is what limits the big file: a reset after every run frees it.
for ((r = 1; r <= RUNS; r++)); do
    shape_run tree "$r"
done
for ((r = 1; r <= RUNS; r++)); do
    shape_run big "$r"
done
purge "$W/src-big-aws"

# ---------------------------------------------------------------- no-op push
if ((NOOP_FILES > 0)); then
    NOOP_DIRS=$(((NOOP_FILES + 499) / 500))
    log "no-op push: generating $(group "$NOOP_FILES") files of $(human "$NOOP_SIZE")"
    mlo_repo "$W/noop"
    python3 "$GEN" tree "$W/noop/data" --files "$NOOP_FILES" --dirs "$NOOP_DIRS" --size "$NOOP_SIZE" --seed 3
    log "no-op push: mlo add (not timed)"
    (cd "$W/noop" && "${MLOQ[@]}" -q add data >/dev/null) || die "mlo add of the no-op tree failed"
    make_bucket m-noop
    (cd "$W/noop" && "${MLOQ[@]}" -q remote add s3 s3://m-noop/mlo --endpoint "$ENDPOINT" --path-style >/dev/null &&
        mkdir "$W/noop-remote" && "${MLOQ[@]}" -q remote add dir "$W/noop-remote" >/dev/null) || die "mlo remote add failed"
    log "no-op push: first push of $(group "$NOOP_FILES") objects to a directory"
    timed noop.dir.first "$W/noop" "${MLOQ[@]}" push -r dir
    pushed_ok "$LAST_OUT" "$NOOP_FILES"
    log "no-op push: first push of $(group "$NOOP_FILES") objects to S3 (moto: minutes)"
    timed noop.s3.first "$W/noop" "${MLOQ[@]}" push -r s3
    pushed_ok "$LAST_OUT" "$NOOP_FILES"
    log "no-op push: first S3 push took $(tail -n 1 "$RES/noop.s3.first.t") s"
    for ((r = 1; r <= RUNS; r++)); do
        for k in dir s3; do
            log "no-op push to $k, run $r/$RUNS"
            timed "noop.$k" "$W/noop" "${MLOQ[@]}" push -r "$k"
            grep -q '^pushed 0 objects' "$LAST_OUT" || die "the no-op push to $k sent something: $(cat "$LAST_OUT")"
        done
    done
fi

end_ns=$(now)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
med() { [[ -s $RES/$1 ]] || return 0; mapfile -t _v <"$RES/$1"; median "${_v[@]}"; }
medt() { med "$1.t"; }
peak() { [[ -s $RES/$1.m ]] || { echo "—"; return; }; sort -g "$RES/$1.m" | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
met() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { print (a <= t * b) ? "yes" : "**no**" }'; }
runs_of() { paste -sd' ' "$RES/$1.t"; }
rate() { # rate KEY BYTES: MB/s at the median time
    awk -v t="$(medt "$1")" -v b="$2" 'BEGIN { if (t > 0) printf (b / t / 1e6 < 10 ? "%.1f" : "%.0f"), b / t / 1e6; else print "—" }'
}
server() { # moto CPU s and requests (medians) of KEY
    if [[ -s $RES/$1.sc ]]; then printf '%s | %s' "$(med "$1.sc" | awk '{ printf "%.1f", $1 }')" "$(med "$1.sr" | awk '{ printf "%.0f", $1 }')"; else printf '— | —'; fi
}

cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') || cpu=unknown
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fstype=$(df --output=fstype "$W" | tail -n 1 | tr -d ' ')
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi
mlo_version=$("$MLO" --version 2>/dev/null | sed -n 1p) || mlo_version=unknown
mlo_built=$(date -u -r "$MLO" '+%Y-%m-%d %H:%M UTC')
total_s=$(secs "$start_ns" "$end_ns")
busy_note=
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l >= n / 2) }'; then
    busy_note="**The machine was busy** (load average ${load_start%% *} on $(nproc) cores at the start): wall times are noisy."
fi
TREE_BYTES=$((FILES * FILE_SIZE))
NT="$(group "$FILES") × $(human "$FILE_SIZE")"
NB="1 × $(human "$BIG_SIZE")"

# cmp_row OP MLO_KEY AWS_KEY BYTES
cmp_row() {
    local m a acell r ok arate
    m=$(medt "$2") a=$(medt "$3")
    acell=$a r=$(ratio "$m" "$a") ok=$(met "$m" "$a" 1.0) arate=$(rate "$3" "$4")
    if [[ -s $RES/$3.stopped ]]; then
        # A stopped run counts as its time limit: the true median is at least this.
        acell="> $a (stopped after $PEER_TIMEOUT s in $(wc -l <"$RES/$3.stopped") of $(wc -l <"$RES/$3.t") runs)"
        r="< $r" arate="< $arate"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$m" "$acell" "$r" \
        "$ok" "$(rate "$2" "$4")" "$arate" "$(peak "$2")" "$(peak "$3")" \
        "$(server "$2")" "$(server "$3")"
}
# dir_row OP KEY BYTES
dir_row() {
    printf '| %s | %s | %s | %s |\n' "$1" "$(medt "$2")" "$(rate "$2" "$3")" "$(peak "$2")"
}

report() {
    echo "## Remotes (issue 8), $(date -u '+%Y-%m-%d')"
    echo
    echo "\`bench/remote.sh$([[ $SMOKE == 1 ]] && printf ' --smoke') --files $FILES --big-size $BIG_SIZE --noop-files $NOOP_FILES --runs $RUNS\`; the whole run took $(printf '%.0f' "$total_s") s."
    echo
    echo "Machine: $(nproc) cores, $cpu, $ram RAM, $(uname -sr), $fstype; load average at start / end: $load_start / $load_end."
    echo "mlo \`$mlo_version\`, binary built $mlo_built, source at commit $commit; $aws_version; moto $moto_version (\`python3 -m moto.server\`, same Python)."
    [[ -z $busy_note ]] || { echo; echo "$busy_note"; }
    echo
    echo "Method: $(group "$FILES") files of $(human "$FILE_SIZE") in $DIRS directories and one $(human "$BIG_SIZE") file"
    echo "(\`bench/gen_tree.py\`, fixed seeds, incompressible). S3 is one moto server on 127.0.0.1 for the"
    echo "whole run; each run of each tool writes into a new bucket and the server is reset after every run."
    echo "mlo push: \`mlo push -r REMOTE\` (s3://BUCKET/mlo with \`--endpoint --path-style\`, default \`-j\`: 16"
    echo "for S3, cores for a directory). mlo pull: \`mlo pull\` in a fresh repository holding only the pointer"
    echo "file and the remote (empty store): download, hash check of every object, checkout (default"
    echo "\`core.link\`). The peer: \`aws s3 sync TREE s3://BUCKET/aws/\` up and \`aws s3 sync s3://BUCKET/aws/ DIR\`"
    echo "down into an empty DIR (default settings, 10 concurrent requests; it neither hashes nor keeps a"
    echo "second copy). The directory remote is a new directory on the same filesystem each run; \`cp -r\`"
    echo "(\`cp\` for the big file) is its reference. Every pull was checked against the source's sha256."
    echo "Wall: median of $RUNS run(s), \`sync\` before each; peak RSS from GNU time, the highest over the runs;"
    echo "\"moto CPU s\" and \"requests\" are the server's CPU time and logged requests during the command (medians)."
    echo
    echo "| operation | mlo s | aws s3 sync s | ratio mlo/aws | ≤ 1.0×? | mlo MB/s | aws MB/s | mlo peak MiB | aws peak MiB | moto CPU s (mlo) | requests (mlo) | moto CPU s (aws) | requests (aws) |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    cmp_row "push $NT to S3" tree.s3.push tree.aws.push "$TREE_BYTES"
    cmp_row "pull $NT from S3" tree.s3.pull tree.aws.pull "$TREE_BYTES"
    cmp_row "push $NB to S3" big.s3.push big.aws.push "$BIG_SIZE"
    cmp_row "pull $NB from S3" big.s3.pull big.aws.pull "$BIG_SIZE"
    echo
    echo "| directory remote | wall s | MB/s | peak MiB |"
    echo "|---|---:|---:|---:|"
    dir_row "mlo push $NT" tree.dir.push "$TREE_BYTES"
    dir_row "mlo pull $NT" tree.dir.pull "$TREE_BYTES"
    dir_row "\`cp -r\` of the tree (reference)" tree.cp "$TREE_BYTES"
    dir_row "mlo push $NB" big.dir.push "$BIG_SIZE"
    dir_row "mlo pull $NB" big.dir.pull "$BIG_SIZE"
    dir_row "\`cp\` of the big file (reference)" big.cp "$BIG_SIZE"
    if ((NOOP_FILES > 0)); then
        local k
        echo
        echo "No-op push: $(group "$NOOP_FILES") files of $(human "$NOOP_SIZE") in $NOOP_DIRS directories, pushed once, then \`mlo push\` again (it must say \"pushed 0 objects\"); target below ${NOOP_TARGET_S} s."
        echo
        echo "| no-op push of $(group "$NOOP_FILES") objects | wall s (median) | < ${NOOP_TARGET_S} s? | peak MiB | moto CPU s | requests | first push (1 run) s |"
        echo "|---|---:|---|---:|---:|---:|---:|"
        for k in dir s3; do
            local m
            m=$(medt "noop.$k")
            printf '| to %s | %s | %s | %s | %s | %s |\n' "$([[ $k == dir ]] && echo "a directory" || echo "S3 (moto)")" "$m" \
                "$(awk -v a="$m" -v t="$NOOP_TARGET_S" 'BEGIN { print (a < t) ? "yes" : "**no**" }')" "$(peak "noop.$k")" \
                "$(if [[ $k == s3 ]]; then server noop.s3; else printf '— | —'; fi)" "$(medt "noop.$k.first")"
        done
    fi
    echo
    printf 'All runs, wall s: '
    local k
    for k in tree.s3.push tree.aws.push tree.s3.pull tree.aws.pull big.s3.push big.aws.push big.s3.pull big.aws.pull \
        tree.dir.push tree.dir.pull tree.cp big.dir.push big.dir.pull big.cp noop.dir noop.s3; do
        [[ -s $RES/$k.t ]] && printf '%s %s; ' "$k" "$(runs_of "$k")"
    done
    echo
}
report >"$W/report.md"
cat "$W/report.md"
if [[ -n $OUT ]]; then
    cat "$W/report.md" >"$OUT"
    log "wrote $OUT"
fi
log "done in $(printf '%.0f' "$total_s") s"
