#!/usr/bin/env bash
# bench/memory.sh - memory per entry, kevy vs redis-server, same data, same run.
#
# Usage:
#   bench/memory.sh                       # every dataset below
#   MEM_KEYS=1000000 bench/memory.sh      # fewer small keys (default 5000000)
#   MEM_SETS="stream" bench/memory.sh     # only some datasets (default: all)
#   BENCH_OUT=mem.md bench/memory.sh      # also write the report there
#
# For each dataset both servers start empty (persistence off, kevy with
# --threads 2), the same commands are piped into both with redis-cli --pipe,
# and the report shows the growth of INFO used_memory and of the process RSS
# (from /proc/<pid>/status) divided by the number of entries, and the ratio
# kevy/redis.  Datasets:
#   strings   MEM_KEYS keys from DEBUG POPULATE (key:N -> value:N, 32 bytes)
#   hash      1M fields in one hash         (field:N -> value:N)
#   list      1M elements in one list       (element:N)
#   set       1M members in one set         (member:N)
#   zset      1M members in one zset        (score N, member:N)
#   stream    1M entries in one stream      (XADD st * value N: one field)
#
# Needs redis-server, redis-cli, awk.  Never touches port 6379.
set -euo pipefail
cd "$(dirname "$0")/.."

KEVY_SERVER="${KEVY_SERVER:-$PWD/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
MEM_KEYS="${MEM_KEYS:-5000000}"
MEM_ELEMS="${MEM_ELEMS:-1000000}"
BENCH_OUT="${BENCH_OUT:-}"
[[ -x "$KEVY_SERVER" ]] || { echo "memory.sh: no kevy-server at $KEVY_SERVER" >&2; exit 1; }
[[ -n "$REDIS_SERVER" ]] || { echo "memory.sh: redis-server not found" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kevy-mem.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    [[ $p -ne 6379 ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { echo "$p"; return; }
  done
}

wait_ping() {  # port pid
  for _ in $(seq 1 300); do
    [[ "$(redis-cli -p "$1" PING 2>/dev/null)" == PONG ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_pair() {
  RP=$(free_port); KP=$(free_port)
  mkdir -p "$WORK/r$RP" "$WORK/k$KP"
  "$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --dir "$WORK/r$RP" --save '' --appendonly no \
    --enable-debug-command yes --daemonize no --logfile "$WORK/redis.log" &
  RPID=$!
  "$KEVY_SERVER" --port "$KP" --bind 127.0.0.1 --dir "$WORK/k$KP" --threads 2 \
    --enable-debug-command yes >>"$WORK/kevy.log" 2>&1 &
  KPID=$!
  PIDS+=("$RPID" "$KPID")
  wait_ping "$RP" "$RPID" || { echo "redis did not start" >&2; exit 1; }
  wait_ping "$KP" "$KPID" || { echo "kevy did not start: $(tail -5 "$WORK/kevy.log")" >&2; exit 1; }
}

stop_pair() {
  kill -TERM "$RPID" "$KPID" 2>/dev/null || true
  wait "$RPID" "$KPID" 2>/dev/null || true
}

used() { redis-cli -p "$1" INFO memory | awk -F: '/^used_memory:/ {gsub("\r", "", $2); print $2}'; }
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }

REPORT="$WORK/report.md"
{
  echo "# memory per entry: kevy vs redis-server"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ'); $(nproc) CPUs, $(uname -sr)"
  echo "- redis $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//'); kevy $("$KEVY_SERVER" --version | head -1) (--threads 2)"
  echo
  echo "| dataset | entries | redis used_memory B/entry | kevy used_memory B/entry | ratio | redis RSS B/entry | kevy RSS B/entry | ratio |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$REPORT"

# measure NAME ENTRIES LOADER: LOADER PORT fills a server.
measure() {
  local name=$1 n=$2 loader=$3
  start_pair
  local ru0 ku0 rr0 kr0 ru1 ku1 rr1 kr1
  ru0=$(used "$RP"); ku0=$(used "$KP"); rr0=$(rss "$RPID"); kr0=$(rss "$KPID")
  "$loader" "$RP"
  "$loader" "$KP"
  sleep 0.5
  ru1=$(used "$RP"); ku1=$(used "$KP"); rr1=$(rss "$RPID"); kr1=$(rss "$KPID")
  awk -v name="$name" -v n="$n" -v ru=$((ru1 - ru0)) -v ku=$((ku1 - ku0)) \
      -v rr=$((rr1 - rr0)) -v kr=$((kr1 - kr0)) 'BEGIN {
    printf "| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n",
      name, n, ru / n, ku / n, (ru > 0 ? ku / ru : 0), rr / n, kr / n, (rr > 0 ? kr / rr : 0)
  }' | tee -a "$REPORT" >&2
  stop_pair
}

load_strings() { redis-cli -p "$1" DEBUG POPULATE "$MEM_KEYS" key 32 >/dev/null; }
pipe_cmds() {  # port awk-program
  awk -v n="$MEM_ELEMS" "BEGIN { $2 }" | redis-cli -p "$1" --pipe >/dev/null
}
load_hash() { pipe_cmds "$1" 'for (i = 0; i < n; i += 100) { printf "HSET h"; for (j = i; j < i + 100 && j < n; j++) printf " field:%d value:%d", j, j; printf "\r\n" }'; }
load_list() { pipe_cmds "$1" 'for (i = 0; i < n; i += 100) { printf "RPUSH l"; for (j = i; j < i + 100 && j < n; j++) printf " element:%d", j; printf "\r\n" }'; }
load_set() { pipe_cmds "$1" 'for (i = 0; i < n; i += 100) { printf "SADD s"; for (j = i; j < i + 100 && j < n; j++) printf " member:%d", j; printf "\r\n" }'; }
load_stream() { pipe_cmds "$1" 'for (i = 0; i < n; i++) printf "XADD st * value %d\r\n", i'; }
load_zset() { pipe_cmds "$1" 'for (i = 0; i < n; i += 100) { printf "ZADD z"; for (j = i; j < i + 100 && j < n; j++) printf " %d member:%d", j, j; printf "\r\n" }'; }

want() { [[ -z "${MEM_SETS:-}" || " $MEM_SETS " == *" $1 "* ]]; }
want strings && measure "strings (DEBUG POPULATE, 32-byte values)" "$MEM_KEYS" load_strings
want hash && measure "hash fields" "$MEM_ELEMS" load_hash
want list && measure "list elements" "$MEM_ELEMS" load_list
want set && measure "set members" "$MEM_ELEMS" load_set
want zset && measure "zset members" "$MEM_ELEMS" load_zset
want stream && measure "stream entries" "$MEM_ELEMS" load_stream

echo >&2
cat "$REPORT"
[[ -n "$BENCH_OUT" ]] && cp "$REPORT" "$BENCH_OUT"
exit 0
