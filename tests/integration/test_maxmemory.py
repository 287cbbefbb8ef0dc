#!/usr/bin/python3
"""maxmemory on a running kevy (docs/memory.md).

1. OOM replies: with noeviction and a limit already exceeded, SET gets
   Redis's -OOM error and changes nothing, GET and DEL still run; inside
   MULTI a command is refused at queue time and EXEC answers EXECABORT; a
   transaction queued before the limit was set fails as a whole at EXEC if
   it holds a command that may grow memory, runs if it only reads; DISCARD
   works.
2. Each policy evicts the right kind of keys: volatile-* only keys with a
   deadline, volatile-ttl the nearest deadlines first, allkeys-lru the keys
   not touched lately, allkeys-lfu the keys read least; the dataset ends
   within the limit and evicted_keys counts what went.  After a restart
   (without a limit) the keyspace is exactly what it was: every eviction
   reached its shard's AOF as a DEL.
3. OBJECT IDLETIME / FREQ / TOUCH: idle time grows, TOUCH resets it and
   counts existing keys, TYPE / EXISTS / TTL do not touch; under an LFU
   policy FREQ answers and IDLETIME errs, and the other way round.
4. A client writing without bound under `maxmemory 20mb` + noeviction gets
   OOM errors, the server's RSS stays bounded, and every acknowledged write
   is readable, before and after a restart.
5. Under allkeys-lru, writing 5x the limit keeps the dataset within 5% of
   the limit and the server answering.
6. Evictions are keyspace events (`notify-keyspace-events KEe`): a
   subscriber gets `evicted` on __keyevent@0__ and __keyspace@0__ for
   exactly the keys that went, once each, and those keys are gone.

Environment: KEVY_SERVER (set by CTest), KEVY_SEED (replay).
"""

import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

OOM = "OOM command not allowed when used memory > 'maxmemory'."
MB = 1024 * 1024


def pipeline(c, cmds):
    """Send every command at once, return the parsed replies in order."""
    c.send(b"".join(K.encode(*cmd) for cmd in cmds))
    return [K.parse(r) for r in c.read_replies(len(cmds), timeout=60)]


def info_field(c, section, name):
    text = c.cmd("INFO", section)
    text = text.decode() if isinstance(text, bytes) else text
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise K.TestFailure("INFO %s has no %s" % (section, name))


def info_int(c, section, name):
    return int(info_field(c, section, name))


def is_err(r, text=None):
    return isinstance(r, K.RespError) and (text is None or text in r.msg.decode())


def test_oom_replies():
    with K.kevy("--threads", "2", "--appendonly", "no") as kv:
        c, c2 = kv.conn(), kv.conn()
        K.check(c.cmd("SET", "a", "1") == "OK", "SET before the limit")
        # A transaction queued before the limit: read-only runs, a write fails.
        pipeline(c, [["MULTI"], ["GET", "a"], ["PING"]])
        K.check(c2.cmd("CONFIG", "SET", "maxmemory", "1") == "OK", "CONFIG SET maxmemory")
        r = c.cmd("EXEC")
        K.check(r == [b"1", "PONG"], "read-only EXEC under OOM: %r" % (r,))
        K.check(c2.cmd("CONFIG", "SET", "maxmemory", "0") == "OK", "limit off")
        pipeline(c, [["MULTI"], ["SET", "b", "1"], ["GET", "a"]])
        c2.cmd("CONFIG", "SET", "maxmemory", "1")
        r = c.cmd("EXEC")
        K.check(is_err(r, "EXECABORT Transaction discarded because of: " + OOM),
                "EXEC with a write under OOM: %r" % (r,))
        K.check(c.cmd("EXISTS", "b") == 0, "the refused EXEC wrote nothing")
        # Plain commands.
        r = c.cmd("SET", "c", "1")
        K.check(is_err(r, OOM) and r.msg.startswith(b"OOM"), "SET under OOM: %r" % (r,))
        K.check(c.cmd("EXISTS", "c") == 0, "refused SET wrote nothing")
        K.check(c.cmd("GET", "a") == b"1", "GET still runs")
        K.check(is_err(c.cmd("RPUSH", "l", "x"), OOM), "RPUSH refused")
        K.check(is_err(c.cmd("INCR", "a"), OOM), "INCR refused (denyoom in Redis)")
        # Queued under OOM: refused at once, EXEC aborts.
        K.check(c.cmd("MULTI") == "OK", "MULTI")
        K.check(is_err(c.cmd("SET", "d", "1"), OOM), "SET refused at queue time")
        K.check(is_err(c.cmd("EXEC"), "EXECABORT Transaction discarded because of previous errors"),
                "EXEC after a refused queue")
        K.check(c.cmd("MULTI") == "OK" and c.cmd("DISCARD") == "OK", "DISCARD under OOM")
        K.check(c.cmd("DEL", "a") == 1, "DEL still runs")
        K.check(info_field(c, "memory", "maxmemory_policy") == "noeviction", "policy in INFO")
        K.check(info_int(c, "memory", "maxmemory") == 1, "maxmemory in INFO")
        K.check(c.cmd("CONFIG", "SET", "maxmemory", "0") == "OK", "limit off")
        K.check(c.cmd("SET", "c", "1") == "OK", "SET without a limit")
        c.close()
        c2.close()
        kv.check_clean_exit()


