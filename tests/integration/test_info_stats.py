#!/usr/bin/python3
"""INFO commandstats, errorstats and replication on a 3-shard kevy, after a
known sequence of commands (Redis 7.0's semantics, as its unit/info.tcl
checks them):

- a command counts once in calls, on the shard that ran it, whether it ran
  on the client's shard, was forwarded to another (kevy_forwarded_commands
  shows that some were) or took several shards;
- a call refused before running (wrong arity) counts in rejected_calls, not
  in calls; a call that ran and replied an error in failed_calls and calls;
  an unknown subcommand counts nowhere but in errorstats;
- subcommands count apart ("config|get");
- inside MULTI/EXEC each queued command counts on its own, EXEC once; an
  EXEC aborted by a rejected queued command fails with EXECABORT;
- errorstats counts error replies by their first word and total_error_replies
  is their sum;
- CONFIG RESETSTAT zeroes all of it;
- INFO's sections: commandstats only in all/everything or when named,
  errorstats in the default too; replication shows a master's fields.
"""

import re
import sys

sys.dont_write_bytecode = True
import kevylib as K  # noqa: E402
import aoflib as A  # noqa: E402

CMDSTAT = re.compile(r"^calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                     r"rejected_calls=(\d+),failed_calls=(\d+)$")


def cmdstats(c):
    """{command: (calls, rejected, failed)} from INFO commandstats."""
    out = {}
    for k, v in A.info(c, "commandstats").items():
        K.check(k.startswith("cmdstat_"), "commandstats field %r" % k)
        m = CMDSTAT.match(v)
        K.check(m is not None, "cmdstat line %s:%s" % (k, v))
        out[k[len("cmdstat_"):]] = (int(m.group(1)), int(m.group(4)), int(m.group(5)))
    return out


def errorstats(c):
    out = {}
    for k, v in A.info(c, "errorstats").items():
        K.check(k.startswith("errorstat_") and v.startswith("count="), "errorstat %s:%s" % (k, v))
        out[k[len("errorstat_"):]] = int(v[len("count="):])
    return out


def total_errors(c):
    return int(A.info(c, "stats")["total_error_replies"])


def is_error(r, prefix):
    return isinstance(r, K.RespError) and r.msg.startswith(prefix.encode())


def expect(got, name, calls, rejected, failed):
    K.check(got.get(name) == (calls, rejected, failed),
            "cmdstat %s: want calls=%d rejected=%d failed=%d, got %r (all: %r)" % (
                name, calls, rejected, failed, got.get(name), got))


def check_sequence(c):
    K.check(c.cmd("CONFIG", "RESETSTAT") == "OK", "CONFIG RESETSTAT")
    K.check(set(cmdstats(c)) <= {"config|resetstat"}, "after RESETSTAT: %r" % cmdstats(c))
    K.check(errorstats(c) == {} and total_errors(c) == 0, "no errors after RESETSTAT")

    for i in range(30):
        K.check(c.cmd("SET", "k%d" % i, "v") == "OK", "SET k%d" % i)
    for i in range(5):
        K.check(c.cmd("GET", "k%d" % i) == b"v", "GET k%d" % i)
    K.check(is_error(c.cmd("SET", "k"), "ERR wrong number of arguments"), "SET arity")
    K.check(is_error(c.cmd("LPUSH", "k0", "x"), "WRONGTYPE"), "LPUSH on a string")
    K.check(c.cmd("MSET", "a", "1", "b", "2", "c", "3", "d", "4") == "OK", "MSET")
    K.check(isinstance(c.cmd("CONFIG", "GET", "maxmemory"), list), "CONFIG GET")
    K.check(is_error(c.cmd("CONFIG", "NOSUCH"), "ERR unknown subcommand"), "CONFIG NOSUCH")
    # A transaction whose second command fails when it runs.
    K.check(c.cmd("MULTI") == "OK", "MULTI")
    K.check(c.cmd("SET", "t", "1") == "QUEUED", "SET queued")
    K.check(c.cmd("LPUSH", "k1", "x") == "QUEUED", "LPUSH queued")
    r = c.cmd("EXEC")
    K.check(isinstance(r, list) and r[0] == "OK" and is_error(r[1], "WRONGTYPE"), "EXEC: %r" % (r,))
    # A transaction aborted by a command refused while queueing.
    K.check(c.cmd("MULTI") == "OK", "MULTI 2")
    K.check(is_error(c.cmd("SET", "t"), "ERR wrong number"), "SET arity in MULTI")
    K.check(is_error(c.cmd("EXEC"), "EXECABORT"), "EXECABORT")

    fields = A.info(c, "stats")
    K.check(int(fields["kevy_forwarded_commands"]) > 0, "some SETs were forwarded: %r" % fields)
    got = cmdstats(c)
    expect(got, "set", 31, 2, 0)
    expect(got, "get", 5, 0, 0)
    expect(got, "lpush", 2, 0, 2)
    expect(got, "mset", 1, 0, 0)
    expect(got, "config|get", 1, 0, 0)
    expect(got, "multi", 2, 0, 0)
    expect(got, "exec", 2, 0, 1)
    K.check("config" not in got and "config|nosuch" not in got,
            "an unknown subcommand counts nowhere: %r" % got)
    errs = errorstats(c)
    K.check(errs == {"ERR": 3, "WRONGTYPE": 2, "EXECABORT": 1}, "errorstats: %r" % errs)
    K.check(total_errors(c) == sum(errs.values()), "total_error_replies = errorstats")

    # Which sections come with which argument.
    default = c.cmd("INFO").decode()
    K.check("# Errorstats" in default and "cmdstat_" not in default and
            "# Latencystats" not in default, "INFO default sections")
    for arg in ("all", "everything"):
        text = c.cmd("INFO", arg).decode()
        heads = re.findall(r"^# (\w+)", text, re.M)
        K.check(heads == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                          "CPU", "Modules", "Commandstats", "Errorstats", "Latencystats",
                          "Cluster", "Keyspace"], "INFO %s sections: %r" % (arg, heads))
        K.check("cmdstat_set:" in text, "INFO %s has commandstats" % arg)
    K.check(c.cmd("INFO", "commandSTATS").decode().startswith("# Commandstats"),
            "section names are case-insensitive")

    K.check(c.cmd("CONFIG", "RESETSTAT") == "OK", "CONFIG RESETSTAT again")
    K.check(set(cmdstats(c)) <= {"config|resetstat"}, "reset: %r" % cmdstats(c))
    K.check(errorstats(c) == {} and total_errors(c) == 0, "errors reset")


def check_replication(c, other_replid):
    r = A.info(c, "replication")
    K.check(r["role"] == "master" and r["connected_slaves"] == "0" and
            r["master_failover_state"] == "no-failover", "replication: %r" % r)
    K.check(re.fullmatch(r"[0-9a-f]{40}", r["master_replid"]) is not None, "master_replid")
    K.check(r["master_replid2"] == "0" * 40 and r["master_repl_offset"] == "0" and
            r["second_repl_offset"] == "-1" and r["repl_backlog_active"] == "0" and
            r["repl_backlog_first_byte_offset"] == "0" and r["repl_backlog_histlen"] == "0",
            "replication offsets: %r" % r)
    K.check(r["master_replid"] != other_replid, "a new replication id per start")
    return r["master_replid"]


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy_forwarded_commands and shards are kevy's")
    replid = None
    for run in range(2):
        srv = K.kevy("--threads", "3", name="info-stats").start()
        try:
            with srv.conn() as c:
                if run == 0:
                    check_sequence(c)
                replid = check_replication(c, replid)
            srv.check_clean_exit()
        finally:
            srv.cleanup()
    K.log("PASS: INFO commandstats, errorstats, replication")


if __name__ == "__main__":
    K.run_main(main)
