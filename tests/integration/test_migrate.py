#!/usr/bin/python3
"""MIGRATE, against Redis 7.0's behaviour.

1. Differential: the same script with redis-server as the source and with
   kevy (2 shards) as the source, each migrating into a fresh redis-server:
   every reply of source and target byte for byte — one key (moved, gone
   here), KEYS over keys on both shards with missing ones, TTLs carried
   (rounded to seconds), every type, COPY, REPLACE, BUSYKEY, NOKEY, AUTH
   to a target with a password (wrong and right), AUTH2, the syntax and
   integer errors, the KEYS-with-a-key error, a refused connection, a
   target that never answers (IOERR reading after the timeout), and
   COMMAND GETKEYS (AUTH/AUTH2 arguments are skipped before KEYS).
2. kevy to kevy: keys move between two kevy servers, values equal (DUMP).
3. Durable: after a MIGRATE (no COPY) and a kill -9 under appendfsync
   always, the moved keys stay gone on restart and the copied one stays.

Environment: KEVY_SERVER (set by CTest).
"""

import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402


def fill(c):
    c.call("MSET", "s1", "v1", "s2", "v2", "s3", "v3", "s4", "v4", "s5", "v5")
    c.call("RPUSH", "list", "a", "b", "c")
    c.call("SADD", "set", "x", "y", "1")
    c.call("HSET", "hash", "f", "1", "g", "2")
    c.call("ZADD", "zset", "1", "m", "2.5", "n")
    c.call("XADD", "stream", "1-1", "f", "v")
    c.call("SET", "ttl", "t", "EX", "1000")


