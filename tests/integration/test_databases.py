#!/usr/bin/python3
"""Databases (SELECT 0..databases-1) are state like any other: they survive
kill -9 and restart from snapshot plus AOF, the tools show them, and they
behave as Redis's.

- a 3-shard kevy under appendfsync always gets keys of every type in
  databases 0..4, moved (MOVE), copied (COPY ... DB), swapped (SWAPDB) and
  flushed (FLUSHDB), half before a snapshot and half after its cut; after
  kill -9 and a restart, every database holds the same keys (INFO keyspace)
  and DEBUG DIGEST, which covers every database, is the same;
- clients blocked in one database are served when SWAPDB, MOVE or COPY
  brings their key there, and not by a push to the same name in another;
- kevy-check finds the directory clean; kevy-dump --json names each key's
  database, and kevy-dump --resp (which SELECTs) piped into a real
  redis-server gives it the same keys per database;
- --databases 4: SELECT 4 is out of range, CONFIG GET databases says 4.
"""

import json
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

NDB = 5


def tool(name):
    p = os.path.join(os.path.dirname(os.path.abspath(K.kevy_binary())), name)
    K.check(os.access(p, os.X_OK), "%s next to kevy-server" % name)
    return p


def keyspace(c):
    """{db number: keys} from INFO keyspace."""
    return {int(db[2:]): int(v.split(",")[0].split("=")[1])
            for db, v in A.info(c, "keyspace").items()}


def populate(c, tag):
    for db in range(NDB):
        K.check(c.cmd("SELECT", str(db)) == "OK", "SELECT %d" % db)
        for i in range(12):
            c.cmd("SET", "%s:s%d" % (tag, i), "v%d-%d" % (db, i))
        c.cmd("RPUSH", "%s:l" % tag, "a", "b", str(db))
        c.cmd("HSET", "%s:h" % tag, "f", str(db))
        c.cmd("SADD", "%s:set" % tag, "x", str(db))
        c.cmd("ZADD", "%s:z" % tag, str(db), "m")
        c.cmd("PEXPIRE", "%s:h" % tag, str(10 ** 9))
    c.cmd("SELECT", "1")
    K.check(c.cmd("MOVE", "%s:l" % tag, "0") == 0, "MOVE onto an existing key answers 0")
    K.check(c.cmd("MOVE", "%s:s1" % tag, "3") == 0, "MOVE onto an existing key answers 0")
    c.cmd("DEL", "%s:s1" % tag)
    c.cmd("SELECT", "3")
    K.check(c.cmd("MOVE", "%s:s1" % tag, "1") == 1, "MOVE answers 1")
    K.check(c.cmd("COPY", "%s:z" % tag, "%s:zc" % tag, "DB", "4") == 1, "COPY ... DB")
    K.check(c.cmd("SWAPDB", "2", "4") == "OK", "SWAPDB")
    c.cmd("SELECT", "0")
    K.check(c.cmd("FLUSHDB") == "OK", "FLUSHDB")
    c.cmd("SET", "%s:after" % tag, "x")


def blocked_pop(srv, db, cmd, out):
    with srv.conn(timeout=30) as c:
        c.cmd("SELECT", str(db))
        out.append(c.cmd(*cmd))


