#!/usr/bin/python3
"""kevy-dump, the offline dumper, on real data directories.

Every case starts from directories a real kevy-server wrote:

- a 2-shard dataset of every type, TTLs, binary keys and values (\\r\\n, NUL,
  bytes that are not UTF-8): `--resp | redis-cli --pipe` into a real
  redis-server recreates it key by key (TYPE, value, PTTL within a
  tolerance); `--json` decodes to the same model; the filters (--key,
  --type, --shard) and --stats agree with it; the text lines parse.
- --replay OUT --shards 3: kevy-check OUT exits 0, a 3-thread server on OUT
  has the original DEBUG DIGEST (shard-count independent); each snapshot
  dumped alone (FILE.snap) lists exactly that shard's keys.
- a 1-shard dataset of SET k1..k20 (LSN 1..20) then overwrites: the
  segment dump lists the records with increasing LSNs and their commands,
  --from-lsn/--until-lsn select them; --replay --until-lsn 10 gives a
  server with exactly k1..k10 as they were then; --until-time agrees with
  the records' times.
- damage: a bit flip in a middle record is exit 2 with the reader's line
  (directory and FILE.aof), a damaged snapshot exit 2, a torn tail is
  loaded as recovery loads it (exit 0); usage errors and a directory that
  is not a dataset are exit 3; --replay refuses an OUT_DIR holding one.

kevy-dump and kevy-check are found next to KEVY_SERVER (CTest builds them
there), or at KEVY_DUMP / KEVY_CHECK when set.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

ALARMS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
TTL_SLACK_MS = 60000


def tool_binary(name, env):
    p = os.environ.get(env) or os.path.join(
        os.path.dirname(os.path.abspath(K.kevy_binary())), name)
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        K.fail("%s not found at %s (build it, or set %s)" % (name, p, env))
    return p


KD = KC = None


def run(binary, *args, stdin=None, timeout=30):
    p = subprocess.run([binary] + list(args), input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    K.check(not any(a in err for a in ALARMS), "%s %r: sanitizer report:\n%s" % (binary, args, err))
    return p.returncode, p.stdout, err


def kd(*args, want=0):
    code, out, err = run(KD, *args)
    K.check(code == want, "kevy-dump %r: exit %d, want %d\n%s%s" % (
        args, code, want, out[:2000].decode("utf-8", "replace"), err))
    return out, err


def kd_json(*args):
    out, _ = kd("--json", *args)
    return [json.loads(ln) for ln in out.decode("utf-8").splitlines()]


# ------------------------------------------------------------------ the model

def sval(s, binary):
    """A JSON string of kevy-dump back to bytes (docs/tools.md)."""
    return s.encode("latin-1") if binary else s.encode("utf-8")


def score_of(v):
    return float(v)   # a number, or "inf" / "-inf"


def decode_key(o):
    """A kevy-dump --json key line as (key, type, value, expire_at_ms) in the
    model's shapes."""
    b = o["binary"]
    t = o["type"]
    v = o["value"]
    if t == "string":
        val = sval(v, b)
    elif t == "list":
        val = [sval(x, b) for x in v]
    elif t == "set":
        val = sorted(sval(x, b) for x in v)
    elif t == "hash":
        val = {sval(f, b): sval(x, b) for f, x in v.items()}
    else:
        val = [(sval(m, b), score_of(s)) for m, s in v]
    return sval(o["key"], b), t, val, o["expire_at_ms"]


def read_key(c, key):
    """(type, value) of key read through commands (kevy or redis)."""
    t = c.cmd("TYPE", key)
    if t == "string":
        return t, c.cmd("GET", key)
    if t == "list":
        return t, c.cmd("LRANGE", key, 0, -1)
    if t == "set":
        return t, sorted(c.cmd("SMEMBERS", key))
    if t == "hash":
        r = c.cmd("HGETALL", key)
        return t, dict(zip(r[0::2], r[1::2]))
    if t == "zset":
        r = c.cmd("ZRANGE", key, 0, -1, "WITHSCORES")
        return t, [(m, float(s)) for m, s in zip(r[0::2], r[1::2])]
    return t, None


