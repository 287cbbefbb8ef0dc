#!/usr/bin/env python3
"""Fork-less snapshots (BGSAVE / BGREWRITEAOF) on a real server.

- every type with TTLs, on 1, 2 and 4 shards: BGSAVE, then kill -9 and a
  restart give the same DEBUG DIGEST; the old AOF segments are gone, the
  manifest names the snapshot and a fresh segment; kevy-check says clean;
  writes after the snapshot survive the next restart;
- BGSAVE while four clients INCR their own counters under appendfsync
  always, then kill -9 at a random moment: every acknowledged increment is
  there, none that was never sent;
- a bit flipped in a snapshot block: the server refuses to start, naming
  the snapshot and kevy-check.
Every run prints its seed (KEVY_SEED replays it).
"""
import glob
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aoflib as A  # noqa: E402
import kevylib as K  # noqa: E402


def populate(c, rng):
    cmds = []
    for i in range(2000):
        cmds.append(K.encode("SET", "s%d" % i, "v%d" % rng.randrange(10 ** 6)))
    for i in range(50):
        cmds.append(K.encode("RPUSH", "l%d" % i, *["e%d" % j for j in range(i + 1)]))
        cmds.append(K.encode("HSET", "h%d" % i, "f", "x" * i, "g", i))
        cmds.append(K.encode("SADD", "set%d" % i, *[str(j * 7) for j in range(i + 2)]))
        cmds.append(K.encode("ZADD", "z%d" % i, "1.5", "a", "-inf", "b", str(i), "c"))
        cmds.append(K.encode("PEXPIRE", "h%d" % i, 10 ** 8 + i))
    cmds.append(K.encode("SET", "bin\r\n\x00key", "\x00\xff\r\n"))
    c.send(b"".join(cmds))
    got = c.read_replies(len(cmds), timeout=30)
    K.check(not any(r.startswith(b"-") for r in got), "populate without errors")


def check_round_trip(threads, rng):
    label = "round trip (%d shard%s)" % (threads, "s" if threads > 1 else "")
    srv = K.kevy("--threads", str(threads), "--appendfsync", "always").start()
    try:
        with srv.conn() as c:
            populate(c, rng)
            digest = c.call("DEBUG", "DIGEST")
            saves = int(A.info(c).get("rdb_saves", "0"))
            before = int(c.call("LASTSAVE")[1:-2])
            if threads == 2:
                # SAVE answers once every shard's snapshot is committed.
                K.check(c.call("SAVE") == b"+OK\r\n", "SAVE")
                info = A.info(c)
                K.check(int(info["rdb_saves"]) == saves + 1 and
                        info["rdb_bgsave_in_progress"] == "0", "%s: SAVE waited: %r" % (label, info))
            else:
                if threads == 4:
                    # One block in flight at a time still completes.
                    K.check(c.call("CONFIG", "SET", "snapshot-inflight-blocks", "1") ==
                            b"+OK\r\n", "snapshot-inflight-blocks")
                K.check(c.call("BGSAVE") == b"+Background saving started\r\n", "BGSAVE")
                A.wait_saved(c, saves)
            K.check(int(c.call("LASTSAVE")[1:-2]) >= before, "LASTSAVE moves forward")
            K.check(c.call("DEBUG", "DIGEST") == digest, "%s: unchanged by the snapshot" % label)
        names = sorted(os.listdir(srv.dir))
        K.check(not any(n.endswith("-g1.aof") for n in names),
                "%s: the old segments are gone: %r" % (label, names))
        K.check(len([n for n in names if n.endswith(".snap")]) == threads,
                "%s: one snapshot per shard: %r" % (label, names))
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same dataset from the snapshot" % label)
            K.check(c.call("SET", "after", "1") == b"+OK\r\n", "write after")
            digest2 = c.call("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("DEBUG", "DIGEST") == digest2,
                    "%s: writes after the snapshot survive" % label)
        srv.stop()
        kc = os.path.join(os.path.dirname(K.kevy_binary()), "kevy-check")
        if os.path.exists(kc):
            import subprocess
            p = subprocess.run([kc, srv.dir], capture_output=True, timeout=60)
            K.check(p.returncode == 0, "%s: kevy-check clean: %s" % (label, p.stdout[-500:]))
    finally:
        srv.cleanup()
    K.log("%s: same DEBUG DIGEST after BGSAVE and kill -9" % label)


