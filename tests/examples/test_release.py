"""scripts/release.sh ties the image tag to the commit: a tagged release gets
its version, anything else git describe's name with the commit in it, and an
uncommitted tree is refused."""

import re
import shutil
import subprocess

import pytest

from conftest import ROOT, git

SCRIPT = ROOT / "scripts" / "release.sh"


@pytest.fixture
def repo(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "release.sh")
    (tmp_path / "meson.build").write_text(
        "project('seal', 'c',\n  version: '1.4.2',\n  license: 'Apache-2.0')\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def release(repo, *args, env=None):
    return subprocess.run([str(repo / "scripts" / "release.sh"), *args],
                          capture_output=True, text=True, check=False, env=env)


def test_untagged_commit_names_the_commit(repo):
    proc = release(repo, "--tag-only")
    assert proc.returncode == 0, proc.stderr
    sha = git(repo, "rev-parse", "--short=12", "HEAD")
    assert proc.stdout.strip() == f"v1.4.2-0-g{sha}"


def test_tagged_release_is_its_version(repo):
    git(repo, "tag", "v1.4.2")
    proc = release(repo, "--tag-only")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "v1.4.2"


def test_commits_after_a_tag_are_described(repo):
    git(repo, "tag", "v1.4.2")
    (repo / "file").write_text("x\n")
    git(repo, "add", "file")
    git(repo, "commit", "-q", "-m", "second")
    sha = git(repo, "rev-parse", "--short=12", "HEAD")
    proc = release(repo, "--tag-only")
    assert proc.stdout.strip() == f"v1.4.2-1-g{sha}"


def test_tag_that_disagrees_with_meson_is_refused(repo):
    git(repo, "tag", "v2.0.0")
    proc = release(repo, "--tag-only")
    assert proc.returncode != 0
    assert "v2.0.0" in proc.stderr and "1.4.2" in proc.stderr
    assert proc.stdout == ""


def test_dirty_tree_is_refused_unless_allowed(repo):
    (repo / "meson.build").write_text((repo / "meson.build").read_text() + "# edit\n")
    proc = release(repo)
    assert proc.returncode != 0
    assert "uncommitted" in proc.stderr
    assert proc.stdout == ""
    proc = release(repo, "--tag-only", "--allow-dirty")
    assert proc.returncode == 0
    assert proc.stdout.strip().endswith("-dirty")


def test_prints_the_build_command_with_version_and_commit(repo):
    git(repo, "tag", "v1.4.2")
    proc = release(repo, "--image", "registry.example.com/team/ctl")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    cmd = lines[0].split()
    assert cmd[:2] == ["docker", "build"]
    assert "VERSION=1.4.2" in cmd
    assert f"REVISION={git(repo, 'rev-parse', 'HEAD')}" in cmd
    assert cmd[cmd.index("--tag") + 1] == "registry.example.com/team/ctl:v1.4.2"
    assert cmd[-1] == str(repo)


def test_never_latest(repo):
    for _ in range(2):
        tag = release(repo, "--tag-only").stdout.strip()
        assert tag != "latest" and re.match(r"^v\d+\.\d+\.\d+", tag)
        (repo / "f").write_text(tag)
        git(repo, "add", "f")
        git(repo, "commit", "-q", "-m", "more")


def test_the_script_reads_this_repository_version():
    # The real meson.build's version line is in the form the script parses.
    text = (ROOT / "meson.build").read_text()
    assert re.search(r"^ *version: *'\d+\.\d+\.\d+'", text, re.M)
