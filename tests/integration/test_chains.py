#!/usr/bin/env python3
"""Chains of txns (src/server/route.c, "chains"; docs/architecture.md): many
clients' multi-shard commands (MSET, MULTI/EXEC over shards) that start
while another txn of the same home is acquiring the same shards run after
it under one hold.  Seen from outside:

- isolation: pipelined MGETs of a group of keys (one per shard of the
  group's set of shards: all of them, a subset, or one) never see
  an MSET or EXEC of that group half applied, while 24 writers pipeline
  MSETs and EXECs over every shard; single-key GETs pipelined beside them
  (paused on a held shard, then run before the next txn takes it) get
  their values;
- chains form (INFO stats kevy_chained_commands > 0), so this exercises
  them and not only single txns;
- durability: under appendfsync always every acknowledged write survives
  kill -9 (each writer owns a group, so its last acknowledged value is
  known), and DEBUG DIGEST after the restart equals the one before;
- appendonly switched off and on while chains run: every reply is +OK (or
  the documented chain error), no MGET sees a half-applied write, and a
  restart after kill -9 finds every group whole;
- one client's pipelined multi-shard commands chain by themselves, a
  single-key command between them waits for them, the replies are in
  order and survive kill -9;
- one client's pipelined MULTI blocks: the next block is queued while the
  EXEC before it waits in a chain, each EXEC runs exactly its own block
  (over both shards, or one: the client's or the other), a rejected
  command dooms only its block, DISCARD and WATCH keep their meaning,
  the EXECs chain, a malformed request behind them gets the protocol
  error after their replies, and everything acknowledged survives
  kill -9;
- chains grow long (up to 256 txns) while nothing else waits for their
  shards, and stay short (32) once single-key commands of other clients
  waited for a keyspace a txn held (INFO kevy_chain_longest,
  kevy_short_chains; a control run without that command keeps none
  short);
- a chain member whose part on the other shard is over the AOF record
  limit (made small with DEBUG AOF-RECORD-LIMIT): that shard refuses
  writes, the members after it in the chain with a part there fail with
  "ERR the command's effects on shard N could not be logged" (their
  foreseen LSN there is taken by nothing), the rest with MISCONF or OK,
  and after kill -9 every group is whole and holds its last acknowledged
  value, and the over-limit MSET left nothing.

2 and 4 shards; io_uring and epoll.  Every server listens on loopback on a
port it picks; every loop is bounded in count and time.
"""
import time

import aoflib as A
import kevylib as K

WRITERS = 24
READERS = 4
DEPTH = 16


def group_keys(c, port, shards, groups):
    """One key list per group, at most one key on each shard (found by
    which shard's AOF logs a SET of it)."""
    by_shard = A.keys_by_shard(c, shards, "ch", groups, "init")
    # Group g spans the shards of the mask (g % (2^n - 1)) + 1, so groups
    # cover every non-empty set of shards: whole sets, subsets (which join
    # chains over more shards) and single shards (local or forwarded).
    masks = [(g % ((1 << shards) - 1)) + 1 for g in range(groups)]
    out = [[by_shard[s][g] for s in range(shards) if masks[g] >> s & 1] for g in range(groups)]
    with K.RawConn(port) as w:
        for keys in out:
            args = ["MSET"]
            for k in keys:
                args += [k, "init"]
            K.check(w.cmd(*args) == "OK", "initial MSET")
    return out


def writer_batch(w, keys, seq):
    """DEPTH commands for writer w: MSETs, or (every fourth writer)
    MULTI/SET.../EXEC over its group.  Returns (payload, count, last value)."""
    cmds = []
    val = None
    if w % 4 == 0:
        while len(cmds) + len(keys) + 2 <= DEPTH:
            val = "w%d-%d" % (w, seq)
            seq += 1
            cmds.append(["MULTI"])
            cmds += [["SET", k, val] for k in keys]
            cmds.append(["EXEC"])
    else:
        for _ in range(DEPTH):
            val = "w%d-%d" % (w, seq)
            seq += 1
            args = ["MSET"]
            for k in keys:
                args += [k, val]
            cmds.append(args)
    return b"".join(K.encode(*a) for a in cmds), cmds, val, seq


