#!/usr/bin/env bash
# scripts/run-server.sh - from a fresh checkout to a running kevy on
# 127.0.0.1:6379: install build deps, configure a Release build in ./build,
# build, and exec kevy-server with its data in ./data.  Extra arguments are
# passed to kevy-server (e.g. --threads 4, --appendfsync always).
#
# The dataset is kept in ./data (one AOF per shard, appendfsync everysec by
# default) and reloaded on the next start.  Stop it with SIGTERM or
# redis-cli SHUTDOWN (both flush and fsync the AOF first).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
mkdir -p data
exec ./build/kevy-server --port 6379 --bind 127.0.0.1 --dir ./data "$@"
