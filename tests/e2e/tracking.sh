#!/usr/bin/env bash
# Experiment tracking (issue 5): `mlo exp run` sweeps in isolated workspaces, `mlo run` tracked
# commands, `mlo log` from inside a run, and `mlo exp list/show/diff/apply/rm`.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum xmllint git

# A repository whose one stage reads two parameters and writes a model file and metrics:
# score = a * 10, blen = length of b. Each execution appends "start END" times (ns) to
# $TEST_DIR/intervals (outside the repository, so the experiments' isolation does not hide it).
# FAIL_A: the value of a for which the stage fails.
sweep_repo() {
    new_repo
    cat >params.yaml <<'EOF'
# training parameters
train:
  a: 1     # the multiplier
  b: x
other: keep
EOF
    cat >train.sh <<EOF
a=\$1; b=\$2
s=\$(date +%s%N)
sleep ${SLEEP:-1}
[ "\$a" = "${FAIL_A:-none}" ] && { echo "bad a" >&2; exit 3; }
mkdir -p models
echo "model a=\$a b=\$b" > models/model.txt
printf '{"score": %s, "blen": %s}\n' "\$((a * 10))" "\${#b}" > metrics.json
echo "\$s \$(date +%s%N)" >> "$TEST_DIR/intervals"
EOF
    cat >mlo.yaml <<'EOF'
stages:
  train:
    cmd: sh train.sh ${train.a} ${train.b}
    deps: [train.sh]
    outs: [models/model.txt]
    metrics: [metrics.json]
EOF
    : >"$TEST_DIR/intervals"
}

# Files of the workspace (not .mlo), with their hashes.
workspace_listing() {
    tree_listing . | grep -v "^'\.mlo/"
}

# The most intervals in $TEST_DIR/intervals that overlap at one moment.
max_overlap() {
    python3 - "$TEST_DIR/intervals" <<'EOF'
import sys
ev = []
for line in open(sys.argv[1]):
    s, e = map(int, line.split())
    ev += [(s, 1), (e, -1)]
cur = best = 0
for _, d in sorted(ev, key=lambda x: (x[0], x[1])):
    cur += d
    best = max(best, cur)
print(best)
EOF
}

test_sweep_of_2x3_values_runs_six_experiments_two_at_a_time() {
    sweep_repo
    ok mlo repro
    local before
    before=$(workspace_listing)
    : >"$TEST_DIR/intervals"
    ok mlo exp run -S train.a=1,2 -S train.b=x,yy,zzz -j 2 --name sw
    # a=1 b=x is what `repro` ran above: mlo.lock says it is up to date, the 5 others run, two
    # at a time.
    assert_eq 5 "$(wc -l <"$TEST_DIR/intervals")"
    assert_eq 2 "$(max_overlap)"
    # The user's workspace is exactly as it was: params.yaml, mlo.lock, outputs.
    assert_eq "$before" "$(workspace_listing)"
    ok mlo exp list --json --sort name
    assert_stdout_json
    assert_eq 6 "$(json_get 'len(j)')"
    assert_eq "sw-1 1 x 10 1
sw-2 1 yy 10 2
sw-3 1 zzz 10 3
sw-4 2 x 20 1
sw-5 2 yy 20 2
sw-6 2 zzz 20 3" "$(json_get '[" ".join(str(x) for x in (r["name"], r["params.train.a"], r["params.train.b"], int(r["metrics.score"]), int(r["metrics.blen"]))) for r in j]')"
    assert_eq "succeeded" "$(json_get 'sorted(set(r["status"] for r in j))')"
    ok mlo exp show sw-1 --json
    assert_eq "0 10.0" "$(json_get '" ".join(str(x) for x in (len(j["stage_runs"]), j["metrics"]["score"]))')"
    # One sweep id for all six; each has its stage run as a child.
    ok mlo exp list --json --columns sweep,id
    assert_eq 1 "$(json_get 'len(set(r["sweep"] for r in j))')"
    local id
    ok mlo exp show sw-4 --json
    id=$(json_get 'j["id"]')
    assert_eq "train" "$(json_get '[s["stage"] for s in j["stage_runs"]]')"
    assert_eq "$id" "$(json_get 'j["stage_runs"][0]["parent"]')"
    # No experiment workspace is left behind.
    assert_eq "" "$(ls .mlo/tmp/exp 2>/dev/null)"
}

