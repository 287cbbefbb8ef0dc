#!/usr/bin/env bash
# bench/bench.sh - kevy vs redis-server, side by side, same machine, same run.
#
# Usage:
#   bench/bench.sh                    # build/kevy-server vs redis-server
#   KEVY_SERVER=path/to/kevy-server bench/bench.sh
#   BENCH_SECONDS=2 BENCH_REPS=1 bench/bench.sh     # quick look
#   BENCH_OUT=results.md bench/bench.sh             # also write the report there
#
# What it does:
#   1. prints the machine (nproc, CPU model, kernel, memory, versions);
#   2. starts redis-server (--save '' --appendonly no) and kevy-server
#      (--threads 2, persistence off) on free loopback ports, each with its own
#      temporary --dir;
#   3. measures each server's idle CPU over 10 s (utime+stime from
#      /proc/<pid>/stat) before any load;
#   4. for SET, GET, INCR and MSET at (-c 50 -P 1), (-c 50 -P 16), (-c 1):
#      picks -n so that one run takes about BENCH_SECONDS on redis, then runs
#      redis-benchmark BENCH_REPS times per server, alternating which server
#      goes first, with -r 1000000 (random keys), and keeps the median
#      requests/s of each server;
#   5. prints a markdown table: median rps of redis and kevy and kevy/redis.
#
# Environment (all optional):
#   KEVY_SERVER        kevy-server binary (default: <repo>/build/kevy-server)
#   REDIS_SERVER       redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS       kevy --threads (default 2)
#   KEVY_EXTRA_ARGS    extra kevy flags (word-split), e.g. "--io epoll"
#   BENCH_SECONDS      target seconds per run (default 5)
#   BENCH_REPS         runs per server per row (default 3; median is reported)
#   BENCH_TESTS        redis-benchmark tests (default "set get incr mset")
#   BENCH_TYPES_TESTS  data-type rows at -c 50 -P 16 (default "hset lpush lpop
#                      sadd zadd zrange"; zrange is "ZRANGE zbench 0 9
#                      WITHSCORES" over a 1000-member zset); "" skips them
#   BENCH_IDLE_SECONDS idle CPU window (default 10)
#   BENCH_OUT          file that also receives the report
#   BENCH_CONFIGS      "clients pipeline" pairs, comma-separated (default
#                      "50 1,50 16,1 1")
#   BENCH_AOF          off (default) | always | everysec | no: both servers
#                      with the AOF on under that appendfsync policy (redis:
#                      --appendonly yes --aof-use-rdb-preamble no --save '');
#                      the report adds kevy's records per fsync
#
# Needs: redis-server, redis-benchmark, redis-cli, awk.  Exits non-zero if a
# server does not start or dies during the run.  Never touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
BENCH_SECONDS="${BENCH_SECONDS:-5}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_TESTS="${BENCH_TESTS:-set get incr mset}"
BENCH_TYPES_TESTS="${BENCH_TYPES_TESTS-hset lpush lpop sadd zadd zrange}"
BENCH_IDLE_SECONDS="${BENCH_IDLE_SECONDS:-10}"
BENCH_OUT="${BENCH_OUT:-}"
BENCH_AOF="${BENCH_AOF:-off}"
IFS=',' read -r -a CONFIGS <<<"${BENCH_CONFIGS:-50 1,50 16,1 1}"   # "clients pipeline"
SERVER_PIN=(); CLIENT_PIN=()
if [[ -n "${BENCH_PIN:-}" ]]; then
  read -r pin_s pin_c <<<"$BENCH_PIN"
  [[ -n "${pin_c:-}" ]] || { echo "bench.sh: BENCH_PIN must be \"SERVER_CPUS CLIENT_CPUS\"" >&2; exit 2; }
  command -v taskset >/dev/null || { echo "bench.sh: BENCH_PIN needs taskset (util-linux)" >&2; exit 2; }
  SERVER_PIN=(taskset -c "$pin_s"); CLIENT_PIN=(taskset -c "$pin_c")
