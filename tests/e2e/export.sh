#!/usr/bin/env bash
# `mlo export --format c` (issue 6): a registered built-in model written as C99 source, compiled
# with warnings as errors, scores 1,000 rows exactly as `mlo predict` does and exactly as the
# model deployed with `mlo deploy` answers over HTTP (classes and probabilities of a logistic
# regression, values of a linear regression; rows with missing values and unseen categories);
# bad input exits 2 with one line and writes nothing.
#
#   MLO=build/mlo bash tests/e2e/export.sh
source "$(dirname "$0")/lib.bash"
require_tools cc cmp

CLIENT=$(cd "$(dirname "$0")" && pwd)/fixtures/http_client.py

CFLAGS=(-std=c99 -Wall -Wextra -pedantic -Werror -O2)

# churn.csv: 1,000 customers with numeric, boolean and categorical columns (some values missing,
# some categories quoted because they hold a comma) and a binary target.
make_data() {
    python3 - <<'PY'
import math, random
r = random.Random(6)
plans = ["basic", "pro", "team", '"pro, annual"']
regions = ["north", "south", "east", "west", "", "NA"]
with open("churn.csv", "w") as f:
    f.write("customer,tenure,monthly,plan,region,autopay,calls,churned\n")
    for i in range(1000):
        tenure = r.randint(0, 72)
        monthly = round(r.uniform(10, 120), 2)
        plan = r.choice(plans)
        region = r.choice(regions)
        autopay = r.choice(["true", "false", "True", ""])
        calls = "" if r.random() < 0.05 else str(r.randint(0, 9))
        z = -0.04 * tenure + 0.02 * monthly + 0.3 * (int(calls) if calls else 3) - 1.5
        z += {"basic": 0.4, "pro": 0.0, "team": -0.6}.get(plan, -0.2)
        churned = 1 if r.random() < 1 / (1 + math.exp(-z)) else 0
        f.write("%d,%d,%s,%s,%s,%s,%s,%d\n" % (10000 + i, tenure, monthly, plan, region,
                                                 autopay, calls, churned))
PY
}

# A repository with churn.csv and a pipeline that trains `churn` (logistic) and `spend`
# (linear), both registered; version 1 of churn is the champion.
trained_repo() {
    new_repo
    make_data
    cat >mlo.yaml <<'YAML'
stages:
  train:
    builtin:
      learner: logistic_regression
      data: churn.csv
      target: churned
      features: [tenure, monthly, plan, region, autopay, calls]
    outs: [models/churn.json]
  spend:
    builtin:
      learner: linear_regression
      data: churn.csv
      target: monthly
      features: [tenure, plan, region, autopay, calls]
    outs: [models/spend.json]
YAML
    ok mlo -q repro
    ok mlo model register churn models/churn.json
    ok mlo model promote churn 1
    ok mlo model register spend models/spend.json
}

# compile SOURCE PROGRAM MACRO: warnings are errors.
compile() {
    expect_exit 0 -- cc "${CFLAGS[@]}" "-D$3" "$1" -o "$2" -lm
    assert_stderr_empty
}

# same_numbers A B: two files of comma-separated lines hold the same classes/numbers, field by
# field (numbers compared as doubles: the C program prints 17 digits, mlo the shortest text).
same_numbers() {
    python3 - "$1" "$2" <<'PY' || fail "$1 and $2 differ"
import sys
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
assert len(a) == len(b), (len(a), len(b))
for i, (x, y) in enumerate(zip(a, b)):
    fx, fy = x.split(","), y.split(",")
    assert len(fx) == len(fy), (i + 1, x, y)
    for u, v in zip(fx, fy):
        try:
            ok = float(u) == float(v)
        except ValueError:
            ok = u == v
        assert ok, "row %d: %s vs %s" % (i + 1, x, y)
PY
}