def model_of(srv):
    """{key: (type, value, pttl)} of every key of a server (SCAN)."""
    out = {}
    with srv.conn() as c:
        cursor = b"0"
        while True:
            cursor, keys = c.cmd("SCAN", cursor, "COUNT", 1000)
            for k in keys:
                t, v = read_key(c, k)
                out[k] = (t, v, c.cmd("PTTL", k))
            if cursor == b"0":
                break
    return out


def write_dataset(c):
    """Every type, TTLs, binary-safe names and values."""
    cmds = [
        ("SET", "plain", "hello"),
        ("SET", b"bin\r\nkey\x00\xff", b"val\x00\r\n\xfe\x80"),
        ("SET", "ttl:str", "soon", "PX", "3600000"),
        ("SET", "utf8:\u00e9", "caf\u00e9 \u2603"),
        ("RPUSH", "list", "a", b"b\r\n", b"\x00", "a"),
        ("RPUSH", b"list\xff", *[str(i) for i in range(300)]),
        ("SADD", "set:int", "1", "2", "300", "-7"),
        ("SADD", "set:str", "x", b"y\x00", b"\xc3\x28", "long" * 30),
        ("HSET", "hash", "f1", "v1", b"f\r\n2", b"v\x002"),
        ("HSET", "hash:big", *sum([["field%d" % i, "value%d" % i] for i in range(600)], [])),
        ("ZADD", "zset", "1.5", "m1", "-inf", "low", "inf", "high", "0", b"z\x00",
         "3.0000000000000004", "odd"),
        ("ZADD", "zset:big", *sum([[str(i * 0.25), "m%d" % i] for i in range(200)], [])),
        ("EXPIRE", "hash", "100000"),
        ("PEXPIRE", "zset", "7200000"),
        ("EXPIRE", b"list\xff", "50000"),
        ("SET", "{tag}a", "1"),
        ("SET", "{tag}b", "2"),
    ]
    for i in range(40):
        cmds.append(("SET", "key:%d" % i, "value:%d" % i))
    for cmd in cmds:
        r = c.call(*cmd)
        K.check(not r.startswith(b"-"), "%r replied %r" % (cmd[:2], r))


def check_model(label, want, got, pttl_after=None):
    """Compare two {key: (type, value, pttl)} models: same keys, types and
    values exactly; PTTLs within TTL_SLACK_MS (-1 exactly)."""
    K.check(set(want) == set(got), "%s: keys differ: only in want %r, only in got %r" % (
        label, sorted(set(want) - set(got))[:10], sorted(set(got) - set(want))[:10]))
    for k, (t, v, pttl) in want.items():
        gt, gv, gp = got[k]
        K.check(gt == t, "%s: %r type %r, want %r" % (label, k, gt, t))
        K.check(gv == v, "%s: %r value differs:\n got  %r\n want %r" % (label, k, gv, v))
        if pttl == -1:
            K.check(gp == -1, "%s: %r PTTL %r, want -1" % (label, k, gp))
        else:
            K.check(gp > 0 and abs(gp - pttl) <= TTL_SLACK_MS,
                    "%s: %r PTTL %r, want about %r" % (label, k, gp, pttl))


def json_model(lines, now_ms):
    out = {}
    for o in lines:
        k, t, v, exp = decode_key(o)
        K.check(k not in out, "a key listed twice: %r" % k)
        out[k] = (t, v, -1 if exp is None else exp - now_ms)
    return out


# ------------------------------------------------------------------ cases

