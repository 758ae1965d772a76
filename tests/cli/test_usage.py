"""Usage: --help for every command, --version, usage errors exit 2."""

import os
import re

import pytest

from conftest import ok, run

COMMANDS = [[], ["raw"], ["merge"], ["unseal"], ["cert"], ["verify"], ["scan"], ["keys"],
            ["keys", "generate"], ["migrate"], ["completion"]]


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


MAN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "docs", "seal.1")


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "seal")
def test_man_page_documents_every_option(cmd):
    """Every long option a command's --help shows is in docs/seal.1."""
    with open(MAN, encoding="utf-8") as f:
        man = f.read().replace("\\-", "-")
    helptext = ok(*cmd, "--help").text
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", helptext))
    assert options, helptext
    missing = sorted(o for o in options if o not in man)
    assert not missing, missing
    if cmd:
        assert ".SS seal " + " ".join(cmd) in man or "seal " + " ".join(cmd) in man


def test_man_page_has_the_sections():
    with open(MAN, encoding="utf-8") as f:
        man = f.read()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "EXIT STATUS",
                    "EXAMPLES"):
        assert f"\n.SH {section}\n" in man
    assert "SEAL_CERT" in man and "KUBECONFIG" in man
