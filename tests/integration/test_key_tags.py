#!/usr/bin/env python3
"""What a read waits for (docs/durability.md, "What a read waits for").

A unit across shards whose part on one shard cannot be written yet (an
injected ENOSPC on that shard's segment only, `write@kevy-s1-g`: it retries
every 100 ms) is not stable, and recovery
would drop it whole.  On the other shard, whose part is written:

- a GET of the unit's key there is held until the unit is stable (it read
  a value a crash could still take back), and then answers the new value;
- a GET of a key no pending record changed answers at once, with its value:
  it is not held behind another key's unit (the key tags);
- so is an MGET of such keys, and a GET that a client on the other shard
  forwards, and a SET of such a key (its own record is written there),
  while a SET of the unit's key waits for the unit;
- what a write waits for follows what recovery counts as written, not only
  what the store changed: a BITOP that reads the unit's key waits, and so
  does a later SET of one of its source keys (its record names the source,
  so recovery would drop the SET with it); a MOVE (logged as touching every
  key) waits, and so does every later write on that shard;
- commands that read no key (PING, INFO) are answered at once.

Then the failpoint is cleared, the retry writes the part, and the unit's
MSET and the held GET are answered.  Run under each fsync policy.

And with four shards, a unit whose parts are all written still waits for
an earlier unit of its home that is not stable (check_home_order).

Every server listens on loopback on a port it picks; every wait is bounded.
"""
import json
import os
import time

import aoflib as A
import kevylib as K


def keys_by_shard(c, n, per_shard):
    """per_shard keys on each shard, each set to "old"."""
    return A.keys_by_shard(c, n, "kt", per_shard, "old")


def held(conn, seconds):
    """True when conn's pending reply does not arrive within seconds (the
    caller's check then fails with its own message; the reply is logged)."""
    try:
        r = conn.read_reply(timeout=seconds)
    except Exception:
        return True
    K.log("a reply that should wait arrived: %r" % r)
    return False


def answered(port, *cmd):
    """cmd's reply on a new connection, which must come within 5 s."""
    with K.RawConn(port) as r:
        r.send(K.encode(*cmd))
        try:
            return K.parse(r.read_reply(timeout=5))
        except K.TestFailure:
            raise
        except Exception:
            raise K.TestFailure("%r was held: no reply within 5 s" % (cmd,))


