#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build mlo, run the default example end to end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/deps.sh"
bash "$root/scripts/build.sh" "$root/build" -DCMAKE_BUILD_TYPE=Release
MLO="$root/build/mlo" bash "$root/examples/quickstart/run.sh"
