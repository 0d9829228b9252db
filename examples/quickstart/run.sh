#!/usr/bin/env bash
# The default example, end to end: version a small dataset with mlo, change it, see the change,
# and restore the original bytes; then train with the pipeline (an awk split, then mlo's built-in
# logistic regression and evaluation), register the model as champion when its gate holds,
# change a parameter and get a second version, promote and roll back, revert the parameter and
# get the earlier model back from the run cache, score a CSV with the champion and trace it
# back to the raw data. Needs nothing but the mlo binary (MLO, or mlo on PATH) and awk.
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
cp "$here/mlo.yaml" "$here/params.yaml" "$here/prepare.awk" .
step mlo dag
echo; echo "# train: prepare, train and evaluate run; the gate holds, so version 1 becomes champion"
step mlo train
step cat metrics.json
model_first="$(sha256sum models/churn.json)"
step mlo repro
echo; echo "# weaker regularisation: train and evaluate rerun, prepare does not; a new version"
sed -i 's/l2: 1.0/l2: 0.1/' params.yaml
step mlo status || true
step mlo train
step mlo model list
step mlo model promote churn 2 --reason "less regularisation"
step mlo model rollback churn --reason "keep the simpler model"
step mlo model history churn
echo; echo "# back to the old value: the run cache restores the earlier model without running"
sed -i 's/l2: 0.1/l2: 1.0/' params.yaml
step mlo train
[ "$(sha256sum models/churn.json)" = "$model_first" ] || { echo "restored model differs" >&2; exit 1; }
echo; echo "# batch scoring with the champion, and where it came from"
step mlo predict churn@champion --data prepared/test.csv --proba --out predictions.csv
step head -5 predictions.csv
step mlo runs
step mlo lineage churn@champion
step mlo status --exit-code
echo; echo "example finished"
