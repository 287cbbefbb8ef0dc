#!/usr/bin/python3
"""A RESP3 client library over every data type: node-redis 6, whose default
handshake is HELLO 3 (with AUTH and SETNAME), through its own parsers.

tests/node/node_redis_resp3.js runs one session -- strings and keys on
several shards, hashes (RESP3 maps), lists and a blocking pop, sets (RESP3
sets), sorted sets (RESP3 doubles), a stream with a consumer group,
HyperLogLog, bitmaps, geo, MULTI/EXEC, EVAL, pub/sub with push frames on a
second connection, INFO -- and prints its results as JSON.  It runs against
redis-server 7.0 and against kevy (3 shards, so most keys are forwarded and
multi-key commands cross shards), both with a password; the two JSON
results must be equal, field by field.

Needs node and tests/node/node_modules/redis (scripts/install-deps.sh
--test installs both); skips (77) without them or without redis-server.
"""

import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
PASSWORD = "node-pw"


def session(port):
    p = subprocess.run(["node", os.path.join(NODE_DIR, "node_redis_resp3.js"), str(port),
                        PASSWORD], capture_output=True, timeout=120, cwd=NODE_DIR)
    K.check(p.returncode == 0, "node-redis session (port %d) failed: %s" % (
        port, (p.stdout + p.stderr).decode("utf-8", "replace")[-2000:]))
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def main():
    K.require_kevy()
    if not shutil.which("node"):
        K.skip("node is not installed (scripts/install-deps.sh --test installs nodejs)")
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "redis")):
        K.skip("tests/node/node_modules has no redis (scripts/install-deps.sh --test runs "
               "npm ci there)")
    K.require_redis()
    with K.redis("--requirepass", PASSWORD) as r:
        want = session(r.port)
    with K.kevy("--threads", "3", "--requirepass", PASSWORD) as kv:
        got = session(kv.port)
        kv.check_clean_exit()
    K.check(want.get("proto") == 3, "the session spoke RESP3 to redis-server: %r" % want)
    K.check(set(want) == set(got), "same fields: %r" % (set(want) ^ set(got)))
    for k in sorted(want):
        K.check(want[k] == got[k], "%s:\n redis %r\n kevy  %r" % (k, want[k], got[k]))
    K.log("node-redis 6 over RESP3: %d results equal to redis-server's" % len(want))


if __name__ == "__main__":
    K.run_main(main)