def case_dump_and_pipe(base, model):
    now = int(time.time() * 1000)
    lines = kd_json(base)
    check_model("--json", model, json_model(lines, now))
    K.check({o["shard"] for o in lines} == {0, 1}, "both shards listed")
    K.check(any(o["binary"] for o in lines) and not all(o["binary"] for o in lines),
            "binary is per key")

    # Filters.
    got = {decode_key(o)[0] for o in kd_json("--type", "hash", base)}
    K.check(got == {k for k, m in model.items() if m[0] == "hash"}, "--type hash: %r" % got)
    got = {decode_key(o)[0] for o in kd_json("--key", "key:1*", base)}
    K.check(got == {b"key:1"} | {b"key:1%d" % i for i in range(10)}, "--key: %r" % got)
    s0 = {decode_key(o)[0] for o in kd_json("--shard", "0", base)}
    s1 = {decode_key(o)[0] for o in kd_json("--shard", "1", base)}
    K.check(s0 and s1 and not s0 & s1 and s0 | s1 == set(model), "--shard splits the keys")
    K.check(({b"{tag}a", b"{tag}b"} <= s0) or ({b"{tag}a", b"{tag}b"} <= s1), "hash tags")

    # Text: one line per key, the same keys and types.
    out, _ = kd(base)
    text = out.decode("latin-1").splitlines()
    K.check(len(text) == len(model), "text: one line per key (%d vs %d)" % (len(text), len(model)))
    for ln in text:
        K.check(ln.startswith("shard ") and " key \"" in ln and " type " in ln and " ttl " in ln,
                "text line: %r" % ln)
    K.check(any('"bin\\r\\nkey\\x00\\xff"' in ln for ln in text), "text escapes: %r" % text[:3])

    # --stats agrees.
    st = json.loads(kd("--stats", "--json", base)[0])
    K.check(st["keys"] == len(model), "stats keys %r" % st["keys"])
    for t in ("string", "list", "set", "zset", "hash"):
        K.check(st["types"][t]["keys"] == sum(1 for m in model.values() if m[0] == t),
                "stats %s: %r" % (t, st["types"][t]))
    K.check(st["ttl"]["none"] == sum(1 for m in model.values() if m[2] == -1), "stats ttl none")
    K.check(len(st["largest"]) == 10 and st["largest"][0]["key"] == "hash:big" and
            [b["bytes"] for b in st["largest"]] == sorted((b["bytes"] for b in st["largest"]),
                                                          reverse=True),
            "stats largest: %r" % st["largest"][:2])
    out, _ = kd("--stats", base)
    K.check(out.startswith(b"keys %d " % len(model)), "stats text: %r" % out[:80])

    # --resp into a real redis-server.
    cli = shutil.which("redis-cli")
    if not (K.redis_binary() and cli):
        K.log("SKIP the redis-cli --pipe part: redis-server or redis-cli not installed")
        return
    resp, _ = kd("--resp", base)
    with K.redis() as r:
        code, out, err = run(cli, "-p", str(r.port), "--pipe", stdin=resp)
        K.check(code == 0 and b"errors: 0" in out, "redis-cli --pipe: %r %r" % (out, err))
        check_model("redis after --pipe", model, model_of(r))
    K.log("dump: %d keys, --json/--text/--stats/filters agree; --resp | redis-cli --pipe "
          "recreates them in redis" % len(model))


def case_replay_reshard(base, digest, model):
    work = tempfile.mkdtemp(prefix="kevy-it-dump-")
    try:
        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        out, _ = kd("--replay", out_dir, "--shards", "3", base)
        K.check(b"3 shard(s), %d key(s)" % len(model) in out, "replay summary: %r" % out)
        out, err = kd("--replay", os.path.join(work, "missing"), base, want=3)
        K.check(out == b"" and "missing" in err, "replay into a missing directory: %r" % err)
        _, err = kd("--replay", out_dir, base, want=3)
        K.check("already holds a dataset" in err, "replay refuses a dataset: %r" % err)
        code, kout, kerr = run(KC, out_dir)
        K.check(code == 0, "kevy-check OUT: %d\n%s%s" % (code, kout.decode(), kerr))

        # Each snapshot alone: that shard's keys, all of them once.
        seen = {}
        for i in range(3):
            lines = kd_json(os.path.join(out_dir, "kevy-s%d-g1.snap" % i))
            K.check(all(o["shard"] == i for o in lines), "snapshot %d: shard field" % i)
            dir_keys = [decode_key(o) for o in kd_json("--shard", str(i), out_dir)]
            K.check(sorted(map(repr, (decode_key(o) for o in lines))) ==
                    sorted(map(repr, dir_keys)), "snapshot %d dump == directory's shard %d" % (i, i))
            for o in lines:
                seen[decode_key(o)[0]] = i
        K.check(set(seen) == set(model), "the snapshots hold every key once")
        K.check(len(kd("--resp", os.path.join(out_dir, "kevy-s0-g1.snap"))[0]) > 0, "snap --resp")

        srv = K.kevy("--threads", "3", name="replayed")
        shutil.rmtree(srv.dir)
        shutil.copytree(out_dir, srv.dir)
        srv.start()
        try:
            with srv.conn() as c:
                got = c.cmd("DEBUG", "DIGEST")
                K.check(got == digest, "DEBUG DIGEST after re-sharding: %r, want %r" % (got, digest))
                K.check(c.cmd("DBSIZE") == len(model), "DBSIZE")
            check_model("replayed server", model, model_of(srv))
            srv.check_clean_exit()
        finally:
            srv.cleanup()
        K.log("replay: 2 -> 3 shards, kevy-check clean, same DEBUG DIGEST; each snapshot "
              "dumps its shard's keys")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_history():
    """1 shard: SET k1..k20 (LSN 1..20), then SET k3 new, DEL k5, SET k21."""
    def fill(c):
        for i in range(1, 21):
            K.check(c.call("SET", "k%d" % i, "v%d" % i) == b"+OK\r\n", "SET")
        time.sleep(0.01)
        K.check(c.call("SET", "k3", "new") == b"+OK\r\n", "SET k3")
        K.check(c.call("DEL", "k5") == b":1\r\n", "DEL k5")
        K.check(c.call("SET", "k21", "v21") == b"+OK\r\n", "SET k21")
    return A.stopped_dataset(1, "history", fill)


