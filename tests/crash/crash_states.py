#!/usr/bin/python3
"""Crash states from the I/O trace: what a power cut could leave, checked.

The ALICE / CrashMonkey method without FUSE (docs/durability.md, "Crash
states"): a real kevy-server runs a workload with KEVY_TRACE on, so every file
operation it makes (bytes, barriers, ring links) and every reply it sends are
recorded.  tests/crash/crash_states (C, linked with libkevy) then builds the
file states a power cut could leave at each crash point -- every prefix ending
at an fsync barrier, the not-yet-fsynced writes after it applied or not, one
at a time or torn at 512-byte and 4 KiB boundaries, directory operations not
followed by a directory fsync undone -- and for each runs kevy-check's code,
the offline load and the server's own recovery.  It fails a state where
kevy-check calls it damaged, recovery disagrees with kevy-check, the
directory is not clean after recovery, or the offline load and recovery
differ.  This script checks every state's recovered keys against the
workload:

- appendfsync always: every write acknowledged before the crash point is
  there.  Each client sends one command at a time, so at a crash point where
  client c had been sent k replies, each of its keys holds the state after
  its first k commands, or after k+1 (the one in flight); anything else is a
  lost acknowledged write or a value never written;
- everysec: the loss window.  Every reply sent before the oldest of the
  shards' last completed fsyncs was issued (the horizon) is honoured; after
  it a key may hold any state it had between its last write acknowledged
  before the horizon and command k+1, never one it never had;
- no: a key may hold any state it had up to command k+1, never one it
  never had, and the server always starts;
- a stream with a consumer group (XADD, XGROUP CREATE, XREADGROUP, XACK,
  XCLAIM, XDEL) holds its entries, its group's last delivered ID and its
  pending entries with their owners and delivery counts;
- an EVAL of a script setting three keys of several shards is all or
  nothing, as a cross-shard MULTI/EXEC;
- a DEL of three keys over the shards replies how many the model holds;
- a MULTI/EXEC on one shard ({hashtag} keys) is all or nothing: its two
  values are equal and its counter matches them;
- no key the workload never wrote;
- kevy-server itself, started on a sample of the states (every 200th),
  starts and holds exactly the keys the in-process recovery held.

Runs: always with 2 shards (io_uring) and with 1 shard on the epoll reactor,
everysec with 3 shards and no with 4 (units over 3 and 4 shards), each with
BGSAVE/BGREWRITEAOF during the load
(snapshot blocks, rotation, manifest commits, unlinks).  CI explores >= 2,000
states; KEVY_CRASH_LONG=1 runs longer workloads with more variants per point.
Prints the seed (KEVY_SEED=<n> replays) and the number of states explored.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

LONG = os.environ.get("KEVY_CRASH_LONG") == "1"
OPS_PER_WORKER = 600 if LONG else 110
VARIANTS = 16 if LONG else 5
NWORKERS = 4


def tool(name):
    for d in (os.environ.get("KEVY_BIN_DIR", ""), os.path.dirname(K.kevy_binary())):
        p = os.path.join(d, name) if d else ""
        if p and os.path.isfile(p):
            return p
    K.skip("%s is not built" % name)


# ---- key states, as the model keeps them and as keydump prints them -------

def canon(cmds):
    """A key's state from the commands keydump emits to recreate it."""
    kind, val, ttl = None, None, False
    for c in cmds:
        op = c[0].upper()
        if op == "DEL":
            kind, val, ttl = None, None, False
        elif op == "SET":
            kind, val = "str", c[2]
            ttl = any(a.upper() == "PXAT" for a in c[3:])
        elif op == "RPUSH":
            if kind != "list":
                kind, val = "list", []
            val = val + c[2:]
        elif op == "SADD":
            if kind != "set":
                kind, val = "set", set()
            val = val | set(c[2:])
        elif op == "HSET":
            if kind != "hash":
                kind, val = "hash", {}
            val = dict(val)
            for i in range(2, len(c) - 1, 2):
                val[c[i]] = c[i + 1]
        elif op == "ZADD":
            if kind != "zset":
                kind, val = "zset", {}
            val = dict(val)
            for i in range(2, len(c) - 1, 2):
                val[c[i + 1]] = float(c[i])
        elif op == "PEXPIREAT":
            ttl = True
        elif op == "XADD":
            if kind != "stream":
                kind, val = "stream", ((), None)
            if c[2].upper() != "MAXLEN":      # MAXLEN 0: an empty stream
                val = (val[0] + ((c[2], c[4]),), val[1])
        elif op == "XSETID" or (op == "XGROUP" and c[1].upper() == "CREATECONSUMER"):
            pass
        elif op == "XGROUP" and c[1].upper() == "CREATE":
            val = (val[0], (c[4], {}))
        elif op == "XCLAIM":
            # XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
            pel = dict(val[1][1])
            pel[c[5]] = (c[3], int(c[9]))
            val = (val[0], (val[1][0], pel))
        else:
            raise K.TestFailure("keydump emitted an unexpected command %r" % (c,))
    return freeze(kind, val, ttl)


