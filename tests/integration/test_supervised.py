#!/usr/bin/python3
"""`supervised systemd|auto|no`: systemd's readiness protocol on a unix
datagram socket, as a service manager sees it.

The test plays systemd: it binds a datagram socket, starts kevy with
NOTIFY_SOCKET naming it, and reads what arrives.  With data to load
(DEBUG POPULATE, then a restart): STATUS= comes first; READY=1 comes once,
and when it comes a fresh connection's PING is answered and DBSIZE shows
every key (recovery is done, every shard serves); INFO says
process_supervised:systemd; SIGTERM brings STOPPING=1 and a clean exit.
The same through an abstract-namespace socket ("@name"), and with
`supervised auto`.  `supervised no` sends nothing even with NOTIFY_SOCKET
set; `supervised systemd` without NOTIFY_SOCKET starts unsupervised and
says so in the log; a bad value is refused with Redis's error.  Beside
supervision, what a service manager relies on: the pidfile is written at
startup and removed at a clean exit, and SIGHUP does not stop the server.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

KEYS = 200000


class Notify:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "kevy-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="kevy-notify-")
            path = os.path.join(self.dir, "notify.sock")
            self.sock.bind(path)
            self.env = path
        self.lines = []    # (wall-clock time, line) in arrival order

    def poll(self, timeout):
        """Collect datagrams for at most timeout seconds; returns the new lines."""
        new = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            now = time.time()
            for line in data.decode().split("\n"):
                if line:
                    new.append((now, line))
            if new:
                break
        self.lines += new
        return new

    def wait_for(self, line, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for _, got in self.poll(deadline - time.monotonic()):
                if got == line:
                    return True
        return False

    def texts(self):
        return [ln for _, ln in self.lines]

    def close(self):
        self.sock.close()


def start(srv, notify_env, *extra):
    """Start srv's kevy-server by hand (Server.start would wait for PING,
    which is what the test wants to order against READY)."""
    port = K.free_port()
    srv.port = port
    argv = srv._argv(port) + list(extra)
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if notify_env is not None:
        env["NOTIFY_SOCKET"] = notify_env
    srv._logf = open(srv.log_path, "ab")
    srv._logf.flush()
    srv.run_log_start = os.path.getsize(srv.log_path)   # this run's lines follow
    srv.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=srv._logf,
                                stderr=subprocess.STDOUT, cwd=srv.tmpdir, env=env)


def info_field(port, section, name):
    with K.RawConn(port) as c:
        info = c.call("INFO", section).decode()
    for line in info.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise K.TestFailure("INFO %s has no %s" % (section, name))


LOG_TIME = re.compile(rb"^\d+:[A-Z] (\d\d \w{3} \d{4} \d\d:\d\d:\d\d)\.(\d{3}) . (.*)$")


def log_time(srv, text):
    """Wall-clock time (to the millisecond, rounded down, as the log prints
    it) of the last line of this run's log containing text, or None."""
    found = None
    with open(srv.log_path, "rb") as f:
        f.seek(srv.run_log_start)
        lines = f.read().splitlines()
    for line in lines:
        m = LOG_TIME.match(line)
        if m and text in m.group(3):
            t = time.mktime(time.strptime(m.group(1).decode(), "%d %b %Y %H:%M:%S"))
            found = t + int(m.group(2)) / 1000.0
    return found


def populate(srv):
    """A data directory with KEYS keys, so recovery takes a while."""
    srv.start()
    with srv.conn(timeout=60) as c:
        K.check(c.call("DEBUG", "POPULATE", str(KEYS)) == b"+OK\r\n", "DEBUG POPULATE")
        K.check(c.call("SAVE") == b"+OK\r\n", "SAVE")
    K.check(srv.stop() == 0, "the populating run exits cleanly")


