#!/usr/bin/python3
"""Replication, first pieces (issue 20; docs/replication.md says what is done).

1. The replication offset: ROLE is ["master", offset, []] and INFO
   replication's master_repl_offset is the same number; writes (strings,
   a cross-shard MSET, a MULTI/EXEC) make it grow, it never goes back, and
   it survives a restart (it is the durable LSNs of the shards' files).
2. ROLE's and REPLCONF's replies and errors, as Redis 7.0's (these checks
   also run against redis-server under KEVY_TARGET=redis).
3. The handshake refusals, with the reason in the reply: PSYNC and SYNC
   from a client that is not a kevy replica; a kevy replica that does not
   say its shard count or has another one ("start the replica with
   --threads N").
4. A redis-server started with --replicaof pointed at kevy is refused
   cleanly: its log has kevy's reason, its link stays down, and kevy keeps
   serving.

Environment: KEVY_SERVER (set by CTest).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

NOT_KEVY = b"kevy replicates only to kevy replicas"


def is_error(r, prefix):
    return isinstance(r, K.RespError) and r.msg.startswith(prefix.encode())


def info_replication(c):
    text = c.cmd("INFO", "replication").decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def role_offset(c):
    r = c.cmd("ROLE")
    K.check(isinstance(r, list) and len(r) == 3 and r[0] == b"master" and
            isinstance(r[1], int) and r[2] == [], "ROLE of a master: %r" % r)
    return r[1]


def synced_offset(c):
    """The offset once every earlier write is durable (WAITAOF fsyncs every
    shard), read by ROLE and by INFO: they must agree."""
    r = c.cmd("WAITAOF", "1", "0", "0")
    K.check(r == [1, 0], "WAITAOF 1 0 0: %r" % r)
    off = role_offset(c)
    info = info_replication(c)
    K.check(info["master_repl_offset"] == str(off),
            "INFO master_repl_offset %r == ROLE's %d" % (info["master_repl_offset"], off))
    return off


def check_offset(srv):
    with srv.conn() as c:
        start = synced_offset(c)
        n = 40
        for i in range(n):
            K.check(c.cmd("SET", "k%d" % i, "v%d" % i) == "OK", "SET")
        after_sets = synced_offset(c)
        K.check(after_sets >= start + n,
                "offset grew by one per durable write: %d -> %d" % (start, after_sets))
        K.check(c.cmd("MSET", "a", "1", "b", "2", "c", "3", "d", "4") == "OK", "MSET")
        K.check(c.cmd("MULTI") == "OK" and c.cmd("INCR", "x") == "QUEUED" and
                c.cmd("RPUSH", "l", "1", "2") == "QUEUED", "MULTI")
        K.check(c.cmd("EXEC") == [1, 2], "EXEC")
        after_units = synced_offset(c)
        K.check(after_units > after_sets, "units advance the offset: %d -> %d" %
                (after_sets, after_units))
        # Reads leave it alone.
        c.cmd("GET", "k1")
        c.cmd("MGET", "a", "b", "c")
        K.check(synced_offset(c) == after_units, "reads do not move the offset")
        info = info_replication(c)
        K.check(info["role"] == "master" and info["connected_slaves"] == "0" and
                re.fullmatch(r"[0-9a-f]{40}", info["master_replid"]) is not None,
                "INFO replication: %r" % info)
    srv.stop()
    srv.start()
    with srv.conn() as c:
        again = synced_offset(c)
        K.check(again >= after_units, "the offset survives a restart: %d then %d" %
                (after_units, again))
        K.check(c.cmd("GET", "k7") == b"v7", "data after restart")


def check_redis_replies(c):
    """Replies that must be Redis 7.0's, byte for byte in meaning."""
    r = c.cmd("ROLE", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'role' command"), "ROLE x: %r" % r)
    K.check(c.cmd("REPLCONF") == "OK", "REPLCONF alone is OK")
    K.check(is_error(c.cmd("REPLCONF", "a"), "ERR syntax error"), "REPLCONF a")
    K.check(is_error(c.cmd("REPLCONF", "listening-port", "x"),
                     "ERR value is not an integer or out of range"), "listening-port x")
    K.check(c.cmd("REPLCONF", "listening-port", "6380") == "OK", "listening-port 6380")
    K.check(c.cmd("REPLCONF", "capa", "eof", "capa", "psync2") == "OK", "capa eof psync2")
    K.check(c.cmd("REPLCONF", "capa", "whatever") == "OK", "an unknown capa is ignored")
    r = c.cmd("REPLCONF", "foo", "bar")
    K.check(is_error(r, "ERR Unrecognized REPLCONF option: foo"), "REPLCONF foo bar: %r" % r)
    r = c.cmd("REPLCONF", "ip-address", "x" * 300)
    K.check(is_error(r, "ERR REPLCONF ip-address provided by replica instance is too long: 300"),
            "long ip-address: %r" % r)
    K.check(c.cmd("REPLCONF", "ip-address", "127.0.0.1") == "OK", "ip-address")
    # ACK from a connection that is not a replica's link gets no reply: the
    # next command's reply is the next thing on the wire.
    c.send(K.encode("REPLCONF", "ACK", "5"))
    K.check(c.cmd("PING") == "PONG", "REPLCONF ACK answered nothing")
    r = c.cmd("PSYNC", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'psync' command"), "PSYNC x: %r" % r)
    r = c.cmd("SYNC", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'sync' command"), "SYNC x: %r" % r)
    r = c.cmd("MULTI")
    K.check(r == "OK", "MULTI")
    r = c.cmd("PSYNC", "?", "-1")
    K.check(is_error(r, "ERR Command not allowed inside a transaction"), "PSYNC in MULTI: %r" % r)
    c.cmd("DISCARD")


def check_refusals(srv, shards):
    with srv.conn() as c:
        for cmd in (("PSYNC", "?", "-1"), ("SYNC",)):
            r = c.cmd(*cmd)
            K.check(isinstance(r, K.RespError) and NOT_KEVY in r.msg, "%s: %r" % (cmd[0], r))
    with srv.conn() as c:
        K.check(c.cmd("REPLCONF", "capa", "kevy1") == "OK", "capa kevy1")
        r = c.cmd("PSYNC", "?", "-1")
        K.check(is_error(r, "ERR a kevy replica must say its shard count"), "no count: %r" % r)
        r = c.cmd("REPLCONF", "kevy-shards", "0")
        K.check(is_error(r, "ERR value is not an integer or out of range"), "kevy-shards 0: %r" % r)
        K.check(c.cmd("REPLCONF", "kevy-shards", str(shards + 1)) == "OK", "kevy-shards")
        r = c.cmd("PSYNC", "?", "-1")
        want = ("ERR the primary runs %d shards, this replica %d: start the replica with "
                "--threads %d" % (shards, shards + 1, shards))
        K.check(is_error(r, want), "shard count refused: %r" % r)
        # The same count passes the checks; the stream is not served yet, and
        # the reply says so rather than pretending.
        K.check(c.cmd("REPLCONF", "kevy-shards", str(shards)) == "OK", "kevy-shards N")
        r = c.cmd("PSYNC", "?", "-1")
        K.check(is_error(r, "ERR this kevy does not serve replicas yet"), "not served: %r" % r)
        K.check(c.cmd("PING") == "PONG", "the connection still works")


def check_redis_replica_refused(srv):
    rb = K.redis_binary()
    if not rb or not os.path.exists(rb):
        K.log("redis-server not found: skipping the redis-server replica check")
        return 0
    with K.redis("--replicaof", "127.0.0.1", str(srv.port), "--repl-timeout", "5") as rep:
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and not seen:
            seen = NOT_KEVY in rep.log_tail(20000)
            if not seen:
                time.sleep(0.1)
        K.check(seen, "redis-server logs kevy's refusal:\n%s" %
                rep.log_tail(3000).decode("utf-8", "replace"))
        with rep.conn() as rc:
            info = info_replication(rc)
            K.check(info.get("role") == "slave" and info.get("master_link_status") == "down",
                    "redis-server's link stays down: %r" % info)
    with srv.conn() as c:
        K.check(c.cmd("SET", "after", "redis") == "OK" and c.cmd("GET", "after") == b"redis",
                "kevy keeps serving")
    return 1


def main():
    with K.kevy("--threads", "2") as srv:
        with srv.conn() as c:
            check_redis_replies(c)
        if K.target() == "redis":
            K.log("KEVY_TARGET=redis: the Redis-compatible replies passed; the rest is kevy's")
            return
        check_offset(srv)
        check_refusals(srv, 2)
        checked = check_redis_replica_refused(srv)
        srv.check_clean_exit()
    with K.kevy("--threads", "1") as srv:
        check_refusals(srv, 1)
        srv.check_clean_exit()
    K.log("ok: offset, replies, handshake refusals, redis-server replica refused (%d)" % checked)


if __name__ == "__main__":
    K.run_main(main)
