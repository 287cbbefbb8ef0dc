#!/usr/bin/python3
"""Client-side caching (CLIENT TRACKING) on a 2-shard kevy.

A RESP3 tracking connection and a RESP2 tracking connection redirected to
a __redis__:invalidate subscriber read keys owned by both shards; writers
connected to each shard change them (SET, MULTI/EXEC, EVAL), keys expire,
get evicted under maxmemory allkeys-random, FLUSHALL empties everything,
and the redirect target goes away.  Each case checks the exact invalidation
frames: a key invalidates once, then is forgotten; BCAST gets keys by
prefix; OPTIN/OPTOUT follow CLIENT CACHING for one command; NOLOOP skips
the client's own writes.  Bad arguments get Redis's errors, and a small
scenario gives byte-identical frames on kevy and redis-server 7.0.

Exit 0 pass, 1 fail, 77 skip.
"""

import re
import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

NKEYS = 40
KEYS = ["tk:%d" % i for i in range(NKEYS)]


def push_invalidate(keys):
    """A RESP3 invalidation push for keys (None: a flush)."""
    if keys is None:
        return b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    body = b"".join(b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys)
    return b">2\r\n$10\r\ninvalidate\r\n*%d\r\n%s" % (len(keys), body)


def message_invalidate(keys):
    """The RESP2 pub/sub message a REDIRECT target in RESP2 gets."""
    body = b"".join(b"$%d\r\n%s\r\n" % (len(k), k.encode()) for k in keys)
    return (b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*%d\r\n%s"
            % (len(keys), body))


def shard_of(c):
    info = c.cmd("CLIENT", "INFO")
    m = re.search(rb"shard=(\d+)", info)
    return int(m.group(1)) if m else 0


def conns_per_shard(kv, nshards=2):
    """One connection on each shard (the kernel spreads them; bounded).
    redis-server has one thread: two connections then."""
    if K.target() == "redis":
        return [kv.conn() for _ in range(nshards)]
    got, spare = {}, []
    for _ in range(64):
        c = kv.conn()
        sh = shard_of(c)
        if sh not in got:
            got[sh] = c
        else:
            spare.append(c)
        if len(got) == nshards:
            break
    for c in spare:
        c.close()
    K.check(len(got) == nshards, "connections on every shard (%r)" % sorted(got))
    return [got[i] for i in range(nshards)]


def resp3(c):
    c.send(K.encode("HELLO", "3"))
    c.read_reply()
    return c


