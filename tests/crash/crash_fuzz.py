"""crash_fuzz.py - corruption fuzzing of kevy's files (issue 7 part 4).

What it proves: seeded random damage (bit flips, byte runs, truncations,
splices, insertions, deletions, header damage, appended bytes) to snapshots,
AOF segments, manifests and the dataset file of real data directories is
always detected by kevy's check code, a torn tail is only ever cut (nothing
damaged is loaded), anything else is refused, and nothing crashes.  The
in-process judge is the C program crash_fuzz (libkevy's own aof_check_dir and
aof_load_dir, thousands of mutations); this driver builds the data
directories with a real kevy-server, runs crash_fuzz on each, then checks a
sample of the mutated directories with the real binaries:
  - kevy-check's exit code equals crash_fuzz's verdict (0 clean, 1 torn,
    2 corrupt / mismatch / version);
  - kevy-server on a corrupt one exits non-zero (not by a signal) and its
    log names the file and the kevy-check command; on a torn one it starts,
    logs "torn tail", and DBSIZE / DEBUG DIGEST equal those of the clean
    directory cut at the same record boundary; it never dies by a signal.

Replay: the seed is printed first; KEVY_SEED=<seed> replays the whole run,
and every crash_fuzz failure prints its own one-line replay command.
KEVY_CRASH_LONG=1 runs ~50,000 mutations instead of ~4,200.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import kevylib as K
import aoflib as A

# The datasets' segments end in preallocated zeros (aof-preallocate), kept
# small so that most mutations still land in records; a mutation that
# only changes the zeros must load as the clean directory does.
PREALLOC = "8kb"


def bin_path(name):
    d = os.environ.get("KEVY_BIN_DIR")
    if not d:
        K.skip("KEVY_BIN_DIR is not set")
    p = os.path.join(d, name)
    if not os.access(p, os.X_OK):
        K.skip("%s not built" % p)
    return p


def call_ok(c, *args):
    r = c.call(*args)
    K.check(not r.startswith(b"-"), "%r replied %r" % (args[:2], r))
    return r


def pipeline(c, cmds):
    c.send(b"".join(K.encode(*cmd) for cmd in cmds))
    got = c.read_replies(len(cmds), timeout=60)
    bad = [(cmd[:2], r) for cmd, r in zip(cmds, got) if r.startswith(b"-")]
    K.check(not bad, "workload replies without errors: %r" % bad[:3])


def workload(rng, tag, n):
    """A mixed workload over every type, with long TTLs (nothing expires
    while the test runs) and binary keys and values."""
    cmds = []
    for i in range(n):
        k = "%s:%d" % (tag, rng.randrange(n))
        op = rng.randrange(12)
        if op < 3:
            cmds.append(("SET", "s" + k, "v%d" % rng.randrange(10 ** 9)))
        elif op == 3:
            cmds.append(("SET", "t" + k, "x" * rng.randrange(1, 300), "EX",
                         str(100000 + rng.randrange(1000))))
        elif op == 4:
            cmds.append(("RPUSH", "l" + k) + tuple("e%d" % j for j in range(rng.randrange(1, 8))))
        elif op == 5:
            cmds.append(("HSET", "h" + k, "f%d" % rng.randrange(5), "v%d" % i, "g", "\x00\xff"))
        elif op == 6:
            cmds.append(("SADD", "S" + k) + tuple(str(rng.randrange(50)) for _ in range(3)))
        elif op == 7:
            cmds.append(("ZADD", "z" + k, "%.3f" % rng.uniform(-5, 5), "m%d" % rng.randrange(9),
                         "-inf", "lo"))
        elif op == 8:
            cmds.append(("PEXPIRE", "h" + k, str(10 ** 8 + i)))
        elif op == 9:
            cmds.append(("DEL", "s" + k))
        elif op == 10:
            cmds.append(("INCRBY", "c" + k, str(rng.randrange(100))))
        else:
            cmds.append(("SET", "bin\r\n\x00%s" % k, "\x00\xff\r\n%d" % i))
    return cmds


def shutdown(srv, c):
    """SHUTDOWN NOSAVE: the segments after the last snapshot stay as they are."""
    c.send(K.encode("SHUTDOWN", "NOSAVE"))
    try:
        srv.proc.wait(60)
    except subprocess.TimeoutExpired:
        K.fail("the server did not exit after SHUTDOWN")
    K.check(srv.stop() == 0, "clean exit after SHUTDOWN: %r" % srv.exit_code)


def build_two_shard(rng, out):
    """2 shards: writes, BGSAVE (snapshot per shard), more writes after the
    cut.  Each shard: manifest, snapshot, one segment."""
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "",
                 "--aof-preallocate", PREALLOC).start()
    try:
        with srv.conn() as c:
            pipeline(c, workload(rng, "a", 400))
            A.bgsave(c, 60)
            pipeline(c, workload(rng, "b", 150))
            shutdown(srv, c)
        shutil.copytree(srv.dir, out)
    finally:
        srv.cleanup()
    return 2


def build_multi_segment(rng, out):
    """1 shard: a snapshot, then two snapshots abandoned after their AOF
    rotation (a failed block write), so the manifest names the snapshot and
    three segments, each starting where the one before ended."""
    srv = K.kevy("--threads", "1", "--appendfsync", "always", "--save", "",
                 "--aof-preallocate", PREALLOC).start()
    try:
        with srv.conn() as c:
            pipeline(c, workload(rng, "p", 200))
            A.bgsave(c, 60)
            for n in range(2):
                pipeline(c, workload(rng, "q%d" % n, 60))
                K.check(c.call("DEBUG", "FAILPOINTS", "write:2=enospc") == b"+OK\r\n",
                        "failpoint")
                call_ok(c, "BGSAVE")
                K.check(A.wait_for(lambda: A.info(c)["rdb_bgsave_in_progress"] == "0", 30),
                        "the abandoned snapshot ends")
                c.call("DEBUG", "FAILPOINTS", "")
                K.check(A.info(c).get("aof_last_write_status") == "ok",
                        "the AOF kept writing: %r" % A.info(c))
            pipeline(c, workload(rng, "r", 60))
            shutdown(srv, c)
        shutil.copytree(srv.dir, out)
    finally:
        srv.cleanup()
    return 1


def parse_expect(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    return out


def run_fuzz(fuzz, name, data, seed, iterations, emit_k, emit_dir, keep_dir, budget_s):
    cmd = [fuzz, "--dir", data, "--seed", str(seed), "--iterations", str(iterations),
           "--emit-samples", str(emit_k), emit_dir, "--keep-failed", keep_dir]
    K.log("%s: %s" % (name, " ".join(cmd)))
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=budget_s)
    except subprocess.TimeoutExpired:
        K.fail("%s: crash_fuzz ran past %d s; replay: %s" % (name, budget_s, " ".join(cmd)))
    out = p.stdout.decode("utf-8", "replace")
    sys.stdout.write(out)
    sys.stdout.flush()
    K.check(p.returncode == 0, "%s: crash_fuzz exited %d (seed %d); replay: %s" % (
        name, p.returncode, seed, " ".join(cmd[:7])))
    summary = [ln for ln in out.splitlines() if ln.startswith("crash_fuzz: %d mutations" %
                                                               iterations)]
    K.check(len(summary) == 1, "%s: one summary line" % name)
    K.log("%s: %.1f s" % (name, time.monotonic() - t0))
    return summary[0]


def summary_counts(line):
    """{'mutations': n, 'detected': n, 'torn': n, ...} from the summary line."""
    words = line.replace(",", " ").replace("(", " ").replace(")", " ").split()
    out = {}
    for i in range(1, len(words)):
        if words[i - 1].isdigit() and words[i] in ("mutations", "detected", "torn", "corrupt",
                                                  "mismatch", "version", "error",
                                                  "boundary-cut", "record-gap", "free-space",
                                                  "failed"):
            out[words[i]] = int(words[i - 1])
    return out


class Expected:
    """DBSIZE and DEBUG DIGEST of a clean dataset cut at a record boundary
    of one segment, from a real server (cached)."""

    def __init__(self, clean_dirs, shards, work):
        self.clean_dirs, self.shards, self.work = clean_dirs, shards, work
        self.cache = {}

    def get(self, ds, fname, keep):
        key = (ds, fname, keep)
        if key not in self.cache:
            srv = K.kevy("--threads", str(self.shards[ds]), "--save", "")
            try:
                shutil.rmtree(srv.dir)
                shutil.copytree(self.clean_dirs[ds], srv.dir)
                with open(os.path.join(srv.dir, fname), "r+b") as f:
                    f.truncate(keep)
                srv.start()
                with srv.conn() as c:
                    self.cache[key] = (c.call("DBSIZE"), c.call("DEBUG", "DIGEST"))
                srv.check_clean_exit()
            finally:
                srv.cleanup()
        return self.cache[key]


def check_server(sample, exp, ds, nshards, expected):
    """Start the real server on a copy of a mutated directory."""
    verdict = exp["verdict"]
    label = "%s sample %s (%s %s, %s)" % (ds, exp["iteration"], exp["file"], exp["mutation"],
                                          verdict)
    data = os.path.join(sample, "data")
    if verdict in ("corrupt", "mismatch", "version", "error"):
        tmp = tempfile.mkdtemp(prefix="kevy-fuzz-srv-")
        try:
            d = os.path.join(tmp, "data")
            shutil.copytree(data, d)
            code, out = A.start_refused(d, "--threads", str(nshards), "--save", "",
                                        timeout=float(os.environ.get("KEVY_START_TIMEOUT", "30")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        K.check(code is not None, "%s: the server started on a damaged directory:\n%s" % (
            label, out[-3000:]))
        K.check(code > 0, "%s: the server exited with %r (a signal?):\n%s" % (
            label, code, out[-3000:]))
        K.check(not any(a.decode() in out for a in K.LOG_ALARMS),
                "%s: sanitizer or assertion report:\n%s" % (label, out[-3000:]))
        # A damaged dataset file or manifest is named as such; anything
        # else by its own name or by the manifest that names it.
        K.check(exp["file"] in out or "kevy-s%s.manifest" % exp["shard"] in out or
                "kevy.dataset" in out,
                "%s: the refusal names the file:\n%s" % (label, out[-3000:]))
        K.check("kevy-check" in out, "%s: the refusal mentions kevy-check:\n%s" % (
            label, out[-3000:]))
        return "refused"
    srv = K.kevy("--threads", str(nshards), "--save", "")
    try:
        shutil.rmtree(srv.dir)
        shutil.copytree(data, srv.dir)
        srv.start()
        with srv.conn() as c:
            got = (c.call("DBSIZE"), c.call("DEBUG", "DIGEST"))
        log = A.log_since(srv, 0)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    if verdict == "torn":
        K.check(b"torn tail" in log, "%s: the log says torn tail:\n%s" % (
            label, log[-3000:].decode("utf-8", "replace")))
    keep = max(int(exp["cut"]), 72)
    want = expected.get(ds, exp["file"], keep)
    K.check(got == want, "%s: DBSIZE/DIGEST %r, the clean directory cut at %d gives %r" % (
        label, got, keep, want))
    return "started"


def main():
    seed, rng = K.rng_from_env()
    K.require_kevy()
    fuzz = bin_path("crash_fuzz")
    check = bin_path("kevy-check")
    long_mode = os.environ.get("KEVY_CRASH_LONG") == "1"
    K.log("replay: KEVY_SEED=%d %s %s (KEVY_CRASH_LONG=1 for the long mode)" % (
        seed, sys.executable, os.path.abspath(__file__)))
    work = tempfile.mkdtemp(prefix="kevy-crash-fuzz-")
    try:
        clean = {}
        shards = {}
        clean["two-shard"] = os.path.join(work, "two-shard")
        shards["two-shard"] = build_two_shard(rng, clean["two-shard"])
        clean["multi-segment"] = os.path.join(work, "multi-segment")
        shards["multi-segment"] = build_multi_segment(rng, clean["multi-segment"])
        fixtures = os.environ.get("KEVY_FIXTURES")
        if fixtures and os.path.isdir(os.path.join(fixtures, "v1", "clean")):
            clean["fixture-v1"] = os.path.join(work, "fixture-v1")
            shutil.copytree(os.path.join(fixtures, "v1", "clean"), clean["fixture-v1"])
            shards["fixture-v1"] = 2
        for ds, d in clean.items():
            K.check(subprocess.run([check, "--quiet", d], stdout=subprocess.DEVNULL).returncode
                    == 0, "%s: kevy-check says clean" % ds)

        scale = 12 if long_mode else 1
        plan = {"two-shard": 1800, "multi-segment": 1400, "fixture-v1": 1000}
        totals = {}
        samples = []
        for n, (ds, d) in enumerate(clean.items()):
            emit = os.path.join(work, "samples-" + ds)
            line = run_fuzz(fuzz, ds, d, seed + n, plan[ds] * scale, 40, emit,
                            os.path.join(work, "failed"), 3000 if long_mode else 600)
            for k, v in summary_counts(line).items():
                totals[k] = totals.get(k, 0) + v
            for s in sorted(os.listdir(emit)):
                samples.append((ds, os.path.join(emit, s),
                                parse_expect(os.path.join(emit, s, "expect"))))
        K.check(totals.get("mutations", 0) >= 2000, "at least 2,000 mutations: %r" % totals)
        K.check(totals.get("failed", 1) == 0, "no failure: %r" % totals)
        K.check(totals.get("detected", 0) + totals.get("boundary-cut", 0) +
                totals.get("record-gap", 0) + totals.get("free-space", 0) ==
                totals["mutations"], "all accounted: %r" % totals)

        # The real kevy-check on every emitted sample (cheap: no server).
        n_check = 0
        for ds, s, exp in samples:
            p = subprocess.run([check, "--quiet", os.path.join(s, "data")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            K.check(p.returncode == int(exp["exit"]),
                    "%s: kevy-check exited %d, crash_fuzz's verdict %s (exit %s); %r\n%s" % (
                        s, p.returncode, exp["verdict"], exp["exit"], exp,
                        p.stdout.decode("utf-8", "replace")[-2000:]))
            n_check += 1

        # The real server on a sample: every torn or boundary-cut one (up
        # to 10), the rest refusals, 20 in all (fewer in no case).
        started = [x for x in samples if x[2]["verdict"] in ("torn", "clean")]
        refused = [x for x in samples if x[2]["verdict"] not in ("torn", "clean")]
        rng.shuffle(started)
        rng.shuffle(refused)
        pick = started[:10]
        pick += refused[:20 - len(pick)]
        expected = Expected(clean, shards, work)
        n_server = {"refused": 0, "started": 0}
        for ds, s, exp in pick:
            n_server[check_server(s, exp, ds, shards[ds], expected)] += 1

        K.log("crash_fuzz: %d mutations on %d directories, %d detected (%d torn, %d corrupt, "
              "%d mismatch, %d version, %d error), %d boundary-cut exceptions, %d record-gap "
              "exceptions, %d free-space exceptions, 0 missed; kevy-check agreed on %d "
              "samples; kevy-server refused %d and started %d as expected; seed %d" % (
                  totals["mutations"], len(clean), totals["detected"], totals.get("torn", 0),
                  totals.get("corrupt", 0), totals.get("mismatch", 0),
                  totals.get("version", 0), totals.get("error", 0),
                  totals.get("boundary-cut", 0), totals.get("record-gap", 0),
                  totals.get("free-space", 0), n_check,
                  n_server["refused"], n_server["started"], seed))
    finally:
        failed = os.path.join(work, "failed")
        if os.path.isdir(failed) and os.listdir(failed):
            keep = tempfile.mkdtemp(prefix="kevy-crash-fuzz-failed-")
            shutil.copytree(failed, os.path.join(keep, "failed"))
            K.log("failing directories kept in %s" % keep)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    K.run_main(main)
