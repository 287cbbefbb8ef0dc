#!/usr/bin/env bash
# bench/aof.sh - the AOF benchmark of issue 4: kevy and redis-server side by
# side with the AOF on, for appendfsync always and everysec (and with the AOF
# off for reference), SET/INCR/LPUSH at -c 50 -P 16 and -c 50 -P 1.
#
# Usage:
#   bench/aof.sh                         # 3 runs of bench/bench.sh
#   BENCH_SECONDS=2 BENCH_REPS=1 bench/aof.sh
#   BENCH_OUT=aof.md bench/aof.sh        # also write the combined report
#
# Each policy is one bench.sh run (both servers restarted with that policy);
# the last lines compare kevy's own rows across policies (kevy always vs kevy
# with the AOF off), from the medians of those runs.  Environment as for
# bench.sh (KEVY_SERVER, KEVY_THREADS, BENCH_SECONDS, BENCH_REPS, ...).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${BENCH_OUT:-}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

for policy in off everysec always; do
  echo "[aof] appendfsync $policy" >&2
  BENCH_AOF="$policy" BENCH_TESTS="set incr lpush" BENCH_CONFIGS="50 16,50 1" \
    BENCH_TYPES_TESTS="" BENCH_IDLE_SECONDS="${BENCH_IDLE_SECONDS:-2}" \
    BENCH_OUT="$TMP/$policy.md" "$ROOT/bench/bench.sh" >/dev/null
done

{
  echo "# AOF: kevy vs redis-server"
  for policy in off everysec always; do
    echo
    echo "## appendfsync $policy (off = both servers without AOF)"
    echo
    sed -n '/^| test\|^| ---\|^| [A-Z]/p;/^kevy AOF/p' "$TMP/$policy.md"
  done
  echo
  echo "## kevy with the AOF against kevy without it (same rows, separate runs)"
  echo
  echo "| test | -c | -P | kevy off rps | kevy everysec | kevy always | always/off |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  # Column 6 of each row is kevy's median.
  join -j1 <(awk -F'|' '/^\| [A-Z]/ {gsub(/ /,""); print $2"-"$3"-"$4, $7}' "$TMP/off.md" | sort) \
           <(awk -F'|' '/^\| [A-Z]/ {gsub(/ /,""); print $2"-"$3"-"$4, $7}' "$TMP/everysec.md" | sort) |
    join -j1 - <(awk -F'|' '/^\| [A-Z]/ {gsub(/ /,""); print $2"-"$3"-"$4, $7}' "$TMP/always.md" | sort) |
    awk '{split($1, k, "-"); printf "| %s | %s | %s | %s | %s | %s | %.2f |\n", k[1], k[2], k[3], $2, $3, $4, ($2 > 0 ? $4 / $2 : 0)}'
} | tee "${OUT:-/dev/null}"
