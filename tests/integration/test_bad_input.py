#!/usr/bin/python3
"""Hostile and broken clients: garbage bytes, half frames then close, huge
bulk and multibulk lengths, malformed multibulk, inline requests (quoting,
unbalanced quotes, oversized lines), unknown commands and wrong arity,
byte-by-byte and very large requests, clients that vanish in the middle of a
deep pipeline (FIN, RST, half-close), connection churn, the request limits
for clients that have not sent AUTH yet, and more clients than --maxclients.
After every case a fresh connection must still work and the server must still
run; at the end it must exit cleanly on SIGTERM.

Protocol errors must match Redis 7.0 byte for byte where Redis's reply is part
of the protocol clients see ("-ERR Protocol error: invalid bulk length", ...),
and the connection must then be closed, as Redis does.
"""

import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

SEED = None


def healthy(s, what, auth=None):
    """The server is alive and a new connection can write and read."""
    K.check(s.alive(), "server died after: %s\n%s" % (what, s.log_tail().decode(errors="replace")))
    # Liveness, not speed: after clients vanished mid-pipeline, the shard
    # owning v64k may still be making (then dropping) up to 8 x 32 MiB of
    # replies; under ASan on a loaded machine that took over 10 s.
    with s.conn(timeout=60) as c:
        if auth:
            K.check(c.call("AUTH", auth) == b"+OK\r\n", "AUTH after %s" % what)
        K.check(c.call("PING") == b"+PONG\r\n", "PING after %s" % what)
        K.check(c.call("SET", "health", what) == b"+OK\r\n", "SET after %s" % what)
        K.check(c.call("GET", "health") == b"$%d\r\n%s\r\n" % (len(what), what.encode()),
                "GET after %s" % what)


def drain(c, quiet=0.5, limit_s=5.0, limit_bytes=1 << 22):
    """Read until the peer closes, or nothing arrives for `quiet` seconds.
    Returns (bytes, closed)."""
    out = bytearray(c.buf[c.pos:])
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and len(out) < limit_bytes:
        c.sock.settimeout(quiet)
        try:
            d = c.sock.recv(65536)
        except socket.timeout:
            return bytes(out), False
        except (ConnectionResetError, BrokenPipeError):
            return bytes(out), True
        if not d:
            return bytes(out), True
        out += d
    return bytes(out), False


def protocol_error(s, data, want, exact=True, auth=None):
    with s.conn(timeout=10) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out, closed = drain(c, quiet=3.0)
        ok = out == want if exact else out.startswith(want)
        K.check(ok, "after %r: expected %r, got %r" % (data[:60], want, out[:200]))
        K.check(closed, "connection left open after protocol error for %r" % data[:60])
    healthy(s, "protocol error %r" % data[:20], auth)


def test_protocol_errors(s):
    E = b"-ERR Protocol error: "
    protocol_error(s, b"*99999999999\r\n", E + b"invalid multibulk length\r\n")
    protocol_error(s, b"*abc\r\n", E + b"invalid multibulk length\r\n")
    protocol_error(s, b"*1\r\n$999999999999\r\n", E + b"invalid bulk length\r\n")
    protocol_error(s, b"*1\r\n$536870913\r\n", E + b"invalid bulk length\r\n")
    protocol_error(s, b"*2\r\n$3\r\nGET\r\n$-7\r\n", E + b"invalid bulk length\r\n")
    protocol_error(s, b"*1\r\n$abc\r\n", E + b"invalid bulk length\r\n")
    protocol_error(s, b"*1\r\nfoo\r\n", E + b"expected '$', got 'f'\r\n")
    protocol_error(s, K.encode("SET", "a", "1") + b"*2\r\n:1\r\n",
                   b"+OK\r\n" + E + b"expected '$', got ':'\r\n")
    # A count line that never ends must not grow the buffer for ever.
    protocol_error(s, b"*" + b"1" * 70000, E, exact=False)
    protocol_error(s, b"*1\r\n$" + b"9" * 70000, E, exact=False)


def test_empty_multibulk(s):
    with s.conn() as c:
        c.send(b"*0\r\n*-1\r\n" + K.encode("PING"))
        K.check(c.read_reply() == b"+PONG\r\n", "*0 / *-1 must be ignored")
    healthy(s, "empty multibulk")


