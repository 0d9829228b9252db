# Shared helpers for the end-to-end suites in tests/e2e/*.sh (sourced, never run on its own;
# the name does not end in .sh so ctest does not register it as a suite).
#
# A suite looks like:
#
#   source "$(dirname "$0")/lib.bash"
#   require_tools python3 sha256sum
#   test_something() { new_repo; expect_exit 0 -- mlo status; assert_eq ... }
#   run_tests            # runs every test_* function in definition order, prints the summary
#
# Each test runs in its own subshell with its own directory ($TEST_DIR, also the working
# directory) under the suite's temporary root. The first failed assertion ends the test.
# The root is removed when every test passed and kept (and printed) otherwise.
#
# Environment: MLO = the mlo binary (required); MLO_E2E_ONLY = a regular expression selecting
# the tests to run; MLO_E2E_TRACE=1 prints every expect_exit command with its time;
# MLO_E2E_CMD_TIMEOUT = seconds one mlo command may take (default 120).

set -u
set -o pipefail

SUITE_NAME=$(basename "$0" .sh)

if [ -z "${MLO:-}" ]; then
    echo "$SUITE_NAME: set MLO to the mlo binary (e.g. MLO=build/mlo bash $0)" >&2
    exit 2
fi
if [ ! -x "$MLO" ] || [ -d "$MLO" ]; then
    echo "$SUITE_NAME: MLO='$MLO' is not an executable file" >&2
    exit 2
fi
MLO=$(cd "$(dirname "$MLO")" && pwd)/$(basename "$MLO")
export MLO
CMD_TIMEOUT=${MLO_E2E_CMD_TIMEOUT:-120}

# Exits 125 (ctest: skipped) naming the first missing tool.
require_tools() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "$SUITE_NAME: skipped: required tool '$t' is not installed" >&2
            exit 125
        fi
    done
}

# Every suite needs these to run at all.
require_tools bash mktemp find sort cmp stat timeout python3

# The real interpreter behind python3 (a pyenv shim costs a second per call).
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)
python3() { "$PYTHON" "$@"; }

TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/mlo-e2e-$SUITE_NAME.XXXXXX") || exit 2
# Tests may run commands as another user (bad_input.sh); let them reach their directories.
chmod 0755 "$TEST_ROOT"
export HOME="$TEST_ROOT/home"
mkdir -p "$HOME"
export LC_ALL=C
unset GIT_DIR GIT_WORK_TREE

TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
FAILED_NAMES=()
SUMMARY_PRINTED=0

# Removes the temporary root when every test passed (or the suite was skipped), keeps it and
# says where otherwise. Tests clean up their own mounts in their own EXIT traps.
_on_exit() {
    local rc=$?
    if { [ "$SUMMARY_PRINTED" = 1 ] && [ "$TESTS_FAILED" = 0 ] && [ "$rc" = 0 ]; } ||
        [ "$rc" = 125 ]; then
        chmod -R u+rwX "$TEST_ROOT" 2>/dev/null
        rm -rf "$TEST_ROOT"
    elif [ -d "$TEST_ROOT" ]; then
        echo "$SUITE_NAME: kept the test directory: $TEST_ROOT" >&2
    fi
}
trap _on_exit EXIT
# An interrupted suite keeps its directory.
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Failing and skipping (inside a test)

fail() {
    echo "    FAIL: $*" >&2
    if [ -n "${_LAST_CMD:-}" ]; then
        echo "    last command: $_LAST_CMD (exit $_LAST_RC)" >&2
        if [ -s "$OUT" ]; then
            echo "    --- stdout (first 20 lines)" >&2
            head -n 20 "$OUT" | sed 's/^/    | /' >&2
        fi
        if [ -s "$ERR" ]; then
            echo "    --- stderr (first 20 lines)" >&2
            head -n 20 "$ERR" | sed 's/^/    | /' >&2
        fi
    fi
    exit 1
}

skip() {
    echo "    SKIP: $*" >&2
    exit 125
}

# ---------------------------------------------------------------------------------------------
# Running mlo

# The mlo binary, with stdin closed off (mlo never prompts) and a time limit so that a hang
# fails the test instead of the whole suite.
mlo() {
    timeout -k 5 "$CMD_TIMEOUT" "$MLO" "$@" </dev/null
}

