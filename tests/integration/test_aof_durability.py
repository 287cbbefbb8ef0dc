#!/usr/bin/python3
"""The AOF's plain promises and its refusals to start.

- WAITAOF numlocal numreplicas timeout replies [1, 0] under every
  appendfsync policy (also right after writes under `no`, and the writes are
  then durable: INFO's per-shard durable_lsn == last_lsn); with appendonly no
  it replies [0, 0] for numlocal 0 and an error for numlocal > 0.
- INFO persistence has one `aof_shard<i>:status=ok,size=..,records=..,
  last_lsn=..,durable_lsn=..` line per shard.
- CONFIG SET appendfsync always|everysec|no round-trips through CONFIG GET
  and INFO's aof_fsync_policy.
- SHUTDOWN and SIGTERM flush and fsync: with appendfsync no, every write is
  there after a restart (and after the restart the dataset is the same:
  DEBUG DIGEST).
- Refusals to start, exit status != 0, the data directory left untouched:
  a corrupt record in the middle of a segment (the log names the file, the
  offset and kevy-check), a segment from another dataset in place of this
  one ("mismatch"), a damaged 2-shard directory started with --threads 1
  (the re-shard refuses before changing anything), a segment named by the
  manifest but deleted (the file).
"""

import glob
import os
import shutil
import tempfile
import sys
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402


def bulk(v):
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def check_waitaof_and_config():
    srv = K.kevy("--threads", "3", "--appendfsync", "everysec").start()
    try:
        with srv.conn() as c:
            for policy in ("always", "everysec", "no"):
                K.check(c.call("CONFIG", "SET", "appendfsync", policy) == b"+OK\r\n",
                        "CONFIG SET appendfsync %s" % policy)
                K.check(c.cmd("CONFIG", "GET", "appendfsync") == [b"appendfsync", policy.encode()],
                        "CONFIG GET appendfsync after setting %s" % policy)
                K.check(A.info(c).get("aof_fsync_policy") == policy, "INFO aof_fsync_policy %s" % policy)
                for i in range(30):
                    K.check(c.call("SET", "%s:k%d" % (policy, i), i) == b"+OK\r\n", "SET")
                K.check(c.call("RPUSH", "%s:{l}" % policy, *range(10)) == b":10\r\n", "RPUSH")
                t = time.monotonic()
                K.check(c.cmd("WAITAOF", 1, 0, 0) == [1, 0], "WAITAOF 1 0 0 under %s" % policy)
                K.check(c.cmd("WAITAOF", 0, 0, 100) == [1, 0], "WAITAOF 0 0 100 under %s" % policy)
                dt = time.monotonic() - t
                K.check(dt < 5, "WAITAOF under %s answers promptly (%.1fs)" % (policy, dt))
                # WAITAOF made every shard durable up to what it saw.
                lines = A.shard_lines(A.info(c), 3)
                for i, sh in enumerate(lines):
                    K.check(sh["status"] == "ok", "shard %d ok: %r" % (i, sh))
                    K.check(sh["durable_lsn"] == sh["last_lsn"],
                            "%s: after WAITAOF shard %d is durable: %r" % (policy, i, sh))
                K.check(sum(int(sh["records"]) for sh in lines) >= 31, "records counted: %r" % lines)
                K.check(all(int(sh["size"]) >= 72 for sh in lines), "sizes: %r" % lines)
            r = c.call("CONFIG", "SET", "appendfsync", "sometimes")
            K.check(r.startswith(b"-"), "CONFIG SET appendfsync sometimes is refused: %r" % r)
            K.check(c.cmd("CONFIG", "GET", "appendfsync") == [b"appendfsync", b"no"], "unchanged")
            r = c.call("WAITAOF", 1, 0, -1)
            K.check(r.startswith(b"-"), "WAITAOF with a negative timeout is an error: %r" % r)
        srv.check_clean_exit()
    finally:
        srv.cleanup()

    srv = K.kevy("--threads", "2", "--appendonly", "no").start()
    try:
        with srv.conn() as c:
            K.check(c.call("SET", "k", "v") == b"+OK\r\n", "SET with appendonly no")
            K.check(c.cmd("WAITAOF", 0, 0, 0) == [0, 0], "WAITAOF 0 0 0 with appendonly no")
            r = c.call("WAITAOF", 1, 0, 0)
            K.check(r.startswith(b"-ERR") and b"appendonly" in r,
                    "WAITAOF 1 0 0 with appendonly no is an error: %r" % r)
            K.check(A.info(c).get("aof_enabled") == "0", "INFO aof_enabled:0")
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("WAITAOF [1,0] under always/everysec/no, [0,0]/error with appendonly no; CONFIG SET "
          "appendfsync round-trips; per-shard INFO lines durable after WAITAOF")


