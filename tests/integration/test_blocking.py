#!/usr/bin/python3
"""Blocking pops across shards: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
BZMPOP.

1. Differential: error cases and the cases that answer at once, against
   redis-server, byte for byte.
2. FIFO fairness: three clients block on one key in a known order; one RPUSH
   of three elements serves them in that order.
3. Wake-ups across shards (--threads 4): clients blocked on keys of every
   shard are served by pushes from other connections; BLMOVE and BZPOPMIN
   too, with source and destination on different shards.
4. Timeouts return a null array after about the timeout; a client that
   disconnects while blocked takes nothing; BLPOP inside MULTI answers at
   once; commands pipelined behind a blocking command wait for it.
5. Stress: 24 clients blocked on 6 keys, 600 pushes; every element is
   delivered exactly once (bounded in count and time).
"""

import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

IMMEDIATE = [
    "BLPOP", "BLPOP k", "BLPOP k abc", "BLPOP k -1", "BLPOP k 1e20", "BLPOP k inf",
    "BLMOVE a b up right 1", "BLMPOP 1 0 k left", "BLMPOP 1 2 k left", "BLMPOP x 1 k left",
    "BLMPOP 1 1 k left count 0", "BLMPOP 1 1 k middle", "BZPOPMIN z abc",
    "SET s 1", "BLPOP s 1", "BLPOP nokey s 1", "RPUSH k a b c", "BLPOP s k 1", "BLPOP k s 1",
    "BRPOP k 1", "BLMPOP 1 2 nokey k right count 5", "RPUSH k x y", "BLMOVE k dst left right 1",
    "BRPOPLPUSH k dst 1", "LRANGE dst 0 -1", "ZADD z 1 a 2 b 3 c", "BZPOPMIN z 1",
    "BZPOPMAX nokey z 1", "BZPOPMIN s 1", "MULTI", "BLPOP nokey 0", "BZPOPMIN nokey 0", "EXEC",
    "RPUSH k z", "BLPOP k 0x10",
    "BZMPOP 1 0 z min", "BZMPOP 1 1 z middle", "BZMPOP x 1 z min", "BZMPOP -1 1 z max",
    "BZMPOP 1 1 z min count 0", "BZMPOP 1 2 z min", "BZMPOP 1 1 s min",
    "ZADD z 4 d 5 e", "BZMPOP 1 2 nokey z max count 2", "BZMPOP 1 1 z min count 10",
    "MULTI", "BZMPOP 0 1 nokey min", "EXEC",
]


def run_immediate(port):
    with K.RawConn(port) as c:
        return [c.call(*cmd.split(" ")) for cmd in IMMEDIATE]


def check_differential():
    K.compare_with_redis(run_immediate, IMMEDIATE)


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def blocked_conn(port, *cmd):
    c = K.RawConn(port, timeout=30)
    c.send(K.encode(*cmd))
    return c


def no_reply_yet(c, wait=0.2):
    c.sock.settimeout(wait)
    try:
        data = c.sock.recv(1, socket.MSG_PEEK)
        return not data and False
    except socket.timeout:
        return True
    finally:
        c.sock.settimeout(30)


def blocked_clients(srv):
    """INFO clients' blocked_clients, as Redis's suite reads it."""
    with srv.conn() as c:
        info = K.parse(c.call("INFO", "clients")).decode()
    for line in info.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise K.TestFailure("INFO clients has no blocked_clients: %r" % info)


def check_fifo(srv):
    waiters = []
    for i in range(3):
        waiters.append(blocked_conn(srv.port, "BLPOP", "fifo", "0"))
        time.sleep(0.15)
    for w in waiters:
        K.check(no_reply_yet(w), "a waiter blocks while the list is empty")
    K.check(blocked_clients(srv) == 3, "INFO counts the three blocked clients")
    with srv.conn() as c:
        K.check(c.call("RPUSH", "fifo", "a", "b", "c") == b":3\r\n", "push three")
    got = [w.read_reply(timeout=10) for w in waiters]
    want = [b"*2\r\n" + bulk("fifo") + bulk(x) for x in "abc"]
    K.check(got == want, "served in blocking order: %r" % got)
    K.check(blocked_clients(srv) == 0, "INFO's blocked_clients is back to 0")
    for w in waiters:
        w.close()


