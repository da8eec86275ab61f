#!/usr/bin/python3
"""Check that src/ keeps its layers: cli -> monitor -> alert -> core.

Two views of the same rule, because each catches what the other misses:

- includes: a file in src/X/ or include/X/ may include only headers of
  its own folder or of a folder below it;
- calls: with the objects of a build (BUILD_DIR, one .o per source in
  BUILD_DIR/<folder>/), every symbol an object uses from another object
  must come from its own folder or one below, and no two files may reach
  each other through a loop of calls (a loop hides which one is the
  lower layer).

Usage: layers.py [BUILD_DIR]. Prints each violation, exits 1 if any.
"""
import glob
import os
import re
import subprocess
import sys

RANK = {"core": 0, "alert": 1, "monitor": 2, "cli": 3}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z]+)/([a-z_]+)\.h"')


def folder_of(path):
    return os.path.basename(os.path.dirname(path))


def check_includes():
    bad = []
    for path in sorted(glob.glob("src/*/*.c") + glob.glob("include/*/*.h")):
        here = folder_of(path)
        if here not in RANK:
            bad.append(f"{path}: folder '{here}' is not a layer "
                       f"({', '.join(RANK)})")
            continue
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m and RANK.get(m.group(1), 99) > RANK[here]:
                    bad.append(f"{path}:{n}: {here}/ includes "
                               f"{m.group(1)}/{m.group(2)}.h, a layer above")
    return bad


def nm(obj, args):
    out = subprocess.run(["nm", *args, obj], check=True,
                         capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


def call_graph(build):
    objs = {}
    for obj in glob.glob(os.path.join(build, "*", "*.o")):
        if folder_of(obj) in RANK:
            name = f"{folder_of(obj)}/{os.path.basename(obj)[:-2]}"
            objs[name] = obj
    owner = {}
    for name, obj in objs.items():
        for sym in nm(obj, ["-g", "--defined-only"]):
            owner[sym] = name
    edges = {name: set() for name in objs}
    for name, obj in objs.items():
        for sym in nm(obj, ["-u"]):
            if sym in owner and owner[sym] != name:
                edges[name].add(owner[sym])
    return edges


def loops(edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def check_calls(build):
    edges = call_graph(build)
    if not edges:
        return [f"{build}: no objects found (build first)"]
    bad = []
    for src in sorted(edges):
        for dst in sorted(edges[src]):
            if RANK[dst.split("/")[0]] > RANK[src.split("/")[0]]:
                bad.append(f"{src}.c calls into {dst}.c, a layer above")
    for comp in loops(edges):
        bad.append("files that call each other in a loop: " +
                   " -> ".join(comp))
    return bad


def main():
    bad = check_includes()
    if len(sys.argv) > 1:
        bad += check_calls(sys.argv[1])
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
