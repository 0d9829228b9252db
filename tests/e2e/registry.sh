#!/usr/bin/env bash
# The model registry (issue 4): model register/list/show/alias/promote/rollback/history, model
# references in lineage, gc keeping registered versions, concurrent registration, and bad input
# that must leave the repository and mlo.db exactly as they were.
source "$(dirname "$0")/lib.bash"
require_tools python3 sha256sum

digest() { sha256sum "$1" | cut -d' ' -f1; }
in_store() { [ -f "$(object_path "$1")" ]; }

# A repository with a two-stage `cmd:` pipeline: train writes a model file and a metrics file,
# pack copies the model into a directory bundle and writes notes. One repro.
pipeline_repo() {
    new_repo "${1:-repo}"
    printf 'tenure,churned\n1,0\n2,1\n3,0\n' >data.csv
    cat >train.sh <<'EOF'
mkdir -p models && sha256sum data.csv > models/model.txt && printf '{"accuracy": 0.91, "auc": 0.8}\n' > metrics.json
EOF
    cat >mlo.yaml <<'EOF'
stages:
  train:
    cmd: sh train.sh
    deps: [data.csv, train.sh]
    outs: [models/model.txt]
    metrics: [metrics.json]
  pack:
    cmd: mkdir -p bundle && cp models/model.txt bundle/ && echo v1 > bundle/VERSION
    deps: [models/model.txt]
    outs: [bundle]
EOF
    ok mlo repro
}

# The full id of the newest run of STAGE.
run_of() {
    ok mlo runs --stage "$1" --json
    json_get 'j[0]["id"]'
}

test_register_from_path_list_and_show() {
    new_repo
    mkdir -p models
    echo "weights 1" >models/churn.txt
    ok mlo model register churn models/churn.txt --reason "first model"
    local obj
    obj=$(digest models/churn.txt)
    assert_eq "registered churn version 1 (object ${obj:0:12}, no recorded run)" "$(stdout)"
    in_store "$obj" || fail "the registered file is not in the store"
    # The same bytes again: idempotent, nothing new.
    ok mlo model register churn models/churn.txt
    assert_eq "churn version 1 already has this model" "$(stdout)"
    echo "weights 2" >models/churn.txt
    ok mlo --json model register churn models/churn.txt
    assert_stdout_json
    assert_eq "2 true $(digest models/churn.txt)" \
        "$(json_get '[j["version"], j["created"], j["object"]]' | tr '\n' ' ' | sed 's/ $//')"
    # A directory (from a subdirectory, relative to it).
    mkdir -p bundle/sub
    echo a >bundle/a.txt
    echo b >bundle/sub/b.txt
    (cd bundle && expect_exit 0 -- mlo model register bundle .) || exit 1
    assert_matches "$(stdout)" '^registered bundle version 1 \(object [0-9a-f]{12}, no recorded run\)$'

    ok mlo model list
    assert_eq "NAME    LATEST  VERSIONS  ALIASES
bundle  1       1         -
churn   2       2         -" "$(stdout)"
    ok mlo model list --json
    assert_stdout_json
    assert_eq '[{"aliases": {}, "latest": 1, "name": "bundle", "versions": 1}, {"aliases": {}, "latest": 2, "name": "churn", "versions": 2}]' \
        "$(json_get 'json.dumps(j, sort_keys=True)')"

    ok mlo model show churn:1
    assert_contains "$(stdout)" "version   1 (latest is 2)"
    assert_contains "$(stdout)" "object    sha256:$(printf 'weights 1\n' | sha256sum | cut -d' ' -f1)"
    assert_contains "$(stdout)" "source    models/churn.txt"
    assert_contains "$(stdout)" "run       - (no recorded run produced it)"
    ok mlo model show bundle --json
    assert_stdout_json
    assert_eq "true" "$(json_get 'j["is_dir"]')"
    assert_eq "bundle" "$(json_get 'j["source_path"]')"
    assert_eq "null" "$(json_get 'j["run"]')"
    assert_eq "4" "$(json_get 'j["size"]')" "bundle size (bytes of its files: 'a\n' + 'b\n')"
    # Every stable key is there.
    assert_eq "aliases created created_ns is_dir latest name object run run_id size source_path user version" \
        "$(json_get 'sorted(j)' | tr '\n' ' ' | sed 's/ $//')"
    # The manifest and both files are in the store.
    in_store "$(json_get 'j["object"]')" || fail "the bundle's manifest is not in the store"
    in_store "$(digest bundle/a.txt)" || fail "bundle/a.txt is not in the store"
    in_store "$(digest bundle/sub/b.txt)" || fail "bundle/sub/b.txt is not in the store"
}

