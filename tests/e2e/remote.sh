#!/usr/bin/env bash
# Sharing (issue 8): remotes, push/pull/fetch through a directory and through a real S3 server
# (moto on loopback), interoperability with the AWS CLI, a second clone that gets every byte,
# run, lineage edge and alias of the first, kill -9 during push, and a fault-injecting proxy
# between mlo and the server.
source "$(dirname "$0")/lib.bash"
require_tools python3 git aws awk

SRC=${MLO_SOURCE_DIR:?MLO_SOURCE_DIR must name the source tree}
EXAMPLE=$SRC/examples/quickstart
PROXY=$SRC/tests/e2e/fixtures/s3_fault_proxy.py

# The S3 server: moto, from the python3 on PATH or Debian's python3-moto (scripts/deps.sh).
MOTO_PY=$PYTHON
if ! "$MOTO_PY" -c 'import moto.server' 2>/dev/null; then
    MOTO_PY=/usr/bin/python3
    if ! "$MOTO_PY" -c 'import moto.server' 2>/dev/null; then
        echo "$SUITE_NAME: skipped: no python3 with 'moto' (the S3 server the tests run against)" >&2
        exit 125
    fi
fi

export AWS_ACCESS_KEY_ID=mlo-test AWS_SECRET_ACCESS_KEY=mlo-test-secret AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
# Retries back off from 100 ms; keep the fault tests quick without changing what they test.
export MLO_S3_MAX_ATTEMPTS=8

# One moto server for the suite; each test uses buckets of its own.
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$MOTO_PY" -m moto.server -H 127.0.0.1 -p "$MOTO_PORT" >"$TEST_ROOT/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null; _on_exit' EXIT
ENDPOINT=http://127.0.0.1:$MOTO_PORT
for _ in $(seq 100); do
    curl -s -o /dev/null "$ENDPOINT" 2>/dev/null && break
    python3 -c 'import urllib.request,sys
try: urllib.request.urlopen(sys.argv[1], timeout=1)
except Exception as e:
    sys.exit(0 if hasattr(e, "code") else 1)' "$ENDPOINT" && break
    sleep 0.1
done

awscli() { aws --endpoint-url "$ENDPOINT" "$@"; }

# A fresh bucket named after the test.
new_bucket() {
    BUCKET=$(echo "mlo-$TEST_NAME-$RANDOM" | tr '_' '-' | cut -c1-60)
    awscli s3 mb "s3://$BUCKET" >/dev/null || fail "cannot create bucket $BUCKET"
}

s3_remote() { # NAME [PREFIX] [ENDPOINT]
    ok mlo remote add "$1" "s3://$BUCKET/${2:-team}" --endpoint "${3:-$ENDPOINT}" --path-style \
        --default
}

# The quickstart project in a git repository: data tracked, pipeline run (runs and lineage),
# churn:1 registered and promoted. Committed.
project() {
    mkdir -p "$TEST_DIR/${1:-origin}" && cd "$TEST_DIR/${1:-origin}" || fail "no dir"
    git init -q . && git config user.email t@example.com && git config user.name t
    ok mlo init
    cp -r "$EXAMPLE/data" "$EXAMPLE/mlo.yaml" "$EXAMPLE/params.yaml" "$EXAMPLE/prepare.awk" .
    mkdir -p data/images
    for i in $(seq 1 40); do head -c $((i * 97)) /dev/urandom >"data/images/img$i.bin"; done
    chmod +x data/images/img7.bin
    ok mlo add data/images
    ok mlo repro
    ok mlo model register churn models/churn.json
    ok mlo model promote churn 1
    git add -A && git commit -qm "project" || fail "git commit failed"
}

# Every tracked file's sha256 and mode, sorted, for comparing two workspaces.
tree_digest() {
    (cd "$1" && find data models -type f ! -name '*.mlo' -print0 | sort -z |
        xargs -0 stat -c '%n %a' | while read -r f m; do echo "$f $m $(sha256_of "$f")"; done)
}

# What a teammate must see: run ids with their status and metrics, lineage, the champion.
shared_view() {
    (cd "$1" &&
        mlo --json runs | python3 -c 'import json,sys
runs = json.load(sys.stdin)
rows = runs if isinstance(runs, list) else runs.get("runs", runs)
for r in sorted(rows, key=lambda r: r["id"]):
    print(r["id"], r.get("stage"), r.get("status"))' &&
        mlo --json model list | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' &&
        mlo lineage models/churn.json)
}

