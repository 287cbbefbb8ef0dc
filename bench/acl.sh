#!/bin/bash
# acl.sh - the cost of the ACL check (docs/acl.md): redis-benchmark SET and
# GET against one kevy, as the default user (+@all ~* &*, the check's fast
# path) and as a user with a key pattern (~key:*, every key matched against
# it), alternating, BENCH_REPS times each; prints the medians and the cost
# in percent.  Not a test: numbers depend on the machine and its load.
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
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d /tmp/kevy-bench-acl-XXXXXX)
"$KEVY" --port "$PORT" --bind 127.0.0.1 --threads "$THREADS" --dir "$DIR" \
	--appendonly no --save '' >"$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$PORT" acl setuser bench on '>benchpw' '~key:*' '+@all' >/dev/null

# One run: prints "set get" requests per second.
run() {
	redis-benchmark -p "$PORT" -t set,get -c 50 -P 16 -n "$N" -q "$@" 2>/dev/null |
		tr '\r' '\n' | awk '/^SET: [0-9.]+ requests/ {s=$2}
			/^GET: [0-9.]+ requests/ {g=$2} END {print s, g}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$DIR/default"; : >"$DIR/user"
for i in $(seq "$REPS"); do
	if (( i % 2 )); then
		run >>"$DIR/default"; run --user bench -a benchpw >>"$DIR/user"
	else
		run --user bench -a benchpw >>"$DIR/user"; run >>"$DIR/default"
	fi
done
ds=$(awk '{print $1}' "$DIR/default" | median); dg=$(awk '{print $2}' "$DIR/default" | median)
us=$(awk '{print $1}' "$DIR/user" | median); ug=$(awk '{print $2}' "$DIR/user" | median)
echo "kevy --threads $THREADS, redis-benchmark -c 50 -P 16 -n $N, median of $REPS"
printf "%-5s %14s %14s %8s\n" cmd default "user ~key:*" cost
awk -v d="$ds" -v u="$us" 'BEGIN {printf "%-5s %14.0f %14.0f %7.1f%%\n", "SET", d, u, (d-u)*100/d}'
awk -v d="$dg" -v u="$ug" 'BEGIN {printf "%-5s %14.0f %14.0f %7.1f%%\n", "GET", d, u, (d-u)*100/d}'
