#!/usr/bin/env bash
# Installs the Debian packages mlo needs to build, test and benchmark, if any is missing.
# Idempotent and quick when everything is there. Run as root (or with sudo).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  libcli11-dev libgit2-dev libsqlite3-dev libssl-dev libyaml-cpp-dev catch2
  nlohmann-json3-dev libcurl4-openssl-dev
  # tests and benchmarks
  git python3 util-linux time coreutils make mawk
  # tests/e2e/tracking.sh checks that plot files parse as XML; bench/tracking.sh uses sqlite3
  libxml2-utils sqlite3
  # tests/e2e/serving.sh finds the command flavour's worker processes with pgrep
  procps
  # bench/learners.sh compares with scikit-learn (in /usr/bin/python3; never needed by mlo)
  python3-numpy python3-sklearn
  # tests/e2e/monitor.sh checks drift scores against SciPy; bench/monitor.sh times a SciPy loop
  python3-scipy
  # bench/serving.sh loads `mlo deploy` with wrk, next to Flask scoring servers run like
  # MLflow's (gunicorn, one sync worker), the MLflow-like one building a pandas DataFrame per
  # request as MLflow does; never needed by mlo
  wrk python3-flask gunicorn python3-pandas
)

# tests/e2e/remote.sh and bench/remote.sh run an S3 server (moto) on loopback and compare with
# the AWS CLI. Machines that have them in the python3 on PATH (pip) use those; others get
# Debian's packages. Never needed by mlo.
if ! python3 -c 'import moto.server' 2>/dev/null && ! /usr/bin/python3 -c 'import moto.server' 2>/dev/null; then
  packages+=(python3-moto)
fi
command -v aws >/dev/null 2>&1 || packages+=(awscli)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "scripts/deps.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
