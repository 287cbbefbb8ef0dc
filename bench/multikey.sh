#!/usr/bin/env bash
# bench/multikey.sh - kevy vs redis-server on multi-key commands and
# transactions: MSET, MGET, DEL of 10 keys, MULTI/EXEC of two SETs, and
# GET latency-bound throughput beside a running MSET load.  Side by side,
# same machine, same run: redis-server first, then kevy, one at a time.
#
# Usage:
#   bench/multikey.sh
#   BENCH_REPS=1 BENCH_N=20000 BENCH_SECONDS=1 bench/multikey.sh   # quick look
#   BENCH_AOF=always bench/multikey.sh     # both with appendfsync always
#   BENCH_OUT=results.md bench/multikey.sh # also write the report
#   KEVY_BEFORE=/tmp/old/kevy-server bench/multikey.sh   # and an older kevy
#
# Each server runs alone, on a free loopback port, in its own fresh --dir:
# redis-server with --save '' --appendonly no (BENCH_AOF=always or
# everysec: --appendonly yes --appendfsync that), kevy-server with --threads
# KEVY_THREADS --save '' --appendonly no (the same with BENCH_AOF).  Every row runs BENCH_REPS times and the median is
# shown, with kevy/redis.
#
# Rows (all -c 50 -P 16 -r 1000000, -n BENCH_N, unless stated):
#   MSET    redis-benchmark -t mset (10 keys key:<12 digits> per command).
#   MGET    redis-benchmark MGET key:__rand_int__ (x10), after one MSET load
#           of -n BENCH_N on that server so that most keys exist.
#   DEL     redis-benchmark DEL key:__rand_int__ (x10).  The first run
#           deletes most of what MSET left; after that most of the keys
#           it names are already gone, so this mostly measures DELs of
#           missing keys (still a full multi-key lookup on every key).
#   MULTI   bench/txload.c (built here with cc): 50 connections, each with
#           16 transactions in flight, each MULTI, SET key:<r1> xxx, SET
#           key:<r2> xxx, EXEC, for BENCH_SECONDS; every reply is checked.
#           Reported in transactions per second (4 commands each).
# and a second table, per server:
#   GET alone         redis-benchmark -t get -c 10 -P 16 -r 100000 -n BENCH_N
#   GET beside MSET   the same, while a background redis-benchmark -t mset
#                     -c 20 -P 16 -r 100000 runs (started 1 s before the GET
#                     run, killed after it); both rates and beside/alone.
# The GET keyspace is filled with one MSET load (-r 100000) first.
#
# Environment (all optional):
#   KEVY_SERVER    kevy-server binary (default: <repo>/build/kevy-server)
#   KEVY_BEFORE    another kevy-server binary (a build of an older revision):
#                  run third, with the same arguments, and reported beside
#                  kevy's figures as "kevy before" and kevy/before
#   REDIS_SERVER   redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS   kevy --threads (default 2)
#   BENCH_AOF      off (default) | everysec | always
#   BENCH_REPS     runs per server per row (default 3; the median is shown)
#   BENCH_N        redis-benchmark -n per run (default 200000)
#   BENCH_SECONDS  seconds per MULTI/EXEC run (default 3)
#   BENCH_PIN      "SERVER_CPUS CLIENT_CPUS": the server under taskset -c
#                  SERVER_CPUS, every client under taskset -c CLIENT_CPUS
#   BENCH_BESIDE   the second table's command: get (default), set or incr
#   BENCH_ROWS     rows of the first table (default "mset mget del multi";
#                  "" runs only the GET table)
#   BENCH_TIMEOUT  seconds any one client run may take (default 300)
#   BENCH_OUT      file that also receives the report
#
# Needs: redis-server, redis-benchmark, redis-cli, cc, awk, timeout (and
# taskset for BENCH_PIN).  Exits non-zero if a server does not start or
# dies, or a client run fails.  Never touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
KEVY_BEFORE="${KEVY_BEFORE:-}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
BENCH_AOF="${BENCH_AOF:-off}"
BENCH_BESIDE="${BENCH_BESIDE:-get}"
BENCH_REPS="${BENCH_REPS:-3}"
BENCH_N="${BENCH_N:-200000}"
BENCH_SECONDS="${BENCH_SECONDS:-3}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-300}"
BENCH_OUT="${BENCH_OUT:-}"