def freeze(kind, val, ttl):
    if kind is None:
        return None
    if kind in ("set",):
        val = tuple(sorted(val))
    elif kind in ("hash", "zset"):
        val = tuple(sorted(val.items()))
    elif kind == "list":
        val = tuple(val)
    elif kind == "stream":
        # (entries, group): the group as its last delivered ID and its
        # pending entries whose stream entries still exist (keydump leaves
        # the others out, as Redis's rewrite does), with owner and count.
        entries, grp = val
        if grp is not None:
            live = {e[0] for e in entries}
            grp = (grp[0], tuple(sorted((i, o) for i, o in grp[1].items() if i in live)))
        val = (tuple(entries), grp)
    return (kind, val, ttl)


class Worker:
    """One client: its commands, one at a time, and the state of each of its
    keys after each command.  Keys are its own: no other client writes them."""

    def __init__(self, idx, port, rng):
        self.idx = idx
        self.port = port
        self.rng = rng
        self.replies = []       # cumulative reply bytes after each command
        self.history = {}       # key -> [(cmd index, frozen state)], in order
        self.model = {}         # key -> (kind, value, ttl) live
        self.err = None
        self.conn_id = None
        self.txn = 0
        self.n = 0

    def k(self, name):
        return "w%d:%s" % (self.idx, name)

    def record(self, key):
        kind, val, ttl = self.model.get(key, (None, None, False))
        self.history.setdefault(key, []).append((len(self.replies) - 1, freeze(kind, val, ttl)))

    def call(self, c, *args):
        raw = c.call(*args)
        self.replies.append((self.replies[-1] if self.replies else 0) + len(raw))
        if raw.startswith(b"-"):
            raise K.TestFailure("worker %d: %s replied %r" % (self.idx, args, raw))
        return raw

    def stream_step(self, c, n):
        """A stream with a consumer group: XADD (explicit, increasing IDs),
        XGROUP CREATE, XREADGROUP of the next entry, XACK, XCLAIM ... JUSTID
        to another consumer, XDEL.  The model: entries, the group's last
        delivered ID and its PEL (owner, delivery count)."""
        key = self.k("x")
        m = self.model
        entries, grp = m[key][1] if key in m else ((), None)

        def idn(i):
            return tuple(int(x) for x in i.split("-"))
        r = self.rng.random()
        pend = [i for i in (grp[1] if grp else {}) if i in {e[0] for e in entries}]
        if grp is not None and r < 0.3:
            after = [e for e in entries if idn(e[0]) > idn(grp[0])]
            cons = "c%d" % self.rng.randrange(2)
            raw = self.call(c, "XREADGROUP", "GROUP", "g", cons, "COUNT", "1", "STREAMS", key, ">")
            if after:
                eid = after[0][0]
                if eid.encode() not in raw:
                    raise K.TestFailure("XREADGROUP replied %r, the model expects %s" % (raw, eid))
                pel = dict(grp[1])
                pel[eid] = (cons, 1)
                grp = (eid, pel)
            elif raw != b"*-1\r\n":
                raise K.TestFailure("XREADGROUP replied %r, the model expects nothing" % raw)
        elif grp is not None and grp[1] and r < 0.45:
            eid = self.rng.choice(sorted(grp[1]))
            raw = self.call(c, "XACK", key, "g", eid)
            if raw != b":1\r\n":
                raise K.TestFailure("XACK of a pending entry replied %r" % raw)
            pel = dict(grp[1])
            del pel[eid]
            grp = (grp[0], pel)
        elif pend and r < 0.55:
            eid = self.rng.choice(sorted(pend))
            cons = "c%d" % self.rng.randrange(3)
            raw = self.call(c, "XCLAIM", key, "g", cons, "0", eid, "JUSTID")
            if eid.encode() not in raw:
                raise K.TestFailure("XCLAIM replied %r, the model expects %s" % (raw, eid))
            pel = dict(grp[1])
            pel[eid] = (cons, pel[eid][1])
            grp = (grp[0], pel)
        elif key in m and grp is None and r < 0.65:
            self.call(c, "XGROUP", "CREATE", key, "g", "0")
            grp = ("0-0", {})
        elif entries and r < 0.72:
            eid = self.rng.choice(entries)[0]
            self.call(c, "XDEL", key, eid)
            entries = tuple(e for e in entries if e[0] != eid)
        else:
            eid = "%d-1" % n
            self.call(c, "XADD", key, eid, "f", "v%d" % n)
            entries = entries + ((eid, "v%d" % n),)
        m[key] = ("stream", (entries, grp), False)
        self.record(key)

    def step(self, c):
        r = self.rng.random()
        self.n += 1
        n = self.n
        m = self.model
        if self.rng.random() < 0.1:
            self.stream_step(c, n)
        elif r < 0.16:
            key = self.k("s%d" % self.rng.randrange(4))
            self.call(c, "SET", key, "v%d" % n)
            m[key] = ("str", "v%d" % n, False)
            self.record(key)
        elif r < 0.22:
            key = self.k("e%d" % self.rng.randrange(2))
            self.call(c, "SET", key, "v%d" % n, "EX", "100000")
            m[key] = ("str", "v%d" % n, True)
            self.record(key)
        elif r < 0.32:
            key = self.k("ctr")
            self.call(c, "INCR", key)
            cur = int(m[key][1]) if key in m else 0
            m[key] = ("str", str(cur + 1), False)
            self.record(key)
        elif r < 0.42:
            key = self.k("l")
            self.call(c, "RPUSH", key, "x%d" % n)
            m[key] = ("list", (m[key][1] if key in m else []) + ["x%d" % n], False)
            self.record(key)
        elif r < 0.46 and self.k("l") in m:
            key = self.k("l")
            self.call(c, "LPOP", key)
            rest = m[key][1][1:]
            if rest:
                m[key] = ("list", rest, False)
            else:
                del m[key]
            self.record(key)
        elif r < 0.54:
            key = self.k("h")
            f = "f%d" % self.rng.randrange(6)
            self.call(c, "HSET", key, f, "v%d" % n)
            h = dict(m[key][1]) if key in m else {}
            h[f] = "v%d" % n
            m[key] = ("hash", h, False)
            self.record(key)
        elif r < 0.62:
            key = self.k("set")
            mem = "m%d" % self.rng.randrange(12)
            if self.rng.random() < 0.3 and key in m:
                self.call(c, "SREM", key, mem)
                rest = set(m[key][1]) - {mem}
                if rest:
                    m[key] = ("set", rest, False)
                else:
                    del m[key]
            else:
                self.call(c, "SADD", key, mem)
                m[key] = ("set", (set(m[key][1]) if key in m else set()) | {mem}, False)
            self.record(key)
        elif r < 0.70:
            key = self.k("z")
            mem = "m%d" % self.rng.randrange(8)
            self.call(c, "ZADD", key, str(n), mem)
            z = dict(m[key][1]) if key in m else {}
            z[mem] = float(n)
            m[key] = ("zset", z, False)
            self.record(key)
        elif r < 0.74 and self.rng.random() < 0.5:
            key = self.k("s%d" % self.rng.randrange(4))
            self.call(c, "DEL", key)
            m.pop(key, None)
            self.record(key)
        elif r < 0.74:
            # Three keys spread over the shards by their hash, some there,
            # some not: a DEL that finds keys on one shard only is a plain
            # record of that shard under always (docs/durability.md,
            # "Clean reads"), a unit otherwise.
            keys = [self.k("s%d" % i) for i in self.rng.sample(range(4), 3)]
            there = sum(1 for key in keys if key in m)
            raw = self.call(c, "DEL", *keys)
            if raw != b":%d\r\n" % there:
                raise K.TestFailure("DEL of %d live keys replied %r" % (there, raw))
            for key in keys:
                m.pop(key, None)
                self.record(key)
        elif r < 0.78:
            key = self.k("s%d" % self.rng.randrange(4))
            raw = self.call(c, "EXPIRE", key, "100000")
            if key in m:
                if raw != b":1\r\n":
                    raise K.TestFailure("EXPIRE on a live key replied %r" % raw)
                m[key] = (m[key][0], m[key][1], True)
            self.record(key)
        elif r < 0.84:
            # Databases: a key written in database 2, then moved to 3 (the
            # explorer names a key of database d > 0 "@d/key").
            key = self.k("mv")
            in2, in3 = "@2/" + key, "@3/" + key
            self.call(c, "SELECT", "3")
            self.call(c, "DEL", key)
            m.pop(in3, None)
            self.record(in3)
            self.call(c, "SELECT", "2")
            self.call(c, "SET", key, "v%d" % n)
            m[in2] = ("str", "v%d" % n, False)
            self.record(in2)
            raw = self.call(c, "MOVE", key, "3")
            if raw != b":1\r\n":
                raise K.TestFailure("MOVE to an empty database replied %r" % raw)
            del m[in2]
            m[in3] = ("str", "v%d" % n, False)
            self.record(in2)
            self.record(in3)
            self.call(c, "SELECT", "0")
        elif r < 0.90:
            self.txn += 1
            t = self.txn
            a, b, cnt = ("{w%dt}a" % self.idx, "{w%dt}b" % self.idx, "{w%dt}n" % self.idx)
            self.call(c, "MULTI")
            self.call(c, "SET", a, "t%d" % t)
            self.call(c, "SET", b, "t%d" % t)
            self.call(c, "INCR", cnt)
            raw = self.call(c, "EXEC")
            if not raw.startswith(b"*3"):
                raise K.TestFailure("EXEC replied %r" % raw)
            m[a] = ("str", "t%d" % t, False)
            m[b] = ("str", "t%d" % t, False)
            m[cnt] = ("str", str(t), False)
            for key in (a, b, cnt):
                self.record(key)
        elif r < 0.95:
            # MULTI/EXEC over every shard: four keys without a hash tag,
            # spread by their hash; one unit across shards.
            self.xtxn = getattr(self, "xtxn", 0) + 1
            t = self.xtxn
            keys = [self.k("x%d" % i) for i in range(4)]
            self.call(c, "MULTI")
            for key in keys:
                self.call(c, "SET", key, "x%d" % t)
            raw = self.call(c, "EXEC")
            if not raw.startswith(b"*4"):
                raise K.TestFailure("EXEC replied %r" % raw)
            for key in keys:
                m[key] = ("str", "x%d" % t, False)
                self.record(key)
        elif r < 0.975:
            # A script setting three keys spread over the shards: a unit
            # across shards too (docs/scripting.md).
            keys = [self.k("lua%d" % i) for i in range(3)]
            raw = self.call(c, "EVAL", "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) "
                            "end return #KEYS", "3", *keys, "e%d" % n)
            if raw != b":3\r\n":
                raise K.TestFailure("EVAL replied %r" % raw)
            for key in keys:
                m[key] = ("str", "e%d" % n, False)
                self.record(key)
        else:
            k1, k2 = self.k("m1"), self.k("m2")
            self.call(c, "MSET", k1, "v%d" % n, k2, "v%d" % n)
            m[k1] = ("str", "v%d" % n, False)
            m[k2] = ("str", "v%d" % n, False)
            self.record(k1)
            self.record(k2)

    def run(self, nops, deadline):
        try:
            with K.RawConn(self.port, timeout=30) as c:
                raw = self.call(c, "CLIENT", "ID")
                self.conn_id = int(raw[1:].strip())
                for _ in range(nops):
                    if time.monotonic() > deadline:
                        break
                    self.step(c)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.err = e


