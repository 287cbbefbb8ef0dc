#!/usr/bin/python3
"""crash_kill: kill -9 under load, cycle after cycle, on data directories that
live across every cycle (issue 7 part 1; docs/durability.md "The promises").

What it proves.  Two datasets (`--threads 3` and `--threads 1`; the shard
count is fixed by the dataset at its first start) each keep ONE data
directory for the whole run, so snapshots, rotations, segments and quarantined
tails accumulate.  Each cycle runs on one of them:

1. start kevy-server with, drawn per cycle, `appendfsync always|everysec` and
   `--io io_uring|epoll`;
2. recovery check (every cycle but a dataset's first): the log says the data
   was loaded (and cut a torn tail exactly when kevy-check said there was
   one), then the whole keyspace is read back and judged against the oracle;
3. every 4th cycle of a dataset, and at the end: DEBUG DIGEST, SHUTDOWN
   (exit 0), kevy-check must say 0 (clean: a torn tail was quarantined and
   cut), the directory must hold no file that kevy-check did not name (a
   snapshot, segment or manifest.tmp of an interrupted commit: recovery
   removes them), restart, the same DEBUG DIGEST, and the oracle again;
4. 4 client threads (one connection each) run a mixed workload over every
   type for 0.2-1.0 s: SET (unique values, some KiB long, some EX), APPEND,
   EXPIRE, PERSIST, DEL, SET PX (short TTLs that really expire), INCR/INCRBY,
   RPUSH/LPOP, HSET/HINCRBY/HDEL, SADD/SREM, ZADD/ZINCRBY/ZREM, SETBIT and
   BITFIELD OVERFLOW WRAP|SAT INCRBY (u3..u63, i3..i64, unaligned), PFADD
   (now and then 2500 elements: dense), GEOADD/ZREM, streams with a
   consumer group (XADD, XGROUP CREATE, XREADGROUP, XACK, XDEL: the oracle
   reads entries, last ID, the group's last-delivered ID and its PEL back
   with XINFO STREAM FULL), MSET across
   shards, MULTI/EXEC on one shard ({hashtag}) and across shards, EVAL of a
   script writing three keys of several shards, and a
   counter all four INCR; every reply is checked against the model as it
   arrives;
5. the kill, one of: SIGKILL at a random moment (sometimes with BGSAVE /
   BGREWRITEAOF / SAVE issued meanwhile by a background thread); SIGKILL
   right after BGSAVE/BGREWRITEAOF/SAVE started, while INFO says
   `rdb_bgsave_in_progress:1`; or a run-time failpoint (`DEBUG FAILPOINTS
   rename:2=kill`, `dirsync:1=kill-before`, `fsync:5=kill`, `unlink:1=...`,
   `open:N=...`, `write:N=kill`) followed by a snapshot command, so the
   process kills itself at that I/O operation, mostly a snapshot/rotation
   commit step (death by SIGKILL confirmed; if the point is never reached
   the test kills it and says so); or `write:N+=short` (every later append
   leaves half its bytes, nothing more is acknowledged) then SIGKILL: a torn
   tail, which the next start must quarantine and cut;
6. kevy-check on the directory: exit 0 (clean) or 1 (a repairable torn tail),
   never 2 (corrupt) or 3.

Then one more phase, the EXEC race (12 kills; 100 in the long mode): 8
clients loop on MULTI SET a SET b EXEC on a `--threads 2` server, a failpoint
makes the next append tear (`write:1+=short`) so a shard starts refusing
writes, then SIGKILL: every acknowledged EXEC must survive.  It found that a
shard which started refusing writes while another shard's thread ran a txn
over its keyspace acknowledged the txn's records before writing them
(fixed in src/server/route.c, shard_ack_txn).

The oracle.  Each client owns its keys and has at most one command (or one
MULTI/EXEC, or one MSET) in flight, so the model of every key is exact: its
acknowledged state, plus at most one attempted-but-unacknowledged next state.
After every restart, for every key:
- it holds its acknowledged state or the attempted one: no acknowledged write
  is missing, under `always` AND under `everysec` (kevy replies only after the
  record's write reached the file and kill -9 keeps the page cache, see
  docs/durability.md; the everysec window only bounds a power cut, which a
  kill cannot test, so the loss asserted here is zero for both policies);
  and no value that was never written (the model is exact, so a foreign
  value, an element out of order, a lost or extra member are all caught);
- counters: exactly the acknowledged value or the attempted increment on it;
  the shared counter: between its last acknowledged reply and all attempts;
- the TTL: none where none was set; a TTL never later than the deadline it
  was given (a TTL re-armed by a restart would be), and a key with a short
  TTL may be gone;
- bitmaps: the exact bytes SETBIT / BITFIELD made (computed here); geo
  sets: the exact geohash scores (computed here as Redis does); HLLs: the
  bytes GET returned right after the acknowledged PFADD (same pipeline, the
  client owns the key), or for a PFADD in flight at the kill, the bytes the
  same PFADD gives on a scratch copy of the acknowledged ones on the
  recovered server;
- a MULTI/EXEC, on one shard or across shards, an EVAL, and an MSET across shards
  are all-or-nothing (units across shards: docs/durability.md): the keys of
  the one in flight at the kill hold all its new states or none;
- DBSIZE equals the keys the model says exist plus the filler (a dataset
  written once at the first start; some of its values are read back too).
The observed state then becomes the acknowledged base of the next cycle.

Replay.  Every run prints its seed; a failure prints a one-line command.
Everything a cycle decides (policy, io, kill kind, failpoint, load time) is
drawn from a generator seeded with (seed, cycle), so `KEVY_SEED=<seed>
KEVY_CRASH_CYCLES=<cycle+1>` replays the same sequence of cycles; the exact
moment of a kill and the interleaving of the clients are timing, and differ.

Run:
  ctest -R crash.crash_kill --output-on-failure      (CI: 48 cycles)
  scripts/crash-long.sh -R crash_kill      (long mode, KEVY_CRASH_LONG=1: load
      phases halved, 3000 cycles or two hours, whichever comes first, then a
      100-kill EXEC race; KEVY_CRASH_BUDGET_S changes the budget)
  KEVY_CRASH_CYCLES=N  any number of cycles;  KEVY_SEED=S  replays a seed;
  KEVY_CRASH_KINDS=torn,failpoint  only those kills (load, snapshot,
  failpoint, torn), to chase one failure (skips the EXEC race).
By hand (absolute paths: the server runs in its own directory):
  KEVY_SERVER=$PWD/build/kevy-server KEVY_BIN_DIR=$PWD/build \\
  PYTHONPATH=tests/crash:tests/integration python3 tests/crash/crash_kill.py
"""

import os
import re
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

NWORKERS = 4
NFILL = 30000                 # filler keys per dataset: snapshots take a while
WORKER_OP_LIMIT = 100000      # bound per worker per cycle (never reached)
CLEAN_EVERY = 4               # a clean SHUTDOWN check every N cycles of a dataset
TTL_SLACK_MS = 25             # clock granularity allowance on PTTL bounds
SHORT_TTL_MS = 60000          # a deadline closer than this may have passed
SHARED_CTR = "shared:ctr"


# The script of the EVAL op: SET, INCRBY and RPUSH on three declared keys.
SCRIPT = ("redis.call('SET', KEYS[1], ARGV[1]); "
          "local n = redis.call('INCRBY', KEYS[2], ARGV[2]); "
          "redis.call('RPUSH', KEYS[3], ARGV[1]); return n")


