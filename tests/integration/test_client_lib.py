#!/usr/bin/python3
"""redis-py (python3-redis) against kevy: string and key commands through the
library's own encoders/parsers, non-transactional pipelines, real expiry,
scan_iter over many keys spread over the shards (every key seen, set-wise),
and a connection pool shared by many threads.

Skips (77) when the redis module is not importable.
"""

import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

try:
    import redis
except ImportError:
    redis = None


def test_strings(r):
    K.check(r.ping() is True, "ping")
    K.check(r.echo("x y") == b"x y", "echo")
    K.check(r.set("s", "hello") is True, "set")
    K.check(r.get("s") == b"hello", "get")
    K.check(r.get("missing") is None, "get missing")
    K.check(r.set("s", "x", nx=True) is None, "set nx on existing")
    K.check(r.set("s2", "x", xx=True) is None, "set xx on missing")
    K.check(r.set("s", "world", get=True) == b"hello", "set get")
    K.check(r.setnx("s", "no") is False and r.setnx("s3", "yes") is True, "setnx")
    K.check(r.getset("s3", "new") == b"yes", "getset")
    K.check(r.getdel("s3") == b"new" and r.exists("s3") == 0, "getdel")
    K.check(r.append("s", "!!") == 7 and r.strlen("s") == 7, "append/strlen")
    K.check(r.getrange("s", 1, -2) == b"orld!", "getrange")
    K.check(r.setrange("s", 5, "??") == 7 and r.get("s") == b"world??", "setrange")
    K.check(r.setrange("pad", 3, "x") == 4 and r.get("pad") == b"\x00\x00\x00x", "setrange pad")
    K.check(r.incr("n") == 1 and r.incrby("n", 41) == 42 and r.decr("n") == 41
            and r.decrby("n", 40) == 1, "incr family")
    K.check(r.incrbyfloat("fl", 1.5) == 1.5 and r.incrbyfloat("fl", "0.1") == 1.6, "incrbyfloat")
    K.check(r.get("fl") == b"1.6", "incrbyfloat stored text %r" % r.get("fl"))
    try:
        r.incr("s")
        raise K.TestFailure("INCR on a non-integer did not raise")
    except redis.ResponseError as e:
        K.check("not an integer" in str(e), "INCR error text: %s" % e)
    mapping = {"m:%d" % i: "v%d" % i for i in range(50)}
    K.check(r.mset(mapping) is True, "mset")
    got = r.mget(list(mapping) + ["missing"])
    K.check(got == [v.encode() for v in mapping.values()] + [None], "mget across shards")
    K.check(r.msetnx({"m:1": "z", "fresh": "z"}) is False and r.exists("fresh") == 0, "msetnx atomic")
    K.check(r.msetnx({"fresh": "1", "fresh2": "2"}) is True, "msetnx")
    K.check(r.getex("m:2", ex=1000) == b"v2" and 990 <= r.ttl("m:2") <= 1000, "getex ex")
    K.check(r.getex("m:2", persist=True) == b"v2" and r.ttl("m:2") == -1, "getex persist")
    blob = bytes(range(256)) * 400
    K.check(r.set("blob", blob) and r.get("blob") == blob, "100 KiB binary value")


def test_keys(r):
    r.mset({"a": 1, "b": 2, "{t}c": 3, "{t}d": 4})
    K.check(r.exists("a", "b", "nokey", "a") == 3, "exists")
    K.check(r.type("a") == b"string" and r.type("nokey") == b"none", "type")
    K.check(r.delete("a", "nokey") == 1 and r.unlink("b") == 1, "del/unlink")
    K.check(r.touch("{t}c", "{t}d", "nokey") == 2, "touch")
    K.check(r.rename("{t}c", "renamed") is True and r.get("renamed") == b"3", "rename")
    K.check(r.renamenx("renamed", "{t}d") is False and r.renamenx("renamed", "r2") is True, "renamenx")
    try:
        r.rename("nokey", "x")
        raise K.TestFailure("RENAME of a missing key did not raise")
    except redis.ResponseError as e:
        K.check("no such key" in str(e), "rename error: %s" % e)
    K.check(set(r.keys("{t}*")) == {b"{t}d"}, "keys pattern: %r" % r.keys("{t}*"))
    n = r.dbsize()
    K.check(n == len(r.keys("*")), "dbsize %d vs keys" % n)
    K.check(r.randomkey() is not None, "randomkey on non-empty db")
    K.check(r.client_setname("libtest") and r.client_getname() in ("libtest", b"libtest"), "client name")
    K.check(r.config_get("timeout") == {"timeout": "0"} or
            r.config_get("timeout") == {b"timeout": b"0"}, "config get: %r" % r.config_get("timeout"))


