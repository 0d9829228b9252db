#!/usr/bin/env bash
# Built-in learner benchmark (issue 4): ROWS rows x 20 numeric + 2 categorical columns (5 and 8
# levels) and a binary target drawn from a logistic model, generated with a fixed seed; the
# last 20% is the scoring set. Side by side in one run (medians of --runs):
#   - CSV read throughput: mlo's reader (the "read" line of a built-in training stage) next to
#     pandas.read_csv (when python3-pandas is installed) and numpy.loadtxt (smoke sizes only:
#     it is too slow for the full size);
#   - logistic regression training time: mlo's L-BFGS (the solver's own timing, and the whole
#     `mlo repro` of the stage) next to scikit-learn LogisticRegression(solver="lbfgs") fit()
#     on the same standardised + one-hot design, with the same regularisation (C = 1 / l2),
#     at sklearn's default tol and mlo's default tol; held-out accuracy of both;
#   - peak memory (max RSS) of the mlo training process and of the Python process;
#   - `mlo predict` rows/s end to end (read, score, write CSV) next to sklearn predict_proba on
#     the in-memory matrix.
# Prints a markdown section for docs/benchmarks.md. Needs /usr/bin/python3 with numpy and
# scikit-learn (Debian python3-numpy, python3-sklearn); pandas is optional.
#
#   bench/learners.sh [--rows N] [--runs N] [--l2 X] [--smoke] [--mlo PATH] [--out FILE] [--keep]
#
# Exit status: 0 when every command behaved (a missed target is reported, not an error); 2 when
# a command failed or gave a wrong answer; 125 when a needed tool is missing; 130 interrupted.
set -Eeuo pipefail

ROWS=1000000
RUNS=3
L2=1.0
SMOKE=0
MLO=
OUT=
KEEP=0
PY=/usr/bin/python3
# shellcheck source=bench/lib.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.bash"
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) need_arg "$@"; ROWS=$2; shift 2 ;;
        --runs) need_arg "$@"; RUNS=$2; shift 2 ;;
        --l2) need_arg "$@"; L2=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --mlo) need_arg "$@"; MLO=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
if [[ $SMOKE == 1 ]]; then
    ROWS=5000
    RUNS=1
fi
for v in ROWS RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer, not '${!v}'"
done

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z $MLO ]]; then
    if [[ -x $here/../build/mlo ]]; then MLO=$here/../build/mlo; else MLO=$(command -v mlo || true); fi
fi
[[ -n $MLO && -x $MLO ]] || die "no mlo binary (build it, or pass --mlo PATH)"
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
if ! "$PY" -c 'import numpy, sklearn' 2>/dev/null; then
    echo "bench: skipped: $PY cannot import numpy and sklearn (apt-get install python3-sklearn)" >&2
    exit 125