test_register_from_run_after_repro() {
    pipeline_repo
    local train pack
    train=$(run_of train)
    pack=$(run_of pack)
    # train wrote two outputs: --path must pick one, and the error lists them.
    take_snapshot before
    expect_exit 2 -- mlo model register churn --run "$train"
    assert_one_line_error "^mlo: error: cannot register model 'churn': run '$train' has 2 outputs \(models/model.txt, metrics.json\); pick one with --path$"
    expect_exit 2 -- mlo model register churn --run "$train" --path nope.txt
    assert_one_line_error "run '$train' has no output 'nope.txt' \(its outputs: models/model.txt, metrics.json\)"
    assert_unchanged before

    ok mlo model register churn --run "${train:0:16}" --path models/model.txt
    assert_eq "registered churn version 1 (object $(digest models/model.txt | cut -c1-12), run ${train:0:12})" "$(stdout)"
    # The same file by path: its producer is found, so it is the same version.
    ok mlo model register churn models/model.txt
    assert_eq "churn version 1 already has this model" "$(stdout)"
    # pack has one output: no --path needed; a directory.
    ok mlo model register bundle --run "$pack"
    assert_contains "$(stdout)" "registered bundle version 1"

    ok mlo model show churn
    assert_contains "$(stdout)" "run       $train (stage train, succeeded)"
    assert_contains "$(stdout)" "source    models/model.txt"
    assert_contains "$(stdout)" "metrics
  accuracy = 0.91
  auc = 0.8"
    ok mlo model show churn --json
    assert_eq "$train train succeeded 0.91" \
        "$(json_get '[j["run"]["id"], j["run"]["stage"], j["run"]["status"], j["run"]["metrics"]["accuracy"]]' | tr '\n' ' ' | sed 's/ $//')"
    ok mlo model show bundle:1 --json
    assert_eq "true $pack bundle" "$(json_get '[j["is_dir"], j["run_id"], j["source_path"]]' | tr '\n' ' ' | sed 's/ $//')"

    # A run that failed cannot be registered; an unknown run neither.
    cat >mlo.yaml <<'EOF'
stages:
  broken:
    cmd: echo x > out.txt && exit 3
    outs: [out.txt]
EOF
    expect_exit 2 -- mlo repro
    local broken
    broken=$(run_of broken)
    take_snapshot before_bad
    expect_exit 2 -- mlo model register churn --run "$broken"
    assert_one_line_error "^mlo: error: cannot register model 'churn': run '$broken' failed \(only a succeeded or restored run's outputs can be registered\)$"
    expect_exit 2 -- mlo model register churn --run 0123456789abcdef
    assert_one_line_error "^mlo: error: cannot register model 'churn': no run '0123456789abcdef'$"
    assert_unchanged before_bad
}

