#!/usr/bin/python3
"""Input backpressure: a client that pipelines faster than its commands run
waits in its socket, not in kevy's memory (shard.c, CONN_INPUT_HIGH).

Checks, on --threads 2:
  - a 40 MB burst of SETs sent in one go while its replies are read: every
    reply is right and in order, and CLIENT LIST (sampled from another
    connection during the burst) never shows that client's query buffer
    above 8 MB (it would approach 40 MB if kevy read everything first);
  - a request larger than the high mark (a 3 MB value, then a 20 MB one)
    is still read whole and runs;
  - a client that half-closes after a 4 MB burst gets every reply, then
    is closed; one that closes with replies unread is gone;
  - a malformed request behind a 4 MB burst: every earlier reply, Redis's
    protocol error, the close; a request past client-query-buffer-limit
    closes its client; nothing answered is lost;
  - CLIENT LIST's qbuf + qbuf-free is the real query buffer: grown by a
    400 KB request, cut back to the recent peak while small commands
    follow, freed after 2 s idle (Redis's clientsCronResizeQueryBuffer).
Every loop is bounded in count and time.
"""

import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

BURST = 40 << 20
QBUF_MAX = 8 << 20


def qbuf_of(ctl, cid):
    text = ctl.cmd("CLIENT", "LIST").decode()
    m = re.search(r"(?m)^id=%d .*? qbuf=(\d+)" % cid, text)
    return int(m.group(1)) if m else None


def check_burst(srv):
    c = srv.conn(timeout=120)
    cid = int(c.cmd("CLIENT", "ID"))
    one = K.encode("SET", "bp:key", "v" * 20)
    n = BURST // len(one)
    samples = []
    done = threading.Event()

    def sampler():
        with srv.conn() as ctl:
            deadline = time.monotonic() + 120
            while not done.is_set() and time.monotonic() < deadline:
                q = qbuf_of(ctl, cid)
                if q is not None:
                    samples.append(q)
                time.sleep(0.005)
    s = threading.Thread(target=sampler)
    s.start()
    finish = c.send_in_background(one * n)
    for i in range(n):
        r = c.read_reply()
        if r != b"+OK\r\n":
            done.set()
            K.fail("reply %d: %r" % (i, r))
    done.set()
    err = finish()
    s.join(60)
    K.check(err is None, "the burst was sent: %r" % err)
    K.check(len(samples) >= 3, "CLIENT LIST sampled during the burst (%d)" % len(samples))
    K.check(max(samples) <= QBUF_MAX, "query buffer stayed under %d bytes: max %d"
            % (QBUF_MAX, max(samples)))
    c.close()
    K.log("burst: %d SETs (%d MB) in order; query buffer at most %d KB over %d samples"
          % (n, BURST >> 20, max(samples) >> 10, len(samples)))


def qbuf_total(ctl, cid):
    text = ctl.cmd("CLIENT", "LIST").decode()
    m = re.search(r"(?m)^id=%d .*? qbuf=(\d+) qbuf-free=(\d+)" % cid, text)
    return int(m.group(1)) + int(m.group(2))


def check_buffer_trimmed(srv):
    with srv.conn() as c, srv.conn() as ctl:
        cid = int(c.cmd("CLIENT", "ID"))
        small = qbuf_total(ctl, cid)
        K.check(small < 4096, "a fresh client's buffer is what it sent: %d" % small)
        K.check(c.call("SET", "bp:q", "A" * 400000) == b"+OK\r\n", "big SET")
        big = qbuf_total(ctl, cid)
        K.check(big > 400000, "the buffer grew for the request: %d" % big)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            c.call("SET", "bp:q", "A" * 100)
            busy = qbuf_total(ctl, cid)
            if busy < big:
                break
            time.sleep(0.02)
        K.check(0 < busy < 4096, "cut to the recent peak while busy: %d" % busy)
        # A buffer under 32 KiB is only trimmed once idle for 2 s.
        K.check(c.call("SET", "bp:q", "A" * 10000) == b"+OK\r\n", "10 KB SET")
        t0 = time.monotonic()
        mid = qbuf_total(ctl, cid)
        K.check(mid > 10000, "the buffer grew for the request: %d" % mid)
        time.sleep(1.0)
        still = qbuf_total(ctl, cid)
        if time.monotonic() - t0 < 1.9:
            K.check(still == mid, "kept while idle under 2 s: %d then %d" % (mid, still))
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            idle = qbuf_total(ctl, cid)
            if idle == 0:
                break
            time.sleep(0.1)
        K.check(idle == 0, "freed after 2 s idle: %d" % idle)
        K.check(time.monotonic() - t0 > 2.0, "not freed before 2 s idle")
        K.check(c.call("STRLEN", "bp:q") == b":10000\r\n", "the client still works")
    K.log("query buffer: %d after 400 KB, %d while busy with small commands; %d after "
          "10 KB, kept 1 s, 0 after 2 s idle" % (big, busy, mid))