def check_wakeups(srv):
    with srv.conn() as c:
        c.cmd("SELECT", "1")
        c.cmd("RPUSH", "w:k", "hello")
        cases = [
            (3, ("BRPOP", "w:k", "10"), ("SWAPDB", "1", "3"), 1),
            (2, ("BLPOP", "w:m", "10"), ("MOVE", "w:m", "2"), 0),
            (4, ("BLPOP", "w:c", "10"), ("COPY", "w:src", "w:c", "DB", "4"), 0),
        ]
        c.cmd("SELECT", "0")
        c.cmd("RPUSH", "w:m", "x")
        c.cmd("RPUSH", "w:src", "y")
        for db, pop, trigger, trigger_db in cases:
            out = []
            t = threading.Thread(target=blocked_pop, args=(srv, db, pop, out), daemon=True)
            t.start()
            deadline = time.time() + 10
            while time.time() < deadline and int(A.info(c, "clients")["blocked_clients"]) < 1:
                time.sleep(0.01)
            # A push to the same name in another database serves nobody.
            c.cmd("SELECT", str((db + 1) % NDB))
            c.cmd("RPUSH", pop[1], "elsewhere")
            c.cmd("DEL", pop[1])
            time.sleep(0.05)
            K.check(not out, "%s: not served from another database: %r" % (pop, out))
            c.cmd("SELECT", str(trigger_db))
            c.cmd(*trigger)
            t.join(10)
            K.check(out and out[0][0] == pop[1].encode(),
                    "%s is served by %s: %r" % (pop, trigger, out))
        c.cmd("SELECT", "0")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files and tools")
    srv = K.kevy("--threads", "3", "--appendfsync", "always", "--save", "",
                 name="databases").start()
    try:
        with srv.conn() as c:
            populate(c, "a")
            c.cmd("SAVE")
            populate(c, "b")
            want_sizes = keyspace(c)
            want_digest = c.cmd("DEBUG", "DIGEST")
        K.check(sorted(want_sizes) == [0, 1, 2, 3, 4], "keys in five databases: %r" % want_sizes)
        check_wakeups(srv)
        with srv.conn() as c:
            want_sizes = keyspace(c)
            want_digest = c.cmd("DEBUG", "DIGEST")
        A.kill9(srv)
        srv.start()
        with srv.conn() as c:
            K.check(keyspace(c) == want_sizes, "keys per database after kill -9: %r, want %r" %
                    (keyspace(c), want_sizes))
            K.check(c.cmd("DEBUG", "DIGEST") == want_digest, "DEBUG DIGEST after kill -9")
            c.cmd("SELECT", "4")
            K.check(c.cmd("LRANGE", "b:l", "0", "-1") == [b"a", b"b", b"2"],
                    "SWAPDB 2 4 moved database 2's list to 4")
        srv.stop()

        p = subprocess.run([tool("kevy-check"), srv.dir], capture_output=True, timeout=60)
        K.check(p.returncode == 0, "kevy-check clean: %s" % p.stdout[-300:])
        p = subprocess.run([tool("kevy-dump"), "--json", srv.dir], capture_output=True,
                           timeout=60)
        K.check(p.returncode == 0, "kevy-dump --json: %s" % p.stderr[-300:])
        per_db = {}
        for line in p.stdout.decode().splitlines():
            o = json.loads(line)
            per_db[o["db"]] = per_db.get(o["db"], 0) + 1
        K.check(per_db == want_sizes, "kevy-dump --json databases %r, want %r" %
                (per_db, want_sizes))
        if K.redis_binary():
            dump = subprocess.run([tool("kevy-dump"), "--resp", srv.dir], capture_output=True,
                                  timeout=60).stdout
            K.check(b"SELECT" in dump, "--resp selects databases")
            rs = K.redis("--save", "", "--appendonly", "no", name="databases-redis").start()
            try:
                with rs.conn() as c:
                    c.send(dump)
                    n = dump.count(b"\r\n*") + 1
                    replies = c.read_replies(n, timeout=60)
                    K.check(not any(r.startswith(b"-") for r in replies),
                            "redis-server accepts every command of --resp")
                    K.check(keyspace(c) == want_sizes, "redis-server's databases %r, want %r" %
                            (keyspace(c), want_sizes))
            finally:
                rs.stop()
                rs.cleanup()
    finally:
        if srv.alive():
            srv.stop()
        srv.cleanup()

    small = K.kevy("--threads", "2", "--databases", "4", name="databases-4").start()
    try:
        with small.conn() as c:
            K.check(c.cmd("SELECT", "3") == "OK", "SELECT 3 with 4 databases")
            r = c.cmd("SELECT", "4")
            K.check(isinstance(r, K.RespError) and b"out of range" in r.msg, "SELECT 4: %r" % r)
            K.check(c.cmd("CONFIG", "GET", "databases") == [b"databases", b"4"],
                    "CONFIG GET databases")
    finally:
        small.stop()
        small.cleanup()
    K.log("databases: five databases survive kill -9, wake blocked clients, and dump")


if __name__ == "__main__":
    K.run_main(main)