# ---- one traced run -------------------------------------------------------

def traced_run(label, args, rng, workdir):
    """Run the workload on a fresh server with the trace on; returns
    (trace path, data dir, workers)."""
    trace = os.path.join(workdir, "%s.trace" % label)
    os.environ["KEVY_TRACE"] = trace
    try:
        srv = K.Server("kevy", args=args, name="states-" + label, keep_dir=True).start()
    finally:
        del os.environ["KEVY_TRACE"]
    try:
        workers = [Worker(i, srv.port, random.Random(rng.randrange(2 ** 32)))
                   for i in range(NWORKERS)]
        deadline = time.monotonic() + (600 if LONG else 60)
        threads = [threading.Thread(target=w.run, args=(OPS_PER_WORKER, deadline))
                   for w in workers]
        for t in threads:
            t.start()
        # Snapshots during the load: blocks, rotation, manifest commits.
        with srv.conn() as admin:
            for i in range(3 if not LONG else 8):
                time.sleep(0.15 + rng.random() * 0.3)
                r = admin.call("BGSAVE" if i % 2 == 0 else "BGREWRITEAOF")
                K.check(not r.startswith(b"-") or b"in progress" in r, "BGSAVE replied %r" % r)
        for t in threads:
            t.join(timeout=700)
        for w in workers:
            if w.err:
                raise w.err
        with srv.conn() as admin:
            A.wait_for(lambda: A.info(admin).get("rdb_bgsave_in_progress") == "0", 30)
        data_dir = srv.dir
        A.kill9(srv)
    finally:
        srv._kill_quietly() if srv.alive() else None
    return trace, data_dir, workers


