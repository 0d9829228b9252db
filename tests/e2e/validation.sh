#!/usr/bin/env bash
# Data validation (issue 7): `mlo schema infer` writes a schema that the same file passes;
# `mlo validate` fails (exit 1) a shifted file, naming column, rule and the lines of offending
# values (counted in physical lines, quoted fields with line breaks included), as a table and
# as JSON; a malformed schema or unreadable data exits 2 with one line naming file and line; a
# stage's `validate:` stops the pipeline before training on bad data and lets it run on good.
#
#   MLO=build/mlo bash tests/e2e/validation.sh
source "$(dirname "$0")/lib.bash"

# make_data FILE [shifted]: 300 customers. Notes are quoted and some hold line breaks, so line
# numbers and row numbers differ. Shifted data also has, at fixed rows, a tenure above the
# range, an unknown plan, a word where a number belongs, a repeated id and a missing churned.
# Writes FILE.lines: "<what> <line>" for each planted value, counted while writing.
make_data() {
    python3 - "$1" "${2:-}" <<'PY'
import random, sys
path, shifted = sys.argv[1], sys.argv[2] == "shifted"
r = random.Random(7)
plans = ["basic", "pro", "team"]
planted = {40: "tenure", 77: "plan", 150: "monthly", 201: "id", 260: "churned", 261: "tenure"}
out, marks = [], []
line = 1
def emit(record):
    global line
    start = line
    out.append(record + "\n")
    line += record.count("\n") + 1
    return start
emit('customer,tenure,monthly,plan,note,churned')
for i in range(300):
    cid, tenure = 1000 + i, r.randint(0, 72)
    if i < 2:
        tenure = 72 - 72 * i  # the range is 0..72 exactly
    monthly = "%.2f" % r.uniform(10, 120)
    plan = r.choice(plans)
    note = '"called twice\nthen left"' if i % 7 == 3 else '"ok"'
    churned = str(int(r.random() < 0.3 + 0.004 * (72 - tenure)))
    what = planted.get(i) if shifted else None
    if what == "tenure":
        tenure = 500 + i
    elif what == "plan":
        plan = "gold"
    elif what == "monthly":
        monthly = "abc"
    elif what == "id":
        cid = 1000 + 5
    elif what == "churned":
        churned = ""
    start = emit("%d,%d,%s,%s,%s,%s" % (cid, tenure, monthly, plan, note, churned))
    if what:
        marks.append("%s %d" % (what, start))
    if i == 5:
        marks.append("first5 %d" % start)
open(path, "w").write("".join(out))
open(path + ".lines", "w").write("\n".join(marks) + "\n")
PY
}

# The line where planted value WHAT of FILE starts.
line_of() { awk -v w="$2" '$1 == w { print $2; exit }' "$1.lines"; }

test_infer_then_validate_the_same_file() {
    make_data data.csv
    ok mlo schema infer data.csv
    cp "$OUT" stdout.yaml
    ok mlo schema infer data.csv -o schema.yaml
    assert_stdout_empty
    assert_contains "$(stderr)" "wrote the schema of 6 columns (300 rows) to 'schema.yaml'"
    cmp -s stdout.yaml schema.yaml || fail "schema on stdout and in the file differ"
    local s
    s=$(<schema.yaml)
    assert_contains "$s" "schema: mlo-schema 1"
    assert_contains "$s" "observed_rows: 300"
    assert_contains "$s" "min_rows: 1"
    assert_contains "$s" $'  customer:\n    type: integer\n    min: 1000\n    max: 1299\n    nullable: false\n    unique: true'
    assert_contains "$s" $'  plan:\n    type: categorical\n    domain: [basic, pro, team]\n    nullable: false'
    assert_contains "$s" $'  monthly:\n    type: numeric'
    assert_contains "$s" $'  churned:\n    type: integer\n    min: 0\n    max: 1'
    ok mlo validate data.csv --schema schema.yaml
    assert_contains "$(stdout)" "'data.csv' matches 'schema.yaml':"
    assert_contains "$(stdout)" "rules passed (300 rows)"
    ok mlo -q validate data.csv -s schema.yaml
    assert_stdout_empty
    assert_stderr_empty
}

