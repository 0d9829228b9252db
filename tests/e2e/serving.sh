#!/usr/bin/env bash
# Serving (issue 6): `mlo deploy` on a real loopback socket. Every request format answers what
# `mlo predict` says on the same rows; every endpoint and error status; 2,000 requests over 16
# connections with none lost from the prediction log; a promotion under load switches versions
# with zero failed requests; a killed command-flavour worker is replaced; token auth; SIGTERM
# loses no log record; the canary split.
source "$(dirname "$0")/lib.bash"
require_tools python3 awk

SRC=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}
EXAMPLE=$SRC/examples/quickstart
CLIENT=$SRC/tests/e2e/fixtures/http_client.py

# The quickstart project, trained; churn:1 registered and promoted to champion.
serving_repo() {
    new_repo "${1:-repo}"
    cp -r "$EXAMPLE/data" "$EXAMPLE/mlo.yaml" "$EXAMPLE/params.yaml" "$EXAMPLE/prepare.awk" .
    ok mlo repro
    ok mlo model register churn models/churn.json
    ok mlo model promote churn 1
}

# A second, different version: churn:2.
second_version() {
    sed -i 's/l2: .*/l2: 0.001/' params.yaml
    ok mlo repro train
    ok mlo model register churn models/churn.json
}

# Starts a detached server; sets PORT, DEP (its id) and PID.
deploy() {
    ok mlo --json deploy "$@" --port 0 --detach
    PORT=$(json_get 'j["port"]')
    DEP=$(json_get 'j["id"]')
    PID=$(json_get 'j["pid"]')
    STARTED+=("$DEP")
    trap stop_all EXIT   # each test runs in a subshell, with traps of its own
}
STARTED=()
# True while a process runs (a zombie has exited).
alive() { [ -e "/proc/$1" ] && ! grep -q ') Z' "/proc/$1/stat" 2>/dev/null; }
# Stops what a test started (also when it failed).
stop_all() {
    local d
    for d in "${STARTED[@]}"; do
        "$MLO" deployments stop "$d" >/dev/null 2>&1 || true
    done
}

