#!/usr/bin/python3
"""Differential test over the data types: the same seeded command stream to
redis-server and to kevy-server, replies compared byte for byte.

A seeded generator (the seed is printed; KEVY_SEED=<n> replays it) produces
>= 50,000 commands in all over every hash, list, set and sorted-set command
kevy implements, plus TYPE/DEL/EXISTS/RENAME/EXPIRE/PTTL/KEYS/SCAN ... TYPE,
strings (SET/GET/APPEND/INCR, SETBIT/GETBIT, LCS), bitmaps (SETBIT GETBIT
BITCOUNT BITPOS with BYTE/BIT ranges, BITOP across shards, BITFIELD and
BITFIELD_RO with every type width, # offsets and OVERFLOW; reads at bit
2^32-1, errors at 2^32), HyperLogLogs (PFADD PFCOUNT PFMERGE over several
keys and shards, PFDEBUG, sparse-to-dense promotion, invalid HLL strings:
INVALIDOBJ and WRONGTYPE), geo (GEOADD NX/XX/CH, GEOPOS GEODIST GEOHASH,
GEOSEARCH[STORE] and GEORADIUS[BYMEMBER][_RO] with every option; the
final comparison checks the geohash scores and the HLL bytes exactly),
streams (XADD with explicit IDs and ms-*, NOMKSTREAM, MAXLEN/MINID with = and
~ and LIMIT, XRANGE/XREVRANGE with exclusive bounds, XLEN, XDEL, XTRIM,
XSETID, XGROUP CREATE/SETID/CREATECONSUMER/DELCONSUMER/DESTROY, XREADGROUP
with > and history IDs over one or two keys, NOACK, XREAD without BLOCK,
XACK, XPENDING, XCLAIM and XAUTOCLAIM with every option, XINFO STREAM
[FULL]/GROUPS/CONSUMERS; IDs out of order, malformed, 0-0, at and past
2^64-1, negative MAXLEN, missing groups and consumers; the final comparison
is XINFO STREAM FULL, PELs included),
WATCH and MULTI/EXEC blocks that mix types -- error cases included
(wrong arity, WRONGTYPE, syntax errors, bad numbers, out-of-range values,
option conflicts, queue-time errors that abort EXEC).  The keyspace is small
(each family has a few preferred keys, and about one command in eight picks
any key) so commands collide and WRONGTYPE comes up everywhere; now and then
a bulk command grows a collection past Redis 7.0's encoding limits (hashes
> 512 fields, sorted sets > 128 members, lists past a listpack node, sets
> 512 integers, members/values > 64 bytes).

Commands go out in pipelined batches of random depth over several
connections; a seeded schedule picks which connection sends the next batch,
and each batch's replies are read from both servers before the next batch is
sent, so both servers see the same global order.  Two phases, each with a
fresh kevy and a flushed redis: kevy --threads 3, then a shorter one with
--threads 1.  Each phase ends with a whole-dataset comparison (SCAN, TYPE,
the read command of each type, PTTL with a tolerance, DBSIZE).

What is not compared byte for byte, and how it is compared instead:
  * reply order that depends on Redis's hash tables: SMEMBERS, SINTER,
    SUNION, SDIFF and KEYS as multisets; HKEYS, HVALS, HGETALL exactly while
    Redis holds the hash as a listpack (the test asks Redis's OBJECT ENCODING
    right after the read, on the reference only) and as multisets / field-value
    pairs once it is a hashtable (inside MULTI always as multisets);
  * SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER: each runs alone; both servers'
    collections are read first (and must be equal), then each reply is
    checked to be a valid draw from its own server's collection (count,
    membership, distinctness for positive counts, values/scores).  After an
    SPOP whose draws differ, both servers get the same SADD then SREM so the
    sets agree again;
  * HSCAN, SSCAN, ZSCAN and SCAN (with MATCH/COUNT/TYPE) run to completion on
    both sides and the element sets are compared (cursors are each server's
    own); their error forms are compared exactly;
  * PTTL with a tolerance (relative TTLs are unique and 10,000 s apart).
  * stream replies with times in them (XPENDING's idle, XINFO CONSUMERS'
    idle, XINFO STREAM FULL's seen-time and delivery times) and XINFO
    STREAM's radix-tree-keys/-nodes (kevy keeps blocks in a sorted array),
    with those fields as "*" (xnorm); idle thresholds are chosen far from
    any time the run can produce (see X_GROUPS).
  * GEOSEARCH / GEORADIUS without ASC/DESC (and without COUNT, which sorts)
    as multisets: Redis's unsorted order follows its geohash boxes.  No two
    geo members ever share a point (GEO_POINTS), so sorted replies have no
    distance ties and are compared exactly; COUNT ... ANY only with a count
    past the member count.

Lex-range commands (ZRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX, ZRANGE BYLEX) are
only defined on sorted sets whose scores are all equal: see LEX_KEY below.

Environment: KEVY_SEED (replay), KEVY_DIFF_TYPES_PHASES (default
"3:60000,1:20000": threads:commands per phase), KEVY_DIFF_TYPES_MAX_S (hard
time limit per phase, default 400), KEVY_DIFF_TYPES_MAX_MISMATCHES (default 1;
more logs each mismatch and goes on, for bug hunting),
KEVY_DIFF_TYPES_TRACE=<file> (append every command sent, for debugging).  On a mismatch it prints the seed, the
command, both replies and the commands that preceded it, and exits 1.
Exit 77 when redis-server or kevy-server is missing.
"""

import collections
import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402
import difflib_common as C  # noqa: E402
import difflib_types as D  # noqa: E402

# ---------------------------------------------------------------------------
# Intentional differences between kevy and Redis 7.0.  Each entry: a name, a
# predicate on the command (list of bytes), a predicate on (redis_reply,
# kevy_reply) raw bytes that must hold for the difference to be accepted, and
# the reason.  Anything else that differs is a failure.  (Order-insensitive
# comparisons described in the docstring are not differences: Redis itself
# gives another order with another hash seed.)
# ---------------------------------------------------------------------------



ALLOWED_DIFFERENCES = C.ALLOWED_DIFFERENCES

# Commands kevy may legitimately not implement yet (unknown command on kevy
# only is otherwise a failure).  name -> reason.
NOT_IMPLEMENTED_OK = {}

NCONN = 4
DEFAULT_PHASES = "3:60000,1:20000"
PTTL_TOLERANCE_MS = 60000
# 1 (default): stop at the first mismatch.  More: log mismatches and go on.
MAX_MISMATCHES = max(1, int(os.environ.get("KEVY_DIFF_TYPES_MAX_MISMATCHES", "1")))

# ---------------------------------------------------------------- keyspace

FAMILY_KEYS = {
    "hash": [b"h1", b"h2", b"{g}h"],
    "list": [b"l1", b"l2", b"{g}l"],
    "set": [b"s1", b"s2", b"{g}s"],
    "zset": [b"z1", b"z2", b"{g}z"],
    "string": [b"str", b"{g}str"],
    "bitmap": [b"bm1", b"bm2", b"{g}bm"],
    "hll": [b"hll1", b"hll2", b"{g}hll"],
    "geo": [b"geo1", b"geo2", b"{g}geo"],
    "stream": [b"st1", b"st2", b"{g}st"],
}
ALL_KEYS = [k for ks in FAMILY_KEYS.values() for k in ks] + [b"x", b"{g}x"]
# Every family's commands may pick an HLL key: a string or bit write into an
# HLL leaves a sparse HLL whose opcodes do not cover exactly 16,384 registers,
# which PFADD then edits in place until a promotion finds it corrupt, as
# Redis does (what an erroring PFADD changed stays).  Invalid HLL headers
# are made on purpose by g_hll.

# Bitmaps.  Writes stay below ~100 kbit so that no string grows large; the
# edge offsets (bit 2^32-1, the last one, and 2^32, out of range) go to
# reads, where they allocate nothing, and to SETBIT / BITFIELD only as 2^32
# and friends, which are errors.  (A SETBIT at 2^32-1 would make a 512 MB
# string on both servers: the Redis units cover it.)
BIT_OFFS_W = [b"0", b"1", b"7", b"8", b"9", b"15", b"16", b"31", b"63", b"64", b"100",
              b"1000", b"8191", b"65535", b"99999"]
BIT_OFFS_R = BIT_OFFS_W + [b"4294967295", b"4294967294", b"536870911"]
BIT_OFFS_BAD = [b"4294967296", b"-1", b"abc", b"", b"1.5", b"18446744073709551616"]
BIT_RANGES = [b"0", b"1", b"-1", b"-2", b"2", b"3", b"-3", b"7", b"-8", b"100", b"-100",
              b"9223372036854775807", b"-9223372036854775808", b"4294967295", b"abc"]
BF_TYPES = [b"u1", b"u8", b"i8", b"u7", b"i5", b"u16", b"i16", b"u32", b"i32", b"u63",
            b"i64", b"i1", b"u64", b"i65", b"u0", b"x8", b"8", b""]
BF_VALUES = [b"0", b"1", b"-1", b"127", b"128", b"-128", b"255", b"256", b"65535", b"-32768",
             b"9223372036854775807", b"-9223372036854775808", b"4294967295", b"abc", b"1.5"]
# HyperLogLogs.  HLL_BAD is written (SET) only by g_hll and is not in
# ALL_KEYS: it holds strings that look like HLLs but are not valid ones.
HLL_BAD = b"{g}hllbad"
HLL_BAD_HEADERS = [b"HYLL\x02" + b"\x00" * 11,                       # unknown encoding
                   b"HYLL\x00" + b"\x00" * 11 + b"\x00" * 100,        # dense, wrong length
                   b"HYLX\x01" + b"\x00" * 11 + b"\x7f\xff",          # broken magic
                   b"HYL"]                                            # shorter than a header
# Sparse opcodes covering 1 register of 16384: PFCOUNT / PFMERGE report it
# (INVALIDOBJ); only those read it.
HLL_BAD_SPARSE = b"HYLL\x01" + b"\x00" * 11 + b"\x00"
# Geo: member mN (N < 20) sits at one of three points of its own (GEOADD
# moves it among them), so no two members ever share a point and distance
# ties cannot make the sorted replies differ.  A few points are on the
# edges of the valid range.
_GEO_R = random.Random(15)
GEO_POINTS = [(b"%.6f" % (13 + _GEO_R.random()), b"%.6f" % (37.5 + _GEO_R.random()))
              for _ in range(57)] + [(b"180", b"85.05112878"), (b"-180", b"-85.05112878"),
                                     (b"0", b"0")]
GEO_BAD = [(b"180.0001", b"10"), (b"10", b"85.06"), (b"abc", b"1"), (b"1", b""),
           (b"nan", b"1"), (b"-181", b"-86")]
GEO_UNITS = [b"m", b"km", b"ft", b"mi", b"KM", b"M", b"yd"]
GEO_CENTERS = [(b"13.5", b"38"), (b"13.361389", b"38.115556"), (b"0", b"0"), (b"179.9", b"85"),
               (b"200", b"0")]

SMALL = [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"hello", b"", b"1", b"2",
         b"10", b"-5", b"007", b"3.5", b"bin\x00\xff", b"sp ace", b"A", b"Z", b"zz"]
LONG = [b"L" * 65, b"M" * 64, b"N" * 100, b"P" * 300]
INT_ARGS = [b"0", b"1", b"-1", b"2", b"10", b"-10", b"1000", b"9223372036854775807",
            b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809",
            b"abc", b"1.5", b"", b" 1", b"1 ", b"+1", b"01", b"-0", b"0x1f", b"1e3"]