fi
case "$BENCH_AOF" in
  off) REDIS_PERSIST=(--save '' --appendonly no); KEVY_PERSIST_ARGS=(--appendonly no) ;;
  always|everysec|no)
    REDIS_PERSIST=(--save '' --appendonly yes --appendfsync "$BENCH_AOF" --aof-use-rdb-preamble no)
    KEVY_PERSIST_ARGS=(--appendonly yes --appendfsync "$BENCH_AOF") ;;
  *) echo "bench.sh: BENCH_AOF must be off, always, everysec or no" >&2; exit 2 ;;
esac

die() { echo "bench.sh: $*" >&2; exit 1; }
note() { echo "[bench] $*" >&2; }

for t in redis-benchmark redis-cli awk; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --test)"
done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER (build first, or set KEVY_SERVER)"

WORK="$(mktemp -d /tmp/kevy-bench.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping

REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/kevy"
"${SERVER_PIN[@]}" "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" \
  "${REDIS_PERSIST[@]}" --daemonize no --logfile "$WORK/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
wait_ping "$REDIS_PORT" "$REDIS_PID" || die "redis-server did not start: $(tail -5 "$WORK/redis.log")"

# kevy: the same persistence, with redis.conf's flag names.
KEVY_PORT=$(free_port)
# shellcheck disable=SC2206
EXTRA=(${KEVY_EXTRA_ARGS:-})
KEVY_PERSIST="${KEVY_PERSIST_ARGS[*]}"
"${SERVER_PIN[@]}" "$KEVY_SERVER" --port "$KEVY_PORT" --bind 127.0.0.1 --dir "$WORK/kevy" \
  --threads "$KEVY_THREADS" "${KEVY_PERSIST_ARGS[@]}" "${EXTRA[@]}" >>"$WORK/kevy.log" 2>&1 &
KEVY_PID=$!
wait_ping "$KEVY_PORT" "$KEVY_PID" || die "kevy-server did not start: $(tail -20 "$WORK/kevy.log")"
PIDS+=("$KEVY_PID")

