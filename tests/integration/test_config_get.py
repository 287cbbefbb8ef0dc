#!/usr/bin/python3
"""CONFIG GET's matching, compared with redis-server, and the hidden
key-load-delay setting.

- A pattern that matches a setting's name and its alias lists both
  (`hash-max-*`, `*ziplist*`), an exact alias is answered under the alias,
  a name asked twice once: the same pairs as redis-server (order aside).
- key-load-delay is hidden as in Redis: CONFIG GET answers it by name, never
  for a pattern; CONFIG SET changes it; and it does what it says: a restart
  with 1000 us per key takes at least 0.25 s to load 500 keys on two
  shards loading in parallel (a lower bound the sleeps guarantee, not a
  performance figure).

Environment: KEVY_SERVER (set by CTest).
"""

import re
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

QUERIES = [["hash-max-*"], ["*ziplist*"], ["hash-max-ziplist-entries"],
           ["maxmemory", "maxmemory"], ["maxmemory-policy", "maxmemory-p*"], ["key-load-delay"],
           ["key-load-*"], ["nosuch"], ["lua-time-limit", "busy-reply-threshold"]]


def pairs(reply):
    items = K.parse(reply)
    return sorted(zip(items[0::2], items[1::2]))


def run(port):
    with K.RawConn(port) as c:
        out = [pairs(c.call("CONFIG", "GET", *q)) for q in QUERIES]
        everything = dict(pairs(c.call("CONFIG", "GET", "*")))
        out.append(b"key-load-delay" in everything)
        out.append(c.call("CONFIG", "SET", "key-load-delay", "-5"))
        out.append(pairs(c.call("CONFIG", "GET", "key-load-delay")))
        out.append(c.call("CONFIG", "SET", "key-load-delay", "0"))
        return out


def main():
    K.require_redis()
    K.require_kevy()
    K.compare_with_redis(run, [" ".join(q) for q in QUERIES] +
                         ["GET * lists it", "SET -5", "GET after SET", "SET 0"],
                         kevy_args=("--threads", "2"))
    srv = K.kevy("--threads", "2", "--appendfsync", "always")
    srv.start()
    try:
        with srv.conn() as c:
            c.send(b"".join(K.encode("SET", "k%d" % i, "v") for i in range(500)))
            c.read_replies(500, timeout=30)
        srv.stop()
        srv.args += ["--key-load-delay", "1000"]
        srv.exit_code = None
        srv.start()
        with srv.conn() as c:
            K.check(c.call("DBSIZE") == b":500\r\n", "every key loaded")
            K.check(pairs(c.call("CONFIG", "GET", "key-load-delay")) ==
                    [(b"key-load-delay", b"1000")], "set from the command line")
        m = re.findall(rb"DB loaded from disk: .* ([0-9.]+) seconds", srv.log_tail(20000))
        # Two shards load in parallel; one of them holds at least 250 keys.
        K.check(m and float(m[-1]) >= 0.25, "500 keys at 1000 us each: %r" % m)
        srv.check_clean_exit()
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
