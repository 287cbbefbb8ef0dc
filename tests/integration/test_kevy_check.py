#!/usr/bin/python3
"""kevy-check, the offline checker, on real data directories.

Every case starts from a directory a real kevy-server wrote (2 shards,
writes, clean shutdown), damaged the way a crash or a disk would:

- clean: exit 0, JSON verdict "clean", every file of the directory listed;
  a lone segment (FILE.aof mode) gives the same records.
- torn tail (the last bytes of a segment cut, or garbage appended): exit 1
  and THE SAME VERDICT as the server: a server started on a copy logs
  "torn tail at offset N" with kevy-check's N and its wording.  Without
  --yes off a terminal, --fix refuses (exit 3) and changes nothing;
  --fix --yes quarantines (a .torn- file holding exactly the cut bytes),
  truncates, exits 0, a second run says clean, and the server starts with
  all the data that was whole.  On a terminal (pty) it asks first; "n"
  changes nothing.  An fsync failure while quarantining is an I/O error
  (exit 3) and the segment is not cut.
- a bit flip in a middle record: exit 2 at the server's offset; --fix --yes
  refuses and changes nothing byte for byte; the server refuses to start.
- a segment of another dataset: exit 2 (mismatch); a deleted segment:
  exit 2; no kevy.dataset: exit 3; usage errors: exit 3.
- --json always parses (json.loads) and agrees with the text output.
- a snapshot whose stream records break the stream rules behind valid
  checksums (entries out of ID order, a pending entry before any consumer
  of its group, a last ID below the last entry, entries-added below the
  entry count; edited in the decompressed block and sealed again by the
  snap_raw helper): kevy-check (directory and lone file) exits 2 naming the
  snapshot, the block's offset, the reason and the item's byte in the
  block, kevy-dump stops with the same line, and a server on a copy refuses
  to start with it; the same records sealed unedited are clean and load.
Nothing is ever written to the directory without --fix (byte-for-byte).

kevy-check is found next to KEVY_SERVER (CTest builds both there), or at
KEVY_CHECK when set.
"""

import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

NKEYS = 60
ALARMS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


def kevy_check_binary():
    p = os.environ.get("KEVY_CHECK") or os.path.join(
        os.path.dirname(os.path.abspath(K.kevy_binary())), "kevy-check")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        K.fail("kevy-check not found at %s (build it, or set KEVY_CHECK)" % p)
    return p


KC = None


def kc(*args, env=None, timeout=30):
    """Run kevy-check (stdin not a terminal).  Returns (status, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([KC] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=e)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    K.check(not any(a in err for a in ALARMS), "kevy-check %r: sanitizer report:\n%s" % (args, err))
    return p.returncode, out, err


LINE_RE = re.compile(r"^(?P<path>.*) \[(?P<kind>dataset|manifest|segment|snapshot)(, shard (?P<shard>\d+))?\]: "
                     r"(?P<verdict>clean|torn tail, fixed|torn tail|corrupt|mismatch|"
                     r"unsupported version|in use by a running server|I/O error)[:;]")


def check_dir(d, want_code, label, extra=()):
    """kevy-check in text and JSON; both must agree.  Returns the JSON document."""
    code, out, err = kc(*extra, d)
    K.check(code == want_code, "%s: exit %d, want %d\n%s%s" % (label, code, want_code, out, err))
    jcode, jout, jerr = kc("--json", *extra, d)
    K.check(jcode == code, "%s: --json exit %d, text exit %d" % (label, jcode, code))
    doc = json.loads(jout)
    K.check(doc["exit_code"] == code, "%s: JSON exit_code %r" % (label, doc["exit_code"]))
    K.check(doc["dir"] == d, "%s: JSON dir %r" % (label, doc["dir"]))
    files = {f["path"]: f for f in doc["files"]}
    text = {}
    for ln in out.splitlines():
        m = LINE_RE.match(ln)
        if m:
            text[m.group("path")] = m
    K.check(set(text) == set(files), "%s: the same files in text and JSON:\n%s\n%r" %
            (label, out, sorted(files)))
    for path, f in files.items():
        m = text[path]
        word = m.group("verdict")
        K.check(f["verdict"] == ("torn tail" if word == "torn tail, fixed" else word),
                "%s: %s: JSON verdict %r, text %r" % (label, path, f["verdict"], word))
        K.check(f["kind"] == m.group("kind"), "%s: kind" % label)
        K.check(f["fixed"] == (word == "torn tail, fixed"), "%s: fixed" % label)
        if f["kind"] == "segment" and f["offset"] is not None:
            K.check("offset %d" % f["offset"] in m.string, "%s: text offset: %s" % (label, m.string))
        for k in ("path", "kind", "shard", "verdict", "records", "first_lsn", "last_lsn",
                  "size", "offset", "fixed", "message"):
            K.check(k in f, "%s: JSON file has %r: %r" % (label, k, f))
    summary = out.strip().splitlines()[-1]
    K.check(summary.startswith("kevy-check: ") and "(exit %d)" % code in summary,
            "%s: summary line: %r" % (label, summary))
    return doc


def one(doc, kind, verdict=None):
    fs = [f for f in doc["files"] if f["kind"] == kind and (verdict is None or f["verdict"] == verdict)]
    K.check(len(fs) == 1, "one %s %s in %r" % (verdict or "", kind, doc["files"]))
    return fs[0]


def make_dataset(name, nkeys):
    """A stopped 2-shard server's directory (keep_dir; caller cleans up)."""
    def fill(c):
        for i in range(nkeys):
            K.check(c.call("SET", "key%d" % i, "value%d" % i) == b"+OK\r\n", "SET")
        K.check(c.call("RPUSH", "list", "a", "b", "c") == b":3\r\n", "RPUSH")
        K.check(c.call("HSET", "hash", "f", "v") == b":1\r\n", "HSET")
    return A.stopped_dataset(2, name, fill)


