#!/usr/bin/python3
"""RESP3 differential test: the same commands, on connections that said
HELLO 3, to redis-server 7.0 and to kevy-server (3 shards, so most keys are
forwarded to another shard and multi-key commands run as cross-shard txns),
replies compared byte for byte.

Covers HELLO (2, 3, NOPROTO, AUTH/SETNAME errors), every reply whose type
changes in RESP3 (maps: HGETALL, CONFIG GET, LCS IDX, COMMAND DOCS; sets:
SMEMBERS, SINTER/SUNION/SDIFF, SPOP with a count, COMMAND INFO's flags;
doubles: ZSCORE, ZMSCORE, ZINCRBY, ZADD INCR, GEOPOS/GEOSEARCH WITHCOORD;
pairs nested as arrays: ZRANGE/ZUNION/ZRANDMEMBER WITHSCORES, HRANDFIELD
WITHVALUES, ZPOPMIN with a count, ZMPOP; nulls `_` for every null bulk and
null array, EXEC after a failed WATCH, blocking-pop timeouts; verbatim
strings: INFO, CLIENT INFO/LIST; DEBUG PROTOCOL's every type), and pub/sub
in RESP3: confirmations and messages are push frames and a subscribed
RESP3 client runs ordinary commands.

What is not compared byte for byte, and how it is compared instead:
  * replies whose order follows Redis's hash tables (SMEMBERS and the set
    algebra of big sets, HGETALL of big hashes): as typed values, sets and
    maps as unordered collections, the type bytes (`~`, `%`) still checked;
  * HELLO's id, INFO's and CLIENT INFO's text, COMMAND INFO/DOCS contents
    (kevy derives them: docs/compatibility.md): by their RESP3 type and
    frame only;
  * HRANDFIELD/ZRANDMEMBER/SPOP draws: structure (count, nesting, types)
    against the same command's reply shape, membership against the source.

And the RESP2 side: a RESP2 connection to the same kevy still gets RESP2
bytes after a RESP3 one changed protocol, and HELLO 2 switches back.
"""

import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

# ---------------------------------------------------------------- RESP3 values


def parse3(raw):
    """Parse one RESP3 reply into (type byte, value): aggregates hold lists
    of parsed children (a map: a list of (key, value) pairs)."""
    val, end = _parse3_at(raw, 0)
    if end != len(raw):
        raise ValueError("trailing bytes after reply: %r" % raw[end:])
    return val


def _parse3_at(raw, at):
    e = raw.index(b"\r\n", at)
    t, line = raw[at:at + 1], raw[at + 1:e]
    at = e + 2
    if t in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
        return (t, line), at
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return (t, None), at
        return (t, raw[at:at + n]), at + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return (t, None), at
        if t in (b"%", b"|"):
            items = []
            for _ in range(n):
                k, at = _parse3_at(raw, at)
                v, at = _parse3_at(raw, at)
                items.append((k, v))
            return (t, items), at
        items = []
        for _ in range(n):
            v, at = _parse3_at(raw, at)
            items.append(v)
        return (t, items), at
    raise ValueError("not a RESP3 reply: %r" % raw[:64])


def canon(v):
    """A value with sets and maps made order-free (for unordered replies)."""
    t, x = v
    if x is None or not isinstance(x, list):
        return v
    if t in (b"~",):
        return (t, tuple(sorted(repr(canon(i)) for i in x)))
    if t in (b"%", b"|"):
        return (t, tuple(sorted(repr((canon(k), canon(w))) for k, w in x)))
    return (t, tuple(canon(i) for i in x))


def shape(v):
    """Types and lengths only (for non-deterministic contents)."""
    t, x = v
    if isinstance(x, list):
        if t in (b"%", b"|"):
            return (t, len(x))
        return (t, tuple(shape(i) for i in x))
    return t


# ---------------------------------------------------------------- the script

EXACT, UNORDERED, SHAPE, TYPE = "exact", "unordered", "shape", "type"

BIG = 300   # members: past the listpack/intset limits, so Redis uses hashtables