test_shifted_file_fails_naming_column_rule_and_lines() {
    make_data data.csv
    make_data bad.csv shifted
    ok mlo schema infer data.csv -o schema.yaml
    expect_exit 1 -- mlo validate bad.csv --schema schema.yaml
    assert_stderr_empty
    local out tenure plan monthly id churned
    out=$(stdout)
    tenure=$(line_of bad.csv tenure)
    plan=$(line_of bad.csv plan)
    monthly=$(line_of bad.csv monthly)
    id=$(line_of bad.csv id)
    churned=$(line_of bad.csv churned)
    # The records hold line breaks: the physical lines are well past the row numbers.
    [ "$tenure" -gt 42 ] || fail "the planted tenure should start past line 42, not $tenure"
    assert_matches "$out" "^COLUMN +RULE +EXPECTED +FAILING +RESULT +EXAMPLES"
    assert_matches "$out" "^customer +unique +unique +1 / 300 +FAIL +line $id: 1005 \\(also line $(line_of bad.csv first5)\\)"
    assert_matches "$out" "^tenure +max +<= 72 +2 / 300 +FAIL +line $tenure: 540, line [0-9]+: 761$"
    assert_matches "$out" "^monthly +type +numeric +1 / 300 +FAIL +line $monthly: \"abc\"$"
    assert_matches "$out" "^plan +domain +one of \"basic\", \"pro\", \"team\" +1 / 300 +FAIL +line $plan: \"gold\"$"
    assert_matches "$out" "^churned +nullable +not missing +1 / 300 +FAIL +line $churned: missing$"
    assert_contains "$out" "'bad.csv' does not match 'schema.yaml': 5 of"
    # Passing rules are not listed.
    assert_not_contains "$out" "note "

    # A tolerance lets the one odd value through.
    sed -i 's/^  plan:$/  plan:\n    mostly: 0.99/' schema.yaml
    expect_exit 1 -- mlo validate bad.csv --schema schema.yaml
    assert_not_contains "$(stdout)" "gold"
    assert_contains "$(stdout)" "4 of"
    expect_exit 1 -- mlo -v validate bad.csv --schema schema.yaml
    assert_matches "$(stdout)" "^plan +domain +one of .*, mostly 0.99 +1 / 300 +ok +line $plan: \"gold\"$"
}

test_json_document() {
    make_data data.csv
    make_data bad.csv shifted
    ok mlo --json schema infer data.csv -o schema.yaml
    assert_stdout_json
    assert_eq "true" "$(json_get 'sorted(j) == ["data", "out", "rows", "schema"]')" "keys"
    assert_eq "300" "$(json_get 'j["rows"]')"
    assert_eq "schema.yaml" "$(json_get 'j["out"]')"
    assert_eq "true" "$(json_get '[c for c in j["schema"]["columns"] if c["name"] == "plan"][0]["domain"] == ["basic", "pro", "team"]')" "domain"
    assert_eq "true" "$(json_get 'sorted(j["schema"]["columns"][0]) == sorted(["name", "type", "min", "max", "domain", "min_domain_mass", "nullable", "max_null_fraction", "unique", "mostly"])')" "column keys"

    ok mlo --json validate data.csv --schema schema.yaml
    assert_stdout_json
    assert_eq "true" "$(json_get 'j["valid"]')"
    assert_eq "0" "$(json_get 'j["rules_failed"]')"

    expect_exit 1 -- mlo validate bad.csv --schema schema.yaml --json
    assert_stdout_json
    assert_eq "bad.csv schema.yaml 300 False 5" \
        "$(json_get '" ".join(str(x) for x in [j["data"], j["schema"], j["rows"], j["valid"], j["rules_failed"]])')"
    assert_eq "$(json_get 'len(j["rules"])')" "$(json_get 'j["rules_checked"]')" "rules_checked"
    local keys
    keys=$(json_get 'sorted(set(tuple(sorted(r)) for r in j["rules"]))')
    assert_eq '["column", "examples", "expected", "failing", "observed", "passed", "required_share", "rule", "total"]' "$keys" "rule keys"
    assert_eq "tenure max 2 300 $(line_of bad.csv tenure) 540" \
        "$(json_get '" ".join(str(x) for r in j["rules"] if r["column"] == "tenure" and r["rule"] == "max" for x in [r["column"], r["rule"], r["failing"], r["total"], r["examples"][0]["line"], r["examples"][0]["value"]])')"
    assert_eq "$(line_of bad.csv id) $(line_of bad.csv first5)" \
        "$(json_get '" ".join(str(x) for r in j["rules"] if r["rule"] == "unique" for x in [r["examples"][0]["line"], r["examples"][0]["first_line"]])')"
    assert_eq "true" "$(json_get '[r for r in j["rules"] if r["rule"] == "nullable" and not r["passed"]][0]["examples"][0]["value"] is None')" "missing value"
    assert_eq "min_rows None None 300 rows" \
        "$(json_get '" ".join(str(x) for r in j["rules"] if r["rule"] == "min_rows" for x in [r["rule"], r["column"], r["failing"], r["observed"]])')"
}

