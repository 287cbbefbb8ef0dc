#!/usr/bin/env bash
# bench/scripts.sh - kevy vs redis-server on EVALSHA (issue 16): a
# two-command script (GET KEYS[1], INCR KEYS[2]) at -c 50 -P 16, its keys on
# one kevy shard and on two, side by side, same machine, same run.
#
# Usage:
#   bench/scripts.sh
#   SCRIPTS_REPS=1 SCRIPTS_REQUESTS=2000 bench/scripts.sh   # smoke test
#   SCRIPTS_OUT=results.md bench/scripts.sh                 # also write the report
#
# For each persistence policy (default: "everysec") it starts redis-server
# and kevy-server (--threads 2) on free loopback ports, both with that
# policy (off: --appendonly no; otherwise --appendonly yes --appendfsync
# <policy>, redis with --aof-use-rdb-preamble no; both --save ''), loads the
# script with SCRIPT LOAD on each (the same SHA), and runs each row
# SCRIPTS_REPS times per server, alternating which goes first, printing the
# medians and kevy/redis.
#
# Rows (redis-benchmark -c 50 -P 16 -n SCRIPTS_REQUESTS EVALSHA <sha> 2 K1 K2):
#   one-shard  K1 = {s}a, K2 = {s}b: one hash tag, so one kevy shard owns
#              both and the script runs there like any single-shard command.
#   two-shard  K1, K2 = two plain keys that kevy puts on different shards
#              (found before the run: on one connection a keyless script
#              may touch only that connection's shard's keys), so every
#              script is a txn over both shards.
# On redis-server the keys are just keys.  Before each run both keys are
# deleted; after it INCR's key must be at least SCRIPTS_REQUESTS (every
# script ran; redis-benchmark may send up to -c x -P more than -n), else
# the script exits non-zero.
#
# Environment (all optional):
#   KEVY_SERVER        kevy-server binary (default: <repo>/build/kevy-server)
#   REDIS_SERVER       redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS       kevy --threads (default 2; two-shard needs at least 2)
#   SCRIPTS_POLICIES   persistence policies (default "everysec"; also off, always)
#   SCRIPTS_ROWS       rows (default "one-shard two-shard")
#   SCRIPTS_REPS       runs per server per row (default 3; the median is shown)
#   SCRIPTS_REQUESTS   EVALSHAs per run (default 300000)
#   SCRIPTS_OUT        file that also receives the report
#
# Needs: redis-server, redis-benchmark, redis-cli, awk.  Exits non-zero if
# a server does not start or dies, or a run fails its check.  Never touches
# port 6379.  Figures from the shared 2-core build machine are indicative
# only (other sessions build there): compare ratios from one run, not
# absolute numbers across runs.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
SCRIPTS_POLICIES="${SCRIPTS_POLICIES:-everysec}"
SCRIPTS_ROWS="${SCRIPTS_ROWS:-one-shard two-shard}"
SCRIPTS_REPS="${SCRIPTS_REPS:-3}"
SCRIPTS_REQUESTS="${SCRIPTS_REQUESTS:-300000}"
SCRIPTS_OUT="${SCRIPTS_OUT:-}"

SCRIPT="redis.call('GET', KEYS[1]) return redis.call('INCR', KEYS[2])"

die() { echo "scripts.sh: $*" >&2; exit 1; }
note() { echo "[scripts] $*" >&2; }
for t in redis-benchmark redis-cli awk; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --test)"
done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER (build first, or set KEVY_SERVER)"
(( KEVY_THREADS >= 2 )) || [[ " $SCRIPTS_ROWS " != *" two-shard "* ]] \
  || die "the two-shard row needs KEVY_THREADS >= 2"

WORK="$(mktemp -d /tmp/kevy-scripts.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping



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

