#!/usr/bin/python3
"""CONFIG SET port and bind move the listeners of every shard; a move that
cannot be made changes nothing.  Also replicaof and repl-backlog-size.

Against redis-server and kevy (2 shards), the same script, replies compared
byte for byte (the port numbers themselves are left out of the replies):
1. CONFIG SET port P2: OK; 8 fresh connections to P2 answer PING (on 2
   shards the kernel spreads them over both); the old port stops accepting
   (polled, bounded); INFO server's tcp_port and CONFIG GET port say P2.
2. CONFIG SET maxmemory 10000001 port P3 client-query-buffer-limit 10m
   with P3 held by another socket (no SO_REUSEPORT): Redis's error naming
   'port'; maxmemory, client-query-buffer-limit and port keep their values;
   P2 still answers.
3. CONFIG SET bind "127.0.0.1 -::1" (keeping 127.0.0.1): OK and the server
   stays reachable; bind to an address this machine does not have: Redis's
   error naming 'bind', the old bind kept and still served.
4. Setting port to the value it has changes nothing (OK).
5. replicaof/slaveof: CONFIG GET shows both, empty; CONFIG SET of either is
   immutable; repl-backlog-size is set and read back, and INFO
   replication's repl_backlog_size follows.
kevy only: the same moves on the epoll reactor; a config file or flag
naming a primary is refused at startup with the reason; --port 0 at
startup is refused; CONFIG SET port 0 closes the listeners (the server
still stops cleanly on SIGTERM).

Environment: KEVY_SERVER (set by CTest).
"""

import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

UNUSED_ADDR = "192.0.2.1"   # TEST-NET-1: never assigned to this machine


def refused(port, timeout_s=5.0):
    """Whether connecting to port is refused within timeout_s (polled: each
    shard closes its old listener at its next turn)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = socket.socket()
        s.settimeout(1.0)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.02)
    return False


def pings(port, n=8):
    ok = 0
    for _ in range(n):
        with K.RawConn(port) as c:
            ok += c.call("PING") == b"+PONG\r\n"
    return ok


def info_field(c, section, name):
    for line in c.call("INFO", section).decode().split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def run(port):
    out = []
    p2 = K.free_port()
    with K.RawConn(port) as c:
        out.append(c.call("CONFIG", "SET", "port", str(p2)))
    out.append(pings(p2))
    out.append(refused(port))
    with K.RawConn(p2) as c:
        out.append(info_field(c, "server", "tcp_port") == str(p2))
        out.append(K.parse(c.call("CONFIG", "GET", "port")) == [b"port", str(p2).encode()])
        before = [c.call("CONFIG", "GET", k) for k in ("maxmemory", "client-query-buffer-limit")]
    # 2. a port another socket holds
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    p3 = holder.getsockname()[1]
    try:
        with K.RawConn(p2) as c:
            out.append(c.call("CONFIG", "SET", "maxmemory", "10000001", "port", str(p3),
                              "client-query-buffer-limit", "10m"))
            after = [c.call("CONFIG", "GET", k) for k in ("maxmemory", "client-query-buffer-limit")]
            out.append(after == before)
            out.append(K.parse(c.call("CONFIG", "GET", "port")) == [b"port", str(p2).encode()])
    finally:
        holder.close()
    out.append(pings(p2))
    # 3. bind
    with K.RawConn(p2) as c:
        out.append(c.call("CONFIG", "SET", "bind", "127.0.0.1 -::1"))
        out.append(c.call("CONFIG", "GET", "bind"))
    out.append(pings(p2))
    with K.RawConn(p2) as c:
        out.append(c.call("CONFIG", "SET", "bind", UNUSED_ADDR))
        out.append(c.call("CONFIG", "GET", "bind"))
        # 4. the same port
        out.append(c.call("CONFIG", "SET", "port", str(p2)))
    out.append(pings(p2))
    # 5. replication settings
    with K.RawConn(p2) as c:
        out.append(c.call("CONFIG", "GET", "replicaof"))
        items = K.parse(c.call("CONFIG", "GET", "*of"))
        out.append(sorted(zip(items[0::2], items[1::2])))   # Redis's order is a hash's
        out.append(c.call("CONFIG", "SET", "replicaof", "127.0.0.1 6379"))
        out.append(c.call("CONFIG", "SET", "slaveof", "no one"))
        out.append(c.call("CONFIG", "SET", "repl-backlog-size", "10mb"))
        out.append(c.call("CONFIG", "GET", "repl-backlog-size"))
        out.append(info_field(c, "replication", "repl_backlog_size"))
        out.append(c.call("CONFIG", "SET", "repl-backlog-size", "0"))
    return out


LABELS = ["SET port", "pings on the new port", "old port refused", "INFO tcp_port",
          "CONFIG GET port", "SET with a held port", "others rolled back", "port kept",
          "pings after the refusal", "SET bind keeping the address", "GET bind",
          "pings after bind", "SET bind unavailable", "GET bind after", "SET same port",
          "pings at the end", "GET replicaof", "GET *of", "SET replicaof", "SET slaveof",
          "SET repl-backlog-size", "GET repl-backlog-size", "INFO repl_backlog_size",
          "SET repl-backlog-size 0"]


def check_epoll():
    with K.kevy("--threads", "2", "--io", "epoll") as srv:
        got = run(srv.port)
        K.check(got[0] == b"+OK\r\n" and got[1] == 8 and got[2], "epoll: the move: %r" % got[:3])
        K.check(got[5].startswith(b"-ERR CONFIG SET failed (possibly related to argument "
                                  b"'port') - Unable to listen"), "epoll: refusal %r" % got[5])
        K.check(got[8] == 8 and got[15] == 8, "epoll: still served after refusals")
        srv.check_clean_exit()


def check_startup_refusals():
    binary = K.kevy_binary()
    with K.kevy("--threads", "1") as srv:
        other = os.path.join(srv.tmpdir, "other")
        os.mkdir(other)
        for args, why in (
                (["--replicaof", "127.0.0.1", "x"], b"Invalid master port"),
                (["--slaveof", "127.0.0.1", "70000"], b"Invalid master port"),
                (["--port", "0"], b"Configured to not listen anywhere")):
            r = subprocess.run([binary, "--dir", other] + args, capture_output=True,
                               timeout=30)
            K.check(r.returncode != 0 and why in r.stdout + r.stderr,
                    "%s refused at startup: %r" % (args, (r.stdout + r.stderr)[-300:]))
        r = subprocess.run([binary, "--dir", other, "--replicaof", "no", "one",
                            "--port", "bad"], capture_output=True, timeout=30)
        K.check(b"replica" not in r.stdout + r.stderr and b"--port bad" in r.stdout + r.stderr,
                "replicaof no one is accepted (the next error is port's): %r"
                % (r.stdout + r.stderr)[-300:])
        # port 0 at run time: no listener, and a clean stop.
        with srv.conn() as c:
            K.check(c.call("CONFIG", "SET", "port", "0") == b"+OK\r\n", "CONFIG SET port 0")
        K.check(refused(srv.port), "port 0: the old port is closed")
        srv.check_clean_exit()


def main():
    K.require_kevy()
    if K.target() == "redis":
        with K.redis() as srv:
            got = run(srv.port)
        for label, g in zip(LABELS, got):
            K.log("%-32s %r" % (label, g))
        return
    K.require_redis()
    K.compare_with_redis(run, LABELS, kevy_args=("--threads", "2"), what="step")
    check_epoll()
    check_startup_refusals()


if __name__ == "__main__":
    K.run_main(main)
