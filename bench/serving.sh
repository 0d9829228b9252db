#!/usr/bin/env bash
# Model serving benchmark (issue 6): `mlo deploy` next to two Flask scoring servers run the way
# MLflow runs its classic scoring server (gunicorn, 1 sync worker; Flask's built-in threaded
# server when gunicorn is not installed), all serving the same model file.
#   - A churn table (20,000 rows, 8 numeric + 2 categorical features, binary target, a few
#     missing values) generated with a fixed seed; mlo's built-in logistic regression trained on
#     it, registered as churn and promoted to churn@champion.
#   - `mlo deploy churn@champion --port 0 --detach --json`, and bench/flask_server.py on the
#     registered version's object file, once per scoring mode, each its own gunicorn server:
#       Flask+pandas (MLflow-like), --mode mlflow: per request a pandas DataFrame from the JSON
#         body, the model's input schema enforced on it (astype), numpy scoring, as MLflow's
#         server does for a scikit-learn model. The 30x target is judged against this peer.
#       Flask plain Python, --mode python: bench/mlo_model.py on the parsed JSON, no DataFrame;
#         less work per request than MLflow, its ratio is printed for reference.
#     Without pandas for /usr/bin/python3 the MLflow-like peer is skipped (a log line) and the
#     target is judged against the plain-Python one.
#   - Checked once before timing: every server answers the 100-row body with the same
#     predictions, and those equal `mlo predict` on the same rows.
#   - The load generator and the servers get CPUs of their own (taskset): wrk the first half of
#     the CPUs, one thread per CPU; every server the other half. On 2 CPUs that is one each, so
#     the latency measured is the server's, not the time a server thread waited for wrk's.
#     --no-pin shares all CPUs (wrk -t min(connections, 2)), as runs before 2026-12-07 did.
#   - wrk POSTs a 1-row and a 100-row `dataframe_split` body to /invocations over 1, 16 and 64
#     connections for --duration seconds with --latency: requests/s,
#     p50, p99, errors (non-2xx/3xx responses and socket errors); peak memory (VmHWM) of each
#     server, summed over gunicorn's master and worker. Medians of --runs.
# Prints a markdown section for docs/benchmarks.md. Needs wrk and /usr/bin/python3 with Flask
# (Debian wrk, python3-flask; gunicorn and python3-pandas optional), curl.
#
#   bench/serving.sh [--duration S] [--runs N] [--no-pin] [--smoke] [--mlo PATH] [--out FILE]
#                    [--keep]
#
# --smoke: 1 s, 1 run, 1 and 16 connections, the 1-row body only.
# Exit status: 0 when every command behaved (a missed target is reported, not an error); 2 when
# a command failed, a server gave a wrong answer or an error (errors of the Flask servers at 64
# connections are only reported); 125 when a needed tool is missing; 130 interrupted.
set -Eeuo pipefail

DURATION=10
RUNS=3
SMOKE=0
PIN=1
MLO=
OUT=
KEEP=0
PY=/usr/bin/python3
ROWS=20000
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in bench/ from importing mlo_model.py
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
while [[ $# -gt 0 ]]; do
    case $1 in
        --duration) need_arg "$@"; DURATION=$2; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --no-pin) PIN=0; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
CONNS=(1 16 64)
BODIES=(1 100)
if [[ $SMOKE == 1 ]]; then
    DURATION=1
    RUNS=1
    CONNS=(1 16)
    BODIES=(1)
fi
for v in DURATION RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer, not '${!v}'"
done

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z $MLO ]]; then
    if [[ -x $here/../build/mlo ]]; then MLO=$here/../build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
command -v wrk >/dev/null || skip "wrk is not installed (apt-get install wrk)"
# CPUs for the client and for the servers (empty: no pinning).
CLIENT_CPUS= SERVER_CPUS= CLIENT_THREADS=2
NCPU=$(nproc)
if [[ $PIN == 1 && $NCPU -ge 2 ]] && command -v taskset >/dev/null; then
    half=$((NCPU / 2))
    CLIENT_CPUS=0 SERVER_CPUS=$half
    if ((half > 1)); then CLIENT_CPUS=0-$((half - 1)); fi
    if ((NCPU - half > 1)); then SERVER_CPUS=$half-$((NCPU - 1)); fi
    CLIENT_THREADS=$half
