# bench/lib.sh - what the side-by-side bench scripts share.  Sourced once
# the script has defined die() and WORK (its scratch directory): from then
# on the servers whose pids it adds to PIDS are stopped, and WORK removed,
# however the script ends.

PIDS=()
# TERM every server in PIDS, KILL what is still there after 5 s.
stop_all() {
  local p
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do
    [[ -n "$p" ]] || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on (never 6379: the range starts above).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# wait_ping PORT PID: 0 once the server answers PING, 1 if it exits or
# stays silent for 30 s.
wait_ping() {
  local port=$1 pid=$2
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(redis-cli -p "$port" PING 2>/dev/null || true)" == "PONG" ]] && return 0
    sleep 0.1
  done
  return 1
}