def check_cross_shard(srv):
    keys = ["x:%d" % i for i in range(12)]
    waiters = [blocked_conn(srv.port, "BRPOP", k, "0") for k in keys]
    time.sleep(0.2)
    with srv.conn() as c:
        for i, k in enumerate(keys):
            c.call("LPUSH", k, "v%d" % i)
    for i, (k, w) in enumerate(zip(keys, waiters)):
        K.check(w.read_reply(timeout=10) == b"*2\r\n" + bulk(k) + bulk("v%d" % i),
                "waiter on %s served" % k)
        w.close()
    # BLMOVE between shards: block on the source, push, destination gets it.
    for i in range(8):
        src, dst = "mv:src:%d" % i, "mv:dst:%d" % i
        w = blocked_conn(srv.port, "BLMOVE", src, dst, "LEFT", "RIGHT", "0")
        time.sleep(0.05)
        with srv.conn() as c:
            c.call("RPUSH", src, "e%d" % i)
            K.check(w.read_reply(timeout=10) == bulk("e%d" % i), "BLMOVE reply")
            K.check(K.parse(c.call("LRANGE", dst, 0, -1)) == [b"e%d" % i], "moved to %s" % dst)
            K.check(c.call("EXISTS", src) == b":0\r\n", "source emptied")
        w.close()
    w = blocked_conn(srv.port, "BZPOPMIN", "zz:a", "zz:b", "0")
    time.sleep(0.1)
    with srv.conn() as c:
        c.call("ZADD", "zz:b", "2", "two", "1", "one")
    K.check(w.read_reply(timeout=10) == b"*3\r\n" + bulk("zz:b") + bulk("one") + bulk("1"),
            "BZPOPMIN served from the second key")
    w.close()
    # BZMPOP on keys of several shards, served by a ZADD to the last one with
    # as many members as its COUNT allows.
    w = blocked_conn(srv.port, "BZMPOP", "0", "3", "zm:a", "zm:b", "zm:c", "MAX", "COUNT", "2")
    time.sleep(0.1)
    with srv.conn() as c:
        c.call("ZADD", "zm:c", "1", "one", "2", "two", "3", "three")
        K.check(w.read_reply(timeout=10) ==
                b"*2\r\n" + bulk("zm:c") + b"*2\r\n*2\r\n" + bulk("three") + bulk("3") +
                b"*2\r\n" + bulk("two") + bulk("2"), "BZMPOP served from the third key")
        K.check(K.parse(c.call("ZRANGE", "zm:c", 0, -1)) == [b"one"], "one member left")
    w.close()
    K.log("cross-shard wake-ups OK")


