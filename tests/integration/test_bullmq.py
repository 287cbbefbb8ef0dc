#!/usr/bin/env python3
"""BullMQ (Node, npm) runs its queue on kevy: its Lua scripts, QueueEvents'
blocking XREAD on the events stream, retries, delayed jobs.  1,000 jobs
(every tenth fails once and is retried) and 20 delayed ones complete, under
appendfsync always, with 2 shards, in the two ways a
BullMQ user can set it up (docs/scripting.md, "Keys"): a `{bull}` prefix,
so every key of the queue lives on one shard, or a plain prefix with
lua-allow-undeclared-keys yes (BullMQ's scripts build job keys they do not
declare).  Without either, its scripts get kevy's undeclared-key error.
After kill -9 the completed jobs, their counts and return values are kept.
Then ioredis's defineCommand (EVALSHA, EVAL on NOSCRIPT) over keys of two
shards: 500 pipelined calls and one after SCRIPT FLUSH.

Needs node and tests/node/node_modules (scripts/install-deps.sh --test runs
npm ci there); skips, saying so, without them.  Loopback only, bounded.
"""
import json
import os
import shutil
import subprocess

import aoflib as A
import kevylib as K

N = 1000
DELAYED = 20
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")


def run_jobs(port, prefix):
    p = subprocess.run(["node", os.path.join(NODE_DIR, "bullmq_jobs.js"), str(port), prefix,
                        str(N)], capture_output=True, timeout=120, cwd=NODE_DIR)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_run(port, prefix, label):
    code, out, err = run_jobs(port, prefix)
    K.check(code == 0, "%s: BullMQ run failed (%d): %s %s" % (label, code, out[-500:], err[-800:]))
    doc = json.loads(out.strip().splitlines()[-1])
    K.check(doc["completed"] == N + DELAYED and doc["counts"]["completed"] == N + DELAYED and
            doc["counts"]["failed"] == 0 and doc["counts"]["waiting"] == 0 and
            doc["counts"]["delayed"] == 0, "%s: every job completed once: %r" % (label, doc))
    K.check(doc["retried"] == N // 10, "%s: the failed first attempts were retried: %r" %
            (label, doc["retried"]))
    K.check(doc["sample"] == {"sq": doc["sample_n"] ** 2}, "%s: return value kept: %r" %
            (label, doc))
    return doc


def main():
    K.require_kevy()
    if not shutil.which("node"):
        K.skip("node is not installed (scripts/install-deps.sh --test installs nodejs)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "bullmq")):
        K.skip("tests/node/node_modules has no bullmq (scripts/install-deps.sh --test runs "
               "npm ci there)")
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="bullmq")
    try:
        srv.start()
        check_run(srv.port, "{bull}", "{bull} prefix")
        # A plain prefix: the scripts touch keys they do not declare.
        code, out, err = run_jobs(srv.port, "plain")
        K.check(code != 0 and "declare every key in KEYS" in err,
                "plain prefix without the setting: kevy's undeclared-key error: %d %s" %
                (code, err[-400:]))
        with srv.conn() as c:
            K.check(c.call("FLUSHALL") == b"+OK\r\n", "flush")
            K.check(c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "yes") == b"+OK\r\n",
                    "lua-allow-undeclared-keys yes")
        check_run(srv.port, "plain", "plain prefix, undeclared keys allowed")
        with srv.conn() as c:
            before = c.call("ZCARD", "plain:jobs:completed")
            K.check(before == b":%d\r\n" % (N + DELAYED), "completed set: %r" % before)
            rv = c.call("HGET", "plain:jobs:1", "returnvalue")
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("ZCARD", "plain:jobs:completed") == before,
                    "the completed jobs survive kill -9")
            K.check(c.call("HGET", "plain:jobs:1", "returnvalue") == rv,
                    "a job's return value survives: %r" % rv)
        p = subprocess.run(["node", os.path.join(NODE_DIR, "ioredis_script.js"), str(srv.port)],
                           capture_output=True, timeout=60, cwd=NODE_DIR)
        K.check(p.returncode == 0, "ioredis defineCommand: %r" % p.stderr[-500:])
        doc = json.loads(p.stdout.decode().strip().splitlines()[-1])
        K.check(doc == {"errors": 0, "last": [500, "tag499"], "after": [501, "again"],
                        "a": "501", "b": "501"}, "ioredis defineCommand results: %r" % doc)
        srv.stop()
        K.log("BullMQ: %d jobs (%d retried) + %d delayed, twice ({bull} prefix; plain prefix "
              "with lua-allow-undeclared-keys), kept across kill -9; ioredis defineCommand "
              "over two shards" % (N, N // 10, DELAYED))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