# The acceptance path: a second clone gets every byte, run, lineage edge and alias.
clone_and_compare() {
    git clone -q "$TEST_DIR/origin" "$TEST_DIR/clone" || fail "git clone failed"
    cd "$TEST_DIR/clone" || fail "no clone"
    ok mlo pull
    assert_contains "$(stdout)" "restored"
    assert_eq "$(tree_digest "$TEST_DIR/clone")" "$(tree_digest "$TEST_DIR/origin")" "workspace"
    ok mlo status --exit-code
    assert_eq "$(shared_view "$TEST_DIR/clone")" "$(shared_view "$TEST_DIR/origin")" "runs/registry"
    ok mlo --json model show churn@champion
    assert_contains "$(stdout)" '"version":1'
}

test_remote_config() {
    new_repo
    ok mlo remote list
    ok mlo remote add store ../store --default
    ok mlo remote add s3 s3://my-bucket/team/a --endpoint http://127.0.0.1:9 --region eu-west-1 \
        --profile team --path-style
    ok mlo --json remote list
    assert_eq "$(json_get '",".join(r["name"] for r in j)')" "store,s3"
    assert_eq "$(json_get '",".join(r["name"] for r in j if r["default"])')" "store"
    assert_eq "$(json_get '" ".join(str(j[1][k]) for k in ("endpoint", "region", "profile", "path_style"))')" \
        "http://127.0.0.1:9 eu-west-1 team True"
    # The comments mlo init wrote survive; credentials never appear.
    assert_contains "$(cat .mlo/config.yaml)" "# How checkout makes workspace files"
    assert_not_contains "$(cat .mlo/config.yaml)" "mlo-test-secret"
    ok mlo remote default s3
    ok mlo --json remote list
    assert_eq "$(json_get '",".join(r["name"] for r in j if r["default"])')" "s3"
    ok mlo remote remove s3
    ok mlo --json remote list
    assert_eq "$(json_get '",".join(r["name"] for r in j)')" "store"
    # Bad input: one line, exit 2, configuration unchanged.
    local before; before=$(cat .mlo/config.yaml)
    expect_exit 2 -- mlo remote add store ../elsewhere
    assert_one_line_error "already exists"
    expect_exit 2 -- mlo remote add x s3://BAD_bucket
    assert_one_line_error "BAD_bucket"
    expect_exit 2 -- mlo remote add x ftp://host/path
    assert_one_line_error "ftp://host/path"
    expect_exit 2 -- mlo remote add x ../d --endpoint http://h
    assert_one_line_error "s3://"
    expect_exit 2 -- mlo remote add '-x' ../d
    expect_exit 2 -- mlo push -r nosuch
    assert_one_line_error "nosuch"
    assert_eq "$(cat .mlo/config.yaml)" "$before" "config after bad input"
}

test_no_remote_configured() {
    new_repo
    expect_exit 2 -- mlo push
    assert_one_line_error "no remote"
}

test_directory_remote_clone() {
    project origin
    ok mlo remote add shared "$TEST_DIR/store" --default
    mkdir -p "$TEST_DIR/store"
    expect_exit 1 -- mlo status --remote --exit-code
    assert_contains "$(stdout)" "not pushed: data/images/img7.bin"
    ok mlo push
    assert_matches "$(stdout)" '^pushed [0-9]+ objects \(.*\) and [0-9]+ records to shared; 0 already there$'
    # Every remote object is named by its SHA-256, and read-only like the store's.
    local n=0 f
    while IFS= read -r f; do
        n=$((n + 1))
        assert_eq "$(sha256_of "$f")" "$(basename "$(dirname "$f")")$(basename "$f")" "$f"
    done < <(find "$TEST_DIR/store/objects" -type f)
    [ "$n" -gt 40 ] || fail "only $n objects pushed"
    ok mlo status --remote --exit-code
    assert_contains "$(stdout)" "everything is on shared"
    ok mlo push
    assert_matches "$(stdout)" '^pushed 0 objects \(0 B\) and 0 records to shared; [0-9]+ already there$'
    git add .mlo/config.yaml && git commit -qm remote
    clone_and_compare
}

test_s3_remote_clone_and_aws_interop() {
    new_bucket
    project origin
    s3_remote origin
    git add .mlo/config.yaml && git commit -qm remote
    ok mlo push -j 8
    assert_matches "$(stdout)" '^pushed [0-9]+ objects'
    local pushed; pushed=$(stdout | awk '{print $2}')
    # The AWS CLI sees mlo's layout and reads the bytes back exactly.
    local key hex
    key=$(awscli s3 ls --recursive "s3://$BUCKET/team/objects/" | awk 'NR==1 {print $4}')
    [ -n "$key" ] || fail "aws lists no objects"
    awscli s3 cp --quiet "s3://$BUCKET/$key" "$TEST_DIR/one" || fail "aws s3 cp failed"
    hex=$(echo "$key" | awk -F/ '{print $(NF-1) $NF}')
    assert_eq "$(sha256_of "$TEST_DIR/one")" "$hex" "object read by aws"
    assert_eq "$(awscli s3 ls --recursive "s3://$BUCKET/team/objects/" | wc -l)" "$pushed" \
        "objects on S3"
    clone_and_compare
    # An object placed by `aws s3 cp` in mlo's layout is fetched by mlo.
    cd "$TEST_DIR/origin" || fail
    make_bytes "$TEST_DIR/extra.bin" 5000 7
    hex=$(sha256_of "$TEST_DIR/extra.bin")
    awscli s3 cp --quiet "$TEST_DIR/extra.bin" "s3://$BUCKET/team/objects/${hex:0:2}/${hex:2}" ||
        fail "aws put failed"
    printf 'path: extra.bin\nhash: sha256:%s\nsize: 5000\n' "$hex" >"$TEST_DIR/clone/data/extra.bin.mlo"
    cd "$TEST_DIR/clone" || fail
    ok mlo pull data/extra.bin
    assert_eq "$(sha256_of data/extra.bin)" "$hex" "pulled what aws put"
}