FLOAT_ARGS = [b"0.1", b"-0.1", b"1.5", b"1e3", b"-2.5e-3", b"3", b"0", b"-7", b"abc",
              b"", b"inf", b"-inf", b"nan", b"1e308", b"0x10", b" 1.0", b"1.0 ",
              b"5.0e3", b"-1e-10", b"10.50", b"9223372036854775807", b"+inf", b"1e400"]
SCORES = [b"0", b"1", b"2", b"-1", b"1.5", b"0.1", b"-0.25", b"3", b"10", b"100",
          b"1e3", b"-inf", b"+inf", b"inf", b"2.5e-3", b"7", b"-7", b"0.3"]
BAD_SCORES = [b"abc", b"nan", b"", b"1x", b"--1", b"(1"]
SCORE_RANGES = [b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"2", b"(2", b"1.5",
                b"-1", b"(-1", b"10", b"(100", b"3", b"0.1", b"(0.3"]
BAD_RANGES = [b"abc", b"((1", b"[1", b"", b"nan", b"(nan", b"1x"]
LEX_RANGES = [b"-", b"+", b"[a", b"(a", b"[c", b"(c", b"[e", b"(zz", b"[", b"(",
              b"[hello", b"(b", b"[Z", b"[1"]
BAD_LEX = [b"a", b"", b"x", b"{a", b"*"]
PATTERNS = [b"*", b"f*", b"f1*", b"*a*", b"?", b"[a-c]", b"h*", b"s*", b"z*", b"l*",
            b"{g}*", b"nomatch*", b"1*", b"*0", b""]
UNKNOWN = [b"HGETT", b"ZADDD", b"LPUSHH", b"SADDX", b"hfoo"]

# Redis 7.0 arities (name included; negative = at least).
ARITY = {
    b"HSET": -4, b"HSETNX": 4, b"HGET": 3, b"HMGET": -3, b"HMSET": -4, b"HDEL": -3,
    b"HEXISTS": 3, b"HLEN": 2, b"HSTRLEN": 3, b"HKEYS": 2, b"HVALS": 2, b"HGETALL": 2,
    b"HINCRBY": 4, b"HINCRBYFLOAT": 4, b"HRANDFIELD": -2,
    b"LPUSH": -3, b"RPUSH": -3, b"LPUSHX": -3, b"RPUSHX": -3, b"LPOP": -2, b"RPOP": -2,
    b"LLEN": 2, b"LRANGE": 4, b"LINDEX": 3, b"LSET": 4, b"LINSERT": 5, b"LREM": 4,
    b"LTRIM": 4, b"LPOS": -3, b"LMOVE": 5, b"RPOPLPUSH": 3, b"LMPOP": -4,
    b"SADD": -3, b"SREM": -3, b"SISMEMBER": 3, b"SMISMEMBER": -3, b"SMEMBERS": 2,
    b"SCARD": 2, b"SPOP": -2, b"SRANDMEMBER": -2, b"SMOVE": 4, b"SINTER": -2,
    b"SUNION": -2, b"SDIFF": -2, b"SINTERSTORE": -3, b"SUNIONSTORE": -3,
    b"SDIFFSTORE": -3, b"SINTERCARD": -3,
    b"ZADD": -4, b"ZREM": -3, b"ZSCORE": 3, b"ZMSCORE": -3, b"ZINCRBY": 4, b"ZCARD": 2,
    b"ZCOUNT": 4, b"ZLEXCOUNT": 4, b"ZRANK": 3, b"ZREVRANK": 3, b"ZRANGE": -4,
    b"ZRANGEBYSCORE": -4, b"ZREVRANGEBYSCORE": -4, b"ZRANGEBYLEX": -4,
    b"ZREVRANGEBYLEX": -4, b"ZREVRANGE": -4, b"ZPOPMIN": -2, b"ZPOPMAX": -2,
    b"ZREMRANGEBYRANK": 4, b"ZREMRANGEBYSCORE": 4, b"ZREMRANGEBYLEX": 4,
    b"ZUNIONSTORE": -4, b"ZINTERSTORE": -4, b"ZDIFFSTORE": -4, b"ZRANDMEMBER": -2,
    b"ZMPOP": -4, b"ZRANGESTORE": -5, b"LCS": -3, b"SETBIT": 4, b"GETBIT": 3,
    b"TYPE": 2, b"DEL": -2, b"EXISTS": -2, b"RENAME": 3, b"RENAMENX": 3, b"EXPIRE": -3,
    b"PERSIST": 2, b"KEYS": 2, b"GET": 2, b"SET": -3, b"APPEND": 3, b"INCR": 2,
    b"WATCH": -2,
    b"BITCOUNT": -2, b"BITPOS": -3, b"BITOP": -4, b"BITFIELD": -2, b"BITFIELD_RO": -2,
    b"PFADD": -2, b"PFCOUNT": -2, b"PFMERGE": -2, b"PFDEBUG": 3,
    b"GEOADD": -5, b"GEOPOS": -2, b"GEODIST": -4, b"GEOHASH": -2, b"GEOSEARCH": -7,
    b"GEOSEARCHSTORE": -8, b"GEORADIUS": -6, b"GEORADIUS_RO": -6,
    b"GEORADIUSBYMEMBER": -5, b"GEORADIUSBYMEMBER_RO": -5,
    b"XADD": -5, b"XRANGE": -4, b"XREVRANGE": -4, b"XLEN": 2, b"XDEL": -3, b"XTRIM": -4,
    b"XSETID": -3, b"XACK": -4, b"XPENDING": -3, b"XCLAIM": -6, b"XAUTOCLAIM": -6,
    b"XREADGROUP": -7, b"XREAD": -4,
}

# Streams.  IDs are explicit (never "*": the clock would choose them), so
# every reply is deterministic but for times: XPENDING's idle times, XINFO
# CONSUMERS' idle, XINFO STREAM FULL's seen-times and delivery times are
# compared as "*" (mode "xnorm"), and so are XINFO STREAM's radix-tree-keys
# and radix-tree-nodes (kevy keeps blocks in a sorted array: see
# docs/compatibility.md).  Idle thresholds (XCLAIM / XAUTOCLAIM min-idle,
# XPENDING IDLE) are 0 or 10^12 ms, and the delivery times that XCLAIM IDLE /
# TIME set are either now or decades ago, so no comparison sits near a
# threshold.
X_GROUPS = [b"g1", b"g2", b"g3"]
X_CONSUMERS = [b"alice", b"bob", b"carol", b"dave"]
X_BAD_IDS = [b"abc", b"1-", b"-1", b"1-x", b"1.5", b" 1", b"", b"18446744073709551616",
             b"1-18446744073709551616", b"0x10", b"+", b"-", b"$", b">", b"1-2-3"]
X_EDGE_IDS = [b"0-0", b"0-1", b"0", b"18446744073709551615-18446744073709551615",
              b"18446744073709551615", b"18446744073709551615-0", b"9223372036854775807-0"]
X_TIME_KEYS = (b"idle", b"seen-time", b"radix-tree-keys", b"radix-tree-nodes",
               b"active-time", b"inactive")


def xnorm(v):
    """A parsed stream reply with its clock-dependent fields as "*"."""
    if not isinstance(v, list):
        return v
    if v and all(isinstance(e, list) and len(e) == 4 and isinstance(e[0], bytes)
                 and isinstance(e[1], bytes) and isinstance(e[2], int) for e in v):
        return [[e[0], e[1], "*", e[3]] for e in v]      # XPENDING's extended form
    out = []
    i = 0
    while i < len(v):
        e = v[i]
        nxt = v[i + 1] if i + 1 < len(v) else None
        if isinstance(e, bytes) and e in X_TIME_KEYS and isinstance(nxt, int):
            out += [e, "*"]
            i += 2
            continue
        if e == b"pending" and isinstance(nxt, list):
            pel = []
            for p in nxt:
                if isinstance(p, list) and len(p) == 4:        # group: id owner time count
                    p = [p[0], p[1], "*", p[3]]
                elif isinstance(p, list) and len(p) == 3:      # consumer: id time count
                    p = [p[0], "*", p[2]]
                pel.append(p)
            out += [e, pel]
            i += 2
            continue
        out.append(xnorm(e))
        i += 1
    return out

# Modes: exact | set (multiset of a flat array) | hash / hflat (exact while
# Redis's hash is a listpack, else pairs / multiset) | ttl | exec | and the
# ones run alone: rand | scan (HSCAN/SSCAN/ZSCAN) | kscan (SCAN).
SPECIAL = ("rand", "scan", "kscan", "lexguard")

# Lex-range commands are defined only on sorted sets whose scores are all
# equal; on mixed scores Redis's own result depends on its skiplist's random
# levels.  The key LEX_KEY only ever holds members of score 0 (it is never a
# RENAME/store destination), so lex commands on it go in batches like any
# other; lex commands on other keys run alone ("lexguard"): both collections
# are read first, and when the key is a sorted set with mixed scores the
# command is not sent to either server (counted in the summary).
LEX_KEY = b"{g}zlex"


class Op:
    __slots__ = ("args", "mode", "sub", "fam", "in_multi")

    def __init__(self, args, mode="exact", fam=None):
        self.args = args
        self.mode = mode
        self.sub = None        # EXEC: the ops queued since MULTI
        self.fam = fam         # rand: "set" | "hash" | "zset"
        self.in_multi = False


