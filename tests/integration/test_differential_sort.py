#!/usr/bin/python3
"""Differential test of SORT and SORT_RO: the same seeded command stream to
redis-server and to kevy-server, every reply compared byte for byte.

A seeded generator (the seed is printed; KEVY_SEED=<n> replays it) builds a
dataset of lists, sets (intset and not) and sorted sets whose elements come
from a fixed universe, weights for them as strings (w_*, some missing, some
equal, some junk), as hash fields (h_*->f numeric, h_*->s text) and as
unique strings (u_*), then sends a few thousand SORT / SORT_RO calls with
random options (BY, LIMIT, GET, ASC/DESC, ALPHA, STORE, repeated options,
junk options, wrong types, missing keys), each STORE followed by the
destination's TYPE, LRANGE and PERSIST (whether a TTL survived), interleaved with writes to the sources
and weights (and STOREs into the sources themselves), MULTI/EXEC blocks with
SORTs inside, and weights that expire.  Two phases: kevy --threads 3 (the
patterns' keys spread over shards) and --threads 1.

Where Redis's own order is not defined, the generator stays out, so every
reply can be compared exactly:
  * a set that is not an intset, read unsorted (BY nosort without STORE),
    comes out in hash-table order: only intsets are read that way;
  * elements that compare equal keep their input order (both sorts are
    stable), and a set's or sorted set's input order is its table's: so
    ALPHA BY on a set or sorted set, or with LIMIT (Redis then uses a partial
    quicksort, not stable), uses only the u_* weights, unique and present for
    every element, and sets and sorted sets hold no element with a NUL byte
    (strcoll stops there);
  * Redis leaves errno at ERANGE after a weight that overflows a double, and
    its next numeric SORTs fail until something resets errno: no value
    overflows or underflows here.
The servers run with LC_ALL=C, so ALPHA's strcoll is byte order on both.

Environment: KEVY_SEED (replay), KEVY_DIFF_SORT_OPS (SORT calls per phase,
default 3000).  Exit 77 when redis-server or kevy-server is missing.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
os.environ["LC_ALL"] = "C"
import kevylib as K  # noqa: E402

OPS = int(os.environ.get("KEVY_DIFF_SORT_OPS", "3000"))

NUMS = [b"%d" % i for i in range(-5, 40)] + [b"1.5", b"-2.25", b"0.1", b"007", b"+3", b"1e3",
                                               b"inf", b"-inf", b" 4", b"0x1A", b""]
WORDS = [b"a", b"b", b"B", b"apple", b"Apple", b"zz", b"hello", b"sp ace", b"\xc3\xa9t\xc3\xa9",
         b"m%", b"x*y", b"a->b", b"#", b"-", b"\xff"]
UNIVERSE = NUMS + WORDS
NUL_ELEMS = [b"bin\x00a", b"bin\x00b", b"bin"]   # lists only
JUNK = [b"abc", b"1x", b"nan", b"--1"]

LISTS = [b"l1", b"l2", b"{t}l3"]
INTSETS = [b"s1"]
SETS = [b"s2", b"{t}s3"]
ZSETS = [b"z1", b"z2"]
OTHER = [b"str", b"hash", b"nokey"]
DESTS = [b"d1", b"d2", b"{t}d3", b"d4"]


class Gen:
    def __init__(self, rng):
        self.r = rng

    def elem(self, for_list):
        pool = UNIVERSE + (NUL_ELEMS if for_list else [])
        return self.r.choice(pool)

    def setup(self):
        r = self.r
        ops = []
        for k in LISTS:
            ops.append([b"RPUSH", k] + [self.elem(True) for _ in range(r.randint(5, 40))])
        ops.append([b"RPUSH", b"l2"] + [r.choice(NUMS) for _ in range(30)])
        ops.append([b"SADD", b"s1"] + [b"%d" % r.randint(-5, 39) for _ in range(30)])
        for k in SETS:
            ops.append([b"SADD", k] + [self.elem(False) for _ in range(r.randint(5, 40))])
        for k in ZSETS:
            a = [b"ZADD", k]
            for _ in range(r.randint(5, 30)):
                a += [r.choice([b"0", b"1", b"2.5", b"-1", b"%d" % r.randint(0, 9)]),
                      self.elem(False)]
            ops.append(a)
        ops.append([b"SET", b"str", b"v"])
        ops.append([b"HSET", b"hash", b"f", b"1"])
        for i, e in enumerate(UNIVERSE + NUL_ELEMS):
            ops.append([b"SET", b"u_" + e, b"u%04d" % ((i * 37) % 1000)])
            x = r.random()
            if x < 0.7:
                ops.append([b"SET", b"w_" + e, self.weight()])
            elif x < 0.8:
                ops.append([b"HSET", b"w_" + e, b"f", b"1"])     # wrong type: no weight
            if r.random() < 0.8:
                h = [b"HSET", b"h_" + e, b"s", r.choice(WORDS + NUMS)]
                if r.random() < 0.8:
                    h += [b"f", self.weight(junk=False)]
                ops.append(h)
        return ops

    def weight(self, junk=True):
        r = self.r
        x = r.random()
        if junk and x < 0.03:
            return r.choice(JUNK)
        if x < 0.4:
            return b"%d" % r.randint(-20, 20)
        if x < 0.6:
            return r.choice([b"1.5", b"-0.5", b"3.25", b"1e2", b"inf", b"-inf", b"0", b"-0"])
        return b"%d" % r.randint(-100000, 100000)

    def sort_call(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            key, kind = r.choice(LISTS), "list"
        elif x < 0.5:
            key, kind = r.choice(INTSETS), "intset"
        elif x < 0.7:
            key, kind = r.choice(SETS), "set"
        elif x < 0.9:
            key, kind = r.choice(ZSETS), "zset"
        else:
            key, kind = r.choice(OTHER), "other"
        ro = r.random() < 0.2
        args = [b"SORT_RO" if ro else b"SORT", key]
        alpha = r.random() < 0.4
        store = None if ro or r.random() < 0.6 else r.choice(DESTS)
        limit = r.random() < 0.35
        by = None
        y = r.random()
        if y < 0.35:
            by = None
        elif y < 0.5:
            by = r.choice([b"nosort", b"const", b"#"])
        else:
            by = r.choice([b"w_*", b"h_*->f", b"h_*->s", b"u_*", b"nokey_*", b"w_*->"])
        sorting = by is None or b"*" in by
        unsorted_set = kind == "set" and not sorting and store is None
        if unsorted_set:
            by = b"u_*"            # hash-table order is Redis's own: sort instead
            sorting = True
        if alpha and sorting and by is not None and (kind in ("set", "zset", "intset") or limit):
            by = b"u_*"
        opts = []
        if by is not None:
            opts.append([b"BY", by])
        if limit:
            opts.append([b"LIMIT", r.choice([b"0", b"1", b"3", b"-2", b"100", b"abc"]),
                         r.choice([b"1", b"5", b"0", b"-1", b"1000", b"9223372036854775807",
                                   b"1.5"])])
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            opts.append([b"GET", r.choice([b"#", b"w_*", b"h_*->s", b"h_*->f", b"u_*", b"const",
                                           b"#x", b"nokey_*", b"*"])])
        if r.random() < 0.4:
            opts.append([r.choice([b"ASC", b"DESC", b"desc", b"asc"])])
        if alpha:
            opts.append([r.choice([b"ALPHA", b"alpha"])])
        if store is not None:
            opts.append([b"STORE", store])
        if r.random() < 0.05 and not ro:
            opts.append([b"STORE", b"d5"])
            store = b"d5"
        if r.random() < 0.04 and not ro and not any(o[0] == b"GET" for o in opts):
            # Into a source list: its elements stay in the universe (GET
            # values would not have unique u_* weights).
            store = r.choice(LISTS)
            opts = [o for o in opts if o[0] != b"STORE"] + [[b"STORE", store]]
        r.shuffle(opts)
        for o in opts:
            args += o
        if r.random() < 0.05:
            # Last, so it cannot take the next option as its argument.
            args.append(r.choice([b"FOO", b"LIMIT", b"BY", b"GET", b"STORE"]))
        ops = [args]
        if store is not None:
            ops += [[b"TYPE", store], [b"LRANGE", store, b"0", b"-1"], [b"PERSIST", store]]
        return ops

    def write(self):
        r = self.r
        x = r.random()
        if x < 0.25:
            k = r.choice(LISTS)
            return [[r.choice([b"RPUSH", b"LPUSH"]), k, self.elem(True)]]
        if x < 0.35:
            return [[b"SADD", b"s1", b"%d" % r.randint(-5, 39)]]
        if x < 0.45:
            return [[b"SADD", r.choice(SETS), self.elem(False)]]
        if x < 0.55:
            return [[b"ZADD", r.choice(ZSETS), b"%d" % r.randint(-3, 3), self.elem(False)]]
        if x < 0.8:
            e = r.choice(UNIVERSE)
            return [[b"SET", b"w_" + e, self.weight()]]
        if x < 0.88:
            return [[b"DEL", b"w_" + r.choice(UNIVERSE)]]
        if x < 0.95:
            return [[b"HSET", b"h_" + r.choice(UNIVERSE), r.choice([b"f", b"s"]),
                     self.weight(junk=False)]]
        return [[b"SET", r.choice([b"d1", b"d2", b"d4"]), b"x", b"EX", b"1000"]]


def stream(rng):
    """The phase's commands in batches; a batch of None means: sleep so the
    weights set with PX 1 have expired on both servers."""
    g = Gen(rng)
    batches = [g.setup()]
    batch = []
    for i in range(OPS):
        x = rng.random()
        if x < 0.6:
            batch += g.sort_call()
        elif x < 0.9:
            batch += g.write()
        elif x < 0.95:
            batch.append([b"MULTI"])
            for _ in range(rng.randint(1, 4)):
                batch += [c for c in (g.sort_call() if rng.random() < 0.6 else g.write())]
            batch.append([b"EXEC"])
        else:
            e = rng.choice(UNIVERSE)
            batch.append([b"SET", b"w_" + e, g.weight(junk=False), b"PX", b"1"])
            batches += [batch, None]
            batch = []
            continue
        if len(batch) > rng.randint(1, 40):
            batches.append(batch)
            batch = []
    batches.append(batch)
    return batches


def run_stream(batches):
    def run(port):
        out = []
        c = K.RawConn(port, timeout=30)
        try:
            for b in batches:
                if b is None:
                    time.sleep(0.01)
                    continue
                if not b:
                    continue
                c.send(b"".join(K.encode(*a) for a in b))
                out += c.read_replies(len(b))
        finally:
            c.close()
        return out
    return run


def main():
    K.require_kevy()
    K.require_redis()
    seed, rng = K.rng_from_env()
    for threads in ("3", "1"):
        phase_seed = rng.randrange(1 << 30)
        batches = stream(random.Random(phase_seed))
        labels = []
        for b in batches:
            for a in b or []:
                labels.append(b" ".join(a[:14]).decode("utf-8", "replace")[:200])
        n = K.compare_with_redis(run_stream(batches), labels, kevy_args=("--threads", threads))
        K.check(n > OPS, "compared %d replies" % n)
        K.log("--threads %s: %d replies identical (seed %d)" % (threads, n, seed))


if __name__ == "__main__":
    K.run_main(main)