def wall_ms():
    return time.time() * 1000.0


def fill_value(i):
    return b"fill-%d-" % i + b"f" * (i % 97)


class Shared:
    """The counter every client INCRs: base (observed at the last check),
    the increments attempted since, the highest acknowledged reply."""

    def __init__(self):
        self.lock = threading.Lock()
        self.base = 0
        self.attempted = 0
        self.acked_max = None


# ------------------------------------------------------------------ the model

def norm_hash(d):
    return tuple(sorted(d.items())) if d else None


def norm_zset(d):
    return tuple(sorted(d.items())) if d else None


# Bitmaps (issue 15): the model is the string's exact bytes.  Bit i is bit
# 7 - i % 8 of byte i // 8 (SETBIT's numbering); a write past the end
# zero-extends the string.
def bits_get(buf, off, width):
    v = 0
    for i in range(off, off + width):
        byte = buf[i >> 3] if (i >> 3) < len(buf) else 0
        v = (v << 1) | ((byte >> (7 - (i & 7))) & 1)
    return v


def bits_set(buf, off, width, v):
    need = (off + width + 7) >> 3
    b = bytearray(buf) + bytearray(max(0, need - len(buf)))
    for j in range(width):
        i = off + j
        bit = (v >> (width - 1 - j)) & 1
        if bit:
            b[i >> 3] |= 0x80 >> (i & 7)
        else:
            b[i >> 3] &= ~(0x80 >> (i & 7)) & 0xFF
    return bytes(b)


def bitfield_incr(buf, signed, width, off, incr, overflow):
    """BITFIELD key OVERFLOW WRAP|SAT INCRBY [iu]width off incr: (reply, new
    bytes)."""
    raw = bits_get(buf, off, width)
    old = raw - (1 << width) if signed and raw >> (width - 1) else raw
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    n = old + incr
    if overflow == "SAT":
        n = min(max(n, lo), hi)
    else:
        n &= (1 << width) - 1
        if signed and n >> (width - 1):
            n -= 1 << width
    return n, bits_set(buf, off, width, n & ((1 << width) - 1))


# Geo: a member's score is Redis's 52-bit geohash of its point (computed
# here with the same double arithmetic as src/store/geohash.c and Redis).
def geo_score(lon, lat):
    lat_off = (lat - -85.05112878) / (85.05112878 - -85.05112878)
    lon_off = (lon - -180.0) / (180.0 - -180.0)
    ilat = int(lat_off * float(1 << 26))
    ilon = int(lon_off * float(1 << 26))
    bits = 0
    for i in range(26):
        bits |= ((ilat >> i) & 1) << (2 * i)
        bits |= ((ilon >> i) & 1) << (2 * i + 1)
    return bits


_GEO_R = random.Random(15)
GEO_POINTS = [(round(_GEO_R.uniform(-180, 180), 6), round(_GEO_R.uniform(-85, 85), 6))
              for _ in range(40)]


# Unacknowledged PFADDs whose state was recomputed after a restart (the
# summary says how often that path ran).
HLL_RECOMPUTED = [0]


class HllPending:
    """A PFADD's new state: the HLL's bytes are the server's business, so
    the acknowledged state is the GET that follows the PFADD in the same
    pipeline (reply `at`), and an unacknowledged one is recomputed after
    the restart by the same PFADD on a scratch copy (Worker.resolve_hll)."""

    def __init__(self, old, elems, at):
        self.old, self.elems, self.at = old, elems, at

    def __repr__(self):
        return "PFADD(%d elements) on %s" % (len(self.elems), short(self.old))


