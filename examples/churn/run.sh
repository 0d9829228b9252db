#!/usr/bin/env bash
# The whole lifecycle of a churn model, with nothing but mlo (and bash and awk):
#   generated customers -> add -> validate -> train, evaluate -> register the champion ->
#   deploy in the background -> a shifted month of traffic through HTTP, with the true outcomes
#   sent back as feedback -> monitor reports drift and lower accuracy -> retrain -> the
#   challenger wins and is promoted -> the running server answers with version 2 -> stop.
# It works in a copy under a temporary directory, so the example itself is never modified.
# MLO names the binary (default: mlo on PATH).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MLO="${MLO:-mlo}"
work="$(mktemp -d)"
port=""
cleanup() {
    [ -n "${deployment:-}" ] && "$MLO" -C "$work" deployments stop "$deployment" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
cp "$here/mlo.yaml" "$here/params.yaml" "$here/schema.yaml" "$here/prepare.awk" \
    "$here/generate.awk" "$work/"
cd "$work"

story() { printf '\n== %s\n' "$*"; }
step() { printf '$ %s\n' "$*"; "$@"; }
mlo() { "$MLO" --no-progress "$@"; }

# http METHOD PATH CONTENT-TYPE BODY [REQUEST-ID]: one HTTP/1.1 request over bash's /dev/tcp;
# prints the response body.
http() {
    local method=$1 path=$2 type=$3 body=$4 rid=${5:-}
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    {
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' "$method" "$path"
        [ -n "$rid" ] && printf 'X-Request-ID: %s\r\n' "$rid"
        if [ "$method" = POST ]; then
            printf 'Content-Type: %s\r\nContent-Length: %d\r\n' "$type" "${#body}"
        fi
        printf '\r\n%s' "$body"
    } >&3
    local response
    response=$(cat <&3)
    exec 3<&-
    case ${response%%$'\r'*} in
        "HTTP/1.1 2"*) ;;
        *) echo "run.sh: $method $path answered: ${response%%$'\r'*}" >&2; return 1 ;;
    esac
    printf '%s\n' "${response#*$'\r\n\r\n'}"
}
json_field() { sed -n 's/.*"'"$1"'":\([^,}]*\).*/\1/p' | tr -d '"'; }

story "3,000 customers of the first quarter, versioned and validated"
mkdir data
awk -v n=3000 -v seed=1 -v month=0 -v first_id=100000 -f generate.awk >data/customers.csv
step mlo init
step mlo add data
step mlo validate data/customers.csv --schema schema.yaml

story "train and evaluate; the gate (accuracy >= 0.70) registers churn:1 as champion"
step mlo train -q
step mlo model list

story "serve churn@champion in the background"
mlo --json deploy --port 0 --detach >deploy.json
port=$(json_field port <deploy.json)
deployment=$(json_field id <deploy.json)
echo "deployment $deployment listening on 127.0.0.1:$port"
http GET /version "" ""

story "a month later: prices rose, support had an outage; 1,500 customers' traffic"
awk -v n=1500 -v seed=2 -v month=1 -v first_id=200000 -f generate.awk >month.csv
# 30 requests of 50 customers each (text/csv, without the outcome), then the true outcomes
# as /feedback once they are known.
cut -d, -f1-5 month.csv >month-features.csv
header=$(head -n 1 month-features.csv)
requests=0
while read -r start; do
    rows="$((start + 2)),$((start + 51))p"
    body="$header"$'\n'"$(sed -n "$rows" month-features.csv)"$'\n'
    http POST /invocations text/csv "$body" "month-$start" >/dev/null
    labels=$(sed -n "$rows" month.csv | cut -d, -f6 | paste -sd,)
    http POST /feedback application/json \
        "{\"request_id\": \"month-$start\", \"labels\": [$labels]}" >/dev/null
    requests=$((requests + 1))
done < <(seq 0 50 1499)
echo "sent $requests scoring requests and their feedback"

story "monitor the served traffic: drift, and the accuracy it really had"
set +e
step mlo monitor --html report.html
code=$?
set -e
echo "exit code $code (1 = drift or a performance check failed)"
[ "$code" -eq 1 ]

story "retrain: the month's labelled rows join the training data; the challenger must win"
step mlo retrain
step mlo model history churn

story "the server follows churn@champion: it now answers with version 2"
for _ in $(seq 50); do
    version=$(http GET /version "" "")
    [[ $version == *'"version":2'* ]] && break
    sleep 0.1
done
echo "$version"
[[ $version == *'"version":2'* ]] || { echo "run.sh: the server did not switch" >&2; exit 1; }
step mlo retrain   # again, as cron would: the report was handled, nothing happens

story "stop the server"
step mlo deployments stop "$deployment"
deployment=""
echo
echo "lifecycle finished: churn:2 is champion and was served without a restart"