# expect_exit CODE -- CMD...: runs CMD with stdout in $OUT and stderr in $ERR (files) and fails
# the test unless it exits with CODE.
expect_exit() {
    local want=$1
    shift
    [ "${1:-}" = "--" ] && shift
    _LAST_CMD="$*"
    local t0=${EPOCHREALTIME/./}
    "$@" >"$OUT" 2>"$ERR"
    _LAST_RC=$?
    if [ -n "${MLO_E2E_TRACE:-}" ]; then
        local us=$((${EPOCHREALTIME/./} - t0))
        printf '    [%d.%03ds] %s -> %s\n' $((us / 1000000)) $((us / 1000 % 1000)) "$*" "$_LAST_RC" >&2
    fi
    if [ "$_LAST_RC" = 124 ] && [ "$want" != 124 ]; then
        fail "'$*' did not finish within ${CMD_TIMEOUT}s"
    fi
    if [ "$_LAST_RC" != "$want" ]; then
        fail "'$*' exited with $_LAST_RC, expected $want"
    fi
}

# Shorthand for expect_exit 0.
ok() { expect_exit 0 -- "$@"; }

# ---------------------------------------------------------------------------------------------
# Assertions

assert_eq() {
    local want=$1 got=$2 what=${3:-value}
    if [ "$want" != "$got" ]; then
        fail "$what: expected [$want], got [$got]"
    fi
}

assert_ne() {
    local unwanted=$1 got=$2 what=${3:-value}
    if [ "$unwanted" = "$got" ]; then
        fail "$what: expected anything but [$unwanted]"
    fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string containment.
assert_contains() {
    local hay=$1 needle=$2 what=${3:-text}
    case "$hay" in
        *"$needle"*) ;;
        *) fail "$what does not contain [$needle]: [$hay]" ;;
    esac
}

assert_not_contains() {
    local hay=$1 needle=$2 what=${3:-text}
    case "$hay" in
        *"$needle"*) fail "$what contains [$needle]: [$hay]" ;;
    esac
}

# assert_matches TEXT REGEX [WHAT]: extended regular expression (grep -E) on the whole text.
assert_matches() {
    local text=$1 re=$2 what=${3:-text}
    # A here-string, not a pipe: grep -q stops reading at the first match, and printf writing
    # the rest of a text longer than its 4 KiB buffer would die of SIGPIPE under pipefail.
    if ! grep -Eq -- "$re" <<<"$text"; then
        fail "$what does not match /$re/: [$text]"
    fi
}

assert_file_exists() { [ -e "$1" ] || [ -L "$1" ] || fail "expected '$1' to exist"; }
assert_no_file() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "expected '$1' not to exist"; }

assert_empty_file() {
    local f=$1 what=${2:-$1}
    if [ -s "$f" ]; then
        fail "$what should be empty but has: [$(head -c 2000 "$f")]"
    fi
}
assert_stdout_empty() { assert_empty_file "$OUT" "stdout"; }
assert_stderr_empty() { assert_empty_file "$ERR" "stderr"; }
stdout() { printf '%s' "$(<"$OUT")"; }
stderr() { printf '%s' "$(<"$ERR")"; }

# assert_one_line_error [REGEX]: stderr is exactly one line, "mlo: error: <what>: <why>" with a
# lowercase start and no final period, and (if given) matches the extended regular expression.
assert_one_line_error() {
    local re=${1:-} text=
    IFS= read -r -d '' text <"$ERR"
    local body=${text%$'\n'}
    if [ -z "$text" ] || [ "$body" = "$text" ] || [[ $body == *$'\n'* ]]; then
        fail "stderr should be exactly one line: [$text]"
    fi
    case "$body" in
        "mlo: error: "*) ;;
        *) fail "stderr does not start with 'mlo: error: ': [$body]" ;;
    esac
    local msg=${body#mlo: error: }
    case "$msg" in
        "") fail "error message is empty" ;;
        [A-Z]*) fail "error message should start in lowercase: [$body]" ;;
        *.) fail "error message should not end with a period: [$body]" ;;
    esac
    if [ -n "$re" ] && ! [[ $body =~ $re ]]; then
        fail "error does not match /$re/: [$body]"
    fi
}

# Parses stdout as exactly one JSON document (fails the test otherwise).
assert_stdout_json() {
    if ! python3 -c 'import json,sys; json.load(sys.stdin)' <"$OUT" 2>"$TEST_ROOT/json.err"; then
        fail "stdout is not one JSON document ($(cat "$TEST_ROOT/json.err" | tail -n 1)): [$(head -c 2000 "$OUT")]"
    fi
}

