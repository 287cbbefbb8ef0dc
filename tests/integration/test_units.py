#!/usr/bin/env python3
"""Units across shards are all or nothing on disk (docs/durability.md, "Units
across shards"), seen from outside: a cross-shard MSET whose part on one
shard a crash lost is dropped whole by recovery, with the later write that
depended on it, while an independent later write is kept; a RESOLVE record
keeps that verdict at the next start, so writes made after the restart to
the same keys survive; kevy-check reports the incomplete unit (exit 1), and
`kevy-check --fix` does what recovery does; kevy-dump shows unit records.

Every server listens on loopback on a port it picks; every wait is bounded.
"""
import glob
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time

import aoflib as A
import kevylib as K

REC_HEADER = 32
FILE_HEADER = 72
UNIT = 3
RESOLVE = 4


def records(path):
    """(offset, type, lsn, payload_len) of every record of a segment."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = FILE_HEADER
    while off + REC_HEADER <= len(data) and not A.free_space_at(data, off):
        plen, rtype = struct.unpack_from("<IB", data, off + 8)
        lsn = struct.unpack_from("<Q", data, off + 16)[0]
        out.append((off, rtype, lsn, plen))
        off += REC_HEADER + plen
    return out


def last_segment(d, shard):
    segs = sorted(glob.glob(os.path.join(d, "kevy-s%d-g*.aof" % shard)),
                  key=lambda p: int(p.rsplit("-g", 1)[1].split(".")[0]))
    K.check(segs, "shard %d has a segment" % shard)
    return segs[-1]


def keys_per_shard(c, n):
    """Two keys on each shard, each set to "old": {shard: [key, ...]}."""
    found = {}
    for i in range(400):
        k = "u%d" % i
        s = A.shard_of_write(c, n, "SET", k, "old")
        found.setdefault(s, [])
        if len(found[s]) < 2:
            found[s].append(k)
        if len(found) == n and all(len(v) == 2 for v in found.values()):
            return found
    raise K.TestFailure("keys on every shard not found")


def get(c, k):
    r = c.call("GET", k)
    return None if r == b"$-1\r\n" else K.parse(r).decode()


def setup(srv):
    """The history: old values, a cross-shard MSET (the unit), then on
    shard 0 an independent write and a write to the unit's key there.
    Returns (keys, path of shard 1's segment, offset of its unit part)."""
    with srv.conn() as c:
        ks = keys_per_shard(c, 2)
        a, a2, b = ks[0][0], ks[0][1], ks[1][0]
        r = c.call("MSET", a, "unit", b, "unit")
        K.check(r == b"+OK\r\n", "MSET across shards: %r" % r)
        K.check(c.call("SET", a2, "indep") == b"+OK\r\n", "independent write")
        K.check(c.call("APPEND", a, "+dep") == b":8\r\n", "dependent write")
    A.kill9(srv)
    seg = last_segment(srv.dir, 1)
    units = [r for r in records(seg) if r[1] == UNIT]
    K.check(len(units) == 1, "shard 1 logged one unit part: %r" % records(seg))
    return (a, a2, b), seg, units[0][0]


def lose_part(seg, off, torn=False):
    """What a power cut before shard 1's fsync leaves: its part never landed
    (torn: its first bytes did, a torn tail)."""
    with open(seg, "r+b") as f:
        f.truncate(off + (REC_HEADER // 2 if torn else 0))


def check_dropped(srv, keys, label):
    a, a2, b = keys
    with srv.conn() as c:
        K.check(get(c, a) == "old" and get(c, b) == "old",
                "%s: the incomplete MSET is gone on both shards: %r %r" % (label, get(c, a),
                                                                           get(c, b)))
        K.check(get(c, a2) == "indep", "%s: the independent write is kept" % label)


def out_text(d):
    code, out = A.kevy_check(d)
    K.check(code == 1, "kevy-check (text) exits 1: %d %s" % (code, out))
    return out


def check_named(d, unit, text):
    """kevy-check names the file of each part of the torn unit and the
    one-shard record recovery drops with it (setup's APPEND, the last record
    of shard 0), in --json (unit) and in its text line, the same line
    recovery logs.  Returns that line."""
    seg0, seg1 = last_segment(d, 0), last_segment(d, 1)
    recs0 = records(seg0)
    part0 = [r for r in recs0 if r[1] == UNIT][0][2]
    dep = recs0[-1]
    K.check(dep[1] == 1 and dep[2] == part0 + 2,
            "shard 0: the unit's part, the independent SET, then the APPEND: %r" % recs0)
    files = {p["shard"]: p["file"] for p in unit["parts"]}
    want = {0: os.path.basename(seg0), 1: os.path.basename(seg1)}
    K.check(files == want, "kevy-check --json names each part's file: %r, not %r"
            % (files, want))
    K.check(unit["dependents"] == [{"shard": 0, "lsn": dep[2], "file": want[0]}],
            "kevy-check --json lists the dependent APPEND (shard 0 LSN %d): %r"
            % (dep[2], unit["dependents"]))
    K.check(unit["depends_on"] is None, "an incomplete unit depends on none: %r" % unit)
    lsn1 = [p["lsn"] for p in unit["parts"] if p["shard"] == 1][0]
    for frag in ("shard 0 part at LSN %d present in %s" % (part0, want[0]),
                 "shard 1 part at LSN %d missing (past the end of %s)" % (lsn1, want[1]),
                 "with it 1 dependent one-shard record(s): shard 0 LSN %d" % dep[2]):
        K.check(frag in text and frag in unit["message"],
                "kevy-check says %r: %s" % (frag, text))
    return [ln for ln in text.splitlines() if ln.startswith("units across shards: ")][0][
        len("units across shards: "):]


def case_recovery(kc):
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="units")
    try:
        srv.start()
        keys, seg, off = setup(srv)
        lose_part(seg, off)
        code, out = A.kevy_check(srv.dir)
        K.check(code == 1 and "units across shards" in out and "incomplete" in out,
                "kevy-check reports the incomplete unit (exit 1): %d %s" % (code, out))
        code, out = A.kevy_check(srv.dir, "--json")
        doc = json.loads(out)
        K.check(doc["verdict"] == "incomplete unit" and len(doc["units"]) == 1 and
                doc["units"][0]["why"] == "incomplete",
                "kevy-check --json: %r" % doc.get("units"))
        parts = {p["shard"]: p["present"] for p in doc["units"][0]["parts"]}
        K.check(parts == {0: True, 1: False}, "the missing part is shard 1's: %r" % parts)
        line = check_named(srv.dir, doc["units"][0], out_text(srv.dir))
        off_log = A.restart(srv)
        log = A.log_since(srv, off_log).decode("utf-8", "replace")
        K.check("dropped (incomplete)" in log and "RESOLVE" in log,
                "the server logs the dropped unit: %s" % log[-800:])
        K.check(line in log, "recovery logs the line kevy-check printed, %r: %s"
                % (line, log[-1500:]))
        check_dropped(srv, keys, "after recovery")
        a = keys[0]
        with srv.conn() as c:
            K.check(c.call("SET", a, "after") == b"+OK\r\n", "a write after the restart")
        A.kill9(srv)
        code, out = A.kevy_check(srv.dir, "--json")
        doc = json.loads(out)
        K.check(code == 0 and [u["why"] for u in doc["units"]] == ["resolved"],
                "after recovery the directory checks clean, the unit resolved: %d %r"
                % (code, doc.get("units")))
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "after", "the RESOLVE record keeps a later write to the "
                    "dropped unit's key: %r" % get(c, a))
            K.check(get(c, keys[2]) == "old" and get(c, keys[1]) == "indep",
                    "the verdict holds at the second start")
        srv.stop()
        K.log("recovery: the incomplete MSET dropped whole with its dependent, the "
              "independent write kept, the verdict kept by RESOLVE")
    finally:
        srv.cleanup()


def case_fix(kc):
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="units-fix")
    try:
        srv.start()
        keys, seg, off = setup(srv)
        lose_part(seg, off, torn=True)
        code, out = A.kevy_check(srv.dir)
        frag = "missing (past the end of %s, whose torn tail recovery cuts)" % (
            os.path.basename(seg))
        K.check(code == 1 and frag in out, "kevy-check names the torn segment, %r: %d %s"
                % (frag, code, out))
        code, out = A.kevy_check(srv.dir, "--fix", "--yes")
        K.check(code == 0, "kevy-check --fix: %d %s" % (code, out))
        code, out = A.kevy_check(srv.dir)
        K.check(code == 0 and "resolved" in out, "clean after --fix: %d %s" % (code, out))
        # What the fix wrote is a RESOLVE record on shard 0 (its part and
        # the dependent write are the dropped records there).
        resolves = [r for r in records(last_segment(srv.dir, 0)) if r[1] == RESOLVE]
        K.check(len(resolves) == 1, "one RESOLVE record on shard 0: %r" % resolves)
        off_log = A.restart(srv)
        log = A.log_since(srv, off_log).decode("utf-8", "replace")
        K.check("dropped (incomplete)" not in log, "nothing left to drop at start: %s" % log)
        check_dropped(srv, keys, "after --fix")
        srv.stop()
        K.log("kevy-check --fix: the same verdict as recovery, written as RESOLVE")
    finally:
        srv.cleanup()


