#!/usr/bin/env python3
"""crash_faults - a failpoint at every Nth file operation of a serving workload
(issue 7 part 3; design.md section 3 rule 6 and section 5; docs/io.md
"Failpoints"; docs/durability.md "I/O errors").

What it proves.  A workload that makes the server perform every kind of file
operation while it serves -- AOF appends and fdatasyncs under appendfsync
always and everysec (WAITAOF), BGSAVE and BGREWRITEAOF (AOF rotation, snapshot
open / blocks / fdatasync, manifest open / write / fsync / rename / directory
fsync, unlink of the replaced files), CONFIG SET appendonly no then yes (the
keyspace rewritten into a segment of the next generation) -- is run once
fault-free under KEVY_TRACE to count the operations of each kind it issues and
to learn which file each one touches.  Then, for each kind in
{write, fsync, dirsync, rename, open}, each action in {enospc, eio} (and
`short` for write), EIO on unlink, and each position N (a seeded sample that covers every
file class in CI, every N with KEVY_CRASH_LONG=1), a fresh server runs the
same workload with `DEBUG FAILPOINTS kind:N=action` set after startup (so
startup operations are not counted), and the suite checks that:

  - the fault fired (the trace has the injected record; a position the
    workload did not reach this time is reported "not reached", not passed);
  - the server never crashes: it is alive at the end and answers;
  - it reports the error: the log has a line for it, and INFO persistence or
    the replies say so (-MISCONF, aof_last_write_status:err,
    rdb_last_bgsave_status:err);
  - ENOSPC or a short write on an AOF segment or manifest -- an append, or a
    step of a rotation, rewrite or manifest commit (write, open, rename) --
    resumes by itself: no writer is acknowledged between the fault and the
    retry that succeeds, aof_write_state is ok again within a bounded time,
    and later writes are acknowledged and survive;
  - EIO and a failed fsync refuse writes for good (-MISCONF,
    aof_write_state:failed), reads keep working, and SAVE / BGSAVE fail at
    once with rdb_last_bgsave_status:err instead of waiting for good;
  - a failed unlink of a file a committed manifest no longer names is
    logged and changes nothing else (the next recovery removes the file);
  - a fault on a snapshot file abandons that snapshot (rdb_last_bgsave_status
    err), the AOF goes on, and the next BGSAVE works;
  - ENOSPC or a short write of the zeros written ahead of the appends (file
    class prealloc), and any fault opening a new segment's O_DIRECT
    descriptor, are logged and change nothing else: appends go on (without
    the zeros, or written and fdatasynced); EIO on the zeros fails the AOF
    as on an append;
  - never acknowledges what is not durable, from the trace: every
    acknowledged SET and RPUSH (unique values) had its record in a complete
    AOF write sent before the reply, under always also an fsync covering that
    write (or the write itself, when it is a direct one with RWF_DSYNC),
    and, for a segment created during the run, a directory fsync after its
    creation;
  - and after the kill: the oracle of acknowledged writes
    (unique SET values, INCR counters, RPUSH sequences, on several
    connections) holds after SIGKILL and a restart without failpoints;
    nothing that was never written appears; kevy-check on the killed
    directory says clean (0) or torn tail (1), never corrupt.

Each case runs on a variant: uring1 (io_uring, one shard: counts exactly
reproducible), epoll1 (the epoll reactor, whose file operations are
synchronous) or uring2 (two shards).  Group commit makes the number of
appends vary a little between runs, so the file a position lands on is taken
from the case's own trace, and a position past the run's end gets a few
more rounds of writes.

A few failpoints are also set through KEVY_FAILPOINTS at startup (a fresh
directory and an existing one): the server refuses to start with a non-zero
exit status (not a signal) and a message naming the error.

Run / replay (the seed and a replay line for every failure are printed):
  KEVY_SERVER=build/kevy-server KEVY_BIN_DIR=build \\
  PYTHONPATH=tests/integration python3 tests/crash/crash_faults.py
  KEVY_SEED=<n>                 replays the sample and the workloads of a run
  KEVY_FAULT_CASE='epoll1/write:7=eio'  runs only those cases (comma-separated;
                                 no variant means uring1;
                                 'startup-fresh:open:1=eio' for a startup case)
  KEVY_CRASH_LONG=1              every N of every kind and action on every
                                 variant (about 1100 cases, several minutes)
  KEVY_FAULTS_CASES=<n>          size of the CI sample (default 150: 60% uring1,
                                 25% epoll1, 15% uring2, plus at least one
                                 position per kind, action and file class)
"""

import glob
import os
import random
import re
import shlex
import signal
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

# Kinds swept, as named in the failpoint grammar, and their trace codes.
KINDS = ("write", "fsync", "dirsync", "rename", "open", "unlink")
TRACE_KIND = {"open": 1, "write": 2, "read": 3, "fsync": 4, "dirsync": 5, "rename": 6,
              "unlink": 7, "truncate": 8, "close": 9, "reply": 10}
TRACE_NAME = {v: k for k, v in TRACE_KIND.items()}
ACTIONS = {"write": ("enospc", "eio", "short"), "fsync": ("enospc", "eio"),
           "dirsync": ("enospc", "eio"), "rename": ("enospc", "eio"), "open": ("enospc", "eio"),
           "unlink": ("eio",)}
FLAG_INJECTED = 16
FLAG_NAMESPACE = 4     # open with O_CREAT, rename, unlink
FLAG_DSYNC = 64        # a write with RWF_DSYNC: itself durable when it completes

