#!/usr/bin/python3
"""DUMP and RESTORE against a real redis-server 7.0.15, both ways.

- Values of every type and encoding redis-server makes (embstr, int, raw,
  LZF-compressible and 1 MB random strings, binary data; quicklists small,
  of 10k elements and with 10 KB elements; intsets of each width, 10k
  hashtable sets, small string sets; listpack and 10k skiplist zsets with
  special scores; listpack and 10k hashtable hashes), DUMPed by redis-server,
  RESTORE into kevy with the same contents; kevy's DUMP of them RESTOREs
  into redis-server with the same contents; and kevy's DUMP is byte for byte
  redis-server's wherever Redis's bytes do not follow its hash table order
  (every encoding but hashtable sets and hashes).
- Replies and errors match redis-server's byte for byte: BUSYKEY, bad TTLs,
  bad checksum, version 11, a payload with a good checksum and bad data,
  IDLETIME/FREQ validation, syntax errors, DUMP of a missing key, a TTL in
  the past with and without REPLACE.
- Durability: RESTOREd keys (with relative TTLs and ABSTTL) are there with
  the same values and the same absolute deadlines after kill -9 and a
  restart under appendfsync always (the AOF logged the keydump with absolute
  deadlines), and kevy-check finds the AOF clean.

Skips (77) when redis-server or kevy-server is missing.
"""

import os
import random
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402


def crc64(data):
    """Redis's CRC-64/Jones, reflected; written here independently of kevy."""
    poly = int("{:064b}".format(0xad93d23594c935a9)[::-1], 2)
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def seal(body, version=10):
    p = body + struct.pack("<H", version)
    return p + struct.pack("<Q", crc64(p))


def populate(c, rng):
    """Every encoding redis-server 7.0 makes; returns {key: deterministic?}."""
    keys = {}

    def cmd(*a):
        r = c.cmd(*a)
        K.check(not isinstance(r, K.RespError), "%r: %r" % (a[:3], r))

    strings = {
        "s:embstr": b"hello", "s:int": b"12345", "s:neg": b"-2147483648",
        "s:bigint": b"9223372036854775807", "s:raw": b"x" * 30 + b"y" * 30,
        "s:lzf": b"abcdefghijklmnopqrstuvwxyz0123456789" * 30, "s:empty": b"",
        "s:binary": bytes(range(256)) * 8, "s:1mb": rng.randbytes(1 << 20),
        "s:1mb-text": (b"lorem ipsum dolor sit amet " * 40000)[:1 << 20],
    }
    for k, v in strings.items():
        cmd("SET", k, v)
        keys[k] = True
    cmd("RPUSH", "l:small", "a", "b", "1", "-5", "100000", "x" * 70, "99999999999")
    cmd("RPUSH", "l:10k", *["element-%d" % i for i in range(10000)])
    cmd("RPUSH", "l:bigel", "a", "z" * 10000, "b", rng.randbytes(20000), "c")
    cmd("RPUSH", "l:ints", *[str(v) for v in (0, 127, 128, -1, 4095, -4096, 32767, -32769,
                                              8388607, -8388609, 2147483647, -2147483649,
                                              9223372036854775807, -9223372036854775808)])
    for k in ("l:small", "l:10k", "l:bigel", "l:ints"):
        keys[k] = True
    cmd("SADD", "set:i16", "1", "2", "-300")
    cmd("SADD", "set:i32", "1", "70000")
    cmd("SADD", "set:i64", "1", "-9223372036854775808")
    cmd("SADD", "set:ht10k", *["member:%d" % i for i in range(10000)])
    cmd("SADD", "set:str", "a", "b", "c")
    cmd("SADD", "set:int10k", *[str(i * 7) for i in range(10000)])
    keys.update({"set:i16": True, "set:i32": True, "set:i64": True, "set:ht10k": False,
                 "set:str": False, "set:int10k": False})
    cmd("ZADD", "z:lp", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "-inf", "e", "1e20", "f",
        "0.1", "g", "4611686018427387904", "h")
    args = []
    for i in range(10000):
        args += [repr((i % 100) * 0.25 - 7), "m%d" % i]
    cmd("ZADD", "z:skip10k", *args)
    cmd("ZADD", "z:longmember", "1", "q" * 100)
    keys.update({"z:lp": True, "z:skip10k": True, "z:longmember": True})
    cmd("HSET", "h:lp", "f1", "v1", "f2", "123", "num", "-4000", "empty", "")
    args = []
    for i in range(10000):
        args += ["field:%d" % i, "value-%d-%s" % (i, "v" * (i % 50))]
    cmd("HSET", "h:ht10k", *args)
    cmd("HSET", "h:longval", "f", "w" * 100)
    keys.update({"h:lp": True, "h:ht10k": False, "h:longval": False})
    return keys


