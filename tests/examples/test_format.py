"""scripts/format.sh with the repository's .clang-format: --check names the tracked C files
that differ and changes nothing; without it the files are rewritten so that --check passes;
includes sort within their blocks, banned.h last and cmocka.h after the headers it needs;
jansson's foreach macros are loops; untracked files are left alone."""

import shutil
import subprocess

import pytest

from conftest import ROOT, git

SCRIPT = ROOT / "scripts" / "format.sh"

FORMATTED = """\
#include <stdio.h>

#include "banned.h"

static int twice(int x)
{
  return 2 * x;
}
"""

MESSY = """\
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <stddef.h>
#include <jansson.h>

#include "banned.h"
#include "b.h"
#include "a.h"

static int count(json_t *obj) {
    int n = 0; const char *key; json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (v) n++;
    }
    return n;
}
"""

MESSY_FORMATTED = """\
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <jansson.h>

#include "a.h"
#include "b.h"
#include "banned.h"

static int count(json_t *obj)
{
  int n = 0;
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (v)
      n++;
  }
  return n;
}
"""


@pytest.fixture
def repo(tmp_path):
    for tool in ("git", "clang-format"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (scripts/setup.sh installs it)")
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "format.sh")
    shutil.copy(ROOT / ".clang-format", tmp_path / ".clang-format")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "good.c").write_text(FORMATTED)
    (tmp_path / "lib" / "messy.c").write_text(MESSY)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    # not tracked: never looked at
    (tmp_path / "lib" / "untracked.c").write_text(MESSY)
    return tmp_path


def run(repo, *args):
    return subprocess.run([str(repo / "scripts" / "format.sh"), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_check_names_the_files_that_differ_and_changes_nothing(repo):
    proc = run(repo, "--check")
    assert proc.returncode == 1, proc.stderr
    assert "lib/messy.c" in proc.stderr
    assert "good.c" not in proc.stderr and "untracked.c" not in proc.stderr
    assert "1 of 2 C files" in proc.stderr
    assert (repo / "lib" / "messy.c").read_text() == MESSY


def test_format_rewrites_to_the_house_style_and_then_check_passes(repo):
    proc = run(repo)
    assert proc.returncode == 0, proc.stderr
    assert "lib/messy.c" in proc.stderr
    assert (repo / "lib" / "messy.c").read_text() == MESSY_FORMATTED
    assert (repo / "lib" / "good.c").read_text() == FORMATTED
    assert (repo / "lib" / "untracked.c").read_text() == MESSY
    again = run(repo, "--check")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""


def test_an_unknown_option_is_refused(repo):
    proc = run(repo, "--fix")
    assert proc.returncode == 2
    assert "usage: scripts/format.sh [--check]" in proc.stderr
    assert (repo / "lib" / "messy.c").read_text() == MESSY
