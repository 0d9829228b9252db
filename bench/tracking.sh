#!/usr/bin/env bash
# Experiment tracking benchmark (issue 5). Times, side by side in one run (medians of --runs):
#   (a) CALLS `mlo log metric` calls from a shell loop inside a tracked run (per-call latency),
#       next to the same number of `sqlite3 DB "INSERT ..."` calls (one process per value, the
#       floor for any tool that starts a process per logged value);
#   (b) `mlo log metrics` of a ROWS-line JSON lines file (rows/s), next to the `sqlite3` CLI
#       running the same rows as INSERTs in one transaction;
#   (c) `mlo exp list --where ... --sort ...` over RUNS_DB runs with 20 parameters and 20 metrics
#       each (the runs are written straight into mlo.db by Python's sqlite3, as `mlo run` would
#       record them, since making 10,000 runs through the CLI would time the CLI 10,000 times);
#   (d) `mlo exp run -S` of 8 combinations of a 1-second stage with -j 2.
# Prints a markdown section for docs/benchmarks.md.
#
#   bench/tracking.sh [--calls N] [--rows N] [--runs-db N] [--runs N] [--smoke] [--mlo PATH]
#                     [--out FILE] [--keep]
#
# Exit status: 0 when every timed command behaved (a missed target is reported, not an error);
# 2 when a command failed or gave a wrong answer; 130 when interrupted.
set -Eeuo pipefail

CALLS=10000
ROWS=1000000
RUNS_DB=10000
RUNS=3
STAGE_SECONDS=1
SMOKE=0
MLO=
OUT=
KEEP=0
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
while [[ $# -gt 0 ]]; do
    case $1 in
        --calls) need_arg "$@"; CALLS=$2; shift 2 ;;
        --rows) need_arg "$@"; ROWS=$2; shift 2 ;;
        --runs-db) need_arg "$@"; RUNS_DB=$2; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
if [[ $SMOKE == 1 ]]; then
    CALLS=50
    ROWS=10000
    RUNS_DB=200
    RUNS=1
    STAGE_SECONDS=0.1
fi
for v in CALLS ROWS RUNS_DB RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer, not '${!v}'"
done

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z $MLO ]]; then
    if [[ -x $here/../build/mlo ]]; then MLO=$here/../build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
export MLO
command -v sqlite3 >/dev/null || die "sqlite3 is not installed (apt-get install sqlite3)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-tracking.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM


P=$W/project
mkdir -p "$P" && cd "$P"
"$MLO" init -q
FLOOR_DB=$W/floor.db
sqlite3 "$FLOOR_DB" "CREATE TABLE points(series INTEGER, step INTEGER, value REAL, time_ns INTEGER);
CREATE INDEX points_by_series ON points(series, step);"

# ---------------------------------------------------------------- (a) per-call latency
log "(a) $CALLS x mlo log metric"
a_mlo=() a_sql=()
for ((r = 0; r < RUNS; r++)); do
    "$MLO" run -q --name "calls-$r" -- bash -c '
        t0=$(date +%s%N)
        for ((i = 0; i < '"$CALLS"'; i++)); do "$MLO" log metric loss "0.$i" --step "$i"; done
        t1=$(date +%s%N)
        echo $((t1 - t0)) > '"$W"'/calls.ns' || die "the mlo log metric loop failed"
    a_mlo+=("$(awk -v ns="$(cat "$W/calls.ns")" -v n="$CALLS" 'BEGIN { printf "%.3f", ns / n / 1e6 }')")
    t0=$(now)
    for ((i = 0; i < CALLS; i++)); do
        sqlite3 "$FLOOR_DB" "INSERT INTO points VALUES (1, $i, 0.$i, $i)"
    done
    t1=$(now)
    a_sql+=("$(awk -v ns="$((t1 - t0))" -v n="$CALLS" 'BEGIN { printf "%.3f", ns / n / 1e6 }')")
done
"$MLO" exp show --json "calls-0" >"$W/show.json"
n_logged=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["history"]["loss"]))' "$W/show.json")
[[ $n_logged == "$CALLS" ]] || die "expected $CALLS logged values, found $n_logged"