class Gen(C.WeightedGenMixin):
    def __init__(self, rng, families):
        self.r = rng
        self.fams = families
        self.unique = 0
        table = [
            ("hash", self.g_hash, 22), ("list", self.g_list, 20), ("set", self.g_set, 20),
            ("zset", self.g_zset, 24), ("keys", self.g_keys, 9), ("string", self.g_string, 3),
            ("multi", self.g_multi, 3), ("watch", self.g_watch, 0.6),
            ("bitmap", self.g_bitmap, 6), ("hll", self.g_hll, 4), ("geo", self.g_geo, 6),
            ("stream", self.g_stream, 16),
            ("unknown", self.g_unknown, 0.3), ("select", self.g_select, 0.2),
        ]
        self.gens = [(fn, w) for f, fn, w in table
                     if f not in ("hash", "zset", "geo", "stream") or f in families]
        self.xms = 0              # the last XADD's ms part, roughly
        self.xids = collections.deque(maxlen=40)   # IDs recently added
        self.total_w = sum(w for _, w in self.gens)

    # -------------------------------------------------------------- pickers
    def key(self, fam):
        if self.r.random() < 0.12 or fam not in self.fams:
            return self.r.choice(ALL_KEYS)
        return self.r.choice(FAMILY_KEYS[fam])

    def anykey(self):
        return self.r.choice(ALL_KEYS)

    def small_or_long(self, p_long=0.015):
        if self.r.random() < p_long:
            return self.r.choice(LONG)
        return self.r.choice(SMALL)

    def field(self):
        x = self.r.random()
        if x < 0.75:
            return self.r.choice(SMALL)
        if x < 0.985:
            return b"f%d" % self.r.randrange(300)
        return self.r.choice(LONG)

    def hval(self):
        x = self.r.random()
        if x < 0.4:
            return b"%d" % self.r.randint(-100, 100)
        if x < 0.5:
            return self.r.choice(INT_ARGS + FLOAT_ARGS)
        if x < 0.98:
            return self.r.choice(SMALL)
        return self.r.choice(LONG)

    def set_member(self, key):
        if key == b"s1" or (key == b"{g}s" and self.r.random() < 0.5):
            if self.r.random() < 0.9:
                return b"%d" % self.r.randint(-20, 40)
        return self.small_or_long()

    def zmember(self):
        return self.small_or_long() if self.r.random() < 0.9 else b"m%d" % self.r.randrange(200)

    def score(self, key=None):
        if key == b"z2" and self.r.random() < 0.85:
            return b"0"
        if self.r.random() < 0.04:
            return self.r.choice(BAD_SCORES)
        if self.r.random() < 0.3:
            return b"%d" % self.r.randint(-5, 20)
        return self.r.choice(SCORES)

    def count_arg(self, lo=-5, hi=12):
        x = self.r.random()
        if x < 0.85:
            return b"%d" % self.r.randint(lo, hi)
        return self.r.choice([b"abc", b"", b"1.5", b"9223372036854775807",
                              b"-9223372036854775808", b"99999999999999999999"])

    def idx(self, lo=-15, hi=15):
        if self.r.random() < 0.05:
            return self.r.choice(INT_ARGS)
        return b"%d" % self.r.randint(lo, hi)

    def rel_s(self):
        self.unique += 1
        return 10000 * (100 + self.unique)

    def case(self, name):
        if self.r.random() < 0.1:
            return bytes(c ^ 0x20 if 97 <= (c | 0x20) <= 122 and self.r.random() < 0.5 else c
                         for c in name)
        return name

    def cmd(self, *args, mode="exact", fam=None):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        args[0] = self.case(args[0])
        return Op(args, mode, fam)

    def pick(self, table):
        x = self.r.random() * sum(w for w, _ in table)
        for w, fn in table:
            x -= w
            if x < 0:
                return fn()
        return table[-1][1]()

    # -------------------------------------------------------------- hashes
    def g_hash(self):
        r = self.r
        k = lambda: self.key("hash")  # noqa: E731

        def hset():
            a = [r.choice([b"HSET", b"HSET", b"HMSET"]), k()]
            for _ in range(r.randint(1, 4)):
                a += [self.field(), self.hval()]
            if r.random() < 0.05:
                a.append(self.field())
            return [self.cmd(*a)]

        def bulk():
            # Redis 7.0 keeps a hash as a listpack up to 512 fields
            # (hash-max-listpack-entries) and 64-byte values.
            a = [b"HSET", r.choice(FAMILY_KEYS["hash"])]
            n = r.randint(100, 160) if r.random() < 0.7 else r.randint(400, 560)
            for _ in range(n):
                a += [b"f%d" % r.randrange(700), self.hval()]
            return [self.cmd(*a)]

        def hincrby():
            n = r.choice(INT_ARGS) if r.random() < 0.3 else b"%d" % r.randint(-50, 50)
            f = r.choice([b"1", b"2", b"10", b"-5", b"a", b"f1", b"f2", b"cnt"])
            return [self.cmd(b"HINCRBY", k(), f, n)]

        def hincrbyfloat():
            f = r.choice([b"1", b"3.5", b"10", b"a", b"f1", b"fl", b"cnt"])
            return [self.cmd(b"HINCRBYFLOAT", k(), f, r.choice(FLOAT_ARGS))]

        def hscan():
            if r.random() < 0.2:
                bad = r.choice([[b"abc"], [b"0", b"COUNT", b"0"], [b"0", b"COUNT", b"x"],
                                [b"0", b"MATCH"], [b"0", b"FOO", b"1"], [b"1.5"],
                                [b"0", b"TYPE", b"string"]])
                return [self.cmd(b"HSCAN", k(), *bad)]
            return [Op([b"HSCAN", k(), b"0"] + self.scan_opts(), "scan")]

        def hrand():
            a = [b"HRANDFIELD", k()]
            if r.random() < 0.75:
                a.append(self.count_arg(-8, 10) if r.random() < 0.9 else
                         r.choice([b"200", b"-300", b"0"]))
                if r.random() < 0.4:
                    a.append(r.choice([b"WITHVALUES", b"withvalues", b"WITHVALUES", b"FOO"]))
            return [Op(a, "rand", "hash")]

        return self.pick([
            (14, hset), (0.6, bulk),
            (4, lambda: [self.cmd(b"HSETNX", k(), self.field(), self.hval())]),
            (8, lambda: [self.cmd(b"HGET", k(), self.field())]),
            (4, lambda: [self.cmd(b"HMGET", k(), *[self.field() for _ in range(r.randint(1, 5))])]),
            (6, lambda: [self.cmd(b"HDEL", k(), *[self.field() for _ in range(r.randint(1, 4))])]),
            (3, lambda: [self.cmd(b"HEXISTS", k(), self.field())]),
            (3, lambda: [self.cmd(b"HLEN", k())]),
            (3, lambda: [self.cmd(b"HSTRLEN", k(), self.field())]),
            (2, lambda: [self.cmd(b"HKEYS", k(), mode="hflat")]),
            (2, lambda: [self.cmd(b"HVALS", k(), mode="hflat")]),
            (3, lambda: [self.cmd(b"HGETALL", k(), mode="hash")]),
            (4, hincrby), (3, hincrbyfloat), (1.2, hscan), (2, hrand),
        ])

    def scan_opts(self):
        opts = []
        r = self.r
        if r.random() < 0.4:
            opts += [b"MATCH", r.choice(PATTERNS)]
        if r.random() < 0.5:
            opts += [b"COUNT", b"%d" % r.choice([1, 2, 5, 10, 100, 1000])]
        return opts

    # --------------------------------------------------------------- lists
    def g_list(self):
        r = self.r
        k = lambda: self.key("list")  # noqa: E731
        elem = lambda: self.small_or_long(0.01) if r.random() < 0.8 else b"%d" % r.randint(0, 9)  # noqa: E731

        def push():
            name = r.choice([b"LPUSH", b"RPUSH", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"])
            return [self.cmd(name, k(), *[elem() for _ in range(r.randint(1, 5))])]

        def bulk():
            return [self.cmd(r.choice([b"RPUSH", b"LPUSH"]), r.choice(FAMILY_KEYS["list"]),
                             *[elem() for _ in range(r.randint(130, 220))])]

        def pop():
            a = [r.choice([b"LPOP", b"RPOP"]), k()]
            if r.random() < 0.4:
                a.append(self.count_arg(-2, 6))
            return [self.cmd(*a)]

        def linsert():
            where = r.choice([b"BEFORE", b"AFTER", b"before", b"after"] * 5 + [b"MIDDLE"])
            return [self.cmd(b"LINSERT", k(), where, elem(), elem())]

        def lpos():
            a = [b"LPOS", k(), elem()]
            opts = []
            if r.random() < 0.4:
                opts.append([b"RANK", r.choice([b"1", b"2", b"-1", b"-2", b"3", b"0", b"abc",
                                                b"-9223372036854775808", b"9223372036854775807"])])
            if r.random() < 0.4:
                opts.append([b"COUNT", r.choice([b"0", b"1", b"2", b"5", b"-1", b"x"])])
            if r.random() < 0.3:
                opts.append([b"MAXLEN", r.choice([b"0", b"1", b"3", b"10", b"-1", b"y"])])
            if r.random() < 0.05:
                opts.append(r.choice([[b"FOO"], [b"RANK"], [b"COUNT"]]))
            r.shuffle(opts)
            for o in opts:
                a += o
            return [self.cmd(*a)]

        def lmove():
            if r.random() < 0.3:
                return [self.cmd(b"RPOPLPUSH", k(), k())]
            d = lambda: r.choice([b"LEFT", b"RIGHT", b"left", b"right"] * 6 + [b"UP"])  # noqa: E731
            return [self.cmd(b"LMOVE", k(), k(), d(), d())]

        def lmpop():
            nk = r.randint(1, 3)
            keys = [k() for _ in range(nk)]
            numkeys = b"%d" % nk
            if r.random() < 0.08:
                numkeys = r.choice([b"0", b"-1", b"abc", b"%d" % (nk + 3)])
            a = [b"LMPOP", numkeys] + keys + [r.choice([b"LEFT", b"RIGHT", b"right", b"MIDDLE"]
                                                      if r.random() < 0.1 else [b"LEFT", b"RIGHT"])]
            if r.random() < 0.5:
                a += [b"COUNT", r.choice([b"1", b"2", b"3", b"10", b"0", b"-1", b"abc"])]
            if r.random() < 0.03:
                a += [b"COUNT", b"2"]
            return [self.cmd(*a)]

        return self.pick([
            (16, push), (0.5, bulk), (6, pop),
            (3, lambda: [self.cmd(b"LLEN", k())]),
            (6, lambda: [self.cmd(b"LRANGE", k(), self.idx(), self.idx())]),
            (4, lambda: [self.cmd(b"LINDEX", k(), self.idx())]),
            (3, lambda: [self.cmd(b"LSET", k(), self.idx(-8, 8), elem())]),
            (3, linsert),
            (3, lambda: [self.cmd(b"LREM", k(), self.idx(-3, 3), elem())]),
            (2, lambda: [self.cmd(b"LTRIM", k(), self.idx(-5, 5), self.idx(-20, 40))]),
            (3, lpos), (4, lmove), (3, lmpop),
        ])

    # ---------------------------------------------------------------- sets
    def g_set(self):
        r = self.r
        k = lambda: self.key("set")  # noqa: E731

        def sadd():
            key = k()
            return [self.cmd(b"SADD", key, *[self.set_member(key) for _ in range(r.randint(1, 5))])]

        def bulk():
            key = r.choice(FAMILY_KEYS["set"])
            if r.random() < 0.6:
                ms = [b"%d" % r.randint(-600, 600) for _ in range(r.randint(200, 560))]
            else:
                ms = [b"m%d" % r.randrange(300) for _ in range(r.randint(100, 160))]
            return [self.cmd(b"SADD", key, *ms)]

        def srem():
            key = k()
            return [self.cmd(b"SREM", key, *[self.set_member(key) for _ in range(r.randint(1, 4))])]

        def multi_read():
            name = r.choice([b"SINTER", b"SUNION", b"SDIFF"])
            return [self.cmd(name, *[k() for _ in range(r.randint(1, 4))], mode="set")]

        def store():
            name = r.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"])
            return [self.cmd(name, k(), *[k() for _ in range(r.randint(1, 3))])]

        def sintercard():
            nk = r.randint(1, 3)
            numkeys = b"%d" % nk
            if r.random() < 0.08:
                numkeys = r.choice([b"0", b"-1", b"abc", b"%d" % (nk + 2)])
            a = [b"SINTERCARD", numkeys] + [k() for _ in range(nk)]
            if r.random() < 0.4:
                a += [b"LIMIT", r.choice([b"0", b"1", b"2", b"5", b"-1", b"abc"])]
            if r.random() < 0.03:
                a.append(b"FOO")
            return [self.cmd(*a)]

        def sscan():
            if r.random() < 0.2:
                bad = r.choice([[b"abc"], [b"0", b"COUNT", b"0"], [b"0", b"MATCH"],
                                [b"0", b"FOO", b"1"], [b"0", b"COUNT", b"-1"]])
                return [self.cmd(b"SSCAN", k(), *bad)]
            return [Op([b"SSCAN", k(), b"0"] + self.scan_opts(), "scan")]

        def rand():
            name = r.choice([b"SPOP", b"SRANDMEMBER", b"SRANDMEMBER"])
            a = [name, k()]
            if r.random() < 0.6:
                a.append(self.count_arg(-8 if name == b"SRANDMEMBER" else -1, 10) if r.random() < 0.9
                         else r.choice([b"600", b"-700", b"0"]))
            if r.random() < 0.02:
                a.append(b"extra")
            return [Op(a, "rand", "set")]

        return self.pick([
            (16, sadd), (0.7, bulk), (6, srem),
            (4, lambda: [self.cmd(b"SISMEMBER", k(), self.set_member(k()))]),
            (3, lambda: [self.cmd(b"SMISMEMBER", k(), *[self.set_member(b"{g}s") for _ in range(r.randint(1, 4))])]),
            (3, lambda: [self.cmd(b"SMEMBERS", k(), mode="set")]),
            (3, lambda: [self.cmd(b"SCARD", k())]),
            (3, lambda: [self.cmd(b"SMOVE", k(), k(), self.set_member(b"{g}s"))]),
            (4, multi_read), (3, store), (2, sintercard), (1.2, sscan), (3, rand),
        ])

    # ---------------------------------------------------------- sorted sets
    def g_zset(self):
        r = self.r
        k = lambda: self.key("zset")  # noqa: E731

        def zadd():
            key = k()
            a = [b"ZADD", key]
            opts = []
            if r.random() < 0.2:
                opts.append(r.choice([b"NX", b"XX"]))
            if r.random() < 0.2:
                opts.append(r.choice([b"GT", b"LT"]))
            if r.random() < 0.25:
                opts.append(b"CH")
            incr = r.random() < 0.15
            if incr:
                opts.append(b"INCR")
            if r.random() < 0.05:
                opts += r.choice([[b"NX", b"XX"], [b"GT", b"LT"], [b"NX", b"GT"], [b"nx", b"lt"],
                                  [b"FOO"], [b"INCR"]])
            r.shuffle(opts)
            a += opts
            npairs = 1 if incr and r.random() < 0.85 else r.randint(1, 4)
            for _ in range(npairs):
                a += [self.score(key), self.zmember()]
            if r.random() < 0.04:
                a.append(self.zmember())
            return [self.cmd(*a)]

        def bulk():
            key = r.choice(FAMILY_KEYS["zset"])
            a = [b"ZADD", key]
            for _ in range(r.randint(100, 160)):
                a += [b"0" if key == b"z2" else b"%d" % r.randint(-50, 50), b"m%d" % r.randrange(200)]
            return [self.cmd(*a)]

        def zl():
            if r.random() < 0.8:
                return LEX_KEY, "exact"
            return k(), "lexguard"

        def lexcmd(*a):
            key, mode = zl()
            return [self.cmd(a[0], key, *a[1:], mode=mode)]

        def lexwrite():
            x = r.random()
            if x < 0.5:
                a = [b"ZADD", LEX_KEY]
                if r.random() < 0.3:
                    a.append(r.choice([b"NX", b"XX", b"CH", b"GT", b"LT"]))
                if r.random() < 0.1:
                    a += [b"INCR", b"0", self.zmember()]
                else:
                    for _ in range(r.randint(1, 4)):
                        a += [b"0", self.zmember()]
                return [self.cmd(*a)]
            if x < 0.53:
                a = [b"ZADD", LEX_KEY]
                for _ in range(r.randint(100, 160)):
                    a += [b"0", b"m%d" % r.randrange(200)]
                return [self.cmd(*a)]
            if x < 0.6:
                return [self.cmd(b"ZINCRBY", LEX_KEY, b"0", self.zmember())]
            if x < 0.75:
                return [self.cmd(b"ZREM", LEX_KEY, *[self.zmember() for _ in range(r.randint(1, 3))])]
            if x < 0.85:
                return [self.cmd(r.choice([b"ZPOPMIN", b"ZPOPMAX"]), LEX_KEY, b"%d" % r.randint(1, 3))]
            if x < 0.9:
                return [self.cmd(b"ZRANGE", LEX_KEY, b"0", b"-1", b"WITHSCORES")]
            if x < 0.93:
                return [self.cmd(b"DEL", LEX_KEY)]
            return [self.cmd(b"ZREMRANGEBYRANK", LEX_KEY, self.idx(-3, 3), self.idx(-3, 3))]

        def srange():
            return r.choice(BAD_RANGES) if r.random() < 0.04 else r.choice(SCORE_RANGES)

        def lrange_():
            return r.choice(BAD_LEX) if r.random() < 0.04 else r.choice(LEX_RANGES)

        def limit():
            return [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1", b"5", b"abc"]),
                    r.choice([b"1", b"2", b"3", b"-1", b"0", b"10", b"x"])]

        def zrange():
            a = [b"ZRANGE", k()]
            by = r.choice([None, None, b"BYSCORE", b"BYLEX"])
            rev = r.random() < 0.3
            if by == b"BYSCORE":
                lo, hi = srange(), srange()
            elif by == b"BYLEX":
                lo, hi = lrange_(), lrange_()
            else:
                lo, hi = self.idx(-8, 8), self.idx(-8, 8)
            mode = "exact"
            if by == b"BYLEX":
                a[1], mode = zl()
            a += [lo, hi]
            opts = []
            if by:
                opts.append([by])
            if rev:
                opts.append([b"REV"])
            if r.random() < (0.5 if by else 0.05):
                opts.append(limit())
            if r.random() < (0.4 if by != b"BYLEX" else 0.05):
                opts.append([b"WITHSCORES"])
            if r.random() < 0.03:
                opts.append(r.choice([[b"FOO"], [b"BYSCORE", b"BYLEX"], [b"LIMIT", b"1"]]))
            if r.random() < 0.3:
                r.shuffle(opts)
            for o in opts:
                a += o
            return [self.cmd(*a, mode=mode)]

        def byscore():
            name = r.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"])
            a = [name, k(), srange(), srange()]
            opts = []
            if r.random() < 0.4:
                opts.append([b"WITHSCORES"])
            if r.random() < 0.4:
                opts.append(limit())
            if r.random() < 0.03:
                opts.append([b"FOO"])
            r.shuffle(opts)
            for o in opts:
                a += o
            return [self.cmd(*a)]

        def bylex():
            name = r.choice([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"])
            a = [name, lrange_(), lrange_()]
            if r.random() < 0.4:
                a += limit()
            if r.random() < 0.04:
                a.append(r.choice([b"WITHSCORES", b"FOO"]))
            return lexcmd(*a)

        def zrevrange():
            a = [b"ZREVRANGE", k(), self.idx(-8, 8), self.idx(-8, 8)]
            if r.random() < 0.4:
                a.append(b"WITHSCORES")
            if r.random() < 0.03:
                a.append(b"FOO")
            return [self.cmd(*a)]

        def pop():
            a = [r.choice([b"ZPOPMIN", b"ZPOPMAX"]), k()]
            if r.random() < 0.5:
                a.append(self.count_arg(-2, 5))
            return [self.cmd(*a)]

        def remrange():
            x = r.random()
            if x < 0.33:
                return [self.cmd(b"ZREMRANGEBYRANK", k(), self.idx(-5, 5), self.idx(-5, 5))]
            if x < 0.66:
                return [self.cmd(b"ZREMRANGEBYSCORE", k(), srange(), srange())]
            return lexcmd(b"ZREMRANGEBYLEX", lrange_(), lrange_())

        def store():
            name = r.choice([b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"])
            nk = r.randint(1, 3)
            srcs = [k() if r.random() < 0.8 else r.choice(FAMILY_KEYS["set"] + [LEX_KEY])
                    for _ in range(nk)]
            numkeys = b"%d" % nk
            if r.random() < 0.06:
                numkeys = r.choice([b"0", b"-1", b"abc", b"%d" % (nk + 3)])
            a = [name, k(), numkeys] + srcs
            if name != b"ZDIFFSTORE":
                if r.random() < 0.35:
                    a += [b"WEIGHTS"] + [r.choice([b"1", b"2", b"-1", b"0.5", b"0", b"inf", b"abc"]
                                                  if r.random() < 0.1 else [b"1", b"2", b"-1", b"0.5", b"3"])
                                         for _ in range(nk if r.random() < 0.93 else nk + 1)]
                if r.random() < 0.35:
                    a += [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX", b"max", b"AVG"]
                                                 if r.random() < 0.1 else [b"SUM", b"MIN", b"MAX"])]
            elif r.random() < 0.05:
                a += [b"WEIGHTS", b"1"]
            if r.random() < 0.03:
                a.append(b"WITHSCORES")
            return [self.cmd(*a)]

        def zmpop():
            nk = r.randint(1, 3)
            keys = [k() for _ in range(nk)]
            numkeys = b"%d" % nk
            if r.random() < 0.08:
                numkeys = r.choice([b"0", b"-1", b"abc", b"%d" % (nk + 3)])
            a = [b"ZMPOP", numkeys] + keys + [r.choice([b"MIN", b"MAX", b"max", b"MIDDLE"]
                                                      if r.random() < 0.1 else [b"MIN", b"MAX"])]
            if r.random() < 0.5:
                a += [b"COUNT", r.choice([b"1", b"2", b"3", b"10", b"0", b"-1", b"abc"])]
            if r.random() < 0.03:
                a += [b"COUNT", b"2"]
            return [self.cmd(*a)]

        def rangestore():
            # The destination is never LEX_KEY; a BYLEX source is always it
            # (lexguard looks at argv[1], the destination here).
            by = r.choice([None, None, b"BYSCORE", b"BYLEX"])
            src = LEX_KEY if by == b"BYLEX" else (k() if r.random() < 0.9 else self.anykey())
            if by == b"BYSCORE":
                lo, hi = srange(), srange()
            elif by == b"BYLEX":
                lo, hi = lrange_(), lrange_()
            else:
                lo, hi = self.idx(-8, 8), self.idx(-8, 8)
            a = [b"ZRANGESTORE", k(), src, lo, hi]
            opts = []
            if by:
                opts.append([by])
            if r.random() < 0.3:
                opts.append([b"REV"])
            if r.random() < (0.5 if by else 0.05):
                opts.append(limit())
            if r.random() < 0.04:
                opts.append(r.choice([[b"WITHSCORES"], [b"FOO"], [b"BYSCORE", b"BYLEX"]]))
            r.shuffle(opts)
            for o in opts:
                a += o
            return [self.cmd(*a)]

        def zscan():
            if r.random() < 0.2:
                bad = r.choice([[b"abc"], [b"0", b"COUNT", b"0"], [b"0", b"MATCH"], [b"0", b"FOO", b"1"]])
                return [self.cmd(b"ZSCAN", k(), *bad)]
            return [Op([b"ZSCAN", k(), b"0"] + self.scan_opts(), "scan")]

        def rand():
            a = [b"ZRANDMEMBER", k()]
            if r.random() < 0.75:
                a.append(self.count_arg(-8, 10) if r.random() < 0.9 else
                         r.choice([b"200", b"-300", b"0"]))
                if r.random() < 0.4:
                    a.append(r.choice([b"WITHSCORES", b"withscores", b"FOO"]))
            return [Op(a, "rand", "zset")]

        return self.pick([
            (16, zadd), (0.6, bulk),
            (4, lambda: [self.cmd(b"ZREM", k(), *[self.zmember() for _ in range(r.randint(1, 3))])]),
            (4, lambda: [self.cmd(b"ZSCORE", k(), self.zmember())]),
            (2, lambda: [self.cmd(b"ZMSCORE", k(), *[self.zmember() for _ in range(r.randint(1, 4))])]),
            (4, lambda: [self.cmd(b"ZINCRBY", k(), self.score() if r.random() < 0.9
                                  else r.choice(FLOAT_ARGS), self.zmember())]),
            (2, lambda: [self.cmd(b"ZCARD", k())]),
            (3, lambda: [self.cmd(b"ZCOUNT", k(), srange(), srange())]),
            (2, lambda: lexcmd(b"ZLEXCOUNT", lrange_(), lrange_())), (5, lexwrite),
            (3, lambda: [self.cmd(r.choice([b"ZRANK", b"ZREVRANK"]), k(), self.zmember())]),
            (8, zrange), (4, byscore), (3, bylex), (2, zrevrange), (4, pop),
            (3, remrange), (4, store), (1.2, zscan), (2, rand), (3, zmpop),
            (3, rangestore),
        ])

    # ------------------------------------------------------ keys / strings
    def g_keys(self):
        r = self.r
        x = r.random()
        if x < 0.15:
            return [self.cmd(b"TYPE", self.anykey())]
        if x < 0.27:
            return [self.cmd(b"DEL", *[self.anykey() for _ in range(r.randint(1, 3))])]
        if x < 0.37:
            return [self.cmd(b"EXISTS", *[self.anykey() for _ in range(r.randint(1, 4))])]
        if x < 0.5:
            src = self.anykey()
            dst = src if r.random() < 0.05 else self.anykey()
            return [self.cmd(r.choice([b"RENAME", b"RENAME", b"RENAMENX"]), src, dst)]
        if x < 0.62:
            y = r.random()
            if y < 0.75:
                t = b"%d" % self.rel_s()
            elif y < 0.85:
                t = r.choice([b"0", b"-1"])     # deletes at once
            else:
                t = r.choice([b"abc", b"", b"1.5", b"9223372036854775807"])
            a = [b"EXPIRE", self.anykey(), t]
            if r.random() < 0.3:
                a.append(r.choice([b"NX", b"XX", b"GT", b"LT", b"FOO"]))
            return [self.cmd(*a)]
        if x < 0.7:
            return [self.cmd(b"PERSIST", self.anykey())]
        if x < 0.8:
            return [self.cmd(b"PTTL", self.anykey(), mode="ttl")]
        if x < 0.9:
            return [self.cmd(b"KEYS", r.choice(PATTERNS + [b"*{g}*", b"[hz]*"]), mode="set")]
        if r.random() < 0.15:
            bad = r.choice([[b"0", b"TYPE"], [b"0", b"COUNT", b"0"], [b"abc"]])
            return [self.cmd(b"SCAN", *bad)]
        opts = []
        if r.random() < 0.7:
            opts += [b"TYPE", r.choice([b"hash", b"list", b"set", b"zset", b"string", b"HASH",
                                        b"ZSET", b"foo", b"stream"])]
        if r.random() < 0.3:
            opts += [b"MATCH", r.choice([b"*", b"{g}*", b"?1", b"*2"])]
        if r.random() < 0.4:
            opts += [b"COUNT", r.choice([b"1", b"3", b"100"])]
        return [Op([b"SCAN", b"0"] + opts, "kscan")]

    def g_string(self):
        r = self.r
        k = self.key("string")
        x = r.random()
        if x < 0.4:
            v = r.choice(SMALL + [b"%d" % r.randint(0, 50)])
            return [self.cmd(b"SET", k, v)]
        if x < 0.7:
            return [self.cmd(b"GET", k)]
        if x < 0.8:
            return [self.cmd(b"APPEND", k, r.choice(SMALL))]
        if x < 0.85:
            return [self.cmd(b"INCR", k)]
        if x < 0.9:
            off = r.choice([b"0", b"1", b"7", b"8", b"13", b"63", b"200", b"-1", b"abc",
                            b"4294967296"])
            if r.random() < 0.5:
                return [self.cmd(b"GETBIT", k if r.random() < 0.9 else self.anykey(), off)]
            bit = r.choice([b"0", b"1"] * 8 + [b"2", b"-1", b"x"])
            return [self.cmd(b"SETBIT", k, off, bit)]
        # LCS of the two string keys (on two shards when there are several),
        # now and then with a key of another type.
        a = [b"LCS", k, r.choice(FAMILY_KEYS["string"]) if r.random() < 0.85 else self.anykey()]
        opts = []
        if r.random() < 0.4:
            opts.append([b"IDX"])
        if r.random() < 0.2:
            opts.append([b"LEN"])
        if r.random() < 0.3:
            opts.append([b"WITHMATCHLEN"])
        if r.random() < 0.3:
            opts.append([b"MINMATCHLEN", r.choice([b"0", b"1", b"2", b"-1", b"abc"])])
        if r.random() < 0.03:
            opts.append([r.choice([b"FOO", b"MINMATCHLEN"])])
        r.shuffle(opts)
        for o in opts:
            a += o
        return [self.cmd(*a)]

    # -------------------------------------------------------------- bitmaps
    def bit_key(self):
        r = self.r
        x = r.random()
        if x < 0.75:
            return self.key("bitmap")
        if x < 0.9:
            return r.choice(FAMILY_KEYS["string"])
        return self.anykey()

    def bit_off(self, write):
        r = self.r
        if r.random() < 0.06:
            return r.choice(BIT_OFFS_BAD)
        return r.choice(BIT_OFFS_W if write else BIT_OFFS_R)

    def bit_range(self):
        """[] | [start end] | [start end BYTE|BIT] (and now and then a bad
        unit or a lone start, errors)."""
        r = self.r
        x = r.random()
        if x < 0.25:
            return []
        a = [r.choice(BIT_RANGES), r.choice(BIT_RANGES)]
        if x < 0.5:
            return a
        if x < 0.9:
            return a + [r.choice([b"BYTE", b"BIT", b"bit", b"byte"])]
        return a + [r.choice([b"BITS", b"BYTE BIT"])] if r.random() < 0.5 else a[:1]

    def bitfield_ops(self, ro):
        r = self.r
        a = []
        for _ in range(r.randint(0 if r.random() < 0.05 else 1, 4)):
            t = r.choice(BF_TYPES[:12]) if r.random() < 0.92 else r.choice(BF_TYPES)
            off = r.choice([b"0", b"1", b"3", b"8", b"13", b"64", b"100", b"#0", b"#1", b"#3",
                            b"#100"]) if r.random() < 0.93 else r.choice(
                [b"4294967296", b"-1", b"#-1", b"abc", b"#", b"#99999999999"])
            x = r.random()
            if r.random() < 0.04:
                # The last bits a string can have, read only: a write there
                # would make a 512 MB string on both servers.
                a += [b"GET", t, r.choice([b"4294967295", b"4294967288", b"4294967232"])]
            elif ro or x < 0.35:
                a += [b"GET", t, off]
                if ro and r.random() < 0.05:
                    a += [r.choice([b"SET", b"INCRBY", b"OVERFLOW"]), b"u8", b"0", b"1"]
            elif x < 0.6:
                a += [b"SET", t, off, r.choice(BF_VALUES)]
            elif x < 0.9:
                a += [b"INCRBY", t, off, r.choice(BF_VALUES)]
            else:
                a += [b"OVERFLOW", r.choice([b"WRAP", b"SAT", b"FAIL", b"fail", b"FOO"])]
        if r.random() < 0.03:
            a += [r.choice([b"GET", b"FOO", b"SET"])]          # truncated / unknown
        return a

    def g_bitmap(self):
        r = self.r
        k = self.bit_key()
        x = r.random()
        if x < 0.25:
            bit = r.choice([b"0", b"1"] * 10 + [b"2", b"-1", b"x", b""])
            return [self.cmd(b"SETBIT", k, self.bit_off(True), bit)]
        if x < 0.37:
            return [self.cmd(b"GETBIT", k, self.bit_off(False))]
        if x < 0.5:
            return [self.cmd(b"BITCOUNT", k, *self.bit_range())]
        if x < 0.62:
            a = [b"BITPOS", k, r.choice([b"0", b"1"] * 6 + [b"2", b"-1", b"abc"])]
            y = r.random()
            if y < 0.3:
                pass
            elif y < 0.5:
                a.append(r.choice(BIT_RANGES))
            else:
                a += self.bit_range()
            return [self.cmd(*a)]
        if x < 0.75:
            op = r.choice([b"AND", b"OR", b"XOR", b"NOT", b"and", b"xor"] * 4 + [b"NAND", b""])
            n = 1 if op.upper() == b"NOT" and r.random() < 0.85 else r.randint(1, 3)
            srcs = [self.bit_key() for _ in range(n)]
            return [self.cmd(b"BITOP", op, self.bit_key(), *srcs)]
        if x < 0.95:
            return [self.cmd(b"BITFIELD", k, *self.bitfield_ops(False))]
        return [self.cmd(b"BITFIELD_RO", k, *self.bitfield_ops(True))]

    # -------------------------------------------------------------- HLLs
    def hll_key(self):
        r = self.r
        x = r.random()
        if x < 0.85:
            return self.key("hll")
        return self.r.choice(ALL_KEYS)

    def hll_elems(self, lo=0, hi=6):
        r = self.r
        if r.random() < 0.04:      # a bulk add: sparse to dense promotion
            base = r.randint(0, 10)
            return [b"e%d" % i for i in range(base * 1000, base * 1000 + r.choice([300, 1500, 4000]))]
        return [self.small_or_long() if r.random() < 0.3 else b"e%d" % r.randint(0, 3000)
                for _ in range(r.randint(lo, hi))]

    def g_hll(self):
        r = self.r
        x = r.random()
        if x < 0.06:
            # An invalid HLL, then a command on it (only reads for opcodes
            # that do not cover the registers).
            if r.random() < 0.4:
                cmd = r.choice([[b"PFCOUNT", HLL_BAD], [b"PFMERGE", r.choice(FAMILY_KEYS["hll"]),
                                                        HLL_BAD]])
                return [self.cmd(b"SET", HLL_BAD, HLL_BAD_SPARSE), self.cmd(*cmd)]
            cmd = r.choice([[b"PFADD", HLL_BAD, b"a"], [b"PFCOUNT", HLL_BAD],
                            [b"PFMERGE", HLL_BAD, self.key("hll")],
                            [b"PFCOUNT", self.key("hll"), HLL_BAD]])
            return [self.cmd(b"SET", HLL_BAD, r.choice(HLL_BAD_HEADERS)), self.cmd(*cmd),
                    self.cmd(b"DEL", HLL_BAD)]
        if x < 0.5:
            return [self.cmd(b"PFADD", self.hll_key(), *self.hll_elems())]
        if x < 0.8:
            return [self.cmd(b"PFCOUNT", *[self.hll_key() for _ in range(r.randint(1, 3))])]
        if x < 0.95:
            return [self.cmd(b"PFMERGE", *[self.hll_key() for _ in range(r.randint(1, 4))])]
        sub = r.choice([b"ENCODING", b"DECODE", b"TODENSE", b"GETREG", b"encoding", b"FOO"])
        return [self.cmd(b"PFDEBUG", sub, self.hll_key())]

    # -------------------------------------------------------------- geo
    def geo_key(self):
        return self.key("geo") if self.r.random() < 0.9 else self.key("zset")

    def geo_member(self):
        r = self.r
        return b"m%d" % r.randint(0, 19) if r.random() < 0.95 else r.choice([b"nope", b""])

    def geo_triple(self):
        r = self.r
        if r.random() < 0.03:
            lon, lat = r.choice(GEO_BAD)
            return [lon, lat, self.geo_member()]
        i = r.randint(0, 19)
        j = 57 + r.randint(0, 2) if i == 19 else 3 * i + r.randint(0, 2)
        lon, lat = GEO_POINTS[j]
        return [lon, lat, b"m%d" % i]

    def geo_shape(self):
        r = self.r
        if r.random() < 0.6:
            a = [b"BYRADIUS", r.choice([b"0", b"1", b"10", b"50", b"200", b"20000", b"-1", b"abc"])]
        else:
            a = [b"BYBOX", r.choice([b"1", b"20", b"100", b"40000", b"0", b"-5"]),
                 r.choice([b"1", b"20", b"100", b"40000", b"abc"])]
        return a + [r.choice(GEO_UNITS[:4]) if r.random() < 0.95 else r.choice(GEO_UNITS)]

    def geo_opts(self, store):
        """Sort, COUNT and WITH* options; the mode of the reply: exact when
        sorted, else a multiset (Redis's unsorted order follows its
        geohash boxes).  COUNT without a sort sorts ASC in Redis; COUNT N
        ANY is used only with N past the member count, so it is all of
        them."""
        r = self.r
        a = []
        sort = r.random() < 0.6
        if sort:
            a.append(r.choice([b"ASC", b"DESC", b"asc"]))
        y = r.random()
        if y < 0.3:
            a += [b"COUNT", r.choice([b"1", b"2", b"5", b"0", b"-1", b"abc"]) if sort else
                  r.choice([b"3", b"0"])]
            sort = True
        elif y < 0.4:
            a += [b"COUNT", b"100", b"ANY"]
        elif y < 0.42:
            a += [b"ANY"]
        if not store:
            for w in (b"WITHCOORD", b"WITHDIST", b"WITHHASH"):
                if r.random() < 0.3:
                    a.append(w)
        r.shuffle(a) if r.random() < 0.1 else None
        return a, ("exact" if sort else "set")

    def g_geo(self):
        r = self.r
        k = self.geo_key()
        x = r.random()
        if x < 0.3:
            a = [b"GEOADD", k]
            for opt in (b"NX", b"XX", b"CH"):
                if r.random() < 0.15:
                    a.append(opt)
            for _ in range(r.randint(1, 4) if r.random() < 0.97 else 0):
                a += self.geo_triple()
            if r.random() < 0.02:
                a.append(b"13.0")
            return [self.cmd(*a)]
        if x < 0.4:
            return [self.cmd(b"GEOPOS", k, *[self.geo_member() for _ in range(r.randint(0, 3))])]
        if x < 0.5:
            a = [b"GEODIST", k, self.geo_member(), self.geo_member()]
            if r.random() < 0.6:
                a.append(r.choice(GEO_UNITS))
            return [self.cmd(*a)]
        if x < 0.57:
            return [self.cmd(b"GEOHASH", k, *[self.geo_member() for _ in range(r.randint(0, 3))])]
        y = r.random()
        if y < 0.5:
            name = r.choice([b"GEOSEARCH", b"GEOSEARCHSTORE"] if r.random() < 0.7 else
                            [b"GEORADIUS", b"GEORADIUS_RO", b"GEORADIUSBYMEMBER",
                             b"GEORADIUSBYMEMBER_RO"])
        else:
            name = b"GEOSEARCH"
        store = name == b"GEOSEARCHSTORE"
        opts, mode = self.geo_opts(store)
        if name.startswith(b"GEOSEARCH"):
            if r.random() < 0.5:
                frm = [b"FROMMEMBER", self.geo_member()]
            else:
                frm = [b"FROMLONLAT", *r.choice(GEO_CENTERS)]
            a = [name] + ([r.choice(FAMILY_KEYS["geo"])] if store else []) + [k] + frm
            a += self.geo_shape() + opts
            if store and r.random() < 0.3:
                a.append(b"STOREDIST")
            if r.random() < 0.02:
                a += r.choice([[b"FROMMEMBER", b"m1"], [b"BYRADIUS", b"1", b"km"], [b"STORE", b"x"]])
            return [self.cmd(*a, mode="exact" if store else mode)]
        if name.startswith(b"GEORADIUSBYMEMBER"):
            a = [name, k, self.geo_member()]
        else:
            a = [name, k, *r.choice(GEO_CENTERS)]
        a += [r.choice([b"1", b"10", b"50", b"20000", b"-1"]), r.choice(GEO_UNITS[:4])] + opts
        if not name.endswith(b"_RO") and r.random() < 0.2:
            a += [r.choice([b"STORE", b"STOREDIST"]), r.choice(FAMILY_KEYS["geo"])]
            mode = "exact"
        return [self.cmd(*a, mode=mode)]

    # ------------------------------------------------------------- streams
    def x_id(self):
        """An entry ID: mostly one recently added, else anything."""
        r = self.r
        x = r.random()
        if x < 0.6 and self.xids:
            return r.choice(self.xids)
        if x < 0.8:
            return b"%d-%d" % (r.randint(0, self.xms + 2), r.randint(0, 3))
        if x < 0.9:
            return b"%d" % r.randint(0, self.xms + 2)
        if x < 0.95:
            return r.choice(X_EDGE_IDS)
        return r.choice(X_BAD_IDS)

    def x_new_id(self):
        r = self.r
        x = r.random()
        if x < 0.75:
            self.xms += r.randint(0, 3)
            if r.random() < 0.3:
                return b"%d-*" % self.xms
            i = b"%d-%d" % (self.xms, r.randint(0, 5))
            self.xids.append(i)
            return i
        if x < 0.85:
            return b"%d" % r.randint(0, self.xms + 1)      # often not above the top
        if x < 0.92:
            return self.x_id()
        if x < 0.99:
            return r.choice(X_BAD_IDS[:12] + [b"0-0", b"0-*", b"*-1", b"1-*-2"])
        return r.choice(X_EDGE_IDS)                        # may stop the stream for good

    def x_trim(self):
        r = self.r
        if r.random() < 0.6:
            a = [b"MAXLEN"]
            thr = r.choice([b"0", b"1", b"2", b"3", b"5", b"10", b"-1", b"abc",
                            b"9223372036854775807", b"18446744073709551616"])
        else:
            a = [b"MINID"]
            thr = self.x_id()
        y = r.random()
        if y < 0.3:
            a.append(b"=")
        elif y < 0.5:
            a.append(b"~")
        a.append(thr)
        if r.random() < 0.15:
            a += [b"LIMIT", r.choice([b"0", b"1", b"5", b"-1", b"100", b"x"])]
        return a

    def x_fields(self):
        a = []
        for _ in range(self.r.randint(1, 3)):
            a += [self.r.choice(SMALL[:8]), self.small_or_long(0.01)]
        if self.r.random() < 0.02:
            a.append(b"odd")
        return a

    def g_stream(self):
        r = self.r
        k = lambda: self.key("stream")  # noqa: E731
        grp = lambda: r.choice(X_GROUPS) if r.random() < 0.95 else b"nogroup"  # noqa: E731
        cons = lambda: r.choice(X_CONSUMERS)  # noqa: E731
        xn = "xnorm"

        def xadd():
            a = [b"XADD", k()]
            if r.random() < 0.05:
                a.append(b"NOMKSTREAM")
            if r.random() < 0.15:
                a += self.x_trim()
            return [self.cmd(*a, self.x_new_id(), *self.x_fields())]

        def bulk():
            # Past one node of 100 entries (stream-node-max-entries) now and then.
            key = r.choice(FAMILY_KEYS["stream"])
            ops = []
            for _ in range(r.randint(20, 130)):
                self.xms += 1
                i = b"%d-%d" % (self.xms, r.randint(0, 2))
                self.xids.append(i)
                ops.append(self.cmd(b"XADD", key, i, b"f", b"%d" % r.randint(0, 9)))
            return ops

        def xrange():
            name = r.choice([b"XRANGE", b"XREVRANGE"])
            lo, hi = (b"-", b"+") if r.random() < 0.3 else (self.x_id(), self.x_id())
            if r.random() < 0.2:
                lo = b"(" + lo
            if r.random() < 0.2:
                hi = b"(" + hi
            if name == b"XREVRANGE":
                lo, hi = hi, lo
            a = [name, k(), lo, hi]
            if r.random() < 0.4:
                a += [b"COUNT", r.choice([b"0", b"1", b"2", b"5", b"-1", b"x"])]
            return [self.cmd(*a)]

        def xtrim():
            return [self.cmd(b"XTRIM", k(), *self.x_trim())]

        def xsetid():
            # Never below the IDs added so far (malformed ones aside): an
            # XSETID back below a deleted entry lets later entries follow
            # its tombstone, where a MINID trim in Redis stops and leaves a
            # node with no live entry, which kevy does not keep
            # (docs/compatibility.md, "Streams").  test_streams.py covers
            # XSETID's refusals.
            x = r.random()
            if x < 0.8:
                i = b"%d-%d" % (self.xms + r.randint(0, 3), r.randint(0, 5))
            elif x < 0.9:
                i = r.choice(X_BAD_IDS)
            else:
                i = b"%d" % (self.xms + r.randint(1, 5))
            a = [b"XSETID", k(), i]
            if r.random() < 0.4:
                a += [b"ENTRIESADDED", r.choice([b"0", b"5", b"100", b"-1", b"x"])]
            if r.random() < 0.3:
                a += [b"MAXDELETEDID", self.x_id()]
            return [self.cmd(*a)]

        def xgroup():
            y = r.random()
            if y < 0.4:
                a = [b"XGROUP", b"CREATE", k(), grp(),
                     r.choice([b"$", b"0", b"0-0", self.x_id()])]
                if r.random() < 0.3:
                    a.append(b"MKSTREAM")
                if r.random() < 0.2:
                    a += [b"ENTRIESREAD", r.choice([b"0", b"1", b"3", b"-1", b"-5", b"x"])]
                return [self.cmd(*a)]
            if y < 0.55:
                a = [b"XGROUP", b"SETID", k(), grp(), r.choice([b"$", b"0", self.x_id()])]
                if r.random() < 0.3:
                    a += [b"ENTRIESREAD", r.choice([b"0", b"2", b"-1", b"x"])]
                return [self.cmd(*a)]
            if y < 0.75:
                return [self.cmd(b"XGROUP", b"CREATECONSUMER", k(), grp(), cons())]
            if y < 0.88:
                return [self.cmd(b"XGROUP", b"DELCONSUMER", k(), grp(), cons())]
            if y < 0.97:
                return [self.cmd(b"XGROUP", b"DESTROY", k(), grp())]
            return [self.cmd(b"XGROUP", r.choice([b"HELP", b"FOO", b"CREATE"]))]

        def xreadgroup():
            a = [b"XREADGROUP", b"GROUP", grp(), cons()]
            if r.random() < 0.6:
                a += [b"COUNT", r.choice([b"1", b"2", b"3", b"10", b"0", b"-1"])]
            if r.random() < 0.15:
                a.append(b"NOACK")
            keys = [k() for _ in range(1 if r.random() < 0.85 else 2)]
            ids = [r.choice([b">", b">", b">", b"0", self.x_id()]) for _ in keys]
            if r.random() < 0.02:
                ids = ids[:-1]
            return [self.cmd(*a, b"STREAMS", *keys, *ids)]

        def xread():
            a = [b"XREAD"]
            if r.random() < 0.5:
                a += [b"COUNT", r.choice([b"1", b"2", b"5", b"0"])]
            keys = [k() for _ in range(r.randint(1, 2))]
            ids = [r.choice([b"0", b"$", self.x_id()]) for _ in keys]
            return [self.cmd(*a, b"STREAMS", *keys, *ids)]

        def xack():
            return [self.cmd(b"XACK", k(), grp(),
                             *[self.x_id() for _ in range(r.randint(1, 4))])]

        def xpending():
            a = [b"XPENDING", k(), grp()]
            if r.random() < 0.6:
                if r.random() < 0.3:
                    a += [b"IDLE", r.choice([b"0", b"1000000000000", b"-1", b"x"])]
                lo, hi = (b"-", b"+") if r.random() < 0.5 else (self.x_id(), self.x_id())
                a += [lo, hi, r.choice([b"10", b"1", b"3", b"0", b"-1", b"x"])]
                if r.random() < 0.4:
                    a.append(cons())
            return [self.cmd(*a, mode=xn)]

        def claim_opts():
            groups = []
            for opt in (b"JUSTID", b"FORCE"):
                if r.random() < 0.35:
                    groups.append([opt])
            if r.random() < 0.15:
                groups.append([b"RETRYCOUNT", r.choice([b"0", b"5", b"-1", b"x"])])
            if r.random() < 0.1:
                groups.append([b"IDLE", r.choice([b"0", b"1500000000000", b"x"])])
            elif r.random() < 0.1:
                groups.append([b"TIME", r.choice([b"0", b"1", b"99999999999999", b"x"])])
            if r.random() < 0.1:
                groups.append([b"LASTID", self.x_id()])
            r.shuffle(groups)      # options in any order
            return [a for g in groups for a in g]

        def xclaim():
            a = [b"XCLAIM", k(), grp(), cons(), r.choice([b"0", b"0", b"1000000000000", b"-5", b"x"])]
            a += [self.x_id() for _ in range(r.randint(1, 4))]
            return [self.cmd(*a, *claim_opts())]

        def xautoclaim():
            a = [b"XAUTOCLAIM", k(), grp(), cons(), r.choice([b"0", b"0", b"1000000000000", b"x"]),
                 r.choice([b"0", b"-", self.x_id(), b"(" + self.x_id()])]
            if r.random() < 0.5:
                a += [b"COUNT", r.choice([b"1", b"2", b"10", b"0", b"-1", b"x"])]
            if r.random() < 0.4:
                a.append(b"JUSTID")
            return [self.cmd(*a)]

        def xinfo():
            y = r.random()
            if y < 0.35:
                a = [b"XINFO", b"STREAM", k()]
                if r.random() < 0.5:
                    a.append(b"FULL")
                    if r.random() < 0.4:
                        a += [b"COUNT", r.choice([b"0", b"1", b"3", b"x"])]
                return [self.cmd(*a, mode=xn)]
            if y < 0.65:
                return [self.cmd(b"XINFO", b"GROUPS", k(), mode=xn)]
            if y < 0.95:
                return [self.cmd(b"XINFO", b"CONSUMERS", k(), grp(), mode=xn)]
            return [self.cmd(b"XINFO", r.choice([b"HELP", b"FOO"]), mode=xn)]

        return self.pick([
            (20, xadd), (0.4, bulk), (8, xrange), (3, lambda: [self.cmd(b"XLEN", k())]),
            (4, lambda: [self.cmd(b"XDEL", k(), *[self.x_id() for _ in range(r.randint(1, 3))])]),
            (4, xtrim), (2, xsetid), (10, xgroup), (12, xreadgroup), (3, xread), (6, xack),
            (6, xpending), (5, xclaim), (4, xautoclaim), (5, xinfo),
        ])

    def g_unknown(self):
        return [self.cmd(self.r.choice(UNKNOWN), self.anykey())]

    def g_select(self):
        return [self.cmd(b"SELECT", self.r.choice([b"1", b"0", b"16", b"abc"])), self.cmd(b"SELECT", b"0")]

    def plain_ops(self):
        """One non-special group from the type generators (for MULTI)."""
        for _ in range(50):
            fn = self.r.choice([self.g_hash, self.g_list, self.g_set, self.g_zset, self.g_keys,
                                self.g_string, self.g_stream])
            if (fn == self.g_hash and "hash" not in self.fams) or (
                    fn == self.g_zset and "zset" not in self.fams):
                continue
            ops = fn()
            if all(o.mode not in SPECIAL for o in ops):
                return ops
        return [self.cmd(b"TYPE", self.anykey())]

    def g_multi(self):
        r = self.r
        ops = []
        if r.random() < 0.25:
            wk = [self.anykey() for _ in range(r.randint(1, 2))]
            ops.append(self.cmd(b"WATCH", *wk))
            if r.random() < 0.4:
                ops += self.plain_ops()    # may or may not touch the watched key
        ops.append(self.cmd(b"MULTI"))
        queued = []
        for _ in range(r.randint(1, 6)):
            y = r.random()
            if y < 0.04:
                sub = [self.cmd(r.choice(UNKNOWN), self.anykey())]    # EXECABORT
            elif y < 0.07:
                sub = [self.arity_mutation(self.plain_ops()[0])]      # EXECABORT (usually)
            elif y < 0.09:
                sub = [self.cmd(r.choice([b"MULTI", b"WATCH"]), *([self.anykey()] if r.random() < 0.5 else []))]
            elif y < 0.11:
                # A blocking pop inside EXEC never blocks: it pops or replies nil.
                keys = [self.key("zset") for _ in range(r.randint(1, 2))]
                sub = [self.cmd(b"BZMPOP", b"0", b"%d" % len(keys), *keys, r.choice([b"MIN", b"MAX"]),
                                b"COUNT", r.choice([b"1", b"3"]))]
            else:
                sub = self.plain_ops()
            for o in sub:
                o.in_multi = True
            queued += sub
        ops += queued
        if r.random() < 0.1:
            ops.append(self.cmd(b"DISCARD"))
        else:
            ex = self.cmd(b"EXEC")
            ex.mode = "exec"
            ex.sub = queued
            ops.append(ex)
        return ops

    def g_watch(self):
        r = self.r
        if r.random() < 0.3:
            return [self.cmd(b"UNWATCH")]
        return [self.cmd(b"WATCH", *[self.anykey() for _ in range(r.randint(1, 3))])]

    def arity_mutation(self, op):
        name = op.args[0].upper()
        ar = ARITY.get(name)
        if ar is None or op.mode in ("scan", "kscan"):
            return op
        if ar > 0:
            if self.r.random() < 0.5 and ar > 1:
                args = op.args[:ar - 1]
            else:
                args = op.args[:ar] + [b"extra"] * self.r.randint(1, 2)
        else:
            n = -ar
            if n <= 1:
                return op
            args = op.args[:n - 1]
        return Op(args, "exact")



# ---------------------------------------------------------------- comparison

clip = C.clip


def show(args):
    s = " ".join(repr(clip(a, 80))[1:] if a else "''" for a in args[:12])
    return s + (" ...(%d args)" % len(args) if len(args) > 12 else "")


def ttl_close(r, k):
    a, b = D.parse_or_none(r), D.parse_or_none(k)
    if isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0:
        return abs(a - b) <= PTTL_TOLERANCE_MS
    return False


ORDER_FREE = "order-insensitive"


def same(mode, r, k, enc=None, counts=None):
    """Compare one reply.  enc: Redis's OBJECT ENCODING of the key just after
    a hash read (raw bytes), or None."""
    if r == k:
        return True
    ok = False
    if mode == "set":
        ok = D.same_multiset(r, k)
    elif mode in ("hash", "hflat"):
        if enc == b"$8\r\nlistpack\r\n":
            return False          # Redis's order is insertion order: exact
        ok = D.same_pairs(r, k) if mode == "hash" else D.same_multiset(r, k)
    elif mode == "ttl":
        ok = ttl_close(r, k)
    elif mode == "xnorm":
        a, b = D.parse_or_none(r), D.parse_or_none(k)
        ok = a is not None and xnorm(a) == xnorm(b)
    if ok and counts is not None:
        counts[ORDER_FREE] += 1
    return ok


def allowed(args, r, k, counts):
    for name, when, ok, _reason in ALLOWED_DIFFERENCES:
        if when(args) and ok(r, k):
            counts[name] += 1
            return True
    if k.startswith(b"-ERR unknown command") and not r.startswith(b"-ERR unknown command"):
        name = args[0].upper()
        if name in NOT_IMPLEMENTED_OK:
            counts["not implemented: " + name.decode()] += 1
            return True
    return False


class Mismatch(Exception):
    pass


def content_of(conn, fam, key):
    """(raw reply, canonical content) of a collection: a set as a sorted list,
    a hash / zset as a dict (None when empty/missing); canonical is None and
    raw an error for another type."""
    if fam == "set":
        raw = conn.call(b"SMEMBERS", key)
        v = D.flat_bulks(raw)
        return raw, (None if v is None else sorted(v))
    if fam == "hash":
        raw = conn.call(b"HGETALL", key)
    else:
        raw = conn.call(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
    v = D.flat_bulks(raw)
    return raw, (None if v is None else dict(zip(v[0::2], v[1::2])))


TRACE_PATH = os.environ.get("KEVY_DIFF_TYPES_TRACE")


class _History(collections.deque):
    """Recent commands (conn, text); with KEVY_DIFF_TYPES_TRACE=<file> every
    command is also written to that file, for debugging a mismatch."""

    def __init__(self, maxlen):
        super().__init__(maxlen=maxlen)
        self.trace = open(TRACE_PATH, "a") if TRACE_PATH else None

    def append(self, item):
        super().append(item)
        if self.trace:
            self.trace.write("%d: %s\n" % item)

    def extend(self, items):
        for i in items:
            self.append(i)


class Phase:
    def __init__(self, seed, label, nops, redis_srv, kevy_srv, max_s):
        self.seed = seed
        self.label = label
        self.nops = nops
        self.rs = redis_srv
        self.ks = kevy_srv
        self.deadline = time.monotonic() + max_s
        self.max_s = max_s
        self.history = _History(maxlen=30)
        self.mismatches = 0
        self.allowed_counts = collections.Counter()
        self.stats = collections.Counter()
        self.conns = [[self.rs.conn(timeout=30), self.ks.conn(timeout=30)] for _ in range(NCONN)]

    def fail(self, ci, args, r, k, why="replies differ", fatal=False):
        lines = ["MISMATCH (%s) seed=%d phase=%s conn=%d" % (why, self.seed, self.label, ci),
                 "  command: %s" % show(args),
                 "  redis:   %r" % clip(r, 2000), "  kevy:    %r" % clip(k, 2000)]
        if k.startswith(b"-ERR unknown command") and not r.startswith(b"-ERR unknown command"):
            lines.append("  (kevy does not implement %s; list it in NOT_IMPLEMENTED_OK with a "
                         "reason if that is intended)" % args[0].decode(errors="replace"))
        lines.append("  preceding commands (conn: command):")
        lines += ["    %d: %s" % h for h in list(self.history)[:-1]]
        lines.append("replay with: KEVY_SEED=%d" % self.seed)
        self.mismatches += 1
        if self.mismatches < MAX_MISMATCHES and not fatal:
            # Bug hunting (KEVY_DIFF_TYPES_MAX_MISMATCHES > 1): report and go
            # on; later replies may differ as a consequence.
            K.log("\n".join(lines[:-(len(self.history) - 9)] + ["  (continuing: mismatch %d of at most %d)"
                                          % (self.mismatches, MAX_MISMATCHES)]))
            return
        raise Mismatch("\n".join(lines))

    # ------------------------------------------------------------ batches
    def run_batch(self, ci, batch):
        rc, kc = self.conns[ci]
        kpay = []
        rpay = []
        for op in batch:
            e = K.encode(*op.args)
            kpay.append(e)
            rpay.append(e)
            if op.mode in ("hash", "hflat") and not op.in_multi:
                rpay.append(K.encode(b"OBJECT", b"ENCODING", op.args[1]))
        nprobe = len(rpay) - len(kpay)
        kpay, rpay = b"".join(kpay), b"".join(rpay)
        senders = []
        if len(rpay) <= 32768:
            rc.send(rpay)
            kc.send(kpay)
        else:
            for c, p in ((rc, rpay), (kc, kpay)):
                t = threading.Thread(target=c.send, args=(p,), daemon=True)
                t.start()
                senders.append(t)
        rr = rc.read_replies(len(batch) + nprobe)
        try:
            kr = kc.read_replies(len(batch))
        except (K.ConnectionClosed, OSError) as e:
            self.history.extend((ci, show(op.args)) for op in batch)
            self.fail(ci, batch[0].args, b"(batch of %d replies)" % len(batch), repr(e).encode(),
                      "kevy connection failed during a batch of %d" % len(batch), fatal=True)
        for t in senders:
            t.join(30)
        ri = 0
        rreply = {}
        for op, k in zip(batch, kr):
            r = rr[ri]
            ri += 1
            enc = None
            if op.mode in ("hash", "hflat") and not op.in_multi:
                enc = rr[ri]
                ri += 1
            rreply[id(op)] = r
            self.history.append((ci, show(op.args)))
            self.stats[op.args[0].upper()] += 1
            if op.mode == "exec":
                self.check_exec(ci, op, r, k, rreply)
                continue
            if same(op.mode, r, k, enc, self.allowed_counts):
                continue
            if allowed(op.args, r, k, self.allowed_counts):
                continue
            self.fail(ci, op.args, r, k)

    def check_exec(self, ci, op, r, k, rreply):
        if r == k:
            return
        ra, ka = D.split_array(r), D.split_array(k)
        queued = [s for s in op.sub if rreply.get(id(s)) == b"+QUEUED\r\n"]
        if ra is None or ka is None or len(ra) != len(ka) or len(ra) != len(queued):
            self.fail(ci, op.args, r, k, "EXEC replies differ")
            return
        for s, x, y in zip(queued, ra, ka):
            if x == y or same(s.mode, x, y, None, self.allowed_counts) or \
                    allowed(s.args, x, y, self.allowed_counts):
                continue
            self.fail(ci, s.args, x, y, "EXEC element differs (queued command shown)")

    # ------------------------------------------------- ops that run alone
    def run_rand(self, ci, op):
        rc, kc = self.conns[ci]
        self.history.append((ci, show(op.args) + "  [random: checked as a draw]"))
        self.stats[op.args[0].upper()] += 1
        key = op.args[1] if len(op.args) > 1 else None
        cr = ck = None
        if key is not None:
            rraw, cr = content_of(rc, op.fam, key)
            kraw, ck = content_of(kc, op.fam, key)
            if cr != ck or (op.fam == "zset" and rraw != kraw) or (
                    (cr is None) != (ck is None) and rraw != kraw):
                self.fail(ci, [b"(state before)"] + op.args, rraw, kraw,
                          "collections differ before a random command")
                return
        r = rc.call(*op.args)
        k = kc.call(*op.args)
        if r[:1] in (b"-", b":") or k[:1] in (b"-", b":") or cr is None:
            if r != k and not allowed(op.args, r, k, self.allowed_counts):
                self.fail(ci, op.args, r, k)
            return
        # An empty collection reads as [] / {}: validate it as a missing key.
        why_r = D.validate_random(op.args, r, cr if cr else None)
        if why_r:
            self.fail(ci, op.args, r, k, "redis's reply is not a valid draw?! %s" % why_r)
        why_k = D.validate_random(op.args, k, ck if ck else None)
        if why_k:
            self.fail(ci, op.args, r, k, "kevy's reply is not a valid draw: %s" % why_k)
        if r != k:
            self.allowed_counts["random draw differs (validated)"] += 1
        if op.args[0].upper() == b"SPOP":
            pr, pk = D.popped_members(op.args, r), D.popped_members(op.args, k)
            if sorted(pr) != sorted(pk):
                # Make both sets S - pr again, with the same commands on both.
                back = sorted(set(pr) | set(pk))
                for c in (rc, kc):
                    a = c.call(b"SADD", key, *back)
                    b = c.call(b"SREM", key, *pr)
                    K.check(a.startswith(b":") and b.startswith(b":"),
                            "SPOP reconciliation failed: %r %r" % (a, b))
                self.allowed_counts["SPOP reconciled"] += 1

    def run_lexguard(self, ci, op):
        rc, kc = self.conns[ci]
        key = op.args[1]
        rraw = rc.call(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
        kraw = kc.call(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
        if rraw != kraw:
            self.history.append((ci, "ZRANGE %r 0 -1 WITHSCORES  [before a lex command]" % key))
            self.fail(ci, [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"], rraw, kraw,
                      "state differs before a lex command")
        v = D.flat_bulks(rraw)
        if v is not None and len(set(v[1::2])) > 1:
            self.allowed_counts["lex command skipped: mixed scores"] += 1
            return
        self.run_batch(ci, [op])

    def scan_all(self, conn, args):
        name = args[0].upper()
        head = args[:2] if name != b"SCAN" else args[:1]
        opts = args[len(head) + 1:]
        seen = set()
        cursor = b"0"
        for i in range(100000):
            raw = conn.call(*(head + [cursor] + opts))
            v = D.parse_or_none(raw)
            if not (isinstance(v, list) and len(v) == 2 and isinstance(v[1], list)):
                return ("reply", raw) if i == 0 else ("bad reply mid-iteration", raw)
            if name in (b"HSCAN", b"ZSCAN"):
                seen.update(zip(v[1][0::2], v[1][1::2]))
            else:
                seen.update(v[1])
            cursor = v[0]
            if cursor == b"0":
                return ("ok", sorted(seen))
        return ("did not finish", None)

    def run_scan(self, ci, op):
        rc, kc = self.conns[ci]
        self.history.append((ci, show(op.args) + "  [full iteration]"))
        self.stats[op.args[0].upper()] += 1
        a = self.scan_all(rc, op.args)
        b = self.scan_all(kc, op.args)
        if a != b:
            self.fail(ci, op.args, repr(a).encode(), repr(b).encode(), "scan results differ")

    # ---------------------------------------------------------------- run
    def run(self, gen):
        r = gen.r
        done = 0
        batches = 0
        while done < self.nops:
            if time.monotonic() > self.deadline:
                raise K.TestFailure("phase %s took more than %.0fs (KEVY_DIFF_TYPES_MAX_S) "
                                    "after %d commands" % (self.label, self.max_s, done))
            depth = r.choice([1, 1, r.randint(2, 8), r.randint(2, 8), r.randint(8, 64),
                              r.randint(64, 200)])
            ci = r.randrange(NCONN)
            pending = []
            while len(pending) < depth and done < self.nops:
                ops = gen.next_ops()
                done += len(ops)
                special = [o for o in ops if o.mode in SPECIAL]
                if special:
                    if pending:
                        self.run_batch(ci, pending)
                        batches += 1
                        pending = []
                    o = special[0]
                    if o.mode == "rand":
                        self.run_rand(ci, o)
                    elif o.mode == "lexguard":
                        self.run_lexguard(ci, o)
                    else:
                        self.run_scan(ci, o)
                    continue
                pending += ops
            if pending:
                self.run_batch(ci, pending)
                batches += 1
            if not self.ks.alive():
                raise Mismatch("kevy-server died (seed=%d)\n%s" % (
                    self.seed, self.ks.log_tail().decode("utf-8", "replace")))
        self.final_compare()
        return done, batches

    def final_compare(self):
        """Whole dataset: SCAN both, then TYPE, value, PTTL of every key."""
        rc, kc = self.conns[0]
        for c in (rc, kc):
            c.call(b"UNWATCH")
        ka = self.scan_all(rc, [b"SCAN", b"0", b"COUNT", b"100"])
        kb = self.scan_all(kc, [b"SCAN", b"0", b"COUNT", b"100"])
        if ka != kb or ka[0] != "ok":
            self.fail(0, [b"SCAN", b"0", b"(full)"], repr(ka).encode(), repr(kb).encode(),
                      "final key sets differ", fatal=True)
        types = collections.Counter()
        for key in ka[1]:
            t = rc.call(b"TYPE", key)
            t2 = kc.call(b"TYPE", key)
            if t != t2:
                self.fail(0, [b"TYPE", key], t, t2, "final state differs")
                continue
            types[t.strip().decode()[1:]] += 1
            mode, enc = "exact", None
            if t == b"+string\r\n":
                c = [b"GET", key]
            elif t == b"+list\r\n":
                c = [b"LRANGE", key, b"0", b"-1"]
            elif t == b"+set\r\n":
                c, mode = [b"SMEMBERS", key], "set"
            elif t == b"+hash\r\n":
                c, mode = [b"HGETALL", key], "hash"
                enc = rc.call(b"OBJECT", b"ENCODING", key)
            elif t == b"+zset\r\n":
                c = [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]
            elif t == b"+stream\r\n":
                # Entries, groups, consumers and PELs (times as "*").
                c, mode = [b"XINFO", b"STREAM", key, b"FULL", b"COUNT", b"0"], "xnorm"
            else:
                self.fail(0, [b"TYPE", key], t, t2, "unexpected type", fatal=True)
            for cc, m in ((c, mode), ([b"PTTL", key], "ttl")):
                x, y = rc.call(*cc), kc.call(*cc)
                if not same(m, x, y, enc):
                    self.fail(0, cc, x, y, "final state differs")
        x, y = rc.call(b"DBSIZE"), kc.call(b"DBSIZE")
        if x != y:
            self.fail(0, [b"DBSIZE"], x, y, "final DBSIZE differs")
        if self.mismatches:
            raise Mismatch("%d mismatches (see above), seed=%d" % (self.mismatches, self.seed))
        self.final_types = dict(types)

    def close(self):
        for rc, kc in self.conns:
            rc.close()
            kc.close()


def detect_families(ks):
    """hash / zset families are generated only where kevy knows HSET / ZADD."""
    fams = {"list", "set", "string", "bitmap", "hll", "stream"}
    with ks.conn() as c:
        for fam, probe in (("hash", b"hset"), ("zset", b"zadd")):
            raw = c.call(b"COMMAND", b"INFO", probe)
            if raw in (b"*1\r\n*-1\r\n", b"*1\r\n$-1\r\n") or raw.startswith(b"-"):
                K.log("NOTICE: kevy does not implement %s yet: the %s commands are NOT "
                      "generated in this run (the test covers them once they land)"
                      % (probe.decode().upper(), fam))
            else:
                fams.add(fam)
    if "zset" in fams:
        fams.add("geo")            # geo sets are sorted sets
    return fams


def main():
    K.require_redis()
    K.require_kevy()
    seed, _ = K.rng_from_env()
    max_s = float(os.environ.get("KEVY_DIFF_TYPES_MAX_S", "400"))
    phases = []
    for spec in os.environ.get("KEVY_DIFF_TYPES_PHASES", DEFAULT_PHASES).split(","):
        if spec.strip():
            threads, _, n = spec.strip().partition(":")
            phases.append((int(threads), int(n or 20000)))
    for name, _w, _o, reason in ALLOWED_DIFFERENCES:
        K.log("allowed difference: %s -- %s" % (name, reason))
    for name, reason in NOT_IMPLEMENTED_OK.items():
        K.log("allowed missing command: %s -- %s" % (name.decode(), reason))
    rs = K.redis(name="redis-ref").start()
    total = 0
    families = None
    try:
        for threads, nops in phases:
            label = "--threads %d" % threads
            with rs.conn() as c:
                flushed = c.call(b"FLUSHALL")
            K.check(flushed == b"+OK\r\n", "FLUSHALL on redis: %r" % flushed)
            ks = K.kevy("--threads", str(threads), name="kevy").start()
            phase = None
            try:
                if families is None:
                    families = detect_families(ks)
                    K.log("families: %s" % ", ".join(sorted(families)))
                gen = Gen(random.Random(seed * 7 + threads), families)
                t0 = time.monotonic()
                phase = Phase(seed, label, nops, rs, ks, max_s)
                done, batches = phase.run(gen)
                total += done
                K.log("phase %s: %d commands in %d batches over %d connections, %.1fs; "
                      "keys at the end by type: %s; %d distinct commands; tolerated: %s"
                      % (label, done, batches, NCONN, time.monotonic() - t0, phase.final_types,
                         len(phase.stats), dict(phase.allowed_counts) or "none"))
                K.log("  command mix: " + ", ".join(
                    "%s=%d" % (n.decode(errors="replace"), c) for n, c in sorted(phase.stats.items())))
                phase.close()
                phase = None
                ks.check_clean_exit()
            except Mismatch as e:
                raise K.TestFailure("%s\n--- kevy log tail ---\n%s" % (
                    e, ks.log_tail(3000).decode("utf-8", "replace")))
            finally:
                if phase:
                    phase.close()
                ks.cleanup()
        K.log("total: %d commands" % total)
    finally:
        rs.cleanup()


if __name__ == "__main__":
    K.run_main(main)
