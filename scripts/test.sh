#!/usr/bin/env bash
# Quick start, step 2 (and what CI runs): build mlo and run the whole test suite: unit tests and
# end-to-end suites, in a normal build with warnings as errors and in an ASan+UBSan build, then
# a smoke-size run of the benchmarks to keep them working.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/deps.sh"
jobs="$(nproc)"

echo "== build (warnings are errors)"
# No debug information in CI's builds: it is a third of the compile time, and a failure is
# reproduced locally anyway. The sanitizer build keeps line tables (-g1) for its stack traces.
# Unity builds (eight sources compiled as one; the unit tests' files stay apart): the headers
# (CLI11, nlohmann-json, yaml-cpp, the sanitizers' instrumentation of them) are compiled a
# fraction as often, which took the sanitizer build from 28 to 9 CPU-minutes.
bash "$root/scripts/build.sh" "$root/build-ci" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLO_WERROR=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" -DCMAKE_UNITY_BUILD=ON
echo "== tests"
# The S3 client's unit tests talk to a real S3 server: moto on loopback (scripts/deps.sh makes
# sure one is installed; tests/e2e/remote.sh starts a server of its own).
moto_py=python3
python3 -c 'import moto.server' 2>/dev/null || moto_py=/usr/bin/python3
moto_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$moto_py" -m moto.server -H 127.0.0.1 -p "$moto_port" >/dev/null 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
export MLO_TEST_S3_ENDPOINT="http://127.0.0.1:$moto_port"
for _ in $(seq 100); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$moto_port" 2>/dev/null && break
  sleep 0.1
done
ctest --test-dir "$root/build-ci" --output-on-failure -j "$jobs"

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
# The mlo binary only: the end-to-end suites drive it through every layer. CI has 30 minutes
# on two cores and two full builds had reached them; the unit tests run in the build above.
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMLO_WERROR=ON \
  -DMLO_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG="-g1" -DCMAKE_UNITY_BUILD=ON >/dev/null
ninja -C "$root/build-asan" mlo
echo "== end-to-end tests under sanitizers"
# Every suite but the two slowest (concurrency: many processes racing on one repository; data:
# large trees), which the normal build ran above: under the sanitizers they took five of the
# pass's seven minutes and exercise no code the other suites do not.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" \
  -E '^(unit|e2e_concurrency|e2e_data)$'

echo "== benchmark smoke run"
bash "$root/bench/storage.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/pipeline.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/learners.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/tracking.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/serving.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/monitor.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
bash "$root/bench/remote.sh" --smoke --mlo "$root/build-ci/mlo" --out /dev/null
echo "== all tests passed"
