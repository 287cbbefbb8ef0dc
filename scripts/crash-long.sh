#!/usr/bin/env bash
# scripts/crash-long.sh - the crash-injection suite's long mode
# (docs/durability.md, "What proves it"): thousands of kill -9 cycles, every
# failpoint position of every kind, tens of thousands of crash states and
# corruptions.  Release build in ./build (made if missing), then every test
# labelled crash with KEVY_CRASH_LONG=1 and no time limit.  Takes hours on a
# 2-core machine; prints each test's seed and replay line as CI does.
#
#   scripts/crash-long.sh                 # everything
#   scripts/crash-long.sh -R crash_kill   # extra ctest arguments: one test
#   KEVY_SEED=123 scripts/crash-long.sh   # replay a seed
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${KEVY_JOBS:-$(nproc)}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"
cd build
KEVY_CRASH_LONG=1 exec ctest --output-on-failure --timeout 0 -L crash "$@"
