#!/usr/bin/python3
"""WATCH precision for the collection types: a WATCHed key must be invalidated
exactly when Redis 7.0 invalidates it (signalModifiedKey), no more, no less.

Every case runs, against redis-server and against kevy (--threads 3):

    conn A: FLUSHALL, the setup commands, WATCH <key>
    conn B: the command under test             (reply recorded)
    conn A: MULTI / PING / EXEC                (*-1 = the key was signalled)

and compares the command's reply and the EXEC reply byte for byte.  Each case
also states what Redis does ("abort": the command signals the watched key;
"exec": it does not); a Redis run that disagrees with the table fails too, so
the table doubles as the record of Redis's behaviour.

Write commands come in a "changes" and a "changes nothing" form (a no-op,
an error, a missing key).  CASES is a flat table: add a type by appending
rows (see the LIST and HASH sections).

Exit 77 when redis-server or kevy-server is missing.
"""

import sys

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402

ABORT, EXEC = "abort", "exec"

# Setups (run on conn A before WATCH).
L = ["RPUSH k a b c"]                  # a three-element list at k
L1 = ["RPUSH k a"]                      # a one-element list at k
LD = ["RPUSH k a b c", "RPUSH d x"]     # lists at k and d
H = ["HSET k f 1 g x"]                  # a hash at k (g is not a number)
S = ["SET k s"]                         # a string at k (WRONGTYPE)
SD = ["RPUSH k a b c", "SET d s"]       # list at k, string at d
XS = ["XADD k 1-1 f v", "XGROUP CREATE k g 0"]              # a stream with a group
XR = XS + ["XREADGROUP GROUP g c STREAMS k >"]              # ... 1-1 pending for c

