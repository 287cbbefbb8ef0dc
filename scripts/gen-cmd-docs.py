#!/usr/bin/env python3
"""gen-cmd-docs.py - write src/commands/cmd_docs_data.h from a redis-server.

What it is: the tool that (re)writes the data of commands/cmd_docs.c -- the
arguments, history, doc flags and key specs of every command and subcommand
kevy has -- in the line format cmd_docs.c documents and parses.  It reads
them from a running redis-server 7.0 (COMMAND DOCS and COMMAND INFO in
RESP3, which keep the types apart), for the names a running kevy lists in
COMMAND LIST, so the table follows kevy's commands and Redis's interface
facts.  Commands Redis lacks (kevy-only, or from a later Redis) are written
from EXTRA below, by hand.

What it is not: run by the build.  The header is committed; rerun this when
a command is added:

    redis-server --port 7001 --save '' &   # 7.0.x
    build/kevy-server --port 7002 &
    scripts/gen-cmd-docs.py --redis-port 7001 --kevy-port 7002 \
        > src/commands/cmd_docs_data.h
"""
import argparse
import socket
import sys

# Commands kevy has that redis-server 7.0 lacks: their data in the line
# format, written by hand (WAITAOF: Redis 7.2's arguments).
EXTRA = {
    "waitaof": ["- numlocal integer", "- numreplicas integer", "- timeout integer"],
}


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                sys.exit("gen-cmd-docs: connection closed")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                sys.exit("gen-cmd-docs: connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = chr(line[0]), line[1:]
        if t == "+":
            return rest.decode()
        if t == "-":
            sys.exit("gen-cmd-docs: error reply " + rest.decode())
        if t == ":":
            return int(rest)
        if t == "$":
            n = int(rest)
            return None if n < 0 else self._bytes(n).decode()
        if t in "*~":
            return [self.read() for _ in range(int(rest))]
        if t == "%":
            return dict((self.read(), self.read()) for _ in range(int(rest)))
        if t == "_":
            return None
        sys.exit("gen-cmd-docs: unexpected reply " + line.decode())

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()


def word(s, what):
    """A field written as one word of a line: no spaces, not empty."""
    if not s or any(c.isspace() for c in s):
        sys.exit("gen-cmd-docs: %s %r cannot be one word" % (what, s))
    return s


def spec_line(spec):
    flags = ",".join(word(f, "key spec flag") for f in spec["flags"])
    bs, fk = spec["begin_search"], spec["find_keys"]
    if bs["type"] == "index":
        b = "i%d" % bs["spec"]["index"]
    elif bs["type"] == "keyword":
        b = "k%d,%s" % (bs["spec"]["startfrom"], word(bs["spec"]["keyword"], "keyword"))
    else:
        b = "?"
    if fk["type"] == "range":
        s = fk["spec"]
        f = "r%d,%d,%d" % (s["lastkey"], s["keystep"], s["limit"])
    elif fk["type"] == "keynum":
        s = fk["spec"]
        f = "n%d,%d,%d" % (s["keynumidx"], s["firstkey"], s["keystep"])
    else:
        f = "?"
    line = "K %s %s %s" % (flags, b, f)
    if spec.get("notes"):
        line += " " + spec["notes"]
    return line


FLAG_CHARS = {"optional": "?", "multiple": "*", "multiple_token": "+"}


def arg_lines(args, depth, out):
    for a in args:
        known = {"name", "type", "key_spec_index", "token", "since",
                 "deprecated_since", "flags", "arguments"}
        if set(a) - known:
            sys.exit("gen-cmd-docs: argument fields %s not in the format" % (set(a) - known))
        parts = [word(a["name"], "name"), word(a["type"], "type")]
        if "key_spec_index" in a:
            parts.append("@%d" % a["key_spec_index"])
        if "token" in a:
            # An empty token (MIGRATE's "" for the key) is a lone "=".
            parts.append("=" + (word(a["token"], "token") if a["token"] else ""))
        if "since" in a:
            parts.append("^" + word(a["since"], "since"))
        if "deprecated_since" in a:
            parts.append("!" + word(a["deprecated_since"], "deprecated_since"))
        if a.get("flags"):
            parts.append("".join(FLAG_CHARS[f] for f in a["flags"]))
        out.append("  " * depth + "- " + " ".join(parts))
        if "arguments" in a:
            arg_lines(a["arguments"], depth + 1, out)


def entry_lines(docs, info):
    out = [spec_line(s) for s in info[8]]
    out += ["T " + word(t, "tip") for t in info[7]]
    if docs.get("doc_flags"):
        out.append("F " + " ".join(docs["doc_flags"]))
    if docs.get("deprecated_since"):
        out.append("D " + docs["deprecated_since"])
    if docs.get("replaced_by"):
        out.append("R " + docs["replaced_by"])
    for since, text in docs.get("history") or []:
        out.append("H %s %s" % (word(since, "history version"), text))
    arg_lines(docs.get("arguments") or [], 0, out)
    return out


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '\\n"'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--kevy-port", type=int, required=True)
    a = ap.parse_args()
    redis, kevy = Conn(a.redis_port), Conn(a.kevy_port)
    redis.cmd("HELLO", "3")
    names = sorted(kevy.cmd("COMMAND", "LIST"))
    known = set(redis.cmd("COMMAND", "LIST"))
    print("/* cmd_docs_data.h - written by scripts/gen-cmd-docs.py; do not edit by hand.")
    print(" *")
    print(" * Every command and subcommand of kevy's COMMAND LIST, by name, with its")
    print(" * documentation and key specs in the line format of cmd_docs.c.  Read only")
    print(" * by cmd_docs.c. */")
    print("static const struct cmd_docs_src cmd_docs_src[] = {")
    for n in names:
        if n in known:
            docs = redis.cmd("COMMAND", "DOCS", n)[n]
            info = redis.cmd("COMMAND", "INFO", n)[0]
            lines = entry_lines(docs, info)
        elif n in EXTRA:
            lines = EXTRA[n]
        else:
            sys.exit("gen-cmd-docs: %s: not in redis-server and not in EXTRA" % n)
        print("\t{ \"%s\"," % n)
        if not lines:
            print('\t  "" },')
            continue
        for i, line in enumerate(lines):
            end = " }," if i == len(lines) - 1 else ""
            print("\t  " + c_string(line) + end)
    print("};")


if __name__ == "__main__":
    main()
