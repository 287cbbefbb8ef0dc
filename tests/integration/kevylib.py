"""kevylib - shared helpers for kevy's integration tests.

What it is: starting and stopping a server under test (kevy-server, or
redis-server as the reference) on a free loopback port with a temporary data
directory and a captured log; a minimal raw RESP client that returns the exact
bytes of one reply (for byte-for-byte comparisons); and the exit-code contract
of the test programs (0 pass, 1 fail, 77 skip).

What it is not: a Redis client library.  Tests that want a real client use
redis-py or redis-cli; this module only speaks enough RESP2 to frame replies.

Environment:
  KEVY_SERVER   path to kevy-server (set by CTest).  Unset -> tests skip (77).
  KEVY_TARGET   "redis" runs every "kevy" server as redis-server instead, to
                prove that the tests themselves are right.  kevy-only flags
                (--threads, --io) are dropped in that mode.
  KEVY_START_TIMEOUT  seconds to wait for a server to answer PING (default 30;
                sanitizer builds start slower).

Every loop here is bounded in iterations and in time.
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

PASS, FAIL, SKIP = 0, 1, 77

START_TIMEOUT_S = float(os.environ.get("KEVY_START_TIMEOUT", "30"))
STOP_TIMEOUT_S = 20.0
# Words in a server log that mean a sanitizer or an assertion fired.
LOG_ALARMS = (b"ERROR: AddressSanitizer", b"runtime error:", b"ERROR: LeakSanitizer",
              b"assertion failed", b"ASSERTION FAILED", b"WARNING: ThreadSanitizer")


class TestFailure(Exception):
    """Raised by check(); main() turns it into exit 1."""


def log(*args):
    print(*args, flush=True)


def skip(reason):
    log("SKIP:", reason)
    sys.exit(SKIP)


def fail(reason):
    log("FAIL:", reason)
    sys.exit(FAIL)


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def target():
    """'kevy' or 'redis' (KEVY_TARGET=redis points the tests at Redis)."""
    t = os.environ.get("KEVY_TARGET", "kevy").strip().lower()
    return "redis" if t == "redis" else "kevy"


def kevy_binary():
    """Path of kevy-server; skips (77) when KEVY_SERVER is unset, fails when it
    names something that is not an executable."""
    path = os.environ.get("KEVY_SERVER", "")
    if not path:
        skip("KEVY_SERVER is not set (point it at build/kevy-server, "
             "or set KEVY_TARGET=redis)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fail("KEVY_SERVER=%s is not an executable file" % path)
    return path


def redis_binary():
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


def require_redis():
    """Skip (77) unless redis-server is installed; returns its path."""
    p = redis_binary()
    if not p:
        skip("redis-server is not installed (apt-get install redis-server)")
    return p


def require_tool(name):
    p = shutil.which(name) or ("/usr/bin/" + name if os.access("/usr/bin/" + name, os.X_OK) else None)
    if not p:
        skip("%s is not installed" % name)
    return p


def require_kevy():
    """Skip/fail early as kevy_binary() would (no-op when KEVY_TARGET=redis)."""
    if target() == "redis":
        require_redis()
    else:
        kevy_binary()


def free_port():
    """A TCP port free on 127.0.0.1 right now (never 6379).  The kernel picks
    it from the ephemeral range; the small race until the server binds is
    covered by start() retrying on another port."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port != 6379:
            return port
    raise RuntimeError("could not find a free port")


# ---------------------------------------------------------------- RESP client