test_bad_input_exits_2_naming_file_and_line() {
    make_data data.csv
    cat >schema.yaml <<'YAML'
schema: mlo-schema 1
columns:
  tenure:
    type: integer
    mni: 0
YAML
    expect_exit 2 -- mlo validate data.csv --schema schema.yaml
    assert_stdout_empty
    assert_one_line_error "^mlo: error: cannot read 'schema.yaml' line 5 column 5: unknown key 'mni' in column 'tenure'"

    printf 'columns:\n  tenure: {type: integer\n  plan: {type: categorical}\n' >broken.yaml
    expect_exit 2 -- mlo validate data.csv --schema broken.yaml
    assert_one_line_error "^mlo: error: cannot read 'broken.yaml' line [0-9]+ column [0-9]+: "

    printf 'columns:\n  tenure:\n    type: integer\n    max: lots\n' >words.yaml
    expect_exit 2 -- mlo validate data.csv --schema words.yaml
    assert_one_line_error "^mlo: error: cannot read 'words.yaml' line 4 column 10: 'max' of column 'tenure' must be a number, not 'lots'$"

    expect_exit 2 -- mlo validate data.csv --schema missing.yaml
    assert_one_line_error "^mlo: error: cannot read schema 'missing.yaml': no such file$"

    ok mlo schema infer data.csv -o schema.yaml
    printf 'a,b\n1,"open\n' >broken.csv
    expect_exit 2 -- mlo validate broken.csv --schema schema.yaml
    assert_one_line_error "^mlo: error: broken.csv:2:3: quoted field is not closed"
    expect_exit 2 -- mlo validate nothing.csv --schema schema.yaml
    assert_one_line_error "nothing.csv"
    expect_exit 2 -- mlo schema infer nothing.csv
    assert_one_line_error "nothing.csv"
    expect_exit 2 -- mlo validate data.csv
    assert_one_line_error "schema"
    expect_exit 2 -- mlo schema
    assert_one_line_error "no subcommand given for 'schema'"
    expect_exit 2 -- mlo schema infer data.csv -o no/such/dir/s.yaml
    assert_one_line_error "^mlo: error: cannot write 'no/such/dir/s.yaml': no directory 'no/such/dir'$"
}

# A pipeline that trains a model on data/train.csv, after validating it.
pipeline_repo() {
    new_repo
    mkdir -p data
    make_data data/train.csv
    ok mlo schema infer data/train.csv -o schema.yaml
    cat >mlo.yaml <<'YAML'
stages:
  train:
    builtin:
      learner: logistic_regression
      data: data/train.csv
      target: churned
      features: [tenure, monthly, plan]
    validate: {data: data/train.csv, schema: schema.yaml}
    outs: [models/churn.json]
YAML
}

test_pipeline_stops_before_training_on_bad_data() {
    pipeline_repo
    make_data data/train.csv shifted
    expect_exit 2 -- mlo repro
    assert_no_file models/churn.json
    local err
    err=$(stderr)
    assert_contains "$err" "mlo: error: stage 'train' failed: data 'data/train.csv' does not match schema 'schema.yaml': 5 of"
    assert_contains "$err" "column 'tenure' max (<= 72): 2 of 300 values fail, line $(line_of data/train.csv tenure): 540"
    assert_not_contains "$(stdout)" "ran 'train'"
    # Nothing was recorded as up to date.
    assert_no_file mlo.lock

    # Good data: the stage runs.
    make_data data/train.csv
    ok mlo repro
    assert_file_exists models/churn.json
    assert_contains "$(stdout)" "ran 'train'"
    ok mlo repro
    assert_contains "$(stdout)" "'train' is up to date"
    # The schema is a dependency: changing it runs the stage again.
    echo "# tightened" >>schema.yaml
    ok mlo repro --dry-run
    assert_contains "$(stdout)" "dependency 'schema.yaml' changed"
    # A schema the data does not meet stops it again, and the model of the last good run stays.
    sed -i 's/^    max: 72$/    max: 60/' schema.yaml
    expect_exit 2 -- mlo repro
    assert_contains "$(stderr)" "column 'tenure' max (<= 60)"
    assert_file_exists models/churn.json
}

test_pipeline_malformed_schema_fails_the_stage() {
    pipeline_repo
    printf 'columns:\n  tenure: {type: integer, nullable: maybe}\n' >schema.yaml
    expect_exit 2 -- mlo repro
    assert_contains "$(stderr)" "mlo: error: stage 'train' failed: cannot read 'schema.yaml' line 2 column 37: 'nullable' of column 'tenure' must be true or false, not 'maybe'"
    assert_no_file models/churn.json
    # A validate entry naming a file that does not exist is caught before anything runs.
    sed -i 's/schema: schema.yaml/schema: nope.yaml/' mlo.yaml
    expect_exit 2 -- mlo repro
    assert_contains "$(stderr)" "nope.yaml"
}

run_tests
