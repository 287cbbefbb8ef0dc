#!/usr/bin/python3
"""WAIT numreplicas timeout: counted by the replicas' acknowledgements.

1. Without replicas, against redis-server and kevy (2 shards), replies byte
   for byte: WAIT 0 0 is 0 at once; WAIT 1 200 is 0 after the timeout (it
   waited at least 0.15 s and at most 5 s); its argument errors; inside
   MULTI it answers at once; from a script it is refused (noscript).
2. kevy with a kevy-mirror replica (2 shards): after writes on both shards
   (single keys, a cross-shard MSET, a MULTI/EXEC) WAIT 1 5000 is 1, well
   before the timeout; WAIT 2 300 is 1 after its timeout; WAITAOF 1 1 is
   [1, 1] (kevy-mirror fsyncs before it acknowledges) and WAITAOF 0 2 300
   [1, 1] after its timeout.
3. The count is by acknowledgement, not by connection: with the replica
   stopped (SIGSTOP) a new write's WAIT 1 400 is 0 and WAITAOF 1 1 300
   [1, 0]; once it runs again
   WAIT 1 5000 is 1.
4. REPLICAOF/SLAVEOF/FAILOVER answer as a Redis primary's (compared in 1):
   NO ONE is OK, the port and argument errors; with a replica connected,
   FAILOVER is refused with the reason (a replica is promoted with REPLICAOF
   NO ONE: test_replica.py), FAILOVER TO an unknown target as Redis.
5. min-replicas-to-write (compared in 1 without replicas: writes refused
   with NOREPLICAS, reads served, MULTI's write refused at EXEC, INFO's
   min_slaves_good_slaves, max lag 0 turns it off): with a replica that
   acknowledges, writes go on; stopped for longer than min-replicas-max-lag,
   writes are refused and INFO counts no good replica; running again, writes
   go on.
6. repl-timeout: a replica stopped for longer than it is disconnected
   (INFO, the log says why) and reconnects once it runs again.
7. A client that disconnects while its WAIT 1 0 (no timeout) waits for the
   stopped replica leaves nothing behind: the server keeps serving, and a
   WAIT pending at shutdown does not keep the server from a clean exit.

Environment: KEVY_SERVER (set by CTest).
"""

import os
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402


def mirror_binary():
    return os.path.join(os.path.dirname(os.path.abspath(os.environ["KEVY_SERVER"])), "kevy-mirror")


def timed(c, *args):
    t0 = time.monotonic()
    r = c.call(*args)
    return r, time.monotonic() - t0