def busiest_segment(d):
    segs = sorted(n for n in os.listdir(d) if n.endswith(".aof"))
    return max(segs, key=lambda n: A.records_end(os.path.join(d, n)))


def start_on_copy(src):
    """A server started on a copy of src.  Returns (server, its log text)."""
    srv = K.kevy("--threads", "2", name="copy")
    shutil.rmtree(srv.dir)
    shutil.copytree(src, srv.dir)
    srv.start()
    return srv, A.log_since(srv, 0).decode("utf-8", "replace")


def check_data(srv, want_keys, label):
    with srv.conn() as c:
        n = int(c.call("DBSIZE")[1:-2])
        K.check(n == want_keys, "%s: DBSIZE %d, want %d" % (label, n, want_keys))
        present = sum(c.call("EXISTS", "key%d" % i) == b":1\r\n" for i in range(NKEYS))
        K.check(present >= NKEYS - (NKEYS + 2 - want_keys), "%s: keys present: %d" % (label, present))
    srv.check_clean_exit()


def case_clean(base):
    before = A.dir_snapshot(base)
    doc = check_dir(base, 0, "clean")
    K.check(doc["verdict"] == "clean" and doc["fixed"] == 0 and doc["error"] is None,
            "clean: %r" % doc)
    names = sorted(os.path.basename(f["path"]) for f in doc["files"])
    K.check(names == sorted(os.listdir(base)), "clean: every file listed: %r vs %r" %
            (names, sorted(os.listdir(base))))
    K.check(sum(f["records"] for f in doc["files"] if f["kind"] == "segment") == NKEYS + 2,
            "clean: one record per write: %r" % doc["files"])
    K.check(all(f["verdict"] == "clean" and f["offset"] is None for f in doc["files"]), "clean files")
    code, out, _ = kc("--quiet", base)
    K.check(code == 0 and len(out.strip().splitlines()) == 1, "--quiet prints the summary only: %r" % out)
    # A lone segment: the reader alone, the same numbers.
    for f in doc["files"]:
        if f["kind"] != "segment":
            continue
        code, out, err = kc("--json", f["path"])
        fd = json.loads(out)
        K.check(code == 0 and fd["file"] == f["path"] and len(fd["files"]) == 1,
                "FILE.aof mode: %s %s" % (out, err))
        g = fd["files"][0]
        for k in ("records", "first_lsn", "last_lsn", "size", "shard", "verdict"):
            K.check(g[k] == f[k], "FILE.aof mode %s: %s %r vs %r" % (f["path"], k, g[k], f[k]))
    K.check(A.dir_snapshot(base) == before, "clean: nothing written")
    K.log("clean: exit 0, %d files listed, FILE.aof mode agrees" % len(doc["files"]))