def check_policy(policy):
    with K.kevy("--threads", "2", "--appendfsync", policy, "--aof-preallocate", "0",
                "--aof-direct-io", "no") as srv:
        with K.RawConn(srv.port) as c:
            keys = keys_by_shard(c, 2, 6)
            # Quiet: every record so far written (and fsynced, for always).
            for _ in range(200):
                lines = A.shard_lines(A.info(c), 2)
                if all(l["last_lsn"] == l["durable_lsn"] for l in lines):
                    break
                time.sleep(0.02)
            # Shard 1's segment refuses every write from now on (it retries
            # every 100 ms); shard 0's writes go through.
            x, y = 0, 1
            K.check(c.cmd("DEBUG", "FAILPOINTS", "write@kevy-s1-g:1+=enospc") == "OK",
                    "failpoint set")
            w = K.RawConn(srv.port)
            w.send(K.encode("MSET", keys[x][0], "new", keys[y][0], "new"))
            retrying = []
            for _ in range(200):
                lines = A.shard_lines(A.info(c), 2)
                retrying = [i for i in range(2) if lines[i]["status"] == "retrying"]
                if retrying:
                    break
                time.sleep(0.02)
            K.check(retrying == [y], "shard %d retries its part: %r" % (y, retrying))
            K.check(held(w, 0.5), "the MSET waits for its part on shard %d" % y)

            # The unit's key on the shard whose part is written: held.
            r_unit = K.RawConn(srv.port)
            r_unit.send(K.encode("GET", keys[x][0]))
            K.check(held(r_unit, 1.0), "a GET of the unit's key on shard %d waits for the "
                    "unit (%s)" % (x, policy))
            # Other keys there: answered at once, from new connections (some
            # land on the other shard and forward).
            for k in keys[x][2:4]:
                for _ in range(4):
                    K.check(answered(srv.port, "GET", k) == b"old",
                            "GET of an unrelated key on shard %d (%s)" % (x, policy))
            K.check(answered(srv.port, "MGET", *keys[x][2:4]) == [b"old"] * 2,
                    "MGET of unrelated keys on shard %d (%s)" % (x, policy))
            # So is a write of an unrelated key (its own record is written
            # there), while a write of the unit's key waits for the unit.
            K.check(answered(srv.port, "SET", keys[x][1], "mine") == "OK",
                    "SET of an unrelated key on shard %d answered (%s)" % (x, policy))
            K.check(answered(srv.port, "GET", keys[x][1]) == b"mine", "and read back")
            w_unit = K.RawConn(srv.port)
            w_unit.send(K.encode("SET", keys[x][0], "later"))
            K.check(held(w_unit, 1.0), "a SET of the unit's key on shard %d waits for the "
                    "unit (%s)" % (x, policy))
            # A BITOP that reads the unit's key waits for it; its record
            # names its sources, so recovery would drop a later write of
            # a source with it: that SET waits too, though the store did
            # not change the source.
            bitop = K.RawConn(srv.port)
            bitop.send(K.encode("BITOP", "OR", keys[x][4], keys[x][0], keys[x][5]))
            K.check(held(bitop, 1.0), "a BITOP reading the unit's key waits (%s)" % policy)
            w_src = K.RawConn(srv.port)
            w_src.send(K.encode("SET", keys[x][5], "src"))
            K.check(held(w_src, 1.0), "a SET of a key the held BITOP's record names waits "
                    "(%s)" % policy)
            # MOVE is logged as touching every key of its shard: it waits
            # for the unit, and every later write there waits for it.
            move = K.RawConn(srv.port)
            move.send(K.encode("MOVE", keys[x][2], "3"))
            K.check(held(move, 1.0), "a MOVE on shard %d waits for the unit (%s)" % (x, policy))
            w_after = K.RawConn(srv.port)
            w_after.send(K.encode("SET", keys[x][3], "aftermove"))
            K.check(held(w_after, 1.0), "a SET after the held MOVE waits for it (%s)" % policy)
            # Nor are commands that read no key (INFO, PING) held.
            K.check(answered(srv.port, "PING") == "PONG", "PING answered")
            K.check(b"aof_write_state:retrying" in answered(srv.port, "INFO", "persistence"),
                    "INFO answered, and says a shard retries")

            final_keys = [keys[x][0], keys[y][0], keys[x][1], keys[x][2], keys[x][3],
                          keys[x][4], keys[x][5]]
            # BITOP ran after the held SET of the unit's key: "later" | "old".
            ored = bytes(a | b for a, b in zip(b"later", b"old\0\0"))
            final = [b"later", b"new", b"mine", None, b"aftermove", ored, b"src"]
            K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
            K.check(K.parse(w.read_reply(timeout=20)) == "OK", "the MSET completes")
            K.check(K.parse(r_unit.read_reply(timeout=20)) == b"new",
                    "the held GET answers the unit's value")
            K.check(K.parse(w_unit.read_reply(timeout=20)) == "OK", "the held SET completes")
            K.check(K.parse(bitop.read_reply(timeout=20)) == 5, "the held BITOP completes")
            K.check(K.parse(w_src.read_reply(timeout=20)) == "OK", "the held SET of its source")
            K.check(K.parse(move.read_reply(timeout=20)) == 1, "the held MOVE completes")
            K.check(K.parse(w_after.read_reply(timeout=20)) == "OK", "the SET after it")
            with K.RawConn(srv.port) as r:
                K.check(r.cmd("MGET", *final_keys) == final, "the unit, then the later writes")
            for conn in (w, r_unit, w_unit, bitop, w_src, move, w_after):
                conn.close()
        # Everything acknowledged is in the files: kill -9, start again.
        A.kill9(srv)
        A.restart(srv)
        with K.RawConn(srv.port) as r:
            K.check(r.cmd("MGET", *final_keys) == final,
                    "after kill -9 and a restart (%s)" % policy)
            K.check(r.cmd("SELECT", "3") == "OK" and r.cmd("GET", keys[x][2]) == b"old",
                    "the moved key is in database 3 (%s)" % policy)
        srv.check_clean_exit()


def last_record(srv, shard):
    """The last record of shard's current segment, from kevy-dump --json."""
    segs = sorted(f for f in os.listdir(srv.dir)
                  if f.startswith("kevy-s%d-g" % shard) and f.endswith(".aof"))
    K.check(segs, "shard %d has a segment" % shard)
    rc, out, err = A.tool("kevy-dump", "--json", os.path.join(srv.dir, segs[-1]))
    K.check(rc == 0, "kevy-dump read the segment: %s" % err)
    return json.loads(out.strip().splitlines()[-1])


