#!/usr/bin/env bash
# Built-in learners (issue 4): `builtin:` stages that train and evaluate, the model gate of
# `mlo train` and registration, `mlo predict` with files and registry references, and bad
# input (malformed CSV, missing target, constant column, one class, unknown model or alias).
# The data is the example's churn table; predictions are cross-checked against the metrics.
source "$(dirname "$0")/lib.bash"
require_tools awk sha256sum

SRC=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}
EXAMPLE=$SRC/examples/quickstart

# The example project: awk split, built-in train and evaluate, model section with a gate.
example_repo() {
    new_repo "${1:-repo}"
    cp -r "$EXAMPLE/data" "$EXAMPLE/mlo.yaml" "$EXAMPLE/params.yaml" "$EXAMPLE/prepare.awk" .
}

# The registry tables, dumped (to prove a failed command changed nothing).
registry_dump() {
    python3 - <<'PY'
import sqlite3
db = sqlite3.connect(".mlo/mlo.db")
names = [r[0] for r in db.execute(
    "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'model%' ORDER BY name")]
for n in names:
    for row in db.execute("SELECT * FROM %s ORDER BY 1, 2" % n):
        print(n, row)
PY
}

digest() { sha256sum "$1" | cut -d' ' -f1; }

test_builtin_stages_train_and_evaluate() {
    example_repo
    ok mlo repro
    assert_contains "$(stdout)" "[train] L-BFGS converged"
    assert_contains "$(stdout)" "[evaluate] accuracy = "
    assert_file_exists models/churn.json
    ok python3 -c '
import json
m = json.load(open("models/churn.json"))
assert m["format"] == "mlo-model" and m["format_version"] == 1, m.get("format")
assert m["learner"] == "logistic_regression"
assert m["classes"] == ["0", "1"], m["classes"]
assert [f["name"] for f in m["features"]] == ["tenure_months", "monthly_charges", "contract", "support_calls"]
assert m["training"]["data"] == "prepared/train.csv"
assert m["params"]["l2"] == 1.0
'
    # The model records the object id of its training data.
    assert_contains "$(cat models/churn.json)" "$(digest prepared/train.csv)"
    ok python3 -c '
import json
m = json.load(open("metrics.json"))
for k in ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "precision.1", "recall.0", "confusion.1.1"]:
    assert k in m, k
assert 0.5 < m["accuracy"] <= 1
'
    # The run records the metrics.
    ok mlo runs --stage evaluate --json
    assert_eq "$(python3 -c 'import json; print(json.load(open("metrics.json"))["accuracy"])')" \
        "$(json_get 'j[0]["metrics"]["accuracy"]')" "recorded accuracy"
    ok mlo repro
    assert_contains "$(stdout)" "'train' is up to date"
    assert_contains "$(stdout)" "'evaluate' is up to date"
}

test_builtin_inputs_are_dependencies() {
    example_repo
    ok mlo repro
    ok mlo dag --json
    assert_contains "$(stdout)" "prepared/train.csv"
    # A changed training set reruns train (and evaluate), a changed parameter too.
    sed -i 's/l2: 1.0/l2: 0.01/' params.yaml
    ok mlo repro --dry-run
    assert_contains "$(stdout)" "would run 'train': parameter 'train.l2' changed (1.0 -> 0.01)"
    assert_not_contains "$(stdout)" "would run 'prepare'"
    ok mlo repro
    ok python3 -c 'import json; assert json.load(open("models/churn.json"))["params"]["l2"] == 0.01'
    # An option written in the mapping wins over the parameter.
    sed -i 's/      class_weight: balanced/      class_weight: balanced\n      l2: 5/' mlo.yaml
    ok mlo repro
    ok python3 -c 'import json; assert json.load(open("models/churn.json"))["params"]["l2"] == 5'
}