def check_shutdown_flushes(how):
    label = "appendfsync no + %s" % how
    srv = K.kevy("--threads", "2", "--appendfsync", "no").start()
    n = 500
    try:
        with srv.conn() as c:
            cmds = []
            for i in range(n):
                cmds.append(K.encode("SET", "k%d" % i, "v%d" % i))
                cmds.append(K.encode("HSET", "{h%d}hash" % (i % 7), "f%d" % i, i))
                cmds.append(K.encode("RPUSH", "list%d" % (i % 5), i))
            cmds.append(K.encode("MSET", "m1", "a", "m2", "b", "{x}m3", "c"))
            c.send(b"".join(cmds))
            got = c.read_replies(len(cmds), timeout=30)
            K.check(not any(r.startswith(b"-") for r in got), "no errors: %r" %
                    [r for r in got if r.startswith(b"-")][:3])
            digest = c.call("DEBUG", "DIGEST")
            K.check(digest.startswith(b"+") and len(digest) > 20, "DEBUG DIGEST: %r" % digest)
            if how == "SHUTDOWN":
                c.send(K.encode("SHUTDOWN"))
                K.check(c.closed_by_peer(10), "SHUTDOWN closes the connection")
                srv.proc.wait(20)
        srv.stop()   # SIGTERM when the server is still running
        K.check(srv.exit_code == 0, "%s: exit status 0 (got %s)" % (label, srv.exit_code))
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same dataset after restart" % label)
            K.check(c.call("DBSIZE") == b":%d\r\n" % (n + 7 + 5 + 3), "%s: DBSIZE" % label)
            for i in range(0, n, 37):
                K.check(c.call("GET", "k%d" % i) == bulk("v%d" % i), "%s: k%d" % (label, i))
            K.check(c.cmd("LRANGE", "list3", 0, -1) == [b"%d" % i for i in range(3, n, 5)],
                    "%s: list3 complete and in order" % label)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("%s: %d writes all present after restart" % (label, 3 * n + 1))


def check_appendonly_back_on(io, fail_rewrite):
    """appendonly no -> writes -> appendonly yes rewrites the keyspace into a
    fresh segment (the old one is dropped), and everything is there after a
    kill -9.  With an fsync failpoint the rewrite fails: writes are refused,
    nothing is lost that was acknowledged while the AOF was on, and the old
    files are untouched."""
    label = "appendonly back on (%s%s)" % (io, ", rewrite fails" if fail_rewrite else "")
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--io", io).start()
    try:
        with srv.conn() as c:
            for i in range(50):
                K.check(c.call("SET", "before%d" % i, i) == b"+OK\r\n", "SET before")
            K.check(c.call("CONFIG", "SET", "appendonly", "no") == b"+OK\r\n", "appendonly no")
            for i in range(50):
                c.call("SET", "off%d" % i, i)
                c.call("RPUSH", "{l}list", i)
            c.call("ZADD", "z", "1.5", "m", "-inf", "n")
            c.call("HSET", "h", "f", "v")
            c.call("PEXPIRE", "h", 100000)
            files_off = sorted(os.listdir(srv.dir))
            if fail_rewrite:
                K.check(c.call("DEBUG", "FAILPOINTS", "fsync:1+=eio") == b"+OK\r\n", "failpoint")
            K.check(c.call("CONFIG", "SET", "appendonly", "yes") == b"+OK\r\n", "appendonly yes")
            r = c.call("SET", "after", "x")
            digest = c.call("DEBUG", "DIGEST")
            if fail_rewrite:
                K.check(r.startswith(b"-MISCONF"), "%s: writes refused: %r" % (label, r))
                K.check(sorted(os.listdir(srv.dir)) == files_off or
                        all(f in os.listdir(srv.dir) for f in files_off),
                        "%s: the old files are kept" % label)
            else:
                K.check(r == b"+OK\r\n", "%s: SET after: %r" % (label, r))
                # Each shard rewrites at its next loop turn; the unlink follows
                # the manifest commit.
                A.wait_for(lambda: not any(n.endswith("-g1.aof") for n in os.listdir(srv.dir)), 5)
                names = sorted(os.listdir(srv.dir))
                K.check(not any(n.endswith("-g1.aof") for n in names),
                        "%s: the old segments were removed: %r" % (label, names))
                K.check(any(n.endswith("-g2.aof") for n in names),
                        "%s: a new generation was written: %r" % (label, names))
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            if fail_rewrite:
                for i in range(0, 50, 7):
                    K.check(c.call("GET", "before%d" % i) == bulk(i),
                            "%s: before%d kept" % (label, i))
            else:
                K.check(c.call("DEBUG", "DIGEST") == digest, "%s: same dataset after kill -9" % label)
                K.check(c.call("GET", "after") == bulk("x"), "%s: the write after" % label)
        srv.stop()
    finally:
        srv.cleanup()
    K.log("%s: ok" % label)


