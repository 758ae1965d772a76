"""seal completion bash|zsh: the scripts load in their shell and complete
seal's commands, seal keys' commands and options."""

import os
import shutil
import subprocess

import pytest

from conftest import SEAL, fails, ok

BASH = shutil.which("bash") or "/bin/bash"


def bash_complete(words, cword=None):
    """What `seal completion bash` offers for COMP_WORDS=words at COMP_CWORD."""
    cword = len(words) - 1 if cword is None else cword
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"set -e\nsource <('{SEAL}' completion bash)\n"
              "complete -p seal\ncomplete -p kubectl-seal\n"
              f"COMP_WORDS=({quoted}); COMP_CWORD={cword}\n"
              "_seal\nfor w in \"${COMPREPLY[@]}\"; do printf 'reply:%s\\n' \"$w\"; done\n")
    r = subprocess.run([BASH, "--norc", "--noprofile", "-c", script], capture_output=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "complete -o default -F _seal seal"
    assert lines[1] == "complete -o default -F _seal kubectl-seal"
    return [line[len("reply:"):] for line in lines[2:] if line.startswith("reply:")]


def test_bash_completes_subcommand():
    assert bash_complete(["seal", "re"]) == ["reseal"]


def test_bash_offers_every_command_of_help():
    offered = bash_complete(["seal", ""])
    help_text = ok("--help").text
    listed = [line.split()[0] for line in help_text.split("Commands:\n", 1)[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert offered == listed and "completion" in offered and "migrate" in offered


def test_bash_completes_keys_commands():
    assert bash_complete(["seal", "keys", "ro"]) == ["rotate"]
    assert bash_complete(["seal", "keys", "c"]) == ["compromise"]


def test_bash_completes_options():
    assert sorted(bash_complete(["seal", "--contr"])) == [
        "--controller-name", "--controller-namespace", "--controller-url"]
    assert "--allow-empty-data" in bash_complete(["seal", "-"])
    assert bash_complete(["seal", "-f", "x.yaml", "--kubecon"]) == ["--kubeconfig"]


def test_bash_leaves_file_arguments_to_the_shell():
    assert bash_complete(["seal", "raw", "x"]) == []


def test_zsh_script_parses():
    zsh = shutil.which("zsh")
    assert zsh, "zsh is needed (scripts/setup.sh installs it)"
    text = ok("completion", "zsh").text
    assert text.startswith("#compdef seal kubectl-seal\n")
    assert "'reseal:" in text and "'rotate:" in text and "--kubeconfig" in text
    r = subprocess.run([zsh, "-n", "-c", text], capture_output=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    # and it defines _seal when sourced after compinit
    script = ("autoload -Uz compinit && compinit -u -D\n"
              f"source <('{SEAL}' completion zsh)\n"
              "print -r -- ${_comps[seal]} ${_comps[kubectl-seal]}\n")
    r = subprocess.run([zsh, "-f", "-c", script], capture_output=True, timeout=60, check=False,
                       env={**os.environ, "HOME": "/nonexistent"})
    assert r.returncode == 0 and r.stdout == b"_seal _seal\n", r


@pytest.mark.parametrize("args", [[], ["fish"], ["bash", "zsh"], ["--shell"]])
def test_bad_shell_is_a_usage_error(args):
    fails(2, "completion", *args)


def test_help():
    r = ok("completion", "--help")
    assert r.text.startswith("usage: seal completion")
