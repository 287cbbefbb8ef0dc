#!/bin/bash
# acl.sh - the cost of the ACL check (docs/acl.md), two ways:
#   1. bench/acl_check.c (built here against build/'s libraries): the check
#      alone, ns per call, default user vs a ~key:* user;
#   2. redis-benchmark SET and GET against one kevy, as the default user
#      (+@all ~* &*, the check's fast path) and as a user with ~key:*
#      (every key matched against it), alternating, BENCH_REPS times each;
#      the medians of throughput and of kevy's CPU time per request.
# Not a test: numbers depend on the machine and its load.
#
#   bench/acl.sh                    # 5 repetitions, -n 500000
#   BENCH_REPS=3 BENCH_N=200000 bench/acl.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEVY=${KEVY_SERVER:-$ROOT/build/kevy-server}
REPS=${BENCH_REPS:-5}
N=${BENCH_N:-500000}
THREADS=${KEVY_THREADS:-2}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found" >&2; exit 77; }
if [ -f "$ROOT/build/libkevy.a" ] && [ -f "$ROOT/build/libkevy-server.a" ]; then
	CHECK=$(mktemp /tmp/kevy-acl-check-XXXXXX)
	# shellcheck disable=SC2046
	"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/src" -o "$CHECK" \
		"$ROOT/bench/acl_check.c" -Wl,--whole-archive "$ROOT/build/libkevy-server.a" \
		"$ROOT/build/libkevy.a" -Wl,--no-whole-archive \
		$(pkg-config --libs liburing libzstd libxxhash lua5.1 lua5.1-cjson lua5.1-bitop \
			$(pkg-config --exists jemalloc && echo jemalloc)) \
		-lpthread -lm && "$CHECK"
	rm -f "$CHECK"
	echo
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/kevy-bench-acl-XXXXXX)
"$KEVY" --port "$PORT" --bind 127.0.0.1 --threads "$THREADS" --dir "$DIR" \
	--appendonly no --save '' >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
HAVE_ACL=1
[ "$(redis-cli -p "$PORT" acl setuser bench on '>benchpw' '~key:*' '+@all')" = OK ] || HAVE_ACL=0

# kevy's CPU time (utime + stime, clock ticks) so far.
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)

# One run: appends "set_rps get_rps cpu_us_per_request" to file $1.
run() {
	local out=$1; shift
	local c0 c1 r
	c0=$(cpu)
	r=$(redis-benchmark -p "$PORT" -t set,get -c 50 -P 16 -n "$N" -q "$@" 2>/dev/null |
		tr '\r' '\n' | awk '/^SET: [0-9.]+ requests/ {s=$2}
			/^GET: [0-9.]+ requests/ {g=$2} END {print s, g}')
	c1=$(cpu)
	echo "$r $(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v n="$N" \
		'BEGIN {printf "%.4f", (b - a) * 1e6 / t / (2 * n)}')" >>"$out"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }

: >"$DIR/default"; : >"$DIR/user"
for i in $(seq "$REPS"); do
	if (( i % 2 )) || (( ! HAVE_ACL )); then
		run "$DIR/default"; (( HAVE_ACL )) && run "$DIR/user" --user bench -a benchpw
	else
		run "$DIR/user" --user bench -a benchpw; run "$DIR/default"
	fi
done
echo "kevy --threads $THREADS, redis-benchmark -c 50 -P 16 -n $N, median of $REPS"
echo "(throughput is noisy on a shared machine; kevy's CPU time per request less so)"
if (( ! HAVE_ACL )); then
	printf "%-14s %12s %12s %14s\n" user SET/s GET/s "cpu us/req"
	printf "%-14s %12.0f %12.0f %14.3f\n" "no ACL build" "$(col "$DIR/default" 1)" \
		"$(col "$DIR/default" 2)" "$(col "$DIR/default" 3)"
	exit 0
fi
printf "%-14s %12s %12s %14s\n" user SET/s GET/s "cpu us/req"
for f in default user; do
	printf "%-14s %12.0f %12.0f %14.3f\n" "$( [ $f = user ] && echo '~key:* user' || echo default)" \
		"$(col "$DIR/$f" 1)" "$(col "$DIR/$f" 2)" "$(col "$DIR/$f" 3)"
done
awk -v ds="$(col "$DIR/default" 1)" -v us="$(col "$DIR/user" 1)" \
    -v dg="$(col "$DIR/default" 2)" -v ug="$(col "$DIR/user" 2)" \
    -v dc="$(col "$DIR/default" 3)" -v uc="$(col "$DIR/user" 3)" 'BEGIN {
	printf "cost of the key-pattern check: SET %.1f%%, GET %.1f%% throughput; %.1f%% CPU per request\n",
		(ds - us) * 100 / ds, (dg - ug) * 100 / dg, (uc - dc) * 100 / dc }'
