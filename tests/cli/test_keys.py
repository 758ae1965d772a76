"""seal keys generate."""

import re

from conftest import fails, ok, parse_docs, run, secret_yaml


def test_generate_modes_and_use(tmp_path):
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    r = ok("keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    kid = r.text.strip()
    assert re.fullmatch(r"[0-9a-f]{16}", kid)
    assert oct(priv.stat().st_mode & 0o777) == "0o600"
    assert oct(pub.stat().st_mode & 0o777) == "0o644"
    assert "BEGIN SEAL PRIVATE KEY" in priv.read_text()
    assert "BEGIN SEAL PUBLIC KEY" in pub.read_text() and kid in pub.read_text()
    # the pair works
    r = ok("--cert", str(pub), "-o", "json", stdin=secret_yaml(data={"a": "1"}))
    assert f"sealing for key {kid}" in r.err
    ok("unseal", "--private-key", str(priv), stdin=r.out)


def test_generate_refuses_to_overwrite(tmp_path):
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    ok("keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    before = priv.read_bytes(), pub.read_bytes()
    fails(1, "keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    # only one of them existing is refused too, and nothing is written
    other = tmp_path / "other.pem"
    fails(1, "keys", "generate", "--private-key", str(priv), "--cert", str(other))
    assert not other.exists()
    other_key = tmp_path / "other.key"
    fails(1, "keys", "generate", "--private-key", str(other_key), "--cert", str(pub))
    assert not other_key.exists()
    assert (priv.read_bytes(), pub.read_bytes()) == before


def test_generate_force_replaces(tmp_path):
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    first = ok("keys", "generate", "--private-key", str(priv), "--cert", str(pub)).text
    second = ok("keys", "generate", "--private-key", str(priv), "--cert", str(pub), "--force").text
    assert first != second
    assert second.strip() in pub.read_text()
    assert oct(priv.stat().st_mode & 0o777) == "0o600"


def test_generate_refuses_symlink(tmp_path):
    target = tmp_path / "target"
    link = tmp_path / "k.key"
    link.symlink_to(target)
    fails(1, "keys", "generate", "--private-key", str(link), "--cert", str(tmp_path / "k.pem"))
    assert not target.exists()


def test_generate_usage(tmp_path):
    for args in ([], ["--private-key", str(tmp_path / "a")], ["--cert", str(tmp_path / "b")],
                 ["--private-key", str(tmp_path / "c"), "--cert", str(tmp_path / "c")]):
        r = run("keys", "generate", *args)
        assert r.rc == 2 and r.out == b"", (args, r)
    assert not any(tmp_path.iterdir())


def test_generate_unwritable_folder(tmp_path):
    r = run("keys", "generate", "--private-key", str(tmp_path / "no" / "k.key"),
            "--cert", str(tmp_path / "k.pem"))
    assert r.rc != 0 and r.out == b""
    assert not (tmp_path / "k.pem").exists()


def test_keys_dispatch():
    r = run("keys")
    assert r.rc == 2
    r = run("keys", "frobnicate")
    assert r.rc == 2 and "frobnicate" in r.err
    r = ok("keys", "--help")
    assert b"generate" in r.out