# json_get EXPR: evaluates a Python expression over the JSON on stdout (bound to `j`) and
# prints the result; lists print one item a line, dicts/other as JSON. E.g.
#   json_get 'sorted(c["path"] for t in j["tracked"] for c in t["changes"])'
# Used inside $(...), its failure cannot end the test: the comparison that follows does.
json_get() {
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
if isinstance(v, (list, tuple)):
    for x in v:
        print(x if isinstance(x, str) else json.dumps(x, sort_keys=True))
elif isinstance(v, str):
    print(v)
else:
    print(json.dumps(v, sort_keys=True))
' "$OUT" "$1" || fail "cannot evaluate [$1] over stdout: [$(head -c 2000 "$OUT")]"
}

# ---------------------------------------------------------------------------------------------
# Files and trees

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }
mode_of() { stat -c %a -- "$1"; }
size_of() { stat -c %s -- "$1"; }

# Writes N deterministic pseudo-random bytes (all byte values, including NUL) to FILE.
# make_bytes FILE N [SEED]
make_bytes() {
    python3 - "$1" "$2" "${3:-$1}" <<'EOF'
import random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = random.Random(seed)
with open(path, "wb") as f:
    left = n
    while left > 0:
        k = min(left, 1 << 20)
        f.write(r.randbytes(k))
        left -= k
EOF
}

# Prints one line per entry under DIR: path, type, permission bits, and sha256 (files) or link
# target (symlinks), then a logical dump of .mlo/mlo.db (Python's sqlite3 iterdump, the same
# as `sqlite3 .dump`). Lock files (their content is a pid) and the database's own files (their
# bytes change with checkpoints, their content is in the dump) are left out, as are the shard
# and scratch directories themselves (the files in them count).
snapshot() {
    python3 - "${1:-.}" <<'EOF'
import hashlib, os, sqlite3, stat, sys
root = sys.argv[1]
out = []
db_files = {".mlo/mlo.db", ".mlo/mlo.db-wal", ".mlo/mlo.db-shm", ".mlo/mlo.db-journal"}
for base, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(dirs + files):
        full = os.path.join(base, name)
        rel = os.path.relpath(full, root)
        if rel.startswith(".mlo/tmp/") and name.endswith(".lock"):
            continue
        if rel in db_files:
            continue
        st = os.lstat(full)
        mode = "%o" % stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode) and rel.startswith((".mlo/objects/", ".mlo/tmp/")):
            continue
        if stat.S_ISLNK(st.st_mode):
            out.append("%r link %s -> %s" % (rel, mode, os.readlink(full)))
        elif stat.S_ISDIR(st.st_mode):
            out.append("%r dir %s" % (rel, mode))
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            try:
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                digest = h.hexdigest()
            except OSError as e:
                digest = "unreadable(%s)" % e.strerror
            out.append("%r file %s %s" % (rel, mode, digest))
        else:
            out.append("%r other %s" % (rel, mode))
db = os.path.join(root, ".mlo", "mlo.db")
if not os.path.exists(db):
    out.append("db: absent")
else:
    try:
        con = sqlite3.connect(db)
        lines = list(con.iterdump())
        con.close()
        out.append("db:")
        out.extend(lines)
    except sqlite3.Error as e:
        with open(db, "rb") as f:
            out.append("db: unreadable (%s), sha256 %s" % (e, hashlib.sha256(f.read()).hexdigest()))
print("\n".join(out))
EOF
}

# take_snapshot NAME [DIR]: saves a snapshot of DIR (default .) as NAME.
take_snapshot() {
    snapshot "${2:-.}" >"$TEST_ROOT/$TEST_NAME.snap.$1" || fail "cannot snapshot ${2:-.}"
}

# assert_unchanged NAME [DIR]: DIR is as it was when snapshot NAME was taken.
assert_unchanged() {
    local before="$TEST_ROOT/$TEST_NAME.snap.$1" after="$TEST_ROOT/$TEST_NAME.snap.$1.after"
    snapshot "${2:-.}" >"$after" || fail "cannot snapshot ${2:-.}"
    if ! cmp -s "$before" "$after"; then
        echo "    tree changed (- before, + after):" >&2
        diff "$before" "$after" | grep '^[<>]' | sed 's/^</    -/; s/^>/    +/' | head -n 40 >&2
        fail "the command changed the repository or workspace"
    fi
}