def check_states(label, out_path, workers, policy, split):
    by_conn = {str(w.conn_id): w for w in workers}
    split_msets = split
    states = 0
    acked_checked = 0
    with open(out_path) as f:
        for line in f:
            st = json.loads(line)
            states += 1
            where = "%s state %d (crash point %d, %s)" % (label, st["state"], st["point"], st["what"])
            K.check(st["fail"] is None, "%s: %s" % (where, st["fail"]))
            keys = {k: canon(v) for k, v in st["keys"].items()}
            seen = set()
            for cid, w in by_conn.items():
                sent = st["acked_bytes"].get(cid, 0)
                acked = sum(1 for b in w.replies if b <= sent)   # commands 0..acked-1 acked
                # everysec: replies sent before the last fsync every shard
                # completed (the horizon) must be honoured; later ones may
                # be lost, whole.
                hsent = st["horizon_acked_bytes"].get(cid, 0)
                if policy == "always":
                    must = acked
                elif policy == "everysec":
                    must = sum(1 for b in w.replies if b <= hsent)
                else:   # no: whatever the kernel flushed, but never a state never had
                    must = 0
                for key, hist in w.history.items():
                    seen.add(key)
                    got = keys.get(key)
                    base = [s for (i, s) in hist if i < must]
                    allowed = [base[-1] if base else None]
                    allowed += [s for (i, s) in hist if must <= i <= acked]
                    acked_checked += 1
                    if got not in allowed:
                        raise K.TestFailure(
                            "%s: %s holds %r; allowed %r (client %s had %d replies)"
                            % (where, key, got, allowed[:4], cid, acked))
                # A transaction on one shard is all or nothing.
                a, b, n = ("{w%dt}a" % w.idx, "{w%dt}b" % w.idx, "{w%dt}n" % w.idx)
                va, vb, vn = keys.get(a), keys.get(b), keys.get(n)
                K.check(va == vb, "%s: MULTI/EXEC half applied: %s=%r %s=%r" % (where, a, va, b, vb))
                if va is not None:
                    K.check(vn is not None and "t" + vn[1] == va[1],
                            "%s: MULTI/EXEC half applied: %s=%r %s=%r" % (where, a, va, n, vn))
                # MSET of two keys (on two shards or one) is all or nothing
                # after any crash: a unit across shards (docs/durability.md,
                # "Units across shards").  Counted for the summary, and a
                # failure.
                m1, m2 = keys.get("w%d:m1" % w.idx), keys.get("w%d:m2" % w.idx)
                xs = [keys.get("w%d:x%d" % (w.idx, i)) for i in range(4)]
                es = [keys.get("w%d:lua%d" % (w.idx, i)) for i in range(3)]
                if m1 != m2 or len(set(xs)) > 1 or len(set(es)) > 1:
                    split_msets[0] += 1
                K.check(len(set(es)) == 1, "%s: cross-shard EVAL half applied: %r"
                        % (where, es))
                K.check(m1 == m2, "%s: cross-shard MSET half applied: w%d:m1=%r w%d:m2=%r"
                        % (where, w.idx, m1, w.idx, m2))
                K.check(len(set(xs)) == 1, "%s: cross-shard MULTI/EXEC half applied: %r"
                        % (where, xs))
            stray = set(keys) - seen
            K.check(not stray, "%s: keys never written: %r" % (where, sorted(stray)[:5]))
    return states, acked_checked