fi
# Command prefixes that pin to those CPUs (empty: run anywhere). An array, not a function, so
# that `$!` of a server started in the background is the server itself (taskset execs it).
CLIENT_ON=() SERVER_ON=()
if [[ -n $CLIENT_CPUS ]]; then CLIENT_ON=(taskset -c "$CLIENT_CPUS") SERVER_ON=(taskset -c "$SERVER_CPUS"); fi
command -v curl >/dev/null || skip "curl is not installed (apt-get install curl)"
[[ -x $PY ]] || skip "$PY does not exist (apt-get install python3 python3-flask)"
"$PY" -c 'import flask' 2>/dev/null || skip "$PY cannot import flask (apt-get install python3-flask)"
if "$PY" -c 'import gunicorn' 2>/dev/null; then
    FLASK_SERVER=gunicorn
else
    FLASK_SERVER=flask
    log "gunicorn is not installed for $PY (apt-get install gunicorn): using Flask's built-in threaded server"
fi
# The Flask peers (bench/flask_server.py --mode), the one the target is judged against first.
if "$PY" -c 'import pandas, numpy' 2>/dev/null; then
    FLASK_MODES=(mlflow python)
else
    FLASK_MODES=(python)
    log "$PY cannot import pandas (apt-get install python3-pandas): skipping the Flask+pandas (MLflow-like) peer"