def test_errors_keep_connection(s):
    with s.conn() as c:
        r = c.call("NOPE", "a", "b")
        K.check(r == b"-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n",
                "unknown command: %r" % r)
        r = c.call("GET")
        K.check(r == b"-ERR wrong number of arguments for 'get' command\r\n", "arity: %r" % r)
        r = c.call("SET", "a")
        K.check(r == b"-ERR wrong number of arguments for 'set' command\r\n", "arity: %r" % r)
        r = c.call("set", "a", "b", "c")
        K.check(r == b"-ERR syntax error\r\n", "syntax: %r" % r)
        r = c.call("x" * 1000)
        K.check(r.startswith(b"-ERR unknown command '" + b"x" * 128 + b"'"), "long unknown: %r" % r[:200])
        K.check(c.call("PING") == b"+PONG\r\n", "connection unusable after error replies")
    healthy(s, "error replies")


def test_inline(s):
    """Inline requests (what telnet sends), with Redis's quoting rules."""
    with s.conn() as c:
        c.send(b'SET "in line" \'c d\'\r\nGET "in line"\r\n\r\n  \r\nPING\nECHO "\\x41\\n"\r\n')
        got = c.read_replies(4)
        K.check(got == [b"+OK\r\n", b"$3\r\nc d\r\n", b"+PONG\r\n", b"$2\r\nA\n\r\n"],
                "inline requests: %r" % got)
    E = b"-ERR Protocol error: "
    protocol_error(s, b'SET "a\r\n', E + b"unbalanced quotes in request\r\n")
    protocol_error(s, b'GET "a"b\r\n', E + b"unbalanced quotes in request\r\n")
    protocol_error(s, b"x" * 70000, E, exact=False)


def test_unauthenticated_limits():
    """Like Redis 7, a client that has not authenticated yet may not send big
    requests (a cheap way to exhaust memory before AUTH)."""
    with K.kevy("--requirepass", "pw", "--threads", "2") as s:
        E = b"-ERR Protocol error: "
        protocol_error(s, b"*11\r\n", E + b"unauthenticated multibulk length\r\n", auth="pw")
        protocol_error(s, b"*2\r\n$16385\r\n", E + b"unauthenticated bulk length\r\n", auth="pw")
        with s.conn() as c:
            K.check(c.call("GET", "x") == b"-NOAUTH Authentication required.\r\n", "NOAUTH")
            K.check(c.call("AUTH", "wrong") ==
                    b"-WRONGPASS invalid username-password pair or user is disabled.\r\n", "AUTH wrong")
            K.check(c.call("AUTH", "pw") == b"+OK\r\n", "AUTH")
            big = ["k%d" % i for i in range(20)]
            K.check(c.call("DEL", *big) == b":0\r\n", "11+ arguments after AUTH")
            K.check(c.call("SET", "v", "x" * 20000) == b"+OK\r\n", "20 KB bulk after AUTH")
        s.check_clean_exit()


def test_garbage(s, rng):
    for i in range(20):
        n = rng.choice([1, 7, 100, 4096, 70000])
        junk = bytes(rng.randrange(256) for _ in range(n))
        if i % 3 == 0:
            junk = b"*" + junk
        elif i % 3 == 1:
            junk = b"*2\r\n$3\r\nGET\r\n$" + junk
        with s.conn(timeout=10) as c:
            try:
                c.send(junk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out, _ = drain(c, quiet=0.3)
            K.check(out == b"" or out.startswith((b"-", b"+", b":", b"$", b"*")),
                    "garbage produced a non-RESP reply: %r" % out[:100])
        healthy(s, "garbage #%d (%d bytes)" % (i, n))


def test_half_frames(s):
    full = K.encode("SET", "half", "value")
    for cut in range(1, len(full)):
        with s.conn() as c:
            c.send(full[:cut])
    with s.conn() as c:
        K.check(c.call("EXISTS", "half") == b":0\r\n", "a cut SET was executed")
    # A complete command followed by a cut one: the first runs, the second not.
    with s.conn() as c:
        c.send(K.encode("SET", "whole", "1") + K.encode("SET", "cut", "1")[:-3])
    deadline = time.monotonic() + 5
    with s.conn() as c:
        while time.monotonic() < deadline and c.call("EXISTS", "whole") != b":1\r\n":
            time.sleep(0.05)
        K.check(c.call("EXISTS", "whole", "cut") == b":1\r\n", "complete-then-cut pipeline")
    # Half a big bulk announced, a little sent, then gone.
    with s.conn() as c:
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$100000000\r\n" + b"x" * 1000000)
    healthy(s, "half frames")


def test_byte_by_byte_and_large(s):
    with s.conn() as c:
        data = K.encode("SET", "slow", "abc") + K.encode("GET", "slow")
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.001)
        K.check(c.read_replies(2) == [b"+OK\r\n", b"$3\r\nabc\r\n"], "byte-by-byte")
        big = bytes(random.Random(SEED).randrange(256) for _ in range(1 << 16)) * 128  # 8 MiB
        c.send(K.encode("SET", "big", big))
        K.check(c.read_reply(timeout=60) == b"+OK\r\n", "SET 8 MiB")
        c.send(K.encode("GET", "big"))
        K.check(c.read_reply(timeout=60) == b"$%d\r\n%s\r\n" % (len(big), big), "GET 8 MiB")
        # Many arguments in one legitimate command.
        args = ["k%d" % i for i in range(100000)]
        c.send(K.encode("DEL", *args))
        K.check(c.read_reply(timeout=60) == b":0\r\n", "DEL with 100,000 keys")
        kv = []
        for i in range(20000):
            kv += ["mk%d" % i, "v%d" % i]
        c.send(K.encode("MSET", *kv))
        K.check(c.read_reply(timeout=60) == b"+OK\r\n", "MSET with 40,000 arguments")
        K.check(c.call("GET", "mk19999") == b"$6\r\nv19999\r\n", "MSET big: last key")
    healthy(s, "large requests")


