#!/usr/bin/env python3
"""Every fixture (fixtures/vN/) gives the verdict fixtures/README.md lists,
in kevy-check and in the server: kevy-check's exit code, verdict, file,
offset and reason as expected.json says, and a server started on a copy of
the fixture starts clean (exit 0), cuts the torn tail (1), or refuses to
start naming the same file (2).  The fixtures themselves are never written."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aoflib as A  # noqa: E402
import kevylib as K  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def keyspace_sizes(c):
    """{db number as a string: keys} from INFO keyspace."""
    return {db[2:]: int(v.split(",")[0].split("=")[1])
            for db, v in A.info(c, "keyspace").items()}


def check_databases(label, d, want):
    """A server on a copy of a clean fixture holds its keys in the databases
    the fixture was written with: every key of a version 1 or 2 file in
    database 0, a version 3 file's in the databases expected.json names,
    with the same DEBUG DIGEST.  Started with fewer databases than the files
    name, it refuses, saying how to load them."""
    with open(os.path.join(d, "kevy.dataset"), "rb") as f:
        shards = int.from_bytes(f.read(16)[12:16], "little")
    srv = K.Server("kevy", args=["--threads", str(shards)], name="fixture-dbs")
    try:
        shutil.rmtree(srv.dir)
        shutil.copytree(d, srv.dir)
        srv.start()
        with srv.conn() as c:
            sizes = keyspace_sizes(c)
            if "dbsize" in want:
                K.check(sizes == want["dbsize"], "%s: keys per database %r, want %r" %
                        (label, sizes, want["dbsize"]))
                digest = c.cmd("DEBUG", "DIGEST")
                digest = digest.decode() if isinstance(digest, bytes) else digest
                K.check(digest == want["digest"], "%s: DEBUG DIGEST %s, want %s" %
                        (label, digest, want["digest"]))
            else:
                K.check(list(sizes) == ["0"] and sizes["0"] > 0,
                        "%s: an older version loads into database 0 only: %r" % (label, sizes))
    finally:
        srv._kill_quietly() if srv.alive() else None
        srv.cleanup()
    top = max(int(db) for db in want.get("dbsize", {"0": 0}))
    if top == 0:
        return
    tmp = tempfile.mkdtemp(prefix="kevy-it-fixture-")
    try:
        work = os.path.join(tmp, "data")
        shutil.copytree(d, work)
        code, log = A.start_refused(work, "--threads", str(shards), "--databases", str(top),
                                    timeout=5)
        K.check(code not in (0, None) and "raise `databases`" in log,
                "%s: with --databases %d the server refuses: %r" % (label, top, log[-300:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files")
    kc = os.environ.get("KEVY_CHECK") or os.path.join(os.path.dirname(K.kevy_binary()),
                                                      "kevy-check")
    versions = sorted(d for d in os.listdir(os.path.join(ROOT, "fixtures"))
                      if d.startswith("v") and os.path.isdir(os.path.join(ROOT, "fixtures", d)))
    K.check(versions, "fixtures exist")
    n = 0
    for v in versions:
        vdir = os.path.join(ROOT, "fixtures", v)
        expected = json.load(open(os.path.join(vdir, "expected.json")))
        K.check(sorted(expected) == sorted(d for d in os.listdir(vdir)
                                           if os.path.isdir(os.path.join(vdir, d))),
                "%s: expected.json lists every fixture" % v)
        for name, want in sorted(expected.items()):
            label = "%s/%s" % (v, name)
            d = os.path.join(vdir, name)
            before = A.dir_snapshot(d)
            p = subprocess.run([kc, "--json", d], capture_output=True, timeout=60)
            doc = json.loads(p.stdout)
            K.check(p.returncode == want["exit"], "%s: kevy-check exit %d, want %d: %s" %
                    (label, p.returncode, want["exit"], p.stdout[-300:]))
            K.check(doc["verdict"] == want["verdict"], "%s: verdict %r" % (label, doc["verdict"]))
            bad = [f for f in doc["files"] if f["verdict"] != "clean"]
            if "file" in want:
                K.check(len(bad) == 1 and os.path.basename(bad[0]["path"]) == want["file"],
                        "%s: the faulty file: %r" % (label, bad))
                K.check(bad[0]["verdict"] == want["file_verdict"], "%s: file verdict" % label)
                K.check(bad[0]["offset"] == want["offset"], "%s: offset %r, want %r" %
                        (label, bad[0]["offset"], want["offset"]))
                K.check(want["reason"] in bad[0]["message"], "%s: reason %r not in %r" %
                        (label, want["reason"], bad[0]["message"]))
            elif "turnon" in want:
                # A decided turn-on not committed on every shard: one line
                # per shard concerned, nothing else at fault.
                K.check(len(bad) == want["turnon"] and
                        all(f["kind"] == "turn-on record" for f in bad),
                        "%s: the pending turn-on, and only it: %r" % (label, bad))
            elif "reshard" in want:
                # A decided re-shard not completed: its record alone, since
                # kevy-check reads no half-moved shard file.
                K.check(len(bad) == want["reshard"] and
                        all(f["kind"] == "re-shard record" for f in bad),
                        "%s: the pending re-shard, and only it: %r" % (label, bad))
            else:
                K.check(not bad, "%s: every file clean" % label)
            K.check(A.dir_snapshot(d) == before, "%s: kevy-check changed nothing" % label)
            # A lone snapshot file gets the same verdict and offset.
            if name == "clean" or name.startswith("snapshot-"):
                snap = os.path.join(d, want.get("file", "kevy-s0-g2.snap"))
                p = subprocess.run([kc, "--json", snap], capture_output=True, timeout=60)
                one = json.loads(p.stdout)["files"][0]
                K.check(p.returncode == want["exit"] and one["kind"] == "snapshot" and
                        one["offset"] == want.get("offset"),
                        "%s: the lone snapshot: exit %d, %r" % (label, p.returncode, one))

            # The server on a copy reaches the same verdict.
            tmp = tempfile.mkdtemp(prefix="kevy-it-fixture-")
            try:
                work = os.path.join(tmp, "data")
                shutil.copytree(d, work)
                # As kevy-check does, take the shard count the dataset file says.
                with open(os.path.join(work, "kevy.dataset"), "rb") as f:
                    shards = int.from_bytes(f.read(16)[12:16], "little")
                code, log = A.start_refused(work, "--threads", str(shards), timeout=5)
                if want["exit"] == 2:
                    K.check(code not in (0, None) and want["file"] in log and "kevy-check" in log,
                            "%s: the server refuses naming %s: %r" % (label, want["file"],
                                                                      log[-300:]))
                else:
                    K.check(code is None, "%s: the server starts (status %r): %s" %
                            (label, code, log[-300:]))
                    if want["exit"] == 1 and "turnon" in want:
                        K.check(log.count("committed it now") == want["turnon"],
                                "%s: the server commits the decided manifest(s): %s" %
                                (label, log[-600:]))
                    elif want["exit"] == 1 and "reshard" in want:
                        K.check("re-sharded the dataset from" in log,
                                "%s: the server completes the re-shard: %s" %
                                (label, log[-600:]))
                    elif want["exit"] == 1 and "units" in want:
                        K.check(log.count("dropped (incomplete)") == want["units"],
                                "%s: the server drops the incomplete unit(s): %s" %
                                (label, log[-600:]))
                    elif want["exit"] == 1:
                        K.check("torn tail at offset %d" % want["offset"] in log,
                                "%s: the server cuts the same tail: %s" % (label, log[-300:]))
                    else:
                        K.check("torn tail" not in log, "%s: a clean start: %s" %
                                (label, log[-300:]))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if name == "clean" or "digest" in want:
                check_databases(label, d, want)
            n += 1
    K.log("fixtures: %d directories, kevy-check and the server agree on each" % n)


if __name__ == "__main__":
    K.run_main(main)