def ok_reply(cmd, r, allowed_errors):
    if isinstance(r, K.RespError):
        return any(r.msg.startswith(e) for e in allowed_errors)
    if cmd[0] == "MULTI" or cmd[0] == "MSET":
        return r == "OK"
    if cmd[0] == "SET":
        return r == "QUEUED"
    if cmd[0] == "EXEC":
        return isinstance(r, list) and all(x == "OK" for x in r)
    return False


def run_load(port, groups, seconds, rounds, allowed_errors=(), between=None):
    """Rounds of: every writer sends a pipelined batch, every reader a batch
    of MGETs; then all replies are read and checked.  Returns (rounds run,
    commands acknowledged, last acknowledged value per group, MGETs checked)."""
    writers = [K.RawConn(port) for _ in range(WRITERS)]
    readers = [K.RawConn(port) for _ in range(READERS)]
    seqs = [0] * WRITERS
    last = [None] * WRITERS
    acked = 0
    mgets = 0
    n = 0
    deadline = time.monotonic() + seconds
    try:
        while n < rounds and time.monotonic() < deadline:
            if between is not None:
                between(n)
            sent = []
            for w, conn in enumerate(writers):
                payload, cmds, val, seqs[w] = writer_batch(w, groups[w], seqs[w])
                conn.send(payload)
                sent.append((cmds, val))
            for r, conn in enumerate(readers):
                picks = [groups[(r * 7 + n * 3 + j) % len(groups)] for j in range(DEPTH)]
                # MGETs (txns over every shard), then single-key GETs,
                # which run on their shard between the chains' holds.
                conn.send(b"".join(K.encode("MGET", *g) for g in picks) +
                          b"".join(K.encode("GET", g[(n + j) % len(g)])
                                   for j, g in enumerate(picks)))
            for w, conn in enumerate(writers):
                cmds, val = sent[w]
                replies = [K.parse(x) for x in conn.read_replies(len(cmds), timeout=30)]
                for cmd, rep in zip(cmds, replies):
                    K.check(ok_reply(cmd, rep, allowed_errors),
                            "writer %d: %s replied %r" % (w, cmd[0], rep))
                acked += len(cmds)
                last[w] = val
            for r, conn in enumerate(readers):
                for raw in conn.read_replies(DEPTH, timeout=30):
                    vals = K.parse(raw)
                    K.check(isinstance(vals, list) and len(set(vals)) == 1,
                            "an MGET saw a group half written: %r" % vals)
                    mgets += 1
                for raw in conn.read_replies(DEPTH, timeout=30):
                    v = K.parse(raw)
                    K.check(isinstance(v, bytes) and (v == b"init" or v.startswith(b"w")),
                            "a GET beside the chains: %r" % v)
            n += 1
    finally:
        for conn in writers + readers:
            conn.close()
    return n, acked, last, mgets


def check_whole(port, groups, last):
    with K.RawConn(port) as c:
        for w, keys in enumerate(groups):
            vals = c.cmd("MGET", *keys)
            K.check(len(set(vals)) == 1, "group %d whole after the restart: %r" % (w, vals))
            if last is not None and last[w] is not None:
                K.check(vals[0] == last[w].encode(),
                        "group %d holds its last acknowledged value %r: %r" % (w, last[w], vals[0]))


def chained(c):
    return int(A.info(c, "stats").get("kevy_chained_commands", "0"))


def start(shards, io, policy):
    """A started server with the AOF on under policy, and the writers'
    groups of keys."""
    srv = K.Server(args=["--threads", str(shards), "--appendonly", "yes",
                         "--appendfsync", policy, "--io", io])
    srv.start()
    with srv.conn() as c:
        groups = group_keys(c, srv.port, shards, WRITERS)
    return srv, groups


