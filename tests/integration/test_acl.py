#!/usr/bin/python3
"""ACL users (docs/acl.md) on kevy --threads 2, and against redis-server 7.0.

kevy (keys spread over both shards): users with key patterns reach their
keys on either shard and are refused the others; a denied MSET / DEL / EVAL
never runs on the other shard (the key stays absent and kevy's forwarded
command counter does not move); read-only and write-only patterns; channel
patterns for PUBLISH, SUBSCRIBE, PSUBSCRIBE; MULTI queueing a denied command
(EXECABORT) and rules changed between queueing and EXEC; EVAL calling a
denied command (Redis's error, an ACL LOG entry with the lua context);
redis.acl_check_cmd; ACL LOG fields, grouping, count and RESET; AUTH with a
wrong password or as a disabled user (WRONGPASS, logged); SETUSER off keeps
the user's open connections, DELUSER closes them; CLIENT LIST user= and
CLIENT KILL USER; requirepass is the default user's password (CONFIG SET);
a rule list with an error changes nothing.  Files: an aclfile with a bad
line refuses to start and names the line, so does a bad `user` line in the
config file; ACL SAVE then ACL LOAD gives the same users back, the file is
complete (written through a temp file); ACL LOAD of a bad file answers the
error and changes nothing.

Differential: the same ACL command sequence to redis-server and kevy,
replies byte for byte (SETUSER errors, GETUSER, LIST, USERS, DRYRUN, AUTH,
NOPERM texts, EVAL's denial, LOG's shape), and ACL CAT's membership for
every command both servers have.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

E = K.RespError


def is_err(r, prefix):
    return isinstance(r, E) and r.msg.startswith(prefix.encode())


def auth(c, user, pw):
    r = c.cmd("AUTH", user, pw)
    K.check(r == "OK", "AUTH %s: %r" % (user, r))


def forwarded(c):
    if K.target() == "redis":
        return 0   # one process: nothing to forward
    info = K.parse(c.call("INFO", "stats")).decode()
    for line in info.split("\r\n"):
        if line.startswith("kevy_forwarded_commands:"):
            return int(line.split(":")[1])
    K.fail("INFO stats has kevy_forwarded_commands")


def log_entries(c, n=10):
    out = []
    for e in c.cmd("ACL", "LOG", str(n)):
        out.append({e[i].decode(): e[i + 1] for i in range(0, len(e), 2)})
    return out


def check_keys_and_shards(srv):
    with srv.conn() as adm, srv.conn() as a:
        K.check(adm.cmd("ACL", "SETUSER", "alice", "on", ">pa", "~key:*", "+@all",
                        "-@dangerous") == "OK", "SETUSER alice")
        auth(a, "alice", "pa")
        K.check(a.cmd("ACL", "WHOAMI") == b"alice", "WHOAMI alice")
        # Twenty keys spread over both shards: every one reachable.
        for i in range(20):
            K.check(a.cmd("SET", "key:%d" % i, "v%d" % i) == "OK", "SET key:%d" % i)
        K.check(a.cmd("MGET", *["key:%d" % i for i in range(20)]) ==
                [b"v%d" % i for i in range(20)], "MGET over both shards")
        # Others refused, on either shard, with Redis's error.
        for i in range(20):
            r = a.cmd("GET", "other:%d" % i)
            K.check(r == E(b"NOPERM this user has no permissions to access one of the keys "
                           b"used as arguments"), "GET other:%d: %r" % (i, r))
        r = a.cmd("FLUSHALL")
        K.check(r == E(b"NOPERM this user has no permissions to run the 'flushall' command"),
                "FLUSHALL: %r" % r)
        # A denied call never runs anywhere: not forwarded, key absent.
        before = forwarded(adm)
        for i in range(20):
            K.check(is_err(a.cmd("MSET", "key:%d" % i, "x", "other:%d" % i, "y"), "NOPERM"),
                    "MSET with a denied key")
            K.check(is_err(a.cmd("SET", "other:%d" % i, "y"), "NOPERM"), "SET other")
            K.check(is_err(a.cmd("EVAL", "return redis.call('set', KEYS[1], 'z')", "1",
                                 "other:%d" % i), "NOPERM"), "EVAL naming other")
        # Past any fixed-size key list: the last of 3000 keys is checked too.
        many = []
        for i in range(1500):
            many += ["key:m%d" % i, "x"]
        K.check(is_err(a.cmd("MSET", *(many + ["other:last", "y"])), "NOPERM"),
                "MSET's 1501st key is checked")
        after = forwarded(adm)
        K.check(after == before, "denied commands forwarded nothing (%d -> %d)" %
                (before, after))
        K.check(adm.cmd("EXISTS", *(["other:%d" % i for i in range(20)] +
                                    ["other:last", "key:m0"])) == 0,
                "no denied write happened")
        K.check(adm.cmd("MGET", "key:0", "key:19") == [b"v0", b"v19"], "MSET did not run")
        # Read-only and write-only patterns.
        K.check(adm.cmd("ACL", "SETUSER", "rw", "on", "nopass", "%R~r:*", "%W~w:*",
                        "+@all") == "OK", "SETUSER rw")
        with srv.conn() as b:
            auth(b, "rw", "any")
            K.check(b.cmd("GET", "r:1") is None, "read r:1")
            K.check(is_err(b.cmd("SET", "r:1", "x"), "NOPERM"), "write r:1 denied")
            K.check(b.cmd("SET", "w:1", "x") == "OK", "write w:1")
            K.check(is_err(b.cmd("GET", "w:1"), "NOPERM"), "read w:1 denied")
        # Selectors: a second set of rules that may succeed where the root fails.
        K.check(adm.cmd("ACL", "SETUSER", "sel", "on", "nopass", "-@all", "+get", "~a:*",
                        "(+set ~b:*)") == "OK", "SETUSER with a selector")
        with srv.conn() as s:
            auth(s, "sel", "x")
            K.check(s.cmd("GET", "a:1") is None, "root selector GET a:1")
            K.check(s.cmd("SET", "b:1", "1") == "OK", "selector SET b:1")
            K.check(is_err(s.cmd("SET", "a:1", "1"), "NOPERM"), "SET a:1 in no selector")
            K.check(is_err(s.cmd("GET", "b:1"), "NOPERM"), "GET b:1 in no selector")


def check_multi_script_channels(srv):
    with srv.conn() as adm, srv.conn() as a:
        adm.cmd("ACL", "SETUSER", "bob", "on", ">pb", "~k:*", "+@all", "-set",
                "resetchannels", "&news.*")
        auth(a, "bob", "pb")
        # MULTI: a denied command is refused at queueing and dooms EXEC.
        K.check(a.cmd("MULTI") == "OK", "MULTI")
        K.check(is_err(a.cmd("SET", "k:1", "1"), "NOPERM"), "SET refused in MULTI")
        K.check(is_err(a.cmd("EXEC"), "EXECABORT"), "EXEC aborted")
        # Rules changed after queueing: EXEC answers NOPERM for that command.
        K.check(a.cmd("MULTI") == "OK", "MULTI 2")
        K.check(a.cmd("INCR", "k:2") == "QUEUED", "INCR queued")
        K.check(a.cmd("GET", "k:2") == "QUEUED", "GET queued")
        adm.cmd("ACL", "SETUSER", "bob", "-incr")
        r = a.cmd("EXEC")
        K.check(isinstance(r, list) and len(r) == 2 and is_err(r[0], "NOPERM ACLs rules "
                "changed") and r[1] is None, "EXEC after the rules changed: %r" % (r,))
        # EVAL: the script's commands run as the caller.
        adm.cmd("ACL", "LOG", "RESET")
        r = a.cmd("EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k:3")
        K.check(isinstance(r, E) and b"The user executing the script can't run this "
                b"command or subcommand" in r.msg, "EVAL calling SET: %r" % (r,))
        K.check(adm.cmd("EXISTS", "k:3") == 0, "the script's SET did not run")
        ents = log_entries(adm)
        K.check(ents and ents[0]["context"] == b"lua" and ents[0]["object"] == b"set" and
                ents[0]["reason"] == b"command" and ents[0]["username"] == b"bob",
                "ACL LOG of the script: %r" % (ents[:1],))
        # Scripts run on the shard of their keys (forwarded there or not):
        # the log names the client either way.
        adm.cmd("ACL", "SETUSER", "bob", "+eval")
        for i in range(10):
            r = a.cmd("EVAL", "return redis.call('get', KEYS[1])", "1", "k:%d" % i)
            K.check(r is None or isinstance(r, bytes), "EVAL reads k:%d: %r" % (i, r))
        adm.cmd("ACL", "LOG", "RESET")
        for i in range(10):
            r = a.cmd("EVAL", "redis.call('get', KEYS[1]) "
                      "return redis.call('publish', ARGV[1], 'm')", "1", "k:%d" % i,
                      "sports:%d" % i)
            K.check(isinstance(r, E) and b"can't publish to the channel" in r.msg,
                    "EVAL publishing to sports:%d: %r" % (i, r))
        ents = log_entries(adm, 20)
        K.check(len(ents) == 10 and all(e["context"] == b"lua" and e["reason"] == b"channel" and
                                        b" user=bob " in e["client-info"] for e in ents),
                "ACL LOG of scripts on both shards: %r" % (ents[:2],))
        K.check(a.cmd("EVAL", "return redis.acl_check_cmd('set', 'k:1', 'x')", "0") is None,
                "acl_check_cmd set is false (nil)")
        K.check(a.cmd("EVAL", "return redis.acl_check_cmd('get', 'k:1')", "0") == 1,
                "acl_check_cmd get is true")
        K.check(a.cmd("EVAL", "return redis.acl_check_cmd('get', 'z:1')", "0") is None,
                "acl_check_cmd on a denied key is false")
        # Channels.
        K.check(a.cmd("PUBLISH", "news.1", "hi") == 0, "PUBLISH news.1")
        r = a.cmd("PUBLISH", "sports", "hi")
        K.check(r == E(b"NOPERM this user has no permissions to access one of the channels "
                       b"used as arguments"), "PUBLISH sports: %r" % (r,))
        K.check(is_err(a.cmd("SUBSCRIBE", "news.1", "sports"), "NOPERM"), "SUBSCRIBE sports")
        K.check(is_err(a.cmd("PSUBSCRIBE", "news.a*"), "NOPERM"),
                "PSUBSCRIBE compares patterns literally")
        r = a.cmd("PSUBSCRIBE", "news.*")
        K.check(isinstance(r, list) and r[0] == b"psubscribe", "PSUBSCRIBE news.*: %r" % (r,))
        ents = log_entries(adm)
        K.check(ents[0]["reason"] == b"channel" and ents[0]["object"] == b"news.a*",
                "ACL LOG channel entry: %r" % (ents[0],))
        # Channels granted on top keep the subscriber; taken away, it goes.
        K.check(adm.cmd("ACL", "SETUSER", "bob", "&more") == "OK", "more channels")
        r = a.cmd("PING")
        K.check(r == [b"pong", b""], "subscriber still there: %r" % (r,))
        K.check(adm.cmd("ACL", "SETUSER", "bob", "resetchannels") == "OK", "channels revoked")
        K.check(a.closed_by_peer(5.0), "revoking channels closes the user's subscribers")


def check_log_auth_clients(srv):
    with srv.conn() as adm:
        adm.cmd("ACL", "LOG", "RESET")
        adm.cmd("ACL", "SETUSER", "carol", "on", ">pc", "+@all", "~*")
        with srv.conn() as x:
            for _ in range(3):
                r = x.cmd("AUTH", "carol", "wrong")
                K.check(r == E(b"WRONGPASS invalid username-password pair or user is "
                               b"disabled."), "wrong password: %r" % (r,))
            K.check(is_err(x.cmd("AUTH", "nobody", "x"), "WRONGPASS"), "unknown user")
        ents = log_entries(adm)
        K.check(len(ents) == 2, "two auth entries (grouped): %r" % (ents,))
        e = ents[1]
        K.check(set(e) == {"count", "reason", "context", "object", "username", "age-seconds",
                           "client-info"}, "Redis's fields: %r" % (sorted(e),))
        K.check(e["count"] == 3 and e["reason"] == b"auth" and e["context"] == b"toplevel" and
                e["object"] == b"AUTH" and e["username"] == b"carol" and
                b" user=default " in e["client-info"], "grouped auth entry: %r" % (e,))
        K.check(float(e["age-seconds"]) >= 0, "age-seconds a number")
        K.check(len(adm.cmd("ACL", "LOG", "1")) == 1, "ACL LOG 1")
        K.check(is_err(adm.cmd("ACL", "LOG", "x"), "ERR value is not an integer"), "LOG x")
        K.check(adm.cmd("ACL", "LOG", "RESET") == "OK" and adm.cmd("ACL", "LOG") == [],
                "LOG RESET")
        # off: open connections stay, new AUTH fails; DELUSER closes them.
        with srv.conn() as c1, srv.conn() as c2:
            auth(c1, "carol", "pc")
            auth(c2, "carol", "pc")
            lines = K.parse(adm.call("CLIENT", "LIST")).decode()
            K.check(lines.count(" user=carol ") == 2, "CLIENT LIST user=carol")
            K.check(adm.cmd("ACL", "SETUSER", "carol", "off") == "OK", "carol off")
            K.check(c1.cmd("PING") == "PONG", "off keeps the connection")
            with srv.conn() as c3:
                K.check(is_err(c3.cmd("AUTH", "carol", "pc"), "WRONGPASS"), "AUTH while off")
            K.check(adm.cmd("ACL", "DELUSER", "carol", "nosuch") == 1, "DELUSER count")
            K.check(c1.closed_by_peer(5.0) and c2.closed_by_peer(5.0),
                    "DELUSER closes the user's clients")
        K.check(is_err(adm.cmd("ACL", "DELUSER", "default"), "ERR The 'default' user "
                       "cannot be removed"), "DELUSER default")
        adm.cmd("ACL", "SETUSER", "dave", "on", "nopass", "+@all")
        with srv.conn() as d:
            auth(d, "dave", "x")
            K.check(adm.cmd("CLIENT", "KILL", "USER", "dave") == 1, "CLIENT KILL USER dave")
            K.check(d.closed_by_peer(5.0), "killed")
        K.check(is_err(adm.cmd("CLIENT", "KILL", "USER", "ghost"), "ERR No such user"),
                "CLIENT KILL USER unknown")
        # Nothing half-applied: the error leaves the user as it was.
        before = adm.cmd("ACL", "GETUSER", "dave")
        r = adm.cmd("ACL", "SETUSER", "dave", "-@all", ">newpass", "~x", "bogus")
        K.check(r == E(b"ERR Error in ACL SETUSER modifier 'bogus': Syntax error"),
                "syntax error: %r" % (r,))
        K.check(adm.cmd("ACL", "GETUSER", "dave") == before, "dave unchanged")
        K.check(adm.cmd("ACL", "SETUSER", "eve", "on", "+nosuchcmd") ==
                E(b"ERR Error in ACL SETUSER modifier '+nosuchcmd': Unknown command or "
                  b"category name in ACL"), "unknown command")
        K.check(adm.cmd("ACL", "GETUSER", "eve") is None, "eve not created")
        # requirepass is the default user's password.
        K.check(adm.cmd("CONFIG", "SET", "requirepass", "sekret") == "OK", "requirepass")
        with srv.conn() as n:
            K.check(is_err(n.cmd("GET", "x"), "NOAUTH"), "NOAUTH with requirepass")
            K.check(is_err(n.cmd("AUTH", "bad"), "WRONGPASS"), "AUTH bad")
            auth(n, "default", "sekret")
            K.check(n.cmd("GET", "nokey") is None, "authenticated")
        du = adm.cmd("ACL", "GETUSER", "default")
        import hashlib
        K.check(du[3] == [hashlib.sha256(b"sekret").hexdigest().encode()],
                "the default user's one password is requirepass's SHA-256: %r" % (du[3],))
        K.check(adm.cmd("CONFIG", "SET", "requirepass", "") == "OK", "requirepass off")
        with srv.conn() as n:
            K.check(n.cmd("GET", "nokey") is None, "no password again")


def check_files():
    # An aclfile with a bad line: the server refuses to start, naming it.
    srv = K.kevy("--threads", "2")
    path = os.path.join(srv.tmpdir, "users.acl")
    with open(path, "w") as f:
        f.write("user default on nopass ~* &* +@all\nuser x on >p +get\n"
                "user y on +@all bogusrule\n")
    srv.args += ["--aclfile", path]
    try:
        srv.start(timeout=5)
        K.fail("kevy started with a bad aclfile")
    except K.TestFailure as e:
        msg = str(e)
        K.check("%s:3: Syntax error" % path in msg and "Aborting" in msg,
                "refusal names the line: %s" % msg[-600:])
    # A bad `user` line in the config file.
    srv = K.kevy("--threads", "2")
    conf = os.path.join(srv.tmpdir, "kevy.conf")
    with open(conf, "w") as f:
        f.write("port 1\nuser u1 on >p +get\nuser u2 on +nosuch\n")
    srv._argv = lambda port: [K.kevy_binary(), conf, "--port", str(port), "--bind",
                              "127.0.0.1", "--dir", srv.dir]
    try:
        srv.start(timeout=5)
        K.fail("kevy started with a bad user line")
    except K.TestFailure as e:
        msg = str(e)
        K.check("at line 3" in msg and "Error in user declaration '+nosuch': Unknown "
                "command or category name in ACL" in msg, "config refusal: %s" % msg[-600:])
    # Config users load at startup.
    srv = K.kevy("--threads", "2")
    conf = os.path.join(srv.tmpdir, "kevy.conf")
    with open(conf, "w") as f:
        f.write("user u1 on >p1 ~a:* +get\n")
    srv._argv = lambda port: [K.kevy_binary(), conf, "--port", str(port), "--bind",
                              "127.0.0.1", "--dir", srv.dir]
    srv.start()
    try:
        with srv.conn() as c:
            auth(c, "u1", "p1")
            K.check(c.cmd("GET", "a:1") is None and is_err(c.cmd("SET", "a:1", "x"),
                    "NOPERM"), "config user rules")
            K.check(is_err(c.cmd("ACL", "SAVE"), "NOPERM"), "u1 cannot ACL SAVE")
        with srv.conn() as c:
            K.check(is_err(c.cmd("ACL", "SAVE"), "ERR This Redis instance is not configured "
                           "to use an ACL file"), "no aclfile")
            # CONFIG REWRITE writes the users as `user` lines.
            c.cmd("ACL", "SETUSER", "u2", "on", ">p2", "%R~r:*", "+@read")
            listed = c.cmd("ACL", "LIST")
            K.check(c.cmd("CONFIG", "REWRITE") == "OK", "CONFIG REWRITE")
        with open(conf) as f:
            text = f.read()
        K.check(text.count("\nuser ") + text.startswith("user ") == 3,
                "three user lines: %r" % text)
        srv.check_clean_exit()
        srv.start()
        with srv.conn() as c:
            K.check(c.cmd("ACL", "LIST") == listed, "the rewritten file gives the users back")
        srv.check_clean_exit()
    finally:
        srv.cleanup()
    # SAVE / LOAD round trip, and LOAD of a bad file changes nothing.
    srv = K.kevy("--threads", "2")
    path = os.path.join(srv.tmpdir, "users.acl")
    with open(path, "w") as f:
        f.write("user default on nopass ~* &* +@all\n")
    srv.args += ["--aclfile", path]
    srv.start()
    try:
        with srv.conn() as c, srv.conn() as victim:
            c.cmd("ACL", "SETUSER", "ann", "on", ">pw", "~x:*", "%R~r:*", "&ch", "+@read",
                  "-keys", "(+set ~s:*)")
            c.cmd("ACL", "SETUSER", "ben", "off", "#" + "ab" * 32, "+@all", "-@admin")
            listed = c.cmd("ACL", "LIST")
            K.check(c.cmd("ACL", "SAVE") == "OK", "ACL SAVE")
            with open(path) as f:
                text = f.read()
            K.check(text == "".join(l.decode() + "\n" for l in listed),
                    "the file is ACL LIST: %r" % text)
            K.check(not [n for n in os.listdir(srv.tmpdir) if ".tmp" in n],
                    "no temp file left")
            auth(victim, "ann", "pw")
            c.cmd("ACL", "DELUSER", "ben")
            c.cmd("ACL", "SETUSER", "zed", "on")
            K.check(c.cmd("ACL", "LOAD") == "OK", "ACL LOAD")
            K.check(c.cmd("ACL", "LIST") == listed, "LOAD gives the saved users back")
            K.check(victim.closed_by_peer(5.0), "LOAD closes the old users' clients")
            with open(path, "a") as f:
                f.write("user broken on +@all nosuchrule\n")
            r = c.cmd("ACL", "LOAD")
            K.check(isinstance(r, E) and (b"%s:4: Syntax error." % path.encode()) in r.msg and
                    r.msg.endswith(b"WARNING: ACL errors detected, no change to the "
                                   b"previously active ACL rules was performed"),
                    "bad LOAD: %r" % (r,))
            K.check(c.cmd("ACL", "LIST") == listed, "a bad LOAD changes nothing")
        srv.check_clean_exit()
    finally:
        srv.cleanup()


# ---- differential --------------------------------------------------------

DIFF_SCRIPT = [
    ("ACL", "SETUSER", "u1", "on", ">p1", "~key:*", "+@all", "-@dangerous"),
    ("ACL", "GETUSER", "u1"),
    ("ACL", "SETUSER", "u2", "%R~r:*", "%W~w:*", "&chan", "+get", "+set", "(+del ~d:*)"),
    ("ACL", "GETUSER", "u2"),
    ("ACL", "SETUSER", "u3", "+@all", "-config|set", "+select|0", "nopass", "on"),
    ("ACL", "SETUSER", "u4", "-@all", "+config|get", "+client", "-client|kill"),
    ("ACL", "SETUSER", "u5", "+@hash", "+@string", "-hset", "allchannels", "allkeys"),
    ("ACL", "SETUSER", "u6", "reset", ">a", ">b", "<a", "#" + "0f" * 32),
    ("ACL", "LIST"),
    ("ACL", "USERS"),
    ("ACL", "SETUSER", "bad", "nosuchrule"),
    ("ACL", "SETUSER", "bad", "+nosuch"),
    ("ACL", "SETUSER", "bad", "-@nosuch"),
    ("ACL", "SETUSER", "bad", "~*", "~more"),
    ("ACL", "SETUSER", "bad", "&*", "&more"),
    ("ACL", "SETUSER", "bad", "<notthere"),
    ("ACL", "SETUSER", "bad", "#short"),
    ("ACL", "SETUSER", "bad", "(~a", "+get"),
    ("ACL", "SETUSER", "bad", "%X~a"),
    ("ACL", "SETUSER", "bad", "+config|get|x"),
    ("ACL", "SETUSER", "bad", "+get|"),
    ("ACL", "SETUSER", "bad user"),
    ("ACL", "GETUSER", "bad"),
    ("ACL", "DELUSER", "default"),
    ("ACL", "DELUSER", "u6", "nosuch"),
    ("ACL", "DRYRUN", "u1", "get", "key:1"),
    ("ACL", "DRYRUN", "u1", "get", "other"),
    ("ACL", "DRYRUN", "u1", "flushall"),
    ("ACL", "DRYRUN", "u2", "publish", "nope", "m"),
    ("ACL", "DRYRUN", "u2", "get"),
    ("ACL", "DRYRUN", "nosuch", "get", "x"),
    ("ACL", "DRYRUN", "u1", "nosuchcmd"),
    ("ACL", "DRYRUN", "u4", "config", "get", "x"),
    ("ACL", "DRYRUN", "u4", "config", "set", "x", "y"),
    ("ACL", "DRYRUN", "u3", "select", "0"),
    ("ACL", "DRYRUN", "u3", "select", "1"),
    ("ACL", "CAT", "nosuch"),
    ("ACL", "GENPASS", "0"),
    ("ACL", "GENPASS", "x"),
    ("ACL", "GENPASS", "5000"),
    ("ACL", "LOG", "RESET"),
    ("ACL", "NOSUCH"),
    ("ACL", "WHOAMI"),
    ("ACL", "HELP"),
    ("AUTH", "u1", "wrong"),
    ("AUTH", "onlypass"),
    ("AUTH", "u1", "p1"),
    ("ACL", "WHOAMI"),
    ("GET", "key:1"),
    ("GET", "other"),
    ("FLUSHALL",),
    ("SET", "key:2", "v"),
    ("MSET", "key:3", "v", "other", "v"),
    ("EVAL", "return redis.call('flushall')", "0"),
    ("EVAL", "return redis.call('get', KEYS[1])", "1", "other"),
    ("EVAL", "return redis.pcall('get', KEYS[1])", "1", "key:3"),
    ("EVAL", "return redis.acl_check_cmd('flushall')", "0"),
    ("EVAL", "return redis.acl_check_cmd('nosuch')", "0"),
    ("MULTI",),
    ("GET", "other"),
    ("EXEC",),
    ("AUTH", "u2", "x"),
    ("AUTH", "default", "x"),
    ("ACL", "WHOAMI"),
    ("ACL", "SETUSER", "u1", "off"),
    ("AUTH", "u1", "p1"),
    ("CONFIG", "SET", "requirepass", "rp"),
    ("ACL", "GETUSER", "default"),
    ("ACL", "LIST"),
    ("CONFIG", "SET", "requirepass", ""),
    ("ACL", "GETUSER", "default"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "0"),
    ("SLOWLOG", "RESET"),
    ("ACL", "SETUSER", "u7", ">secret", "on"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "10000"),
]


def canon_rules(v):
    """Redis writes the single-command part of a rule list (+get +set) in
    its hash table's order, which means nothing: sort each run of them."""
    if isinstance(v, list):
        return [canon_rules(x) for x in v]
    if not isinstance(v, bytes) or b" " not in v:
        return v
    toks, out, run = v.split(b" "), [], []
    for t in toks:
        if t[:1] in (b"+", b"-") and b"@" not in t and not t.endswith(b")"):
            run.append(t)
            continue
        out += sorted(run) + [t]
        run = []
    return b" ".join(out + sorted(run))


