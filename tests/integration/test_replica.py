#!/usr/bin/python3
"""kevy-server as a replica of a kevy primary (issue 20; docs/replication.md).

1. Full sync, then streaming, on 1, 2 and 4 shards under write load over
   every type (strings, lists, hashes, sets, sorted sets, streams, a
   cross-shard MSET, MULTI/EXEC), with a BGSAVE mid stream (new files):
   once the load stopped, the replica's DBSIZE and DEBUG DIGEST equal the
   primary's.  INFO replication (role:slave, master_host/port,
   master_link_status:up, slave_repl_offset equal to the primary's
   master_repl_offset) and ROLE; the primary lists the replica with its
   listening port.
2. Read-only: a write gets READONLY (alone, queued in MULTI: EXEC aborts,
   inside EVAL, BLPOP, a shebang script without no-writes before it is
   compiled); reads are served (a no-writes script too), and XREAD BLOCK on the replica is
   served by the primary's XADD; CONFIG SET replica-read-only no, BGSAVE,
   BGREWRITEAOF, SAVE and DEBUG RELOAD are refused with the reason (its
   files are its primary's).
3. Function libraries: a replica's own are replaced by its primary's at
   the full sync; FUNCTION LOAD and DELETE on the primary reach it; FCALL_RO
   runs there; FUNCTION LOAD on it is refused (READONLY).
4. Units stay whole: while the primary runs MSETs of one value to ten keys
   spread over the shards, a reader's MGET on the replica always sees ten
   equal values.
5. kill -9 of the replica, more writes, restart: it loads its own files,
   resumes with a partial resync, and catches up; the primary restarts
   (a new replication id): the replica's next sync is a full one;
   appendonly turned off and on again on the primary (its AOF rewritten):
   the replica resyncs in full and ends equal; the replica's own disk full,
   then failing fsync (failpoints): logged, its data still served, a full
   sync once the disk works.
6. Through a TCP relay: a byte flipped mid full sync is refused (logged)
   and the sync starts over; a cut link and a stalled one (repl-timeout)
   resume with a partial resync; each ends equal.
7. Promotion: REPLICAOF NO ONE makes the replica a primary (ROLE, INFO,
   writes accepted and durable across a restart); a second replica of the
   old primary pointed at it resumes with a partial resync under the old
   replication id (replid2); the old primary, pointed at it with
   REPLICAOF, becomes its replica (full sync) and ends equal.
8. Bad input: a primary nobody listens on (link down, data still served,
   master_link_down_since_seconds shown; with replica-serve-stale-data no,
   MASTERDOWN but INFO still served), a wrong masterauth (the log says
   AUTH was refused), a replica pointed at itself or at another replica
   (refused: kevy does not chain; logged), REPLICAOF's port checks, REPLICAOF NO ONE on a
   primary, "Already connected".

Environment: KEVY_SERVER (set by CTest).
"""

import os
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402
import test_replication as TR  # noqa: E402


def info(c):
    return TR.info_replication(c)


def q(srv, *args):
    """One command on a fresh connection."""
    with srv.conn() as c:
        return c.cmd(*args)


def qinfo(srv):
    with srv.conn() as c:
        return info(c)