# Server variants: "uring1" (io_uring, one shard: the op counts are exactly
# reproducible), "epoll1" (the epoll reactor: the same operations done
# synchronously), "uring2" (two shards: faults hit one of them).  A case is
# "<variant>/<kind>:<N>=<action>"; the variant defaults to uring1.
VARIANTS = {"uring1": ("uring", 1), "epoll1": ("epoll", 1), "uring2": ("uring", 2)}
WRITERS = 4                 # writer connections (group commit across them)
ROUND_WAIT_S = 0.3          # how long a round waits for its replies
PHASE_WAIT_S = 5.0          # bound on one background job (snapshot, rewrite)
RESUME_WAIT_S = 3.0         # ENOSPC: the retry (every 100 ms) must succeed by then
MARKER = "crash-faults-marker"

HERE = os.path.abspath(__file__)


# ----------------------------------------------------------------- the trace

def read_trace(path):
    """Records of a kvio trace (docs/io.md "Trace") as dicts; stops at a torn
    or bad record (the trace of a killed process may end in one)."""
    out = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return out
    if data[:8] != b"KEVYTRC\0":
        return out
    pos = struct.unpack_from("<I", data, 12)[0]
    while pos + 96 <= len(data):
        (rec_len, kind, flags, action, plen, p2len, dlen, seq, op_id, issued_after, link_op,
         file_id, offset, length, result) = struct.unpack_from("<IHHIIIIQQQQQQQq", data, pos)
        if rec_len != 96 + plen + p2len + dlen or pos + rec_len > len(data):
            break
        b = pos + 88
        out.append({
            "kind": TRACE_NAME.get(kind, str(kind)), "flags": flags, "action": action,
            "seq": seq, "op_id": op_id, "issued_after": issued_after, "link_op": link_op,
            "file_id": file_id, "offset": offset,
            "length": length, "result": result,
            "path": data[b:b + plen].decode("utf-8", "replace"),
            "path2": data[b + plen:b + plen + p2len].decode("utf-8", "replace"),
            "data": data[b + plen + p2len:b + plen + p2len + dlen],
        })
        pos += rec_len
    return out


def after_marker(recs):
    """The records after the reply that carries MARKER (the workload's ops:
    DEBUG FAILPOINTS reset the counters just before it)."""
    for i, r in enumerate(recs):
        if r["kind"] == "reply" and MARKER.encode() in r["data"]:
            return recs[i + 1:]
    return []


def file_class(rec):
    """Which file an operation touched, for the sample and the report."""
    name = os.path.basename(rec["path"])
    if rec["kind"] == "dirsync":
        return "dir"
    if name.endswith(".manifest.tmp") or name.endswith(".manifest"):
        return "manifest"
    if name.endswith(".snap"):
        return "snap"
    if name.endswith(".aof"):
        # The zeros a shard writes ahead of its appends (aof-preallocate):
        # told apart by their bytes, which the trace holds when written.
        d = rec.get("data") or b""
        if rec["kind"] == "write" and len(d) >= 4096 and not d.strip(b"\0"):
            return "prealloc"
        return "aof"
    return name or "?"


# ------------------------------------------------------------------ workload

def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


class Writer:
    """One writer connection with at most one command outstanding."""

    def __init__(self, srv, idx):
        self.idx = idx
        self.conn = srv.conn(timeout=10)
        cid = self.conn.cmd("CLIENT", "ID")
        K.check(isinstance(cid, int), "CLIENT ID: %r" % cid)
        self.id = cid
        self.pending = None   # the op dict waiting for its reply
        self.i = 0            # next sequence number of this writer
        self.incr_sent = 0