# Two plain keys on different kevy shards (port $1), as "K1 K2".  On one
# connection (redis-cli reading stdin) a keyless script may touch only its
# own shard's keys: a key on another shard answers kevy's "does not hold"
# error.  The first key of each kind is taken.
two_shard_keys() {
  local i out mine="" other="" n=0 line
  out=$(for i in $(seq 0 63); do
          printf 'EVAL "return redis.call(\x27exists\x27, \x27bk:%d\x27)" 0\n' "$i"
        done | redis-cli -p "$1" 2>&1) || die "redis-cli on port $1 failed: $out"
  while IFS= read -r line; do
    [[ -n "$line" ]] || continue   # redis-cli follows an error with a blank line
    if [[ "$line" == *"does not hold"* ]]; then
      [[ -n "$other" ]] || other="bk:$n"
    elif [[ "$line" =~ ^[01]$ ]]; then
      [[ -n "$mine" ]] || mine="bk:$n"
    else
      die "unexpected reply from port $1: $line"
    fi
    n=$((n + 1))
  done <<<"$out"
  [[ -n "$mine" && -n "$other" ]] || die "no two keys on different shards of port $1"
  echo "$mine $other"
}

run_once() {  # run_once PORT K1 K2 -> requests per second (dies on failure)
  local port=$1 k1=$2 k2=$3 out got
  redis-cli -p "$port" DEL "$k1" "$k2" >/dev/null
  out=$(redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P 16 -n "$SCRIPTS_REQUESTS" --csv \
        EVALSHA "$SHA" 2 "$k1" "$k2" 2>/dev/null || true)
  got=$(redis-cli -p "$port" GET "$k2")
  # redis-benchmark stops once it counted -n replies: requests still in
  # flight then (up to -c times -P) may have run too.
  [[ "$got" =~ ^[0-9]+$ ]] && (( got >= SCRIPTS_REQUESTS && got <= SCRIPTS_REQUESTS + 800 )) \
    || die "port $port: $k2 is '$got' after $SCRIPTS_REQUESTS EVALSHAs (a script failed?)"
  awk -F'","' 'NR > 1 && NF > 1 {gsub(/"/, "", $2); print $2; found=1; exit}
               END {if (!found) print 0}' <<<"$out"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

REPORT="$WORK/report.md"
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "- redis: $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//'), kevy --threads $KEVY_THREADS;" \
       "EVALSHA of GET + INCR, -c 50 -P 16 -n $SCRIPTS_REQUESTS; $SCRIPTS_REPS runs per server" \
       "per row, alternating order, median shown"
  echo
  echo "| persistence | keys | redis req/s | kevy req/s | kevy/redis |"
  echo "| --- | --- | ---: | ---: | ---: |"
} >"$REPORT"

for POL in $SCRIPTS_POLICIES; do
  start_servers "$POL"
  note "appendfsync ${POL/off/off (no AOF)}: redis port $RP, kevy port $KP"
  SHA=$(redis-cli -p "$RP" SCRIPT LOAD "$SCRIPT")
  [[ "$(redis-cli -p "$KP" SCRIPT LOAD "$SCRIPT")" == "$SHA" ]] || die "SCRIPT LOAD differs"
  for T in $SCRIPTS_ROWS; do
    case "$T" in
      one-shard) KEYS="{s}a {s}b" ;;
      two-shard) KEYS=$(two_shard_keys "$KP") ;;
      *) die "unknown row $T" ;;
    esac
    note "$T: keys $KEYS"
    rr=""; kr=""
    for rep in $(seq 1 "$SCRIPTS_REPS"); do
      alive
      # shellcheck disable=SC2086  # two keys, split on purpose
      if (( rep % 2 )); then
        rr+=" $(run_once "$RP" $KEYS)"; kr+=" $(run_once "$KP" $KEYS)"
      else
        kr+=" $(run_once "$KP" $KEYS)"; rr+=" $(run_once "$RP" $KEYS)"
      fi
    done
    alive
    rm_=$(median <<<"$rr"); km=$(median <<<"$kr")
    ratio=$(awk -v k="$km" -v r="$rm_" 'BEGIN {if (r > 0) printf "%.2f", k / r; else print "n/a"}')
    line="| $POL | $T (\`$KEYS\`) | $(printf '%.0f' "$rm_") | $(printf '%.0f' "$km") | $ratio |"
    echo "$line" >>"$REPORT"
    note "$line   (redis:$rr; kevy:$kr)"
  done
  stop_all
done

echo >&2
cat "$REPORT"
if [[ -n "$SCRIPTS_OUT" ]]; then cp "$REPORT" "$SCRIPTS_OUT"; note "report written to $SCRIPTS_OUT"; fi