# (label, setup, watched key, command, what Redis does)
CASES = [
    # ---------------------------------------------------------------- LIST
    ("lpush existing", L, "k", "LPUSH k x", ABORT),
    ("lpush new key", [], "k", "LPUSH k x", ABORT),
    ("lpush wrongtype", S, "k", "LPUSH k x", EXEC),
    ("rpush existing", L, "k", "RPUSH k x y", ABORT),
    ("rpush wrongtype", S, "k", "RPUSH k x", EXEC),
    ("lpushx existing", L, "k", "LPUSHX k x", ABORT),
    ("lpushx missing", [], "k", "LPUSHX k x", EXEC),
    ("rpushx existing", L, "k", "RPUSHX k x", ABORT),
    ("rpushx missing", [], "k", "RPUSHX k x", EXEC),
    ("rpushx wrongtype", S, "k", "RPUSHX k x", EXEC),
    ("lpop one", L, "k", "LPOP k", ABORT),
    ("lpop count", L, "k", "LPOP k 2", ABORT),
    ("lpop last element", L1, "k", "LPOP k", ABORT),
    ("lpop count 0", L, "k", "LPOP k 0", EXEC),
    ("lpop missing", [], "k", "LPOP k", EXEC),
    ("lpop bad count", L, "k", "LPOP k -1", EXEC),
    ("rpop one", L, "k", "RPOP k", ABORT),
    ("rpop count all", L, "k", "RPOP k 10", ABORT),
    ("rpop missing", [], "k", "RPOP k 3", EXEC),
    ("rpop wrongtype", S, "k", "RPOP k", EXEC),
    ("lset changes", L, "k", "LSET k 0 z", ABORT),
    ("lset same value", L, "k", "LSET k 0 a", ABORT),
    ("lset out of range", L, "k", "LSET k 9 z", EXEC),
    ("lset bad index", L, "k", "LSET k x z", EXEC),
    ("lset missing", [], "k", "LSET k 0 z", EXEC),
    ("linsert inserts", L, "k", "LINSERT k BEFORE b q", ABORT),
    ("linsert after", L, "k", "LINSERT k AFTER c q", ABORT),
    ("linsert no pivot", L, "k", "LINSERT k BEFORE zz q", EXEC),
    ("linsert missing", [], "k", "LINSERT k BEFORE a q", EXEC),
    ("linsert syntax", L, "k", "LINSERT k MIDDLE a q", EXEC),
    ("lrem removes", L, "k", "LREM k 0 b", ABORT),
    ("lrem removes last", L1, "k", "LREM k 1 a", ABORT),
    ("lrem nothing", L, "k", "LREM k 0 zz", EXEC),
    ("lrem missing", [], "k", "LREM k 0 a", EXEC),
    ("ltrim trims", L, "k", "LTRIM k 1 1", ABORT),
    ("ltrim keeps all", L, "k", "LTRIM k 0 -1", ABORT),
    ("ltrim empties", L, "k", "LTRIM k 5 10", ABORT),
    ("ltrim missing", [], "k", "LTRIM k 0 1", EXEC),
    ("ltrim bad range", L, "k", "LTRIM k x 1", EXEC),
    ("lmove src", LD, "k", "LMOVE k d LEFT RIGHT", ABORT),
    ("lmove dst", LD, "d", "LMOVE k d LEFT RIGHT", ABORT),
    ("lmove new dst", L, "d", "LMOVE k d RIGHT LEFT", ABORT),
    ("lmove same key", L, "k", "LMOVE k k LEFT RIGHT", ABORT),
    ("lmove same key 1 elem", L1, "k", "LMOVE k k LEFT LEFT", ABORT),
    ("lmove missing src, dst", LD[1:], "d", "LMOVE k d LEFT RIGHT", EXEC),
    ("lmove wrongtype dst, src", SD, "k", "LMOVE k d LEFT RIGHT", EXEC),
    ("lmove syntax", LD, "k", "LMOVE k d UP RIGHT", EXEC),
    ("rpoplpush src", LD, "k", "RPOPLPUSH k d", ABORT),
    ("rpoplpush dst", LD, "d", "RPOPLPUSH k d", ABORT),
    ("rpoplpush missing", [], "d", "RPOPLPUSH k d", EXEC),
    ("lmpop pops", L, "k", "LMPOP 2 m k LEFT COUNT 2", ABORT),
    ("lmpop empties", L, "k", "LMPOP 1 k RIGHT COUNT 9", ABORT),
    ("lmpop other key", L, "m", "LMPOP 2 m k LEFT", EXEC),
    ("lmpop missing", [], "k", "LMPOP 1 k LEFT", EXEC),
    ("blpop served", L, "k", "BLPOP m k 0", ABORT),
    ("blpop times out", [], "k", "BLPOP k 0.01", EXEC),
    ("brpop served", L, "k", "BRPOP k 0", ABORT),
    ("blmove src", LD, "k", "BLMOVE k d RIGHT LEFT 0", ABORT),
    ("blmove dst", LD, "d", "BLMOVE k d RIGHT LEFT 0", ABORT),
    ("blmove times out", LD[1:], "d", "BLMOVE k d RIGHT LEFT 0.01", EXEC),
    ("brpoplpush dst", LD, "d", "BRPOPLPUSH k d 0", ABORT),
    ("blmpop served", L, "k", "BLMPOP 0 1 k LEFT COUNT 2", ABORT),
    ("blmpop times out", [], "k", "BLMPOP 0.01 1 k LEFT", EXEC),
    ("llen", L, "k", "LLEN k", EXEC),
    ("lrange", L, "k", "LRANGE k 0 -1", EXEC),
    ("lindex", L, "k", "LINDEX k 1", EXEC),
    ("lpos", L, "k", "LPOS k b COUNT 0", EXEC),
    # ---------------------------------------------------------------- HASH
    ("hset new field", H, "k", "HSET k n 1", ABORT),
    ("hset same value", H, "k", "HSET k f 1", ABORT),
    ("hset new key", [], "k", "HSET k f 1", ABORT),
    ("hset wrongtype", S, "k", "HSET k f 1", EXEC),
    ("hset arity", H, "k", "HSET k f 1 g", EXEC),
    ("hmset same value", H, "k", "HMSET k f 1", ABORT),
    ("hmset changes", H, "k", "HMSET k f 2 n 3", ABORT),
    ("hsetnx sets", H, "k", "HSETNX k n 2", ABORT),
    ("hsetnx new key", [], "k", "HSETNX k n 2", ABORT),
    ("hsetnx present", H, "k", "HSETNX k f 2", EXEC),
    ("hsetnx wrongtype", S, "k", "HSETNX k f 2", EXEC),
    ("hdel deletes", H, "k", "HDEL k f zz", ABORT),
    ("hdel empties", H, "k", "HDEL k f g", ABORT),
    ("hdel nothing", H, "k", "HDEL k zz yy", EXEC),
    ("hdel missing", [], "k", "HDEL k f", EXEC),
    ("hincrby changes", H, "k", "HINCRBY k f 5", ABORT),
    ("hincrby by zero", H, "k", "HINCRBY k f 0", ABORT),
    ("hincrby new field", H, "k", "HINCRBY k n 1", ABORT),
    ("hincrby new key", [], "k", "HINCRBY k n 1", ABORT),
    ("hincrby not a number", H, "k", "HINCRBY k g 1", EXEC),
    ("hincrby bad incr", H, "k", "HINCRBY k f x", EXEC),
    ("hincrby overflow", ["HSET k f 9223372036854775807"], "k", "HINCRBY k f 1", EXEC),
    ("hincrbyfloat changes", H, "k", "HINCRBYFLOAT k f 1.5", ABORT),
    ("hincrbyfloat by zero", H, "k", "HINCRBYFLOAT k f 0", ABORT),
    ("hincrbyfloat not a number", H, "k", "HINCRBYFLOAT k g 1", EXEC),
    ("hincrbyfloat inf", H, "k", "HINCRBYFLOAT k f inf", EXEC),
    ("hincrbyfloat to inf", ["HSET k f 1e4932"], "k", "HINCRBYFLOAT k f 1e4932", EXEC),
    ("hincrbyfloat past double", ["HSET k f 1e308"], "k", "HINCRBYFLOAT k f 1e308", ABORT),
    ("hget", H, "k", "HGET k f", EXEC),
    ("hgetall", H, "k", "HGETALL k", EXEC),
    ("hrandfield", H, "k", "HRANDFIELD k 10", EXEC),
    ("hscan", H, "k", "HSCAN k 0", EXEC),
    # ------------------------------------------------------ SET, ZSET: below
    # ----------------------------------------------------------------- SET
    # (integer members: intsets reply in the same, sorted, order everywhere)
    ("sadd adds", ["SADD k 1 2 3"], "k", "SADD k 3 4", ABORT),
    ("sadd new key", [], "k", "SADD k 1", ABORT),
    ("sadd present", ["SADD k 1 2 3"], "k", "SADD k 1 2", EXEC),
    ("sadd wrongtype", ["SET k s"], "k", "SADD k 1", EXEC),
    ("sadd converts", ["SADD k 1 2 3"], "k", "SADD k x", ABORT),
    ("srem removes", ["SADD k 1 2 3"], "k", "SREM k 9 2", ABORT),
    ("srem empties", ["SADD k 1"], "k", "SREM k 1", ABORT),
    ("srem nothing", ["SADD k 1 2 3"], "k", "SREM k 8 9", EXEC),
    ("srem missing", [], "k", "SREM k 1", EXEC),
    ("spop one", ["SADD k 7"], "k", "SPOP k", ABORT),
    ("spop count", ["SADD k 7"], "k", "SPOP k 1", ABORT),
    ("spop count all", ["SADD k 1 2 3"], "k", "SPOP k 3", ABORT),
    ("spop count 0", ["SADD k 1 2 3"], "k", "SPOP k 0", EXEC),
    ("spop missing", [], "k", "SPOP k", EXEC),
    ("spop missing count", [], "k", "SPOP k 2", EXEC),
    ("spop bad count", ["SADD k 1 2 3"], "k", "SPOP k -1", EXEC),
    ("smove src", ["SADD k 1 2", "SADD d 5"], "k", "SMOVE k d 1", ABORT),
    ("smove dst", ["SADD k 1 2", "SADD d 5"], "d", "SMOVE k d 1", ABORT),
    ("smove dst has member", ["SADD k 1 2", "SADD d 1"], "d", "SMOVE k d 1", EXEC),
    ("smove src, dst has member", ["SADD k 1 2", "SADD d 1"], "k", "SMOVE k d 1", ABORT),
    ("smove new dst", ["SADD k 1 2"], "d", "SMOVE k d 1", ABORT),
    ("smove empties src", ["SADD k 1"], "k", "SMOVE k d 1", ABORT),
    ("smove no member src", ["SADD k 1 2", "SADD d 5"], "k", "SMOVE k d 9", EXEC),
    ("smove no member dst", ["SADD k 1 2", "SADD d 5"], "d", "SMOVE k d 9", EXEC),
    ("smove same key", ["SADD k 1 2"], "k", "SMOVE k k 1", EXEC),
    ("smove missing src", ["SADD d 5"], "d", "SMOVE k d 5", EXEC),
    ("smove wrongtype dst", ["SADD k 1 2", "SET d s"], "k", "SMOVE k d 1", EXEC),
    ("sinterstore sets", ["SADD k 1 2", "SADD m 2 3"], "d", "SINTERSTORE d k m", ABORT),
    ("sinterstore empty, dst", ["SADD k 1", "SADD m 2", "SADD d 9"], "d", "SINTERSTORE d k m", ABORT),
    ("sinterstore empty, no dst", ["SADD k 1", "SADD m 2"], "d", "SINTERSTORE d k m", EXEC),
    ("sinterstore missing src, dst", ["SADD k 1", "SADD d 9"], "d", "SINTERSTORE d k m", ABORT),
    ("sinterstore missing src", ["SADD k 1"], "d", "SINTERSTORE d k m", EXEC),
    ("sinterstore source", ["SADD k 1 2", "SADD m 2 3"], "k", "SINTERSTORE d k m", EXEC),
    ("sunionstore same content", ["SADD k 1 2", "SADD d 1 2"], "d", "SUNIONSTORE d k", ABORT),
    ("sunionstore onto itself", ["SADD d 1 2"], "d", "SUNIONSTORE d d", ABORT),
    ("sdiffstore empty, dst", ["SADD k 1", "SADD d 1"], "d", "SDIFFSTORE d k k", ABORT),
    ("sdiffstore empty, no dst", ["SADD k 1"], "d", "SDIFFSTORE d k k", EXEC),
    ("sdiffstore wrongtype", ["SADD k 1", "SET m s", "SADD d 1"], "d", "SDIFFSTORE d k m", EXEC),
    ("sismember", ["SADD k 1 2 3"], "k", "SISMEMBER k 1", EXEC),
    ("smembers", ["SADD k 1 2 3"], "k", "SMEMBERS k", EXEC),
    ("srandmember", ["SADD k 7"], "k", "SRANDMEMBER k", EXEC),
    ("sintercard", ["SADD k 1 2 3"], "k", "SINTERCARD 1 k", EXEC),
    ("sscan", ["SADD k 1 2 3"], "k", "SSCAN k 0", EXEC),
    # ---------------------------------------------------------------- ZSET
    ("zadd adds", ["ZADD k 1 a"], "k", "ZADD k 1 b", ABORT),
    ("zadd new key", [], "k", "ZADD k 1 a", ABORT),
    ("zadd updates", ["ZADD k 1 a"], "k", "ZADD k 2 a", ABORT),
    ("zadd same score", ["ZADD k 1 a"], "k", "ZADD k 1 a", EXEC),
    ("zadd ch same score", ["ZADD k 1 a"], "k", "ZADD k CH 1 a", EXEC),
    ("zadd there and back", ["ZADD k 1 a"], "k", "ZADD k 2 a 1 a", ABORT),
    ("zadd incr", ["ZADD k 1 a"], "k", "ZADD k INCR 1 a", ABORT),
    ("zadd incr 0", ["ZADD k 1 a"], "k", "ZADD k INCR 0 a", EXEC),
    ("zadd incr nan", ["ZADD k inf a"], "k", "ZADD k INCR -inf a", EXEC),
    ("zadd nx present", ["ZADD k 1 a"], "k", "ZADD k NX 5 a", EXEC),
    ("zadd nx adds", ["ZADD k 1 a"], "k", "ZADD k NX 5 b", ABORT),
    ("zadd xx absent", ["ZADD k 1 a"], "k", "ZADD k XX 5 b", EXEC),
    ("zadd xx missing key", [], "k", "ZADD k XX 5 b", EXEC),
    ("zadd gt lower", ["ZADD k 1 a"], "k", "ZADD k GT 0 a", EXEC),
    ("zadd lt lower", ["ZADD k 1 a"], "k", "ZADD k LT 0 a", ABORT),
    ("zadd wrongtype", ["SET k s"], "k", "ZADD k 1 a", EXEC),
    ("zadd syntax", ["ZADD k 1 a"], "k", "ZADD k NX XX 1 a", EXEC),
    ("zadd bad score", ["ZADD k 1 a"], "k", "ZADD k x a", EXEC),
    ("zincrby changes", ["ZADD k 1 a"], "k", "ZINCRBY k 1 a", ABORT),
    ("zincrby by 0", ["ZADD k 1 a"], "k", "ZINCRBY k 0 a", EXEC),
    ("zincrby new member", ["ZADD k 1 a"], "k", "ZINCRBY k 0 b", ABORT),
    ("zincrby new key", [], "k", "ZINCRBY k 0 a", ABORT),
    ("zincrby nan", ["ZADD k inf a"], "k", "ZINCRBY k -inf a", EXEC),
    ("zrem removes", ["ZADD k 1 a 2 b"], "k", "ZREM k a x", ABORT),
    ("zrem empties", ["ZADD k 1 a"], "k", "ZREM k a", ABORT),
    ("zrem nothing", ["ZADD k 1 a"], "k", "ZREM k x", EXEC),
    ("zrem missing", [], "k", "ZREM k a", EXEC),
    ("zpopmin pops", ["ZADD k 1 a 2 b"], "k", "ZPOPMIN k", ABORT),
    ("zpopmax count all", ["ZADD k 1 a 2 b"], "k", "ZPOPMAX k 5", ABORT),
    ("zpopmax count 0", ["ZADD k 1 a 2 b"], "k", "ZPOPMAX k 0", EXEC),
    ("zpopmin missing", [], "k", "ZPOPMIN k", EXEC),
    ("zpopmin bad count", ["ZADD k 1 a"], "k", "ZPOPMIN k -1", EXEC),
    ("bzpopmin served", ["ZADD k 1 a 2 b"], "k", "BZPOPMIN m k 0", ABORT),
    ("bzpopmax empties", ["ZADD k 1 a"], "k", "BZPOPMAX k 0", ABORT),
    ("bzpopmin times out", [], "k", "BZPOPMIN k 0.01", EXEC),
    ("zremrangebyrank removes", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYRANK k 0 0", ABORT),
    ("zremrangebyrank nothing", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYRANK k 5 6", EXEC),
    ("zremrangebyrank bad", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYRANK k x 6", EXEC),
    ("zremrangebyscore removes", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYSCORE k 1 1", ABORT),
    ("zremrangebyscore empties", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYSCORE k -inf +inf", ABORT),
    ("zremrangebyscore nothing", ["ZADD k 1 a 2 b"], "k", "ZREMRANGEBYSCORE k 5 6", EXEC),
    ("zremrangebylex removes", ["ZADD k 0 a 0 b"], "k", "ZREMRANGEBYLEX k [a [a", ABORT),
    ("zremrangebylex nothing", ["ZADD k 0 a 0 b"], "k", "ZREMRANGEBYLEX k [x [y", EXEC),
    ("zremrangebylex missing", [], "k", "ZREMRANGEBYLEX k - +", EXEC),
    ("zunionstore sets", ["ZADD k 1 a", "ZADD m 2 b"], "d", "ZUNIONSTORE d 2 k m", ABORT),
    ("zunionstore same content", ["ZADD k 1 a", "ZADD d 1 a"], "d", "ZUNIONSTORE d 1 k", ABORT),
    ("zunionstore source", ["ZADD k 1 a", "ZADD m 2 b"], "k", "ZUNIONSTORE d 2 k m", EXEC),
    ("zinterstore empty, dst", ["ZADD k 1 a", "ZADD m 2 b", "ZADD d 1 q"], "d", "ZINTERSTORE d 2 k m", ABORT),
    ("zinterstore empty, no dst", ["ZADD k 1 a", "ZADD m 2 b"], "d", "ZINTERSTORE d 2 k m", EXEC),
    ("zinterstore set input", ["ZADD k 1 a", "SADD m a"], "d", "ZINTERSTORE d 2 k m", ABORT),
    ("zdiffstore empty, no dst", ["ZADD k 1 a"], "d", "ZDIFFSTORE d 2 k k", EXEC),
    ("zdiffstore empty, dst", ["ZADD k 1 a", "ZADD d 1 a"], "d", "ZDIFFSTORE d 2 k k", ABORT),
    ("zunionstore syntax", ["ZADD k 1 a", "ZADD d 1 a"], "d", "ZUNIONSTORE d 1 k AGGREGATE x", EXEC),
    ("zrange", ["ZADD k 1 a 2 b"], "k", "ZRANGE k 0 -1 WITHSCORES", EXEC),
    ("zrange limit -1", ["ZADD k 1 a 2 b"], "k", "ZRANGE k 0 -1 LIMIT 5 -1", EXEC),
    ("zscore", ["ZADD k 1 a"], "k", "ZSCORE k a", EXEC),
    ("zrandmember", ["ZADD k 1 a"], "k", "ZRANDMEMBER k", EXEC),
    ("zscan", ["ZADD k 1 a"], "k", "ZSCAN k 0", EXEC),
    # ------------------------------------------------------- STRING / KEYS
    ("set existing", S, "k", "SET k t", ABORT),
    ("set nx existing", S, "k", "SET k t NX", EXEC),
    ("setnx existing", S, "k", "SETNX k t", EXEC),
    ("append existing", S, "k", "APPEND k x", ABORT),
    ("append empty to existing", S, "k", 'APPEND k ""', ABORT),
    ("append empty to missing", [], "k", 'APPEND k ""', ABORT),
    ("setrange empty", S, "k", 'SETRANGE k 0 ""', EXEC),
    ("setrange changes", S, "k", "SETRANGE k 0 z", ABORT),
    ("incrby 0", ["SET k 5"], "k", "INCRBY k 0", ABORT),
    ("incr not a number", S, "k", "INCR k", EXEC),
    ("getex no option", S, "k", "GETEX k", EXEC),
    ("getex persist without ttl", S, "k", "GETEX k PERSIST", EXEC),
    ("getex persist with ttl", ["SET k s EX 100"], "k", "GETEX k PERSIST", ABORT),
    ("getex ex", S, "k", "GETEX k EX 100", ABORT),
    ("getdel existing", S, "k", "GETDEL k", ABORT),
    ("getdel missing", [], "k", "GETDEL k", EXEC),
    ("getset", S, "k", "GETSET k t", ABORT),
    ("mset", S, "k", "MSET k t d u", ABORT),
    ("msetnx failing", S, "k", "MSETNX k t d u", EXEC),
    ("del missing", [], "k", "DEL k", EXEC),
    ("del existing", S, "k", "DEL k", ABORT),
    ("expire", S, "k", "EXPIRE k 100", ABORT),
    ("expire nx with ttl", ["SET k s EX 100"], "k", "EXPIRE k 200 NX", EXEC),
    ("persist without ttl", S, "k", "PERSIST k", EXEC),
    ("persist with ttl", ["SET k s EX 100"], "k", "PERSIST k", ABORT),
    ("rename onto watched", ["SET d s"], "k", "RENAME d k", ABORT),
    ("rename same key", S, "k", "RENAME k k", EXEC),
    ("renamenx onto existing", ["SET k s", "SET d s"], "k", "RENAMENX d k", EXEC),
    ("touch", S, "k", "TOUCH k", EXEC),
    ("flushall with key", S, "k", "FLUSHALL", ABORT),
    ("flushall without key", ["SET d s"], "k", "FLUSHALL", EXEC),
    # ------------------------------------------------------------- STREAM
    # Redis signals XADD, XDEL, XTRIM and a stream made by XGROUP CREATE
    # MKSTREAM; XSETID and the consumer-group commands change the stream
    # without signalling it.
    ("xadd", XS, "k", "XADD k 2-1 f v", ABORT),
    ("xadd id too small", XS, "k", "XADD k 1-1 f v", EXEC),
    ("xdel", XS, "k", "XDEL k 1-1", ABORT),
    ("xdel missing id", XS, "k", "XDEL k 9-9", EXEC),
    ("xtrim", XS, "k", "XTRIM k MAXLEN 0", ABORT),
    ("xtrim nothing", XS, "k", "XTRIM k MAXLEN 5", EXEC),
    ("xsetid", XS, "k", "XSETID k 5-5", EXEC),
    ("xgroup create", XS, "k", "XGROUP CREATE k g2 0", EXEC),
    ("xgroup create mkstream", [], "k", "XGROUP CREATE k g 0 MKSTREAM", ABORT),
    ("xgroup setid", XS, "k", "XGROUP SETID k g 0", EXEC),
    ("xgroup createconsumer", XS, "k", "XGROUP CREATECONSUMER k g c", EXEC),
    ("xgroup delconsumer", XR, "k", "XGROUP DELCONSUMER k g c", EXEC),
    ("xgroup destroy", XS, "k", "XGROUP DESTROY k g", EXEC),
    ("xreadgroup delivers", XS, "k", "XREADGROUP GROUP g c STREAMS k >", EXEC),
    ("xreadgroup history", XR, "k", "XREADGROUP GROUP g c STREAMS k 0", EXEC),
    ("xack", XR, "k", "XACK k g 1-1", EXEC),
    ("xclaim", XR, "k", "XCLAIM k g d 0 1-1", EXEC),
    ("xautoclaim", XR, "k", "XAUTOCLAIM k g d 0 0", EXEC),
    # ------------------------------------------------------------- PFDEBUG
    # GETREG and TODENSE turn a sparse HLL dense; Redis logs it but signals
    # no change (found by the differential test, seed 3780111547).
    ("pfdebug todense", ["PFADD k a b c"], "k", "PFDEBUG TODENSE k", EXEC),
    ("pfdebug getreg", ["PFADD k a b c"], "k", "PFDEBUG GETREG k", EXEC),
    ("pfadd grows a dense hll", ["PFADD k a", "PFDEBUG TODENSE k"], "k", "PFADD k zz", ABORT),
    ("pfadd no change, dense", ["PFADD k a", "PFDEBUG TODENSE k"], "k", "PFADD k a", EXEC),
    # ------------------------------------------------------------- BITFIELD
    # A BITFIELD whose every write fails on overflow still makes (or pads)
    # the string, without signalling it.
    ("bitfield sets", [], "k", "BITFIELD k SET u8 0 1", ABORT),
    ("bitfield fail only, missing key", [], "k", "BITFIELD k OVERFLOW FAIL SET i8 0 200", EXEC),
    ("bitfield fail only, pads", ["SET k a"], "k", "BITFIELD k OVERFLOW FAIL SET i8 64 200", EXEC),
]


def words(cmd):
    """A table command as arguments; "" stands for an empty argument."""
    return ["" if w == '""' else w for w in cmd.split(" ")]


def run_case(port, case):
    """(command reply, EXEC reply) of one case on the server at port."""
    label, setup, wkey, command, _ = case
    with K.RawConn(port) as a, K.RawConn(port) as b:
        K.check(a.call("FLUSHALL") == b"+OK\r\n", "%s: FLUSHALL" % label)
        for s in setup:
            r = a.call(*words(s))
            K.check(not r.startswith(b"-"), "%s: setup %r failed: %r" % (label, s, r))
        K.check(a.call("WATCH", wkey) == b"+OK\r\n", "%s: WATCH" % label)
        reply = b.call(*words(command))
        K.check(a.call("MULTI") == b"+OK\r\n", "%s: MULTI" % label)
        K.check(a.call("PING") == b"+QUEUED\r\n", "%s: PING queued" % label)
        return reply, a.call("EXEC")


def run_all(srv):
    return [run_case(srv.port, c) for c in CASES]


def main():
    K.require_kevy()
    K.require_redis()
    with K.redis() as r:
        want = run_all(r)
    with K.kevy("--threads", "3") as k:
        got = run_all(k)
        k.check_clean_exit()
    failures = []
    for case, (rcmd, rexec), (kcmd, kexec) in zip(CASES, want, got):
        label, _, wkey, command, expect = case
        redis_did = ABORT if rexec == b"*-1\r\n" else EXEC
        if redis_did != expect:
            failures.append("%s: the table says %s but redis-server did %s (%s, WATCH %s)"
                            % (label, expect, redis_did, command, wkey))
        if kcmd != rcmd:
            failures.append("%s: %s replied %r on kevy, %r on redis" % (label, command, kcmd, rcmd))
        if kexec != rexec:
            failures.append("%s: WATCH %s / %s / EXEC: kevy %r, redis %r"
                            % (label, wkey, command, kexec, rexec))
    for f in failures:
        K.log("MISMATCH", f)
    K.log("%d cases, %d mismatches" % (len(CASES), len(failures)))
    K.check(not failures, "%d WATCH mismatches (see above)" % len(failures))


if __name__ == "__main__":
    K.run_main(main)
