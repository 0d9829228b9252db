#!/usr/bin/env bash
# Monitoring (issue 7): `mlo monitor` exits 0 on the held-out data the model was evaluated on and
# 1 on a shifted month; its KS and chi-squared scores are scipy's on the same columns; the HTML
# report has one SVG per column and each parses as XML; reports are kept in history; the
# performance check compares with the champion's recorded evaluation; a deployment's prediction
# log joined with /feedback labels gives the accuracy the client observed; the reference
# profile is stored once and survives gc; bad input exits 2 with one line and stores nothing.
source "$(dirname "$0")/lib.bash"
require_tools python3 awk

SRC=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}
EXAMPLE=$SRC/examples/quickstart
REPLAY=$SRC/tests/e2e/fixtures/replay.py
CHECK_HTML=$SRC/tests/e2e/check_html_report.py

# The quickstart project trained (churn:1 champion) and a monitor section.
monitor_repo() {
    new_repo repo
    cp -r "$EXAMPLE/data" "$EXAMPLE/mlo.yaml" "$EXAMPLE/params.yaml" "$EXAMPLE/prepare.awk" .
    cat >>mlo.yaml <<'EOF'
monitor:
  reference: prepared/train.csv
  performance: "accuracy >= champion.accuracy - 0.05"
EOF
    ok mlo train
    # A shifted month: longer tenure, higher charges, more month-to-month contracts, and half
    # the labels flipped (the customers behave differently now).
    awk -F, -v OFS=, 'NR == 1 { print; next }
        { $2 = $2 + 20; $3 = $3 * 1.3; if (NR % 3 == 0) $4 = "month-to-month";
          if (NR % 2 == 0) $6 = 1 - $6; print }' prepared/test.csv >shifted.csv
}

report_count() {
    ok mlo --json monitor history -n 0
    json_get 'len(j)'
}

test_unshifted_exits_0_shifted_exits_1() {
    monitor_repo
    ok mlo --json monitor --current prepared/test.csv
    assert_eq "$(json_get 'j["status"]')" "ok"
    assert_eq "$(json_get 'j["reference"]["profile_built"]')" "true"
    # The model's features are compared, not the id or the label.
    assert_eq "$(json_get '" ".join(c["column"] for c in j["columns"])')" \
        "tenure_months monthly_charges contract support_calls"
    assert_eq "$(json_get 'j["dataset"]["drifted"]')" "0"
    expect_exit 1 -- mlo --json monitor --current shifted.csv
    assert_eq "$(json_get 'j["reference"]["profile_built"]')" "false"
    assert_eq "$(json_get 'j["status"]')" "drift,performance"
    assert_eq "$(json_get '" ".join(c["column"] for c in j["columns"] if c["drifted"])')" \
        "tenure_months monthly_charges contract"
    assert_eq "$(json_get 'j["dataset"]["drift"]')" "true"
    # The table says the same.
    expect_exit 1 -- mlo monitor --current shifted.csv
    assert_contains "$(stdout)" "dataset drift: YES, 3 of 4 columns drifted (75%; threshold 50%)"
    assert_matches "$(stdout)" "tenure_months +numeric +ks +p=[0-9.e-]+ +0.05 +DRIFT"
    assert_contains "$(stdout)" "check accuracy >= champion.accuracy - 0.05: FAILED"
}

test_scores_equal_scipy() {
    [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import scipy' 2>/dev/null ||
        skip "/usr/bin/python3 has no scipy (Debian python3-scipy)"
    monitor_repo
    expect_exit 1 -- mlo --json monitor --current shifted.csv
    cp "$OUT" report.json
    /usr/bin/python3 - <<'PY' || fail "mlo's scores differ from scipy's"
import csv, json, math
from scipy import stats
rep = {c["column"]: c for c in json.load(open("report.json"))["columns"]}
ref = list(csv.DictReader(open("prepared/train.csv")))
cur = list(csv.DictReader(open("shifted.csv")))
def close(a, b, what):
    if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300):
        raise SystemExit("%s: mlo %r, scipy %r" % (what, a, b))
for col in ["tenure_months", "monthly_charges", "support_calls"]:
    r = stats.ks_2samp([float(x[col]) for x in ref], [float(x[col]) for x in cur])
    assert rep[col]["test"] == "ks", rep[col]
    close(rep[col]["statistic"], r.statistic, col + " D")
    close(rep[col]["score"], r.pvalue, col + " p")
cats = sorted({x["contract"] for x in ref} | {x["contract"] for x in cur})
rc = [sum(x["contract"] == c for x in ref) for c in cats]
cc = [sum(x["contract"] == c for x in cur) for c in cats]
exp = [r * len(cur) / len(ref) for r in rc]
chi = stats.chisquare(cc, exp)
assert rep["contract"]["test"] == "chisquare"
close(rep["contract"]["statistic"], chi.statistic, "contract chi2")
close(rep["contract"]["score"], chi.pvalue, "contract p")
PY
}

