#!/usr/bin/python3
"""AOF write and fsync failures, injected with DEBUG FAILPOINTS (docs/io.md),
under appendfsync always, on io_uring and on the epoll reactor.

- ENOSPC once (`write:1=enospc`): the write whose append failed is answered
  OK after the retry (~100 ms later) and is durable (survives kill -9).
- ENOSPC for good (`write:1+=enospc`): the write whose append failed gets no
  reply; further writes to that shard get "-MISCONF Errors writing to the AOF
  file"; reads of durable keys work; INFO persistence says
  aof_last_write_status:err, aof_write_state:retrying and the shard's line
  status=retrying.  Clearing the failpoints (`DEBUG FAILPOINTS ""`): the
  pending write gets its OK, new writes work, INFO says ok.  kill -9 and
  restart: every acknowledged write is there, the refused one is not.
- EIO on the append write (`write:1=eio`; under io_uring a direct write with
  RWF_DSYNC, its own fsync) and on its fsync (`fsync:1=eio`; under io_uring
  with `aof-direct-io no`, the buffered write + fdatasync path):
  the pending write's reply is the MISCONF error, later writes get it too
  (also after clearing the failpoints: no retry is trusted), reads work,
  INFO says aof_write_state:failed.  Restart (kill -9 after the write EIO,
  SHUTDOWN after the fsync EIO): every write that got OK is there and the
  shard accepts writes again.

- A snapshot's rotation: ENOSPC on its steps (`open:1+=enospc`) parks them,
  refuses writes with "until a retry succeeds", and resumes by itself once
  the failpoint is cleared; a failed fsync of the old segment before the
  manifest closes it (`appendfsync no`, `fsync:1=eio`) fails the AOF for
  good and the snapshot with it.  Both: every acknowledged write survives
  kill -9 and a restart.

Keys of the faulty shard share the hashtag {f}; the servers run 2 shards
(the rotation checks run one).
"""

import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402


def ok(c, *cmd):
    r = c.call(*cmd)
    K.check(r == b"+OK\r\n" or r.startswith(b":"), "%s replied %r" % (cmd[:2], r))
    return r


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def write_acked(c, acked, prefix, n, rng, shards=None):
    """SETs n keys (half with the {f} hashtag) and records them in acked;
    with shards (a dict), also which shard logged each key."""
    for i in range(n):
        k = ("{f}%s%d" if i % 2 else "%s%d") % (prefix, i)
        v = "%s-%d" % (prefix, rng.randrange(1 << 30))
        if shards is None:
            ok(c, "SET", k, v)
        else:
            shards[k] = A.shard_of_write(c, 2, "SET", k, v)
        acked[k] = v


def check_acked(c, acked, label):
    keys = sorted(acked)
    c.send(b"".join(K.encode("GET", k) for k in keys))
    got = c.read_replies(len(keys), timeout=30)
    missing = [(k, g) for k, g in zip(keys, got) if g != bulk(acked[k])]
    K.check(not missing, "%s: acknowledged writes missing or wrong after restart: %r" %
            (label, missing[:5]))


# A multi-shard read (MGET over both shards, DBSIZE, INFO) from a connection
# of the healthy shard once waited for the faulty shard's durability (or got
# its MISCONF error): the txn acknowledgement did not follow the reply rule
# of shard_reply_tag.  This check keeps it fixed.


def check_cross_shard_reads(srv, F, O, key_f, key_o, label):
    """Reads that involve the faulty shard F (retrying or failed), from a
    connection of the healthy shard O: they must be answered, not refused
    (reads keep working)."""
    cmds = (("GET", key_f), ("MGET", key_f, key_o), ("INFO", "persistence"), ("DBSIZE",))
    conns = [A.conn_on_shard(srv, O) for _ in cmds]
    hung = []
    try:
        for h, cmd in zip(conns, cmds):
            h.send(K.encode(*cmd))
        deadline = time.monotonic() + 1.5   # one wait for all of them
        for h, cmd in zip(conns, cmds):
            r = A.try_read(h, max(0.05, deadline - time.monotonic()))
            if r is None or r.startswith(b"-"):
                hung.append("%s -> %r" % (" ".join(cmd), r))
    finally:
        for h in conns:
            h.close()
    K.check(not hung, "%s: reads from a connection on shard %d are not answered while shard %d "
            "is faulty: %s" % (label, O, F, "; ".join(hung)))


