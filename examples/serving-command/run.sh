#!/usr/bin/env bash
# The command flavour of `mlo deploy`, end to end: train with the built-in learner, register and
# promote the model, serve churn@champion through two worker.py processes (JSON lines on their
# stdin/stdout), score two customers over HTTP, and stop the server. Needs the mlo binary (MLO,
# or mlo on PATH), python3 (no packages) and curl. Works in a copy under a temporary directory,
# so the example itself is never modified.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MLO="${MLO:-mlo}"
work="$(mktemp -d)"
id=""
cleanup() {
    if [ -n "$id" ]; then (cd "$work" && "$MLO" -q deployments stop "$id") || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cp -r "$here/data" "$here/mlo.yaml" "$here/worker.py" "$work/"
cd "$work"

step() { printf '\n$ %s\n' "$*"; "$@"; }
mlo() { "$MLO" --no-progress "$@"; }

step mlo init
step mlo repro
step mlo model register churn models/churn.json --reason "first model"
step mlo model promote churn 1 --reason "serve it"

echo; echo "# serve churn@champion through worker.py; --detach returns once the server is ready"
printf '\n$ %s\n' 'mlo deploy churn@champion --command "python3 worker.py" --port 0 --detach --json'
line="$(mlo deploy churn@champion --command "python3 worker.py" --port 0 --detach --json)"
echo "$line"
read -r id url < <(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["id"], d["url"])' "$line")

echo; echo "# two customers, MLflow's dataframe_split; the second has no charges and an unknown contract"
body='{"dataframe_split": {"columns": ["tenure_months", "monthly_charges", "contract", "support_calls"],
        "data": [[2, 95.5, "month-to-month", 4], [60, null, "five-year", 0]]}}'
printf '\n$ curl -s -X POST %s/invocations -H "Content-Type: application/json" -d %s\n' "$url" "'$body'"
answer="$(curl -sS -X POST "$url/invocations" -H "Content-Type: application/json" -d "$body")"
echo "$answer"
python3 -c 'import json, sys; p = json.loads(sys.argv[1])["predictions"]; assert len(p) == 2, p' "$answer"

step mlo deployments stop "$id"
id=""
echo; echo "example finished"
