#!/usr/bin/python3
"""A dataset keeps working when the machine changes (issue 20, item 7).

1. Without `threads`, a server runs the dataset's own shard count (a
   directory made with more shards than this machine has CPUs keeps them).
2. With `threads` set to another count, the server re-shards the dataset
   at startup: every key of every type and database (TTLs, hash tags, a
   cross-shard MSET, streams with consumer groups, consumers and pending
   entries) is there, DEBUG DIGEST (shard-count independent) equals the
   source's, each stream's XINFO STREAM FULL (without its times, then its
   times alone) and XPENDING (summary, and each entry without its idle
   time) equal the source's, no file of the old shards is left, kevy-check
   finds the directory clean.  `kevy-dump --replay --shards N` re-shards
   offline to the same state.
3. Crash safety: the re-shard is killed (failpoints, SIGKILL before the
   Nth rename / unlink / fsync / write of the starting process) at every
   point up to the first start that survives; after each kill the next
   start, with either shard count, serves the same digest.  Kills before
   the decision and after it both happen.
4. A full disk during a re-shard: refused with the reason, no decision
   recorded, the old dataset serves every key.
5. After a kill past the decision: kevy-check reports the pending re-shard
   (exit 1) and --fix completes it; kevy-dump refuses the half-moved
   directory; a damaged kevy.reshard makes the server refuse to start.

Environment: KEVY_SERVER (set by CTest).
"""

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402
import aoflib  # noqa: E402

RESHARD = "kevy.reshard"
NSTREAMS = 4   # on several shards, whatever the count


