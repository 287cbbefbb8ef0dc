#!/usr/bin/python3
"""redis-py (Debian's python3-redis) against kevy: the data types,
transactions, pub/sub and blocking pops through a real client library.

kevy runs with --threads 3, so keys, subscribers and waiters spread over
shards.  Every wait is bounded.
"""

import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

try:
    import redis
except ImportError:
    K.skip("python3-redis is not installed")


def check_types(r):
    r.hset("u:1", mapping={"name": "ada", "visits": "1"})
    K.check(r.hincrby("u:1", "visits", 2) == 3, "HINCRBY")
    K.check(r.hgetall("u:1") == {b"name": b"ada", b"visits": b"3"}, "HGETALL")
    r.rpush("q", *range(10))
    K.check(r.lrange("q", 0, 2) == [b"0", b"1", b"2"], "LRANGE")
    K.check(r.lmove("q", "q2", "LEFT", "RIGHT") == b"0", "LMOVE across keys")
    r.sadd("s:a", "x", "y", "z")
    r.sadd("s:b", "y", "z", "w")
    K.check(r.sinter("s:a", "s:b") == {b"y", b"z"}, "SINTER across shards")
    K.check(r.sunionstore("s:u", "s:a", "s:b") == 4, "SUNIONSTORE")
    r.zadd("board", {"a": 3, "b": 1.5, "c": 10})
    K.check(r.zrange("board", 0, -1, withscores=True) ==
            [(b"b", 1.5), (b"a", 3.0), (b"c", 10.0)], "ZRANGE WITHSCORES")
    K.check(r.zincrby("board", 0.25, "b") == 1.75, "ZINCRBY")
    K.check(r.type("board") == b"zset" and r.type("q") == b"list", "TYPE")
    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.hset("ph:%d" % (i % 7), "f%d" % i, i)
            p.zadd("pz", {"m%d" % i: i})
        p.execute()
    K.check(r.zcard("pz") == 500, "pipelined ZADD")
    K.check(sum(r.hlen("ph:%d" % i) for i in range(7)) == 500, "pipelined HSET")


def check_transactions(r):
    with r.pipeline(transaction=True) as p:
        p.set("t:a", 1).incr("t:b").sadd("t:s", "m").lpush("t:l", "x")
        K.check(p.execute() == [True, 1, 1, 1], "MULTI/EXEC through redis-py")
    # Optimistic locking with WATCH, concurrent writers.
    r.set("t:counter", 0)
    errors = []

    def worker():
        c = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
        for _ in range(60):
            with c.pipeline() as p:
                for _attempt in range(200):
                    try:
                        p.watch("t:counter")
                        v = int(p.get("t:counter"))
                        p.multi()
                        p.set("t:counter", v + 1)
                        p.execute()
                        break
                    except redis.WatchError:
                        continue
                else:
                    errors.append("too many WATCH retries")
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    K.check(not errors, "WATCH retries: %s" % errors[:1])
    K.check(int(r.get("t:counter")) == 240, "every optimistic increment applied once")


def check_pubsub(r):
    subs = []
    for _ in range(4):
        p = r.pubsub()
        p.subscribe("news")
        p.psubscribe("n*")
        K.check(p.get_message(timeout=5)["type"] == "subscribe", "subscribe confirmed")
        K.check(p.get_message(timeout=5)["type"] == "psubscribe", "psubscribe confirmed")
        subs.append(p)
    K.check(r.publish("news", "hello") == 8, "PUBLISH counts every receiver on every shard")
    for p in subs:
        got = [p.get_message(timeout=5) for _ in range(2)]
        kinds = sorted(m["type"] for m in got if m)
        K.check(kinds == ["message", "pmessage"], "both deliveries: %r" % kinds)
        K.check(all(m["data"] == b"hello" for m in got), "payload")
        p.close()


def check_blocking(r):
    port = r.connection_pool.connection_kwargs["port"]
    result = {}

    def waiter():
        c = redis.Redis(port=port)
        result["v"] = c.blpop(["b:none", "b:list"], timeout=10)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    r.rpush("b:list", "item")
    t.join(15)
    K.check(result.get("v") == (b"b:list", b"item"), "BLPOP woken by RPUSH: %r" % result)
    t0 = time.monotonic()
    K.check(r.blpop(["b:empty"], timeout=1) is None, "BLPOP timeout gives None")
    K.check(0.9 <= time.monotonic() - t0 < 5, "BLPOP waited about its timeout")
    r.zadd("b:z", {"low": 1, "high": 9})
    K.check(r.bzpopmax("b:z", timeout=1) == (b"b:z", b"high", 9.0), "BZPOPMAX")


def main():
    K.require_kevy()
    srv = K.kevy("--threads", "3").start()
    try:
        r = redis.Redis(port=srv.port, socket_timeout=30)
        check_types(r)
        check_transactions(r)
        check_pubsub(r)
        check_blocking(r)
        r.close()
        srv.check_clean_exit()
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