def quiet(c):
    """Wait until every record so far is fsynced."""
    K.check(A.wait_for(lambda: all(l["last_lsn"] == l["durable_lsn"]
                                   for l in A.shard_lines(A.info(c), 2)), 10),
            "every record fsynced")


def check_clean_reads():
    """Under always, a txn that changed at most one shard and read only keys
    whose records are fsynced and stable elsewhere is no unit (docs/
    durability.md, "Clean reads"): a DEL that deletes keys of one shard only
    is a plain record there, and an MGET or EXISTS of such keys is not held
    by other keys' units.  One that read a key of a unit that is not stable
    still waits for it."""
    with K.kevy("--threads", "2", "--appendfsync", "always", "--aof-preallocate", "0",
                "--aof-direct-io", "no") as srv:
        with K.RawConn(srv.port) as c:
            keys = keys_by_shard(c, 2, 8)
            a, b = keys[0], keys[1]
            K.check(c.cmd("DEL", a[6], b[1], b[6]) == 3, "keys of both shards deleted")
            quiet(c)
            # A DEL of keys on both shards that finds keys on shard 0 only:
            # a plain record of shard 0; one that finds keys on both: a unit.
            K.check(c.cmd("DEL", a[5], b[1]) == 1, "DEL of a key of each shard, one missing")
            rec = last_record(srv, 0)
            K.check(rec["unit"] is None and rec["commands"] == [["DEL", a[5]]],
                    "a plain record of shard 0: %r" % rec)
            K.check(c.cmd("DEL", a[7], b[7]) == 2, "DEL of a key of each shard")
            rec = last_record(srv, 0)
            K.check(rec["unit"] is not None and rec["commands"] == [["DEL", a[7]]],
                    "a unit's part: %r" % rec)
            quiet(c)

            # A unit whose part on shard 1 cannot be written (as in
            # check_policy): its part on shard 0 is written, not stable.
            K.check(c.cmd("DEBUG", "FAILPOINTS", "write@kevy-s1-g:1+=enospc") == "OK",
                    "failpoint set")
            w = K.RawConn(srv.port)
            w.send(K.encode("MSET", a[0], "new", b[0], "new"))
            K.check(A.wait_for(lambda: A.shard_lines(A.info(c), 2)[1]["status"] == "retrying",
                               10), "shard 1 retries its part")
            K.check(held(w, 0.5), "the MSET waits for its part on shard 1")
            # Keys that no pending record names, on both shards: answered.
            # (Before, each shard's part of the reply waited for its whole
            # watermark: shard 0's is behind the unit.)
            for _ in range(4):
                K.check(answered(srv.port, "MGET", a[1], b[2]) == [b"old", b"old"],
                        "MGET of clean keys on both shards answered")
                K.check(answered(srv.port, "EXISTS", a[6], b[2]) == 1,
                        "EXISTS of clean keys, one missing, answered")
            # The unit's key on shard 0: held until the unit is stable.
            m = K.RawConn(srv.port)
            m.send(K.encode("MGET", a[0], b[2]))
            K.check(held(m, 1.0), "an MGET of the unit's key waits")

            K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
            K.check(K.parse(w.read_reply(timeout=20)) == "OK", "the MSET completes")
            K.check(K.parse(m.read_reply(timeout=20)) == [b"new", b"old"],
                    "the MGET answers the unit's value")
            for conn in (w, m):
                conn.close()
            final_keys = a + b
            final = [b"new"] + [b"old"] * 4 + [None, None, None] + \
                    [b"new", None] + [b"old"] * 4 + [None, None]
            K.check(c.cmd("MGET", *final_keys) == final, "every reply's effect")
        A.kill9(srv)
        A.restart(srv)
        with K.RawConn(srv.port) as r:
            K.check(r.cmd("MGET", *final_keys) == final, "after kill -9 and a restart")
        srv.check_clean_exit()


