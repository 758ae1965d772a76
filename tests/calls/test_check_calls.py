"""scripts/check-calls.py: no loop of three or more files calls each other in
the libraries and programs of this build, and the checker does find one.

SEAL_SOURCE_ROOT and SEAL_BUILD_ROOT come from meson (tests/calls/meson.build)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.environ.get("SEAL_SOURCE_ROOT", "")
BUILD = os.environ.get("SEAL_BUILD_ROOT", "")
CHECK = os.path.join(ROOT, "scripts", "check-calls.py")


def check(build_dir):
    return subprocess.run([sys.executable, CHECK, build_dir], capture_output=True, text=True,
                          check=False)


def test_the_tree_has_no_call_loop():
    res = check(BUILD)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no loop of 3 or more files" in res.stdout


def fake_build(tmp_path, sources):
    """A build folder of the objects of sources {path: C text}, laid out as
    meson does (compile_commands.json, meson-info.json)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler on PATH"
    src_root, build = tmp_path / "src", tmp_path / "build"
    commands = []
    for rel, text in sources.items():
        src = src_root / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(text, encoding="utf-8")
        obj = build / (rel.replace("/", "_") + ".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([cc, "-c", "-o", str(obj), str(src)], check=True)
        commands.append({"directory": str(build), "file": str(src), "output": str(obj),
                         "command": f"cc -c {src}"})
    (build / "compile_commands.json").write_text(json.dumps(commands), encoding="utf-8")
    (build / "meson-info").mkdir()
    (build / "meson-info" / "meson-info.json").write_text(
        json.dumps({"directories": {"source": str(src_root), "build": str(build)}}),
        encoding="utf-8")
    return str(build)


LOOP = {
    "lib/a.c": "int b(int); int a(int x) { return x ? b(x - 1) : 0; }\n",
    "lib/b.c": "int c(int); int b(int x) { return c(x); }\n",
    "lib/c.c": "#include <string.h>\nint a(int); int c(int x) { return a(x) + (int)strlen(\"\"); }\n",
    # a pair that calls each other is allowed; so is a caller outside the loop
    "lib/d.c": "int e(int); int d(int x) { return x ? e(x - 1) : 0; }\n",
    "lib/e.c": "int d(int); int a(int); int e(int x) { return d(x) + a(x); }\n",
    # tests may call anything back: they are not part of the graph
    "tests/t.c": "int a(int); int t(int); int t(int x) { return a(x); }\n",
    "lib/u.c": "int t(int); int u(int); int u(int x) { return t(x); }\n",
}


def test_a_loop_of_three_files_is_found(tmp_path):
    res = check(fake_build(tmp_path, LOOP))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "loop of 3 files: lib/a.c lib/b.c lib/c.c" in res.stdout
    assert "lib/c.c -> lib/a.c: a" in res.stdout
    assert "lib/d.c" not in res.stdout and "lib/e.c" not in res.stdout
    assert "1 loop(s)" in res.stderr


def test_the_loop_broken_passes(tmp_path):
    sources = dict(LOOP)
    sources["lib/c.c"] = "int c(int x) { return x; }\n"
    res = check(fake_build(tmp_path, sources))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "among 6 files" in res.stdout


def test_a_missing_object_is_an_error(tmp_path):
    build = fake_build(tmp_path, LOOP)
    os.remove(os.path.join(build, "lib_b.c.o"))
    res = check(build)
    assert res.returncode == 2
    assert "lib_b.c.o (of lib/b.c) is missing" in res.stderr