def run(port):
    out = []
    with K.RawConn(port) as c:
        c.call("SET", "k", "v")
        out.append(c.call("WAIT", "0", "0"))
        r, took = timed(c, "WAIT", "1", "200")
        out.append(r)
        out.append(0.15 <= took < 5)
        for args in (["x", "1"], ["1", "-1"], ["1", "x"], ["1"], ["1", "2", "3"]):
            out.append(c.call("WAIT", *args))
        out.append(c.call("MULTI"))
        out.append(c.call("WAIT", "1", "0"))
        r, took = timed(c, "EXEC")
        out.append(r)
        out.append(took < 5)
        out.append(c.call("EVAL", "return redis.call('wait', 0, 0)", "0").split(b"script:")[0])
        # A primary's REPLICAOF / FAILOVER answers (no replicas here).
        for args in (["REPLICAOF", "no", "one"], ["SLAVEOF", "NO", "ONE"],
                     ["REPLICAOF", "127.0.0.1", "x"], ["REPLICAOF", "127.0.0.1", "70000"],
                     ["REPLICAOF", "127.0.0.1"], ["FAILOVER"], ["FAILOVER", "ABORT"],
                     ["FAILOVER", "TIMEOUT", "0"], ["FAILOVER", "TIMEOUT", "x"],
                     ["FAILOVER", "BOGUS"], ["FAILOVER", "TO", "h", "x"],
                     ["FAILOVER", "TO", "h", "1", "FORCE"], ["FAILOVER", "FORCE", "FORCE"]):
            out.append(c.call(*args))
        # min-replicas-to-write without replicas: writes refused, reads not.
        out.append(c.call("CONFIG", "SET", "min-replicas-to-write", "1"))
        out.append(c.call("SET", "k", "v2"))
        out.append(c.call("GET", "k"))
        out.append(c.call("MULTI"))
        out.append(c.call("INCR", "n"))
        out.append(c.call("EXEC"))
        info = c.call("INFO", "replication")
        out.append([ln for ln in info.split(b"\r\n") if ln.startswith(b"min_slaves")])
        # Scripts: refused before their first write; a flagged script at
        # its start; a no-writes script runs.
        out.append(c.call("EVAL", "return redis.call('set', KEYS[1], 'b')", "1", "k"))
        out.append(c.call("EVAL", "return redis.pcall('set', KEYS[1], 'b')", "1", "k"))
        out.append(c.call("EVAL", "#!lua\nreturn redis.call('set', KEYS[1], 'b')", "1", "k"))
        out.append(c.call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                          "1", "k"))
        out.append(c.call("CONFIG", "SET", "min-slaves-max-lag", "0"))
        out.append(c.call("SET", "k", "v3"))
        out.append(c.call("CONFIG", "SET", "min-replicas-max-lag", "10", "min-replicas-to-write",
                          "0"))
        out.append(c.call("SET", "k", "v4"))
        # A waiting WAIT is a blocked client: CLIENT LIST's flag, INFO's
        # blocked_clients, and CLIENT UNBLOCK (as a timeout, or an error);
        # the client's next command runs only after it.
        with K.RawConn(port) as c2:
            wid = K.parse(c.call("CLIENT", "ID"))
            for how in ([], ["ERROR"]):
                c.send(K.encode("WAIT", "1", "0") + K.encode("PING"))
                time.sleep(0.2)
                info = c2.call("INFO", "clients")
                out.append([ln for ln in info.split(b"\r\n") if ln.startswith(b"blocked_clients")])
                out.append(b"flags=b" in c2.call("CLIENT", "LIST", "ID", str(wid)))
                out.append(c2.call("CLIENT", "UNBLOCK", str(wid), *how))
                out.append(c.read_reply())
                out.append(c.read_reply())
            out.append(c2.call("CLIENT", "UNBLOCK", str(wid)))
        # Queued while the rule was off, run while it is on: refused whole.
        with K.RawConn(port) as c2:
            out.append(c.call("MULTI"))
            out.append(c.call("SET", "k", "q"))
            out.append(c.call("GET", "k"))
            out.append(c2.call("CONFIG", "SET", "min-replicas-to-write", "1"))
            out.append(c.call("EXEC"))
            out.append(c2.call("CONFIG", "SET", "min-replicas-to-write", "0"))
            out.append(c.call("GET", "k"))
    return out


LABELS = ["WAIT 0 0", "WAIT 1 200", "waited the timeout", "numreplicas not int",
          "negative timeout", "timeout not int", "arity 2", "arity 4", "MULTI", "queued",
          "EXEC", "EXEC at once", "from a script", "REPLICAOF NO ONE", "SLAVEOF NO ONE",
          "REPLICAOF bad port", "REPLICAOF port range", "REPLICAOF arity", "FAILOVER",
          "FAILOVER ABORT", "FAILOVER TIMEOUT 0", "FAILOVER TIMEOUT x", "FAILOVER BOGUS",
          "FAILOVER TO bad port", "FAILOVER FORCE", "FAILOVER FORCE twice",
          "min-replicas-to-write 1", "SET refused", "GET served", "MULTI", "INCR queued",
          "EXEC", "INFO min_slaves_good_slaves", "script write", "script pcall write",
          "flagged script", "no-writes script", "max lag 0", "SET with the rule off",
          "rule off", "SET", "blocked_clients", "CLIENT LIST b", "UNBLOCK", "WAIT's count",
          "PING after", "blocked_clients (ERROR)", "CLIENT LIST b (ERROR)", "UNBLOCK ERROR",
          "WAIT's error", "PING after (ERROR)", "UNBLOCK when not blocked", "MULTI 2", "SET queued", "GET queued", "rule on",
          "EXEC refused whole", "rule off again", "GET unchanged"]