class Worker:
    """One client: its keys, their exact model, the one op in flight."""

    def __init__(self, ds_id, w):
        self.ds_id = ds_id
        self.w = w
        self.kind = {}
        self.model = {}       # key -> (value, deadline) ; deadline None | ("at", ms)
        self.pending = None   # (new states {key: (value, deadline)}, atomic, shared?)
        self.seq = 0
        self.acked = 0        # acknowledged ops, cumulative
        self.attempted = 0
        self.errors = []

        def name(base, i):
            # Odd keys share a hashtag with other clients' keys (same shard,
            # contention); even keys hash on their own name.
            if i % 2:
                return "{h%d}w%d:%s%d" % ((w + i) % 3, w, base, i)
            return "w%d:%s%d" % (w, base, i)

        self.by_kind = {}
        for kind, base, n in (("str", "s", 6), ("vol", "v", 3), ("ctr", "c", 3),
                              ("list", "l", 3), ("hash", "h", 3), ("set", "S", 3),
                              ("zset", "z", 3), ("bits", "b", 3), ("hll", "p", 2),
                              ("geo", "g", 2), ("stream", "x", 2)):
            for i in range(n):
                self._declare(name(base, i), kind)
        self.tx = {"a": "{w%dtx}a" % w, "b": "{w%dtx}b" % w,
                   "l": "{w%dtx}l" % w, "n": "{w%dtx}n" % w}
        self._declare(self.tx["a"], "txstr")
        self._declare(self.tx["b"], "txstr")
        self._declare(self.tx["l"], "txlist")
        self._declare(self.tx["n"], "txctr")

    def _declare(self, key, kind):
        self.kind[key] = kind
        self.model[key] = (None, None)
        self.by_kind.setdefault(kind, []).append(key)

    def val(self, rng, pad=True):
        self.seq += 1
        v = b"%d:%d:%d" % (self.ds_id, self.w, self.seq)
        if pad and rng.random() < 0.1:
            v += b"." + b"p" * rng.randrange(100, 4000)
        return v

    # One op: (commands, expected parsed replies, new states, atomic, shared).
    def set_incr_push(self, rng):
        """A string, a counter and a list (their shards as their hashes
        fall), and what SET / INCRBY n / RPUSH of one value leave in the
        model: the keys, the value, n, the counter's and the list's new
        states, and the model's new entries."""
        m = self.model
        s = rng.choice(self.by_kind["str"])
        c = rng.choice(self.by_kind["ctr"])
        lk = rng.choice(self.by_kind["list"])
        v = self.val(rng, pad=False)
        n = rng.randrange(-3, 50)
        cv = int(m[c][0] or b"0") + n
        lst = list(m[lk][0] or ())
        lst.append(v)
        new = {s: (v, None), c: (b"%d" % cv, m[c][1]), lk: (tuple(lst), m[lk][1])}
        return (s, c, lk), v, n, cv, lst, new

    def make_op(self, rng):
        m = self.model
        r = rng.random()
        new = {}
        if r < 0.04:
            return [("INCR", SHARED_CTR)], [None], {}, False, True
        if r < 0.10:
            # MSET across shards: a unit across shards, all or nothing
            # after a crash too (docs/durability.md, "Units across shards")
            keys = rng.sample(self.by_kind["str"], rng.choice((2, 3)))
            args = []
            for k in keys:
                v = self.val(rng)
                args += [k, v]
                new[k] = (v, None)
            return [("MSET",) + tuple(args)], ["OK"], new, True, False
        if r < 0.16:
            # MULTI/EXEC on one shard: all or nothing
            v = self.val(rng, pad=False)
            a, b, lk, nk = self.tx["a"], self.tx["b"], self.tx["l"], self.tx["n"]
            lst = list(m[lk][0] or ())
            cmds = [("SET", a, v), ("SET", b, v), ("RPUSH", lk, v)]
            res = ["OK", "OK", len(lst) + 1]
            lst.append(v)
            if len(lst) > 12:
                cmds.append(("LPOP", lk))
                res.append(lst.pop(0))
            n = int(m[nk][0] or b"0") + 1
            cmds.append(("INCR", nk))
            res.append(n)
            new = {a: (v, None), b: (v, None), lk: (tuple(lst) or None, None),
                   nk: (b"%d" % n, None)}
            return ([("MULTI",)] + cmds + [("EXEC",)], ["OK"] + ["QUEUED"] * len(cmds) + [res],
                    new, True, False)
        if r < 0.21:
            # MULTI/EXEC across shards: all or nothing after a crash too
            (s, c, lk), v, n, cv, lst, new = self.set_incr_push(rng)
            cmds = [("SET", s, v), ("INCRBY", c, n), ("RPUSH", lk, v)]
            res = ["OK", cv, len(lst)]
            return ([("MULTI",)] + cmds + [("EXEC",)], ["OK"] + ["QUEUED"] * 3 + [res],
                    new, True, False)
        if r < 0.25:
            # A script over keys of several shards: atomic, and a unit
            # across shards on disk like EXEC (docs/scripting.md)
            keys, v, n, cv, lst, new = self.set_incr_push(rng)
            return [("EVAL", SCRIPT, "3") + keys + (v, str(n))], [cv], new, True, False
        kind = rng.choice(("str", "str", "vol", "ctr", "list", "hash", "set", "zset", "bits",
                           "hll", "geo", "stream"))
        k = rng.choice(self.by_kind[kind])
        old, dl = m[k]
        x = rng.random()
        if kind == "str":
            if x < 0.35:
                v = self.val(rng)
                if rng.random() < 0.3:
                    ttl = rng.randrange(1000, 5000)
                    return [("SET", k, v, "EX", ttl)], ["OK"], {k: (v, ("ttl", ttl * 1000))}, False, False
                return [("SET", k, v)], ["OK"], {k: (v, None)}, False, False
            if x < 0.55:
                v = b"," + self.val(rng, pad=False)
                nv = (old or b"") + v
                return [("APPEND", k, v)], [len(nv)], {k: (nv, dl)}, False, False
            if x < 0.70:
                ttl = rng.randrange(1000, 5000)
                if old is None:
                    return [("EXPIRE", k, ttl)], [0], {}, False, False
                return [("EXPIRE", k, ttl)], [1], {k: (old, ("ttl", ttl * 1000))}, False, False
            if x < 0.85:
                if old is None or dl is None:
                    return [("PERSIST", k)], [0], {}, False, False
                return [("PERSIST", k)], [1], {k: (old, None)}, False, False
            return [("DEL", k)], [0 if old is None else 1], {k: (None, None)}, False, False
        if kind == "vol":
            v = self.val(rng, pad=False)
            if x < 0.7:
                ttl = rng.randrange(30, 400)
                return [("SET", k, v, "PX", ttl)], ["OK"], {k: (v, ("ttl", ttl))}, False, False
            if x < 0.9:
                return [("SET", k, v)], ["OK"], {k: (v, None)}, False, False
            return [("DEL", k)], [None], {k: (None, None)}, False, False   # may have expired
        if kind == "ctr":
            if x < 0.08:
                return [("DEL", k)], [0 if old is None else 1], {k: (None, None)}, False, False
            n = 1 if x < 0.4 else rng.randrange(-5, 100)
            cv = int(old or b"0") + n
            cmd = ("INCR", k) if x < 0.4 else ("INCRBY", k, n)
            return [cmd], [cv], {k: (b"%d" % cv, dl)}, False, False
        if kind == "list":
            lst = list(old or ())
            if x < 0.35 and lst or len(lst) > 40:
                head = lst.pop(0)
                return [("LPOP", k)], [head], {k: (tuple(lst) or None, dl if lst else None)}, False, False
            vals = [self.val(rng, pad=False) for _ in range(rng.randrange(1, 4))]
            lst += vals
            return [("RPUSH", k) + tuple(vals)], [len(lst)], {k: (tuple(lst), dl)}, False, False
        if kind == "hash":
            d = dict(old or ())
            if x < 0.5:
                f = b"f%d" % rng.randrange(4)
                v = self.val(rng)
                added = 0 if f in d else 1
                d[f] = v
                return [("HSET", k, f, v)], [added], {k: (norm_hash(d), dl)}, False, False
            if x < 0.8:
                f = b"n%d" % rng.randrange(2)
                n = rng.randrange(-10, 100)
                cv = int(d.get(f, b"0")) + n
                d[f] = b"%d" % cv
                return [("HINCRBY", k, f, n)], [cv], {k: (norm_hash(d), dl)}, False, False
            f = b"f%d" % rng.randrange(4)
            had = 1 if f in d else 0
            d.pop(f, None)
            nd = norm_hash(d)
            return [("HDEL", k, f)], [had], {k: (nd, dl if nd else None)}, False, False
        if kind == "set":
            s = set(old or ())
            mem = b"m%d" % rng.randrange(24)
            if x < 0.6:
                added = 0 if mem in s else 1
                s.add(mem)
                return [("SADD", k, mem)], [added], {k: (frozenset(s), dl)}, False, False
            had = 1 if mem in s else 0
            s.discard(mem)
            return [("SREM", k, mem)], [had], {k: (frozenset(s) or None, dl if s else None)}, False, False
        if kind == "bits":
            buf = old or b""
            if x < 0.5:
                off = rng.randrange(0, 600)
                bit = rng.randrange(2)
                nb = bits_set(buf, off, 1, bit)
                return [("SETBIT", k, off, bit)], [bits_get(buf, off, 1)], {k: (nb, dl)}, False, False
            signed = rng.random() < 0.5
            width = rng.choice((3, 8, 16, 32, 63 if not signed else 64))
            off = rng.randrange(0, 400)
            incr = rng.choice((1, -1, 7, 100, -1000, 1 << 20, -(1 << 40)))
            ovf = rng.choice(("WRAP", "SAT"))
            got, nb = bitfield_incr(buf, signed, width, off, incr, ovf)
            t = "%s%d" % ("i" if signed else "u", width)
            return ([("BITFIELD", k, "OVERFLOW", ovf, "INCRBY", t, off, incr)], [[got]],
                    {k: (nb, dl)}, False, False)
        if kind == "hll":
            elems = [b"e%d" % rng.randrange(3000) for _ in range(rng.randrange(1, 6))]
            if rng.random() < 0.03:   # now and then enough to make it dense
                elems = [b"d%d:%d" % (self.seq, i) for i in range(2500)]
                self.seq += 1
            return ([("PFADD", k) + tuple(elems), ("GET", k)], [None, None],
                    {k: (HllPending(old, elems, 1), dl)}, False, False)
        if kind == "stream":
            return self.stream_op(rng, k, old, x)
        if kind == "geo":
            d = dict(old or ())
            i = rng.randrange(12)
            mem = b"m%d" % i
            if x < 0.8:
                lon, lat = GEO_POINTS[3 * i + rng.randrange(3)] if i < 12 else GEO_POINTS[0]
                added = 0 if mem in d else 1
                d[mem] = geo_score(lon, lat)
                return ([("GEOADD", k, repr(lon), repr(lat), mem)], [added],
                        {k: (norm_zset(d), dl)}, False, False)
            had = 1 if mem in d else 0
            d.pop(mem, None)
            nd = norm_zset(d)
            return [("ZREM", k, mem)], [had], {k: (nd, dl if nd else None)}, False, False
        # zset
        d = dict(old or ())
        mem = b"m%d" % rng.randrange(16)
        if x < 0.4:
            sc = rng.randrange(-1000, 1000)
            added = 0 if mem in d else 1
            d[mem] = sc
            return [("ZADD", k, sc, mem)], [added], {k: (norm_zset(d), dl)}, False, False
        if x < 0.8:
            n = rng.randrange(-5, 20)
            d[mem] = d.get(mem, 0) + n
            return [("ZINCRBY", k, n, mem)], [b"%d" % d[mem]], {k: (norm_zset(d), dl)}, False, False
        had = 1 if mem in d else 0
        d.pop(mem, None)
        nd = norm_zset(d)
        return [("ZREM", k, mem)], [had], {k: (nd, dl if nd else None)}, False, False

    def stream_op(self, rng, k, old, x):
        """A stream with one consumer group: XADD (explicit IDs after the
        last), XGROUP CREATE, XREADGROUP of the next entry, XACK, XDEL.
        The state is (entries, last ID, group) with group None or
        (last delivered ID, pending (ID, owner) pairs): the oracle checks
        the PEL and who owns each entry."""
        entries, last, grp = old if old is not None else ((), b"0-0", None)

        def idkey(i):
            ms, seq = i.split(b"-")
            return (int(ms), int(seq))
        if grp is not None and x < 0.35:
            after = [e for e in entries if idkey(e[0]) > idkey(grp[0])]
            if after:
                eid, val = after[0]
                cons = b"c%d" % rng.randrange(2)
                return ([("XREADGROUP", "GROUP", "g", cons, "COUNT", 1, "STREAMS", k, ">")],
                        [[[k.encode(), [[eid, [b"f", val]]]]]],
                        {k: ((entries, last, (eid, grp[1] + ((eid, cons),))), None)}, False, False)
        if grp is not None and grp[1] and x < 0.55:
            eid = rng.choice(grp[1])[0]
            pend = tuple(p for p in grp[1] if p[0] != eid)
            return ([("XACK", k, "g", eid)], [1], {k: ((entries, last, (grp[0], pend)), None)},
                    False, False)
        if old is not None and grp is None and x < 0.65:
            return ([("XGROUP", "CREATE", k, "g", "0")], ["OK"],
                    {k: ((entries, last, (b"0-0", ())), None)}, False, False)
        if entries and x < 0.72:
            eid = rng.choice(entries)[0]
            ne = tuple(e for e in entries if e[0] != eid)
            return [("XDEL", k, eid)], [1], {k: ((ne, last, grp), None)}, False, False
        ms, seq = idkey(last)
        eid = b"%d-%d" % (max(ms, 1000 + self.w), seq + 1 if ms >= 1000 + self.w else 1)
        val = self.val(rng, pad=False)
        return ([("XADD", k, eid, "f", val)], [eid],
                {k: ((entries + ((eid, val),), eid, grp), None)}, False, False)

    def run(self, port, rng, stop, shared, misconf_ok):
        try:
            c = K.RawConn(port, timeout=10.0)
        except OSError as e:
            self.errors.append("w%d: connect: %r" % (self.w, e))
            return
        try:
            for _ in range(WORKER_OP_LIMIT):
                if stop.is_set():
                    return
                cmds, want, new, atomic, is_shared = self.make_op(rng)
                self.pending = (new, atomic, is_shared)
                self.attempted += 1
                if is_shared:
                    with shared.lock:
                        shared.attempted += 1
                c.send(b"".join(K.encode(*cmd) for cmd in cmds))
                raw = c.read_replies(len(cmds))
                t = wall_ms()
                got = [K.parse(x) for x in raw]
                if misconf_ok.is_set() and any(b"MISCONF" in x for x in raw):
                    return   # refused while appends tear: unacknowledged, stays pending
                if is_shared:
                    if not isinstance(got[0], int):
                        self.errors.append("w%d: INCR %s replied %r" % (self.w, SHARED_CTR, raw))
                        return
                    with shared.lock:
                        if shared.acked_max is None or got[0] > shared.acked_max:
                            shared.acked_max = got[0]
                elif not replies_match(got, want):
                    self.errors.append("w%d: %s replied %r, the model expects %r" % (
                        self.w, [x[0] for x in cmds], got, want))
                    return
                for k, (v, dl) in new.items():
                    if isinstance(v, HllPending):
                        v = got[v.at]
                    self.model[k] = (v, resolve(dl, t))
                self.pending = None
                self.acked += 1
        except (OSError, K.ConnectionClosed) as e:
            if not stop.is_set() and isinstance(e, TimeoutError):
                self.errors.append("w%d: no reply within 10 s: %r" % (self.w, e))
            return   # killed: the op in flight stays pending
        finally:
            c.close()

    def read_cmds(self):
        out = []
        for k in self.model:
            kind = self.kind[k]
            if kind in ("str", "vol", "ctr", "txstr", "txctr", "bits", "hll"):
                out.append(K.encode("GET", k))
            elif kind in ("list", "txlist"):
                out.append(K.encode("LRANGE", k, 0, -1))
            elif kind == "hash":
                out.append(K.encode("HGETALL", k))
            elif kind == "set":
                out.append(K.encode("SMEMBERS", k))
            elif kind == "stream":
                out.append(K.encode("XINFO", "STREAM", k, "FULL", "COUNT", 0))
            else:
                out.append(K.encode("ZRANGE", k, 0, -1, "WITHSCORES"))
            out.append(K.encode("PTTL", k))
        return out

    def parse_state(self, raws):
        """{key: (value, pttl)} from the replies of read_cmds()."""
        out = {}
        for i, k in enumerate(self.model):
            r = K.parse(raws[2 * i])
            pttl = K.parse(raws[2 * i + 1])
            kind = self.kind[k]
            if kind == "stream" and isinstance(r, K.RespError) and pttl == -2:
                out[k] = (None, pttl)
                continue
            K.check(not isinstance(r, K.RespError) and isinstance(pttl, int),
                    "reading %s (%s): %r %r" % (k, kind, r, pttl))
            if kind == "stream":
                f = dict(zip(r[0::2], r[1::2]))
                entries = tuple((e[0], e[1][1]) for e in f[b"entries"])
                grp = None
                if f[b"groups"]:
                    g = dict(zip(f[b"groups"][0][0::2], f[b"groups"][0][1::2]))
                    grp = (g[b"last-delivered-id"], tuple((p[0], p[1]) for p in g[b"pending"]))
                out[k] = ((entries, f[b"last-generated-id"], grp), pttl)
                continue
            if kind in ("list", "txlist"):
                v = tuple(r) or None
            elif kind == "hash":
                v = tuple(sorted(zip(r[0::2], r[1::2]))) or None
            elif kind == "set":
                v = frozenset(r) or None
            elif kind in ("zset", "geo"):
                d = {}
                for mem, sc in zip(r[0::2], r[1::2]):
                    f = float(sc)
                    K.check(f == int(f), "%s: score %r of %r is an integer" % (k, sc, mem))
                    d[mem] = int(f)
                v = norm_zset(d)
            else:
                v = r
            out[k] = (v, pttl)
        return out

    def resolve_hll(self, c):
        """The unacknowledged PFADD's state, if one was in flight: the same
        PFADD on a scratch copy of the acknowledged bytes, on the recovered
        server (the scratch key is deleted again)."""
        if self.pending is None:
            return
        for k, (v, dl) in list(self.pending[0].items()):
            if not isinstance(v, HllPending):
                continue
            tmp = "scratch:w%d" % self.w
            cmds = [("DEL", tmp)]
            if v.old is not None:
                cmds.append(("SET", tmp, v.old))
            cmds += [("PFADD", tmp) + tuple(v.elems), ("GET", tmp), ("DEL", tmp)]
            c.send(b"".join(K.encode(*x) for x in cmds))
            raws = c.read_replies(len(cmds), timeout=30)
            got = [K.parse(x) for x in raws]
            K.check(not any(isinstance(g, K.RespError) for g in got),
                    "recomputing w%d's PFADD on a scratch key: %r" % (self.w, raws))
            self.pending[0][k] = (got[-2], dl)
            HLL_RECOMPUTED[0] += 1

    def verify(self, obs, t_read, t_after, t_kill):
        """Judge obs (read between t_read and t_after) against the model;
        rebase the model on it.  Returns a list of violations (empty: all
        good)."""
        bad = []
        new, atomic = ({}, False) if self.pending is None else self.pending[:2]
        keys = list(self.model)
        choice = {}
        for k in keys:
            cands = [self.model[k]]
            if k in new:
                cands.append((new[k][0], resolve(new[k][1], t_kill)))
            ok = [i for i, st in enumerate(cands) if matches(st, obs[k], t_read)]
            if not ok:
                bad.append("%s (%s) = %s, PTTL %d; acknowledged %s%s" % (
                    k, self.kind[k], short(obs[k][0]), obs[k][1], show(cands[0]),
                    "; attempted %s" % show(cands[1]) if len(cands) > 1 else ""))
                continue
            choice[k] = ok
        if atomic and not bad:
            both = set.intersection(*(set(choice[k]) for k in new))
            if not both:
                bad.append("MULTI/EXEC or cross-shard MSET half applied: %s" % (
                    ", ".join("%s=%s" % (k, short(obs[k][0])) for k in new)))
        if bad:
            return bad
        for k in keys:
            v, pttl = obs[k]
            self.model[k] = (None, None) if v is None else \
                (v, None if pttl < 0 else ("at", t_after + pttl))
        self.pending = None
        return []


