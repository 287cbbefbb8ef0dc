#!/usr/bin/python3
"""Failover under Redis Sentinel: acknowledged writes survive kill -9 (issue 20).

Three kevy servers (a primary and two replicas, 2 shards each, each started
from its own config file so that Sentinel's CONFIG REWRITE works) and three
Sentinels (redis-sentinel, or redis-server --sentinel: the same engine from
Debian's redis packages) on loopback ports.  A client that finds the primary
through Sentinel (redis-py's Sentinel) does, every cycle:

  1. writes keys, each followed by WAIT 1 (every third by WAITAOF 1 1): a
     write counts as acknowledged when the reply says a replica has it;
  2. kill -9 of the primary, right after the last acknowledged write;
  3. waits for Sentinel to name another primary (the failover time is
     measured from the kill);
  4. reads every write acknowledged so far, in every cycle, through the
     Sentinel client: each must be there;
  5. restarts the killed server at once, from its own config file (the
     next cycle starts once every Sentinel and every server agree on the
     primary and its two replicas).  In the
     first cycle it comes back as the primary its file says it is, and
     Sentinel turns it into a replica of the new primary (Sentinel's
     convert-to-slave: tens of seconds, its INFO period and a wait); in the
     others it rejoins the way a supervisor's script would, with replicaof
     set to the primary Sentinel names.  The next cycle starts once the
     primary has both replicas online.

Cycles: KEVY_FAILOVER_CYCLES (20 by default).  Prints the writes checked
and the failover times (median, max).  Exit 0 pass, 1 fail, 77 skip (no
redis-server or no redis-py).

Environment: KEVY_SERVER (set by CTest).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

try:
    import redis
    from redis.sentinel import Sentinel
except ImportError:  # pragma: no cover
    redis = None

NAME = "kevymaster"


def sentinel_argv(conf):
    exe = shutil.which("redis-sentinel")
    if exe:
        return [exe, conf]
    return [K.require_redis(), conf, "--sentinel"]


class Node:
    """A kevy started from its own config file (Sentinel rewrites it)."""

    def __init__(self, root, port, replicaof=None):
        self.port = port
        self.dir = os.path.join(root, "kevy-%d" % port)
        os.makedirs(self.dir)
        self.conf = os.path.join(root, "kevy-%d.conf" % port)
        self.log = os.path.join(root, "kevy-%d.log" % port)
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nthreads 2\nappendfsync everysec\n"
                    "repl-timeout 5\n" % (port, self.dir))
            if replicaof:
                f.write("replicaof 127.0.0.1 %d\n" % replicaof)
        self.proc = None

    def set_replicaof(self, port):
        with open(self.conf) as f:
            lines = [ln for ln in f if not ln.startswith("replicaof ")]
        lines.append("replicaof 127.0.0.1 %d\n" % port)
        with open(self.conf, "w") as f:
            f.writelines(lines)

    def start(self):
        self.proc = subprocess.Popen([K.kevy_binary(), self.conf], stdin=subprocess.DEVNULL,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with K.RawConn(self.port, timeout=2.0) as c:
                    if c.call("PING") == b"+PONG\r\n":
                        return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        K.fail("kevy on %d did not start:\n%s" % (self.port, self.tail()))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, n=3000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""


def free_ports(n):
    out = set()
    while len(out) < n:
        out.add(K.free_port())
    return sorted(out)


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (redis.RedisError, OSError) as e:
            last = e
        if last is True or (last and not isinstance(last, Exception)):
            return last
        time.sleep(0.05)
    K.fail("timed out waiting for %s (last: %r)" % (what, last))


def replicas_online(port, want):
    r = redis.Redis(port=port, socket_timeout=2)
    info = r.info("replication")
    online = [k for k, v in info.items() if k.startswith("slave") and isinstance(v, dict) and
              v.get("state") == "online"]
    return info.get("role") == "master" and len(online) >= want


def sentinels_agree(sports):
    seen = set()
    for sp in sports:
        m = redis.Redis(port=sp, socket_timeout=2).sentinel_master(NAME)
        if m.get("num-slaves") != 2 or "failover_in_progress" in m.get("flags", ""):
            return False
        seen.add(m.get("port"))
    return len(seen) == 1


def topology_ok(kports, primary):
    """primary says it is one with both replicas online, and each other
    server is its replica with the link up."""
    if not replicas_online(primary, 2):
        return False
    for p in kports:
        if p == primary:
            continue
        i = redis.Redis(port=p, socket_timeout=2).info("replication")
        if i.get("role") != "slave" or i.get("master_port") != primary or \
                i.get("master_link_status") != "up":
            return False
    return True


def new_primary(sentinel, old):
    """The primary Sentinel names, once it is not old and says it is one."""
    port = sentinel.discover_master(NAME)[1]
    if port == old:
        return None
    role = redis.Redis(port=port, socket_timeout=2).execute_command("ROLE")
    return port if role[0] in (b"master", "master") else None


def main():
    if redis is None:
        K.skip("redis-py (python3-redis) is not installed")
    K.require_redis()
    cycles = int(os.environ.get("KEVY_FAILOVER_CYCLES", "20"))
    per_cycle = int(os.environ.get("KEVY_FAILOVER_WRITES", "40"))
    root = tempfile.mkdtemp(prefix="kevy-failover-")
    ports = free_ports(6)
    kports, sports = ports[:3], ports[3:]
    nodes = {kports[0]: Node(root, kports[0])}
    for p in kports[1:]:
        nodes[p] = Node(root, p, replicaof=kports[0])
    sents = []
    try:
        for n in nodes.values():
            n.start()
        wait_for("both replicas online", lambda: replicas_online(kports[0], 2), 30)
        for sp in sports:
            conf = os.path.join(root, "sentinel-%d.conf" % sp)
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                        "logfile %s/sentinel-%d.log\n"
                        "sentinel monitor %s 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds %s 500\n"
                        "sentinel failover-timeout %s 2000\n"
                        "sentinel parallel-syncs %s 2\n"
                        % (sp, root, root, sp, NAME, kports[0], NAME, NAME, NAME))
            sents.append(subprocess.Popen(sentinel_argv(conf), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        sentinel = Sentinel([("127.0.0.1", p) for p in sports], socket_timeout=2)

        def sentinels_ready():
            s = redis.Redis(port=sports[0], socket_timeout=2)
            m = s.sentinel_master(NAME)
            return m.get("num-other-sentinels") == 2 and m.get("num-slaves") == 2

        wait_for("the Sentinels to see each other and both replicas", sentinels_ready, 60)
        acked = {}
        times = []
        rejoin = 0.0
        checked = 0
        last_kill = 0.0
        for cycle in range(cycles):
            # Sentinel starts no new failover of a master name within twice
            # its failover-timeout (2 s here) of the last one, and every
            # Sentinel must have the new configuration: pace the kills.
            while time.monotonic() - last_kill < 4.5:
                time.sleep(0.1)
            # Then the servers themselves must agree with the Sentinels:
            # with these short timeouts two Sentinels can each finish a
            # failover of the same dead primary (different epochs), and the
            # loser's promoted replica stays a primary until Sentinel turns
            # it back (about 10 s).  Writing before that would count on a
            # replica that Sentinel may promote with none of the writes.
            wait_for("every Sentinel and every server to agree on the primary",
                     lambda: sentinels_agree(sports) and topology_ok(
                         kports, sentinel.discover_master(NAME)[1]), 90)
            host, port = sentinel.discover_master(NAME)
            m = redis.Redis(host=host, port=port, socket_timeout=5)
            for i in range(per_cycle):
                k, v = "c%d:k%d" % (cycle, i), "v%d.%d" % (cycle, i)
                m.set(k, v)
                if i % 3 == 2:
                    n = m.execute_command("WAITAOF", 1, 1, 2000)
                    ok = n[0] >= 1 and n[1] >= 1
                else:
                    ok = m.execute_command("WAIT", 1, 2000) >= 1
                if ok:
                    acked[k] = v.encode()
            nodes[port].kill9()
            t0 = last_kill = time.monotonic()
            # Sentinels agree within moments; one asked first may still
            # name an older primary: the new one is a master by its ROLE.
            newp = wait_for("a new primary (cycle %d)" % cycle,
                            lambda: new_primary(sentinel, port), 60)
            times.append(time.monotonic() - t0)
            new = redis.Redis(port=newp, socket_timeout=5)
            wait_for("the new primary to take writes", lambda: new.set("probe", cycle), 30)
            missing = [k for k, v in acked.items() if new.get(k) != v]
            K.check(not missing, "cycle %d: %d acknowledged write(s) lost on the new primary "
                    "%d (of %d): %r\n--- its log ---\n%s" % (
                        cycle, len(missing), newp, len(acked), missing[:5],
                        nodes[newp].tail()))
            checked += len(acked)
            if cycle > 0:
                nodes[port].set_replicaof(newp)
            nodes[port].start()
            t1 = time.monotonic()
            try:
                wait_for("the new primary with both replicas online (cycle %d)" % cycle,
                         lambda: replicas_online(newp, 2), 120 if cycle == 0 else 60)
                if cycle == 0:
                    rejoin = time.monotonic() - t1
            except SystemExit:
                for p in kports:
                    try:
                        K.log("%d: %r" % (p, redis.Redis(port=p, socket_timeout=2).info(
                            "replication")))
                    except redis.RedisError as e:
                        K.log("%d: %r" % (p, e))
                raise
        times.sort()
        K.log("ok: %d failovers, %d acknowledged writes (%d checks); failover time median "
              "%.2f s, max %.2f s; the first restarted primary turned into a replica by "
              "Sentinel in %.1f s" % (cycles, len(acked), checked, times[len(times) // 2],
                                      times[-1], rejoin))
        for n in nodes.values():
            n.stop()
            alarms = [a for a in K.LOG_ALARMS if a.decode() in n.tail(1 << 20)]
            K.check(not alarms, "kevy on %d: %r in its log" % (n.port, alarms))
    except BaseException:
        for n in nodes.values():
            K.log("--- kevy %d ---\n%s" % (n.port, n.tail(2000)))
        raise
    finally:
        for s in sents:
            s.kill()
            s.wait(10)
        for n in nodes.values():
            if n.proc and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait(10)
        if os.environ.get("KEVY_KEEP"):
            K.log("kept: %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    K.run_main(main)