test_a_failing_combination_is_recorded_and_the_others_succeed() {
    FAIL_A=2 SLEEP=0 sweep_repo
    expect_exit 2 -- mlo exp run -S train.a=1,2,3 --name f
    assert_contains "$(stderr)" "experiment 'f-2' failed: stage 'train' failed: command failed with exit code 3"
    ok mlo exp list --json --sort name --columns name,status,metrics.score
    assert_eq '["f-1", "succeeded", 10.0]
["f-2", "failed", null]
["f-3", "succeeded", 30.0]' "$(json_get '[[r["name"], r["status"], r["metrics.score"]] for r in j]')"
    assert_eq "" "$(ls .mlo/tmp/exp 2>/dev/null)"
}

test_exp_apply_restores_exactly_that_runs_outputs() {
    SLEEP=0 sweep_repo
    ok mlo repro
    ok mlo exp run -S train.a=2,3 -S train.b=yy --name ap
    ok mlo exp list --json --where "name = ap-2" --columns id
    local id
    id=$(json_get 'j[0]["id"]')
    ok mlo exp apply "${id:0:8}"
    # Parameters written in place: comments and the other keys untouched.
    assert_eq '# training parameters
train:
  a: 3     # the multiplier
  b: yy
other: keep' "$(cat params.yaml)"
    assert_eq "model a=3 b=yy" "$(cat models/model.txt)"
    assert_eq '{"score": 30, "blen": 2}' "$(cat metrics.json)"
    # The outputs are the very objects the experiment's stage run stored.
    ok mlo exp show "$id" --json
    local run
    run=$(json_get 'j["stage_runs"][0]["id"]')
    ok mlo runs --id "$run" --json
    assert_eq "$(json_get '[o["hash"] for o in j["outputs"] if o["path"] == "models/model.txt"][0]')" \
        "sha256:$(sha256_of models/model.txt)"
    # mlo.lock agrees: nothing is stale.
    expect_exit 0 -- mlo status --exit-code
}

test_where_and_sort_select_the_right_runs() {
    new_repo
    local n l2 acc team
    for spec in "r1 0.1 0.95 x" "r2 0.1 0.80 y" "r3 1 0.97 y" "r4 1 0.40 x" "r5 0.01 0.60 z"; do
        read -r n l2 acc team <<<"$spec"
        ok mlo run --name "$n" --param "train.l2=$l2" --tag "team=$team" -- \
            sh -c "\"\$MLO\" log metric accuracy $acc"
    done
    ok mlo exp list --json --where "metrics.accuracy > 0.9 and params.train.l2 = 0.1 or tags.team = 'z'" --sort name
    assert_eq "r1 r5" "$(json_get '" ".join(r["name"] for r in j)')"
    ok mlo exp list --json --where "not (params.train.l2 = 1) and tags.team ~ '[xy]'" --sort=-metrics.accuracy
    assert_eq "r1 r2" "$(json_get '" ".join(r["name"] for r in j)')"
    ok mlo exp list --json --sort metrics.accuracy:desc --limit 3
    assert_eq "r3 r1 r2" "$(json_get '" ".join(r["name"] for r in j)')"
    ok mlo exp list --csv --sort name --columns name,params.train.l2,metrics.accuracy
    assert_eq "name,params.train.l2,metrics.accuracy
r1,0.1,0.95
r2,0.1,0.8
r3,1,0.97
r4,1,0.4
r5,0.01,0.6" "$(stdout)"
    # The table shows the parameters that vary and every metric.
    ok mlo exp list --sort name
    assert_contains "$(head -n 1 <<<"$(stdout)")" "params.train.l2"
    assert_contains "$(head -n 1 <<<"$(stdout)")" "metrics.accuracy"
    # exp rm --where deletes exactly the matches.
    ok mlo exp rm --where "tags.team = x"
    ok mlo exp list --json --sort name
    assert_eq "r2 r3 r5" "$(json_get '" ".join(r["name"] for r in j)')"
}

test_exp_diff_shows_only_what_differs() {
    new_repo
    ok mlo run --name a --param l2=0.1 --param layers=3 -- sh -c '"$MLO" log metric acc 0.8; "$MLO" log metric loss 0.5'
    ok mlo run --name b --param l2=0.2 --param layers=3 -- sh -c '"$MLO" log metric acc 0.9; "$MLO" log metric loss 0.5'
    ok mlo exp diff a b
    assert_contains "$(stdout)" "params.l2"
    assert_contains "$(stdout)" "metrics.acc"
    assert_not_contains "$(stdout)" "layers"
    assert_not_contains "$(stdout)" "loss"
    ok mlo exp diff a b --json
    assert_eq '{"l2": {"new": 0.2, "old": 0.1}}' "$(json_get 'j["params"]')"
    assert_eq "0.1" "$(json_get 'round(j["metrics"]["acc"]["change"], 9)')"
    ok mlo exp diff a a
    assert_stdout_empty
}

