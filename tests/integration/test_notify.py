#!/usr/bin/python3
"""Keyspace notifications: the event streams of kevy and redis-server 7.0.

A script of writes over every type (strings, lists, sets, hashes, sorted
sets, SORT STORE, RESTORE, COPY, MOVE, RENAME, expiry, blocked pops, MULTI,
several databases, reads of missing keys) runs on one connection with
notify-keyspace-events KEAnm;
subscribers PSUBSCRIBE __key*__:* (and one SUBSCRIBEs a keyevent channel).
The script ends with a PUBLISH on a marker channel; each subscriber reads
until the marker.  Against a 3-shard kevy the subscribers sit on every
shard (CLIENT INFO's shard=), and each must see exactly the stream
redis-server sends its subscriber: the same events, in the same order, with
the marker last (an event is delivered before the write's reply leaves, so
nothing the client does after it can overtake it).

Exit 0 pass, 1 fail, 77 skip (no redis-server).
"""

import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

MARKER = "notify-test-end"

SCRIPT = [
    "SET s1 v", "SET s1 v2", "SETNX s1 x", "SET s2 v EX 100", "SET s2 w KEEPTTL",
    "SET s2 w NX", "SET s9 w XX GET", "SETEX s5 100 v", "PSETEX s6 100000 v",
    "SETRANGE s3 2 ab", "SETRANGE s3 0 ''", "APPEND s3 cd", "APPEND s4 x", "APPEND s4 ''",
    "INCR n", "INCRBY n 5", "DECR n", "DECRBY n 2", "INCRBYFLOAT f 1.5", "INCR s1",
    "GETSET s1 z", "GETDEL s4", "GETDEL s4", "GETEX s2 PERSIST", "GETEX s2 EX 50",
    "GETEX s2 PXAT 1", "MSET m1 a m2 b", "MSETNX m1 x m3 c", "MSETNX m3 c m4 d",
    "EXPIRE s1 100", "EXPIRE s1 100 NX", "PERSIST s1", "PERSIST s1", "PEXPIRE s3 -1",
    "EXPIREAT s5 1", "RENAME s1 r1", "RENAMENX r1 m2", "RENAME r1 r1", "RENAME m4 m3",
    "DEL r1 m1 nokey", "UNLINK m2",
    "LPUSH l a b c", "RPUSH l d", "LPUSHX nol a", "RPUSHX l e", "LINSERT l BEFORE a x",
    "LINSERT l BEFORE zz x", "LSET l 0 y", "LREM l 1 y", "LREM l 1 nothere", "LTRIM l 0 2",
    "LPOP l", "RPOP l 5", "LPOP l", "RPUSH l2 a b c", "LMOVE l2 l3 LEFT RIGHT",
    "RPOPLPUSH l2 l3", "LMOVE l2 l3 RIGHT LEFT", "LMOVE l3 l3 LEFT RIGHT",
    "LMPOP 2 nol l3 LEFT COUNT 5", "RPUSH l4 a", "LTRIM l4 5 10",
    "SADD st a b c", "SADD st a", "SREM st a", "SREM st nope", "SMOVE st st2 b",
    "SMOVE st st2 nope", "SPOP st", "SADD st3 x y", "SPOP st3 5", "SADD st3 x y",
    "SINTERSTORE dst st2 st3", "SUNIONSTORE dst st2 st3", "SDIFFSTORE dst st2 st2",
    "SDIFFSTORE dst st2 st2",
    "HSET h f 1 g 2", "HMSET h f 1", "HSETNX h f 3", "HSETNX h z 3", "HINCRBY h f 2",
    "HINCRBYFLOAT h g 0.5", "HDEL h nope", "HDEL h f g z",
    "ZADD z 1 a 2 b 3 c", "ZADD z 1 a", "ZADD z CH 5 a", "ZINCRBY z 1 a", "ZADD z INCR 1 b",
    "ZADD z XX 1 nope", "ZREM z nope", "ZREM z c", "ZREMRANGEBYSCORE z 100 200",
    "ZREMRANGEBYSCORE z 0 3", "ZADD z 5 e 6 f 7 g", "ZREMRANGEBYRANK z 0 0",
    "ZADD zl 0 a 0 b 0 c", "ZREMRANGEBYLEX zl [a [b", "ZREMRANGEBYLEX zl - +",
    "ZADD z2 1 a 2 b", "ZPOPMIN z2", "ZPOPMAX z2", "ZPOPMAX z2", "ZADD z3 1 a",
    "ZUNIONSTORE zd 1 z3", "ZINTERSTORE zd 2 z3 nokey", "ZDIFFSTORE zd 1 z3",
    "ZINTERSTORE zd 2 z3 nokey",
    "RPUSH sl 3 1 2", "SORT sl STORE sorted", "SORT nokey STORE sorted",
    "SORT nokey STORE sorted",
    "@DUMP sl", "@RESTORE rk 0", "@RESTORE rk 0 REPLACE", "@RESTORE rk 1 ABSTTL REPLACE",
    "COPY sl sl2", "COPY sl sl2", "COPY sl sl2 REPLACE", "COPY sl sl3 DB 4",
    "SELECT 3", "SET d3 v", "LPUSH d3l a", "MOVE d3 5", "MOVE d3l 5", "SELECT 5", "DEL d3",
    "SWAPDB 3 5", "SELECT 3", "DEL d3l", "SELECT 0",
    "SET ex1 v PX 1", "!sleep", "GET ex1", "SELECT 2", "SET ex2 v PX 1", "!sleep",
    "EXISTS ex2", "SELECT 0", "SET ex3 v PX 1", "!sleep", "!sleep", "!sleep", "!sleep",
    "MULTI", "SET t1 a", "LPUSH t2 b", "SADD t3 c", "DEL t1", "EXEC",
    "!blpop", "LPUSH bl x y", "!blpop-done",
    "FLUSHDB", "SET after-flush 1",
    # Read lookups of missing keys: "keymiss" (class m), not OBJECT's.
    "GET nokey", "EXISTS nokey", "TYPE nokey", "TTL nokey", "OBJECT ENCODING nokey",
    "HGET nokey f", "LRANGE nokey 0 -1", "SMEMBERS nokey", "ZSCORE nokey m",
    "XRANGE nokey - +", "PFCOUNT nokey", "GETBIT nokey 1", "DUMP nokey", "STRLEN nokey",
    "SADD sorted 1 2", "SORT sorted BY w_* GET g_*", "COPY nokey cp", "GETDEL nokey",
    "RENAME nokey x", "INCR nokey-incr", "SINTERSTORE sd sorted nokey",
    "SUNIONSTORE sd nokey", "ZUNIONSTORE zd2 2 sorted nokey", "BITOP OR bd nokey",
    "PFMERGE hd nokey", "GEOSEARCHSTORE gd nokey FROMLONLAT 0 0 BYRADIUS 1 km",
    "ZRANGESTORE zd3 nokey 0 -1", "SORT nokey STORE sd2", "LMOVE nokey l9 LEFT LEFT",
] + ["SET many:%d %d" % (i, i) for i in range(120)] + ["DEL " + " ".join(
    "many:%d" % i for i in range(0, 120, 3))]


