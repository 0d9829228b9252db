#!/usr/bin/env bash
# Pipelines (issue 3): mlo.yaml, repro, the run cache, train/evaluate, runs, lineage, dag,
# bad pipeline files, concurrency and parallelism, interrupts. Stage commands are awk and sh;
# each appends to a counter file outside its outputs, so a test can prove what ran.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum awk

# The churn pipeline of the example as shell commands (awk), before it moved to built-in stages.
EXAMPLE=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}/tests/e2e/fixtures/churn_awk
DATA=$MLO_SOURCE_DIR/examples/quickstart/data

# The example's churn pipeline (prepare, train, evaluate) with a counter per stage.
churn_repo() {
    new_repo "${1:-repo}"
    cp -r "$DATA" "$EXAMPLE"/*.awk "$EXAMPLE/params.yaml" .
    mkdir -p counts
    # Same pipeline as the example, each command first bumps its counter.
    sed -E 's#^( +cmd: )#\1echo x >> counts/STAGE \&\& #' "$EXAMPLE/mlo.yaml" |
        awk '/^  [a-z]+:$/ { stage = substr($1, 1, length($1) - 1) } { gsub("STAGE", stage); print }' >mlo.yaml
    grep -q 'counts/train' mlo.yaml || fail "could not instrument mlo.yaml"
}

count() { if [ -f "counts/$1" ]; then wc -l <"counts/$1" | tr -d ' '; else echo 0; fi; }
counts() { echo "$(count prepare) $(count train) $(count evaluate)"; }
digest() { sha256sum "$1" | cut -d' ' -f1; }
set_param() { # set_param KEY VALUE: rewrites params.yaml (two levels) with python
    python3 - "$1" "$2" <<'EOF'
import sys, re
key, value = sys.argv[1], sys.argv[2]
top, sub = key.split(".")
lines = open("params.yaml").read().split("\n")
section = None
for i, line in enumerate(lines):
    m = re.match(r"^(\w+):\s*$", line)
    if m:
        section = m.group(1)
    elif section == top and re.match(r"^  " + sub + r":", line):
        lines[i] = "  %s: %s" % (sub, value)
open("params.yaml", "w").write("\n".join(lines))
EOF
}

test_three_stage_pipeline_runs_once_then_nothing() {
    churn_repo
    ok mlo repro
    assert_eq "1 1 1" "$(counts)" "stage runs after the first repro"
    assert_file_exists prepared/train.csv
    assert_file_exists models/churn.txt
    assert_matches "$(cat metrics.json)" '"accuracy": 0\.[0-9]+' "metrics.json"
    assert_file_exists mlo.lock
    # Every output is in the store under its hash.
    local f
    for f in prepared/train.csv prepared/test.csv models/churn.txt metrics.json; do
        assert_file_exists ".mlo/objects/$(digest "$f" | cut -c1-2)/$(digest "$f" | cut -c3-)"
        assert_contains "$(cat mlo.lock)" "sha256:$(digest "$f")" "mlo.lock entry of $f"
    done
    ok mlo repro
    assert_eq "1 1 1" "$(counts)" "stage runs after a second repro"
    assert_contains "$(stdout)" "'train' is up to date"
    ok mlo status
    assert_contains "$(stdout)" "3 stages up to date"
}

test_stage_output_is_prefixed_and_env_is_set() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  show:
    cmd: echo "id=$MLO_RUN_ID stage=$MLO_STAGE repo=$MLO_REPO" && echo to-stderr >&2 && pwd > where.txt
    outs: [where.txt]
EOF
    ok mlo repro
    assert_matches "$(stdout)" '^\[show\] id=[0-9a-f]{24} stage=show repo=' "prefixed output"
    assert_contains "$(stdout)" "repo=$PWD"
    assert_contains "$(stdout)" "[show] to-stderr"
    assert_eq "$PWD" "$(cat where.txt)" "working directory of the command"
    # The run's recorded log holds the output.
    ok mlo runs --json
    local log
    log=$(json_get 'j[0]["log"]')
    assert_matches "$log" '^sha256:[0-9a-f]{64}$' "log reference"
    local obj=${log#sha256:}
    assert_contains "$(cat ".mlo/objects/${obj:0:2}/${obj:2}")" "to-stderr" "stored log"
}

test_param_change_reruns_exactly_dependants() {
    churn_repo
    ok mlo repro
    local prepared model
    prepared=$(digest prepared/train.csv)
    set_param train.smoothing 5
    ok mlo repro --dry-run
    assert_contains "$(stdout)" "would run 'train': parameter 'train.smoothing' changed (1 -> 5)"
    assert_contains "$(stdout)" "command changed" "reasons (the command interpolates the parameter)"
    assert_contains "$(stdout)" "would run 'evaluate'"
    assert_not_contains "$(stdout)" "would run 'prepare'"
    assert_eq "1 1 1" "$(counts)" "counts after --dry-run"
    ok mlo repro
    assert_eq "1 2 2" "$(counts)" "stage runs after changing train.smoothing"
    assert_eq "$prepared" "$(digest prepared/train.csv)" "prepare's output"
    set_param prepare.split 0.7
    ok mlo repro
    assert_eq "2 3 3" "$(counts)" "stage runs after changing prepare.split"
}

test_reverting_a_parameter_restores_from_the_run_cache() {
    churn_repo
    ok mlo repro
    local model metrics
    model=$(digest models/churn.txt)
    metrics=$(digest metrics.json)
    set_param train.smoothing 7
    ok mlo repro
    assert_eq "1 2 2" "$(counts)"
    assert_ne "$model" "$(digest models/churn.txt)" "model after changing smoothing"
    set_param train.smoothing 1
    ok mlo repro
    assert_eq "1 2 2" "$(counts)" "stage runs after reverting (the run cache must restore)"
    assert_contains "$(stdout)" "restored 'train'"
    assert_eq "$model" "$(digest models/churn.txt)" "restored model"
    assert_eq "$metrics" "$(digest metrics.json)" "restored metrics"
    ok mlo runs --json
    assert_eq "restored" "$(json_get 'j[0]["status"]')" "newest run's status"
    ok mlo repro
    assert_eq "1 2 2" "$(counts)" "nothing to do after the restore"
    # Going to 7 again is a restore too; --no-run-cache runs the command instead.
    set_param train.smoothing 7
    ok mlo repro
    assert_eq "1 2 2" "$(counts)" "stage runs after going back to 7"
    set_param train.smoothing 1
    ok mlo repro --no-run-cache
    assert_eq "1 3 3" "$(counts)" "stage runs with --no-run-cache"
}

test_a_failing_stage_leaves_the_lock_and_other_outputs() {
    churn_repo
    ok mlo repro
    cp mlo.lock lock.before
    local prepared metrics
    prepared=$(digest prepared/train.csv)
    metrics=$(digest metrics.json)
    sed -i 's#-f train.awk#-f missing.awk#' mlo.yaml
    expect_exit 2 -- mlo repro
    assert_contains "$(stderr)" "mlo: error: stage 'train' failed: command failed with exit code"
    assert_eq "$(cat lock.before)" "$(cat mlo.lock)" "mlo.lock after a failed stage"
    assert_eq "$prepared" "$(digest prepared/train.csv)" "prepare's output"
    assert_eq "$metrics" "$(digest metrics.json)" "evaluate's output (evaluate must be skipped)"
    assert_eq "1 2 1" "$(counts)" "stage runs"
    ok mlo runs --json
    assert_eq "failed" "$(json_get 'j[0]["status"]')" "the failed run's status"
    assert_eq "2" "$(json_get 'j[0]["exit_code"]')" "the failed run's exit code (awk's)"
}

test_keep_going_runs_independent_stages() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  bad:
    cmd: exit 3
    outs: [bad.txt]
  after_bad:
    cmd: cp bad.txt after.txt
    deps: [bad.txt]
    outs: [after.txt]
  good:
    cmd: echo good > good.txt
    outs: [good.txt]
EOF
    expect_exit 2 -- mlo repro bad good
    assert_no_file good.txt
    expect_exit 2 -- mlo repro --keep-going
    assert_file_exists good.txt
    assert_no_file after.txt
    assert_contains "$(stderr)" "skipped 'after_bad'"
}

test_declared_output_missing_fails_the_stage() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  lazy:
    cmd: echo nothing
    outs: [never.txt]
EOF
    expect_exit 2 -- mlo repro
    assert_contains "$(stderr)" "declared output 'never.txt' was not created"
    assert_no_file mlo.lock
}

test_non_persistent_outputs_are_removed_before_the_command() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  append:
    cmd: echo line >> log.txt && echo line >> kept.txt
    params: [n]
    outs: [log.txt, {kept.txt: {persist: true}}]
EOF
    echo 'n: 1' >params.yaml
    ok mlo repro
    echo 'n: 2' >params.yaml
    ok mlo repro
    assert_eq 1 "$(wc -l <log.txt | tr -d ' ')" "lines of a non-persistent output"
    assert_eq 2 "$(wc -l <kept.txt | tr -d ' ')" "lines of a persistent output"
}

test_train_and_evaluate_run_their_stage_with_upstream() {
    churn_repo
    ok mlo train
    assert_eq "1 1 0" "$(counts)" "after mlo train"
    ok mlo evaluate
    assert_eq "1 1 1" "$(counts)" "after mlo evaluate"
    new_repo other
    printf 'stages:\n  fit:\n    role: train\n    cmd: echo fit > fit.txt\n    outs: [fit.txt]\n' >mlo.yaml
    ok mlo train
    assert_file_exists fit.txt
    expect_exit 2 -- mlo evaluate
    assert_one_line_error "no stage named 'evaluate'"
}

test_foreach_and_matrix_expand() {
    new_repo
    cat >params.yaml <<'EOF'
sizes: [small, large]
EOF
    cat >mlo.yaml <<'EOF'
stages:
  train:
    foreach: ${sizes}
    do:
      cmd: echo ${item} > model-${item}.txt
      outs:
        - model-${item}.txt
  grid:
    matrix:
      lr: [1, 2]
      depth: [3, 4]
    do:
      cmd: echo ${item.lr} ${item.depth} > grid-${item.lr}-${item.depth}.txt
      outs: ["grid-${item.lr}-${item.depth}.txt"]
EOF
    ok mlo dag
    local s
    for s in train@small train@large grid@1-3 grid@1-4 grid@2-3 grid@2-4; do
        assert_contains "$(stdout)" "$s" "mlo dag"
    done
    ok mlo repro
    assert_eq "small" "$(cat model-small.txt)"
    assert_eq "large" "$(cat model-large.txt)"
    assert_eq "2 4" "$(cat grid-2-4.txt)"
    ok mlo repro train@large
    assert_contains "$(stdout)" "'train@large' is up to date"
}

test_dag_edges_through_directories() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  make_data:
    cmd: mkdir -p data && echo 1 > data/a.csv
    outs: [data/a.csv]
  use_dir:
    cmd: ls data > listing.txt
    deps: [data]
    outs: [listing.txt]
EOF
    ok mlo dag --json
    assert_eq '[["make_data", "use_dir"]]' \
        "$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["edges"]))' "$OUT")" \
        "edges"
    ok mlo dag --dot
    assert_contains "$(stdout)" '"make_data" -> "use_dir"'
    ok mlo repro use_dir
    assert_eq "a.csv" "$(cat listing.txt)"
}

# Every bad pipeline file: one line naming mlo.yaml:LINE:COLUMN, exit 2, nothing run.
bad_yaml() { # bad_yaml EXPECTED-LOCATION-REGEX; mlo.yaml already written
    expect_exit 2 -- mlo repro
    assert_one_line_error "mlo: error: $1"
    assert_no_file ran.txt
    assert_no_file mlo.lock
}

test_bad_pipeline_files() {
    new_repo
    printf 'stages:\n  a:\n    cmd: touch ran.txt\n    dpes: [x]\n' >mlo.yaml
    bad_yaml "mlo.yaml:4:5: .*unknown key 'dpes'"
    printf 'stages:\n  a:\n    cmd: touch ran.txt\n    deps: 7\n' >mlo.yaml
    bad_yaml "mlo.yaml:4:(5|11): .*deps"
    printf 'stages:\n  a:\n    cmd: touch ran.txt ${nope.x}\n' >mlo.yaml
    bad_yaml "mlo.yaml:3:(5|10): .*nope\.x"
    printf 'stages:\n  a:\n    cmd: touch ran.txt\n    outs: [o.txt]\n  b:\n    cmd: touch o.txt\n    outs: [o.txt]\n' >mlo.yaml
    bad_yaml "mlo.yaml:[0-9]+:[0-9]+: .*o\.txt"
    printf 'stages:\n  a:\n    cmd: touch ran.txt\n    deps: [b.txt]\n    outs: [a.txt]\n  b:\n    cmd: touch b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n' >mlo.yaml
    bad_yaml "mlo.yaml:[0-9]+:[0-9]+: .*cycle: (a -> b -> a|b -> a -> b)"
    printf 'stages:\n  a:\n    cmd: touch ran.txt\n    deps: [missing.csv]\n' >mlo.yaml
    bad_yaml "mlo.yaml:4:[0-9]+: .*missing\.csv"
    printf 'stages:\n  a:\n    cmd: [touch ran.txt\n' >mlo.yaml
    bad_yaml "mlo.yaml:[0-9]+:[0-9]+: "
    printf 'stages:\n  a:\n    outs: [x]\n' >mlo.yaml
    bad_yaml "mlo.yaml:2:3: .*cmd"
    rm mlo.yaml
    expect_exit 2 -- mlo repro
    assert_one_line_error "mlo.yaml"
}

test_two_concurrent_repros_both_finish() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  slow:
    cmd: echo x >> count.txt && sleep 2 && echo done > out.txt
    outs: [out.txt]
EOF
    mlo repro >a.out 2>a.err &
    local a=$!
    sleep 0.5
    mlo repro >b.out 2>b.err &
    local b=$!
    wait $a || fail "first repro failed: $(cat a.err)"
    wait $b || fail "second repro failed: $(cat b.err)"
    assert_eq 1 "$(wc -l <count.txt | tr -d ' ')" "times the stage ran"
    assert_contains "$(cat b.err)" "waiting for another 'mlo repro'"
    ok mlo runs --json
    assert_eq 1 "$(json_get 'len(j)')" "recorded runs"
    ok mlo fsck
    # --no-wait fails at once instead.
    sed -i 's/sleep 2/sleep 3/' mlo.yaml
    mlo repro >a.out 2>a.err &
    a=$!
    sleep 0.5
    expect_exit 2 -- mlo repro --no-wait
    assert_one_line_error "another 'mlo repro' is running"
    wait $a || fail "repro failed: $(cat a.err)"
}

test_jobs_2_runs_independent_stages_at_once() {
    new_repo
    # Each stage writes when it started and ended; with -j 2 the two intervals overlap, with
    # -j 1 they do not. (Overlap, not wall time: under a sanitizer on a loaded machine mlo's
    # own start-up can take most of a second.)
    cat >mlo.yaml <<'EOF'
stages:
  one:
    cmd: date +%s.%N > one.start && sleep 1 && date +%s.%N > one.txt
    outs: [one.txt]
  two:
    cmd: date +%s.%N > two.start && sleep 1 && date +%s.%N > two.txt
    outs: [two.txt]
EOF
    overlap() { python3 -c "
a0, a1, b0, b1 = (float(open(f).read()) for f in ('one.start', 'one.txt', 'two.start', 'two.txt'))
print('yes' if a0 < b1 and b0 < a1 else 'no')"; }
    ok mlo repro -j 2
    assert_eq "yes" "$(overlap)" "stages overlap with -j 2"
    ok mlo repro -j 1 --force
    assert_eq "no" "$(overlap)" "stages overlap with -j 1"
}

test_lineage_names_every_run_and_input_back_to_raw_data() {
    churn_repo
    ok mlo repro
    ok mlo lineage metrics.json --json
    local tree
    tree=$(cat "$OUT")
    assert_contains "$tree" "$(digest metrics.json)" "lineage: metrics"
    assert_contains "$tree" "$(digest models/churn.txt)" "lineage: model"
    assert_contains "$tree" "$(digest prepared/train.csv)" "lineage: training data"
    assert_contains "$tree" "$(digest data/churn.csv)" "lineage: raw data"
    local s
    for s in prepare train evaluate; do assert_contains "$tree" "\"$s\"" "lineage: stage $s"; done
    ok mlo lineage metrics.json
    assert_contains "$(stdout)" "data/churn.csv"
    assert_contains "$(stdout)" "no run"
}

test_runs_record_git_commit_and_dirty_state() {
    command -v git >/dev/null || skip "git is not installed"
    churn_repo
    git init -q . && git add -A . && git -c user.name=t -c user.email=t@t commit -qm init
    local head
    head=$(git rev-parse HEAD)
    ok mlo repro prepare
    ok mlo runs --json
    assert_eq "$head" "$(json_get 'j[0]["git"]["commit"]')" "recorded commit"
    assert_eq "false" "$(json_get 'j[0]["git"]["dirty"]')" "recorded dirty flag"
    echo '# edit' >>prepare.awk
    ok mlo repro prepare
    ok mlo runs --json
    assert_eq "true" "$(json_get 'j[0]["git"]["dirty"]')" "dirty flag after an edit"
    assert_matches "$(json_get 'j[0]["git"]["diff_hash"]')" '^[0-9a-f]{64}$' "diff hash"
}

test_interrupt_stops_the_command_and_records_the_run() {
    new_repo
    cat >mlo.yaml <<'EOF'
stages:
  long:
    cmd: sh -c 'echo $$ > child.pid; sleep 60' && touch out.txt
    outs: [out.txt]
EOF
    # mlo itself, not the timeout wrapper: the signal must reach mlo (it installs its handler
    # at start, over the SIG_IGN a background job of a script starts with).
    "$MLO" repro >r.out 2>r.err </dev/null &
    local pid=$!
    local i
    for i in $(seq 100); do [ -s child.pid ] && break; sleep 0.1; done
    [ -s child.pid ] || fail "the stage never started"
    kill -INT $pid
    local code=0
    wait $pid || code=$?
    assert_eq 130 "$code" "exit code after SIGINT"
    local child
    child=$(cat child.pid)
    # Gone, or a zombie waiting for init to reap it (its parent, the stage's shell, died too).
    alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
    for i in $(seq 50); do alive "$child" || break; sleep 0.1; done
    if alive "$child"; then fail "the stage's process $child still runs"; fi
    ok mlo runs --json
    assert_eq "interrupted" "$(json_get 'j[0]["status"]')" "the run's status"
    assert_no_file mlo.lock
}

test_status_shows_stage_states() {
    churn_repo
    ok mlo repro
    set_param train.smoothing 3
    expect_exit 1 -- mlo status --exit-code
    assert_contains "$(stdout)" "stage train"
    assert_contains "$(stdout)" "parameter 'train.smoothing' changed"
    ok mlo status --json
    assert_eq "changed" "$(json_get '[s["state"] for s in j["stages"] if s["stage"] == "train"][0]')"
}

test_gc_keeps_what_mlo_lock_names() {
    churn_repo
    ok mlo repro
    local model
    model=$(digest models/churn.txt)
    ok mlo gc
    assert_file_exists ".mlo/objects/${model:0:2}/${model:2}"
    rm -rf models prepared metrics.json
    ok mlo repro
    assert_eq "1 1 1" "$(counts)" "runs after deleting the outputs (restored, not rerun)"
    assert_eq "$model" "$(digest models/churn.txt)" "restored model"
}

run_tests
