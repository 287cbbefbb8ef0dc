#!/usr/bin/python3
"""The CLIENT family and RESET against redis-server 7.0, and across shards.

Differential (same commands to redis-server and kevy --threads 3, replies
byte for byte): CLIENT REPLY ON/OFF/SKIP (with pipelined commands whose
replies must vanish, and pub/sub pushes that must not), CLIENT NO-EVICT, CLIENT UNBLOCK (TIMEOUT and ERROR,
and every error form), CLIENT PAUSE/UNPAUSE (WRITE lets reads through and
holds writes until the timeout; UNPAUSE releases a held write; argument
errors), RESET (out of MULTI, out of subscriber mode, back to RESP2 and db
0), CLIENT LIST's field names and order, and its flags (P x b e) and
counters (db sub psub multi) for a client in each state.

MONITOR: the lines (time and address masked) for plain, cross-shard,
MULTI/EXEC (queued commands shown when EXEC runs them, EXEC after them),
redacted AUTH/HELLO, hidden admin commands, blocking commands, and the
monitor's own refusal to touch the keyspace.

kevy only: CLIENT UNBLOCK, CLIENT PAUSE and MONITOR act on a client of
another shard (CLIENT LIST's shard= field picks a pair of connections on two
shards); a monitor sees every command of a client on another shard, in
order.  A seeded mix (KEVY_SEED replays it) of all of the above with
HELLO 2/3, pub/sub, MULTI, blocking pops and pipelines from several
clients for a few seconds: the server stays up, exits cleanly, keeps no
connection or pause behind, and its replies stay well-formed RESP.
"""

import random
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)


def client_line(conn):
    raw = K.parse(conn.call("CLIENT", "INFO"))
    return fields(raw.decode().strip())


def run_basic(port):
    out = []
    with K.RawConn(port) as a, K.RawConn(port) as b:
        # REPLY OFF: nothing until ON's +OK; SKIP: only the next reply.
        a.send(K.encode("CLIENT", "REPLY", "OFF") + K.encode("SET", "x", "1") +
               K.encode("GET", "x") + K.encode("NOSUCHCOMMAND") +
               K.encode("CLIENT", "REPLY", "ON"))
        out.append(a.read_reply())
        out.append(a.call("GET", "x"))
        a.send(K.encode("CLIENT", "REPLY", "SKIP") + K.encode("GET", "x"))
        out.append(a.call("PING"))
        a.send(K.encode("CLIENT", "REPLY", "OFF") + K.encode("CLIENT", "REPLY", "SKIP") +
               K.encode("GET", "x"))
        out.append(a.call("CLIENT", "REPLY", "ON"))
        a.send(K.encode("CLIENT", "REPLY", "SKIP"))
        out.append(a.call("CLIENT", "REPLY", "ON"))      # answered: ON clears the skip
        out.append(a.call("PING"))
        out.append(a.call("CLIENT", "REPLY", "bogus"))
        # NO-EVICT
        out.append(a.call("CLIENT", "NO-EVICT", "on"))
        out.append(a.call("CLIENT", "NO-EVICT", "maybe"))
        out.append(a.call("CLIENT", "NO-EVICT", "off"))
        # UNBLOCK's errors, an unknown id, then TIMEOUT and ERROR.
        out.append(a.call("CLIENT", "UNBLOCK", "x"))
        out.append(a.call("CLIENT", "UNBLOCK", "1", "bogus"))
        out.append(a.call("CLIENT", "UNBLOCK", "1", "timeout", "extra"))
        out.append(a.call("CLIENT", "UNBLOCK", "99999"))
        bid = K.parse(b.call("CLIENT", "ID"))
        out.append(a.call("CLIENT", "UNBLOCK", str(bid)))     # not blocked: 0
        for reason in ((), ("TIMEOUT",), ("ERROR",)):
            b.send(K.encode("BLPOP", "nolist", "0"))
            wait_flag(a, bid, "b")
            out.append(a.call("CLIENT", "UNBLOCK", str(bid), *reason))
            out.append(b.read_reply())
        b.send(K.encode("BZPOPMIN", "nozset", "0"))
        wait_flag(a, bid, "b")
        out.append(a.call("CLIENT", "UNBLOCK", str(bid)))
        out.append(b.read_reply())
        # PAUSE's errors; WRITE holds a write but not a read.
        out.append(a.call("CLIENT", "PAUSE", "abc"))
        out.append(a.call("CLIENT", "PAUSE", "-1"))
        out.append(a.call("CLIENT", "PAUSE", "100", "bogus"))
        out.append(a.call("CLIENT", "PAUSE", "100", "write", "x"))
        out.append(a.call("CLIENT", "PAUSE", "0"))
        out.append(b.call("SET", "x", "0"))                     # a 0 pause is over
        out.append(a.call("CLIENT", "PAUSE", "400", "WRITE"))
        t = time.monotonic()
        out.append(b.call("GET", "x"))
        out.append(time.monotonic() - t < 0.3)                   # reads go on
        out.append(b.call("SET", "x", "2"))
        out.append(time.monotonic() - t >= 0.3)                  # the write waited
        out.append(a.call("CLIENT", "PAUSE", "100000", "WRITE"))
        b.send(K.encode("SET", "x", "3"))
        out.append(b.closed_by_peer(0.3))                        # no reply yet
        out.append(a.call("CLIENT", "UNPAUSE"))
        out.append(b.read_reply())
        out.append(b.call("GET", "x"))
        # PAUSE ALL holds reads too.
        out.append(a.call("CLIENT", "PAUSE", "300", "ALL"))
        t = time.monotonic()
        out.append(b.call("GET", "x"))
        out.append(time.monotonic() - t >= 0.2)
        # RESET
        out.append(a.call("SELECT", "2"))
        out.append(a.call("MULTI"))
        out.append(a.call("SET", "x", "9"))
        out.append(a.call("RESET"))
        out.append(a.call("EXEC"))
        out.append(a.call("GET", "x"))                           # db 0 again
        out.append(a.call("SUBSCRIBE", "c"))
        out.append(a.call("GET", "x"))                           # refused in RESP2
        out.append(a.call("RESET"))
        out.append(a.call("GET", "x"))
        out.append(a.call("CLIENT", "SETNAME", "n"))
        out.append(a.call("HELLO", "3")[:4])
        out.append(a.call("RESET"))
        out.append(a.call("GET", "nokey"))                       # RESP2 again
        out.append(a.call("CLIENT", "GETNAME"))
        out.append(a.call("RESET", "x"))
    return out