def resolve(dl, t):
    """A deadline to be set at acknowledgement: ("ttl", ms) -> ("at", t + ms)."""
    if dl is not None and dl[0] == "ttl":
        return ("at", t + dl[1])
    return dl


def matches(state, observed, t_read):
    v, dl = state
    ov, pttl = observed
    if ov is None:
        # absent: never written / deleted, or expired (a deadline that was near)
        return v is None or (dl is not None and dl[1] - t_read < SHORT_TTL_MS)
    if ov != v:
        return False
    if dl is None:
        return pttl == -1
    if pttl == -2:
        return dl[1] - t_read < SHORT_TTL_MS   # expired between the GET and the PTTL
    # never later than the deadline given (a restart must not re-arm it)
    return 0 <= pttl <= dl[1] - t_read + TTL_SLACK_MS


def replies_match(got, want):
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if w is None:          # any non-error
            if isinstance(g, K.RespError):
                return False
        elif isinstance(w, list):
            if not replies_match(g if isinstance(g, list) else [g], w):
                return False
        elif g != w:
            return False
    return True


def short(v):
    s = repr(v)
    return s if len(s) < 160 else s[:150] + "...(%d chars)" % len(s)


def show(st):
    v, dl = st
    if dl is None:
        return "%s (no TTL)" % short(v)
    return "%s (deadline in %+.0f ms)" % (short(v), dl[1] - wall_ms())