def run_diff(port):
    out = []
    with K.RawConn(port) as c:
        for cmd in DIFF_SCRIPT:
            raw = c.call(*cmd)
            if cmd[:2] in (("ACL", "GETUSER"), ("ACL", "LIST")):
                raw = repr(canon_rules(K.parse(raw))).encode()
            out.append(raw)
        # ACL SETUSER's rules are redacted in the slow log.
        sl = K.parse(c.call("SLOWLOG", "GET", "10"))
        out.append(repr([e[3] for e in sl if e[3][:1] == [b"ACL"] or
                         e[3][:2] == [b"acl", b"setuser"]]).encode())
        # LOG's shape: the entries' fields but for the times and client info.
        ents = K.parse(c.call("ACL", "LOG"))
        shape = []
        for e in ents:
            d = {e[i]: e[i + 1] for i in range(0, len(e), 2)}
            shape.append((sorted(d), d[b"count"], d[b"reason"], d[b"context"], d[b"object"],
                          d[b"username"]))
        out.append(repr(shape).encode())
    return out


def run_cat(port):
    with K.RawConn(port) as c:
        cats = K.parse(c.call("ACL", "CAT"))
        members = {}
        for cat in cats:
            members[cat] = set(K.parse(c.call("ACL", "CAT", cat)))
        return cats, members


