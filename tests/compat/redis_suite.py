#!/usr/bin/env python3
"""redis_suite.py - Redis 7.0.15's own test suite against kevy: the
conformance gate (docs/compatibility.md, "Redis's test suite").

Starts a fresh kevy (2 shards, defaults otherwise) on a free loopback port
for each unit (a unit's CONFIG SETs must not leak into the next), copies the
suite (KEVY_REDIS_TESTS, default <repo>/../shared/redis-tests-7.0)
to a temporary directory, runs every unit that can run against an external
server, one after another, and compares the tests that passed with
tests/compat/expected.txt:

  - a test listed there that did not pass fails the gate;
  - a test that passed and is not listed is reported as newly passing (add it
    with --update once the change that made it pass lands);
  - kevy exiting during a unit, or its log showing a sanitizer report or a
    failed assertion, fails the gate (the next unit gets a new one, so the
    rest is still measured).

Prints one line per unit (ok/err beside what redis-server itself scores: the
suite's README figure, and under this runner's own flags) and "redis suite:
N of Redis's 1,745".

Exit: 0 pass, 1 fail, 77 skip (no suite, no tclsh, or KEVY_SERVER unset).

Options:
  --units a,b      run only these units (names as in UNITS below)
  --update         rewrite expected.txt from this run's passes (a maintainer's
                   step after a change that makes tests pass; review the diff)
  --keep           keep the copied suite and the server's directory

Environment:
  KEVY_SERVER               kevy-server (set by CTest)
  KEVY_REDIS_TESTS          the suite (read-only is fine: it is copied)
  KEVY_COMPAT_UNIT_TIMEOUT  seconds one unit may run (default 300)
  KEVY_TARGET=redis         run the same against redis-server (proves the runner)

Flags given to runtest, and why (docs/compatibility.md says the same):
  --tags -needs:repl        replication (issue 20)
  --skipfile (from tests/compat/races.txt)
                            tests that race two connections (see that file)
  --clients 1 --durable --timeout 30
                            one test client; a crashing test does not end its
                            unit; 30 s without progress ends the unit
"""
import argparse
import collections
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import kevylib  # noqa: E402

EXPECTED = os.path.join(HERE, "expected.txt")
RACES = os.path.join(HERE, "races.txt")
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_SUITE = os.path.abspath(os.path.join(REPO, "..", "shared", "redis-tests-7.0"))

# Every unit that runs in external mode, with what redis-server 7.0.15 passes
# (the suite's README: measured with --tags -needs:debug, so units with
# needs:debug tests run more of them now than these figures count).
UNITS = collections.OrderedDict([
    ("type/string", 75), ("type/incr", 23), ("type/hash", 72), ("type/list", 219),
    ("type/set", 95), ("type/zset", 308), ("expire", 58), ("keyspace", 42), ("multi", 36),
    ("pubsub", 30), ("scan", 16), ("protocol", 5), ("info-command", 3), ("quit", 3),
    ("scripting", 184), ("functions", 90), ("type/stream", 63), ("type/stream-cgroups", 48),
    ("type/list-2", 2), ("type/list-3", 11), ("bitops", 45), ("bitfield", 16),
    ("hyperloglog", 13), ("geo", 59), ("sort", 52), ("dump", 11), ("tracking", 51),
    ("introspection", 27), ("introspection-2", 43), ("slowlog", 9), ("latency-monitor", 13),
    ("other", 17), ("querybuf", 2), ("lazyfree", 4),
])
REDIS_TOTAL = 1745
# What redis-server 7.0.15 passes under this runner's own flags (RUNTEST_FLAGS,
# races.txt skipped), measured with KEVY_TARGET=redis on 2026-12-06: the
# figure a unit's kevy count compares with test for test.
SAME_FLAGS = {
    "type/string": 75, "type/incr": 25, "type/hash": 73, "type/list": 236, "type/set": 98,
    "type/zset": 310, "expire": 64, "keyspace": 53, "multi": 46, "pubsub": 29, "scan": 17,
    "protocol": 25, "info-command": 3, "quit": 3, "scripting": 266, "functions": 94,
    "type/stream": 72, "type/stream-cgroups": 45, "type/list-2": 2, "type/list-3": 11,
    "bitops": 45, "bitfield": 16, "hyperloglog": 13, "geo": 59, "sort": 52, "dump": 12,
    "tracking": 54, "introspection": 27, "introspection-2": 43, "slowlog": 14,
    "latency-monitor": 14, "other": 22, "querybuf": 2, "lazyfree": 4,
}
RUNTEST_FLAGS = ["--clients", "1", "--timeout", "30", "--durable",
                 "--tags", "-needs:repl"]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "[ok]: name (12 ms)"; "[err]: name in tests/unit/x.tcl"; "[exception]: ..."
