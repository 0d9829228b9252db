#!/usr/bin/env bash
# The default example, end to end: version a small dataset with mlo, change it, see the change,
# and restore the original bytes. Needs nothing but the mlo binary (MLO, or mlo on PATH).
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
echo; echo "example finished: every byte restored"