test_html_report_has_one_parsing_svg_per_column() {
    monitor_repo
    expect_exit 1 -- mlo monitor --current shifted.csv --html report.html
    assert_file_exists report.html
    ok python3 "$CHECK_HTML" report.html 4
    assert_contains "$(cat report.html)" "monthly_charges"
    # A stored report renders again, the same.
    ok mlo --json monitor history -n 1
    local id
    id=$(json_get 'j[0]["id"]')
    ok mlo monitor show "${id:0:8}" --html again.html
    cmp -s report.html again.html || fail "the stored report renders differently"
}

test_history_lists_reports_newest_first() {
    monitor_repo
    assert_eq "$(report_count)" "0"
    ok mlo monitor --current prepared/test.csv
    expect_exit 1 -- mlo monitor --current shifted.csv
    ok mlo --json monitor history
    assert_eq "$(json_get '[r["status"] for r in j]')" "$(printf 'drift,performance\nok')"
    assert_eq "$(json_get '[r["current"]["path"] for r in j]')" \
        "$(printf 'shifted.csv\nprepared/test.csv')"
    ok mlo monitor history
    assert_matches "$(stdout)" "shifted.csv +120 +3/4 +accuracy [0-9.]+ +drift,performance"
    local id
    id=$(mlo --json monitor history -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
    ok mlo --json monitor show "${id:0:10}"
    assert_eq "$(json_get 'j["id"]')" "$id"
    expect_exit 2 -- mlo monitor show ffffffffffff
    assert_one_line_error
}

test_performance_matches_the_champions_evaluation() {
    monitor_repo
    # The evaluate stage scored the same rows: the same accuracy, and the check holds.
    ok mlo --json monitor --current prepared/test.csv
    local acc
    acc=$(python3 -c 'import json; print(json.load(open("metrics.json"))["accuracy"])')
    assert_eq "$(json_get 'j["performance"]["metrics"]["accuracy"]')" "$acc"
    assert_eq "$(json_get 'j["performance"]["champion"]["accuracy"]')" "$acc"
    assert_eq "$(json_get 'j["performance"]["model"]')" "churn:1"
    assert_eq "$(json_get 'j["performance"]["holds"]')" "true"
    # Labels only: no drift in the features, but the check trips on the flipped labels.
    awk -F, -v OFS=, 'NR > 1 && NR % 2 == 0 { $6 = 1 - $6 } { print }' prepared/test.csv >flipped.csv
    expect_exit 1 -- mlo --json monitor --current flipped.csv
    assert_eq "$(json_get 'j["status"]')" "performance"
    assert_eq "$(json_get 'j["dataset"]["drift"]')" "false"
}

test_prediction_log_joined_with_feedback() {
    monitor_repo
    ok mlo --json deploy churn@champion --port 0 --detach
    local port dep
    port=$(json_get 'j["port"]')
    dep=$(json_get 'j["id"]')
    trap '"$MLO" deployments stop '"$dep"' >/dev/null 2>&1' EXIT
    # 120 rows in 6 requests; feedback for the first half of them.
    python3 "$REPLAY" "$port" shifted.csv churned --batch 20 --feedback-share 0.5 >replay.json ||
        fail "replay failed"
    ok mlo deployments stop "$dep"
    expect_exit 1 -- mlo --json monitor --deployment "${dep:0:8}"
    assert_eq "$(json_get 'j["current"]["kind"]')" "log"
    assert_eq "$(json_get 'j["current"]["rows"]')" "120"
    assert_eq "$(json_get 'j["current"]["deployment"]')" "$dep"
    assert_eq "$(json_get 'j["current"]["served"]')" '{"churn:1": 120}'
    assert_eq "$(json_get 'j["performance"]["rows"]')" "60"
    assert_eq "$(json_get 'j["performance"]["unlabelled"]')" "60"
    # The accuracy is what the client saw: correct / labelled.
    local want
    want=$(python3 -c 'import json; r=json.load(open("replay.json")); print(r["correct"] / r["labelled"])')
    python3 -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-12)' \
        "$(json_get 'j["performance"]["metrics"]["accuracy"]')" "$want" ||
        fail "log accuracy $(json_get 'j["performance"]["metrics"]["accuracy"]') != $want"
    # The same drift as the CSV of the same rows.
    local from_log
    from_log=$(json_get '[(c["column"], c["drifted"], c["score"]) for c in j["columns"]]')
    expect_exit 1 -- mlo --json monitor --current shifted.csv
    assert_eq "$(json_get '[(c["column"], c["drifted"], c["score"]) for c in j["columns"]]')" \
        "$from_log"
    # The log directory works as --current too; a window with nothing in it is an error.
    expect_exit 1 -- mlo --json monitor --current .mlo/logs/churn --since 1h
    assert_eq "$(json_get 'j["current"]["rows"]')" "120"
    sleep 1.2
    expect_exit 2 -- mlo monitor --current .mlo/logs/churn --since 1s
    assert_one_line_error
    assert_contains "$(stderr)" "no prediction in the window"
}