test_train_registers_champion_when_gate_holds() {
    example_repo
    ok mlo train
    assert_contains "$(stdout)" "gate passed: accuracy >= 0.75 and roc_auc >= 0.80"
    assert_contains "$(stdout)" "registered churn version 1"
    assert_contains "$(stdout)" "churn@champion -> version 1"
    ok mlo model show churn@champion --json
    assert_eq "1" "$(json_get 'j["version"]')" "champion version"
    assert_eq "$(digest models/churn.json)" "$(json_get 'j["object"]')" "registered object"
    # Training again changes nothing: no new version.
    ok mlo train
    assert_contains "$(stdout)" "churn version 1 already has this model"
    ok mlo model list --json
    assert_contains "$(stdout)" '"churn"'
    # A new model is registered as version 2; the champion stays where it was.
    sed -i 's/l2: 1.0/l2: 0.1/' params.yaml
    ok mlo train --json
    assert_eq "2" "$(json_get 'j["model"]["registered"]["version"]')" "second version"
    assert_eq "true" "$(json_get 'j["model"]["holds"]')" "gate holds"
    ok mlo model show churn@champion --json
    assert_eq "1" "$(json_get 'j["version"]')" "champion after version 2"
    # Back to the first parameters: restored from the run cache, still version 1.
    sed -i 's/l2: 0.1/l2: 1.0/' params.yaml
    ok mlo train
    assert_contains "$(stdout)" "churn version 1 already has this model"
}

test_failed_gate_exits_1_and_registers_nothing() {
    example_repo
    sed -i 's/gate: "[^"]*"/gate: "accuracy >= 0.999 and roc_auc >= 0.5"/' mlo.yaml
    ok mlo repro   # creates the database and the runs
    local before
    before=$(registry_dump)
    expect_exit 1 -- mlo train
    assert_matches "$(stderr)" "mlo: gate not met for model 'churn': accuracy >= 0.999 \(accuracy = 0\.[0-9]+\) \(not registered\)"
    assert_eq "$before" "$(registry_dump)" "registry after a failed gate"
    expect_exit 1 -- mlo train --json
    assert_eq "false" "$(json_get 'j["model"]["holds"]')" "json holds"
    assert_eq "null" "$(json_get 'j["model"]["registered"]')" "json registered"
    # --no-register skips the gate.
    ok mlo train --no-register
    expect_exit 2 -- mlo model show churn
}

test_gate_with_unknown_metric_is_an_error() {
    example_repo
    sed -i 's/gate: "[^"]*"/gate: "acuracy >= 0.5"/' mlo.yaml
    expect_exit 2 -- mlo -q train
    assert_one_line_error "unknown name 'acuracy' \(known: .*accuracy"
    sed -i 's/gate: "[^"]*"/gate: "accuracy >= "/' mlo.yaml
    expect_exit 2 -- mlo train
    assert_one_line_error "^mlo: error: mlo.yaml:[0-9]+:[0-9]+: invalid 'model.gate': gate: column 13: expression ends too early$"
}