fi
HAVE_PANDAS=0
"$PY" -c 'import pandas' 2>/dev/null && HAVE_PANDAS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-learners.XXXXXX")
cleanup() { if [[ $KEEP == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$work"

log "generating $ROWS rows"
"$PY" - "$ROWS" <<'PY'
import sys
import numpy as np
n = int(sys.argv[1])
rng = np.random.default_rng(20261127)
X = rng.normal(size=(n, 20)) * rng.uniform(0.5, 3, size=20) + rng.uniform(-2, 2, size=20)
c1 = rng.integers(0, 5, size=n)
c2 = rng.integers(0, 8, size=n)
w = rng.normal(size=20) / 2
z = ((X - X.mean(0)) / X.std(0)) @ w + np.array([-1, 0, 0.5, 1, 2])[c1] + rng.normal(size=8)[c2] * 0.5
y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
cut = n - n // 5
header = ",".join(["x%d" % i for i in range(20)] + ["plan", "region", "label"])
lv1 = np.array(["basic", "plus", "pro", "team", "enterprise"])
lv2 = np.array(["r%d" % i for i in range(8)])
for name, rows in (("train.csv", slice(0, cut)), ("test.csv", slice(cut, n))):
    with open(name, "w") as f:
        f.write(header + "\n")
        num = np.char.mod("%.6g", X[rows])
        lines = [",".join(r) for r in num]
        for line, a, b, t in zip(lines, lv1[c1[rows]], lv2[c2[rows]], y[rows]):
            f.write("%s,%s,%s,%d\n" % (line, a, b, t))
PY
train_mb=$(awk -v b="$(stat -c %s train.csv)" 'BEGIN { printf "%.1f", b / 1e6 }')
test_rows=$(($(wc -l <test.csv) - 1))
log "train.csv: $train_mb MB; test.csv: $test_rows rows"

# Runs a command, prints "<seconds> <max RSS KiB of it and its children>"; output to files.
measure() {
    "$PY" - "$@" <<'PY'
import resource, subprocess, sys, time
t0 = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=open("cmd.out", "w"), stderr=open("cmd.err", "w"))
t = time.perf_counter() - t0
if r.returncode != 0:
    sys.stderr.write(open("cmd.err").read())
    sys.exit("command failed with exit code %d: %s" % (r.returncode, " ".join(sys.argv[1:])))
print("%.4f %d" % (t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
}
median_lines() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- mlo: a one-stage pipeline with the built-in learner, then evaluate and predict.
"$MLO" init -q >/dev/null
cat >mlo.yaml <<YAML
stages:
  train:
    builtin: {learner: logistic_regression, data: train.csv, target: label, l2: $L2}
    outs: [model.json]
  evaluate:
    builtin: {evaluate: model.json, data: test.csv}
    metrics: [metrics.json]
YAML
: >mlo_read.txt
: >mlo_fit.txt
: >mlo_wall.txt
: >mlo_rss.txt
: >mlo_predict.txt
for ((i = 1; i <= RUNS; i++)); do
    log "mlo run $i/$RUNS"
    read -r wall rss < <(measure "$MLO" repro --force --no-run-cache train) || die "mlo repro failed"
    read_s=$(sed -n 's/.*\[train\] read train.csv: .* in \([0-9.]*\) s$/\1/p' cmd.out)
    fit_s=$(sed -n 's/.*\[train\] L-BFGS .* in \([0-9.]*\) s$/\1/p' cmd.out)
    [[ -n $read_s && -n $fit_s ]] || die "cannot find mlo's timing lines in: $(cat cmd.out)"
    iters=$(sed -n 's/.*after \([0-9]*\) iterations.*/\1/p' cmd.out)
    echo "$read_s" >>mlo_read.txt
    echo "$fit_s" >>mlo_fit.txt
    echo "$wall" >>mlo_wall.txt
    echo "$rss" >>mlo_rss.txt
    read -r pwall _ < <(measure "$MLO" predict model.json --data test.csv --proba --out pred.csv) ||
        die "mlo predict failed"
    echo "$pwall" >>mlo_predict.txt
done
"$MLO" repro evaluate -q >/dev/null || die "mlo evaluate failed"
mlo_acc=$("$PY" -c 'import json; print("%.4f" % json.load(open("metrics.json"))["accuracy"])')
[[ $(($(wc -l <pred.csv) - 1)) == "$test_rows" ]] || die "mlo predict wrote the wrong number of rows"

# --- Python: pandas / numpy reading, sklearn training and predict_proba.
log "scikit-learn runs"
"$PY" - "$RUNS" "$L2" "$HAVE_PANDAS" "$SMOKE" >py.txt <<'PY'
import resource, statistics, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
runs, l2, have_pandas, smoke = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
out = {}
def timed(f):
    t0 = time.perf_counter(); r = f(); return time.perf_counter() - t0, r
if have_pandas:
    import pandas as pd
    out["pandas_read"] = statistics.median(timed(lambda: pd.read_csv("train.csv"))[0] for _ in range(runs))
if smoke:
    out["loadtxt_read"] = timed(lambda: np.loadtxt("train.csv", delimiter=",", skiprows=1, usecols=range(20)))[0]
def load(name):
    if have_pandas:
        df = pd.read_csv(name)
        return df[["x%d" % i for i in range(20)]].to_numpy(float), df["plan"].to_numpy(str), df["region"].to_numpy(str), df["label"].to_numpy(int)
    num = np.loadtxt(name, delimiter=",", skiprows=1, usecols=range(20))
    cat = np.loadtxt(name, delimiter=",", skiprows=1, usecols=(20, 21, 22), dtype=str)
    return num, cat[:, 0], cat[:, 1], cat[:, 2].astype(int)
Xn, p, r, y = load("train.csv")
mean, std = Xn.mean(0), Xn.std(0)
plans, regions = np.unique(p), np.unique(r)
def design(Xn, p, r):
    return np.hstack([(Xn - mean) / std, (p[:, None] == plans).astype(float), (r[:, None] == regions).astype(float)])
out["design"] = statistics.median(timed(lambda: design(Xn, p, r))[0] for _ in range(runs))
X = design(Xn, p, r)
Tn, tp, tr, ty = load("test.csv")
T = design(Tn, tp, tr)
for label, tol in (("default", 1e-4), ("tight", 1e-8)):
    times = []
    for _ in range(runs):
        clf = LogisticRegression(solver="lbfgs", C=1.0 / l2, tol=tol, max_iter=10000)
        t, _ = timed(lambda: clf.fit(X, y))
        times.append(t)
    out["fit_" + label] = statistics.median(times)
    out["iter_" + label] = int(clf.n_iter_[0])
    out["acc_" + label] = float((clf.predict(T) == ty).mean())
out["predict"] = statistics.median(timed(lambda: clf.predict_proba(T))[0] for _ in range(runs))
out["rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for k, v in out.items():
    print(k, v)
PY
py() { awk -v k="$1" '$1 == k { print $2 }' py.txt; }

m_read=$(median_lines <mlo_read.txt)
m_fit=$(median_lines <mlo_fit.txt)
m_wall=$(median_lines <mlo_wall.txt)
m_rss=$(sort -g mlo_rss.txt | tail -1)
m_pred=$(median_lines <mlo_predict.txt)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }
mbs() { awk -v mb="$train_mb" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", mb / s; else print "n/a" }'; }
rows_s() { awk -v n="$test_rows" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

verdict() { awk -v ok="$1" 'BEGIN { print (ok == 1 ? "yes" : "**no**") }'; }
faster() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > 0 && a < b) ? 1 : 0 }'; }
report() {
    echo "### Built-in learners: $ROWS rows x 22 columns (bench/learners.sh)"
    echo
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo);" \
        "$("$PY" -c 'import sklearn, numpy; print("scikit-learn", sklearn.__version__, "numpy", numpy.__version__)')." \
        "Medians of $RUNS runs; l2 = $L2 (sklearn C = 1/l2). train.csv is $train_mb MB."
    echo
    echo "| Measurement | mlo | Peer | Peer / mlo |"
    echo "|---|---|---|---|"
    if [[ $HAVE_PANDAS == 1 ]]; then
        echo "| CSV read, train.csv | $m_read s ($(mbs "$m_read") MB/s) | pandas.read_csv $(printf '%.3f' "$(py pandas_read)") s ($(mbs "$(py pandas_read)") MB/s) | $(ratio "$m_read" "$(py pandas_read)")× |"
    else
        echo "| CSV read, train.csv | $m_read s ($(mbs "$m_read") MB/s) | pandas not installed | |"
    fi
    if [[ $SMOKE == 1 ]]; then
        echo "| CSV read (numeric columns) | | numpy.loadtxt $(printf '%.3f' "$(py loadtxt_read)") s | |"
    fi
    sk_total=$(awk -v a="$(py design)" -v b="$(py fit_default)" 'BEGIN { printf "%.3f", a + b }')
    echo "| Training: mlo preprocessing + L-BFGS; sklearn standardise + one-hot (numpy) + fit | $m_fit s ($(head -1 <<<"$iters") iterations, default tol 1e-6) | $sk_total s (design $(printf '%.3f' "$(py design)") s + fit, tol 1e-4, $(py iter_default) it.) | $(ratio "$m_fit" "$sk_total")× |"
    echo "| Training, sklearn fit() alone on the prebuilt design | | tol 1e-4: $(printf '%.3f' "$(py fit_default)") s; tol 1e-8: $(printf '%.3f' "$(py fit_tight)") s ($(py iter_tight) it.) | $(ratio "$m_fit" "$(py fit_default)")× |"
    echo "| Training, whole \`mlo repro\` (read + fit + store) | $m_wall s | | |"
    echo "| Held-out accuracy | $mlo_acc | $(printf '%.4f' "$(py acc_tight)") | |"
    echo "| Peak memory (max RSS) | $((m_rss / 1024)) MiB (training process) | $(($(py rss_kib) / 1024)) MiB (Python: data, design, fits) | |"
    echo "| Scoring $test_rows rows | \`mlo predict --proba\` end to end: $m_pred s ($(rows_s "$m_pred") rows/s) | predict_proba in memory: $(printf '%.3f' "$(py predict)") s ($(rows_s "$(py predict)") rows/s) | |"
    echo
    echo "Targets: training faster than sklearn (preprocessing + fit): $(verdict "$(faster "$m_fit" "$sk_total")");" \
        "CSV reading faster than pandas.read_csv: $(if [[ $HAVE_PANDAS == 1 ]]; then verdict "$(faster "$m_read" "$(py pandas_read)")"; else echo "pandas not installed"; fi)."
    echo "All runs: mlo read $(paste -sd' ' mlo_read.txt); fit $(paste -sd' ' mlo_fit.txt); repro $(paste -sd' ' mlo_wall.txt); predict $(paste -sd' ' mlo_predict.txt)."
}
if [[ -n $OUT ]]; then report >"$OUT"; log "wrote $OUT"; else report; fi