def case_whole(kc):
    """No crash: every unit complete, nothing dropped, kevy-dump shows the
    unit records."""
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="units-whole")
    try:
        srv.start()
        keys, seg, off = setup(srv)
        code, out = A.kevy_check(srv.dir, "--json")
        doc = json.loads(out)
        K.check(code == 0 and doc["units"] == [], "complete units: clean, none dropped: %r"
                % doc.get("units"))
        dump = os.path.join(os.path.dirname(K.kevy_binary()), "kevy-dump")
        p = subprocess.run([dump, seg], capture_output=True, text=True, timeout=60)
        K.check(p.returncode == 0 and "unit " in p.stdout and "parts s0@" in p.stdout and
                "s1@" in p.stdout and '"unit"' in p.stdout,
                "kevy-dump shows the unit's header and effect: %s" % p.stdout[-600:])
        # A point in time between the unit's two parts (the bound is per
        # shard's LSN): the part past it is cut as a crash would cut it, so
        # the unit is dropped whole from the dump, with what depended on it.
        part = {sh: [r for r in records(last_segment(srv.dir, sh)) if r[1] == UNIT][0][2]
                for sh in (0, 1)}
        if part[0] != part[1]:
            bound = min(part.values())
            p = subprocess.run([dump, "--until-lsn", str(bound), srv.dir], capture_output=True,
                               text=True, timeout=60)
            K.check(p.returncode == 0 and '"unit' not in p.stdout and '"old"' in p.stdout,
                    "kevy-dump --until-lsn %d (parts at %r): the unit is in neither shard: %s"
                    % (bound, part, p.stdout[-800:]))
            p = subprocess.run([dump, "--until-lsn", str(max(part.values())), srv.dir],
                               capture_output=True, text=True, timeout=60)
            K.check(p.returncode == 0 and p.stdout.count('"unit"') == 1,
                    "kevy-dump --until-lsn at the later part: the unit whole: %s"
                    % p.stdout[-800:])
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, keys[0]) == "unit+dep" and get(c, keys[2]) == "unit",
                    "the whole unit and its dependent are kept")
        srv.stop()
    finally:
        srv.cleanup()


