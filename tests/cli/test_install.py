"""meson install: both programs, both man pages and the kubectl-seal plugin name, nothing
else; and `kubectl seal` running the installed seal as a kubectl plugin."""

import json
import os
import subprocess

import pytest

from conftest import SEAL

BUILD = os.environ.get("SEAL_BUILD_ROOT", "")
MESON = os.environ.get("MESON", "meson")
KUBECTL = os.environ.get("KUBECTL", "")


def installed_option(name):
    out = subprocess.run([MESON, "introspect", "--buildoptions", BUILD], capture_output=True,
                         check=True, timeout=60).stdout
    return next(o["value"] for o in json.loads(out) if o["name"] == name)


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    r = subprocess.run([MESON, "install", "-C", BUILD, "--no-rebuild", "--quiet",
                        "--destdir", str(d)], capture_output=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    prefix = installed_option("prefix").lstrip("/")
    return {
        "root": d / prefix,
        "bin": d / prefix / installed_option("bindir"),
        "man": d / prefix / installed_option("mandir"),
    }


def test_installs_the_programs_and_pages_and_nothing_else(dest):
    root = dest["root"]
    bindir = dest["bin"].relative_to(root)
    mandir = dest["man"].relative_to(root)
    got = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert got == sorted(str(p) for p in (
        bindir / "seal", bindir / "kubectl-seal", bindir / "unseal-controller",
        mandir / "man1" / "seal.1", mandir / "man8" / "unseal-controller.8"))
    for program in ("seal", "unseal-controller"):
        assert os.access(dest["bin"] / program, os.X_OK), program


def test_man_pages_installed(dest):
    for page, section in (("seal.1", "man1"), ("unseal-controller.8", "man8")):
        path = dest["man"] / section / page
        assert path.is_file(), path
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))), "docs", page), "rb") as f:
            assert path.read_bytes() == f.read()


def test_kubectl_seal_is_a_link_to_seal(dest):
    link = dest["bin"] / "kubectl-seal"
    assert link.is_symlink() and os.readlink(link) == "seal"
    assert (dest["bin"] / "seal").is_file()


def env_with(bindir, tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"
    env.pop("SEAL_CERT", None)
    return env


def run_in(args, env):
    r = subprocess.run(args, capture_output=True, env=env, timeout=60, check=False)
    assert "Sanitizer" not in r.stderr.decode("utf-8", "replace")
    return r


def test_kubectl_plugin_runs_seal(dest, tmp_path):
    assert KUBECTL, "kubectl is needed (scripts/setup.sh installs it)"
    env = env_with(dest["bin"], tmp_path)
    want = run_in([SEAL, "--version"], env)
    assert want.returncode == 0 and want.stdout.startswith(b"seal ")
    r = run_in([KUBECTL, "seal", "--version"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want.stdout
    plugins = run_in([KUBECTL, "plugin", "list"], env)
    assert b"kubectl-seal" in plugins.stdout, plugins


@pytest.mark.parametrize("args", [["--help"], ["raw", "--help"], ["--no-such-option"],
                                  ["sael"]])
def test_kubectl_seal_behaves_as_seal(dest, tmp_path, args):
    """Invoked as kubectl-seal, seal prints the same text and exit code as seal."""
    env = env_with(dest["bin"], tmp_path)
    want = run_in([str(dest["bin"] / "seal"), *args], env)
    got = run_in([str(dest["bin"] / "kubectl-seal"), *args], env)
    via_kubectl = run_in([KUBECTL, "seal", *args], env)
    for r in (got, via_kubectl):
        assert (r.returncode, r.stdout, r.stderr) == (want.returncode, want.stdout, want.stderr)
    if args == ["--help"]:
        assert want.stdout.startswith(b"usage: seal")