# ---------------------------------------------------------------- a dataset

class Dataset:
    def __init__(self, ds_id, nshards):
        self.id = ds_id
        self.nshards = nshards
        self.label = "%d shard%s" % (nshards, "s" if nshards > 1 else "")
        self.srv = K.kevy("--threads", str(nshards))
        self.workers = [Worker(ds_id, w) for w in range(NWORKERS)]
        self.shared = Shared()
        self.cycles = 0
        self.started = False
        self.expect_torn = False
        self.quarantined = set()
        self.t_kill = None

    def set_args(self, policy, io):
        self.srv.args = ["--threads", str(self.nshards), "--appendfsync", policy, "--io", io]

    def fill(self, c):
        for j in range(0, NFILL, 2000):
            cmds = [K.encode("SET", "fill:%d" % i, fill_value(i)) for i in range(j, min(NFILL, j + 2000))]
            c.send(b"".join(cmds))
            got = c.read_replies(len(cmds), timeout=60)
            K.check(all(g == b"+OK\r\n" for g in got), "%s: filler written" % self.label)

    def quarantine_files(self):
        return {n for n in os.listdir(self.srv.dir) if ".torn-" in n}

    def check_recovery(self, log_off):
        """After a restart: the log, then every key against the oracle.
        Returns the number of keys judged."""
        lines = A.log_since(self.srv, log_off).decode("utf-8", "replace")
        K.check("DB loaded from disk" in lines, "%s: the restart loaded the data:\n%s" % (self.label, lines))
        torn = "torn tail at offset" in lines
        K.check(torn == self.expect_torn,
                "%s: kevy-check said %s, the server's recovery %s a torn tail:\n%s" % (
                    self.label, "torn" if self.expect_torn else "clean",
                    "cut" if torn else "did not cut", lines[-3000:]))
        units = lines.count("dropped (incomplete)")
        K.check(units == getattr(self, "expect_units", 0),
                "%s: kevy-check said %d incomplete unit(s), recovery dropped %d:\n%s" % (
                    self.label, getattr(self, "expect_units", 0), units, lines[-3000:]))
        self.expect_units = 0
        q = self.quarantine_files()
        if self.expect_torn:
            K.check(len(q - self.quarantined) >= 1, "%s: the torn tail was quarantined: new %r" %
                    (self.label, sorted(q - self.quarantined)))
        self.quarantined = q
        self.expect_torn = False
        return self.verify_all()

    def verify_all(self):
        c = self.srv.conn(timeout=30)
        try:
            t_read = wall_ms()
            t_kill = self.t_kill if self.t_kill is not None else t_read
            n = 0
            present = 0
            short_present = 0
            for w in self.workers:
                w.resolve_hll(c)
                cmds = w.read_cmds()
                t_read = wall_ms()
                c.send(b"".join(cmds))
                obs = w.parse_state(c.read_replies(len(cmds), timeout=30))
                bad = w.verify(obs, t_read, wall_ms(), t_kill)
                K.check(not bad, "%s: after kill -9 and restart, client w%d: %d violation(s):\n  %s" % (
                    self.label, w.w, len(bad), "\n  ".join(bad[:10])))
                n += len(obs)
                for k, (v, pttl) in obs.items():
                    if v is not None:
                        present += 1
                        if pttl >= 0 and pttl < SHORT_TTL_MS:
                            short_present += 1
            # the counter every client increments
            sh = self.shared
            got = K.parse(c.call("GET", SHARED_CTR))
            got = 0 if got is None else int(got)
            lo = sh.acked_max if sh.acked_max is not None else sh.base
            hi = sh.base + sh.attempted
            K.check(lo <= got <= hi, "%s: %s = %d, acknowledged %d, at most %d attempted" % (
                self.label, SHARED_CTR, got, lo, hi))
            sh.base, sh.attempted, sh.acked_max = got, 0, None
            present += 1 if got else 0
            # the filler, and no key the model does not know of
            rng = random.Random(int(t_read))
            idx = rng.sample(range(NFILL), 50)
            c.send(b"".join(K.encode("GET", "fill:%d" % i) for i in idx))
            for i, raw in zip(idx, c.read_replies(len(idx), timeout=30)):
                K.check(K.parse(raw) == fill_value(i), "%s: fill:%d = %s" % (self.label, i, short(raw)))
            dbsize = K.parse(c.call("DBSIZE"))
            want = NFILL + present
            K.check(want - short_present <= dbsize <= want,
                    "%s: DBSIZE %r, the model has %d keys (%d with a short TTL)" % (
                        self.label, dbsize, want, short_present))
            self.t_kill = None
            return n + 1 + len(idx)
        finally:
            c.close()

    def clean_check(self):
        """SHUTDOWN, kevy-check must say clean, restart, same DEBUG DIGEST."""
        srv = self.srv
        c = srv.conn(timeout=30)
        try:
            # keys with a short TTL would expire across the restart: drop them
            vol = [k for w in self.workers for k in w.by_kind["vol"]]
            c.send(b"".join(K.encode("DEL", k) for k in vol))
            c.read_replies(len(vol), timeout=30)
            for w in self.workers:
                for k in w.by_kind["vol"]:
                    w.model[k] = (None, None)
            digest = c.call("DEBUG", "DIGEST")
            K.check(digest.startswith(b"+") or digest.startswith(b"$"), "DEBUG DIGEST: %r" % digest)
            c.send(K.encode("SHUTDOWN"))
            K.check(c.closed_by_peer(20), "%s: SHUTDOWN closes the connection" % self.label)
        finally:
            c.close()
        code = A.wait_exit(srv, 20)
        K.check(code == 0, "%s: SHUTDOWN exits 0 (status %r)\n%s" % (
            self.label, code, srv.log_tail(3000).decode("utf-8", "replace")))
        rc, out = A.kevy_check(srv.dir)
        K.check(rc == 0, "%s: after recovery and SHUTDOWN kevy-check says clean (exit %d):\n%s" % (
            self.label, rc, out[-3000:]))
        stray = stray_files(srv.dir, out)
        K.check(not stray, "%s: after recovery and SHUTDOWN the directory holds files no manifest "
                "names: %s\n%s" % (self.label, stray, out[-3000:]))
        off = A.restart(srv)
        lines = A.log_since(srv, off).decode("utf-8", "replace")
        K.check("torn tail" not in lines, "%s: no torn tail after SHUTDOWN:\n%s" % (self.label, lines))
        with srv.conn(timeout=30) as c:
            d2 = c.call("DEBUG", "DIGEST")
        K.check(d2 == digest, "%s: DEBUG DIGEST after SHUTDOWN and restart %r, before %r" % (
            self.label, d2, digest))
        self.verify_all()
        return stray