def case_reads(kc):
    """Per-key reads: a later unit that only read an unrelated key of the
    shard where an incomplete unit's part is dropped is kept (3 shards)."""
    srv = K.kevy("--threads", "3", "--appendfsync", "always", "--save", "", name="units-reads")
    try:
        srv.start()
        with srv.conn() as c:
            ks = keys_per_shard(c, 3)
            a, x, b, cc = ks[0][0], ks[0][1], ks[1][0], ks[2][0]
            K.check(c.call("MSET", a, "unit", b, "unit") == b"+OK\r\n", "MSET over shards 0, 1")
            c.call("MULTI")
            c.call("GET", x)
            c.call("SET", cc, "reader")
            r = c.call("EXEC")
            K.check(r.startswith(b"*2"), "EXEC reading shard 0, writing shard 2: %r" % r)
            c.call("MULTI")
            c.call("GET", a)
            c.call("SET", ks[2][1], "dependent")
            r = c.call("EXEC")
            K.check(r.startswith(b"*2"), "EXEC reading the unit's key: %r" % r)
        A.kill9(srv)
        seg = last_segment(srv.dir, 1)
        units = [r for r in records(seg) if r[1] == UNIT]
        K.check(len(units) == 1, "shard 1 logged the MSET's part only")
        lose_part(seg, units[0][0])
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "old" and get(c, b) == "old", "the MSET is dropped whole")
            K.check(get(c, cc) == "reader", "a unit that read only another key of shard 0 "
                    "is kept: %r" % get(c, cc))
            K.check(get(c, ks[2][1]) == "old", "a unit that read the dropped key is dropped: "
                    "%r" % get(c, ks[2][1]))
        srv.stop()
        K.log("reads: a unit that read an unrelated key kept, one that read the dropped key "
              "dropped with it")
    finally:
        srv.cleanup()