def silent_target():
    """A listener that accepts and never answers: MIGRATE times out reading."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    held = []

    def accept():
        srv.settimeout(10)
        try:
            while len(held) < 4:
                conn, _ = srv.accept()
                held.append(conn)
        except OSError:
            pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, held


def run(port):
    out = []
    tgt = K.redis().start()
    auth = K.redis("--requirepass", "pw").start()
    silent, held = silent_target()
    try:
        with K.RawConn(port) as c, K.RawConn(tgt.port) as t:
            fill(c)
            tp = str(tgt.port)
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s1", "0", "1000"))
            out.append(c.call("EXISTS", "s1"))
            out.append(t.call("GET", "s1"))
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "", "2", "1000", "KEYS",
                              "s2", "s3", "nosuch", "s4", "list", "set", "hash", "zset",
                              "stream", "ttl"))
            out.append(c.call("EXISTS", "s2", "s3", "s4", "list", "set", "hash", "zset",
                              "stream", "ttl"))
            t.call("SELECT", "2")
            for k in ("s2", "s3", "s4"):
                out.append(t.call("GET", k))
            out.append(t.call("LRANGE", "list", "0", "-1"))
            out.append(sorted(K.parse(t.call("SMEMBERS", "set"))))
            out.append(sorted(K.parse(t.call("HGETALL", "hash"))))
            out.append(t.call("ZRANGE", "zset", "0", "-1", "WITHSCORES"))
            out.append(t.call("XRANGE", "stream", "-", "+"))
            out.append(abs(K.parse(t.call("TTL", "ttl")) - 1000) <= 2)
            out.append(t.call("TTL", "s2"))
            # COPY, REPLACE, BUSYKEY
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s5", "2", "1000", "COPY"))
            out.append(c.call("EXISTS", "s5"))
            c.call("SET", "s5", "new")
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s5", "2", "1000", "COPY"))
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s5", "2", "1000", "COPY", "REPLACE"))
            out.append(t.call("GET", "s5"))
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s5", "2", "1000"))
            out.append(c.call("EXISTS", "s5"))
            out.append(c.call("MIGRATE", "127.0.0.1", tp, "s5", "2", "1000"))   # NOKEY
            # AUTH
            c.call("SET", "a1", "x")
            ap = str(auth.port)
            out.append(c.call("MIGRATE", "127.0.0.1", ap, "a1", "0", "1000"))
            out.append(c.call("MIGRATE", "127.0.0.1", ap, "a1", "0", "1000", "AUTH", "bad"))
            out.append(c.call("MIGRATE", "127.0.0.1", ap, "a1", "0", "1000", "AUTH", "pw"))
            out.append(c.call("EXISTS", "a1"))
            c.call("SET", "a2", "y")
            out.append(c.call("MIGRATE", "127.0.0.1", ap, "a2", "0", "1000", "AUTH2", "default",
                              "pw"))
            # errors
            for args in (["a2", "0", "1000", "AUTH"], ["a2", "0", "1000", "AUTH2", "u"],
                         ["a2", "0", "1000", "BOGUS"], ["a2", "x", "1000"],
                         ["a2", "0", "1.5"], ["a2", "0", "1000", "KEYS", "a2"],
                         ["a2", "0", "1000", "KEYS"]):
                out.append(c.call("MIGRATE", "127.0.0.1", tp, *args))
            out.append(c.call("MIGRATE"))
            c.call("SET", "r", "1")
            out.append(c.call("MIGRATE", "127.0.0.1", str(K.free_port()), "r", "0", "500"))
            t0 = time.monotonic()
            out.append(c.call("MIGRATE", "127.0.0.1", str(silent.getsockname()[1]), "r", "0",
                              "300"))
            waited = time.monotonic() - t0
            out.append(0.25 <= waited < 5)
            out.append(c.call("EXISTS", "r"))
            for args in (["127.0.0.1", "1", "", "0", "1", "AUTH", "keys", "KEYS", "k1", "k2"],
                         ["127.0.0.1", "1", "", "0", "1", "AUTH2", "keys", "keys", "KEYS", "k3"],
                         ["127.0.0.1", "1", "k", "0", "1"]):
                out.append(c.call("COMMAND", "GETKEYS", "MIGRATE", *args))
    finally:
        silent.close()
        for s in held:
            s.close()
        tgt.stop()
        auth.stop()
    return out


LABELS = ["one key", "gone here", "on the target", "KEYS", "all gone here", "s2", "s3", "s4",
          "list", "set", "hash", "zset", "stream", "ttl carried", "no ttl", "COPY", "copy stays",
          "BUSYKEY", "COPY REPLACE", "replaced", "move", "moved", "NOKEY", "no AUTH",
          "wrong AUTH", "AUTH", "moved with AUTH", "AUTH2", "AUTH no value",
          "AUTH2 short", "bad option", "db not int", "timeout not int", "KEYS with a key",
          "KEYS none", "arity", "refused", "silent target", "waited the timeout",
          "kept after IOERR", "GETKEYS AUTH", "GETKEYS AUTH2", "GETKEYS plain"]


def check_kevy_to_kevy():
    with K.kevy("--threads", "2") as a, K.kevy("--threads", "3") as b:
        with a.conn() as c, b.conn() as d:
            fill(c)
            keys = ["s1", "s2", "s3", "list", "set", "hash", "zset", "stream", "ttl"]
            dumps = [c.call("DUMP", k) for k in keys]
            r = c.call("MIGRATE", "127.0.0.1", str(b.port), "", "0", "1000", "KEYS", *keys)
            K.check(r == b"+OK\r\n", "kevy to kevy: %r" % r)
            K.check(c.call("EXISTS", *keys) == b":0\r\n", "moved off the source")
            K.check([d.call("DUMP", k) for k in keys] == dumps, "the target's DUMPs equal")
        a.check_clean_exit()
        b.check_clean_exit()


def check_durable():
    tgt = K.kevy("--threads", "1").start()
    srv = K.kevy("--threads", "2", "--appendfsync", "always").start()
    try:
        with srv.conn() as c:
            fill(c)
            K.check(c.call("MIGRATE", "127.0.0.1", str(tgt.port), "", "0", "1000", "KEYS",
                           "s1", "s2", "list") == b"+OK\r\n", "migrate")
            K.check(c.call("MIGRATE", "127.0.0.1", str(tgt.port), "s3", "0", "1000", "COPY")
                    == b"+OK\r\n", "migrate COPY")
        srv.proc.kill()
        srv.proc.wait(10)
        srv.exit_code = None
        srv.start()
        with srv.conn() as c:
            K.check(c.call("EXISTS", "s1", "s2", "list") == b":0\r\n",
                    "moved keys stay gone after kill -9")
            K.check(c.call("GET", "s3") == b"$2\r\nv3\r\n", "the copied key stays")
            K.check(c.call("GET", "s4") == b"$2\r\nv4\r\n", "other keys stay")
        srv.check_clean_exit()
        tgt.check_clean_exit()
    finally:
        srv.cleanup()
        tgt.cleanup()


def main():
    K.require_kevy()
    K.require_redis()
    if K.target() == "redis":
        with K.redis() as srv:
            for label, r in zip(LABELS, run(srv.port)):
                K.log("%-22s %r" % (label, r))
        return
    K.compare_with_redis(run, LABELS, kevy_args=("--threads", "2"), what="step")
    check_kevy_to_kevy()
    check_durable()


if __name__ == "__main__":
    K.run_main(main)