def setup_old_keys(srv, acked, shards, rng):
    """Write and acknowledge the "old" keys; returns (F, O): the shard of the
    {f} keys (the one the failpoints will hit) and the other one."""
    with srv.conn() as c:
        write_acked(c, acked, "old", 20, rng, shards)
    F = shards["{f}old1"]
    return F, 1 - F


def check_enospc(io, rng):
    label = "ENOSPC (%s)" % io
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--io", io).start()
    acked, shards = {}, {}
    try:
        F, O = setup_old_keys(srv, acked, shards, rng)
        key_o = [k for k in sorted(shards) if shards[k] == O]
        K.check(key_o, "some key landed on shard %d: %r" % (O, shards))
        key_o = key_o[0]
        # a: the connection whose write waits; b: another client of the same
        # shard (writes refused, reads answered); c: control.
        with srv.conn() as c, A.conn_on_shard(srv, F, timeout=5) as a, \
                A.conn_on_shard(srv, F) as b:
            # One failed append: retried, then acknowledged.
            K.check(c.call("DEBUG", "FAILPOINTS", "write:1=enospc") == b"+OK\r\n", "failpoint set")
            t = time.monotonic()
            a.send(K.encode("SET", "{f}once", "1"))
            r = A.try_read(a, 5.0)
            dt = time.monotonic() - t
            K.check(r == b"+OK\r\n", "%s: the write after one ENOSPC is acknowledged (%r)" % (label, r))
            acked["{f}once"] = "1"
            K.check(A.info(c)["aof_write_state"] == "ok", "%s: INFO ok after the retry" % label)
            log = srv.log_tail().decode("utf-8", "replace")
            K.check("no space left" in log and "succeeded again" in log,
                    "%s: the log tells the failure and the recovery:\n%s" % (label, log))

            # A disk that stays full.
            K.check(c.call("DEBUG", "FAILPOINTS", "write:1+=enospc") == b"+OK\r\n", "failpoint set")
            a.send(K.encode("SET", "{f}pending", "p"))
            r = A.try_read(a, 1.0)
            K.check(r is None, "%s: no reply to the write whose append failed (%r)" % (label, r))
            for i in range(3):
                r = b.call("SET", "{f}refused%d" % i, "x")
                K.check(r.startswith(b"-" + A.MISCONF),
                        "%s: a write to the shard is refused with MISCONF: %r" % (label, r))
            r = b.call("INCR", "{f}ctr")
            K.check(r.startswith(b"-MISCONF"), "%s: INCR refused: %r" % (label, r))
            K.check(b.call("GET", "{f}old1") == bulk(acked["{f}old1"]),
                    "%s: reads of durable keys work while writes are refused" % label)
            K.check(b.call("GET", key_o) == bulk(acked[key_o]), "%s: reads on the other shard" % label)
            inf = A.info(b)
            K.check(inf.get("aof_last_write_status") == "err" and
                    inf.get("aof_write_state") == "retrying",
                    "%s: INFO says err/retrying: %r" % (label, {k: v for k, v in inf.items()
                                                             if k.startswith("aof_")}))
            st = [s["status"] for s in A.shard_lines(inf, 2)]
            K.check(st[F] == "retrying" and st[O] == "ok", "%s: shard %d retrying: %r" % (label, F, st))
            # Not a contract check (the runtime does not hold replies while
            # writes are refused): what a reader sees of the pending write.
            seen = b.call("GET", "{f}pending")
            check_cross_shard_reads(srv, F, O, "{f}old1", key_o, label)
            time.sleep(0.2)   # a few more retries fail
            K.check(A.try_read(a, 0.05) is None, "%s: still no reply while the disk is full" % label)

            # The disk has room again.
            K.check(c.call("DEBUG", "FAILPOINTS", "") == b"+OK\r\n", "failpoints cleared")
            r = A.try_read(a, 3.0)
            K.check(r == b"+OK\r\n", "%s: the pending write is acknowledged once a retry succeeds (%r)" %
                    (label, r))
            acked["{f}pending"] = "p"
            ok(b, "SET", "{f}after", "y")
            acked["{f}after"] = "y"
            inf = A.info(b)
            K.check(inf.get("aof_last_write_status") == "ok" and inf.get("aof_write_state") == "ok",
                    "%s: INFO ok again: %r" % (label, inf.get("aof_write_state")))
            K.check(all(s["status"] == "ok" for s in A.shard_lines(inf, 2)), "%s: shards ok" % label)
            write_acked(b, acked, "new", 10, rng)
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            check_acked(c, acked, label)
            for i in range(3):
                K.check(c.call("EXISTS", "{f}refused%d" % i) == b":0\r\n",
                        "%s: a refused write is not replayed" % label)
            K.check(c.call("EXISTS", "{f}ctr") == b":0\r\n", "%s: refused INCR not replayed" % label)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("%s: one ENOSPC cost %.0f ms; pending write answered after the retry; GET of it while "
          "pending saw %r; %d acked writes present after kill -9" % (label, dt * 1000, seen, len(acked)))