def dump_strings(d, *args):
    """kevy-dump --json [args] d: {key: value} of its string keys."""
    code, out, err = A.tool("kevy-dump", "--json", *args, d)
    K.check(code == 0, "kevy-dump --json %s: exit %d: %s" % (" ".join(args), code, err))
    got = {}
    for line in out.splitlines():
        o = json.loads(line)
        if o.get("type") == "string":
            got[o["key"]] = o["value"]
    return got


def replay(d, work, label, *args):
    """kevy-dump --replay into a fresh directory, then its string keys and
    its shard count."""
    out_dir = tempfile.mkdtemp(prefix="replay-", dir=work)
    code, out, err = A.tool("kevy-dump", "--replay", out_dir, "--json", *args, d)
    K.check(code == 0, "%s: kevy-dump --replay %s: exit %d: %s" % (label, " ".join(args),
                                                                     code, err))
    shards = json.loads(out)["shards"]
    return dump_strings(out_dir), shards


def whole_or_none(got, keys, label):
    """The MSET's keys in a dump: both "unit" or both "old"; which one."""
    a, b = got.get(keys[0]), got.get(keys[2])
    K.check((a, b) in (("unit", "unit"), ("old", "old"), ("unit+dep", "unit")),
            "%s: the MSET is whole or absent, never half: %r %r" % (label, a, b))
    return b == "unit"


