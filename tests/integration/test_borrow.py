#!/usr/bin/env python3
"""Borrowing a parked shard's keyspace (src/server/route.c, "borrowing"):
a txn's home grants itself the keyspace of a shard parked in its reactor,
instead of MSG_LOCK and MSG_GRANT.  Light loads, where the peers park
between commands, are what take this path.  Seen from outside:

- it is taken: INFO stats kevy_borrowed_keyspaces rises;
- isolation: a few writers' non-pipelined MSETs and MULTI/EXECs over
  groups of keys on every shard, and readers' MGETs of the groups beside
  them, never see a group half written; single-key GETs of group keys get
  a group's value;
- a blocked client of the borrowed shard is served: BLPOP on a list of
  shard 1, woken by a MULTI/EXEC from shard 0 that pushes to it and sets
  a key of shard 0, gets the element (the wake goes out with the
  release), and the list is left empty;
- durability: under appendfsync always every acknowledged write survives
  kill -9 (each writer owns a group), DEBUG DIGEST after the restart
  equals the one before; under appendonly no the same load keeps every
  group whole;
- a failing AOF on the borrowed shard: while its writes fail for lack of
  space (retrying) and after its fsync failed for good, an MSET over it
  from the other shard's client borrows it and is refused with MISCONF;
  once the space is back MSETs succeed again; after kill -9 every
  acknowledged value is there and no refused MSET left anything;
- calls of one other shard's keys under appendonly no (fwd_borrows): one
  client's SET/GET/APPEND/INCR/HSET replies match a model, a BLPOP of the
  owner's client is woken by a borrowed RPUSH, a key of the owner expires
  lazily when the home reads it, a borrowed SET breaks the owner's
  client's WATCH, a keyspace notification goes out, and concurrent INCRs
  from both shards' clients are all counted.

2 and 4 shards; io_uring and epoll.  Every server listens on loopback on a
port it picks; every loop is bounded in count and time.
"""
import threading
import time

import aoflib as A
import kevylib as K

WRITERS = 3
READERS = 2


def stat(c, field):
    return int(A.info(c, "stats").get(field, "0"))


def borrowed(c):
    return stat(c, "kevy_borrowed_keyspaces")


def groups_over_shards(c, shards, groups):
    """groups key lists, each with one key on every shard (placement found
    by which shard's AOF logs a SET of the key)."""
    by_shard = A.keys_by_shard(c, shards, "bw", groups, "init")
    out = [[by_shard[s][g] for s in range(shards)] for g in range(groups)]
    for keys in out:
        args = ["MSET"]
        for k in keys:
            args += [k, "init"]
        K.check(c.cmd(*args) == "OK", "initial MSET")
    return out


def run_light(port, groups, seconds, ops):
    """WRITERS threads, one command at a time (MSET, or MULTI/SET.../EXEC
    every third), READERS threads MGET and GET.  Returns (last acknowledged
    value per writer, commands acknowledged, reads checked)."""
    last = [None] * WRITERS
    counts = {"acked": 0, "reads": 0}
    errors = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def writer(w):
        try:
            with K.RawConn(port) as c:
                keys = groups[w]
                for seq in range(ops):
                    if time.monotonic() >= deadline:
                        break
                    val = "w%d-%d" % (w, seq)
                    if seq % 3 == 2:
                        K.check(c.cmd("MULTI") == "OK", "MULTI")
                        for k in keys:
                            K.check(c.cmd("SET", k, val) == "QUEUED", "SET queued")
                        r = c.cmd("EXEC")
                        K.check(isinstance(r, list) and all(x == "OK" for x in r),
                                "writer %d: EXEC replied %r" % (w, r))
                    else:
                        args = ["MSET"]
                        for k in keys:
                            args += [k, val]
                        r = c.cmd(*args)
                        K.check(r == "OK", "writer %d: MSET replied %r" % (w, r))
                    last[w] = val
                    with lock:
                        counts["acked"] += 1
        except Exception as e:  # reported by the main thread
            errors.append("writer %d: %r" % (w, e))

    def reader(r):
        try:
            with K.RawConn(port) as c:
                for n in range(ops):
                    if time.monotonic() >= deadline:
                        break
                    keys = groups[(r + n) % len(groups)]
                    vals = c.cmd("MGET", *keys)
                    K.check(isinstance(vals, list) and len(set(vals)) == 1,
                            "an MGET saw a group half written: %r" % vals)
                    v = c.cmd("GET", keys[n % len(keys)])
                    K.check(isinstance(v, bytes) and (v == b"init" or v.startswith(b"w")),
                            "a GET of a group key: %r" % v)
                    with lock:
                        counts["reads"] += 1
        except Exception as e:
            errors.append("reader %d: %r" % (r, e))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
        K.check(not t.is_alive(), "a load thread ended")
    K.check(not errors, "load: %s" % "; ".join(errors[:3]))
    return last, counts["acked"], counts["reads"]