# http METHOD PATH [BODY_FILE] [Header: value...]: sets STATUS, RID, VERSION and BODY.
http() {
    local out
    out=$(python3 "$CLIENT" request "$PORT" "$@") || fail "the HTTP client failed: $*"
    STATUS=$(sed -n 1p <<<"$out")
    RID=$(sed -n 2p <<<"$out" | cut -d= -f2-)
    VERSION=$(sed -n 3p <<<"$out" | cut -d= -f2-)
    BODY=$(sed -n '4,$p' <<<"$out")
}
expect_status() {
    [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS: $BODY"
}
body_get() {
    printf '%s' "$BODY" >"$TEST_DIR/body.json"
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' \
        "$TEST_DIR/body.json" "$1"
}

# The first N rows of the test set as CSV, and mlo predict's answer for them (one per line).
rows_csv() { head -n $((${1} + 1)) prepared/test.csv >"$TEST_DIR/rows.csv"; }
expected_predictions() {
    ok mlo predict churn@champion --data "$TEST_DIR/rows.csv"
    tail -n +2 "$OUT" | paste -sd' '
}

# Converts rows.csv into one request body per format (files body.<format>.json).
make_bodies() {
    python3 - "$TEST_DIR/rows.csv" "$TEST_DIR" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
feats = ["tenure_months", "monthly_charges", "contract", "support_calls"]
def typed(r):
    out = {}
    for k in feats:
        v = r[k]
        if v == "":
            out[k] = None
        elif k == "contract":
            out[k] = v
        else:
            out[k] = float(v)
    return out
recs = [typed(r) for r in rows]
d = sys.argv[2]
bodies = {
    "split": {"dataframe_split": {"columns": feats, "data": [[x[k] for k in feats] for x in recs]}},
    "records": {"dataframe_records": recs},
    "instances": {"instances": recs},
    "instance_lists": {"instances": [[x[k] for k in feats] for x in recs]},
    "inputs_dict": {"inputs": {k: [x[k] for x in recs] for k in feats}},
    "inputs_list": {"inputs": recs},
    "v2": {"id": "req-7", "inputs": [
        {"name": k, "shape": [len(recs)], "datatype": "BYTES" if k == "contract" else "FP64",
         "data": [x[k] for x in recs]} for k in feats]},
}
for name, b in bodies.items():
    json.dump(b, open("%s/body.%s.json" % (d, name), "w"))
# A numeric-only 2-D V2 tensor needs every feature numeric: not this model; see the unit tests.
PY
}

# The predictions of a response body, one per position, as mlo predict prints them.
predictions_of() {
    body_get "$1" | python3 -c '
import json, sys
print(" ".join(str(int(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
               for v in json.load(sys.stdin)))'
}

# Prediction records in the deployment's log (after it stopped): one request id per line.
logged_ids() {
    cat .mlo/logs/"${1:-churn}"/*.jsonl 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == "prediction":
        print(r["request_id"])'
}

test_every_request_format_answers_what_predict_says() {
    serving_repo
    rows_csv 40
    local want
    want=$(expected_predictions)
    make_bodies
    deploy churn@champion
    local f
    for f in split records instances instance_lists inputs_dict inputs_list; do
        http POST /invocations "$TEST_DIR/body.$f.json" "Content-Type: application/json"
        expect_status 200
        assert_eq "$want" "$(predictions_of 'j["predictions"]')" "predictions for $f"
        assert_eq 1 "$VERSION" "X-Model-Version"
    done
    http POST /invocations "$TEST_DIR/rows.csv" "Content-Type: text/csv"
    expect_status 200
    assert_eq "$want" "$(predictions_of 'j["predictions"]')" "predictions for text/csv"
    # V2: predictions and probabilities; the id is echoed.
    http POST /v2/models/churn/infer "$TEST_DIR/body.v2.json" "Content-Type: application/json"
    expect_status 200
    assert_eq "$want" "$(predictions_of 'j["outputs"][0]["data"]')" "V2 predictions"
    assert_eq '"req-7" "churn" "1" "INT64" [40, 2]' \
        "$(body_get '" ".join(json.dumps(x) for x in [j["id"], j["model_name"], j["model_version"], j["outputs"][0]["datatype"], j["outputs"][1]["shape"]])')"
    # Probabilities on request (MLflow 2 params), equal to mlo predict --proba.
    python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); b["params"]={"proba": True}; json.dump(b, open(sys.argv[1], "w"))' \
        "$TEST_DIR/body.split.json"
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json"
    expect_status 200
    ok mlo predict churn@champion --data "$TEST_DIR/rows.csv" --proba
    local first_proba
    first_proba=$(sed -n 2p "$OUT" | cut -d, -f3)
    assert_eq "$first_proba" "$(body_get 'repr(j["probabilities"][0][1])')" "P(class 1), row 1"
    assert_eq '[0, 1]' "$(body_get 'j["classes"]')"
}

test_health_version_metadata_and_metrics_endpoints() {
    serving_repo
    deploy churn@champion
    http GET /ping
    expect_status 200
    http GET /health
    expect_status 200
    http GET /v2/health/live
    expect_status 200
    assert_eq true "$(body_get 'j["live"]')"
    http GET /v2/health/ready
    expect_status 200
    http GET /version
    expect_status 200
    assert_eq "churn 1 $DEP churn@champion builtin" \
        "$(body_get '" ".join(str(x) for x in [j["model"], j["version"], j["deployment"], j["ref"], j["flavor"]])')"
    http GET /v2/models/churn
    expect_status 200
    assert_eq '["tenure_months", "monthly_charges", "contract", "support_calls"] ["1"]' \
        "$(body_get 'json.dumps([i["name"] for i in j["inputs"]]) + " " + json.dumps(j["versions"])')"
    rows_csv 3
    http POST /invocations "$TEST_DIR/rows.csv" "Content-Type: text/csv"
    expect_status 200
    http POST /invocations "$TEST_DIR/rows.csv" "Content-Type: text/plain"
    expect_status 415
    http GET /metrics
    expect_status 200
    assert_contains "$BODY" 'mlo_requests_total{endpoint="invocations",code="200"} 1'
    assert_contains "$BODY" 'mlo_requests_total{endpoint="invocations",code="415"} 1'
    assert_contains "$BODY" 'mlo_rows_predicted_total{variant="primary",version="1"} 3'
    assert_contains "$BODY" "mlo_model_info{deployment=\"$DEP\",model=\"churn\",version=\"1\",variant=\"primary\"} 1"
    assert_contains "$BODY" 'mlo_request_duration_seconds_bucket{le="+Inf"} '
    assert_contains "$BODY" 'mlo_request_errors_total 1'
    # The deployment is recorded, then stopped.
    ok mlo --json deployments
    assert_eq "$DEP running churn@champion 1 $PORT" \
        "$(json_get '" ".join(str(x) for x in [j[0]["id"], j[0]["status"], j[0]["model"], j[0]["version"], j[0]["port"]])')"
    ok mlo deployments stop "$DEP"
    ok mlo --json deployments
    assert_eq "stopped" "$(json_get 'j[0]["status"]')"
    alive "$PID" && fail "the server process is still alive"
    ok mlo deployments stop "$DEP"   # stopping again is fine
    assert_contains "$(stderr)" "already stopped"
}

test_error_statuses_name_what_is_wrong() {
    serving_repo
    printf 's3cret-token\n' >token.txt
    deploy churn@champion --max-body 2000 --token-file token.txt
    local auth="Authorization: Bearer s3cret-token"
    rows_csv 5
    make_bodies
    # 401 without or with a wrong token; health checks need none.
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json"
    expect_status 401
    assert_contains "$BODY" "missing token"
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json" "Authorization: Bearer nope"
    expect_status 401
    http GET /metrics
    expect_status 401
    http GET /ping
    expect_status 200
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json" "$auth"
    expect_status 200
    # 400 malformed.
    printf '{"dataframe_split": ' >"$TEST_DIR/bad.json"
    http POST /invocations "$TEST_DIR/bad.json" "Content-Type: application/json" "$auth"
    expect_status 400
    assert_contains "$(body_get 'j["message"]')" "not valid JSON"
    printf '{"rows": []}' >"$TEST_DIR/bad.json"
    http POST /invocations "$TEST_DIR/bad.json" "Content-Type: application/json" "$auth"
    expect_status 400
    assert_contains "$BODY" "dataframe_split"
    # 404: an unknown model and an unknown endpoint.
    http POST /v2/models/other/infer "$TEST_DIR/body.v2.json" "Content-Type: application/json" "$auth"
    expect_status 404
    assert_contains "$BODY" "unknown model 'other'"
    http GET /nope "$auth"
    expect_status 404
    # 413 over --max-body.
    head -c 5000 /dev/zero | tr '\0' ' ' >"$TEST_DIR/big.json"
    http POST /invocations "$TEST_DIR/big.json" "Content-Type: application/json" "$auth"
    expect_status 413
    # 415 wrong content type.
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/xml" "$auth"
    expect_status 415
    # 422: a missing column, a value of the wrong type; both named.
    printf '{"dataframe_split": {"columns": ["tenure_months"], "data": [[3]]}}' >"$TEST_DIR/bad.json"
    http POST /invocations "$TEST_DIR/bad.json" "Content-Type: application/json" "$auth"
    expect_status 422
    assert_contains "$(body_get 'j["message"]')" "missing column 'monthly_charges'"
    printf '{"dataframe_records": [{"tenure_months": "ten", "monthly_charges": 20, "contract": "one-year", "support_calls": 1}]}' >"$TEST_DIR/bad.json"
    http POST /invocations "$TEST_DIR/bad.json" "Content-Type: application/json" "$auth"
    expect_status 422
    assert_eq "column 'tenure_months', row 1: expected a number, got \"ten\"" "$(body_get 'j["message"]')"
    assert_eq INVALID_PARAMETER_VALUE "$(body_get 'j["error_code"]')"
    # The server is still fine.
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json" "$auth"
    expect_status 200
}

test_concurrent_load_is_all_logged_and_sigterm_loses_nothing() {
    serving_repo
    rows_csv 1
    make_bodies
    deploy churn@champion --log-max-bytes 65536
    ok python3 "$CLIENT" load "$PORT" 2000 16 "$TEST_DIR/body.split.json"
    assert_eq '0 2000' "$(json_get '" ".join(str(x) for x in [sum(j["errors"].values()), j["ok"]])')"
    json_get 'j["ids"]' | sort >"$TEST_DIR/answered"
    # Stop at once (SIGTERM): every answered request must be in the log.
    ok mlo deployments stop "$DEP"
    logged_ids | sort >"$TEST_DIR/logged"
    assert_eq 2000 "$(sort -u "$TEST_DIR/answered" | wc -l)" "distinct request ids"
    assert_eq "" "$(comm -23 "$TEST_DIR/answered" "$TEST_DIR/logged")" "answered but not logged"
    assert_eq 2000 "$(wc -l <"$TEST_DIR/logged")" "logged records"
    # The log rotated (64 KiB files) into complete JSON lines.
    local files
    files=$(ls .mlo/logs/churn/"$DEP"-*.jsonl | wc -l)
    [ "$files" -gt 1 ] || fail "expected the log to rotate, found $files file(s)"
    # Feedback attaches a label to a request later.
    deploy churn@champion
    http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json"
    local rid=$RID
    printf '{"request_id": "%s", "label": 1}' "$rid" >"$TEST_DIR/fb.json"
    http POST /feedback "$TEST_DIR/fb.json" "Content-Type: application/json"
    expect_status 202
    printf '{"label": 1}' >"$TEST_DIR/fb.json"
    http POST /feedback "$TEST_DIR/fb.json" "Content-Type: application/json"
    expect_status 400
    ok mlo deployments stop "$DEP"
    assert_contains "$(cat .mlo/logs/churn/"$DEP"-*.jsonl)" "\"type\":\"feedback\",\"request_id\":\"$rid\""
}

test_sigterm_under_load_finishes_what_it_took_and_logs_it() {
    serving_repo
    rows_csv 1
    make_bodies
    deploy churn@champion
    python3 "$CLIENT" load "$PORT" 100000 8 "$TEST_DIR/body.split.json" >"$TEST_DIR/load.json" &
    local load=$!
    sleep 0.5
    ok mlo deployments stop "$DEP"
    wait "$load" || fail "the load client failed"
    OUT=$TEST_DIR/load.json
    # Requests after the stop are refused (connection errors, "0"); none is answered with an
    # error status, and every answered one is in the log.
    assert_eq '[]' "$(json_get 'json.dumps(sorted(k for k in j["errors"] if k != "0"))')" \
        "error statuses during shutdown"
    local answered
    answered=$(json_get 'j["ok"]')
    [ "$answered" -gt 0 ] || fail "no request was answered before the stop"
    json_get 'j["ids"]' | sort >"$TEST_DIR/answered"
    logged_ids | sort >"$TEST_DIR/logged"
    assert_eq "" "$(comm -23 "$TEST_DIR/answered" "$TEST_DIR/logged")" "answered but not logged"
}

test_foreground_server_stops_cleanly_on_sigint_and_sigterm() {
    serving_repo
    rows_csv 1
    make_bodies
    local sig
    for sig in INT TERM; do
        "$MLO" --json deploy churn@champion --port 0 >"$TEST_DIR/fg.out" 2>"$TEST_DIR/fg.err" &
        local fg=$!
        local i
        for i in $(seq 100); do
            [ -s "$TEST_DIR/fg.out" ] && break
            sleep 0.05
        done
        PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$TEST_DIR/fg.out")
        http POST /invocations "$TEST_DIR/body.split.json" "Content-Type: application/json"
        expect_status 200
        kill -s "$sig" "$fg"
        local rc=0
        wait "$fg" || rc=$?
        assert_eq 0 "$rc" "exit status after SIG$sig"
        assert_contains "$(cat "$TEST_DIR/fg.err")" "stopped"
        assert_contains "$(logged_ids)" "$RID"
    done
    ok mlo --json deployments
    assert_eq "stopped stopped" "$(json_get '" ".join(d["status"] for d in j)')"
}

test_promotion_under_load_switches_with_zero_failures() {
    serving_repo
    second_version
    rows_csv 1
    make_bodies
    deploy churn@champion --poll 0.05
    # A load of 20,000 requests (seconds long); the promotion happens while it runs.
    python3 "$CLIENT" load "$PORT" 20000 8 "$TEST_DIR/body.split.json" >"$TEST_DIR/load.json" &
    local load=$!
    sleep 0.3
    ok mlo model promote churn 2
    wait "$load" || fail "the load client failed"
    OUT=$TEST_DIR/load.json
    assert_eq 0 "$(json_get 'sum(j["errors"].values())')" "failed requests"
    assert_eq 20000 "$(json_get 'j["ok"]')"
    # Both versions answered (the switch happened during the load), the new one last.
    assert_eq '["1", "2"]' "$(json_get 'json.dumps(sorted(j["versions"]))')"
    http GET /version
    assert_eq 2 "$(body_get 'j["version"]')"
    http GET /metrics
    assert_contains "$BODY" "mlo_model_switches_total 1"
    assert_contains "$BODY" "version=\"2\",variant=\"primary\"} 1"
    ok mlo model rollback churn
    local i
    for i in $(seq 100); do
        http GET /version
        [ "$(body_get 'j["version"]')" = 1 ] && break
        sleep 0.05
    done
    assert_eq 1 "$(body_get 'j["version"]')" "version after rollback"
    ok mlo deployments stop "$DEP"
    # The log says which version answered each request.
    assert_eq "1 2" "$(cat .mlo/logs/churn/*.jsonl | python3 -c '
import json, sys
print(" ".join(sorted({str(json.loads(l)["version"]) for l in sys.stdin})))')"
}

test_canary_takes_its_share() {
    serving_repo
    second_version
    rows_csv 1
    make_bodies
    deploy churn@champion --canary churn:2=20
    ok python3 "$CLIENT" load "$PORT" 2000 16 "$TEST_DIR/body.split.json"
    assert_eq 0 "$(json_get 'sum(j["errors"].values())')"
    local canary
    canary=$(json_get 'j["versions"].get("2", 0)')
    [ "$canary" -ge 300 ] && [ "$canary" -le 500 ] ||
        fail "canary answered $canary of 2000 requests, expected 20% +- 5 points"
    http GET /version
    assert_eq "2 20.0" "$(body_get 'str(j["canary"]["version"]) + " " + str(j["canary"]["percent"])')"
    ok mlo deployments stop "$DEP"
    assert_eq "$canary" "$(cat .mlo/logs/churn/*.jsonl | grep -c '"variant":"canary"')"
    expect_exit 2 -- mlo deploy churn@champion --port 0 --canary churn:2=150
    assert_one_line_error
    assert_contains "$(stderr)" "between 0 and 100"
    expect_exit 2 -- mlo deploy churn@champion --port 0 --canary churn:9=10
    assert_contains "$(stderr)" "has no version 9"
}

# A worker of the command flavour: predicts "yes" for every row, unless a row's first value is
# "sleep" (it then hangs) or "die" (it exits).
write_worker() {
    cat >worker.py <<'PY'
import json, os, sys, time
assert os.path.exists(os.environ["MLO_MODEL_PATH"])
for line in sys.stdin:
    req = json.loads(line)
    first = req["data"][0][0] if req["data"] and req["data"][0] else None
    if first == "sleep":
        time.sleep(60)
    if first == "die":
        sys.exit(3)
    out = {"id": req["id"], "predictions": ["yes:" + os.environ["MLO_MODEL_VERSION"]] * len(req["data"])}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
PY
}

# The server's worker processes (its children: `sh -c CMD`, or CMD itself).
worker_pids() {
    pgrep -P "$PID" | sort
}

test_command_flavour_replaces_killed_and_hung_workers() {
    serving_repo
    write_worker
    deploy churn@champion --command "python3 worker.py" --workers 2 --timeout 1 --poll 0.05
    printf '{"dataframe_split": {"columns": ["x"], "data": [["a"], ["b"]]}}' >"$TEST_DIR/ok.json"
    http POST /invocations "$TEST_DIR/ok.json" "Content-Type: application/json"
    expect_status 200
    assert_eq '["yes:1", "yes:1"]' "$(body_get 'j["predictions"]')"
    local before
    before=$(worker_pids)
    assert_eq 2 "$(wc -l <<<"$before")" "workers running"
    # kill -9 one: it is replaced without any request.
    kill -9 "$(head -n1 <<<"$before")"
    local i after
    for i in $(seq 100); do
        after=$(worker_pids)
        [ "$(wc -l <<<"$after")" = 2 ] && [ "$after" != "$before" ] && break
        sleep 0.05
    done
    assert_eq 2 "$(wc -l <<<"$after")" "workers after kill -9"
    assert_ne "$before" "$after" "worker pids after kill -9"
    ok python3 "$CLIENT" load "$PORT" 50 4 "$TEST_DIR/ok.json"
    assert_eq "0 50" "$(json_get '" ".join(str(x) for x in [sum(j["errors"].values()), j["ok"]])')"
    # A worker that hangs: 503 within the timeout, never a hung request; then it is replaced.
    printf '{"dataframe_split": {"columns": ["x"], "data": [["sleep"]]}}' >"$TEST_DIR/hang.json"
    local t0=$SECONDS
    http POST /invocations "$TEST_DIR/hang.json" "Content-Type: application/json"
    expect_status 503
    [ $((SECONDS - t0)) -le 5 ] || fail "the hung request took $((SECONDS - t0)) s"
    printf '{"dataframe_split": {"columns": ["x"], "data": [["die"]]}}' >"$TEST_DIR/die.json"
    http POST /invocations "$TEST_DIR/die.json" "Content-Type: application/json"
    expect_status 503
    ok python3 "$CLIENT" load "$PORT" 20 2 "$TEST_DIR/ok.json"
    assert_eq 20 "$(json_get 'j["ok"]')"
    http GET /metrics
    assert_contains "$BODY" "mlo_worker_restarts_total 3"
    ok mlo deployments stop "$DEP"
    for i in $(seq 100); do
        [ -z "$(pgrep -fx 'python3 worker.py')" ] && break
        sleep 0.05
    done
    assert_eq "" "$(pgrep -fx 'python3 worker.py')" "workers left after stop"
}

test_bad_deploy_arguments_fail_cleanly() {
    serving_repo
    expect_exit 2 -- mlo deploy
    assert_one_line_error
    assert_contains "$(stderr)" "no model to deploy"
    expect_exit 2 -- mlo deploy churn@nope --port 0
    assert_one_line_error
    assert_contains "$(stderr)" "has no alias 'nope'"
    expect_exit 2 -- mlo deploy churn@champion --port 0 --detach --token-file missing.txt
    assert_one_line_error
    : >empty.txt
    expect_exit 2 -- mlo deploy churn@champion --port 0 --token-file empty.txt
    assert_contains "$(stderr)" "is empty"
    deploy churn@champion
    expect_exit 2 -- mlo deploy churn@champion --port "$PORT"
    assert_one_line_error
    assert_contains "$(stderr)" "cannot listen on 127.0.0.1:$PORT"
    expect_exit 2 -- mlo deploy churn@champion --port "$PORT" --detach
    assert_contains "$(stderr)" "did not start"
    # mlo.yaml's deploy section is the default.
    printf 'deploy: {model: churn@champion, port: 0, nope: 1}\n' >>mlo.yaml
    expect_exit 2 -- mlo deploy
    assert_contains "$(stderr)" "unknown key 'nope' in 'deploy'"
    sed -i 's/, nope: 1//' mlo.yaml
    ok mlo --json deploy --detach
    STARTED+=("$(json_get 'j["id"]')")
    assert_eq "churn 1" "$(json_get 'j["model"] + " " + str(j["version"])')"
    expect_exit 2 -- mlo deployments stop nope
    assert_one_line_error
    assert_contains "$(stderr)" "unknown deployment 'nope'"
}

run_tests
