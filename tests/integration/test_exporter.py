#!/usr/bin/python3
"""prometheus-redis-exporter (Debian's package) exports for kevy every
metric it exports for redis-server.

Both servers get the same small workload (keys with and without a TTL in
two databases, hits and misses, an error reply, a pub/sub channel, a slow
command), then one exporter per server (--redis.addr, --web.listen-address
on free loopback ports) is scraped.  Every metric family of redis-server's
scrape, with its label names (label values differ: versions, ids, ports),
must be in kevy's; a few values are checked against what the workload did.
Metrics only kevy has are listed, not failed: the requirement is that
dashboards built for Redis keep working.  Skips (77) without the exporter.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

EXPORTER_NAMES = ("prometheus-redis-exporter", "redis_exporter")
# Metrics redis-server exports that kevy cannot: name -> why.  Only for
# what redis-server itself would not export in this standalone setup; so
# far none.
CANNOT = {}
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def exporter_binary():
    for name in EXPORTER_NAMES:
        path = shutil.which(name) or ("/usr/bin/" + name if os.access("/usr/bin/" + name, os.X_OK)
                                      else None)
        if path:
            return path
    K.skip("prometheus-redis-exporter is not installed "
           "(apt-get install prometheus-redis-exporter, or scripts/install-deps.sh --test)")


def workload(port):
    with K.RawConn(port) as c:
        for i in range(20):
            K.check(c.call("SET", "k:%d" % i, "v") == b"+OK\r\n", "SET")
        for i in range(5):
            c.call("EXPIRE", "k:%d" % i, "1000")
        c.call("GET", "k:1")
        c.call("GET", "missing")
        c.call("LPUSH", "k:2", "x")          # WRONGTYPE: an error reply
        c.call("SELECT", "3")
        c.call("SET", "other", "1")
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.call("PING")
        c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    sub = K.RawConn(port)
    sub.call("SUBSCRIBE", "news")
    return sub


def scrape(url, timeout=30.0):
    """The exporter's /metrics once it reaches its server (redis_up 1)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                text = r.read().decode()
            if re.search(r"^redis_up 1$", text, re.M):
                return text
            last = "redis_up is not 1"
        except OSError as e:
            last = repr(e)
        time.sleep(0.2)
    raise K.TestFailure("no scrape from %s: %s" % (url, last))


def families(text):
    """{(name, (label names...))} and {(name, {labels}): value}."""
    keys, values = set(), {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        K.check(m is not None, "a metric line parses: %r" % line)
        labels = dict(LABEL.findall(m.group(3) or ""))
        keys.add((m.group(1), tuple(sorted(labels))))
        values[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(4))
    return keys, values


def value(values, name, **labels):
    return values.get((name, tuple(sorted(labels.items()))))


def run(srv, exporter, tmpdir):
    sub = workload(srv.port)
    web = K.free_port()
    log = open(os.path.join(tmpdir, "exporter-%s.log" % srv.name), "wb")
    proc = subprocess.Popen([exporter, "--redis.addr", "redis://127.0.0.1:%d" % srv.port,
                             "--web.listen-address", "127.0.0.1:%d" % web],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        text = scrape("http://127.0.0.1:%d/metrics" % web)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        sub.close()
    return families(text)


def main():
    exporter = exporter_binary()
    K.require_kevy()
    K.require_redis()
    results = {}
    for kind, args in (("redis", ("--appendonly", "yes")), ("kevy", ("--threads", "2"))):
        srv = K.Server(kind, args)
        with srv:
            results[kind] = run(srv, exporter, srv.tmpdir)
            if kind == "kevy":
                srv.check_clean_exit()
    want, _ = results["redis"]
    got, vals = results["kevy"]
    missing = sorted(k for k in want - got if k[0] not in CANNOT)
    K.check(not missing, "metrics redis-server has and kevy lacks (name, label names):\n  %s"
            % "\n  ".join("%s %s" % m for m in missing))
    K.log("kevy exports all %d metric families of redis-server's scrape" % len(want))
    extra = sorted({k[0] for k in got - want})
    if extra:
        K.log("kevy only: %s" % ", ".join(extra))

    # The values follow the workload, not only the names.
    K.check(value(vals, "redis_up") == 1, "redis_up 1")
    K.check(value(vals, "redis_db_keys", db="db0") == 20, "20 keys in db0: %r" %
            value(vals, "redis_db_keys", db="db0"))
    K.check(value(vals, "redis_db_keys_expiring", db="db0") == 5, "5 with a TTL in db0")
    K.check(value(vals, "redis_db_keys", db="db3") == 1, "1 key in db3")
    K.check(value(vals, "redis_keyspace_hits_total") == 1, "1 keyspace hit")
    K.check(value(vals, "redis_keyspace_misses_total") == 1, "1 keyspace miss")
    K.check(value(vals, "redis_errors_total", err="WRONGTYPE") == 1, "1 WRONGTYPE error")
    K.check(value(vals, "redis_pubsub_channels") == 1, "1 pub/sub channel")
    K.check(value(vals, "redis_config_io_threads") == 1, "io-threads 1")
    K.check(value(vals, "redis_connected_clients") >= 2, "the subscriber and the exporter")
    K.check((value(vals, "redis_slowlog_length") or 0) >= 1, "the slow log has the PING")
    K.check(value(vals, "redis_aof_enabled") == 1, "appendonly yes")
    K.check(value(vals, "redis_total_reads_processed") > 0 and
            value(vals, "redis_total_writes_processed") > 0, "reads and writes are counted")
    # The heap before loading is part of the heap ever used (both 0 where
    # the C library cannot count its heap, as under ASan).
    K.check(0 <= value(vals, "redis_memory_used_startup_bytes") <=
            value(vals, "redis_memory_used_peak_bytes"), "startup memory <= peak memory")


if __name__ == "__main__":
    K.run_main(main)
