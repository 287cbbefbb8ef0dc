#!/usr/bin/env python3
"""Turning appendonly on at run time is all or nothing across shards
(docs/durability.md, "Turning appendonly on"): every shard rewrites its
keyspace into a fresh segment and the shards' manifests move together.

- whole: a cross-shard MSET made while appendonly was off is on disk on
  every shard after the turn-on, and kevy.turnon is gone;
- before the decision: a failed fsync of one shard's new segment makes
  every shard give up (writes refused), and a restart finds the files from
  before on every shard (the MSET absent everywhere, never on one);
- after the decision: a failed manifest rename on one shard leaves
  kevy.turnon; kevy-check reports it (exit 1) and the restart commits that
  shard's manifest (roll forward): the MSET is on every shard;
- under load: cross-shard MSETs keep running while appendonly goes off and
  on; after kill -9 every MSET pair is whole.

Both reactors (io_uring and epoll).  Every server listens on loopback on a
port it picks; every wait is bounded.
"""
import os
import threading
import time

import aoflib as A
import kevylib as K


def get(c, k):
    r = c.call("GET", k)
    return None if r == b"$-1\r\n" else K.parse(r).decode()


def turnon_over(c):
    """Whether no turn-on is in progress.  A reply that read what the
    rewrite wrote waits for it to be durable, and is refused if it never
    will be (MISCONF): that too means the turn-on is over."""
    r = c.call("INFO", "persistence")
    if r.startswith(b"-MISCONF"):
        return True
    K.check(r.startswith(b"$"), "INFO persistence: %r" % r[:200])
    return b"aof_rewrite_in_progress:0" in r


def wait_turned_on(c, timeout=20):
    ok = A.wait_for(lambda: turnon_over(c), timeout)
    K.check(ok, "the turn-on ended within %ds" % timeout)


def turn_on_with(srv, failpoints):
    """Old values, appendonly off, the MSET, failpoints, appendonly on.
    Returns the two keys."""
    with srv.conn() as c:
        a, b = A.keys_on_two_shards(c, "t", "old")
        K.check(c.call("CONFIG", "SET", "appendonly", "no") == b"+OK\r\n", "appendonly off")
        K.check(c.call("MSET", a, "new", b, "new") == b"+OK\r\n", "MSET while off")
        if failpoints:
            r = c.call("DEBUG", "FAILPOINTS", failpoints)
            K.check(r == b"+OK\r\n", "failpoints %s: %r" % (failpoints, r))
        K.check(c.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n", "appendonly on")
        wait_turned_on(c)
        if failpoints:
            c.call("DEBUG", "FAILPOINTS", "")
    return a, b


def server(name, io):
    return K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", "--io", io,
                  name=name)


def case_whole(io):
    srv = server("turnon-whole-" + io, io)
    try:
        srv.start()
        a, b = turn_on_with(srv, "")
        K.check(not os.path.exists(os.path.join(srv.dir, "kevy.turnon")),
                "kevy.turnon removed once every shard committed")
        with srv.conn() as c:
            K.check(c.call("SET", a, "after") == b"+OK\r\n", "writes accepted after turn-on")
        A.kill9(srv)
        code, out = A.kevy_check(srv.dir)
        K.check(code == 0, "kevy-check clean after the turn-on: %d %s" % (code, out))
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "after" and get(c, b) == "new",
                    "the MSET made while off is on both shards: %r %r" % (get(c, a), get(c, b)))
        srv.stop()
        K.log("%s: turn-on committed on both shards" % io)
    finally:
        srv.cleanup()


def case_before_decision(io):
    srv = server("turnon-abort-" + io, io)
    try:
        srv.start()
        # The first fsync after this is one shard's new segment (nothing
        # else is written while appendonly is off).
        a, b = turn_on_with(srv, "fsync:1=eio")
        K.check(not os.path.exists(os.path.join(srv.dir, "kevy.turnon")),
                "no decision was written")
        with srv.conn() as c:
            r = c.call("SET", a, "refused")
            K.check(r.startswith(b"-MISCONF"), "writes refused on the failed turn-on: %r" % r)
            with srv.conn() as c2:
                r = c2.call("SET", b, "refused")
                K.check(r.startswith(b"-MISCONF"), "on both shards: %r" % r)
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "old" and get(c, b) == "old",
                    "the files from before on both shards: %r %r" % (get(c, a), get(c, b)))
        srv.stop()
        K.log("%s: a failed segment fsync: neither shard moved" % io)
    finally:
        srv.cleanup()


