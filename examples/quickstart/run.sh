#!/usr/bin/env bash
# The default example, end to end: version a small dataset with mlo, change it, see the change,
# and restore the original bytes; then run its pipeline (prepare, train, evaluate), change a
# parameter, rerun what depends on it, revert it and get the earlier model back from the run
# cache, and trace the metrics back to the raw data. Needs nothing but the mlo binary (MLO, or
# mlo on PATH) and awk.
# It works in a copy under a temporary directory, so the example itself is never modified.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MLO="${MLO:-mlo}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/data" "$work/data"
cd "$work"

step() { printf '\n$ %s\n' "$*"; "$@"; }
mlo() { "$MLO" --no-progress "$@"; }

step mlo init
step mlo add data
step cat data.mlo
before="$(cd data && find . -type f -exec sha256sum {} + | sort)"

echo; echo "# a data scientist edits a row and deletes a file"
sed -i 's/^1001,42,/1001,43,/' data/churn.csv
rm data/raw/west.csv
step mlo status || true
step mlo diff
echo; echo "# status --exit-code lets scripts and hooks notice (exit 1 = changed)"
set +e; mlo status --exit-code -q; code=$?; set -e
echo "exit code: $code"
[ "$code" -eq 1 ]

echo; echo "# checkout refuses to drop changes that are not in the store ..."
set +e; mlo checkout; code=$?; set -e
[ "$code" -eq 2 ]
echo "# ... so --force says we mean it"
step mlo checkout --force
after="$(cd data && find . -type f -exec sha256sum {} + | sort)"
[ "$before" = "$after" ] || { echo "restored data differs from the original" >&2; exit 1; }
step mlo status --exit-code
step mlo fsck
echo; echo "data part finished: every byte restored"

echo; echo "# the pipeline: mlo.yaml (prepare, train, evaluate) and params.yaml"
cp "$here/mlo.yaml" "$here/params.yaml" "$here"/*.awk .
step mlo dag
step mlo repro
step cat metrics.json
model_first="$(sha256sum models/churn.txt)"
step mlo repro
echo; echo "# more smoothing: train and evaluate rerun, prepare does not"
sed -i 's/smoothing: 1/smoothing: 4/' params.yaml
step mlo status || true
step mlo repro
echo; echo "# back to the old value: the run cache restores the earlier model without running"
sed -i 's/smoothing: 4/smoothing: 1/' params.yaml
step mlo repro
[ "$(sha256sum models/churn.txt)" = "$model_first" ] || { echo "restored model differs" >&2; exit 1; }
step mlo runs
step mlo lineage metrics.json
step mlo status --exit-code
echo; echo "example finished"
