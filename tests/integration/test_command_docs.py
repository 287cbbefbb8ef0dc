#!/usr/bin/python3
"""COMMAND DOCS, COMMAND INFO and COMMAND GETKEYSANDFLAGS against redis-server.

For every command and subcommand in kevy's COMMAND LIST that redis-server
also has, COMMAND DOCS <name> and COMMAND INFO <name> must be the same
reply as Redis's, in RESP2 and in RESP3 (HELLO 3): compared as a typed
tree that keeps every RESP type and every byte of every string, so equal
trees are equal bytes -- with one exception: the subcommands of a container
come in the order of Redis's dictionary, which is hashed with a seed drawn
at each start, so they are compared sorted by name (each subcommand is also
compared on its own, byte for byte).

Differences on purpose are listed below with their reason: commands kevy
has and Redis 7.0 lacks (KEVY_ONLY), and COMMAND INFO flags kevy's command
table keeps differently (FLAG_DIFFS, docs/config.md): for those the
flags are checked to differ exactly as listed, the rest of the entry byte
for byte.  Then COMMAND GETKEYS and GETKEYSANDFLAGS of representative calls
(SET, SMOVE, SORT ... STORE, GEORADIUS ... STORE, XREADGROUP, EVAL, ...)
must give Redis's keys and key-spec flags.

Skips (77) when redis-server is not installed.  Environment: KEVY_SERVER.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

# Commands kevy has that redis-server 7.0 has not.
KEVY_ONLY = {
    "waitaof": "Redis 7.2's WAITAOF (kevy's durability wait, docs/durability.md)",
}

# COMMAND INFO flags kevy's table holds differently from Redis 7.0:
# name -> (flags only Redis shows, flags only kevy shows, why).
NO_BUSY = "kevy has no BUSY state for scripts, so no allow_busy flag (docs/config.md)"
NO_ASYNC = "kevy has no async loading, so no no_async_loading flag (docs/config.md)"
CONTAINER = ("kevy's container entry carries the flags its subcommands route by; "
             "Redis's container has none")
FLAG_DIFFS = {
    "auth": ({"allow_busy"}, set(), NO_BUSY),
    "discard": ({"allow_busy"}, set(), NO_BUSY),
    "function|kill": ({"allow_busy"}, set(), NO_BUSY),
    "function|stats": ({"allow_busy"}, set(), NO_BUSY),
    "hello": ({"allow_busy"}, set(), NO_BUSY),
    "multi": ({"allow_busy"}, set(), NO_BUSY),
    "quit": ({"allow_busy"}, set(), NO_BUSY),
    "replconf": ({"allow_busy"}, set(), NO_BUSY),
    "reset": ({"allow_busy"}, set(), NO_BUSY),
    "script|kill": ({"allow_busy"}, set(), NO_BUSY),
    "shutdown": ({"allow_busy"}, set(), NO_BUSY),
    "unwatch": ({"allow_busy"}, set(), NO_BUSY),
    "watch": ({"allow_busy"}, set(), NO_BUSY),
    "bgrewriteaof": ({"no_async_loading"}, set(), NO_ASYNC),
    "bgsave": ({"no_async_loading"}, set(), NO_ASYNC),
    "save": ({"no_async_loading"}, set(), NO_ASYNC),
    "psync": ({"no_async_loading"}, set(), NO_ASYNC),
    "sync": ({"no_async_loading"}, set(), NO_ASYNC),
    "replicaof": ({"no_async_loading"}, set(), NO_ASYNC),
    "slaveof": ({"no_async_loading"}, set(), NO_ASYNC),
    "restore-asking": ({"asking"}, set(), "kevy is a standalone server: no ASKING state, so "
                       "no asking flag (docs/config.md)"),
    "module|load": ({"no_async_loading"}, set(), NO_ASYNC),
    "module|loadex": ({"no_async_loading"}, set(), NO_ASYNC),
    "module|unload": ({"no_async_loading"}, set(), NO_ASYNC),
    "blmpop": (set(), {"noscript"}, "kevy refuses the multi-key blocking pops in scripts"),
    "bzmpop": (set(), {"noscript"}, "kevy refuses the multi-key blocking pops in scripts"),
    "lastsave": ({"loading", "stale"}, set(), "kevy's LASTSAVE is not marked as allowed "
                 "while loading"),
    "pubsub": (set(), {"pubsub", "loading", "stale"}, CONTAINER),
    "xgroup": (set(), {"write", "denyoom"}, CONTAINER),
    "xinfo": (set(), {"readonly"}, CONTAINER),
}
for _sub in ("addslots", "addslotsrange", "bumpepoch", "delslots", "delslotsrange",
             "failover", "flushslots", "forget", "meet", "replicate", "saveconfig",
             "set-config-epoch", "setslot"):
    FLAG_DIFFS["cluster|" + _sub] = ({"no_async_loading"}, set(), NO_ASYNC)

# Redis 7.0's order of COMMAND INFO flags.
FLAG_ORDER = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
              "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
              "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi",
              "movablekeys", "allow_busy"]

GETKEYS_CALLS = [
    "SET k v", "SET k v GET", "SET k v NX GET EX 10", "GET k", "SMOVE a b m",
    "LMOVE a b LEFT RIGHT", "BLMOVE a b LEFT LEFT 0", "SORT k", "SORT k STORE d",
    "SORT k BY w_* GET o_* STORE d", "SORT_RO k", "GEORADIUS k 0 0 1 km",
    "GEORADIUS k 0 0 1 km STORE d", "GEORADIUS k 0 0 1 km STOREDIST d",
    "GEORADIUSBYMEMBER k m 1 km STORE d", "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km",
    "XREADGROUP GROUP g c STREAMS s1 s2 0 0", "XREADGROUP GROUP g c COUNT 1 STREAMS s1 >",
    "XREAD STREAMS a b 0 0", "XREAD COUNT 2 BLOCK 0 STREAMS a 0",
    "EVAL s 2 a b x", "EVAL s 0", "EVAL s 5 a", "EVAL s x a", "EVAL_RO s 1 a", "FCALL f 1 a",
    "EVALSHA x 1 a", "ZUNIONSTORE d 2 a b", "ZUNIONSTORE d 2 a b WEIGHTS 1 2",
    "ZUNIONSTORE d x a", "ZINTERSTORE d 1 a", "ZDIFFSTORE d 2 a b", "ZUNION 2 a b",
    "ZINTERCARD 2 a b", "BITOP AND d a b", "BITOP NOT d a", "LCS a b", "OBJECT ENCODING k",
    "MEMORY USAGE k", "MEMORY USAGE k SAMPLES 5", "BITFIELD k GET u8 0",
    "BITFIELD k SET u8 0 1", "BITFIELD k OVERFLOW SAT INCRBY u8 0 1", "BITFIELD_RO k GET u8 0",
    "INCR k", "GETSET k v", "GETDEL k", "GETEX k", "PFCOUNT a b", "PFMERGE d a b",
    "XADD s * f v", "DEL a b c", "MSET a 1 b 2", "MGET a b", "RENAME a b", "COPY a b",
    "RPOPLPUSH a b", "LMPOP 2 a b LEFT", "BLMPOP 0 2 a b LEFT", "ZMPOP 1 a MIN",
    "BZMPOP 0 1 a MAX", "SINTERCARD 2 a b", "SINTERSTORE d a b", "ZRANGESTORE d s 0 -1",
    "LPOP k", "BLPOP a b 0", "EXPIRE k 10", "WATCH a b", "SSUBSCRIBE a b", "SPUBLISH ch m",
    "HSET h f v", "APPEND k v", "LPUSH l a", "SADD s a", "DUMP k", "RESTORE k 0 x",
    "XCLAIM s g c 0 1", "XGROUP CREATE s g $", "XINFO STREAM s", "XTRIM s MAXLEN 1",
    "SETNX k v", "LINSERT l BEFORE a b", "SPOP s", "ZREM z a", "HDEL h f", "PFADD p a",
    "SORT k STORE", "SET k", "PUBLISH ch m", "XREADGROUP GROUP g c STREAMS s1",
]


def tparse(raw):
    """One reply as a typed tree: (type byte, value) with the value a string
    of bytes, an int, or a list of trees; maps are lists of pairs.  Lossless:
    equal trees are equal bytes."""
    val, end = _tparse_at(raw, 0)
    K.check(end == len(raw), "one reply, no trailing bytes")
    return val


def _tparse_at(raw, at):
    e = raw.index(b"\r\n", at)
    t, line = raw[at:at + 1], raw[at + 1:e]
    at = e + 2
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return (t, None), at
        return (t, raw[at:at + n]), at + n + 2
    if t in (b"*", b"~", b">", b"%"):
        n = int(line)
        if n < 0:
            return (t, None), at
        items = []
        for _ in range(n * 2 if t == b"%" else n):
            v, at = _tparse_at(raw, at)
            items.append(v)
        if t == b"%":
            items = [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
        return (t, items), at
    return (t, line), at


def sort_subcommand_docs(tree):
    """COMMAND DOCS of one command: its subcommands map sorted by name."""
    t, pairs = tree                       # the reply: {name: docs}
    if t == b"*":                         # RESP2: [name, docs]
        pairs = [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    out = []
    for name, docs in pairs:
        dt, fields = docs
        if dt == b"*":                    # RESP2: a flat array of field, value
            fields = [(fields[i], fields[i + 1]) for i in range(0, len(fields), 2)]
        fixed = []
        for k, v in fields:
            if k[1] == b"subcommands":
                vt, subs = v
                if vt == b"*":
                    subs = [(subs[i], subs[i + 1]) for i in range(0, len(subs), 2)]
                v = (vt, sorted(subs, key=lambda p: p[0][1]))
            fixed.append((k, v))
        out.append((name, (dt, fixed)))
    return (t, out)


def flags_expected(name, redis_flags):
    """Redis's flag set of one entry turned into what kevy must show."""
    t, items = redis_flags
    if name not in FLAG_DIFFS:
        return redis_flags
    only_redis, only_kevy, _ = FLAG_DIFFS[name]
    have = {i[1].decode() for i in items}
    K.check(only_redis <= have and not (only_kevy & have),
            "%s: Redis's flags %s no longer differ as FLAG_DIFFS says" % (name, sorted(have)))
    want = (have - only_redis) | only_kevy
    return (t, [(b"+", f.encode()) for f in FLAG_ORDER if f in want])