def check_whole(port, groups, last):
    with K.RawConn(port) as c:
        for w, keys in enumerate(groups):
            vals = c.cmd("MGET", *keys)
            K.check(len(set(vals)) == 1, "group %d whole: %r" % (w, vals))
            if w < len(last) and last[w] is not None:
                K.check(vals[0] == last[w].encode(),
                        "group %d holds its last acknowledged value %r: %r" % (w, last[w], vals[0]))


def case_load(shards, io, policy):
    srv = K.Server(args=["--threads", str(shards), "--appendonly", "yes",
                         "--appendfsync", "always", "--io", io])
    srv.start()
    try:
        with srv.conn() as c:
            groups = groups_over_shards(c, shards, WRITERS + READERS)
            if policy == "no":
                K.check(c.cmd("CONFIG", "SET", "appendonly", "no") == "OK", "appendonly no")
            before = borrowed(c)
        last, acked, reads = run_light(srv.port, groups, seconds=6, ops=300)
        with srv.conn() as c:
            got = borrowed(c) - before
            K.check(got > 0, "keyspaces borrowed: kevy_borrowed_keyspaces rose by %d" % got)
            digest = c.cmd("DEBUG", "DIGEST")
        check_whole(srv.port, groups, last)
        if policy == "always":
            A.kill9(srv)
            A.restart(srv)
            with srv.conn() as c:
                K.check(c.cmd("DEBUG", "DIGEST") == digest,
                        "DEBUG DIGEST after kill -9 and restart")
            check_whole(srv.port, groups, last)
        srv.stop()
        K.log("%d shards %s appendfsync %s: %d writes acknowledged, %d reads whole, "
              "%d keyspaces borrowed%s" % (shards, io, policy, acked, reads, got,
                                          "; all kept after kill -9" if policy == "always" else ""))
    finally:
        srv.cleanup()


def case_blocked(io):
    """A BLPOP client of shard 1, woken by a txn of shard 0 that borrowed
    shard 1's keyspace."""
    srv = K.Server(args=["--threads", "2", "--appendonly", "yes", "--appendfsync", "always",
                         "--io", io])
    srv.start()
    try:
        with srv.conn() as c:
            found = A.keys_by_shard(c, 2, "bl", 1)
            lst, key = found[1][0], found[0][0]
            K.check(c.cmd("DEL", lst) == 1, "DEL %s" % lst)
            before = borrowed(c)
        rounds = 0
        with A.conn_on_shard(srv, 1) as b, A.conn_on_shard(srv, 0) as w:
            for n in range(20):
                b.send(K.encode("BLPOP", lst, "10"))
                # Let shard 1 park with its client blocked.
                time.sleep(0.05)
                K.check(w.cmd("MULTI") == "OK", "MULTI")
                K.check(w.cmd("RPUSH", lst, "e%d" % n) == "QUEUED", "RPUSH queued")
                K.check(w.cmd("SET", key, "v%d" % n) == "QUEUED", "SET queued")
                r = w.cmd("EXEC")
                K.check(r == [1, "OK"], "EXEC replied %r" % (r,))
                got = K.parse(b.read_replies(1, timeout=10)[0])
                K.check(got == [lst.encode(), b"e%d" % n],
                        "the blocked client got the element: %r" % (got,))
                K.check(w.cmd("LLEN", lst) == 0, "the list is left empty")
                rounds += 1
        with srv.conn() as c:
            got = borrowed(c) - before
            K.check(got > 0, "shard 1's keyspace borrowed: rose by %d" % got)
        srv.stop()
        K.log("%s: %d BLPOPs woken by txns that borrowed their shard (%d borrows)"
              % (io, rounds, got))
    finally:
        srv.cleanup()