def fill(c, n, prefix, ex=None, size=100):
    cmds = []
    for i in range(n):
        cmd = ["SET", "%s%d" % (prefix, i), "x" * size]
        if ex is not None:
            cmd += ["EX", str(ex(i))]
        cmds.append(cmd)
    for at in range(0, n, 1000):
        replies = pipeline(c, cmds[at:at + 1000])
        K.check(all(r == "OK" for r in replies), "fill %s" % prefix)


def existing(c, prefix, n):
    """The indexes of prefix<i> that exist, i < n."""
    replies = pipeline(c, [["EXISTS", "%s%d" % (prefix, i)] for i in range(n)])
    return {i for i, r in enumerate(replies) if r == 1}


def wait_within_limit(c, limit):
    """The cron (or the next write) evicts; bounded wait until the dataset
    is within the limit and evictions stopped (each shard evicts down to
    its own share, so the total can be within the limit while a shard is
    still over its share)."""
    deadline = time.monotonic() + 20
    last = -1
    while time.monotonic() < deadline:
        evicted = info_int(c, "stats", "evicted_keys")
        if info_int(c, "memory", "used_memory_dataset") <= limit and evicted == last:
            return
        last = evicted
        time.sleep(0.5)    # five cron ticks at hz 10
    raise K.TestFailure("dataset stayed over the limit %d: %d" % (
        limit, info_int(c, "memory", "used_memory_dataset")))


def keyspace(c, prefixes, n):
    return {p: existing(c, p, n) for p in prefixes}


def test_policy(policy, n=2000):
    kv = K.Server(args=["--threads", "2", "--appendfsync", "always"], name="mm-" + policy)
    kv.start()
    try:
        c = kv.conn()
        c.cmd("CONFIG", "SET", "maxmemory-policy", policy)
        c.cmd("CONFIG", "SET", "maxmemory-samples", "64")
        fill(c, n, "p:")                                   # no deadline
        fill(c, n, "v:", ex=lambda i: 100000 + i)          # v:0 expires first
        if policy in ("allkeys-lru", "allkeys-lfu"):
            time.sleep(2.1)                                # p:* become idle
            for _ in range(20 if policy == "allkeys-lfu" else 1):
                pipeline(c, [["GET", "v:%d" % i] for i in range(n)])
        used = info_int(c, "memory", "used_memory_dataset")
        limit = int(used * 0.75)
        c.cmd("CONFIG", "SET", "maxmemory", str(limit))
        wait_within_limit(c, limit)
        # A shard whose cron ran late (a loaded machine) may still evict
        # after the wait: take the keyspace between two equal counts.
        for _ in range(20):
            evicted = info_int(c, "stats", "evicted_keys")
            before = keyspace(c, ["p:", "v:"], n)
            if info_int(c, "stats", "evicted_keys") == evicted:
                break
            time.sleep(0.5)
        else:
            raise K.TestFailure("%s: evictions did not stop" % policy)
        K.check(evicted > 0, "%s evicted nothing" % policy)
        gone_p = n - len(before["p:"])
        gone_v = n - len(before["v:"])
        K.check(gone_p + gone_v == evicted, "%s: evicted_keys %d, %d+%d keys gone" % (
            policy, evicted, gone_p, gone_v))
        if policy.startswith("volatile"):
            K.check(gone_p == 0, "%s evicted %d keys without a deadline" % (policy, gone_p))
        if policy == "volatile-ttl":
            gone = sorted(set(range(n)) - before["v:"])
            # Sampled, not exact: the victims are the earliest deadlines
            # overall (mean index far below the survivors').
            mean_gone = sum(gone) / len(gone)
            mean_kept = sum(before["v:"]) / len(before["v:"])
            K.check(mean_gone < mean_kept / 2, "volatile-ttl: mean victim %d, survivor %d" % (
                mean_gone, mean_kept))
        if policy in ("allkeys-lru", "allkeys-lfu"):
            K.check(gone_v * 10 < gone_p, "%s evicted %d hot, %d cold keys" % (
                policy, gone_v, gone_p))
        c.close()
        kv.stop()
        kv.args = ["--threads", "2"]                       # no limit: replay only
        kv.start()
        c = kv.conn()
        after = keyspace(c, ["p:", "v:"], n)
        K.check(after == before, "%s: the keyspace after a restart differs" % policy)
        c.close()
        kv.check_clean_exit()
    finally:
        kv.cleanup()


