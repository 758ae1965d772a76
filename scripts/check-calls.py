#!/usr/bin/python3
"""Finds files of the libraries and programs that call each other in a loop.

  scripts/check-calls.py BUILD_DIR

Builds the file-level call graph from the object files of a configured and
built tree: every object that BUILD_DIR/compile_commands.json compiles from a
source outside tests/ and bench/ is read with `nm`; a symbol that file A uses
(U) and file B defines (a global T, D, B, R...) is an edge A -> B. Symbols no
file of the tree defines (libc, libsodium, jansson...) are no edges. A symbol
defined by several files (two programs' own helpers) resolves to the one in
A's folder, else to all of them.

Prints each strongly connected component of three or more files (files that
reach each other through calls: A calls B, B calls C, ... back to A) with the
calls inside it, and exits 1 when there is any; exits 0 when there is none, 2
on a usage or build error. Two files that call each other are allowed (a
part and its callback), a loop through three or more is not: shared helpers
go in a file below the files that use them.
"""

import json
import os
import subprocess
import sys

SKIP_DIRS = ("tests", "bench")
MIN_FILES = 3


def objects(build_dir):
    """(source path relative to the tree, object path) for each object of
    the libraries and programs."""
    with open(os.path.join(build_dir, "compile_commands.json"), encoding="utf-8") as f:
        commands = json.load(f)
    root = None
    out = []
    for cmd in commands:
        src = os.path.normpath(os.path.join(cmd["directory"], cmd["file"]))
        obj = os.path.normpath(os.path.join(cmd["directory"], cmd["output"]))
        if root is None:
            root = source_root(build_dir)
        rel = os.path.relpath(src, root)
        if rel.startswith("..") or rel.split(os.sep)[0] in SKIP_DIRS:
            continue
        out.append((rel, obj))
    return out


def source_root(build_dir):
    with open(os.path.join(build_dir, "meson-info", "meson-info.json"), encoding="utf-8") as f:
        return json.load(f)["directories"]["source"]


def symbols(obj):
    """(defined globals, undefined) of one object file."""
    res = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper() and kind not in ("W", "V"):
            defined.add(name)
    return defined, undefined


def call_graph(objs):
    """{file: {callee file: sorted symbols}} over the files of objs."""
    defs, uses = {}, {}
    built = {src for src, obj in objs if os.path.exists(obj)}
    for src, obj in objs:
        if not os.path.exists(obj):
            if src in built:
                continue  # also compiled into a target not built (a fuzz target)
            raise FileNotFoundError(f"{obj} (of {src}) is missing: build the tree first")
        d, u = symbols(obj)
        uses.setdefault(src, set()).update(u)
        for name in d:
            defs.setdefault(name, set()).add(src)
    graph = {src: {} for src in uses}
    for src, used in uses.items():
        for name in used:
            owners = defs.get(name, set()) - {src}
            if not owners:
                continue
            near = {o for o in owners if os.path.dirname(o) == os.path.dirname(src)}
            for owner in near or owners:
                graph[src].setdefault(owner, set()).add(name)
    return graph


def components(graph):
    """Strongly connected components (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, {})))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                out.append(sorted(comp))
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        graph = call_graph(objects(argv[1]))
    except (OSError, KeyError, ValueError, subprocess.CalledProcessError) as e:
        print(f"check-calls: {e}", file=sys.stderr)
        return 2
    loops = [c for c in components(graph) if len(c) >= MIN_FILES]
    for comp in loops:
        print(f"loop of {len(comp)} files: {' '.join(comp)}")
        for a in comp:
            for b in comp:
                if b in graph[a]:
                    names = sorted(graph[a][b])
                    more = f" (+{len(names) - 4})" if len(names) > 4 else ""
                    print(f"  {a} -> {b}: {', '.join(names[:4])}{more}")
    if loops:
        print(f"check-calls: {len(loops)} loop(s) of {MIN_FILES} or more files", file=sys.stderr)
        return 1
    print(f"check-calls: no loop of {MIN_FILES} or more files among {len(graph)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