def check_cat_membership():
    rs = K.redis().start()
    ks = K.kevy("--threads", "2").start()
    try:
        rcats, rmem = run_cat(rs.port)
        kcats, kmem = run_cat(ks.port)
        with ks.conn() as c:
            names = sorted(set().union(*rmem.values()))
            c.send(b"".join(K.encode("COMMAND", "INFO", n) for n in names))
            infos = [K.parse(r) for r in c.read_replies(len(names))]
        known = {n for n, i in zip(names, infos) if i and i[0] is not None}
    finally:
        rs.stop()
        ks.stop()
    K.check(rcats == kcats, "ACL CAT lists Redis's categories in order: %r" % (kcats,))
    K.check(len(known) > 200, "kevy knows most of Redis's commands (%d)" % len(known))
    redis_all = set().union(*rmem.values())
    for cat in rcats:
        # Commands Redis 7.0 lacks (WAITAOF) have kevy's own categories.
        want = rmem[cat] & known
        got = kmem[cat] & redis_all
        K.check(got == want, "ACL CAT %s: kevy extra %r, missing %r" %
                (cat.decode(), sorted(got - want)[:10], sorted(want - got)[:10]))
    K.log("ACL CAT: %d categories identical over %d shared commands" % (len(rcats),
                                                                         len(known)))


