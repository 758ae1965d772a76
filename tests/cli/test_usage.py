"""Usage: --help for every command, --version, usage errors exit 2."""

import pytest

from conftest import ok, run

COMMANDS = [[], ["raw"], ["merge"], ["unseal"], ["cert"], ["verify"], ["scan"], ["keys"],
            ["keys", "generate"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "seal")
def test_help(cmd):
    r = ok(*cmd, "--help")
    assert r.text.startswith("usage: seal"), r
    assert r.err == ""


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "seal")
def test_unknown_option_exits_2(cmd):
    r = run(*cmd, "--no-such-option", stdin="")
    assert r.rc == 2 and r.out == b""
    assert "--no-such-option" in r.err and "--help" in r.err


def test_top_help_lists_commands():
    r = ok("--help")
    for name in ("raw", "merge", "unseal", "cert", "verify", "scan", "keys"):
        assert f"\n  {name} " in r.text


def test_version():
    r = ok("--version")
    assert r.text.startswith("seal ") and r.text.strip().split()[1][0].isdigit()


def test_unknown_command():
    r = run("sael")
    assert r.rc == 2 and "sael" in r.err and r.out == b""


@pytest.mark.parametrize("args", [
    ["-o", "xml"], ["--scope", "wide"], ["-n", "Not_Valid"], ["--name", "UPPER"],
    ["--key-id", "123"], ["extra-argument"], ["-n"], ["--cert"],
])
def test_usage_errors(args):
    r = run(*args, stdin="")
    assert r.rc == 2 and r.out == b"", r