def check_eio(kind, io, rng, direct="yes"):
    # Under always the io_uring reactor's append is a direct write, its own
    # fsync (aof-direct-io): a failing fsync is the buffered path's.
    label = "%s EIO (%s%s)" % (kind, io, "" if direct == "yes" else ", aof-direct-io no")
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--io", io,
                 "--aof-direct-io", direct).start()
    acked, shards = {}, {}
    try:
        F, O = setup_old_keys(srv, acked, shards, rng)
        key_o = sorted(k for k in shards if shards[k] == O)[0]
        with A.conn_on_shard(srv, F) as c, A.conn_on_shard(srv, F, timeout=5) as a:
            K.check(c.call("DEBUG", "FAILPOINTS", "%s:1=eio" % kind) == b"+OK\r\n", "failpoint set")
            a.send(K.encode("SET", "{f}doomed", "d"))
            r = A.try_read(a, 3.0)
            K.check(r is not None and r.startswith(b"-" + A.MISCONF),
                    "%s: the pending write's reply is the MISCONF error: %r" % (label, r))
            r = c.call("SET", "{f}later", "x")
            K.check(r.startswith(b"-" + A.MISCONF), "%s: later writes refused: %r" % (label, r))
            K.check(c.call("GET", "{f}old1") == bulk(acked["{f}old1"]), "%s: reads work" % label)
            K.check(c.call("GET", key_o) == bulk(acked[key_o]), "%s: reads on the other shard" % label)
            inf = A.info(c)
            K.check(inf.get("aof_write_state") == "failed" and
                    inf.get("aof_last_write_status") == "err",
                    "%s: INFO says failed: %r" % (label, inf.get("aof_write_state")))
            st = [s["status"] for s in A.shard_lines(inf, 2)]
            K.check(st[F] == "failed" and st[O] == "ok", "%s: shard %d failed: %r" % (label, F, st))
            K.check(c.call("DEBUG", "FAILPOINTS", "") == b"+OK\r\n", "failpoints cleared")
            time.sleep(0.3)
            r = c.call("SET", "{f}later2", "x")
            K.check(r.startswith(b"-" + A.MISCONF),
                    "%s: still refused after the fault is gone (no retry after EIO): %r" % (label, r))
            K.check(A.info(c).get("aof_write_state") == "failed", "%s: still failed" % label)
            check_cross_shard_reads(srv, F, O, "{f}old1", key_o, label)
            # The healthy shard still takes writes.
            ok(c, "SET", key_o, "healthy")
            acked[key_o] = "healthy"
        if kind == "write":
            A.kill9(srv)
            how = "kill -9"
        else:
            with srv.conn() as c:
                c.send(K.encode("SHUTDOWN"))
                K.check(c.closed_by_peer(10), "%s: SHUTDOWN closes the connection" % label)
            srv.proc.wait(10)
            srv.stop()
            how = "SHUTDOWN (exit status %s)" % srv.exit_code
        A.restart(srv)
        with srv.conn() as c:
            check_acked(c, acked, label)
            ok(c, "SET", "{f}afterrestart", "z")
            K.check(c.call("GET", "{f}afterrestart") == bulk("z"), "writes work after a restart")
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("%s: pending write got MISCONF, %d acked writes present after %s" % (label, len(acked), how))


