#!/usr/bin/python3
"""SORT across shards on a real server, and the durability of SORT ... STORE.

- A list on one shard sorted BY string weights and BY hash fields whose keys
  spread over all four shards, with GET patterns of both kinds: the replies
  are what the weights say (computed here), alone, pipelined and inside
  MULTI/EXEC (EXEC must hold every shard for a queued SORT with patterns).
- SORT ... STORE with BY/GET patterns (results past one AOF chunk of 128
  elements; into a destination that had a TTL; an empty result deleting the
  destination; inside MULTI/EXEC) under appendfsync always: after kill -9 and
  a restart every destination holds exactly what it held (LRANGE, TYPE,
  PTTL) and the whole dataset has the same DEBUG DIGEST; the same after a
  clean restart.  The AOF must not hold such a SORT (it could not replay on
  the destination's shard): the destination's final state is logged instead.
"""

import glob
import sys

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

N = 300


def fill(c, rng):
    """src: N numbers in random order; w_<i> unique weights, h_<i> a hash
    with field f (unique) and g (absent for every third).  Returns
    (elements, weight, field f)."""
    elems = [str(i).encode() for i in range(N)]
    rng.shuffle(elems)
    weight = {e: rng.randrange(10 ** 9) for e in elems}
    while len(set(weight.values())) < N:
        weight = {e: rng.randrange(10 ** 9) for e in elems}
    field = {e: "%.6f" % rng.random() for e in elems}
    K.check(c.call("RPUSH", "{s}src", *elems) == b":%d\r\n" % N, "RPUSH src")
    args = []
    for e in elems:
        args += [b"w_" + e, weight[e]]
    K.check(c.call("MSET", *args) == b"+OK\r\n", "MSET weights")
    for e in elems:
        h = [b"f", field[e]] + ([b"g", b"x" + e] if int(e) % 3 else [])
        c.call("HSET", b"h_" + e, *h)
    return elems, weight, field


def check_replies(c, elems, weight, field):
    by_w = sorted(elems, key=lambda e: weight[e])
    by_f = sorted(elems, key=lambda e: float(field[e]))
    got = c.cmd("SORT", "{s}src", "BY", "w_*")
    K.check(got == by_w, "SORT BY w_* follows the weights")
    got = c.cmd("SORT_RO", "{s}src", "BY", "h_*->f", "DESC", "LIMIT", 5, 20)
    K.check(got == by_f[::-1][5:25], "SORT_RO BY h_*->f DESC LIMIT 5 20")
    got = c.cmd("SORT", "{s}src", "BY", "nosort", "GET", "#", "GET", "w_*", "GET", "h_*->g")
    want = []
    for e in elems:
        want += [e, b"%d" % weight[e], (b"x" + e) if int(e) % 3 else None]
    K.check(got == want, "SORT BY nosort GET # GET w_* GET h_*->g (nil where absent)")
    # Pipelined with other commands, and queued in a transaction.
    c.send(K.encode("SORT", "{s}src", "BY", "w_*", "LIMIT", 0, 3) + K.encode("GET", "w_0") +
           K.encode("MULTI") + K.encode("SORT", "{s}src", "BY", "w_*", "GET", "w_*", "LIMIT", 0, 2) +
           K.encode("SET", "w_0", 1) + K.encode("SORT", "{s}src", "BY", "w_*", "LIMIT", 0, 1) +
           K.encode("EXEC"))
    r = c.read_replies(7)
    K.check(K.parse(r[0]) == by_w[:3], "pipelined SORT")
    ex = K.parse(r[6])
    K.check(ex[0] == [b"%d" % weight[e] for e in by_w[:2]], "SORT inside EXEC: %r" % ex)
    weight[b"0"] = 1
    K.check(ex[2] == [min(elems, key=lambda e: (weight[e], e))], "SORT sees the SET before it "
            "in the same EXEC: %r" % ex[2])
    return weight


