#!/usr/bin/python3
"""SLOWLOG, LATENCY and MEMORY on a 2-shard kevy, with clients on both
shards (CLIENT INFO's shard= field picks them) and keys on both shards:

- SLOWLOG GET merges both shards' logs newest first, ids unique and
  decreasing, at most slowlog-max-len in all; an entry names the client's
  address and name, its arguments trimmed (32 at most, 128 bytes each) and
  AUTH's secret redacted; a forwarded command is logged as the client sent
  it; EXEC is not logged, the commands it ran are; a blocked BLPOP once,
  when it is served; LEN, RESET, the count rules and Redis's error texts;
- LATENCY: slow commands are "command" events when
  latency-monitor-threshold is on (LATEST, HISTORY, GRAPH, DOCTOR, RESET
  counting events once however many shards had them); HISTOGRAM sums both
  shards' calls; INFO latencystats prints percentiles, none while
  latency-tracking is off; CONFIG RESETSTAT empties the histograms;
- MEMORY USAGE on either shard, STATS (Redis's field names, keys of both
  shards counted), DOCTOR, MALLOC-STATS, PURGE, HELP, and the errors;
- the settings through CONFIG SET/GET and the command line, with Redis's
  range errors.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402


def is_error(r, prefix):
    return isinstance(r, K.RespError) and r.msg.startswith(prefix.encode())


def shard_of(c):
    info = c.cmd("CLIENT", "INFO").decode()
    m = re.search(r"\bshard=(\d+)", info)
    K.check(m is not None, "CLIENT INFO has shard=: %r" % info)
    return int(m.group(1))


def clients_on_both_shards(srv):
    """Two connections on different shards (the kernel spreads them)."""
    by_shard = {}
    extra = []
    for _ in range(64):
        c = srv.conn()
        s = shard_of(c)
        if s in by_shard:
            extra.append(c)
        else:
            by_shard[s] = c
        if len(by_shard) == 2:
            break
    for c in extra:
        c.close()
    K.check(len(by_shard) == 2, "connections on both shards: %r" % list(by_shard))
    return by_shard[0], by_shard[1]


def keys_on_both_shards(c):
    """A key on c's shard and one on the other: a SET of a key of the other
    shard adds one to kevy_forwarded_commands."""
    def forwarded():
        return int(re.search(rb"kevy_forwarded_commands:(\d+)", c.cmd("INFO", "stats")).group(1))
    local = remote = None
    for i in range(200):
        k = "key:%d" % i
        before = forwarded()
        c.cmd("SET", k, "v%d" % i)
        if forwarded() > before:
            remote = remote or k
        else:
            local = local or k
        if local and remote:
            return local, remote
    K.fail("no keys on both shards")


def slowlog_entries(c, *args):
    r = c.cmd("SLOWLOG", "GET", *args)
    K.check(isinstance(r, list), "SLOWLOG GET replies an array: %r" % r)
    for e in r:
        K.check(len(e) == 6 and isinstance(e[0], int) and isinstance(e[1], int) and
                isinstance(e[2], int) and isinstance(e[3], list), "entry shape: %r" % e)
    return r


def check_slowlog(a, b):
    K.check(a.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0") == "OK", "log everything")
    K.check(a.cmd("SLOWLOG", "RESET") == "OK", "SLOWLOG RESET")
    K.check(a.cmd("CLIENT", "SETNAME", "alpha") == "OK", "name a")
    K.check(b.cmd("CLIENT", "SETNAME", "beta") == "OK", "name b")
    K.check(a.cmd("SLOWLOG", "RESET") == "OK", "reset again")
    local, remote = keys_on_both_shards(a)
    K.check(a.cmd("SLOWLOG", "RESET") == "OK", "reset before the sequence")
    a.cmd("SET", local, "1")
    b.cmd("SET", local, "2")
    a.cmd("SET", remote, "3")
    b.cmd("GET", remote)
    e = slowlog_entries(a, "-1")
    # Newest first: the GET, the SETs, then SLOWLOG RESET itself.
    args = [[x.decode() for x in ent[3]] for ent in e]
    K.check(args == [["GET", remote], ["SET", remote, "3"], ["SET", local, "2"],
                     ["SET", local, "1"], ["SLOWLOG", "RESET"]], "merged order: %r" % args)
    ids = [ent[0] for ent in e]
    K.check(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), "ids: %r" % ids)
    names = [ent[5] for ent in e]
    K.check(names == [b"beta", b"alpha", b"beta", b"alpha", b"alpha"], "names: %r" % names)
    K.check(all(re.fullmatch(rb"127\.0\.0\.1:\d+", ent[4]) for ent in e), "peers")
    K.check(all(abs(ent[1] - time.time()) < 60 for ent in e), "unix times")
    K.check(a.cmd("SLOWLOG", "LEN") == 6, "LEN counts the GET too")
    K.check(len(slowlog_entries(b, "2")) == 2 and len(slowlog_entries(b, "0")) == 0, "GET count")
    K.check(len(slowlog_entries(b)) == 9, "GET defaults to 10 (9 logged so far)")

    # Trimming and redaction.
    a.cmd("SLOWLOG", "RESET")
    a.cmd("SADD", "set", *[str(i) for i in range(40)])
    a.cmd("SET", "long", "x" * 200)
    a.cmd("AUTH", "nosuchpassword")
    e = slowlog_entries(a, "3")
    K.check(e[0][3] == [b"AUTH", b"(redacted)"], "AUTH redacted: %r" % e[0][3])
    K.check(e[1][3] == [b"SET", b"long", b"x" * 128 + b"... (72 more bytes)"], "long arg")
    K.check(len(e[2][3]) == 32 and e[2][3][-1] == b"... (11 more arguments)", "argc trim")

    # EXEC is not logged; what it ran is.
    a.cmd("SLOWLOG", "RESET")
    a.cmd("MULTI")
    a.cmd("SET", local, "m")
    a.cmd("SET", remote, "m")
    a.cmd("EXEC")
    args = [[x.decode() for x in ent[3]] for ent in slowlog_entries(a)]
    K.check(args[:2] == [["SET", remote, "m"], ["SET", local, "m"]] and
            ["EXEC"] not in args, "EXEC's commands: %r" % args)

    # A blocked command is logged once, when a write (of the other
    # client, on either shard) serves it, not when it blocks.
    for key in (local, remote):
        a.cmd("SLOWLOG", "RESET")
        b.send(K.encode("BLPOP", "list:" + key, "0"))
        deadline = time.monotonic() + 10
        while b"blocked_clients:1" not in a.cmd("INFO", "clients"):
            K.check(time.monotonic() < deadline, "BLPOP blocks")
            time.sleep(0.01)
        args = [[x.decode() for x in ent[3]] for ent in slowlog_entries(a)]
        K.check(["BLPOP", "list:" + key, "0"] not in args, "not logged when blocking")
        a.cmd("RPUSH", "list:" + key, "x")
        K.check(K.parse(b.read_reply()) == [b"list:" + key.encode(), b"x"], "BLPOP served")
        e = slowlog_entries(a)
        got = {tuple(x.decode() for x in ent[3]): ent[5] for ent in e}
        K.check(got.get(("BLPOP", "list:" + key, "0")) == b"beta" and
                got.get(("RPUSH", "list:" + key, "x")) == b"alpha", "served BLPOP: %r" % got)
        K.check(sum(1 for ent in e if ent[3][0] == b"BLPOP") == 1, "logged once")

    # The cap is on the merged view; negative threshold disables.
    K.check(a.cmd("CONFIG", "SET", "slowlog-max-len", "3") == "OK", "max-len 3")
    for i in range(5):
        a.cmd("PING")
        b.cmd("PING")
    K.check(a.cmd("SLOWLOG", "LEN") == 3 and len(slowlog_entries(a, "-1")) == 3, "capped")
    K.check(a.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1") == "OK", "disable")
    a.cmd("SLOWLOG", "RESET")
    a.cmd("PING")
    K.check(a.cmd("SLOWLOG", "LEN") == 0, "disabled logs nothing")
    K.check(a.cmd("CONFIG", "SET", "slowlog-log-slower-than", "1000000") == "OK", "slow only")
    a.cmd("PING")
    K.check(a.cmd("SLOWLOG", "LEN") == 0, "fast commands are not logged")

    # Errors, as Redis words them.
    for bad in ("-2", "abc"):
        K.check(is_error(a.cmd("SLOWLOG", "GET", bad),
                         "ERR count should be greater than or equal to -1"), "GET %s" % bad)
    K.check(is_error(a.cmd("SLOWLOG", "GET", "1", "2"),
                     "ERR unknown subcommand or wrong number of arguments for 'GET'. "
                     "Try SLOWLOG HELP."), "GET with two counts")
    K.check(is_error(a.cmd("SLOWLOG", "LEN", "x"),
                     "ERR wrong number of arguments for 'slowlog|len' command"), "LEN arity")
    K.check(is_error(a.cmd("SLOWLOG", "NOPE"),
                     "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP."), "unknown sub")
    K.check(is_error(a.cmd("SLOWLOG"),
                     "ERR wrong number of arguments for 'slowlog' command"), "bare SLOWLOG")
    h = a.cmd("SLOWLOG", "HELP")
    K.check(h[0].startswith("SLOWLOG <subcommand>") and h[-1] == "    Prints this help.", "HELP")


def check_latency(a, b):
    K.check(a.cmd("LATENCY", "RESET") == 0, "nothing to reset")
    K.check(a.cmd("LATENCY", "LATEST") == [], "no events")
    # An EVAL that runs a while on b's shard is a "command" event there.
    K.check(a.cmd("CONFIG", "SET", "latency-monitor-threshold", "5") == "OK", "threshold")
    script = "local i = 0 while i < 3000000 do i = i + 1 end return i"
    for c in (a, b):
        K.check(c.cmd("EVAL", script, "0") == 3000000, "busy EVAL")
    latest = a.cmd("LATENCY", "LATEST")
    K.check(len(latest) >= 1, "events: %r" % latest)
    ev = {x[0]: x for x in latest}
    K.check(b"command" in ev, "a command event: %r" % latest)
    name, when, ms, top = ev[b"command"]
    K.check(ms >= 5 and top >= ms and abs(when - time.time()) < 60, "sample %r" % ev[b"command"])
    hist = a.cmd("LATENCY", "HISTORY", "command")
    K.check(1 <= len(hist) <= 2 and all(s[1] >= 5 for s in hist), "history %r" % hist)
    K.check(a.cmd("LATENCY", "HISTORY", "nosuch") == [], "history of nothing")
    g = a.cmd("LATENCY", "GRAPH", "command")
    K.check(g.startswith(b"command - high "), "graph: %r" % g)
    K.check(is_error(a.cmd("LATENCY", "GRAPH", "nosuch"),
                     "ERR No samples available for event 'nosuch'"), "graph of nothing")
    K.check(b"command" in a.cmd("LATENCY", "DOCTOR"), "doctor names the event")
    K.check(a.cmd("LATENCY", "RESET", "command", "command", "nosuch") == 1,
            "an event resets once, whatever its shards")
    K.check(a.cmd("LATENCY", "LATEST") == [] or
            b"command" not in {x[0] for x in a.cmd("LATENCY", "LATEST")}, "reset")
    K.check(a.cmd("CONFIG", "SET", "latency-monitor-threshold", "0") == "OK", "off")

    # Histograms: calls of both shards summed.
    K.check(a.cmd("CONFIG", "RESETSTAT") == "OK", "RESETSTAT")
    local, remote = keys_on_both_shards(b)
    K.check(a.cmd("CONFIG", "RESETSTAT") == "OK", "RESETSTAT again")
    for k in (local, remote, local):
        a.cmd("GET", k)
        b.cmd("GET", k)
    h = a.cmd("LATENCY", "HISTOGRAM", "get", "nosuch")
    K.check(len(h) == 2 and h[0] == b"get", "histogram of get: %r" % h)
    d = dict(zip(h[1][0::2], h[1][1::2]))
    K.check(d[b"calls"] == 6, "6 calls from both shards: %r" % d)
    buckets = d[b"histogram_usec"]
    K.check(buckets[0::2] == sorted(buckets[0::2]) and
            buckets[1::2] == sorted(buckets[1::2]), "a cumulative distribution: %r" % buckets)
    K.check(buckets[-1] == 6, "cumulative count ends at calls: %r" % buckets)
    h = a.cmd("LATENCY", "HISTOGRAM", "config")
    K.check(h[0] == b"config|resetstat", "subcommands under their container: %r" % h)
    lat = a.cmd("INFO", "latencystats").decode()
    K.check(re.search(r"^latency_percentiles_usec_get:p50=\d+\.\d{3},p99=\d+\.\d{3},"
                      r"p99\.9=\d+\.\d{3}\r$", lat, re.M) is not None, "latencystats: %r" % lat)
    K.check(a.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "25 75.5") == "OK",
            "percentiles")
    lat = a.cmd("INFO", "latencystats").decode()
    K.check(re.search(r"^latency_percentiles_usec_get:p25=[\d.]+,p75\.5=[\d.]+\r$", lat, re.M),
            "custom percentiles: %r" % lat)
    K.check(a.cmd("CONFIG", "SET", "latency-tracking", "no") == "OK", "tracking off")
    K.check(a.cmd("INFO", "latencystats") == b"# Latencystats\r\n", "header only when off")
    K.check(a.cmd("CONFIG", "SET", "latency-tracking", "yes") == "OK", "tracking on")
    K.check(a.cmd("CONFIG", "RESETSTAT") == "OK", "RESETSTAT")
    h = a.cmd("LATENCY", "HISTOGRAM")
    K.check(h[0::2] == [b"config|resetstat"], "only RESETSTAT after a reset: %r" % h)
    K.check(a.cmd("LATENCY", "HISTOGRAM", "nosuch") == [], "unknown command skipped")

    K.check(is_error(a.cmd("LATENCY", "HELP", "x"),
                     "ERR wrong number of arguments for 'latency|help' command"), "HELP arity")
    K.check(is_error(a.cmd("LATENCY", "HISTORY"),
                     "ERR wrong number of arguments for 'latency|history' command"), "HISTORY")
    K.check(is_error(a.cmd("LATENCY", "NOPE"),
                     "ERR unknown subcommand 'NOPE'. Try LATENCY HELP."), "unknown sub")
    K.check(a.cmd("LATENCY", "HELP")[0].startswith("LATENCY <subcommand>"), "HELP")


def check_memory(a, b):
    local, remote = keys_on_both_shards(a)
    for c in (a, b):
        for k in (local, remote):
            n = c.cmd("MEMORY", "USAGE", k)
            K.check(isinstance(n, int) and n > 0, "MEMORY USAGE %s: %r" % (k, n))
            K.check(c.cmd("MEMORY", "USAGE", k, "SAMPLES", "0") == n, "SAMPLES 0")
    K.check(a.cmd("MEMORY", "USAGE", "nosuchkey") is None, "missing key")
    K.check(is_error(a.cmd("MEMORY", "USAGE", local, "SAMPLES"), "ERR syntax error"), "syntax")
    K.check(is_error(a.cmd("MEMORY", "USAGE", local, "SAMPLES", "x"),
                     "ERR value is not an integer or out of range"), "samples not int")
    dbsize = a.cmd("DBSIZE")
    for c in (a, b):
        st = c.cmd("MEMORY", "STATS")
        names = st[0::2]
        K.check(names[:10] == [b"peak.allocated", b"total.allocated", b"startup.allocated",
                               b"replication.backlog", b"clients.slaves", b"clients.normal",
                               b"cluster.links", b"aof.buffer", b"lua.caches",
                               b"functions.caches"], "STATS names: %r" % names)
        K.check(names[10] == b"db.0" and names[-1] == b"fragmentation.bytes" and
                len(names) == 28, "STATS fields: %r" % names)
        d = dict(zip(names, st[1::2]))
        K.check(d[b"keys.count"] == dbsize, "keys of both shards: %r vs %r" %
                (d[b"keys.count"], dbsize))
        K.check(d[b"peak.allocated"] >= d[b"total.allocated"] > 0, "peak >= total")
        db0 = dict(zip(d[b"db.0"][0::2], d[b"db.0"][1::2]))
        K.check(db0[b"overhead.hashtable.main"] > 0, "table overhead: %r" % db0)
    K.check(len(a.cmd("MEMORY", "DOCTOR")) > 0, "DOCTOR")
    K.check(len(a.cmd("MEMORY", "MALLOC-STATS")) > 0, "MALLOC-STATS")
    K.check(a.cmd("MEMORY", "PURGE") == "OK", "PURGE")
    K.check(a.cmd("MEMORY", "HELP")[0].startswith("MEMORY <subcommand>"), "HELP")
    K.check(is_error(a.cmd("MEMORY", "STATS", "x"),
                     "ERR wrong number of arguments for 'memory|stats' command"), "STATS arity")
    K.check(is_error(a.cmd("MEMORY", "NOPE"),
                     "ERR unknown subcommand 'NOPE'. Try MEMORY HELP."), "unknown sub")
    mem = a.cmd("INFO", "memory").decode()
    for f in ("used_memory_peak", "used_memory_peak_human", "mem_fragmentation_ratio"):
        K.check(("\r\n%s:" % f) in mem, "INFO memory has %s" % f)
    check_allocator(a)


def check_allocator(a):
    """The allocator the build was configured with (KEVY_ALLOCATOR, set by
    CTest) is the one INFO names, and its counts and report are its own."""
    a.cmd("SET", "alloc:big", "x" * 300000)
    info = dict(l.split(":", 1) for l in a.cmd("INFO", "memory").decode().split("\r\n")
                if ":" in l)
    name = info["mem_allocator"]
    want = os.environ.get("KEVY_ALLOCATOR")
    if want:
        K.check(name == want or name.startswith(want + "-"),
                "mem_allocator %r, the build links %s" % (name, want))
    used, act, res = (int(info[f]) for f in ("allocator_allocated", "allocator_active",
                                              "allocator_resident"))
    K.check(int(info["used_memory"]) == used > 300000, "used_memory is the allocator's: %r" % info)
    report = a.cmd("MEMORY", "MALLOC-STATS")
    if name.startswith("jemalloc-"):
        K.check(used <= act <= res, "allocated <= active <= resident: %d %d %d" % (used, act, res))
        K.check(b"Begin jemalloc statistics" in report, "jemalloc's report: %r" % report[:80])
        st = a.cmd("MEMORY", "STATS")
        d = dict(zip(st[0::2], st[1::2]))
        K.check(d[b"allocator.allocated"] <= d[b"allocator.active"] <= d[b"allocator.resident"],
                "MEMORY STATS allocator counts: %r" % d)
    else:
        K.check(name == "libc", "mem_allocator %r" % name)
        K.check(report.startswith(b"<malloc") or report.startswith(b"Stats not supported"),
                "libc's report: %r" % report[:80])
    a.cmd("DEL", "alloc:big")


def check_config(a):
    got = a.cmd("CONFIG", "GET", "slowlog-*")
    K.check(dict(zip(got[0::2], got[1::2])) == {b"slowlog-log-slower-than": b"2500",
                                                b"slowlog-max-len": b"64"},
            "settings from the command line: %r" % got)
    got = a.cmd("CONFIG", "GET", "latency-*")
    K.check(dict(zip(got[0::2], got[1::2])) == {
        b"latency-monitor-threshold": b"0", b"latency-tracking": b"yes",
        b"latency-tracking-info-percentiles": b"50 99 99.9"}, "latency defaults: %r" % got)
    for name, bad, msg in (
            ("slowlog-log-slower-than", "-2", "argument must be between -1 and"),
            ("slowlog-max-len", "-1", "argument must be between 0 and"),
            ("latency-monitor-threshold", "-1", "argument must be between 0 and"),
            ("latency-tracking", "maybe", "argument(s) must be one of the following: no, yes"),
            ("latency-tracking-info-percentiles", "101",
             "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
            ("latency-tracking-info-percentiles", "abc",
             "Invalid latency-tracking-info-percentiles parameters")):
        r = a.cmd("CONFIG", "SET", name, bad)
        K.check(isinstance(r, K.RespError) and msg.encode() in r.msg,
                "CONFIG SET %s %s: %r" % (name, bad, r))
    K.check(a.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "99.90 50.0") == "OK",
            "percentiles set")
    K.check(a.cmd("CONFIG", "GET", "latency-tracking-info-percentiles") ==
            [b"latency-tracking-info-percentiles", b"99.9 50"], "canonical form")
    K.check(a.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "") == "OK", "none")
    K.check(a.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9") == "OK",
            "back to the default")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("clients and keys on two shards are kevy's")
    srv = K.kevy("--threads", "2", "--slowlog-log-slower-than", "2500",
                 "--slowlog-max-len", "64", name="introspection").start()
    try:
        a, b = clients_on_both_shards(srv)
        with a, b:
            check_config(a)
            check_slowlog(a, b)
            K.check(a.cmd("CONFIG", "SET", "slowlog-max-len", "128") == "OK", "max-len back")
            check_latency(a, b)
            check_memory(a, b)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    K.log("PASS: SLOWLOG, LATENCY, MEMORY across shards")


if __name__ == "__main__":
    K.run_main(main)