def check_timeouts_and_edges(srv):
    with srv.conn() as c:
        t0 = time.monotonic()
        K.check(c.call("BLPOP", "never", "0.25") == b"*-1\r\n", "timeout replies null array")
        dt = time.monotonic() - t0
        K.check(0.2 <= dt < 3.0, "timeout took %.3f s" % dt)
        t0 = time.monotonic()
        K.check(c.call("BLMPOP", "0.1", "2", "n1", "n2", "LEFT") == b"*-1\r\n", "BLMPOP timeout")
        K.check(c.call("BZPOPMAX", "nz", "0.1") == b"*-1\r\n", "BZPOPMAX timeout")
    # A client that goes away while blocked takes nothing.
    gone = blocked_conn(srv.port, "BLPOP", "orphan", "0")
    time.sleep(0.1)
    gone.close()
    time.sleep(0.2)
    with srv.conn() as c:
        c.call("RPUSH", "orphan", "kept")
        time.sleep(0.1)
        K.check(c.call("LRANGE", "orphan", 0, -1) == b"*1\r\n" + bulk("kept"),
                "an element pushed after the waiter left stays in the list")
    # CLIENT KILL closes a blocked client at once.
    victim = blocked_conn(srv.port, "BLPOP", "killme", "0")
    victim.send(K.encode("CLIENT", "ID"))
    time.sleep(0.1)
    with srv.conn() as c:
        ids = [int(line.split("id=")[1].split()[0])
               for line in K.parse(c.call("CLIENT", "LIST")).decode().splitlines()
               if "cmd=blpop" in line]
        K.check(len(ids) == 1, "one client blocked in BLPOP: %r" % ids)
        K.check(c.call("CLIENT", "KILL", "ID", str(ids[0])) == b":1\r\n", "CLIENT KILL ID")
    K.check(victim.closed_by_peer(5.0), "the killed blocked client is disconnected")
    victim.close()
    # Commands pipelined behind a blocking one wait for it.
    w = K.RawConn(srv.port, timeout=30)
    w.send(K.encode("BLPOP", "pipe", "0") + K.encode("PING") + K.encode("GET", "nokey"))
    K.check(no_reply_yet(w, 0.3), "nothing answers while the first command blocks")
    with srv.conn() as c:
        c.call("RPUSH", "pipe", "p")
    K.check(w.read_replies(3, timeout=10) == [b"*2\r\n" + bulk("pipe") + bulk("p"),
                                               b"+PONG\r\n", b"$-1\r\n"],
            "pipelined replies follow the unblocked one in order")
    w.close()


def check_stress(srv):
    keys = ["st:%d" % i for i in range(6)]
    nclients, pushes = 24, 600
    received, errors = [], []
    lock = threading.Lock()
    stop = time.monotonic() + 60

    def consumer(j):
        try:
            with K.RawConn(srv.port, timeout=30) as c:
                while time.monotonic() < stop:
                    v = K.parse(c.call("BLPOP", *(keys[j % 6:] + keys[:j % 6]), "0.5"))
                    if v is None:
                        with lock:
                            if len(received) >= pushes:
                                return
                        continue
                    with lock:
                        received.append(v[1])
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=consumer, args=(j,)) for j in range(nclients)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    with srv.conn() as c:
        for i in range(pushes):
            c.call("RPUSH", keys[i % 6], "m%d" % i)
    for t in threads:
        t.join(70)
    K.check(not errors, "consumers: %s" % errors[:3])
    K.check(sorted(received) == sorted(b"m%d" % i for i in range(pushes)),
            "every element delivered exactly once (%d received)" % len(received))
    K.log("stress: %d elements to %d blocked clients" % (pushes, nclients))


def check_tiny_timeout(srv):
    """A timeout below a millisecond is rounded up, as Redis does: 0.001 s is
    0.99999... ms in binary, and truncated it meant "block for ever"."""
    with srv.conn() as c:
        for cmd in (("BLPOP", "tiny", "0.001"), ("BLMPOP", "0.001", "1", "tiny", "RIGHT"),
                    ("BZPOPMIN", "tinyz", "0.0001")):
            start = time.monotonic()
            r = c.call(*cmd)
            K.check(r == b"*-1\r\n", "%s times out with a null array: %r" % (cmd[0], r))
            K.check(time.monotonic() - start < 5, "%s did not block for long" % cmd[0])
    K.log("sub-millisecond timeouts OK")


def check_exec_serves_at_the_end(srv):
    """Inside EXEC, blocked clients are served once the whole transaction ran,
    as Redis does: a push deleted again by the same EXEC wakes nobody, and
    a waiter gets the list as EXEC left it (Redis's own list unit checks
    both)."""
    for key in ("ex:one", "{ex}two"):
        w = blocked_conn(srv.port, "BLPOP", key, "0")
        time.sleep(0.1)
        with srv.conn() as c:
            replies = [c.call("MULTI"), c.call("LPUSH", key, "a"), c.call("DEL", key),
                       c.call("EXEC")]
            K.check(replies[-1] == b"*2\r\n:1\r\n:1\r\n", "EXEC ran: %r" % replies)
            K.check(no_reply_yet(w), "a push deleted by the same EXEC wakes nobody")
            for cmd in (("MULTI",), ("LPUSH", key, "a"), ("LPUSH", key, "b"),
                        ("LPUSH", key, "c"), ("EXEC",)):
                c.call(*cmd)
        K.check(w.read_reply(timeout=10) == b"*2\r\n" + bulk(key) + bulk("c"),
                "the waiter sees the list as EXEC left it")
        w.close()
    K.log("EXEC serves blocked clients at its end OK")