def check_store_survives_restart(rng):
    srv = K.kevy("--threads", "4", "--appendfsync", "always").start()
    dests = ["dst", "{s}dst", "far{x}", "ttl", "gone", "m1", "m2", "plain"]
    try:
        with srv.conn() as c:
            elems, weight, field = fill(c, rng)
            weight = check_replies(c, elems, weight, field)
            K.check(c.call("SET", "ttl", "old", "EX", 1000) == b"+OK\r\n", "SET ttl")
            K.check(c.call("RPUSH", "gone", "x") == b":1\r\n", "RPUSH gone")
            K.check(c.call("SORT", "{s}src", "BY", "w_*", "GET", "#", "GET", "h_*->f",
                           "STORE", "dst") == b":%d\r\n" % (2 * N), "STORE dst")
            K.check(c.call("SORT", "{s}src", "BY", "h_*->f", "DESC", "GET", "h_*->g",
                           "STORE", "{s}dst") == b":%d\r\n" % N, "STORE {s}dst")
            K.check(c.call("SORT", "{s}src", "BY", "w_*", "ALPHA", "LIMIT", 7, 100,
                           "STORE", "far{x}") == b":100\r\n", "STORE far")
            K.check(c.call("SORT", "{s}src", "BY", "nosort", "GET", "w_*", "STORE", "ttl")
                    == b":%d\r\n" % N, "STORE over a key with a TTL")
            K.check(c.call("SORT", "nosuch", "GET", "w_*", "STORE", "gone") == b":0\r\n",
                    "an empty STORE deletes")
            c.send(K.encode("MULTI") +
                   K.encode("SORT", "{s}src", "BY", "w_*", "GET", "h_*->f", "STORE", "m1") +
                   K.encode("RPUSH", "m1", "tail") +
                   K.encode("SORT", "m1", "BY", "nosort", "GET", "#", "STORE", "m2") +
                   K.encode("SORT", "{s}src", "STORE", "plain") + K.encode("EXEC"))
            r = c.read_replies(6)
            K.check(K.parse(r[5]) == [N, N + 1, N + 1, N], "EXEC of SORT ... STORE: %r" % r[5])
            before = {d: (c.cmd("TYPE", d), c.cmd("LRANGE", d, 0, -1), c.cmd("PTTL", d))
                      for d in dests}
            by_w = sorted(elems, key=lambda e: (weight[e], e))
            K.check(before["dst"][1][0::2] == by_w, "dst holds the elements by weight")
            K.check(before["dst"][1][1::2] == [field[e].encode() for e in by_w],
                    "dst holds their h_*->f")
            K.check(before["ttl"][2] == -1, "STORE dropped the TTL: %r" % (before["ttl"],))
            K.check(before["gone"][0] == "none", "gone was deleted: %r" % (before["gone"],))
            K.check(before["m2"][1][-1] == b"tail", "m2 saw the RPUSH queued before it")
            digest = c.call("DEBUG", "DIGEST")
        dump = b"".join(open(p, "rb").read() for p in
                        sorted(glob.glob(srv.dir + "/*.aof")))
        K.check(b"RPUSH" in dump and b"{s}src" in dump, "the AOF holds the writes")
        K.check(b"w_*" not in dump and b"h_*" not in dump,
                "no SORT with patterns in the AOF (its effect is the destination's state)")
        A.kill9(srv)
        for how in ("kill -9", "SIGTERM"):
            A.restart(srv)
            with srv.conn() as c:
                for d in dests:
                    now = (c.cmd("TYPE", d), c.cmd("LRANGE", d, 0, -1), c.cmd("PTTL", d))
                    K.check(now == before[d], "after %s: %s is the same (%r vs %r)" %
                            (how, d, now[:1], before[d][:1]))
                K.check(c.call("DEBUG", "DIGEST") == digest, "after %s: same DEBUG DIGEST" % how)
            srv.stop()
            K.check(srv.exit_code == 0, "clean exit after %s (status %s)" % (how, srv.exit_code))
    finally:
        srv.cleanup()
    K.log("SORT ... STORE with BY/GET patterns over 4 shards: replies right, destinations "
          "identical after kill -9 and after SIGTERM")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's AOF files")
    seed, rng = K.rng_from_env()
    check_store_survives_restart(rng)


if __name__ == "__main__":
    K.run_main(main)
