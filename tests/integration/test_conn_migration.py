#!/usr/bin/python3
"""Connections move to the shard their keys live on (server/migrate.c).

kevy runs with --threads 2.  Checks:
  - hot key: 8 connections hammer one key; every one ends on the key's
    shard, kevy_migrated_connections counts those that moved, INCR replies
    stay exact;
  - a deep pipeline (one burst of 20,000 commands on a hot key, with PINGs,
    CLIENT SETNAME/GETNAME and a key of the home shard mixed in) sent by a
    connection of the other shard: every reply in order, the connection
    moved mid-burst;
  - a client half-closed after its burst (read EOF while draining): every
    reply arrives, then the server closes;
  - what never moves: MULTI/EXEC, WATCH, CLIENT TRACKING, a REDIRECT target
    (which still gets its invalidations), CLIENT REPLY OFF, and any client
    with migrate-connections no (CONFIG SET at run time);
  - the cooldown: a client that just moved does not bounce back at once,
    and moves back after a second;
  - CLIENT LIST and CLIENT KILL ID while other clients move all the time:
    each steady client is listed exactly once in every listing, and a client
    killed by id right after its move is closed.
Every loop is bounded in count and time.
"""

import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

STREAK = 64   # migrate.c's MIGRATE_STREAK


def shard_of(c):
    info = c.call("CLIENT", "INFO").decode()   # RESP2 or RESP3 (verbatim)
    m = re.search(r"\bshard=(\d+)", info)
    K.check(m is not None, "CLIENT INFO has shard=: %r" % info)
    return int(m.group(1))


def client_id(c):
    return int(c.cmd("CLIENT", "ID"))


def stat(c, name):
    m = re.search(rb"%s:(\d+)" % name.encode(), c.cmd("INFO", "stats"))
    K.check(m is not None, "INFO stats has %s" % name)
    return int(m.group(1))


def conn_on(srv, shard, avoid=None):
    """A fresh connection the kernel placed on `shard`."""
    for _ in range(200):
        c = srv.conn()
        if shard_of(c) == shard:
            return c
        c.close()
    K.fail("no connection landed on shard %d in 200 tries" % shard)


def key_on(srv, shard, prefix):
    """A key that lives on `shard` (a GET of it from a connection of that
    shard is not forwarded)."""
    with conn_on(srv, shard) as c:
        for i in range(400):
            k = "%s:%d" % (prefix, i)
            before = stat(c, "kevy_forwarded_commands")
            c.cmd("GET", k)
            if stat(c, "kevy_forwarded_commands") == before:
                return k
    K.fail("no key on shard %d" % shard)


def hammer(c, key, n):
    for _ in range(n):
        r = c.call("GET", key)
        K.check(not r.startswith(b"-"), "GET %s: %r" % (key, r))


def check_hot_key(srv):
    hot = key_on(srv, 1, "hot")
    conns = [srv.conn() for _ in range(8)]
    with srv.conn() as ctl:
        moved0 = stat(ctl, "kevy_migrated_connections")
        away = sum(1 for c in conns if shard_of(c) != 1)
        seen = []
        for rnd in range(2 * STREAK):
            for c in conns:
                seen.append(int(c.cmd("INCR", hot)))
        K.check(seen == list(range(1, len(seen) + 1)), "INCR replies are exact and in order")
        for c in conns:
            K.check(shard_of(c) == 1, "every hot-key client ends on the key's shard")
        moved = stat(ctl, "kevy_migrated_connections") - moved0
        K.check(moved == away, "moves counted: %d, clients that were away: %d" % (moved, away))
    for c in conns:
        c.close()
    K.log("hot key: %d of 8 clients moved to shard 1" % away)


def check_deep_pipeline(srv):
    hot = key_on(srv, 1, "deep")
    home = key_on(srv, 0, "home")
    c = conn_on(srv, 0)
    cmds, want = [], []
    n = 0
    for i in range(5000):
        cmds.append(("INCR", hot)); n += 1; want.append(b":%d\r\n" % n)
        cmds.append(("GET", hot)); want.append(b"$%d\r\n%d\r\n" % (len(str(n)), n))
        if i % 97 == 0:
            cmds.append(("PING", "p%d" % i)); want.append(b"$%d\r\np%d\r\n" % (len("p%d" % i), i))
        if i % 499 == 0:
            cmds.append(("CLIENT", "SETNAME", "n%d" % i)); want.append(b"+OK\r\n")
            cmds.append(("CLIENT", "GETNAME")); want.append(b"$%d\r\nn%d\r\n" % (len("n%d" % i), i))
        if i % 1000 == 500:
            cmds.append(("SET", home, i)); want.append(b"+OK\r\n")
        cmds.append(("SET", "{%s}:v" % hot, i)); want.append(b"+OK\r\n")
    finish = c.send_in_background(b"".join(K.encode(*x) for x in cmds))
    for i, w in enumerate(want):
        got = c.read_reply()
        if got != w:
            K.fail("pipeline reply %d to %r: %r, want %r" % (i, cmds[i], got, w))
    err = finish()
    K.check(err is None, "the burst was sent: %r" % err)
    K.check(shard_of(c) == shard_of_key_now(srv, hot), "the pipelined client moved to its key's shard")
    c.close()
    K.log("deep pipeline: %d replies in order" % len(want))


