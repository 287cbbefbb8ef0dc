#!/usr/bin/env bash
# bench/replay.sh - restart time from an AOF: kevy vs redis-server.
#
# Both servers get the same N SET commands (key:0 .. key:N-1, 32-byte values,
# the DEBUG POPULATE shape) through redis-cli --pipe with appendonly yes
# (redis: --aof-use-rdb-preamble no, automatic rewrites off, no RDB), are shut
# down cleanly, then restarted one at a time, BENCH_REPS times each.  Reported:
# the median time from exec to the first PING answered, the server's own load
# figure from its log, the AOF bytes on disk, and the ratio kevy/redis.
#
# Usage:
#   bench/replay.sh                    # N = 5000000
#   REPLAY_KEYS=1000000 BENCH_REPS=1 bench/replay.sh
# Environment: KEVY_SERVER, REDIS_SERVER, KEVY_THREADS (default 2), BENCH_OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
N="${REPLAY_KEYS:-5000000}"
REPS="${BENCH_REPS:-3}"
WORK="$(mktemp -d /tmp/kevy-replay-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
die() { echo "replay.sh: $*" >&2; exit 1; }
note() { echo "[replay] $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

start() {  # kind port -> sets PID and MS (ms from exec to the first PONG)
  local kind=$1 port=$2 t0 t1
  t0=$(now_ms)
  if [[ $kind == redis ]]; then
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis" --save '' \
      --appendonly yes --appendfsync everysec --aof-use-rdb-preamble no \
      --auto-aof-rewrite-percentage 0 --daemonize no --logfile "$WORK/redis.log" >/dev/null 2>&1 &
  else
    "$KEVY_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/kevy" --threads "$KEVY_THREADS" \
      --appendonly yes --appendfsync everysec >>"$WORK/kevy.log" 2>&1 &
  fi
  PID=$!
  PIDS+=("$PID")
  until [[ "$(redis-cli -p "$port" PING 2>/dev/null || true)" == PONG ]]; do
    kill -0 "$PID" 2>/dev/null || die "$kind died: $(tail -5 "$WORK/$kind.log")"
    sleep 0.01
  done
  t1=$(now_ms)
  MS=$((t1 - t0))
}

stop() {  # port pid
  redis-cli -p "$1" SHUTDOWN >/dev/null 2>&1 || true
  for _ in $(seq 1 600); do kill -0 "$2" 2>/dev/null || return 0; sleep 0.1; done
  die "server on port $1 did not stop"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mkdir -p "$WORK/redis" "$WORK/kevy"
note "generating $N SET commands"
python3 - "$N" >"$WORK/sets.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
val = b"x" * 32
chunk = []
for i in range(n):
    k = b"key:%d" % i
    chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, val))
    if len(chunk) == 10000:
        out.write(b"".join(chunk)); chunk = []
out.write(b"".join(chunk))
PY

for kind in redis kevy; do
  port=$(free_port)
  start "$kind" "$port"
  note "loading $kind"
  redis-cli -p "$port" --pipe <"$WORK/sets.resp" >/dev/null
  [[ "$(redis-cli -p "$port" DBSIZE)" == "$N" ]] || die "$kind has $(redis-cli -p "$port" DBSIZE) keys"
  stop "$port" "$PID"
done
REDIS_AOF=$(du -sb "$WORK/redis" | cut -f1)
KEVY_AOF=$(du -sb "$WORK/kevy" | cut -f1)

declare -A WALL LOG
for kind in redis kevy; do
  walls=""; logs=""
  for _ in $(seq 1 "$REPS"); do
    sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    port=$(free_port)
    start "$kind" "$port"
    ms=$MS
    [[ "$(redis-cli -p "$port" DBSIZE)" == "$N" ]] || die "$kind restarted with $(redis-cli -p "$port" DBSIZE) keys"
    if [[ $kind == redis ]]; then
      l=$(grep -o 'DB loaded from append only file: [0-9.]* seconds' "$WORK/redis.log" | tail -1 | awk '{print $(NF-1)}')
    else
      l=$(grep -o 'DB loaded from disk: .* [0-9.]* seconds' "$WORK/kevy.log" | tail -1 | awk '{print $(NF-1)}')
    fi
    walls+=" $ms"; logs+=" ${l:-?}"
    stop "$port" "$PID"
  done
  WALL[$kind]=$(median <<<"$walls")
  LOG[$kind]=$(median <<<"$logs")
  note "$kind: exec-to-PING ms:$walls; load s:$logs"
done

REPORT=$(cat <<EOT
# Restart from an AOF of $N SETs: kevy vs redis-server

- date: $(date -u '+%Y-%m-%d %H:%M:%SZ'); $(nproc) CPUs, $(uname -r); page cache dropped before each start when permitted
- redis $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//') (appendonly yes, aof-use-rdb-preamble no); kevy --threads $KEVY_THREADS (appendonly yes)

| | redis | kevy | kevy/redis |
| --- | ---: | ---: | ---: |
| AOF bytes on disk | $REDIS_AOF | $KEVY_AOF | $(awk -v k="$KEVY_AOF" -v r="$REDIS_AOF" 'BEGIN{printf "%.2f", k/r}') |
| exec to first PING, ms (median of $REPS) | ${WALL[redis]} | ${WALL[kevy]} | $(awk -v k="${WALL[kevy]}" -v r="${WALL[redis]}" 'BEGIN{printf "%.2f", k/r}') |
| load time in the log, s (median) | ${LOG[redis]} | ${LOG[kevy]} | $(awk -v k="${LOG[kevy]}" -v r="${LOG[redis]}" 'BEGIN{if (r > 0) printf "%.2f", k/r; else print "n/a"}') |
EOT
)
echo "$REPORT"
[[ -n "${BENCH_OUT:-}" ]] && echo "$REPORT" >"$BENCH_OUT"
exit 0
