#!/usr/bin/python3
"""Shard channels (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS /
SHARDNUMSUB) and PUBSUB as a container, compared with redis-server.

Shard channels are a namespace of their own: SPUBLISH reaches SSUBSCRIBE
subscribers only ("smessage"), PUBLISH never reaches them; SSUBSCRIBE's
counts are of shard channels only; a RESP2 client subscribed to a shard
channel is in subscriber mode.  Several subscribers on connections the
kernel spreads over kevy's shards, a publisher inside MULTI, the PUBSUB
subcommands (with their arity and help texts), CLIENT LIST's ssub= and
INFO's pubsubshard_channels: every reply byte for byte as redis-server's.

Environment: KEVY_SERVER (set by CTest).
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402


def field(text, name):
    for part in text.replace("\r\n", " ").replace("\n", " ").split(" "):
        if part.startswith(name + "="):
            return part
        if part.startswith(name + ":"):
            return part
    return None


def calln(c, n, *args):
    """Send one command and read its n replies (a (un)subscribe to n
    channels answers n times)."""
    c.send(K.encode(*args))
    return c.read_replies(n, timeout=10)


def run(port):
    out = []
    subs = [K.RawConn(port) for _ in range(6)]
    pub = K.RawConn(port)
    try:
        # Half subscribe to shard channels, half to plain channels.
        for i, c in enumerate(subs):
            if i % 2 == 0:
                out.append(calln(c, 3, "SSUBSCRIBE", "news", "sport", "news"))
            else:
                out.append(c.call("SUBSCRIBE", "news"))
        out.append(pub.call("SPUBLISH", "news", "s1"))
        out.append(pub.call("PUBLISH", "news", "p1"))
        out.append(pub.call("SPUBLISH", "nobody", "x"))
        for c in subs:
            out.append(c.read_replies(1, timeout=10)[0])
        # Listed in no particular order (Redis: its hash table's).
        out.append(sorted(K.parse(pub.call("PUBSUB", "SHARDCHANNELS"))))
        out.append(sorted(K.parse(pub.call("PUBSUB", "SHARDCHANNELS", "n*"))))
        out.append(sorted(K.parse(pub.call("PUBSUB", "CHANNELS"))))
        out.append(pub.call("PUBSUB", "SHARDNUMSUB", "news", "sport", "none"))
        out.append(pub.call("PUBSUB", "NUMSUB", "news", "sport"))
        out.append(pub.call("PUBSUB", "NUMPAT"))
        info = K.parse(pub.call("INFO", "stats")).decode()
        out.append(field(info, "pubsubshard_channels"))
        out.append(field(info, "pubsub_channels"))
        # Subscriber mode (RESP2).
        out.append(subs[0].call("GET", "k"))
        out.append(subs[0].call("PING"))
        # A publisher in MULTI.
        out.append(pub.call("MULTI"))
        out.append(pub.call("SPUBLISH", "sport", "m1"))
        out.append(pub.call("EXEC"))
        for c in subs[0::2]:
            out.append(c.read_replies(1, timeout=10)[0])
        # SPUBLISH from a script reaches every shard subscriber (the count
        # it returns covers the shards the script holds: docs/scripting.md).
        r = pub.call("EVAL", "return redis.call('spublish', 'sport', 'lua')", "0")
        out.append(r[:1])
        for c in subs[0::2]:
            out.append(c.read_replies(1, timeout=10)[0])
        # CLIENT LIST of a shard subscriber.
        me = K.RawConn(port)
        out.append(calln(me, 2, "SSUBSCRIBE", "a", "b"))
        out.append(me.call("SUBSCRIBE", "c"))
        line = K.parse(pub.call("CLIENT", "LIST")).decode()
        out.append(sorted(field(ln, "ssub") + " " + field(ln, "sub")
                          for ln in line.splitlines() if ln))
        # SUNSUBSCRIBE: named, all, then none left.
        out.append(calln(me, 2, "SUNSUBSCRIBE", "a", "zz"))
        out.append(me.call("SUNSUBSCRIBE"))
        out.append(me.call("UNSUBSCRIBE"))
        me.send(K.encode("SUNSUBSCRIBE"))
        out.append(me.read_replies(1, timeout=10)[0])
        out.append(me.call("GET", "k"))
        me.close()
        # PUBSUB as a container.
        for a in (["PUBSUB", "HELP"], ["PUBSUB", "nosuch"], ["PUBSUB", "NUMPAT", "x"],
                  ["PUBSUB", "HELP", "x"], ["PUBSUB", "CHANNELS", "a", "b"],
                  ["PUBSUB", "SHARDCHANNELS", "a", "b"], ["PUBSUB"], ["SPUBLISH", "x"],
                  ["SSUBSCRIBE"], ["COMMAND", "GETKEYS", "SPUBLISH", "ch", "msg"],
                  ["COMMAND", "GETKEYSANDFLAGS", "SSUBSCRIBE", "a", "b"],
                  ["COMMAND", "GETKEYS", "SUNSUBSCRIBE"],
                  ["COMMAND", "INFO", "pubsub|channels", "pubsub|shardnumsub", "pubsub|help",
                   "sunsubscribe"]):
            out.append(pub.call(*a))
        names = K.parse(pub.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "pubsub*"))
        out.append(sorted(names))
    finally:
        for c in subs:
            c.close()
        pub.close()
    return out


def main():
    K.require_redis()
    K.require_kevy()
    redis_srv = K.redis().start()
    kevy_srv = K.kevy("--threads", "2").start()
    try:
        want = run(redis_srv.port)
        got = run(kevy_srv.port)
    finally:
        redis_srv.stop()
    K.check(len(want) == len(got), "as many replies: %d vs %d" % (len(want), len(got)))
    for i, (w, g) in enumerate(zip(want, got)):
        K.check(w == g, "reply %d:\n redis %r\n kevy  %r" % (i, w, g))
    kevy_srv.check_clean_exit()
    K.log("shard channels: %d replies identical to redis-server's" % len(want))


if __name__ == "__main__":
    K.run_main(main)