def case_durable(shards, io):
    srv, groups = start(shards, io, "always")
    try:
        with srv.conn() as c:
            before = chained(c)
        n, acked, last, mgets = run_load(srv.port, groups, seconds=4, rounds=400)
        with srv.conn() as c:
            got = chained(c) - before
            K.check(got > 0, "chains formed: kevy_chained_commands rose by %d" % got)
            digest = c.cmd("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.cmd("DEBUG", "DIGEST") == digest, "DEBUG DIGEST after kill -9 and restart")
        check_whole(srv.port, groups, last)
        srv.stop()
        K.log("%d shards %s: %d rounds, %d writes acknowledged, %d chained, %d MGETs whole; "
              "all kept after kill -9" % (shards, io, n, acked, got, mgets))
    finally:
        srv.cleanup()


def case_switching(shards, io):
    """appendonly off and on between rounds while chains run."""
    srv, groups = start(shards, io, "everysec")
    try:
        ctl = K.RawConn(srv.port)

        def between(n):
            if n % 5 == 4:
                r = ctl.cmd("CONFIG", "SET", "appendonly", "no" if n % 10 == 4 else "yes")
                K.check(r == "OK", "CONFIG SET appendonly: %r" % r)

        n, acked, _, mgets = run_load(srv.port, groups, seconds=4, rounds=60,
                                      allowed_errors=(b"ERR the command's effects",),
                                      between=between)
        K.check(ctl.cmd("CONFIG", "SET", "appendonly", "yes") == "OK", "appendonly back on")
        # The turn-on's rewrite ends before the files are compared.
        for _ in range(300):
            if A.info(ctl)["aof_rewrite_in_progress"] == "0":
                break
            time.sleep(0.05)
        K.check(ctl.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF after the turn-on")
        ctl.close()
        A.kill9(srv)
        A.restart(srv)
        check_whole(srv.port, groups, None)
        srv.stop()
        K.log("%d shards %s: %d rounds with appendonly switched, %d writes, %d MGETs whole; "
              "whole after kill -9" % (shards, io, n, acked, mgets))
    finally:
        srv.cleanup()


def case_over_limit(io):
    """One MSET's part on shard 1 is over the record limit while 24 writers
    pipeline MSETs: shard 1's AOF fails for good (it refuses writes until a
    restart) and the chain's later members with a part there are not
    logged.  Whether the over-limit txn has members after it depends on
    timing (about 6 servers in 10 log one, fewer under ASan), so fresh
    servers are tried until two logged a lost part, at most 12 (a race
    between the home's failure and its single-shard writes' replies showed
    in about one server in four)."""
    LIMIT = 2048
    with_lost = 0
    for attempt in range(12):
        srv, groups = start(2, io, "always")
        try:
            # The big MSET's home is shard 0, its big value on shard 1:
            # shard 1 gets it as a foreseen part (only other shards' LSNs
            # are foreseen).
            conn0 = A.conn_on_shard(srv, 0)
            k0, k1 = A.keys_on_two_shards(conn0, "big", "init")
            for bad in ("-1", "x"):
                r = conn0.cmd("DEBUG", "AOF-RECORD-LIMIT", bad)
                K.check(isinstance(r, K.RespError) and b"out of range" in r.msg,
                        "DEBUG AOF-RECORD-LIMIT %s refused: %r" % (bad, r))
            K.check(conn0.cmd("DEBUG", "AOF-RECORD-LIMIT", str(LIMIT)) == "OK", "limit set")
            writers = [K.RawConn(srv.port) for _ in range(WRITERS)]
            last = [None] * WRITERS
            seqs = [0] * WRITERS
            sent = []
            for w, conn in enumerate(writers):
                cmds = []
                for _ in range(DEPTH):
                    val = "w%d-%d" % (w, seqs[w])
                    seqs[w] += 1
                    args = ["MSET"]
                    for k in groups[w]:
                        args += [k, val]
                    cmds.append((args, val))
                sent.append(cmds)
            payloads = [b"".join(K.encode(*a) for a, _ in cmds) for cmds in sent]
            for w in range(WRITERS // 2):
                writers[w].send(payloads[w])
            conn0.send(K.encode("MSET", k0, "small", k1, "x" * (LIMIT * 2)))
            for w in range(WRITERS // 2, WRITERS):
                writers[w].send(payloads[w])
            errors = {}
            got = []
            for w, conn in enumerate(writers):
                replies = [K.parse(x) for x in conn.read_replies(DEPTH, timeout=30)]
                got.append(["OK" if r == "OK" else r.msg[:12] for r in replies])
                for (args, val), rep in zip(sent[w], replies):
                    if rep == "OK":
                        last[w] = val
                        continue
                    K.check(isinstance(rep, K.RespError) and
                            (rep.msg.startswith(b"ERR the command's effects on shard 1 could "
                                                b"not be logged") or
                             rep.msg.startswith(b"MISCONF")),
                            "writer %d: MSET replied %r" % (w, rep))
                    key = rep.msg.split(b";")[0][:40]
                    errors[key] = errors.get(key, 0) + 1
                conn.close()
            rep = K.parse(conn0.read_reply(timeout=30))
            K.check(isinstance(rep, K.RespError) and rep.msg.startswith(b"MISCONF"),
                    "the over-limit MSET fails: %r" % rep)
            conn0.close()
            log = A.log_since(srv, 0)
            K.check(b"exceeds the AOF record limit" in log, "the log names the over-limit record")
            lost = log.count(b"not logged, its command fails")
            A.kill9(srv)
            A.restart(srv)
            check_whole(srv.port, groups, None)
            with K.RawConn(srv.port) as c:
                for w, keys in enumerate(groups):
                    if last[w] is not None:
                        vals = c.cmd("MGET", *keys)
                        K.check(vals[0] == last[w].encode() or
                                (vals[0].startswith(b"w%d-" % w) and
                                 int(vals[0].split(b"-")[1]) > int(last[w].split("-")[1])),
                                "group %d (%d keys) keeps its last acknowledged value %r: "
                                "%r; its replies: %r"
                                % (w, len(keys), last[w], vals, got[w]))
                K.check(c.cmd("MGET", k0, k1) == [b"init", b"init"],
                        "the over-limit MSET left nothing")
            srv.stop()
            K.log("%s attempt %d: %d parts not logged, errors %r; whole after kill -9"
                  % (io, attempt, lost, errors))
            with_lost += lost > 0
            if with_lost == 2:
                return
        finally:
            srv.cleanup()
    raise K.TestFailure("a chain member after the over-limit one in %d of 12 servers, "
                        "not 2" % with_lost)


def pipeline(c, cmds):
    """Every command sent at once, then every reply, parsed."""
    c.send(b"".join(K.encode(*cmd) for cmd in cmds))
    return [K.parse(r) for r in c.read_replies(len(cmds), timeout=30)]


def start_two(io, prefix):
    """A started two-shard server under appendfsync always, and a key on
    each shard."""
    srv = K.Server(args=["--threads", "2", "--appendonly", "yes", "--appendfsync", "always",
                         "--io", io])
    srv.start()
    try:
        with srv.conn() as c:
            a, b = A.keys_on_two_shards(c, prefix, "0")
    except BaseException:
        srv.cleanup()
        raise
    return srv, a, b


def case_pipeline(io):
    """One client pipelines multi-shard commands: each joins the chain its
    previous one started while that chain still acquires (route.c,
    shard_txn_may_follow), so they chain without other clients; a
    single-key command between them waits for them, and every reply
    comes back in order with the value the commands before it left."""
    srv, a, b = start_two(io, "pl")
    try:
        with srv.conn() as c:
            before = chained(c)
            cmds, want = [], []
            for i in range(1, 41):
                cmds += [("MSET", a, str(i), b, str(i)), ("MGET", a, b)]
                want += ["OK", [str(i).encode()] * 2]
            K.check(pipeline(c, cmds) == want, "40 MSET/MGET pairs, in order")
            got = chained(c) - before
            K.check(got >= 40, "one client's pipelined txns chained: %d of 80" % got)
            # A chain is bounded by its members' arguments too
            # (TXN_CHAIN_WORK, 8192): MSETs of 1,000 pairs (2,001
            # arguments) chain at most 4 to a hold, so at most 3 of every
            # 4 join one.
            before = chained(c)
            big = [("MSET",) + tuple(x for k in range(1000) for x in ("bw%d" % k, str(i)))
                   for i in range(20)]
            K.check(pipeline(c, big) == ["OK"] * 20, "20 MSETs of 1,000 keys")
            K.check(c.cmd("MGET", "bw0", "bw999") == [b"19", b"19"], "the last one won")
            joins = chained(c) - before
            K.check(joins <= 15, "chains of at most 8192 arguments: %d joins of 20" % joins)
            cmds, want = [], []
            for i in range(1, 31):
                cmds += [("MSET", a, "x", b, str(i)), ("INCR", b), ("MGET", a, b),
                         ("DEL", a, b), ("EXISTS", a, b), ("SET", a, "7"), ("GET", a)]
                want += ["OK", i + 1, [b"x", str(i + 1).encode()], 2, 0, "OK", b"7"]
            K.check(pipeline(c, cmds) == want,
                    "txns with single-key commands between, in order")
            digest = c.cmd("DEBUG", "DIGEST")
        # A malformed request behind pipelined txns: their replies first,
        # then the protocol error, then the connection closes; the txns
        # took effect.
        with srv.conn() as c:
            c.send(b"".join(K.encode("MSET", a, "m%d" % i, b, "m%d" % i) for i in range(3)) +
                   b"*abc\r\n")
            seen = [K.parse(r) for r in c.read_replies(4, timeout=30)]
            K.check(seen[:3] == ["OK"] * 3, "the txns' replies before the error: %r" % seen)
            K.check(isinstance(seen[3], K.RespError) and b"Protocol error" in seen[3].msg,
                    "then the protocol error: %r" % seen[3])
            K.check(c.closed_by_peer(10), "and the connection closes")
        with srv.conn() as c:
            K.check(c.cmd("MGET", a, b) == [b"m2", b"m2"], "the txns before the error ran")
            K.check(c.cmd("MSET", a, "7", b, "x") == "OK" and c.cmd("DEL", b) == 1, "reset")
            digest = c.cmd("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.cmd("DEBUG", "DIGEST") == digest, "the same after kill -9 and a restart")
            K.check(c.cmd("MGET", a, b) == [b"7", None], "the last values")
        srv.stop()
        K.log("%s: a client's pipelined txns chained %d times, replies in order" % (io, got))
    finally:
        srv.cleanup()


def case_pipeline_multi(io):
    """One client pipelines MULTI blocks: while an EXEC waits in a chain,
    MULTI and the next block's commands are queued (their replies wait
    behind it) and the next EXEC joins the chain with its own block
    (multi.c, multi_exec_detach)."""
    srv, a, b = start_two(io, "pm")
    try:
        with srv.conn() as c:
            # The single-key command between blocks reads the key of the
            # client's own shard: a forwarded one would keep the next
            # block's EXECs from joining until its reply is back (fwd_out).
            home = int(c.cmd("CLIENT", "INFO").split(b"shard=")[1].split()[0])
            between = a if home == 0 else b
            before = chained(c)
            cmds, want = [], []
            for i in range(1, 31):
                v = str(i)
                seen = (b"h" if between == a else b"r") + v.encode()
                cmds += [("MULTI",), ("SET", a, v), ("SET", b, v), ("EXEC",),
                         ("MULTI",), ("INCR", a), ("GET", b), ("EXEC",),
                         ("MULTI",), ("SET", a, "h" + v), ("EXEC",),       # one shard
                         ("MULTI",), ("SET", b, "r" + v), ("GET", b), ("EXEC",),
                         ("GET", between),
                         ("MULTI",), ("SET", a, "x"), ("NOSUCH",), ("EXEC",),
                         ("MULTI",), ("SET", b, "y"), ("DISCARD",),
                         ("MGET", a, b)]
                want += ["OK", "QUEUED", "QUEUED", ["OK", "OK"],
                         "OK", "QUEUED", "QUEUED", [i + 1, v.encode()],
                         "OK", "QUEUED", ["OK"],
                         "OK", "QUEUED", "QUEUED", ["OK", b"r" + v.encode()],
                         seen,
                         "OK", "QUEUED", "ERR", "EXECABORT",
                         "OK", "QUEUED", "OK",
                         [b"h" + v.encode(), b"r" + v.encode()]]
            got = pipeline(c, cmds)
            K.check(len(got) == len(want), "every reply: %d of %d" % (len(got), len(want)))
            for n, (g, w) in enumerate(zip(got, want)):
                if w in ("ERR", "EXECABORT"):
                    K.check(isinstance(g, K.RespError) and g.msg.startswith(w.encode()),
                            "reply %d (%r) is %s: %r" % (n, cmds[n], w, g))
                else:
                    K.check(g == w, "reply %d (%r): %r, want %r" % (n, cmds[n], g, w))
            joined = chained(c) - before
            K.check(joined >= 60, "pipelined txns chained: %d (120 EXECs, 30 MGETs)" % joined)
            # WATCH waits for the EXECs before it (it does not follow), then
            # guards the block after it as before.
            cmds = [("MULTI",), ("SET", a, "w1"), ("SET", b, "w1"), ("EXEC",),
                    ("WATCH", a), ("MULTI",), ("SET", a, "w2"), ("SET", b, "w2"), ("EXEC",),
                    ("MGET", a, b)]
            K.check(pipeline(c, cmds) == ["OK", "QUEUED", "QUEUED", ["OK", "OK"], "OK",
                                          "OK", "QUEUED", "QUEUED", ["OK", "OK"],
                                          [b"w2", b"w2"]], "WATCH behind pipelined EXECs")
            with srv.conn() as other:
                K.check(c.cmd("WATCH", a) == "OK", "WATCH")
                K.check(other.cmd("SET", a, "moved") == "OK", "another client's write")
                got = pipeline(c, [("MULTI",), ("SET", a, "w3"), ("SET", b, "w3"), ("EXEC",),
                                   ("MULTI",), ("SET", a, "w4"), ("SET", b, "w4"), ("EXEC",)])
                K.check(got == ["OK", "QUEUED", "QUEUED", None,
                                "OK", "QUEUED", "QUEUED", ["OK", "OK"]],
                        "a broken WATCH aborts its block only: %r" % got)
        # A malformed request behind pipelined blocks (parsed while their
        # EXECs are out): their replies first, then the protocol error,
        # then the connection closes; the blocks took effect.
        with srv.conn() as c:
            blocks = b"".join(K.encode(*cmd) for i in range(3)
                              for cmd in (("MULTI",), ("SET", a, "m%d" % i),
                                          ("SET", b, "m%d" % i), ("EXEC",)))
            c.send(blocks + b"*abc\r\n")
            seen = [K.parse(r) for r in c.read_replies(13, timeout=30)]
            K.check(seen[:12] == ["OK", "QUEUED", "QUEUED", ["OK", "OK"]] * 3,
                    "the blocks' replies before the error: %r" % seen)
            K.check(isinstance(seen[12], K.RespError) and b"Protocol error" in seen[12].msg,
                    "then the protocol error: %r" % seen[12])
            K.check(c.closed_by_peer(10), "and the connection closes")
        with srv.conn() as c:
            K.check(c.cmd("MGET", a, b) == [b"m2", b"m2"], "the blocks before the error ran")
            K.check(c.cmd("MSET", a, "w4", b, "w4") == "OK", "reset")
            digest = c.cmd("DEBUG", "DIGEST")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.cmd("DEBUG", "DIGEST") == digest, "the same after kill -9 and a restart")
            K.check(c.cmd("MGET", a, b) == [b"w4", b"w4"], "the last values")
        srv.stop()
        K.log("%s: pipelined MULTI blocks, %d EXECs chained, replies in order" % (io, joined))
    finally:
        srv.cleanup()


def conn_on(srv, shard, tries=64):
    """A connection the kernel handed to the given shard's listener."""
    for _ in range(tries):
        c = srv.conn()
        if int(c.cmd("CLIENT", "INFO").split(b"shard=")[1].split()[0]) == shard:
            return c
        c.close()
    raise K.TestFailure("no connection landed on shard %d in %d tries" % (shard, tries))


def case_chain_length(io):
    """Long chains only while nobody else waits (route.c, chain_cap): a
    client's 100 pipelined MSETs run as one chain of more than 32; after
    6 other clients' GETs waited for a keyspace a transaction held (a
    MULTI with DEBUG SLEEP; TXN_CHAIN_WAITS is 4), the next chain of that
    home is capped at 32 (kevy_short_chains); without them, none is."""
    for contended in (False, True):
        srv = K.Server(args=["--threads", "2", "--io", io])
        srv.start()
        try:
            m = conn_on(srv, 0)
            a, b = A.keys_on_two_shards(m, "cl", "0")
            K.check(m.cmd("CONFIG", "RESETSTAT") == "OK", "RESETSTAT")
            gs = [conn_on(srv, 1) for _ in range(6)]
            m.send(K.encode("MULTI") + K.encode("SET", a, "1") + K.encode("SET", b, "1") +
                   K.encode("DEBUG", "SLEEP", "0.3") + K.encode("EXEC"))
            time.sleep(0.1)
            if contended:
                for g in gs:
                    g.send(K.encode("GET", b))   # shard 1's key: waits for the EXEC
            got = [K.parse(r) for r in m.read_replies(5, timeout=10)]
            K.check(got[-1] == ["OK", "OK", "OK"], "the EXEC: %r" % got)
            if contended:
                for g in gs:
                    K.check(K.parse(g.read_replies(1, timeout=10)[0]) == b"1",
                            "the GET waited for the EXEC and saw its write")
            for rnd in range(2):
                cmds = [("MSET", a, "%d.%d" % (rnd, i), b, "%d.%d" % (rnd, i))
                        for i in range(100)]
                K.check(pipeline(m, cmds) == ["OK"] * 100, "100 pipelined MSETs")
            K.check(m.cmd("MGET", a, b) == [b"1.99", b"1.99"], "the last MSET won")
            st = A.info(m, "stats")
            longest, short = int(st["kevy_chain_longest"]), int(st["kevy_short_chains"])
            K.check(longest > 32, "one chain ran more than 32 txns: %d" % longest)
            if contended:
                K.check(short >= 1, "a chain was kept short after the GET waited: %d" % short)
            else:
                K.check(short == 0, "no chain kept short without waiting commands: %d" % short)
            m.close()
            for g in gs:
                g.close()
            srv.stop()
            K.log("%s: longest chain %d, short chains %d (%s)" %
                  (io, longest, short, "6 GETs waited" if contended else "control"))
        finally:
            srv.cleanup()


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's shards")
    for io in ("io_uring", "epoll"):
        for shards in (2, 4):
            case_durable(shards, io)
        case_switching(2, io)
        case_pipeline(io)
        case_pipeline_multi(io)
        case_chain_length(io)
        case_over_limit(io)


if __name__ == "__main__":
    K.run_main(main)
