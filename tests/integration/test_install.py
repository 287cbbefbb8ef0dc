#!/usr/bin/python3
"""`cmake --install` of the build that made $KEVY_SERVER, into a temporary
prefix: kevy-server, kevy-check, kevy-dump and kevy-mirror in bin (and they run:
--version), the four man pages in share/man/man1 (and man(1) formats
them without warnings when it is installed), the example kevy.conf in
etc/kevy (identical to the repository's), and the systemd unit in
lib/systemd/system with the prefix's paths (and `systemd-analyze verify`
accepts it when systemd-analyze is installed).  Skips when $KEVY_SERVER is
not in a CMake build directory.
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import kevylib as K  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def main():
    if K.target() == "redis":
        K.skip("installs kevy's own build")
    server = os.path.realpath(K.kevy_binary())
    build = os.path.dirname(server)
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        K.skip("%s is not in a CMake build directory" % server)
    cmake = shutil.which("cmake")
    if not cmake:
        K.skip("cmake is not installed")
    prefix = tempfile.mkdtemp(prefix="kevy-install-")
    try:
        r = subprocess.run([cmake, "--install", build, "--prefix", prefix],
                           capture_output=True, timeout=120)
        K.check(r.returncode == 0, "cmake --install: %s\n%s" % (
            r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")))
        want = ["bin/kevy-server", "bin/kevy-check", "bin/kevy-dump", "bin/kevy-mirror",
                "share/man/man1/kevy-server.1", "share/man/man1/kevy-check.1",
                "share/man/man1/kevy-dump.1", "share/man/man1/kevy-mirror.1", "etc/kevy/kevy.conf",
                "lib/systemd/system/kevy-server.service"]
        for rel in want:
            K.check(os.path.isfile(os.path.join(prefix, rel)), "installed: %s" % rel)
        for tool in ("kevy-server", "kevy-check", "kevy-dump", "kevy-mirror"):
            path = os.path.join(prefix, "bin", tool)
            K.check(os.access(path, os.X_OK), "%s is executable" % tool)
            r = subprocess.run([path, "--version"], capture_output=True, timeout=30)
            K.check(r.returncode == 0, "%s --version exits 0 (%s): %r" % (
                tool, r.returncode, r.stderr))
            K.check(tool.encode() in r.stdout + r.stderr and b"0.1.0" in r.stdout + r.stderr,
                    "%s --version names itself and its version: %r" % (tool, r.stdout))
        K.check(filecmp.cmp(os.path.join(prefix, "etc/kevy/kevy.conf"),
                            os.path.join(ROOT, "kevy.conf"), shallow=False),
                "the installed kevy.conf is the repository's")

        unit = open(os.path.join(prefix, "lib/systemd/system/kevy-server.service")).read()
        K.check("Type=notify" in unit, "the unit is Type=notify")
        K.check("ExecStart=%s/bin/kevy-server %s/etc/kevy/kevy.conf --supervised systemd"
                % (prefix, prefix) in unit, "ExecStart uses the prefix's paths:\n%s" % unit)
        K.check("/usr/bin/kevy-server" not in unit, "no path of another prefix is left")

        env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"))
        if shutil.which("man"):
            for page in ("kevy-server", "kevy-check", "kevy-dump", "kevy-mirror"):
                r = subprocess.run(["man", "--warnings", "-l",
                                    os.path.join(prefix, "share/man/man1", page + ".1")],
                                   capture_output=True, timeout=60,
                                   env=dict(env, MANPAGER="cat", PAGER="cat"))
                K.check(r.returncode == 0 and b"NAME" in r.stdout and not r.stderr.strip(),
                        "man formats %s.1 cleanly: %s %r" % (page, r.returncode, r.stderr[:500]))
        else:
            K.log("man is not installed: the pages' formatting is not checked")
        if shutil.which("systemd-analyze"):
            r = subprocess.run(["systemd-analyze", "verify",
                                os.path.join(prefix, "lib/systemd/system/kevy-server.service")],
                               capture_output=True, timeout=60, env=env, cwd=prefix)
            K.check(r.returncode == 0 and not r.stderr.strip(),
                    "systemd-analyze verify accepts the unit: %s %r" % (r.returncode, r.stderr))
        else:
            K.log("systemd-analyze is not installed: the unit is not verified")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    K.run_main(main)