class Workload:
    """The acknowledged-writes oracle and the driver of the writers."""

    def __init__(self, srv, rng, seed):
        self.srv = srv
        self.rng = rng
        self.tag = "%d" % seed
        self.ctl = srv.conn(timeout=10)
        self.writers = []
        self.ops = []           # every write sent: dict(kind, key, val, durable, status)
        self.durable = True     # False while appendonly is no (acks promise nothing)
        self.policy = "always"
        self.misconf = 0        # -MISCONF replies seen
        self.infos = []         # INFO persistence snapshots taken along the way
        self.baseline = {}

    def close(self):
        for w in self.writers:
            w.conn.close()
        self.ctl.close()

    # -- setup before the failpoints
    def populate(self):
        """~250 KB of incompressible values: a snapshot has several blocks."""
        cmds = []
        for i in range(500):
            v = "%x" % self.rng.getrandbits(2000)
            self.baseline["pop:%d" % i] = v.encode()
            cmds.append(K.encode("SET", "pop:%d" % i, v))
        self.ctl.send(b"".join(cmds))
        got = self.ctl.read_replies(len(cmds), timeout=30)
        K.check(all(r == b"+OK\r\n" for r in got), "populate: %r" % [r for r in got if r != b"+OK\r\n"][:3])
        for i in range(WRITERS):
            self.writers.append(Writer(self.srv, i))

    # -- one round: every idle writer sends one write
    def next_op(self, w):
        i = w.i
        w.i += 1
        r = self.rng.random()
        if r < 0.35:
            op = {"kind": "set", "key": "s:%d:%d" % (w.idx, i),
                  "val": "v%s:%d:%d:%x" % (self.tag, w.idx, i, self.rng.getrandbits(32))}
            cmd = ("SET", op["key"], op["val"])
        elif r < 0.45:
            # Two keys spread by their hash (across shards when there are
            # several): a unit across shards, all or nothing after any fault.
            op = {"kind": "mset", "keys": ["m:%d:%d:a" % (w.idx, i), "m:%d:%d:b" % (w.idx, i)],
                  "val": "m%s:%d:%d" % (self.tag, w.idx, i)}
            cmd = ("MSET", op["keys"][0], op["val"], op["keys"][1], op["val"])
        elif r < 0.7:
            w.incr_sent += 1
            op = {"kind": "incr", "key": "c:%d" % w.idx}
            cmd = ("INCR", op["key"])
        else:
            op = {"kind": "rpush", "key": "l:%d" % w.idx, "val": "E%d.%dE" % (w.idx, i)}
            cmd = ("RPUSH", op["key"], op["val"])
        op.update(durable=self.durable, status="sent", writer=w.idx, policy=self.policy)
        self.ops.append(op)
        return op, cmd

    def _reply(self, w, r):
        op = w.pending
        w.pending = None
        if r.startswith(b"-MISCONF"):
            op["status"] = "err"
            self.misconf += 1
            return
        if op["kind"] in ("set", "mset"):
            K.check(r == b"+OK\r\n", "%s %s replied %r" % (op["kind"], op.get("key"), r))
        else:
            K.check(r.startswith(b":"), "%s %s replied %r" % (op["kind"], op["key"], r))
            op["n"] = int(r[1:-2])
        op["status"] = "ok"

    def poll(self, wait):
        """Read what the outstanding writers have, waiting up to `wait` s in all."""
        deadline = time.monotonic() + wait
        for w in self.writers:
            if w.pending is None:
                continue
            r = A.try_read(w.conn, max(0.001, deadline - time.monotonic()))
            if r is not None:
                self._reply(w, r)

    def round(self, n=1):
        for _ in range(n):
            for w in self.writers:
                if w.pending is None:
                    op, cmd = self.next_op(w)
                    w.pending = op
                    w.conn.send(K.encode(*cmd))
            self.poll(ROUND_WAIT_S)

    def drain(self, wait):
        deadline = time.monotonic() + wait
        while any(w.pending for w in self.writers) and time.monotonic() < deadline:
            self.poll(min(0.1, max(0.001, deadline - time.monotonic())))

    def info(self, label):
        r = self.ctl.call("INFO", "persistence")
        if r.startswith(b"-MISCONF"):
            # A reply that waited for records the fault made impossible
            # to sync is refused like a write (docs/durability.md).
            inf = {"_label": label, "_refused": r.decode("utf-8", "replace")}
            self.infos.append(inf)
            return inf
        inf = A.info(self.ctl)
        inf["_label"] = label
        self.infos.append(inf)
        return inf

    def ctl_ok(self, *cmd):
        r = self.ctl.call(*cmd)
        K.check(r == b"+OK\r\n", "%s replied %r" % (" ".join(map(str, cmd)), r))

    def background(self, cmd, busy_field):
        """BGSAVE / BGREWRITEAOF with writes going on until it ends."""
        r = self.ctl.call(cmd)
        K.check(r.startswith(b"+") or r.startswith(b"-MISCONF") or b"in progress" in r,
                "%s replied %r" % (cmd, r))
        deadline = time.monotonic() + PHASE_WAIT_S
        rounds = 0
        while time.monotonic() < deadline:
            if rounds < 6:
                self.round()
                rounds += 1
            else:
                time.sleep(0.02)
            if self.info(cmd).get(busy_field) == "0":
                break
        K.check(self.infos[-1].get(busy_field) == "0", "%s ends within %.0fs" % (cmd, PHASE_WAIT_S))

    def run(self):
        """The phases, each bounded; the failpoint is already set."""
        # appendfsync always: appends linked to fdatasyncs
        self.round(5)
        self.info("always")
        # snapshot: rotation, .snap open/blocks/fdatasync, manifest commit, unlinks
        self.background("BGSAVE", "rdb_bgsave_in_progress")
        self.round(2)
        # everysec: replies after the write; WAITAOF asks for the fsync
        self.drain(1.0)
        self.ctl_ok("CONFIG", "SET", "appendfsync", "everysec")
        self.policy = "everysec"
        self.round(3)
        r = self.ctl.call("WAITAOF", "1", "0", "0")
        K.check(r.startswith(b"*2") or r.startswith(b"-"), "WAITAOF replied %r" % r)
        self.round(1)
        self.drain(1.0)
        self.ctl_ok("CONFIG", "SET", "appendfsync", "always")
        self.policy = "always"
        self.round(2)
        self.info("everysec")
        # BGREWRITEAOF: the same path as BGSAVE
        self.background("BGREWRITEAOF", "rdb_bgsave_in_progress")
        self.round(2)
        # appendonly no, then yes: the keyspace rewritten into a new generation
        self.drain(1.0)
        self.ctl_ok("CONFIG", "SET", "appendonly", "no")
        self.durable = False
        self.round(2)
        self.drain(1.0)
        self.ctl_ok("CONFIG", "SET", "appendonly", "yes")
        self.durable = True
        deadline = time.monotonic() + PHASE_WAIT_S
        for _ in range(100):
            self.round()
            inf = self.info("appendonly yes")
            if inf.get("aof_rewrite_in_progress") == "0" or "_refused" in inf or \
                    time.monotonic() > deadline:
                break
        self.round(3)
        self.drain(1.0)
        self.info("end")