def case_after_decision(io, kc):
    srv = server("turnon-roll-" + io, io)
    try:
        srv.start()
        # Rename 1 is kevy.turnon itself; rename 2 is the first shard's
        # manifest commit.
        a, b = turn_on_with(srv, "rename:2=eio")
        K.check(os.path.exists(os.path.join(srv.dir, "kevy.turnon")),
                "kevy.turnon stays while a shard's commit failed")
        A.kill9(srv)
        code, out = A.kevy_check(srv.dir)
        K.check(code == 1 and "decided but its manifest was not committed" in out,
                "kevy-check reports the pending turn-on: %d %s" % (code, out))
        code, _, err = A.tool("kevy-dump", srv.dir)
        K.check(code != 0 and "kevy-check --fix" in err,
                "kevy-dump refuses the half-moved directory: %d %r" % (code, err[-300:]))
        off = A.restart(srv)
        log = A.log_since(srv, off).decode("utf-8", "replace")
        K.check("committed it now" in log, "recovery rolled forward: %s" % log[-2000:])
        K.check(not os.path.exists(os.path.join(srv.dir, "kevy.turnon")),
                "kevy.turnon removed by recovery")
        with srv.conn() as c:
            K.check(get(c, a) == "new" and get(c, b) == "new",
                    "the MSET is on both shards: %r %r" % (get(c, a), get(c, b)))
            K.check(c.call("SET", a, "later") == b"+OK\r\n", "writes accepted after")
        A.kill9(srv)
        code, out = A.kevy_check(srv.dir)
        K.check(code == 0, "kevy-check clean after the roll forward: %d %s" % (code, out))
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "later", "a write after the roll forward is kept")
        srv.stop()
        K.log("%s: a failed manifest commit after the decision: rolled forward" % io)
    finally:
        srv.cleanup()


def case_under_load(io):
    """Cross-shard MSETs of one counter value to two keys, while appendonly
    goes off and on three times; then kill -9: every pair is whole."""
    srv = server("turnon-load-" + io, io)
    try:
        srv.start()
        with srv.conn() as c:
            a, b = A.keys_on_two_shards(c, "t", "old")
        stop = threading.Event()
        errors = []
        done = [0]

        def writer():
            try:
                with srv.conn() as w:
                    n = 0
                    while not stop.is_set() and n < 200000:
                        n += 1
                        r = w.call("MSET", a, str(n), b, str(n))
                        if r != b"+OK\r\n":
                            errors.append(r)
                            return
                        done[0] = n
            except Exception as e:   # the kill ends the connection
                if not stop.is_set():
                    errors.append(repr(e))

        t = threading.Thread(target=writer)
        t.start()
        with srv.conn() as c:
            for i in range(3):
                time.sleep(0.2)
                r = c.call("CONFIG", "SET", "appendonly", "no")
                K.check(r == b"+OK\r\n", "appendonly off (%d): %r" % (i, r))
                time.sleep(0.2)
                K.check(c.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n",
                        "appendonly on (%d)" % i)
                if i < 2:
                    wait_turned_on(c)
        time.sleep(0.1)
        K.check(srv.alive(), "the server is up before the kill")
        stop.set()
        A.kill9(srv)
        t.join(10)
        K.check(not t.is_alive(), "the writer ended")
        K.check(not errors, "every MSET answered +OK: %r" % errors[:3])
        K.check(done[0] > 0, "MSETs ran")
        A.restart(srv)
        with srv.conn() as c:
            va, vb = get(c, a), get(c, b)
        K.check(va == vb, "the last MSET on disk is whole: %r %r" % (va, vb))
        srv.stop()
        K.log("%s: %d MSETs across three turn-ons, whole after kill -9 (%s)" % (io, done[0], va))
    finally:
        srv.cleanup()


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files")
    kc = A.kevy_check_path()
    K.check(kc is not None, "kevy-check is built")
    for io in ("io_uring", "epoll"):
        case_whole(io)
        case_before_decision(io)
        case_after_decision(io, kc)
        case_under_load(io)


if __name__ == "__main__":
    K.run_main(main)
