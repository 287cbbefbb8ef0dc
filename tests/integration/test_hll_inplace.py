#!/usr/bin/env python3
"""PFADD on a sparse HLL whose opcodes cover more than 16,384 registers (a
SETBIT padded it with zero bytes, each a ZERO opcode): Redis edits such a
string register by register and answers INVALIDOBJ only when a change needs
the dense form; the registers the earlier elements changed stay changed.
kevy must answer and store the same bytes as redis-server (compared when
redis-server is installed), and keep them across kill -9 (it logs them,
where Redis keeps them in memory only).

Every server listens on loopback on a port it picks; every wait is bounded.
"""
import shutil

import aoflib as A
import kevylib as K

ELEMS = ["e%d" % i for i in range(7000, 11001)]


def scenario(c):
    """The replies and the final bytes."""
    out = [c.call("DEL", "h"), c.call("PFADD", "h", "f", "e2457"),
           c.call("SETBIT", "h", "8191", "0"), c.call("PFADD", "h", *ELEMS),
           c.call("PFCOUNT", "h"), c.call("PFADD", "h"),
           c.call("PFADD", "h", "e2099", "10", "L" * 65, "e1651", "e783")]
    return out, c.call("GET", "h")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's AOF")
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="hll-inplace")
    try:
        srv.start()
        with srv.conn() as c:
            replies, value = scenario(c)
        invalid = b"-INVALIDOBJ Corrupted HLL object detected\r\n"
        K.check(replies[3] == invalid and replies[6] == invalid,
                "PFADD finds the padded HLL corrupt when it turns dense: %r" % replies)
        K.check(value.startswith(b"$3000\r\nHYLL\x01"),
                "the earlier elements' registers stayed (3000 sparse bytes): %r" % value[:40])
        if shutil.which("redis-server"):
            rs = K.redis(name="hll-inplace-r")
            try:
                rs.start()
                with rs.conn() as c:
                    r_replies, r_value = scenario(c)
                K.check(r_replies == replies, "replies as redis-server's: %r vs %r" %
                        (replies, r_replies))
                K.check(r_value == value, "bytes as redis-server's")
                rs.stop()
            finally:
                rs.cleanup()
        else:
            K.log("redis-server not installed: compared with the recorded shape only")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("GET", "h") == value, "the same bytes after kill -9 and restart")
        srv.stop()
        K.log("PFADD on a padded sparse HLL: Redis's replies and bytes, kept across a restart")
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
