#!/usr/bin/python3
"""kill -9 under load: every acknowledged write survives (the AOF contract).

- appendfsync always, --threads 1 and 2 (io_uring) and --threads 2 --io
  epoll: 4 client threads each write their own keys (SET, INCR, RPUSH, HSET,
  SADD, ZADD, MSET across shards, and a MULTI/EXEC spanning shards), with and
  without {hashtags}, unique increasing values, and record every reply in an
  oracle.  The server is killed with SIGKILL 0.3-1.5 s into the load, restarted
  on the same directory, and every acknowledged write must be there: a key
  holds its last acknowledged value or a later one this client sent; a counter
  is >= its last acknowledged value and <= the increments attempted; a list
  holds every acknowledged element in order plus possibly unacknowledged
  ones; a set/zset holds every acknowledged member.  3 kill cycles each.
- appendfsync everysec: the same load for ~2.5-3.2 s, then kill -9: every
  acknowledged write must be there (a reply waits for its record's write,
  and kill -9 keeps the page cache; the everysec window is a power-loss
  bound, which a kill cannot test).
- A torn tail made with the failpoint `write:1+=short` (every append write
  leaves half a record), then kill -9: the restart logs "torn tail at offset",
  quarantines the bytes in <segment>.torn-*, keeps every acknowledged key and
  accepts new writes, which survive another kill -9 with no torn tail reported.
"""

import glob
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

NWORKERS = 4
NSTR, NCTR, NLIST, NHASH, NSET, NZSET, NMSET = 6, 2, 2, 2, 2, 2, 4
WORKER_OP_LIMIT = 200000     # bound per worker per cycle (never reached in practice)


class Oracle:
    """What one client attempted and what was acknowledged (with the time the
    acknowledgement arrived).  Each client owns its keys, so no other client
    changes them."""

    def __init__(self):
        self.att = {}     # item -> set of attempted values (seqs) / int count for counters
        self.acks = {}    # item -> list of (ack_time, value)
        self.kind = {}    # item -> "str" | "ctr" | "list" | "set" | "zset"

    def declare(self, item, kind):
        self.kind[item] = kind
        self.att[item] = 0 if kind == "ctr" else set()
        self.acks[item] = []

    def attempt(self, item, v=None):
        if self.kind[item] == "ctr":
            self.att[item] += 1
        else:
            self.att[item].add(v)

    def ack(self, item, v, t):
        self.acks[item].append((t, v))

    def required(self, item, cutoff):
        """The acknowledged values (or max value) at or before cutoff."""
        vals = [v for (t, v) in self.acks[item] if t <= cutoff]
        return vals

    def rebase(self, item, observed, t):
        """After a verified restart the observed state is on disk: it becomes
        the acknowledged baseline for the next cycle."""
        k = self.kind[item]
        if k in ("str", "ctr"):
            self.acks[item] = [(t, observed)] if observed is not None else []
        else:
            self.acks[item] = [(t, v) for v in observed]


def item_keys(w):
    """The items of worker w: (kind, key, field-or-None)."""
    items = []

    def key(name, i):
        # Half the keys carry a hashtag shared with other workers' keys (so
        # several workers hit the same shard), half hash on their own name.
        if i % 2:
            return "{t%d}w%d:%s%d" % ((w + i) % 3, w, name, i)
        return "w%d:%s%d" % (w, name, i)

    for i in range(NSTR):
        items.append(("str", key("s", i), None))
    for i in range(NCTR):
        items.append(("ctr", key("c", i), None))
    for i in range(NLIST):
        items.append(("list", key("l", i), None))
    for i in range(NHASH):
        for f in range(3):
            items.append(("str", key("h", i), "f%d" % f))
    for i in range(NSET):
        items.append(("set", key("S", i), None))
    for i in range(NZSET):
        items.append(("zset", key("z", i), None))
    for i in range(NMSET):
        items.append(("str", key("m", i), None))
    items.append(("ctr", "w%d:txc" % w, None))
    items.append(("list", "{t%d}w%d:txl" % ((w + 1) % 3, w), None))
    return items