def torn_case(base, work, label, damage, want_keys):
    shutil.copytree(base, work)
    seg = busiest_segment(work)
    segp = os.path.join(work, seg)
    damage(segp)
    with open(segp, "rb") as f:
        damaged = f.read()
    before = A.dir_snapshot(work)

    doc = check_dir(work, 1, label)
    t = one(doc, "segment", "torn tail")
    K.check(doc["verdict"] == "torn tail" and t["path"] == segp and not t["fixed"],
            "%s: %r" % (label, doc))
    off = t["offset"]
    # A lone segment: the same offset.
    code, out, _ = kc("--json", segp)
    K.check(code == 1 and json.loads(out)["files"][0]["offset"] == off, "%s: FILE.aof mode: %s" %
            (label, out))
    # THE SAME VERDICT: the server, on a copy, cuts at the same offset and
    # says it in the same words.
    srv, log = start_on_copy(work)
    try:
        m = re.search(r"%s: torn tail at offset (\d+)" % re.escape(seg), log)
        K.check(m and int(m.group(1)) == off, "%s: the server's offset %s, kevy-check's %d:\n%s" %
                (label, m and m.group(1), off, log))
        said = t["message"].split(": ", 1)[1]
        K.check(said in log, "%s: the server says what kevy-check says:\n%r\n%s" % (label, said, log))
        check_data(srv, want_keys, label + " (server on a copy)")
    finally:
        srv.cleanup()

    # --fix off a terminal without --yes: refused, nothing changed.
    code, out, err = kc("--fix", work)
    K.check(code == 3 and "--yes" in out + err, "%s: --fix without --yes: %d %s %s" % (label, code, out, err))
    code, out, _ = kc("--json", "--fix", work)
    K.check(code == 3 and json.loads(out)["exit_code"] == 3, "%s: --json --fix without --yes" % label)
    K.check(A.dir_snapshot(work) == before, "%s: nothing written without --fix/--yes" % label)

    # --fix --yes: quarantined, cut, re-verified.
    code, out, err = kc("--json", "--fix", "--yes", work)
    K.check(code == 0, "%s: --fix --yes exit %d:\n%s%s" % (label, code, out, err))
    fdoc = json.loads(out)
    K.check(fdoc["verdict"] == "fixed" and fdoc["fixed"] == 1, "%s: --fix JSON %r" % (label, fdoc))
    ft = [f for f in fdoc["files"] if f["fixed"]]
    K.check(len(ft) == 1 and ft[0]["path"] == segp and ft[0]["offset"] == off, "%s: fixed file" % label)
    q = [n for n in os.listdir(work) if n.startswith(seg + ".torn-%d-" % off)]
    K.check(len(q) == 1, "%s: one quarantine file: %r" % (label, os.listdir(work)))
    with open(os.path.join(work, q[0]), "rb") as f:
        K.check(f.read() == damaged[off:], "%s: the quarantine file holds exactly the cut bytes" % label)
    K.check(os.path.getsize(segp) == off, "%s: truncated to %d" % (label, off))
    doc2 = check_dir(work, 0, label + " after --fix")
    K.check(doc2["verdict"] == "clean", "%s: clean after --fix" % label)
    srv, log = start_on_copy(work)
    try:
        K.check("torn tail" not in log, "%s: nothing left to cut:\n%s" % (label, log))
        check_data(srv, want_keys, label + " after --fix")
    finally:
        srv.cleanup()
    shutil.rmtree(work)
    K.log("%s: exit 1 at offset %d as the server says; --fix --yes quarantined %d bytes, "
          "re-verified clean, %d keys load" % (label, off, len(damaged) - off, want_keys))


def case_torn(base, tmp):
    # Where the records end: the preallocated zeros after them go with a
    # cut, and garbage lands on them.
    def cut(p):
        os.truncate(p, A.records_end(p) - 5)

    def garbage(p):
        with open(p, "r+b") as f:
            f.seek(A.records_end(p))
            f.write(bytes(range(7, 27)))
    # Cutting the last record loses that one write; appended garbage loses none.
    torn_case(base, os.path.join(tmp, "torn-cut"), "torn tail (cut)", cut, NKEYS + 1)
    torn_case(base, os.path.join(tmp, "torn-garbage"), "torn tail (garbage)", garbage, NKEYS + 2)


