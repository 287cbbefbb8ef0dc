"""rq_jobs - the job side of test_rq.py, run by Debian's python3 (where
python3-rq lives): enqueue N jobs on a kevy, run a burst worker, check every
job finished with its result.  A module of its own because RQ's workers
import a job's function by module name (never __main__)."""
import sys

from redis import Redis
from rq import Queue, Worker


def square(x):
    return x * x


def main(port, n):
    conn = Redis(host="127.0.0.1", port=port)
    q = Queue("kevy", connection=conn)
    jobs = [q.enqueue(square, i, result_ttl=600) for i in range(n)]
    Worker([q], connection=conn, name="kevy-test-worker").work(burst=True)
    bad = []
    for i, j in enumerate(jobs):
        j.refresh()
        r = j.return_value() if hasattr(j, "return_value") else j.result
        if j.get_status() != "finished" or r != i * i:
            bad.append((i, j.get_status(), r))
    print("rq: %d jobs, %d wrong: %r" % (n, len(bad), bad[:3]))
    return 1 if bad else 0


if __name__ == "__main__":
    import rq_jobs
    sys.exit(rq_jobs.main(int(sys.argv[1]), int(sys.argv[2])))