die() { echo "multikey.sh: $*" >&2; exit 1; }
note() { echo "[multikey] $*" >&2; }

for v in BENCH_REPS BENCH_N BENCH_SECONDS BENCH_TIMEOUT KEVY_THREADS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "multikey.sh: $v must be a positive integer" >&2; exit 2; }
done
case "$BENCH_BESIDE" in
  get|set|incr) ;;
  *) echo "multikey.sh: BENCH_BESIDE must be get, set or incr" >&2; exit 2 ;;
esac
BESIDE=${BENCH_BESIDE^^}
case "$BENCH_AOF" in
  off)    REDIS_PERSIST=(--save '' --appendonly no)
          KEVY_PERSIST=(--save '' --appendonly no) ;;
  always|everysec)
          REDIS_PERSIST=(--save '' --appendonly yes --appendfsync "$BENCH_AOF")
          KEVY_PERSIST=(--save '' --appendonly yes --appendfsync "$BENCH_AOF") ;;
  *) echo "multikey.sh: BENCH_AOF must be off, everysec or always" >&2; exit 2 ;;
esac
SERVER_PIN=(); CLIENT_PIN=()
if [[ -n "${BENCH_PIN:-}" ]]; then
  read -r pin_s pin_c <<<"$BENCH_PIN"
  [[ -n "${pin_c:-}" ]] || { echo "multikey.sh: BENCH_PIN must be \"SERVER_CPUS CLIENT_CPUS\"" >&2; exit 2; }
  command -v taskset >/dev/null || { echo "multikey.sh: BENCH_PIN needs taskset (util-linux)" >&2; exit 2; }
  SERVER_PIN=(taskset -c "$pin_s"); CLIENT_PIN=(taskset -c "$pin_c")
fi

for t in redis-benchmark redis-cli awk timeout "${CC:-cc}"; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --test)"
done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER (build first, or set KEVY_SERVER)"
[[ -z "$KEVY_BEFORE" || -x "$KEVY_BEFORE" ]] || die "KEVY_BEFORE: no kevy-server at $KEVY_BEFORE"
SERVERS=(redis kevy)
[[ -n "$KEVY_BEFORE" ]] && SERVERS+=(before)

WORK="$(mktemp -d /tmp/kevy-multikey.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping

