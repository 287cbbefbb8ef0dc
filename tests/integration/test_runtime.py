#!/usr/bin/python3
"""The runtime's promises, end to end.

- A full io_uring submission queue never loses a re-arm: kevy runs with a
  4-entry SQ (KEVY_URING_SQ_ENTRIES=4) while 16 connections each push a
  pipeline of 3,000 commands over 4 shards; every reply must arrive, in order.
- A port already in use is refused at startup (SO_REUSEPORT must not let a
  second kevy share it).
- A client that half-closes after sending still gets every reply.
- The log names the reactor in use, for --io uring and --io epoll.
- SIGTERM with idle clients connected exits 0.
"""

import os
import socket
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

NCONN = 16
NCMDS = 3000


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def pipeline_worker(port, j, errors):
    try:
        cmds, want = [], []
        for i in range(NCMDS // 3):
            k = "sq%d:%d" % (j, i)
            cmds += [K.encode("SET", k, i), K.encode("GET", k), K.encode("INCR", "sqc%d" % j)]
            want += [b"+OK\r\n", bulk(i), b":%d\r\n" % (i + 1)]
        with K.RawConn(port, timeout=60.0) as c:
            sender = threading.Thread(target=lambda: c.send(b"".join(cmds)))
            sender.start()
            got = c.read_replies(len(want), timeout=60.0)
            sender.join(60)
        for n, (g, w) in enumerate(zip(got, want)):
            if g != w:
                errors.append("conn %d reply %d: got %r want %r" % (j, n, g, w))
                return
    except Exception as e:  # reported by the main thread
        errors.append("conn %d: %r" % (j, e))


def check_small_sq():
    os.environ["KEVY_URING_SQ_ENTRIES"] = "4"
    try:
        srv = K.kevy("--threads", "4", "--io", "uring").start()
    finally:
        del os.environ["KEVY_URING_SQ_ENTRIES"]
    try:
        errors = []
        threads = [threading.Thread(target=pipeline_worker, args=(srv.port, j, errors))
                   for j in range(NCONN)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        K.check(not any(t.is_alive() for t in threads), "pipelines finished within 120 s")
        K.check(not errors, "every reply arrived in order with a 4-entry SQ: %s" % errors[:3])
        with srv.conn() as c:
            K.check(c.call("DBSIZE") == b":%d\r\n" % (NCONN * (NCMDS // 3) + NCONN),
                    "DBSIZE counts every key written")
        K.log("small SQ: %d connections x %d commands OK" % (NCONN, NCMDS))
    finally:
        srv.stop()
    K.check(srv.exit_code == 0, "clean exit after load (status %s)" % srv.exit_code)


def check_port_in_use():
    srv = K.kevy("--threads", "2").start()
    try:
        p = subprocess.run([K.kevy_binary(), "--port", str(srv.port), "--bind", "127.0.0.1",
                            "--threads", "2"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        K.check(p.returncode != 0, "a second server on a busy port exits non-zero")
        K.check(b"Address already in use" in p.stdout,
                "it says the address is in use: %r" % p.stdout[-300:])
        K.check(srv.ping_ok(), "the first server still answers")
    finally:
        srv.stop()


def check_half_close(io):
    srv = K.kevy("--threads", "2", "--io", io).start()
    try:
        log = srv.log_tail().decode("utf-8", "replace")
        K.check(("I/O: " + ("io_uring" if io == "uring" else "epoll")) in log,
                "the log names the %s reactor" % io)
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        payload = b"".join(K.encode("SET", "hc%d" % i, i) for i in range(200))
        payload += K.encode("GET", "hc199") + b"PING\r\n"
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        want = b"+OK\r\n" * 200 + bulk(199) + b"+PONG\r\n"
        K.check(data == want, "%s: replies after a half-close (%d of %d bytes)" %
                (io, len(data), len(want)))
        # Idle clients stay connected through SIGTERM.
        idle = [K.RawConn(srv.port) for _ in range(5)]
        for c in idle:
            K.check(c.call("PING") == b"+PONG\r\n", "idle client connected")
    finally:
        srv.stop()
    for c in idle:
        c.close()
    K.check(srv.exit_code == 0, "%s: SIGTERM exits 0 (status %s)" % (io, srv.exit_code))


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy runtime specifics")
    check_small_sq()
    check_port_in_use()
    check_half_close("uring")
    check_half_close("epoll")


if __name__ == "__main__":
    K.run_main(main)