def check_cut_segment_header():
    """A segment whose creation was cut (shorter than its header) is a torn
    tail at offset 0: recovery quarantines the bytes, writes the header again
    from the manifest, and later writes survive the next restart."""
    label = "segment header cut"
    srv = make_dataset(2, 0, "cut")
    try:
        seg = os.path.join(srv.dir, "kevy-s1-g1.aof")
        with open(seg, "r+b") as f:
            f.truncate(40)
        srv.exit_code = None
        off = A.restart(srv)
        K.check(b"torn tail at offset 0" in A.log_since(srv, off),
                "%s: logged as a torn tail at offset 0" % label)
        K.check(A.records_end(seg) == 72, "%s: header written again, no record (%d bytes, "
                "zeros after the header are preallocated)" % (label, os.path.getsize(seg)))
        K.check(len(glob.glob(seg + ".torn-0-*")) == 1, "%s: the 40 bytes quarantined" % label)
        with srv.conn() as c:
            for i in range(30):
                K.check(c.call("SET", "after%d" % i, i) == b"+OK\r\n", "SET after")
        A.kill9(srv)
        off = A.restart(srv)
        K.check(b"torn tail" not in A.log_since(srv, off), "%s: clean on the next start" % label)
        with srv.conn() as c:
            K.check(c.call("DBSIZE") == b":30\r\n", "%s: the 30 later keys survive" % label)
        srv.stop()
    finally:
        srv.keep_dir = False
        srv.cleanup()
    K.log("%s: quarantined, header rewritten, later writes kept" % label)


