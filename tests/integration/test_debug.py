#!/usr/bin/python3
"""DEBUG DIGEST and DEBUG POPULATE on a running server.

1. The same seeded dataset (strings, lists, sets, hashes, sorted sets, keys
   with absolute deadlines) is loaded into kevy with --threads 1 and with
   --threads 3, in different key orders and member orders: DEBUG DIGEST must
   be equal (and not all zeros), an empty server's must be all zeros, and one
   changed value or deadline must change it.
2. `DEBUG POPULATE 1000 key 10` on kevy and on redis-server 7.0 (with
   --enable-debug-command yes) must give byte-identical `MGET key:0 ...
   key:999` replies and the same DBSIZE; so must a second POPULATE with a
   prefix and a size that cuts the value.

Environment: KEVY_SERVER (set by CTest), KEVY_SEED (replay), KEVY_TARGET=redis
(run the kevy side on redis-server too).  Skips (77) without redis-server.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

DEADLINE_MS = 4102444800000  # 2100-01-01: far enough never to pass in a run
ZERO = "0" * 40


def kevy_args(threads):
    args = ["--threads", str(threads)]
    if K.target() == "redis":
        args += ["--enable-debug-command", "yes"]
    return args


def make_dataset(rng, nkeys=300):
    """A list of (key, [commands]) where the commands build that key; the
    member order inside each command is left to load() to shuffle."""
    data = []
    for i in range(nkeys):
        kind = rng.choice(["string", "int", "list", "set", "iset", "hash", "zset"])
        key = "%s:%d" % (kind, i)
        cmds = []
        if kind == "string":
            cmds.append(["SET", key, "v" * rng.randrange(0, 60) + str(i)])
        elif kind == "int":
            cmds.append(["SET", key, str(rng.randrange(-10 ** 12, 10 ** 12))])
        elif kind == "list":
            cmds.append(["RPUSH", key] + ["e%d" % rng.randrange(50) for _ in range(rng.randrange(1, 20))])
        elif kind in ("set", "iset"):
            n = rng.randrange(1, 200)
            fmt = "%d" if kind == "iset" else "m%d"
            cmds.append(["SADD", key] + [fmt % j for j in rng.sample(range(1000), n)])
        elif kind == "hash":
            n = rng.randrange(1, 150)
            flat = []
            for j in rng.sample(range(1000), n):
                flat += ["f%d" % j, "x" * rng.randrange(0, 80)]
            cmds.append(["HSET", key] + flat)
        else:
            n = rng.randrange(1, 150)
            flat = []
            for j in rng.sample(range(1000), n):
                flat += [str(rng.randrange(-50, 50) / 4), "m%d" % j]
            cmds.append(["ZADD", key] + flat)
        if rng.random() < 0.2:
            cmds.append(["PEXPIREAT", key, str(DEADLINE_MS + rng.randrange(10 ** 6))])
        data.append((key, cmds))
    return data


def shuffled_members(rng, cmd):
    """The same command with its members/pairs in another order (lists keep
    theirs: their order is their value)."""
    name, key, rest = cmd[0], cmd[1], cmd[2:]
    if name == "SADD":
        rest = rest[:]
        rng.shuffle(rest)
    elif name in ("HSET", "ZADD"):
        pairs = [rest[i:i + 2] for i in range(0, len(rest), 2)]
        rng.shuffle(pairs)
        rest = [x for p in pairs for x in p]
    return [name, key] + rest


def load(conn, data, rng=None):
    order = list(data)
    if rng:
        rng.shuffle(order)
    cmds = []
    for _, kcmds in order:
        for c in kcmds:
            cmds.append(shuffled_members(rng, c) if rng else c)
    conn.send(b"".join(K.encode(*c) for c in cmds))
    for r in conn.read_replies(len(cmds), timeout=60):
        K.check(not r.startswith(b"-"), "load failed: %r" % r)


def digest(conn):
    d = conn.cmd("DEBUG", "DIGEST")
    K.check(isinstance(d, str) and len(d) == 40 and all(ch in "0123456789abcdef" for ch in d),
            "DEBUG DIGEST reply %r" % d)
    return d


def test_digest_across_thread_counts(rng):
    data = make_dataset(rng)
    with K.kevy(*kevy_args(1), name="kevy-t1") as s1, K.kevy(*kevy_args(3), name="kevy-t3") as s3:
        with s1.conn() as c1, s3.conn() as c3:
            K.check(digest(c1) == ZERO, "empty dataset digest is not all zeros")
            load(c1, data)
            load(c3, data, rng)
            d1, d3 = digest(c1), digest(c3)
            K.log("digest --threads 1: %s  --threads 3: %s" % (d1, d3))
            K.check(d1 != ZERO, "non-empty dataset has the zero digest")
            K.check(d1 == d3, "digests differ across thread counts: %s vs %s" % (d1, d3))
            K.check(c1.cmd("DBSIZE") == c3.cmd("DBSIZE") == len(data), "DBSIZE differs")

            # A renamed key, then a deadline added, must show (a key without
            # one: Redis's own digest counts only whether there is one).
            key = next(k for k, cmds in data if len(cmds) == 1)
            dv = c3.cmd("DEBUG", "DIGEST-VALUE", key)
            K.check(dv == c1.cmd("DEBUG", "DIGEST-VALUE", key), "DIGEST-VALUE differs")
            c3.cmd("RENAME", key, key + "x")
            K.check(digest(c3) != d1, "a renamed key left the digest unchanged")
            c3.cmd("RENAME", key + "x", key)
            K.check(digest(c3) == d1, "renaming back did not restore the digest")
            c3.cmd("PEXPIREAT", key, str(DEADLINE_MS - 1))
            K.check(digest(c3) != d1, "a new deadline left the digest unchanged")
        s1.check_clean_exit()
        s3.check_clean_exit()


def mget_all(conn, prefix, n):
    return conn.call("MGET", *["%s:%d" % (prefix, i) for i in range(n)])


def test_populate_matches_redis():
    with K.kevy(*kevy_args(3), name="kevy") as kv, \
            K.redis("--enable-debug-command", "yes", name="redis") as rd:
        with kv.conn() as ck, rd.conn() as cr:
            for args in (("1000", "key", "10"), ("50", "p", "3"), ("20",)):
                rk = ck.call("DEBUG", "POPULATE", *args)
                rr = cr.call("DEBUG", "POPULATE", *args)
                K.check(rk == rr == b"+OK\r\n", "POPULATE %s: kevy %r redis %r" % (args, rk, rr))
            for prefix, n in (("key", 1000), ("p", 50)):
                mk, mr = mget_all(ck, prefix, n), mget_all(cr, prefix, n)
                K.check(mk == mr, "MGET %s:0..%d differs:\nkevy  %r\nredis %r" % (
                    prefix, n - 1, mk[:200], mr[:200]))
            K.check(ck.cmd("DBSIZE") == cr.cmd("DBSIZE") == 1050, "DBSIZE after POPULATE")
            for bad in (("-1",), ("abc",), ("1", "x", "-1"), ("1", "x", "1", "2")):
                rk, rr = ck.call("DEBUG", "POPULATE", *bad), cr.call("DEBUG", "POPULATE", *bad)
                K.check(rk == rr, "POPULATE %s: kevy %r redis %r" % (bad, rk, rr))
        kv.check_clean_exit()


def main():
    K.require_kevy()
    K.require_redis()
    _, rng = K.rng_from_env()
    test_digest_across_thread_counts(rng)
    test_populate_matches_redis()


if __name__ == "__main__":
    K.run_main(main)