cpu_ticks() {  # utime+stime of a pid, in clock ticks (fields 14 and 15)
  local s
  s=$(cat "/proc/$1/stat") || return 1
  s=${s##*) }           # drop "pid (comm) " (comm may contain spaces)
  awk '{print $12 + $13}' <<<"$s"
}

REPORT="$WORK/report.md"
{
  echo "# kevy vs redis-server"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
       "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "- kernel: $(uname -srm)"
  echo "- redis: $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//') (${REDIS_PERSIST[*]})"
  echo "- kevy: $("$KEVY_SERVER" --version 2>/dev/null | head -1 || echo '?') (--threads $KEVY_THREADS ${KEVY_EXTRA_ARGS:-}; persistence $KEVY_PERSIST)"
  [[ -n "${BENCH_PIN:-}" ]] && echo "- pinned: servers on CPUs ${BENCH_PIN%% *}, redis-benchmark on CPUs ${BENCH_PIN##* }"
  echo "- client: $(redis-benchmark --version), -r 1000000, $BENCH_REPS runs per server per row" \
       "alternating order, median shown; ~${BENCH_SECONDS}s per run"
} >"$REPORT"
cat "$REPORT" >&2

# ---- idle CPU, both servers over the same window, before any load ----
note "measuring idle CPU for ${BENCH_IDLE_SECONDS}s"
HZ=$(getconf CLK_TCK)
r0=$(cpu_ticks "$REDIS_PID"); k0=$(cpu_ticks "$KEVY_PID")
sleep "$BENCH_IDLE_SECONDS"
r1=$(cpu_ticks "$REDIS_PID"); k1=$(cpu_ticks "$KEVY_PID")
idle() { awk -v d="$1" -v hz="$HZ" -v s="$BENCH_IDLE_SECONDS" 'BEGIN {printf "%.2f%% of one CPU (%d ticks in %ds)", 100*d/hz/s, d, s}'; }
{
  echo "- idle CPU: kevy $(idle $((k1 - k0))) with $(find "/proc/$KEVY_PID/task" -mindepth 1 -maxdepth 1 | wc -l) threads;" \
       "redis $(idle $((r1 - r0)))"
  echo
} >>"$REPORT"
tail -2 "$REPORT" >&2

# run_once PORT TEST CLIENTS PIPELINE N -> "rps p50_ms p99_ms" ("0 0 0" on
# failure).  TEST "zrange" is a custom command over the zset filled by
# fill_zbench.  The CSV columns: test, rps, avg, min, p50, p95, p99, max.
run_once() {
  local out
  if [[ "$2" == zrange ]]; then
    out=$("${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$3" -P "$4" -n "$5" --csv \
          ZRANGE zbench 0 9 WITHSCORES 2>/dev/null || true)
  else
    out=$("${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -c "$3" -P "$4" -n "$5" \
          -r 1000000 --csv 2>/dev/null || true)
  fi
  awk -F'","' 'NR > 1 && NF > 6 {gsub(/"/, "", $7); print $2, $5, $7; found=1; exit}
               END {if (!found) print "0 0 0"}' <<<"$out"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
alive() { kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server died"; kill -0 "$KEVY_PID" 2>/dev/null || die "kevy-server died: $(tail -20 "$WORK/kevy.log")"; }

{
  echo "| test | clients | pipeline | requests | redis rps | kevy rps | kevy/redis | p50 ms redis/kevy | p99 ms redis/kevy |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >>"$REPORT"

fill_zbench() {  # the same 1000-member zset on both servers
  local port
  for port in "$REDIS_PORT" "$KEVY_PORT"; do
    awk 'BEGIN {for (i = 0; i < 1000; i++) printf "ZADD zbench %d m%d\n", i, i}' |
      redis-cli -p "$port" >/dev/null
  done
}
[[ " $BENCH_TYPES_TESTS " == *" zrange "* ]] && fill_zbench

ROWS=()
for cfg in "${CONFIGS[@]}"; do
  for T in $BENCH_TESTS; do ROWS+=("$cfg $T"); done
done
for T in $BENCH_TYPES_TESTS; do ROWS+=("50 16 $T"); done

for row in "${ROWS[@]}"; do
  read -r C P T <<<"$row"
  {
    # Calibrate -n on redis so that one run takes about BENCH_SECONDS.
    cal_n=$(( C == 1 ? 5000 : (P > 1 ? 100000 : 20000) ))
    read -r cal _ <<<"$(run_once "$REDIS_PORT" "$T" "$C" "$P" "$cal_n")"
    N=$(awk -v r="$cal" -v s="$BENCH_SECONDS" 'BEGIN {n = int(r * s); if (n < 10000) n = 10000; print n}')
    rr=""; kr=""; r50=""; k50=""; r99=""; k99=""
    one_redis() { read -r a b c <<<"$(run_once "$REDIS_PORT" "$T" "$C" "$P" "$N")"; rr+=" $a"; r50+=" $b"; r99+=" $c"; }
    one_kevy() { read -r a b c <<<"$(run_once "$KEVY_PORT" "$T" "$C" "$P" "$N")"; kr+=" $a"; k50+=" $b"; k99+=" $c"; }
    for rep in $(seq 1 "$BENCH_REPS"); do
      alive
      if (( rep % 2 )); then one_redis; one_kevy; else one_kevy; one_redis; fi
    done
    alive
    rm_=$(median <<<"$rr"); km=$(median <<<"$kr")
    ratio=$(awk -v k="$km" -v r="$rm_" 'BEGIN {if (r > 0) printf "%.2f", k / r; else print "n/a"}')
    lat="$(median <<<"$r50")/$(median <<<"$k50") | $(median <<<"$r99")/$(median <<<"$k99")"
    line="| ${T^^} | $C | $P | $N | $(printf '%.0f' "$rm_") | $(printf '%.0f' "$km") | $ratio | $lat |"
    echo "$line" >>"$REPORT"
    note "$line   (redis:$rr; kevy:$kr)"
  }
done

if [[ "$BENCH_AOF" != off ]]; then
  kinfo() { redis-cli -h 127.0.0.1 -p "$KEVY_PORT" INFO persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }
  {
    echo
    echo "kevy AOF: $(kinfo aof_records) records, $(kinfo aof_fsyncs) fsyncs," \
         "$(kinfo aof_records_per_fsync) records per fsync (group commit), write state $(kinfo aof_write_state)"
  } >>"$REPORT"
fi

echo >&2
cat "$REPORT"
if [[ -n "$BENCH_OUT" ]]; then
  cp "$REPORT" "$BENCH_OUT"
  note "report written to $BENCH_OUT"
fi