def check_clean_failed():
    """A shard whose AOF failed for good (a failed fsync) is never judged
    clean: a DEL over it and a healthy shard is refused with MISCONF and
    changes nothing, the write whose fsync failed is not acknowledged, and
    every acknowledged value is there after kill -9."""
    with K.kevy("--threads", "2", "--appendfsync", "always", "--aof-preallocate", "0",
                "--aof-direct-io", "no") as srv:
        with K.RawConn(srv.port) as c:
            keys = keys_by_shard(c, 2, 3)
            a, b = keys[0], keys[1]
            K.check(c.cmd("DEL", b[1]) == 1, "a key of shard 1 deleted")
            quiet(c)
            K.check(c.cmd("DEBUG", "FAILPOINTS", "fsync@kevy-s1-g:1+=eio") == "OK",
                    "failpoint set")
            r = answered(srv.port, "SET", b[0], "lost")
            K.check(isinstance(r, K.RespError) and r.msg.startswith(A.MISCONF),
                    "the SET whose fsync failed is not acknowledged: %r" % (r,))
            K.check(A.wait_for(lambda: A.shard_lines(A.info(c), 2)[1]["status"] == "failed",
                               10), "shard 1's AOF failed")
            for _ in range(4):
                r = answered(srv.port, "DEL", a[0], b[1])
                K.check(isinstance(r, K.RespError) and r.msg.startswith(A.MISCONF),
                        "DEL over the failed shard refused: %r" % (r,))
            K.check(answered(srv.port, "SET", a[1], "new") == "OK",
                    "a write on the healthy shard goes on")
            K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
        A.kill9(srv)
        A.restart(srv)
        with K.RawConn(srv.port) as r:
            # The SET that was never acknowledged may be there or not (its
            # bytes reached the page cache; only the fsync failed).
            got = r.cmd("MGET", a[0], a[1], b[0], b[1])
            K.check(got[:2] == [b"old", b"new"] and got[2] in (b"old", b"lost") and
                    got[3] is None,
                    "after kill -9: the refused DEL changed nothing and the "
                    "acknowledged SET is there: %r" % (got,))
        srv.check_clean_exit()


def check_home_order(policy):
    """A unit is stable only after the units its home ran before it.

    Four shards; shard 1's segment refuses writes.  From one home (shard
    0), U0 = MSET b{1} c{2} cannot be made durable on shard 1; then U1 =
    MSET c{2} d{3} has every part written and acknowledged (a participant
    acknowledges a part once written when only units of the same home are
    unstable before it there: gate.c), and the home has no part of it whose
    watermark would hold its reply.  U1 changed a key U0 changed, so a
    recovery that drops U0 drops U1: its reply must wait until U0 is
    stable, and both must be whole after kill -9."""
    with K.kevy("--threads", "4", "--appendfsync", policy, "--aof-preallocate", "0",
                "--aof-direct-io", "no") as srv:
        with K.RawConn(srv.port) as c:
            keys = keys_by_shard(c, 4, 1)
            b, cc, d = keys[1][0], keys[2][0], keys[3][0]
            for _ in range(200):
                lines = A.shard_lines(A.info(c), 4)
                if all(l["last_lsn"] == l["durable_lsn"] for l in lines):
                    break
                time.sleep(0.02)
            K.check(c.cmd("DEBUG", "FAILPOINTS", "write@kevy-s1-g:1+=enospc") == "OK",
                    "failpoint set")
            w0 = A.conn_on_shard(srv, 0)
            w1 = A.conn_on_shard(srv, 0)
            w0.send(K.encode("MSET", b, "u0", cc, "u0"))
            K.check(held(w0, 0.5), "U0 waits for its part on shard 1 (%s)" % policy)
            w1.send(K.encode("MSET", cc, "u1", d, "u1"))
            K.check(held(w1, 1.0), "U1, after U0 from the same home and changing one of "
                    "its keys, waits for U0 (%s)" % policy)
            K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoint cleared")
            K.check(K.parse(w0.read_reply(timeout=20)) == "OK", "U0 completes")
            K.check(K.parse(w1.read_reply(timeout=20)) == "OK", "U1 completes")
            w0.close()
            w1.close()
            K.check(c.cmd("MGET", b, cc, d) == [b"u0", b"u1", b"u1"], "U0 then U1")
        A.kill9(srv)
        A.restart(srv)
        with K.RawConn(srv.port) as r:
            K.check(r.cmd("MGET", b, cc, d) == [b"u0", b"u1", b"u1"],
                    "both units after kill -9 and a restart (%s)" % policy)
        srv.check_clean_exit()


def main():
    if K.target() == "redis":
        K.log("KEVY_TARGET=redis: kevy's own durability rules; skipped")
        return
    for policy in ("everysec", "always"):
        check_policy(policy)
        check_home_order(policy)
    check_clean_reads()
    check_clean_failed()
    K.log("ok: reads wait for the units of the keys they read, not for others'")


if __name__ == "__main__":
    K.run_main(main)