fi
SIDES=(mlo "${FLASK_MODES[@]}")
# A side's name in the report.
name_of() {
    case $1 in
        mlo) echo "mlo" ;;
        mlflow) echo "Flask+pandas (MLflow-like)" ;;
        python) echo "Flask plain Python" ;;
    esac
}
"$MLO" deploy --help >/dev/null 2>&1 || die "$MLO has no 'deploy' command"

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-serving.XXXXXX")
P=$W/project
DEP_ID=
MLO_PID=
declare -A FLASK_PID=() URL=()
# Whether process $1 exists and is not a zombie (an exited server waits for init to reap it).
alive() {
    local state
    state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true)
    [[ -n $state && $state != Z ]]
}
# Stops all servers; returns 1 when `mlo deployments stop` failed (the server is then killed).
stop_servers() {
    local rc=0 i mode
    if [[ -n $DEP_ID ]]; then
        if ! (cd "$P" && "$MLO" -q deployments stop "$DEP_ID" >/dev/null 2>"$W/stop.err"); then
            rc=1
            log "mlo deployments stop $DEP_ID failed: $(tail -n 3 "$W/stop.err")"
            if [[ -n $MLO_PID ]] && kill -0 "$MLO_PID" 2>/dev/null; then
                log "sending SIGTERM, then SIGKILL, to the mlo server (pid $MLO_PID)"
                kill -TERM "$MLO_PID" 2>/dev/null || true
                for ((i = 0; i < 50; i++)); do
                    alive "$MLO_PID" || break
                    sleep 0.1
                done
                if alive "$MLO_PID"; then kill -KILL "$MLO_PID" 2>/dev/null || true; fi
            fi
        fi
        DEP_ID=
    fi
    for mode in "${!FLASK_PID[@]}"; do
        kill -TERM "${FLASK_PID[$mode]}" 2>/dev/null || true
        wait "${FLASK_PID[$mode]}" 2>/dev/null || true
        unset "FLASK_PID[$mode]"
    done
    return "$rc"
}
cleanup() {
    local rc=$?
    trap - ERR
    stop_servers || true
    if [[ $KEEP == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'die "line $LINENO: a command failed (exit $?)"' ERR

# ---------------------------------------------------------------- data, model, registry
mkdir -p "$P/data" && cd "$P"
log "generating $ROWS training rows and the request bodies"
"$PY" - "$ROWS" "$W" <<'PY'
import json, math, random, sys
n, w = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(20261128)
plans = ["basic", "plus", "pro", "team", "enterprise"]
regions = ["north", "south", "east", "west", "centre", "islands", "coast", "mountains"]
region_effect = [rnd.gauss(0, 0.5) for _ in regions]
num = ["tenure_months", "monthly_charges", "total_charges", "age", "support_calls", "logins_per_week",
       "open_tickets", "discount_pct"]
columns = num + ["plan", "region"]
def row():
    tenure = rnd.uniform(0, 72)
    monthly = rnd.gauss(65, 20)
    x = [tenure, monthly, tenure * monthly + rnd.gauss(0, 50), rnd.uniform(18, 80), rnd.expovariate(0.5),
         rnd.gauss(5, 2), rnd.randint(0, 4), rnd.choice([0, 0, 0, 5, 10, 15])]
    p, r = rnd.randrange(len(plans)), rnd.randrange(len(regions))
    z = (-0.05 * x[0] + 0.02 * (x[1] - 65) + 0.4 * x[4] - 0.1 * x[5] + 0.3 * x[6] - 0.03 * x[7]
         + [0.6, 0.2, -0.2, -0.5, -0.8][p] + region_effect[r])
    y = 1 if rnd.random() < 1 / (1 + math.exp(-z)) else 0
    vals = [round(v, 2) for v in x] + [plans[p], regions[r]]
    for k in range(len(vals)):          # about 1% missing values in every column
        if rnd.random() < 0.01:
            vals[k] = None
    return vals, y
def text(v):
    return "" if v is None else str(v)
with open("data/train.csv", "w") as f:
    f.write(",".join(columns + ["churned"]) + "\n")
    for _ in range(n):
        vals, y = row()
        f.write(",".join(map(text, vals)) + ",%d\n" % y)
# Request rows: fresh rows from the same distribution; one has a plan mlo never saw.
req = [row()[0] for _ in range(100)]
req[7][columns.index("plan")] = "platinum"
req[0][columns.index("tenure_months")] = None
for k in (1, 100):
    with open("%s/body%d.json" % (w, k), "w") as f:
        json.dump({"dataframe_split": {"columns": columns, "data": req[:k]}}, f)
with open("%s/rows100.csv" % w, "w") as f:
    f.write(",".join(columns) + "\n")
    for vals in req:
        f.write(",".join(map(text, vals)) + "\n")
PY
"$MLO" init -q >/dev/null
cat >mlo.yaml <<'YAML'
stages:
  train:
    builtin: {learner: logistic_regression, data: data/train.csv, target: churned}
    outs: [models/churn.json]
YAML
log "training and registering churn@champion"
"$MLO" repro -q >"$W/repro.out" 2>&1 || { cat "$W/repro.out" >&2; die "mlo repro failed"; }
"$MLO" -q model register churn models/churn.json >/dev/null || die "mlo model register failed"
"$MLO" -q model promote churn 1 >/dev/null || die "mlo model promote failed"
object=$("$MLO" --json model show churn@champion |
    "$PY" -c 'import json, sys; print(json.load(sys.stdin)["object"])') || die "mlo model show failed"
MODEL=$P/.mlo/objects/${object:0:2}/${object:2}
[[ -f $MODEL ]] || die "the registered model's object $MODEL does not exist"
[[ $(sha256sum "$MODEL" | cut -d' ' -f1) == "$object" ]] || die "the object $MODEL does not hash to its name"
"$MLO" predict churn@champion --data "$W/rows100.csv" --out "$W/expected.csv" >/dev/null 2>"$W/predict.err" ||
    { cat "$W/predict.err" >&2; die "mlo predict failed"; }

# ---------------------------------------------------------------- servers
wait_ping() { # URL PID NAME LOGFILE
    local i
    for ((i = 0; i < 300; i++)); do
        curl -sf -o /dev/null "$1/ping" && return 0
        alive "$2" || { tail -n 20 "$4" >&2; die "$3 exited before answering /ping"; }
        sleep 0.1
    done
    tail -n 20 "$4" >&2
    die "$3 did not answer $1/ping within 30 s"
}
log "starting mlo deploy"
"${SERVER_ON[@]}" "$MLO" deploy churn@champion --port 0 --detach --json >"$W/deploy.json" 2>"$W/deploy.err" || {
    cat "$W/deploy.err" >&2
    die "mlo deploy failed"
}
read -r DEP_ID MLO_PORT MLO_PID < <("$PY" -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
if len(lines) != 1:
    sys.exit("expected one JSON line from mlo deploy --detach --json, got %d" % len(lines))
d = json.loads(lines[0])
print(d["id"], d["port"], d["pid"])' "$W/deploy.json") || die "cannot read mlo deploy's JSON line: $(cat "$W/deploy.json")"
URL[mlo]=http://127.0.0.1:$MLO_PORT
wait_ping "${URL[mlo]}" "$MLO_PID" "mlo deploy" "$W/deploy.err"

for mode in "${FLASK_MODES[@]}"; do
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log "starting the Flask server ($FLASK_SERVER, --mode $mode) on port $port"
    "${SERVER_ON[@]}" "$PY" "$here/flask_server.py" "$MODEL" --mode "$mode" --host 127.0.0.1 \
        --port "$port" --server "$FLASK_SERVER" >"$W/flask-$mode.log" 2>&1 &
    FLASK_PID[$mode]=$!
    URL[$mode]=http://127.0.0.1:$port
    wait_ping "${URL[$mode]}" "${FLASK_PID[$mode]}" "the Flask server (--mode $mode)" "$W/flask-$mode.log"
done

# ---------------------------------------------------------------- same answers
post() { # URL BODYFILE OUTFILE -> HTTP status on stdout
    curl -s -o "$3" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "@$2" "$1/invocations"
}
for k in "${BODIES[@]}" 100; do
    for side in "${SIDES[@]}"; do
        code=$(post "${URL[$side]}" "$W/body$k.json" "$W/answer-$side-$k.json") || die "POST to $(name_of "$side") failed"
        [[ $code == 200 ]] ||
            die "$(name_of "$side") answered the $k-row body with HTTP $code: $(head -c 300 "$W/answer-$side-$k.json")"
    done
done
answers=()
for side in "${SIDES[@]}"; do answers+=("$(name_of "$side")" "$W/answer-$side-100.json"); done
"$PY" - "$W/expected.csv" "${answers[@]}" <<'PY' || die "the servers' answers differ (see above)"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
expected = [json.loads(r[0]) for r in rows]
problems = []
for name, path in zip(sys.argv[2::2], sys.argv[3::2]):
    got = json.load(open(path))
    p = got.get("predictions") if isinstance(got, dict) else None
    if not isinstance(p, list) or len(p) != 100:
        problems.append("%s: no list of 100 predictions: %.200s" % (name, json.dumps(got)))
    elif p != expected:
        bad = [i for i in range(100) if p[i] != expected[i]]
        problems.append("%s differs from `mlo predict` in %d rows (first: row %d, %r vs %r)"
                        % (name, len(bad), bad[0] + 1, p[bad[0]], expected[bad[0]]))
    elif any(type(a) is not type(b) for a, b in zip(p, expected)):
        problems.append("%s: predictions typed %s, expected %s" % (name, type(p[0]).__name__, type(expected[0]).__name__))
if problems:
    sys.exit("\n".join(problems))
PY
log "all servers answer the 100-row body like mlo predict"

# ---------------------------------------------------------------- wrk
for k in "${BODIES[@]}"; do
    cat >"$W/post$k.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$W/body$k.json", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
done
# wrk's output -> "requests/s p50_ms p99_ms non2xx socket_errors"
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
        if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
        if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
        if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
        if (v ~ /h$/) return substr(v, 1, length(v) - 1) * 3600000
        return -1
    }
    /^ *50% / { p50 = ms($2) }
    /^ *99% / { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
    END {
        if (rps == "") exit 1
        printf "%s %.4f %.4f %d %d\n", rps, (p50 == "" ? -1 : p50), (p99 == "" ? -1 : p99), non2xx, sock
    }'
}
: >"$W/results.txt"
for ((run = 1; run <= RUNS; run++)); do
    for k in "${BODIES[@]}"; do
        for c in "${CONNS[@]}"; do
            for side in "${SIDES[@]}"; do
                log "run $run/$RUNS: $(name_of "$side"), $k-row body, $c connections, ${DURATION} s"
                "${CLIENT_ON[@]}" wrk -t "$((c < CLIENT_THREADS ? c : CLIENT_THREADS))" -c "$c" \
                    -d "${DURATION}s" --latency -s "$W/post$k.lua" "${URL[$side]}/invocations" \
                    >"$W/wrk.out" 2>&1 || { cat "$W/wrk.out" >&2; die "wrk failed"; }
                line=$(parse_wrk <"$W/wrk.out") || { cat "$W/wrk.out" >&2; die "cannot read wrk's output"; }
                echo "$side $k $c $run $line" >>"$W/results.txt"
                cp "$W/wrk.out" "$W/wrk-$side-$k-$c-$run.out"
            done
        done
    done
done

# ---------------------------------------------------------------- memory
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A KIB=() PROCS=()
KIB[mlo]=$(hwm "$MLO_PID")
PROCS[mlo]=1
alive "$MLO_PID" || die "the mlo server (pid $MLO_PID) is gone after the runs"
for mode in "${FLASK_MODES[@]}"; do
    pid=${FLASK_PID[$mode]}
    KIB[$mode]=$(hwm "$pid")
    PROCS[$mode]=1
    for child in $(pgrep -P "$pid" || true); do
        KIB[$mode]=$((KIB[$mode] + $(hwm "$child")))
        PROCS[$mode]=$((PROCS[$mode] + 1))
    done
    alive "$pid" || die "the Flask server (--mode $mode, pid $pid) is gone after the runs"
done
STOP_FAILED=0
stop_servers || STOP_FAILED=1
# What mlo's prediction log recorded (written on by default), once the server has flushed it.
mlo_log_lines=0
mlo_log_mb=0
if [[ -d $P/.mlo/logs ]]; then
    mlo_log_lines=$(find "$P/.mlo/logs" -type f -name '*.jsonl' -exec cat {} + | wc -l)
    mlo_log_mb=$(du -sm "$P/.mlo/logs" | cut -f1)
fi

# ---------------------------------------------------------------- report
# Median of column $2 (1-based, of the wrk fields) for side $1 body $3 connections $4.
med() {
    awk -v s="$1" -v k="$3" -v c="$4" -v f="$2" '$1 == s && $2 == k && $3 == c { print $(4 + f) }' "$W/results.txt" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
errs() { awk -v s="$1" -v k="$2" -v c="$3" '$1 == s && $2 == k && $3 == c { n += $8 + $9 } END { print n + 0 }' "$W/results.txt"; }
runs_of() { awk -v s="$1" -v k="$2" -v c="$3" '$1 == s && $2 == k && $3 == c { printf "%s%.0f", (n++ ? " " : ""), $5 }' "$W/results.txt"; }
fmt_rps() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v < 0) print "n/a"; else if (v < 10) printf "%.2f ms", v; else printf "%.1f ms", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
yes_no() { if [[ $1 == 1 ]]; then echo yes; else echo "**no**"; fi; }

# Errors per side, summed over the runs: below 64 connections (any is a failure) and at 64
# connections (the Flask servers' are only reported).
declare -A ERRS=() ERRS64=()
for side in "${SIDES[@]}"; do
    ERRS[$side]=0
    ERRS64[$side]=0
    for k in "${BODIES[@]}"; do
        for c in "${CONNS[@]}"; do
            if [[ $c == 64 && $side != mlo ]]; then
                ERRS64[$side]=$((ERRS64[$side] + $(errs "$side" "$k" "$c")))
            else
                ERRS[$side]=$((ERRS[$side] + $(errs "$side" "$k" "$c")))
            fi
        done
    done
done
# The peer the 30x target is judged against: the MLflow-like one, when pandas was there.
JUDGE=${FLASK_MODES[0]}
if [[ $FLASK_SERVER == gunicorn ]]; then
    flask_desc="gunicorn $("$PY" -c 'import importlib.metadata as m; print(m.version("gunicorn"))') with 1 sync worker and \`--timeout=60\` (MLflow's defaults for \`mlflow models serve\`)"
else
    flask_desc="Flask's built-in threaded server (gunicorn is not installed for $PY)"
fi
# "a / b / c" of $1 applied to each side in $2...
each() {
    local f=$1 out='' side
    shift
    for side in "$@"; do out+="${out:+ / }$("$f" "$side")"; done
    echo "$out"
}
rows_name() { echo "$1 row$([[ $1 == 1 ]] || echo s)"; }
# Errors of side $1 in the table cell of report()'s current body $k and connections $c.
cell_errs() { errs "$1" "$k" "$c"; }
pin_note() {
    if [[ -n $CLIENT_CPUS ]]; then
        printf '%s' "The client and the servers run on CPUs of their own (taskset): wrk on CPU(s)" \
            " $CLIENT_CPUS with $CLIENT_THREADS thread(s), every server on CPU(s) $SERVER_CPUS" \
            " (with its log writer and the kernel's work for it), so a latency is the server's," \
            " not the time it waited for the load generator's threads to leave its CPU."
    else
        printf '%s' "wrk runs on the same CPUs as the servers (\`-t min(connections, 2)\`)."
    fi
}

report() {
    local k c side cells head sep r
    echo "## Model serving, $(date -u +%Y-%m-%d)"
    echo
    # shellcheck source=/dev/null
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "$(. /etc/os-release && echo "$PRETTY_NAME"); mlo $("$MLO" --version | head -n 1);" \
        "$({ wrk -v 2>&1 || true; } | head -n 1 | awk '{ print $1, $2 }');" \
        "Python $("$PY" -c 'import platform; print(platform.python_version())'), Flask $("$PY" -c 'import importlib.metadata as m; print(m.version("flask"))')$(
            [[ $JUDGE == mlflow ]] && "$PY" -c 'import numpy, pandas; print(", pandas %s, numpy %s" % (pandas.__version__, numpy.__version__), end="")')."
    echo "\`bench/serving.sh --duration $DURATION --runs $RUNS$([[ $SMOKE == 1 ]] && echo " --smoke")\`; medians of $RUNS runs."
    echo
    echo "Method: mlo's built-in logistic regression trained on $ROWS rows (8 numeric + 2 categorical" \
        "features), registered as \`churn@champion\`, served by \`mlo deploy churn@champion --port 0 --detach\`" \
        "(default options) and by bench/flask_server.py on the same model file: a Flask app answering" \
        "MLflow's \`/invocations\` protocol, run by $flask_desc, one server per scoring mode:"
    echo
    if [[ $JUDGE == mlflow ]]; then
        echo "- *Flask+pandas (MLflow-like)*, \`--mode mlflow\`, does per request what MLflow's classic" \
            "scoring server does for a scikit-learn model: a pandas DataFrame from the JSON body, the" \
            "model's input schema enforced with \`astype\`, numpy scoring on whole columns, \`json.dumps\`" \
            "of the predictions. It builds no MLflow signature objects, runs no scikit-learn Pipeline" \
            "and uses no MLflow JSON encoder, so it is still somewhat lighter than MLflow itself. The" \
            "30× target is judged against it."
    else
        echo "- *Flask+pandas (MLflow-like)* was skipped: $PY cannot import pandas" \
            "(apt-get install python3-pandas), so the 30× target is judged against the plain-Python peer."
    fi
    echo "- *Flask plain Python*, \`--mode python\`, scores with bench/mlo_model.py and builds no" \
        "DataFrame: less work per request than MLflow$([[ $JUDGE == mlflow ]] && echo "; its ratio is shown for reference")."
    echo
    echo "Before timing, every server's predictions for the 100-row body were checked equal to" \
        "\`mlo predict\`'s. $(pin_note) wrk POSTs a" \
        "\`dataframe_split\` JSON body ($(stat -c %s "$W/body1.json") bytes for 1 row," \
        "$(stat -c %s "$W/body100.json") bytes for 100 rows) to /invocations for $DURATION s per" \
        "cell. Errors are non-2xx/3xx responses plus socket errors, summed over the runs."
    echo
    head="| body | connections"
    sep="|---|---:"
    for side in "${SIDES[@]}"; do head+=" | $(name_of "$side") requests/s"; sep+="|---:"; done
    for side in "${FLASK_MODES[@]}"; do head+=" | mlo / $(name_of "$side")"; sep+="|---:"; done
    for side in "${SIDES[@]}"; do head+=" | $(name_of "$side") p50 / p99"; sep+="|---:"; done
    echo "$head | errors $(each name_of "${SIDES[@]}") |"
    echo "$sep|---|"
    for k in "${BODIES[@]}"; do
        for c in "${CONNS[@]}"; do
            cells="| $(rows_name "$k") | $c"
            for side in "${SIDES[@]}"; do cells+=" | $(fmt_rps "$(med "$side" 1 "$k" "$c")")"; done
            for side in "${FLASK_MODES[@]}"; do
                cells+=" | $(ratio "$(med mlo 1 "$k" "$c")" "$(med "$side" 1 "$k" "$c")")×"
            done
            for side in "${SIDES[@]}"; do
                cells+=" | $(fmt_ms "$(med "$side" 2 "$k" "$c")") / $(fmt_ms "$(med "$side" 3 "$k" "$c")")"
            done
            echo "$cells | $(each cell_errs "${SIDES[@]}") |"
        done
    done
    echo
    cells="Peak memory (VmHWM) after all runs: mlo $((KIB[mlo] / 1024)) MiB (one process)"
    for side in "${FLASK_MODES[@]}"; do
        cells+="; $(name_of "$side") $((KIB[$side] / 1024)) MiB (${PROCS[$side]} processes$([[ $FLASK_SERVER == gunicorn ]] && echo ": gunicorn master + worker"))"
    done
    echo "$cells. mlo's prediction log (on by default) holds $mlo_log_lines lines, $mlo_log_mb MB."
    echo
    echo "| target | measured | met? |"
    echo "|---|---|---|"
    for k in "${BODIES[@]}"; do
        r=$(ratio "$(med mlo 1 "$k" 16)" "$(med "$JUDGE" 1 "$k" 16)")
        echo "| >= 30x $(name_of "$JUDGE")'s requests/s at 16 connections, $(rows_name "$k") | ${r}× | $(yes_no "$(awk -v r="$r" 'BEGIN { print (r + 0 >= 30) ? 1 : 0 }')") |"
        for side in "${FLASK_MODES[@]:1}"; do
            r=$(ratio "$(med mlo 1 "$k" 16)" "$(med "$side" 1 "$k" 16)")
            echo "| (for reference) mlo / $(name_of "$side") at 16 connections, $(rows_name "$k") | ${r}× | not judged |"
        done
    done
    r=$(med mlo 3 1 16)
    echo "| p99 < 2 ms at 16 connections for one row | $(fmt_ms "$r") | $(yes_no "$(awk -v v="$r" 'BEGIN { print (v >= 0 && v < 2) ? 1 : 0 }')") |"
    cells=
    local ok=1
    for side in "${SIDES[@]}"; do
        cells+="${cells:+, }$(name_of "$side") ${ERRS[$side]}"
        [[ ${ERRS[$side]} == 0 ]] || ok=0
    done
    if [[ " ${CONNS[*]} " == *" 64 "* ]]; then
        cells+=" (at 64 connections, reported only:"
        sep=" "
        for side in "${FLASK_MODES[@]}"; do
            cells+="$sep$(name_of "$side") ${ERRS64[$side]}"
            sep=", "
        done
        cells+=")"
    fi
    echo "| no errors | $cells | $(yes_no "$ok") |"
    echo
    local all=() line
    for k in "${BODIES[@]}"; do
        for c in "${CONNS[@]}"; do
            line="$k row(s) x $c connections:"
            for side in "${SIDES[@]}"; do line+="$([[ $side == mlo ]] || echo ",") $(name_of "$side") $(runs_of "$side" "$k" "$c")"; done
            all+=("$line")
        done
    done
    local IFS=';'
    echo "All runs, requests/s: ${all[*]}." | sed 's/;/; /g'
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
failed=
for side in "${SIDES[@]}"; do
    [[ ${ERRS[$side]} == 0 ]] || failed+="${failed:+, }$(name_of "$side") ${ERRS[$side]}"
done
[[ -z $failed ]] || die "errors during the timed runs: $failed (the Flask servers' below 64 connections)"
[[ $STOP_FAILED == 0 ]] || die "mlo deployments stop failed (the server was killed; see above)"
