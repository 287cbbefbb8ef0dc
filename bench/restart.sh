#!/usr/bin/env bash
# bench/restart.sh - restart time of one kevy data directory, two binaries
# side by side (e.g. before and after a change to recovery).
#
# Loads N SET commands (key:0 .. key:N-1, 32-byte values) through
# redis-cli --pipe into a kevy of KEVY_THREADS shards with appendonly yes and
# no snapshot rules, so every key is an AOF record that a restart replays
# (DEBUG POPULATE is not logged, as in Redis: its keys would come back only
# from a snapshot).  Then restarts the same directory BENCH_REPS times with
# each binary, alternating, the page cache dropped before each start when
# permitted.  Reported per binary: the median time from exec to the first
# PING answered, the median load time from the server's log, and the median
# CPU time (user + system, every thread) the process had used by then,
# which other work on a shared machine disturbs far less than wall time,
# and the median peak resident memory by then (VmHWM).
#
# Usage:
#   KEVY_SERVER_BEFORE=/tmp/old/kevy-server bench/restart.sh
#   RESTART_KEYS=3000000 BENCH_REPS=3 KEVY_THREADS=1 bench/restart.sh
# Environment: KEVY_SERVER (after), KEVY_SERVER_BEFORE (optional),
# KEVY_THREADS (default 1), RESTART_KEYS (default 3000000), BENCH_REPS (3),
# BENCH_DROP_CACHES (1; 0 keeps the page cache warm: CPU cost only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
BEFORE="${KEVY_SERVER_BEFORE:-}"
KEVY_THREADS="${KEVY_THREADS:-1}"
N="${RESTART_KEYS:-3000000}"
REPS="${BENCH_REPS:-3}"
DROP="${BENCH_DROP_CACHES:-1}"
WORK="$(mktemp -d /tmp/kevy-restart-XXXXXX)"
PID=""
cleanup() { [[ -n "$PID" ]] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
die() { echo "restart.sh: $*" >&2; exit 1; }
note() { echo "[restart] $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

TICK=$(getconf CLK_TCK)
start() {  # binary port -> PID, MS (exec to the first PONG), CPU (ms used by then)
  local t0
  t0=$(now_ms)
  "$1" --port "$2" --bind 127.0.0.1 --dir "$WORK/data" --threads "$KEVY_THREADS" \
    --appendonly yes --appendfsync everysec --save '' >>"$WORK/kevy.log" 2>&1 &
  PID=$!
  until [[ "$(redis-cli -p "$2" PING 2>/dev/null || true)" == PONG ]]; do
    kill -0 "$PID" 2>/dev/null || die "kevy died: $(tail -5 "$WORK/kevy.log")"
    sleep 0.01
  done
  MS=$(( $(now_ms) - t0 ))
  CPU=$(awk -v t="$TICK" '{print int(($14 + $15) * 1000 / t)}' "/proc/$PID/stat")
  HWM=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$PID/status")
}

stop() {  # port
  redis-cli -p "$1" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  for _ in $(seq 1 600); do kill -0 "$PID" 2>/dev/null || { PID=""; return 0; }; sleep 0.1; done
  die "kevy on port $1 did not stop"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mkdir -p "$WORK/data"
note "loading $N SETs into $KEVY_THREADS shard(s)"
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
port=$(free_port)
start "$KEVY_SERVER" "$port"
redis-cli -p "$port" --pipe <"$WORK/sets.resp" >/dev/null
[[ "$(redis-cli -p "$port" DBSIZE)" == "$N" ]] || die "loaded $(redis-cli -p "$port" DBSIZE) keys"
stop "$port"
rm -f "$WORK/sets.resp"
AOF=$(du -sb "$WORK/data" | cut -f1)

declare -A WALLS LOADS CPUS HWMS
kinds="after"
[[ -n "$BEFORE" ]] && kinds="before after"
for _ in $(seq 1 "$REPS"); do
  for kind in $kinds; do
    bin=$KEVY_SERVER
    [[ $kind == before ]] && bin=$BEFORE
    sync
    if [[ $DROP == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; fi
    port=$(free_port)
    start "$bin" "$port"
    [[ "$(redis-cli -p "$port" DBSIZE)" == "$N" ]] || die "$kind restarted with $(redis-cli -p "$port" DBSIZE) keys"
    l=$(grep -o 'DB loaded from disk: .* [0-9.]* seconds' "$WORK/kevy.log" | tail -1 | awk '{print $(NF-1)}')
    WALLS[$kind]+=" $MS"; LOADS[$kind]+=" ${l:-?}"; CPUS[$kind]+=" $CPU"; HWMS[$kind]+=" $HWM"
    stop "$port"
  done
done

echo "# Restart of a $KEVY_THREADS-shard directory holding $N SETs as AOF records ($AOF bytes)"
echo
cache="page cache dropped before each start when permitted"
[[ $DROP == 1 ]] || cache="page cache warm"
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ'); $(nproc) CPUs, $(uname -r); $cache"
echo
echo "| binary | exec to first PING, ms (median of $REPS) | load time in the log, s (median) | CPU time to first PING, ms (median) | peak RSS, MiB (median) | runs: wall ms / CPU ms |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for kind in $kinds; do
  echo "| $kind | $(median <<<"${WALLS[$kind]}") | $(median <<<"${LOADS[$kind]}") | $(median <<<"${CPUS[$kind]}") | $(median <<<"${HWMS[$kind]}") |${WALLS[$kind]} /${CPUS[$kind]} |"
done