def test_expiry(r):
    r.set("e1", "v", px=300)
    r.set("e2", "v", ex=100000)
    r.set("e3", "v")
    K.check(0 < r.pttl("e1") <= 300, "pttl e1: %r" % r.pttl("e1"))
    K.check(r.expire("e3", 1000) and 990 <= r.ttl("e3") <= 1000, "expire")
    K.check(r.expire("e3", 2000, gt=True) is True and r.expire("e3", 10, gt=True) is False, "expire gt")
    K.check(r.pexpire("e3", 5000, lt=True) is True, "pexpire lt")
    K.check(r.expire("nokey", 10) is False, "expire missing")
    t = int(time.time()) + 5000
    K.check(r.expireat("e2", t) is True and r.execute_command("EXPIRETIME", "e2") == t, "expireat/expiretime")
    K.check(r.persist("e2") is True and r.ttl("e2") == -1, "persist")
    r.psetex("e4", 250, "v")
    r.setex("e5", 100000, "v")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (r.exists("e1") or r.exists("e4")):
        time.sleep(0.05)
    K.check(r.get("e1") is None and r.get("e4") is None, "keys with 300/250 ms TTL still there after 5 s")
    K.check(r.ttl("e1") == -2 and r.exists("e5") == 1, "ttl of expired key")
    r.set("e6", "v", px=200)
    time.sleep(0.6)
    K.check(r.get("e6") is None, "px=200 key readable after 600 ms")
    K.check("e6" not in [k.decode() for k in r.keys("e*")], "expired key listed by KEYS")


def test_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(2000):
        p.set("pl:%d" % i, i)
        p.incr("plc")
        p.get("pl:%d" % i)
    res = p.execute()
    K.check(len(res) == 6000, "pipeline reply count %d" % len(res))
    for i in range(2000):
        K.check(res[3 * i] is True and res[3 * i + 1] == i + 1 and res[3 * i + 2] == str(i).encode(),
                "pipeline reply %d: %r" % (i, res[3 * i:3 * i + 3]))
    p = r.pipeline(transaction=False)
    p.set("pe", "x")
    p.incr("pe")
    p.get("pe")
    res = p.execute(raise_on_error=False)
    K.check(res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] == b"x",
            "pipeline with an error in the middle: %r" % res)


def test_scan_iter(r):
    n = 20000
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set("scan:%d" % i, "x")
        if i % 1000 == 999:
            p.execute()
    p.execute()
    want = {("scan:%d" % i).encode() for i in range(n)}
    seen = set()
    calls = 0
    for k in r.scan_iter(match="scan:*", count=250):
        seen.add(k)
        calls += 1
        K.check(calls <= 10 * n, "scan_iter does not end")
    K.check(seen == want, "scan_iter: %d distinct keys, want %d (missing e.g. %r)" % (
        len(seen), len(want), sorted(want - seen)[:3]))
    seen2 = set(r.scan_iter(match="scan:1*", count=1000))
    K.check(seen2 == {k for k in want if k.startswith(b"scan:1")}, "scan_iter match scan:1*")
    seen3 = set(r.scan_iter(count=10, _type="string"))
    K.check(want <= seen3, "scan_iter type=string missed keys")
    K.check(set(r.scan_iter(_type="list")) == set(), "scan_iter type=list found keys")


def test_pool(port):
    pool = redis.ConnectionPool(host="127.0.0.1", port=port, max_connections=64,
                                socket_timeout=30)
    nthreads, per = 48, 300
    errors = []
    barrier = threading.Barrier(nthreads, timeout=30)

    def worker(t):
        try:
            c = redis.Redis(connection_pool=pool)
            barrier.wait()
            for i in range(per):
                c.set("pool:%d:%d" % (t, i), i)
                c.incr("pool:total")
                if c.get("pool:%d:%d" % (t, i)) != str(i).encode():
                    errors.append("thread %d read back wrong value at %d" % (t, i))
                    return
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("thread %d: %r" % (t, e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    K.check(not any(th.is_alive() for th in threads), "pool workers still running after 120 s")
    K.check(not errors, "pool errors: %s" % errors[:5])
    r = redis.Redis(connection_pool=pool)
    K.check(int(r.get("pool:total")) == nthreads * per, "pool:total %r" % r.get("pool:total"))
    clients = r.client_list()
    K.check(len(clients) >= nthreads, "CLIENT LIST shows %d clients, want >= %d" % (len(clients), nthreads))
    pool.disconnect()


def main():
    if redis is None:
        K.skip("python3-redis is not installed (import redis failed)")
    K.require_kevy()
    K.log("redis-py", redis.__version__)
    with K.kevy("--threads", "4") as s:
        r = redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=30)
        for t in (test_strings, test_keys, test_expiry, test_pipeline, test_scan_iter):
            K.log("--", t.__name__)
            t(r)
        K.log("-- test_pool")
        test_pool(s.port)
        r.close()
        s.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
