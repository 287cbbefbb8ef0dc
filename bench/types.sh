#!/usr/bin/env bash
# bench/types.sh - kevy vs redis-server on the bitmap, HyperLogLog, geo and
# ZUNION commands (issue 15), side by side, same machine, same run.
#
# Usage:
#   bench/types.sh
#   TYPES_SECONDS=1 TYPES_REPS=1 bench/types.sh     # quick look
#   TYPES_OUT=results.md bench/types.sh             # also write the report
#
# What it does: starts redis-server and kevy-server (--threads 2), both with
# persistence off, on free loopback ports; loads the same data into both
#   - bits:  a 1 MB bitmap (SETBIT bits 8388607 1, then 100k random bits set),
#   - hll:   a HyperLogLog of 1,000,000 distinct elements (PFADD in batches),
#   - geo:   100,000 points (lon 0..100, lat 0..10),
#   - zu1, zu2: two 10,000-member sorted sets sharing half their members;
# then for each row calibrates -n on redis so that one run lasts about
# TYPES_SECONDS, runs redis-benchmark TYPES_REPS times per server alternating
# which goes first, and prints the median requests/s of each with kevy/redis.
#
# Rows (redis-benchmark custom commands; every __rand_int__ is drawn
# independently in 0..-r-1, printed as 12 zero-padded digits):
#   SETBIT    SETBIT bits <random offset < 8388608> 1 through redis-cli --pipe
#             (one connection, fully pipelined; redis-benchmark cannot draw
#             it: __rand_int__ is zero-padded and bit offsets with leading
#             zeros are not integers to Redis), rps = commands / wall time
#   BITCOUNT  BITCOUNT bits                           (1 MB)      -c 50 -P 1
#   PFADD     PFADD hll __rand_int__                  -r 100000000 -c 50 -P 16
#   PFCOUNT   PFCOUNT hll                             (~1M, dense) -c 50 -P 16
#   GEOADD    GEOADD geo __rand_int__e-3 __rand_int__e-4 __rand_int__
#                                                     -r 100000   -c 50 -P 16
#   GEOSEARCH GEOSEARCH geo FROMLONLAT 50 5 BYRADIUS 50 km ASC COUNT 10
#                                                                 -c 50 -P 1
#   ZUNION    ZUNION 2 zu1 zu2 (15,000 members back)              -c 10 -P 1
# GEOADD's "__rand_int__e-3" is 0..99.999 degrees of longitude and
# "__rand_int__e-4" 0..9.9999 of latitude, so the points stay in the loaded
# area; its members are new names (up to 100,000 of them), so the set grows. zu1 and zu2 are
# plain keys: on kevy they may live on different shards, as they would for a
# client that did not choose hash tags.
#
# Environment (all optional):
#   KEVY_SERVER    kevy-server binary (default: <repo>/build/kevy-server)
#   REDIS_SERVER   redis-server binary (default: redis-server on PATH)
#   KEVY_THREADS   kevy --threads (default 2)
#   TYPES_SECONDS  target seconds per run (default 2)
#   TYPES_REPS     runs per server per row (default 3; the median is shown)
#   TYPES_ROWS     rows to run (default "setbit bitcount pfadd pfcount geoadd
#                  geosearch zunion")
#   TYPES_OUT      file that also receives the report
#
# Needs: redis-server, redis-benchmark, redis-cli, awk.  Exits non-zero if a
# server does not start or dies during the run.  Never touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
TYPES_SECONDS="${TYPES_SECONDS:-2}"
TYPES_REPS="${TYPES_REPS:-3}"
TYPES_ROWS="${TYPES_ROWS:-setbit bitcount pfadd pfcount geoadd geosearch zunion}"
TYPES_OUT="${TYPES_OUT:-}"

die() { echo "types.sh: $*" >&2; exit 1; }
note() { echo "[types] $*" >&2; }
for t in redis-benchmark redis-cli awk; do
  command -v "$t" >/dev/null || die "$t not found (scripts/install-deps.sh --test)"
