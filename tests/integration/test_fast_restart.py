#!/usr/bin/python3
"""A kevy killed with kill -9 and restarted at once comes up (issue 20, 5).

A supervisor or a failover script restarts a dead server immediately.  The
old process's rings hold its listening sockets for a few milliseconds after
it has been reaped, longer when connections were open, so kevy waits (a
bounded time) for an address in use to be released before refusing it.

1. Twenty cycles on one port: start, acknowledge writes under
   `appendfsync always` with connections left open, kill -9, reap, restart
   with no delay.  Every start must come up, and every acknowledged write of
   every earlier cycle must be there.
2. A port a live process listens on is still refused: kevy exits non-zero
   with Redis's "Could not create server TCP listening socket" line, and the
   live listener keeps its port.

Environment: KEVY_SERVER (set by CTest).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

CYCLES = 20


def wait_up(proc, port, timeout):
    """True once a fresh connection answers PING; False if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with K.RawConn(port, timeout=2.0) as c:
                if c.call("PING") == b"+PONG\r\n":
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    return False


def log_tail(path):
    with open(path, "rb") as f:
        return f.read()[-1500:].decode("utf-8", "replace")


def test_restart_at_once(tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    logp = os.path.join(tmp, "server.log")
    port = K.free_port()
    argv = [K.kevy_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
            "--threads", "2", "--appendfsync", "always"]
    acked = []
    for cycle in range(CYCLES):
        with open(logp, "ab") as logf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT)
        try:
            K.check(wait_up(proc, port, K.START_TIMEOUT_S),
                    "cycle %d: the restart did not come up (status %s)\n%s" % (
                        cycle, proc.poll(), log_tail(logp)))
            held = [K.RawConn(port, timeout=10.0) for _ in range(8)]
            if acked:
                r = held[0].cmd("EXISTS", *acked)
                K.check(r == len(acked), "cycle %d: %d of %d acknowledged keys survived" % (
                    cycle, r, len(acked)))
            for i, c in enumerate(held):
                key = "c%d:k%d" % (cycle, i)
                K.check(c.cmd("SET", key, "v%d" % cycle) == "OK", "SET " + key)
                acked.append(key)
                c.send(K.encode("PING"))  # left unread: the kill finds work in flight
        finally:
            proc.kill()
            proc.wait()
        for c in held:
            c.close()
    # The last restart, checked the same way, then a clean stop.
    with open(logp, "ab") as logf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                stderr=subprocess.STDOUT)
    try:
        K.check(wait_up(proc, port, K.START_TIMEOUT_S), "last restart did not come up\n%s" %
                log_tail(logp))
        with K.RawConn(port, timeout=10.0) as c:
            K.check(c.cmd("EXISTS", *acked) == len(acked), "acknowledged keys after %d kills" %
                    CYCLES)
    finally:
        proc.terminate()
        K.check(proc.wait(K.STOP_TIMEOUT_S) == 0, "clean exit after SIGTERM")
    waited = log_tail(logp).count("was released after")
    K.log("%d restarts at once, %d acknowledged keys kept; the last lines %s a wait" % (
        CYCLES, len(acked), "include" if waited else "do not include"))


def test_live_port_refused(tmp):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    data = os.path.join(tmp, "data2")
    os.makedirs(data)
    try:
        t0 = time.monotonic()
        r = subprocess.run([K.kevy_binary(), "--port", str(port), "--bind", "127.0.0.1",
                            "--dir", data, "--threads", "2"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        secs = time.monotonic() - t0
        out = r.stdout.decode("utf-8", "replace")
        K.check(r.returncode != 0, "kevy started on a port a live process holds:\n" + out)
        K.check("Could not create server TCP listening socket 127.0.0.1:%d: Address already "
                "in use" % port in out, "the refusal names the address:\n" + out)
        K.check("waiting up to" in out, "the wait is logged:\n" + out)
        # The live listener still owns the port.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            conn, _ = holder.accept()
            conn.close()
        K.log("live port refused after %.1f s" % secs)
    finally:
        holder.close()


def main():
    K.require_kevy()
    tmp = tempfile.mkdtemp(prefix="kevy-it-restart-")
    try:
        test_restart_at_once(tmp)
        test_live_port_refused(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    K.run_main(main)
