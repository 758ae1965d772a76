"""seal raw: one value to one sealed value."""

import base64
import json

import pytest

from conftest import fails, ok, parse_docs, run


def sealed_secret(value, ns="ns", name="nm", key="k", scope="strict"):
    doc = {"apiVersion": "seal.dev/v1", "kind": "SealedSecret",
           "metadata": {"name": name, "namespace": ns,
                        "annotations": {"seal.dev/scope": scope}},
           "spec": {"encryptedData": {key: value}, "template": {"type": "Opaque"}}}
    return json.dumps(doc)


def open_value(keys, sealed, index=0, **kw):
    """The plain value of sealed, unsealed with key number index of the vectors."""
    r = ok("unseal", "--private-key", keys.priv[index], "-o", "json",
           stdin=sealed_secret(sealed, **kw))
    return base64.b64decode(parse_docs(r.out)[0]["data"][kw.get("key", "k")])


def test_raw_strict_from_stdin(keys):
    r = ok("raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k", stdin=b"pa\x00ss\n")
    assert keys.ids[0] in r.err
    value = r.text.strip()
    assert r.text.endswith("\n") and "\n" not in value
    assert open_value(keys, value) == b"pa\x00ss\n"
    fails(1, "unseal", "--private-key", keys.priv[0], stdin=sealed_secret(value, name="other"))
    fails(1, "unseal", "--private-key", keys.priv[0], stdin=sealed_secret(value, key="k2"))


def test_raw_from_file_and_scopes(keys, tmp_path):
    f = tmp_path / "value"
    f.write_bytes(b"from-file")
    r = ok("raw", "--cert", keys.pub[0], "--namespace", "ns", "--key", "k",
           "--scope", "namespace-wide", "--from-file", str(f))
    assert open_value(keys, r.text.strip(), scope="namespace-wide", name="any") == b"from-file"
    r = ok("raw", "--cert", keys.pub[0], "--key", "k", "--scope", "cluster-wide", stdin="cw")
    assert open_value(keys, r.text.strip(), scope="cluster-wide", ns="x", name="y") == b"cw"


def test_raw_empty_value(keys, tmp_path):
    """printf %s "$UNSET" | seal raw: refused unless --allow-empty-data."""
    r = fails(1, "raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k", stdin=b"")
    assert 'key "k"' in r.err and "empty value" in r.err and "--allow-empty-data" in r.err
    assert r.out == b""
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    r = fails(1, "raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k",
              "--from-file", str(empty))
    assert str(empty) in r.err and "empty value" in r.err
    r = ok("raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k",
           "--allow-empty-data", stdin=b"")
    assert open_value(keys, r.text.strip()) == b""


def test_raw_required_options(keys):
    for args in (["-n", "ns", "--name", "nm"], ["--name", "nm", "--key", "k"],
                 ["-n", "ns", "--key", "k"], ["--key", "k", "--scope", "namespace-wide"]):
        r = run("raw", "--cert", keys.pub[0], *args, stdin="v")
        assert r.rc == 2 and r.out == b"", (args, r)
    r = run("raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k", "--scope", "wide")
    assert r.rc == 2


def test_raw_invalid_names(keys):
    fails(1, "raw", "--cert", keys.pub[0], "-n", "Bad_NS", "--name", "nm", "--key", "k", stdin="v")
    fails(1, "raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "a/b", stdin="v")


def test_raw_oversized_value(keys, tmp_path):
    fails(1, "raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k",
          stdin=b"x" * (1024 * 1024 + 1))
    f = tmp_path / "big"
    f.write_bytes(b"x" * (1024 * 1024 + 1))
    fails(1, "raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k",
          "--from-file", str(f))
    # exactly 1 MiB is allowed
    r = ok("raw", "--cert", keys.pub[0], "-n", "ns", "--name", "nm", "--key", "k",
           stdin=b"x" * (1024 * 1024))
    assert len(open_value(keys, r.text.strip())) == 1024 * 1024


def test_raw_multi_cert(keys):
    r = ok("raw", "--cert", keys.pub[0], "--cert", keys.pub[1], "-n", "ns", "--name", "nm",
           "--key", "k", stdin="multi \u00e9 value")
    assert keys.ids[0] in r.err and keys.ids[1] in r.err
    value = r.text.strip()
    # one stanza per certificate, each naming its key id (docs/spec.md)
    blob = base64.b64decode(value)
    assert blob[1] == 2
    assert sorted(blob[2 + 88 * i:10 + 88 * i].hex() for i in (0, 1)) == sorted(keys.ids[:2])
    # each key alone opens it to the same plain value; a third key does not
    for i in (0, 1):
        assert open_value(keys, value, index=i) == "multi \u00e9 value".encode()
    # a key it was not sealed for: refused, naming the key ids the value holds
    r = fails(1, "unseal", "--private-key", keys.priv[2], stdin=sealed_secret(value))
    assert keys.ids[0] in r.err and keys.ids[1] in r.err, r.err


def test_raw_bad_cert(keys):
    fails(1, "raw", "--cert", keys.priv[0], "-n", "ns", "--name", "nm", "--key", "k", stdin="v")