def check_bgsave_under_load(rng):
    label = "BGSAVE under INCR load"
    srv = K.kevy("--threads", "2", "--appendfsync", "always").start()
    acked = [0] * 4
    sent = [0] * 4
    stop = threading.Event()
    errors = []

    def writer(n):
        try:
            with srv.conn() as c:
                while not stop.is_set():
                    sent[n] += 1
                    r = c.call("INCR", "counter:%d" % n)
                    if not r.startswith(b":"):
                        errors.append(r)
                        return
                    acked[n] = int(r[1:-2])
        except (K.ConnectionClosed, OSError):
            pass

    try:
        with srv.conn() as c:
            populate(c, rng)
        ts = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        with srv.conn() as c:
            # While one runs, another is refused (Redis's error).
            c.call("BGSAVE")
            r = c.call("BGSAVE")
            K.check(r in (b"-ERR Background save already in progress\r\n",
                          b"+Background saving started\r\n"), "second BGSAVE: %r" % r)
            A.wait_saved(c, int(A.info(c).get("rdb_saves", "0")) - 1)
            for _ in range(3):
                saves = int(A.info(c).get("rdb_saves", "0"))
                c.call("BGREWRITEAOF" if rng.random() < 0.5 else "BGSAVE")
                A.wait_saved(c, saves)
            # A last one, killed at a random moment.
            c.call("BGSAVE")
        time.sleep(rng.uniform(0.0, 0.2))
        A.kill9(srv)
        stop.set()
        for t in ts:
            t.join(10)
        K.check(not errors, "%s: no error replies: %r" % (label, errors[:3]))
        A.restart(srv)
        with srv.conn() as c:
            for n in range(4):
                r = c.call("GET", "counter:%d" % n)
                v = int(r.split(b"\r\n")[1]) if r.startswith(b"$") and r != b"$-1\r\n" else 0
                K.check(acked[n] <= v <= sent[n], "%s: counter %d = %d, acked %d, sent %d" %
                        (label, n, v, acked[n], sent[n]))
        srv.stop()
    finally:
        stop.set()
        srv.cleanup()
    K.log("%s: %d acknowledged increments, all present after kill -9" % (label, sum(acked)))