def encode(*args):
    """RESP2 multibulk encoding of a command; args are str, bytes or int."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        else:
            b = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class ConnectionClosed(Exception):
    pass


class RawConn:
    """One TCP connection; reads replies as raw bytes, exactly one at a time.

    read_reply() returns the complete bytes of the next reply, RESP2 or
    RESP3 (nested aggregates included; an attribute with the value it
    precedes) and leaves anything after it buffered.  Every read is
    bounded by `timeout` seconds overall."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("reply not complete within %.1fs" % self.timeout)
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk

    def _line_end(self, start, deadline):
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                return i
            self._fill(deadline)

    def _skip_one(self, at, deadline):
        """Index just past the reply that starts at `at`.  Arrays are walked
        with an explicit stack of remaining element counts (no recursion)."""
        pending = 1
        stack = []
        while True:
            while at >= len(self.buf):
                self._fill(deadline)
            start = at
            t = self.buf[at:at + 1]
            e = self._line_end(at, deadline)
            line = bytes(self.buf[at + 1:e])
            at = e + 2
            if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
                pass
            elif t in (b"$", b"=", b"!"):
                n = int(line)
                if n >= 0:
                    while len(self.buf) < at + n + 2:
                        self._fill(deadline)
                    at += n + 2
            elif t in (b"*", b"~", b">", b"%", b"|"):
                n = int(line)
                if t in (b"%", b"|"):
                    n *= 2
                if t == b"|":
                    n += 1      # an attribute map, then the value it is about
                if n > 0:
                    stack.append(pending - 1)
                    pending = n
                    continue
            else:
                raise ValueError("not a RESP reply: %r" % bytes(self.buf[start:e + 2]))
            pending -= 1
            while pending == 0:
                if not stack:
                    return at
                pending = stack.pop()

    def _compact(self):
        # Only between replies: _skip_one holds offsets into buf.
        if self.pos > (1 << 20) and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0

    def read_reply(self, timeout=None):
        self._compact()
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        end = self._skip_one(self.pos, deadline)
        r = bytes(self.buf[self.pos:end])
        self.pos = end
        return r

    def read_replies(self, n, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        out = []
        for _ in range(n):
            self._compact()
            end = self._skip_one(self.pos, deadline)
            out.append(bytes(self.buf[self.pos:end]))
            self.pos = end
        return out

    def call(self, *args):
        """Send one command, return the raw bytes of its reply."""
        self.send(encode(*args))
        return self.read_reply()

    def cmd(self, *args):
        """Send one command, return its reply parsed (see parse())."""
        return parse(self.call(*args))

    def expect_incr_replies_then_close(self, n):
        """After n INCRs of a fresh counter and a half-close (SHUT_WR): the
        replies 1..n in order, then the server closes the connection."""
        for i in range(n):
            r = self.read_reply()
            if r != b":%d\r\n" % (i + 1):
                fail("reply %d after the half-close: %r" % (i, r))
        try:
            self.read_reply()
            fail("the server keeps a half-closed client open")
        except ConnectionClosed:
            pass

    def send_in_background(self, data):
        """Send data from a thread while the caller reads the replies (a
        burst larger than the socket buffers).  Returns finish(timeout),
        which joins the thread and returns the error it met, or None."""
        errs = []

        def sender():
            try:
                self.send(data)
            except OSError as e:
                errs.append(e)
        t = threading.Thread(target=sender)
        t.start()

        def finish(timeout=60):
            t.join(timeout)
            if t.is_alive():
                return "still sending after %ss" % timeout
            return errs[0] if errs else None
        return finish

    def closed_by_peer(self, timeout=5.0):
        """True when the server closes the connection (EOF or reset) within
        `timeout` seconds with no more data; False if data arrives or the
        connection stays open."""
        if self.pos < len(self.buf):
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


class RespError:
    """A parsed error reply (kept distinct from bulk strings)."""

    def __init__(self, msg):
        self.msg = msg

    def __eq__(self, other):
        return isinstance(other, RespError) and other.msg == self.msg

    def __hash__(self):
        return hash(self.msg)

    def __repr__(self):
        return "RespError(%r)" % self.msg


def parse(raw):
    """Parse the raw bytes of one reply: simple string -> str, error ->
    RespError(bytes), integer -> int, bulk -> bytes or None, array -> list or
    None."""
    val, end = _parse_at(raw, 0)
    if end != len(raw):
        raise ValueError("trailing bytes after reply: %r" % raw[end:])
    return val


def _parse_at(raw, at):
    e = raw.index(b"\r\n", at)
    t, line = raw[at:at + 1], raw[at + 1:e]
    at = e + 2
    if t == b"+":
        return line.decode("latin-1"), at
    if t == b"-":
        return RespError(line), at
    if t == b":":
        return int(line), at
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, at
        return raw[at:at + n], at + n + 2
    if t == b"*":
        n = int(line)
        if n < 0:
            return None, at
        items = []
        for _ in range(n):
            v, at = _parse_at(raw, at)
            items.append(v)
        return items, at
    raise ValueError("not a RESP2 reply: %r" % raw[:64])


# ------------------------------------------------------------------ servers

class Server:
    """A server process on a free loopback port with its own temp directory.

    kind: "kevy" or "redis".  args: extra flags.  The log (stdout+stderr) goes
    to <tmpdir>/server.log.  Use as a context manager, or call start()/stop().
    stop() sends SIGTERM, waits up to STOP_TIMEOUT_S, then SIGKILLs; it
    records the exit status in self.exit_code."""

    def __init__(self, kind="kevy", args=(), name=None, keep_dir=False):
        if kind == "kevy" and target() == "redis":
            kind = "redis"
            args = _drop_kevy_only_flags(list(args))
        self.kind = kind
        self.args = list(args)
        self.name = name or kind
        self.proc = None
        self.port = None
        self.exit_code = None
        self.keep_dir = keep_dir
        self.tmpdir = tempfile.mkdtemp(prefix="kevy-it-%s-" % self.name)
        self.dir = os.path.join(self.tmpdir, "data")
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.tmpdir, "server.log")
        self._logf = None

    def _argv(self, port):
        # DEBUG is a protected command (enable-debug-command no by default,
        # in both servers); tests use it, as Redis's own suite does (its
        # default.conf enables it).  A test's own args come after: they win.
        if self.kind == "kevy":
            return [kevy_binary(), "--port", str(port), "--bind", "127.0.0.1",
                    "--dir", self.dir, "--enable-debug-command", "yes"] + self.args
        rb = require_redis()
        return [rb, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", "", "--enable-debug-command", "yes"] + self.args

    def start(self, timeout=None):
        timeout = START_TIMEOUT_S if timeout is None else timeout
        last_err = None
        for attempt in range(3):
            port = free_port()
            self._logf = open(self.log_path, "ab")
            self._logf.write(b"==== start attempt %d port %d\n" % (attempt, port))
            self._logf.flush()
            argv = self._argv(port)
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._logf,
                                         stderr=subprocess.STDOUT, cwd=self.tmpdir)
            self.port = port
            ok, last_err = self._wait_ready(timeout)
            if ok:
                return self
            self._kill_quietly()
            if b"ddress already in use" not in self.log_tail(4000):
                break
        msg = "%s did not start: %s\nargv: %s\n--- log ---\n%s" % (
            self.name, last_err, " ".join(argv), self.log_tail().decode("utf-8", "replace"))
        self.cleanup()   # the log is in the message; leave no process or dir
        raise TestFailure(msg)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        err = "timeout"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with status %s" % self.proc.returncode
            try:
                with RawConn(self.port, timeout=2.0) as c:
                    r = c.call("PING")
                    if r == b"+PONG\r\n" or r.startswith(b"-NOAUTH"):
                        return True, None
                    err = "PING replied %r" % r
            except (OSError, ValueError) as e:
                err = repr(e)
            time.sleep(0.05)
        return False, err

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def conn(self, timeout=10.0):
        return RawConn(self.port, timeout=timeout)

    def ping_ok(self):
        """A fresh connection answers PING with PONG."""
        try:
            with RawConn(self.port, timeout=5.0) as c:
                return c.call("PING") == b"+PONG\r\n"
        except (OSError, ValueError):
            return False

    def log_tail(self, n=6000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - n))
                return f.read()
        except OSError:
            return b""

    def log_alarms(self):
        """Lines of the log that show a sanitizer report or failed assertion."""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return []
        return [ln for ln in data.splitlines() if any(a in ln for a in LOG_ALARMS)]

    def _kill_quietly(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self._logf:
            self._logf.close()
            self._logf = None

    def stop(self):
        """SIGTERM, wait (bounded), SIGKILL.  Returns the exit status
        (negative = killed by that signal, as subprocess reports it)."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log("%s did not exit within %.0fs of SIGTERM; killing it" % (self.name, STOP_TIMEOUT_S))
                self.proc.kill()
                self.proc.wait(10)
                self.exit_code = "killed after SIGTERM timeout"
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        if self._logf:
            self._logf.close()
            self._logf = None
        return self.exit_code

    def check_clean_exit(self):
        """Stop the server and raise TestFailure unless it exited 0 on SIGTERM
        with no sanitizer/assert reports in its log."""
        was_alive = self.alive()
        code = self.stop()
        alarms = self.log_alarms()
        if not was_alive:
            raise TestFailure("%s had already died (status %s)\n--- log tail ---\n%s" % (
                self.name, code, self.log_tail().decode("utf-8", "replace")))
        if code != 0 or alarms:
            raise TestFailure("%s: unclean exit after SIGTERM (status %s)%s\n--- log tail ---\n%s" % (
                self.name, code, "; log alarms: %r" % alarms[:5] if alarms else "",
                self.log_tail().decode("utf-8", "replace")))

    def cleanup(self):
        self.stop()
        if not self.keep_dir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.report_if_broken()
        self.cleanup()

    def report_if_broken(self):
        """When a test leaves on an exception, show this server's state and
        log tail: the traceback alone only shows a closed connection."""
        died = self.proc is not None and self.proc.poll() is not None
        alarms = self.log_alarms()
        log("%s (port %s) %s; log alarms: %r\n--- log tail ---\n%s" % (
            self.name, self.port,
            "had died (status %s)" % self.proc.returncode if died else "is alive",
            alarms[:5], self.log_tail(3000).decode("utf-8", "replace")))


def _drop_kevy_only_flags(args):
    out = []
    i = 0
    while i < len(args):
        if args[i] in ("--threads", "--io") and i + 1 < len(args):
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def kevy(*args, **kw):
    """A Server for kevy-server (or redis-server under KEVY_TARGET=redis)."""
    return Server("kevy", args, **kw)


def redis(*args, **kw):
    return Server("redis", args, **kw)


def compare_with_redis(run, labels, kevy_args=("--threads", "4"), what="command"):
    """Run run(port) -> [reply, ...] against a fresh redis-server and a fresh
    kevy, and require equal replies label by label (byte for byte) and a
    clean kevy exit.  Returns the number of labels compared."""
    redis_srv = redis().start()
    kevy_srv = kevy(*kevy_args).start()
    try:
        want = run(redis_srv.port)
        got = run(kevy_srv.port)
    finally:
        redis_srv.stop()
        kevy_srv.stop()
    for label, w, g in zip(labels, want, got):
        check(w == g, "%s %s:\n redis %r\n kevy  %r" % (what, label, w, g))
    check(len(want) == len(got) == len(labels), "one reply per %s" % what)
    check(kevy_srv.exit_code == 0, "kevy exits cleanly (status %s)" % kevy_srv.exit_code)
    log("differential: %d %ss identical" % (len(labels), what))
    return len(labels)


def run_main(fn):
    """Run fn() and exit with the test contract: 0 on success, 1 on
    TestFailure or any exception (printed), 77 when fn calls skip()."""
    t0 = time.monotonic()
    try:
        fn()
    except TestFailure as e:
        log("FAIL:", e)
        sys.exit(FAIL)
    except SystemExit:
        raise
    except BaseException:
        import traceback
        traceback.print_exc()
        log("FAIL: exception")
        sys.exit(FAIL)
    log("PASS (%.1fs, target=%s)" % (time.monotonic() - t0, target()))
    sys.exit(PASS)


def rng_from_env(var="KEVY_SEED"):
    """(seed, random.Random): seed from env var, else fresh; always printed."""
    s = os.environ.get(var)
    seed = int(s) if s else random.SystemRandom().randrange(1, 2 ** 32)
    log("seed: %d  (replay with %s=%d)" % (seed, var, seed))
    return seed, random.Random(seed)