test_classifier_matches_predict() {
    trained_repo
    ok mlo export churn@champion --format c -o model.c
    assert_file_exists model.c
    compile model.c model MLO_MODEL_MAIN
    expect_exit 0 -- ./model <churn.csv
    cp "$OUT" c.txt
    assert_eq 1000 "$(($(wc -l <c.txt)))" "rows scored by the C program"
    ok mlo predict churn@champion --data churn.csv --out mlo.csv
    tail -n +2 mlo.csv >mlo.txt
    cmp -s mlo.txt c.txt || fail "the C program's classes differ from mlo predict's: $(diff mlo.txt c.txt | head -5)"
    # Both classes occur, so the comparison means something.
    assert_eq "0 1" "$(sort -u c.txt | tr '\n' ' ' | sed 's/ $//')" "predicted classes"
    # Probabilities: equal as doubles, row by row.
    expect_exit 0 -- ./model --proba <churn.csv
    cp "$OUT" c-proba.txt
    ok mlo predict churn@champion --data churn.csv --proba --out mlo-proba.csv
    tail -n +2 mlo-proba.csv >mlo-proba.txt
    same_numbers mlo-proba.txt c-proba.txt
}

test_regression_matches_predict() {
    trained_repo
    ok mlo export spend:1 --format c -o spend.c --prefix spend
    grep -q 'int spend_predict(const double \*numeric' spend.c || fail "no spend_predict in spend.c"
    compile spend.c spend-c SPEND_MAIN
    expect_exit 0 -- ./spend-c <churn.csv
    cp "$OUT" c.txt
    ok mlo predict spend --data churn.csv --out mlo.csv
    tail -n +2 mlo.csv >mlo.txt
    assert_eq 1000 "$(($(wc -l <c.txt)))" "rows scored by the C program"
    same_numbers mlo.txt c.txt
}

