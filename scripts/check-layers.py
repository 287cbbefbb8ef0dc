#!/usr/bin/env python3
"""check-layers.py - every include and every call in src/ points down the stack.

The layers of docs/architecture.md, bottom first:

    base < proto < store < persist < commands < server

A file in src/<layer>/ may include headers of its own layer and of the layers
below it, always as "<layer>/<name>.h"; tools/ may include every layer below
server.  Headers are read from the source tree; calls are read from the
objects themselves (nm), so a function declared by hand (`void f(void);`
instead of an include) is caught too:

  --lib ARCHIVE   (repeatable) a static library built from src/: every symbol
                  an object leaves undefined must be defined by an object of
                  its own or a lower layer.
  --cycles        also fail when files of one layer call each other in a
                  cycle (calls only: a data reference such as a command table
                  is not a call).

Prints one line per violation and exits 1 if there is any, 0 otherwise
(CTest: tests/CMakeLists.txt, test "layers").
"""
import argparse
import os
import re
import subprocess
import sys

LAYERS = ["base", "proto", "store", "persist", "commands", "server"]
RANK = {name: i for i, name in enumerate(LAYERS)}
TOOLS_MAX = RANK["commands"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def src_files(src):
    """{basename: layer} of every .c/.h under src/<layer>/, and the paths."""
    where, paths = {}, []
    for layer in LAYERS:
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                if name in where:
                    sys.exit(f"check-layers: {name} is in both {where[name]} and {layer}")
                where[name] = layer
                paths.append((layer, os.path.join(d, name)))
    stray = [n for n in os.listdir(src) if n.endswith((".c", ".h"))]
    return where, paths, stray


def check_includes(rank_of_file, path, where, problems):
    text = open(path, encoding="utf-8", errors="replace").read()
    for lineno, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        head, _, name = inc.rpartition("/")
        if not head:
            if name in where:
                problems.append(f"{path}:{lineno}: #include \"{inc}\" must name its layer "
                                f"(\"{where[name]}/{name}\")")
            continue
        if head not in RANK:
            continue
        if where.get(name) != head:
            problems.append(f"{path}:{lineno}: #include \"{inc}\": no such header in src/{head}/")
            continue
        if RANK[head] > rank_of_file:
            problems.append(f"{path}:{lineno}: #include \"{inc}\" reaches up from "
                            f"{LAYERS[rank_of_file]} into {head}")


def nm_archive(lib):
    """[(member, kind, symbol)]: kind 'U' undefined, 'T' function, 'D' data."""
    out = subprocess.run(["nm", "-A", lib], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        # "lib.a:member.c.o:0000000000000000 T name" or "lib.a:member.c.o:   U name"
        parts = line.split()
        if len(parts) < 2 or ":" not in parts[0]:
            continue
        kind, sym = parts[-2], parts[-1]
        member = parts[0].split(":")[1]
        if kind == "U":
            rows.append((member, "U", sym))
        elif kind in "TW":
            rows.append((member, "T", sym))
        elif kind in "DBRCV":
            rows.append((member, "D", sym))
    return rows


def member_source(member):
    # CMake names objects <source>.o, e.g. aof.c.o.
    return member[:-2] if member.endswith(".o") else member


def check_symbols(libs, where, problems, cycles):
    defined, undefined = {}, []
    for lib in libs:
        for member, kind, sym in nm_archive(lib):
            src = member_source(member)
            if src not in where:
                problems.append(f"{lib}: object {member} has no source in src/<layer>/")
                continue
            if kind == "U":
                undefined.append((src, sym))
            else:
                defined.setdefault(sym, (src, kind))
    calls = {}
    for src, sym in undefined:
        if sym not in defined:
            continue  # libc, liburing, zstd, ...
        dsrc, kind = defined[sym]
        if dsrc == src:
            continue
        if RANK[where[dsrc]] > RANK[where[src]]:
            problems.append(f"{where[src]}/{src} uses {sym} of {where[dsrc]}/{dsrc}: "
                            f"a call up from {where[src]} into {where[dsrc]}")
        elif kind == "T" and where[dsrc] == where[src]:
            calls.setdefault(src, set()).add(dsrc)
    if cycles:
        for comp in strongly_connected(calls):
            if len(comp) > 1:
                problems.append(f"files of {where[comp[0]]}/ call each other in a cycle: "
                                + ", ".join(sorted(comp)))


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; yields each component as a list."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    nodes = set(graph) | {d for ds in graph.values() for d in ds}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    v = stack.pop()
                    on.discard(v)
                    comp.append(v)
                    if v == node:
                        break
                out.append(comp)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--lib", action="append", default=[])
    ap.add_argument("--cycles", action="store_true")
    args = ap.parse_args()
    args.root = os.path.relpath(args.root)
    src = os.path.join(args.root, "src")
    where, paths, stray = src_files(src)
    problems = [f"src/{n}: every source file lives in a layer folder" for n in stray]
    for layer, path in paths:
        check_includes(RANK[layer], path, where, problems)
    tools = os.path.join(args.root, "tools")
    for dirpath, _, names in os.walk(tools):
        for name in sorted(names):
            if name.endswith((".c", ".h")):
                check_includes(TOOLS_MAX, os.path.join(dirpath, name), where, problems)
    if args.lib:
        check_symbols(args.lib, where, problems, args.cycles)
    for p in problems:
        print(p)
    nfiles = len(paths)
    if problems:
        print(f"check-layers: {len(problems)} violation(s) in {nfiles} files")
        return 1
    print(f"check-layers: {nfiles} files in {len(LAYERS)} layers, every include"
          + (" and call" if args.lib else "") + " points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