def shard_of_key_now(srv, key):
    with conn_on(srv, 1) as c:
        before = stat(c, "kevy_forwarded_commands")
        c.cmd("GET", key)
        return 1 if stat(c, "kevy_forwarded_commands") == before else 0


def check_half_close(srv):
    hot = key_on(srv, 1, "eof")
    c = conn_on(srv, 0)
    n = 3 * STREAK
    c.send(b"".join(K.encode("INCR", hot) for _ in range(n)))
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_incr_replies_then_close(n)
    c.close()
    K.log("half-close: %d replies, then closed" % n)


def stays(srv, what, setup, body, teardown=None):
    hot = key_on(srv, 1, "stay")
    c = conn_on(srv, 0)
    setup(c, hot)
    body(c, hot)
    if teardown:
        teardown(c, hot)
    K.check(shard_of(c) == 0, "%s: the client stayed on its shard" % what)
    c.close()


def check_what_never_moves(srv):
    def multi_body(c, hot):
        K.check(c.call("MULTI") == b"+OK\r\n", "MULTI")
        for _ in range(2 * STREAK):
            K.check(c.call("INCR", hot) == b"+QUEUED\r\n", "queued")
        r = K.parse(c.call("EXEC"))
        K.check(isinstance(r, list) and len(r) == 2 * STREAK, "EXEC ran the queue")
    stays(srv, "MULTI", lambda c, h: None, multi_body)

    def watch_setup(c, hot):
        K.check(c.call("WATCH", hot) == b"+OK\r\n", "WATCH")
    stays(srv, "WATCH", watch_setup, lambda c, h: hammer(c, h, 2 * STREAK),
          lambda c, h: K.check(c.call("UNWATCH") == b"+OK\r\n", "UNWATCH"))

    def track_setup(c, hot):
        K.check(c.call("CLIENT", "TRACKING", "on") == b"+OK\r\n", "TRACKING on")
    stays(srv, "CLIENT TRACKING", track_setup, lambda c, h: hammer(c, h, 2 * STREAK))

    def reply_off_body(c, hot):
        c.send(K.encode("CLIENT", "REPLY", "OFF"))
        for _ in range(2 * STREAK):
            c.send(K.encode("GET", hot))
        c.send(K.encode("CLIENT", "REPLY", "ON"))
        K.check(c.read_reply() == b"+OK\r\n", "CLIENT REPLY ON answers")
    stays(srv, "CLIENT REPLY OFF", lambda c, h: None, reply_off_body)

    # A REDIRECT target (RESP3, not subscribed) is pinned, and still gets
    # the invalidations it is the target of.
    hot = key_on(srv, 1, "redir")
    target = conn_on(srv, 0)
    K.check(target.call("HELLO", "3").startswith(b"%"), "HELLO 3")
    tracker = srv.conn()
    tid = client_id(target)
    K.check(tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", tid) == b"+OK\r\n", "REDIRECT")
    hammer(target, hot, 2 * STREAK)
    K.check(shard_of(target) == 0, "a REDIRECT target stays on its shard")
    tracker.cmd("GET", "redir:watched")
    with srv.conn() as w:
        w.cmd("SET", "redir:watched", "1")
    push = target.read_reply()
    K.check(b"invalidate" in push and b"redir:watched" in push,
            "the target still gets the invalidation: %r" % push)
    tracker.close()
    target.close()

    # migrate-connections no, then yes again.
    with srv.conn() as ctl:
        K.check(ctl.call("CONFIG", "SET", "migrate-connections", "no") == b"+OK\r\n", "CONFIG SET no")
        K.check(K.parse(ctl.call("CONFIG", "GET", "migrate-connections")) ==
                [b"migrate-connections", b"no"], "CONFIG GET")
        stays(srv, "migrate-connections no", lambda c, h: None, lambda c, h: hammer(c, h, 2 * STREAK))
        K.check(ctl.call("CONFIG", "SET", "migrate-connections", "yes") == b"+OK\r\n", "CONFIG SET yes")
    hot = key_on(srv, 1, "again")
    c = conn_on(srv, 0)
    hammer(c, hot, 2 * STREAK)
    K.check(shard_of(c) == 1, "with migrate-connections yes again, it moves")
    c.close()
    K.log("MULTI, WATCH, TRACKING, REDIRECT target, REPLY OFF, setting off: none moved")


def check_redirect_to_moving(srv):
    """CLIENT TRACKING REDIRECT names a client right as it starts to move
    (its burst just sent): the target ends where the lookup said, and gets
    the invalidation."""
    hot = key_on(srv, 1, "rmove")
    got_early = 0
    for rnd in range(24):
        target = conn_on(srv, 0)
        K.check(target.call("HELLO", "3").startswith(b"%"), "HELLO 3")
        tid = client_id(target)
        tracker = conn_on(srv, rnd % 2)   # both: the target's destination and not
        target.send(b"".join(K.encode("GET", hot) for _ in range(STREAK + 2)))
        early = STREAK - 4 + rnd % 6   # the REDIRECT lands around the move
        for _ in range(early):
            target.read_reply()
        K.check(tracker.call("CLIENT", "TRACKING", "on", "REDIRECT", tid) == b"+OK\r\n",
                "REDIRECT to a client that is moving")
        key = "rmove:w%d" % rnd
        tracker.cmd("GET", key)
        with srv.conn() as w:
            w.cmd("SET", key, rnd)
        replies, pushes = early, 0
        while replies < STREAK + 2 or pushes == 0:
            r = target.read_reply()
            if r.startswith(b">"):
                K.check(key.encode() in r, "round %d: the invalidation names %s: %r" % (rnd, key, r))
                pushes += 1
            else:
                replies += 1
        got_early += shard_of(target) == 1
        tracker.close()
        target.close()
    K.log("REDIRECT to a moving client: 24 rounds, invalidations all delivered "
          "(%d targets had moved)" % got_early)


def check_cooldown(srv):
    k1 = key_on(srv, 1, "cool1")
    k0 = key_on(srv, 0, "cool0")
    c = conn_on(srv, 0)
    hammer(c, k1, 2 * STREAK)
    K.check(shard_of(c) == 1, "moved to shard 1")
    hammer(c, k0, 2 * STREAK)
    K.check(shard_of(c) == 1, "no move back within the cooldown")
    time.sleep(1.1)
    hammer(c, k0, 2 * STREAK)
    K.check(shard_of(c) == 0, "moved back after the cooldown")
    c.close()
    K.log("cooldown: stayed, then moved back after 1 s")


def check_list_and_kill(srv):
    steady = [srv.conn() for _ in range(6)]
    ids = {client_id(c) for c in steady}
    hot = key_on(srv, 1, "churn")
    stop = threading.Event()
    errs = []
    churned = [0]

    def churn():
        deadline = time.monotonic() + 20
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                with srv.conn() as c:
                    c.send(b"".join(K.encode("GET", hot) for _ in range(STREAK + 8)))
                    for _ in range(STREAK + 8):
                        c.read_reply()
                    churned[0] += 1
        except Exception as e:  # noqa: BLE001 (reported below)
            errs.append(repr(e))
    t = threading.Thread(target=churn)
    t.start()
    listings = 0
    with srv.conn() as ctl:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and listings < 400:
            text = ctl.cmd("CLIENT", "LIST").decode()
            got = [int(m) for m in re.findall(r"(?m)^id=(\d+) ", text)]
            for i in ids:
                if got.count(i) != 1:
                    stop.set()
                    K.fail("CLIENT LIST shows client %d %d times" % (i, got.count(i)))
            K.check(len(got) == len(set(got)), "no client listed twice")
            listings += 1
        # A client killed by id right after it moved.
        for rnd in range(20):
            c = conn_on(srv, 0)
            cid = client_id(c)
            c.send(b"".join(K.encode("GET", hot) for _ in range(STREAK + 1)))
            K.check(ctl.cmd("CLIENT", "KILL", "ID", cid) == 1, "CLIENT KILL ID finds the client")
            closed = False
            try:
                for _ in range(STREAK + 3):
                    c.read_reply()
            except (K.ConnectionClosed, ConnectionResetError):
                closed = True
            K.check(closed, "the killed client is closed")
            c.close()
    stop.set()
    t.join(30)
    K.check(not t.is_alive() and not errs, "churning clients: %r" % errs[:2])
    K.check(churned[0] > 0, "clients churned")
    for c in steady:
        c.close()
    K.log("CLIENT LIST x%d with %d clients moving meanwhile; 20 kills by id" % (listings, churned[0]))


def main():
    K.require_kevy()
    with K.kevy("--threads", "2") as srv:
        check_hot_key(srv)
        check_deep_pipeline(srv)
        check_half_close(srv)
        check_what_never_moves(srv)
        check_redirect_to_moving(srv)
        check_cooldown(srv)
        check_list_and_kill(srv)
        with srv.conn() as c:
            K.check(stat(c, "kevy_migrated_connections") > 0, "moves counted")
        srv.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