def pty_run(args, answer):
    """kevy-check on a pseudo-terminal, answering its prompt.  Returns
    (status, everything it printed)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([KC] + args, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:   # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not answered and b"[y/N]" in out:
                os.write(master, answer)
                answered = True
            if p.poll() is not None and not r:
                break
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def case_terminal(base, tmp):
    work = os.path.join(tmp, "tty")
    shutil.copytree(base, work)
    seg = os.path.join(work, busiest_segment(work))
    os.truncate(seg, A.records_end(seg) - 3)
    before = A.dir_snapshot(work)
    code, out = pty_run(["--fix", work], b"n\n")
    K.check(code == 1 and "Quarantine and truncate 1 torn tail(s)? [y/N]" in out,
            "terminal, answer n: exit %s:\n%s" % (code, out))
    K.check(A.dir_snapshot(work) == before, "terminal, answer n: nothing changed")
    code, out = pty_run(["--fix", work], b"y\n")
    K.check(code == 0 and "torn tail, fixed" in out, "terminal, answer y: exit %s:\n%s" % (code, out))
    check_dir(work, 0, "terminal, after y")
    shutil.rmtree(work)
    K.log("on a terminal --fix asks; n changes nothing (exit 1), y fixes (exit 0)")


def case_fix_io_error(base, tmp):
    work = os.path.join(tmp, "fix-eio")
    shutil.copytree(base, work)
    seg = os.path.join(work, busiest_segment(work))
    os.truncate(seg, A.records_end(seg) - 5)
    with open(seg, "rb") as f:
        damaged = f.read()
    # The first fsync of the run is the quarantine copy's.
    code, out, err = kc("--json", "--fix", "--yes", work, env={"KEVY_FAILPOINTS": "fsync:1=eio"})
    doc = json.loads(out)
    K.check(code == 3 and doc["exit_code"] == 3 and doc["error"], "fsync EIO while fixing: %d %s %s" %
            (code, out, err))
    with open(seg, "rb") as f:
        K.check(f.read() == damaged, "the segment is not cut when its quarantine copy failed")
    check_dir(work, 1, "after a failed fix")
    shutil.rmtree(work)
    K.log("an fsync failure while quarantining: exit 3, the segment untouched")


def case_corrupt(base, tmp):
    work = os.path.join(tmp, "corrupt")
    shutil.copytree(base, work)
    seg = busiest_segment(work)
    segp = os.path.join(work, seg)
    offs = A.record_offsets(segp)
    K.check(len(offs) >= 10, "records in %s: %d" % (seg, len(offs)))
    victim = offs[len(offs) // 2]
    with open(segp, "r+b") as f:
        f.seek(victim + 32 + 3)
        b = f.read(1)
        f.seek(victim + 32 + 3)
        f.write(bytes([b[0] ^ 0x20]))
    before = A.dir_snapshot(work)
    doc = check_dir(work, 2, "bit flip")
    c = one(doc, "segment", "corrupt")
    K.check(doc["verdict"] == "corrupt" and c["offset"] == victim and c["path"] == segp,
            "bit flip: offset %r, want %d: %r" % (c["offset"], victim, c))
    code, out, err = kc("--fix", "--yes", work)
    K.check(code == 2 and "refusing to repair" in out, "bit flip: --fix --yes refuses: %d\n%s%s" %
            (code, out, err))
    code, out, _ = kc("--json", "--fix", "--yes", work)
    K.check(code == 2 and json.loads(out)["verdict"] == "corrupt", "bit flip: --json --fix")
    K.check(A.dir_snapshot(work) == before, "bit flip: --fix changed nothing, byte for byte")
    code, out = A.start_refused(work, "--threads", "2")
    K.check(code not in (None, 0) and "offset %d" % victim in out and "kevy-check" in out,
            "bit flip: the server refuses at the same offset: %s\n%s" % (code, out))
    said = c["message"].split(": ", 1)[1]
    K.check(said in out, "bit flip: the server says what kevy-check says:\n%r\n%s" % (said, out))
    K.check(A.dir_snapshot(work) == before, "bit flip: the refusal changed nothing")
    shutil.rmtree(work)
    K.log("bit flip at %d: exit 2 at the server's offset; --fix refuses; the server refuses" % victim)


def case_other_damage(base, other, tmp):
    # A segment of another dataset in place of this one's.
    work = os.path.join(tmp, "foreign")
    shutil.copytree(base, work)
    shutil.copyfile(os.path.join(other, "kevy-s0-g1.aof"), os.path.join(work, "kevy-s0-g1.aof"))
    before = A.dir_snapshot(work)
    doc = check_dir(work, 2, "foreign segment")
    f = one(doc, "segment", "mismatch")
    K.check(doc["verdict"] == "mismatch" and f["path"].endswith("kevy-s0-g1.aof"), "foreign: %r" % doc)
    code, _, _ = kc("--fix", "--yes", work)
    K.check(code == 2 and A.dir_snapshot(work) == before, "foreign: --fix refuses, changes nothing")
    shutil.rmtree(work)

    # A segment the manifest names, deleted.
    work = os.path.join(tmp, "missing-seg")
    shutil.copytree(base, work)
    os.unlink(os.path.join(work, "kevy-s1-g1.aof"))
    doc = check_dir(work, 2, "missing segment")
    f = one(doc, "segment", "corrupt")
    K.check(f["path"].endswith("kevy-s1-g1.aof") and "named by the manifest" in f["message"],
            "missing segment: %r" % f)
    shutil.rmtree(work)

    # No kevy.dataset: not a data directory.
    work = os.path.join(tmp, "no-dataset")
    shutil.copytree(base, work)
    os.unlink(os.path.join(work, "kevy.dataset"))
    before = A.dir_snapshot(work)
    doc = check_dir(work, 3, "no kevy.dataset")
    K.check(one(doc, "dataset")["verdict"] == "I/O error", "no kevy.dataset: %r" % doc)
    code, _, _ = kc("--fix", "--yes", work)
    K.check(code == 3 and A.dir_snapshot(work) == before, "no kevy.dataset: --fix does nothing")
    shutil.rmtree(work)
    K.log("foreign segment: exit 2 (mismatch); missing segment: exit 2; no kevy.dataset: exit 3")


def case_usage(base, tmp):
    code, out, _ = kc("--help")
    K.check(code == 0 and "Exit status" in out and "--fix" in out, "--help: %d %s" % (code, out))
    code, out, _ = kc("--version")
    K.check(code == 0 and out.startswith("kevy-check "), "--version: %r" % out)
    for args in ([], ["--bogus", base], [base, base], ["--yes", base],
                 ["--fix", os.path.join(base, "kevy-s0-g1.aof")]):
        code, out, err = kc(*args)
        K.check(code == 3 and err.strip(), "usage error %r: exit %d, stderr %r" % (args, code, err))
    missing = os.path.join(tmp, "does-not-exist")
    code, out, err = kc("--json", missing)
    doc = json.loads(out)
    K.check(code == 3 and doc["exit_code"] == 3 and doc["files"] == [] and doc["error"],
            "missing directory: %d %s" % (code, out))
    # Names that are not UTF-8 still make valid JSON.
    odd = os.path.join(tmp.encode(), b"odd-\xff\x01-dir")
    os.mkdir(odd)
    p = subprocess.run([KC.encode(), b"--json", odd], capture_output=True, timeout=30)
    doc = json.loads(p.stdout)
    K.check(p.returncode == 3 and "\\u00ff\\u0001" in p.stdout.decode() and
            doc["dir"].endswith("odd-\u00ff\u0001-dir"), "binary-safe JSON: %r" % p.stdout)
    K.log("usage errors exit 3; --help/--version exit 0; non-UTF-8 names escaped")


def case_in_use(base, tmp):
    """While a server runs on a directory, kevy-check (and --fix) refuse with
    exit 3 and touch nothing, and a second server on it refuses to start."""
    work = os.path.join(tmp, "inuse")
    shutil.copytree(base, work)
    srv, _ = start_on_copy(work)
    try:
        before = A.dir_snapshot(srv.dir)
        for extra in ((), ("--fix", "--yes")):
            code, out, err = kc(*extra, srv.dir)
            K.check(code == 3 and "in use by a running" in out + err,
                    "in use %r: exit %d\n%s%s" % (extra, code, out, err))
        K.check(A.dir_snapshot(srv.dir) == before, "in use: nothing changed")
        code, log = A.start_refused(srv.dir, "--threads", "2", timeout=10)
        K.check(code not in (0, None) and "in use" in log,
                "a second server on the directory: %r %r" % (code, log[-300:]))
        srv.stop()
        code, out, err = kc(srv.dir)
        K.check(code == 0, "after the server stopped: exit %d\n%s%s" % (code, out, err))
    finally:
        srv.cleanup()
    K.log("in use: kevy-check and a second server refused while a server runs")


# ------------------------------------------------------------------ streams
# The stream rules of a snapshot (docs/format.md, "Streams") that need the
# stream being built: checked by the loader, which kevy-check runs too.

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def get_varint(data, at):
    n = shift = 0
    while True:
        b = data[at]
        at += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, at


def get_bytes(data, at):
    n, at = get_varint(data, at)
    return data[at:at + n], at + n


def parse_records(raw):
    """A block's raw bytes (docs/format.md, "Snapshot") as records: dicts of
    head (the bytes before the items), type and items (each item's bytes,
    length prefixes included, so editing one and joining them again is the
    block)."""
    recs, at, open_type, left = [], 0, None, 0
    while at < len(raw):
        start = at
        kind = raw[at]
        at += 1
        if kind == 1:
            typ, flags = raw[at], raw[at + 1]
            at += 2
            if flags & 1:
                at += 8
            if flags & 2:
                _, at = get_varint(raw, at)
            left, at = get_varint(raw, at)
            _, at = get_bytes(raw, at)
            open_type = typ
        else:
            K.check(kind == 2, "record kind %d at %d" % (kind, start))
        (count,) = struct.unpack_from("<I", raw, at)
        at += 4
        rec = {"head": raw[start:at], "type": open_type, "items": []}
        if open_type == 0:
            rec["items"].append(raw[at:at + count])
            at += count
        else:
            for _ in range(count):
                i0 = at
                if open_type == 3:
                    at += 8
                _, at = get_bytes(raw, at)
                if open_type == 4:
                    _, at = get_bytes(raw, at)
                rec["items"].append(raw[i0:at])
        left -= count
        recs.append(rec)
    return recs


def join_records(recs):
    return b"".join(r["head"] + b"".join(r["items"]) for r in recs)


def stream_item(body):
    return varint(len(body)) + body


def item_body(item):
    _, at = get_varint(item, 0)
    return item[at:]


def unpack_snapshot(tool, snap, work):
    """[raw bytes of each block] of a snapshot."""
    out = os.path.join(work, "blocks.raw")
    subprocess.run([tool, "unpack", snap, out], check=True, timeout=30)
    data = open(out, "rb").read()
    blocks, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        blocks.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return blocks


def seal_snapshot(tool, snap, blocks, work):
    """Replace snap by the same header and these raw blocks, every checksum
    and the footer's chain valid."""
    raw = os.path.join(work, "blocks.raw")
    with open(raw, "wb") as f:
        for b in blocks:
            f.write(struct.pack("<I", len(b)) + b)
    out = os.path.join(work, "sealed.snap")
    subprocess.run([tool, "seal", snap, raw, out], check=True, timeout=30)
    os.replace(out, snap)


