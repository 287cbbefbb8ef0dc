#!/usr/bin/env bash
# bench/streams.sh - kevy vs redis-server on stream consumer groups (issue
# 17): XREADGROUP + XACK consumers, XADD and XRANGE, side by side, same
# machine, same run.
#
# Usage:
#   bench/streams.sh
#   STREAMS_REPS=1 STREAMS_POLICIES=off bench/streams.sh   # quick look
#   STREAMS_OUT=results.md bench/streams.sh                # also write the report
#
# For each persistence policy (default: "off always") it starts
# redis-server and kevy-server (--threads 2) on free loopback ports, both
# with that policy (off: redis --appendonly no --save '', kevy --appendonly
# no --save ''; always: redis --appendonly yes --appendfsync always
# --aof-use-rdb-preamble no --save '', kevy --appendonly yes --appendfsync
# always --save ''), and runs each row STREAMS_REPS times per server,
# alternating which goes first, printing the median and kevy/redis.
#
# Rows:
#   xreadgroup+xack  bench/xload.c (built here with cc): CONNS connections,
#       each a consumer (c<i>) of group g on one of 4 streams xs0..xs3; each
#       keeps 4 XREADGROUP GROUP g c<i> COUNT 10 STREAMS xs<k> > in flight
#       and, as each batch arrives, XACKs exactly the IDs it got and sends
#       the next read, until the streams are drained; then it checks every
#       PEL is empty.  Before each run: DEL + XADD of ENTRIES entries
#       (explicit IDs, 16-byte value) + XGROUP CREATE ... 0, through the
#       same tool.  Reported: entries read and acknowledged per second (the
#       commands per second are 2 per 10 entries, plus one empty read per
#       connection at the end).
#   xreadgroup       redis-benchmark -c 50 -P 16 -n N XREADGROUP GROUP g c
#       COUNT 10 STREAMS xs0 '>' on one stream pre-filled (as above) with
#       10*N entries, so that every read gets 10; never acknowledged (the
#       PEL grows).  Reported: requests per second.
#   xadd             redis-benchmark -c 50 -P 16 -r 4 -n N XADD
#       xa:__rand_int__ * f <16 bytes>: appends with server-chosen IDs to 4
#       streams (deleted first), spread over the shards.  Reported:
#       requests per second; then the four XLENs must add up to N.
#   xrange           redis-benchmark -c 50 -P 16 -n N XRANGE xs0 - + on one
#       stream of 100 entries (filled as above): every reply holds 100
#       entries.  Reported: requests per second.
# Streams are plain keys (no hash tags): on kevy they sit on whichever
# shard they hash to, and a connection's reads and acks of a stream on the
# other shard are forwarded.
#
# Environment (all optional):
#   KEVY_SERVER       kevy-server binary (default: <repo>/build/kevy-server)
#   REDIS_SERVER      redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS      kevy --threads (default 2)
#   STREAMS_POLICIES  persistence policies (default "off always")
#   STREAMS_ROWS      rows (default "xreadgroup+xack xreadgroup xadd xrange")
#   STREAMS_REPS      runs per server per row (default 3; the median is shown)
#   STREAMS_ENTRIES   entries consumed per xreadgroup+xack run (default 400000)
#   STREAMS_CONNS     consumer connections (default 50)
#   STREAMS_READS     XREADGROUP requests per xreadgroup run (default 40000)
#   STREAMS_XADDS     XADDs per xadd run (default 400000)
#   STREAMS_XRANGES   XRANGEs per xrange run (default 40000)
#   STREAMS_OUT       file that also receives the report
#
# Needs: redis-server, redis-benchmark, redis-cli, cc, awk.  Exits non-zero
# if a server does not start or dies, or a run fails its checks.  Never
# touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
STREAMS_POLICIES="${STREAMS_POLICIES:-off always}"
STREAMS_ROWS="${STREAMS_ROWS:-xreadgroup+xack xreadgroup xadd xrange}"
STREAMS_REPS="${STREAMS_REPS:-3}"
STREAMS_ENTRIES="${STREAMS_ENTRIES:-400000}"
STREAMS_CONNS="${STREAMS_CONNS:-50}"
STREAMS_READS="${STREAMS_READS:-40000}"
STREAMS_XADDS="${STREAMS_XADDS:-400000}"
STREAMS_XRANGES="${STREAMS_XRANGES:-40000}"
STREAMS_OUT="${STREAMS_OUT:-}"

die() { echo "streams.sh: $*" >&2; exit 1; }
note() { echo "[streams] $*" >&2; }
for t in redis-benchmark redis-cli awk "${CC:-cc}"; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --test)"
done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER (build first, or set KEVY_SERVER)"

WORK="$(mktemp -d /tmp/kevy-streams.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping

XLOAD="$WORK/xload"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -o "$XLOAD" "$ROOT/bench/xload.c" \
  || die "building bench/xload.c failed"