def check_point_in_time(rng):
    """Writers INCR their own counters and RPUSH sequence numbers while
    several snapshots are taken.  Recovery replays the AOF records after a
    snapshot's cut on top of it, and INCR and RPUSH are relative: if a key
    reached the snapshot with a value from after the cut, the restart would
    double-count it.  So after the writers stop and the last snapshot is
    committed while they ran, a kill -9 and restart (that snapshot plus the
    records after its cut) must give every counter and list exactly as the
    server had them."""
    label = "point in time"
    srv = K.kevy("--threads", "2", "--appendfsync", "everysec").start()
    stop = threading.Event()

    def writer(n):
        with srv.conn() as c:
            i = 0
            while not stop.is_set():
                c.call("INCR", "pit:ctr:%d" % n)
                c.call("RPUSH", "pit:seq:%d" % (n % 3), "%d-%d" % (n, i))
                i += 1

    try:
        with srv.conn() as c:
            populate(c, rng)
        ts = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in ts:
            t.start()
        with srv.conn() as c:
            for _ in range(4):
                A.bgsave(c)
            # Stop the writers with the last snapshot taken while they ran:
            # the restart is that snapshot plus the records after its cut.
            stop.set()
            for t in ts:
                t.join(10)
            want = [c.call("GET", "pit:ctr:%d" % n) for n in range(4)]
            want += [c.call("LRANGE", "pit:seq:%d" % n, 0, -1) for n in range(3)]
            digest = c.call("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            got = [c.call("GET", "pit:ctr:%d" % n) for n in range(4)]
            got += [c.call("LRANGE", "pit:seq:%d" % n, 0, -1) for n in range(3)]
            diff = [(i, w[:60], g[:60]) for i, (w, g) in enumerate(zip(want, got)) if w != g]
            K.check(got == want, "%s: counters and sequences exact after restart: %r" %
                    (label, diff))
            K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same DEBUG DIGEST" % label)
        srv.stop()
    finally:
        stop.set()
        srv.cleanup()
    K.log("%s: 4 snapshots under INCR/RPUSH load, exact after restart" % label)


def check_debug_reload(rng):
    """DEBUG RELOAD replaces every shard's keyspace with what its files load:
    same DEBUG DIGEST (from a snapshot plus records after it), a WATCH taken
    before it fails EXEC (the keyspace was replaced), refused without AOF."""
    label = "DEBUG RELOAD"
    srv = K.kevy("--threads", "2").start()
    try:
        with srv.conn() as c, srv.conn() as w:
            populate(c, rng)
            A.bgsave(c)
            c.call("SET", "after", "1")
            c.call("RPUSH", "l0", "tail")
            digest = c.call("DEBUG", "DIGEST")
            K.check(w.call("WATCH", "s1") == b"+OK\r\n", "WATCH")
            K.check(c.call("DEBUG", "RELOAD") == b"+OK\r\n", "%s: +OK" % label)
            K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same dataset" % label)
            w.call("MULTI")
            w.call("SET", "s1", "x")
            K.check(w.call("EXEC") == b"*-1\r\n", "%s: a WATCH before it fails EXEC" % label)
            log = A.log_since(srv, 0)
            K.check(log.count(b"DEBUG RELOAD:") == 2, "%s: both shards reloaded before the "
                    "reply" % label)
            c.call("CONFIG", "SET", "appendonly", "no")
            K.check(c.call("DEBUG", "RELOAD").startswith(b"-ERR DEBUG RELOAD needs appendonly"),
                    "%s: refused without the AOF" % label)
        srv.stop()
    finally:
        srv.cleanup()
    K.log("%s: same DEBUG DIGEST, WATCH invalidated" % label)


def check_snapshot_write_fails(rng):
    """A snapshot whose block write fails (ENOSPC, EIO) or whose fsync fails is
    abandoned: rdb_last_bgsave_status says err, nothing acknowledged is lost
    (the previous files and the AOF stay), the next BGSAVE works."""
    for spec in ("write:2=enospc", "write:2=eio", "fsync:2=eio"):
        label = "snapshot with %s" % spec
        srv = K.kevy("--threads", "1", "--save", "").start()
        try:
            with srv.conn() as c:
                populate(c, rng)
                digest = c.call("DEBUG", "DIGEST")
                K.check(c.call("DEBUG", "FAILPOINTS", spec) == b"+OK\r\n", "failpoint")
                c.call("BGSAVE")
                K.check(A.wait_for(lambda: A.info(c)["rdb_bgsave_in_progress"] == "0", 20),
                        "%s: the snapshot ends" % label)
                info = A.info(c)
                c.call("DEBUG", "FAILPOINTS", "")
                if spec.startswith("fsync"):
                    # The fsync may hit the AOF rotation instead: either way
                    # something reports the failure, and no data is lost.
                    K.check(info["rdb_last_bgsave_status"] == "err" or
                            info["aof_last_write_status"] == "err",
                            "%s: the failure is reported: %r" % (label, info))
                elif spec.endswith("enospc") and info["rdb_last_bgsave_status"] == "ok":
                    # The write raced with the rotation's own writes and hit
                    # one of them (an AOF append, the new segment or the
                    # manifest): ENOSPC there is retried until it fits, so
                    # the snapshot completes and the AOF is accepting again.
                    K.check(int(info["aof_write_errors"]) >= 1 and
                            info["aof_write_state"] == "ok",
                            "%s: the ENOSPC was on the AOF and resumed: %r" % (label, info))
                else:
                    K.check(info["rdb_last_bgsave_status"] == "err",
                            "%s: rdb_last_bgsave_status err: %r" % (label, info))
                    # EIO may likewise hit the rotation's AOF writes: the AOF
                    # then refuses writes until a restart (checked below by
                    # the restart); otherwise the next snapshot works.
                    if info["aof_write_state"] != "failed":
                        saves = int(info["rdb_saves"])
                        c.call("BGSAVE")
                        A.wait_saved(c, saves)
            A.kill9(srv)
            A.restart(srv)
            with srv.conn() as c:
                K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same dataset after restart" %
                        label)
            srv.stop()
        finally:
            srv.cleanup()
        K.log("%s: abandoned, nothing lost" % label)


def check_damaged_snapshot(rng):
    label = "damaged snapshot"
    srv = K.kevy("--threads", "1").start()
    try:
        with srv.conn() as c:
            populate(c, rng)
            A.bgsave(c)
        srv.stop()
        snap = glob.glob(os.path.join(srv.dir, "*.snap"))[0]
        with open(snap, "r+b") as f:
            f.seek(72 + 32 + 20)
            b = f.read(1)
            f.seek(72 + 32 + 20)
            f.write(bytes([b[0] ^ 0x10]))
        code, log = A.start_refused(srv.dir, "--threads", "1")
        K.check(code not in (0, None), "%s: refused (status %r)" % (label, code))
        K.check(os.path.basename(snap) in log and "kevy-check" in log and "block 0" in log,
                "%s: the message names the snapshot, the block and kevy-check: %s" %
                (label, log[-400:]))
    finally:
        srv.cleanup()
    K.log("%s: refused to start" % label)