done
[[ -n "$REDIS_SERVER" && -x "$REDIS_SERVER" ]] || die "redis-server not found"
[[ -x "$KEVY_SERVER" ]] || die "kevy-server not found at $KEVY_SERVER (build first, or set KEVY_SERVER)"

WORK="$(mktemp -d /tmp/kevy-types.XXXXXX)"
. "$ROOT/bench/lib.sh"   # PIDS, stop_all, cleanup on exit, free_port, wait_ping



RP=$(free_port)
mkdir -p "$WORK/redis" "$WORK/kevy"
"$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --dir "$WORK/redis" --save '' --appendonly no \
  --daemonize no --logfile "$WORK/redis.log" &
R_PID=$!; PIDS+=("$R_PID")
wait_ping "$RP" "$R_PID" || die "redis-server did not start"
KP=$(free_port)
"$KEVY_SERVER" --port "$KP" --bind 127.0.0.1 --dir "$WORK/kevy" --threads "$KEVY_THREADS" \
  --appendonly no --save '' >>"$WORK/kevy.log" 2>&1 &
K_PID=$!; PIDS+=("$K_PID")
wait_ping "$KP" "$K_PID" || die "kevy-server did not start: $(tail -5 "$WORK/kevy.log")"
alive() {
  kill -0 "$R_PID" 2>/dev/null || die "redis-server died"
  kill -0 "$K_PID" 2>/dev/null || die "kevy-server died: $(tail -20 "$WORK/kevy.log")"
}

# The same data on both servers, through redis-cli --pipe (inline commands).
load() {  # load PORT < commands
  redis-cli -p "$1" --pipe >/dev/null 2>&1 || die "loading data into port $1 failed"
}
gen_data() {
  awk 'BEGIN {
    srand(15);
    print "SETBIT bits 8388607 1";
    for (i = 0; i < 100000; i++) printf "SETBIT bits %d 1\n", int(rand() * 8388608);
    for (i = 0; i < 1000000; i += 1000) {
      line = "PFADD hll";
      for (j = i; j < i + 1000; j++) line = line " e" j;
      print line;
    }
    for (i = 0; i < 100000; i++)
      printf "GEOADD geo %.6f %.6f p%d\n", rand() * 100, rand() * 10, i;
    for (i = 0; i < 10000; i++) {
      printf "ZADD zu1 %d m%d\n", i, i;
      printf "ZADD zu2 %d m%d\n", i, i + 5000;
    }
  }'
}
note "loading the data sets into both servers"
gen_data >"$WORK/data.txt"
for port in "$RP" "$KP"; do load "$port" <"$WORK/data.txt"; done
alive
for port in "$RP" "$KP"; do
  note "port $port: STRLEN bits $(redis-cli -p "$port" STRLEN bits)," \
       "BITCOUNT $(redis-cli -p "$port" BITCOUNT bits), PFCOUNT hll $(redis-cli -p "$port" PFCOUNT hll)," \
       "ZCARD geo $(redis-cli -p "$port" ZCARD geo), ZUNION card $(redis-cli -p "$port" ZUNION 2 zu1 zu2 | wc -l)"
done

row_args() {  # row_args ROW -> "clients pipeline range" then the command words
  case "$1" in
    setbit)    echo "1 pipe 0 SETBIT bits <offset> 1" ;;
    bitcount)  echo "50 1 0 BITCOUNT bits" ;;
    pfadd)     echo "50 16 100000000 PFADD hll __rand_int__" ;;
    pfcount)   echo "50 16 0 PFCOUNT hll" ;;
    geoadd)    echo "50 16 100000 GEOADD geo __rand_int__e-3 __rand_int__e-4 __rand_int__" ;;
    geosearch) echo "50 1 0 GEOSEARCH geo FROMLONLAT 50 5 BYRADIUS 50 km ASC COUNT 10" ;;
    zunion)    echo "10 1 0 ZUNION 2 zu1 zu2" ;;
    *) die "unknown row $1" ;;
  esac
}