def check_big_requests(srv):
    with srv.conn(timeout=60) as c:
        for size in (3 << 20, 20 << 20):
            val = b"x" * size
            c.send(K.encode("SET", "bp:big", val) + K.encode("STRLEN", "bp:big"))
            K.check(c.read_reply() == b"+OK\r\n", "SET of %d bytes" % size)
            K.check(c.read_reply() == b":%d\r\n" % size, "STRLEN %d" % size)
    K.log("requests of 3 MB and 20 MB read whole")


def check_hangup(srv):
    # Half-close after a 4 MB burst: every command runs, every reply
    # arrives, then the server closes.
    c = srv.conn(timeout=60)
    one = K.encode("INCR", "bp:ctr")
    n = (4 << 20) // len(one)
    c.send(one * n)
    c.sock.shutdown(socket.SHUT_WR)
    c.expect_incr_replies_then_close(n)
    c.close()
    # A hard close with replies unread resets the connection (TCP drops
    # what the server had not read yet): the client goes, the server stays.
    c = srv.conn(timeout=60)
    c.send(one * n)
    c.close()
    with srv.conn() as ctl:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n_clients = len(ctl.cmd("CLIENT", "LIST").decode().strip().splitlines())
            if n_clients == 1:
                break
            time.sleep(0.05)
        K.check(n_clients == 1, "the client that hung up is gone (%d listed)" % n_clients)
        got = int(ctl.cmd("GET", "bp:ctr"))
        K.check(n <= got <= 2 * n, "the counter: %d" % got)
    K.log("half-close after a 4 MB burst: %d replies, then closed; a reset client is gone" % n)


def check_bad_input(srv):
    # A malformed request behind a 4 MB burst, read while the client is
    # paused and resumed: every earlier command runs and is answered, then
    # Redis's protocol error, then the close; nothing answered is lost.
    c = srv.conn(timeout=60)
    one = K.encode("INCR", "bp:bad")
    n = (4 << 20) // len(one)
    finish = c.send_in_background(one * n + b"*1\r\n$x\r\n")
    for i in range(n):
        r = c.read_reply()
        if r != b":%d\r\n" % (i + 1):
            K.fail("reply %d before the bad request: %r" % (i, r))
    K.check(c.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n",
            "the bad request gets Redis's protocol error")
    try:
        c.read_reply()
        K.fail("the connection stays open after a protocol error")
    except K.ConnectionClosed:
        pass
    K.check(finish() is None, "the burst was sent")
    c.close()
    # A single request past client-query-buffer-limit is not held back by
    # the pause (it is one partial request): the limit closes the client.
    with srv.conn() as ctl:
        K.check(ctl.call("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n",
                "CONFIG SET client-query-buffer-limit 1mb")
        c = srv.conn(timeout=60)
        K.check(c.call("SET", "bp:kept", "yes") == b"+OK\r\n", "an acknowledged SET")
        closed = False
        try:
            c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nbp:x\r\n$4000000\r\n" + b"y" * (3 << 20))
            c.read_reply()
        except (K.ConnectionClosed, ConnectionResetError, BrokenPipeError):
            closed = True
        K.check(closed, "a request past client-query-buffer-limit closes the client")
        c.close()
        K.check(ctl.call("CONFIG", "SET", "client-query-buffer-limit", "1gb") == b"+OK\r\n",
                "CONFIG SET client-query-buffer-limit 1gb")
        K.check(ctl.call("GET", "bp:kept") == b"$3\r\nyes\r\n", "the acknowledged SET is kept")
        K.check(ctl.call("EXISTS", "bp:x") == b":0\r\n", "the cut request did not run")
        K.check(ctl.call("GET", "bp:bad") == b"$%d\r\n%d\r\n" % (len(str(n)), n),
                "every answered INCR counted")
    K.log("bad input behind a burst: %d replies, then the protocol error and the close; "
          "a request past client-query-buffer-limit closes its client, nothing answered lost" % n)


def main():
    K.require_kevy()
    with K.kevy("--threads", "2", "--appendonly", "no", "--save", "") as srv:
        check_burst(srv)
        check_buffer_trimmed(srv)
        check_big_requests(srv)
        check_hangup(srv)
        check_bad_input(srv)
        srv.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