RESULT = re.compile(r"^\[(ok|err|exception)\]: (.*)$")
OK_TIME = re.compile(r" \(\d+ ms\)$")
ERR_WHERE = re.compile(r" in tests/unit/\S+\.tcl$")


def parse_results(text):
    """(passed Counter of names, failed Counter of names) from runtest output.
    Each [err] is printed twice by runtest (when it happens and in the closing
    list); only the first print of each is counted, by position."""
    passed, failed = collections.Counter(), collections.Counter()
    in_summary = False
    for raw in text.splitlines():
        line = ANSI.sub("", raw).rstrip()
        if "The following tests failed" in line:
            in_summary = True
            continue
        m = RESULT.match(line)
        if not m:
            continue
        kind, rest = m.groups()
        if kind == "ok":
            passed[OK_TIME.sub("", rest)] += 1
        elif not in_summary:
            failed[ERR_WHERE.sub("", rest)] += 1
    return passed, failed


def read_expected():
    want = collections.Counter()
    if not os.path.exists(EXPECTED):
        return want
    with open(EXPECTED, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            unit, _, name = line.partition("\t")
            want[(unit, name)] += 1
    return want


def write_expected(got):
    lines = []
    for (unit, name), n in sorted(got.items()):
        lines += ["%s\t%s" % (unit, name)] * n
    with open(EXPECTED, "w", encoding="utf-8") as f:
        f.write("# The tests of Redis's own suite that kevy must pass (tests/compat/redis_suite.py).\n"
                "# One per line: <unit> TAB <test name>.  Regenerate with --update after a change\n"
                "# that makes tests pass, and review the diff: a line that disappears is a regression.\n")
        for line in lines:
            f.write(line + "\n")


def read_races():
    """{unit: [test names]} of races.txt: tests that race two connections."""
    races = collections.defaultdict(list)
    with open(RACES, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                unit, _, name = line.partition("\t")
                races[unit].append(name)
    return races


def run_unit(suite, port, unit, timeout_s, log_dir, skip_names):
    """Run one unit; returns (passed, failed, seconds, note)."""
    # runtest listens for its own test clients on the first port below
    # --baseport (21111 by default) where it can also bind port + 10000: two
    # runs on one machine would race for it, so each unit starts the search
    # at a port of its own, below the kernel's ephemeral range (32768 on) so
    # that port + 10000 exists and is not a client's.
    baseport = random.Random().randrange(21120, 32000, 64)
    argv = ["./runtest", "--host", "127.0.0.1", "--port", str(port),
            "--baseport", str(baseport),
            "--single", "unit/" + unit] + RUNTEST_FLAGS
    if skip_names:
        skip_path = os.path.join(log_dir, unit.replace("/", "_") + ".skip")
        with open(skip_path, "w", encoding="utf-8") as f:
            f.write("\n".join(skip_names) + "\n")
        argv += ["--skipfile", skip_path]
    out_path = os.path.join(log_dir, unit.replace("/", "_") + ".log")
    start = time.monotonic()
    note = ""
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(argv, cwd=suite, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            note = "stopped after %d s" % timeout_s
        # The runner's test clients are its children: none may outlive the
        # unit (one would hold its ports and confuse the next unit).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    passed, failed = parse_results(text)
    if "Testing unit/" not in ANSI.sub("", text):
        note = "runtest did not run the unit:\n" + text[-2000:]
    return passed, failed, time.monotonic() - start, note


def start_server():
    srv = kevylib.Server("kevy", args=["--threads", "2"], name="compat")
    srv.start()
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", default="")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    suite_src = os.environ.get("KEVY_REDIS_TESTS", DEFAULT_SUITE)
    if not os.path.isfile(os.path.join(suite_src, "tests", "test_helper.tcl")):
        kevylib.skip("Redis's test suite is not at %s (set KEVY_REDIS_TESTS)" % suite_src)
    if not shutil.which("tclsh"):
        kevylib.skip("tclsh is not installed (scripts/install-deps.sh --test installs tcl)")
    if kevylib.target() == "kevy":
        kevylib.kevy_binary()   # skips when KEVY_SERVER is unset
    units = list(UNITS)
    if args.units:
        units = [u for u in args.units.split(",") if u]
        unknown = [u for u in units if u not in UNITS]
        if unknown:
            kevylib.fail("unknown unit(s): %s" % ", ".join(unknown))
    timeout_s = int(os.environ.get("KEVY_COMPAT_UNIT_TIMEOUT", "300"))

    tmp = tempfile.mkdtemp(prefix="kevy-compat-")
    suite = os.path.join(tmp, "redis-tests")
    shutil.copytree(suite_src, suite, symlinks=True)
    for root, dirs, files in os.walk(suite):   # the copy may carry read-only bits
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o200)
    os.makedirs(os.path.join(suite, "tests", "tmp"), exist_ok=True)
    log_dir = os.path.join(tmp, "logs")
    os.makedirs(log_dir)
    kevylib.log("redis suite: %s, units %d, logs in %s" % (suite_src, len(units), log_dir))

    got = collections.Counter()
    problems = []
    total_ok = total_err = 0
    races = read_races()
    for unit in units:
        srv = start_server()
        try:
            passed, failed, secs, note = run_unit(suite, srv.port, unit, timeout_s, log_dir,
                                                    races.get(unit, []))
            if not srv.alive():
                problems.append("kevy exited during unit %s (status %s)\n%s" % (
                    unit, srv.proc.returncode, srv.log_tail(3000).decode("utf-8", "replace")))
        finally:
            alarms = srv.log_alarms()
            srv.stop()
            if alarms:
                problems.append("kevy's log during unit %s shows:\n%s" % (unit, "\n".join(
                    a.decode("utf-8", "replace") for a in alarms[:20])))
            if args.keep:
                kevylib.log("  (kevy's directory for %s: %s)" % (unit, srv.tmpdir))
            else:
                shutil.rmtree(srv.tmpdir, ignore_errors=True)
        for name, n in passed.items():
            got[(unit, name)] += n
        nok, nerr = sum(passed.values()), sum(failed.values())
        total_ok += nok
        total_err += nerr
        kevylib.log("  %-22s ok %4d  err %4d   (Redis: %3d, same flags %3d)  %5.0f s %s" % (
            unit, nok, nerr, UNITS[unit], SAME_FLAGS[unit], secs, note))
        if note.startswith("runtest did not run"):
            problems.append("unit %s: %s" % (unit, note))

    kevylib.log("redis suite: %d of Redis's %s (%d err)" % (total_ok, "{:,}".format(REDIS_TOTAL),
                                                             total_err))
    same = sum(SAME_FLAGS[u] for u in units)
    kevylib.log("  redis-server under the same flags passes %s of these units' tests; kevy %s"
                % ("{:,}".format(same), "{:,}".format(total_ok)))
    want = read_expected()
    if args.units:
        want = collections.Counter({k: n for k, n in want.items() if k[0] in units})
    missing = sorted(k for k, n in want.items() if got[k] < n)
    new = sorted(k for k, n in got.items() if want[k] < n)
    if new:
        kevylib.log("newly passing (%d; add them with --update):" % len(new))
        for unit, name in new[:200]:
            kevylib.log("  + %s\t%s" % (unit, name))
    if args.update:
        if args.units:
            kept = collections.Counter({k: n for k, n in read_expected().items()
                                        if k[0] not in units})
            got.update(kept)
        write_expected(got)
        kevylib.log("wrote %s (%d tests)" % (EXPECTED, sum(got.values())))
    elif missing:
        problems.append("%d test(s) listed in expected.txt did not pass:\n%s" % (
            len(missing), "\n".join("  - %s\t%s" % k for k in missing[:200])))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        for p in problems:
            kevylib.log("FAIL: " + p)
        if not args.keep:
            kevylib.log("(rerun with --keep to keep the unit logs)")
        return kevylib.FAIL
    kevylib.log("PASS: every test in expected.txt passed")
    return kevylib.PASS


if __name__ == "__main__":
    sys.exit(main())
