#!/usr/bin/env python3
"""functions.kevy (docs/format.md, "Function libraries"): the libraries
survive kill -9; kevy-check reports the file (clean, with its library
count; corrupt when damaged, exit 2); kevy-dump prints each library (text,
JSON, and --resp as the FUNCTION LOAD REPLACE that recreates it, which a
fresh server accepts); a damaged or truncated file makes the server refuse
to start, naming it, and kevy-dump refuse too.

Every server listens on loopback on a port it picks; every wait is bounded.
"""
import json
import os

import aoflib as A
import kevylib as K

LIB = ("#!lua name=mylib\n"
       "redis.register_function('setit', function(keys, args) "
       "return redis.call('set', keys[1], args[1]) end)\n")
LIB2 = ("#!lua name=other\n"
        "redis.register_function('hi', function() return 'hi' end)\n")


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy's data files")
    kc = A.kevy_check_path()
    K.check(kc is not None, "kevy-check is built")
    srv = K.kevy("--threads", "2", "--save", "", name="fnfile")
    try:
        srv.start()
        with srv.conn() as c:
            K.check(c.call("FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n", "load mylib")
            K.check(c.call("FUNCTION", "LOAD", LIB2) == b"$5\r\nother\r\n", "load other")
        A.kill9(srv)
        fpath = os.path.join(srv.dir, "functions.kevy")
        K.check(os.path.exists(fpath), "functions.kevy written")

        code, out, err = A.tool("kevy-check", srv.dir)
        K.check(code == 0 and "function libraries]: clean: 2 librar(ies)" in out,
                "kevy-check reports the file: %d %s %s" % (code, out, err))
        code, out, err = A.tool("kevy-dump", srv.dir)
        K.check(code == 0 and 'function library "mylib" len %d code "#!lua name=mylib\\n' % len(LIB)
                in out and 'function library "other"' in out,
                "kevy-dump lists the libraries: %d %s %s" % (code, out[:600], err))
        code, out, err = A.tool("kevy-dump", "--json", srv.dir)
        objs = [json.loads(line) for line in out.splitlines() if line.strip()]
        libs = {o["function_library"]: o["code"] for o in objs if "function_library" in o}
        K.check(libs == {"mylib": LIB, "other": LIB2}, "kevy-dump --json: %r" % libs)
        code, resp, err = A.tool("kevy-dump", "--resp", srv.dir)
        K.check(code == 0 and resp.startswith("*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"),
                "kevy-dump --resp: %r" % resp[:120])

        # The --resp output recreates the libraries on a fresh server.
        fresh = K.kevy("--threads", "1", "--save", "", name="fnfile-fresh")
        try:
            fresh.start()
            with fresh.conn() as c:
                c.send(resp.encode())
                replies = c.read_replies(2)
                K.check(replies == [b"$5\r\nmylib\r\n", b"$5\r\nother\r\n"],
                        "FUNCTION LOAD REPLACE accepted: %r" % replies)
                K.check(c.call("FCALL", "hi", "0") == b"$2\r\nhi\r\n", "recreated")
            fresh.stop()
        finally:
            fresh.cleanup()

        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("FCALL", "setit", "1", "k", "v") == b"+OK\r\n",
                    "the library survived kill -9")
        srv.stop()

        # Damage: a flipped payload byte, then a truncated file.
        with open(fpath, "rb") as f:
            good = f.read()
        for label, data in (("flipped", good[:30] + bytes([good[30] ^ 1]) + good[31:]),
                            ("truncated", good[:-5])):
            with open(fpath, "wb") as f:
                f.write(data)
            code, out, err = A.tool("kevy-check", srv.dir)
            K.check(code == 2 and "functions.kevy" in out and "corrupt" in out,
                    "%s: kevy-check says corrupt: %d %s" % (label, code, out))
            code, out, err = A.tool("kevy-dump", srv.dir)
            K.check(code == 2 and "functions.kevy" in err,
                    "%s: kevy-dump refuses: %d %s" % (label, code, err))
            rc, log = A.start_refused(srv.dir, "--threads", "2", "--save", "")
            K.check(rc not in (0, None) and "functions.kevy" in log,
                    "%s: the server refuses to start naming the file: %r" % (label, log[-400:]))
        with open(fpath, "wb") as f:
            f.write(good)
        A.restart(srv)
        with srv.conn() as c:
            K.check(c.call("FCALL", "hi", "0") == b"$2\r\nhi\r\n", "restored file loads")
        srv.stop()
        K.log("functions.kevy: durable, checked, dumped, recreated; damage refused everywhere")
    finally:
        srv.cleanup()


if __name__ == "__main__":
    K.run_main(main)