test_predict_with_paths_and_references() {
    example_repo
    ok mlo train
    ok mlo predict models/churn.json --data prepared/test.csv --out by-path.csv
    ok mlo predict churn@champion --data prepared/test.csv --out by-alias.csv
    ok mlo predict churn:1 --data prepared/test.csv --out by-version.csv
    ok mlo predict churn --data prepared/test.csv
    cp "$OUT" by-name.csv
    assert_eq "$(digest by-path.csv)" "$(digest by-alias.csv)" "alias output"
    assert_eq "$(digest by-path.csv)" "$(digest by-version.csv)" "version output"
    assert_eq "$(digest by-path.csv)" "$(digest by-name.csv)" "stdout output"
    assert_eq "churned" "$(head -1 by-path.csv)" "header"
    assert_eq "$(($(wc -l <prepared/test.csv)))" "$(($(wc -l <by-path.csv)))" "one row per input row"
    # The predictions give the accuracy the evaluate stage reported.
    local acc
    acc=$(paste -d, prepared/test.csv by-path.csv | awk -F, 'NR > 1 { n++; if ($6 == $7) k++ } END { printf "%.6f", k / n }')
    assert_eq "$(python3 -c 'import json; print("%.6f" % json.load(open("metrics.json"))["accuracy"])')" "$acc" "accuracy from predictions"
    # Probabilities: one column per class, rows sum to 1, argmax is the prediction.
    ok mlo predict churn@champion --data prepared/test.csv --proba --out proba.csv
    assert_eq "churned,proba_0,proba_1" "$(head -1 proba.csv)" "proba header"
    ok python3 -c '
import csv
for r in list(csv.DictReader(open("proba.csv"))):
    p0, p1 = float(r["proba_0"]), float(r["proba_1"])
    assert abs(p0 + p1 - 1) < 1e-12, r
    assert r["churned"] == ("1" if p1 > p0 else "0"), r
'
    ok mlo predict churn:1 --data prepared/test.csv --out x.csv --json
    assert_eq "1" "$(json_get 'j["version"]')" "json version"
}

test_predict_handles_unknown_categories_and_missing_values() {
    example_repo
    ok mlo repro
    cat >new.csv <<'CSV'
customer_id,tenure_months,monthly_charges,contract,support_calls
1,12,50.5,month-to-month,3
2,12,50.5,weekly,3
3,NA,,,3
CSV
    ok mlo predict models/churn.json --data new.csv --proba
    assert_eq "4" "$(wc -l <"$OUT" | tr -d ' ')" "rows"
    # The target column is not needed to score, and the output has no missing value.
    assert_not_contains "$(stdout)" "nan"
}

test_predict_bad_input() {
    example_repo
    ok mlo train
    local before
    before=$(registry_dump)
    expect_exit 2 -- mlo predict nosuch --data prepared/test.csv
    assert_one_line_error "unknown model 'nosuch'"
    expect_exit 2 -- mlo predict churn@prod --data prepared/test.csv
    assert_one_line_error "model 'churn' has no alias 'prod'"
    expect_exit 2 -- mlo predict churn:7 --data prepared/test.csv
    assert_one_line_error "model 'churn' has no version 7"
    expect_exit 2 -- mlo predict churn --data missing.csv
    assert_one_line_error "missing.csv"
    printf 'tenure_months,monthly_charges,contract,support_calls\n1,2,"two-year,3\n' >bad.csv
    expect_exit 2 -- mlo predict churn --data bad.csv
    assert_one_line_error "bad.csv:2:[0-9]+: "
    printf 'customer_id,tenure_months\n1,12\n' >short.csv
    expect_exit 2 -- mlo predict churn --data short.csv
    assert_one_line_error "monthly_charges"
    printf 'tenure_months,monthly_charges,contract,support_calls\nlong,1,two-year,0\n' >typed.csv
    expect_exit 2 -- mlo predict churn --data typed.csv
    assert_one_line_error "tenure_months"
    expect_exit 2 -- mlo predict churn --data prepared/test.csv --proba --out /nonexistent/dir/x.csv
    assert_one_line_error "/nonexistent/dir"
    assert_eq "$before" "$(registry_dump)" "registry after failed predictions"
    # A model file from a newer mlo is refused.
    python3 -c '
import json
m = json.load(open("models/churn.json")); m["format_version"] = 99
json.dump(m, open("future.json", "w"))'
    expect_exit 2 -- mlo predict future.json --data prepared/test.csv
    assert_one_line_error "future.json.*newer"
}

# Training bad input fails the stage with the learner's one-line reason; nothing registered.
train_fails_with() { # train_fails_with REGEX
    local before
    before=$(registry_dump 2>/dev/null || true)
    expect_exit 2 -- mlo train
    assert_matches "$(stderr)" "$1"
    assert_not_contains "$(stderr)" "exit code 2"
    [ -z "$before" ] || assert_eq "$before" "$(registry_dump)" "registry after a failed training"
}

