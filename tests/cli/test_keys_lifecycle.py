"""seal keys list|rotate|backup|restore|compromise: argument errors that
need no cluster (the cluster side is in tests/e2e/test_keys.py)."""

from conftest import fails, ok, run


def test_help_of_each_command():
    for cmd in ["list", "rotate", "backup", "restore", "compromise"]:
        r = ok("keys", cmd, "--help")
        assert r.out.startswith(b"usage: seal keys " + cmd.encode()), r
        assert b"--key-namespace" in r.out
    r = ok("keys", "--help")
    for cmd in [b"list", b"rotate", b"backup", b"restore", b"compromise"]:
        assert cmd in r.out


def test_usage_errors(tmp_path):
    cases = [
        (["list", "-o", "yaml"], "text or json"),
        (["list", "extra"], "extra"),
        (["rotate", "now"], "now"),
        (["backup"], "-w FILE is required"),
        (["backup", "-w", "-"], "-w FILE is required"),
        (["restore"], "-f FILE is required"),
        (["restore", "-f", str(tmp_path / "x"), "--key-namespace", "Not_A_Namespace"],
         "not a valid namespace"),
        (["compromise"], "exactly one key id"),
        (["compromise", "0123456789abcdef", "fedcba9876543210"], "exactly one key id"),
        (["compromise", "0123"], "not a key id"),
        (["compromise", "0123456789abcdeg"], "not a key id"),
        (["list", "--bogus"], "bogus"),
        (["nope"], "unknown command"),
    ]
    for args, needle in cases:
        r = fails(2, "keys", *args)
        assert needle in r.err, (args, r)


def test_no_cluster_is_a_clear_error(tmp_path):
    for args in (["list"], ["rotate"], ["backup", "-w", str(tmp_path / "b.pem")],
                 ["compromise", "0123456789abcdef"]):
        r = fails(2, "keys", *args)
        assert "kubeconfig" in r.err, (args, r)
    assert not (tmp_path / "b.pem").exists()


def test_restore_checks_the_file_before_the_cluster(tmp_path):
    bad = tmp_path / "backup.pem"
    for text in ["", "not a key\n", "-----BEGIN SEAL PRIVATE KEY-----\nKey-Id: 00\n",
                 "-----BEGIN SEAL PUBLIC KEY-----\nAAAA\n-----END SEAL PUBLIC KEY-----\n"]:
        bad.write_text(text)
        r = run("keys", "restore", "-f", str(bad))
        assert r.rc == 1, (text, r)
        assert str(bad) in r.err and "kubeconfig" not in r.err, r
    r = fails(1, "keys", "restore", "-f", str(tmp_path / "missing.pem"))
    assert "missing.pem" in r.err


def test_man_page_documents_every_option():
    import os
    import re
    man_path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "docs", "seal.1")
    with open(man_path, encoding="utf-8") as f:
        man = f.read().replace("\\-", "-")
    for cmd in (["keys", "list"], ["keys", "rotate"], ["keys", "backup"], ["keys", "restore"],
                ["keys", "compromise"], ["reseal"]):
        helptext = ok(*cmd, "--help").text
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", helptext))
        assert options, helptext
        assert not sorted(o for o in options if o not in man), cmd
        assert "seal " + " ".join(cmd) in man
