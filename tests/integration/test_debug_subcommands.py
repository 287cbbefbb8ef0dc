#!/usr/bin/python3
"""The DEBUG subcommands Redis's own tests use, on a running kevy
(docs/compatibility.md, "DEBUG").

1. Replies: OBJECT's line (and "ERR no such key"), the address that an
   in-place INCR keeps, a list's quicklist figures; ERROR, LOG,
   QUICKLIST-PACKED-THRESHOLD's checks, RELOAD's option errors; and, when
   redis-server is installed, the same calls answered byte for byte as
   redis-server 7.0 (--enable-debug-command yes) answers them.
2. SET-ACTIVE-EXPIRE 0 keeps expired keys (on every shard) until they are
   read; 1 lets the cron reclaim them.  PAUSE-CRON 1 does the same for the
   whole cron.
3. RELOAD and LOADAOF twice in a row keep every key, its value and its
   deadline (DEBUG DIGEST unchanged), and NOFLUSH without MERGE over a
   non-empty dataset is Redis's load error.
4. SET-DISABLE-DENY-SCRIPTS lets a script call DEBUG (and, after
   redis.setresp(3), its RESP3 replies reach a RESP3 client as RESP3);
   SLEEP stops the caller's shard for the time asked.
5. SWAPDB with a watched key that is stale on one side or both leaves the
   WATCH alone; CONFIG SET of dir (immutable in kevy) to its own value is
   accepted, to another refused (port moves: test_config_listen.py).

Environment: KEVY_SERVER (set by CTest).  Every wait is bounded.
"""

import re
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

OBJECT_LINE = re.compile(
    r"^Value at:0x[0-9a-f]+ refcount:1 encoding:(\S+) serializedlength:(\d+) "
    r"lru:\d+ lru_seconds_idle:\d+(.*)$")
ERR_UNKNOWN = "ERR unknown subcommand or wrong number of arguments for '%s'. Try DEBUG HELP."


def err(reply):
    K.check(isinstance(reply, K.RespError), "expected an error, got %r" % (reply,))
    return reply.msg.decode("latin-1")