test_training_bad_input() {
    example_repo
    ok mlo repro prepare
    sed -i 's/target: churned/target: churn/' mlo.yaml
    train_fails_with "stage 'train' failed: .*'churn'.*prepared/train.csv"

    example_repo constant
    # support_calls = 0 everywhere in the training data.
    sed -i 's/-f prepare.awk data\/churn.csv/-f prepare.awk data\/churn.csv \&\& awk -F, -v OFS=, "NR > 1 { \\$5 = 0 } { print }" prepared\/train.csv > t \&\& mv t prepared\/train.csv/' mlo.yaml
    train_fails_with "stage 'train' failed: .*'support_calls'.*constant"

    example_repo oneclass
    sed -i 's/-f prepare.awk data\/churn.csv/-f prepare.awk data\/churn.csv \&\& awk -F, "NR == 1 || \\$6 == 0" prepared\/train.csv > t \&\& mv t prepared\/train.csv/' mlo.yaml
    train_fails_with "stage 'train' failed: .*one class.*'churned'"

    example_repo malformed
    sed -i 's/-f prepare.awk data\/churn.csv/-f prepare.awk data\/churn.csv \&\& printf "1,\\"2\\n" >> prepared\/train.csv/' mlo.yaml
    train_fails_with "stage 'train' failed: prepared/train.csv:[0-9]+:[0-9]+: "
}

test_builtin_spec_errors_name_the_line() {
    example_repo
    sed -i 's/learner: logistic_regression/learner: random_forest/' mlo.yaml
    expect_exit 2 -- mlo repro
    assert_one_line_error "^mlo: error: mlo.yaml:13:16: 'builtin' of stage 'train': 'learner' must be 'logistic_regression' or 'linear_regression', not \"random_forest\"$"
    example_repo b
    sed -i 's/      class_weight: balanced/      class_weights: balanced/' mlo.yaml
    expect_exit 2 -- mlo repro
    assert_one_line_error "^mlo: error: mlo.yaml:[0-9]+:7: 'builtin' of stage 'train': unknown key 'class_weights'"
    example_repo c
    sed -i 's/    outs: \[models\/churn.json\]//' mlo.yaml
    expect_exit 2 -- mlo repro
    assert_one_line_error "needs exactly one entry under 'outs'"
}

test_linear_regression_and_its_metrics() {
    new_repo
    python3 - <<'PY'
import random
random.seed(7)
with open("houses.csv", "w") as f:
    f.write("rooms,area,city,price\n")
    for i in range(400):
        rooms = random.randint(1, 6); area = random.uniform(20, 200); city = random.choice(["a", "b", "c"])
        price = 10 * rooms + 2 * area + {"a": 0, "b": 50, "c": -30}[city] + random.gauss(0, 5)
        f.write("%d,%.3f,%s,%.4f\n" % (rooms, area, city, price))
PY
    cat >mlo.yaml <<'YAML'
stages:
  fit:
    builtin: {learner: linear_regression, data: houses.csv, target: price, l2: 0}   # OLS
    outs: [price.json]
  score:
    builtin: {evaluate: price.json, data: houses.csv}
    metrics: [scores.json]
YAML
    ok mlo repro
    ok python3 -c '
import json
m = json.load(open("scores.json"))
assert m["r2"] > 0.98, m
assert 3 < m["rmse"] < 7, m
'
    ok mlo predict price.json --data houses.csv --out p.csv
    # RMSE from the predictions equals the evaluated one.
    ok python3 -c '
import csv, json, math
y = [float(r["price"]) for r in csv.DictReader(open("houses.csv"))]
p = [float(r["price"]) for r in csv.DictReader(open("p.csv"))]
rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / len(y))
want = json.load(open("scores.json"))["rmse"]
assert abs(rmse - want) < 1e-9 * want, (rmse, want)
'
}

run_tests
