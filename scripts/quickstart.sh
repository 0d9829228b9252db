#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build mlo, run the examples end to end: data
# versioning and the pipeline (examples/quickstart), then the whole lifecycle (examples/churn).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/deps.sh"
bash "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release
MLO="$root/build/mlo" bash "$root/examples/quickstart/run.sh"
MLO="$root/build/mlo" bash "$root/examples/churn/run.sh"
