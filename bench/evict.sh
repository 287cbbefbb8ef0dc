#!/usr/bin/env bash
# bench/evict.sh - kevy vs redis-server writing far past maxmemory, same
# machine, same run (docs/memory.md).
#
# Usage:
#   bench/evict.sh
#   EVICT_REQUESTS=2000000 bench/evict.sh          # quicker
#
# What it does: starts redis-server and kevy-server (--threads 2), both with
# persistence off, `maxmemory 100mb` and `maxmemory-policy allkeys-lru`; runs
# `redis-benchmark -t set -r 10000000 -n EVICT_REQUESTS -c 50 -P 16` against
# each, alternating which goes first, EVICT_REPS times, and prints per server
# the median SET requests/s, the kevy/redis throughput ratio, the memory the
# limit applies to against the limit (Redis: used_memory; kevy:
# used_memory_dataset, the keyspace bytes its per-shard shares are checked
# against) and evicted_keys.  The servers are flushed between runs.
# Then the hit ratio of a Zipf-distributed cache-aside load (GET, and SET on
# a miss; bench/zipf_hits.py, the same seeded key stream for both servers)
# under the same limit: how well each server's eviction keeps the hot keys.
#
# Environment (all optional):
#   KEVY_SERVER      kevy-server binary (default: <repo>/build/kevy-server)
#   REDIS_SERVER     redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS     kevy --threads (default 2)
#   EVICT_REQUESTS   SETs per run (default 5000000: ~4 M distinct keys, several
#                    times what fits in 100 MB on either server)
#   EVICT_REPS       runs per server (default 3)
#   EVICT_LIMIT      maxmemory (default 100mb)
#   ZIPF_OPS         counted operations of the hit-ratio load, after as many
#                    warm-up ones (default 1000000; 0 skips it)
#
# Needs: redis-server, redis-benchmark, redis-cli, awk, python3.  Never
# touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
EVICT_REQUESTS="${EVICT_REQUESTS:-5000000}"
EVICT_REPS="${EVICT_REPS:-3}"
EVICT_LIMIT="${EVICT_LIMIT:-100mb}"
ZIPF_OPS="${ZIPF_OPS:-1000000}"

die() { echo "evict.sh: $*" >&2; exit 1; }
for t in redis-benchmark redis-cli awk; do
  command -v "$t" >/dev/null || die "$t not found"
done
[[ -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER"

WORK="$(mktemp -d /tmp/kevy-evict.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping



info() {  # info PORT FIELD
  redis-cli -p "$1" INFO | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

RP=$(free_port)
mkdir -p "$WORK/redis" "$WORK/kevy"
"$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly no \
  --maxmemory "$EVICT_LIMIT" --maxmemory-policy allkeys-lru --daemonize no \
  --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_ping "$RP" "${PIDS[-1]}" || die "redis-server did not start"
KP=$(free_port)
"$KEVY_SERVER" --port "$KP" --bind 127.0.0.1 --dir "$WORK/kevy" --threads "$KEVY_THREADS" \
  --appendonly no --save '' --maxmemory "$EVICT_LIMIT" --maxmemory-policy allkeys-lru \
  >>"$WORK/kevy.log" 2>&1 &
PIDS+=($!)
wait_ping "$KP" "${PIDS[-1]}" || die "kevy-server did not start: $(tail -5 "$WORK/kevy.log")"

LIMIT_BYTES=$(redis-cli -p "$RP" CONFIG GET maxmemory | tail -1)

run() {  # run PORT -> requests/s
  redis-cli -p "$1" FLUSHALL >/dev/null
  redis-benchmark -p "$1" -t set -r 10000000 -n "$EVICT_REQUESTS" -c 50 -P 16 -q 2>/dev/null |
    tr '\r' '\n' | awk '/requests per second/ { v = $2 } END { print v }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

R_RPS=(); K_RPS=()
for rep in $(seq 1 "$EVICT_REPS"); do
  if (( rep % 2 )); then
    R_RPS+=("$(run "$RP")"); K_RPS+=("$(run "$KP")")
  else
    K_RPS+=("$(run "$KP")"); R_RPS+=("$(run "$RP")")
  fi
done
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || die "a server died during the run"; done

R_MED=$(printf '%s\n' "${R_RPS[@]}" | median)
K_MED=$(printf '%s\n' "${K_RPS[@]}" | median)
R_USED=$(info "$RP" used_memory); K_USED=$(info "$KP" used_memory_dataset)
K_HEAP=$(info "$KP" used_memory)
R_KEYS=$(redis-cli -p "$RP" DBSIZE); K_KEYS=$(redis-cli -p "$KP" DBSIZE)
R_EV=$(info "$RP" evicted_keys); K_EV=$(info "$KP" evicted_keys)

echo "## SET -r 10000000 -n $EVICT_REQUESTS -c 50 -P 16, maxmemory $EVICT_LIMIT allkeys-lru"
echo
echo "machine: $(nproc) CPUs, $(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//'), kevy --threads $KEVY_THREADS"
echo
echo "| server | median SET/s | runs | limited memory | of the limit | keys left | evicted (all runs) |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
awk -v r="$R_MED" -v rs="${R_RPS[*]}" -v u="$R_USED" -v l="$LIMIT_BYTES" -v k="$R_KEYS" -v e="$R_EV" \
  'BEGIN { printf "| redis | %.0f | %s | %d (used_memory) | %.1f%% | %d | %d |\n", r, rs, u, 100*u/l, k, e }'
awk -v r="$K_MED" -v rs="${K_RPS[*]}" -v u="$K_USED" -v l="$LIMIT_BYTES" -v k="$K_KEYS" -v e="$K_EV" \
  'BEGIN { printf "| kevy | %.0f | %s | %d (used_memory_dataset) | %.1f%% | %d | %d |\n", r, rs, u, 100*u/l, k, e }'
echo
awk -v r="$R_MED" -v k="$K_MED" 'BEGIN { printf "kevy/redis throughput: %.2f\n", k / r }'
echo "kevy used_memory (whole heap, not limited): $K_HEAP"

if (( ZIPF_OPS > 0 )); then
  zipf() {  # zipf PORT -> "hits H of N (ratio R), ..."
    redis-cli -p "$1" FLUSHALL >/dev/null
    python3 "$ROOT/bench/zipf_hits.py" "$1" --ops "$ZIPF_OPS" --warm "$ZIPF_OPS"
  }
  R_Z=$(zipf "$RP"); K_Z=$(zipf "$KP")
  R_HR=$(sed -n 's/.*(ratio \([0-9.]*\)).*/\1/p' <<<"$R_Z")
  K_HR=$(sed -n 's/.*(ratio \([0-9.]*\)).*/\1/p' <<<"$K_Z")
  echo
  echo "## Zipf cache-aside load (bench/zipf_hits.py): $ZIPF_OPS counted GETs after $ZIPF_OPS warm-up, SET on a miss, same limit and policy"
  echo
  echo "| server | result | evicted_keys (whole run) |"
  echo "| --- | --- | ---: |"
  echo "| redis | $R_Z | $(info "$RP" evicted_keys) |"
  echo "| kevy | $K_Z | $(info "$KP" evicted_keys) |"
  echo
  awk -v r="$R_HR" -v k="$K_HR" 'BEGIN { printf "kevy/redis hit ratio: %.3f\n", k / r }'
fi