def fence(c):
    """Every frame before the reply to a PING (pushes that arrived first)."""
    c.send(K.encode("PING"))
    frames = []
    for _ in range(10000):
        r = c.read_reply()
        if r in (b"+PONG\r\n", b"*1\r\n$4\r\nping\r\n$0\r\n\r\n",
                 b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"):
            return frames
        frames.append(r)
    K.fail("no PONG after 10000 frames")


def keys_of_push(frame):
    """The keys of a RESP3 invalidation push or a RESP2 message frame."""
    if frame.startswith(b">2\r\n$10\r\ninvalidate\r\n*"):
        rest = frame[len(b">2\r\n$10\r\ninvalidate\r\n"):]
    elif frame.startswith(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*"):
        rest = frame[len(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"):]
    else:
        K.fail("not an invalidation frame: %r" % frame[:120])
    v = K.parse(rest)
    return [k.decode() for k in v]


def both_shards_written(w, cmd_for_key):
    """Write every key, each from the writer on the other half."""
    for i, k in enumerate(KEYS):
        c = w[i % len(w)]
        r = c.call(*cmd_for_key(k))
        K.check(not r.startswith(b"-"), "write %s: %r" % (k, r))


def check_default_resp3(kv, w):
    t = resp3(kv.conn())
    K.check(t.call("CLIENT", "TRACKING", "on") == b"+OK\r\n", "tracking on")
    both_shards_written(w, lambda k: ("SET", k, "v1"))
    for k in KEYS:
        t.call("GET", k)
    both_shards_written(w, lambda k: ("SET", k, "v2"))
    frames = fence(t)
    K.check(sorted(frames) == sorted(push_invalidate([k]) for k in KEYS),
            "one invalidation per read key, from writers on both shards: %r" % frames[:4])
    # The keys were forgotten: another write sends nothing.
    both_shards_written(w, lambda k: ("SET", k, "v3"))
    K.check(fence(t) == [], "an invalidated key is not tracked any more")
    # The client's own write: the reply first, then its invalidation.
    t.call("GET", KEYS[0])
    t.send(K.encode("SET", KEYS[0], "own"))
    K.check(t.read_reply() == b"+OK\r\n", "own write answered first")
    K.check(t.read_reply() == push_invalidate([KEYS[0]]), "own write invalidates after")
    # MULTI/EXEC from another client.
    t.call("GET", KEYS[1])
    t.call("GET", KEYS[2])
    c = w[0]
    c.call("MULTI")
    c.call("SET", KEYS[1], "m")
    c.call("INCR", KEYS[2] + "x")
    c.call("DEL", KEYS[2])
    ex = c.call("EXEC")
    K.check(ex.startswith(b"*3"), "EXEC ran: %r" % ex)
    K.check(sorted(fence(t)) == sorted([push_invalidate([KEYS[1]]),
                                        push_invalidate([KEYS[2]])]),
            "MULTI/EXEC invalidates the keys it wrote")
    # EVAL from another client, writing a key it declared.
    t.call("GET", KEYS[3])
    r = w[1].call("EVAL", "return redis.call('set', KEYS[1], 'e')", "1", KEYS[3])
    K.check(r == b"+OK\r\n", "EVAL set: %r" % r)
    K.check(fence(t) == [push_invalidate([KEYS[3]])], "EVAL invalidates")
    # A script that reads tracks the keys it declared (Redis's rule).
    w[0].call("SET", KEYS[4], "1")
    t.call("EVAL", "return redis.call('get', KEYS[1])", "1", KEYS[4])
    w[1].call("SET", KEYS[4], "2")
    K.check(fence(t) == [push_invalidate([KEYS[4]])], "a reading script tracks its keys")
    # Expiry (active or lazy: whichever comes first).
    w[0].call("SET", KEYS[5], "x", "PX", "50")
    t.call("GET", KEYS[5])
    frames = []
    deadline = time.monotonic() + 5
    while not frames and time.monotonic() < deadline:
        time.sleep(0.1)
        frames = fence(t)
    K.check(frames == [push_invalidate([KEYS[5]])], "expiry invalidates: %r" % frames)
    # FLUSHALL: a null invalidation, and the table is empty.
    t.call("GET", KEYS[6])
    w[1].call("FLUSHALL")
    K.check(fence(t) == [push_invalidate(None)], "FLUSHALL sends a null invalidation")
    info = w[0].cmd("INFO", "stats")
    K.check(b"tracking_total_keys:0\r\n" in info, "FLUSHALL empties the table")
    t.call("CLIENT", "TRACKING", "off")
    t.close()


def check_redirect_resp2(kv, w):
    # The target and the tracking client on different shards: a message
    # for the target takes a second hop, and still precedes the reply of
    # the write that caused it.
    r, t = conns_per_shard(kv)
    rid = r.cmd("CLIENT", "ID")
    r.cmd("SUBSCRIBE", "__redis__:invalidate")
    K.check(t.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid)) == b"+OK\r\n",
            "redirect on")
    K.check(t.cmd("CLIENT", "GETREDIR") == rid, "GETREDIR")
    lst = t.cmd("CLIENT", "LIST", "ID", str(t.cmd("CLIENT", "ID")))
    K.check(b"flags=t " in lst and b"redir=%d " % rid in lst, "CLIENT LIST: %r" % lst)
    both_shards_written(w, lambda k: ("SET", k, "a"))
    for k in KEYS:
        t.call("GET", k)
    info = w[0].cmd("INFO")
    K.check(b"tracking_total_keys:%d\r\n" % NKEYS in info and
            b"tracking_total_items:%d\r\n" % NKEYS in info and
            b"tracking_clients:1\r\n" in info, "INFO tracking counts")
    for i, k in enumerate(KEYS):
        K.check(w[i % 2].call("SET", k, "b") == b"+OK\r\n", "SET %s" % k)
        got = fence(r)
        K.check(got == [message_invalidate([k])],
                "RESP2 redirect message before the writer's reply: %r" % got)
    # The redirect target goes away: the RESP2 client hears nothing, a
    # RESP3 one gets tracking-redir-broken.
    t3 = resp3(kv.conn())
    t3.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid))
    t3.call("GET", KEYS[0])
    r.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lst = w[0].cmd("CLIENT", "LIST")
        if b"id=%d " % rid not in lst:
            break
        time.sleep(0.05)
    w[1].call("SET", KEYS[0], "c")
    want = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % rid
    K.check(fence(t3) == [want], "tracking-redir-broken push")
    info = t3.call("CLIENT", "TRACKINGINFO")
    K.check(info == b"%%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n"
            b"$8\r\nredirect\r\n:%d\r\n$8\r\nprefixes\r\n*0\r\n" % rid,
            "TRACKINGINFO after the redirect broke: %r" % info)
    lst = t3.call("CLIENT", "INFO")
    K.check(b"flags=tR " in lst, "CLIENT INFO flags tR: %r" % lst)
    for c in (t, t3):
        c.close()


