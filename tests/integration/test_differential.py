#!/usr/bin/python3
"""Differential test: the same seeded command stream to redis-server and to
kevy-server, replies compared byte for byte.

A seeded generator (the seed is printed; KEVY_SEED=<n> replays it) produces
>= 10,000 commands per phase over every string/key/connection/server command
kevy implements, error cases included (wrong arity, syntax errors, bad numbers,
overflow, option conflicts, unknown commands), on a small keyspace so that
commands collide.  Commands go out in pipelined batches of random depth over
several connections; each batch is sent to both servers and every reply is
compared.  Three phases, each with a fresh kevy and a flushed redis: kevy
with --threads 2, with --threads 1, and with --threads 2 --io epoll (the
fallback reactor must have the same semantics).

Time is the one input the two servers do not share, so the generator keeps it
out of the replies: relative TTLs are unique and 10,000 s apart, absolute
times sit halfway between them (so GT/LT comparisons never race), past times
are days to decades old, and TTL/PTTL/EXPIRETIME/PEXPIRETIME replies are
compared with a tolerance.  KEYS replies are compared as sets; SCAN is run to completion on
both sides and the key sets compared (cursor values are the server's own);
RANDOMKEY is compared by reply type only.  Excluded as non-deterministic: TIME,
INFO, CLIENT LIST/ID/INFO, COMMAND output, HELLO's reply (their error forms
are in).  Each phase ends with a whole-dataset comparison (keys, values,
expiry times, DBSIZE).

Environment: KEVY_SEED (replay), KEVY_DIFF_OPS (commands per phase, default
50000), KEVY_DIFF_PHASES (default "2,1,2/epoll": --threads[/io] per phase).
On a mismatch it prints the seed, the command, both replies and the commands
that preceded it, and exits 1.
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

# ---------------------------------------------------------------------------
# Intentional differences between kevy and Redis 7.0.  Each entry: a name, a
# predicate on the command (list of bytes), a predicate on (redis_reply,
# kevy_reply) raw bytes that must hold for the difference to be accepted, and
# the reason.  Anything else that differs is a failure.
# ---------------------------------------------------------------------------



ALLOWED_DIFFERENCES = C.ALLOWED_DIFFERENCES

DEFAULT_OPS = 50000
NCONN = 4
TTL_TOLERANCE = {b"TTL": 60, b"EXPIRETIME": 60, b"PTTL": 60000, b"PEXPIRETIME": 60000}

# ---------------------------------------------------------------- generator

KEYS = [b"k%d" % i for i in range(10)] + [
    b"{t}a", b"{t}b", b"{t}c", b"{u}1", b"{u}2", b"n1", b"n2", b"f1",
    b"bin\x00\xff\r\n", b"sp ace", b"",
]
NUM_KEYS = [b"n1", b"n2", b"f1", b"k0", b"k1", b"{t}a"]
INT_VALUES = [b"0", b"1", b"-1", b"7", b"-42", b"100", b"9223372036854775807",
              b"-9223372036854775808", b"9223372036854775806", b"-9223372036854775807"]
STR_VALUES = [b"", b"a", b"hello", b"hello world", b"3.5", b"-0.25", b"1e3", b" 12",
              b"12 ", b"+1", b"007", b"0x1f", b"abc", b"\x00\x01\x02\xff",
              b"line\r\nbreak", b"x" * 100, b"9223372036854775808", b"inf", b"nan",
              b"1.5e300", b"-0"]
INT_ARGS = [b"0", b"1", b"-1", b"2", b"10", b"-10", b"1000", b"9223372036854775807",
            b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809",
            b"abc", b"1.5", b"", b" 1", b"1 ", b"+1", b"01", b"-0", b"0x1f", b"1e3"]
FLOAT_ARGS = [b"0.1", b"-0.1", b"1.5", b"1e3", b"-2.5e-3", b"3", b"0", b"-7", b"abc",
              b"", b"inf", b"-inf", b"nan", b"1e308", b"1e4933", b"0x10", b" 1.0",
              b"1.0 ", b"5.0e3", b"1.23456789012345678901", b"-1e-10", b"10.50",
              b"9223372036854775807", b"1e-4933"]
PATTERNS = [b"*", b"k*", b"k?", b"{t}*", b"*1*", b"k[1-3]", b"k[^1-3]", b"\\{t\\}*",
            b"[a-z]*", b"nomatch*", b"n?", b"*\\*", b"bin*", b"sp*", b"", b"*a*",
            b"k[", b"*[", b"?"]
UNKNOWN = [b"FOO", b"gett", b"sett", b"xyzzy", b"Frobnicate", b"getall", b"HGETT"]

# Redis arities (name included; negative = at least).
ARITY = {
    b"GET": 2, b"SET": -3, b"SETNX": 3, b"SETEX": 4, b"PSETEX": 4, b"GETSET": 3,
    b"GETDEL": 2, b"GETEX": -2, b"MGET": -2, b"MSET": -3, b"MSETNX": -3, b"INCR": 2,
    b"DECR": 2, b"INCRBY": 3, b"DECRBY": 3, b"INCRBYFLOAT": 3, b"APPEND": 3,
    b"STRLEN": 2, b"GETRANGE": 4, b"SETRANGE": 4, b"DEL": -2, b"UNLINK": -2,
    b"EXISTS": -2, b"TOUCH": -2, b"TYPE": 2, b"EXPIRE": -3, b"PEXPIRE": -3,
    b"EXPIREAT": -3, b"PEXPIREAT": -3, b"TTL": 2, b"PTTL": 2, b"EXPIRETIME": 2,
    b"PEXPIRETIME": 2, b"PERSIST": 2, b"RENAME": 3, b"RENAMENX": 3, b"KEYS": 2,
    b"ECHO": 2, b"SELECT": 2, b"DBSIZE": 1, b"TIME": 1, b"RANDOMKEY": 1,
    b"AUTH": -2, b"CLIENT": -2, b"CONFIG": -2, b"SCAN": -2, b"MOVE": 3, b"COPY": -3,
    b"SWAPDB": 3, b"FLUSHDB": -1,
}


class Op:
    """One command.  mode: exact | set (KEYS) | ttl (tolerance) | type (RANDOMKEY)
    | scan (run to completion, barrier) | quit (barrier)."""
    __slots__ = ("args", "mode")

    def __init__(self, args, mode="exact"):
        self.args = args
        self.mode = mode


class Gen(C.WeightedGenMixin):
    def __init__(self, rng):
        self.r = rng
        self.base_s = int(time.time())
        self.unique = 0
        self.gens = []
        for fn, w in [
            (self.g_set, 14), (self.g_get, 8), (self.g_setnx_getset, 3),
            (self.g_setex, 3), (self.g_getdel, 2), (self.g_getex, 4),
            (self.g_mget, 4), (self.g_mset, 4), (self.g_incr, 8),
            (self.g_incrbyfloat, 4), (self.g_append_strlen, 4), (self.g_range, 4),
            (self.g_multikey, 6), (self.g_type, 2), (self.g_expire, 10),
            (self.g_ttl, 8), (self.g_persist, 2), (self.g_rename, 4),
            (self.g_keys, 3), (self.g_scan, 1), (self.g_randomkey, 1),
            (self.g_conn, 3), (self.g_server, 2), (self.g_flush, 0.3),
            (self.g_unknown, 1), (self.g_quit, 0.15), (self.g_db, 3),
        ]:
            self.gens.append((fn, w))
        self.total_w = sum(w for _, w in self.gens)

    # -- argument pickers --
    def key(self):
        return self.r.choice(KEYS)

    def nkey(self):
        return self.r.choice(NUM_KEYS) if self.r.random() < 0.7 else self.key()

    def value(self):
        x = self.r.random()
        if x < 0.35:
            return self.r.choice(INT_VALUES)
        if x < 0.7:
            return self.r.choice(STR_VALUES)
        if x < 0.9:
            return str(self.r.randint(-1000, 1000)).encode()
        if x < 0.995:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 20)))
        # Now and then a big value, so requests and replies cross read and
        # write boundaries inside a pipeline.
        return self.r.randbytes(self.r.randint(1000, 100000))

    def rel_s(self):
        """A future relative TTL in seconds, unique and 10,000 s from any other."""
        self.unique += 1
        return 10000 * (100 + self.unique)

    def abs_s(self):
        """A future absolute time in seconds, halfway between relative ones."""
        return self.base_s + 10000 * (100 + self.r.randint(1, self.unique + 50)) + 5000

    def past_s(self):
        return self.r.choice([1, 1000, 1000000000, self.base_s - 10 ** 6])

    def expiry_pair(self, allow_bad=True):
        """An expiry option for SET/GETEX: (words, is_past_absolute)."""
        x = self.r.random()
        if x < 0.25:
            return [b"EX", b"%d" % self.rel_s()], False
        if x < 0.45:
            return [b"PX", b"%d" % (self.rel_s() * 1000 + self.r.randint(0, 999))], False
        if x < 0.6:
            return [b"EXAT", b"%d" % self.abs_s()], False
        if x < 0.72:
            return [b"PXAT", b"%d" % (self.abs_s() * 1000 + self.r.randint(0, 999))], False
        if x < 0.8 or not allow_bad:
            w = self.r.choice([b"EXAT", b"PXAT"])
            t = self.past_s()
            return [w, b"%d" % (t * 1000 if w == b"PXAT" else t)], True
        w = self.r.choice([b"EX", b"PX", b"EXAT", b"PXAT"])
        bad = self.r.choice([b"0", b"-1", b"-100", b"abc", b"1.5", b"",
                             b"9223372036854775807", b"9223372036854775",
                             b"-9223372036854775808", b"99999999999999999999"])
        return [w, bad], False

    def case(self, name):
        """Command names in random case now and then."""
        if self.r.random() < 0.15:
            return bytes(c ^ 0x20 if 97 <= (c | 0x20) <= 122 and self.r.random() < 0.5 else c
                         for c in name)
        return name

    def cmd(self, *args, mode="exact"):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        args[0] = self.case(args[0])
        return Op(args, mode)

    # -- generators: each returns a list of Op --
    def g_set(self):
        a = [b"SET", self.key(), self.value()]
        opts = []
        past = False
        if self.r.random() < 0.5:
            e, past = self.expiry_pair()
            opts.append(e)
        if self.r.random() < 0.3:
            opts.append([self.r.choice([b"NX", b"XX"])])
        if self.r.random() < 0.15:
            opts.append([b"KEEPTTL"])
        if self.r.random() < 0.2:
            opts.append([b"GET"])
        if self.r.random() < 0.08:   # conflicts and junk
            opts.append(self.r.choice([[b"NX", b"XX"][::self.r.choice([1, -1])], [b"EX", b"10", b"PX", b"10"],
                                       [b"FOO"], [b"EX"], [b"PX"], [b"KEEPTTL", b"EX", b"5"],
                                       [b"GET", b"GET"], [b"EXAT"], [b"NX", b"NX"]]))
        self.r.shuffle(opts)
        for o in opts:
            a += o
        ops = [self.cmd(*a)]
        if past:
            # Redis 7.0 stores a SET with a past EXAT/PXAT and reclaims it
            # lazily; touch it at once so DBSIZE cannot see the difference.
            ops.append(self.cmd(b"EXISTS", a[1]))
        return ops

    def g_get(self):
        return [self.cmd(b"GET", self.key())]

    def g_setnx_getset(self):
        name = self.r.choice([b"SETNX", b"GETSET"])
        return [self.cmd(name, self.key(), self.value())]

    def g_setex(self):
        name = self.r.choice([b"SETEX", b"PSETEX"])
        x = self.r.random()
        if x < 0.75:
            t = self.rel_s() * (1000 if name == b"PSETEX" else 1)
            t = b"%d" % t
        else:
            t = self.r.choice([b"0", b"-1", b"abc", b"", b"1.5", b"9223372036854775807",
                               b"9223372036854775"])
        return [self.cmd(name, self.key(), t, self.value())]

    def g_getdel(self):
        return [self.cmd(b"GETDEL", self.key())]

    def g_getex(self):
        a = [b"GETEX", self.key()]
        x = self.r.random()
        if x < 0.55:
            e, _ = self.expiry_pair()
            a += e
        elif x < 0.75:
            a.append(b"PERSIST")
        elif x < 0.9:
            a += self.r.choice([[b"PERSIST", b"EX", b"100"], [b"EX", b"100", b"PX", b"100"],
                                [b"FOO"], [b"EX"], [b"PERSIST", b"PERSIST"],
                                [b"KEEPTTL"], [b"NX"], [b"GET"]])
        return [self.cmd(*a)]

    def g_mget(self):
        return [self.cmd(b"MGET", *[self.key() for _ in range(self.r.randint(1, 6))])]

    def g_mset(self):
        name = self.r.choice([b"MSET", b"MSET", b"MSETNX"])
        a = [name]
        for _ in range(self.r.randint(1, 4)):
            a += [self.key(), self.value()]
        if self.r.random() < 0.1:
            a.append(self.key())      # odd count: arity error
        return [self.cmd(*a)]

    def g_incr(self):
        x = self.r.random()
        if x < 0.1:
            return [self.cmd(b"SET", self.nkey(), self.r.choice(INT_VALUES))]
        if x < 0.45:
            return [self.cmd(self.r.choice([b"INCR", b"DECR"]), self.nkey())]
        n = self.r.choice(INT_ARGS) if self.r.random() < 0.5 else b"%d" % self.r.randint(-100, 100)
        return [self.cmd(self.r.choice([b"INCRBY", b"DECRBY"]), self.nkey(), n)]

    def g_incrbyfloat(self):
        if self.r.random() < 0.1:
            return [self.cmd(b"SET", self.nkey(), self.r.choice(FLOAT_ARGS + INT_VALUES))]
        return [self.cmd(b"INCRBYFLOAT", self.nkey(), self.r.choice(FLOAT_ARGS))]

    def g_append_strlen(self):
        if self.r.random() < 0.6:
            return [self.cmd(b"APPEND", self.key(), self.value())]
        return [self.cmd(b"STRLEN", self.key())]

    def g_range(self):
        def idx():
            if self.r.random() < 0.1:
                return self.r.choice(INT_ARGS)
            return b"%d" % self.r.randint(-30, 30)
        if self.r.random() < 0.5:
            return [self.cmd(b"GETRANGE", self.key(), idx(), idx())]
        if self.r.random() < 0.1:
            off = self.r.choice([b"-1", b"abc", b"536870912", b"536870911", b"9223372036854775807", b""])
            v = self.r.choice([b"x", b""])   # 536870911+"x" fits; with "" nothing is allocated
            if off == b"536870911":
                v = b""
        else:
            off = b"%d" % self.r.randint(0, 40)
            v = self.value()
        return [self.cmd(b"SETRANGE", self.key(), off, v)]

    def g_multikey(self):
        name = self.r.choice([b"DEL", b"UNLINK", b"EXISTS", b"EXISTS", b"TOUCH"])
        return [self.cmd(name, *[self.key() for _ in range(self.r.randint(1, 5))])]

    def g_type(self):
        return [self.cmd(b"TYPE", self.key())]

    def g_expire(self):
        name = self.r.choice([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"])
        ms = name.startswith(b"P")
        x = self.r.random()
        if x < 0.7:
            if name.endswith(b"AT"):
                t = self.abs_s()
            else:
                t = self.rel_s()
            t = t * 1000 + self.r.randint(0, 999) if ms else t
            t = b"%d" % t
        elif x < 0.85:
            # Deletes the key at once in every server (already expired).
            if name.endswith(b"AT"):
                t = self.past_s() * (1000 if ms else 1)
            else:
                t = self.r.choice([0, -1, -100])
            t = b"%d" % t
        else:
            t = self.r.choice([b"abc", b"", b"1.5", b"9223372036854775807",
                               b"-9223372036854775808", b"9223372036854775",
                               b"-9223372036854775", b"99999999999999999999"])
        a = [name, self.key(), t]
        y = self.r.random()
        if y < 0.45:
            a.append(self.r.choice([b"NX", b"XX", b"GT", b"LT", b"nx", b"gt"]))
        elif y < 0.55:
            a += self.r.sample([b"NX", b"XX", b"GT", b"LT"], 2)
        elif y < 0.6:
            a += self.r.choice([[b"FOO"], [b"XX", b"GT"], [b"XX", b"LT"], [b"GT", b"GT"]])
        if name == b"PEXPIRE" and t == b"9223372036854775":
            # A valid relative time and the only one that is not unique: GT or
            # LT against the same time set a moment earlier depends on whether
            # the millisecond clock moved in between, in either server.
            a = a[:3] + [o for o in a[3:] if o.upper() not in (b"GT", b"LT")]
        return [self.cmd(*a)]

    def g_ttl(self):
        name = self.r.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"])
        return [self.cmd(name, self.key(), mode="ttl")]

    def g_persist(self):
        return [self.cmd(b"PERSIST", self.key())]

    def g_rename(self):
        name = self.r.choice([b"RENAME", b"RENAMENX"])
        src = self.key()
        dst = src if self.r.random() < 0.1 else self.key()
        return [self.cmd(name, src, dst)]

    def g_keys(self):
        return [self.cmd(b"KEYS", self.r.choice(PATTERNS), mode="set")]

    def g_scan(self):
        x = self.r.random()
        if x < 0.25:   # error forms carry no cursor: compare exactly
            bad = self.r.choice([[b"abc"], [b"0", b"COUNT", b"0"], [b"0", b"COUNT", b"abc"],
                                 [b"0", b"MATCH"], [b"0", b"TYPE"], [b"0", b"FOO", b"bar"],
                                 [b"0", b"COUNT"]])
            return [self.cmd(b"SCAN", *bad)]
        opts = []
        if self.r.random() < 0.5:
            opts += [b"MATCH", self.r.choice(PATTERNS)]
        if self.r.random() < 0.5:
            opts += [b"COUNT", b"%d" % self.r.choice([1, 2, 5, 10, 1000])]
        if self.r.random() < 0.2:
            opts += [b"TYPE", self.r.choice([b"string", b"list", b"STRING", b"foo"])]
        return [Op([b"SCAN", b"0"] + opts, "scan")]

    def g_randomkey(self):
        if self.r.random() < 0.2:
            return [self.cmd(b"RANDOMKEY", b"x")]
        return [self.cmd(b"RANDOMKEY", mode="type")]

    def g_db(self):
        """Databases: the connection moves between 0..2 (and tries bad
        numbers), keys move and are copied between them, two swap."""
        x = self.r.random()
        db = lambda: self.r.choice([b"0", b"1", b"2", b"2", b"16", b"-1", b"x"])  # noqa: E731
        if x < 0.3:
            return [self.cmd(b"SELECT", db())]
        if x < 0.5:
            return [self.cmd(b"MOVE", self.key(), db())]
        if x < 0.75:
            a = [b"COPY", self.key(), self.key()]
            if self.r.random() < 0.5:
                a += [b"DB", db()]
            if self.r.random() < 0.4:
                a.append(b"REPLACE")
            return [self.cmd(*a)]
        if x < 0.85:
            return [self.cmd(b"SWAPDB", db(), db())]
        if x < 0.95:
            return [self.cmd(b"DBSIZE")]
        return [self.cmd(b"FLUSHDB")]

    def g_conn(self):
        x = self.r.random()
        if x < 0.2:
            return [self.cmd(b"PING")] if self.r.random() < 0.5 else [self.cmd(b"PING", self.value())]
        if x < 0.3:
            return [self.cmd(b"ECHO", self.value())]
        if x < 0.45:
            n = self.r.choice([b"0", b"1", b"3", b"15", b"16", b"-1", b"abc", b""])
            return [self.cmd(b"SELECT", n), self.cmd(b"SELECT", b"0")]
        if x < 0.65:
            y = self.r.random()
            if y < 0.4:
                return [self.cmd(b"CLIENT", b"SETNAME",
                                 self.r.choice([b"conn-a", b"b", b"", b"has space", b"nl\n", b"x" * 40]))]
            if y < 0.8:
                return [self.cmd(b"CLIENT", b"GETNAME")]
            return [self.cmd(*self.r.choice([[b"CLIENT", b"FOO"], [b"CLIENT", b"SETNAME"],
                                             [b"CLIENT", b"GETNAME", b"x"]]))]
        if x < 0.8:
            return [self.cmd(*self.r.choice([
                [b"HELLO", b"4"], [b"HELLO", b"1"], [b"HELLO", b"abc"], [b"HELLO", b"-1"],
                [b"AUTH", b"secret"], [b"AUTH", b"nouser", b"pw"], [b"AUTH"],
                [b"AUTH", b"a", b"b", b"c"]]))]
        return [self.cmd(b"PING", b"a", b"b")] if self.r.random() < 0.3 else [self.cmd(b"ECHO")]

    def g_server(self):
        return [self.cmd(*self.r.choice([
            [b"DBSIZE"], [b"DBSIZE"], [b"DBSIZE"], [b"DBSIZE", b"x"],
            [b"CONFIG", b"GET", b"timeout"], [b"CONFIG", b"GET", b"nosuchparam"],
            [b"CONFIG", b"SET", b"timeout", b"abc"], [b"CONFIG", b"SET", b"timeout", b"0"],
            [b"CONFIG", b"FOO"], [b"CONFIG", b"GET"], [b"CONFIG", b"SET", b"nosuchparam", b"1"],
            [b"COMMAND", b"FOO"], [b"TIME", b"x"], [b"SHUTDOWN", b"FOO", b"BAR"],
            [b"SHUTDOWN", b"ABORT"],
        ]))]

    def g_flush(self):
        name = self.r.choice([b"FLUSHDB", b"FLUSHALL"])
        x = self.r.random()
        if x < 0.6:
            return [self.cmd(name)]
        if x < 0.85:
            return [self.cmd(name, self.r.choice([b"SYNC", b"ASYNC", b"sync"]))]
        return [self.cmd(name, self.r.choice([b"FOO", b"ASYNC SYNC"]))]

    def g_unknown(self):
        return [self.cmd(self.r.choice(UNKNOWN), *[self.value() for _ in range(self.r.randint(0, 3))])]

    def g_quit(self):
        return [Op([b"QUIT"], "quit")]

    def arity_mutation(self, op):
        """Turn a command into a wrong-arity call of the same command."""
        name = op.args[0].upper()
        ar = ARITY.get(name)
        if ar is None or op.mode in ("scan", "quit"):
            return op
        if ar > 0:
            if self.r.random() < 0.5 and ar > 1:
                args = op.args[:ar - 1]
            else:
                args = op.args[:ar] + [self.key()] * self.r.randint(1, 2)
                if len(op.args) > ar:
                    args = op.args[:ar] + [b"extra"]
        else:
            n = -ar
            if n <= 1:
                return op
            args = op.args[:n - 1]
        return Op(args, "exact")



# ---------------------------------------------------------------- comparison

clip = C.clip


def show(args):
    return " ".join(repr(clip(a))[1:] if a else "''" for a in args)


def keys_set(raw):
    try:
        v = K.parse(raw)
    except ValueError:
        return None
    if isinstance(v, list) and all(isinstance(x, bytes) for x in v):
        return sorted(v)
    return None


def ttl_close(name, r, k):
    tol = TTL_TOLERANCE.get(name)
    if tol is None:
        return False
    try:
        a, b = K.parse(r), K.parse(k)
    except ValueError:
        return False
    if isinstance(a, int) and isinstance(b, int) and a >= 0 and b >= 0:
        return abs(a - b) <= tol
    return False


def same(op, r, k):
    if r == k:
        return True
    if op.mode == "set":
        a, b = keys_set(r), keys_set(k)
        return a is not None and a == b
    if op.mode == "ttl":
        return ttl_close(op.args[0].upper(), r, k)
    if op.mode == "type":
        return r[:1] == k[:1] and (r[:3] == b"$-1") == (k[:3] == b"$-1")
    return False


def allowed(op, r, k, counts):
    for name, when, ok, _reason in ALLOWED_DIFFERENCES:
        if when(op.args) and ok(r, k):
            counts[name] += 1
            return True
    return False


class Mismatch(Exception):
    pass


class Phase:
    def __init__(self, seed, label, nops, redis_srv, kevy_srv):
        self.seed = seed
        self.label = label
        self.nops = nops
        self.rs = redis_srv
        self.ks = kevy_srv
        self.history = collections.deque(maxlen=25)
        self.allowed_counts = collections.Counter()
        self.stats = collections.Counter()
        self.conns = [self._pair() for _ in range(NCONN)]

    def _pair(self):
        return [self.rs.conn(timeout=30), self.ks.conn(timeout=30)]

    def fail(self, ci, op, r, k, why="replies differ"):
        lines = ["MISMATCH (%s) seed=%d phase=%s conn=%d" % (why, self.seed, self.label, ci),
                 "  command: %s" % show(op.args),
                 "  redis:   %r" % clip(r, 2000), "  kevy:    %r" % clip(k, 2000),
                 "  preceding commands (conn: command):"]
        lines += ["    %d: %s" % h for h in list(self.history)[:-1]]
        lines.append("replay with: KEVY_SEED=%d" % self.seed)
        raise Mismatch("\n".join(lines))

    def run_batch(self, ci, batch):
        rc, kc = self.conns[ci]
        payload = b"".join(K.encode(*op.args) for op in batch)
        senders = []
        if len(payload) <= 32768:
            rc.send(payload)
            kc.send(payload)
        else:
            # Big batch: send while reading, so that a server that stops
            # reading a client which does not read its replies cannot
            # deadlock the test.
            for c in (rc, kc):
                t = threading.Thread(target=c.send, args=(payload,), daemon=True)
                t.start()
                senders.append(t)
        rr = rc.read_replies(len(batch))
        try:
            kr = kc.read_replies(len(batch))
        except (K.ConnectionClosed, OSError) as e:
            self.history.extend((ci, show(op.args)) for op in batch)
            self.fail(ci, batch[0], b"(batch of %d replies)" % len(batch), repr(e).encode(),
                      "kevy connection failed during a batch of %d" % len(batch))
        for t in senders:
            t.join(30)
        for op, r, k in zip(batch, rr, kr):
            self.history.append((ci, show(op.args)))
            self.stats[op.args[0].upper()] += 1
            if same(op, r, k):
                continue
            if allowed(op, r, k, self.allowed_counts):
                continue
            self.fail(ci, op, r, k)

    def scan_all(self, conn, opts):
        seen = set()
        cursor = b"0"
        for _ in range(100000):
            v = K.parse(conn.call(b"SCAN", cursor, *opts))
            if not (isinstance(v, list) and len(v) == 2 and isinstance(v[1], list)):
                return ("bad reply", repr(v))
            seen.update(v[1])
            cursor = v[0]
            if cursor == b"0":
                return sorted(seen)
        return ("did not finish", None)

    def run_scan(self, ci, op):
        rc, kc = self.conns[ci]
        self.history.append((ci, show(op.args) + "  [full iteration]"))
        self.stats[b"SCAN"] += 1
        a = self.scan_all(rc, op.args[2:])
        b = self.scan_all(kc, op.args[2:])
        if a != b:
            self.fail(ci, op, repr(a).encode(), repr(b).encode(), "SCAN iteration sets differ")

    def run_quit(self, ci, op):
        rc, kc = self.conns[ci]
        self.history.append((ci, "QUIT"))
        self.stats[b"QUIT"] += 1
        r, k = rc.call(b"QUIT"), kc.call(b"QUIT")
        if r != k:
            self.fail(ci, op, r, k)
        if not kc.closed_by_peer(10):
            self.fail(ci, op, r, k, "kevy did not close the connection after QUIT")
        rc.close()
        kc.close()
        self.conns[ci] = self._pair()

    def run(self, gen):
        r = gen.r
        done = 0
        batches = 0
        pending = []
        ci = 0
        while done < self.nops:
            depth = r.choice([1, 1, r.randint(2, 8), r.randint(2, 8), r.randint(8, 64),
                              r.randint(64, 300)])
            ci = r.randrange(NCONN)
            pending = []
            while len(pending) < depth and done < self.nops:
                ops = gen.next_ops()
                done += len(ops)
                special = [o for o in ops if o.mode in ("scan", "quit")]
                if special:
                    if pending:
                        self.run_batch(ci, pending)
                        batches += 1
                        pending = []
                    o = special[0]
                    (self.run_scan if o.mode == "scan" else self.run_quit)(ci, o)
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
        """Whole-dataset check: same keys, values and expiry times."""
        rc, kc = self.conns[0]
        ka = keys_set(rc.call(b"KEYS", b"*"))
        kb = keys_set(kc.call(b"KEYS", b"*"))
        if ka != kb:
            self.fail(0, Op([b"KEYS", b"*"]), repr(ka).encode(), repr(kb).encode(),
                      "final key sets differ")
        for key in ka:
            for c in ([b"GET", key], [b"PEXPIRETIME", key], [b"TYPE", key], [b"STRLEN", key]):
                op = Op(c, "ttl" if c[0] == b"PEXPIRETIME" else "exact")
                r, k = rc.call(*c), kc.call(*c)
                if not same(op, r, k):
                    self.fail(0, op, r, k, "final state differs")
        r, k = rc.call(b"DBSIZE"), kc.call(b"DBSIZE")
        if r != k:
            self.fail(0, Op([b"DBSIZE"]), r, k, "final DBSIZE differs")
        self.final_keys = len(ka)

    def close(self):
        for rc, kc in self.conns:
            rc.close()
            kc.close()


def main():
    K.require_redis()
    K.require_kevy()
    seed, _ = K.rng_from_env()
    nops = int(os.environ.get("KEVY_DIFF_OPS", DEFAULT_OPS))
    phases = []
    for spec in os.environ.get("KEVY_DIFF_PHASES", "2,1,2/epoll").split(","):
        if spec.strip():
            threads, _, io = spec.strip().partition("/")
            args = ["--threads", str(int(threads))] + (["--io", io] if io else [])
            phases.append((" ".join(args), args))
    for name, _w, _o, reason in ALLOWED_DIFFERENCES:
        K.log("allowed difference: %s -- %s" % (name, reason))
    rs = K.redis(name="redis-ref").start()
    try:
        for label, args in phases:
            gen = Gen(random.Random(seed))
            with rs.conn() as c:
                flushed = c.call(b"FLUSHALL")
            K.check(flushed == b"+OK\r\n", "FLUSHALL on redis: %r" % flushed)
            ks = K.kevy(*args, name="kevy").start()
            phase = None
            try:
                t0 = time.monotonic()
                phase = Phase(seed, label, nops, rs, ks)
                done, batches = phase.run(gen)
                K.log("phase %s: %d commands in %d batches over %d connections, "
                      "%.1fs, %d keys at the end, %d distinct commands; allowed differences: %s"
                      % (label, done, batches, NCONN, time.monotonic() - t0, phase.final_keys,
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
    finally:
        rs.cleanup()


if __name__ == "__main__":
    K.run_main(main)
