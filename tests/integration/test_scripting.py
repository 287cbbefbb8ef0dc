#!/usr/bin/python3
"""Lua scripting and functions: Redis's replies, atomicity across shards,
durability of a script's effects (docs/scripting.md).

1. Differential: EVAL/EVALSHA/SCRIPT/FUNCTION/FCALL sequences (conversions
   both ways, errors and their texts, the sandbox, shebang flags, read-only
   scripts) sent to redis-server and to kevy (4 shards); replies compared
   byte for byte.  Every key a script touches is declared in KEYS.
2. Undeclared keys: with 2 shards a script touching a key of a shard it
   does not hold fails with kevy's error; lua-allow-undeclared-keys yes and
   the allow-cross-slot-keys flag make it hold every shard and succeed.
   The same for scripts on a replica whose link is down (REPLICAOF a dead
   port), replica-serve-stale-data no and yes: MASTERDOWN for a script
   without allow-stale, READONLY up front for one without no-writes, an
   allow-stale script's calls of commands not served stale refused; EVAL,
   EVALSHA and FCALL.
3. The script cache is per server: SCRIPT LOAD on a connection of one shard
   serves EVALSHA on the other; SCRIPT FLUSH from the other empties both.
   It is bounded: of 600 scripts EVAL'd from both shards the 100 oldest
   are gone (SCRIPT EXISTS 0, EVALSHA NOSCRIPT on either shard), the last
   500 and every SCRIPT LOAD'ed one stay, evicted_scripts counts 100,
   number_of_cached_scripts is 500 + loaded; eviction is LRU; 3,000
   generated scripts leave the count and the shards' Lua heaps bounded.
   SCRIPT DEBUG YES/SYNC are refused with kevy's reason.
4. Atomic across shards: writers EVAL "INCR a; INCR b; INCR c" with a, b, c
   on different shards while readers MGET them; they never differ.
5. Durable: under appendfsync always an acknowledged EVAL that wrote keys on
   both shards survives kill -9; the AOF holds the effects (the SET it ran),
   never the script's source; a script that wrote then failed keeps its write.
"""

import glob
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

LIB = ("#!lua name=mylib\n"
       "redis.register_function('setit', function(keys, args) "
       "return redis.call('set', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='getit', callback=function(keys, args) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n")

STRUCT_CASES = [
    "return struct.pack('>i2', 258)",
    "return {struct.unpack('>i2', struct.pack('>i2', -2))}",
    "return {struct.unpack('<I4 b', struct.pack('<I4 b', 4000000000, -5))}",
    "return struct.size('!4 b i4 d')",
    "return struct.pack('!4 b i4', 1, 2)",
    "return {struct.unpack('s', 'abc\\0def')}",
    "return {struct.unpack('i1 c0', struct.pack('i1 c0', 3, 'xyz'))}",
    "return struct.pack('y', 1)",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.unpack('i4', 'ab')",
    "return struct.pack('c5', 'ab')",
    "return {struct.unpack('d f', struct.pack('>d >f', 1.5, 2.25))}",
    "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
    "return struct.unpack('i4', 'abcdabcd', -1)",
    "return struct.unpack('i4', 'abcdabcd', 0)",
    "return struct.pack('i40', 1)",
    "return struct.pack('!3 i', 1)",
    "return {struct.unpack('i16', string.rep(string.char(255), 16))}",
    "return struct.pack('=i', 1)",
    "struct.x = 1",
    "return {struct.unpack('x b', 'ab')}",
    "return {struct.unpack('>H <H l L T', struct.pack('>H <H l L T', 65535, 1, -7, 7, 9))}",
    "return struct.pack('!8 b d', 1, 0.5)",
    "return struct.unpack('c0', 'a')",
]