def stray_files(d, check_out):
    """Files in the directory that kevy-check did not name (a file no
    manifest names), quarantine files excepted."""
    out = []
    for n in sorted(os.listdir(d)):
        if ".torn-" in n or n == "kevy.dataset":
            continue
        if os.path.join(d, n) + " [" not in check_out:   # "<path> [kind, shard N]: ..."
            out.append(n)
    return out


# ------------------------------------------------------------------ a cycle

FAILPOINTS = (
    ("rename", "kill"), ("rename", "kill-before"), ("dirsync", "kill"),
    ("dirsync", "kill-before"), ("fsync", "kill"), ("fsync", "kill-before"),
    ("open", "kill"), ("open", "kill-before"), ("unlink", "kill"),
    ("unlink", "kill-before"), ("write", "kill"),
)


# How a cycle's kill is made, and how often (KEVY_CRASH_KINDS=torn,snapshot
# narrows the draw to those kinds, to chase one failure).
KILL_KINDS = {"load": 0.35, "snapshot": 0.27, "failpoint": 0.28, "torn": 0.10}
ONLY_KINDS = [k for k in os.environ.get("KEVY_CRASH_KINDS", "").split(",") if k]
LOAD_SCALE = 1.0   # the long mode halves the load phases (main)


def plan_cycle(seed, cycle, nshards):
    """Everything a cycle decides, from (seed, cycle) only."""
    r = random.Random("%d:%d" % (seed, cycle))
    p = {
        "policy": r.choice(("always", "everysec")),
        "io": r.choice(("io_uring", "io_uring", "epoll")),
        "load_s": r.uniform(0.2, 1.0),
        "worker_seeds": [r.random() for _ in range(NWORKERS)],
        "bg_snapshots": [],
    }
    kinds = [k for k in KILL_KINDS if not ONLY_KINDS or k in ONLY_KINDS]
    p["kill"] = r.choices(kinds, [KILL_KINDS[k] for k in kinds])[0]
    if p["kill"] == "torn":
        # every append write from the Nth on leaves half its bytes (the shard
        # keeps retrying, no reply leaves), then SIGKILL: a torn tail
        p["spec"] = "write:%d+=short" % r.randrange(1, 20)
        p["delay_s"] = r.uniform(0.02, 0.25)
    elif p["kill"] == "load":
        if r.random() < 0.5:
            p["bg_snapshots"] = sorted((r.uniform(0.0, p["load_s"]), r.choice(("BGSAVE", "BGREWRITEAOF", "SAVE")))
                                       for _ in range(r.randrange(1, 3)))
    elif p["kill"] == "snapshot":
        p["cmd"] = r.choice(("BGSAVE", "BGREWRITEAOF", "SAVE"))
        p["delay_s"] = r.uniform(0.0, 0.004)
    else:
        kind, action = r.choice(FAILPOINTS)
        top = {"rename": 2 * nshards, "dirsync": 2 * nshards, "open": 2 * nshards + 1,
               "unlink": nshards, "fsync": 4 * nshards + 2, "write": 40}[kind]
        p["spec"] = "%s:%d=%s" % (kind, r.randrange(1, top + 1), action)
        p["cmd"] = r.choice(("BGSAVE", "BGREWRITEAOF", "SAVE"))
    if p["kill"] != "load":
        p["load_s"] = r.uniform(0.1, 0.6)   # load before the snapshot starts
    p["load_s"] *= LOAD_SCALE
    return p


def bg_snapshotter(port, plan, stop, t0, errors):
    try:
        with K.RawConn(port, timeout=10.0) as c:
            for at, cmd in plan:
                while not stop.is_set() and time.monotonic() < t0 + at:
                    time.sleep(0.01)
                if stop.is_set():
                    return
                r = c.call(cmd)
                if not (r.startswith(b"+") or b"already in progress" in r):
                    errors.append("%s replied %r" % (cmd, r))
    except (OSError, K.ConnectionClosed):
        pass