# SETBIT through redis-cli --pipe: N random offsets in a 1 MB bitmap.
setbit_once() {  # setbit_once PORT N -> rps
  local t0 t1
  awk -v n="$2" -v seed="$RANDOM" 'BEGIN {srand(seed); for (i = 0; i < n; i++) {
    o = int(rand() * 8388608) "";
    printf "*4\r\n$6\r\nSETBIT\r\n$4\r\nbits\r\n$%d\r\n%s\r\n$1\r\n1\r\n", length(o), o }}' \
    >"$WORK/setbit.resp"
  t0=$(date +%s.%N)
  redis-cli -p "$1" --pipe <"$WORK/setbit.resp" >"$WORK/setbit.out" 2>&1 || { echo 0; return; }
  t1=$(date +%s.%N)
  grep -q "errors: 0, replies: $2" "$WORK/setbit.out" || { echo 0; return; }
  awk -v n="$2" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f\n", n / (b - a)}'
}

run_once() {  # run_once PORT ROW N -> rps (0 on failure)
  local c p r cmd out rflag=()
  [[ "$2" == setbit ]] && { setbit_once "$1" "$3"; return; }
  read -r c p r cmd <<<"$(row_args "$2")"
  (( r > 0 )) && rflag=(-r "$r")
  # shellcheck disable=SC2086
  out=$(redis-benchmark -h 127.0.0.1 -p "$1" -c "$c" -P "$p" -n "$3" "${rflag[@]}" --csv \
        $cmd 2>/dev/null || true)
  awk -F'","' 'NR > 1 && NF > 1 {gsub(/"/, "", $2); print $2; found=1; exit}
               END {if (!found) print 0}' <<<"$out"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

REPORT="$WORK/report.md"
{
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%SZ')"
  echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "- redis: $("$REDIS_SERVER" --version | awk '{print $3}' | sed 's/v=//'), kevy --threads $KEVY_THREADS," \
       "both with persistence off; $TYPES_REPS runs per server per row, alternating order, median shown;" \
       "~${TYPES_SECONDS}s per run"
  echo
  echo "| command | clients | pipeline | requests | redis rps | kevy rps | kevy/redis |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$REPORT"

for T in $TYPES_ROWS; do
  read -r C P _ CMD <<<"$(row_args "$T")"
  case "$T" in setbit) cal_n=200000 ;; zunion) cal_n=200 ;; *) cal_n=$(( P > 1 ? 50000 : 2000 )) ;; esac
  cal=$(run_once "$RP" "$T" "$cal_n")
  N=$(awk -v r="$cal" -v s="$TYPES_SECONDS" 'BEGIN {n = int(r * s); if (n < 200) n = 200; print n}')
  rr=""; kr=""
  for rep in $(seq 1 "$TYPES_REPS"); do
    alive
    if (( rep % 2 )); then
      rr+=" $(run_once "$RP" "$T" "$N")"; kr+=" $(run_once "$KP" "$T" "$N")"
    else
      kr+=" $(run_once "$KP" "$T" "$N")"; rr+=" $(run_once "$RP" "$T" "$N")"
    fi
  done
  alive
  rm_=$(median <<<"$rr"); km=$(median <<<"$kr")
  ratio=$(awk -v k="$km" -v r="$rm_" 'BEGIN {if (r > 0) printf "%.2f", k / r; else print "n/a"}')
  line="| \`$CMD\` | $C | $P | $N | $(printf '%.0f' "$rm_") | $(printf '%.0f' "$km") | $ratio |"
  echo "$line" >>"$REPORT"
  note "$line   (redis:$rr; kevy:$kr)"
done

# The data must still agree after the writes (the same commands ran on both,
# with different random draws, so only shapes are compared).
for port in "$RP" "$KP"; do
  note "after: port $port STRLEN bits $(redis-cli -p "$port" STRLEN bits), PFCOUNT hll $(redis-cli -p "$port" PFCOUNT hll), ZCARD geo $(redis-cli -p "$port" ZCARD geo)"
done

echo >&2
cat "$REPORT"
if [[ -n "$TYPES_OUT" ]]; then cp "$REPORT" "$TYPES_OUT"; note "report written to $TYPES_OUT"; fi