test_pull_rejects_corrupted_object() {
    project origin
    ok mlo remote add shared "$TEST_DIR/store" --default
    mkdir -p "$TEST_DIR/store" && ok mlo push
    local hex; hex=$(sha256_of data/images/img3.bin)
    local f=$TEST_DIR/store/objects/${hex:0:2}/${hex:2}
    chmod u+w "$f" && printf 'X' | dd of="$f" bs=1 seek=5 conv=notrunc 2>/dev/null
    git add .mlo/config.yaml && git commit -qm remote
    git clone -q "$TEST_DIR/origin" "$TEST_DIR/clone" && cd "$TEST_DIR/clone" || fail
    expect_exit 2 -- mlo pull
    assert_one_line_error "did not match"
    assert_contains "$(stderr)" "data/images/img3.bin"
    assert_no_file ".mlo/objects/${hex:0:2}/${hex:2}"
    [ -z "$(find .mlo/objects -name '*mlo-tmp*')" ] || fail "temporary left behind"
    # Everything else arrived, and the other files check out.
    ok mlo checkout data/images/img1.bin
    assert_eq "$(sha256_of data/images/img1.bin)" "$(sha256_of "$TEST_DIR/origin/data/images/img1.bin")"
}

test_pull_missing_on_remote() {
    project origin
    ok mlo remote add shared "$TEST_DIR/store" --default
    mkdir -p "$TEST_DIR/store"
    git add .mlo/config.yaml && git commit -qm remote
    git clone -q "$TEST_DIR/origin" "$TEST_DIR/clone" && cd "$TEST_DIR/clone" || fail
    expect_exit 2 -- mlo pull
    assert_one_line_error "not on remote 'shared'"
}

test_gc_on_a_remote() {
    project origin
    ok mlo remote add shared "$TEST_DIR/store" --default
    mkdir -p "$TEST_DIR/store" && ok mlo push
    local old; old=$(sha256_of data/images/img5.bin)
    git add .mlo/config.yaml && git commit -qm remote
    # A new version of one file, committed: the old one is only in git history now.
    chmod u+w data/images/img5.bin && echo changed >>data/images/img5.bin
    ok mlo add data/images && ok mlo push
    git add -A && git commit -qm "img5 v2"
    local old_key=$TEST_DIR/store/objects/${old:0:2}/${old:2}
    assert_file_exists "$old_key"
    expect_exit 2 -- mlo gc --remote shared
    assert_one_line_error "--force"
    ok mlo gc --remote shared --all-commits --dry-run
    assert_not_contains "$(stdout)" "$old"
    ok mlo gc --remote shared --dry-run
    assert_contains "$(stdout)" "would remove $old"
    assert_file_exists "$old_key"
    # Records the repository has not fetched stop it: their models must be known first.
    mkdir -p "$TEST_DIR/store/meta/runs"
    printf '{}' >"$TEST_DIR/store/meta/runs/00000000000000000000aaaa.json"
    expect_exit 2 -- mlo gc --remote shared --force
    assert_one_line_error "mlo fetch"
    rm "$TEST_DIR/store/meta/runs/00000000000000000000aaaa.json"
    ok mlo gc --remote shared --force
    assert_matches "$(stdout)" '^removed 2 objects .* from shared, kept [0-9]+$'   # img5 v1 and the old manifest
    assert_no_file "$old_key"
    # Everything the workspace uses is still there.
    ok mlo status --remote --exit-code
}