def server_keys(port):
    """Every key of a running server, in the form canon() gives (a key of
    database d > 0 named "@d/key", as the explorer names it)."""
    out = {}
    for db in range(16):
        out.update(db_keys(port, db))
    return out


def db_keys(port, db):
    out = {}
    prefix = "@%d/" % db if db else ""
    with K.RawConn(port, timeout=30) as c:
        c.call("SELECT", str(db))
        cursor = b"0"
        for _ in range(10000):
            cursor, keys = K.parse(c.call("SCAN", cursor, "COUNT", "1000"))
            for k in keys:
                t = K.parse(c.call("TYPE", k))
                t = t.encode() if isinstance(t, str) else t
                ttl = K.parse(c.call("PTTL", k)) > 0
                if t == b"string":
                    val, kind = K.parse(c.call("GET", k)).decode(), "str"
                elif t == b"list":
                    val, kind = [x.decode() for x in K.parse(c.call("LRANGE", k, 0, -1))], "list"
                elif t == b"set":
                    val, kind = {x.decode() for x in K.parse(c.call("SMEMBERS", k))}, "set"
                elif t == b"hash":
                    r = K.parse(c.call("HGETALL", k))
                    val, kind = {r[i].decode(): r[i + 1].decode() for i in range(0, len(r), 2)}, "hash"
                elif t == b"zset":
                    r = K.parse(c.call("ZRANGE", k, 0, -1, "WITHSCORES"))
                    val, kind = {r[i].decode(): float(r[i + 1]) for i in range(0, len(r), 2)}, "zset"
                elif t == b"stream":
                    r = K.parse(c.call("XINFO", "STREAM", k, "FULL", "COUNT", 0))
                    f = dict(zip(r[0::2], r[1::2]))
                    entries = tuple((e[0].decode(), e[1][1].decode()) for e in f[b"entries"])
                    grp = None
                    if f[b"groups"]:
                        g = dict(zip(f[b"groups"][0][0::2], f[b"groups"][0][1::2]))
                        grp = (g[b"last-delivered-id"].decode(),
                               {p[0].decode(): (p[1].decode(), p[3]) for p in g[b"pending"]})
                    val, kind = (entries, grp), "stream"
                else:
                    raise K.TestFailure("key %r of type %r" % (k, t))
                out[prefix + k.decode()] = freeze(kind, val, ttl)
            if cursor == b"0":
                return out
    raise K.TestFailure("SCAN did not finish")