def test_object_clock():
    with K.kevy("--threads", "2", "--appendonly", "no") as kv:
        c = kv.conn()
        c.cmd("SET", "foo", "bar")
        c.cmd("SET", "other", "x")
        K.check(c.cmd("OBJECT", "IDLETIME", "foo") == 0, "fresh key idle 0")
        time.sleep(2.2)
        c.cmd("TTL", "foo")
        c.cmd("TYPE", "foo")
        c.cmd("EXISTS", "foo")
        c.cmd("OBJECT", "ENCODING", "foo")
        K.check(c.cmd("OBJECT", "IDLETIME", "foo") >= 2, "TTL/TYPE/EXISTS/OBJECT touch")
        K.check(c.cmd("TOUCH", "foo", "nokey", "other") == 2, "TOUCH counts existing keys")
        K.check(c.cmd("OBJECT", "IDLETIME", "foo") < 2, "TOUCH resets idle time")
        K.check(c.cmd("OBJECT", "IDLETIME", "nokey") is None, "IDLETIME of a missing key")
        r = c.cmd("OBJECT", "FREQ", "foo")
        K.check(is_err(r, "ERR An LFU maxmemory policy is not selected, access frequency "
                       "not tracked."), "FREQ under LRU: %r" % (r,))
        c.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        r = c.cmd("OBJECT", "IDLETIME", "foo")
        K.check(is_err(r, "ERR An LFU maxmemory policy is selected, idle time not tracked."),
                "IDLETIME under LFU: %r" % (r,))
        c.cmd("SET", "hot", "1")
        f0 = c.cmd("OBJECT", "FREQ", "hot")
        K.check(f0 == 5, "a new key starts at LFU_INIT_VAL: %r" % (f0,))
        pipeline(c, [["GET", "hot"]] * 100)
        f1 = c.cmd("OBJECT", "FREQ", "hot")
        K.check(isinstance(f1, int) and f1 > f0, "FREQ grows with reads: %r -> %r" % (f0, f1))
        K.check(c.cmd("TOUCH", "hot") == 1, "TOUCH under LFU")
        c.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
        c.close()
        kv.check_clean_exit()


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def sanitizer_build():
    with open(K.kevy_binary(), "rb") as f:
        return b"__asan_init" in f.read()