def check_crash_in_commit(rng):
    """kill -9 right after each fsync, rename and directory fsync of the
    rotation and commit sequence of a BGSAVE, under INCR load with
    appendfsync always: after the restart every acknowledged increment is
    there (counters exact or one ahead of the ack), and kevy-check is clean."""
    kc = os.path.join(os.path.dirname(K.kevy_binary()), "kevy-check")
    points = ["fsync:1=kill-after", "fsync:2=kill-after", "rename:1=kill-after",
              "dirsync:1=kill-after", "rename:2=kill-after", "dirsync:2=kill-after",
              "write:3=kill-after"]
    total = 0
    for spec in points:
        label = "crash at %s" % spec
        srv = K.kevy("--threads", "1", "--appendfsync", "always").start()
        acked = 0
        try:
            with srv.conn() as c:
                populate(c, rng)
                for _ in range(50):
                    acked = int(c.call("INCR", "ctr")[1:-2])
                K.check(c.call("DEBUG", "FAILPOINTS", spec) == b"+OK\r\n", "failpoint")
                c.send(K.encode("BGSAVE"))
                # Keep writing until the failpoint kills the server.
                deadline = time.monotonic() + 10
                try:
                    c.read_reply()
                    while time.monotonic() < deadline:
                        acked = int(c.call("INCR", "ctr")[1:-2])
                except (K.ConnectionClosed, OSError, ValueError):
                    pass
            srv.proc.wait(10)
            K.check(srv.proc.returncode is not None and srv.proc.returncode != 0,
                    "%s: the server was killed (status %r)" % (label, srv.proc.returncode))
            srv.stop()
            A.restart(srv)
            with srv.conn() as c:
                r = c.call("GET", "ctr")
                v = int(r.split(b"\r\n")[1])
                K.check(acked <= v <= acked + 1, "%s: counter %d, acknowledged %d" %
                        (label, v, acked))
                K.check(c.call("DBSIZE") == b":%d\r\n" % (2000 + 4 * 50 + 1 + 1),
                        "%s: every populated key is back" % label)
            srv.stop()
            if os.path.exists(kc):
                import subprocess
                p = subprocess.run([kc, srv.dir], capture_output=True, timeout=60)
                K.check(p.returncode == 0, "%s: kevy-check clean after recovery: %s" %
                        (label, p.stdout[-400:]))
            total += acked
        finally:
            srv.cleanup()
    K.log("crash in the rotation/commit sequence: %d failpoints, every acknowledged "
          "increment present (%d)" % (len(points), total))


def check_damaged_variants(rng):
    """A truncated footer and a snapshot from another dataset refuse too."""
    for damage in ("truncate", "foreign"):
        label = "snapshot %s" % damage
        srv = K.kevy("--threads", "1").start()
        other = K.kevy("--threads", "1", name="other").start()
        try:
            for s in (srv, other):
                with s.conn() as c:
                    populate(c, rng)
                    A.bgsave(c)
                s.stop()
            snap = glob.glob(os.path.join(srv.dir, "*.snap"))[0]
            if damage == "truncate":
                with open(snap, "r+b") as f:
                    f.truncate(os.path.getsize(snap) - 7)
                want = "footer"
            else:
                osnap = glob.glob(os.path.join(other.dir, "*.snap"))[0]
                with open(osnap, "rb") as f, open(snap, "wb") as g:
                    g.write(f.read())
                want = "mismatch"
            code, log = A.start_refused(srv.dir, "--threads", "1")
            K.check(code not in (0, None) and os.path.basename(snap) in log and
                    "kevy-check" in log, "%s: refused naming the file: %s" % (label, log[-400:]))
            K.check(want in log, "%s: the message says %r: %s" % (label, want, log[-400:]))
        finally:
            srv.cleanup()
            other.cleanup()
        K.log("%s: refused to start" % label)


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's snapshots")
    seed, rng = K.rng_from_env()
    for threads in (1, 2, 4):
        check_round_trip(threads, rng)
    check_bgsave_under_load(rng)
    check_point_in_time(rng)
    check_debug_reload(rng)
    check_snapshot_write_fails(rng)
    check_damaged_snapshot(rng)
    check_damaged_variants(rng)
    check_crash_in_commit(rng)


if __name__ == "__main__":
    K.run_main(main)
