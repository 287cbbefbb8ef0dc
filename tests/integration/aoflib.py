"""aoflib - helpers shared by the AOF durability tests (test_aof_*.py).

What it is: kill -9 / restart of a kevylib.Server on the same data directory,
reading the part of the server log written since a restart, INFO persistence
as a dict, and the one-shot startup of a server expected to refuse to start.

Every wait here is bounded in time.
"""

import glob
import os
import socket
import struct
import subprocess
import time

import kevylib as K

MISCONF = b"MISCONF Errors writing to the AOF file"


def log_size(srv):
    try:
        return os.path.getsize(srv.log_path)
    except OSError:
        return 0


def log_since(srv, offset):
    """The server log from byte `offset` on (a restart's own lines)."""
    try:
        with open(srv.log_path, "rb") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b""


def kill9(srv):
    """SIGKILL the server and reap it (bounded)."""
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.kill()
        srv.proc.wait(10)
    srv.stop()   # records the status, closes the log file


def restart(srv):
    """Start the server again on the same data directory.  Returns the log
    offset where this start's lines begin."""
    off = log_size(srv)
    srv.exit_code = None
    srv.start()
    return off


def info(conn, section="persistence"):
    """INFO <section> as {field: value-string}."""
    raw = conn.cmd("INFO", section)
    K.check(isinstance(raw, bytes), "INFO %s replies a bulk string: %r" % (section, raw))
    out = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def shard_lines(fields, nshards):
    """The aof_shard<i> lines of INFO persistence as [{key: value}]."""
    out = []
    for i in range(nshards):
        line = fields.get("aof_shard%d" % i)
        K.check(line is not None, "INFO persistence has aof_shard%d: %r" % (i, fields))
        d = {}
        for part in line.split(","):
            k, _, v = part.partition("=")
            d[k] = v
        for k in ("status", "size", "records", "last_lsn", "durable_lsn"):
            K.check(k in d, "aof_shard%d has %s: %r" % (i, k, line))
        out.append(d)
    return out


def wait_for(pred, timeout, step=0.02):
    """Poll pred() until true or timeout; returns its last value."""
    deadline = time.monotonic() + timeout
    v = pred()
    while not v and time.monotonic() < deadline:
        time.sleep(step)
        v = pred()
    return v


def try_read(conn, timeout):
    """The next reply, or None if none arrives within timeout seconds."""
    try:
        return conn.read_reply(timeout=timeout)
    except socket.timeout:   # TimeoutError on Python >= 3.10
        return None


def start_refused(data_dir, *args, timeout=20):
    """Run kevy-server on data_dir expecting it to refuse to start.
    Returns (exit status, output).  A server that does start (it would
    block serving) is killed after `timeout` s and reported as status None."""
    argv = [K.kevy_binary(), "--port", str(K.free_port()), "--bind", "127.0.0.1",
            "--dir", data_dir] + list(args)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=10)
        return None, out.decode("utf-8", "replace")


def dir_snapshot(d):
    """{name: bytes} of every file in d (small test datasets only)."""
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "*"))):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[os.path.basename(p)] = f.read()
    return out


def conn_on_shard(srv, shard, timeout=10.0):
    """A connection that lives on shard `shard` (CLIENT INFO says shard=N;
    the kernel spreads accepted connections over the shards)."""
    for _ in range(200):
        c = srv.conn(timeout=timeout)
        r = c.cmd("CLIENT", "INFO")
        if isinstance(r, bytes) and (b" shard=%d\n" % shard in r or r.endswith(b" shard=%d" % shard)):
            return c
        c.close()
    raise K.TestFailure("no connection landed on shard %d in 200 tries" % shard)


def shard_of_write(c, nshards, *cmd):
    """Run one single-key write and return the shard whose AOF got the record
    (the only writer on an idle server).  Checks the reply is not an error."""
    before = [int(s["records"]) for s in shard_lines(info(c), nshards)]
    r = c.call(*cmd)
    K.check(not r.startswith(b"-"), "%s replied %r" % (cmd[:2], r))
    after = [int(s["records"]) for s in shard_lines(info(c), nshards)]
    moved = [i for i in range(nshards) if after[i] != before[i]]
    K.check(len(moved) == 1, "one shard logged %r: %r -> %r" % (cmd[:2], before, after))
    return moved[0]


def keys_on_two_shards(c, prefix, value, tries=400):
    """A key on shard 0 and one on shard 1 of a two-shard server, each set
    to value (found by which shard's AOF logs the SET)."""
    found = {}
    for i in range(tries):
        k = "%s%d" % (prefix, i)
        found.setdefault(shard_of_write(c, 2, "SET", k, value), k)
        if len(found) == 2:
            return found[0], found[1]
    raise K.TestFailure("no key on each of two shards: %r" % found)


