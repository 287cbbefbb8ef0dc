#!/usr/bin/env python3
"""A real job queue on kevy: Python RQ (Debian's python3-rq) enqueues 200
jobs, a burst worker runs them, and every job must finish with its result;
RQ keeps results in streams (XADD/XREVRANGE) inside MULTI, which aborts on
a server without them.  Then kill -9 and a restart: the results are still
there (appendfsync always).  Skips when Debian's python3 cannot import rq.
"""
import os
import subprocess
import sys

import aoflib as A
import kevylib as K

HERE = os.path.dirname(os.path.abspath(__file__))
DEB_PY = "/usr/bin/python3"


def main():
    K.require_kevy()
    p = subprocess.run([DEB_PY, "-c", "import rq, redis"], capture_output=True)
    if p.returncode != 0:
        K.skip("Debian's python3-rq is not installed (scripts/install-deps.sh --test)")
    srv = K.kevy("--threads", "2", "--appendfsync", "always", "--save", "", name="rq")
    try:
        srv.start()
        p = subprocess.run([DEB_PY, os.path.join(HERE, "rq_jobs.py"), str(srv.port), "200"],
                           cwd=HERE, capture_output=True, text=True, timeout=300)
        K.check(p.returncode == 0 and "200 jobs, 0 wrong" in p.stdout,
                "RQ ran 200 jobs with results: %s %s" % (p.stdout[-500:], p.stderr[-1500:]))
        with srv.conn() as c:
            keys = K.parse(c.call("KEYS", "rq:results:*")) or []
            K.check(len(keys) == 200, "a results stream per job: %d" % len(keys))
            types = {K.parse(c.call("TYPE", k)) for k in keys[:20]}
            K.check(types in ({b"stream"}, {"stream"}), "results are streams: %r" % types)
        A.kill9(srv)
        A.restart(srv)
        with srv.conn() as c:
            keys = K.parse(c.call("KEYS", "rq:results:*")) or []
            K.check(len(keys) == 200, "the results survive kill -9: %d" % len(keys))
        srv.stop()
        K.log("rq: 200 jobs enqueued, run by a burst worker, results in streams, kept "
              "across kill -9")
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