test_aliases_promote_rollback_history() {
    new_repo
    local v
    for v in 1 2 3; do
        echo "model $v" >m.txt
        ok mlo model register churn m.txt
    done
    ok mlo model promote churn 1 --reason "first release"
    assert_eq "promoted churn@champion -> version 1 (was unset)" "$(stdout)"
    ok mlo model promote churn 2
    assert_eq "promoted churn@champion -> version 2 (was version 1)" "$(stdout)"
    ok mlo model alias churn 3 champion --reason "hotfix"
    assert_eq "churn@champion -> version 3 (was version 2)" "$(stdout)"
    # Again to the same version: nothing recorded.
    ok mlo --json model promote churn 3
    assert_eq "false 0 3" "$(json_get '[j["changed"], j["seq"], j["previous"]]' | tr '\n' ' ' | sed 's/ $//')"
    ok mlo model promote churn 3
    assert_eq "churn@champion already points at version 3" "$(stdout)"
    ok mlo model alias churn 1 staging
    ok mlo model promote churn 2 --alias canary

    ok mlo model show churn@champion
    assert_contains "$(stdout)" "version   3 (latest)"
    assert_contains "$(stdout)" "aliases   champion"
    ok mlo model list
    assert_contains "$(stdout)" "churn  3       3         canary=2 champion=3 staging=1"

    # Rollback is a stack: 3 -> 2 -> 1, then nothing earlier.
    ok mlo model rollback churn --reason "accuracy dropped"
    assert_eq "rolled back churn@champion to version 2 (was version 3)" "$(stdout)"
    ok mlo --json model rollback churn
    assert_stdout_json
    assert_eq "rollback 1 2 true" \
        "$(json_get '[j["action"], j["version"], j["previous"], j["changed"]]' | tr '\n' ' ' | sed 's/ $//')"
    take_snapshot before
    expect_exit 2 -- mlo model rollback churn
    assert_one_line_error "^mlo: error: cannot roll back 'churn@champion': no earlier version to go back to \(it is at version 1\)$"
    assert_unchanged before
    ok mlo model show churn@champion --json
    assert_eq "1" "$(json_get 'j["version"]')"
    # Another alias keeps its own stack.
    ok mlo model alias churn 3 staging
    ok mlo model rollback churn --alias staging
    assert_eq "rolled back churn@staging to version 1 (was version 3)" "$(stdout)"

    ok mlo model history churn
    local lines
    lines=$(stdout | awk 'NR > 1 { print $4, $5, $6, $7 }')
    assert_eq "register 1 - -
register 2 - -
register 3 - -
promote 1 champion -
promote 2 champion 1
alias 3 champion 2
alias 1 staging -
promote 2 canary -
rollback 2 champion 3
rollback 1 champion 2
alias 3 staging 1
rollback 1 staging 3" "$lines" "history (action version alias previous)"
    assert_matches "$(stdout | sed -n 5p)" "promote +1 +champion +- +first release$"
    assert_matches "$(stdout | sed -n 10p)" "rollback +2 +champion +3 +accuracy dropped$"
    assert_matches "$(stdout | sed -n 2p)" "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}  $(id -un) +register"
    ok mlo model history churn --json
    assert_stdout_json
    assert_eq "12" "$(json_get 'len(j)')"
    assert_eq "action alias name previous reason seq time time_ns user version" \
        "$(json_get 'sorted(j[0])' | tr '\n' ' ' | sed 's/ $//')"
    assert_eq "hotfix" "$(json_get 'j[5]["reason"]')"
    assert_eq "null" "$(json_get 'j[0]["alias"]')"
    assert_eq "true" "$(json_get 'all(a["seq"] < b["seq"] for a, b in zip(j, j[1:]))')"
}