def check_modes(kv, w):
    t = resp3(kv.conn())
    # OPTIN: only the command after CLIENT CACHING yes is tracked.
    t.call("CLIENT", "TRACKING", "on", "OPTIN")
    t.call("GET", KEYS[0])
    t.call("CLIENT", "CACHING", "yes")
    t.call("GET", KEYS[1])
    t.call("GET", KEYS[2])
    for k in KEYS[:3]:
        w[0].call("SET", k, "o")
    K.check(fence(t) == [push_invalidate([KEYS[1]])], "OPTIN tracks only after CACHING yes")
    t.call("CLIENT", "TRACKING", "off")
    # OPTOUT: everything but the command after CLIENT CACHING no.
    t.call("CLIENT", "TRACKING", "on", "OPTOUT")
    t.call("CLIENT", "CACHING", "no")
    t.call("GET", KEYS[0])
    t.call("GET", KEYS[1])
    for k in KEYS[:2]:
        w[1].call("SET", k, "p")
    K.check(fence(t) == [push_invalidate([KEYS[1]])], "OPTOUT skips after CACHING no")
    t.call("CLIENT", "TRACKING", "off")
    # NOLOOP: no invalidation for the client's own writes.
    t.call("CLIENT", "TRACKING", "on", "NOLOOP")
    t.call("GET", KEYS[0])
    t.call("GET", KEYS[1])
    t.call("SET", KEYS[0], "mine")
    w[0].call("SET", KEYS[1], "theirs")
    K.check(fence(t) == [push_invalidate([KEYS[1]])], "NOLOOP skips own writes")
    t.call("CLIENT", "TRACKING", "off")
    # BCAST with a prefix: keys of both shards, none outside the prefix.
    t.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "tk:1")
    both_shards_written(w, lambda k: ("SET", k, "q"))
    seen = []
    for f in fence(t):
        seen += keys_of_push(f)
    want = sorted(k for k in KEYS if k.startswith("tk:1"))
    K.check(sorted(seen) == want, "BCAST prefix keys: %r" % seen)
    info = w[0].cmd("INFO", "stats")
    K.check(b"tracking_total_prefixes:1\r\n" in info, "INFO prefixes")
    # BCAST NOLOOP: own writes filtered, others' kept.
    t.call("CLIENT", "TRACKING", "off")
    t.call("CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")
    t.call("SET", KEYS[0], "mine")
    w[1].call("SET", KEYS[1], "theirs")
    seen = []
    for f in fence(t):
        seen += keys_of_push(f)
    K.check(seen == [KEYS[1]], "BCAST NOLOOP: %r" % seen)
    t.call("RESET")
    K.check(t.cmd("CLIENT", "GETREDIR") == -1, "RESET turns tracking off")
    t.close()