# The background MSET load of the "GET beside MSET" rows, stopped however
# the script ends.
BG_PID=""
stop_bg() {
  [[ -n "$BG_PID" ]] || return 0
  kill -TERM "$BG_PID" 2>/dev/null || true
  wait "$BG_PID" 2>/dev/null || true
  BG_PID=""
}
trap 'stop_bg; cleanup' EXIT
bg_running() {  # the background load has neither exited nor become a zombie
  local s
  s=$(cat "/proc/$BG_PID/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [[ "${s%% *}" != Z ]]
}

TXLOAD="$WORK/txload"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -o "$TXLOAD" "$ROOT/bench/txload.c" \
  || die "building bench/txload.c failed"

start_server() {  # start_server redis|kevy|before: sets PORT SPID
  local dir="$WORK/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  PORT=$(free_port)
  if [[ "$1" == redis ]]; then
    "${SERVER_PIN[@]}" "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$dir" \
      "${REDIS_PERSIST[@]}" --daemonize no --logfile "$WORK/redis.log" &
  else
    local bin="$KEVY_SERVER"
    [[ "$1" == before ]] && bin="$KEVY_BEFORE"
    "${SERVER_PIN[@]}" "$bin" --port "$PORT" --bind 127.0.0.1 --dir "$dir" \
      --threads "$KEVY_THREADS" "${KEVY_PERSIST[@]}" >>"$WORK/$1.log" 2>&1 &
  fi
  SPID=$!; PIDS+=("$SPID")
  wait_ping "$PORT" "$SPID" || die "$1-server did not start: $(tail -5 "$WORK/$1.log")"
}
alive() {  # alive NAME
  kill -0 "$SPID" 2>/dev/null || die "$1-server died: $(tail -20 "$WORK/$1.log")"
}

# rb ARGS...: one redis-benchmark run against PORT -> its requests/s.
rb() {
  local out rate
  out=$(timeout "$BENCH_TIMEOUT" "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$PORT" \
        --csv "$@" 2>"$WORK/rb.err" || true)
  rate=$(awk -F'","' 'NR > 1 && NF > 1 {gsub(/"/, "", $2); print $2; found=1; exit}
                      END {if (!found) print 0}' <<<"$out")
  awk -v r="$rate" 'BEGIN {exit !(r > 0)}' \
    || die "redis-benchmark $* on port $PORT failed: $(tail -3 "$WORK/rb.err")"
  echo "$rate"
}

KEYS10=(); for _ in $(seq 1 10); do KEYS10+=("key:__rand_int__"); done
LOAD=(-c 50 -P 16 -r 1000000 -n "$BENCH_N")
GETLOAD=(-t "$BENCH_BESIDE" -c 10 -P 16 -r 100000 -n "$BENCH_N")

run_row() {  # run_row ROW -> rate
  case "$1" in
    mset)  rb "${LOAD[@]}" -t mset ;;
    mget)  rb "${LOAD[@]}" MGET "${KEYS10[@]}" ;;
    del)   rb "${LOAD[@]}" DEL "${KEYS10[@]}" ;;
    multi)
      local out
      out=$(timeout "$BENCH_TIMEOUT" "${CLIENT_PIN[@]}" "$TXLOAD" -p "$PORT" -c 50 -d 16 \
            -s "$BENCH_SECONDS" -r 1000000 multi) || die "txload on port $PORT failed"
      [[ "$out" == "txns "* ]] || die "txload on port $PORT: unexpected output: $out"
      awk '{print $6}' <<<"$out" ;;
    get)   rb "${GETLOAD[@]}" ;;
    *) die "unknown row $1" ;;
  esac
}
# get_beside: the GET load while a background MSET load runs -> RATE.  Not
# in a subshell, so that the exit trap knows BG_PID.
get_beside() {
  timeout "$BENCH_TIMEOUT" "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$PORT" \
    -t mset -c 20 -P 16 -r 100000 -n 2000000000 --csv >/dev/null 2>&1 &
  BG_PID=$!
  sleep 1
  bg_running || die "the background MSET load on port $PORT did not start"
  RATE=$(rb "${GETLOAD[@]}")
  bg_running || die "the background MSET load on port $PORT ended before the GET run did"
  stop_bg
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

show_args() {  # the words, an empty one as ''
  local a out=""
  for a in "$@"; do if [[ -n "$a" ]]; then out+=" $a"; else out+=" ''"; fi; done
  echo "${out# }"
}
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
REPORT="$WORK/report.md"
{
  echo "# multi-key commands and transactions: kevy vs redis-server"
  echo
  echo "- $(date -u '+%Y-%m-%d %H:%M:%SZ'), rev $REV, kevy --threads $KEVY_THREADS," \
       "AOF: ${BENCH_AOF} (both servers; off = appendonly no)"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "- redis $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//') ($(show_args "${REDIS_PERSIST[@]}"));" \
       "kevy (--threads $KEVY_THREADS $(show_args "${KEVY_PERSIST[@]}")); one server at a time, redis first"
  [[ -n "$KEVY_BEFORE" ]] && echo "- kevy before: $KEVY_BEFORE ($("$KEVY_BEFORE" --version 2>/dev/null | head -1)), run third"
  echo "- $BENCH_REPS runs per server per row, median shown; -n $BENCH_N per redis-benchmark run," \
       "${BENCH_SECONDS}s per MULTI/EXEC run"
  [[ -n "${BENCH_PIN:-}" ]] && echo "- pinned: server on CPUs ${BENCH_PIN%% *}, clients on CPUs ${BENCH_PIN##* }"
  echo
} >"$REPORT"
cat "$REPORT" >&2

ROWS="${BENCH_ROWS-mset mget del multi}"
declare -A MED=()
for S in "${SERVERS[@]}"; do
  start_server "$S"
  note "$S on port $PORT"
  for R in $ROWS; do
    if [[ "$R" == mget ]]; then   # once per server: most keys exist
      rb -c 50 -P 16 -r 1000000 -n "$BENCH_N" -t mset >/dev/null
    fi
    rates=""
    for _ in $(seq 1 "$BENCH_REPS"); do
      alive "$S"
      rates+=" $(run_row "$R")"
    done
    alive "$S"
    MED[$S,$R]=$(median <<<"$rates")
    note "$S $R:$rates"
  done
  # GET alone and beside MSET, alternating, over a filled 100000-key space.
  rb -c 50 -P 16 -r 100000 -n 30000 -t mset >/dev/null
  ga=""; gb=""
  for _ in $(seq 1 "$BENCH_REPS"); do
    alive "$S"; ga+=" $(run_row get)"
    alive "$S"; get_beside; gb+=" $RATE"
  done
  alive "$S"
  MED[$S,get]=$(median <<<"$ga"); MED[$S,get-beside]=$(median <<<"$gb")
  note "$S get alone:$ga; beside mset:$gb"
  stop_all
done

label() {
  case "$1" in
    mset)  echo "MSET 10 keys" ;;
    mget)  echo "MGET 10 keys" ;;
    del)   echo "DEL 10 keys (mostly missing after the first run)" ;;
    multi) echo "MULTI/EXEC 2 SETs" ;;
  esac
}
{
  B_HEAD=""; B_SEP=""
  [[ -n "$KEVY_BEFORE" ]] && B_HEAD=" kevy before | kevy/before |" && B_SEP=" ---: | ---: |"
  [[ -n "$ROWS" ]] && echo "| row | unit | redis | kevy | kevy/redis |$B_HEAD"
  [[ -n "$ROWS" ]] && echo "| --- | --- | ---: | ---: | ---: |$B_SEP"
  for R in $ROWS; do
    unit=$([[ "$R" == multi ]] && echo "txns/s" || echo "requests/s")
    b=""
    [[ -n "$KEVY_BEFORE" ]] && b=" $(printf '%.0f' "${MED[before,$R]}") | $(ratio "${MED[kevy,$R]}" "${MED[before,$R]}") |"
    echo "| $(label "$R") | $unit | $(printf '%.0f' "${MED[redis,$R]}") |" \
         "$(printf '%.0f' "${MED[kevy,$R]}") | $(ratio "${MED[kevy,$R]}" "${MED[redis,$R]}") |$b"
  done
  echo
  echo "$BESIDE -c 10 -P 16 -r 100000, alone and beside a background MSET -c 20 -P 16 -r 100000 load:"
  echo
  echo "| server | $BESIDE alone (requests/s) | $BESIDE beside MSET (requests/s) | beside/alone |"
  echo "| --- | ---: | ---: | ---: |"
  for S in "${SERVERS[@]}"; do
    echo "| $S | $(printf '%.0f' "${MED[$S,get]}") | $(printf '%.0f' "${MED[$S,get-beside]}") |" \
         "$(ratio "${MED[$S,get-beside]}" "${MED[$S,get]}") |"
  done
} >>"$REPORT"

echo >&2
cat "$REPORT"
if [[ -n "$BENCH_OUT" ]]; then cp "$REPORT" "$BENCH_OUT"; note "report written to $BENCH_OUT"; fi
