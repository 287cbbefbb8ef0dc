#!/usr/bin/python3
"""Deep pipelines keep their order across shards.

kevy runs with --threads 4, so consecutive commands of one connection run on
different shards (some forwarded, some local, some multi-shard).  Several
connections at once each send one 10,000-command pipeline in a single burst
(written by a sender thread while the replies are read): SET k_i i / GET k_i
interleaved, INCR on per-connection counters, MGET over keys on several
shards, DEL/EXISTS, PING with a unique message (a command that never leaves
the connection's shard) and CLIENT SETNAME/GETNAME.  Every reply is checked
against the one its position predicts; INCR on a counter shared by all
connections must be strictly increasing within each connection and end at
the total.
"""

import sys
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

NCONN = 6
NCMDS = 10000
COUNTERS = 37


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def build(j):
    """Commands and expected replies for connection j; None = shared INCR."""
    cmds, want = [], []
    counters = [0] * COUNTERS
    live = set()
    i = 0
    while len(cmds) < NCMDS:
        k = "p%d:k%d" % (j, i)
        step = [(("SET", k, i), b"+OK\r\n"), (("GET", k), bulk(i))]
        live.add(k)
        c = i % COUNTERS
        counters[c] += 1
        step.append((("INCR", "c%d:%d" % (j, c)), b":%d\r\n" % counters[c]))
        step.append((("INCR", "shared"), None))
        if i >= 1:
            prev = "p%d:k%d" % (j, i - 1)
            other = "p%d:k%d" % (j, i - 1) if prev in live else None
            step.append((("MGET", k, prev, "nokey:%d" % i),
                         b"*3\r\n" + bulk(i) + (bulk(i - 1) if other else b"$-1\r\n") + b"$-1\r\n"))
        if i % 5 == 4:
            victim = "p%d:k%d" % (j, i - 3)
            step.append((("DEL", victim, "nokey"), b":%d\r\n" % (1 if victim in live else 0)))
            live.discard(victim)
            step.append((("EXISTS", victim, k, k), b":2\r\n"))
        if i % 97 == 0:
            step.append((("PING", "m%d-%d" % (j, i)), bulk("m%d-%d" % (j, i))))
        if i % 499 == 0:
            step.append((("CLIENT", "SETNAME", "c%d-%d" % (j, i)), b"+OK\r\n"))
            step.append((("CLIENT", "GETNAME"), bulk("c%d-%d" % (j, i))))
        if i % 250 == 0:
            step.append((("APPEND", k, "x"), b":%d\r\n" % (len(str(i)) + 1)))
            step.append((("STRLEN", k), b":%d\r\n" % (len(str(i)) + 1)))
            step.append((("SET", k, i), b"+OK\r\n"))
        for cmd, w in step:
            if len(cmds) < NCMDS:
                cmds.append(cmd)
                want.append(w)
        i += 1
    return cmds, want, counters, live


def run_conn(port, j, results):
    cmds, want, counters, live = build(j)
    payload = b"".join(K.encode(*c) for c in cmds)
    conn = K.RawConn(port, timeout=120)
    send_err = []

    def sender():
        try:
            for off in range(0, len(payload), 1 << 16):
                conn.send(payload[off:off + (1 << 16)])
        except OSError as e:
            send_err.append(e)

    t = threading.Thread(target=sender)
    t.start()
    last_shared = 0
    nshared = 0
    err = None
    try:
        deadline = time.monotonic() + 180
        for n, (cmd, w) in enumerate(zip(cmds, want)):
            r = conn.read_reply(timeout=max(1.0, deadline - time.monotonic()))
            if w is None:
                v = K.parse(r)
                if not (isinstance(v, int) and v > last_shared):
                    err = "conn %d reply %d (%s): shared counter %r after %d" % (j, n, cmd, r, last_shared)
                    break
                last_shared = v
                nshared += 1
            elif r != w:
                err = "conn %d reply %d out of order or wrong: command %r expected %r got %r" % (
                    j, n, cmd, w, r)
                break
    except Exception as e:  # noqa: BLE001 - reported by the caller
        err = "conn %d: %r" % (j, e)
    t.join(60)
    conn.close()
    if send_err and not err:
        err = "conn %d send failed: %r" % (j, send_err[0])
    results[j] = (err, nshared, counters, live)


def one_round(s, label):
    results = {}
    threads = [threading.Thread(target=run_conn, args=(s.port, j, results)) for j in range(NCONN)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    K.check(not any(t.is_alive() for t in threads), "%s: connections still running after 240 s" % label)
    dt = time.monotonic() - t0
    errs = [r[0] for r in results.values() if r[0]]
    K.check(not errs, "%s: %s" % (label, "\n".join(errs[:3])))
    total_shared = sum(r[1] for r in results.values())
    with s.conn() as c:
        got = K.parse(c.call("GET", "shared"))
        K.check(got == str(total_shared).encode(), "%s: shared=%r, want %d" % (label, got, total_shared))
        for j, (_e, _n, counters, live) in results.items():
            vals = K.parse(c.call("MGET", *["c%d:%d" % (j, m) for m in range(COUNTERS)]))
            wantv = [str(v).encode() if v else None for v in counters]
            K.check(vals == wantv, "%s: conn %d counters %r, want %r" % (label, j, vals, wantv))
            K.check(K.parse(c.call("EXISTS", *sorted(live))) == len(live), "%s: live keys of conn %d" % (label, j))
    K.log("%s: %d connections x %d pipelined commands in %.2fs" % (label, NCONN, NCMDS, dt))


def main():
    K.require_kevy()
    with K.kevy("--threads", "4") as s:
        one_round(s, "round 1")
        with s.conn() as c:
            K.check(c.call("FLUSHALL") == b"+OK\r\n", "FLUSHALL")
        one_round(s, "round 2 (after FLUSHALL)")
        s.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
