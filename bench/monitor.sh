#!/usr/bin/env bash
# Monitoring benchmark (issue 7): `mlo monitor` next to a Python loop over SciPy's tests.
#   - Data: bench/monitor_scipy.py gen writes ref.csv and cur.csv with a fixed seed, ROWS rows
#     each, 20 numeric columns x01..x20 (normal, lognormal, uniform, integer-valued with few
#     distinct values; a few missing values as empty fields) and 5 categorical c1..c5 (3 to 30
#     weighted string categories). cur.csv is shifted in 13 of the 25 columns (10 numeric,
#     3 categorical: mean shift, scale change, category weights, one new category).
#   - mlo: a scratch project (`mlo init`, mlo.yaml with `monitor: {reference: ref.csv,
#     categorical: [c1..c5]}`) and `mlo monitor --current cur.csv --json`, twice over:
#       default tests (Evidently's choice: normalised Wasserstein for numeric columns, Jensen-
#         Shannon for categorical ones and numeric ones with <= 5 values, above 1000 rows);
#       ks + jensenshannon (`monitor.tests` names `ks` for every numeric column and
#         `jensenshannon` for every categorical one): the same tests as the SciPy loop.
#     Each: the first run, which builds the reference profile (a fresh `.mlo` before each of
#     --runs runs), then --runs runs with the profile stored. Exit 1 (dataset drift) is the
#     expected answer here; every report is checked: 25 columns, every shifted column drifted,
#     the exit code matching dataset.drift, the tests asked for, and (when the report says)
#     the profile built on first runs only and ROWS rows on both sides.
#   - Peer: bench/monitor_scipy.py peer, --runs times: pandas.read_csv of both files, then
#     scipy.stats.ks_2samp per numeric column and, per categorical column, the category shares
#     over both sides' categories and scipy.spatial.distance.jensenshannon. Timed as the whole
#     process (what a user waits for) and as the statistics alone (timed inside, reading and
#     imports excluded).
#   - Wall time: median of --runs (monotonic clock around the process); peak memory: the
#     highest max RSS over the runs, from GNU time (/usr/bin/time -f %M), or VmHWM polled from
#     /proc when GNU time is missing.
# Prints a markdown section for docs/benchmarks.md on stdout (and into --out FILE). Needs
# /usr/bin/python3 with numpy, pandas and scipy (Debian python3-numpy, python3-pandas,
# python3-scipy).
#
#   bench/monitor.sh [--rows N] [--runs N] [--smoke] [--mlo PATH] [--out FILE] [--keep]
#
# --smoke: 2,000 rows, 1 run (CI). Targets: every `mlo monitor` run faster than the SciPy loop's
# process; mlo's peak memory below 300 MiB.
# Exit status: 0 when every command behaved (a missed target is reported, not an error); 2 when
# a command failed or gave a wrong answer; 125 when a needed tool is missing; 130 interrupted.
set -Eeuo pipefail

ROWS=1000000
RUNS=3
SMOKE=0
MLO=
OUT=
KEEP=0
PY=/usr/bin/python3
MEM_TARGET_MIB=300
export PYTHONDONTWRITEBYTECODE=1
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
set_rows='' set_runs=''
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) need_arg "$@"; ROWS=$2; set_rows=1; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; set_runs=1; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
# --smoke only changes what was not given explicitly.
if [[ $SMOKE == 1 ]]; then
    [[ -n $set_rows ]] || ROWS=2000
    [[ -n $set_runs ]] || RUNS=1
fi
for v in ROWS RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer, not '${!v}'"
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
GEN=$HERE/monitor_scipy.py
[[ -f $GEN ]] || die "cannot find '$GEN'"
if [[ -z $MLO ]]; then
    if [[ -x $REPO/build/mlo ]]; then MLO=$REPO/build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
[[ -z $OUT ]] || OUT=$(realpath -m -- "$OUT")
[[ -x $PY ]] || skip "$PY does not exist (apt-get install python3 python3-scipy python3-pandas)"
"$PY" -c 'import numpy, pandas, scipy.stats, scipy.spatial.distance' 2>/dev/null ||
    skip "$PY cannot import numpy, pandas and scipy (apt-get install python3-numpy python3-pandas python3-scipy)"