# ------------------------------------------------------------------ checks

def parse_list(raw):
    v = K.parse(raw)
    return v if isinstance(v, list) else []


def check_acks_durable(spec, recs, wl):
    """From the trace: every acknowledged SET and RPUSH (unique values) had
    its record written to an AOF segment by a complete write before the reply
    was sent; under always also fsynced (an fsync of that file issued after
    the write, or linked to it), and a segment created during the workload
    had a directory fsync after its creation.  Returns the acks checked."""
    by_conn = {}
    for r in recs:
        if r["kind"] == "reply":
            by_conn.setdefault(r["file_id"], []).append(r)
    writes = [r for r in recs if r["kind"] == "write" and not r["flags"] & FLAG_INJECTED and
              r["result"] == r["length"] and r["path"].endswith(".aof")]
    fsyncs = [r for r in recs if r["kind"] == "fsync" and r["result"] == 0 and
              not r["flags"] & FLAG_INJECTED]
    dirsyncs = [r for r in recs if r["kind"] == "dirsync" and r["result"] == 0 and
                not r["flags"] & FLAG_INJECTED]
    # Segments created during the workload, by path: a direct write goes
    # through a second descriptor of the same file (opened without O_CREAT).
    created = [r for r in recs if r["kind"] == "open" and r["result"] >= 0 and
               r["flags"] & FLAG_NAMESPACE]
    checked = 0
    for w in wl.writers:
        ops = [op for op in wl.ops if op["writer"] == w.idx]
        replies = by_conn.get(w.id, [])
        for op, rep in zip(ops, replies):
            if rep["data"][:1] not in (b"+", b":") or not op["durable"] or \
                    op["kind"] not in ("set", "rpush"):
                continue
            needle = op["val"].encode()
            what = "%s %s %s" % (op["kind"].upper(), op["key"], op["val"])
            ws = [x for x in writes if x["seq"] < rep["seq"] and needle in x["data"]]
            K.check(ws, "%s: %s was acknowledged before any complete write of its record "
                    "reached an AOF segment" % (spec, what))
            if op["policy"] == "always":
                # A direct write with RWF_DSYNC is its own fsync.
                ok = any(x["flags"] & FLAG_DSYNC for x in ws) or \
                    any(f["seq"] < rep["seq"] and f["file_id"] == x["file_id"] and
                        (f["issued_after"] >= x["seq"] or f["link_op"] == x["op_id"])
                        for x in ws for f in fsyncs)
                K.check(ok, "%s: %s was acknowledged under appendfsync always before an fsync "
                        "covered its record" % (spec, what))
                for x in ws:
                    o = ([c for c in created if c["path"] == x["path"] and c["seq"] < x["seq"]]
                         or [None])[-1]
                    if o is None:
                        break
                    if any(d["seq"] < rep["seq"] and d["issued_after"] >= o["seq"]
                           for d in dirsyncs):
                        break
                else:
                    K.check(False, "%s: %s was acknowledged before the directory entry of "
                            "its new segment %s was fsynced" % (spec, what, ws[0]["path"]))
            checked += 1
    return checked


def verify_oracle(wl, c, label):
    """After kill -9 and a restart without failpoints: every durable
    acknowledged write is there, nothing never written is."""
    keys = sorted(wl.baseline)
    got = K.parse(c.call("MGET", *keys))
    bad = [k for k, g in zip(keys, got) if g != wl.baseline[k]]
    K.check(not bad, "%s: populated keys lost or changed: %r" % (label, bad[:5]))
    sets = [op for op in wl.ops if op["kind"] == "set"]
    sent_set = {op["key"]: op for op in sets}
    if sets:
        vals = K.parse(c.call("MGET", *[op["key"] for op in sets]))
        for op, g in zip(sets, vals):
            want = op["val"].encode()
            if op["status"] == "ok" and op["durable"]:
                K.check(g == want, "%s: acknowledged SET %s=%s lost (got %r)" %
                        (label, op["key"], op["val"], g))
            else:
                K.check(g in (None, want), "%s: SET %s has a value never written: %r" %
                        (label, op["key"], g))
    for k in K.parse(c.call("KEYS", "s:*")) or []:
        K.check(k.decode() in sent_set, "%s: key %r was never written" % (label, k))
    msets = [op for op in wl.ops if op["kind"] == "mset"]
    sent_m = {k for op in msets for k in op["keys"]}
    for op in msets:
        got = K.parse(c.call("MGET", *op["keys"]))
        want = op["val"].encode()
        K.check(all(g in (None, want) for g in got), "%s: MSET %s wrote a value never sent: %r"
                % (label, op["keys"], got))
        # All or nothing on disk, every one: logged as a unit across shards,
        # or (run while appendonly was no) in every shard's rewrite when it
        # was turned back on or in none, since those rewrites commit
        # together (docs/durability.md, "Turning appendonly on").
        K.check(got[0] == got[1], "%s: MSET %s half applied: %r" % (label, op["keys"], got))
        if op["status"] == "ok" and op["durable"]:
            K.check(got[0] == want, "%s: acknowledged MSET %s lost (got %r)" %
                    (label, op["keys"], got))
    for k in K.parse(c.call("KEYS", "m:*")) or []:
        K.check(k.decode() in sent_m, "%s: key %r was never written" % (label, k))
    for w in range(WRITERS):
        incrs = [op for op in wl.ops if op["kind"] == "incr" and op["writer"] == w]
        acked = max([op["n"] for op in incrs if op["status"] == "ok" and op["durable"]] or [0])
        r = K.parse(c.call("GET", "c:%d" % w))
        v = int(r) if r is not None else 0
        K.check(acked <= v <= len(incrs), "%s: counter c:%d = %d, acknowledged %d, sent %d" %
                (label, w, v, acked, len(incrs)))
        pushes = [op for op in wl.ops if op["kind"] == "rpush" and op["writer"] == w]
        order = {op["val"].encode(): n for n, op in enumerate(pushes)}
        lst = parse_list(c.call("LRANGE", "l:%d" % w, 0, -1))
        idx = [order.get(e, -1) for e in lst]
        K.check(all(i >= 0 for i in idx) and idx == sorted(set(idx)),
                "%s: list l:%d holds elements never pushed, twice or out of order: %r" %
                (label, w, lst[:20]))
        have = set(lst)
        lost = [op["val"] for op in pushes
                if op["status"] == "ok" and op["durable"] and op["val"].encode() not in have]
        K.check(not lost, "%s: acknowledged RPUSH l:%d lost: %r" % (label, w, lost[:5]))
    for k in K.parse(c.call("KEYS", "*")) or []:
        K.check(re.match(rb"^(pop|s|c|l|m):|^final:", k) is not None,
                "%s: unknown key %r after restart" % (label, k))