def test_vanishing_clients(s):
    with s.conn() as c:
        c.call("SET", "v64k", "x" * 65536)
    one = K.encode("GET", "v64k") + K.encode("INCR", "vanish")
    for mode in ("fin", "rst", "half-read", "shut-wr"):
        socks = []
        for _ in range(8):
            c = s.conn(timeout=10)
            socks.append(c)
            try:
                c.send(one * 500)   # ~32 MiB of replies that nobody reads
            except (BrokenPipeError, ConnectionResetError):
                pass
        for c in socks:
            if mode == "rst":
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == "half-read":
                try:
                    c.read_replies(10)
                except (OSError, K.ConnectionClosed):
                    pass
            elif mode == "shut-wr":
                c.sock.shutdown(socket.SHUT_WR)
            c.close()
        healthy(s, "clients vanishing mid-pipeline (%s)" % mode)
    # Every INCR a vanished client sent either ran or did not; none ran twice.
    with s.conn() as c:
        v = K.parse(c.call("GET", "vanish"))
        K.check(v is None or 0 <= int(v) <= 4 * 8 * 500, "vanish counter %r" % v)


def test_churn(s):
    for i in range(300):
        c = s.conn(timeout=5)
        if i % 2:
            c.send(K.encode("PING"))
        c.close()
    healthy(s, "300 connect/close")


def test_maxclients():
    with K.kevy("--maxclients", "5", "--threads", "2") as s:
        conns = []
        deadline = time.monotonic() + 15
        while len(conns) < 5 and time.monotonic() < deadline:
            c = s.conn(timeout=5)
            try:
                if c.call("PING") == b"+PONG\r\n":
                    conns.append(c)
                    continue
            except (OSError, K.ConnectionClosed):
                pass
            c.close()   # the readiness probe may not be reaped yet: retry
            time.sleep(0.1)
        K.check(len(conns) == 5, "could not open 5 clients under --maxclients 5")
        for attempt in range(3):
            with s.conn(timeout=5) as extra:
                out, closed = drain(extra, quiet=3.0)
                K.check(out == b"-ERR max number of clients reached\r\n",
                        "client #6: expected max-clients error, got %r" % out)
                K.check(closed, "client #6 was not closed")
        for c in conns:
            K.check(c.call("PING") == b"+PONG\r\n", "an admitted client broke")
        conns.pop().close()
        ok = False
        deadline = time.monotonic() + 10
        while not ok and time.monotonic() < deadline:
            c = s.conn(timeout=5)
            try:
                ok = c.call("PING") == b"+PONG\r\n"
            except (OSError, K.ConnectionClosed):
                ok = False
            c.close()
            if not ok:
                time.sleep(0.1)
        K.check(ok, "no client admitted after one of 5 left")
        for c in conns:
            c.close()
        s.check_clean_exit()


def main():
    global SEED
    K.require_kevy()
    SEED, rng = K.rng_from_env()
    with K.kevy("--threads", "2") as s:
        for t in (test_protocol_errors, test_empty_multibulk, test_errors_keep_connection, test_inline,
                  test_half_frames, test_byte_by_byte_and_large, test_vanishing_clients,
                  test_churn):
            K.log("--", t.__name__)
            t(s)
        K.log("-- test_garbage")
        test_garbage(s, rng)
        s.check_clean_exit()
    K.log("-- test_unauthenticated_limits")
    test_unauthenticated_limits()
    K.log("-- test_maxclients")
    test_maxclients()


if __name__ == "__main__":
    K.run_main(main)
