#!/usr/bin/python3
"""redis-cli against kevy: commands as arguments, commands on a pipe, -x,
-r, --csv, --no-raw, --scan, --bigkeys, --pipe mass insertion of 10,000
commands, -a with requirepass, SHUTDOWN, and -3 (RESP3: maps, sets,
doubles, nulls, verbatim text as redis-cli renders each type, compared with
redis-server's rendering); every output checked.

Skips (77) when redis-cli is not installed.
"""

import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

CLI_TIMEOUT_S = 60


def cli(srv, *args, stdin=None, timeout=CLI_TIMEOUT_S, with_stderr=False):
    """Run redis-cli against srv; returns stdout as bytes, or (stdout,
    stderr) with with_stderr.  Unexpected stderr is logged."""
    argv = [CLI, "-h", "127.0.0.1", "-p", str(srv.port)] + [str(a) for a in args]
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if with_stderr:
        return p.stdout, p.stderr
    if p.stderr and b"Warning" not in p.stderr:
        K.log("redis-cli %s stderr: %r" % (" ".join(argv[5:])[:80], p.stderr[:300]))
    return p.stdout


def expect(srv, args, want, stdin=None):
    out = cli(srv, *args, stdin=stdin)
    K.check(out == want, "redis-cli %s: expected %r, got %r" % (" ".join(map(str, args)), want, out))


def test_args(s):
    expect(s, ["PING"], b"PONG\n")
    expect(s, ["ECHO", "hi there"], b"hi there\n")
    expect(s, ["SET", "a", "hello"], b"OK\n")
    expect(s, ["GET", "a"], b"hello\n")
    expect(s, ["GET", "nokey"], b"\n")
    expect(s, ["--no-raw", "GET", "nokey"], b"(nil)\n")
    expect(s, ["--no-raw", "GET", "a"], b'"hello"\n')
    expect(s, ["INCR", "c"], b"1\n")
    expect(s, ["--no-raw", "INCR", "c"], b"(integer) 2\n")
    expect(s, ["INCRBYFLOAT", "f", "1.5"], b"1.5\n")
    expect(s, ["MSET", "{x}1", "a", "{y}2", "b", "k3", "c"], b"OK\n")
    expect(s, ["MGET", "{x}1", "{y}2", "nokey", "k3"], b"a\nb\n\nc\n")
    expect(s, ["--csv", "MGET", "{x}1", "{y}2", "nokey"], b'"a","b",NULL\n')
    expect(s, ["--no-raw", "MGET", "{x}1", "nokey"], b'1) "a"\n2) (nil)\n')
    expect(s, ["EXISTS", "a", "{x}1", "nokey", "a"], b"3\n")
    expect(s, ["DEL", "{x}1", "{y}2", "nokey"], b"2\n")
    expect(s, ["TYPE", "a"], b"string\n")
    expect(s, ["TYPE", "nokey"], b"none\n")
    expect(s, ["EXPIRE", "a", "1000"], b"1\n")
    out = cli(s, "TTL", "a")
    K.check(out.strip().isdigit() and 990 <= int(out) <= 1000, "TTL a: %r" % out)
    expect(s, ["PERSIST", "a"], b"1\n")
    expect(s, ["TTL", "a"], b"-1\n")
    expect(s, ["-n", "0", "PING"], b"PONG\n")
    expect(s, ["-r", "4", "INCR", "rc"], b"1\n2\n3\n4\n")
    out = cli(s, "GET")
    K.check(out.startswith(b"ERR wrong number of arguments for 'get' command"), "GET arity: %r" % out)
    out = cli(s, "NOSUCHCMD", "x")
    K.check(out.startswith(b"ERR unknown command 'NOSUCHCMD'"), "unknown: %r" % out)
    expect(s, ["SET", "n", "abc"], b"OK\n")
    out = cli(s, "INCR", "n")
    K.check(out.startswith(b"ERR value is not an integer or out of range"), "INCR abc: %r" % out)
    out = cli(s, "INFO", "server")
    K.check(b"tcp_port:%d" % s.port in out, "INFO server lacks tcp_port:%d: %r" % (s.port, out[:300]))
    out = cli(s, "--no-raw", "CONFIG", "GET", "timeout")
    K.check(out == b'1) "timeout"\n2) "0"\n', "CONFIG GET timeout: %r" % out)


def test_stdin(s):
    # Commands on a pipe run in order on one connection.
    expect(s, [], b"OK\n2\n2\nOK\nme\n",
           stdin=b"SET p1 1\nINCR p1\nGET p1\nCLIENT SETNAME me\nCLIENT GETNAME\n")
    # -x: the last argument is read from stdin, binary-safe.
    expect(s, ["-x", "SET", "xk"], b"OK\n", stdin=b"hello\x00world\r\n")
    expect(s, ["STRLEN", "xk"], b"13\n")
    expect(s, ["GETRANGE", "xk", "0", "4"], b"hello\n")
    expect(s, ["-x", "APPEND", "xk"], b"14\n", stdin=b"!")


