#!/usr/bin/env bash
# Retraining (issue 7): after a monitor report that trips `retrain.when`, `mlo retrain` appends
# the labelled current rows to the training data (a new object), reruns the pipeline, compares
# champion and challenger on the same held-out data, and promotes only a winner (a running
# deployment switches to it) or refuses a loser (a "reject" event), with the reasons in the
# model history. It acts on a report once (two at a time: one does it), --dry-run changes
# nothing, and the whole lifecycle example runs green.
source "$(dirname "$0")/lib.bash"
require_tools python3 awk sed cut paste

SRC=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}
EXAMPLE=$SRC/examples/churn
REPLAY=$SRC/tests/e2e/fixtures/replay.py

# generate N SEED MONTH FIRST_ID: customers from the example's generator.
generate() {
    awk -v n="$1" -v seed="$2" -v month="$3" -v first_id="$4" -f "$EXAMPLE/generate.awk"
}

# The example project, trained: churn:1 is champion.
churn_repo() {
    new_repo repo
    cp "$EXAMPLE/mlo.yaml" "$EXAMPLE/params.yaml" "$EXAMPLE/schema.yaml" "$EXAMPLE/prepare.awk" .
    mkdir data
    generate 3000 1 0 100000 >data/customers.csv
    ok mlo add data
    ok mlo train
}

# A drift report from a shifted month given as a CSV (no server needed).
shifted_report() {
    generate 1500 2 1 200000 >month.csv
    expect_exit 1 -- mlo monitor --current month.csv
}

versions() {
    ok mlo --json model list
    json_get '[m["latest"] for m in j if m["name"] == "churn"][0]'
}
champion() {
    ok mlo --json model show churn@champion
    json_get 'j["version"]'
}

test_better_challenger_is_promoted_and_the_server_switches() {
    churn_repo
    ok mlo --json deploy --port 0 --detach --poll 0.05
    local port dep
    port=$(json_get 'j["port"]')
    dep=$(json_get 'j["id"]')
    trap '"$MLO" deployments stop '"$dep"' >/dev/null 2>&1' EXIT
    generate 1500 2 1 200000 >month.csv
    python3 "$REPLAY" "$port" month.csv churned --batch 50 >/dev/null || fail "replay failed"
    expect_exit 1 -- mlo monitor
    local before
    before=$(wc -l <data/customers.csv)
    ok mlo --json retrain
    assert_eq "$(json_get 'j["status"]')" "promoted"
    assert_eq "$(json_get 'j["challenger"]')" "churn:2"
    assert_eq "$(json_get 'j["appended"]["rows"]')" "1500"
    local acc1 acc2
    acc1=$(json_get 'j["metrics"]["champion"]["accuracy"]')
    acc2=$(json_get 'j["metrics"]["challenger"]["accuracy"]')
    assert_eq "$(wc -l <data/customers.csv)" "$((before + 1500))"
    # The appended rows are the month's, label included, the values as the client sent them
    # (JSON numbers: 66.90 arrives as 66.9).
    python3 - <<'PY' || fail "the appended rows are not the month's"
import csv
def rows(lines):
    return sorted(tuple(v if k == 3 else float(v) for k, v in enumerate(r)) for r in csv.reader(lines))
new = open("data/customers.csv").read().splitlines()[-1500:]
month = open("month.csv").read().splitlines()[1:]
assert rows(new) == rows(month), "differ"
PY
    # The pointer names the new data; status is clean.
    ok mlo status --exit-code
    assert_eq "$(champion)" "2"
    # The numbers behind the decision are the models' real accuracies on the holdout.
    python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))' "$acc2" "$acc1" ||
        fail "promoted a challenger with accuracy $acc2 < $acc1"
    for v in 1 2; do
        ok mlo predict "churn:$v" --data prepared/test.csv --out "pred$v.csv"
        local got
        got=$(paste -d, <(cut -d, -f6 prepared/test.csv) "pred$v.csv" |
            awk -F, 'NR > 1 { n++; if ($1 == $NF) k++ } END { printf "%.17g\n", k / n }')
        local want
        want=$([ "$v" = 1 ] && echo "$acc1" || echo "$acc2")
        python3 -c 'import sys; sys.exit(abs(float(sys.argv[1]) - float(sys.argv[2])) > 1e-12)' \
            "$got" "$want" || fail "churn:$v accuracy: predict says $got, retrain said $want"
    done
    # The reason is in the history.
    ok mlo --json model history churn
    assert_eq "$(json_get 'j[-1]["action"]')" "promote"
    assert_matches "$(json_get 'j[-1]["reason"]')" "^retrain [0-9a-f]{12} after report [0-9a-f]{12}: accuracy [0-9.]+ vs champion [0-9.]+ on prepared/test.csv"
    # The running server switched to version 2 without a restart.
    local v=""
    for _ in $(seq 100); do
        v=$(python3 "$SRC/tests/e2e/fixtures/http_client.py" request "$port" GET /version |
            tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
        [ "$v" = 2 ] && break
        sleep 0.05
    done
    assert_eq "$v" "2"
    ok mlo deployments stop "$dep"
}