def case_segment(hist):
    seg = os.path.join(hist, "kevy-s0-g1.aof")
    recs = kd_json(seg)
    K.check([r["lsn"] for r in recs] == list(range(1, 24)), "LSNs 1..23: %r" %
            [r["lsn"] for r in recs])
    for i in range(1, 21):
        K.check(recs[i - 1]["commands"] == [["SET", "k%d" % i, "v%d" % i]],
                "record %d: %r" % (i, recs[i - 1]))
    K.check(recs[20]["commands"] == [["SET", "k3", "new"]] and recs[21]["commands"] == [["DEL", "k5"]],
            "later records: %r" % recs[20:22])
    offs = [r["offset"] for r in recs]
    K.check(offs == sorted(offs) and offs[0] == 72, "offsets increase from the header's end")
    times = [r["time_ms"] for r in recs]
    K.check(times == sorted(times), "times never go back")
    K.check([r["lsn"] for r in kd_json("--from-lsn", "5", "--until-lsn", "7", seg)] == [5, 6, 7],
            "--from-lsn/--until-lsn")
    K.check([r["lsn"] for r in kd_json("--key", "k3", seg)] == [3, 21], "--key on a segment")
    out, _ = kd(seg)
    lines = out.decode().splitlines()
    K.check(lines[0].startswith("lsn 1 time ") and lines[1] == '  "SET" "k1" "v1"',
            "segment text: %r" % lines[:2])
    out, _ = kd("--resp", "--until-lsn", "1", seg)
    K.check(out == K.encode("SET", "k1", "v1"), "segment --resp: %r" % out)
    K.log("segment: 23 records, increasing LSNs, their commands; LSN and key filters")
    return recs


def case_until(hist, recs):
    # The state as of LSN 10: k1..k10, each as first written.
    got = {decode_key(o)[0]: decode_key(o)[2] for o in kd_json("--until-lsn", "10", hist)}
    K.check(got == {b"k%d" % i: b"v%d" % i for i in range(1, 11)}, "--until-lsn 10: %r" % got)
    work = tempfile.mkdtemp(prefix="kevy-it-dump-")
    try:
        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        doc = json.loads(kd("--replay", out_dir, "--until-lsn", "10", "--json", hist)[0])
        K.check(doc["keys"] == 10 and doc["shards"] == 1 and doc["per_shard"][0]["keys"] == 10 and
                doc["bytes"] == os.path.getsize(os.path.join(out_dir, "kevy-s0-g1.snap")),
                "replay --json summary: %r" % doc)
        srv = K.kevy("--threads", "1", name="until")
        shutil.rmtree(srv.dir)
        shutil.copytree(out_dir, srv.dir)
        srv.start()
        try:
            m = model_of(srv)
            K.check(m == {b"k%d" % i: ("string", b"v%d" % i, -1) for i in range(1, 11)},
                    "server replayed until LSN 10: %r" % sorted(m))
            srv.check_clean_exit()
        finally:
            srv.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Everything: k3 overwritten, k5 gone, k21 there.
    got = {decode_key(o)[0]: decode_key(o)[2] for o in kd_json(hist)}
    want = {b"k%d" % i: b"v%d" % i for i in range(1, 22) if i != 5}
    want[b"k3"] = b"new"
    K.check(got == want, "current state: %r" % got)
    # --until-time: the records whose time is <= T, whatever their LSN.
    t = recs[19]["time_ms"]
    applied = [r for r in recs if r["time_ms"] <= t]
    want = {}
    for r in applied:
        for cmd in r["commands"]:
            if cmd[0] == "SET":
                want[cmd[1].encode()] = cmd[2].encode()
            elif cmd[0] == "DEL":
                want.pop(cmd[1].encode(), None)
    got = {decode_key(o)[0]: decode_key(o)[2] for o in kd_json("--until-time", str(t), hist)}
    K.check(got == want, "--until-time %d: %r, want %r" % (t, sorted(got), sorted(want)))
    K.log("until: --until-lsn 10 (dump and a replayed server) holds k1..k10 as then; "
          "--until-time agrees with the record times")


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


