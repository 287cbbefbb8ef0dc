#!/usr/bin/python3
"""Replication, first pieces (issue 20; docs/replication.md says what is done).

1. The replication offset: ROLE is ["master", offset, []] and INFO
   replication's master_repl_offset is the same number; writes (strings,
   a cross-shard MSET, a MULTI/EXEC) make it grow, it never goes back, and
   it survives a restart (it is the durable LSNs of the shards' files).
2. ROLE's and REPLCONF's replies and errors, as Redis 7.0's (these checks
   also run against redis-server under KEVY_TARGET=redis).
3. The handshake refusals, with the reason in the reply: PSYNC and SYNC
   from a client that is not a kevy replica; a kevy replica that does not
   say its shard count or has another one ("start the replica with
   --threads N").
4. A redis-server started with --replicaof pointed at kevy is refused
   cleanly: its log has kevy's reason, its link stays down, and kevy keeps
   serving.
5. The file stream (full sync, then streaming) on 1, 2 and 4 shards, and
   on epoll: a replica written here (MirrorReplica: handshake, frames,
   files) follows a primary under write load over every type, with a
   cross-shard MSET and MULTI/EXEC, a BGSAVE and a BGREWRITEAOF mid stream
   (new files);
   on 2 shards a link cut mid stream and a partial resync from the
   replica's own files (REPLCONF kevy-pos), then a resume with another
   replication id, which gets a full sync instead.  Once the load stopped
   and the mirror's files equal the primary's, a kevy started on the
   mirror has the primary's DBSIZE and DEBUG DIGEST.  INFO replication and
   ROLE list the replica with the offset it acknowledged (REPLCONF ACK),
   and stop once its link is gone; INFO stats counts sync_full,
   sync_partial_ok and sync_partial_err as Redis does.
6. A replica that stops reading (20 MB behind): the primary keeps serving,
   disconnects it after repl-timeout (set to 1 s; the log says why), and
   still shuts down cleanly within seconds.  Under client-output-buffer-limit
   replica (hard 2 MB, or soft 2 MB for 1 s) it is cut once the records not
   sent to it reach the limit, with repl-timeout at 600 s, and the log names
   the limit; a replica that keeps reading stays.
7. requirepass: a replica must authenticate (a wrong masterauth gets
   -WRONGPASS, the right one syncs); appendonly no: PSYNC says there is
   nothing to stream; appendfsync no: the replica still catches up (the
   sender asks for an fsync each second).
8. kevy-mirror (the receiving half in C) through a TCP relay: a flipped
   byte mid full sync is refused, logged and followed by a full sync; a
   cut link, a kill -9 and restart of kevy-mirror, and a stalled link
   (its --timeout) each resume with a partial resync from its own files;
   a kevy started on its directory has the primary's DEBUG DIGEST.

Environment: KEVY_SERVER (set by CTest).
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

NOT_KEVY = b"kevy replicates only to kevy replicas"


def is_error(r, prefix):
    return isinstance(r, K.RespError) and r.msg.startswith(prefix.encode())


def info_replication(c):
    text = c.cmd("INFO", "replication").decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def role_offset(c):
    r = c.cmd("ROLE")
    K.check(isinstance(r, list) and len(r) == 3 and r[0] == b"master" and
            isinstance(r[1], int) and r[2] == [], "ROLE of a master: %r" % r)
    return r[1]


def synced_offset(c):
    """The offset once every earlier write is durable (WAITAOF fsyncs every
    shard), read by ROLE and by INFO: they must agree."""
    r = c.cmd("WAITAOF", "1", "0", "0")
    K.check(r == [1, 0], "WAITAOF 1 0 0: %r" % r)
    off = role_offset(c)
    info = info_replication(c)
    K.check(info["master_repl_offset"] == str(off),
            "INFO master_repl_offset %r == ROLE's %d" % (info["master_repl_offset"], off))
    return off


def check_offset(srv):
    with srv.conn() as c:
        start = synced_offset(c)
        n = 40
        for i in range(n):
            K.check(c.cmd("SET", "k%d" % i, "v%d" % i) == "OK", "SET")
        after_sets = synced_offset(c)
        K.check(after_sets >= start + n,
                "offset grew by one per durable write: %d -> %d" % (start, after_sets))
        K.check(c.cmd("MSET", "a", "1", "b", "2", "c", "3", "d", "4") == "OK", "MSET")
        K.check(c.cmd("MULTI") == "OK" and c.cmd("INCR", "x") == "QUEUED" and
                c.cmd("RPUSH", "l", "1", "2") == "QUEUED", "MULTI")
        K.check(c.cmd("EXEC") == [1, 2], "EXEC")
        after_units = synced_offset(c)
        K.check(after_units > after_sets, "units advance the offset: %d -> %d" %
                (after_sets, after_units))
        # Reads leave it alone.
        c.cmd("GET", "k1")
        c.cmd("MGET", "a", "b", "c")
        K.check(synced_offset(c) == after_units, "reads do not move the offset")
        info = info_replication(c)
        K.check(info["role"] == "master" and info["connected_slaves"] == "0" and
                re.fullmatch(r"[0-9a-f]{40}", info["master_replid"]) is not None,
                "INFO replication: %r" % info)
    srv.stop()
    srv.start()
    with srv.conn() as c:
        again = synced_offset(c)
        K.check(again >= after_units, "the offset survives a restart: %d then %d" %
                (after_units, again))
        K.check(c.cmd("GET", "k7") == b"v7", "data after restart")


def check_redis_replies(c):
    """Replies that must be Redis 7.0's, byte for byte in meaning."""
    r = c.cmd("ROLE", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'role' command"), "ROLE x: %r" % r)
    K.check(c.cmd("REPLCONF") == "OK", "REPLCONF alone is OK")
    K.check(is_error(c.cmd("REPLCONF", "a"), "ERR syntax error"), "REPLCONF a")
    K.check(is_error(c.cmd("REPLCONF", "listening-port", "x"),
                     "ERR value is not an integer or out of range"), "listening-port x")
    K.check(c.cmd("REPLCONF", "listening-port", "6380") == "OK", "listening-port 6380")
    K.check(c.cmd("REPLCONF", "capa", "eof", "capa", "psync2") == "OK", "capa eof psync2")
    K.check(c.cmd("REPLCONF", "capa", "whatever") == "OK", "an unknown capa is ignored")
    r = c.cmd("REPLCONF", "foo", "bar")
    K.check(is_error(r, "ERR Unrecognized REPLCONF option: foo"), "REPLCONF foo bar: %r" % r)
    r = c.cmd("REPLCONF", "ip-address", "x" * 300)
    K.check(is_error(r, "ERR REPLCONF ip-address provided by replica instance is too long: 300"),
            "long ip-address: %r" % r)
    K.check(c.cmd("REPLCONF", "ip-address", "127.0.0.1") == "OK", "ip-address")
    # ACK from a connection that is not a replica's link gets no reply: the
    # next command's reply is the next thing on the wire.
    c.send(K.encode("REPLCONF", "ACK", "5"))
    K.check(c.cmd("PING") == "PONG", "REPLCONF ACK answered nothing")
    r = c.cmd("PSYNC", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'psync' command"), "PSYNC x: %r" % r)
    r = c.cmd("SYNC", "x")
    K.check(is_error(r, "ERR wrong number of arguments for 'sync' command"), "SYNC x: %r" % r)
    r = c.cmd("MULTI")
    K.check(r == "OK", "MULTI")
    r = c.cmd("PSYNC", "?", "-1")
    K.check(is_error(r, "ERR Command not allowed inside a transaction"), "PSYNC in MULTI: %r" % r)
    c.cmd("DISCARD")


def check_refusals(srv, shards):
    with srv.conn() as c:
        for cmd in (("PSYNC", "?", "-1"), ("SYNC",)):
            r = c.cmd(*cmd)
            K.check(isinstance(r, K.RespError) and NOT_KEVY in r.msg, "%s: %r" % (cmd[0], r))
    with srv.conn() as c:
        K.check(c.cmd("REPLCONF", "capa", "kevy1") == "OK", "capa kevy1")
        r = c.cmd("PSYNC", "?", "-1")
        K.check(is_error(r, "ERR a kevy replica must say its shard count"), "no count: %r" % r)
        r = c.cmd("REPLCONF", "kevy-shards", "0")
        K.check(is_error(r, "ERR value is not an integer or out of range"), "kevy-shards 0: %r" % r)
        K.check(c.cmd("REPLCONF", "kevy-shards", str(shards + 1)) == "OK", "kevy-shards")
        r = c.cmd("PSYNC", "?", "-1")
        want = ("ERR the primary runs %d shards, this replica %d: start the replica with "
                "--threads %d" % (shards, shards + 1, shards))
        K.check(is_error(r, want), "shard count refused: %r" % r)
        for bad in ("%d:1:72" % shards, "0:1", "0:1:72:5", "a:1:72", "0:-1:72", "0:1:72x", ""):
            r = c.cmd("REPLCONF", "kevy-pos", bad)
            K.check(is_error(r, "ERR REPLCONF kevy-pos wants <shard>:<generation>:<offset>"),
                    "kevy-pos %r: %r" % (bad, r))
        K.check(c.cmd("REPLCONF", "kevy-pos", "0:1:72") == "OK", "kevy-pos 0:1:72")
        K.check(c.cmd("PING") == "PONG", "the connection still works after a refusal")



# ---- a replica of kevy's file stream, written in the test ----------------
# It speaks the handshake, parses the frames (docs/format.md, "Replication
# stream") and writes the files into a directory, as the kevy replica's link
# thread will.  A kevy started on that directory must then hold the
# primary's data (DEBUG DIGEST equal).

HDR = struct.Struct("<4sHBBIIQQQQQ")
FILE, DATA, COMMIT, SYNCED, PING = 1, 2, 3, 4, 5
K_DATASET, K_MANIFEST = 1, 2
NAME_RE = re.compile(rb"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


class AuthRefused(Exception):
    pass


class MirrorReplica:
    def __init__(self, port, shards, dirpath, resume=None, replid=None, auth=None):
        """resume: the replica that lost its link (its files and positions
        are reused: partial resync asked with replid, or its own)."""
        self.dir = dirpath
        os.makedirs(dirpath, exist_ok=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.files = dict(resume.files) if resume else {}  # (kind, shard, gen) -> name
        self.seq = 0
        self.synced = None
        self.frames = 0
        if auth:
            self.sock.sendall(K.encode("AUTH", auth))
            line = self._line()
            if line != b"+OK":
                raise AuthRefused(line)
        cmds = [("REPLCONF", "listening-port", "6390"), ("REPLCONF", "capa", "kevy1"),
                ("REPLCONF", "kevy-shards", str(shards))]
        if resume:
            for i in range(shards):
                gen = max(g for (k, sh, g) in self.files if k == 4 and sh == i)
                size = os.path.getsize(os.path.join(dirpath, self.files[(4, i, gen)]))
                cmds.append(("REPLCONF", "kevy-pos", "%d:%d:%d" % (i, gen, size)))
        for cmd in cmds:
            self.sock.sendall(K.encode(*cmd))
            K.check(self._line() == b"+OK", "handshake %r" % (cmd,))
        want = replid or (resume.replid if resume else "?")
        self.sock.sendall(K.encode("PSYNC", want, "0" if resume else "-1"))
        line = self._line()
        m = re.fullmatch(rb"\+(FULLRESYNC|CONTINUE) ([0-9a-f]{40})(?: \d+)?", line)
        K.check(m is not None, "PSYNC reply: %r" % line)
        self.mode = m.group(1).decode()
        self.replid = m.group(2).decode()

    def close(self):
        self.sock.close()

    def ack(self, offset):
        self.sock.sendall(K.encode("REPLCONF", "ACK", str(offset)))

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("the primary closed the link")
        self.buf += data

    def _line(self):
        for _ in range(1000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()
        raise K.TestFailure("no line")

    def _apply(self, typ, kind, shard, gen, off, seq, payload):
        K.check(seq == self.seq, "frame seq %d, expected %d" % (seq, self.seq))
        self.seq += 1
        self.frames += 1
        key = (kind, shard, gen)
        if typ == FILE:
            K.check(NAME_RE.fullmatch(payload) is not None, "file name %r" % payload)
            name = payload.decode()
            self.files[key] = name
            tmp = kind in (K_DATASET, K_MANIFEST)
            with open(os.path.join(self.dir, name + (".mirror-tmp" if tmp else "")), "wb"):
                pass
        elif typ == DATA:
            name = self.files[key]
            tmp = kind in (K_DATASET, K_MANIFEST)
            with open(os.path.join(self.dir, name + (".mirror-tmp" if tmp else "")), "r+b") as f:
                f.seek(off)
                f.write(payload)
        elif typ == COMMIT:
            name = self.files[key]
            path = os.path.join(self.dir, name)
            if kind in (K_DATASET, K_MANIFEST):
                os.replace(path + ".mirror-tmp", path)
            K.check(os.path.getsize(path) == off, "%s committed at %d bytes" % (name, off))
        elif typ == SYNCED:
            self.synced = off

    def pump(self, seconds):
        """Apply whatever frames arrive within seconds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while len(self.buf) >= HDR.size:
                (magic, ver, typ, kind, shard, plen, gen, off, seq, _pc, _hc) = HDR.unpack_from(self.buf)
                K.check(magic == b"KVRP" and ver == 1, "frame header %r" % self.buf[:8])
                if len(self.buf) < HDR.size + plen:
                    break
                payload = self.buf[HDR.size:HDR.size + plen]
                self.buf = self.buf[HDR.size + plen:]
                self._apply(typ, kind, shard, gen, off, seq, payload)
            self.sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                self._fill()
            except socket.timeout:
                pass


def named_files(d, shards):
    """kevy.dataset, the manifests and the files they name (the names are
    read from the manifest bytes: entries end in file names)."""
    out = ["kevy.dataset"]
    for i in range(shards):
        m = "kevy-s%d.manifest" % i
        out.append(m)
        with open(os.path.join(d, m), "rb") as f:
            raw = f.read()
        out += sorted(set(x.decode() for x in
                          re.findall(rb"kevy-s%d-g\d+\.(?:aof|snap)" % i, raw)))
    return out


def mirror_diff(src, dst, shards):
    """None when the mirror holds the primary's named files byte for byte,
    else what differs first (for the failure message)."""
    try:
        for name in named_files(src, shards):
            with open(os.path.join(src, name), "rb") as a, open(os.path.join(dst, name), "rb") as b:
                x, y = a.read(), b.read()
                if name.endswith(".aof"):
                    # The primary's zeros ahead of its appends (aof-preallocate)
                    # are not records and are not sent.
                    x, y = x.rstrip(b"\0"), y.rstrip(b"\0")
                if x != y:
                    at = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]),
                              min(len(x), len(y)))
                    return "%s: primary %d bytes, mirror %d, first difference at %d" % (
                        name, len(x), len(y), at)
        return None
    except OSError as e:
        return "%s" % e


def mirror_equal(src, dst, shards):
    return mirror_diff(src, dst, shards) is None


def load(port, rounds, tag):
    with K.RawConn(port) as c:
        for i in range(rounds):
            k = "%s%d" % (tag, i)
            c.cmd("SET", "s:" + k, "v%d" % i)
            c.cmd("RPUSH", "l:" + tag, k)
            c.cmd("HSET", "h:" + tag, k, i)
            c.cmd("SADD", "set:" + tag, k)
            c.cmd("ZADD", "z:" + tag, i, k)
            c.cmd("XADD", "x:" + tag, "*", "f", k)
            c.cmd("MSET", "ma:" + k, "1", "mb:" + k, "2", "mc:" + k, "3")
            c.cmd("MULTI")
            c.cmd("INCR", "cnt:" + tag)
            c.cmd("LPUSH", "ml:" + k, "x")
            c.cmd("EXEC")
            if i % 97 == 0:
                c.cmd("DEL", "s:%s%d" % (tag, i // 2))


def check_replica_listed(prim, rep):
    """INFO replication and ROLE list the replica with the offset it
    acknowledged; once its link is gone they no longer do."""
    with prim.conn() as c:
        off = c.cmd("ROLE")[1]
        K.check(isinstance(off, int) and off > 0, "ROLE offset %r" % off)
        rep.ack(off)
        info = {}
        for _ in range(100):
            rep.pump(0.02)
            info = info_replication(c)
            if info.get("slave0", "").find("offset=%d," % off) >= 0:
                break
        K.check(info.get("connected_slaves") == "1", "connected_slaves: %r" % info)
        m = re.fullmatch(r"ip=127\.0\.0\.1,port=6390,state=online,offset=(\d+),lag=(\d+)",
                         info.get("slave0", ""))
        K.check(m is not None and int(m.group(1)) == off and int(m.group(2)) <= 2,
                "slave0 line: %r (offset %d)" % (info.get("slave0"), off))
        r = c.cmd("ROLE")
        K.check(r[0] == b"master" and r[2] == [[b"127.0.0.1", b"6390", str(off).encode()]],
                "ROLE lists the replica: %r" % r)


def check_stream(shards, cut_link, io=()):
    """Full sync then streaming on a primary under load; the mirror, started
    as a kevy, has the primary's digest.  cut_link: drop the link mid
    stream and sync again from scratch into the same directory."""
    with K.kevy("--threads", str(shards), *io) as prim:
        load(prim.port, 150, "pre")
        # The replica's server owns the mirror directory (its data dir),
        # so it outlives the primary's.
        replica = K.kevy("--threads", str(shards), name="mirror")
        mirror = replica.dir
        rep = MirrorReplica(prim.port, shards, mirror)
        rep.pump(0.3)
        cuts = 0
        t = threading.Thread(target=load, args=(prim.port, 400, "live"))
        t.start()
        with prim.conn() as c:
            K.check(c.cmd("BGSAVE") in ("Background saving started", b"Background saving started"),
                    "BGSAVE mid stream")
            # The snapshot's new files, then a cut: the replica's newest
            # segment is still the primary's current one, so it resumes.
            for _ in range(200):
                rep.pump(0.02)
                if "rdb_bgsave_in_progress:0" in c.cmd("INFO", "persistence").decode():
                    break
            # A rewrite replaces the segments too.
            r = c.cmd("BGREWRITEAOF")
            K.check(isinstance(r, (str, bytes)) and b"rewriting" in
                    (r if isinstance(r, bytes) else r.encode()), "BGREWRITEAOF: %r" % r)
            for _ in range(200):
                rep.pump(0.02)
                if "aof_rewrite_in_progress:0" in c.cmd("INFO", "persistence").decode():
                    break
        for _ in range(200):
            if not t.is_alive():
                break
            rep.pump(0.05)
            if cut_link and not cuts and rep.synced is not None:
                cuts = 1
                rep.pump(1.2)   # what the snapshot changed has arrived
                rep.close()
                rep = MirrorReplica(prim.port, shards, mirror, resume=rep)
                K.check(rep.mode == "CONTINUE", "partial resync after a cut: %s" % rep.mode)
                rep.synced = 0
        t.join(60)
        K.check(not t.is_alive(), "load finished")
        K.check(rep.synced is not None, "the full sync completed (SYNCED frame)")
        with prim.conn() as c:
            K.check(c.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF")
            # Let the snapshot finish: its files change the manifest.
            for _ in range(100):
                if "rdb_bgsave_in_progress:0" in c.cmd("INFO", "persistence").decode():
                    break
                time.sleep(0.05)
            digest = c.cmd("DEBUG", "DIGEST")
            dbsize = c.cmd("DBSIZE")
        # Bounded by time (30 s) and count: under ASan on two busy vCPUs the
        # last snapshot's files can take seconds to reach the mirror.
        diff = "not compared"
        deadline = time.monotonic() + 30
        for _ in range(300):
            rep.pump(0.1)
            diff = mirror_diff(prim.dir, mirror, shards)
            if diff is None or time.monotonic() > deadline:
                break
        K.check(diff is None, "the mirror's files equal the primary's (%d shards): %s" % (shards, diff))
        if cut_link:
            # Another primary's id (or a position the primary cannot vouch
            # for) gets a full sync, which converges too.
            rep.close()
            rep = MirrorReplica(prim.port, shards, mirror, resume=rep, replid="0" * 40)
            K.check(rep.mode == "FULLRESYNC", "another replid: %s" % rep.mode)
            equal = False
            for _ in range(100):
                rep.pump(0.1)
                if rep.synced is not None and mirror_equal(prim.dir, mirror, shards):
                    equal = True
                    break
            K.check(equal, "full sync after a refused resume (%d shards)" % shards)
        K.check(cuts == (1 if cut_link else 0), "the link was cut as asked")
        with prim.conn() as c:
            # Counted as Redis counts them: the first PSYNC ("?") is a full
            # sync, the resume a partial one, and the resume with another
            # id a full sync and a failed partial one.
            stats = dict(l.split(":", 1) for l in c.cmd("INFO", "stats").decode().split("\r\n")
                         if l.startswith("sync_"))
            want = {"sync_full": str(1 + cuts), "sync_partial_ok": str(cuts),
                    "sync_partial_err": str(cuts)}
            K.check(stats == want, "INFO stats %r, want %r" % (stats, want))
        check_replica_listed(prim, rep)
        K.check(rep.frames > 10, "frames streamed: %d" % rep.frames)
        rep.close()
        with prim.conn() as c:
            gone = False
            for _ in range(200):
                if info_replication(c).get("connected_slaves") == "0":
                    gone = True
                    break
                time.sleep(0.02)
            K.check(gone, "a closed link is no longer listed")
            K.check(c.cmd("ROLE")[2] == [], "ROLE lists no replica")
        prim.check_clean_exit()
    with replica:
        with replica.conn() as c:
            K.check(c.cmd("DBSIZE") == dbsize, "DBSIZE %r == %r" % (c.cmd("DBSIZE"), dbsize))
            K.check(c.cmd("DEBUG", "DIGEST") == digest, "DEBUG DIGEST equal (%d shards)" % shards)
        replica.check_clean_exit()
    return dbsize

def check_redis_replica_refused(srv):
    rb = K.redis_binary()
    if not rb or not os.path.exists(rb):
        K.log("redis-server not found: skipping the redis-server replica check")
        return 0
    with K.redis("--replicaof", "127.0.0.1", str(srv.port), "--repl-timeout", "5") as rep:
        deadline = time.monotonic() + 20
        seen = False
        while time.monotonic() < deadline and not seen:
            seen = NOT_KEVY in rep.log_tail(20000)
            if not seen:
                time.sleep(0.1)
        K.check(seen, "redis-server logs kevy's refusal:\n%s" %
                rep.log_tail(3000).decode("utf-8", "replace"))
        with rep.conn() as rc:
            info = info_replication(rc)
            K.check(info.get("role") == "slave" and info.get("master_link_status") == "down",
                    "redis-server's link stays down: %r" % info)
    with srv.conn() as c:
        K.check(c.cmd("SET", "after", "redis") == "OK" and c.cmd("GET", "after") == b"redis",
                "kevy keeps serving")
    return 1


def check_auth_and_appendonly():
    """A primary with requirepass serves only a replica that authenticates
    (masterauth); a wrong password is refused with Redis's error and the
    primary logs nothing alarming.  appendonly no: nothing to stream, PSYNC
    says so."""
    d = tempfile.mkdtemp(prefix="kevy-it-auth-")
    try:
        with K.kevy("--threads", "2", "--requirepass", "sekret") as prim:
            with prim.conn() as c:
                for cmd in (("REPLCONF", "capa", "kevy1"), ("PSYNC", "?", "-1")):
                    r = c.cmd(*cmd)
                    K.check(is_error(r, "NOAUTH Authentication required"), "%s: %r" % (cmd[0], r))
            refused = None
            try:
                MirrorReplica(prim.port, 2, d, auth="wrong")
            except AuthRefused as e:
                refused = e.args[0]
            K.check(refused is not None and refused.startswith(b"-WRONGPASS"),
                    "a wrong masterauth is refused: %r" % refused)
            rep = MirrorReplica(prim.port, 2, d, auth="sekret")
            rep.pump(0.5)
            K.check(rep.synced is not None, "an authenticated replica syncs")
            rep.close()
            prim.check_clean_exit()
        with K.kevy("--threads", "1", "--appendonly", "no") as srv:
            with srv.conn() as c:
                for cmd in (("REPLCONF", "capa", "kevy1"), ("REPLCONF", "kevy-shards", "1")):
                    K.check(c.cmd(*cmd) == "OK", "%r" % (cmd,))
                r = c.cmd("PSYNC", "?", "-1")
                K.check(is_error(r, "ERR kevy replicates its AOF files: turn appendonly on"),
                        "appendonly no: %r" % r)
            srv.check_clean_exit()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_appendfsync_no():
    """appendfsync no: the shards never fsync on their own, and only durable
    records are sent; with a replica attached the sender asks for an fsync
    each second, so the replica catches up without anyone calling WAITAOF."""
    d = tempfile.mkdtemp(prefix="kevy-it-fsync-no-")
    try:
        with K.kevy("--threads", "2", "--appendfsync", "no") as prim:
            rep = MirrorReplica(prim.port, 2, d)
            with prim.conn() as c:
                for i in range(200):
                    K.check(c.cmd("SET", "k%d" % i, "v%d" % i) == "OK", "SET")
            equal = False
            for _ in range(100):
                rep.pump(0.1)
                if mirror_equal(prim.dir, d, 2):
                    equal = True
                    break
            K.check(equal, "an appendfsync no primary's replica catches up")
            with prim.conn() as c:
                K.check(c.cmd("ROLE")[1] >= 200, "the records became durable")
            rep.close()
            prim.check_clean_exit()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def server_threads(pid):
    """The names of a process's threads, less io_uring's own workers
    (iou-wrk-*, iou-sqp-*), which come and go with the kernel's needs."""
    names = []
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                name = f.read().strip()
        except OSError:
            continue
        if not name.startswith("iou-"):
            names.append(name)
    return sorted(names)


def check_links_on_shards(shards, io=()):
    """Replicas' links are served by the shards' own loops, their files read
    through each shard's ring: two replicas syncing and streaming add no
    thread.  A data file that cannot be read ends the links with a log line
    and nothing else (writes go on), and a replica resumes from its files
    once reads work again."""
    dirs = [tempfile.mkdtemp(prefix="kevy-it-links-") for _ in range(2)]
    try:
        with K.kevy("--threads", str(shards), *io) as prim:
            load(prim.port, 60, "pre")
            before = server_threads(prim.proc.pid)
            reps = [MirrorReplica(prim.port, shards, d) for d in dirs]
            for _ in range(200):
                for r in reps:
                    r.pump(0.05)
                if all(r.synced is not None for r in reps):
                    break
            K.check(all(r.synced is not None for r in reps), "both full syncs completed")
            load(prim.port, 20, "live")
            for r in reps:
                r.pump(0.2)
            during = server_threads(prim.proc.pid)
            K.check(during == before, "threads with two replicas streaming: %r, without: %r" %
                    (during, before))
            with prim.conn() as c:
                K.check(c.cmd("DEBUG", "FAILPOINTS", "read:1+=eio") == "OK", "read failpoint")
                for i in range(20):
                    K.check(c.cmd("SET", "failing%d" % i, "v") == "OK",
                            "writes go on while the links' reads fail")
            closed = 0
            for r in reps:
                try:
                    for _ in range(100):
                        r.pump(0.05)
                except EOFError:
                    closed += 1
            K.check(closed == 2, "both links closed by the failed reads (%d)" % closed)
            with open(prim.log_path, "rb") as f:
                text = f.read()
            K.check(text.count(b"link closed: Input/output error") >= 2,
                    "the log says why the links closed")
            with prim.conn() as c:
                K.check(c.cmd("DEBUG", "FAILPOINTS", "") == "OK", "failpoints cleared")
                K.check(c.cmd("DBSIZE") > 0, "serving")
                rep = MirrorReplica(prim.port, shards, dirs[0], resume=reps[0])
                K.check(rep.mode == "CONTINUE", "resume after the failed reads: %s" % rep.mode)
                K.check(c.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF after the resume")
            diff = "not compared"
            for _ in range(100):
                rep.pump(0.1)
                diff = mirror_diff(prim.dir, dirs[0], shards)
                if diff is None:
                    break
            K.check(diff is None, "the resumed mirror equals the primary (%d shards): %s" %
                    (shards, diff))
            rep.close()
            prim.check_clean_exit()
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def check_bad_link_input(shards):
    """A replica's link that sends malformed RESP is closed with a log line;
    the primary serves on, and the replica resumes when it comes back."""
    d = tempfile.mkdtemp(prefix="kevy-it-badlink-")
    try:
        with K.kevy("--threads", str(shards)) as prim:
            load(prim.port, 20, "pre")
            rep = MirrorReplica(prim.port, shards, d)
            for _ in range(100):
                rep.pump(0.05)
                if rep.synced is not None:
                    break
            K.check(rep.synced is not None, "full sync before the bad input")
            rep.sock.sendall(b"*1\r\n$-7\r\n")   # a bulk length of -7: malformed
            closed = False
            try:
                for _ in range(100):
                    rep.pump(0.05)
            except EOFError:
                closed = True
            K.check(closed, "the primary closes a link that sent malformed RESP")
            with open(prim.log_path, "rb") as f:
                K.check(b"link closed: " in f.read(), "the log says the link closed")
            with prim.conn() as c:
                K.check(c.cmd("SET", "after-bad-link", "1") == "OK", "the primary serves on")
            again = MirrorReplica(prim.port, shards, d, resume=rep)
            K.check(again.mode == "CONTINUE", "the replica resumes: %s" % again.mode)
            again.close()
            prim.check_clean_exit()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_stalled_replica(shards):
    """A replica that stops reading: the sender blocks on a full socket, the
    primary keeps serving, and SIGTERM still ends it cleanly and at once."""
    d = tempfile.mkdtemp(prefix="kevy-it-stalled-")
    try:
        with K.kevy("--threads", str(shards)) as prim:
            rep = MirrorReplica(prim.port, shards, d)
            big = "x" * 100000
            with prim.conn() as c:
                for i in range(200):
                    K.check(c.cmd("SET", "big%d" % i, big) == "OK", "SET big")
                K.check(c.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF with a stalled replica")
                K.check(c.cmd("DBSIZE") == 200, "serving with a stalled replica")
                # repl-timeout cuts a replica that stopped reading off.
                K.check(c.cmd("CONFIG", "SET", "repl-timeout", "1") == "OK", "repl-timeout 1")
                gone = False
                for _ in range(150):
                    if "connected_slaves:0" in c.cmd("INFO", "replication").decode():
                        gone = True
                        break
                    time.sleep(0.1)
                K.check(gone, "a replica that stopped reading is disconnected (repl-timeout)")
            with open(prim.log_path, "rb") as f:
                K.check(b"not reading for" in f.read(), "the log says why")
            t0 = time.monotonic()
            prim.check_clean_exit()
            K.check(time.monotonic() - t0 < 10, "shutdown with a stalled replica took %.1fs" %
                    (time.monotonic() - t0))
            rep.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_obuf_limit(shards):
    """client-output-buffer-limit replica: a replica that stops reading is
    cut off once the records it was not sent reach the hard limit, or stay
    over the soft limit longer than its seconds, long before repl-timeout;
    the log says which limit.  A replica that keeps reading under the same
    limits is not cut."""
    for limit, which in (("replica 2mb 0 0", b"hard"), ("replica 0 2mb 1", b"soft")):
        d = tempfile.mkdtemp(prefix="kevy-it-obuf-")
        try:
            with K.kevy("--threads", str(shards), "--client-output-buffer-limit", limit,
                        "--repl-timeout", "600") as prim:
                # A reading replica under the same limits stays.
                ok_rep = MirrorReplica(prim.port, shards, d + "/ok")
                with prim.conn() as c:
                    for i in range(40):
                        K.check(c.cmd("SET", "warm%d" % i, "y" * 10000) == "OK", "SET warm")
                        ok_rep.pump(0.02)
                ok_rep.pump(1.5)
                with prim.conn() as c:
                    K.check("connected_slaves:1" in c.cmd("INFO", "replication").decode(),
                            "%s: a replica that reads is kept" % limit)
                ok_rep.close()
                rep = MirrorReplica(prim.port, shards, d + "/stalled")   # never reads again
                big = "x" * 100000
                gone = False
                t0 = time.monotonic()
                with prim.conn() as c:
                    for i in range(300):   # 30 MB: far past what the sockets hold
                        K.check(c.cmd("SET", "big%d" % i, big) == "OK", "SET big")
                    for _ in range(200):
                        inf = c.cmd("INFO", "replication").decode()
                        if "connected_slaves:0" in inf:
                            gone = True
                            break
                        time.sleep(0.1)
                K.check(gone, "%s: the stalled replica is disconnected" % limit)
                with open(prim.log_path, "rb") as f:
                    log = f.read()
                K.check(b"client-output-buffer-limit replica's " + which + b" limit" in log,
                        "%s: the log names the %s limit" % (limit, which.decode()))
                K.log("%s: stalled replica cut after %.1f s (repl-timeout 600)" %
                      (limit, time.monotonic() - t0))
                rep.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Relay:
    """A TCP relay between a replica and its primary that can flip one byte
    of the primary's stream, cut every connection, or stall (stop
    forwarding) for a while.  Threads are daemons; every wait is bounded."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.flip_at = None      # flip the byte at this downstream offset, once
        self.flipped = False
        self.stall_until = 0.0
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                a, _ = self.lsock.accept()
            except OSError:
                return
            b = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [a, b]
            threading.Thread(target=self._pump, args=(a, b, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(b, a, True), daemon=True).start()

    def _pump(self, src, dst, down):
        seen = 0
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            while time.monotonic() < self.stall_until:
                time.sleep(0.05)
            if down and self.flip_at is not None and not self.flipped and \
                    seen <= self.flip_at < seen + len(data):
                i = self.flip_at - seen
                data = data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:]
                self.flipped = True
            seen += len(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            for x in self.conns:
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()
            self.conns = []

    def close(self):
        self.closed = True
        self.lsock.close()
        self.cut()


def mirror_binary():
    return os.path.join(os.path.dirname(os.path.abspath(os.environ["KEVY_SERVER"])), "kevy-mirror")


class Mirror:
    """kevy-mirror as a process, its log in a file."""

    def __init__(self, port, shards, d, log_path, timeout_s=3):
        self.argv = [mirror_binary(), "--host", "127.0.0.1", "--port", str(port), "--dir", d,
                     "--threads", str(shards), "--timeout", str(timeout_s)]
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read()

    def wait_log(self, what, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(what) >= count:
                return True
            time.sleep(0.05)
        return False

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self.logf.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.logf.close()
        return code


def check_mirror_tool(shards):
    """kevy-mirror through a relay: a flipped byte in the full sync is
    refused (logged, never written) and a full sync follows; a cut link and
    a kill -9 of kevy-mirror resume from its own files (partial resync); a
    stalled link times out and resumes; at the end a kevy on its directory
    has the primary's digest."""
    with K.kevy("--threads", str(shards)) as prim:
        load(prim.port, 150, "pre")
        with prim.conn() as c:
            K.check(c.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF: the full sync has it all")
        replica = K.kevy("--threads", str(shards), name="mirror-tool")
        relay = Relay(prim.port)
        relay.flip_at = 3000
        mlog = os.path.join(replica.tmpdir, "mirror.log")
        mir = Mirror(relay.port, shards, replica.dir, mlog)
        try:
            mir.start()
            K.check(mir.wait_log(b"refused a frame from the primary"),
                    "a flipped byte is refused:\n%s" % mir.log().decode("utf-8", "replace"))
            K.check(b"full sync done" not in mir.log(), "the damaged full sync was not finished")
            K.check(mir.wait_log(b"full sync done", 1),
                    "a full sync after the refusal:\n%s" % mir.log().decode("utf-8", "replace"))
            K.check(mir.log().count(b"full sync from") >= 2, "the refusal led to a new full sync:\n%s"
                    % mir.log().decode("utf-8", "replace"))
            t = threading.Thread(target=load, args=(prim.port, 300, "live"))
            t.start()
            time.sleep(0.5)
            relay.cut()
            K.check(mir.wait_log(b"partial resync from", 1),
                    "a cut link resumes:\n%s" % mir.log().decode("utf-8", "replace"))
            time.sleep(0.3)
            mir.kill9()
            mir.start()
            K.check(mir.wait_log(b"partial resync from", 2),
                    "kill -9 and restart resume from its own files:\n%s" %
                    mir.log().decode("utf-8", "replace"))
            relay.stall_until = time.monotonic() + 5
            K.check(mir.wait_log(b"link lost: timeout", 1, timeout=15),
                    "a stalled link times out:\n%s" % mir.log().decode("utf-8", "replace"))
            K.check(mir.wait_log(b"partial resync from", 3, timeout=20),
                    "and resumes:\n%s" % mir.log().decode("utf-8", "replace"))
            t.join(120)
            K.check(not t.is_alive(), "load finished")
            with prim.conn() as c:
                K.check(c.cmd("WAITAOF", "1", "0", "0") == [1, 0], "WAITAOF")
                digest = c.cmd("DEBUG", "DIGEST")
                dbsize = c.cmd("DBSIZE")
            equal = False
            for _ in range(200):
                if mirror_equal(prim.dir, replica.dir, shards):
                    equal = True
                    break
                time.sleep(0.05)
            K.check(equal, "kevy-mirror's files equal the primary's")
            K.check(mir.stop() == 0, "kevy-mirror exits 0 on SIGTERM")
            alarms = [a for a in K.LOG_ALARMS if a in mir.log()]
            K.check(not alarms, "kevy-mirror's log has no sanitizer report: %r\n%s" %
                    (alarms, mir.log().decode("utf-8", "replace")[-3000:]))
            K.check(b"full sync from" in mir.log() and mir.log().count(b"full sync from") == 2,
                    "exactly two full syncs (the first refused):\n%s" %
                    mir.log().decode("utf-8", "replace"))
        finally:
            if mir.proc and mir.proc.poll() is None:
                mir.kill9()
            relay.close()
        prim.check_clean_exit()
    with replica:
        with replica.conn() as c:
            K.check(c.cmd("DBSIZE") == dbsize, "DBSIZE on kevy-mirror's directory")
            K.check(c.cmd("DEBUG", "DIGEST") == digest, "DEBUG DIGEST on kevy-mirror's directory")
        replica.check_clean_exit()


def main():
    with K.kevy("--threads", "2") as srv:
        with srv.conn() as c:
            check_redis_replies(c)
        if K.target() == "redis":
            K.log("KEVY_TARGET=redis: the Redis-compatible replies passed; the rest is kevy's")
            return
        check_offset(srv)
        check_refusals(srv, 2)
        checked = check_redis_replica_refused(srv)
        srv.check_clean_exit()
    with K.kevy("--threads", "1") as srv:
        check_refusals(srv, 1)
        srv.check_clean_exit()
    check_links_on_shards(2)
    check_links_on_shards(1, ("--io", "epoll"))
    check_bad_link_input(2)
    check_stalled_replica(2)
    check_obuf_limit(2)
    check_auth_and_appendonly()
    check_appendfsync_no()
    check_mirror_tool(2)
    keys = []
    for shards, cut, io in ((1, False, ()), (2, True, ()), (4, False, ()),
                            (2, True, ("--io", "epoll"))):
        keys.append(check_stream(shards, cut, io))
    K.log("ok: offset, replies, handshake refusals, redis-server replica refused (%d), "
          "file stream on 1/2/4 shards (%r keys), kevy-mirror through a relay" % (checked, keys))


if __name__ == "__main__":
    K.run_main(main)