SEQUENCES = [["EVAL", code, "0"] for code in STRUCT_CASES] + [
    # Lua -> RESP
    ["EVAL", "return 1", "0"],
    ["EVAL", "return 3.99", "0"],
    ["EVAL", "return -2.5", "0"],
    ["EVAL", "return 'x'", "0"],
    ["EVAL", "return true", "0"],
    ["EVAL", "return false", "0"],
    ["EVAL", "return nil", "0"],
    ["EVAL", "return {1,2,3,'ciao',{1,2}}", "0"],
    ["EVAL", "return {1,2,nil,4}", "0"],
    ["EVAL", "return {err='My Error'}", "0"],
    ["EVAL", "return {ok='FINE'}", "0"],
    ["EVAL", "return redis.error_reply('My Error')", "0"],
    ["EVAL", "return redis.error_reply('-CODE with code')", "0"],
    ["EVAL", "return redis.status_reply('STATUS')", "0"],
    ["EVAL", "return {1,{err='inner'},3}", "0"],
    ["EVAL", "return KEYS", "2", "k1", "k2", "a1"],
    ["EVAL", "return ARGV", "1", "k1", "a1", "a2"],
    # RESP -> Lua
    ["EVAL", "redis.call('set',KEYS[1],'bar'); return redis.call('get',KEYS[1])", "1", "s:foo"],
    ["EVAL", "return redis.call('get',KEYS[1])", "1", "s:nokey"],
    ["EVAL", "return type(redis.call('get',KEYS[1]))", "1", "s:nokey"],
    ["EVAL", "return redis.call('incr',KEYS[1])", "1", "s:n"],
    ["EVAL", "return redis.call('rpush',KEYS[1],'a','b','c')", "1", "s:l"],
    ["EVAL", "return redis.call('lrange',KEYS[1],0,-1)", "1", "s:l"],
    ["EVAL", "return redis.call('ping')", "0"],
    ["EVAL", "return type(redis.call('ping'))", "0"],
    ["EVAL", "return redis.call('set',KEYS[1],3.99)", "1", "s:num"],
    ["EVAL", "return redis.call('get',KEYS[1])", "1", "s:num"],
    ["EVAL", "return redis.pcall('incr',KEYS[1])", "1", "s:foo"],
    ["EVAL", "local r = redis.pcall('incr',KEYS[1]); return r['err']", "1", "s:foo"],
    ["EVAL", "return {pcall(function() error('x') end)}", "0"],
    # Errors
    ["EVAL", "return redis.call('incr',KEYS[1])", "1", "s:foo"],
    ["EVAL", "return redis.call('nosuchcommand')", "0"],
    ["EVAL", "return redis.call('get')", "0"],
    ["EVAL", "return redis.call()", "0"],
    ["EVAL", "return redis.call({})", "0"],
    ["EVAL", "return redis.call('multi')", "0"],
    ["EVAL", "error({err='XYZ custom'})", "0"],
    ["EVAL", "error('plain')", "0"],
    ["EVAL", "retur 1", "0"],
    ["EVAL", "return 1", "-1"],
    ["EVAL", "return 1", "3", "a"],
    ["EVAL", "return 1", "x"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["EVALSHA", "short", "0"],
    # Sandbox
    ["EVAL", "return a", "0"],
    ["EVAL", "a=10", "0"],
    ["EVAL", "setmetatable(_G, {})", "0"],
    ["EVAL", "local g = getmetatable(_G); g.__index = {}", "0"],
    ["EVAL", "redis.call = function() return 1 end", "0"],
    ["EVAL", "cjson.encode = function() return 1 end", "0"],
    ["EVAL", "loadfile('x')", "0"],
    ["EVAL", "return os.time()", "0"],
    ["EVAL", "return io", "0"],
    ["EVAL", "return require('x')", "0"],
    ["EVAL", "return loadstring(string.dump(function() return 1 end))()", "0"],
    ["EVAL", "return cjson.encode({1,2,3})", "0"],
    ["EVAL", "return cjson.decode('[1,2,{\"a\":3}]')[3].a", "0"],
    ["EVAL", "return bit.band(7,3)", "0"],
    ["EVAL", "local e = cmsgpack.pack(0.1, -1099511627776, 'abc', {1,2}, {a=true}) "
             "local h = '' for i = 1, #e do h = h .. string.format('%02x', string.byte(e, i)) end "
             "return h", "0"],
    ["EVAL", "local a, b, c = cmsgpack.unpack(cmsgpack.pack(1.5, string.rep('x', 70000), {1,{2}})) "
             "return {tostring(a), #b, c[2][1]}", "0"],
    ["EVAL", "local o, v = cmsgpack.unpack_one(cmsgpack.pack(7, 8), 0) return {o, v}", "0"],
    ["EVAL", "return cmsgpack.unpack(string.char(0xd9, 5))", "0"],
    ["EVAL", "cmsgpack.pack = 1", "0"],
    ["EVAL", "return bit.tohex(65535)", "0"],
    ["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
    ["EVAL", "return {math.random(), math.random(100)}", "0"],
    ["EVAL", "return redis.REDIS_VERSION", "0"],
    ["EVAL", "redis.setresp(3); return 1", "0"],
    ["EVAL", "redis.setresp(4)", "0"],
    ["EVAL", "redis.log(redis.LOG_WARNING, 'from a script'); return 1", "0"],
    ["EVAL", "redis.set_repl(redis.REPL_ALL); redis.replicate_commands(); return 1", "0"],
    # Flags and read-only scripts
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set',KEYS[1],'y')", "1", "s:ro"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "s:foo"],
    ["EVAL", "#!lua flags=bad\nreturn 1", "0"],
    ["EVAL", "#!lua foo=bar\nreturn 1", "0"],
    ["EVAL", "#!python\nreturn 1", "0"],
    ["EVAL", "#!lua", "0"],
    ["EVAL_RO", "return redis.call('set',KEYS[1],'y')", "1", "s:ro"],
    ["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "s:foo"],
    ["EVAL_RO", "#!lua\nreturn 1", "0"],
    # A script that wrote then failed keeps its write.
    ["EVAL", "redis.call('set',KEYS[1],'kept'); error('after')", "1", "s:kept"],
    ["GET", "s:kept"],
    # Blocking commands in a script: pops answer as their twins, XREAD and
    # XREADGROUP with BLOCK are refused (before the timeout is read).
    ["EVAL", "return redis.call('BLPOP',KEYS[1],0)", "1", "s:bl"],
    ["EVAL", "return redis.call('XREAD','BLOCK','0','STREAMS',KEYS[1],'$')", "1", "s:xs"],
    ["EVAL", "return redis.pcall('xReadGroup','GROUP','g','c','BLOCK','x','STREAMS',KEYS[1],'>')",
     "1", "s:xs"],
    ["EVAL", "return redis.call('XREAD','COUNT','1','STREAMS',KEYS[1],'0')", "1", "s:xs"],
    # SCRIPT
    ["SCRIPT", "LOAD", "return 'loaded'"],
    ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
    ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffff"],
    ["SCRIPT", "LOAD", "retur 1"],
    ["SCRIPT", "FLUSH", "bad"],
    ["SCRIPT", "FLUSH", "ASYNC"],
    ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    ["SCRIPT", "KILL"],
    ["SCRIPT", "NOPE"],
    # SCRIPT DEBUG: NO as Redis answers it, and Redis's argument errors
    # (YES and SYNC are refused: no debugger, see check_script_debug).
    ["SCRIPT", "DEBUG", "NO"],
    ["SCRIPT", "DEBUG", "no"],
    ["SCRIPT", "DEBUG", "maybe"],
    ["SCRIPT", "DEBUG"],
    ["SCRIPT", "DEBUG", "no", "extra"],
    # FUNCTION / FCALL
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "LOAD", LIB],
    ["FCALL", "setit", "1", "f:k", "v1"],
    ["FCALL_RO", "getit", "1", "f:k"],
    ["FCALL_RO", "setit", "1", "f:k", "v2"],
    ["FCALL", "nosuch", "0"],
    ["FCALL", "setit", "x"],
    ["FUNCTION", "LOAD", "no shebang"],
    ["FUNCTION", "LOAD", "#!lua name=l2\nredis.call('ping')"],
    ["FUNCTION", "LOAD", "#!lua name=l2\nlocal a = 1"],
    ["FUNCTION", "LOAD", "#!lua name=l2\nredis.register_function('setit', function() end)"],
    ["FUNCTION", "LOAD", "#!js name=l2\nx"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"],
    ["FUNCTION", "STATS"],
    ["FUNCTION", "DELETE", "nosuch"],
    ["FUNCTION", "RESTORE", "bad"],
    ["FUNCTION", "DELETE", "mylib"],
    ["FCALL", "setit", "1", "f:k", "v1"],
    ["FUNCTION", "FLUSH"],
    # Argument errors: Redis's subcommand syntax error names the
    # subcommand as typed.
    ["FUNCTION", "FLUSH", "sync", "extra"],
    ["FUNCTION", "Flush", "async", "extra"],
    ["FUNCTION", "FLUSH", "foo"],
    # The shebang line is split as Redis's sdssplitargs splits it.
    ["FUNCTION", "LOAD", "#!lua name=\"q1\"\nredis.register_function('fq1', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name='q2'\nredis.register_function('fq2', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=\"q\\x33\"\nredis.register_function('fq3', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=\"q4\"x\nredis.register_function('fq4', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=q5\"\nredis.register_function('fq5', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua name=\"a\\x00\"\nredis.register_function('fq6', function() return 1 end)"],
    ["FUNCTION", "LOAD", "#!lua \"name=q7\"\nredis.register_function('fq7', function() return 1 end)"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "q1"],   # (a whole LIST is in hash order)
    ["FUNCTION", "LIST", "LIBRARYNAME", "q3"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "q7"],
    ["FUNCTION", "FLUSH"],
    # RESTORE's clash errors are libraryJoin's (no quotes, unlike LOAD's).
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "RESTORE", "<DUMP>"],
    ["FUNCTION", "RESTORE", "<DUMP>", "APPEND"],
    ["FUNCTION", "RESTORE", "<DUMP>", "REPLACE"],
    ["FUNCTION", "RESTORE", "<DUMP>", "FLUSH", "extra"],
    ["FUNCTION", "DELETE", "mylib"],
    # One clashing function only: with two, which one Redis names follows
    # its dict's per-process hash order.
    ["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('setit', function() return 1 end)"],
    ["FUNCTION", "RESTORE", "<DUMP>", "REPLACE"],
    ["FUNCTION", "FLUSH"],
    # FUNCTION LOAD and RESTORE are deny-oom, alone and queued in MULTI.
    # Over the limit, a script without allow-oom is a deny-oom command
    # (inside EXEC: scriptPrepareForRun's words); an allow-oom one may
    # write, and so may any script once it wrote (scriptVerifyOOM).
    ["SET", "f:fill", "x" * 1000],
    ["FUNCTION", "LOAD", "#!lua name=oom1\nredis.register_function{function_name='oomset', "
     "callback=function(k) return redis.call('set', k[1], '1') end, flags={'allow-oom'}}"],
    ["FUNCTION", "LOAD", "#!lua name=oom2\nredis.register_function{function_name='oomset2', "
     "callback=function(k) return redis.call('set', k[1], '1') end}"],
    ["CONFIG", "SET", "maxmemory", "1"],
    ["FUNCTION", "LOAD", LIB],
    ["FUNCTION", "RESTORE", "<DUMP>"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "mylib"],
    ["MULTI"],
    ["FUNCTION", "LOAD", LIB],
    ["EXEC"],
    ["FCALL", "oomset", "1", "f:fill"],
    ["FCALL", "oomset2", "1", "f:fill"],
    ["EVAL", "return redis.call('set', KEYS[1], '2')", "1", "f:fill"],
    ["EVAL", "redis.call('del', KEYS[1]) return redis.call('set', KEYS[1], '3')", "1", "f:fill"],
    ["GET", "f:fill"],
    ["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], '4')", "1", "f:fill"],
    ["EVAL", "#!lua\nreturn redis.call('set', KEYS[1], '5')", "1", "f:fill"],
    ["MULTI"],
    ["FCALL", "oomset2", "1", "f:fill"],
    ["EVAL", "#!lua\nreturn 1", "0"],
    ["EXEC"],
    ["FUNCTION", "FLUSH"],
    ["CONFIG", "SET", "maxmemory", "0"],
    ["DEL", "f:fill"],
    # Past maxmemory: a script with flags but neither allow-oom nor
    # no-writes is refused before it runs; allow-oom ones write; FUNCTION
    # LOAD (a deny-oom subcommand) is refused.
    ["CONFIG", "SET", "maxmemory", "1"],
    ["EVAL", "#!lua\nreturn 1", "0"],
    ["EVAL", "#!lua\nretur 1", "0"],
    ["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set',KEYS[1],'v')", "1", "s:oom"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "s:oom"],
    ["EVAL", "return redis.call('set',KEYS[1],'w')", "1", "s:oom"],
    ["EVAL", "return redis.call('get',KEYS[1])", "1", "s:oom"],
    ["FUNCTION", "LOAD", LIB],
    ["CONFIG", "SET", "maxmemory", "0"],
]


# Scripts on a replica (REPLICAOF a port nobody listens on: the link stays
# down): Redis 7.0's checks before a script with flags runs (processCommand
# reads them as the command's) and scriptPrepareForRun's for one without.
# "STALE NO" / "STALE YES" set replica-serve-stale-data.
REPLICA_LIB = ("#!lua name=rlib\n"
               "redis.register_function{function_name='ro', callback=function(keys, args) "
               "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n"
               "redis.register_function{function_name='stale_ro', callback=function(keys, args) "
               "return redis.call('echo', 'ok') end, flags={'no-writes', 'allow-stale'}}\n"
               "redis.register_function('rw', function(keys, args) return 1 end)\n")
STALE_RO = "#!lua flags=allow-stale,no-writes\n"
REPLICA_SEQUENCES = [
    ["STALE", "NO"],
    ["EVAL", "return redis.call('get',KEYS[1])", "1", "r:x"],
    ["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
    ["EVAL", STALE_RO + "return 1", "0"],
    ["EVAL", STALE_RO + "return redis.call('get',KEYS[1])", "1", "r:x"],
    ["EVAL", STALE_RO + "return redis.pcall('get',KEYS[1])", "1", "r:x"],
    ["EVAL", STALE_RO + "return redis.call('echo','foobar')", "0"],
    ["EVAL", STALE_RO + "return redis.call('ping')", "0"],
    ["EVAL", "#!lua flags=allow-stale\nreturn 1", "0"],
    ["EVAL", "#!lua\nreturn 1", "0"],
    ["EVAL", "#!lua\nretur 1", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn 1", "x"],
    ["EVAL", STALE_RO + "return 1", "x"],
    ["EVAL_RO", "#!lua flags=allow-stale\nreturn 1", "0"],
    ["EVAL", "retur 1", "0"],
    ["EVALSHA", "SHA:" + STALE_RO + "return redis.call('echo','by sha')", "0"],
    ["EVALSHA", "SHA:#!lua flags=no-writes\nreturn 'by sha'", "0"],
    ["FCALL", "ro", "1", "r:x"],
    ["FCALL", "stale_ro", "0"],
    ["FCALL", "rw", "0"],
    ["FCALL", "nosuch", "0"],
    ["STALE", "YES"],
    ["EVAL", "#!lua\nreturn 1", "0"],
    ["EVAL", "#!lua flags=allow-stale\nreturn 1", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get',KEYS[1])", "1", "r:x"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set',KEYS[1],'y')", "1", "r:x"],
    ["EVAL", "return redis.call('set',KEYS[1],'2')", "1", "r:x"],
    ["EVAL", "return redis.pcall('set',KEYS[1],'2')", "1", "r:x"],
    ["EVAL", "return redis.call('get',KEYS[1])", "1", "r:x"],
    ["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "r:x"],
    ["EVAL", "#!lua\nretur 1", "0"],
    ["EVALSHA", "SHA:#!lua\nreturn 'by sha'", "0"],
    ["FCALL", "ro", "1", "r:x"],
    ["FCALL", "rw", "0"],
    ["FCALL_RO", "rw", "0"],
]


def run_replica_sequences(port):
    import hashlib
    out = []
    with K.RawConn(port) as c:
        K.check(c.call("SET", "r:x", "1") == b"+OK\r\n", "SET before REPLICAOF")
        K.check(c.call("FUNCTION", "LOAD", REPLICA_LIB) == b"$4\r\nrlib\r\n", "library")
        for seq in REPLICA_SEQUENCES:
            if seq[0] == "EVALSHA" and seq[1].startswith("SHA:"):
                body = seq[1][4:]
                K.check(c.call("SCRIPT", "LOAD", body).startswith(b"$40"), "SCRIPT LOAD")
                seq = [seq[0], hashlib.sha1(body.encode()).hexdigest()] + seq[2:]
        # Loaded while a primary (SCRIPT LOAD is served stale anyway).
        K.check(c.call("REPLICAOF", "127.0.0.1", str(K.free_port())) == b"+OK\r\n", "REPLICAOF")
        for seq in REPLICA_SEQUENCES:
            if seq[0] == "STALE":
                r = c.call("CONFIG", "SET", "replica-serve-stale-data", seq[1].lower())
                K.check(r == b"+OK\r\n", "replica-serve-stale-data: %r" % r)
                continue
            if seq[0] == "EVALSHA" and seq[1].startswith("SHA:"):
                seq = [seq[0], hashlib.sha1(seq[1][4:].encode()).hexdigest()] + seq[2:]
            out.append(c.call(*seq))
        K.check(c.call("REPLICAOF", "NO", "ONE") == b"+OK\r\n", "REPLICAOF NO ONE")
    return out


def check_replica_differential():
    labels = [" ".join(s)[:80] for s in REPLICA_SEQUENCES if s[0] != "STALE"]
    K.compare_with_redis(run_replica_sequences, labels, what="script on a replica")


def run_sequences(port):
    out = []
    dump = None
    with K.RawConn(port) as c:
        for seq in SEQUENCES:
            if seq[:2] == ["FUNCTION", "RESTORE"] and dump is None:
                # A payload of this server's own: LIB alone.
                c.call("FUNCTION", "FLUSH")
                c.call("FUNCTION", "LOAD", LIB)
                r = c.call("FUNCTION", "DUMP")
                dump = r[r.index(b"\r\n") + 2:-2]
            out.append(c.call(*[dump if a == "<DUMP>" else a for a in seq]))
    return out


def check_differential():
    K.compare_with_redis(run_sequences, [" ".join(s)[:80] for s in SEQUENCES],
                         what="script call")


def keys_on_two_shards(c, n=64):
    """Keys k0..kn: which shard owns each, from the connection's view: a
    keyless script that GETs a key fails exactly when its shard is not the
    connection's."""
    mine, other = [], []
    for i in range(n):
        k = "u:%d" % i
        r = c.call("EVAL", "return redis.call('get','%s')" % k, "0")
        (other if r.startswith(b"-ERR Script attempted to access a key of a shard") else mine).append(k)
    return mine, other


def check_undeclared(srv):
    with srv.conn() as c:
        mine, other = keys_on_two_shards(c)
        K.check(mine and other, "keys on both shards: %d / %d" % (len(mine), len(other)))
        # Declared, the same key works.
        r = c.call("EVAL", "return redis.call('set',KEYS[1],'v')", "1", other[0])
        K.check(r == b"+OK\r\n", "declared key of another shard: %r" % r)
        r = c.call("EVAL", "return redis.call('set','%s','v')" % other[0], "0")
        K.check(r.startswith(b"-ERR Script attempted to access a key of a shard it does not hold"),
                "undeclared key refused: %r" % r)
        # The flag makes the script hold every shard.
        r = c.call("EVAL", "#!lua flags=allow-cross-slot-keys\nreturn redis.call('get','%s')"
                   % other[0], "0")
        K.check(r == b"$1\r\nv\r\n", "allow-cross-slot-keys: %r" % r)
        r = c.call("EVAL", "return redis.call('dbsize')", "0")
        K.check(r.startswith(b"-ERR Script attempted"), "DBSIZE needs every shard: %r" % r)
        K.check(c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "yes") == b"+OK\r\n", "config")
        r = c.call("EVAL", "return redis.call('get','%s')" % other[0], "0")
        K.check(r == b"$1\r\nv\r\n", "lua-allow-undeclared-keys yes: %r" % r)
        r = c.call("EVAL", "return redis.call('dbsize')", "0")
        K.check(r.startswith(b":"), "DBSIZE with every shard: %r" % r)
        K.check(c.call("CONFIG", "SET", "lua-allow-undeclared-keys", "no") == b"+OK\r\n", "config")
        r = c.call("CONFIG", "GET", "lua-time-limit")
        K.check(b"5000" in r, "lua-time-limit alias: %r" % r)


def check_cache_across_shards(srv):
    c0 = A.conn_on_shard(srv, 0)
    c1 = A.conn_on_shard(srv, 1)
    try:
        sha = K.parse(c0.call("SCRIPT", "LOAD", "return 'from-cache'"))
        K.check(c1.call("EVALSHA", sha, "0") == b"$10\r\nfrom-cache\r\n", "EVALSHA on the other shard")
        K.check(c1.call("SCRIPT", "EXISTS", sha) == b"*1\r\n:1\r\n", "EXISTS on the other shard")
        K.check(c1.call("SCRIPT", "FLUSH") == b"+OK\r\n", "flush")
        r = c0.call("EVALSHA", sha, "0")
        K.check(r.startswith(b"-NOSCRIPT"), "flushed for every shard: %r" % r)
        # Functions too: loaded on one, called on the other.
        K.check(c0.call("FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n", "function load")
        r = c1.call("FCALL", "setit", "1", "fk", "fv")
        K.check(r == b"+OK\r\n", "FCALL on the other shard: %r" % r)
        K.check(c0.call("FCALL_RO", "getit", "1", "fk") == b"$2\r\nfv\r\n", "FCALL_RO")
        K.check(c1.call("FUNCTION", "DELETE", "mylib") == b"+OK\r\n", "delete")
        r = c0.call("FCALL", "setit", "1", "fk", "x")
        K.check(r.startswith(b"-ERR Function not found"), "deleted for every shard: %r" % r)
    finally:
        c0.close()
        c1.close()


def script_sha(body):
    import hashlib
    return hashlib.sha1(body.encode()).hexdigest()


def check_cache_bound(srv):
    """The script cache keeps at most 500 scripts that EVAL added, evicting
    the one run least recently, as Redis 7.4; SCRIPT LOAD's stay.  EVALs
    alternate between connections on both shards: each shard compiled
    scripts the other evicted."""
    bound = 500
    c0 = A.conn_on_shard(srv, 0)
    c1 = A.conn_on_shard(srv, 1)
    conns = (c0, c1)

    def stat(name):
        fields = A.info(c0, "all")
        K.check(name in fields, "INFO has %s" % name)
        return int(fields[name])

    try:
        K.check(c0.call("SCRIPT", "FLUSH") == b"+OK\r\n", "flush")
        K.check(c0.call("CONFIG", "RESETSTAT") == b"+OK\r\n", "resetstat")
        loaded = ["return 'loaded %d'" % i for i in range(3)]
        for i, body in enumerate(loaded):
            K.check(K.parse(conns[i % 2].call("SCRIPT", "LOAD", body)) == script_sha(body).encode(),
                    "SCRIPT LOAD")
        # EVAL'd first, SCRIPT LOAD'ed then: kept from then on.
        promoted = "return 'promoted'"
        K.check(c1.call("EVAL", promoted, "0") == b"$8\r\npromoted\r\n", "EVAL")
        K.check(K.parse(c0.call("SCRIPT", "LOAD", promoted)) == script_sha(promoted).encode(),
                "SCRIPT LOAD of an EVAL'd script")
        kept = loaded + [promoted]
        n = 600
        bodies = ["return %d" % i for i in range(n)]
        for i, body in enumerate(bodies):
            r = conns[i % 2].call("EVAL", body, "0")
            K.check(r == b":%d\r\n" % i, "EVAL %d: %r" % (i, r))
        gone, stay = bodies[:n - bound], bodies[n - bound:]
        for c in conns:
            r = K.parse(c.call("SCRIPT", "EXISTS", *[script_sha(b) for b in bodies]))
            K.check(r == [0] * len(gone) + [1] * len(stay),
                    "SCRIPT EXISTS: the %d oldest gone, the last %d there (%d/%d found)"
                    % (len(gone), len(stay), sum(r[:len(gone)]), sum(r[len(gone):])))
            for body in (gone[0], gone[1], gone[-1]):
                r = c.call("EVALSHA", script_sha(body), "0")
                K.check(r == b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
                        "EVALSHA of an evicted script (%s): %r" % (body, r))
            r = K.parse(c.call("SCRIPT", "EXISTS", *[script_sha(b) for b in kept]))
            K.check(r == [1] * len(kept), "SCRIPT LOAD'ed scripts stay: %r" % r)
            for body in kept:
                r = c.call("EVALSHA", script_sha(body), "0")
                K.check(r.startswith(b"$") and body.split("'")[1].encode() in r,
                        "EVALSHA of a loaded script: %r" % r)
        K.check(stat("evicted_scripts") == n - bound,
                "evicted_scripts %d, want %d" % (stat("evicted_scripts"), n - bound))
        cached = stat("number_of_cached_scripts")
        K.check(cached == bound + len(kept), "number_of_cached_scripts %d, want %d"
                % (cached, bound + len(kept)))
        # Plain LRU: run the oldest, add one: the second oldest goes.
        oldest, second = stay[0], stay[1]
        K.check(c1.call("EVALSHA", script_sha(oldest), "0") == b":%d\r\n" % (n - bound),
                "EVALSHA of the oldest")
        K.check(c0.call("EVAL", "return 'one more'", "0") == b"$8\r\none more\r\n", "EVAL")
        r = K.parse(c1.call("SCRIPT", "EXISTS", script_sha(oldest), script_sha(second)))
        K.check(r == [1, 0], "the one run stays, the least recently run goes: %r" % r)
        K.check(stat("evicted_scripts") == n - bound + 1, "one more evicted")
        # An evicted script EVAL'd again is back (and evicts another).
        K.check(c0.call("EVAL", gone[0], "0") == b":0\r\n", "EVAL of an evicted script")
        K.check(c1.call("EVALSHA", script_sha(gone[0]), "0") == b":0\r\n", "back for every shard")
        # Generated scripts do not grow the cache or the Lua states.
        lua_before = stat("used_memory_vm_eval")
        pad = "-- " + "x" * 500 + "\n"
        for i in range(3000):
            r = conns[i % 2].call("EVAL", pad + "return %d" % i, "0")
            K.check(r == b":%d\r\n" % i, "generated EVAL %d: %r" % (i, r))
        cached = stat("number_of_cached_scripts")
        K.check(cached <= bound + len(kept), "number_of_cached_scripts %d after 3,000 generated "
                "scripts: at most %d" % (cached, bound + len(kept)))
        lua_after = stat("used_memory_vm_eval")
        K.check(lua_after < 2 * lua_before + (1 << 20), "the shards' Lua states stay bounded: "
                "%d bytes before, %d after 3,000 generated scripts" % (lua_before, lua_after))
        K.check(c1.call("SCRIPT", "FLUSH") == b"+OK\r\n", "flush")
        K.check(stat("number_of_cached_scripts") == 0, "SCRIPT FLUSH empties it")
        K.log("script cache: %d EVAL scripts kept of %d, %d loaded kept, %d evicted; Lua "
              "states %d -> %d bytes over 3,000 generated scripts"
              % (bound, n, len(kept), stat("evicted_scripts"), lua_before, lua_after))
    finally:
        c0.close()
        c1.close()


def check_script_debug(srv):
    """SCRIPT DEBUG YES and SYNC are refused with a reason (no debugger);
    NO and the argument errors are in the differential list."""
    with srv.conn() as c:
        for mode in ("YES", "sync"):
            r = c.call("SCRIPT", "DEBUG", mode)
            K.check(r.startswith(b"-ERR SCRIPT DEBUG YES and SYNC are not supported"),
                    "SCRIPT DEBUG %s: %r" % (mode, r))
        K.check(c.call("EVAL", "return 1", "0") == b":1\r\n", "scripts run as before")


def check_publish(srv):
    """PUBLISH from a script reaches subscribers on every shard, after the
    script; its reply counts the receivers on the shards the script holds."""
    s0 = A.conn_on_shard(srv, 0)
    s1 = A.conn_on_shard(srv, 1)
    pub = A.conn_on_shard(srv, 0)
    try:
        for sub in (s0, s1):
            r = sub.call("SUBSCRIBE", "news")
            K.check(r.startswith(b"*3"), "subscribed: %r" % r)
        r = pub.call("EVAL", "return redis.call('publish', 'news', ARGV[1])", "0", "hello")
        K.check(r == b":1\r\n", "a keyless script holds its shard: one receiver counted: %r" % r)
        want = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        for i, sub in enumerate((s0, s1)):
            K.check(sub.read_reply(timeout=5) == want, "subscriber on shard %d got it" % i)
        r = pub.call("EVAL", "#!lua flags=allow-cross-slot-keys\n"
                     "return redis.call('publish', 'news', ARGV[1])", "0", "all")
        K.check(r == b":2\r\n", "holding every shard, both receivers counted: %r" % r)
        want = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\nall\r\n"
        for i, sub in enumerate((s0, s1)):
            K.check(sub.read_reply(timeout=5) == want, "shard %d got the second one" % i)
        r = pub.call("EVAL_RO", "return redis.call('publish', 'news', 'x')", "0")
        K.check(r.startswith(b"-ERR Write commands are not allowed from read-only scripts"),
                "EVAL_RO refuses PUBLISH as Redis does: %r" % r)
    finally:
        for c in (s0, s1, pub):
            c.close()


def check_memory_limit(srv):
    """lua-memory-limit: a script growing past it fails with "not enough
    memory" and the engine goes on serving; 0 lifts the limit."""
    with srv.conn() as c:
        K.check(c.call("CONFIG", "SET", "lua-memory-limit", "8mb") == b"+OK\r\n", "limit")
        r = c.call("EVAL", "local t = {} for i = 1, 3000000 do t[i] = i end return #t", "0")
        K.check(r.startswith(b"-ERR Error running script") and b"not enough memory" in r,
                "past the limit: %r" % r[:120])
        K.check(c.call("EVAL", "return 7", "0") == b":7\r\n", "the engine still serves")
        K.check(c.call("CONFIG", "SET", "lua-memory-limit", "0") == b"+OK\r\n", "no limit")
        r = c.call("EVAL", "local t = {} for i = 1, 300000 do t[i] = i end return #t", "0")
        K.check(r == b":300000\r\n", "without a limit: %r" % r)
        K.check(c.call("CONFIG", "SET", "lua-memory-limit", "512mb") == b"+OK\r\n", "back")


def check_atomic(srv, seconds=2.0):
    keys = ["at:a", "at:b", "at:c"]
    script = "for i=1,#KEYS do redis.call('incr', KEYS[i]) end return 1"
    stop = time.monotonic() + seconds
    errors = []
    counts = {"writes": 0, "reads": 0}

    def writer():
        with srv.conn() as c:
            while time.monotonic() < stop:
                r = c.call("EVAL", script, "3", *keys)
                if r != b":1\r\n":
                    errors.append("writer got %r" % r)
                    return
                counts["writes"] += 1

    def reader():
        with srv.conn() as c:
            while time.monotonic() < stop:
                v = K.parse(c.call("MGET", *keys))
                if len(set(v)) != 1:
                    errors.append("reader saw %r" % v)
                    return
                counts["reads"] += 1

    ts = [threading.Thread(target=writer) for _ in range(2)] + \
         [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    K.check(not errors, "; ".join(errors[:3]))
    K.check(counts["writes"] > 10 and counts["reads"] > 10, "work done: %r" % counts)
    with srv.conn() as c:
        v = K.parse(c.call("MGET", *keys))
        K.check(v[0] == v[1] == v[2] == str(counts["writes"]).encode(),
                "final counts %r after %d scripts" % (v, counts["writes"]))
    K.log("atomic: %d scripts over 3 shards' keys, %d MGETs, never torn" %
          (counts["writes"], counts["reads"]))


def wait_busy(c, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.call("PING")
        if r.startswith(b"-BUSY"):
            return r
        time.sleep(0.02)
    raise K.TestFailure("no -BUSY within %.0fs" % timeout)


def check_busy():
    """A looping script: the other shard answers -BUSY, SCRIPT KILL from it
    stops the script; a script that wrote is UNKILLABLE, and SHUTDOWN NOSAVE
    still stops the server."""
    srv = K.kevy("--threads", "2", name="script-busy")
    srv.start()
    try:
        c0 = A.conn_on_shard(srv, 0)
        c1 = A.conn_on_shard(srv, 1)
        K.check(c1.call("CONFIG", "SET", "busy-reply-threshold", "50") == b"+OK\r\n", "threshold")
        K.check(c1.call("SCRIPT", "KILL").startswith(b"-NOTBUSY"), "NOTBUSY when idle")
        c0.send(K.encode("EVAL", "local a = 1 while true do a = a + 1 end", "0"))
        r = wait_busy(c1)
        K.check(r.startswith(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL"),
                "BUSY text: %r" % r)
        K.check(c1.call("FUNCTION", "KILL").startswith(b"-BUSY"), "FUNCTION KILL does not stop EVAL")
        K.check(c1.call("SCRIPT", "KILL") == b"+OK\r\n", "SCRIPT KILL")
        r = c0.read_reply(timeout=10)
        K.check(r.startswith(b"-ERR Script killed by user with SCRIPT KILL"), "killed: %r" % r)
        K.check(c1.call("PING") == b"+PONG\r\n", "served again")
        K.check(c0.call("PING") == b"+PONG\r\n", "its own shard served again")
        # Written, then looping: unkillable; SHUTDOWN NOSAVE still ends it all.
        k0 = None
        for i in range(200):
            k = "busy:%d" % i
            if c0.call("EVAL", "return redis.call('get','%s')" % k, "0") == b"$-1\r\n":
                k0 = k
                break
        K.check(k0 is not None, "a key of shard 0")
        c0.send(K.encode("EVAL", "redis.call('set',KEYS[1],'1') while true do end", "1", k0))
        wait_busy(c1)
        r = c1.call("SCRIPT", "KILL")
        K.check(r.startswith(b"-UNKILLABLE"), "a script that wrote is unkillable: %r" % r)
        c1.send(K.encode("SHUTDOWN", "NOSAVE"))
        deadline = time.monotonic() + 15
        while srv.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        K.check(not srv.alive(), "SHUTDOWN NOSAVE ends a server running a script")
        c0.close()
        c1.close()
    finally:
        srv.cleanup()


def check_busy_same_shard(io):
    """A client on the busy script's own shard is answered too (the
    script's hook reads the shard's sockets): -BUSY, then its SCRIPT KILL
    stops the script, its SHUTDOWN NOSAVE stops the server; a command it
    pipelined after the -BUSY one runs once the script ends."""
    srv = K.kevy("--threads", "2", "--io", io, name="script-busy-same-" + io)
    srv.start()
    try:
        c0 = A.conn_on_shard(srv, 0)
        c0b = A.conn_on_shard(srv, 0)
        K.check(c0b.call("CONFIG", "SET", "busy-reply-threshold", "50") == b"+OK\r\n", "threshold")
        c0.send(K.encode("EVAL", "local a = 1 while true do a = a + 1 end", "0"))
        r = wait_busy(c0b)
        K.check(r.startswith(b"-BUSY Redis is busy running a script"), "same shard: BUSY: %r" % r)
        c0b.send(K.encode("GET", "x") + K.encode("SCRIPT", "KILL"))
        r = c0b.read_replies(2, timeout=10)
        K.check(r[0].startswith(b"-BUSY") and r[1] == b"+OK\r\n",
                "same shard: -BUSY then SCRIPT KILL in one pipeline: %r" % r)
        r = c0.read_reply(timeout=10)
        K.check(r.startswith(b"-ERR Script killed by user with SCRIPT KILL"), "killed: %r" % r)
        K.check(c0.call("PING") == b"+PONG\r\n", "the script's client is served again")
        k0 = None
        for i in range(200):
            k = "busy:%d" % i
            if c0.call("EVAL", "return redis.call('get','%s')" % k, "0") == b"$-1\r\n":
                k0 = k   # a key of shard 0: the script runs there
                break
        K.check(k0 is not None, "a key of shard 0")
        c0.send(K.encode("EVAL", "redis.call('set',KEYS[1],'1') while true do end", "1", k0))
        wait_busy(c0b)
        K.check(c0b.call("SCRIPT", "KILL").startswith(b"-UNKILLABLE"), "unkillable")
        c0b.send(K.encode("SHUTDOWN", "NOSAVE"))
        deadline = time.monotonic() + 15
        while srv.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        K.check(not srv.alive(), "SHUTDOWN NOSAVE from the script's own shard ends the server")
        c0.close()
        c0b.close()
    finally:
        srv.cleanup()


def aof_bytes(data_dir):
    blob = b""
    for p in glob.glob(os.path.join(data_dir, "**", "*"), recursive=True):
        if os.path.isfile(p) and "aof" in os.path.basename(p).lower():
            with open(p, "rb") as f:
                blob += f.read()
    return blob


def check_durable():
    srv = K.kevy("--threads", "2", "--appendfsync", "always", name="script-durable")
    srv.start()
    try:
        with srv.conn() as c:
            marker = "scriptsrc_marker_%d" % os.getpid()
            script = ("-- %s\nfor i=1,#KEYS do redis.call('set', KEYS[i], ARGV[1]) end "
                      "return #KEYS" % marker)
            keys = ["d:%d" % i for i in range(8)]
            r = c.call("EVAL", script, str(len(keys)), *keys, "durable-value")
            K.check(r == b":8\r\n", "EVAL acknowledged: %r" % r)
            r = c.call("EVAL", "redis.call('set',KEYS[1],'kept') error('fail after write')",
                       "1", "d:kept")
            K.check(r.startswith(b"-ERR user_script:1: fail after write"), "failing script: %r" % r)
        A.kill9(srv)
        blob = aof_bytes(srv.dir)
        K.check(b"durable-value" in blob, "the AOF holds the script's effects")
        K.check(marker.encode() not in blob and b"redis.call" not in blob,
                "the AOF never holds a script's source")
        A.restart(srv)
        with srv.conn() as c:
            v = K.parse(c.call("MGET", *keys))
            K.check(v == [b"durable-value"] * len(keys), "after kill -9: %r" % v)
            K.check(c.call("GET", "d:kept") == b"$4\r\nkept\r\n", "a failed script keeps its write")
        srv.check_clean_exit()
    finally:
        srv.cleanup()


def run_blocked_after_script(port):
    """A client blocked on a script's keys is served once the script ended,
    as Redis serves it after the command: the script's LLEN still sees its
    push, and the waiter gets the element afterwards."""
    out = []
    with K.RawConn(port) as c, K.RawConn(port) as w:
        c.call("DEL", "{b}l", "{b}z")
        w.send(K.encode("BLPOP", "{b}l", "5"))
        deadline = time.monotonic() + 5
        while b"blocked_clients:1" not in c.call("INFO", "clients"):
            K.check(time.monotonic() < deadline, "the waiter blocks")
            time.sleep(0.01)
        out.append(c.call("EVAL", "redis.call('lpush', KEYS[1], 'x', 'y') "
                          "local n = redis.call('llen', KEYS[1]) "
                          "redis.call('zadd', KEYS[2], 1, 'm') return n", "2", "{b}l", "{b}z"))
        out.append(w.read_reply(timeout=5))
        out.append(c.call("LRANGE", "{b}l", "0", "-1"))
    return out


def check_blocked_after_script():
    K.compare_with_redis(run_blocked_after_script, ["EVAL push+llen", "BLPOP's reply", "LRANGE"],
                         what="step")


def main():
    check_differential()
    check_replica_differential()
    check_blocked_after_script()
    srv = K.kevy("--threads", "2", name="scripting")
    srv.start()
    try:
        check_undeclared(srv)
        check_cache_across_shards(srv)
        check_cache_bound(srv)
        check_script_debug(srv)
        check_publish(srv)
        check_memory_limit(srv)
        check_atomic(srv)
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    check_durable()
    check_busy()
    for io in ("io_uring", "epoll"):
        check_busy_same_shard(io)


if __name__ == "__main__":
    K.run_main(main)