def stream_fill(c):
    """A stream with two groups, consumers and pending entries, including
    states only commands reach (a delivery count of 0 from XCLAIM
    RETRYCOUNT 0, a group's entries-read above entries-added), then SAVE."""
    for i in range(1, 7):
        K.check(c.call("XADD", "st", "%d-1" % i, "f", "v%d" % i) == b"$3\r\n%d-1\r\n" % i, "XADD")
    for g in ("g1", "g2"):
        K.check(c.call("XGROUP", "CREATE", "st", g, "0") == b"+OK\r\n", "XGROUP CREATE")
    for who in ("alice", "bob"):
        c.call("XREADGROUP", "GROUP", "g1", who, "COUNT", "2", "STREAMS", "st", ">")
    c.call("XREADGROUP", "GROUP", "g2", "carol", "COUNT", "3", "STREAMS", "st", ">")
    K.check(c.cmd("XACK", "st", "g2", "2-1") == 1, "XACK")
    c.call("XCLAIM", "st", "g1", "bob", "0", "1-1", "RETRYCOUNT", "0")
    K.check(c.call("XGROUP", "SETID", "st", "g2", "$", "ENTRIESREAD", "1000") == b"+OK\r\n",
            "XGROUP SETID ENTRIESREAD")
    K.check(c.call("SET", "plain", "value") == b"+OK\r\n", "SET")
    K.check(c.call("SAVE") == b"+OK\r\n", "SAVE")