def wait_for(what, fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    K.fail("timed out waiting for %s (last: %r)" % (what, last))


def digest(srv):
    with srv.conn() as c:
        return c.cmd("DEBUG", "DIGEST"), c.cmd("DBSIZE")


def wait_equal(prim, rep, what, timeout=40.0):
    """The replica's digest equals the primary's (writes have stopped)."""
    want = digest(prim)
    got = wait_for(what, lambda: digest(rep) == want and want, timeout)
    return got


def replica_of(prim_port, shards, name="replica"):
    """A kevy started as a replica (not started yet: use it in `with`, or
    start() it)."""
    return K.Server("kevy", ["--threads", str(shards), "--replicaof", "127.0.0.1",
                             str(prim_port)], name=name)


class reported:
    """with reported(srv, ...): on an exception, print each server's state
    and log tail before it propagates (cleanup stays the caller's).  A
    single list is read when the exception comes (servers added later)."""

    def __init__(self, *servers):
        one_list = len(servers) == 1 and isinstance(servers[0], list)
        self.servers = servers[0] if one_list else servers

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for s in self.servers:
                if s:
                    s.report_if_broken()
        return False


def log_count(srv, text):
    with open(srv.log_path, "rb") as f:
        return f.read().count(text)


def check_stream(shards):
    with K.kevy("--threads", str(shards), "--appendfsync", "always") as prim:
        TR.load(prim.port, 50, "pre")
        rep = replica_of(prim.port, shards)
        try:
            with reported(rep):
                rep.start()
                wait_for("the link up", lambda: qinfo(rep).get("master_link_status") == "up")
                t = threading.Thread(target=TR.load, args=(prim.port, 300, "live"))
                t.start()
                time.sleep(0.3)
                with prim.conn() as c:
                    K.check(c.cmd("BGSAVE").startswith("Background"), "BGSAVE mid stream")
                t.join(120)
                K.check(not t.is_alive(), "load finished")
                wait_equal(prim, rep, "the replica equal to the primary (%d shards)" % shards)
                with prim.conn() as pc, rep.conn() as rc:
                    pi, ri = info(pc), info(rc)
                    K.check(ri.get("role") == "slave" and ri.get("master_host") == "127.0.0.1" and
                            ri.get("master_port") == str(prim.port), "INFO of a replica: %r" % ri)
                    K.check(ri.get("master_sync_in_progress") == "0", "no sync in progress")
                    wait_for("offsets equal", lambda: info(rc).get("slave_repl_offset") ==
                             info(pc).get("master_repl_offset"))
                    role = rc.cmd("ROLE")
                    K.check(role[0] == b"slave" and role[1] == b"127.0.0.1" and role[2] == prim.port
                            and role[3] == b"connected" and isinstance(role[4], int),
                            "ROLE of a replica: %r" % role)
                    wait_for("the replica listed with its port",
                             lambda: "port=%d,state=online" % rep.port in info(pc).get("slave0", ""))
                    K.check(pi.get("connected_slaves") == "1", "one replica: %r" % pi)
                n = digest(rep)[1]
                rep.check_clean_exit()
        finally:
            rep.cleanup()
        prim.check_clean_exit()
    return n


def check_read_only():
    with K.kevy("--threads", "2") as prim:
        with prim.conn() as c:
            c.cmd("SET", "k", "v")
        with replica_of(prim.port, 2) as rep:
            wait_for("k on the replica", lambda: q(rep, "GET", "k") == b"v")
            with rep.conn() as c:
                r = c.cmd("SET", "x", "1")
                K.check(TR.is_error(r, "READONLY You can't write against a read only replica"),
                        "SET on a replica: %r" % r)
                K.check(c.cmd("MULTI") == "OK", "MULTI")
                r = c.cmd("SET", "x", "1")
                K.check(TR.is_error(r, "READONLY"), "SET queued on a replica: %r" % r)
                r = c.cmd("EXEC")
                K.check(TR.is_error(r, "EXECABORT"), "EXEC after it: %r" % r)
                r = c.cmd("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k")
                K.check(TR.is_error(r, "READONLY"), "a write in EVAL: %r" % r)
                K.check(c.cmd("EVAL", "return redis.call('get', KEYS[1])", "1", "k") == b"v",
                        "a read in EVAL")
                # Shebang flags: a script that may write is refused up front
                # (before it is compiled), a no-writes one runs.
                r = c.cmd("EVAL", "#!lua\nretur 1", "0")
                K.check(TR.is_error(r, "READONLY You can't write against a read only replica."),
                        "a script without no-writes, refused up front: %r" % r)
                K.check(c.cmd("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                              "1", "k") == b"v", "a no-writes script")
                for cmd in (["BGSAVE"], ["BGREWRITEAOF"], ["SAVE"], ["DEBUG", "RELOAD"]):
                    r = c.cmd(*cmd)
                    K.check(TR.is_error(r, "ERR this server is a replica"),
                            "%s on a replica: %r" % (cmd, r))
                r = c.cmd("BLPOP", "list", "1")
                K.check(TR.is_error(r, "READONLY"), "BLPOP (a write) on a replica: %r" % r)
                # A reader blocked on the replica is served by what its
                # primary writes.
                got = []
                t = threading.Thread(target=lambda: got.append(q(
                    rep, "XREAD", "BLOCK", "10000", "STREAMS", "xs", "$")))
                t.start()
                time.sleep(0.3)
                with prim.conn() as pc:
                    pc.cmd("XADD", "xs", "1-1", "f", "v")
                t.join(15)
                K.check(got and got[0] and got[0][0][0] == b"xs" and
                        got[0][0][1][0][0] == b"1-1", "XREAD BLOCK on the replica: %r" % got)
                r = c.cmd("CONFIG", "SET", "replica-read-only", "no")
                K.check(TR.is_error(r, "ERR") and b"read-only" in r.msg,
                        "replica-read-only no is refused: %r" % r)
                K.check(c.cmd("CONFIG", "GET", "replicaof") ==
                        [b"replicaof", b"127.0.0.1 %d" % prim.port], "CONFIG GET replicaof")
                r = c.cmd("REPLICAOF", "127.0.0.1", str(prim.port))
                K.check(r == "OK Already connected to specified master", "again: %r" % r)
            rep.check_clean_exit()
        prim.check_clean_exit()


LIB_A = ("#!lua name=rliba\nredis.register_function{function_name='ra', callback=function(keys, "
         "args) return 'a:' .. tostring(redis.call('get', keys[1])) end, flags={'no-writes'}}")
LIB_B = ("#!lua name=rlibb\nredis.register_function{function_name='rb', callback=function(keys, "
         "args) return 'b' end, flags={'no-writes'}}")


def fn_names(srv):
    return sorted(lib[1] for lib in q(srv, "FUNCTION", "LIST"))


def check_functions():
    with K.kevy("--threads", "2") as prim:
        with prim.conn() as c:
            c.cmd("SET", "k", "v")
            K.check(c.cmd("FUNCTION", "LOAD", LIB_A) == b"rliba", "FUNCTION LOAD")
        with K.kevy("--threads", "2") as rep:
            with rep.conn() as c:
                # Its own library, which the full sync must replace.
                K.check(c.cmd("FUNCTION", "LOAD", LIB_B) == b"rlibb", "the replica's own")
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(prim.port)) == "OK", "REPLICAOF")
            wait_for("the primary's libraries and key on the replica",
                     lambda: fn_names(rep) == [b"rliba"] and q(rep, "GET", "k") == b"v")
            K.check(q(rep, "FCALL_RO", "ra", "1", "k") == b"a:v", "FCALL_RO on the replica")
            # Changes stream: a new library, then a deletion.
            with prim.conn() as c:
                K.check(c.cmd("FUNCTION", "LOAD", LIB_B) == b"rlibb", "a second library")
            wait_for("the second library", lambda: fn_names(rep) == [b"rliba", b"rlibb"])
            with prim.conn() as c:
                K.check(c.cmd("FUNCTION", "DELETE", "rliba") == "OK", "FUNCTION DELETE")
            wait_for("the deletion", lambda: fn_names(rep) == [b"rlibb"])
            r = q(rep, "FUNCTION", "LOAD", LIB_A)
            K.check(TR.is_error(r, "READONLY"), "FUNCTION LOAD on a replica: %r" % r)
            rep.check_clean_exit()
        prim.check_clean_exit()


def check_units_whole():
    stop = threading.Event()
    bad = []
    keys = ["u%d" % i for i in range(10)]
    with K.kevy("--threads", "2") as prim:
        with replica_of(prim.port, 2) as rep:
            with prim.conn() as c:
                c.cmd("MSET", *[x for k in keys for x in (k, "0")])
            wait_for("the keys on the replica", lambda: q(rep, "GET", keys[-1]) == b"0")

            def reader():
                with rep.conn() as c:
                    for _ in range(20000):
                        if stop.is_set():
                            return
                        vals = c.cmd("MGET", *keys)
                        if len(set(vals)) != 1:
                            bad.append(vals)
                            return
            t = threading.Thread(target=reader)
            t.start()
            with prim.conn() as c:
                for i in range(1, 1500):
                    c.cmd("MSET", *[x for k in keys for x in (k, str(i))])
            stop.set()
            t.join(60)
            K.check(not bad, "a reader on the replica saw half an MSET: %r" % bad[:1])
            wait_equal(prim, rep, "the MSETs on the replica")
            rep.check_clean_exit()
        prim.check_clean_exit()


def check_turnon():
    """appendonly off then on again on the primary: its AOF is rewritten
    (the keyspace restated under new LSNs), so the replica resyncs in full
    and ends equal, writes made while it was off included."""
    with K.kevy("--threads", "2") as prim:
        TR.load(prim.port, 30, "t0")
        with replica_of(prim.port, 2, name="replica-turnon") as rep:
            wait_equal(prim, rep, "the first sync")
            fulls = log_count(rep, b"full sync from")
            # Off and on again at once, five times: a shard with no turn of
            # its own in between never sees it off, and must still take
            # part in the rewrite every other shard waits for (this hung
            # writes before).
            for n in range(5):
                with prim.conn() as c:
                    K.check(c.cmd("CONFIG", "SET", "appendonly", "no") == "OK", "appendonly no")
                    if n == 0:
                        c.cmd("RPUSH", "while-off", "a", "b")
                    K.check(c.cmd("CONFIG", "SET", "appendonly", "yes") == "OK",
                            "appendonly yes")
                TR.load(prim.port, 10, "t%d" % (n + 1))
            wait_equal(prim, rep, "equal after the rewrites")
            K.check(q(rep, "LRANGE", "while-off", "0", "-1") == [b"a", b"b"],
                    "the list written while the AOF was off, once")
            K.check(log_count(rep, b"full sync from") > fulls,
                    "a rewrite makes the replica resync in full:\n%s" % rep.log_tail().decode())
            rep.check_clean_exit()
        prim.check_clean_exit()


def check_disk_faults():
    """The replica's own disk fails (kvio failpoints: a full disk, a failed
    fsync): what the primary sent is not stored, the link drops with a log
    line that says so, the replica keeps serving what it has, and once the
    disk works again a full sync makes it equal."""
    with K.kevy("--threads", "2", "--appendfsync", "always") as prim:
        TR.load(prim.port, 20, "d0")
        with replica_of(prim.port, 2, name="replica-disk") as rep:
            wait_equal(prim, rep, "the first sync")
            fulls = log_count(rep, b"full sync from")
            for n, (spec, what) in enumerate((("write:1+=enospc", b"No space left on device"),
                                              ("fsync:1+=eio", b"cannot fsync"))):
                with rep.conn() as c:
                    K.check(c.cmd("DEBUG", "FAILPOINTS", spec) == "OK", "failpoint %s" % spec)
                TR.load(prim.port, 10, "d%d" % (n + 1))
                wait_for("the failure logged (%s)" % spec, lambda: log_count(
                    rep, b"could not store what the primary sent") > n and
                    what in rep.log_tail(20000))
                K.check(q(rep, "GET", "s:d01") == b"v1", "the replica still serves its data")
                with rep.conn() as c:
                    K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoints cleared")
                wait_equal(prim, rep, "equal once the disk works (%s)" % spec)
            K.check(log_count(rep, b"full sync from") >= fulls + 2,
                    "each failure led to a full sync:\n%s" % rep.log_tail().decode())
            rep.check_clean_exit()
        prim.check_clean_exit()


def check_restart():
    with K.kevy("--threads", "2", "--appendfsync", "always") as prim:
        TR.load(prim.port, 100, "a")
        rep = K.Server("kevy", ["--threads", "2", "--replicaof", "127.0.0.1", str(prim.port)],
                       name="replica-restart")
        try:
            with reported(rep):
                rep.start()
                wait_equal(prim, rep, "the first sync")
                rep.proc.send_signal(signal.SIGKILL)
                rep.proc.wait(10)
                TR.load(prim.port, 100, "b")
                rep.start()
                wait_equal(prim, rep, "the restarted replica caught up")
                K.check(log_count(rep, b"replica: DB loaded from disk") == 1,
                        "the restart loaded its own files")
                K.check(log_count(rep, b"partial resync from") == 1,
                        "and resumed with a partial resync:\n%s" % rep.log_tail().decode())
                # The primary restarts (same port, a new replication id): the
                # replica's next sync is a full one, and it ends equal.
                fulls = log_count(rep, b"full sync from")
                port = prim.port
                prim.stop()
                prim.proc = subprocess.Popen(prim._argv(port), stdin=subprocess.DEVNULL,
                                             stdout=open(prim.log_path, "ab"),
                                             stderr=subprocess.STDOUT, cwd=prim.tmpdir)
                ok, why = prim._wait_ready(30)
                K.check(ok, "the primary restarted on its port: %s" % why)
                TR.load(prim.port, 20, "c")
                wait_equal(prim, rep, "the replica after the primary's restart")
                K.check(log_count(rep, b"full sync from") == fulls + 1,
                        "a new replication id means a full sync:\n%s" % rep.log_tail().decode())
                rep.check_clean_exit()
        finally:
            rep.cleanup()
        prim.check_clean_exit()


def check_relay():
    with K.kevy("--threads", "2", "--appendfsync", "always") as prim:
        TR.load(prim.port, 50, "r0")
        with prim.conn() as c:
            c.cmd("DEBUG", "POPULATE", "50000", "pop", "100")
            wait_for("a snapshot", lambda: c.cmd("SAVE") == "OK", 30)
        relay = TR.Relay(prim.port)
        # A byte flipped mid full sync (well into the snapshots): refused,
        # logged, and the sync starts over as a full one.
        relay.flip_at = 150000
        rep = K.Server("kevy", ["--threads", "2", "--repl-timeout", "2", "--replicaof",
                                "127.0.0.1", str(relay.port)], name="replica-relay")
        try:
            with reported(rep):
                rep.start()
                wait_equal(prim, rep, "the sync through the relay")
                K.check(relay.flipped and log_count(rep, b"refused a frame from the primary") == 1
                        and log_count(rep, b"full sync from") == 2,
                        "a byte flipped mid full sync is refused and the sync starts over:\n%s"
                        % rep.log_tail().decode())
                relay.cut()
                TR.load(prim.port, 50, "r1")
                wait_equal(prim, rep, "resumed after a cut link")
                K.check(log_count(rep, b"partial resync from") == 1,
                        "a cut link resumes with a partial resync:\n%s" % rep.log_tail().decode())
                # A stalled link: the replica gives up after repl-timeout and
                # resumes once the primary is reachable again.
                relay.stall_until = time.monotonic() + 5
                TR.load(prim.port, 20, "r2")
                wait_for("the stall seen", lambda: log_count(rep, b"link lost: timeout") >= 1, 30)
                wait_equal(prim, rep, "resumed after a stall")
                K.check(log_count(rep, b"partial resync from") >= 2,
                        "a stalled link resumes with a partial resync:\n%s"
                        % rep.log_tail().decode())
                rep.check_clean_exit()
        finally:
            rep.cleanup()
            relay.close()
        prim.check_clean_exit()


def check_promotion():
    prim = K.Server("kevy", ["--threads", "2", "--appendfsync", "always"], name="old-primary")
    prim.start()
    r1 = r2 = None
    started = [prim]
    try:
        with reported(started):
            TR.load(prim.port, 80, "p")
            r1 = replica_of(prim.port, 2, name="r1").start()
            started.append(r1)
            r2 = replica_of(prim.port, 2, name="r2").start()
            started.append(r2)
            wait_equal(prim, r1, "r1 in sync")
            wait_equal(prim, r2, "r2 in sync")
            with r1.conn() as c:
                K.check(c.cmd("REPLICAOF", "NO", "ONE") == "OK", "REPLICAOF NO ONE")
                K.check(c.cmd("ROLE")[0] == b"master", "ROLE after the promotion")
                i = info(c)
                K.check(i.get("role") == "master" and i.get("master_replid2") != "0" * 40 and
                        i.get("second_repl_offset") != "-1", "INFO after the promotion: %r" % i)
                K.check(c.cmd("SET", "after", "promotion") == "OK", "a write on the new primary")
                K.check(c.cmd("CONFIG", "GET", "replicaof") == [b"replicaof", b""],
                        "replicaof cleared")
            # The old primary goes away; r2 follows the new one and resumes.
            prim.stop()
            with r2.conn() as c:
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(r1.port)) == "OK", "r2 re-pointed")
            TR.load(r1.port, 30, "q")
            wait_equal(r1, r2, "r2 follows the new primary")
            K.check(log_count(r2, b"partial resync from 127.0.0.1:%d" % r1.port) == 1,
                    "r2 resumed under the old id:\n%s" % r2.log_tail().decode())
            K.check(log_count(r1, b"rewriting the AOF") == 0,
                    "a promotion is not an appendonly turn-on (no rewrite):\n%s"
                    % r1.log_tail().decode())
            # The old primary comes back as a replica of the new one.
            prim.args += ["--replicaof", "127.0.0.1", str(r1.port)]
            prim.start()
            wait_equal(r1, prim, "the old primary follows the new one")
            with prim.conn() as c:
                K.check(c.cmd("GET", "after") == b"promotion", "the write made after the promotion")
            # The promoted primary's writes are its own now: a restart keeps them.
            before = digest(r1)
            r1.stop()
            r1.start()
            K.check(digest(r1) == before, "the promoted primary restarts with its data")
            for s in (r1, r2, prim):
                s.check_clean_exit()
    finally:
        for s in (prim, r1, r2):
            if s:
                s.cleanup()