def info_expected(entry):
    """Redis's COMMAND INFO entry as kevy must give it: listed flags
    differences applied, subcommands sorted by name (recursively)."""
    t, f = entry
    name = f[0][1].decode()
    f = list(f)
    f[2] = flags_expected(name, f[2])
    f[9] = info_sorted_subs(f[9], True)
    return (t, f)


def info_sorted_subs(subs, expect):
    """A subcommands array sorted by name; each entry as info_expected
    makes it (expect: Redis's side) or only its own subcommands sorted."""
    t, items = subs
    if expect:
        items = [info_expected(i) for i in items]
    else:
        items = [(i[0], list(i[1][:9]) + [info_sorted_subs(i[1][9], False)]) for i in items]
    return (t, sorted(items, key=lambda e: e[1][0][1]))


def compare_names(kc, rc):
    kevy_names = {n.decode() for n in K.parse(kc.call("COMMAND", "LIST"))}
    redis_names = {n.decode() for n in K.parse(rc.call("COMMAND", "LIST"))}
    only = kevy_names - redis_names
    K.check(only == set(KEVY_ONLY),
            "kevy-only commands %s, listed %s" % (sorted(only), sorted(KEVY_ONLY)))
    return sorted(kevy_names & redis_names)


def compare_docs_info(kc, rc, names, proto):
    same_docs = same_info = 0
    for name in names:
        k, r = kc.call("COMMAND", "DOCS", name), rc.call("COMMAND", "DOCS", name)
        if k == r:
            same_docs += 1
        else:
            K.check(sort_subcommand_docs(tparse(k)) == sort_subcommand_docs(tparse(r)),
                    "RESP%s COMMAND DOCS %s:\n redis %r\n kevy  %r" % (proto, name, r, k))
        k, r = kc.call("COMMAND", "INFO", name), rc.call("COMMAND", "INFO", name)
        if k == r:
            same_info += 1
            continue
        kt, rt = tparse(k), tparse(r)
        K.check(len(kt[1]) == len(rt[1]) == 1, "one COMMAND INFO entry for %s" % name)
        want = info_expected(rt[1][0])
        got = (kt[1][0][0], list(kt[1][0][1][:9]) + [info_sorted_subs(kt[1][0][1][9], False)])
        K.check(got == want, "RESP%s COMMAND INFO %s:\n redis %r\n kevy  %r" % (proto, name, r, k))
    K.log("RESP%s, %d commands compared: COMMAND DOCS byte-identical %d (the rest equal "
          "with subcommands sorted), COMMAND INFO byte-identical %d (the rest equal up "
          "to subcommand order and the flags in FLAG_DIFFS)"
          % (proto, len(names), same_docs, same_info))
    return same_docs, same_info


