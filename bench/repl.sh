#!/usr/bin/env bash
# bench/repl.sh - replication, kevy vs redis-server side by side, same run
# (issue 20): a primary and one replica of each, all on loopback.
#
# Usage:
#   bench/repl.sh
#   REPL_KEYS=500000 REPL_REQUESTS=1000000 bench/repl.sh    # quicker
#   REPL_OUT=results.md bench/repl.sh                       # also write the report
#
# What it measures, for each of redis-server and kevy-server (--threads 2):
#   full sync  the primary holds REPL_KEYS keys (DEBUG POPULATE, 10-byte
#              values); a fresh replica is started with --replicaof and the
#              time is taken until its INFO says master_link_status:up and
#              its DBSIZE equals the primary's.  Redis 7.0: a forked child
#              streams the RDB through the socket (repl-diskless-sync yes,
#              its default) and the replica loads it; kevy: the sender
#              thread streams the primary's snapshot and AOF files and the
#              replica loads them (docs/replication.md).
#   SET rps    redis-benchmark -t set -c 50 -P 16 -r 1000000 -n REPL_REQUESTS
#              against the primary with the replica attached (median of
#              REPL_REPS runs, servers alternating).
#   lag        while that load runs, a probe writes SET lagprobe <n> on the
#              primary every 20 ms and polls the replica until it reads <n>:
#              median and p99 of the time from the write's reply to the
#              value being visible on the replica (both servers'
#              appendfsync everysec: a primary streams what is durable, so
#              kevy's lag includes up to a second of fsync wait).
#
# Both primaries run with appendonly yes, appendfsync everysec (kevy
# replicates only what its AOF made durable; Redis's replication does not
# depend on its AOF).  Environment (optional): KEVY_SERVER, REDIS_SERVER,
# KEVY_THREADS (2), REPL_KEYS (5000000), REPL_REQUESTS (2000000),
# REPL_REPS (3), REPL_OUT.  Needs redis-server, redis-benchmark, redis-cli,
# python3.  Never touches port 6379.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEVY_SERVER="${KEVY_SERVER:-$ROOT/build/kevy-server}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
KEVY_THREADS="${KEVY_THREADS:-2}"
REPL_KEYS="${REPL_KEYS:-5000000}"
REPL_REQUESTS="${REPL_REQUESTS:-2000000}"
REPL_REPS="${REPL_REPS:-3}"
REPL_OUT="${REPL_OUT:-}"

[[ -x "$KEVY_SERVER" ]] || { echo "repl.sh: no kevy-server at $KEVY_SERVER (build first)" >&2; exit 2; }
[[ -n "$REDIS_SERVER" ]] || { echo "repl.sh: redis-server not found" >&2; exit 2; }

WORK="$(mktemp -d /tmp/kevy-bench-repl.XXXXXX)"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() {
	for _ in $(seq 1 600); do
		redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.05
	done
	echo "repl.sh: server on port $1 did not start" >&2
	exit 1
}

start() {   # kind port dir [replicaof-port]
	local kind=$1 port=$2 dir=$3 of=${4:-}
	mkdir -p "$dir"
	if [[ $kind == redis ]]; then
		"$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --repl-diskless-sync-delay 0 \
			--appendonly yes --appendfsync everysec --enable-debug-command yes \
			--daemonize no --logfile "$dir/log" ${of:+--replicaof 127.0.0.1 "$of"} &
	else
		"$KEVY_SERVER" --port "$port" --bind 127.0.0.1 --dir "$dir" --threads "$KEVY_THREADS" \
			--appendonly yes --appendfsync everysec --enable-debug-command yes \
			${of:+--replicaof 127.0.0.1 "$of"} > "$dir/log" 2>&1 &
	fi
	PIDS+=($!)
	wait_ping "$port"
}

now() { date +%s.%N; }

report() { echo "$*"; [[ -n "$REPL_OUT" ]] && echo "$*" >> "$REPL_OUT"; return 0; }

declare -A SYNC RPS LAG