# ---- key permissions by key-spec flags -----------------------------------

# Calls whose keys a %R~* user (read only) and a %W~* user (write only) may
# or may not touch: each key needs read access when its key spec reads it
# (access) and write access when it changes it (insert, delete, update),
# as Redis's ACLSelectorCheckKey asks; so INCR needs both and SET only
# write.
KEY_CALLS = [
    "GET k", "SET k v", "SET k v GET", "INCR k", "APPEND k v", "GETSET k v", "GETDEL k",
    "GETEX k", "STRLEN k", "EXISTS k", "TYPE k", "DEL k", "UNLINK k", "EXPIRE k 10",
    "LPUSH l a", "LPOP l", "RPOPLPUSH l m", "LMOVE l m LEFT RIGHT", "SMOVE s t a",
    "SADD s a", "SINTERSTORE d s t", "ZUNIONSTORE d 2 z y", "ZRANGESTORE d z 0 -1",
    "PFADD p a", "PFCOUNT p", "PFMERGE d p", "XADD x * f v", "XLEN x",
    "SORT l", "SORT l STORE d", "BITFIELD b GET u8 0", "BITFIELD b SET u8 0 1",
    "BITFIELD_RO b GET u8 0", "BITOP AND d a b", "COPY k c", "RENAME k r",
    "OBJECT ENCODING k", "MEMORY USAGE k", "EVAL return 1 1 k", "EVAL_RO return 1 1 k",
    "GEORADIUS g 0 0 1 km STORE d", "GEOADD g 0 0 m", "HSET h f v", "HGET h f",
    "HINCRBY h f 1", "LINSERT l BEFORE a b", "LSET l 0 a", "SETRANGE k 0 v", "GETRANGE k 0 1",
    "LCS k c", "TOUCH k", "PERSIST k", "DUMP k", "MGET k c", "MSET k 1 c 2",
]