test_step_histories_survive() {
    new_repo
    ok mlo run --name h -- sh -c 'for i in 0 1 2 3; do "$MLO" log metric loss "0.$((9 - i))"; done; "$MLO" log metric loss 0.1 --step 10; "$MLO" log metric loss 0.7 --step 5'
    ok mlo exp show h --json
    assert_eq "[[0, 0.9], [1, 0.8], [2, 0.7], [3, 0.6], [5, 0.7], [10, 0.1]]" "$(json_get 'json.dumps(j["history"]["loss"])')"
    # The run's value is the one at the highest step.
    assert_eq "0.1" "$(json_get 'j["metrics"]["loss"]')"
    # JSON lines, and an object file at a step.
    printf '{"name": "acc", "value": 0.5, "step": 1}\n{"name": "acc", "value": 0.75, "step": 2}\n{"name":"lr","value":1e-3}\n' >m.jsonl
    ok mlo run --name j -- sh -c '"$MLO" log metrics m.jsonl'
    ok mlo exp show j --json
    assert_eq "[[1, 0.5], [2, 0.75]] [[0, 0.001]]" "$(json_get '" ".join(json.dumps(j["history"][k]) for k in ("acc", "lr"))')"
}

test_plot_report_is_self_contained_and_its_svg_parses() {
    new_repo
    ok mlo run --name p1 --param lr=0.1 -- sh -c 'for i in 1 2 3; do "$MLO" log metric loss "0.$((9 - i))"; done; "$MLO" log metric acc 0.7'
    ok mlo run --name "p2 <&>" --param lr=0.01 -- sh -c 'for i in 1 2 3 4; do "$MLO" log metric loss "0.$((8 - i))"; done; "$MLO" log metric acc 0.8'
    ok mlo run --name p3 --param lr=0.001 -- sh -c '"$MLO" log metric acc 0.9'
    ok mlo plots p1 "p2 <&>" p3 -o report.html
    assert_file_exists report.html
    xmllint --noout report.html || fail "report.html is not well-formed XML"
    assert_not_contains "$(cat report.html)" "<script"
    assert_not_contains "$(grep -o 'https\?://[^"]*' report.html | grep -v www.w3.org/2000/svg)" "http"
    # One curve per run that logged loss (p1, p2), a scatter of each metric against lr.
    assert_eq 2 "$(grep -o '<polyline' report.html | wc -l)"
    assert_contains "$(cat report.html)" "p2 &lt;&amp;&gt;"
    ok mlo plots p1 "p2 <&>" p3 --format svg -o svgs
    assert_eq "acc-vs-lr.svg acc.svg loss-vs-lr.svg loss.svg" "$(ls svgs | sort | tr '\n' ' ' | sed 's/ $//')"
    for f in svgs/*.svg; do
        xmllint --noout "$f" || fail "$f is not well-formed"
    done
    expect_exit 2 -- mlo plots p1 --metric nosuch
    assert_one_line_error "no run given has a metric 'nosuch'"
}

test_tracked_command_records_exit_code_log_and_outputs() {
    new_repo
    echo "input" >in.txt
    ok mlo run --name t --dep in.txt --out out.txt -- sh -c 'echo to-stdout; echo to-stderr >&2; cp in.txt out.txt'
    assert_eq "to-stdout" "$(stdout)"
    assert_contains "$(stderr)" "to-stderr"
    ok mlo exp show t --json
    assert_eq "succeeded 0 command" "$(json_get '" ".join(str(x) for x in (j["status"], j["exit_code"], j["kind"]))')"
    assert_eq "sha256:$(sha256_of out.txt)" "$(json_get 'j["outputs"][0]["hash"]')"
    [ -f "$(object_path "$(sha256_of out.txt)")" ] || fail "the output is not in the store"
    expect_exit 2 -- mlo run --name bad -- sh -c 'exit 7'
    assert_one_line_error "command failed with exit code 7"
    ok mlo exp show bad --json
    assert_eq "failed 7" "$(json_get '" ".join(str(x) for x in (j["status"], j["exit_code"]))')"
}

test_interrupting_a_sweep_stops_every_experiment_and_cleans_up() {
    new_repo
    printf 'train:\n  a: 1\n' >params.yaml
    cat >mlo.yaml <<EOF
stages:
  long:
    cmd: echo \$\$ >> "$TEST_DIR/pids"; sleep 60; echo \${train.a} > out.txt
    outs: [out.txt]
EOF
    : >"$TEST_DIR/pids"
    "$MLO" exp run -S train.a=1,2,3 -j 2 >r.out 2>r.err </dev/null &
    local pid=$! i
    for i in $(seq 100); do [ "$(wc -l <"$TEST_DIR/pids")" = 2 ] && break; sleep 0.1; done
    [ "$(wc -l <"$TEST_DIR/pids")" = 2 ] || fail "two experiments never started"
    kill -INT $pid
    local code=0
    wait $pid || code=$?
    assert_eq 130 "$code" "exit code after SIGINT"
    local p
    alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
    for p in $(cat "$TEST_DIR/pids"); do
        for i in $(seq 50); do alive "$p" || break; sleep 0.1; done
        if alive "$p"; then fail "stage process $p still runs"; fi
    done
    # The two started experiments are recorded as interrupted, the third never started.
    ok mlo exp list --json --all --columns kind,status
    assert_eq '["exp", "interrupted"]
["exp", "interrupted"]
["stage", "interrupted"]
["stage", "interrupted"]' "$(json_get 'sorted([r["kind"], r["status"]] for r in j)')"
    assert_eq "" "$(ls .mlo/tmp/exp 2>/dev/null)"
    assert_no_file out.txt
}

test_metrics_and_params_of_revisions_runs_and_the_workspace() {
    SLEEP=0 sweep_repo
    git init -q . && git config user.email t@e.st && git config user.name t
    ok mlo repro
    git add -A . && git commit -q -m v1
    sed -i 's/  a: 1 /  a: 2 /' params.yaml
    ok mlo repro
    ok mlo params diff --json
    assert_eq '{"train.a": {"change": 1.0, "new": 2, "old": 1}}' "$(json_get 'j["params"]')"
    ok mlo metrics diff
    assert_contains "$(stdout)" "score"
    assert_contains "$(stdout)" "+10"
    assert_not_contains "$(stdout)" "blen"
    ok mlo metrics show HEAD --json
    assert_eq '{"blen": 1.0, "score": 10.0}' "$(json_get 'j')"
    # The store lost the old metrics file (gc): git still has it.
    ok mlo gc
    ok mlo metrics show HEAD --json
    assert_eq '{"blen": 1.0, "score": 10.0}' "$(json_get 'j')"
    # Runs and experiments compare too.
    ok mlo exp run -S train.a=5 --name five
    ok mlo metrics diff five --csv
    assert_eq "METRIC,five,workspace,CHANGE
score,50,20,-30" "$(stdout)"
    ok mlo params diff HEAD five --csv
    assert_eq "PARAM,HEAD,five,CHANGE
train.a,1,5,+4" "$(stdout)"
    expect_exit 2 -- mlo metrics show nosuchthing
    assert_one_line_error "'nosuchthing' is neither a run nor a git revision"
}

test_bad_input_is_a_clear_error() {
    SLEEP=0 sweep_repo
    ok mlo run --name dup -- true
    ok mlo run --name dup -- true
    take_snapshot before
    expect_exit 2 -- mlo exp show nosuchrun
    assert_one_line_error "unknown run 'nosuchrun'"
    expect_exit 2 -- mlo exp show dup
    assert_one_line_error "run 'dup' is ambiguous"
    expect_exit 2 -- mlo exp list --where "metrics.acc > "
    assert_one_line_error "--where: column"
    expect_exit 2 -- mlo exp list --where "(status = x"
    assert_one_line_error "--where: column"
    (unset MLO_RUN_ID; expect_exit 2 -- mlo log metric acc 1)
    assert_one_line_error "not inside a run"
    expect_exit 2 -- mlo exp run -S train.nokey=1,2
    assert_one_line_error "no parameter 'train.nokey' in params.yaml"
    expect_exit 2 -- mlo exp run -S train.a=
    assert_one_line_error "empty value"
    expect_exit 2 -- mlo exp diff dup nosuchrun
    assert_one_line_error
    assert_unchanged before
}

run_tests