def split(cmd):
    return [a if a != "''" else "" for a in cmd.split(" ")]


def run_script(port):
    """Runs SCRIPT on one connection; returns nothing (the streams are what
    is compared).  '@' commands use the DUMP payload taken by '@DUMP'."""
    payload = None
    with K.RawConn(port) as c, K.RawConn(port) as blocker:
        for cmd in SCRIPT:
            if cmd == "!sleep":
                time.sleep(0.05)
                continue
            if cmd == "!blpop":
                blocker.send(K.encode("BLPOP", "bl", "5"))
                for _ in range(100):   # until the server has it blocked
                    if b"blocked_clients:1" in c.call("INFO", "clients"):
                        break
                    time.sleep(0.01)
                continue
            if cmd == "!blpop-done":
                K.check(blocker.read_reply() == b"*2\r\n$2\r\nbl\r\n$1\r\ny\r\n",
                        "BLPOP is served by the LPUSH")
                continue
            if cmd.startswith("@DUMP"):
                r = c.call(*split(cmd[1:]))
                K.check(r.startswith(b"$"), "DUMP replies a payload: %r" % r)
                payload = K.parse(r)
                continue
            if cmd.startswith("@RESTORE"):
                args = split(cmd[1:])
                if "ABSTTL" in args:
                    args[2] = str(int(time.time() * 1000) + 100000)
                r = c.call(*(args[:3] + [payload] + args[3:]))
                continue
            c.call(*split(cmd))
        c.call("PUBLISH", MARKER, "end")