def wait_until(what, cond, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    K.fail("timed out waiting for %s" % what)


def test_replies(c):
    c.cmd("SET", "n", "20000")
    line = c.cmd("DEBUG", "OBJECT", "n")
    m = OBJECT_LINE.match(line)
    K.check(m and m.group(1) == "int" and m.group(3) == "", "DEBUG OBJECT of an int: %r" % line)
    c.cmd("INCR", "n")
    again = c.cmd("DEBUG", "OBJECT", "n")
    K.check(again.split()[1] == line.split()[1],
            "INCR moved the value: %r then %r" % (line, again))
    c.cmd("RPUSH", "l", "a", "bb", "ccc")
    line = c.cmd("DEBUG", "OBJECT", "l")
    m = OBJECT_LINE.match(line)
    K.check(m and m.group(1) == "quicklist" and re.match(
        r"^ ql_nodes:1 ql_avg_node:3\.00 ql_listpack_max:-2 ql_compressed:0 "
        r"ql_uncompressed_size:\d+$", m.group(3)), "DEBUG OBJECT of a list: %r" % line)
    c.cmd("HSET", "h", "f", "v")
    K.check(OBJECT_LINE.match(c.cmd("DEBUG", "OBJECT", "h")).group(1) == "listpack",
            "DEBUG OBJECT of a small hash")
    K.check(err(c.cmd("DEBUG", "OBJECT", "nosuchkey")) == "ERR no such key", "OBJECT, no key")
    K.check(c.call("DEBUG", "ERROR", "WRONG this\r\nand that") == b"-WRONG this  and that\r\n",
            "DEBUG ERROR")
    K.check(c.cmd("DEBUG", "LOG", "from test_debug_subcommands") == "OK", "DEBUG LOG")
    for size in ("1b", "0", "100", "4095mb"):
        K.check(c.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", size) == "OK", "threshold " + size)
    for size in ("4gb", "abc", "-1", "5gb"):
        K.check(err(c.cmd("DEBUG", "QUICKLIST-PACKED-THRESHOLD", size)) ==
                "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                "threshold " + size)
    K.check(err(c.cmd("DEBUG", "RELOAD", "bogus")) ==
            "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            "RELOAD's option error")
    K.check(err(c.cmd("DEBUG", "SET-ACTIVE-EXPIRE")) == ERR_UNKNOWN % "SET-ACTIVE-EXPIRE",
            "a missing argument")
    K.check(err(c.cmd("DEBUG", "JMAP")) == ERR_UNKNOWN % "JMAP", "an unknown subcommand")
    help_lines = c.cmd("DEBUG", "HELP")
    for sub in ("OBJECT <key>", "LOADAOF", "SET-ACTIVE-EXPIRE <0|1>", "PAUSE-CRON <0|1>"):
        K.check(sub in help_lines, "DEBUG HELP lists %s" % sub)


# The calls whose replies do not depend on the server's memory layout or
# clock: kevy must answer them as redis-server does.
SAME_AS_REDIS = [
    ("DEBUG", "ERROR", "WRONG this\r\nand that"),
    ("DEBUG", "OBJECT", "nosuchkey"),
    ("DEBUG", "SET-ACTIVE-EXPIRE", "1"),
    ("DEBUG", "SET-ACTIVE-EXPIRE"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4gb"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "x"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "-1"),
    ("DEBUG", "RELOAD", "bogus"),
    ("DEBUG", "PAUSE-CRON", "0"),
    ("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0"),
    ("DEBUG", "SLEEP", "0"),
    ("DEBUG", "LOG", "hello"),
    ("DEBUG", "NOSUCHSUB"),
    ("SET", "s", "hello"),
    ("DEBUG", "DIGEST-VALUE", "nosuchkey"),
]


def test_same_as_redis():
    if not K.redis_binary():
        K.log("redis-server is not installed: the differential part is skipped")
        return

    with K.redis("--enable-debug-command", "yes", name="redis") as rd, \
            K.kevy("--threads", "2", name="kevy-diff") as kv:
        with rd.conn() as cr, kv.conn() as ck:
            for cmd in SAME_AS_REDIS:
                want, got = cr.call(*cmd), ck.call(*cmd)
                K.check(want == got, "%s:\n redis %r\n kevy  %r" % (" ".join(cmd), want, got))
        kv.check_clean_exit()
    K.log("differential: %d DEBUG calls identical" % len(SAME_AS_REDIS))


def test_active_expire(c):
    c.cmd("FLUSHALL")
    K.check(c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK", "SET-ACTIVE-EXPIRE 0")
    keys = ["exp:%d" % i for i in range(20)]   # over both shards
    for k in keys:
        c.cmd("SET", k, "v", "PX", "50")
    time.sleep(0.5)   # five cron ticks at hz 10
    K.check(c.cmd("DBSIZE") == len(keys), "active expiry ran while off")
    K.check(c.cmd("GET", keys[0]) is None, "a read still expires lazily")
    K.check(c.cmd("DBSIZE") == len(keys) - 1, "the read reclaimed one key")
    c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_until("active expiry to reclaim the keys", lambda: c.cmd("DBSIZE") == 0)

    K.check(c.cmd("DEBUG", "PAUSE-CRON", "1") == "OK", "PAUSE-CRON 1")
    for k in keys:
        c.cmd("SET", k, "v", "PX", "50")
    time.sleep(0.5)
    K.check(c.cmd("DBSIZE") == len(keys), "the cron ran while paused")
    c.cmd("DEBUG", "PAUSE-CRON", "0")
    wait_until("the cron to resume", lambda: c.cmd("DBSIZE") == 0)


def test_reload_twice(c):
    c.cmd("FLUSHALL")
    deadline_ms = int(time.time() * 1000) + 3600 * 1000
    for i in range(50):
        c.cmd("SET", "k:%d" % i, "v%d" % i)
    c.cmd("RPUSH", "list", "a", "b")
    c.cmd("PEXPIREAT", "k:7", str(deadline_ms))
    digest = c.cmd("DEBUG", "DIGEST")
    for sub in ("RELOAD", "RELOAD", "LOADAOF", "LOADAOF", "RELOAD"):
        K.check(c.cmd("DEBUG", sub) == "OK", "DEBUG %s" % sub)
        K.check(c.cmd("DBSIZE") == 51, "DEBUG %s kept %r keys of 51" % (sub, c.cmd("DBSIZE")))
        K.check(c.cmd("DEBUG", "DIGEST") == digest, "DEBUG %s changed the dataset" % sub)
    K.check(c.cmd("PEXPIRETIME", "k:7") == deadline_ms, "the deadline after reloads")
    K.check(err(c.cmd("DEBUG", "RELOAD", "NOFLUSH")) == "ERR Error trying to load the RDB dump",
            "NOFLUSH without MERGE over keys")
    K.check(c.cmd("DEBUG", "RELOAD", "NOFLUSH", "MERGE") == "OK", "NOFLUSH MERGE")
    K.check(c.cmd("DEBUG", "RELOAD", "NOSAVE") == "OK", "NOSAVE")
    K.check(c.cmd("DEBUG", "DIGEST") == digest, "the options changed the dataset")


def test_scripts_and_sleep(c):
    script = "return redis.call('debug', 'protocol', 'integer')"
    K.check(err(c.cmd("EVAL", script, "0")).startswith(
        "ERR This Redis command is not allowed from script"), "DEBUG in a script, default")
    K.check(c.cmd("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1") == "OK", "deny off")
    K.check(c.cmd("EVAL", script, "0") == 12345, "DEBUG PROTOCOL from a script")
    # After redis.setresp(3) the script gets RESP3 and hands it on as
    # RESP3 to a RESP3 client, as RESP2 to a RESP2 one.
    resp3 = "redis.setresp(3); return redis.call('debug', 'protocol', '%s')"
    K.check(c.call("EVAL", resp3 % "double", "0") == b"$5\r\n3.141\r\n", "RESP3 double, RESP2")
    c.call("HELLO", "3")
    for typ, want in (("double", b",3.141\r\n"), ("true", b"#t\r\n"), ("null", b"_\r\n"),
                      ("bignum", b"(1234567999999999999999999999999999999\r\n")):
        got = c.call("EVAL", resp3 % typ, "0")
        K.check(got == want, "RESP3 %s from a script: %r" % (typ, got))
    got = c.call("EVAL", resp3 % "set", "0")   # members in Lua's table order
    K.check(got.startswith(b"~3\r\n") and sorted(got.split(b"\r\n")[1:4]) == [b":0", b":1", b":2"],
            "RESP3 set from a script: %r" % got)
    c.call("HELLO", "2")
    c.cmd("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0")
    K.check(isinstance(c.cmd("EVAL", script, "0"), K.RespError), "deny back on")
    t0 = time.monotonic()
    K.check(c.cmd("DEBUG", "SLEEP", "0.3") == "OK", "DEBUG SLEEP")
    K.check(time.monotonic() - t0 >= 0.29, "DEBUG SLEEP 0.3 returned early")


def test_swapdb_and_config(srv):
    with srv.conn() as c, srv.conn() as other:
        c.cmd("FLUSHALL")
        c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        # Stale in database 0, absent in 1 (watched there): nothing changes.
        c.cmd("SET", "x", "v", "PX", "1")
        time.sleep(0.01)
        c.cmd("SELECT", "1")
        c.cmd("WATCH", "x")
        other.cmd("SWAPDB", "0", "1")
        c.cmd("MULTI")
        c.cmd("PING")
        K.check(c.cmd("EXEC") == ["PONG"], "SWAPDB bringing in a stale key broke the WATCH")
        # A live key swapped in does change it.
        c.cmd("SELECT", "0")
        c.cmd("SET", "y", "live")
        c.cmd("SELECT", "1")
        c.cmd("WATCH", "y")
        other.cmd("SWAPDB", "0", "1")
        c.cmd("MULTI")
        c.cmd("PING")
        K.check(c.cmd("EXEC") is None, "SWAPDB bringing in a live key left the WATCH")
        c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")

        d = c.cmd("CONFIG", "GET", "dir")[1].decode()
        K.check(c.cmd("CONFIG", "SET", "dir", d) == "OK", "CONFIG SET dir to itself")
        K.check(err(c.cmd("CONFIG", "SET", "dir", "/tmp")) ==
                "ERR CONFIG SET failed (possibly related to argument 'dir') - "
                "can't set immutable config", "CONFIG SET dir elsewhere")
        K.check(err(c.cmd("CONFIG", "SET", "databases", "16")).endswith(
            "can't set immutable config"), "Redis's immutable settings stay refused")
        K.check(c.cmd("CONFIG", "SET", "aof-use-rdb-preamble", "no") == "OK", "preamble no")
        K.check(c.cmd("CONFIG", "GET", "aof-use-rdb-preamble") ==
                [b"aof-use-rdb-preamble", b"no"], "preamble shown")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's DEBUG only (the differential part runs redis-server itself)")
    with K.kevy("--threads", "2", name="kevy-debug") as srv:
        with srv.conn() as c:
            test_replies(c)
            test_active_expire(c)
            test_reload_twice(c)
            test_scripts_and_sleep(c)
        test_swapdb_and_config(srv)
        srv.check_clean_exit()
    test_same_as_redis()


if __name__ == "__main__":
    K.run_main(main)