def load_and_kill(ds, plan, stats):
    """Run the workers, kill the server the planned way.  Returns a text
    describing the kill."""
    srv = ds.srv
    stop = threading.Event()
    acked0 = sum(w.acked for w in ds.workers)
    misconf_ok = threading.Event()   # set once appends are made to fail
    threads = [threading.Thread(target=w.run, args=(srv.port, random.Random(s), stop, ds.shared,
                                                    misconf_ok))
               for w, s in zip(ds.workers, plan["worker_seeds"])]
    bg_errors = []
    t0 = time.monotonic()
    if plan["bg_snapshots"]:
        threads.append(threading.Thread(target=bg_snapshotter,
                                        args=(srv.port, plan["bg_snapshots"], stop, t0, bg_errors)))
    for t in threads:
        t.start()
    what = ""
    try:
        time.sleep(plan["load_s"])
        K.check(srv.alive(), "%s: the server died by itself under load (status %r):\n%s" % (
            ds.label, srv.proc.poll(), srv.log_tail(3000).decode("utf-8", "replace")))
        if plan["kill"] == "load":
            ds.t_kill = wall_ms()
            A.kill9(srv)
            what = "SIGKILL under load at %.2fs%s" % (plan["load_s"], " (with %s)" % "+".join(
                c for _, c in plan["bg_snapshots"]) if plan["bg_snapshots"] else "")
            stats["load"] += 1
        elif plan["kill"] == "torn":
            misconf_ok.set()
            with srv.conn(timeout=10) as c:
                # Under `always` even this reply waits for the shard's last
                # LSN to be durable, which the failpoint may now prevent: do
                # not wait for it.
                t_set = time.monotonic()
                c.send(K.encode("DEBUG", "FAILPOINTS", plan["spec"]))
                r = A.try_read(c, plan["delay_s"])
                K.check(r in (b"+OK\r\n", None), "DEBUG FAILPOINTS %s replied %r" % (plan["spec"], r))
                time.sleep(max(0.0, t_set + plan["delay_s"] - time.monotonic()))
                ds.t_kill = wall_ms()
                A.kill9(srv)
            what = "SIGKILL %.0f ms after failpoint %s" % (plan["delay_s"] * 1000, plan["spec"])
            stats["torn_kill"] += 1
        elif plan["kill"] == "snapshot":
            what = kill_during_snapshot(ds, plan, stats)
        else:
            what = kill_at_failpoint(ds, plan, stats)
    finally:
        if srv.alive():
            A.kill9(srv)
        stop.set()
        for t in threads:
            t.join(30)
    K.check(not any(t.is_alive() for t in threads), "clients stopped after the kill")
    errs = [e for w in ds.workers for e in w.errors] + bg_errors
    K.check(not errs, "%s: unexpected replies under load: %s" % (ds.label, errs[:5]))
    acked = sum(w.acked for w in ds.workers) - acked0
    K.check(acked > 0, "%s: some writes were acknowledged before the kill" % ds.label)
    return what, acked


def kill_during_snapshot(ds, plan, stats):
    srv = ds.srv
    cmd = plan["cmd"]
    with srv.conn(timeout=10) as c, srv.conn(timeout=10) as q:
        c.send(K.encode(cmd))
        if cmd != "SAVE":
            r = c.read_reply()
            K.check(r.startswith(b"+") or b"already in progress" in r, "%s replied %r" % (cmd, r))
        seen = False
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            if A.info(q).get("rdb_bgsave_in_progress") == "1":
                seen = True
                break
        time.sleep(plan["delay_s"])
        ds.t_kill = wall_ms()
        A.kill9(srv)
    if seen:
        stats["during_snapshot"] += 1
        return "SIGKILL during %s (rdb_bgsave_in_progress:1, +%.1f ms)" % (cmd, plan["delay_s"] * 1000)
    stats["load"] += 1
    return "SIGKILL after %s (it had finished)" % cmd


def kill_at_failpoint(ds, plan, stats):
    srv = ds.srv
    spec, cmd = plan["spec"], plan["cmd"]
    ds.t_kill = None
    try:
        with srv.conn(timeout=10) as c:
            c.send(K.encode("DEBUG", "FAILPOINTS", spec))
            r = A.try_read(c, 5.0)
            K.check(r in (b"+OK\r\n", None), "DEBUG FAILPOINTS %s replied %r" % (spec, r))
            c.send(K.encode(cmd))
            code = A.wait_exit(srv, 3.0)
    except (OSError, K.ConnectionClosed):
        code = A.wait_exit(srv, 3.0)
    ds.t_kill = wall_ms()
    if code is None:
        A.kill9(srv)
        stats["load"] += 1
        return "failpoint %s + %s not reached in 3 s: SIGKILL by the test" % (spec, cmd)
    K.check(code == -9, "%s: the failpoint %s killed the server by SIGKILL (status %r):\n%s" % (
        ds.label, spec, code, srv.log_tail(3000).decode("utf-8", "replace")))
    stats["commit_step"] += 1
    return "killed itself at failpoint %s (after %s)" % (spec, cmd)


def run_cycle(ds, cycle, plan, stats):
    srv = ds.srv
    ds.set_args(plan["policy"], plan["io"])
    head = "cycle %d [%s] appendfsync %s, io %s" % (cycle, ds.label, plan["policy"], plan["io"])
    checked = 0
    if not ds.started:
        srv.start()
        ds.started = True
        with srv.conn(timeout=60) as c:
            ds.fill(c)
    else:
        off = A.restart(srv)
        checked = ds.check_recovery(off)
    ds.cycles += 1
    stray = None
    if ds.cycles % CLEAN_EVERY == 0:
        stray = ds.clean_check()
        stats["clean_checks"] += 1
    what, acked = load_and_kill(ds, plan, stats)
    stats[plan["policy"]] += 1
    stats["acked"] += acked
    stats["checked_keys"] += checked
    rc, out = A.kevy_check(srv.dir)
    K.check(rc in (0, 1), "%s: after the kill kevy-check says %d (0 clean / 1 torn tail expected):\n%s" % (
        ds.label, rc, out[-4000:]))
    # Exit 1: torn tail(s) to cut, and/or units across shards that lost a
    # part (never written before the kill) for recovery to drop whole.
    m = re.search(r": (\d+) torn tail\(s\) that recovery would", out)
    ntorn = int(m.group(1)) if (rc == 1 and m) else 0
    m = re.search(r"[,:] (\d+) unit\(s\) across shards missing a part", out)
    nunits = int(m.group(1)) if (rc == 1 and m) else 0
    K.check(rc == 0 or ntorn + nunits > 0, "%s: kevy-check exit 1 says why:\n%s" % (
        ds.label, out[-2000:]))
    ds.expect_torn = ntorn > 0
    ds.expect_units = nunits
    stats["torn"] += ntorn > 0
    stats["units_dropped"] = stats.get("units_dropped", 0) + nunits
    K.log("%s: %s; %d acked; kevy-check %s%s" % (
        head, what, acked, "clean" if rc == 0 else
        ", ".join(x for x in ("torn tail" if ntorn else "",
                              "%d incomplete unit(s)" % nunits if nunits else "") if x),
        "" if stray is None else "; clean SHUTDOWN check ok"))