def stream_state(c):
    """What the stream holds, less the idle times (they move)."""
    pend = [(p[0], p[1], p[3]) for p in c.cmd("XPENDING", "st", "g1", "-", "+", "10")]
    return (c.call("XINFO", "STREAM", "st"), pend, c.call("XPENDING", "st", "g2"),
            c.call("XINFO", "GROUPS", "st"))


def stream_record(blocks):
    """(block index, record index, records) of the stream's only record."""
    for bi, raw in enumerate(blocks):
        recs = parse_records(raw)
        for ri, r in enumerate(recs):
            if r["type"] == 5:
                K.check(r["head"][0] == 1 and len(r["items"]) == 1 + 6 + 2 + 3 + 6,
                        "the stream is one record of 18 items: %r" % r)
                return bi, ri, recs
    K.fail("no stream in the snapshot")


def edit_entries_swapped(items):
    items[2], items[3] = items[3], items[2]       # E 3-1 before E 2-1
    return 3, "stream entry IDs not in increasing order"


def edit_pending_before_consumer(items):
    # G g1, C alice, P, P, C bob, ...: alice's first pending entry before her.
    K.check(item_body(items[7])[:1] == b"G" and item_body(items[8])[:1] == b"C" and
            item_body(items[9])[:1] == b"P", "g1, alice, her pending entry: %r" % items[7:10])
    items[8], items[9] = items[9], items[8]
    return 8, "pending entry before any consumer of its group"


