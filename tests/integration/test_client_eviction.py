#!/usr/bin/python3
"""maxmemory-clients: client eviction as in Redis 7.0.

1. The setting: bytes with units, or N% of maxmemory; Redis's errors for
   200%, -1% and a word; "0%" reads back as 0 (compared with redis-server).
2. A client whose query buffer grows past the limit (a 4 MB bulk argument
   never finished, limit 2 MB) is closed within a bounded time, and INFO
   counts it in evicted_clients; a small client on the same server keeps
   working (kevy, 2 shards: the hog and the small client wherever the
   kernel puts them).
3. A client with CLIENT NO-EVICT on is never the one closed: the same hog
   stays connected and its command completes.
4. maxmemory-clients 0 turns eviction off: the hog stays.

Environment: KEVY_SERVER (set by CTest); KEVY_TARGET=redis runs 2-4
against redis-server.
"""

import socket
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

BIG = 4 * 1024 * 1024


def setting_calls(port):
    with K.RawConn(port) as c:
        out = []
        for v in ("200%", "-1%", "abc", "10%", "0%", "1mb", "0"):
            out.append(c.call("CONFIG", "SET", "maxmemory-clients", v))
            out.append(c.call("CONFIG", "GET", "maxmemory-clients"))
        out.append(c.call("CONFIG", "SET", "maxmemory", "10000001", "maxmemory-clients", "200%"))
        out.append(c.call("CONFIG", "GET", "maxmemory"))
        return out


def start_hog(port, no_evict=False):
    """A connection holding most of a 4 MB SET in the server's query buffer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if no_evict:
        s.sendall(K.encode("CLIENT", "NO-EVICT", "on"))
        K.check(s.recv(100) == b"+OK\r\n", "CLIENT NO-EVICT on")
    s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nhog\r\n$%d\r\n" % (BIG + 10))
    chunk = b"x" * 65536
    try:
        for _ in range(BIG // len(chunk)):
            s.sendall(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass   # evicted while still sending (Redis checks as the buffer grows)
    return s


def closed_within(s, seconds):
    """True once the server closed s (EOF or reset) within seconds."""
    s.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(4096)
            if data == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def evicted(kv):
    # The test's own probe must not be the client evicted while the hog's
    # memory is still counted (the shard frees it at its turn): it asks for
    # NO-EVICT first, and a probe closed before it could is retried
    # (bounded).
    for _ in range(50):
        try:
            with kv.conn() as c:
                K.check(c.call("CLIENT", "NO-EVICT", "on") == b"+OK\r\n", "probe NO-EVICT")
                for line in K.parse(c.call("INFO", "stats")).decode().split("\r\n"):
                    if line.startswith("evicted_clients:"):
                        return int(line.split(":")[1])
            raise K.TestFailure("INFO stats has no evicted_clients")
        except (K.ConnectionClosed, OSError):
            time.sleep(0.1)
    raise K.TestFailure("every probe was closed before it could read INFO")


def main():
    K.require_kevy()
    if K.target() != "redis":
        K.require_redis()
        K.compare_with_redis(setting_calls, ["SET/GET %d" % i for i in range(16)],
                             kevy_args=("--threads", "2"))
    with K.kevy("--threads", "2") as kv:
        small = kv.conn()
        with kv.conn() as c:
            K.check(c.call("CONFIG", "SET", "maxmemory-clients", "2mb") == b"+OK\r\n", "limit")
        hog = start_hog(kv.port)
        K.check(closed_within(hog, 20), "the 4 MB client was not evicted")
        hog.close()
        K.check(evicted(kv) >= 1, "evicted_clients counts it")
        # The small client may have gone too (shards evict their share of
        # the excess); a new one works.
        small.close()
        # A new client works once the evicted hog's memory is released (a
        # client that connects while it is still counted may be evicted in
        # turn: retried, bounded).
        served = False
        for _ in range(50):
            try:
                with kv.conn() as c:
                    if c.call("PING") == b"+PONG\r\n":
                        K.check(c.call("EXISTS", "hog") == b":0\r\n",
                                "the evicted command never ran")
                        served = True
                        break
            except K.ConnectionClosed:
                pass
            time.sleep(0.1)
        K.check(served, "the server serves new clients")

        # NO-EVICT: the hog is never closed; its command completes.
        hog = start_hog(kv.port, no_evict=True)
        K.check(not closed_within(hog, 2), "a NO-EVICT client was evicted")
        hog.sendall(b"x" * 10 + b"\r\n")
        hog.settimeout(10)
        K.check(hog.recv(100) == b"+OK\r\n", "the NO-EVICT client's SET completes")
        hog.close()

        # Off: nothing is evicted.
        with kv.conn() as c:
            K.check(c.call("CONFIG", "SET", "maxmemory-clients", "0") == b"+OK\r\n", "off")
            before = evicted(kv)
        hog = start_hog(kv.port)
        K.check(not closed_within(hog, 2), "evicted with maxmemory-clients 0")
        hog.close()
        K.check(evicted(kv) == before, "no eviction counted while off")
        kv.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