def run_key_flags(port):
    out = []
    with K.RawConn(port) as c:
        for user, rule in (("ro", "%R~*"), ("wo", "%W~*"), ("both", "%RW~*")):
            K.check(K.parse(c.call("ACL", "SETUSER", user, "on", "nopass", rule, "+@all",
                                   "&*")) == "OK", "SETUSER " + user)
        for user in ("ro", "wo", "both"):
            with K.RawConn(port) as u:
                K.check(K.parse(u.call("AUTH", user, "x")) == "OK", "AUTH " + user)
                for call in KEY_CALLS:
                    r = u.call(*call.split())
                    # Only the verdict matters: the call's own reply depends
                    # on the keys' state, which differs between users.
                    out.append(r if r.startswith(b"-NOPERM") else b"allowed")
        out.append(c.call("ACL", "LOG", "RESET"))
    return out


def check_key_flags():
    labels = ["%s %s" % (u, call) for u in ("ro", "wo", "both") for call in KEY_CALLS]
    K.compare_with_redis(run_key_flags, labels + ["ACL LOG RESET"],
                         kevy_args=("--threads", "2"), what="key permission")


def main():
    srv = K.kevy("--threads", "2").start()
    try:
        check_keys_and_shards(srv)
        check_multi_script_channels(srv)
        check_log_auth_clients(srv)
        srv.check_clean_exit()   # status 0, no sanitizer report in the log
    finally:
        srv.cleanup()
    if K.target() == "kevy":
        check_files()
    labels = [" ".join(c)[:60] for c in DIFF_SCRIPT] + ["SLOWLOG of ACL SETUSER",
                                                         "ACL LOG shape"]
    K.compare_with_redis(run_diff, labels, kevy_args=("--threads", "2"), what="ACL command")
    check_cat_membership()
    check_key_flags()


if __name__ == "__main__":
    K.run_main(main)