start_servers() {  # start_servers POLICY: sets RP R_PID KP K_PID
  local policy=$1 rargs kargs
  if [[ "$policy" == off ]]; then
    rargs=(--appendonly no); kargs=(--appendonly no)
  else
    rargs=(--appendonly yes --appendfsync "$policy" --aof-use-rdb-preamble no)
    kargs=(--appendonly yes --appendfsync "$policy")
  fi
  rm -rf "$WORK/redis" "$WORK/kevy"; mkdir -p "$WORK/redis" "$WORK/kevy"
  RP=$(free_port)
  "$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --dir "$WORK/redis" --save '' "${rargs[@]}" \
    --daemonize no --logfile "$WORK/redis.log" &
  R_PID=$!; PIDS+=("$R_PID")
  wait_ping "$RP" "$R_PID" || die "redis-server did not start"
  KP=$(free_port)
  "$KEVY_SERVER" --port "$KP" --bind 127.0.0.1 --dir "$WORK/kevy" --threads "$KEVY_THREADS" \
    --save '' "${kargs[@]}" >>"$WORK/kevy.log" 2>&1 &
  K_PID=$!; PIDS+=("$K_PID")
  wait_ping "$KP" "$K_PID" || die "kevy-server did not start: $(tail -5 "$WORK/kevy.log")"
}
alive() {
  kill -0 "$R_PID" 2>/dev/null || die "redis-server died"
  kill -0 "$K_PID" 2>/dev/null || die "kevy-server died: $(tail -20 "$WORK/kevy.log")"
}

# The requests per second of redis-benchmark's --csv output (0 if none).
csv_rate() {
  awk -F'","' 'NR > 1 && NF > 1 {gsub(/"/, "", $2); print $2; found=1; exit}
               END {if (!found) print 0}'
}

run_once() {  # run_once PORT ROW -> rate (dies on failure)
  local out
  case "$2" in
    xreadgroup+xack)
      "$XLOAD" -p "$1" fill 4 "$STREAMS_ENTRIES" >/dev/null || die "fill on port $1 failed"
      out=$("$XLOAD" -p "$1" consume -c "$STREAMS_CONNS" -s 4 -n 10 -d 4) \
        || die "xload consume on port $1 failed"
      [[ "$out" == "entries $STREAMS_ENTRIES "* ]] || die "port $1 consumed a wrong count: $out"
      awk '{print $8}' <<<"$out" ;;
    xreadgroup)
      "$XLOAD" -p "$1" fill 1 $((STREAMS_READS * 10)) >/dev/null || die "fill on port $1 failed"
      out=$(redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -P 16 -n "$STREAMS_READS" --csv \
            XREADGROUP GROUP g c COUNT 10 STREAMS xs0 '>' 2>/dev/null || true)
      # Every read got 10 entries: the stream is drained, the PEL full.
      local pel
      pel=$(redis-cli -p "$1" XPENDING xs0 g | head -1)
      [[ "$pel" == $((STREAMS_READS * 10)) ]] || die "port $1: PEL $pel after the run"
      csv_rate <<<"$out" ;;
    xadd)
      local k total=0
      redis-cli -p "$1" DEL xa:000000000000 xa:000000000001 xa:000000000002 \
        xa:000000000003 >/dev/null
      out=$(redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -P 16 -r 4 -n "$STREAMS_XADDS" --csv \
            XADD xa:__rand_int__ '*' f 0123456789abcdef 2>/dev/null || true)
      for k in 0 1 2 3; do
        total=$((total + $(redis-cli -p "$1" XLEN "xa:00000000000$k")))
      done
      [[ "$total" == "$STREAMS_XADDS" ]] || die "port $1: $total entries after $STREAMS_XADDS XADDs"
      csv_rate <<<"$out" ;;
    xrange)
      "$XLOAD" -p "$1" fill 1 100 >/dev/null || die "fill on port $1 failed"
      [[ "$(redis-cli -p "$1" XLEN xs0)" == 100 ]] || die "port $1: xs0 is not 100 entries long"
      out=$(redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -P 16 -n "$STREAMS_XRANGES" --csv \
            XRANGE xs0 - + 2>/dev/null || true)
      csv_rate <<<"$out" ;;
    *) die "unknown row $2" ;;
  esac
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

REPORT="$WORK/report.md"
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "- redis: $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//'), kevy --threads $KEVY_THREADS;" \
       "$STREAMS_REPS runs per server per row, alternating order, median shown"
  echo
  echo "| persistence | row | unit | redis | kevy | kevy/redis |"
  echo "| --- | --- | --- | ---: | ---: | ---: |"
} >"$REPORT"

for POL in $STREAMS_POLICIES; do
  start_servers "$POL"
  note "appendfsync ${POL/off/off (no AOF)}: redis port $RP, kevy port $KP"
  for T in $STREAMS_ROWS; do
    rr=""; kr=""
    for rep in $(seq 1 "$STREAMS_REPS"); do
      alive
      if (( rep % 2 )); then
        rr+=" $(run_once "$RP" "$T")"; kr+=" $(run_once "$KP" "$T")"
      else
        kr+=" $(run_once "$KP" "$T")"; rr+=" $(run_once "$RP" "$T")"
      fi
    done
    alive
    rm_=$(median <<<"$rr"); km=$(median <<<"$kr")
    ratio=$(awk -v k="$km" -v r="$rm_" 'BEGIN {if (r > 0) printf "%.2f", k / r; else print "n/a"}')
    unit=$([[ "$T" == xreadgroup+xack ]] && echo "entries/s" || echo "requests/s")
    line="| ${POL/off/off} | $T | $unit | $(printf '%.0f' "$rm_") | $(printf '%.0f' "$km") | $ratio |"
    echo "$line" >>"$REPORT"
    note "$line   (redis:$rr; kevy:$kr)"
  done
  stop_all
done

echo >&2
cat "$REPORT"
if [[ -n "$STREAMS_OUT" ]]; then cp "$REPORT" "$STREAMS_OUT"; note "report written to $STREAMS_OUT"; fi