def subscribe(conn):
    conn.send(K.encode("PSUBSCRIBE", "__key*__:*"))
    K.check(K.parse(conn.read_reply())[0] == b"psubscribe", "PSUBSCRIBE replies")
    conn.send(K.encode("SUBSCRIBE", MARKER, "__keyevent@0__:set"))
    conn.read_replies(2)


def read_stream(conn):
    """Messages until the marker, as (kind, channel, message) tuples (the
    keyevent@0 set channel counted apart: it is a plain SUBSCRIBE)."""
    out = []
    for _ in range(20000):
        m = K.parse(conn.read_reply(timeout=10))
        if m[0] == b"message" and m[1] == MARKER.encode():
            return out
        out.append(tuple(m[:1] + m[-2:]))
    K.fail("no marker after 20000 messages")


def streams(srv, nsubs, want_shards):
    """Subscribers spread over the shards, the script, their streams."""
    subs, shards = [], set()
    for _ in range(40):
        if len(subs) >= nsubs and len(shards) >= want_shards:
            break
        c = K.RawConn(srv.port)
        info = c.call("CLIENT", "INFO")
        shard = [f for f in info.split() if f.startswith(b"shard=")]
        shards.add(shard[0] if shard else b"-")
        subs.append(c)
    K.check(len(shards) >= want_shards,
            "subscribers on %d shard(s), wanted %d" % (len(shards), want_shards))
    with K.RawConn(srv.port) as c:
        K.check(c.call("CONFIG", "SET", "notify-keyspace-events", "KEAnm") == b"+OK\r\n",
                "CONFIG SET notify-keyspace-events")
        K.check(c.call("CONFIG", "GET", "notify-keyspace-events") ==
                b"*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\nAKEm\r\n",
                "CONFIG GET prints the classes as Redis does")
    for s in subs:
        subscribe(s)
    run_script(srv.port)
    got = [read_stream(s) for s in subs]
    for s in subs:
        s.close()
    return got, len(shards)


def check_streams():
    redis_srv = K.Server("redis").start()
    try:
        want, _ = streams(redis_srv, 1, 1)
    finally:
        redis_srv.stop()
    want = want[0]
    K.check(len(want) > 400, "redis sends the script's events (%d)" % len(want))
    kevy_srv = K.Server("kevy", args=["--threads", "3"]).start()
    try:
        got, nshards = streams(kevy_srv, 6, 3)
    finally:
        kevy_srv.stop()
    for i, g in enumerate(got):
        for j, (w, x) in enumerate(zip(want, g)):
            K.check(w == x, "subscriber %d message %d:\n redis %r\n kevy  %r\n"
                    "redis around: %r\nkevy around:  %r" % (i, j, w, x, want[max(0, j - 4):j + 4],
                                                           g[max(0, j - 4):j + 4]))
        K.check(len(g) == len(want), "subscriber %d: %d messages, redis %d"
                % (i, len(g), len(want)))
    K.check(kevy_srv.exit_code == 0, "kevy exits cleanly (status %s)" % kevy_srv.exit_code)
    K.log("notify: %d subscribers on %d shards each got redis's %d messages"
          % (len(got), nshards, len(want)))


def check_disabled():
    """With notifications off (the default) nothing is published."""
    srv = K.Server("kevy", args=["--threads", "2"]).start()
    try:
        with srv.conn() as sub, srv.conn() as c:
            subscribe(sub)
            c.call("SET", "k", "v")
            c.call("LPUSH", "l", "a")
            c.call("PUBLISH", MARKER, "end")
            K.check(read_stream(sub) == [], "no events while notify-keyspace-events is empty")
    finally:
        srv.stop()


def main():
    K.require_kevy()
    K.require_redis()
    check_disabled()
    check_streams()


if __name__ == "__main__":
    K.run_main(main)