def check_real_server(label, emit_dir, out_path, shards):
    """Start kevy-server itself on the states the explorer kept: it must
    start and hold exactly the keys the in-process recovery held."""
    want = {}
    with open(out_path) as f:
        for line in f:
            st = json.loads(line)
            want[st["state"]] = st
    n = 0
    for name in sorted(os.listdir(emit_dir)):
        sid = int(name.split("-")[1])
        st = want[sid]
        srv = K.Server("kevy", args=["--threads", str(shards)], name="states-real")
        shutil.rmtree(srv.dir)
        shutil.move(os.path.join(emit_dir, name), srv.dir)
        try:
            srv.start()
            got = server_keys(srv.port)
            exp = {k: canon(v) for k, v in st["keys"].items()}
            K.check(got == exp, "%s state %d (%s): the real server holds %d keys, the "
                    "in-process recovery %d; first difference: %r" % (
                        label, sid, st["what"], len(got), len(exp),
                        sorted(set(got.items()) ^ set(exp.items()))[:2]))
            n += 1
        finally:
            srv._kill_quietly() if srv.alive() else None
            srv.cleanup()
    return n


def main():
    seed, rng = K.rng_from_env()
    tool_path = tool("crash_states")
    workdir = tempfile.mkdtemp(prefix="kevy-crash-states-")
    # (label, server flags, policy, shards, crash points besides the barriers)
    runs = [
        ("always-2", ["--threads", "2", "--appendfsync", "always"], "always", 2, 0),
        ("always-1-epoll", ["--threads", "1", "--io", "epoll", "--appendfsync", "always"],
         "always", 1, 0),
        # Units over 3 and 4 shards (MULTI/EXEC of four unrelated keys,
        # EVAL of three) under the policies that lose unsynced bytes.
        ("everysec-3", ["--threads", "3", "--appendfsync", "everysec"], "everysec", 3,
         2000 if LONG else 200),
        ("no-4", ["--threads", "4", "--appendfsync", "no"], "no", 4, 1000 if LONG else 100),
    ]
    total = 0
    real_total = [0]
    split_total = [0]
    summary = []
    ok = False
    try:
        for label, args, policy, shards, extra in runs:
            trace, data_dir, workers = traced_run(label, args, rng, workdir)
            out = os.path.join(workdir, "%s.states" % label)
            scratch = os.path.join(workdir, "%s.scratch" % label)
            emit = os.path.join(workdir, "%s.real" % label)
            tseed = rng.randrange(2 ** 32)
            cmd = [tool_path, "--trace", trace, "--data-dir", data_dir, "--shards", str(shards),
                   "--scratch", scratch, "--out", out, "--seed", str(tseed),
                   "--variants", str(VARIANTS), "--extra-points", str(extra),
                   "--emit-every", str(1000 if LONG else 200), "--emit-dir", emit]
            t0 = time.monotonic()
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
            K.log(p.stdout.decode(errors="replace").strip())
            K.check(p.returncode in (0, 1), "crash_states exited %d" % p.returncode)
            split = [0]
            states, acked = check_states(label, out, workers, policy, split)
            split_total[0] += split[0]
            K.check(p.returncode == 0, "crash_states failed a state (see above)")
            real = check_real_server(label, emit, out, shards) if os.path.isdir(emit) else 0
            real_total[0] += real
            total += states
            summary.append("%s %d" % (label, states))
            K.log("%s: %d states, %d key checks against acknowledged writes, %d started "
                  "kevy-server itself, %.1fs" % (label, states, acked, real, time.monotonic() - t0))
        K.check(total >= (2000 if not LONG else 10000), "only %d states explored" % total)
        K.log("crash_states: %d crash states explored (%s), all recovered every acknowledged "
              "write; kevy-server itself started on %d of them and agreed; %d state(s) kept "
              "part of a cross-shard MSET or MULTI/EXEC (must be 0)"
              % (total, ", ".join(summary), real_total[0], split_total[0]))
        ok = True
    finally:
        if ok or os.environ.get("CI"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            K.log("kept %s for inspection (replay: KEVY_SEED=%d %s)" % (workdir, seed, sys.argv[0]))


if __name__ == "__main__":
    K.run_main(main)