test_references_everywhere_and_lineage() {
    pipeline_repo
    local train
    train=$(run_of train)
    ok mlo model register churn --run "$train" --path models/model.txt
    local first
    first=$(digest models/model.txt)
    # A second version from other data.
    printf 'tenure,churned\n9,1\n' >data.csv
    ok mlo repro train
    ok mlo model register churn models/model.txt
    assert_contains "$(stdout)" "registered churn version 2"
    ok mlo model promote churn 1

    ok mlo model show churn --json
    assert_eq "2" "$(json_get 'j["version"]')"
    ok mlo model show churn:1 --json
    assert_eq "$first" "$(json_get 'j["object"]')"
    ok mlo model show churn@champion --json
    assert_eq "1" "$(json_get 'j["version"]')"

    # lineage of a reference: the version's object and the run that wrote it.
    ok mlo lineage churn@champion
    assert_contains "$(stdout | head -n 1)" "models/model.txt  sha256:${first:0:12}  (written by run ${train:0:12}  stage train, succeeded)"
    assert_contains "$(stdout)" "data.csv"
    ok mlo lineage churn:1 --json
    assert_eq "$first $train" "$(json_get '[j["hash"][7:], j["run"]["id"]]' | tr '\n' ' ' | sed 's/ $//')"
    ok mlo lineage churn --json
    assert_eq "$(digest models/model.txt)" "$(json_get 'j["hash"][7:]')"
    # A path that exists wins over a reference.
    printf 'x\n' >churn
    local file
    file=$(digest churn)
    ok mlo add churn
    ok mlo lineage --json churn
    assert_eq "churn $file" "$(json_get '[j["path"], j["hash"][7:]]' | tr '\n' ' ' | sed 's/ $//')"
    rm churn
    ok mlo lineage --json churn
    assert_eq "churn $file" "$(json_get '[j["path"], j["hash"][7:]]' | tr '\n' ' ' | sed 's/ $//')" \
        "lineage of 'churn' with only its pointer file"
    rm churn.mlo
    ok mlo lineage --json churn
    assert_eq "models/model.txt" "$(json_get 'j["path"]')" "lineage of the model 'churn'"
    # Unknown references fail with the value named; a plain unknown name is still a path.
    expect_exit 2 -- mlo lineage churn@prod
    assert_one_line_error "^mlo: error: cannot show the lineage of 'churn@prod': model 'churn' has no alias 'prod'$"
    expect_exit 2 -- mlo lineage churn:7
    assert_one_line_error "^mlo: error: cannot show the lineage of 'churn:7': model 'churn' has no version 7$"
    expect_exit 2 -- mlo lineage nomodel
    assert_one_line_error "^mlo: error: no run wrote 'nomodel' and it is not tracked$"
}

test_gc_keeps_registered_models() {
    pipeline_repo
    local train pack model manifest
    train=$(run_of train)
    pack=$(run_of pack)
    model=$(digest models/model.txt)
    ok mlo model register churn --run "$train" --path models/model.txt
    ok mlo model register bundle --run "$pack"
    ok mlo model show bundle --json
    manifest=$(json_get 'j["object"]')
    # A file added, registered, and then its pointer removed.
    echo "hand made" >hand.txt
    ok mlo add hand.txt
    ok mlo model register hand hand.txt
    local hand
    hand=$(digest hand.txt)
    # An unregistered object that nothing references any more: gc must remove it.
    echo "scratch" >scratch.txt
    ok mlo add scratch.txt
    local scratch
    scratch=$(digest scratch.txt)
    rm hand.txt.mlo scratch.txt.mlo hand.txt scratch.txt .gitignore
    # Neither mlo.lock nor the workspace names the pipeline's outputs any more.
    rm -rf mlo.lock models bundle metrics.json

    ok mlo gc
    in_store "$model" || fail "gc removed the registered model file"
    in_store "$manifest" || fail "gc removed the registered directory's manifest"
    in_store "$(printf 'v1\n' | sha256sum | cut -d' ' -f1)" || fail "gc removed a file of the registered directory"
    in_store "$hand" || fail "gc removed a registered model whose pointer file is gone"
    in_store "$scratch" && fail "gc kept an object nothing references"
    ok mlo fsck
    # The registry can still describe and trace them.
    ok mlo model show hand
    ok mlo lineage churn
    assert_contains "$(stdout | head -n 1)" "written by run ${train:0:12}"
}

test_concurrent_registers_get_distinct_versions() {
    new_repo
    local i pids=()
    for i in 1 2 3 4 5 6; do
        echo "model $i" >"m$i.txt"
    done
    for i in 1 2 3 4 5 6; do
        mlo model register churn "m$i.txt" >"$TEST_DIR/reg$i.out" 2>"$TEST_DIR/reg$i.err" &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || fail "register $((i + 1)) failed: $(cat "$TEST_DIR/reg$((i + 1)).err")"
    done
    ok mlo model history churn --json
    assert_eq "1 2 3 4 5 6" "$(json_get 'sorted(e["version"] for e in j)' | tr '\n' ' ' | sed 's/ $//')"
    ok mlo model list --json
    assert_eq "6 6" "$(json_get '[j[0]["latest"], j[0]["versions"]]' | tr '\n' ' ' | sed 's/ $//')"
    # Each process printed the version it got; together they are 1..6, and each object once.
    assert_eq "1 2 3 4 5 6" "$(cat "$TEST_DIR"/reg*.out | sed -E 's/^registered churn version ([0-9]+) .*/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//')"
    local objects
    objects=$(for i in 1 2 3 4 5 6; do
        mlo model show "churn:$i" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["object"])'
    done | sort -u | wc -l)
    assert_eq "6" "$objects" "distinct objects among the six versions"
}