def keys_by_shard(c, nshards, prefix, per_shard, value="x", tries=4000):
    """{shard: [per_shard keys]} for every shard of an nshards server, each
    key set to value (placement found by which shard's AOF logs its SET)."""
    by_shard = {i: [] for i in range(nshards)}
    for i in range(tries):
        if all(len(v) >= per_shard for v in by_shard.values()):
            break
        k = "%s%d" % (prefix, i)
        s = shard_of_write(c, nshards, "SET", k, value)
        if len(by_shard[s]) < per_shard:
            by_shard[s].append(k)
    K.check(all(len(v) >= per_shard for v in by_shard.values()),
            "found %d keys on each of %d shards" % (per_shard, nshards))
    return by_shard


def kevy_check_path():
    """Path of kevy-check: $KEVY_BIN_DIR/kevy-check, else beside kevy-server
    (the real one when KEVY_SERVER is a wrapper: $KEVY_REAL_SERVER).  None
    when none exists."""
    for d in (os.environ.get("KEVY_BIN_DIR", ""),
              os.path.dirname(os.environ.get("KEVY_REAL_SERVER", "")),
              os.path.dirname(K.kevy_binary())):
        p = os.path.join(d, "kevy-check") if d else ""
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def kevy_check(data_dir, *args, timeout=120):
    """Run kevy-check [args] data_dir (no server may be using it).
    Returns (exit status, output text)."""
    exe = kevy_check_path()
    K.check(exe is not None, "kevy-check found in KEVY_BIN_DIR or beside kevy-server")
    p = subprocess.run([exe] + list(args) + [data_dir], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def tool(name, *args, timeout=60):
    """Run the tool `name` (kevy-check, kevy-dump) found beside kevy-check
    with args.  Returns (exit status, stdout text, stderr text)."""
    kc = kevy_check_path()
    K.check(kc is not None, "kevy-check found in KEVY_BIN_DIR or beside kevy-server")
    p = subprocess.run([os.path.join(os.path.dirname(kc), name)] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def wait_exit(srv, timeout):
    """Wait up to timeout s for the server process to exit by itself; returns
    its status (negative = killed by that signal) or None if still running.
    An exited server is reaped and its log closed (srv.stop())."""
    if srv.proc is None:
        return srv.exit_code
    try:
        srv.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None
    srv.stop()
    return srv.proc.returncode


def bgsave(c, timeout=30):
    """BGSAVE and wait (bounded) until it has completed successfully."""
    saves = int(info(c).get("rdb_saves", "0"))
    c.call("BGSAVE")
    wait_saved(c, saves, timeout)


def wait_saved(c, saves_before, timeout=30):
    """Wait (bounded) for a snapshot begun after rdb_saves was saves_before
    to complete, and check it succeeded."""
    def done():
        inf = info(c)
        return (inf.get("rdb_bgsave_in_progress") == "0" and
                int(inf.get("rdb_saves", "0")) > saves_before)
    K.check(wait_for(done, timeout), "the snapshot completed: %r" % info(c))
    K.check(info(c).get("rdb_last_bgsave_status") == "ok", "bgsave status ok")


def stopped_dataset(threads, name, fill):
    """A stopped server's data directory: kevy-server --threads N
    --appendfsync always, fill(conn) run against it, then a clean SHUTDOWN.
    Returns the Server (keep_dir: the caller removes srv.tmpdir)."""
    srv = K.kevy("--threads", str(threads), "--appendfsync", "always", name=name,
                 keep_dir=True).start()
    try:
        with srv.conn() as c:
            fill(c)
        srv.check_clean_exit()
    except BaseException:
        srv.keep_dir = False
        srv.cleanup()
        raise
    return srv


def free_space_at(data, at):
    """True when data[at:] holds only zeros: the space a shard preallocates
    after a segment's records (format.md, "Preallocated space")."""
    return at < len(data) and data[at] == 0 and not data[at:].strip(b"\0")


def _walk_records(path):
    with open(path, "rb") as f:
        data = f.read()
    offs, at = [], 72
    while at + 32 <= len(data) and not free_space_at(data, at):
        (plen,) = struct.unpack_from("<I", data, at + 8)
        offs.append(at)
        at += 32 + plen
    K.check(at == len(data) or free_space_at(data, at),
            "%s parses into whole records (%d of %d bytes)" % (path, at, len(data)))
    return offs, at


def record_offsets(path):
    """Offsets of a segment's records (format.md: 72-byte header, then
    32-byte record headers with payload_len at +8); the file must parse into
    whole records, followed by nothing or by preallocated zeros."""
    return _walk_records(path)[0]


def records_end(path):
    """Where a segment's records end (its size without preallocated zeros)."""
    return _walk_records(path)[1]