def case_damage(hist, recs):
    work = tempfile.mkdtemp(prefix="kevy-it-dump-")
    try:
        # A bit flip in a middle record's payload: refused, with the reader's line.
        bad = os.path.join(work, "bad")
        shutil.copytree(hist, bad)
        seg = os.path.join(bad, "kevy-s0-g1.aof")
        flip(seg, recs[5]["offset"] + 32 + 10)
        _, err = kd(bad, want=2)
        K.check("kevy-s0-g1.aof" in err and "offset %d" % recs[5]["offset"] in err,
                "directory: the file and offset: %r" % err)
        out, err = kd("--json", seg, want=2)
        K.check("offset %d" % recs[5]["offset"] in err and len(out.splitlines()) == 5,
                "segment: the 5 records before it, then the line: %r %r" % (out[-200:], err))
        # A torn tail: loaded as recovery loads it (the whole records).
        torn = os.path.join(work, "torn")
        shutil.copytree(hist, torn)
        with open(os.path.join(torn, "kevy-s0-g1.aof"), "ab") as f:
            f.write(b"\x01" * 20)
        K.check(len(kd_json(torn)) == 20, "torn tail: every whole record applied")
        _, err = kd(os.path.join(torn, "kevy-s0-g1.aof"))
        K.check("torn tail" in err, "segment with a torn tail: a warning: %r" % err)
        # A damaged snapshot.
        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        kd("--replay", out_dir, hist)
        snap = os.path.join(out_dir, "kevy-s0-g1.snap")
        flip(snap, os.path.getsize(snap) // 2)
        _, err = kd(snap, want=2)
        K.check("kevy-s0-g1.snap" in err, "snapshot damage: %r" % err)
        _, err = kd(out_dir, want=2)
        K.check("kevy-s0-g1.snap" in err, "directory with a damaged snapshot: %r" % err)
        # Not a dataset, not a kevy file.
        empty = os.path.join(work, "empty")
        os.mkdir(empty)
        _, err = kd(empty, want=3)
        K.check("kevy.dataset" in err, "empty directory: %r" % err)
        junk = os.path.join(work, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"hello world" * 10)
        kd(junk, want=3)
        kd(os.path.join(work, "missing"), want=3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seg = os.path.join(hist, "kevy-s0-g1.aof")
    for args in [(), ("--json", "--resp", hist), ("--bogus", hist), ("--type", "nope", hist),
                 ("--until-lsn", "x", hist), ("--until-lsn", "0", hist), (hist, hist),
                 ("--from-lsn", "3", hist), ("--type", "string", seg), ("--shards", "2", hist),
                 ("--replay", "/tmp", "--key", "a", hist), ("--stats", "--resp", hist),
                 ("--replay",)]:
        _, err = kd(*args, want=3)
        K.check(err.startswith("kevy-dump: "), "usage error %r: %r" % (args, err))
    out, _ = kd("--help")
    K.check(b"Usage: kevy-dump" in out and b"Exit status" in out, "--help")
    # --help and the usage error name every type --type takes.
    types = [b"string", b"list", b"set", b"zset", b"hash", b"stream"]
    line = [ln for ln in out.splitlines() if ln.lstrip().startswith(b"--type")]
    K.check(len(line) == 1 and all(t in line[0] for t in types), "--help --type: %r" % line)
    _, err = kd("--type", "nope", hist, want=3)
    K.check(all(t.decode() in err for t in types), "--type usage error: %r" % err)
    K.log("damage: exit 2 with the file and offset (directory, segment, snapshot); torn "
          "tail loaded; usage and not-a-dataset exit 3")


def case_until_before_snapshot():
    """A point in time before a shard's snapshot cannot be reached (its
    records are gone): refused, naming the snapshot; at or after the cut it
    works from the snapshot plus the records after it."""
    srv = K.kevy("--threads", "1", "--save", "", name="snapcut").start()
    try:
        with srv.conn() as c:
            for i in range(1, 6):
                c.call("SET", "k%d" % i, "v%d" % i)
            K.check(c.call("SAVE") == b"+OK\r\n", "SAVE")
            c.call("SET", "k6", "v6")
        srv.stop()
        _, err = kd("--until-lsn", "3", srv.dir, want=3)
        K.check("snapshot was cut at LSN 5" in err.decode() if isinstance(err, bytes) else
                "snapshot was cut at LSN 5" in err, "the refusal names the cut: %r" % err)
        out, _ = kd("--until-lsn", "6", srv.dir)
        K.check(len(out.splitlines()) == 6, "at LSN 6: six keys: %r" % out)
        out, _ = kd("--until-lsn", "5", srv.dir)
        K.check(len(out.splitlines()) == 5, "at the cut: five keys: %r" % out)
    finally:
        srv.cleanup()
    K.log("--until-lsn before a snapshot's cut: refused; at and after it: exact")


def bits_of(value):
    """Set bit positions of bytes, as GETBIT numbers them (MSB first)."""
    return [i * 8 + b for i, byte in enumerate(value) for b in range(8) if byte & (0x80 >> b)]


def sock_resp_load(c, resp):
    """Send --resp output on a connection, then PING: every reply before
    PONG must be a success."""
    c.send(resp + b"*1\r\n$4\r\nPING\r\n")
    for _ in range(resp.count(b"*") + 2):
        r = c.read_reply()
        K.check(not r.startswith(b"-"), "--resp command failed: %r" % (r,))
        if r == b"+PONG\r\n":
            return
    K.fail("no PONG after loading --resp")


def case_bits_and_hll():
    """Bitmaps and HyperLogLogs are strings: --bits lists a string's set bit
    positions (text and JSON), an HLL string is shown with its encoding and
    the estimate PFCOUNT gave (null / "corrupt" for registers that do not
    decode), and --resp still recreates the bytes exactly (in redis-server
    when installed: PFCOUNT there agrees too)."""
    srv = K.kevy("--threads", "2", "--appendfsync", "always", name="bitshll").start()
    offsets = [0, 7, 13, 100000, 1 << 20]
    bad = b"HYLL\x01" + b"\x00" * 11 + b"\x00"        # one ZERO opcode: 1 of 16384
    try:
        with srv.conn() as c:
            for off in offsets:
                K.check(c.cmd("SETBIT", "bm", off, 1) == 0, "SETBIT %d" % off)
            c.cmd("SET", "empty", "")
            K.check(c.cmd("PFADD", "hs", *["s%d" % i for i in range(100)]) == 1, "PFADD hs")
            for i in range(0, 5000, 500):
                c.cmd("PFADD", "hd", *["d%d" % j for j in range(i, i + 500)])
            c.cmd("SET", "hc", bad)
            est = {k: c.cmd("PFCOUNT", k) for k in ("hs", "hd")}
            vals = {k: c.cmd("GET", k) for k in ("bm", "hs", "hd", "hc", "empty")}
        K.check(vals["hs"][4] == 1 and vals["hd"][4] == 0, "hs sparse, hd dense on the server")
        K.check(bits_of(vals["bm"]) == offsets, "bm holds exactly the bits set")
        srv.stop()

        objs = {decode_key(o)[0]: o for o in kd_json("--bits", srv.dir)}
        K.check(objs[b"bm"]["bits"] == offsets, "--json --bits bm: %r" % objs[b"bm"].get("bits"))
        K.check(objs[b"empty"]["bits"] == [], "--bits of an empty string: []")
        K.check(objs[b"hs"]["bits"] == bits_of(vals["hs"]), "--bits of any string, HLL too")
        K.check(objs[b"hs"]["hll"] == {"encoding": "sparse", "estimate": est["hs"]},
                "hs: %r vs PFCOUNT %d" % (objs[b"hs"].get("hll"), est["hs"]))
        K.check(objs[b"hd"]["hll"] == {"encoding": "dense", "estimate": est["hd"]},
                "hd: %r vs PFCOUNT %d" % (objs[b"hd"].get("hll"), est["hd"]))
        K.check(objs[b"hc"]["hll"] == {"encoding": "sparse", "estimate": None},
                "corrupt HLL: %r" % objs[b"hc"].get("hll"))
        K.check("hll" not in objs[b"bm"] and "hll" not in objs[b"empty"], "no hll on a bitmap")
        plain = {decode_key(o)[0]: o for o in kd_json(srv.dir)}
        K.check("bits" not in plain[b"bm"] and plain[b"hd"]["hll"]["estimate"] == est["hd"],
                "without --bits: no bits, the hll fields stay")

        out, _ = kd("--bits", srv.dir)
        text = {ln.split(" key ")[1].split(" ")[0]: ln for ln in out.decode("latin-1").splitlines()}
        K.check(text['"bm"'].endswith(" bits " + " ".join(map(str, offsets))),
                "text --bits: %r" % text['"bm"'])
        K.check(text['"empty"'].endswith(" bits"), "text --bits, empty: %r" % text['"empty"'])
        K.check(" hll sparse estimate %d bits " % est["hs"] in text['"hs"'], "text hs: %r" % text['"hs"'])
        K.check(" hll dense estimate %d bits " % est["hd"] in text['"hd"'], "text hd")
        K.check(" hll sparse estimate corrupt bits " in text['"hc"'], "text hc: %r" % text['"hc"'])
        kd("--bits", "--resp", srv.dir, want=3)
        kd("--bits", "--stats", srv.dir, want=3)
        seg = sorted(os.path.join(srv.dir, f) for f in os.listdir(srv.dir) if f.endswith(".aof"))
        K.check(seg, "the dataset has AOF segments: %r" % os.listdir(srv.dir))
        kd("--bits", seg[0], want=3)

        # --resp is unchanged by all this: byte-exact values.
        resp, _ = kd("--resp", srv.dir)
        cli = shutil.which("redis-cli")
        if not (K.redis_binary() and cli):
            K.log("SKIP the redis part of bits/hll: redis-server or redis-cli not installed")
        else:
            with K.redis() as r:
                code, out, err = run(cli, "-p", str(r.port), "--pipe", stdin=resp)
                K.check(code == 0 and b"errors: 0" in out, "redis-cli --pipe: %r %r" % (out, err))
                with r.conn() as c:
                    for k, v in vals.items():
                        K.check(c.cmd("GET", k) == v, "redis GET %s: the same bytes" % k)
                    for k, n in est.items():
                        K.check(c.cmd("PFCOUNT", k) == n, "redis PFCOUNT %s == kevy's %d" % (k, n))
        srv2 = K.kevy("--threads", "2", name="bitshll2").start()
        try:
            with srv2.conn() as c:
                sock_resp_load(c, resp)
                for k, v in vals.items():
                    K.check(c.cmd("GET", k) == v, "kevy GET %s after --resp: the same bytes" % k)
        finally:
            srv2.cleanup()
    finally:
        srv.cleanup()
    K.log("--bits lists set bits (text, JSON); HLLs show encoding and PFCOUNT's estimate; "
          "--resp recreates bitmaps and HLLs byte for byte")


def main():
    global KD, KC
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy-dump reads kevy's data directories")
    KD = tool_binary("kevy-dump", "KEVY_DUMP")
    KC = tool_binary("kevy-check", "KEVY_CHECK")

    srv = K.kevy("--threads", "2", "--appendfsync", "always", name="dump", keep_dir=True).start()
    hist = None
    try:
        with srv.conn() as c:
            write_dataset(c)
            digest = c.cmd("DEBUG", "DIGEST")
        model = model_of(srv)
        srv.check_clean_exit()
        base = srv.dir
        case_dump_and_pipe(base, model)
        case_replay_reshard(base, digest, model)
        hist_srv = make_history()
        hist = hist_srv.tmpdir
        recs = case_segment(hist_srv.dir)
        case_until(hist_srv.dir, recs)
        case_damage(hist_srv.dir, recs)
        case_until_before_snapshot()
        case_bits_and_hll()
    finally:
        srv.keep_dir = False
        srv.cleanup()
        if hist:
            shutil.rmtree(hist, ignore_errors=True)


if __name__ == "__main__":
    K.run_main(main)