def stream_writes(pipe):
    """Streams with two consumer groups each: deliveries (XREADGROUP without
    NOACK) to three consumers, some acknowledged, one claimed by another
    consumer, one pending entry deleted from the stream, a consumer with
    nothing pending."""
    for i in range(NSTREAMS):
        k, s = "xg:%d" % i, i + 1
        for j in range(1, 13):
            pipe.append(["XADD", k, "%d-%d" % (j, s), "f", "v%d" % j, "n", str(i)])
        pipe.append(["XGROUP", "CREATE", k, "g1", "0"])
        pipe.append(["XGROUP", "CREATE", k, "g2", "0"])
        pipe.append(["XGROUP", "CREATECONSUMER", k, "g2", "idle"])
        pipe.append(["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", k, ">"])
        pipe.append(["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "4", "STREAMS", k, ">"])
        pipe.append(["XREADGROUP", "GROUP", "g2", "carol", "COUNT", "5", "STREAMS", k, ">"])
        pipe.append(["XACK", k, "g1", "1-%d" % s, "6-%d" % s])
        pipe.append(["XACK", k, "g2", "2-%d" % s])
        pipe.append(["XCLAIM", k, "g1", "alice", "0", "5-%d" % s])
        pipe.append(["XDEL", k, "3-%d" % s])


def pairs(flat):
    """A RESP map sent as a flat array (XINFO): [(field, value), ...]."""
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def without_times(full):
    """XINFO STREAM FULL without its times (a PEL entry's delivery time, a
    consumer's seen-time), and those times alone."""
    times, out = [], []
    for field, v in pairs(full):
        if field == b"groups":
            groups = []
            for g in v:
                gout = []
                for gf, gv in pairs(g):
                    if gf == b"pending":
                        times.append([p[2] for p in gv])
                        gv = [p[:2] + p[3:] for p in gv]
                    elif gf == b"consumers":
                        cons = []
                        for cn in gv:
                            cout = []
                            for cf, cv in pairs(cn):
                                if cf == b"seen-time":
                                    times.append(cv)
                                    continue
                                if cf == b"pending":
                                    times.append([p[1] for p in cv])
                                    cv = [p[:1] + p[2:] for p in cv]
                                cout.append((cf, cv))
                            cons.append(cout)
                        gv = cons
                    gout.append((gf, gv))
                groups.append(gout)
            v = groups
        out.append((field, v))
    return out, times


def stream_state(c):
    """Per stream: XINFO STREAM FULL without its times, XPENDING of each
    group (summary, and each entry without its idle time), then the times."""
    state, times = [], []
    for i in range(NSTREAMS):
        k = "xg:%d" % i
        full, t = without_times(c.cmd("XINFO", "STREAM", k, "FULL", "COUNT", "0"))
        K.check(dict(full)[b"length"] == 11 and len(dict(full)[b"groups"]) == 2,
                "%s: XINFO STREAM FULL %r" % (k, full))
        pend = []
        for g in ("g1", "g2"):
            pend.append(c.cmd("XPENDING", k, g))
            pend.append([p[:2] + p[3:] for p in c.cmd("XPENDING", k, g, "-", "+", "100")])
        state.append((k, full, pend))
        times.append(t)
    return state, times


def fill(c):
    pipe = []
    for i in range(300):
        pipe.append(["SET", "s:%d" % i, "v%d" % i])
    for i in range(20):
        pipe.append(["RPUSH", "l:%d" % i, "a", "b", str(i)])
        pipe.append(["HSET", "h:%d" % i, "f", str(i), "g", "x"])
        pipe.append(["SADD", "set:%d" % i, "m1", "m2", str(i)])
        pipe.append(["ZADD", "z:%d" % i, str(i), "m", "1.5", "n"])
        pipe.append(["XADD", "x:%d" % i, "1-%d" % (i + 1), "f", "v"])
        pipe.append(["SET", "{tag}:%d" % i, str(i)])
        pipe.append(["SET", "ttl:%d" % i, "t", "EX", "100000"])
    pipe.append(["PFADD", "hll", "a", "b", "c"])
    pipe.append(["MSET"] + sum([["m:%d" % i, str(i)] for i in range(10)], []))
    pipe.append(["SELECT", "3"])
    pipe.append(["SET", "db3key", "in db 3"])
    pipe.append(["SELECT", "0"])
    stream_writes(pipe)
    c.send(b"".join(K.encode(*p) for p in pipe))
    for r in c.read_replies(len(pipe), timeout=60):
        K.check(not r.startswith(b"-"), "fill reply %r" % r)


def state(srv):
    """(DEBUG DIGEST and the streams' state, the key counts of databases 0
    and 3, the shard count)."""
    with srv.conn() as c:
        digest = (c.cmd("DEBUG", "DIGEST"), stream_state(c))
        size0 = c.cmd("DBSIZE")
        ttl = c.cmd("TTL", "ttl:7")
        c.cmd("SELECT", "3")
        size3 = c.cmd("DBSIZE")
        info = c.cmd("INFO", "server")
    info = info.decode() if isinstance(info, bytes) else info
    shards = [ln for ln in info.split("\r\n") if ln.startswith("kevy_shards:")]
    K.check(shards, "INFO server has kevy_shards")
    K.check(ttl > 90000, "a TTL survives: %r" % (ttl,))
    return digest, (size0, size3), int(shards[0].split(":")[1])


def try_start(srv, timeout, failpoints=None):
    """Start srv's process; True once it answers, False if it died (killed
    by a failpoint, or refused).  Unlike Server.start, a failure keeps the
    directory."""
    env = dict(os.environ)
    if failpoints:
        env["KEVY_FAILPOINTS"] = failpoints
    srv.port = K.free_port()
    srv.exit_code = None
    srv._logf = open(srv.log_path, "ab")
    srv.proc = subprocess.Popen(srv._argv(srv.port), stdin=subprocess.DEVNULL,
                                stdout=srv._logf, stderr=subprocess.STDOUT, cwd=srv.tmpdir,
                                env=env)
    ok, _ = srv._wait_ready(timeout)
    if not ok:
        srv._kill_quietly()
        srv.proc.wait(10)
        srv.proc = None
    return ok


def files_of(d):
    return sorted(f for f in os.listdir(d) if f.startswith("kevy-s"))


def check_clean(d, what):
    rc, out = aoflib.kevy_check(d)
    K.check(rc == 0, "%s: kevy-check exit %d\n%s" % (what, rc, out))


def main():
    K.require_kevy()
    cpus = os.cpu_count() or 1
    more = min(cpus + 1, 8)
    srv = K.Server(args=["--threads", str(more), "--appendfsync", "always"], name="reshard")
    try:
        srv.start()
        with srv.conn() as c:
            fill(c)
        want = state(srv)
        K.check(want[2] == more, "started with %d shards" % more)
        srv.stop()

        # 1. No `threads`: the dataset's own count, whatever the CPUs.
        srv.args = []
        srv.start()
        got = state(srv)
        K.check(got == want, "without threads: %r, want %r" % (got, want))
        K.check(b"has %d shard(s): running %d" % (more, more) in srv.log_tail(20000),
                "the shard count taken from the dataset is logged")
        srv.stop()

        # 2. `threads` differs: re-shard at startup.
        for n in (4, 1, 3):
            srv.args = ["--threads", str(n)]
            srv.start()
            digest, sizes, shards = state(srv)
            K.check((digest, sizes, shards) == (want[0], want[1], n),
                    "re-sharded to %d: %r" % (n, (digest, sizes, shards)))
            srv.stop()
            names = files_of(srv.dir)
            K.check(all(int(f[6:].split("-")[0].split(".")[0]) < n for f in names),
                    "no file of a removed shard is left: %r" % names)
            K.check(not os.path.exists(os.path.join(srv.dir, RESHARD)), "record removed")
            check_clean(srv.dir, "after re-sharding to %d" % n)
        K.check(b"re-sharded the dataset from 1 to 3 shard(s)" in srv.log_tail(40000),
                "the re-shard is logged")

        # 2b. Offline: kevy-dump --replay --shards N, a server on its output.
        for n in (2, 5):
            out = srv.tmpdir + "/replay-%d" % n
            os.mkdir(out)
            rc, sout, err = aoflib.tool("kevy-dump", "--replay", out, "--shards", str(n), srv.dir)
            K.check(rc == 0 and "%d shard(s)" % n in sout, "kevy-dump --replay --shards %d: %d %s%s"
                    % (n, rc, sout, err))
            check_clean(out, "kevy-dump --replay --shards %d" % n)
            replayed = K.Server(args=["--threads", str(n)], name="replayed-%d" % n)
            try:
                shutil.rmtree(replayed.dir)
                shutil.copytree(out, replayed.dir)
                replayed.start()
                got = state(replayed)
                K.check(got == (want[0], want[1], n), "replayed to %d shards: %r, want %r" %
                        (n, got, want))
                replayed.check_clean_exit()
            finally:
                replayed.cleanup()
            shutil.rmtree(out)
        K.log("%d streams with groups, consumers and pending entries: the same XINFO STREAM "
              "FULL (times included) and XPENDING after re-sharding at startup and with "
              "kevy-dump --replay --shards N" % NSTREAMS)

        # 3. Killed at every point of a re-shard (3 -> 2 -> 3 ...).
        decided = undecided = 0
        cur = 3
        for kind in ("rename", "unlink", "fsync", "write"):
            for nth in range(1, 40):
                target = 2 if cur == 3 else 3
                srv.args = ["--threads", str(target)]
                survived = try_start(srv, 20, "%s:%d=kill-before" % (kind, nth))
                if survived:
                    srv.stop()
                    cur = target
                    break
                if os.path.exists(os.path.join(srv.dir, RESHARD)):
                    decided += 1
                else:
                    undecided += 1
                # Either count works after the kill: first the one it
                # was going to, or the old one on odd rounds.
                again = target if nth % 2 else cur
                srv.args = ["--threads", str(again)]
                srv.start()
                digest, sizes, shards = state(srv)
                K.check((digest, sizes, shards) == (want[0], want[1], again),
                        "after a kill at %s #%d, restarted with %d shards: %r" % (
                            kind, nth, again, (digest, sizes, shards)))
                srv.stop()
                cur = again
            else:
                raise K.TestFailure("a start with %s failpoints never survived" % kind)
        K.check(decided > 0 and undecided > 0,
                "kills both before (%d) and after (%d) the decision" % (undecided, decided))
        K.log("killed re-shards: %d before the decision, %d after" % (undecided, decided))

        # A full disk during a re-shard (every write after the first few
        # fails): the start is refused, names the failure, and the old
        # dataset still serves every key with its own count.
        before = files_of(srv.dir)
        target = 2 if cur == 3 else 3
        srv.args = ["--threads", str(target)]
        K.check(not try_start(srv, 20, "write:3+=enospc"), "started on a full disk")
        log = srv.log_tail(4000).decode("utf-8", "replace")
        K.check("re-sharding" in log and "No space left on device" in log and
                "refusing to start" in log, "the refusal says why: %s" % log[-600:])
        K.check(not os.path.exists(os.path.join(srv.dir, RESHARD)), "no decision recorded")
        K.check(set(before) <= set(files_of(srv.dir)), "no old file removed")
        srv.args = ["--threads", str(cur)]
        srv.start()
        digest, sizes, shards = state(srv)
        K.check((digest, sizes, shards) == (want[0], want[1], cur),
                "the old dataset after a failed re-shard: %r" % ((digest, sizes, shards),))
        srv.stop()

        # 4. A pending re-shard and the tools.
        target = 2 if cur == 3 else 3
        pending = None
        for nth in range(1, 40):
            srv.args = ["--threads", str(target)]
            if try_start(srv, 20, "unlink:%d=kill-before" % nth):
                srv.stop()
                break
            if os.path.exists(os.path.join(srv.dir, RESHARD)):
                pending = nth
                break
        K.check(pending is not None, "a kill left a decided re-shard")
        keep = srv.dir + ".copy"
        shutil.copytree(srv.dir, keep)
        rc, out = aoflib.kevy_check(srv.dir)
        K.check(rc == 1 and "re-shard record" in out and "not completed" in out,
                "kevy-check on a pending re-shard: %d\n%s" % (rc, out))
        rc, _, err = aoflib.tool("kevy-dump", srv.dir)
        K.check(rc != 0 and "re-shard was decided and not completed" in err,
                "kevy-dump refuses a half-moved directory: %d %s" % (rc, err))
        rc, out = aoflib.kevy_check(srv.dir, "--fix", "--yes")
        K.check(rc == 0 and "completed now" in out, "kevy-check --fix: %d\n%s" % (rc, out))
        check_clean(srv.dir, "after --fix")
        srv.args = []
        srv.start()
        digest, sizes, shards = state(srv)
        K.check((digest, sizes, shards) == (want[0], want[1], target),
                "after kevy-check --fix: %r" % ((digest, sizes, shards),))
        srv.check_clean_exit()

        # A damaged record: refused, the directory untouched.
        shutil.rmtree(srv.dir)
        shutil.copytree(keep, srv.dir)
        path = os.path.join(srv.dir, RESHARD)
        with open(path, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0x10]))
        before = files_of(srv.dir)
        srv.args = []
        K.check(not try_start(srv, 10), "started with a damaged re-shard record")
        log = srv.log_tail(3000).decode("utf-8", "replace")
        K.check("re-shard record checksum mismatch" in log and "kevy-check" in log,
                "the refusal says why: %s" % log[-800:])
        K.check(files_of(srv.dir) == before, "a refused start changed nothing")
        rc, out = aoflib.kevy_check(srv.dir)
        K.check(rc == 2, "kevy-check on a damaged record: %d\n%s" % (rc, out))
        shutil.rmtree(keep, ignore_errors=True)
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