def case_point_in_time(kc):
    """A point-in-time dump (--until-time) and a re-sharding replay
    (--replay --shards N) hold a cross-shard MSET whole or not at all: on
    a whole directory the bound decides (the parts share one time); on a
    directory whose part on shard 1 a crash lost, it is absent at every
    bound and every shard count, and so is the write that read its key."""
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="units-pit")
    work = tempfile.mkdtemp(prefix="kevy-it-units-pit-")
    try:
        srv.start()
        with srv.conn() as c:
            ks = keys_per_shard(c, 2)
            a, a2, b = ks[0][0], ks[0][1], ks[1][0]
            time.sleep(0.02)
            t1 = int(time.time() * 1000)
            K.check(c.call("MSET", a, "unit", b, "unit") == b"+OK\r\n", "MSET across shards")
            t2 = int(time.time() * 1000)
            time.sleep(0.02)
            K.check(c.call("SET", a2, "indep") == b"+OK\r\n", "independent write")
            K.check(c.call("APPEND", a, "+dep") == b":8\r\n", "dependent write")
        A.kill9(srv)
        keys = (a, a2, b)
        whole = os.path.join(work, "whole")
        shutil.copytree(srv.dir, whole)
        # The whole directory: before the MSET's time, absent; at it, whole.
        K.check(not whole_or_none(dump_strings(whole, "--until-time", str(t1 - 1)), keys,
                                  "whole, --until-time before the MSET"),
                "whole directory, --until-time %d: the MSET not yet" % (t1 - 1))
        K.check(whole_or_none(dump_strings(whole, "--until-time", str(t2)), keys,
                              "whole, --until-time at the MSET"),
                "whole directory, --until-time %d: the MSET whole" % t2)
        for n in (1, 3):
            got, shards = replay(whole, work, "whole", "--shards", str(n), "--until-time", str(t2))
            K.check(shards == n and whole_or_none(got, keys, "whole, --replay --shards %d" % n),
                    "whole directory, --replay --shards %d --until-time %d: the MSET whole "
                    "(%d shards)" % (n, t2, shards))
        # Shard 1's part lost: absent at every bound and shard count.
        seg = last_segment(srv.dir, 1)
        units = [r for r in records(seg) if r[1] == UNIT]
        K.check(len(units) == 1, "shard 1 logged one unit part")
        lose_part(seg, units[0][0], torn=True)
        now = int(time.time() * 1000)
        for bound in (t1 - 1, t2, now):
            got = dump_strings(srv.dir, "--until-time", str(bound))
            K.check(not whole_or_none(got, keys, "torn, --until-time %d" % bound),
                    "torn directory, --until-time %d: the MSET absent" % bound)
            K.check(got.get(a) == "old", "torn directory, --until-time %d: the APPEND that "
                    "read the MSET's key is absent too: %r" % (bound, got.get(a)))
            K.check(got.get(a2) == ("indep" if bound == now else "old"),
                    "torn directory, --until-time %d: the independent write as of the "
                    "bound: %r" % (bound, got.get(a2)))
        for n in (1, 2, 3):
            for bound in ((), ("--until-time", str(t2))):
                got, shards = replay(srv.dir, work, "torn", "--shards", str(n), *bound)
                K.check(shards == n and not whole_or_none(got, keys, "torn, --replay"),
                        "torn directory, --replay --shards %d %s: the MSET absent"
                        % (n, " ".join(bound)))
                K.check(got.get(a) == "old" and got.get(a2) == ("old" if bound else "indep"),
                        "torn directory, --replay --shards %d %s: %r %r"
                        % (n, " ".join(bound), got.get(a), got.get(a2)))
        # What the replays left out is what recovery leaves out.
        A.restart(srv)
        with srv.conn() as c:
            K.check(get(c, a) == "old" and get(c, b) == "old" and get(c, a2) == "indep",
                    "recovery agrees with the dumps")
        srv.stop()
        K.log("point in time and re-sharding: the MSET whole or absent at every bound and "
              "shard count")
    finally:
        srv.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def case_fixture(kc):
    """fixtures/v4/unit-torn (a copy): the MSET's part on shard 1 never
    reached kevy-s1-g2.aof; kevy-check names both files, and nothing else
    is dropped with the unit (it is the last record of shard 0)."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures",
                       "v4", "unit-torn")
    work = tempfile.mkdtemp(prefix="kevy-it-units-fixture-")
    try:
        d = os.path.join(work, "data")
        shutil.copytree(src, d)
        code, out = A.kevy_check(d, "--json")
        doc = json.loads(out)
        K.check(code == 1 and len(doc["units"]) == 1, "unit-torn: one incomplete unit: %d %s"
                % (code, out))
        u = doc["units"][0]
        got = [(p["shard"], p["lsn"], p["present"], p["file"]) for p in u["parts"]]
        K.check(got == [(0, 39, True, "kevy-s0-g2.aof"), (1, 27, False, "kevy-s1-g2.aof")],
                "unit-torn: each part's LSN and file: %r" % got)
        K.check(u["dependents"] == [] and u["depends_on"] is None,
                "unit-torn: nothing depends on the unit: %r" % u)
        code, out = A.kevy_check(d)
        K.check("shard 0 part at LSN 39 present in kevy-s0-g2.aof, shard 1 part at LSN 27 "
                "missing (past the end of kevy-s1-g2.aof)" in out,
                "unit-torn: the text names both files: %s" % out)
        K.log("fixtures/v4/unit-torn: kevy-check names each part's file")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files")
    kc = A.kevy_check_path()
    K.check(kc is not None, "kevy-check is built")
    case_fixture(kc)
    case_whole(kc)
    case_recovery(kc)
    case_fix(kc)
    case_reads(kc)
    case_point_in_time(kc)


if __name__ == "__main__":
    K.run_main(main)