# Prints "path<TAB>sha256<TAB>x|-" for every file under DIR, sorted, relative to DIR.
tree_listing() {
    python3 - "$1" <<'EOF'
import hashlib, os, sys
root = sys.argv[1]
rows = []
for base, dirs, files in os.walk(root):
    for name in files:
        full = os.path.join(base, name)
        with open(full, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        x = "x" if os.stat(full).st_mode & 0o100 else "-"
        rows.append("%r\t%s\t%s" % (os.path.relpath(full, root), digest, x))
print("\n".join(sorted(rows)))
EOF
}

# Lists every file under .mlo/objects whose name contains the temporary-file marker.
temp_objects() { find "${1:-.}/.mlo/objects" -name '*.mlo-tmp-*' 2>/dev/null; }
# Lists temporary files anywhere under DIR.
temp_files_anywhere() { find "${1:-.}" -name '*.mlo-tmp-*' 2>/dev/null; }

# Checks every object under .mlo/objects: its sha256 equals its name (shard + file name).
# Temporary files are skipped. Prints the offenders; returns 1 if any.
verify_objects() {
    python3 - "${1:-.}/.mlo/objects" <<'EOF'
import hashlib, os, sys
root = sys.argv[1]
bad = 0
for shard in sorted(os.listdir(root)):
    sdir = os.path.join(root, shard)
    if not os.path.isdir(sdir):
        continue
    for name in sorted(os.listdir(sdir)):
        if ".mlo-tmp-" in name:
            continue
        h = hashlib.sha256()
        with open(os.path.join(sdir, name), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != shard + name:
            print("%s/%s hashes to %s" % (shard, name, h.hexdigest()))
            bad = 1
sys.exit(bad)
EOF
}

# Prints the ids (64 hex) of every object in the store, sorted.
object_ids() {
    find "${1:-.}/.mlo/objects" -mindepth 2 -maxdepth 2 -type f ! -name '*.mlo-tmp-*' \
        -printf '%h/%f\n' 2>/dev/null | sed -E 's#.*/objects/([0-9a-f]{2})/#\1#' | sort
}

# Path of the object with this id.
object_path() { echo ".mlo/objects/${1:0:2}/${1:2}"; }

# The value of KEY in a pointer file (simple "key: value" lines).
pointer_field() { sed -n "s/^$2: //p" "$1"; }

# Makes a fresh repository in $TEST_DIR/${1:-repo} and cd's into it.
new_repo() {
    local d=$TEST_DIR/${1:-repo}
    mkdir -p "$d" && cd "$d" || fail "cannot create $d"
    expect_exit 0 -- mlo init
}

# ---------------------------------------------------------------------------------------------
# Running the suite

run_one() {
    local name=$1
    TEST_NAME=$name
    TEST_DIR=$TEST_ROOT/$name
    OUT=$TEST_ROOT/$name.stdout
    ERR=$TEST_ROOT/$name.stderr
    mkdir -p "$TEST_DIR"
    : >"$OUT"
    : >"$ERR"
    local start=$SECONDS
    (
        cd "$TEST_DIR" || exit 1
        _LAST_CMD=
        _LAST_RC=
        "test_$name"
    ) </dev/null
    local rc=$?
    local took=$((SECONDS - start))
    case $rc in
        0)
            TESTS_PASSED=$((TESTS_PASSED + 1))
            echo "ok   $name (${took}s)"
            ;;
        125)
            TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
            echo "skip $name"
            ;;
        *)
            TESTS_FAILED=$((TESTS_FAILED + 1))
            FAILED_NAMES+=("$name")
            echo "FAIL $name (${took}s)"
            ;;
    esac
}

# Runs every function named test_* (in the order they were defined, or those matching
# MLO_E2E_ONLY), prints "N passed, M failed" and exits 0 only if nothing failed.
run_tests() {
    local names
    names=$(declare -F | awk '{print $3}' | grep '^test_' | sed 's/^test_//')
    # declare -F sorts by name; recover definition order from the suite's source.
    local ordered=() defined=() n
    mapfile -t defined < <(grep -oE '^test_[A-Za-z0-9_]+\(\)' "$0" | sed 's/^test_//; s/()$//')
    for n in "${defined[@]}"; do
        if grep -qx -- "$n" <<<"$names"; then
            ordered+=("$n")
        fi
    done
    echo "# $SUITE_NAME: $MLO (in $TEST_ROOT)"
    for n in "${ordered[@]}"; do
        if [ -n "${MLO_E2E_ONLY:-}" ] && ! grep -Eq -- "$MLO_E2E_ONLY" <<<"$n"; then
            continue
        fi
        run_one "$n"
    done
    if [ "$TESTS_SKIPPED" -gt 0 ]; then
        echo "($TESTS_SKIPPED skipped)"
    fi
    if [ "$TESTS_FAILED" -gt 0 ]; then
        echo "failed: ${FAILED_NAMES[*]}"
    fi
    echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
    SUMMARY_PRINTED=1
    if [ "$TESTS_FAILED" -gt 0 ]; then
        exit 1
    fi
    exit 0
}
