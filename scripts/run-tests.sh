#!/usr/bin/env bash
# scripts/run-tests.sh - everything CI runs, from a fresh checkout:
#   1. install build and test deps (scripts/install-deps.sh --test);
#   2. Release build in ./build, then every CTest test (unit, integration,
#      and whatever else tests/CMakeLists.txt registers);
#   3. ASan+UBSan build (-DKEVY_SANITIZE=ON) in ./build-asan, then the tests
#      labelled unit, integration and crash-asan (the corruption fuzzer and
#      the crash-state explorer; the kill -9 and failpoint sweeps run in the
#      Release pass only, to keep the whole run under ~15 minutes).
# Prints each ctest summary and exits non-zero if any build or test failed.
#
# Environment:
#   KEVY_SKIP_ASAN=1          Release pass only.
#   KEVY_ASAN_LABELS=regex    CTest labels for the sanitizer pass (default
#                             "unit|integration|crash-asan").
#   KEVY_CTEST_ARGS="..."     extra ctest arguments for both passes (e.g. -R diff).
#   KEVY_JOBS=n               build and test parallelism (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${KEVY_JOBS:-$(nproc)}"
ASAN_LABELS="${KEVY_ASAN_LABELS:-unit|integration|crash-asan}"
# shellcheck disable=SC2206
CTEST_EXTRA=(${KEVY_CTEST_ARGS:-})
START=$(date +%s)
LOGDIR="$(mktemp -d /tmp/kevy-tests.XXXXXX)"
status=0
summaries=()

stamp() { echo "==> [$(( $(date +%s) - START ))s] $*"; }

run_ctest() {  # name builddir ctest-args...
  local name=$1 dir=$2; shift 2
  local log="$LOGDIR/$name.log" rc=0
  stamp "ctest ($name)"
  (cd "$dir" && ctest --output-on-failure --timeout 900 -j "$JOBS" "$@" "${CTEST_EXTRA[@]}") 2>&1 \
    | tee "$log" || rc=$?
  [[ $rc -eq 0 ]] || status=1
  summaries+=("--- $name (exit $rc) ---")
  summaries+=("$(grep -E '^[0-9]+% tests passed|^Total Test time|The following tests|^[[:space:]]+[0-9]+ - |No tests were found' "$log" || echo "(no ctest summary: see $log)")")
}

stamp "dependencies"
scripts/install-deps.sh --test

stamp "Release build (./build)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"
run_ctest release build

if [[ "${KEVY_SKIP_ASAN:-0}" != 1 ]]; then
  stamp "ASan+UBSan build (./build-asan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DKEVY_SANITIZE=ON
  cmake --build build-asan -j "$JOBS"
  # Sanitizer reports fail the run: UBSan aborts on the first error, ASan's
  # leak check turns a leak at exit into a non-zero status, which the
  # integration tests check after SIGTERM.  Servers start slower under ASan.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  export KEVY_START_TIMEOUT="${KEVY_START_TIMEOUT:-60}"
  run_ctest asan build-asan -L "$ASAN_LABELS"
fi

echo
stamp "summary"
printf '%s\n' "${summaries[@]}"
if [[ $status -ne 0 ]]; then
  echo "FAILED (logs in $LOGDIR)"
else
  echo "ALL PASSED in $(( $(date +%s) - START ))s"
  rm -rf "$LOGDIR"
fi
exit $status
