#!/usr/bin/python3
"""Pub/sub: Redis's replies, delivery across shards, limits and cleanup.

1. Differential: one connection walks SUBSCRIBE/PSUBSCRIBE/UNSUBSCRIBE/
   PUNSUBSCRIBE/PING/GET (subscriber mode) and PUBLISH/PUBSUB errors against
   redis-server and kevy; replies compared byte for byte.
2. Across shards (--threads 4): 12 subscriber connections (spread over the
   shards by the kernel) each SUBSCRIBE to a channel and PSUBSCRIBE a pattern
   that matches it; 3 publishers PUBLISH 200 numbered messages each.  Every
   PUBLISH must count 24 receivers, and every subscriber must get every
   message twice (message + pmessage), each publisher's in publish order.
3. PUBSUB CHANNELS/NUMSUB/NUMPAT aggregate over all shards.
4. A subscriber that never reads is disconnected by the pubsub output-buffer
   limit; the server and the other subscribers carry on.
5. Closed subscribers disappear from PUBSUB NUMSUB.
"""

import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

SEQ = [
    "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUBSCRIBE c1 c2 c1", "PING", "PING x", "GET k",
    "SET k v", "MULTI", "PSUBSCRIBE p* c?", "UNSUBSCRIBE c1", "PUNSUBSCRIBE p*",
    "PUNSUBSCRIBE c?", "UNSUBSCRIBE c2", "UNSUBSCRIBE", "PING",
    "PUBLISH", "PUBLISH a", "SUBSCRIBE", "PSUBSCRIBE", "PUBSUB", "PUBSUB FOO",
    "PUBSUB CHANNELS a b", "PUBSUB NUMPAT x", "PUBSUB NUMSUB", "PUBSUB NUMPAT",
    "PUBSUB CHANNELS", "PUBSUB HELP", "PUBLISH nobody hello",
]


def _multi_reply(c, cmd):
    """Subscribe-type commands answer once per argument."""
    parts = cmd.split(" ")
    name = parts[0].upper()
    if name in ("SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE") and len(parts) > 2:
        c.send(K.encode(*parts))
        return b"".join(c.read_replies(len(parts) - 1))
    return c.call(*parts)


def run_seq(port):
    with K.RawConn(port) as c:
        return [_multi_reply(c, cmd) for cmd in SEQ]


