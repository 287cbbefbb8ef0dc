#!/usr/bin/python3
"""protected-mode against redis-server 7.0: the same scenario, replies byte
for byte.

Both servers listen on 127.0.0.1 and 127.0.0.2 (loopback only).  A client
socket bound to 127.0.0.2 is not "local" for protected mode (Redis's
islocalClient counts only 127.0.0.1 and ::1, although Linux routes all of
127.0.0.0/8 to the loopback device): with no password it gets the -DENIED
line and the connection is closed; a client from 127.0.0.1 is served.
Setting requirepass lets the 127.0.0.2 client in (it must AUTH), clearing
it denies again, CONFIG SET protected-mode no lets it in; CONFIG GET and
a bad value's error.  kevy only: `--protected-mode no` at startup, and
INFO's rejected_connections counts each denial.
"""

import socket
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

OTHER = "127.0.0.2"
BIND = ("--bind", "127.0.0.1", OTHER)


def other_client(port, commands, timeout=5.0):
    """Connect from 127.0.0.2 to 127.0.0.2, send the commands, and return
    everything the server sent until it closed the connection or went
    quiet for a moment (bounded by timeout)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((OTHER, 0))
        s.settimeout(timeout)
        s.connect((OTHER, port))
        # Wait for an unsolicited reply first: a denied client is answered
        # at accept, before it sends anything.
        data = b""
        s.settimeout(0.3)
        try:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
        except socket.timeout:
            pass
        if data.startswith(b"-DENIED"):
            s.settimeout(timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
            return data, False
        s.settimeout(timeout)
        for cmd in commands:
            try:
                s.sendall(K.encode(*cmd))
            except (BrokenPipeError, ConnectionResetError):
                return data, True
            want = len(data)
            deadline = time.monotonic() + timeout
            while len(data) == want and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        return data, False
    finally:
        s.close()


def scenario(port):
    out = []
    with K.RawConn(port) as local:
        out.append(("local PING", local.call("PING")))
        out.append(("CONFIG GET", local.call("CONFIG", "GET", "protected-mode")))
        out.append(("denied", other_client(port, [("PING",)])))
        out.append(("bad value", local.call("CONFIG", "SET", "protected-mode", "maybe")))
        out.append(("set password", local.call("CONFIG", "SET", "requirepass", "secret")))
        out.append(("with password", other_client(
            port, [("PING",), ("AUTH", "secret"), ("PING",)])))
        local.call("AUTH", "secret")
        out.append(("clear password", local.call("CONFIG", "SET", "requirepass", "")))
        out.append(("denied again", other_client(port, [("PING",)])))
        out.append(("off", local.call("CONFIG", "SET", "protected-mode", "no")))
        out.append(("CONFIG GET off", local.call("CONFIG", "GET", "protected-mode")))
        out.append(("allowed", other_client(port, [("PING",), ("ECHO", "hi")])))
        out.append(("on", local.call("CONFIG", "SET", "protected-mode", "yes")))
        out.append(("denied at last", other_client(port, [("PING",)])))
    return out


def rejected(port):
    with K.RawConn(port) as c:
        info = c.call("INFO", "stats").decode()
    for line in info.split("\r\n"):
        if line.startswith("rejected_connections:"):
            return int(line.split(":")[1])
    raise K.TestFailure("INFO stats has no rejected_connections")


def main():
    K.require_kevy()
    K.require_redis()
    results = {}
    for kind in ("redis", "kevy"):
        srv = K.Server(kind, BIND + (("--threads", "2") if kind == "kevy" else ()))
        with srv:
            before = rejected(srv.port)
            results[kind] = scenario(srv.port)
            results[kind + " rejected"] = rejected(srv.port) - before
            if kind == "kevy":
                srv.check_clean_exit()
    want, got = results["redis"], results["kevy"]
    K.check(len(want) == len(got), "the same steps ran on both")
    for (label, w), (_, g) in zip(want, got):
        K.check(w == g, "%s:\n redis %r\n kevy  %r" % (label, w, g))
    # What the comparison rests on, stated outright (not only "the same").
    denied = dict(got)["denied"]
    K.check(denied[0].startswith(b"-DENIED Redis is running in protected mode because ")
            and denied[0].endswith(b"from the outside.\r\n") and denied[1],
            "a 127.0.0.2 client gets Redis's DENIED line, then EOF: %r" % (denied,))
    K.check(dict(got)["allowed"] == (b"+PONG\r\n$2\r\nhi\r\n", False),
            "protected-mode no serves 127.0.0.2: %r" % (dict(got)["allowed"],))
    K.check(dict(got)["with password"][0] ==
            b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n",
            "a password lets 127.0.0.2 in: %r" % (dict(got)["with password"],))
    K.check(results["kevy rejected"] == 3,
            "INFO counts the 3 denials (got %d)" % results["kevy rejected"])
    K.check(results["kevy rejected"] == results["redis rejected"],
            "rejected_connections as Redis's (%d)" % results["redis rejected"])

    # Started with protected mode off: served from the start.
    with K.kevy(*BIND, "--protected-mode", "no") as srv:
        K.check(other_client(srv.port, [("PING",)]) == (b"+PONG\r\n", False),
                "--protected-mode no serves 127.0.0.2")
        with srv.conn() as c:
            K.check(K.parse(c.call("CONFIG", "GET", "protected-mode")) ==
                    [b"protected-mode", b"no"], "CONFIG GET shows the flag's value")
        srv.check_clean_exit()
    # And a password given at startup.
    with K.kevy(*BIND, "--requirepass", "pw") as srv:
        got = other_client(srv.port, [("AUTH", "pw"), ("PING",)])
        K.check(got == (b"+OK\r\n+PONG\r\n", False), "requirepass at startup: %r" % (got,))
        srv.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
