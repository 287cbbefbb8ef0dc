#!/usr/bin/env bash
# bench/units.sh - what units across shards cost (issue 18): two kevy builds
# (before and after a change) against redis-server, appendfsync always,
# single-key SET and a 10-key MSET (its keys spread over both shards) at
# -c 50 -P 1 and -c 50 -P 16; then the records per fsync each kevy reaches
# under the MSET load.
#
# Usage:
#   KEVY_BEFORE=/path/to/old/kevy-server bench/units.sh
#   KEVY_AFTER=build/kevy-server (default)  BENCH_SECONDS=3 BENCH_REPS=3
#   BENCH_OUT=units.md bench/units.sh
#
# Each build is one bench/bench.sh run (redis-server restarted beside it), so
# each row has its own kevy/redis ratio from the same run; the last table
# divides the two kevy medians (after/before).  On a shared 2-vCPU machine,
# compare the ratios to redis rather than raw requests/s across runs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BEFORE="${KEVY_BEFORE:?set KEVY_BEFORE to the kevy-server to compare with}"
AFTER="${KEVY_AFTER:-$ROOT/build/kevy-server}"
OUT="${BENCH_OUT:-}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true' EXIT

for which in before after; do
  bin="$BEFORE"; [ "$which" = after ] && bin="$AFTER"
  echo "[units] $which: $bin" >&2
  KEVY_SERVER="$bin" BENCH_AOF=always BENCH_TESTS="set mset" BENCH_CONFIGS="50 1,50 16" \
    BENCH_TYPES_TESTS="" BENCH_IDLE_SECONDS="${BENCH_IDLE_SECONDS:-1}" \
    BENCH_SECONDS="${BENCH_SECONDS:-3}" BENCH_REPS="${BENCH_REPS:-3}" \
    BENCH_OUT="$TMP/$which.md" "$ROOT/bench/bench.sh" >/dev/null
done

# Records per fsync under the MSET load (-c 50 -P 16), each build alone.
rpf() {
  local bin="$1" dir port
  dir="$(mktemp -d -p "$TMP")"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --threads 2 --appendonly yes \
    --appendfsync always --save "" >"$dir/log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-benchmark -p "$port" -c 50 -P 16 -n 200000 -r 1000000 -t mset -q >/dev/null 2>&1
  redis-cli -p "$port" info persistence | tr -d '\r' | awk -F: '/^aof_records_per_fsync/ {print $2}'
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}
RPF_BEFORE=$(rpf "$BEFORE")
RPF_AFTER=$(rpf "$AFTER")

{
  echo "# Units across shards: kevy before and after, each beside redis-server (appendfsync always)"
  for which in before after; do
    echo
    echo "## $which"
    echo
    sed -n '/^| test\|^| ---\|^| [A-Z]/p' "$TMP/$which.md"
  done
  echo
  echo "## after / before (kevy medians of separate runs)"
  echo
  echo "| test | -c | -P | before rps | after rps | after/before |"
  echo "| --- | --- | --- | --- | --- | --- |"
  join -j1 <(awk -F'|' '/^\| [A-Z]/ {gsub(/ /,""); print $2"-"$3"-"$4, $7}' "$TMP/before.md" | sort) \
           <(awk -F'|' '/^\| [A-Z]/ {gsub(/ /,""); print $2"-"$3"-"$4, $7}' "$TMP/after.md" | sort) |
    awk '{split($1, k, "-"); printf "| %s | %s | %s | %s | %s | %.2f |\n", k[1], k[2], k[3], $2, $3, ($2 > 0 ? $3 / $2 : 0)}'
  echo
  echo "records per fsync under MSET -c 50 -P 16: before $RPF_BEFORE, after $RPF_AFTER"
} | tee "${OUT:-/dev/null}"