for kind in redis kevy; do
	pp=$(free_port); rp=$(free_port)
	start "$kind" "$pp" "$WORK/$kind-p"
	redis-cli -p "$pp" debug populate "$REPL_KEYS" key 10 > /dev/null
	# kevy: make what was loaded durable and compact (a snapshot), as a
	# long-running primary's files would be.
	if [[ $kind == kevy ]]; then
		for _ in $(seq 1 600); do
			[[ $(redis-cli -p "$pp" save) == OK ]] && break   # one may be running
			sleep 0.1
		done
	fi
	want=$(redis-cli -p "$pp" dbsize)
	t0=$(now)
	start "$kind" "$rp" "$WORK/$kind-r" "$pp"
	for _ in $(seq 1 12000); do
		st=$(redis-cli -p "$rp" info replication | tr -d '\r' | awk -F: '/^master_link_status/{print $2}')
		if [[ $st == up && $(redis-cli -p "$rp" dbsize) == "$want" ]]; then break; fi
		sleep 0.02
	done
	t1=$(now)
	SYNC[$kind]=$(echo "$t1 - $t0" | bc)
	echo "$kind: full sync of $want keys: ${SYNC[$kind]} s" >&2
	eval "${kind}_p=$pp; ${kind}_r=$rp"
done

probe() {   # primary replica seconds -> "median p99" in ms
	python3 - "$1" "$2" "$3" <<'EOF'
import socket, sys, time
def conn(p):
    s = socket.create_connection(("127.0.0.1", int(p))); s.settimeout(10); return s
def cmd(s, *a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a))
    buf = b""
    while True:
        buf += s.recv(65536)
        if b"\r\n" not in buf:
            continue
        head = buf[:buf.index(b"\r\n")]
        if not head.startswith(b"$") or int(head[1:]) < 0:
            return buf
        if len(buf) >= len(head) + 2 + int(head[1:]) + 2:
            return buf
p, r, secs = conn(sys.argv[1]), conn(sys.argv[2]), float(sys.argv[3])
lags, n, end = [], 0, time.monotonic() + secs
while time.monotonic() < end:
    n += 1
    v = str(n).encode()
    cmd(p, b"SET", b"lagprobe", v)
    t = time.monotonic()
    while cmd(r, b"GET", b"lagprobe") != b"$%d\r\n%s\r\n" % (len(v), v):
        if time.monotonic() - t > 10: break
        time.sleep(0.0005)
    lags.append((time.monotonic() - t) * 1000)
    time.sleep(0.02)
lags.sort()
print("%.1f %.1f" % (lags[len(lags) // 2], lags[min(len(lags) - 1, int(len(lags) * 0.99))]))
EOF
}

declare -A RUNS
for rep in $(seq 1 "$REPL_REPS"); do
	order="redis kevy"; (( rep % 2 == 0 )) && order="kevy redis"
	for kind in $order; do
		eval "pp=\$${kind}_p; rp=\$${kind}_r"
		probe "$pp" "$rp" 4 > "$WORK/lag-$kind-$rep" &
		ppid=$!
		rps=$(redis-benchmark -p "$pp" -t set -c 50 -P 16 -r 1000000 -n "$REPL_REQUESTS" --csv -q 2>/dev/null \
			| awk -F, '/"SET"/{gsub(/"/,"",$2); print $2}')
		wait "$ppid"
		RUNS[$kind]+="$rps "
		LAG[$kind]+="$(cat "$WORK/lag-$kind-$rep");"
		echo "$kind run $rep: SET $rps rps, lag (median p99 ms) $(cat "$WORK/lag-$kind-$rep")" >&2
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

rk=$(echo "${RUNS[kevy]}" | median); rr=$(echo "${RUNS[redis]}" | median)
lk=$(echo "${LAG[kevy]}" | tr ';' '\n' | awk '{print $1}' | median)
lr=$(echo "${LAG[redis]}" | tr ';' '\n' | awk '{print $1}' | median)
pk=$(echo "${LAG[kevy]}" | tr ';' '\n' | awk '{print $2}' | median)
pr=$(echo "${LAG[redis]}" | tr ';' '\n' | awk '{print $2}' | median)
report "| row | redis-server | kevy | kevy/redis |"
report "| --- | --- | --- | --- |"
report "| full sync of $REPL_KEYS keys (s, lower is better) | ${SYNC[redis]} | ${SYNC[kevy]} | $(echo "scale=2; ${SYNC[kevy]} / ${SYNC[redis]}" | bc) |"
report "| SET -c 50 -P 16, replica attached (rps, median of $REPL_REPS) | $rr | $rk | $(echo "scale=2; $rk / $rr" | bc) |"
report "| replication lag under that load, median (ms) | $lr | $lk | |"
report "| replication lag under that load, p99 (ms) | $pr | $pk | |"