def kevy_check(d):
    kc = os.path.join(os.environ.get("KEVY_BIN_DIR") or os.path.dirname(K.kevy_binary()),
                      "kevy-check")
    if not os.path.exists(kc):
        return None, "kevy-check not built"
    p = subprocess.run([kc, d], capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


class Env:
    """Set environment variables for one server start (K.Server inherits)."""

    def __init__(self, **kv):
        self.kv = kv

    def __enter__(self):
        for k, v in self.kv.items():
            os.environ[k] = v

    def __exit__(self, *exc):
        for k in self.kv:
            os.environ.pop(k, None)


def split_spec(spec):
    variant, fp = spec.split("/", 1) if "/" in spec else ("uring1", spec)
    K.check(variant in VARIANTS, "unknown variant %r in %r" % (variant, spec))
    return variant, fp


def start_server(trace, variant):
    io, threads = VARIANTS[variant]
    srv = K.kevy("--threads", str(threads), "--io", io, "--appendfsync", "always", "--save", "",
                 "--auto-aof-rewrite-percentage", "0", name="faults")
    with Env(KEVY_TRACE=os.path.join(srv.tmpdir, "trace.bin")) if trace else Env():
        srv.start()
    return srv


def case_rng(seed, spec):
    return random.Random("%d/%s" % (seed, spec))


def probe(seed, variant):
    """The fault-free run: per kind, the list of (N, file class, path)."""
    srv = start_server(True, variant)
    try:
        wl = Workload(srv, case_rng(seed, "probe/" + variant), seed)
        wl.populate()
        wl.ctl_ok("DEBUG", "FAILPOINTS", "")
        K.check(wl.ctl.call("ECHO", MARKER) == bulk(MARKER), "ECHO")
        wl.run()
        K.check(wl.misconf == 0, "probe: no refusal without faults (%d)" % wl.misconf)
        wl.close()
        A.kill9(srv)
        recs = after_marker(read_trace(os.path.join(srv.tmpdir, "trace.bin")))
        K.check(recs, "probe: the trace has the workload's operations")
        ops = {k: [] for k in TRACE_KIND}
        for r in sorted((r for r in recs if r["kind"] != "reply"), key=lambda r: r["op_id"]):
            ops[r["kind"]].append((len(ops[r["kind"]]) + 1, file_class(r),
                                   os.path.basename(r["path"])))
        return ops
    finally:
        srv.cleanup()


def replay_line(seed, spec):
    env = ["KEVY_SEED=%d" % seed, "KEVY_FAULT_CASE=%s" % shlex.quote(spec)]
    for k in ("KEVY_SERVER", "KEVY_BIN_DIR", "PYTHONPATH"):
        if os.environ.get(k):
            env.append("%s=%s" % (k, shlex.quote(os.environ[k])))
    return "%s python3 %s" % (" ".join(env), HERE)


def check_case(seed, spec):
    """One serving fault.  Returns a one-line description of what happened;
    raises TestFailure on a broken promise, or returns None when the fault
    did not fire (the workload did not reach that position this time)."""
    variant, fp = split_spec(spec)
    nshards = VARIANTS[variant][1]
    kind, rest = fp.split(":", 1)
    action = rest.split("=", 1)[1]
    srv = start_server(True, variant)
    wl = None
    try:
        wl = Workload(srv, case_rng(seed, spec), seed)
        wl.populate()
        log_off = A.log_size(srv)
        wl.ctl_ok("DEBUG", "FAILPOINTS", fp)
        K.check(wl.ctl.call("ECHO", MARKER) == bulk(MARKER), "ECHO")
        wl.run()
        trace = os.path.join(srv.tmpdir, "trace.bin")
        # Group commit makes the count of appends vary from run to run: a
        # position past this run's end is reached by a few more rounds.
        for _ in range(30):
            if not srv.alive() or any(r["flags"] & FLAG_INJECTED for r in read_trace(trace)):
                break
            wl.round()
        wl.drain(1.0)
        K.check(srv.alive(), "%s: the server died during the workload (status %s)" %
                (spec, srv.proc.poll()))
        wl.ctl_ok("DEBUG", "FAILPOINTS", "")
        recs = after_marker(read_trace(trace))
        hit = [r for r in recs if r["flags"] & FLAG_INJECTED and r["kind"] == kind]
        if not hit:
            return None
        hit = hit[0]
        cls = file_class(hit)
        what = "%s %s" % (os.path.basename(hit["path"]) or hit["path"], cls)
        log = A.log_since(srv, log_off).decode("utf-8", "replace")
        inf = A.info(wl.ctl)
        # Settle: a retrying shard must resume by itself.
        if inf.get("aof_write_state") == "retrying":
            A.wait_for(lambda: A.info(wl.ctl).get("aof_write_state") != "retrying",
                       RESUME_WAIT_S, 0.05)
            inf = A.info(wl.ctl)
        wl.drain(RESUME_WAIT_S)
        state = inf.get("aof_write_state")
        log = A.log_since(srv, log_off).decode("utf-8", "replace")
        saw = {k: any(i.get(k) == "err" for i in wl.infos + [inf])
               for k in ("aof_last_write_status", "rdb_last_bgsave_status")}
        # Which promise applies, from what the server says it did.
        retried = "refusing writes and retrying" in log
        failed = state == "failed"
        snap_failed = re.search(r"snapshot \S+ failed", log) is not None
        # A fault on the zeros written ahead of the appends: ENOSPC or a
        # short write is logged and the appends go on without them; EIO
        # fails the AOF as on an append.
        prealloc = "could not preallocate" in log or "preallocation write" in log
        # A fault on opening a new segment's O_DIRECT descriptor: logged,
        # and its appends are written and fdatasynced instead.
        direct_open = "for direct writes" in log
        K.check(state in ("ok", "failed"), "%s: aof_write_state %r %.0fs after the fault "
                "(an ENOSPC retry must resume by itself)" % (spec, state, RESUME_WAIT_S))
        K.check(retried or failed or snap_failed or prealloc or direct_open or
                "could not remove" in log,
                "%s: the fault on %s is not reported in the log:\n%s" % (spec, what, log[-1500:]))

        # No writer is acknowledged before its record is durable.
        nacks = check_acks_durable(spec, recs, wl)

        if kind == "unlink":
            # Removing a file a committed manifest no longer names: the
            # commit stands, the log says what was left over, and the
            # next recovery removes it.
            K.check("could not remove" in log, "%s: the failed unlink of %s is logged"
                    % (spec, what))
            K.check(not failed and not retried, "%s: a failed unlink changes nothing "
                    "(state %s)" % (spec, state))
        elif cls == "snap":
            K.check(saw["rdb_last_bgsave_status"], "%s: a snapshot fault shows "
                    "rdb_last_bgsave_status:err" % spec)
            K.check(not failed, "%s: a snapshot fault leaves the AOF accepting writes "
                    "(state %s)" % (spec, state))
        if retried and not failed:
            K.check("succeeded again" in log, "%s: the log says when writes resume" % spec)
        if direct_open:
            K.check(not failed and not retried, "%s: a failed O_DIRECT open of %s leaves "
                    "writes accepted (state %s)" % (spec, what, state))
        elif prealloc and action in ("enospc", "short"):
            K.check("appends go on" in log and not failed and not retried,
                    "%s: a failed preallocation of %s leaves writes accepted (state %s)"
                    % (spec, what, state))
        elif kind in ("write", "open", "rename") and action in ("enospc", "short") and \
                cls in ("aof", "manifest"):
            # Appends, and every step of a rotation, rewrite or manifest
            # commit that writes its data again whole, retry until it fits.
            K.check(retried and not failed, "%s: ENOSPC/short on %s resumes (state %s)"
                    % (spec, what, state))
        if failed:
            K.check(saw["aof_last_write_status"] or inf.get("aof_last_write_status") == "err",
                    "%s: INFO says aof_last_write_status:err" % spec)
            K.check(inf.get("aof_last_write_error", "") not in ("", "0"),
                    "%s: INFO names the error: %r" % (spec, inf.get("aof_last_write_error")))

        # The end state: writes refused for good, or accepted again.
        # (with two shards, the keys below land on both: the failed shard
        # refuses, the other one accepts)
        finals = ["final:%d" % i for i in range(4 * nshards)]
        got = [wl.ctl.call("SET", k, "1") for k in finals]
        K.check(all(r == b"+OK\r\n" or r.startswith(b"-MISCONF") for r in got),
                "%s: final writes: %r" % (spec, got))
        if failed:
            K.check(any(r.startswith(b"-MISCONF") for r in got),
                    "%s: writes refused after the failure: %r" % (spec, got))
            if nshards == 1:
                K.check(all(r.startswith(b"-MISCONF") for r in got), "%s: all refused" % spec)
        else:
            K.check(all(r == b"+OK\r\n" for r in got), "%s: writes accepted (state ok): %r" %
                    (spec, got))
        for k, r in zip(finals, got):
            wl.ops.append({"kind": "set", "key": k, "val": "1", "durable": True, "policy": "always",
                           "status": "ok" if r == b"+OK\r\n" else "err", "writer": -1})
        K.check(K.parse(wl.ctl.call("GET", "pop:7")) == wl.baseline["pop:7"],
                "%s: reads work" % spec)
        if failed:
            # A snapshot needs the AOF's rotation: it fails at once, it
            # does not wait for good (SAVE once hung here).
            wl.ctl.send(K.encode("SAVE"))
            r = A.try_read(wl.ctl, PHASE_WAIT_S)
            K.check(r is not None and r.startswith(b"-"), "%s: SAVE with writes refused "
                    "answers an error within %.0fs: %r" % (spec, PHASE_WAIT_S, r))
            K.check(A.info(wl.ctl).get("rdb_last_bgsave_status") == "err",
                    "%s: the refused snapshot shows rdb_last_bgsave_status:err" % spec)
        else:
            saves = int(A.info(wl.ctl).get("rdb_saves", "0"))
            wl.ctl.call("BGSAVE")
            K.check(A.wait_for(lambda: A.info(wl.ctl).get("rdb_bgsave_in_progress") == "0" and
                               int(A.info(wl.ctl).get("rdb_saves", "0")) > saves, PHASE_WAIT_S,
                               0.02), "%s: the next BGSAVE works: %r" % (spec, A.info(wl.ctl)))
            K.check(A.info(wl.ctl).get("rdb_last_bgsave_status") == "ok", "%s: bgsave ok" % spec)
        K.check(srv.alive(), "%s: the server is alive at the end" % spec)
        K.check(not srv.log_alarms(), "%s: log alarms %r" % (spec, srv.log_alarms()[:3]))

        # kill -9, check the files, restart without failpoints, the oracle.
        oracle = wl
        wl.close()
        wl = None
        A.kill9(srv)
        K.check(srv.exit_code == -signal.SIGKILL, "%s: it was alive until the kill (status %s)" %
                (spec, srv.exit_code))
        code, out = kevy_check(srv.dir)
        K.check(code in (0, 1, None), "%s: kevy-check after the kill says %s:\n%s" %
                (spec, code, out[-1500:]))
        A.restart(srv)
        with srv.conn(timeout=30) as c:
            wl2 = oracle
            verify_oracle(wl2, c, spec)
            K.check(c.call("SET", "final:y", "1") == b"+OK\r\n", "%s: writes after restart" % spec)
        srv.check_clean_exit()
        outcome = ("resumed" if retried and not failed else "refused writes" if failed
                   else "snapshot abandoned" if snap_failed else "reported")
        return "%s on %s: %s; %d -MISCONF, %d acked (%d traced to a durable record)" % (
            spec, what, outcome, wl2.misconf,
            sum(1 for op in wl2.ops if op["status"] == "ok"), nacks)
    finally:
        if wl is not None:
            wl.close()
        srv.cleanup()


# Startup faults, set through KEVY_FAILPOINTS: the server must refuse to
# start (non-zero status, not a signal, a message naming the error), and a
# start without the failpoint must then work and keep the data.
STARTUP_CASES = [
    "startup-fresh:open:1=eio", "startup-fresh:open:2=enospc", "startup-fresh:write:1=enospc",
    "startup-fresh:write:2=short", "startup-fresh:fsync:1=eio", "startup-fresh:rename:1=eio",
    "startup-fresh:dirsync:1=eio", "startup-existing:open:1=eio",
    "startup-existing:read:1=eio", "startup-existing:open:3=enospc",
    # A torn tail to cut: the quarantine copy, its fsync, the truncation.
    "startup-torn:truncate:1=eio", "startup-torn:write:1=enospc", "startup-torn:fsync:1=eio",
]
ERRNO_TEXT = {"eio": "Input/output error", "enospc": "No space left on device",
              "short": "No space left on device"}


def check_startup(spec):
    where, fp = spec.split(":", 1)
    action = fp.split("=", 1)[1]
    srv = K.kevy("--threads", "2", "--appendfsync", "always", name="faults-start")
    try:
        if where in ("startup-existing", "startup-torn"):
            srv.start()
            with srv.conn() as c:
                for i in range(20):
                    K.check(c.call("SET", "pre:%d" % i, "v%d" % i) == b"+OK\r\n", "SET")
            srv.check_clean_exit()
        if where == "startup-torn":
            seg = sorted(glob.glob(os.path.join(srv.dir, "kevy-s0-g*.aof")))[-1]
            with open(seg, "ab") as f:
                f.write(b"\xff" * 40)   # half a record header: a torn append
        with Env(KEVY_FAILPOINTS=fp, KEVY_TRACE=os.path.join(srv.tmpdir, "trace.bin")):
            code, out = A.start_refused(srv.dir, "--threads", "2", timeout=20)
        recs = read_trace(os.path.join(srv.tmpdir, "trace.bin"))
        if not any(r["flags"] & FLAG_INJECTED for r in recs):
            K.check(code is None, "%s: the fault did not fire, yet the server exited (%s):\n%s" %
                    (spec, code, out[-800:]))
            return None
        K.check(code is not None, "%s: the server started despite the fault:\n%s" % (spec, out[-800:]))
        K.check(code > 0, "%s: refused with a non-zero status, not a signal (status %s):\n%s" %
                (spec, code, out[-800:]))
        K.check(ERRNO_TEXT[action] in out or "short" in out,
                "%s: the message names the error (%r):\n%s" % (spec, ERRNO_TEXT[action], out[-800:]))
        msg = [ln for ln in out.splitlines() if ERRNO_TEXT[action] in ln or "short" in ln][:1]
        # Without the fault it starts, with what was acknowledged before.
        srv.exit_code = None
        srv.start()
        with srv.conn() as c:
            if where in ("startup-existing", "startup-torn"):
                got = K.parse(c.call("MGET", *["pre:%d" % i for i in range(20)]))
                K.check(got == [b"v%d" % i for i in range(20)], "%s: data kept: %r" % (spec, got))
            K.check(c.call("SET", "after", "1") == b"+OK\r\n", "%s: writes after" % spec)
        srv.check_clean_exit()
        return "%s: refused to start (status %d): %s" % (spec, code, msg[0].strip()[:160] if msg else "")
    finally:
        srv.cleanup()


def sample(ops, rng, long_mode, ncases):
    """The cases: every (kind, action, N) in long mode; else a seeded sample
    that hits every file class of every kind with every action, then fills
    up to ncases at random positions."""
    every = [(k, a, n, cls) for k in KINDS for a in ACTIONS[k] for n, cls, _ in ops[k]]
    if long_mode:
        return [(k, a, n) for k, a, n, _ in every]
    chosen = []
    for k in KINDS:
        for a in ACTIONS[k]:
            by_cls = {}
            for kk, aa, n, cls in every:
                if kk == k and aa == a:
                    by_cls.setdefault(cls, []).append(n)
            for cls in sorted(by_cls):
                chosen.append((k, a, rng.choice(by_cls[cls])))
    rest = [(k, a, n) for k, a, n, _ in every if (k, a, n) not in chosen]
    rng.shuffle(rest)
    chosen += rest[:max(0, ncases - len(chosen))]
    return sorted(set(chosen), key=lambda c: (KINDS.index(c[0]), c[1], c[2]))


def run_cases(seed, specs):
    results = []   # (spec, kind, outcome)  outcome: "pass" | "not reached" | "FAIL"
    for spec in specs:
        kind = spec.split(":", 1)[0] if spec.startswith("startup") else \
            split_spec(spec)[1].split(":", 1)[0]
        t = time.monotonic()
        try:
            if spec.startswith("startup"):
                desc = check_startup(spec)
            else:
                desc = check_case(seed, spec)
        except (K.TestFailure, OSError, ValueError) as e:
            # A timeout or a dropped connection is a failure of this case
            # too: name it and go on, so the replay line is printed.
            K.log("FAIL %s: %s" % (spec, e if isinstance(e, K.TestFailure) else repr(e)))
            K.log("  replay: %s" % replay_line(seed, spec))
            results.append((spec, kind, "FAIL"))
            continue
        if desc is None:
            K.log("not reached: %s (the workload issued fewer operations of that kind "
                  "this time)" % spec)
            results.append((spec, kind, "not reached"))
        else:
            K.log("ok  %s  [%.2fs]" % (desc, time.monotonic() - t))
            results.append((spec, kind, "pass"))
    return results


# Cases that once failed, replayed with the seed that found them, several
# times (the failure was a race): a WAITAOF gated after the AOF's fsync had
# failed waited for ever (about 1 run in 5) instead of answering the error.
REGRESSIONS = [(728589308, "uring2/fsync:31=enospc", 5)]


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's failpoints")
    for k in ("KEVY_FAILPOINTS", "KEVY_TRACE"):
        os.environ.pop(k, None)
    seed, rng = K.rng_from_env()
    t0 = time.monotonic()
    only = os.environ.get("KEVY_FAULT_CASE", "").strip()
    long_mode = os.environ.get("KEVY_CRASH_LONG", "") not in ("", "0")
    if only:
        specs = [s.strip() for s in only.split(",") if s.strip()]
    else:
        ncases = int(os.environ.get("KEVY_FAULTS_CASES", "150"))
        specs = []
        # CI: most of the sample on uring1, the rest on the other variants.
        for variant, share in (("uring1", 0.6), ("epoll1", 0.25), ("uring2", 0.15)):
            ops = probe(seed, variant)
            K.log("probe %s: the workload issues %s (after startup)" % (variant, ", ".join(
                "%s %d" % (k, len(ops[k])) for k in KINDS)))
            specs += ["%s/%s:%d=%s" % (variant, k, n, a)
                      for k, a, n in sample(ops, rng, long_mode, int(ncases * share))]
        specs += STARTUP_CASES
        K.log("%d cases (%s mode)" % (len(specs), "long: every N" if long_mode else "sampled"))
    results = run_cases(seed, specs)
    if not only:
        for rseed, spec, times in REGRESSIONS:
            results += run_cases(rseed, [spec] * times)
    fired = [r for r in results if r[2] != "not reached"]
    passed = [r for r in results if r[2] == "pass"]
    failed = [r for r in results if r[2] == "FAIL"]
    per = ", ".join("%s %d" % (k, sum(1 for r in fired if r[1] == k))
                    for k in KINDS + ("startup-fresh", "startup-existing", "startup-torn")
                    if any(r[1] == k for r in fired))
    K.log("crash_faults: %d faults injected (%s), %d passed, %d failed, %d not reached; "
          "%.1fs, seed %d" % (len(fired), per, len(passed), len(failed),
                              len(results) - len(fired), time.monotonic() - t0, seed))
    for spec, _, _ in failed:
        K.log("  replay: %s" % replay_line(seed, spec))
    K.check(not failed, "%d fault case(s) failed (replay lines above)" % len(failed))
    K.check(len(fired) >= len(results) // 2, "most sampled faults fire")


if __name__ == "__main__":
    K.run_main(main)