def check_preallocation(io):
    """aof-preallocate: a serving shard keeps zeros written ahead of its
    appends (its segment is larger than its records, by at least half a
    step), INFO's aof_current_size is where the records end, kevy-check calls
    the directory clean, a kill -9 and restart appends over the zeros (not
    after them) and keeps every write; with aof-preallocate 0 a segment ends
    at its last record."""
    label = "preallocation (%s)" % io
    step = 256 * 1024
    srv = K.kevy("--threads", "1", "--appendfsync", "always", "--io", io,
                 "--aof-preallocate", "256kb", name="prealloc", keep_dir=True).start()
    try:
        seg = os.path.join(srv.dir, "kevy-s0-g1.aof")
        with srv.conn() as c:
            for i in range(3000):
                K.check(c.call("SET", "k%d" % i, "v" * 100) == b"+OK\r\n", "SET")
            size = int(A.info(c).get("aof_current_size", "0"))
            direct = int(A.info(c).get("aof_direct_writes", "-1"))
        # Under always the io_uring reactor writes each group commit with
        # O_DIRECT and RWF_DSYNC (aof-direct-io); epoll writes and fsyncs.
        K.check(direct >= 3000 if io == "io_uring" else direct == 0,
                "%s: aof_direct_writes %d" % (label, direct))
        end = A.records_end(seg)
        K.check(end > 3000 * 100, "%s: the records are there (%d bytes)" % (label, end))
        K.check(size == end, "%s: aof_current_size %d is the records' end %d" % (label, size, end))
        K.check(os.path.getsize(seg) >= end + step // 2,
                "%s: zeros ahead of the appends: %d bytes for %d of records" %
                (label, os.path.getsize(seg), end))
        K.check(os.path.getsize(seg) % 4096 == 0,
                "%s: the zeros are whole 4 KiB blocks: %d" % (label, os.path.getsize(seg)))
        A.kill9(srv)
        code, out = A.kevy_check(srv.dir)
        K.check(code == 0 and "preallocated after the last record" in out,
                "%s: kevy-check: clean, with the preallocated bytes named: %d %s" %
                (label, code, out[-400:]))
        off = A.restart(srv)
        log = A.log_since(srv, off)
        K.check(b"torn tail" not in log, "%s: the zeros are not a torn tail: %r" % (label, log))
        with srv.conn() as c:
            K.check(c.call("DBSIZE") == b":3000\r\n", "%s: every write kept" % label)
            K.check(c.call("SET", "after", "x") == b"+OK\r\n", "SET after the restart")
        K.check(A.records_end(seg) > end, "%s: the next record went where the records ended, "
                "over the zeros (%d -> %d)" % (label, end, A.records_end(seg)))
        srv.stop()
    finally:
        srv.keep_dir = False
        srv.cleanup()
    with K.kevy("--threads", "1", "--appendfsync", "always", "--io", io,
                "--aof-preallocate", "0", "--aof-direct-io", "no") as srv:
        with srv.conn() as c:
            for i in range(200):
                K.check(c.call("SET", "k%d" % i, "v") == b"+OK\r\n", "SET")
            seg = os.path.join(srv.dir, "kevy-s0-g1.aof")
            K.check(os.path.getsize(seg) == A.records_end(seg),
                    "%s: aof-preallocate 0 writes no zeros" % label)
            K.check(A.info(c).get("aof_direct_writes") == "0",
                    "%s: aof-direct-io no writes and fsyncs" % label)
            # Turned on at run time, the next writes are direct ones.
            K.check(c.call("CONFIG", "SET", "aof-direct-io", "yes") == b"+OK\r\n", "CONFIG SET")
            for i in range(200):
                K.check(c.call("SET", "d%d" % i, "v") == b"+OK\r\n", "SET")
            direct = int(A.info(c).get("aof_direct_writes", "-1"))
            K.check(direct >= 200 if io == "io_uring" else direct == 0,
                    "%s: aof-direct-io yes at run time: %d direct writes" % (label, direct))
            K.check(c.call("DBSIZE") == b":400\r\n", "DBSIZE")
    K.log("%s: zeros ahead, clean check, kill -9 + restart appends over them" % label)


def check_direct_refused():
    """A file system that refuses O_DIRECT (tmpfs): the server says so once,
    writes and fsyncs each group commit instead, and loses nothing."""
    label = "O_DIRECT refused (tmpfs)"
    shm = "/dev/shm"
    if not os.path.isdir(shm) or not os.access(shm, os.W_OK):
        K.log("%s: no writable /dev/shm here, skipped" % label)
        return
    srv = K.kevy("--threads", "2", "--appendfsync", "always", name="tmpfs")
    d = tempfile.mkdtemp(prefix="kevy-it-tmpfs-", dir=shm)
    try:
        srv.dir = d
        srv.start()
        with srv.conn() as c:
            for i in range(300):
                K.check(c.call("SET", "k%d" % i, i) == b"+OK\r\n", "SET")
            direct = A.info(c).get("aof_direct_writes")
        log = A.log_since(srv, 0)
        if direct != "0":
            # Some kernels let tmpfs take O_DIRECT: then there is nothing to refuse.
            K.log("%s: this tmpfs accepts O_DIRECT (%s direct writes), skipped" % (label, direct))
            srv.stop()
            return
        K.check(b"refuses O_DIRECT" in log, "%s: the log says so: %r" % (label, log[-600:]))
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("DBSIZE") == b":300\r\n", "%s: every write kept" % label)
        srv.stop()
    finally:
        srv.cleanup()
        shutil.rmtree(d, ignore_errors=True)
    K.log("%s: logged, written and fsynced, nothing lost" % label)


def make_dataset(threads, nkeys, name):
    """A stopped server's directory holding nkeys keys (appendfsync always).
    Returns the Server (keep_dir; the caller removes srv.tmpdir)."""
    def fill(c):
        for i in range(nkeys):
            K.check(c.call("SET", "key%d" % i, "value%d" % i) == b"+OK\r\n", "SET")
    return A.stopped_dataset(threads, name, fill)