def check_shared_keys(kv, w):
    """Keys cached by several clients: each hears once, the items count."""
    ts = [resp3(kv.conn()) for _ in range(5)]
    for t in ts:
        t.call("CLIENT", "TRACKING", "on")
        for k in KEYS[:10]:
            t.call("GET", k)
    info = w[0].cmd("INFO", "stats")
    K.check(b"tracking_total_keys:10\r\n" in info and b"tracking_total_items:50\r\n" in info,
            "10 keys, 50 items: %r" % re.findall(rb"tracking_total_\w+:\d+", info))
    for i, k in enumerate(KEYS[:10]):
        w[i % 2].call("SET", k, "shared")
    for t in ts:
        K.check(sorted(fence(t)) == sorted(push_invalidate([k]) for k in KEYS[:10]),
                "every reader hears of every key once")
        t.close()
    info = w[0].cmd("INFO", "stats")
    K.check(b"tracking_total_keys:0\r\n" in info and b"tracking_total_items:0\r\n" in info,
            "the table is empty again")


def check_eviction(kv, w):
    t = resp3(kv.conn())
    t.call("CLIENT", "TRACKING", "on")
    val = "x" * 1000
    for i in range(2000):
        w[i % 2].call("SET", "ev:%d" % i, val)
    for i in range(2000):
        t.call("GET", "ev:%d" % i)
    w[0].call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
    w[0].call("CONFIG", "SET", "maxmemory", "1mb")
    seen = set()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        w[0].call("SET", "ev:trigger", "y")
        w[1].call("SET", "ev:trigger2", "y")
        for f in fence(t):
            seen.update(keys_of_push(f))
        time.sleep(0.05)
    w[0].call("CONFIG", "SET", "maxmemory", "0")
    evicted = int(re.search(rb"evicted_keys:(\d+)", w[0].cmd("INFO", "stats")).group(1))
    K.check(evicted > 0 and seen and all(k.startswith("ev:") for k in seen),
            "eviction invalidates tracked keys (%d evicted, %d seen)" % (evicted, len(seen)))
    # tracking-table-max-keys: the table shrinks to the limit, and each key
    # it drops is invalidated.
    for f in fence(t):
        seen.update(keys_of_push(f))
    t.call("CLIENT", "TRACKING", "off")
    w[0].call("FLUSHALL")
    t.call("CLIENT", "TRACKING", "on")
    for k in KEYS:
        t.call("GET", k)
    w[0].call("CONFIG", "SET", "tracking-table-max-keys", "5")
    got = []
    deadline = time.monotonic() + 10
    while len(got) < NKEYS - 5 and time.monotonic() < deadline:
        for f in fence(t):
            got += keys_of_push(f)
        time.sleep(0.05)
    time.sleep(0.3)
    for f in fence(t):
        got += keys_of_push(f)
    info = w[0].cmd("INFO", "stats")
    K.check(len(got) == NKEYS - 5 and len(set(got)) == len(got) and
            b"tracking_total_keys:5\r\n" in info,
            "tracking-table-max-keys keeps 5 keys: %d invalidated" % len(got))
    w[0].call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    t.close()


