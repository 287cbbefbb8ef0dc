# bench/lib.sh - what the side-by-side bench scripts share (sourced; each
# script defines die() first).

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