# expect_bad REGEX -- CMD...: exit 2, a one-line error matching REGEX, and the repository
# (workspace, store and every row of mlo.db) exactly as before.
expect_bad() {
    local re=$1
    shift
    [ "${1:-}" = "--" ] && shift
    take_snapshot bad
    expect_exit 2 -- "$@"
    assert_one_line_error "$re"
    assert_unchanged bad
}

test_bad_input_changes_nothing() {
    new_repo
    echo "model 1" >m.txt
    ok mlo model register churn m.txt
    ok mlo model promote churn 1
    echo x >../outside.txt

    expect_bad "^mlo: error: cannot show 'nope': unknown model 'nope'$" -- mlo model show nope
    expect_bad "^mlo: error: cannot show 'churn@prod': model 'churn' has no alias 'prod'$" -- mlo model show churn@prod
    expect_bad "^mlo: error: cannot show 'churn:9': model 'churn' has no version 9$" -- mlo model show churn:9
    expect_bad "^mlo: error: cannot show 'churn@9': 'churn@9' is not a model reference \(NAME, NAME:VERSION or NAME@ALIAS\)$" -- mlo model show churn@9
    expect_bad "^mlo: error: cannot show the history of 'nope': unknown model 'nope'$" -- mlo model history nope
    expect_bad "^mlo: error: cannot set alias 'champion' of model 'churn': model 'churn' has no version 2$" -- mlo model promote churn 2
    expect_bad "^mlo: error: cannot set alias 'champion' of model 'nope': unknown model 'nope'$" -- mlo model promote nope 1
    expect_bad "^mlo: error: cannot set alias 'staging' of model 'churn': 'two' is not a version number$" -- mlo model alias churn two staging
    expect_bad "^mlo: error: cannot set alias '42' of model 'churn': an alias is 1-64 characters" -- mlo model alias churn 1 42
    expect_bad "^mlo: error: cannot roll back 'churn@prod': model 'churn' has no alias 'prod'$" -- mlo model rollback churn --alias prod
    expect_bad "^mlo: error: cannot roll back 'nope@champion': unknown model 'nope'$" -- mlo model rollback nope
    expect_bad "^mlo: error: cannot register model 'bad name': a name is 1-64 characters" -- mlo model register "bad name" m.txt
    expect_bad "^mlo: error: cannot register model '-x': a name is 1-64 characters" -- mlo model register -- -x m.txt
    expect_bad "^mlo: error: cannot register model 'churn': 'missing.txt' does not exist$" -- mlo model register churn missing.txt
    expect_bad "^mlo: error: cannot register model 'churn': '\.\./outside.txt' is outside the repository" -- mlo model register churn ../outside.txt
    expect_bad "^mlo: error: cannot register model 'churn': give a PATH or --run, not both$" -- mlo model register churn m.txt --run abc
    expect_bad "^mlo: error: cannot register model 'churn': give the PATH of the model or --run RUN-ID$" -- mlo model register churn
    expect_bad "^mlo: error: cannot register model 'churn': no run 'abcdef'$" -- mlo model register churn --run abcdef
    expect_bad "^mlo: error: cannot register model 'churn': 'm.txt.mlo' is a pointer file" -- mlo model register churn m.txt.mlo
    expect_bad "^mlo: error: unknown command 'model lst' \(did you mean 'model list'\?\)$" -- mlo model lst
    expect_bad "^mlo: error: no subcommand given for 'model'" -- mlo model
    expect_bad "^mlo: error: cannot show the lineage of 'churn@prod': model 'churn' has no alias 'prod'$" -- mlo lineage churn@prod
}
run_tests
