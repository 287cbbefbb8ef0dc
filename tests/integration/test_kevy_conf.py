#!/usr/bin/python3
"""The example kevy.conf at the repository root documents every setting.

Every setting CONFIG GET * lists (the whole table of commands/config.c)
has a line in kevy.conf, and nothing else does; kevy starts with the file
unchanged (the test adds only --port and --dir flags, which override the
file, so that it listens where the test wants and writes in its own
directory); and CONFIG GET shows, for every setting, the value the file
gives it (memory sizes converted from their units, as kevy reads them).
A kevy.conf with a misspelt setting is refused, so the file cannot drift
into documenting settings kevy does not have.
"""

import os
import re
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "kevy.conf")
UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
         "g": 1000 ** 3, "gb": 1024 ** 3}
OVERRIDDEN = {"port", "dir"}   # set by the test's flags


def file_settings(path):
    """name -> list of value words, for every setting line of the file."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            words = shlex.split(s)
            name = words[0].lower()
            K.check(name not in out, "kevy.conf line %d sets %s a second time" % (n, name))
            out[name] = words[1:]
    return out


def canonical(words):
    """The value as CONFIG GET prints it: words joined by spaces, memory
    sizes in bytes."""
    out = []
    for w in words:
        m = re.fullmatch(r"(\d+)([kKmMgG][bB]?|[bB])?", w)
        out.append(str(int(m.group(1)) * UNITS[(m.group(2) or "").lower()]) if m else w)
    return " ".join(out)


def main():
    K.require_kevy()
    if K.target() == "redis":
        K.skip("kevy.conf is kevy's file")
    conf = os.path.abspath(CONF)
    K.check(os.path.exists(conf), "kevy.conf exists at the repository root")
    settings = file_settings(conf)
    srv = K.Server("kevy")
    # Server._argv puts --port/--bind/--dir first; the file must come first.
    binary = K.kevy_binary()
    srv._argv = lambda port: [binary, conf, "--port", str(port), "--dir", srv.dir]
    with srv:
        with srv.conn() as c:
            pairs = K.parse(c.call("CONFIG", "GET", "*"))
        K.check(len(pairs) > 80 and len(pairs) % 2 == 0, "CONFIG GET * lists the settings")
        live = {pairs[i].decode(): pairs[i + 1].decode() for i in range(0, len(pairs), 2)}
        # An alias (CONFIG GET * lists it beside its name, as Redis does) is
        # documented in the comment of the setting it names, not set again.
        with open(conf) as f:
            comments = " ".join(ln for ln in f if ln.startswith("#"))
        aliases = {n for n in live if n not in settings and
                   re.search(r"Alias(es)?: [^.]*\b%s\b" % re.escape(n), comments)}
        for n in aliases:
            del live[n]
        missing = sorted(set(live) - set(settings))
        K.check(not missing, "settings missing from kevy.conf: %s" % missing)
        extra = sorted(set(settings) - set(live))
        K.check(not extra, "kevy.conf sets what CONFIG GET * does not list: %s" % extra)
        for name, value in sorted(live.items()):
            if name in OVERRIDDEN:
                continue
            want = canonical(settings[name])
            if name == "replicaof" and want.lower() == "no one":
                want = ""   # "no one" is how a file says "not a replica"
            K.check(value == want, "%s: kevy.conf says %r, CONFIG GET %r" % (name, want, value))
        with srv.conn() as c:
            K.check(K.parse(c.call("CONFIG", "GET", "config_file")) == [],
                    "config_file is not a setting")
            info = c.call("INFO", "server").decode()
        K.check("config_file:%s\r\n" % conf in info, "INFO names the file it started from")
        srv.check_clean_exit()
    K.log("kevy.conf: %d settings, each with CONFIG GET's value" % len(live))

    # A file that names a setting kevy lacks does not start: the check above
    # could not pass with a stale kevy.conf.
    bad = os.path.join(srv.tmpdir + ".bad.conf")
    try:
        with open(conf) as f, open(bad, "w") as g:
            g.write(f.read() + "\nhash-max-zipmap-entries 64\n")
        r = subprocess.run([binary, bad, "--port", "0"], capture_output=True, timeout=30)
        K.check(r.returncode == 1 and b"Bad directive" in r.stderr,
                "an unknown setting in the file is refused: %s %r" % (r.returncode, r.stderr))
    finally:
        os.unlink(bad)


if __name__ == "__main__":
    K.run_main(main)