def exec_race(seed, rounds):
    """MULTI/EXEC run by another shard while a shard starts refusing writes:
    8 clients each EXEC `SET a<w> v; SET b<w> v` in a loop (appendfsync
    always or everysec, drawn per round), then
    `write:1+=short` makes the next append of any shard tear and the shard
    refuse writes, then SIGKILL.  Each client's last acknowledged v must be
    there after the restart.  (A shard that started refusing while a txn
    from another shard held its keyspace acknowledged the txn's records at
    once, before they were written: a kill lost them.  Fixed in
    shard_ack_txn.)  Returns the acknowledged EXECs checked."""
    r = random.Random("%d:exec-race" % seed)
    srv = K.kevy("--threads", "2", "--appendfsync", "everysec").start()
    checked = 0
    try:
        # a and b of a client hash anywhere: on one shard or two, and on
        # the client's shard or not (a txn held by another shard's thread)
        keys = {w: ("xa%d" % w, "xb%d" % w) for w in range(8)}
        for rnd in range(rounds):
            stop = threading.Event()
            last = {}

            def run(w):
                ka, kb = keys[w]
                try:
                    with K.RawConn(srv.port, timeout=10) as c:
                        for i in range(1, WORKER_OP_LIMIT):
                            if stop.is_set():
                                return
                            v = b"%d:%d:%d" % (rnd, w, i)
                            c.send(K.encode("MULTI") + K.encode("SET", ka, v) +
                                   K.encode("SET", kb, v) + K.encode("EXEC"))
                            got = c.read_replies(4)
                            if got[3] != b"*2\r\n+OK\r\n+OK\r\n":
                                return   # MISCONF: refused, not acknowledged
                            last[w] = v
                except (OSError, K.ConnectionClosed):
                    return
            policy = r.choice(("always", "everysec"))
            with srv.conn() as c:
                K.check(c.call("CONFIG", "SET", "appendfsync", policy) == b"+OK\r\n", "CONFIG SET")
            ts = [threading.Thread(target=run, args=(w,)) for w in keys]
            for t in ts:
                t.start()
            try:
                time.sleep(r.uniform(0.1, 0.3))
                with srv.conn() as c:
                    c.send(K.encode("DEBUG", "FAILPOINTS", "write:1+=short"))
                    time.sleep(r.uniform(0.05, 0.2))
            finally:
                A.kill9(srv)
                stop.set()
                for t in ts:
                    t.join(30)
            A.restart(srv)
            with srv.conn() as c:
                for w, v in sorted(last.items()):
                    ka, kb = keys[w]
                    ga, gb = c.cmd("GET", ka), c.cmd("GET", kb)
                    want = tuple(int(x) for x in v.split(b":"))
                    for k, g in ((ka, ga), (kb, gb)):
                        K.check(g is not None and tuple(int(x) for x in g.split(b":")) >= want,
                                "exec race round %d: acknowledged EXEC set %s = %r, after kill -9 "
                                "it is %r (the other key: %r)" % (rnd, k, v, g, gb if k == ka else ga))
                    checked += 1
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    return checked


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's AOF, snapshots and failpoints")
    if A.kevy_check_path() is None:
        K.fail("kevy-check not found (set KEVY_BIN_DIR to the build directory)")
    seed, _ = K.rng_from_env()
    long_mode = os.environ.get("KEVY_CRASH_LONG", "") not in ("", "0")
    explicit = int(os.environ.get("KEVY_CRASH_CYCLES", "0") or 0)
    ncycles = explicit or (3000 if long_mode else 48)
    # The long mode (scripts/crash-long.sh, no CTest time limit) runs its
    # 3000 cycles with shorter load phases, within a budget of two hours.
    budget = float(os.environ.get("KEVY_CRASH_BUDGET_S", "0") or 0) or \
        (7200.0 if long_mode and not explicit else None)
    global LOAD_SCALE
    LOAD_SCALE = 0.5 if long_mode else 1.0
    replay = "%sKEVY_SEED=%d KEVY_CRASH_CYCLES=%%d KEVY_SERVER=%s KEVY_BIN_DIR=%s PYTHONPATH=%s python3 %s" % (
        ("KEVY_CRASH_LONG=1 " if long_mode else "") +
        ("KEVY_CRASH_KINDS=%s " % ",".join(ONLY_KINDS) if ONLY_KINDS else ""), seed, os.path.abspath(K.kevy_binary()), os.path.dirname(os.path.abspath(A.kevy_check_path())),
        ":".join(os.path.abspath(x) for x in os.environ.get("PYTHONPATH", "").split(":") if x),
        os.path.abspath(__file__))
    K.check(all(k in KILL_KINDS for k in ONLY_KINDS), "KEVY_CRASH_KINDS=%s: kinds are %s" % (
        ",".join(ONLY_KINDS), ",".join(KILL_KINDS)))
    K.log("crash_kill: %s%d cycles%s%s" % ("up to " if budget else "", ncycles,
                                           " (long mode, %.0f s budget)" % budget if budget else
                                           " (long mode)" if long_mode else "",
                                         ", kills: " + ",".join(ONLY_KINDS) if ONLY_KINDS else ""))
    stats = {"always": 0, "everysec": 0, "load": 0, "during_snapshot": 0, "commit_step": 0,
             "acked": 0, "checked_keys": 0, "torn": 0, "clean_checks": 0, "torn_kill": 0,
             "exec_race": 0, "exec_race_kills": 0}
    datasets = [Dataset(1, 3), Dataset(2, 1)]
    t0 = time.monotonic()
    cycle = -1
    ok = False
    try:
        for cycle in range(ncycles):
            if budget is not None and time.monotonic() - t0 > budget:
                K.log("crash_kill: the %.0f s budget is spent after %d cycles" % (budget, cycle))
                break
            ds = datasets[cycle % len(datasets)]
            run_cycle(ds, cycle, plan_cycle(seed, cycle, ds.nshards), stats)
        cycle = max(cycle, 0)
        for ds in datasets:
            if ds.started:
                off = A.restart(ds.srv)
                ds.check_recovery(off)
                ds.clean_check()
                stats["clean_checks"] += 1
                K.check(not ds.srv.log_alarms(), "%s: sanitizer/assert reports: %r" % (
                    ds.label, ds.srv.log_alarms()[:3]))
                ds.srv.check_clean_exit()
        if not ONLY_KINDS:
            t1 = time.monotonic()
            rounds = 100 if long_mode else 12
            stats["exec_race"] = exec_race(seed, rounds)
            stats["exec_race_kills"] = rounds
            K.log("exec race: %d kills, %d acknowledged cross-shard EXECs all present (%.1fs)" % (
                rounds, stats["exec_race"], time.monotonic() - t1))
        ok = True
    except BaseException:
        K.log("crash_kill: FAILED in cycle %d (seed %d); data directories kept: %s" % (
            cycle, seed, ", ".join(ds.srv.tmpdir for ds in datasets)))
        K.log("replay: " + replay % (min(cycle, ncycles - 1) + 1))
        for ds in datasets:
            ds.srv.keep_dir = True
        raise
    finally:
        for ds in datasets:
            ds.srv.cleanup()
    kills = stats["always"] + stats["everysec"]
    K.log("crash_kill: %d kills survived (always %d, everysec %d; during snapshot %d, at I/O "
          "failpoints of snapshot/commit steps %d, under load %d, torn by short writes %d; plus %d "
          "in the EXEC race), acked writes checked: %d (+%d EXECs), keys judged: %d, torn tails "
          "cut: %d, incomplete units dropped whole: %d, clean SHUTDOWN checks: %d, in-flight "
          "PFADDs recomputed: %d, %.1fs (seed %d)" % (
              kills, stats["always"], stats["everysec"], stats["during_snapshot"],
              stats["commit_step"], stats["load"], stats["torn_kill"], stats["exec_race_kills"],
              stats["acked"], stats["exec_race"], stats["checked_keys"], stats["torn"],
              stats.get("units_dropped", 0), stats["clean_checks"], HLL_RECOMPUTED[0], time.monotonic() - t0, seed))
    assert ok


if __name__ == "__main__":
    K.run_main(main)