# score.csv: churn.csv's 1,000 rows, the missing values kept, with categories no model saw in
# some rows (plans "enterprise" and "pro, monthly", the latter quoted; region "mars").
scoring_rows() {
    python3 - <<'PY' || fail "cannot write score.csv"
import csv
rows = list(csv.reader(open("churn.csv", newline="")))
head, body = rows[0], rows[1:]
plan, region = head.index("plan"), head.index("region")
for i, r in enumerate(body):
    if i % 25 == 7:
        r[plan] = "enterprise"
    elif i % 25 == 19:
        r[plan] = "pro, monthly"
    if i % 30 == 11:
        r[region] = "mars"
missing = sum(1 for r in body for k in ("region", "autopay", "calls") if r[head.index(k)] in ("", "NA"))
assert len(body) == 1000 and missing > 100, (len(body), missing)
with open("score.csv", "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows([head] + body)
PY
}

# json_body CSV OUT PROBA FEATURE...: the CSV's feature columns as an MLflow dataframe_split
# request, typed as a client would send them: numbers, true/false, strings, null for a missing
# value (empty, NA, ...); PROBA (true/false) asks for the class probabilities.
json_body() {
    python3 - "$@" <<'PY' || fail "cannot write $2"
import csv, json, sys
src, out, proba, feats = sys.argv[1], sys.argv[2], sys.argv[3] == "true", sys.argv[4:]
rows = list(csv.DictReader(open(src, newline="")))
def typed(s):
    if s.strip() in ("", "NA", "N/A", "NaN", "nan", "null"):
        return None
    if s in ("true", "True", "TRUE"):
        return True
    if s in ("false", "False", "FALSE"):
        return False
    try:
        return float(s)
    except ValueError:
        return s
body = {"dataframe_split": {"columns": feats, "data": [[typed(r[k]) for k in feats] for r in rows]}}
if proba:
    body["params"] = {"proba": True}
json.dump(body, open(out, "w"))
PY
}

# deploy REF: serves REF in the background on a free port and waits for /ping; sets PORT and
# DEP. The test's subshell stops what it started however it ends (a trap, as in serving.sh).
STARTED=()
stop_all() {
    local d
    for d in "${STARTED[@]}"; do
        mlo deployments stop "$d" >/dev/null 2>&1 || true
    done
}
deploy() {
    trap stop_all EXIT   # each test runs in a subshell, with traps of its own
    ok mlo --json deploy "$1" --port 0 --detach
    DEP=$(json_get 'j["id"]')
    PORT=$(json_get 'j["port"]')
    [ -n "$DEP" ] || fail "no deployment id in: $(stdout)"
    STARTED+=("$DEP")
    local i
    for i in $(seq 100); do
        if python3 "$CLIENT" request "$PORT" GET /ping >"$TEST_DIR/ping.txt" 2>/dev/null &&
            [ "$(head -n 1 "$TEST_DIR/ping.txt")" = 200 ]; then
            return 0
        fi
        sleep 0.05
    done
    fail "the deployment $DEP on port $PORT does not answer /ping"
}

# invoke FILE CONTENT_TYPE OUT: POSTs FILE to /invocations (all rows in one request); the
# answer must be 200, its body goes to OUT.
invoke() {
    python3 "$CLIENT" request "$PORT" POST /invocations "$1" "Content-Type: $2" \
        >"$TEST_DIR/response.txt" || fail "the HTTP client failed on $1"
    tail -n +4 "$TEST_DIR/response.txt" >"$3"
    local status
    status=$(head -n 1 "$TEST_DIR/response.txt")
    [ "$status" = 200 ] || fail "POST /invocations $1 ($2): HTTP $status: $(head -c 500 "$3")"
}

# server_rows RESPONSE OUT: the answer's predictions one a line, as the C program prints them:
# the class (its text) or the value, then the class probabilities if the answer has them.
# Numbers are written in Python's shortest round-trip form, so they are the JSON's doubles.
server_rows() {
    python3 - "$1" "$2" <<'PY' || fail "cannot read the server's answer: $(head -c 500 "$1")"
import json, sys
j = json.load(open(sys.argv[1]))
def text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    return repr(float(v))
preds, probs = j["predictions"], j.get("probabilities")
assert probs is None or len(probs) == len(preds), (len(probs), len(preds))
with open(sys.argv[2], "w") as f:
    for i, p in enumerate(preds):
        f.write(",".join([text(p)] + [repr(float(x)) for x in (probs[i] if probs else [])]) + "\n")
PY
}

test_classifier_matches_server() {
    trained_repo
    scoring_rows
    ok mlo export churn@champion --format c -o model.c
    compile model.c model MLO_MODEL_MAIN
    expect_exit 0 -- ./model <score.csv
    cp "$OUT" c.txt
    expect_exit 0 -- ./model --proba <score.csv
    cp "$OUT" c-proba.txt
    assert_eq 1000 "$(($(wc -l <c.txt)))" "rows scored by the C program"
    assert_eq "0 1" "$(sort -u c.txt | tr '\n' ' ' | sed 's/ $//')" "predicted classes"
    # mlo predict agrees on these rows too (unseen categories included).
    ok mlo predict churn@champion --data score.csv --out mlo.csv
    tail -n +2 mlo.csv >mlo.txt
    cmp -s mlo.txt c.txt || fail "the C program's classes differ from mlo predict's: $(diff mlo.txt c.txt | head -5)"
    deploy churn@champion
    # text/csv: the file itself; classes compared as text.
    invoke score.csv text/csv csv-response.json
    server_rows csv-response.json server-csv.txt
    cmp -s server-csv.txt c.txt ||
        fail "the C program's classes differ from the server's (text/csv): $(diff server-csv.txt c.txt | head -5)"
    # dataframe_split JSON with probabilities: classes as text, probabilities as doubles, exactly.
    json_body score.csv split.json true tenure monthly plan region autopay calls
    invoke split.json application/json split-response.json
    assert_eq '[0, 1]' "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["classes"])' split-response.json)" "classes"
    server_rows split-response.json server-split.txt
    cut -d, -f1 server-split.txt >server-split-classes.txt
    cmp -s server-split-classes.txt c.txt ||
        fail "the C program's classes differ from the server's (dataframe_split): $(diff server-split-classes.txt c.txt | head -5)"
    same_numbers server-split.txt c-proba.txt
    ok mlo deployments stop "$DEP"
}

test_regression_matches_server() {
    trained_repo
    scoring_rows
    ok mlo export spend:1 --format c -o spend.c --prefix spend
    compile spend.c spend-c SPEND_MAIN
    expect_exit 0 -- ./spend-c <score.csv
    cp "$OUT" c.txt
    assert_eq 1000 "$(($(wc -l <c.txt)))" "rows scored by the C program"
    ok mlo predict spend:1 --data score.csv --out mlo.csv
    tail -n +2 mlo.csv >mlo.txt
    same_numbers mlo.txt c.txt
    deploy spend:1
    invoke score.csv text/csv csv-response.json
    server_rows csv-response.json server-csv.txt
    same_numbers server-csv.txt c.txt
    json_body score.csv split.json false tenure plan region autopay calls
    invoke split.json application/json split-response.json
    server_rows split-response.json server-split.txt
    same_numbers server-split.txt c.txt
    # The values are not all alike, so the comparison means something.
    [ "$(sort -u c.txt | wc -l)" -gt 100 ] || fail "the regression predicts too few distinct values"
    ok mlo deployments stop "$DEP"
}

test_output_forms() {
    trained_repo
    # A model file works as well as a reference; without -o the source goes to stdout, the same
    # bytes as the file.
    ok mlo export models/churn.json --format c -o by-path.c
    ok mlo export churn:1 --format c
    cp "$OUT" stdout.c
    ok mlo export churn@champion --format c -o by-alias.c
    # Only the header comment names the source.
    assert_eq "$(sed 1d by-path.c | sha256sum)" "$(sed 1d stdout.c | sha256sum)" "source by path and on stdout"
    assert_eq "$(sed 1d by-alias.c | sha256sum)" "$(sed 1d stdout.c | sha256sum)" "source by alias and on stdout"
    ok mlo --json export churn@champion --format c -o j.c
    assert_stdout_json
    # An alias is resolved: the JSON names the version it exported.
    assert_eq "churn:1 c j.c $(size_of j.c) churn 1" \
        "$(json_get '[j["model"], j["format"], j["out"], j["bytes"], j["name"], j["version"]]' | tr '\n' ' ' | sed 's/ $//')"
    # No temporary file is left next to the output.
    assert_eq "" "$(temp_files_anywhere . | grep -v '^./.mlo/' || true)" "temporary files"
}

test_bad_input() {
    trained_repo
    take_snapshot before
    expect_exit 2 -- mlo export churn@champion --format onnx -o model.onnx
    assert_one_line_error "^mlo: error: --format: unsupported format 'onnx' \(supported: c\)$"
    assert_no_file model.onnx
    expect_exit 2 -- mlo export churn@champion -o model.c
    assert_one_line_error "format"
    expect_exit 2 -- mlo export churn@champion --format c -o missing/dir/model.c
    assert_one_line_error "missing/dir"
    assert_no_file missing
    expect_exit 2 -- mlo export churn@champion --format c --prefix 2fast -o model.c
    assert_one_line_error "^mlo: error: --prefix: '2fast' is not a C identifier"
    expect_exit 2 -- mlo export nosuch --format c -o model.c
    assert_one_line_error "unknown model 'nosuch'"
    expect_exit 2 -- mlo export churn@prod --format c -o model.c
    assert_one_line_error "model 'churn' has no alias 'prod'"
    echo '{"format": "mlo-model", "format_version": 99}' >future.json
    expect_exit 2 -- mlo export future.json --format c -o model.c
    assert_one_line_error "future.json.*newer"
    rm future.json
    assert_no_file model.c
    assert_unchanged before
}

test_program_rejects_bad_rows() {
    trained_repo
    ok mlo export churn@champion --format c -o model.c
    compile model.c model MLO_MODEL_MAIN
    # A missing feature column, and a word where a number belongs: exit 1 with a message.
    printf 'tenure,monthly,plan,region,autopay\n1,2,basic,north,true\n' >short.csv
    expect_exit 1 -- ./model <short.csv
    assert_contains "$(stderr)" "calls"
    printf 'tenure,monthly,plan,region,autopay,calls\nlong,2,basic,north,true,1\n' >typed.csv
    expect_exit 1 -- ./model <typed.csv
    assert_contains "$(stderr)" "not a number: long"
    expect_exit 2 -- ./model --nope <churn.csv
    assert_contains "$(stderr)" "usage:"
}

run_tests