test_profile_is_stored_once_and_survives_gc() {
    monitor_repo
    ok mlo --json monitor --current prepared/test.csv
    local obj
    obj=$(json_get 'j["reference"]["object"]')
    assert_eq "$obj" "$(sha256sum prepared/train.csv | cut -c1-64)"
    ok mlo gc
    ok mlo --json monitor --current prepared/test.csv
    assert_eq "$(json_get 'j["reference"]["profile_built"]')" "false"
    # New reference content: a new profile.
    tail -n 50 prepared/test.csv >>prepared/train.csv
    ok mlo --json monitor --current prepared/test.csv
    assert_eq "$(json_get 'j["reference"]["profile_built"]')" "true"
    assert_eq "$(json_get 'j["reference"]["rows"]')" "530"
}

test_bad_input_exits_2_and_stores_nothing() {
    monitor_repo
    printf 'customer_id,tenure_months,monthly_charges,contract,support_calls,churned\n1,2,3,one-year,0,1\n5,six,7,one-year,0,0\n' >bad.csv
    expect_exit 2 -- mlo monitor --current bad.csv
    assert_one_line_error
    assert_contains "$(stderr)" "bad.csv:3: column 'tenure_months' is numeric in the reference, but holds 'six'"
    expect_exit 2 -- mlo monitor --current missing.csv
    assert_one_line_error
    expect_exit 2 -- mlo monitor --current prepared/test.csv --since 1h
    assert_one_line_error
    expect_exit 2 -- mlo monitor --current prepared/test.csv --deployment abc
    assert_one_line_error
    expect_exit 2 -- mlo monitor --current prepared/test.csv --reference nowhere.csv
    assert_one_line_error
    assert_contains "$(stderr)" "nowhere.csv"
    sed -i 's/^  performance:/  perfomance:/' mlo.yaml
    expect_exit 2 -- mlo monitor --current prepared/test.csv
    assert_one_line_error
    assert_contains "$(stderr)" "mlo.yaml: monitor.perfomance: unknown key"
    sed -i 's/^  perfomance:.*/  tests: {tenure_months: {test: ks2}}/' mlo.yaml
    expect_exit 2 -- mlo monitor --current prepared/test.csv
    assert_contains "$(stderr)" "monitor.tests.tenure_months.test: unknown test"
    sed -i 's/{test: ks2}/{test: ks}/; $a\  columns: [contract, no_such_column]' mlo.yaml
    expect_exit 2 -- mlo monitor --current prepared/test.csv
    assert_contains "$(stderr)" "no_such_column"
    assert_eq "$(report_count)" "0"
}

run_tests