class Worker:
    def __init__(self, w):
        self.w = w
        self.oracle = Oracle()
        self.items = item_keys(w)
        for kind, key, field in self.items:
            self.oracle.declare((key, field), kind)
        self.by_kind = {}
        for kind, key, field in self.items:
            if key.endswith("txc") or key.endswith("txl"):
                continue
            name = key.split(":")[-1][0]
            self.by_kind.setdefault(name, []).append((key, field))
        self.seq = 0
        self.acked = 0
        self.attempted = 0
        self.errors = []

    def value(self):
        self.seq += 1
        return self.seq

    def run(self, port, rng, stop):
        o = self.oracle
        try:
            c = K.RawConn(port, timeout=10.0)
        except OSError as e:
            self.errors.append("w%d: connect: %r" % (self.w, e))
            return
        try:
            for _ in range(WORKER_OP_LIMIT):
                if stop.is_set():
                    return
                op = rng.choice("sclhSzmx")
                v = self.value()
                self.attempted += 1
                if op == "x":
                    ctr, lst = ("w%d:txc" % self.w, None), ("{t%d}w%d:txl" % ((self.w + 1) % 3, self.w), None)
                    o.attempt(ctr)
                    o.attempt(lst, v)
                    c.send(K.encode("MULTI") + K.encode("INCR", ctr[0]) +
                           K.encode("RPUSH", lst[0], v) + K.encode("EXEC"))
                    r = c.read_replies(4)
                    t = time.monotonic()
                    res = K.parse(r[3])
                    if r[:3] != [b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n"] or \
                            not (isinstance(res, list) and len(res) == 2 and isinstance(res[0], int)):
                        self.errors.append("w%d: MULTI/EXEC replied %r" % (self.w, r))
                        return
                    o.ack(ctr, res[0], t)
                    o.ack(lst, v, t)
                    self.acked += 1
                    continue
                if op == "m":
                    keys = rng.sample(self.by_kind["m"], rng.choice((2, 3)))
                    for k in keys:
                        o.attempt(k, v)
                    args = []
                    for k, _ in keys:
                        args += [k, "%d:%d" % (self.w, v)]
                    r = c.call("MSET", *args)
                    t = time.monotonic()
                    if r != b"+OK\r\n":
                        self.errors.append("w%d: MSET replied %r" % (self.w, r))
                        return
                    for k in keys:
                        o.ack(k, v, t)
                    self.acked += 1
                    continue
                item = rng.choice(self.by_kind[op])
                key, field = item
                o.attempt(item, v)
                if op == "s":
                    cmd, want = ("SET", key, "%d:%d" % (self.w, v)), b"+OK\r\n"
                elif op == "c":
                    cmd, want = ("INCR", key), None
                elif op == "l":
                    cmd, want = ("RPUSH", key, v), None
                elif op == "h":
                    cmd, want = ("HSET", key, field, "%d:%d" % (self.w, v)), None
                elif op == "S":
                    cmd, want = ("SADD", key, v), b":1\r\n"
                else:
                    cmd, want = ("ZADD", key, v, "m%d" % v), b":1\r\n"
                r = c.call(*cmd)
                t = time.monotonic()
                if want is not None and r != want or not (r.startswith(b":") or r.startswith(b"+")):
                    self.errors.append("w%d: %s replied %r" % (self.w, cmd[0], r))
                    return
                o.ack(item, K.parse(r) if op == "c" else v, t)
                self.acked += 1
        except (OSError, K.ConnectionClosed):
            return   # the server was killed: the write in flight is unacknowledged
        finally:
            c.close()

    def read_state(self, conn):
        """{item: observed} for every item, read with one pipeline."""
        cmds = []
        for kind, key, field in self.items:
            if kind == "str" and field is None:
                cmds.append(K.encode("GET", key))
            elif kind == "str":
                cmds.append(K.encode("HGET", key, field))
            elif kind == "ctr":
                cmds.append(K.encode("GET", key))
            elif kind == "list":
                cmds.append(K.encode("LRANGE", key, 0, -1))
            elif kind == "set":
                cmds.append(K.encode("SMEMBERS", key))
            else:
                cmds.append(K.encode("ZRANGE", key, 0, -1, "WITHSCORES"))
        conn.send(b"".join(cmds))
        replies = conn.read_replies(len(cmds), timeout=30)
        out = {}
        for (kind, key, field), raw in zip(self.items, replies):
            r = K.parse(raw)
            item = (key, field)
            if kind == "str":
                if r is None:
                    out[item] = None
                else:
                    w, _, s = r.partition(b":")
                    K.check(int(w) == self.w, "%r holds another client's value %r" % (item, r))
                    out[item] = int(s)
            elif kind == "ctr":
                out[item] = 0 if r is None else int(r)
            elif kind == "list":
                out[item] = [int(x) for x in r]
            elif kind == "set":
                out[item] = sorted(int(x) for x in r)
            else:
                pairs = list(zip(r[0::2], r[1::2]))
                for m, sc in pairs:
                    K.check(m == b"m%d" % int(sc), "%r: member %r has score %r" % (item, m, sc))
                out[item] = sorted(int(sc) for _, sc in pairs)
        return out

    def verify(self, state, cutoff):
        """Violations of the contract for acknowledgements at or before cutoff
        (a list of strings; empty = all present)."""
        o = self.oracle
        bad = []
        for kind, key, field in self.items:
            item = (key, field)
            got = state[item]
            req = o.required(item, cutoff)
            att = o.att[item]
            if kind == "str":
                if got is not None and got not in att and not any(v == got for _, v in o.acks[item]):
                    bad.append("%r = %r was never written" % (item, got))
                if req and (got is None or got < max(req)):
                    bad.append("%r = %r, acknowledged %r" % (item, got, max(req)))
            elif kind == "ctr":
                if req and got < max(req):
                    bad.append("counter %r = %d < acknowledged %d" % (item, got, max(req)))
                if got > att:
                    bad.append("counter %r = %d > %d attempted" % (item, got, att))
            elif kind == "list":
                if any(a >= b for a, b in zip(got, got[1:])):
                    bad.append("list %r out of order: %r" % (item, got[-10:]))
                extra = set(got) - att - {v for _, v in o.acks[item]}
                if extra:
                    bad.append("list %r has unwritten elements %r" % (item, sorted(extra)[:5]))
                missing = set(req) - set(got)
                if missing:
                    bad.append("list %r lost acknowledged %r" % (item, sorted(missing)[:5]))
            else:
                extra = set(got) - att - {v for _, v in o.acks[item]}
                if extra:
                    bad.append("%s %r has unwritten members %r" % (kind, item, sorted(extra)[:5]))
                missing = set(req) - set(got)
                if missing:
                    bad.append("%s %r lost acknowledged %r" % (kind, item, sorted(missing)[:5]))
        return bad

    def rebase(self, state, t):
        for kind, key, field in self.items:
            self.oracle.rebase((key, field), state[(key, field)], t)


def load_and_kill(srv, workers, rng, kill_after):
    """Run the workers against srv, SIGKILL it after kill_after seconds.
    Returns (kill_time, acked-during-cycle)."""
    stop = threading.Event()
    acked0 = sum(w.acked for w in workers)
    threads = [threading.Thread(target=w.run, args=(srv.port, random.Random(rng.random()), stop))
               for w in workers]
    for t in threads:
        t.start()
    time.sleep(kill_after)
    t_kill = time.monotonic()
    A.kill9(srv)
    stop.set()
    for t in threads:
        t.join(30)
    K.check(not any(t.is_alive() for t in threads), "workers stopped after the kill")
    errs = [e for w in workers for e in w.errors]
    K.check(not errs, "unexpected replies under load: %s" % errs[:5])
    return t_kill, sum(w.acked for w in workers) - acked0


def crash_cycles(label, args, cycles, rng, kill_range, cutoff_s):
    """Load + kill -9 + restart + verify, `cycles` times.  cutoff_s: only
    writes acknowledged more than cutoff_s before the kill must survive
    (0 = all of them)."""
    workers = [Worker(w) for w in range(NWORKERS)]
    srv = K.kevy(*args).start()
    total_acked = 0
    recent_lost = 0
    torn = 0
    try:
        for cycle in range(cycles):
            t_kill, acked = load_and_kill(srv, workers, rng, rng.uniform(*kill_range))
            total_acked += acked
            K.check(acked > 0, "%s cycle %d: some writes were acknowledged" % (label, cycle))
            off = A.restart(srv)
            lines = A.log_since(srv, off)
            K.check(b"DB loaded from disk" in lines, "%s: the restart loaded the AOF:\n%s" %
                    (label, lines.decode("utf-8", "replace")))
            if b"torn tail at offset" in lines:
                torn += 1
            with srv.conn(timeout=30) as c:
                for w in workers:
                    state = w.read_state(c)
                    bad = w.verify(state, t_kill - cutoff_s if cutoff_s else float("inf"))
                    K.check(not bad, "%s cycle %d: acknowledged writes missing after kill -9: %s"
                            % (label, cycle, bad[:8]))
                    if cutoff_s:
                        recent_lost += len(w.verify(state, float("inf")))
                    w.rebase(state, time.monotonic())
        K.check(not srv.log_alarms(), "%s: sanitizer/assert reports: %r" % (label, srv.log_alarms()[:3]))
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    attempted = sum(w.attempted for w in workers)
    K.log("%s: acked %d of %d writes, 0 missing after %d kills%s%s" % (
        label, total_acked, attempted, cycles,
        "; %d item(s) behind their last ack within %.0fs of a kill" % (recent_lost, cutoff_s)
        if cutoff_s else "",
        "; %d restart(s) cut a torn tail" % torn if torn else ""))


def check_torn_tail(io, rng):
    """A half-written record at the end of the segment, cut at restart."""
    label = "torn tail (%s)" % io
    # Buffered appends: a short write of a direct one (aof-direct-io) keeps
    # a prefix of whole blocks, which may hold nothing of the new record
    # (then there is no torn tail to find; crash_faults covers that case).
    srv = K.kevy("--threads", "1", "--appendfsync", "always", "--io", io,
                 "--aof-direct-io", "no").start()
    try:
        n = rng.randrange(10, 30)
        with srv.conn() as c:
            for i in range(n):
                K.check(c.call("SET", "old%d" % i, "v%d" % i) == b"+OK\r\n", "SET old")
            K.check(c.call("RPUSH", "oldlist", *range(n)) == b":%d\r\n" % n, "RPUSH")
            K.check(c.call("DEBUG", "FAILPOINTS", "write:1+=short") == b"+OK\r\n",
                    "DEBUG FAILPOINTS accepted")
            with srv.conn() as p:
                p.send(K.encode("SET", "torn", "x" * rng.randrange(10, 3000)))
                r = A.try_read(p, 0.3)
                K.check(r is None, "%s: the write with a short append got no reply (%r)" % (label, r))
                A.kill9(srv)
        off = A.restart(srv)
        lines = A.log_since(srv, off).decode("utf-8", "replace")
        K.check("torn tail at offset" in lines, "%s: the restart reports the torn tail:\n%s" % (label, lines))
        q = glob.glob(os.path.join(srv.dir, "kevy-s0-g*.aof.torn-*"))
        K.check(len(q) == 1 and os.path.getsize(q[0]) > 0,
                "%s: one non-empty quarantine file: %r in %r" % (label, q, os.listdir(srv.dir)))
        qsize = os.path.getsize(q[0])
        with srv.conn() as c:
            for i in range(n):
                K.check(c.call("GET", "old%d" % i) == b"$%d\r\nv%d\r\n" % (len("v%d" % i), i),
                        "%s: acknowledged old%d survives" % (label, i))
            K.check(c.cmd("LRANGE", "oldlist", 0, -1) == [b"%d" % i for i in range(n)],
                    "%s: acknowledged list survives" % label)
            K.check(c.call("GET", "torn") == b"$-1\r\n", "%s: the torn write is not replayed" % label)
            for i in range(n):
                K.check(c.call("SET", "new%d" % i, "n%d" % i) == b"+OK\r\n", "SET new after recovery")
        A.kill9(srv)
        off = A.restart(srv)
        lines = A.log_since(srv, off).decode("utf-8", "replace")
        K.check("torn tail" not in lines, "%s: no torn tail on the next restart:\n%s" % (label, lines))
        with srv.conn() as c:
            for i in range(n):
                K.check(c.call("GET", "old%d" % i) == b"$%d\r\nv%d\r\n" % (len("v%d" % i), i),
                        "%s: old%d survives a second restart" % (label, i))
                K.check(c.call("GET", "new%d" % i) == b"$%d\r\nn%d\r\n" % (len("n%d" % i), i),
                        "%s: new%d (written after recovery) survives kill -9" % (label, i))
        K.check(glob.glob(os.path.join(srv.dir, "*.torn-*")) == q, "%s: no new quarantine file" % label)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("%s: %d acked keys kept, tail quarantined (%d bytes), %d later writes survive" % (
        label, n + 1, qsize, n))


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's AOF (kill -9 and failpoints)")
    seed, rng = K.rng_from_env()
    always = ("--appendfsync", "always")
    t0 = time.monotonic()
    crash_cycles("always --threads 1", always + ("--threads", "1"), 3, rng, (0.3, 1.5), 0)
    crash_cycles("always --threads 2", always + ("--threads", "2"), 3, rng, (0.3, 1.5), 0)
    crash_cycles("always --threads 2 --io epoll", always + ("--threads", "2", "--io", "epoll"),
                 3, rng, (0.3, 1.5), 0)
    crash_cycles("everysec --threads 2", ("--appendfsync", "everysec", "--threads", "2"),
                 2, rng, (2.5, 3.2), 0)
    check_torn_tail("uring", rng)
    check_torn_tail("epoll", rng)
    K.log("all crash checks in %.1fs (seed %d)" % (time.monotonic() - t0, seed))


if __name__ == "__main__":
    K.run_main(main)
