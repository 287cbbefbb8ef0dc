#!/usr/bin/python3
"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: Redis's replies, and atomicity across shards.

1. Differential: fixed sequences (nesting, EXECABORT, runtime errors inside
   EXEC, WATCH broken by a write or by expiry, DISCARD, UNWATCH) sent to
   redis-server and to kevy (4 shards); replies compared byte for byte.
2. Atomic visibility: writers run MULTI / INCR a / INCR b / INCR c / EXEC with
   a, b, c on different shards while readers MGET them; a reader must never see
   them differ.  Bounded by count and time.
3. Optimistic locking: clients loop WATCH n / GET n / MULTI / SET n v+1 / EXEC;
   the final n equals the number of EXECs that succeeded.
4. Clients that disconnect with WATCHes and queued commands leave the server
   healthy (and, under ASan, leak-free at exit).
"""

import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

SEQUENCES = [
    ["EXEC"], ["DISCARD"], ["UNWATCH"],
    ["MULTI", "MULTI", "EXEC"],
    ["MULTI", "WATCH a", "EXEC"],
    ["MULTI", "SET a 1", "FOO bar", "EXEC"],
    ["MULTI", "SET a", "EXEC"],
    ["MULTI", "SET a 1", "INCR a", "SET b x", "INCR b", "MSET c 1 d 2 e 3 f 4",
     "MGET a b c d e f", "DBSIZE", "GET a", "EXEC"],
    ["WATCH a", "SET a 2", "MULTI", "GET a", "EXEC"],
    ["WATCH a", "MULTI", "GET a", "EXEC"],
    ["MULTI", "EXEC"],
    ["MULTI", "PING", "ECHO x", "EXEC"],
    ["WATCH a b c", "MULTI", "DISCARD", "EXEC"],
    ["WATCH x y", "UNWATCH", "SET x 1", "MULTI", "GET x", "EXEC"],
    ["SET k 1", "WATCH k", "MULTI", "INCR k", "EXEC", "GET k"],
    ["WATCH q", "MULTI", "SET q 1", "EXEC"],
    ["WATCH m1 m2", "DEL m1", "MULTI", "SET m2 1", "EXEC"],
    ["WATCH nope", "DEL nope", "MULTI", "SET z 1", "EXEC"],
    ["SET f1 1", "WATCH f1", "FLUSHALL", "MULTI", "PING", "EXEC"],
    ["WATCH f2", "FLUSHALL", "MULTI", "PING", "EXEC"],
    ["MULTI", "RENAME nokey x", "SET y 1", "EXEC"],
    # A container's unknown subcommand or wrong arity is refused when
    # queued, and dooms the EXEC, as any other rejected command does.
    ["MULTI", "CONFIG GET_XX", "SET a 1", "EXEC"],
    ["MULTI", "config get", "EXEC"],
    ["MULTI", "OBJECT freqx k", "CLIENT foo bar", "EXEC"],
    ["CONFIG Get_xx", "COMMAND foo", "OBJECT help x"],
    ["SET r 1 PX 150", "WATCH r"],
    ["__sleep__", "MULTI", "GET r", "EXEC"],
]


def run_sequences(port):
    out = []
    with K.RawConn(port) as c:
        for seq in SEQUENCES:
            replies = []
            for cmd in seq:
                if cmd == "__sleep__":
                    time.sleep(0.3)
                    continue
                replies.append(c.call(*cmd.split(" ")))
            out.append(replies)
    return out


def check_differential():
    K.compare_with_redis(run_sequences, SEQUENCES, what="sequence")


def check_atomic_visibility(srv):
    keys = ["tx:a", "tx:b", "tx:c"]
    # The point is transactions over several shards: prove these keys span
    # more than one (INFO counts itself as a multi-shard command too).
    with srv.conn() as c:
        def multi_count():
            info = K.parse(c.call("INFO", "stats")).decode()
            return int(info.split("kevy_multi_shard_commands:")[1].split()[0])
        before = multi_count()
        c.call("MGET", *keys)
        K.check(multi_count() - before == 2, "the test keys live on several shards")
    deadline = time.monotonic() + 20
    errors, stats = [], {"reads": 0, "execs": 0}
    stop = threading.Event()

    def writer():
        try:
            with K.RawConn(srv.port) as c:
                for _ in range(400):
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    payload = K.encode("MULTI") + b"".join(K.encode("INCR", k) for k in keys) \
                        + K.encode("EXEC")
                    c.send(payload)
                    r = c.read_replies(5)
                    if r[0] != b"+OK\r\n" or not r[4].startswith(b"*3\r\n"):
                        errors.append("EXEC replies %r" % r)
                        return
                    stats["execs"] += 1
        except Exception as e:
            errors.append("writer: %r" % e)

    def reader():
        try:
            with K.RawConn(srv.port) as c:
                while not stop.is_set() and time.monotonic() < deadline:
                    r = K.parse(c.call("MGET", *keys))
                    stats["reads"] += 1
                    if len(set(r)) != 1:
                        errors.append("partial transaction visible: %r" % (r,))
                        return
        except Exception as e:
            errors.append("reader: %r" % e)

    writers = [threading.Thread(target=writer) for _ in range(4)]
    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join(30)
    stop.set()
    for t in readers:
        t.join(30)
    K.check(not errors, "atomic visibility: %s" % errors[:3])
    with srv.conn() as c:
        final = K.parse(c.call("MGET", *keys))
    K.check(len(set(final)) == 1 and int(final[0]) == stats["execs"],
            "every EXEC applied once: %r vs %d EXECs" % (final, stats["execs"]))
    K.log("atomic visibility: %d EXECs, %d reads" % (stats["execs"], stats["reads"]))


def check_optimistic_locking(srv):
    done = {"ok": 0, "aborted": 0}
    lock = threading.Lock()
    errors = []

    def client():
        try:
            with K.RawConn(srv.port) as c:
                for _ in range(150):
                    c.call("WATCH", "opt:n")
                    v = K.parse(c.call("GET", "opt:n"))
                    n = int(v) if v is not None else 0
                    c.send(K.encode("MULTI") + K.encode("SET", "opt:n", n + 1) + K.encode("EXEC"))
                    r = c.read_replies(3)
                    with lock:
                        if r[2] == b"*-1\r\n":
                            done["aborted"] += 1
                        elif r[2] == b"*1\r\n+OK\r\n":
                            done["ok"] += 1
                        else:
                            errors.append("EXEC reply %r" % r[2])
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    K.check(not errors, "optimistic locking: %s" % errors[:3])
    with srv.conn() as c:
        n = int(K.parse(c.call("GET", "opt:n")))
    K.check(n == done["ok"], "counter %d equals successful EXECs %d" % (n, done["ok"]))
    K.log("optimistic locking: %d committed, %d aborted" % (done["ok"], done["aborted"]))


def check_disconnect_cleanup(srv):
    for i in range(50):
        c = K.RawConn(srv.port)
        c.call("WATCH", "dc:%d" % i, "dc:x", "dc:y:%d" % (i % 7))
        if i % 2:
            c.call("MULTI")
            c.call("SET", "dc:%d" % i, "v")
        c.close()
    time.sleep(0.2)
    with srv.conn() as c:
        K.check(c.call("SET", "dc:x", "1") == b"+OK\r\n", "server healthy after disconnects")
        K.check(c.call("EXISTS", "dc:1") == b":0\r\n", "queued commands of a closed client never ran")


def main():
    K.require_kevy()
    K.require_redis()
    check_differential()
    srv = K.kevy("--threads", "4").start()
    try:
        check_atomic_visibility(srv)
        check_optimistic_locking(srv)
        check_disconnect_cleanup(srv)
        srv.check_clean_exit()
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