def check_differential():
    K.compare_with_redis(run_seq, SEQ)


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def check_cross_shard(srv):
    nsub, npub, nmsg = 12, 3, 200
    subs = []
    for i in range(nsub):
        c = K.RawConn(srv.port, timeout=30)
        c.send(K.encode("SUBSCRIBE", "news") + K.encode("PSUBSCRIBE", "ne*"))
        r = c.read_replies(2)
        K.check(r[1] == b"*3\r\n$10\r\npsubscribe\r\n$3\r\nne*\r\n:2\r\n", "psubscribe reply %r" % r[1])
        subs.append(c)
    with srv.conn() as c:
        numsub = K.parse(c.call("PUBSUB", "NUMSUB", "news", "other"))
        K.check(numsub == [b"news", nsub, b"other", 0], "NUMSUB over all shards: %r" % numsub)
        # Unique patterns, as Redis counts them: every subscriber has "ne*".
        K.check(K.parse(c.call("PUBSUB", "NUMPAT")) == 1, "NUMPAT counts one pattern once")
        chans = K.parse(c.call("PUBSUB", "CHANNELS", "n*"))
        K.check(chans == [b"news"], "CHANNELS over all shards: %r" % (chans,))
    # Three unique patterns, one of them on two connections (Redis's own
    # pubsub unit checks the same).
    extra = [K.RawConn(srv.port, timeout=30) for _ in range(2)]
    extra[0].send(K.encode("PSUBSCRIBE", "foo*", "bar*"))
    extra[1].send(K.encode("PSUBSCRIBE", "foo*", "baz*"))
    for e in extra:
        e.read_replies(2)
    with srv.conn() as c:
        n = K.parse(c.call("PUBSUB", "NUMPAT"))
        K.check(n == 4, "NUMPAT over ne*, foo*, bar*, baz*: %r" % n)
    for e in extra:
        e.close()

    errors = []

    def publisher(p):
        try:
            with K.RawConn(srv.port, timeout=30) as c:
                for i in range(nmsg):
                    r = c.call("PUBLISH", "news", "p%d:%d" % (p, i))
                    if r != b":%d\r\n" % (2 * nsub):
                        errors.append("PUBLISH counted %r, want %d" % (r, 2 * nsub))
                        return
        except Exception as e:
            errors.append("publisher %d: %r" % (p, e))

    pubs = [threading.Thread(target=publisher, args=(p,)) for p in range(npub)]
    for t in pubs:
        t.start()
    for t in pubs:
        t.join(60)
    K.check(not errors, "publishers: %s" % errors[:3])
    for j, c in enumerate(subs):
        msgs = c.read_replies(2 * npub * nmsg, timeout=30)
        seen = {p: [] for p in range(npub)}
        for m in msgs:
            v = K.parse(m)
            if v[0] == b"message":
                K.check(v[1] == b"news", "message channel")
                payload = v[2]
            else:
                K.check(v[0] == b"pmessage" and v[1] == b"ne*" and v[2] == b"news", "pmessage %r" % v)
                payload = v[3]
                continue
            p, i = payload.decode()[1:].split(":")
            seen[int(p)].append(int(i))
        for p in range(npub):
            K.check(seen[p] == list(range(nmsg)),
                    "subscriber %d got publisher %d's messages in order" % (j, p))
        c.close()
    K.log("cross-shard: %d subscribers x %d messages, counts and order OK" % (nsub, npub * nmsg))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with srv.conn() as c:
            if K.parse(c.call("PUBSUB", "NUMSUB", "news")) == [b"news", 0] and \
               K.parse(c.call("PUBSUB", "NUMPAT")) == 0:
                break
        time.sleep(0.05)
    else:
        K.fail("closed subscribers were not removed from PUBSUB NUMSUB/NUMPAT")


def check_slow_subscriber(runtime):
    """A subscriber that stops reading is cut at the pubsub class's limit,
    set at startup or (runtime) by CONFIG SET, which CONFIG GET then shows
    in Redis's canonical form."""
    limit = "normal 0 0 0 pubsub 1mb 256kb 1"
    srv = K.kevy("--threads", "2", *(() if runtime else ("--client-output-buffer-limit",
                                                        limit))).start()
    try:
        if runtime:
            with srv.conn() as c:
                K.check(c.call("CONFIG", "SET", "client-output-buffer-limit",
                               "pubsub 1mb 256kb 1") == b"+OK\r\n", "CONFIG SET at run time")
                got = K.parse(c.call("CONFIG", "GET", "client-output-buffer-limit"))
                K.check(got[1] == b"normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 "
                        b"262144 1", "CONFIG GET after the change: %r" % got)
        slow = socket.create_connection(("127.0.0.1", srv.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.sendall(K.encode("SUBSCRIBE", "flood"))
        time.sleep(0.1)
        good = K.RawConn(srv.port, timeout=30)
        good.send(K.encode("SUBSCRIBE", "flood"))
        good.read_reply()
        got = {"n": 0}

        def drain():
            try:
                while got["n"] < 200:
                    good.read_reply(timeout=10)
                    got["n"] += 1
            except Exception:
                pass
        reader = threading.Thread(target=drain)
        reader.start()
        payload = b"x" * 65536
        with srv.conn() as c:
            counts = []
            for i in range(200):
                counts.append(K.parse(c.call("PUBLISH", "flood", payload)))
                if counts[-1] == 1:
                    break
        K.check(counts[-1] == 1, "the slow subscriber was disconnected (counts %r)" % counts[-5:])
        K.check(b"output buffer limits" in srv.log_tail(), "the log says why")
        K.check(srv.ping_ok(), "server alive")
        slow.close()
        good.close()
        reader.join(15)
        srv.check_clean_exit()
    finally:
        srv.cleanup()


def main():
    K.require_kevy()
    K.require_redis()
    check_differential()
    srv = K.kevy("--threads", "4").start()
    try:
        check_cross_shard(srv)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    check_slow_subscriber(False)
    check_slow_subscriber(True)


if __name__ == "__main__":
    K.run_main(main)