"$MLO" monitor --help >/dev/null 2>&1 || die "$MLO has no 'monitor' command"

# Peak memory: GNU time's %M, else VmHWM polled from /proc (installs nothing).
GNU_TIME=
if /usr/bin/time -f %M true >/dev/null 2>&1; then
    GNU_TIME=/usr/bin/time
    MEM_METHOD="GNU time's maximum resident set size (\`/usr/bin/time -f %M\`)"
else
    MEM_METHOD="VmHWM of the process, read from /proc every 20 ms (GNU time is not installed)"
    log "GNU time (/usr/bin/time) is missing: peak memory from VmHWM polled in /proc"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-monitor.XXXXXX")
P=$W/project
cleanup() {
    local rc=$?
    trap - ERR
    if [[ $KEEP == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'die "line $LINENO: a command failed (exit $?)"' ERR
start_ns=$(now)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# measure OUT ERR CMD...: runs CMD (stdout to OUT, stderr to ERR) and sets M_RC (its exit
# status), M_WALL (seconds) and M_KIB (peak RSS in KiB). Does not fail on CMD's failure.
measure() {
    local out=$1 err=$2 t0 t1 pid state hwm
    shift 2
    M_RC=0
    M_KIB=0
    t0=$(now)
    if [[ -n $GNU_TIME ]]; then
        "$GNU_TIME" -f %M -o "$W/time.txt" "$@" >"$out" 2>"$err" || M_RC=$?
        t1=$(now)
        # GNU time writes "Command exited with non-zero status N" before the figure then.
        M_KIB=$(tail -n 1 "$W/time.txt")
        [[ $M_KIB =~ ^[0-9]+$ ]] || M_KIB=0
    else
        "$@" >"$out" 2>"$err" &
        pid=$!
        while :; do
            state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
            if [[ -n $hwm ]] && ((hwm > M_KIB)); then M_KIB=$hwm; fi
            if [[ -z $state || $state == Z ]]; then break; fi
            sleep 0.02
        done
        wait "$pid" || M_RC=$?
        t1=$(now)
    fi
    M_WALL=$(secs "$t0" "$t1")
}

# ---------------------------------------------------------------- data
mkdir -p "$P"
cd "$P"
log "generating ref.csv and cur.csv, $ROWS rows each"
t0=$(now)
"$PY" "$GEN" gen "$ROWS" . >"$W/shifted.txt" || die "the data generator failed"
gen_s=$(secs "$t0" "$(now)")
for f in ref.csv cur.csv; do
    [[ $(($(wc -l <"$f") - 1)) == "$ROWS" ]] || die "$f does not have $ROWS rows"
done
ref_mb=$(awk -v b="$(stat -c %s ref.csv)" 'BEGIN { printf "%.1f", b / 1e6 }')
cur_mb=$(awk -v b="$(stat -c %s cur.csv)" 'BEGIN { printf "%.1f", b / 1e6 }')
n_shifted=$(wc -l <"$W/shifted.txt")
log "ref.csv $ref_mb MB, cur.csv $cur_mb MB in $gen_s s; shifted: $(paste -sd' ' "$W/shifted.txt")"
NUMERIC=(x01 x02 x03 x04 x05 x06 x07 x08 x09 x10 x11 x12 x13 x14 x15 x16 x17 x18 x19 x20)
CATEGORICAL=(c1 c2 c3 c4 c5)
NCOLS=$((${#NUMERIC[@]} + ${#CATEGORICAL[@]}))

# ---------------------------------------------------------------- the SciPy loop
: >"$W/scipy.t"
: >"$W/scipy.m"
: >"$W/scipy.stats"
: >"$W/scipy.read"
for ((i = 1; i <= RUNS; i++)); do
    log "scipy loop run $i/$RUNS"
    measure "$W/peer.json" "$W/peer.err" "$PY" "$GEN" peer ref.csv cur.csv \
        --categorical "$(IFS=,; echo "${CATEGORICAL[*]}")"
    if [[ $M_RC != 0 ]]; then
        tail -n 20 "$W/peer.err" >&2
        die "the SciPy loop failed (exit $M_RC)"
    fi
    echo "$M_WALL" >>"$W/scipy.t"
    echo "$M_KIB" >>"$W/scipy.m"
    "$PY" - "$W/peer.json" "$W/shifted.txt" "$NCOLS" >"$W/peer.times" <<'PY' || die "the SciPy loop's answer is wrong"
import json, sys
d = json.load(open(sys.argv[1]))
shifted = set(open(sys.argv[2]).read().split())
cols = d["columns"]
if len(cols) != int(sys.argv[3]):
    sys.exit("bench: the SciPy loop reported %d columns, not %s" % (len(cols), sys.argv[3]))
missed = [c["column"] for c in cols if c["column"] in shifted and not c["drifted"]]
if missed:
    sys.exit("bench: the SciPy loop does not flag the shifted columns %s: the data generator is wrong" % missed)
print(d["stats_s"], d["read_s"])
PY
    read -r st rd <"$W/peer.times"
    echo "$st" >>"$W/scipy.stats"
    echo "$rd" >>"$W/scipy.read"
done
cp "$W/peer.json" "$W/scipy.json"

# ---------------------------------------------------------------- mlo monitor
# write_config MODE: mlo.yaml for the default tests (defaults) or ks + jensenshannon (ksjs).
write_config() {
    local c list
    list=$(IFS=,; echo "${CATEGORICAL[*]}")
    {
        echo "stages: {}"
        echo "monitor:"
        echo "  reference: ref.csv"
        echo "  categorical: [${list//,/, }]"
        if [[ $1 == ksjs ]]; then
            echo "  tests:"
            for c in "${NUMERIC[@]}"; do echo "    $c: {test: ks}"; done
            for c in "${CATEGORICAL[@]}"; do echo "    $c: {test: jensenshannon}"; done
        fi
    } >mlo.yaml
}

# check_report MODE RC KIND: the report in $W/report.json is right; prints a one-line summary.
check_report() {
    "$PY" - "$W/report.json" "$2" "$1" "$W/shifted.txt" "$NCOLS" "$3" "$ROWS" <<'PY'
import collections, json, sys
path, rc, mode, shifted_path, ncols = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
kind, rows = sys.argv[6], int(sys.argv[7])
def fail(msg):
    sys.exit("bench: mlo monitor's report (%s): %s" % (mode, msg))
try:
    d = json.load(open(path))
except ValueError as e:
    fail("not JSON: %s" % e)
shifted = open(shifted_path).read().split()
cols = d.get("columns")
if not isinstance(cols, list) or len(cols) != ncols:
    fail("%s columns, not %d" % (len(cols) if isinstance(cols, list) else "no", ncols))
names = [c.get("column") for c in cols]
want = ["x%02d" % i for i in range(1, 21)] + ["c%d" % i for i in range(1, 6)]
if sorted(names) != sorted(want):
    fail("columns %s, not %s" % (names, want))
ds = d.get("dataset", {})
if ds.get("columns") != ncols:
    fail("dataset.columns is %r, not %d" % (ds.get("columns"), ncols))
missed = [c["column"] for c in cols if c["column"] in shifted and not c.get("drifted")]
if missed:
    fail("shifted columns not flagged as drifted: %s" % missed)
if bool(ds.get("drift")) != (rc == 1):
    fail("exit code %d but dataset.drift is %r" % (rc, ds.get("drift")))
# Checked when the report carries them: the profile is built on the first run only, and
# both files were read whole.
ref = d.get("reference") if isinstance(d.get("reference"), dict) else {}
if "profile_built" in ref and bool(ref["profile_built"]) != (kind == "cold"):
    fail("reference.profile_built is %r on a %s run" % (ref["profile_built"], kind))
for side in ("reference", "current"):
    n = d.get(side, {}).get("rows") if isinstance(d.get(side), dict) else None
    if n is not None and n != rows:
        fail("%s.rows is %r, not %d" % (side, n, rows))
if mode == "ksjs":
    wrong = [(c["column"], c.get("test")) for c in cols
             if c.get("test") != ("ks" if c["column"].startswith("x") else "jensenshannon")]
    if wrong:
        fail("tests not as configured: %s" % wrong)
tests = collections.Counter(c.get("test") for c in cols)
extra = [c["column"] for c in cols if c.get("drifted") and c["column"] not in shifted]
print("%d of %d columns drifted (share %s), tests: %s%s" % (
    ds.get("drifted", -1), ncols, ds.get("share"),
    ", ".join("%s %d" % kv for kv in sorted(tests.items())),
    "; also flagged, not shifted: " + " ".join(extra) if extra else ""))
PY
}

# The command timed.
MONITOR_ARGS=(monitor --current cur.csv --json)

# run_mlo MODE KIND: one `mlo monitor` run, recorded under MODE.KIND (cold or warm).
run_mlo() {
    measure "$W/report.json" "$W/mlo.err" "$MLO" "${MONITOR_ARGS[@]}"
    if [[ $M_RC != 0 && $M_RC != 1 ]]; then
        tail -n 20 "$W/mlo.err" >&2
        die "mlo monitor ($1, $2 run) failed with exit code $M_RC"
    fi
    check_report "$1" "$M_RC" "$2" >"$W/$1.summary" || die "mlo monitor ($1) gave a wrong report"
    echo "$M_WALL" >>"$W/$1.$2.t"
    echo "$M_KIB" >>"$W/$1.$2.m"
    echo "$M_RC" >>"$W/$1.rc"
}

MODES=(defaults ksjs)
for mode in "${MODES[@]}"; do
    : >"$W/$mode.cold.t" ; : >"$W/$mode.cold.m"; : >"$W/$mode.warm.t"; : >"$W/$mode.warm.m"; : >"$W/$mode.rc"
    write_config "$mode"
    for ((i = 1; i <= RUNS; i++)); do
        log "mlo monitor ($mode), first run with the profile built, $i/$RUNS"
        rm -rf .mlo
        "$MLO" init -q >/dev/null 2>"$W/init.err" || { cat "$W/init.err" >&2; die "mlo init failed"; }
        run_mlo "$mode" cold
    done
    profile_kib=$(du -sk .mlo | cut -f1)
    echo "$profile_kib" >"$W/$mode.store"
    for ((i = 1; i <= RUNS; i++)); do
        log "mlo monitor ($mode), profile stored, $i/$RUNS"
        run_mlo "$mode" warm
    done
    cp "$W/report.json" "$W/$mode.json"
    log "$mode: $(cat "$W/$mode.summary")"
done

# Agreement of mlo's ks + jensenshannon report with the SciPy loop on the same columns.
"$PY" - "$W/ksjs.json" "$W/scipy.json" >"$W/agree.txt" <<'PY' || die "cannot compare mlo's report with the SciPy loop's"
import json, sys
m = {c["column"]: c for c in json.load(open(sys.argv[1]))["columns"]}
s = {c["column"]: c for c in json.load(open(sys.argv[2]))["columns"]}
same = [c for c in s if bool(m[c].get("drifted")) == s[c]["drifted"]]
differ = sorted(set(s) - set(same))
def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None
dks = [abs(num(m[c].get("statistic")) - s[c]["statistic"]) for c in s
       if s[c]["test"] == "ks" and num(m[c].get("statistic")) is not None]
djs = [abs(num(m[c].get("score")) - s[c]["score"]) for c in s
       if s[c]["test"] == "jensenshannon" and num(m[c].get("score")) is not None]
parts = ["drift flags agree on %d of %d columns%s" % (
    len(same), len(s), " (differ: %s)" % " ".join(differ) if differ else "")]
if dks:
    parts.append("largest |D(mlo) - D(scipy)| over the KS columns %.2g" % max(dks))
if djs:
    parts.append("largest difference of the Jensen-Shannon distances %.2g" % max(djs))
print("; ".join(parts))
PY

end_ns=$(now)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
med() { mapfile -t _v <"$1"; median "${_v[@]}"; }
peak_mib() { sort -g "$1" | tail -n 1 | awk '{ if ($1 > 0) printf "%.0f", $1 / 1024; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
faster() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
yesno() { if "$@"; then echo yes; else echo "**no**"; fi; }
runs_of() { paste -sd' ' "$1"; }
group() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }

cpu=$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') || cpu=unknown
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (with uncommitted changes)"
fi
mlo_version=$("$MLO" --version 2>/dev/null | sed -n 1p) || mlo_version=unknown
mlo_built=$(date -u -r "$MLO" '+%Y-%m-%d %H:%M UTC')
versions=$("$PY" -c 'import platform, numpy, pandas, scipy
print("Python %s, numpy %s, pandas %s, scipy %s" % (platform.python_version(), numpy.__version__, pandas.__version__, scipy.__version__))')
total_s=$(secs "$start_ns" "$end_ns")
busy_note=
# (At the end the load average counts this benchmark's own processes too.)
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l >= n / 2) }'; then
    busy_note="**The machine was busy** (load average ${load_start%% *} on $(nproc) cores at the start): wall times are noisy."
fi

sp_t=$(med "$W/scipy.t")
sp_stats=$(med "$W/scipy.stats")
sp_read=$(med "$W/scipy.read")
sp_m=$(peak_mib "$W/scipy.m")
label_of() {
    case $1 in
        defaults.cold) echo "\`mlo monitor\`, default tests, first run (builds the profile)" ;;
        defaults.warm) echo "\`mlo monitor\`, default tests, profile stored" ;;
        ksjs.cold) echo "\`mlo monitor\`, ks + jensenshannon, first run (builds the profile)" ;;
        ksjs.warm) echo "\`mlo monitor\`, ks + jensenshannon, profile stored" ;;
    esac
}
KEYS=(defaults.cold defaults.warm ksjs.cold ksjs.warm)
mlo_peak_kib=$(cat "$W"/defaults.*.m "$W"/ksjs.*.m | sort -g | tail -n 1)
mlo_peak=$(awk -v k="$mlo_peak_kib" 'BEGIN { if (k > 0) printf "%.0f", k / 1024; else print "n/a" }')
all_faster=1
for k in "${KEYS[@]}"; do faster "$(med "$W/$k.t")" "$sp_t" || all_faster=0; done
cold_vs_stats=1
for k in "${KEYS[@]}"; do faster "$(med "$W/$k.t")" "$sp_stats" || cold_vs_stats=0; done
mem_ok() { [[ $mlo_peak != n/a ]] && ((mlo_peak_kib < MEM_TARGET_MIB * 1024)); }
summary_line() {
    local mode=$1 rc
    rc=$(sort -u "$W/$mode.rc" | paste -sd/)
    echo "exit code $rc; $(cat "$W/$mode.summary")"
}

report() {
    echo "## Monitoring (issue 7), $(date -u '+%Y-%m-%d')"
    echo
    echo "\`bench/monitor.sh$([[ $SMOKE == 1 ]] && printf ' --smoke') --rows $ROWS --runs $RUNS\`; the whole run took $(printf '%.0f' "$total_s") s."
    echo
    echo "Machine: $(nproc) cores, $cpu, $ram RAM, $(uname -sr); load average at start / end: $load_start / $load_end."
    echo "mlo \`$mlo_version\`, binary built $mlo_built, source at commit $commit; $versions."
    [[ -z $busy_note ]] || { echo; echo "$busy_note"; }
    echo
    echo "Method: ref.csv ($ref_mb MB) and cur.csv ($cur_mb MB), $(group "$ROWS") rows each, 20 numeric columns"
    echo "(normal, lognormal, uniform, and integer-valued ones with 3 to 100 distinct values; 5 with"
    echo "0.5% to 5% missing values) and 5 categorical ones (3, 5, 10, 20 and 30 string categories, weighted),"
    echo "generated by \`bench/monitor_scipy.py gen\` with a fixed seed; cur.csv is shifted in $n_shifted of the"
    echo "$NCOLS columns ($(paste -sd' ' "$W/shifted.txt" | sed 's/ /, /g'))."
    echo "\`mlo ${MONITOR_ARGS[*]}\` in a fresh \`mlo init\` project with"
    echo "\`monitor: {reference: ref.csv, categorical: [c1, c2, c3, c4, c5]}\`: with the default"
    echo "tests, and with \`monitor.tests\` naming \`ks\` for every numeric column and \`jensenshannon\`"
    echo "for every categorical one, the SciPy loop's tests. \"First run\" builds and stores the"
    echo "reference profile (a new \`.mlo\` before each run); \"profile stored\" reuses it. Every"
    echo "report was checked (25 columns, all shifted columns drifted, exit code 1 = dataset drift)."
    echo "The SciPy loop (\`bench/monitor_scipy.py peer\`): \`pandas.read_csv\` of both files, then"
    echo "\`scipy.stats.ks_2samp(ref.dropna(), cur.dropna())\` per numeric column and"
    echo "\`scipy.spatial.distance.jensenshannon\` of the category shares (over both sides' categories)"
    echo "per categorical column; its process time includes interpreter start, imports"
    echo "and reading ($sp_read s of read_csv), its statistics-only time excludes them."
    echo "Wall: median of $RUNS run(s); peak memory: $MEM_METHOD, the highest over the runs."
    echo "Ratios are wall / the SciPy loop's wall (below 1 means faster than the SciPy loop)."
    echo
    echo "| tool | wall s (median) | peak MiB | ratio vs scipy loop (process, $sp_t s) | ratio vs scipy statistics only ($sp_stats s) |"
    echo "|---|---:|---:|---:|---:|"
    local k
    for k in "${KEYS[@]}"; do
        echo "| $(label_of "$k") | $(med "$W/$k.t") | $(peak_mib "$W/$k.m") | $(ratio "$(med "$W/$k.t")" "$sp_t") | $(ratio "$(med "$W/$k.t")" "$sp_stats") |"
    done
    echo "| SciPy loop, whole process (python3: imports, read_csv, statistics) | $sp_t | $sp_m | 1.00 | $(ratio "$sp_t" "$sp_stats") |"
    echo "| SciPy loop, statistics only (ks_2samp, shares + jensenshannon) | $sp_stats | | $(ratio "$sp_stats" "$sp_t") | 1.00 |"
    echo
    echo "Reports: default tests: $(summary_line defaults). ks + jensenshannon: $(summary_line ksjs)."
    echo "The SciPy loop flags $("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))["dataset"]; print("%d of %d" % (d["drifted"], d["columns"]))' "$W/scipy.json") columns."
    echo "mlo (ks + jensenshannon) against the SciPy loop: $(cat "$W/agree.txt")."
    echo "The store after the first run (\`du -sk .mlo\`): default tests $(cat "$W/defaults.store") KiB, ks + jensenshannon $(cat "$W/ksjs.store") KiB."
    echo
    echo "Targets: faster than the SciPy loop (every mlo row against its whole process, $sp_t s):" \
        "$(yesno test "$all_faster" == 1); (against its statistics alone, $sp_stats s:" \
        "$(if [[ $cold_vs_stats == 1 ]]; then echo "every mlo row faster too"; else echo "not every mlo row faster"; fi))." \
        "Peak memory below $MEM_TARGET_MIB MiB (highest over all mlo runs: $mlo_peak MiB): $(yesno mem_ok)."
    echo
    echo "All runs, wall s: $(for k in "${KEYS[@]}"; do printf '%s %s; ' "${k/./ }" "$(runs_of "$W/$k.t")"; done)SciPy process $(runs_of "$W/scipy.t"), statistics $(runs_of "$W/scipy.stats")."
}
report >"$W/report.md"
cat "$W/report.md"
if [[ -n $OUT ]]; then
    cat "$W/report.md" >"$OUT"
    log "wrote $OUT"
fi
log "done in $(printf '%.0f' "$total_s") s"