def script():
    """(mode, command) pairs, run in order on one connection per server."""
    s = []

    def add(mode, *cmd):
        s.append((mode, cmd))

    def ex(*cmd):
        add(EXACT, *cmd)

    # strings and generic nulls
    ex("SET", "s1", "hello")
    ex("GET", "s1")
    ex("GET", "nokey")
    ex("MGET", "s1", "nokey", "s2")
    ex("GETDEL", "nokey")
    ex("INCRBYFLOAT", "f1", "1.5")
    ex("INCRBYFLOAT", "f1", "0.1")
    ex("SET", "l1", "ohmytext")
    ex("SET", "l2", "mynewtext")
    ex("LCS", "l1", "l2")
    ex("LCS", "l1", "l2", "IDX")
    ex("LCS", "l1", "l2", "IDX", "MINMATCHLEN", "2", "WITHMATCHLEN")
    ex("LCS", "l1", "l2", "LEN")
    ex("SET", "s1", "v", "NX", "GET")
    ex("SET", "snew", "v", "XX")
    # streams: XREAD/XREADGROUP are a map of name -> entries in RESP3
    ex("XADD", "xs1", "1-1", "f", "v1")
    ex("XADD", "xs2", "1-1", "g", "v2")
    ex("XREAD", "COUNT", "5", "STREAMS", "xs1", "xs2", "0", "0")
    ex("XREAD", "STREAMS", "xs1", "xs2", "9-0", "9-0")
    ex("XGROUP", "CREATE", "xs1", "grp", "0")
    ex("XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xs1", ">")
    ex("XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xs1", "0")
    ex("XREADGROUP", "GROUP", "grp", "c1", "STREAMS", "xs1", ">")
    ex("XINFO", "STREAM", "xs1")
    ex("XINFO", "GROUPS", "xs1")
    add(SHAPE, "XINFO", "CONSUMERS", "xs1", "grp")       # idle times
    add(SHAPE, "XINFO", "STREAM", "xs1", "FULL")         # delivery and seen times
    ex("XPENDING", "xs1", "grp")
    # functions: maps, and a set of flags
    # (one function per library: Redis lists a library's functions in its
    # hash table's order)
    ex("FUNCTION", "LOAD", "REPLACE", "#!lua name=r3lib\nredis.register_function{function_name="
       "'r3f', callback=function() return 1 end, flags={'no-writes'}}")
    ex("FUNCTION", "LIST", "LIBRARYNAME", "r3lib")
    ex("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "r3lib")
    ex("FUNCTION", "STATS")
    ex("FUNCTION", "DELETE", "r3lib")
    add(SHAPE, "RANDOMKEY")
    ex("DUMP", "nokey")
    ex("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5")
    ex("OBJECT", "ENCODING", "nokey")
    # hashes
    ex("HSET", "h1", "a", "1", "b", "2", "c", "3")
    ex("HGETALL", "h1")
    ex("HGETALL", "nokey")
    ex("HGET", "h1", "zz")
    ex("HMGET", "h1", "a", "zz")
    ex("HKEYS", "h1")
    ex("HVALS", "h1")
    ex("HINCRBYFLOAT", "h1", "a", "0.5")
    ex("HRANDFIELD", "nokey")
    ex("HRANDFIELD", "nokey", "3", "WITHVALUES")
    add(SHAPE, "HRANDFIELD", "h1", "2", "WITHVALUES")
    add(SHAPE, "HRANDFIELD", "h1", "-5", "WITHVALUES")
    add(SHAPE, "HRANDFIELD", "h1", "5", "WITHVALUES")
    add(SHAPE, "HRANDFIELD", "h1", "2")
    ex("HSCAN", "h1", "0")
    ex("HSET", "hbig", *[x for i in range(BIG) for x in ("f%d" % i, str(i))])
    add(UNORDERED, "HGETALL", "hbig")
    # sets
    ex("SADD", "st1", "a", "b", "c", "d")
    ex("SADD", "st2", "c", "d", "e")
    ex("SADD", "sti", "1", "2", "3")
    ex("SMEMBERS", "sti")
    add(UNORDERED, "SMEMBERS", "st1")
    ex("SMEMBERS", "nokey")
    add(UNORDERED, "SINTER", "st1", "st2")
    ex("SINTER", "st1", "nokey")
    add(UNORDERED, "SUNION", "st1", "st2")
    add(UNORDERED, "SDIFF", "st1", "st2")
    ex("SDIFF", "nokey", "st1")
    ex("SISMEMBER", "st1", "a")
    ex("SMISMEMBER", "st1", "a", "z")
    ex("SPOP", "nokey")
    ex("SPOP", "nokey", "2")
    ex("SPOP", "st2", "0")
    add(SHAPE, "SPOP", "st2", "1")
    add(SHAPE, "SPOP", "st2", "10")
    ex("SRANDMEMBER", "nokey")
    ex("SRANDMEMBER", "nokey", "2")
    add(SHAPE, "SRANDMEMBER", "st1", "2")
    ex("SADD", "sbig", *["m%d" % i for i in range(BIG)])
    add(UNORDERED, "SMEMBERS", "sbig")
    add(UNORDERED, "SUNION", "sbig", "st1")
    # sorted sets
    ex("ZADD", "z1", "1", "a", "2.5", "b", "-3", "c", "1e20", "d", "0.1", "e")
    ex("ZADD", "z1", "inf", "pinf", "-inf", "ninf")
    ex("ZSCORE", "z1", "b")
    ex("ZSCORE", "z1", "e")
    ex("ZSCORE", "z1", "pinf")
    ex("ZSCORE", "z1", "ninf")
    ex("ZSCORE", "z1", "nomember")
    ex("ZSCORE", "nokey", "a")
    ex("ZMSCORE", "z1", "a", "nomember", "d")
    ex("ZINCRBY", "z1", "1.5", "a")
    ex("ZADD", "z1", "INCR", "2", "c")
    ex("ZADD", "z1", "NX", "INCR", "2", "c")
    ex("ZRANGE", "z1", "0", "-1")
    ex("ZRANGE", "z1", "0", "-1", "WITHSCORES")
    ex("ZRANGE", "z1", "0", "2", "REV", "WITHSCORES")
    ex("ZRANGE", "z1", "(0", "+inf", "BYSCORE", "LIMIT", "0", "2", "WITHSCORES")
    ex("ZRANGEBYSCORE", "z1", "-inf", "+inf", "WITHSCORES")
    ex("ZREVRANGEBYSCORE", "z1", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "3")
    ex("ZREVRANGE", "z1", "0", "1", "WITHSCORES")
    ex("ZRANGE", "nokey", "0", "-1", "WITHSCORES")
    ex("ZRANK", "z1", "b")
    ex("ZRANK", "z1", "nomember")
    ex("ZSCAN", "z1", "0")
    ex("ZADD", "z2", "1", "a", "2", "x", "3", "y")
    ex("ZUNION", "2", "z1", "z2", "WITHSCORES")
    ex("ZINTER", "2", "z1", "z2", "WITHSCORES")
    ex("ZDIFF", "2", "z1", "z2", "WITHSCORES")
    ex("ZUNION", "2", "z1", "z2")
    ex("ZPOPMIN", "z2")
    ex("ZPOPMIN", "z2", "1")
    ex("ZPOPMAX", "z2", "5")
    ex("ZPOPMIN", "nokey")
    ex("ZPOPMIN", "nokey", "2")
    ex("ZADD", "z3", "1", "a", "2", "b", "3", "c")
    ex("ZMPOP", "2", "nokey", "z3", "MIN", "COUNT", "2")
    ex("ZMPOP", "1", "nokey", "MAX")
    ex("ZRANDMEMBER", "nokey")
    ex("ZRANDMEMBER", "nokey", "2", "WITHSCORES")
    ex("ZRANDMEMBER", "z3", "1", "WITHSCORES")
    ex("ZRANDMEMBER", "z3", "5", "WITHSCORES")
    add(SHAPE, "ZRANDMEMBER", "z1", "-4", "WITHSCORES")
    add(SHAPE, "ZRANDMEMBER", "z1", "3", "WITHSCORES")
    ex("BZPOPMIN", "nokey", "0.01")
    ex("BZMPOP", "0.01", "1", "nokey", "MIN")
    ex("ZADD", "z4", "7.25", "m")
    ex("BZPOPMAX", "nokey", "z4", "1")
    # lists
    ex("RPUSH", "li", "a", "b", "c")
    ex("LPOP", "nokey")
    ex("LPOP", "nokey", "2")
    ex("LPOS", "li", "zz")
    ex("LMPOP", "1", "nokey", "LEFT")
    ex("LMPOP", "2", "nokey", "li", "RIGHT", "COUNT", "2")
    ex("BLPOP", "nokey", "0.01")
    ex("BLMPOP", "0.01", "1", "nokey", "LEFT")
    ex("BLMOVE", "nokey", "li2", "LEFT", "LEFT", "0.01")
    # geo
    ex("GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
       "Catania")
    ex("GEOPOS", "g", "Palermo", "nomember", "Catania")
    ex("GEODIST", "g", "Palermo", "Catania", "km")
    ex("GEODIST", "g", "Palermo", "nomember")
    ex("GEOHASH", "g", "Palermo")
    ex("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC",
       "WITHCOORD", "WITHDIST", "WITHHASH")
    ex("GEORADIUS", "g", "15", "37", "200", "km", "WITHCOORD", "ASC")
    # cross-shard commands (several keys: a txn over several shards)
    ex("MSET", "{a}1", "x", "{b}1", "y", "{c}1", "z")
    ex("MGET", "{a}1", "{b}1", "nokey", "{c}1")
    ex("SADD", "{a}s", "1", "2")
    ex("SADD", "{b}s", "2", "3")
    add(UNORDERED, "SUNION", "{a}s", "{b}s")
    ex("ZADD", "{a}z", "1.5", "p")
    ex("ZADD", "{b}z", "2.25", "p", "1", "q")
    ex("ZUNION", "2", "{a}z", "{b}z", "WITHSCORES")
    ex("ZUNIONSTORE", "{c}z", "2", "{a}z", "{b}z")
    ex("ZRANGE", "{c}z", "0", "-1", "WITHSCORES")
    # transactions
    ex("MULTI")
    ex("ZSCORE", "z1", "a")
    ex("HGETALL", "h1")
    ex("GET", "nokey")
    ex("SMEMBERS", "sti")
    ex("EXEC")
    ex("EXEC")
    # sorting
    ex("SORT", "li", "ALPHA", "GET", "nokey*")
    # server and connection
    ex("CONFIG", "GET", "maxmemory-policy")
    ex("CONFIG", "GET", "maxmemory-polic?")
    ex("CONFIG", "GET", "nothing-like-this")
    ex("CLIENT", "GETNAME")
    ex("CLIENT", "SETNAME", "r3")
    ex("CLIENT", "GETNAME")
    ex("ECHO", "x")
    ex("PING")
    add(TYPE, "INFO", "server")
    add(TYPE, "CLIENT", "INFO")
    add(TYPE, "CLIENT", "LIST")
    add(TYPE, "COMMAND", "DOCS", "get")
    add(TYPE, "COMMAND", "INFO", "get")
    # GET's entry is Redis's in content (DOCS has no argument trees:
    # docs/config.md), so every field's RESP3 type is compared too.
    ex("COMMAND", "INFO", "get")
    ex("COMMAND", "INFO", "nosuchcommand")
    ex("COMMAND", "GETKEYSANDFLAGS", "get", "k")
    for t in ("string", "integer", "double", "bignum", "null", "array", "set", "map",
              "attrib", "push", "true", "false", "verbatim", "nosuchtype"):
        ex("DEBUG", "PROTOCOL", t)
    # scripts: redis.setresp(3) hands RESP3 replies to Lua, and the script's
    # reply follows the client's protocol (docs/scripting.md)
    ex("HSET", "sh{x}", "field", "value")
    ex("ZADD", "sz{x}", "1.5", "m")
    ex("SADD", "ss{x}", "a")
    for body in ("return redis.call('hgetall', KEYS[1])",
                 "return redis.call('hgetall', 'nokey{x}')",
                 "return redis.call('get', 'nokey{x}')",
                 "return type(redis.call('get', 'nokey{x}'))",
                 "return redis.call('zscore', 'sz{x}', 'm')",
                 "return redis.call('zscore', 'sz{x}', 'm')['double']",
                 "return redis.call('smembers', 'ss{x}')",
                 "return redis.call('exists', KEYS[1])",
                 "return true", "return false"):
        for resp in (2, 3):
            ex("EVAL", "redis.setresp(%d); %s" % (resp, body), "1", "sh{x}")
    for body in ("return false", "return nil", "return {double=3.5}",
                 "return {big_number='123\\r\\n123'}",
                 "return {verbatim_string={format='txt',string='hi'}}",
                 "return {set={a=true}}", "return {map={a=1}}"):
        ex("EVAL", body, "0")
    return s


def run_script(port, steps):
    out = []
    with K.RawConn(port) as c:
        hello = parse3(c.call("HELLO", "3"))
        K.check(hello[0] == b"%", "HELLO 3 replies a map, got %r" % (hello,))
        for mode, cmd in steps:
            raw = c.call(*cmd)
            if cmd[:2] == ("DEBUG", "PROTOCOL") and cmd[2] in ("attrib", "push"):
                # A push or attribute frame, then a plain reply.
                if raw[:1] == b">":
                    raw += c.read_reply()
            out.append(raw)
    return out


def compare_value(mode, cmd, want, got, k_members=None):
    what = "%s\n redis %r\n kevy  %r" % (" ".join(cmd), want[:600], got[:600])
    if mode == EXACT:
        K.check(want == got, "RESP3 bytes differ: " + what)
        return
    w, g = parse3(want), parse3(got)
    if mode == UNORDERED:
        K.check(canon(w) == canon(g), "RESP3 values differ: " + what)
    elif mode == SHAPE:
        K.check(shape(w) == shape(g), "RESP3 shapes differ: " + what)
    elif mode == TYPE:
        K.check(w[0] == g[0], "RESP3 types differ: " + what)
        if w[0] == b"=":
            K.check(g[1].startswith(b"txt:"), "verbatim format txt: %r" % got[:80])


def test_script():
    steps = script()
    redis_srv = K.redis("--enable-debug-command", "yes").start()
    kevy_srv = K.kevy("--threads", "3").start()
    try:
        want = run_script(redis_srv.port, steps)
        got = run_script(kevy_srv.port, steps)
    finally:
        redis_srv.stop()
        kevy_srv.stop()
    K.check(len(want) == len(got) == len(steps), "one reply per command")
    failures = []
    for (mode, cmd), w, g in zip(steps, want, got):
        try:
            compare_value(mode, cmd, w, g)
        except K.TestFailure as e:
            failures.append(str(e))
    for f in failures[:40]:
        K.log(f)
    K.check(not failures, "%d of %d commands differ (above)" % (len(failures), len(steps)))
    K.check(kevy_srv.exit_code == 0, "kevy exits cleanly (status %s)" % kevy_srv.exit_code)
    K.log("resp3 script: %d commands compared" % len(steps))


def hello_cases(port):
    """HELLO's forms and errors, each on a fresh connection; the id is masked."""
    cases = [("HELLO", "3"), ("HELLO",), ("HELLO", "2"), ("HELLO", "4"), ("HELLO", "1"),
             ("HELLO", "x"), ("HELLO", "3", "SETNAME", "a b"),
             ("HELLO", "3", "AUTH", "default", "pw"), ("HELLO", "3", "BOGUS"),
             ("HELLO", "3", "SETNAME", "n1")]
    out = []
    for cmd in cases:
        with K.RawConn(port) as c:
            r = c.call(*cmd)
            # The proto a later plain HELLO reports, and the type of a null.
            again = c.call("HELLO")
            null = c.call("GET", "nokey")
        out.append([_mask_id(r), _mask_id(again), null])
    # HELLO 3 then HELLO 2 on one connection: back to RESP2 bytes.
    with K.RawConn(port) as c:
        c.call("HELLO", "3")
        out.append([c.call("GET", "nokey"), _mask_id(c.call("HELLO", "2")),
                    c.call("GET", "nokey"), c.call("HGETALL", "nokey")])
    return out


def _mask_id(raw):
    i = raw.find(b"$2\r\nid\r\n:")
    if i < 0:
        return raw
    j = raw.index(b"\r\n", i + 9)
    return raw[:i + 9] + b"ID" + raw[j:]


def test_hello():
    K.compare_with_redis(hello_cases, ["case%d" % i for i in range(11)], what="HELLO case")


def test_pubsub_push():
    """Confirmations and messages are pushes; a RESP3 subscriber runs other
    commands; RESP2 subscribers are unchanged (checked on kevy and Redis)."""
    def run(port):
        out = []
        with K.RawConn(port) as sub, K.RawConn(port) as pub, K.RawConn(port) as sub2:
            sub.call("HELLO", "3")
            sub.send(K.encode("SUBSCRIBE", "ch1", "ch2"))
            out += sub.read_replies(2)
            out.append(sub.call("PSUBSCRIBE", "p*"))
            out.append(sub.call("GET", "nokey"))      # allowed in RESP3
            out.append(sub.call("PING"))              # a plain PONG in RESP3
            out.append(sub.call("PING", "x"))
            out.append(sub2.call("SUBSCRIBE", "ch1"))   # RESP2 subscriber
            out.append(sub2.call("PING"))
            out.append(sub2.call("GET", "nokey"))
            out.append(pub.call("PUBLISH", "ch1", "hi"))
            out.append(sub.read_reply())               # message (p* does not match)
            out.append(sub2.read_reply())
            out.append(pub.call("PUBLISH", "p2", "there"))
            out.append(sub.read_reply())
            out.append(sub.call("UNSUBSCRIBE", "ch2"))
            sub.send(K.encode("UNSUBSCRIBE"))
            out.append(sub.read_reply())
            out.append(sub.call("PUNSUBSCRIBE"))
            out.append(sub.call("PUNSUBSCRIBE"))
        return out
    K.compare_with_redis(run, ["step%d" % i for i in range(18)], kevy_args=("--threads", "3"),
                         what="pub/sub step")


def test_blocking():
    """A RESP3 client blocked on another shard's key gets its served reply
    (double score) and its timeout (`_`) in RESP3."""
    def run(port):
        out = []
        with K.RawConn(port) as b, K.RawConn(port) as w:
            b.call("HELLO", "3")
            for key in ("bz1", "bz2", "bz3"):
                b.send(K.encode("BZPOPMIN", key, "5"))
                time.sleep(0.1)
                out.append(w.call("ZADD", key, "1.5", "m"))
                out.append(b.read_reply())
            b.send(K.encode("BZMPOP", "5", "1", "bz4", "MAX", "COUNT", "3"))
            time.sleep(0.1)
            out.append(w.call("ZADD", "bz4", "1", "a", "2.5", "b"))
            out.append(b.read_reply())
            b.send(K.encode("BLPOP", "bl1", "5"))
            time.sleep(0.1)
            out.append(w.call("RPUSH", "bl1", "x"))
            out.append(b.read_reply())
            out.append(b.call("BLPOP", "bl2", "0.05"))
            out.append(b.call("BZPOPMIN", "bz5", "0.05"))
            # A blocked XREAD served by an XADD: a map in RESP3 too.
            b.send(K.encode("XREAD", "BLOCK", "5000", "STREAMS", "bx1", "bx2", "$", "$"))
            time.sleep(0.1)
            out.append(w.call("XADD", "bx2", "5-1", "f", "v"))
            out.append(b.read_reply())
            out.append(b.call("XREAD", "BLOCK", "50", "STREAMS", "bx1", "$"))
        return out
    K.compare_with_redis(run, ["step%d" % i for i in range(15)], kevy_args=("--threads", "3"),
                         what="blocking step")


def test_watch_and_resp2_unchanged():
    """EXEC after a failed WATCH is `_` in RESP3 and `*-1` in RESP2; a RESP2
    connection next to RESP3 ones keeps RESP2 bytes."""
    def run(port):
        out = []
        with K.RawConn(port) as a, K.RawConn(port) as other, K.RawConn(port) as r2:
            a.call("HELLO", "3")
            for conn in (a, r2):
                out.append(conn.call("WATCH", "wk"))
                out.append(other.call("SET", "wk", "1"))
                out.append(conn.call("MULTI"))
                out.append(conn.call("GET", "wk"))
                out.append(conn.call("EXEC"))
            out.append(r2.call("ZADD", "zz", "1.5", "a"))
            out.append(r2.call("ZSCORE", "zz", "a"))
            out.append(a.call("ZSCORE", "zz", "a"))
            out.append(r2.call("HSET", "hh", "f", "v"))
            out.append(r2.call("HGETALL", "hh"))
            out.append(a.call("HGETALL", "hh"))
            out.append(r2.call("GET", "nokey"))
        return out
    K.compare_with_redis(run, ["step%d" % i for i in range(17)], kevy_args=("--threads", "3"),
                         what="watch step")


def main():
    K.require_redis()
    K.require_kevy()
    test_hello()
    test_script()
    test_pubsub_push()
    test_blocking()
    test_watch_and_resp2_unchanged()


if __name__ == "__main__":
    K.run_main(main)