def refused(label, data_dir, args, want):
    """Start on data_dir (a copy) expecting a refusal that says all of want."""
    before = A.dir_snapshot(data_dir)
    code, out = A.start_refused(data_dir, *args)
    K.check(code is not None, "%s: the server started instead of refusing:\n%s" % (label, out))
    K.check(code != 0, "%s: exit status != 0 (got %s):\n%s" % (label, code, out))
    for w in want:
        K.check(w in out, "%s: the message says %r:\n%s" % (label, w, out))
    K.check(A.dir_snapshot(data_dir) == before, "%s: the data directory is left untouched" % label)
    line = [ln for ln in out.splitlines() if "refusing" in ln or "start with" in ln]
    K.log("%s: refused (status %d): %s" % (label, code, (line or [out.strip()])[-1][-160:]))


def check_refusals(rng):
    one = make_dataset(1, 40, "one")
    other = make_dataset(1, 10, "other")
    two = make_dataset(2, 10, "two")
    work = os.path.join(one.tmpdir, "work")
    try:
        seg_name = "kevy-s0-g1.aof"
        seg = os.path.join(one.dir, seg_name)
        K.check(os.path.exists(seg), "segment %s exists: %r" % (seg_name, os.listdir(one.dir)))

        # A flipped byte inside an early record that has later records.
        offs = A.record_offsets(seg)
        K.check(len(offs) >= 40, "one record per SET: %d" % len(offs))
        shutil.copytree(one.dir, work)
        victim = offs[rng.randrange(1, 10)]
        with open(os.path.join(work, seg_name), "r+b") as f:
            f.seek(victim + 32 + 3)
            b = f.read(1)
            f.seek(victim + 32 + 3)
            f.write(bytes([b[0] ^ 0x20]))
        refused("corrupt middle record", work, ["--threads", "1"],
                [seg_name, "offset %d" % victim, "kevy-check", "corrupt"])
        shutil.rmtree(work)

        # A segment of another dataset in place of this one.
        shutil.copytree(one.dir, work)
        shutil.copyfile(os.path.join(other.dir, seg_name), os.path.join(work, seg_name))
        refused("foreign segment", work, ["--threads", "1"], [seg_name, "mismatch"])
        shutil.rmtree(work)

        # Another shard count re-shards at startup (test_reshard.py); a
        # dataset that cannot be loaded is refused before anything of it
        # changes: a corrupt record in a 2-shard directory started with
        # --threads 1.
        shutil.copytree(two.dir, work)
        seg2 = max((os.path.join(work, n) for n in ("kevy-s0-g1.aof", "kevy-s1-g1.aof")),
                   key=lambda p: len(A.record_offsets(p)))
        offs2 = A.record_offsets(seg2)
        K.check(len(offs2) >= 2, "a shard with two records: %d" % len(offs2))
        with open(seg2, "r+b") as f:
            f.seek(offs2[0] + 32 + 3)
            b = f.read(1)
            f.seek(offs2[0] + 32 + 3)
            f.write(bytes([b[0] ^ 0x20]))
        refused("re-sharding a damaged dataset", work, ["--threads", "1"],
                ["re-sharding", os.path.basename(seg2), "refusing to start", "kevy-check"])
        shutil.rmtree(work)

        # A segment the manifest names, deleted.
        shutil.copytree(one.dir, work)
        os.unlink(os.path.join(work, seg_name))
        refused("missing segment", work, ["--threads", "1"], [seg_name, "kevy-check"])
        shutil.rmtree(work)

        # The untouched original still starts, with every key.
        one.exit_code = None
        one.start()
        with one.conn() as c:
            K.check(c.call("DBSIZE") == b":40\r\n", "the original dataset still loads")
            K.check(c.call("GET", "key39") == bulk("value39"), "key39")
        one.check_clean_exit()
    finally:
        for s in (one, other, two):
            s.keep_dir = False
            s.cleanup()


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's AOF files")
    seed, rng = K.rng_from_env()
    check_waitaof_and_config()
    check_shutdown_flushes("SHUTDOWN")
    check_shutdown_flushes("SIGTERM")
    check_refusals(rng)
    check_cut_segment_header()
    for io in ("io_uring", "epoll"):
        check_preallocation(io)
    check_direct_refused()
    for io in ("io_uring", "epoll"):
        check_appendonly_back_on(io, False)
    check_appendonly_back_on("io_uring", True)


if __name__ == "__main__":
    K.run_main(main)