def supervised_run(srv, notify, *extra):
    """Start under supervision and check READY=1's meaning; returns with
    the server running."""
    start(srv, notify.env, *extra)
    K.check(notify.wait_for("READY=1", 60), "READY=1 arrives (got %r)\n%s" % (
        notify.texts(), srv.log_tail().decode("utf-8", "replace")))
    # The moment READY=1 is read, recovery has ended (its log line is
    # written before the shards start) and the server serves every key.
    # Ordered by the clock too: the log's time of that line (rounded down
    # to the millisecond) is not after READY=1 arrived.  (A READY=1 sent
    # before recovery arrives a recovery's time earlier.)
    ready_at = [t for t, ln in notify.lines if ln == "READY=1"][0]
    loaded_at = log_time(srv, b"DB loaded from disk")
    K.check(loaded_at is not None and loaded_at <= ready_at,
            "READY=1 (at %.3f) came after recovery ended (logged at %s):\n%s" % (
                ready_at, loaded_at, srv.log_tail().decode("utf-8", "replace")))
    with K.RawConn(srv.port, timeout=5) as c:
        K.check(c.call("PING") == b"+PONG\r\n", "PING is answered as soon as READY=1 arrives")
        dbsize = c.call("DBSIZE")
    K.check(dbsize == b":%d\r\n" % KEYS,
            "recovery was done before READY=1: DBSIZE %r, want %d" % (dbsize, KEYS))
    texts = notify.texts()
    ready_at = texts.index("READY=1")
    K.check(any(t.startswith("STATUS=") for t in texts[:ready_at]),
            "a STATUS= line comes before READY=1: %r" % texts)
    K.check("STATUS=Ready to accept connections" in texts,
            "STATUS says it is ready: %r" % texts)
    K.check(info_field(srv.port, "server", "process_supervised") == "systemd",
            "INFO server: process_supervised:systemd")


def stop_supervised(srv, notify):
    srv.proc.send_signal(signal.SIGTERM)
    K.check(notify.wait_for("STOPPING=1", 30), "STOPPING=1 after SIGTERM (got %r)" %
            notify.texts())
    try:
        code = srv.proc.wait(60)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait(10)
        raise K.TestFailure("kevy did not exit after SIGTERM")
    K.check(code == 0, "clean exit after SIGTERM (status %s)" % code)
    K.check(notify.texts().count("READY=1") == 1, "READY=1 was sent once: %r" % notify.texts())
    K.check(not srv.log_alarms(), "no sanitizer report: %r" % srv.log_alarms())


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("redis-server from Debian speaks sd_notify through libsystemd; "
               "this test drives kevy's own implementation")
    srv = K.kevy("--threads", "2")
    try:
        populate(srv)

        notify = Notify()
        supervised_run(srv, notify, "--supervised", "systemd")
        stop_supervised(srv, notify)
        notify.close()

        # The abstract namespace ("@name"), found by `supervised auto`.
        notify = Notify(abstract=True)
        supervised_run(srv, notify, "--supervised", "auto")
        stop_supervised(srv, notify)
        notify.close()

        # supervised no: nothing is sent, even with NOTIFY_SOCKET set.
        # (And the pidfile: written at startup, removed at a clean exit;
        # SIGHUP is ignored, as by redis-server.)
        notify = Notify()
        pidfile = os.path.join(srv.tmpdir, "kevy.pid")
        start(srv, notify.env, "--supervised", "no", "--pidfile", pidfile)
        ok, err = srv._wait_ready(60)
        K.check(ok, "kevy starts: %s" % err)
        K.check(info_field(srv.port, "server", "process_supervised") == "no",
                "INFO server: process_supervised:no")
        with open(pidfile) as f:
            K.check(f.read() == "%d\n" % srv.proc.pid, "the pidfile holds the server's pid")
        srv.proc.send_signal(signal.SIGHUP)
        notify.poll(1.0)
        K.check(srv.ping_ok(), "SIGHUP leaves the server running")
        srv.proc.send_signal(signal.SIGTERM)
        K.check(srv.proc.wait(60) == 0, "clean exit")
        K.check(not os.path.exists(pidfile), "the pidfile is removed at a clean exit")
        notify.poll(0.5)
        K.check(notify.lines == [], "supervised no sends nothing: %r" % notify.texts())
        notify.close()

        # supervised systemd without NOTIFY_SOCKET: unsupervised, logged.
        start(srv, None, "--supervised", "systemd")
        ok, err = srv._wait_ready(60)
        K.check(ok, "kevy starts without NOTIFY_SOCKET: %s" % err)
        K.check(info_field(srv.port, "server", "process_supervised") == "no",
                "without NOTIFY_SOCKET kevy is not supervised")
        K.check(b"NOTIFY_SOCKET not found" in srv.log_tail(20000),
                "the log says why supervision is off")
        srv.proc.send_signal(signal.SIGTERM)
        K.check(srv.proc.wait(60) == 0, "clean exit")
    finally:
        srv.cleanup()

    # A bad value stops the server before it starts, with Redis's error.
    r = subprocess.run([K.kevy_binary(), "--supervised", "launchd", "--port", "0"],
                       capture_output=True, timeout=30)
    K.check(r.returncode == 1, "--supervised launchd exits 1 (got %s)" % r.returncode)
    K.check(b"argument(s) must be one of the following: upstart, systemd, auto, no"
            in r.stderr + r.stdout, "Redis's error text: %r" % (r.stderr + r.stdout))


if __name__ == "__main__":
    K.run_main(main)