test_push_trusts_its_index_until_refresh() {
    new_repo
    mkdir -p data && for i in 1 2 3; do echo "file $i" >"data/f$i"; done
    ok mlo add data
    mkdir -p "$TEST_DIR/store" && ok mlo remote add shared "$TEST_DIR/store"
    ok mlo push
    assert_matches "$(stdout)" '^pushed 4 objects'
    # Someone else's gc removed an object: this repository cannot know without listing.
    local hex; hex=$(sha256_of data/f2)
    rm -f "$TEST_DIR/store/objects/${hex:0:2}/${hex:2}"
    ok mlo push
    assert_matches "$(stdout)" '^pushed 0 objects .*; 4 already there$'
    expect_exit 1 -- mlo status --remote --exit-code
    assert_contains "$(stdout)" "not pushed: data/f2"
    ok mlo push --refresh
    assert_matches "$(stdout)" '^pushed 1 object .*; 3 already there$'
    assert_eq "$(sha256_of "$TEST_DIR/store/objects/${hex:0:2}/${hex:2}")" "$hex"
}

test_kill9_during_push_then_push_again() {
    new_bucket
    new_repo
    mkdir -p data/many
    python3 - <<'EOF'
import os
for i in range(1500):
    with open("data/many/f%04d" % i, "wb") as f:
        f.write(os.urandom(2048))
with open("data/big.bin", "wb") as f:
    for _ in range(24):
        f.write(os.urandom(1 << 20))
EOF
    ok mlo add data/many data/big.bin
    s3_remote origin
    # Parts of 5 MiB from 8 MiB on: the big file goes up in five parts.
    MLO_S3_MULTIPART_THRESHOLD=8388608 MLO_S3_PART_SIZE=5242880 "$MLO" push -j 4 \
        >"$TEST_DIR/push1.out" 2>&1 &
    local pid=$!
    local i
    for i in $(seq 200); do
        [ "$(grep -c 'PUT /' "$TEST_ROOT/moto.log" 2>/dev/null)" -gt 300 ] && break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    MLO_S3_MULTIPART_THRESHOLD=8388608 MLO_S3_PART_SIZE=5242880 ok mlo push -j 4
    local pushed_second; pushed_second=$(stdout)
    # The kill landed mid-push: the second push sent the rest and found the first one's work.
    assert_matches "$pushed_second" '^pushed [1-9][0-9]* objects .*; [1-9][0-9]* already there$'
    # Nothing lost: every object is there with its bytes (a fresh repository pulls and verifies
    # them all); nothing duplicated: one key per object, no upload left half-done.
    local expected; expected=$(find .mlo/objects -type f ! -name '.*' | wc -l)
    assert_eq "$(awscli s3 ls --recursive "s3://$BUCKET/team/objects/" | wc -l)" "$expected" \
        "objects on S3 ($pushed_second)"
    assert_eq "$(awscli s3api list-multipart-uploads --bucket "$BUCKET" --query 'length(Uploads || `[]`)')" \
        "0" "unfinished multipart uploads"
    ok mlo push
    assert_matches "$(stdout)" '^pushed 0 objects'
    mkdir -p "$TEST_DIR/other" && cp -r data/*.mlo "$TEST_DIR/other/" 2>/dev/null
    cd "$TEST_DIR/other" && ok mlo init && mkdir -p data && mv ./*.mlo data/
    s3_remote origin
    ok mlo pull
    assert_eq "$(sha256_of data/big.bin)" "$(sha256_of "$TEST_DIR/repo/data/big.bin")" "big file"
    assert_eq "$(cd data/many && cat f0000 f0777 f1499 | sha256sum)" \
        "$(cd "$TEST_DIR/repo/data/many" && cat f0000 f0777 f1499 | sha256sum)" "small files"
}

test_faults_between_mlo_and_s3() {
    new_bucket
    project origin
    local pf=$TEST_DIR/proxy.port
    # "$PYTHON", not the python3 shell function: $! must be the proxy itself, or the kill
    # below stops a subshell and leaves the proxy running after the suite.
    "$PYTHON" "$PROXY" "$MOTO_PORT" "$pf" --every 3 --faults drop,500,slowdown,corrupt \
        >"$TEST_DIR/proxy.log" 2>&1 &
    PROXY_PID=$!
    trap 'kill $PROXY_PID 2>/dev/null' EXIT
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
    s3_remote origin team "http://127.0.0.1:$(cat "$pf")"
    git add .mlo/config.yaml && git commit -qm remote
    ok mlo push
    git clone -q "$TEST_DIR/origin" "$TEST_DIR/clone" && cd "$TEST_DIR/clone" || fail
    ok mlo pull
    assert_eq "$(tree_digest "$TEST_DIR/clone")" "$(tree_digest "$TEST_DIR/origin")" "workspace"
    assert_eq "$(shared_view "$TEST_DIR/clone")" "$(shared_view "$TEST_DIR/origin")" "runs/registry"
    # The faults really happened: each kind at least once.
    local stats; stats=$(cat "$pf.stats")
    assert_eq "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(all(s.get(k,0)>0 for k in ("drop","500","slowdown","corrupt")))' "$pf.stats")" \
        "True" "faults injected: $stats"
    kill $PROXY_PID
}

run_tests