def check_rotation_enospc(io, rng):
    """ENOSPC on every open while a snapshot's rotation runs: the rotation
    step parks and retries, writes are refused (MISCONF, state retrying)
    meanwhile, and everything resumes by itself once opens succeed again;
    acknowledged writes survive kill -9."""
    label = "rotation ENOSPC (%s)" % io
    srv = K.kevy("--threads", "1", "--io", io, "--appendfsync", "always", "--save", "").start()
    try:
        acked = {}
        with srv.conn() as c:
            write_acked(c, acked, "pre", 20, rng)
            ok(c, "DEBUG", "FAILPOINTS", "open:1+=enospc")
            c.call("BGSAVE")
            K.check(A.wait_for(lambda: A.info(c).get("aof_write_state") == "retrying", 10),
                    "%s: the rotation parks: %r" % (label, A.info(c)))
            r = c.call("SET", "refused", "1")
            K.check(r.startswith(b"-MISCONF") and b"until a retry succeeds" in r,
                    "%s: writes are refused meanwhile: %r" % (label, r))
            ok(c, "DEBUG", "FAILPOINTS", "")
            K.check(A.wait_for(lambda: A.info(c).get("aof_write_state") == "ok", 10),
                    "%s: it resumes by itself: %r" % (label, A.info(c)))
            A.wait_for(lambda: A.info(c).get("rdb_bgsave_in_progress") == "0", 20)
            write_acked(c, acked, "post", 20, rng)
        log = A.log_since(srv, 0)
        K.check(b"step failed" in log and b"succeeded again" in log,
                "%s: the log says both: %r" % (label, log[-800:]))
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            check_acked(c, acked, label)
            K.check(K.parse(c.call("EXISTS", "refused")) == 0, "%s: the refused write is "
                    "not there" % label)
        srv.stop()
    finally:
        srv.cleanup()
    K.log("%s: parked, refused writes, resumed, nothing lost" % label)


def check_rotation_fsync_fails(io, rng):
    """The rotation fsyncs the old segment before the manifest closes it
    (appendfsync no: its records were never fsynced).  If that fsync fails,
    the AOF refuses writes for good, the snapshot fails, and a restart has
    every acknowledged write."""
    label = "rotation fsync EIO (%s)" % io
    srv = K.kevy("--threads", "1", "--io", io, "--appendfsync", "no", "--save", "").start()
    try:
        acked = {}
        with srv.conn() as c:
            write_acked(c, acked, "pre", 20, rng)
            ok(c, "DEBUG", "FAILPOINTS", "fsync:1=eio")
            c.call("BGSAVE")
            K.check(A.wait_for(lambda: A.info(c).get("rdb_bgsave_in_progress") == "0", 20),
                    "%s: the snapshot ends" % label)
            inf = A.info(c)
            K.check(inf.get("aof_write_state") == "failed" and
                    inf.get("rdb_last_bgsave_status") == "err",
                    "%s: AOF failed, snapshot failed: %r" % (label, inf))
            r = c.call("SET", "refused", "1")
            K.check(r.startswith(b"-MISCONF"), "%s: writes refused: %r" % (label, r))
            K.check(c.call("GET", "pre0") == bulk(acked["pre0"]), "%s: reads work" % label)
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            check_acked(c, acked, label)
        srv.stop()
    finally:
        srv.cleanup()
    K.log("%s: refused writes for good, nothing lost" % label)


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's failpoints")
    seed, rng = K.rng_from_env()
    t0 = time.monotonic()
    for io in ("uring", "epoll"):
        check_enospc(io, rng)
        check_eio("write", io, rng)
        check_eio("fsync", io, rng, "no" if io == "uring" else "yes")
        check_rotation_enospc(io, rng)
        check_rotation_fsync_fails(io, rng)
    K.log("all fault checks in %.1fs (seed %d)" % (time.monotonic() - t0, seed))


if __name__ == "__main__":
    K.run_main(main)