def check_bad_input():
    with K.kevy("--threads", "2", "--requirepass", "sekret") as prim:
        with K.kevy("--threads", "2") as rep:
            with rep.conn() as c:
                c.cmd("SET", "mine", "1")
                r = c.cmd("REPLICAOF", "127.0.0.1", "70000")
                K.check(TR.is_error(r, "ERR Invalid master port"), "port out of range: %r" % r)
                r = c.cmd("REPLICAOF", "127.0.0.1", "x")
                K.check(TR.is_error(r, "ERR Invalid master port"), "port not a number: %r" % r)
                K.check(c.cmd("REPLICAOF", "NO", "ONE") == "OK", "NO ONE on a primary")
                # Nobody listens there: the link stays down, data served.
                dead = K.free_port()
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(dead)) == "OK", "REPLICAOF dead")
                wait_for("link down shown", lambda: "master_link_down_since_seconds" in
                         info(c) and info(c)["master_link_status"] == "down")
                K.check(c.cmd("GET", "mine") == b"1", "stale data is served")
                K.check(c.cmd("CONFIG", "SET", "replica-serve-stale-data", "no") == "OK",
                        "replica-serve-stale-data no")
                r = c.cmd("GET", "mine")
                K.check(TR.is_error(r, "MASTERDOWN Link with MASTER is down and "
                                       "replica-serve-stale-data is set to 'no'."),
                        "GET without a link: %r" % r)
                K.check(info(c)["role"] == "slave", "INFO is still served")
                K.check(c.cmd("CONFIG", "SET", "replica-serve-stale-data", "yes") == "OK",
                        "replica-serve-stale-data yes")
                wait_for("the refused connection logged",
                         lambda: log_count(rep, b"cannot connect to 127.0.0.1:%d" % dead) >= 1)
                # A primary that wants a password we do not have.
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(prim.port)) == "OK", "re-pointed")
                wait_for("NOAUTH logged", lambda: log_count(rep, b"NOAUTH") >= 1)
                K.check(c.cmd("CONFIG", "SET", "masterauth", "wrong") == "OK", "masterauth")
                wait_for("wrong password logged",
                         lambda: log_count(rep, b"AUTH refused by the primary") >= 1)
                K.check(info(c)["master_link_status"] == "down", "no link with a wrong password")
                K.check(c.cmd("CONFIG", "SET", "masterauth", "sekret") == "OK", "masterauth")
                wait_for("the link up with the password",
                         lambda: info(c)["master_link_status"] == "up")
                K.check(c.cmd("GET", "mine") is None, "the primary's (empty) dataset replaced ours")
            # Pointed at itself: refused (it is a replica now), logged, and
            # NO ONE makes it a primary again with its data.
            with rep.conn() as c:
                K.check(c.cmd("CONFIG", "SET", "masterauth", "") == "OK", "no masterauth")
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(rep.port)) == "OK", "at itself")
                wait_for("the refusal logged", lambda: log_count(
                    rep, b"kevy does not chain replicas") >= 1)
                K.check(c.cmd("REPLICAOF", "NO", "ONE") == "OK", "NO ONE")
                K.check(c.cmd("SET", "again", "1") == "OK", "a primary again")
                K.check(c.cmd("CONFIG", "SET", "masterauth", "sekret") == "OK", "masterauth")
                K.check(c.cmd("REPLICAOF", "127.0.0.1", str(prim.port)) == "OK", "back")
                wait_for("the link up again", lambda: info(c)["master_link_status"] == "up")
            # A replica of that replica is refused: kevy does not chain.
            with replica_of(rep.port, 2, name="chained") as ch:
                wait_for("the chained link refused", lambda: log_count(
                    ch, b"kevy does not chain replicas") >= 1)
                ch.check_clean_exit()
            rep.check_clean_exit()
        prim.check_clean_exit()


def main():
    if K.target() == "redis":
        K.skip("kevy replicas only")
    only = os.environ.get("KEVY_REPLICA_ONLY")
    if only:
        globals()[only]() if not only.isdigit() else check_stream(int(only))
        return
    counts = [check_stream(n) for n in (1, 2, 4)]
    check_read_only()
    check_functions()
    check_units_whole()
    check_restart()
    check_disk_faults()
    check_turnon()
    check_relay()
    check_promotion()
    check_bad_input()
    K.log("ok: kevy replicas: streams on 1/2/4 shards (%r keys), read-only, units whole, "
          "restart, relay cut and corruption, promotion, bad input" % counts)


if __name__ == "__main__":
    K.run_main(main)