def check_served_pops_replay(srv_args):
    """What a blocked client is served is logged as effects that replay
    exactly: a chain (BLMOVE into a list a BLPOP waits on) and the wake-ups
    an EXEC leaves to its end, on keys of one shard and of several, survive a
    kill -9 under appendfsync always unchanged (DEBUG DIGEST)."""
    import aoflib as A
    srv = K.kevy(*srv_args, "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        for src, dst in (("{c}src", "{c}dst"), ("chain:src", "chain:dst")):
            pop = blocked_conn(srv.port, "BLPOP", dst, "0")
            time.sleep(0.1)
            move = blocked_conn(srv.port, "BLMOVE", src, dst, "LEFT", "RIGHT", "0")
            time.sleep(0.1)
            with srv.conn() as c:
                c.call("RPUSH", src, "x", "y")
            K.check(move.read_reply(timeout=10) == bulk("x"), "BLMOVE served")
            K.check(pop.read_reply(timeout=10) == b"*2\r\n" + bulk(dst) + bulk("x"),
                    "the BLPOP on its destination served next")
            pop.close()
            move.close()
        z = blocked_conn(srv.port, "BZMPOP", "0", "2", "zr:a", "zr:b", "MIN", "COUNT", "2")
        time.sleep(0.1)
        with srv.conn() as c:
            c.call("ZADD", "zr:b", "3", "c", "1", "a", "2", "b")
        K.check(z.read_reply(timeout=10).startswith(b"*2\r\n" + bulk("zr:b")), "BZMPOP served")
        z.close()
        w = blocked_conn(srv.port, "BLPOP", "{e}l", "0")
        time.sleep(0.1)
        with srv.conn() as c:
            for cmd in (("MULTI",), ("RPUSH", "{e}l", "a", "b"), ("SET", "{e}s", "1"),
                        ("EXEC",)):
                c.call(*cmd)
        K.check(w.read_reply(timeout=10) == b"*2\r\n" + bulk("{e}l") + bulk("a"),
                "the EXEC's waiter served at its end")
        w.close()
        with srv.conn() as c:
            digest = c.call("DEBUG", "DIGEST")
            keys = sorted(K.parse(c.call("KEYS", "*")))
        srv.proc.kill()
        srv.proc.wait(10)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("DEBUG", "DIGEST") == digest, "same dataset after kill -9 and replay")
            K.check(sorted(K.parse(c.call("KEYS", "*"))) == keys, "same keys: %r" % keys)
            K.check(K.parse(c.call("LRANGE", "chain:src", 0, -1)) == [b"y"], "source left y")
            K.check(c.call("EXISTS", "chain:dst") == b":0\r\n", "destination popped empty")
            K.check(K.parse(c.call("LRANGE", "{e}l", 0, -1)) == [b"b"], "EXEC's list left b")
            K.check(K.parse(c.call("ZRANGE", "zr:b", 0, -1)) == [b"c"], "BZMPOP's pop replayed")
    finally:
        srv.cleanup()
    K.log("served pops replay exactly OK")


def main():
    K.require_kevy()
    K.require_redis()
    check_differential()
    srv = K.kevy("--threads", "4").start()
    try:
        check_fifo(srv)
        check_cross_shard(srv)
        check_exec_serves_at_the_end(srv)
        check_tiny_timeout(srv)
        check_timeouts_and_edges(srv)
        check_stress(srv)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    check_served_pops_replay(["--threads", "4"])


if __name__ == "__main__":
    K.run_main(main)