test_worse_challenger_is_refused_with_its_reason() {
    churn_repo
    # Customers like the training ones, but with the outcomes reversed (a broken label feed):
    # a model that learns from them is worse on clean held-out customers.
    generate 1500 3 0 300000 | awk -F, -v OFS=, 'NR > 1 { $6 = 1 - $6 } { print }' >bad.csv
    generate 1000 4 0 400000 >holdout.csv
    printf '  holdout: holdout.csv\n' >>mlo.yaml
    sed -i 's/gate: "accuracy >= 0.70"/gate: "accuracy >= 0.50"/' mlo.yaml
    expect_exit 1 -- mlo monitor --current bad.csv
    expect_exit 1 -- mlo --json retrain
    assert_eq "$(json_get 'j["status"]')" "rejected"
    assert_eq "$(json_get 'j["challenger"]')" "churn:2"
    assert_eq "$(json_get 'j["holdout"]')" "holdout.csv"
    assert_contains "$(json_get 'j["reasons"][0]')" "accuracy >= champion.accuracy (accuracy = "
    assert_eq "$(champion)" "1"
    assert_eq "$(versions)" "2"
    ok mlo --json model history churn
    assert_eq "$(json_get 'j[-1]["action"]')" "reject"
    assert_eq "$(json_get 'j[-1]["version"]')" "2"
    assert_eq "$(json_get 'j[-1]["previous"]')" "1"
    assert_contains "$(json_get 'j[-1]["reason"]')" "on holdout.csv (accuracy >= champion.accuracy)"
    ok mlo model history churn
    assert_matches "$(stdout)" "reject +2 +champion +1 +retrain "
    # A refusal is not a move of the alias: there is still nothing to roll back to.
    expect_exit 2 -- mlo model rollback churn
    assert_contains "$(stderr)" "no earlier version"
}

test_a_report_is_acted_on_once_even_by_two_at_a_time() {
    churn_repo
    shifted_report
    local before
    before=$(wc -l <data/customers.csv)
    mlo --json retrain >a.json 2>a.err &
    local a=$!
    mlo --json retrain >b.json 2>b.err &
    local b=$!
    wait "$a"
    local ra=$?
    wait "$b"
    local rb=$?
    [ "$ra" -le 1 ] && [ "$rb" -le 1 ] || fail "exit codes $ra $rb: $(cat a.err b.err)"
    local statuses
    statuses=$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(f))["status"] for f in sys.argv[1:])))' a.json b.json)
    [[ $statuses == "handled promoted" || $statuses == "handled rejected" ]] ||
        fail "two retrains at once: $statuses"
    assert_eq "$(wc -l <data/customers.csv)" "$((before + 1500))"
    assert_eq "$(versions)" "2"
    # Cron again: handled, nothing changes.
    ok mlo --json retrain
    assert_eq "$(json_get 'j["status"]')" "handled"
    # A retrain killed after it wrote the data but before it recorded that (simulated): the
    # next one finds the rows already at the end of the file and does not append them again.
    if command -v sqlite3 >/dev/null; then
        sqlite3 .mlo/mlo.db "UPDATE retrains SET status = 'failed', appended_object = NULL" ||
            fail "sqlite3 failed"
        expect_exit 0 -- mlo --json retrain
        assert_eq "$(json_get 'j["status"]')" "unchanged"
        assert_eq "$(wc -l <data/customers.csv)" "$((before + 1500))"
    fi
    # --force retrains, but never appends the same report's rows twice: the same data gives
    # the same model, which is already registered.
    ok mlo --json retrain --force
    assert_eq "$(json_get 'j["status"]')" "unchanged"
    assert_eq "$(wc -l <data/customers.csv)" "$((before + 1500))"
    assert_eq "$(versions)" "2"
}

test_no_drift_skips_and_dry_run_changes_nothing() {
    churn_repo
    ok mlo monitor --current prepared/test.csv
    ok mlo --json retrain
    assert_eq "$(json_get 'j["status"]')" "skipped"
    assert_eq "$(json_get 'j["triggered"]')" "false"
    assert_eq "$(versions)" "1"
    shifted_report
    local sum
    sum=$(sha256sum data/customers.csv data.mlo mlo.lock)
    ok mlo --json retrain --dry-run
    assert_eq "$(json_get 'j["status"]')" "dry_run"
    assert_eq "$(json_get 'j["triggered"]')" "true"
    assert_eq "$(sha256sum data/customers.csv data.mlo mlo.lock)" "$sum"
    assert_eq "$(versions)" "1"
    ok mlo retrain
    assert_contains "$(stdout)" "appended 1500 labelled rows of month.csv to data/customers.csv"
    assert_contains "$(stdout)" "promoted churn:2 to @champion"
}

test_bad_configuration_exits_2() {
    churn_repo
    expect_exit 2 -- mlo retrain
    assert_one_line_error
    assert_contains "$(stderr)" "no monitor report yet"
    shifted_report
    cp mlo.yaml mlo.yaml.good
    printf '  sometimes: true\n' >>mlo.yaml
    expect_exit 2 -- mlo retrain
    assert_contains "$(stderr)" "mlo.yaml: retrain.sometimes: unknown key"
    cp mlo.yaml.good mlo.yaml
    sed -i 's|^  data: data/customers.csv|  data: prepared/train.csv|' mlo.yaml
    expect_exit 2 -- mlo retrain
    assert_one_line_error
    assert_contains "$(stderr)" "is an output of stage 'prepare'"
    cp mlo.yaml.good mlo.yaml
    sed -i 's|^  when: .*|  when: "drift and and"|' mlo.yaml
    expect_exit 2 -- mlo retrain
    assert_one_line_error
    assert_eq "$(versions)" "1"
}

test_the_lifecycle_example_runs_green() {
    ok env MLO="$MLO" bash "$EXAMPLE/run.sh"
    assert_contains "$(stdout)" "promoted churn:2 to @champion"
    assert_contains "$(stdout)" '"version":2'
    assert_contains "$(stdout)" "lifecycle finished"
}

run_tests