def edit_last_id_below(items):
    body = item_body(items[0])
    K.check(body[:1] == b"S", "the stream item first")
    at = 1
    vals = []
    for _ in range(5):
        v, at = get_varint(body, at)
        vals.append(v)
    vals[0], vals[1] = 4, 1                       # last ID 4-1, entries go to 6-1
    items[0] = stream_item(b"S" + b"".join(varint(v) for v in vals))
    return 5, "stream entry ID above the stream's last ID"


def edit_added_below_length(items):
    body = item_body(items[0])
    at = 1
    vals = []
    for _ in range(5):
        v, at = get_varint(body, at)
        vals.append(v)
    vals[4] = 5                                   # six entries
    items[0] = stream_item(b"S" + b"".join(varint(v) for v in vals))
    return None, "stream's entries-added below its entry count"


def case_stream_rules(tmp):
    tool = os.environ.get("KEVY_SNAP_RAW") or os.path.join(os.path.dirname(KC), "snap_raw")
    if not os.access(tool, os.X_OK):
        K.fail("snap_raw not found at %s (build it, or set KEVY_SNAP_RAW)" % tool)
    base_srv = A.stopped_dataset(1, "streams", stream_fill)
    try:
        base = base_srv.dir
        snaps = [n for n in os.listdir(base) if n.endswith(".snap")]
        K.check(len(snaps) == 1, "one snapshot: %r" % os.listdir(base))
        sname = snaps[0]
        srv = K.kevy("--threads", "1", name="streams-orig")
        try:
            shutil.rmtree(srv.dir)
            shutil.copytree(base, srv.dir)
            srv.start()
            with srv.conn() as c:
                want_state = stream_state(c)
            srv.check_clean_exit()
        finally:
            srv.cleanup()

        # The control: the records sealed again unedited are clean and load
        # as they were (the edits below are all that is wrong).
        work = os.path.join(tmp, "streams-control")
        shutil.copytree(base, work)
        snap = os.path.join(work, sname)
        blocks = unpack_snapshot(tool, snap, tmp)
        seal_snapshot(tool, snap, blocks, tmp)
        check_dir(work, 0, "stream control")
        code, out, _ = kc(snap)
        K.check(code == 0, "stream control, lone snapshot: exit %d %s" % (code, out))
        srv, log = start_on_copy(work)
        try:
            with srv.conn() as c:
                K.check(stream_state(c) == want_state, "stream control: the same stream after "
                        "the re-seal:\n%r\n%r" % (stream_state(c), want_state))
            srv.check_clean_exit()
        finally:
            srv.cleanup()
        shutil.rmtree(work)

        edits = [("entries out of ID order", edit_entries_swapped),
                 ("pending entry before its consumer", edit_pending_before_consumer),
                 ("last ID below the last entry", edit_last_id_below),
                 ("entries-added below the length", edit_added_below_length)]
        for label, edit in edits:
            work = os.path.join(tmp, "streams-edit")
            shutil.copytree(base, work)
            snap = os.path.join(work, sname)
            bi, ri, recs = stream_record(blocks)
            item, reason = edit(recs[ri]["items"])
            edited = list(blocks)
            edited[bi] = join_records(recs)
            K.check(len(edited[bi]) != len(blocks[bi]) or edited[bi] != blocks[bi], "%s: edited" % label)
            # Where the loader sees it: the item's first byte (its length),
            # or for a counter of the whole stream the record's first byte.
            raw_off = len(join_records(recs[:ri]))
            if item is not None:
                raw_off += len(recs[ri]["head"]) + len(b"".join(recs[ri]["items"][:item]))
            seal_snapshot(tool, snap, edited, tmp)
            K.check(bi == 0, "%s: the stream is in block 0" % label)
            block_off = 72                    # block 0 follows the 72-byte header
            before = A.dir_snapshot(work)

            doc = check_dir(work, 2, "stream: " + label)
            f = one(doc, "snapshot", "corrupt")
            where = "corrupt block 0 at offset %d (%s, at byte %d of its decompressed data)" % (
                block_off, reason, raw_off)
            K.check(doc["verdict"] == "corrupt" and f["path"] == snap and f["offset"] == block_off
                    and where in f["message"],
                    "stream: %s: kevy-check says %r, want %r at offset %d" %
                    (label, f["message"], where, block_off))
            code, out, _ = kc("--json", snap)
            lone = json.loads(out)["files"][0]
            K.check(code == 2 and lone["offset"] == block_off and lone["message"] == f["message"],
                    "stream: %s: the lone snapshot: exit %d %r" % (label, code, lone))
            # kevy-dump reads a snapshot through the same loader: the same line.
            p = subprocess.run([os.path.join(os.path.dirname(KC), "kevy-dump"), snap],
                               capture_output=True, timeout=30)
            derr = p.stderr.decode("utf-8", "replace")
            K.check(p.returncode == 2 and f["message"] in derr,
                    "stream: %s: kevy-dump exit %d: %r" % (label, p.returncode, derr))
            code, log = A.start_refused(work, "--threads", "1", timeout=10)
            said = f["message"].split(": ", 1)[1]
            K.check(code not in (None, 0) and said in log and "kevy-check" in log and
                    not any(a in log for a in ALARMS),
                    "stream: %s: the server refuses (status %r) with kevy-check's line %r:\n%s" %
                    (label, code, said, log[-1500:]))
            K.check(A.dir_snapshot(work) == before, "stream: %s: nothing written" % label)
            K.log("stream: %s: %s" % (label, said.split("; ")[0]))
            shutil.rmtree(work)
        K.log("stream rules behind valid checksums (%s): kevy-check exit 2 at the block's "
              "offset and the item's byte, the server refuses with the same line; unedited: "
              "clean and loads" % ", ".join(e[0] for e in edits))
    finally:
        base_srv.keep_dir = False
        base_srv.cleanup()


def main():
    global KC
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files")
    KC = kevy_check_binary()
    t0 = time.monotonic()
    base_srv = make_dataset("base", NKEYS)
    other_srv = make_dataset("other", 5)
    tmp = tempfile.mkdtemp(prefix="kevy-it-check-")
    try:
        base = base_srv.dir
        case_usage(base, tmp)
        case_clean(base)
        case_torn(base, tmp)
        case_terminal(base, tmp)
        case_fix_io_error(base, tmp)
        case_corrupt(base, tmp)
        case_other_damage(base, other_srv.dir, tmp)
        case_in_use(base, tmp)
        case_stream_rules(tmp)
        K.check(check_dir(base, 0, "the original, at the end")["verdict"] == "clean",
                "the original is still clean")
    finally:
        for s in (base_srv, other_srv):
            s.keep_dir = False
            s.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    K.log("kevy-check: all cases in %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    K.run_main(main)