ERROR_CASES = [
    ("CLIENT", "TRACKING", "on", "REDIRECT", "987654"),
    ("CLIENT", "TRACKING", "on", "REDIRECT", "abc"),
    ("CLIENT", "TRACKING", "on", "PREFIX", "a"),
    ("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
    ("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
    ("CLIENT", "TRACKING", "maybe"),
    ("CLIENT", "TRACKING", "on", "foo"),
    ("CLIENT", "TRACKING", "on", "PREFIX"),
    ("CLIENT", "TRACKING"),
    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOO", "PREFIX", "FOOBAR"),
    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "CACHING"),
    ("CLIENT", "GETREDIR", "x"),
    ("CLIENT", "TRACKINGINFO", "x"),
    ("CLIENT", "TRACKING", "on", "OPTOUT"),
    ("CLIENT", "CACHING", "yes"),
    ("CLIENT", "CACHING", "maybe"),
    ("CLIENT", "TRACKING", "on", "OPTIN"),
    ("CLIENT", "TRACKING", "on", "BCAST"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FOO", "PREFIX", "BAR"),
    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "FO"),
    ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "BARB"),
    ("CLIENT", "TRACKING", "on"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "TRACKING", "off"),
    ("CLIENT", "TRACKINGINFO"),
    ("CLIENT", "GETREDIR"),
]


def scenario(port):
    """Replies and invalidation frames of a small scenario, ids masked."""
    out = []
    r = K.RawConn(port)
    rid = r.cmd("CLIENT", "ID")
    w = K.RawConn(port)
    t = K.RawConn(port)
    for args in ERROR_CASES:
        out.append(t.call(*args))
    out.append(t.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid),
                      "REDIRECT", str(rid)))
    r.cmd("SUBSCRIBE", "__redis__:invalidate")
    out.append(t.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid), "NOLOOP"))
    out.append(t.call("CLIENT", "TRACKINGINFO").replace(b":%d\r\n" % rid, b":RID\r\n"))
    w.call("SET", "a", "1")
    w.call("SET", "b", "1")
    out.append(t.call("MGET", "a", "b", "c"))
    w.call("SET", "a", "2")
    out.append(r.read_reply())
    t.call("SET", "b", "own")
    w.call("DEL", "c")
    w.call("SET", "c", "x")
    out.append(r.read_reply())
    w.call("FLUSHALL")
    out.append(r.read_reply())
    t.call("CLIENT", "TRACKING", "off")
    resp3(t)
    out.append(t.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x:", "PREFIX", "y:"))
    out.append(t.call("CLIENT", "TRACKINGINFO"))
    w.call("SET", "x:1", "1")
    out += fence(t)
    w.call("SET", "z:1", "1")
    w.call("SET", "y:1", "1")
    out += fence(t)
    out.append(t.call("SET", "x:2", "own"))
    out += fence(t)
    w.call("FLUSHDB")
    out += fence(t)
    for c in (r, w, t):
        c.close()
    return out


def check_against_redis():
    redis_srv = K.redis().start()
    kevy_srv = K.kevy("--threads", "2").start()
    try:
        want = scenario(redis_srv.port)
        got = scenario(kevy_srv.port)
        K.check(len(want) == len(got), "same number of frames (%d, %d)" % (len(want), len(got)))
        for i, (a, b) in enumerate(zip(want, got)):
            K.check(a == b, "frame %d: redis %r, kevy %r" % (i, a, b))
        kevy_srv.check_clean_exit()
        K.log("differential: %d frames identical" % len(want))
    finally:
        redis_srv.cleanup()
        kevy_srv.cleanup()


def main():
    K.require_kevy()
    kv = K.kevy("--threads", "2").start()
    try:
        w = conns_per_shard(kv)
        check_default_resp3(kv, w)
        check_redirect_resp2(kv, w)
        check_modes(kv, w)
        check_shared_keys(kv, w)
        check_eviction(kv, w)
        K.check(kv.ping_ok(), "server alive")
        kv.check_clean_exit()
    finally:
        kv.cleanup()
    if K.target() != "redis":
        K.require_redis()
        check_against_redis()


if __name__ == "__main__":
    K.run_main(main)