def test_mass_insert(s):
    """--pipe: 10,000 commands as RESP through redis-cli's mass insertion."""
    before = int(cli(s, "DBSIZE"))
    n = 10000
    chunks = []
    for i in range(n - 1000):
        chunks.append(K.encode("SET", "mass:%d" % i, "value-%d" % i))
    for i in range(1000):
        chunks.append(K.encode("INCR", "masscounter:%d" % (i % 10)))
    out = cli(s, "--pipe", stdin=b"".join(chunks), timeout=120)
    K.check(b"errors: 0, replies: %d" % n in out, "--pipe output: %r" % out[-300:])
    after = int(cli(s, "DBSIZE"))
    K.check(after - before == n - 1000 + 10, "DBSIZE after mass insert: %d -> %d" % (before, after))
    for i in (0, 1, 4567, n - 1001):
        expect(s, ["GET", "mass:%d" % i], b"value-%d\n" % i)
    for j in range(10):
        expect(s, ["GET", "masscounter:%d" % j], b"100\n")
    # Errors inside a --pipe stream are counted, not fatal.
    bad = K.encode("SET", "x") + K.encode("GET", "mass:1") + K.encode("NOSUCHCMD")
    out = cli(s, "--pipe", stdin=bad, with_stderr=True)[0]
    K.check(b"errors: 2, replies: 3" in out, "--pipe with errors: %r" % out[-300:])


def test_scan(s):
    """--scan walks every shard: every matching key exactly once (as a set)."""
    want = {b"mass:%d" % i for i in range(9000) if str(i).startswith("12")}
    out = cli(s, "--scan", "--pattern", "mass:12*")
    got = out.split()
    K.check(set(got) == want, "--scan --pattern: %d keys, want %d (missing %r, extra %r)" % (
        len(set(got)), len(want), sorted(want - set(got))[:5], sorted(set(got) - want)[:5]))
    scanned = set(cli(s, "--scan").split())
    listed = set(cli(s, "KEYS", "*").split())
    total = int(cli(s, "DBSIZE"))
    K.check(scanned == listed and len(listed) == total,
            "--scan saw %d keys, KEYS * %d, DBSIZE %d" % (len(scanned), len(listed), total))
    out = cli(s, "--bigkeys", timeout=120)
    K.check(b"Sampled %d keys in the keyspace!" % total in out, "--bigkeys: %r" % out[-600:])
    K.check(b"Biggest string found" in out, "--bigkeys found no string: %r" % out[-600:])


def test_auth():
    with K.kevy("--requirepass", "s3cret") as s:
        out = cli(s, "PING")
        K.check(out.startswith(b"NOAUTH Authentication required"), "PING without auth: %r" % out)
        expect(s, ["-a", "s3cret", "--no-auth-warning", "PING"], b"PONG\n")
        expect(s, ["-a", "s3cret", "--no-auth-warning", "SET", "k", "v"], b"OK\n")
        out, err = cli(s, "-a", "wrong", "--no-auth-warning", "PING", with_stderr=True)
        K.check(b"WRONGPASS invalid username-password pair" in err and out.startswith(b"NOAUTH"),
                "wrong password: stdout %r stderr %r" % (out, err))
        s.check_clean_exit()


def test_shutdown():
    with K.kevy() as s:
        cli(s, "SET", "k", "v")
        cli(s, "SHUTDOWN")
        try:
            code = s.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise K.TestFailure("server still running 30 s after SHUTDOWN")
        K.check(code == 0, "exit status after SHUTDOWN: %s\n%s" % (code, s.log_tail().decode(errors="replace")))


RESP3_SETUP = [["HSET", "h", "f", "v"], ["ZADD", "z", "1.5", "a", "2", "b"], ["SADD", "st", "7"]]
RESP3_CASES = [["HGETALL", "h"], ["ZSCORE", "z", "a"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
               ["SMEMBERS", "st"], ["GET", "nokey"], ["HGETALL", "nokey"],
               ["CONFIG", "GET", "maxmemory-policy"], ["ZPOPMIN", "z", "1"]]


def test_resp3():
    """redis-cli -3 renders each RESP3 type its own way ("1# ..." for maps,
    (double), (nil)): the same text from kevy as from redis-server."""
    K.require_redis()
    outs = []
    for srv in (K.redis(), K.kevy("--threads", "3")):
        with srv:
            for args in RESP3_SETUP:
                cli(srv, *args)
            outs.append([cli(srv, "-3", "--no-raw", *args) for args in RESP3_CASES])
            info = cli(srv, "-3", "INFO", "server")
            K.check(info.startswith(b"# Server"), "redis-cli -3 INFO (verbatim): %r" % info[:40])
    for args, w, g in zip(RESP3_CASES, *outs):
        K.check(w == g, "redis-cli -3 %s:\n redis %r\n kevy  %r" % (" ".join(args), w, g))


def main():
    global CLI
    CLI = K.require_tool("redis-cli")
    K.require_kevy()
    with K.kevy("--threads", "2") as s:
        for t in (test_args, test_stdin, test_mass_insert, test_scan):
            K.log("--", t.__name__)
            t(s)
        s.check_clean_exit()
    K.log("-- test_auth")
    test_auth()
    K.log("-- test_shutdown")
    test_shutdown()
    K.log("-- test_resp3")
    test_resp3()


CLI = None

if __name__ == "__main__":
    K.run_main(main)
