#!/usr/bin/python3
"""The Redis Cluster and module commands a standalone server answers.

kevy is neither a cluster node nor a module host; clients probe both
(CLUSTER INFO / CLUSTER SLOTS to tell a cluster from a standalone server,
READONLY and ASKING from cluster clients, MODULE LIST from exporters and
GUIs).  Compared byte for byte with a standalone redis-server: every CLUSTER
subcommand, READONLY, READWRITE and ASKING answer "cluster support
disabled" after the usual unknown-subcommand and arity errors, MODULE LIST
is empty, MODULE HELP the same text, COMMAND INFO the same entries, and the
subcommands are in COMMAND LIST (COMMAND INFO compared where kevy's flags
cover Redis's: kevy has no no_async_loading flag).  MODULE LOAD / UNLOAD differ on purpose
(docs/compatibility.md): checked for kevy's own refusal.

DEBUG and MODULE LOAD/LOADEX/UNLOAD are Redis's protected commands:
refused with Redis's text unless enable-debug-command / enable-module-command
is yes, or local for a client from 127.0.0.1 (compared with redis-server
under no, yes and local; MULTI is doomed by a refusal).

LOLWUT: the version line (no VERSION, or a version but 5 and 6; RESP2 and
RESP3) and its argument errors byte for byte; VERSION 5's drawing where it
is not random (its first rows, a one-square canvas) byte for byte, and its
size and credit line; VERSION 6's size (rows, cells per row) and credit.

Environment: KEVY_SERVER (set by CTest).
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

SUBS = ["addslots 1", "addslotsrange 1 2", "bumpepoch", "count-failure-reports x",
        "countkeysinslot 1", "delslots 1", "delslotsrange 1 2", "failover", "flushslots",
        "forget x", "getkeysinslot 1 1", "help", "info", "keyslot k", "links",
        "meet 127.0.0.1 1", "myid", "nodes", "replicas x", "replicate x", "reset",
        "saveconfig", "set-config-epoch 1", "setslot 1 stable", "shards", "slaves x",
        "slots"]

CALLS = (
    [("CLUSTER " + s).split() for s in SUBS] +
    [["CLUSTER"], ["CLUSTER", "nosuch"], ["CLUSTER", "keyslot"], ["CLUSTER", "info", "x"],
     ["CLUSTER", "INFO"], ["READONLY"], ["READWRITE"], ["ASKING"], ["READONLY", "x"],
     ["MODULE", "LIST"], ["MODULE", "HELP"], ["MODULE"], ["MODULE", "nosuch"],
     ["MODULE", "LIST", "x"], ["MODULE", "LOAD"],
     ["COMMAND", "INFO", "readonly", "readwrite", "asking", "cluster|info", "cluster|slots",
      "cluster|keyslot", "cluster|replicas", "cluster|reset", "module|list", "module|help"],
     ["PING"]])


def run(port):
    with K.RawConn(port) as c:
        out = [c.call(*a) for a in CALLS]
        names = K.parse(c.call("COMMAND", "LIST"))
        out.append(sorted(n for n in names if n.startswith((b"cluster", b"module"))))
        return out


PROTECTED = [["DEBUG", "HELP"], ["DEBUG", "nosuch"], ["MODULE", "UNLOAD", "x"],
             ["MODULE", "LIST"], ["MULTI"], ["DEBUG", "DIGEST"], ["EXEC"],
             ["CONFIG", "GET", "enable-debug-command"], ["CONFIG", "GET", "enable-module-command"],
             ["CONFIG", "SET", "enable-debug-command", "yes"], ["COMMAND", "INFO", "debug"]]


def run_protected(port):
    with K.RawConn(port) as c:
        out = [c.call(*a) for a in PROTECTED]
        # DEBUG HELP's text is each server's own; only whether it ran matters.
        out[0] = out[0][:1]
        out[1] = out[1][:1]
        return out


LOLWUT_CALLS = [["LOLWUT"], ["LOLWUT", "VERSION", "7"], ["LOLWUT", "VERSION", "1"],
                ["LOLWUT", "foo"], ["LOLWUT", "VERSION", "x"], ["LOLWUT", "VERSION", "5", "x"],
                ["LOLWUT", "VERSION", "6", "10", "x"], ["LOLWUT", "VERSION", "5", "0", "0", "0"],
                ["LOLWUT", "VERSION", "5", "1", "1", "1"]]


def lolwut_text(reply):
    """The text of a bulk string reply."""
    body = reply.split(b"\r\n", 1)[1]
    return body[:-2]


def run_lolwut(port):
    with K.RawConn(port) as c:
        out = [c.call(*a) for a in LOLWUT_CALLS]
        art = lolwut_text(c.call("LOLWUT", "VERSION", "5")).split(b"\n")
        out.append(art[:7])               # rows 0 and 1 are never turned
        out.append((len(art), art[-2:]))
        art = lolwut_text(c.call("LOLWUT", "VERSION", "5", "2000", "300", "300")).split(b"\n")
        out.append((len(art), art[-1], len(art[0])))   # clamped to 1000 columns
        art = lolwut_text(c.call("LOLWUT", "VERSION", "6", "20", "5")).split(b"\n")
        out.append((len(art), art[-2:], [ln.count(b"\033[0m") for ln in art[:-2]]))
        c.call("HELLO", "3")
        out.append(c.call("LOLWUT"))
        return out


def main():
    K.require_redis()
    K.require_kevy()
    for mode in ("no", "yes", "local"):
        args = ["--enable-debug-command", mode, "--enable-module-command", mode]
        redis_srv = K.redis(*args).start()
        kevy_srv = K.kevy("--threads", "2", *args).start()
        try:
            want = run_protected(redis_srv.port)
            got = run_protected(kevy_srv.port)
        finally:
            redis_srv.stop()
            kevy_srv.check_clean_exit()
        for a, w, g in zip(PROTECTED, want, got):
            K.check(w == g, "enable-*-command %s, %s:\n redis %r\n kevy  %r" % (
                mode, " ".join(a), w, g))
        K.check(want[5].startswith(b"-ERR DEBUG command not allowed") == (mode == "no"),
                "DEBUG refused exactly under no (%s): %r" % (mode, want[5]))

    K.compare_with_redis(run, [" ".join(a) for a in CALLS] + ["COMMAND LIST"],
                         kevy_args=("--threads", "2"))
    K.compare_with_redis(run_lolwut, [" ".join(a) for a in LOLWUT_CALLS] +
                         ["VERSION 5 first rows", "VERSION 5 size and credit",
                          "VERSION 5 clamped", "VERSION 6 size and credit", "RESP3 LOLWUT"],
                         kevy_args=("--threads", "2"))
    with K.kevy("--threads", "2", "--enable-module-command", "yes") as kv:
        with kv.conn() as c:
            r = c.call("MODULE", "LOAD", "/tmp/nosuch.so")
            K.check(r.startswith(b"-ERR Error loading the extension: kevy does not load Redis "
                                 b"modules"), "MODULE LOAD refused: %r" % r)
            r = c.call("MODULE", "LOADEX", "/tmp/nosuch.so", "ARGS", "x")
            K.check(r.startswith(b"-ERR Error loading the extension"), "LOADEX: %r" % r)
            r = c.call("MODULE", "UNLOAD", "x")
            K.check(r == b"-ERR Error unloading module: no such module with that name\r\n",
                    "MODULE UNLOAD of a module never loaded: %r" % r)
            K.check(c.call("PING") == b"+PONG\r\n", "the connection is fine after")
        K.check(b"kevy does not load Redis modules" in kv.log_tail(), "the refusal is logged")
        kv.check_clean_exit()


if __name__ == "__main__":
    K.run_main(main)