def compare_getkeys(kc, rc):
    for call in GETKEYS_CALLS:
        for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
            args = ["COMMAND", sub] + call.split()
            r, k = rc.call(*args), kc.call(*args)
            K.check(r == k, "COMMAND %s %s:\n redis %r\n kevy  %r" % (sub, call, r, k))
    K.log("COMMAND GETKEYS and GETKEYSANDFLAGS: %d calls identical" % len(GETKEYS_CALLS))


def main():
    K.require_redis()
    K.require_kevy()
    if K.target() == "redis":
        K.skip("the test compares kevy with redis-server itself")
    redis_srv = K.redis().start()
    kevy_srv = K.kevy("--threads", "2").start()
    try:
        kc, rc = kevy_srv.conn(), redis_srv.conn()
        info = K.parse(rc.call("INFO", "server"))
        if b"redis_version:7.0." not in info:
            K.skip("the reference is Redis 7.0; this redis-server is another version")
        names = compare_names(kc, rc)
        K.check(len(names) > 300, "most commands are compared (%d)" % len(names))
        compare_getkeys(kc, rc)
        docs2, info2 = compare_docs_info(kc, rc, names, 2)
        for c in (kc, rc):
            K.check(c.call("HELLO", "3")[:1] == b"%", "HELLO 3 answers a map")
        docs3, info3 = compare_docs_info(kc, rc, names, 3)
        compare_getkeys(kc, rc)
        # Every entry but the containers is byte-identical in DOCS; only
        # FLAG_DIFFS and containers may differ in INFO.
        containers = sum(1 for n in names if "|" not in n and
                         any(m.startswith(n + "|") for m in names))
        # (A container may also match by chance: Redis's order is random.)
        for docs in (docs2, docs3):
            K.check(docs >= len(names) - containers,
                    "COMMAND DOCS identical but for containers (%d, %d)" % (docs2, docs3))
        for info in (info2, info3):
            K.check(info >= len(names) - containers - len(FLAG_DIFFS),
                    "COMMAND INFO identical but for containers and FLAG_DIFFS (%d, %d)"
                    % (info2, info3))
        kc.close()
        rc.close()
    finally:
        redis_srv.stop()
        kevy_srv.stop()
    K.check(kevy_srv.exit_code == 0, "kevy exits cleanly (status %s)" % kevy_srv.exit_code)
    K.check(not kevy_srv.log_alarms(), "no sanitizer or assertion alarm in kevy's log")


if __name__ == "__main__":
    K.run_main(main)
