#!/usr/bin/env python3
"""bench/zipf_hits.py - the hit ratio of a cache under a memory limit: a
cache-aside load (GET key; on a miss, SET key value) with keys drawn from a
Zipf-like distribution, against one server.  Used by bench/evict.sh, which
runs it against redis-server and kevy-server with the same limit and policy.

Keys: "zipf:<rank>", rank in 1..N with P(rank <= k) = ln(k+1)/ln(N+1) (the
continuous Zipf law with exponent 1: a few keys are very hot, most are
cold).  Values: VALUE_BYTES bytes.  The stream is seeded, so both servers
see the same keys in the same order.  A warm-up of WARM operations fills
the cache; the hit ratio is counted over the next OPS operations.

Usage: zipf_hits.py PORT [--keys N] [--ops OPS] [--warm WARM]
                         [--value-bytes B] [--batch K] [--seed S]
Prints one line: "hits H of OPS (ratio R), SETs S, seconds T".

Plain sockets, pipelined in batches of K GETs (then the misses' SETs as one
batch), so a Python client reaches a few hundred thousand operations per
second; the ratio, not the speed, is what this measures.
"""
import argparse
import math
import random
import socket
import sys
import time


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos:i]
                self.pos = i + 2
                return line
            self._more()

    def _more(self):
        if self.pos:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        d = self.s.recv(1 << 20)
        if not d:
            raise ConnectionError("server closed the connection")
        self.buf += d

    def reply(self):
        """One reply: bytes for a bulk, None for a null, a str for a status,
        raises on an error."""
        line = self._line()
        t = line[:1]
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._more()
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return v
        if t == b"+":
            return line[1:].decode()
        if t == b"-":
            raise RuntimeError(line.decode("utf-8", "replace"))
        return line

    def send(self, data):
        self.s.sendall(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--keys", type=int, default=5000000)
    ap.add_argument("--ops", type=int, default=1000000)
    ap.add_argument("--warm", type=int, default=1000000)
    ap.add_argument("--value-bytes", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    log_n = math.log(a.keys + 1)
    value = b"v" * a.value_bytes
    c = Conn(a.port)
    hits = sets = counted = 0
    t0 = time.monotonic()
    done = 0
    total = a.warm + a.ops
    while done < total:
        n = min(a.batch, total - done)
        keys = [b"zipf:%d" % int(math.exp(rng.random() * log_n)) for _ in range(n)]
        c.send(b"".join(encode(b"GET", k) for k in keys))
        misses = []
        for i, k in enumerate(keys):
            v = c.reply()
            if done + i >= a.warm:
                counted += 1
                hits += v is not None
            if v is None:
                misses.append(k)
        if misses:
            c.send(b"".join(encode(b"SET", k, value) for k in misses))
            for _ in misses:
                c.reply()
            sets += len(misses)
        done += n
    dt = time.monotonic() - t0
    print("hits %d of %d (ratio %.4f), SETs %d, seconds %.1f" %
          (hits, counted, hits / max(counted, 1), sets, dt))


if __name__ == "__main__":
    sys.exit(main())
