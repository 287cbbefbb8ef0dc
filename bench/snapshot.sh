#!/usr/bin/env bash
# bench/snapshot.sh - snapshots: kevy vs redis-server on the same data.
#
# Both servers get `DEBUG POPULATE N key 32` (N = SNAP_KEYS, default 5M), then:
#   - SAVE: wall time of the command, size of the files written (redis: the
#     RDB; kevy: every shard's .snap);
#   - restart: each server stopped and started alone on its files, time from
#     exec to the first PING answered (page cache dropped when permitted);
#   - BGSAVE under load: peak RSS during a BGSAVE while redis-benchmark writes,
#     against the RSS before it, and that benchmark's p99 with and without a
#     BGSAVE running.
# Ratios are kevy/redis (RSS: during/before for each server).
#
# Usage: bench/snapshot.sh            SNAP_KEYS=1000000 bench/snapshot.sh
# Environment: KEVY_SERVER, REDIS_SERVER, KEVY_THREADS (default 2), BENCH_OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
N="${SNAP_KEYS:-5000000}"
WORK="$(mktemp -d /tmp/kevy-snapbench-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'echo "snapshot.sh: failed at line $LINENO" >&2' ERR
note() { echo "[snapshot] $*" >&2; }
die() { echo "snapshot.sh: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }
rss_kb() { local v; v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || true); echo "${v:-0}"; }

start() {  # kind port -> PID, MS
  local kind=$1 port=$2 t0
  t0=$(now_ms)
  if [[ $kind == redis ]]; then
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis" --save '' \
      --appendonly no --enable-debug-command yes --daemonize no --logfile "$WORK/redis.log" >/dev/null 2>&1 &
  else
    "$KEVY_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/kevy" --threads "$KEVY_THREADS" \
      --appendonly yes --save "" --auto-aof-rewrite-percentage 0 --enable-debug-command yes \
      >>"$WORK/kevy.log" 2>&1 &
  fi
  PID=$!
  PIDS+=("$PID")
  until [[ "$(redis-cli -p "$port" PING 2>/dev/null || true)" == PONG ]]; do
    kill -0 "$PID" 2>/dev/null || die "$kind died"
    sleep 0.01
  done
  MS=$(( $(now_ms) - t0 ))
}
stop() { redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1 || true; for _ in $(seq 600); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done; }
p99() {  # port requests -> p99 latency (ms) of SETs from the latency summary
  local out
  out=$(redis-benchmark -p "$1" -t set -c 50 -P 1 -n "$2" -r 5000000 -d 32 2>/dev/null | tr '\r' '\n' || true)
  awk '/latency summary/ {getline; getline; print $5; exit}' <<<"$out"
}

mkdir -p "$WORK/redis" "$WORK/kevy"
declare -A SAVE_MS SIZE LOAD_MS RSS0 RSSMAX P99A P99B
for kind in redis kevy; do
  port=$(free_port)
  start "$kind" "$port"
  note "$kind: DEBUG POPULATE $N"
  redis-cli -p "$port" DEBUG POPULATE "$N" key 32 >/dev/null
  t0=$(now_ms); redis-cli -p "$port" SAVE >/dev/null; SAVE_MS[$kind]=$(( $(now_ms) - t0 ))
  if [[ $kind == redis ]]; then SIZE[$kind]=$(stat -c %s "$WORK/redis/dump.rdb")
  else SIZE[$kind]=$(cat "$WORK"/kevy/*.snap | wc -c); fi
  # p99 of writes without and with a BGSAVE running; peak RSS during it.
  P99A[$kind]=$(p99 "$port" 200000)
  RSS0[$kind]=$(rss_kb "$PID")
  max=${RSS0[$kind]}
  redis-cli -p "$port" BGSAVE >/dev/null
  ( set +e; while true; do r=$(rss_kb "$PID"); for c in $(pgrep -P "$PID"); do r=$((r + $(rss_kb "$c"))); done; echo "$r"; sleep 0.05; done ) >"$WORK/rss.$kind" 2>/dev/null &
  SAMPLER=$!
  P99B[$kind]=$(p99 "$port" 200000)
  for _ in $(seq 600); do
    st=$(redis-cli -p "$port" INFO persistence | tr -d '\r' | awk -F: '$1=="rdb_bgsave_in_progress"{print $2}' || true)
    if [[ "$st" == 0 ]]; then break; fi
    sleep 0.1
  done
  kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true
  RSSMAX[$kind]=$(sort -n "$WORK/rss.$kind" | tail -1)
  (( RSSMAX[$kind] >= max )) || RSSMAX[$kind]=$max
  redis-cli -p "$port" SAVE >/dev/null
  stop "$port" "$PID"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  port=$(free_port)
  start "$kind" "$port"
  LOAD_MS[$kind]=$MS
  [[ "$(redis-cli -p "$port" DBSIZE)" -ge "$N" ]] || die "$kind restarted with $(redis-cli -p "$port" DBSIZE) keys"
  stop "$port" "$PID"
  note "$kind: save ${SAVE_MS[$kind]} ms, ${SIZE[$kind]} bytes, restart ${LOAD_MS[$kind]} ms, rss ${RSS0[$kind]} -> ${RSSMAX[$kind]} kB, p99 ${P99A[$kind]} -> ${P99B[$kind]} ms"
done

r() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
REPORT=$(cat <<EOT
# Snapshots: kevy vs redis-server ($N keys, DEBUG POPULATE ... 32)

- date: $(date -u '+%Y-%m-%d %H:%M:%SZ'); $(nproc) CPUs; kevy --threads $KEVY_THREADS; redis $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//')

| | redis | kevy | kevy/redis |
| --- | ---: | ---: | ---: |
| file bytes (RDB / snapshots) | ${SIZE[redis]} | ${SIZE[kevy]} | $(r "${SIZE[kevy]}" "${SIZE[redis]}") |
| SAVE, ms | ${SAVE_MS[redis]} | ${SAVE_MS[kevy]} | $(r "${SAVE_MS[kevy]}" "${SAVE_MS[redis]}") |
| restart to first PING, ms | ${LOAD_MS[redis]} | ${LOAD_MS[kevy]} | $(r "${LOAD_MS[kevy]}" "${LOAD_MS[redis]}") |
| peak RSS during BGSAVE / before (with writes) | $(r "${RSSMAX[redis]}" "${RSS0[redis]}") | $(r "${RSSMAX[kevy]}" "${RSS0[kevy]}") | |
| SET p99 during BGSAVE / without, ms | ${P99B[redis]} / ${P99A[redis]} | ${P99B[kevy]} / ${P99A[kevy]} | |
EOT
)
echo "$REPORT"
[[ -n "${BENCH_OUT:-}" ]] && echo "$REPORT" >"$BENCH_OUT"
exit 0