def content(c, key):
    """A key's value, in a form equal across servers and encodings."""
    t = c.cmd("TYPE", key)
    if t == b"string":
        return ("string", c.cmd("GET", key))
    if t == b"list":
        return ("list", c.cmd("LRANGE", key, 0, -1))
    if t == b"set":
        return ("set", sorted(c.cmd("SMEMBERS", key)))
    if t == b"zset":
        return ("zset", c.cmd("ZRANGE", key, 0, -1, "WITHSCORES"))
    if t == b"hash":
        flat = c.cmd("HGETALL", key)
        return ("hash", sorted(zip(flat[0::2], flat[1::2])))
    return (t, None)


def check_both_ways(r, k, rng):
    with r.conn(timeout=60) as cr, k.conn(timeout=60) as ck:
        keys = populate(cr, rng)
        for key, deterministic in keys.items():
            want = content(cr, key)
            payload = cr.cmd("DUMP", key)
            K.check(isinstance(payload, bytes), "redis DUMP %s" % key)
            K.check(ck.call("RESTORE", key, 0, payload) == b"+OK\r\n", "kevy RESTORE %s" % key)
            K.check(content(ck, key) == want, "kevy holds %s as redis-server does" % key)
            mine = ck.cmd("DUMP", key)
            K.check(isinstance(mine, bytes), "kevy DUMP %s" % key)
            if deterministic:
                K.check(mine == payload, "kevy's DUMP of %s is redis-server's, byte for byte "
                        "(%d vs %d bytes)" % (key, len(mine), len(payload)))
            back = key + ":back"
            K.check(cr.call("RESTORE", back, 0, mine) == b"+OK\r\n", "redis RESTORE kevy's %s" % key)
            K.check(content(cr, back) == want, "redis-server holds kevy's %s as the original" % key)
            K.check(cr.cmd("DUMP", back) == payload or not deterministic,
                    "redis-server's DUMP of kevy's %s is its own" % key)
        K.log("%d keys both ways, %d byte-identical" % (len(keys), sum(keys.values())))


def check_replies(r, k):
    """Replies and errors, kevy against redis-server."""
    with r.conn() as cr, k.conn() as ck:
        for c in (cr, ck):
            c.cmd("FLUSHALL")
            c.cmd("SET", "foo", "bar")
            c.cmd("SET", "{foo}other", "x")
        good = cr.cmd("DUMP", "foo")
        bad_crc = good[:-1] + bytes([good[-1] ^ 1])
        v11 = seal(good[:-10], 11)
        garbage = seal(b"\x00\xc4ab")
        # Redis reads a value on into the footer's bytes (its reader is not
        # bounded by the footer): it accepts this 5-byte string made of "ab"
        # and 3 footer bytes.  kevy refuses a value that overlaps the footer.
        into_footer = seal(b"\x00\x05ab")
        K.check(ck.call("RESTORE", "new", 0, into_footer) == b"-ERR Bad data format\r\n",
                "kevy refuses a value that runs into the footer")
        big_list = seal(b"\x12\x01\x02\x07\x07\x00\x00\x00\x01\x00\x01\xff")
        module = seal(b"\x07\x01a")
        calls = [
            ("DUMP", "nosuchkey"), ("DUMP", "foo"),
            ("RESTORE", "foo", 0, good), ("RESTORE", "new", -1, good),
            ("RESTORE", "new", "abc", good), ("RESTORE", "new", 0, bad_crc),
            ("RESTORE", "new", 0, v11), ("RESTORE", "new", 0, garbage),
            ("RESTORE", "new", 0, module), ("RESTORE", "new", 0, b"short"),
            ("RESTORE", "new", 0, good, "IDLETIME", -1), ("RESTORE", "new", 0, good, "FREQ", 256),
            ("RESTORE", "new", 0, good, "FREQ", "x"), ("RESTORE", "new", 0, good, "IDLETIME", 5, "FREQ", 5),
            ("RESTORE", "new", 0, good, "FREQ", 5, "IDLETIME", 5), ("RESTORE", "new", 0, good, "BOGUS"),
            ("RESTORE", "new", 0, good, "IDLETIME"), ("RESTORE", "new", 0, good, "FREQ", 5),
            ("EXISTS", "new"), ("DEL", "new"),
            ("RESTORE", "new", 0, good, "IDLETIME", 1000), ("GET", "new"),
            ("RESTORE", "new", 0, good, "REPLACE", "ABSTTL"), ("PTTL", "new"),
            ("RESTORE", "foo", 1, good, "REPLACE", "ABSTTL"), ("EXISTS", "foo"),
            ("RESTORE", "foo", 1, good, "ABSTTL"), ("EXISTS", "foo"),
            ("RESTORE", "foo", 0, good, "replace", "absttl"), ("GET", "foo"),
            ("RESTORE", "{foo}other", 0, good, "REPLACE"), ("GET", "{foo}other"),
            ("RESTORE",), ("DUMP", "a", "b"),
        ]
        for call in calls:
            a, b = cr.call(*call), ck.call(*call)
            K.check(a == b, "%r: redis-server %r, kevy %r" % (call[:2] + call[3:], a[:120], b[:120]))
        # A relative TTL becomes a deadline from now.
        for c in (cr, ck):
            K.check(c.call("RESTORE", "ttl", 100000, good) == b"+OK\r\n", "RESTORE with ttl")
            pttl = c.cmd("PTTL", "ttl")
            K.check(95000 < pttl <= 100000, "PTTL after RESTORE 100000: %r" % pttl)
        # The sizes of a payload the servers validate alike: every prefix of a
        # list payload, resealed, is refused by both.
        c_list = cr.cmd("RPUSH", "lst", "a", "bb", "123")
        K.check(c_list == 3, "RPUSH")
        lp = cr.cmd("DUMP", "lst")
        for cut in range(len(lp) - 10):
            p = seal(lp[:cut])
            a, b = cr.call("RESTORE", "cut", 0, p), ck.call("RESTORE", "cut", 0, p)
            K.check(a == b == b"-ERR Bad data format\r\n", "prefix %d: %r / %r" % (cut, a, b))
        K.log("%d calls answered as redis-server answers them" % len(calls))