# ---------------------------------------------------------------- (b) JSON lines
log "(b) mlo log metrics of $ROWS JSON lines"
"$PY" - "$ROWS" "$W/metrics.jsonl" "$W/metrics.sql" <<'EOF'
import sys
n, jl, sql = int(sys.argv[1]), sys.argv[2], sys.argv[3]
names = ["loss", "accuracy", "lr", "grad_norm"]
with open(jl, "w") as f, open(sql, "w") as g:
    g.write("BEGIN;\n")
    for i in range(n):
        name = names[i % 4]
        v = (i * 7919 % 100003) / 100003.0
        f.write('{"name": "%s", "value": %r, "step": %d}\n' % (name, v, i // 4))
        g.write("INSERT INTO points VALUES (%d, %d, %r, 0);\n" % (i % 4 + 10, i // 4, v))
    g.write("COMMIT;\n")
EOF
b_mlo=() b_sql=()
for ((r = 0; r < RUNS; r++)); do
    # Each timed write starts with the disk caught up: otherwise the previous run's dirty
    # pages (the sqlite3 floor writes as much) throttle this one's writes.
    sync
    "$MLO" run -q --name "rows-$r" -- bash -c '
        t0=$(date +%s%N)
        "$MLO" log -q metrics '"$W"'/metrics.jsonl
        t1=$(date +%s%N)
        echo $((t1 - t0)) > '"$W"'/rows.ns' || die "mlo log metrics failed"
    b_mlo+=("$(awk -v ns="$(cat "$W/rows.ns")" 'BEGIN { printf "%.3f", ns / 1e9 }')")
    sync
    b_sql+=("$(time_of sqlite3 "$FLOOR_DB" ".read $W/metrics.sql")")
done
"$MLO" exp show --json "rows-0" >"$W/show.json"
n_rows=$("$PY" -c 'import json,sys; print(sum(len(v) for v in json.load(open(sys.argv[1]))["history"].values()))' "$W/show.json")
[[ $n_rows == "$ROWS" ]] || die "expected $ROWS logged rows, found $n_rows"

# ---------------------------------------------------------------- (c) exp list over many runs
log "(c) exp list over $RUNS_DB runs x 20 params x 20 metrics"
Q=$W/query
mkdir -p "$Q" && cd "$Q"
"$MLO" init -q
"$MLO" run -q --name seed -- true
"$PY" - "$Q/.mlo/mlo.db" "$RUNS_DB" <<'EOF'
import json, random, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(5)
con = sqlite3.connect(db)
cur = con.cursor()
cur.execute("BEGIN")
t = 1_700_000_000_000_000_000
for i in range(n):
    rid = "%024x" % rnd.getrandbits(96)
    params = {"p%d" % k: (rnd.choice([0.001, 0.01, 0.1, 1.0]) if k % 2 else rnd.randint(1, 10)) for k in range(20)}
    cur.execute("INSERT INTO runs(id, stage, cmd, params_json, started_ns, ended_ns, status, exit_code, host, user, pid, git_in_repo, git_commit, git_dirty, git_diff_hash, cache_key, log_object, restored_from, kind, name, parent, sweep) VALUES (?, '', 'train', ?, ?, ?, 'succeeded', 0, 'h', 'u', 1, 0, '', 0, '', '', NULL, '', 'command', ?, '', '')",
                (rid, json.dumps(params), t + i * 1000, t + i * 1000 + 500, "run-%d" % i))
    cur.executemany("INSERT INTO run_params VALUES (?, ?, ?)", [(rid, k, json.dumps(v)) for k, v in params.items()])
    cur.executemany("INSERT INTO run_metrics VALUES (?, ?, ?)", [(rid, "m%d" % k, rnd.random()) for k in range(20)])
cur.execute("COMMIT")
EOF
WHERE="metrics.m0 > 0.5 and params.p1 <= 0.01 or params.p2 = 3"
SORT="metrics.m1:desc"
expected=$("$PY" - "$Q/.mlo/mlo.db" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
print(con.execute("""SELECT count(*) FROM runs r WHERE kind != 'stage' AND (
  ((SELECT value FROM run_metrics WHERE run_id = r.id AND key = 'm0') > 0.5 AND
   (SELECT CAST(value_json AS REAL) FROM run_params WHERE run_id = r.id AND key = 'p1') <= 0.01)
  OR (SELECT CAST(value_json AS REAL) FROM run_params WHERE run_id = r.id AND key = 'p2') = 3)""").fetchone()[0])
EOF
)
c_all=() c_limit=()
for ((r = 0; r < RUNS; r++)); do
    c_all+=("$(time_of "$MLO" --json exp list --where "$WHERE" --sort "$SORT")")
    got=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/last.out")
    [[ $got == "$expected" ]] || die "exp list returned $got runs, sqlite3 counts $expected"
    c_limit+=("$(time_of "$MLO" exp list --where "$WHERE" --sort "$SORT" --limit 20)")
done

# ---------------------------------------------------------------- (d) a sweep, -j 2
log "(d) exp run of 8 combinations of a ${STAGE_SECONDS} s stage, -j 2"
S=$W/sweep
mkdir -p "$S" && cd "$S"
"$MLO" init -q
printf 'train:\n  a: 1\n  b: 1\n' >params.yaml
cat >mlo.yaml <<EOF
stages:
  train:
    cmd: 'sleep $STAGE_SECONDS && echo "{\"s\": \${train.a}, \"t\": \${train.b}}" > m.json'
    metrics: [m.json]
EOF
d=()
for ((r = 0; r < RUNS; r++)); do
    d+=("$(time_of "$MLO" exp run -q --no-run-cache -S train.a=1,2,3,4 -S train.b=1,2 -j 2)")
done

# ---------------------------------------------------------------- report
m_a=$(median "${a_mlo[@]}")
m_as=$(median "${a_sql[@]}")
m_b=$(median "${b_mlo[@]}")
m_bs=$(median "${b_sql[@]}")
rate=$(awk -v s="$m_b" -v n="$ROWS" 'BEGIN { printf "%.0f", n / s }')
rate_sql=$(awk -v s="$m_bs" -v n="$ROWS" 'BEGIN { printf "%.0f", n / s }')
m_c=$(median "${c_all[@]}")
m_cl=$(median "${c_limit[@]}")
m_d=$(median "${d[@]}")
target_d=$(awk -v s="$STAGE_SECONDS" 'BEGIN { printf "%.2f", 4.6 * s }')
lt() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t) ? "yes" : "no" }'; }
ge() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "yes" : "no" }'; }
report() {
    echo "## Experiment tracking, $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM,"
    echo "$(. /etc/os-release && echo "$PRETTY_NAME"); mlo $("$MLO" --version | head -n 1); $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/sqlite3 /')."
    echo "\`bench/tracking.sh --calls $CALLS --rows $ROWS --runs-db $RUNS_DB --runs $RUNS\`; medians of $RUNS runs."
    echo
    echo "| measurement | mlo | floor: \`sqlite3\` CLI | target | met? |"
    echo "|---|---:|---:|---|---|"
    echo "| (a) one \`log metric\` call from a shell loop ($CALLS calls) | $m_a ms | $m_as ms | | |"
    echo "| (b) \`log metrics\` of $ROWS JSON lines | $m_b s = $rate rows/s | $m_bs s = $rate_sql rows/s | >= 500,000 rows/s | $(ge "$rate" 500000) |"
    echo "| (c) \`exp list --where … --sort …\` over $RUNS_DB runs, 20 params, 20 metrics, all matches as JSON | $m_c s | | < 0.3 s | $(lt "$m_c" 0.3) |"
    echo "| (c) the same, \`--limit 20\`, table | $m_cl s | | | |"
    echo "| (d) \`exp run\` of 8 combinations of a ${STAGE_SECONDS} s stage, \`-j 2\` | $m_d s | | < $target_d s | $(lt "$m_d" "$target_d") |"
    echo
    echo "(c) matched $expected runs: \`--where \"$WHERE\" --sort $SORT\`."
    echo "All runs: (a) mlo ${a_mlo[*]}, sqlite3 ${a_sql[*]}; (b) mlo ${b_mlo[*]}, sqlite3 ${b_sql[*]}; (c) ${c_all[*]}, limit ${c_limit[*]}; (d) ${d[*]}."
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