def case_failed(io):
    """MSETs that borrow a shard whose AOF is failing are refused."""
    srv = K.Server(args=["--threads", "2", "--appendonly", "yes", "--appendfsync", "always",
                         "--aof-preallocate", "0", "--aof-direct-io", "no", "--io", io])
    srv.start()
    try:
        with srv.conn() as c:
            found = A.keys_by_shard(c, 2, "fa", 2, "old")
        (a, a2), (b, b2) = found[0], found[1]
        refused = 0
        with A.conn_on_shard(srv, 0) as h, srv.conn() as ctl, srv.conn() as p:
            def mset_refused(what):
                time.sleep(0.05)   # shard 1 parks
                r = h.cmd("MSET", a, what, b, what)
                K.check(isinstance(r, K.RespError) and r.msg.startswith(A.MISCONF),
                        "MSET over the failing shard refused: %r" % (r,))
            K.check(h.cmd("MSET", a, "v1", b, "v1") == "OK", "MSET before the failure")
            before = borrowed(ctl)
            # A full disk: shard 1 retries its write and refuses writes.
            K.check(ctl.cmd("DEBUG", "FAILPOINTS", "write@kevy-s1-g:1+=enospc") == "OK",
                    "failpoint set")
            p.send(K.encode("SET", b2, "pending"))
            K.check(A.wait_for(lambda: A.shard_lines(A.info(ctl), 2)[1]["status"] != "ok", 10),
                    "shard 1 refuses writes")
            for n in range(5):
                mset_refused("nospace%d" % n)
                refused += 1
            K.check(ctl.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
            K.check(K.parse(p.read_replies(1, timeout=20)[0]) == "OK",
                    "the SET written once the space is back is acknowledged")
            K.check(A.wait_for(lambda: A.shard_lines(A.info(ctl), 2)[1]["status"] == "ok", 10),
                    "shard 1 writes again")
            time.sleep(0.05)
            K.check(h.cmd("MSET", a, "v2", b, "v2") == "OK", "MSET after the space is back")
            # A failed fsync: shard 1 refuses writes until a restart.
            K.check(ctl.cmd("DEBUG", "FAILPOINTS", "fsync@kevy-s1-g:1+=eio") == "OK",
                    "failpoint set")
            r = h.cmd("SET", b2, "lost")
            K.check(isinstance(r, K.RespError) and r.msg.startswith(A.MISCONF),
                    "the SET whose fsync failed is not acknowledged: %r" % (r,))
            for n in range(5):
                mset_refused("eio%d" % n)
                refused += 1
            K.check(ctl.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
            got = borrowed(ctl) - before
            K.check(got > 0, "the refused MSETs borrowed shard 1: rose by %d" % got)
            K.check(h.cmd("SET", a2, "healthy") == "OK", "shard 0 still takes writes")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            vals = c.cmd("MGET", a, b, a2, b2)
            K.check(vals[:3] == [b"v2", b"v2", b"healthy"] and vals[3] in (b"pending", b"lost"),
                    "after kill -9: acknowledged values kept, refused MSETs left nothing: %r"
                    % (vals,))
        srv.stop()
        K.log("%s: %d MSETs over a failing shard refused (%d borrows); nothing acknowledged "
              "lost after kill -9" % (io, refused, got))
    finally:
        srv.cleanup()


def case_forward(io):
    """Calls of one other shard's keys under appendonly no: the home
    borrows the parked owner's keyspace (fwd_borrows) instead of
    forwarding.  Checked: replies against a model, counts of concurrent
    INCRs from both shards, a BLPOP of the owner woken by a borrowed
    RPUSH, lazy expiry of the owner's key, WATCH of the owner's client,
    and a keyspace notification."""
    srv = K.Server(args=["--threads", "2", "--appendonly", "yes", "--appendfsync", "always",
                         "--io", io])
    srv.start()
    try:
        with srv.conn() as c:
            ks = A.keys_by_shard(c, 2, "fw", 6)[1]
            K.check(c.cmd("DEL", *ks) == len(ks), "DEL the found keys")
            K.check(c.cmd("CONFIG", "SET", "appendonly", "no") == "OK", "appendonly no")
            # The clients stay where they are: no move to the keys' shard.
            K.check(c.cmd("CONFIG", "SET", "migrate-connections", "no") == "OK",
                    "migrate-connections no")
            K.check(c.cmd("CONFIG", "SET", "notify-keyspace-events", "KA") == "OK",
                    "notify-keyspace-events")
            b0, f0 = stat(c, "kevy_borrowed_keyspaces"), stat(c, "kevy_forwarded_commands")
        counter, lst, hsh, tmp, watched, plain = ks
        with A.conn_on_shard(srv, 0) as h, A.conn_on_shard(srv, 1) as o:
            # Replies against a model, one call at a time.
            model = {}
            for n in range(200):
                v = "v%d" % n
                K.check(h.cmd("SET", plain, v) == "OK", "SET")
                model[plain] = v
                K.check(h.cmd("GET", plain) == v.encode(), "GET after SET")
                K.check(h.cmd("APPEND", plain, "x") == len(v) + 1, "APPEND")
                K.check(h.cmd("INCR", counter) == n + 1, "INCR %d" % n)
                K.check(h.cmd("HSET", hsh, "f%d" % n, v) == 1, "HSET")
            K.check(h.cmd("HLEN", hsh) == 200, "HLEN")
            K.check(o.cmd("GET", plain) == b"v199x", "the owner's client reads the value")
            # A BLPOP of the owner's client, woken by a borrowed RPUSH.
            for n in range(10):
                o.send(K.encode("BLPOP", lst, "10"))
                time.sleep(0.05)
                K.check(h.cmd("RPUSH", lst, "e%d" % n) == 1, "RPUSH")
                got = K.parse(o.read_replies(1, timeout=10)[0])
                K.check(got == [lst.encode(), b"e%d" % n], "BLPOP woken: %r" % (got,))
            K.check(h.cmd("EXISTS", lst) == 0, "the list was popped empty")
            # Lazy expiry of the owner's key by the borrowing home.
            K.check(h.cmd("SET", tmp, "t", "PX", "30") == "OK", "SET PX")
            time.sleep(0.1)
            K.check(h.cmd("GET", tmp) is None, "an expired key reads nil")
            K.check(o.cmd("EXISTS", tmp) == 0, "and is gone for the owner")
            # WATCH on the owner's client, broken by a borrowed SET.
            K.check(o.cmd("WATCH", watched) == "OK", "WATCH")
            K.check(h.cmd("SET", watched, "changed") == "OK", "SET of the watched key")
            K.check(o.cmd("MULTI") == "OK", "MULTI")
            K.check(o.cmd("SET", watched, "mine") == "QUEUED", "queued")
            K.check(o.cmd("EXEC") is None, "EXEC aborted by the borrowed SET")
            K.check(h.cmd("GET", watched) == b"changed", "the watched key kept the SET")
            # A keyspace notification of a borrowed write.
            with srv.conn() as sub:
                sub.send(K.encode("SUBSCRIBE", "__keyspace@0__:" + plain))
                K.parse(sub.read_replies(1, timeout=10)[0])
                K.check(h.cmd("SET", plain, "n") == "OK", "SET")
                msg = K.parse(sub.read_replies(1, timeout=10)[0])
                K.check(msg == [b"message", b"__keyspace@0__:" + plain.encode(), b"set"],
                        "keyspace notification: %r" % (msg,))
        with srv.conn() as c:
            borrowed_n = stat(c, "kevy_borrowed_keyspaces") - b0
            fwd = stat(c, "kevy_forwarded_commands") - f0
        K.check(borrowed_n > 0, "the calls borrowed: kevy_borrowed_keyspaces rose by %d" % borrowed_n)
        # Concurrent INCRs of the same keys from both shards' clients.
        total = [0]
        errors = []
        lock = threading.Lock()

        def incr(shard, n):
            try:
                with A.conn_on_shard(srv, shard) as x:
                    for _ in range(n):
                        K.check(isinstance(x.cmd("INCR", counter), int), "INCR")
                        with lock:
                            total[0] += 1
            except Exception as e:
                errors.append(repr(e))
        threads = [threading.Thread(target=incr, args=(s, 300)) for s in (0, 0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            K.check(not t.is_alive(), "an INCR thread ended")
        K.check(not errors, "INCR threads: %s" % errors[:2])
        with srv.conn() as c:
            K.check(int(c.cmd("GET", counter)) == 200 + total[0],
                    "every INCR counted: %r, expected %d" % (c.cmd("GET", counter), 200 + total[0]))
        srv.stop()
        K.log("%s: forwarded calls with the owner parked: %d borrows, %d calls of the other "
              "shard's keys, replies as the model; %d concurrent INCRs all counted"
              % (io, borrowed_n, fwd, total[0]))
    finally:
        srv.cleanup()


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's shards")
    for io in ("io_uring", "epoll"):
        case_load(2, io, "always")
        case_load(4, io, "always")
        case_load(2, io, "no")
        case_blocked(io)
        case_failed(io)
        case_forward(io)


if __name__ == "__main__":
    K.run_main(main)