def check_durable(rng):
    srv = K.kevy("--threads", "2", "--appendfsync", "always").start()
    try:
        with srv.conn() as c:
            c.cmd("RPUSH", "src:l", *["e%d" % i for i in range(3000)])
            c.cmd("HSET", "src:h", *sum([["f%d" % i, "v%d" % i] for i in range(1000)], []))
            c.cmd("SET", "src:s", rng.randbytes(100000))
            c.cmd("ZADD", "src:z", "1.5", "a", "inf", "b")
            c.cmd("SADD", "src:set", "1", "2", "3")
            payloads = {k: c.cmd("DUMP", k) for k in ("src:l", "src:h", "src:s", "src:z", "src:set")}
            now_ms = int(time.time() * 1000)
            for i, (k, p) in enumerate(payloads.items()):
                dst = k.replace("src", "dst")
                ttl = [0, 600000, 0, now_ms + 900000, 123456][i]
                extra = ["ABSTTL"] if i == 3 else []
                K.check(c.call("RESTORE", dst, ttl, p, *extra) == b"+OK\r\n", "RESTORE %s" % dst)
            K.check(c.call("RESTORE", "dst:s", 0, payloads["src:l"], "REPLACE") == b"+OK\r\n",
                    "RESTORE REPLACE over a string")
            K.check(c.call("RESTORE", "gone", 1, payloads["src:s"], "ABSTTL") == b"+OK\r\n",
                    "RESTORE in the past")
            before = {k: (content(c, k), c.cmd("PEXPIRETIME", k))
                      for k in ("dst:l", "dst:h", "dst:s", "dst:z", "dst:set", "gone")}
            digest = c.call("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            after = {k: (content(c, k), c.cmd("PEXPIRETIME", k)) for k in before}
            for k in before:
                K.check(after[k] == before[k], "%s after kill -9: %r / %r" % (
                    k, str(after[k])[:80], str(before[k])[:80]))
            K.check(c.call("DEBUG", "DIGEST") == digest, "same dataset after kill -9")
        srv.check_clean_exit()
        check = os.path.join(os.path.dirname(K.kevy_binary()), "kevy-check")
        if os.path.exists(check):
            res = subprocess.run([check, srv.dir], capture_output=True, timeout=120)
            K.check(res.returncode == 0, "kevy-check on the AOF: %r" % res.stdout[-400:])
        K.log("RESTOREd keys and deadlines survive kill -9")
    finally:
        srv.cleanup()


def main():
    K.require_kevy()
    K.require_redis()
    if K.target() == "redis":
        K.skip("compares kevy with redis-server")
    seed, rng = K.rng_from_env()
    r = K.redis().start()
    k = K.kevy("--threads", "2").start()
    try:
        check_both_ways(r, k, rng)
        check_replies(r, k)
        k.check_clean_exit()
    finally:
        r.cleanup()
        k.cleanup()
    check_durable(rng)


if __name__ == "__main__":
    K.run_main(main)