def test_unbounded_writer_noeviction():
    kv = K.Server(args=["--threads", "2", "--maxmemory", "20mb"], name="mm-rss")
    kv.start()
    try:
        c = kv.conn()
        base_rss = proc_rss(kv.proc.pid)
        acked, ooms, i = [], 0, 0
        value = "v" * 1000
        deadline = time.monotonic() + 120
        while ooms == 0 and i < 200000 and time.monotonic() < deadline:
            batch = ["k:%d" % j for j in range(i, i + 500)]
            replies = pipeline(c, [["SET", k, value] for k in batch])
            for k, r in zip(batch, replies):
                if r == "OK":
                    acked.append(k)
                else:
                    K.check(is_err(r, OOM), "unexpected reply %r" % (r,))
                    ooms += 1
            i += 500
        K.check(ooms > 0, "no OOM after %d writes" % i)
        # Keep pushing a little: still refused, nothing grows.
        for _ in range(5):
            replies = pipeline(c, [["SET", "x:%d" % j, value] for j in range(500)])
            K.check(all(is_err(r, OOM) or r == "OK" for r in replies), "more writes")
            acked += ["x:%d" % j for j, r in zip(range(500), replies) if r == "OK"]
        rss = proc_rss(kv.proc.pid)
        if sanitizer_build():
            # ASan keeps freed memory in its quarantine (256 MB by default):
            # RSS says nothing about kevy's heap there; the dataset bound
            # below still holds.
            K.log("sanitizer build: RSS %d MB not checked" % (rss // MB))
        else:
            K.check(rss < base_rss + 2 * 20 * MB + 16 * MB,
                    "RSS %d MB with a 20 MB limit (base %d MB)" % (rss // MB, base_rss // MB))
        used = info_int(c, "memory", "used_memory_dataset")
        K.check(used <= 20 * MB + 2 * 1024 * 1024, "dataset %d over the limit" % used)

        def all_readable(conn):
            for at in range(0, len(acked), 1000):
                keys = sorted(set(acked[at:at + 1000]))
                r = conn.cmd("EXISTS", *keys)
                K.check(r == len(keys), "acknowledged keys missing: %d of %d" % (r, len(keys)))
        all_readable(c)
        c.close()
        kv.stop()
        kv.start()
        c = kv.conn()
        all_readable(c)
        c.close()
        kv.check_clean_exit()
    finally:
        kv.cleanup()


def test_allkeys_lru_5x():
    limit = 20 * MB
    with K.kevy("--threads", "2", "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru",
                "--appendonly", "no") as kv:
        c = kv.conn()
        value = "v" * 1000
        written = 0
        for i in range(0, 5 * limit // 1000, 1000):
            replies = pipeline(c, [["SET", "k:%d" % j, value] for j in range(i, i + 1000)])
            K.check(all(r == "OK" for r in replies), "allkeys-lru refused a write")
            written += 1000
            used = info_int(c, "memory", "used_memory_dataset")
            K.check(used <= limit * 1.05, "dataset %d over the limit %d" % (used, limit))
        used = info_int(c, "memory", "used_memory_dataset")
        K.check(used >= limit * 0.8, "dataset %d far below the limit: evicting too much" % used)
        K.check(info_int(c, "stats", "evicted_keys") > 0, "nothing evicted")
        K.check(c.cmd("PING") == "PONG", "server answers")
        K.check(c.cmd("DBSIZE") + info_int(c, "stats", "evicted_keys") == written,
                "keys + evicted = written")
        c.close()
        kv.check_clean_exit()


def test_evicted_events(n=2000):
    with K.kevy("--threads", "2", "--appendonly", "no", "--save", "") as kv:
        c = kv.conn()
        sub = kv.conn()
        K.check(c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEe") == "OK", "notify")
        sub.send(K.encode("PSUBSCRIBE", "__keyevent@0__:evicted", "__keyspace@0__:ev:*"))
        sub.read_replies(2)
        c.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        fill(c, n, "ev:")
        limit = int(info_int(c, "memory", "used_memory_dataset") * 0.75)
        c.cmd("CONFIG", "SET", "maxmemory", str(limit))
        wait_within_limit(c, limit)
        evicted = info_int(c, "stats", "evicted_keys")
        K.check(evicted > 0, "nothing evicted")
        by_event, by_space = [], []
        deadline = time.monotonic() + 30
        while len(by_event) + len(by_space) < 2 * evicted and time.monotonic() < deadline:
            m = K.parse(sub.read_reply(timeout=30))
            K.check(m[0] == b"pmessage", "a pattern message: %r" % (m,))
            if m[2] == b"__keyevent@0__:evicted":
                by_event.append(m[3].decode())
            else:
                K.check(m[3] == b"evicted", "keyspace event %r" % (m,))
                by_space.append(m[2].decode().split(":", 1)[1])
        K.check(len(by_event) == len(set(by_event)) == evicted,
                "%d evicted, %d keyevent messages (%d keys)" % (
                    evicted, len(by_event), len(set(by_event))))
        K.check(sorted(by_space) == sorted(by_event), "keyspace and keyevent name the same keys")
        gone = {"ev:%d" % i for i in set(range(n)) - existing(c, "ev:", n)}
        K.check(set(by_event) == gone, "the events name exactly the keys gone "
                "(%d events, %d gone)" % (len(by_event), len(gone)))
        K.check(info_int(c, "stats", "evicted_keys") == evicted, "evictions stopped")
        sub.close()
        c.close()
        kv.check_clean_exit()
    K.log("evicted events: %d keys evicted, one keyevent and one keyspace message each"
          % evicted)


def main():
    K.require_kevy()
    test_evicted_events()
    test_oom_replies()
    test_object_clock()
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                   "allkeys-lru", "allkeys-lfu", "allkeys-random"):
        test_policy(policy)
    test_unbounded_writer_noeviction()
    test_allkeys_lru_5x()


if __name__ == "__main__":
    K.run_main(main)