def wait_flag(conn, cid, letter, present=True, timeout=5.0):
    """Until CLIENT LIST shows client cid with (or without) a flag letter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in K.parse(conn.call("CLIENT", "LIST")).decode().splitlines():
            f = fields(line)
            if f.get("id") == str(cid) and (letter in f["flags"]) == present:
                return
        time.sleep(0.02)
    raise K.TestFailure("client %s never showed flag %r=%s" % (cid, letter, present))


def run_list(port):
    """CLIENT LIST/INFO fields for clients in each state (values that are
    the same on both servers: names, flags, db, sub, psub, multi, resp)."""
    keep = ("flags", "db", "sub", "psub", "ssub", "multi", "resp", "name", "cmd", "user",
            "redir", "oll", "events")
    out = []
    with K.RawConn(port) as a, K.RawConn(port) as p, K.RawConn(port) as m, \
            K.RawConn(port) as e, K.RawConn(port) as b:
        names = list(client_line(a).keys())
        out.append([n for n in names if n != "shard"])
        ids = [K.parse(c.call("CLIENT", "ID")) for c in (p, m, e, b)]
        p.send(K.encode("SUBSCRIBE", "c1", "c2"))
        p.read_replies(2)
        p.call("PSUBSCRIBE", "p*")
        m.call("SELECT", "3")
        m.call("MULTI")
        m.call("SET", "k", "v")
        m.call("GET", "k")
        e.call("CLIENT", "NO-EVICT", "on")
        e.call("HELLO", "3")
        e.call("CLIENT", "SETNAME", "evictless")
        bid = ids[3]
        b.send(K.encode("BLPOP", "nolist", "0"))
        wait_flag(a, bid, "b")
        lines = {fields(ln)["id"]: fields(ln)
                 for ln in K.parse(a.call("CLIENT", "LIST")).decode().splitlines()}
        for cid in ids:
            f = lines[str(cid)]
            out.append({k: f[k] for k in keep if k != "cmd" or cid != bid})
        for t in ("pubsub", "normal", "master", "replica"):
            got = [fields(ln)["id"] for ln in
                   K.parse(a.call("CLIENT", "LIST", "TYPE", t)).decode().splitlines()]
            out.append((t, sorted(str(i) in got for i in ids)))
        out.append(a.call("CLIENT", "KILL", "TYPE", "pubsub"))
        out.append(p.closed_by_peer(2.0))
        out.append(a.call("CLIENT", "KILL", "TYPE", "master"))
        a.call("CLIENT", "UNBLOCK", str(bid))
        b.read_reply()
    return out


MONITOR_STAMP = re.compile(rb"^\+[0-9]+\.[0-9]{6} \[(\d+) (?:127\.0\.0\.1:[0-9]+|(lua))\]")


def monitor_mask(m):
    return b"+T [%s %s]" % (m.group(1), m.group(2) or b"ADDR")


def run_monitor(port):
    out = []
    with K.RawConn(port) as m, K.RawConn(port) as a:
        out.append(m.call("MONITOR"))
        a.call("SET", "foo", "bar")
        a.call("GET", "foo")
        a.call("SELECT", "3")
        a.call("SET", "a b", "x\ny\"\x01\xff")
        a.call("MULTI")
        a.call("SET", "k1", "v")
        a.call("INCR", "k2")
        a.call("EXEC")
        a.call("MULTI")
        a.call("bogus")
        a.call("EXEC")
        a.call("AUTH", "x")
        a.call("HELLO", "2", "AUTH", "u", "p")
        a.call("CONFIG", "GET", "x")
        a.call("MSET", "{a}1", "1", "{b}2", "2")
        a.call("BLPOP", "nol", "0.01")
        # A script's commands follow its EVAL line, whichever shard runs it.
        a.call("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "{a}3")
        a.call("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "{b}3")
        a.call("PING")
        for _ in range(19):
            out.append(MONITOR_STAMP.sub(monitor_mask, m.read_reply()))
        out.append(m.call("GET", "foo"))
        m.send(K.encode("MONITOR"))        # already one: no reply
        out.append(m.call("PING"))
        out.append(MONITOR_STAMP.sub(monitor_mask, m.read_reply()))   # its own PING
        out.append(m.call("RESET"))
        out.append(m.call("GET", "foo"))   # RESET ended MONITOR
    return out


def run_reply_off_pubsub(port):
    """With CLIENT REPLY OFF, (un)subscribe confirmations and messages are
    pushes and still arrive, in RESP3 and RESP2."""
    out = []
    with K.RawConn(port) as a, K.RawConn(port) as r:
        for proto in ("3", "2"):
            a.call("HELLO", proto)
            a.send(K.encode("CLIENT", "REPLY", "OFF"))
            a.send(K.encode("SUBSCRIBE", "channel"))
            out.append(a.read_reply())
            a.send(K.encode("PSUBSCRIBE", "ch*"))
            out.append(a.read_reply())
            out.append(r.call("PUBLISH", "channel", "hello"))
            out += a.read_replies(2)
            a.send(K.encode("UNSUBSCRIBE", "channel"))
            out.append(a.read_reply())
            a.send(K.encode("PUNSUBSCRIBE", "ch*"))
            out.append(a.read_reply())
            out.append(a.call("CLIENT", "REPLY", "ON"))
    return out


def compare(run, what):
    redis_srv = K.redis().start()
    kevy_srv = K.kevy("--threads", "3").start()
    try:
        want = run(redis_srv.port)
        got = run(kevy_srv.port)
    finally:
        redis_srv.stop()
        kevy_srv.stop()
    K.check(len(want) == len(got), "%s: as many steps" % what)
    for i, (w, g) in enumerate(zip(want, got)):
        K.check(w == g, "%s step %d:\n redis %r\n kevy  %r" % (what, i, w, g))
    K.check(kevy_srv.exit_code == 0, "kevy exits cleanly (status %s)" % kevy_srv.exit_code)
    K.log("%s: %d steps identical" % (what, len(want)))


def test_against_redis():
    compare(run_basic, "CLIENT/RESET")
    compare(run_list, "CLIENT LIST")
    compare(run_monitor, "MONITOR")
    compare(run_reply_off_pubsub, "REPLY OFF pub/sub")


def shards_apart(srv, n=8):
    """Connections until two are on different shards: (a, b)."""
    conns = [srv.conn() for _ in range(n)]
    shard = [client_line(c)["shard"] for c in conns]
    for j in range(1, n):
        if shard[j] != shard[0]:
            keep = (conns[0], conns[j])
            for c in conns:
                if c not in keep:
                    c.close()
            return keep
    raise K.TestFailure("%d connections all landed on shard %s" % (n, shard[0]))


def test_across_shards():
    with K.kevy("--threads", "3") as srv:
        a, b = shards_apart(srv)
        with a, b:
            bid = K.parse(b.call("CLIENT", "ID"))
            b.send(K.encode("BLPOP", "nolist", "0"))
            wait_flag(a, bid, "b")
            K.check(a.call("CLIENT", "UNBLOCK", str(bid), "ERROR") == b":1\r\n",
                    "UNBLOCK reaches a client of another shard")
            K.check(b.read_reply().startswith(b"-UNBLOCKED"), "the blocked client's error")
            wait_flag(a, bid, "b", present=False)
            K.check(a.call("CLIENT", "PAUSE", "100000", "WRITE") == b"+OK\r\n", "PAUSE")
            b.send(K.encode("INCR", "counter"))
            K.check(not b.closed_by_peer(0.3), "a write on another shard waits")
            wait_flag(a, bid, "b")
            K.check(a.call("CLIENT", "UNPAUSE") == b"+OK\r\n", "UNPAUSE")
            K.check(b.read_reply() == b":1\r\n", "the held write ran after UNPAUSE")
            # A pause that ends by its timeout, with the waiting client parked.
            K.check(a.call("CLIENT", "PAUSE", "300", "ALL") == b"+OK\r\n", "PAUSE ALL")
            t = time.monotonic()
            K.check(b.call("GET", "counter") == b"$1\r\n1\r\n", "read after the pause")
            waited = time.monotonic() - t
            K.check(0.2 <= waited < 3.0, "PAUSE ALL held the read %.2fs" % waited)
        m, b = shards_apart(srv)
        with m, b:
            K.check(m.call("MONITOR") == b"+OK\r\n", "MONITOR")
            n = 50
            b.send(b"".join(K.encode("SET", "key%d" % i, str(i)) for i in range(n)))
            b.read_replies(n)
            for i in range(n):
                line = m.read_reply()
                K.check(line.endswith(b'"SET" "key%d" "%d"\r\n' % (i, i)),
                        "monitor line %d of another shard's client, in order: %r" % (i, line))
        K.check(srv.ping_ok(), "server alive")


MIX = [
    ("HELLO", "3"), ("HELLO", "2"), ("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "ON"),
    ("CLIENT", "REPLY", "SKIP"), ("SUBSCRIBE", "c1"), ("UNSUBSCRIBE",), ("PSUBSCRIBE", "c*"),
    ("PUNSUBSCRIBE",), ("PUBLISH", "c1", "m"), ("RESET",), ("MONITOR",),
    ("BLPOP", "bl", "0.05"), ("BZPOPMIN", "bz", "0.05"), ("RPUSH", "bl", "x"),
    ("ZADD", "bz", "1.5", "m"), ("CLIENT", "UNBLOCK", "%ID", "ERROR"), ("CLIENT", "UNBLOCK", "%ID"),
    ("CLIENT", "PAUSE", "20", "WRITE"), ("CLIENT", "UNPAUSE"), ("CLIENT", "LIST"),
    ("CLIENT", "INFO"), ("MULTI",), ("EXEC",), ("SET", "k", "v"), ("GET", "k"),
    ("HGETALL", "h"), ("HSET", "h", "f", "1"), ("ZRANGE", "bz", "0", "-1", "WITHSCORES"),
    ("SMEMBERS", "s"), ("SADD", "s", "1"), ("INFO", "server"), ("MSET", "{a}1", "1", "{b}1", "2"),
    ("WATCH", "k"), ("CLIENT", "NO-EVICT", "on"), ("DEBUG", "PROTOCOL", "push"),
]


def mix_worker(port, rng, stop, bad):
    """Random pipelines; reads whatever comes back and checks it parses."""
    conn = K.RawConn(port, timeout=0.2)
    while not stop.is_set():
        batch = []
        for _ in range(rng.randrange(1, 8)):
            words = [str(rng.randrange(1, 40)) if w == "%ID" else w for w in rng.choice(MIX)]
            batch.append(K.encode(*words))
        try:
            conn.send(b"".join(batch))
            for _ in range(64):          # bounded: at most 64 replies per batch read
                conn.read_reply(timeout=0.2)
        except (socket.timeout, TimeoutError):
            pass
        except K.ConnectionClosed:
            conn.close()
            conn = K.RawConn(port, timeout=0.2)
        except ValueError as e:
            bad.append(repr(e))
            break
    conn.close()


def test_mix():
    seed, rng = K.rng_from_env()
    secs = float(__import__("os").environ.get("KEVY_CLIENT_MIX_S", "4"))
    with K.kevy("--threads", "3") as srv:
        stop, bad = threading.Event(), []
        threads = [threading.Thread(target=mix_worker,
                                    args=(srv.port, random.Random(rng.random()), stop, bad))
                   for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(secs)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        K.check(not any(t.is_alive() for t in threads), "mix workers finished (seed %d)" % seed)
        K.check(not bad, "malformed replies (seed %d): %r" % (seed, bad[:3]))
        with srv.conn() as c:
            c.call("CLIENT", "UNPAUSE")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                lines = K.parse(c.call("CLIENT", "LIST")).decode().splitlines()
                if len(lines) == 1:
                    break
                time.sleep(0.05)
            K.check(len(lines) == 1, "only the checking client is left (seed %d): %r" %
                    (seed, lines[:5]))
            K.check(c.call("SET", "after", "1") == b"+OK\r\n", "writes go on after the mix")
        srv.stop()
        K.check(srv.exit_code == 0, "clean exit after the mix (seed %d, status %s)" %
                (seed, srv.exit_code))


def main():
    K.require_redis()
    K.require_kevy()
    test_against_redis()
    test_across_shards()
    test_mix()


if __name__ == "__main__":
    K.run_main(main)
