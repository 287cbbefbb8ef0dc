#!/usr/bin/env python3
"""test_check_layers.py - scripts/check-layers.py fails on each kind of
violation it exists to catch, and passes a tree without one.

Builds small trees in a temporary directory: an include reaching up, an
include that does not name its layer, a tool including server/, a call up
that only the objects show (a hand-written prototype), and two files of one
layer calling each other.  Exit 0 pass, 1 fail, 77 skip (no C compiler).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "check-layers.py")
CC = shutil.which("cc") or shutil.which("gcc")
failures = []
checks = [0]


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def archive(root, name, sources):
    objs = []
    for src in sources:
        obj = os.path.join(root, os.path.basename(src) + ".o")
        subprocess.run([CC, "-c", "-I", os.path.join(root, "src"), os.path.join(root, src),
                        "-o", obj], check=True)
        objs.append(obj)
    lib = os.path.join(root, name)
    subprocess.run(["ar", "rcs", lib] + objs, check=True)
    return lib


def run(root, *extra):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root] + list(extra),
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(name, root, rc_want, needle, *extra):
    checks[0] += 1
    rc, out = run(root, *extra)
    if rc != rc_want or (needle and needle not in out):
        failures.append(f"{name}: exit {rc} (want {rc_want}), output:\n{out}")
    else:
        print(f"ok   {name}")


def clean_tree(root):
    write(root, "src/base/kv.h", "int kv_one(void);\n")
    write(root, "src/base/kv.c", '#include "base/kv.h"\nint kv_one(void) { return 1; }\n')
    write(root, "src/persist/aof.h", '#include "base/kv.h"\nint aof_two(void);\n')
    write(root, "src/persist/aof.c",
          '#include "persist/aof.h"\nint aof_two(void) { return kv_one() + 1; }\n')
    write(root, "src/server/shard.h", "int shard_three(void);\n")
    write(root, "src/server/shard.c",
          '#include "persist/aof.h"\n#include "server/shard.h"\n'
          "int shard_three(void) { return aof_two() + 1; }\n")
    write(root, "tools/t/t.c", '#include "persist/aof.h"\nint main(void) { return aof_two(); }\n')


def main():
    if not CC or not shutil.which("ar") or not shutil.which("nm"):
        print("skip: needs cc, ar and nm")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        def tree(name):
            root = os.path.join(tmp, name)
            clean_tree(root)
            return root

        root = tree("clean")
        libs = ["--lib", archive(root, "lib.a", ["src/base/kv.c", "src/persist/aof.c",
                                                 "src/server/shard.c"])]
        expect("a clean tree passes", root, 0, "points down", *libs, "--cycles")

        root = tree("include-up")
        write(root, "src/persist/aof.c", '#include "persist/aof.h"\n#include "server/shard.h"\n'
              "int aof_two(void) { return 2; }\n")
        expect("an include up fails", root, 1, 'reaches up from persist into server')

        root = tree("bare-include")
        write(root, "src/persist/aof.c", '#include "aof.h"\nint aof_two(void) { return 2; }\n')
        expect("an include without its layer fails", root, 1, 'must name its layer')

        root = tree("tool-server")
        write(root, "tools/t/t.c", '#include "server/shard.h"\nint main(void) { return 0; }\n')
        expect("a tool including server/ fails", root, 1, 'reaches up from commands into server')

        root = tree("hidden-call")
        write(root, "src/persist/aof.c", '#include "persist/aof.h"\nint shard_three(void);\n'
              "int aof_two(void) { return shard_three(); }\n")
        libs = ["--lib", archive(root, "lib.a", ["src/base/kv.c", "src/persist/aof.c",
                                                 "src/server/shard.c"])]
        expect("a call up through a hand-written prototype fails", root, 1,
               "uses shard_three of server/shard.c", *libs)

        root = tree("cycle")
        write(root, "src/server/conn.c", '#include "server/shard.h"\n'
              "int conn_four(void);\nint conn_four(void) { return shard_three(); }\n")
        write(root, "src/server/shard.c", "int conn_four(void);\n"
              "int shard_three(void);\nint shard_three(void) { return conn_four(); }\n")
        libs = ["--lib", archive(root, "lib.a", ["src/base/kv.c", "src/persist/aof.c",
                                                 "src/server/shard.c", "src/server/conn.c"])]
        expect("files of one layer calling each other pass without --cycles", root, 0, "", *libs)
        expect("... and fail with --cycles", root, 1, "call each other in a cycle", *libs,
               "--cycles")

        root = tree("stray")
        write(root, "src/loose.c", "int loose;\n")
        expect("a source outside the layer folders fails", root, 1, "lives in a layer folder")
    for f in failures:
        print("FAIL " + f)
    print(f"{checks[0] - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