def wait_synced(log_path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            if b"full sync done" in f.read():
                return True
        time.sleep(0.05)
    return False


def check_with_replica():
    with K.kevy("--threads", "2") as srv:
        mdir = os.path.join(srv.tmpdir, "mirror")
        os.mkdir(mdir)
        log_path = os.path.join(srv.tmpdir, "mirror.log")
        logf = open(log_path, "ab")
        mir = subprocess.Popen([mirror_binary(), "--host", "127.0.0.1", "--port", str(srv.port),
                                "--dir", mdir, "--threads", "2", "--timeout", "30"],
                               stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        try:
            K.check(wait_synced(log_path), "kevy-mirror synced")
            with srv.conn() as c:
                for i in range(20):
                    c.call("SET", "key:%d" % i, "v%d" % i)
                c.call("MSET", "a", "1", "b", "2", "c", "3", "d", "4")
                c.call("MULTI")
                c.call("INCR", "x")
                c.call("LPUSH", "y", "1")
                c.call("EXEC")
                r, took = timed(c, "WAIT", "1", "5000")
                K.check(r == b":1\r\n" and took < 4.5, "WAIT 1 with a replica: %r in %.2fs" % (r, took))
                r, took = timed(c, "WAIT", "2", "300")
                K.check(r == b":1\r\n" and 0.25 <= took < 5, "WAIT 2 300: %r in %.2fs" % (r, took))
                # WAITAOF: kevy-mirror fsyncs before it acknowledges.
                c.call("SET", "aof", "1")
                r, took = timed(c, "WAITAOF", "1", "1", "5000")
                K.check(r == b"*2\r\n:1\r\n:1\r\n" and took < 4.5,
                        "WAITAOF 1 1 with a replica: %r in %.2fs" % (r, took))
                r, took = timed(c, "WAITAOF", "0", "2", "300")
                K.check(r == b"*2\r\n:1\r\n:1\r\n" and 0.25 <= took < 5,
                        "WAITAOF 0 2 300: %r in %.2fs" % (r, took))
                # min-replicas-to-write 1 with a good replica: writes go on.
                K.check(c.call("CONFIG", "SET", "min-replicas-to-write", "1",
                               "min-replicas-max-lag", "2") == b"+OK\r\n", "min-replicas")
                K.check(c.call("SET", "mr", "1") == b"+OK\r\n", "SET with a good replica")
                # A long repl-ping-replica-period: the primary pings a quiet
                # link every 30 s, but the replica acknowledges every second
                # on its own, so its lag stays under min-replicas-max-lag.
                K.check(c.call("CONFIG", "SET", "repl-ping-slave-period", "30") == b"+OK\r\n",
                        "repl-ping-replica-period (by its alias)")
                K.check(c.call("CONFIG", "GET", "repl-ping-replica-period") ==
                        b"*2\r\n$24\r\nrepl-ping-replica-period\r\n$2\r\n30\r\n", "CONFIG GET")
                time.sleep(5.5)
                info = K.parse(c.call("INFO", "replication")).decode()
                lag = [int(f.split("=")[1]) for ln in info.split("\r\n") if ln.startswith("slave0:")
                       for f in ln.split(",") if f.startswith("lag=")]
                K.check(lag and lag[0] <= 2, "lag after 5.5 s of a quiet link: %r" % info)
                K.check(c.call("SET", "mr", "2") == b"+OK\r\n", "SET after a quiet link")
                K.check(c.call("CONFIG", "SET", "repl-ping-replica-period", "10") == b"+OK\r\n",
                        "back to 10")
                # Stopped: it cannot acknowledge the new write.
                mir.send_signal(signal.SIGSTOP)
                c.call("SET", "after-stop", "1")
                r, took = timed(c, "WAIT", "1", "400")
                K.check(r == b":0\r\n" and 0.35 <= took < 5,
                        "WAIT 1 with the replica stopped: %r in %.2fs" % (r, took))
                r, took = timed(c, "WAITAOF", "1", "1", "300")
                K.check(r == b"*2\r\n:1\r\n:0\r\n" and 0.25 <= took < 5,
                        "WAITAOF 1 1 with the replica stopped: %r in %.2fs" % (r, took))
                # Silent for more than min-replicas-max-lag: writes refused.
                r = b""
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    r = c.call("SET", "mr", "2")
                    if r.startswith(b"-NOREPLICAS"):
                        break
                    time.sleep(0.2)
                K.check(r == b"-NOREPLICAS Not enough good replicas to write.\r\n",
                        "SET with the only replica silent: %r" % r)
                K.check(b"min_slaves_good_slaves:0" in c.call("INFO", "replication"),
                        "INFO counts no good replica")
                r = c.call("GET", "mr")
                K.check(r in (b"$1\r\n1\r\n", b"$1\r\n2\r\n"), "reads go on: %r" % r)
                # A client gone while waiting (no timeout).
                gone = socket.create_connection(("127.0.0.1", srv.port))
                gone.sendall(K.encode("WAIT", "1", "0"))
                time.sleep(0.2)
                gone.close()
                mir.send_signal(signal.SIGCONT)
                r, took = timed(c, "WAIT", "1", "5000")
                K.check(r == b":1\r\n" and took < 4.5,
                        "WAIT 1 once the replica runs again: %r in %.2fs" % (r, took))
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    r = c.call("SET", "mr", "3")
                    if r == b"+OK\r\n":
                        break
                    time.sleep(0.2)
                K.check(r == b"+OK\r\n", "writes again once the replica acknowledges: %r" % r)
                c.call("CONFIG", "SET", "min-replicas-to-write", "0")
                K.check(c.call("PING") == b"+PONG\r\n", "still serving")
                # With a replica connected: FAILOVER (kevy promotes with
                # REPLICAOF NO ONE on the replica) is refused with the reason.
                for args, want in ((["FAILOVER"], b"FAILOVER is not possible"),
                                   (["FAILOVER", "TO", "127.0.0.1", "1"],
                                    b"FAILOVER target HOST and PORT is not a replica"),
                                   (["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
                                    b"requires both a timeout")):
                    r = c.call(*args)
                    K.check(r.startswith(b"-ERR") and want in r, "%s: %r" % (args, r))
            # repl-timeout: a replica silent for longer is disconnected, and
            # comes back once it runs again.
            def slaves():
                with srv.conn() as c3:
                    info = c3.call("INFO", "replication")
                return [ln for ln in info.split(b"\r\n") if ln.startswith(b"connected_slaves")]
            with srv.conn() as c:
                K.check(c.call("CONFIG", "SET", "repl-timeout", "1") == b"+OK\r\n", "repl-timeout")
            def slaves_become(want, timeout):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and slaves() != [want]:
                    time.sleep(0.1)
                return slaves() == [want]
            mir.send_signal(signal.SIGSTOP)
            K.check(slaves_become(b"connected_slaves:0", 15), "a silent replica is disconnected")
            with open(srv.log_path, "rb") as f:
                K.check(b"(repl-timeout): disconnecting it" in f.read(), "the log says why")
            with srv.conn() as c:
                K.check(c.call("CONFIG", "SET", "repl-timeout", "60") == b"+OK\r\n", "back to 60")
            mir.send_signal(signal.SIGCONT)
            K.check(slaves_become(b"connected_slaves:1", 30), "the replica came back")
            # A WAIT pending at shutdown.
            mir.send_signal(signal.SIGSTOP)
            pending = socket.create_connection(("127.0.0.1", srv.port))
            pending.sendall(K.encode("SET", "last", "1") + K.encode("WAIT", "1", "0"))
            time.sleep(0.3)
            srv.check_clean_exit()
            pending.close()
        finally:
            mir.send_signal(signal.SIGCONT)
            mir.terminate()
            mir.wait(20)
            logf.close()


def main():
    K.require_kevy()
    if K.target() == "redis":
        with K.redis() as srv:
            for label, r in zip(LABELS, run(srv.port)):
                K.log("%-20s %r" % (label, r))
        return
    K.require_redis()
    K.compare_with_redis(run, LABELS, kevy_args=("--threads", "2"), what="step")
    check_with_replica()


if __name__ == "__main__":
    K.run_main(main)
