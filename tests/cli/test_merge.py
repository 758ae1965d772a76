"""seal merge: new keys into an existing SealedSecret, in place."""

import base64
import json

from conftest import fails, ok, parse_docs, run, secret_json, secret_yaml


def plain(doc):
    return {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}


def unseal_file(keys, path):
    r = ok("unseal", "--private-key", keys.priv[0], "-o", "json", stdin=path.read_bytes())
    return plain(parse_docs(r.out)[0])


def test_merge_keeps_other_ciphertext_byte_for_byte_yaml(keys, tmp_path):
    target = tmp_path / "sealed.yaml"
    ok("--cert", keys.pub[0], "-w", str(target), stdin=secret_yaml(data={"a": "1", "b": "2"}))
    before = target.read_text()
    [old] = parse_docs(before)
    r = ok("merge", "--into", str(target), "--cert", keys.pub[0],
           stdin=secret_yaml(data={"b": "new-b", "c": "3"}))
    assert r.out == b""
    after = target.read_text()
    assert after.startswith("apiVersion: seal.dev/v1\n")  # still YAML
    [new] = parse_docs(after)
    enc_old, enc_new = old["spec"]["encryptedData"], new["spec"]["encryptedData"]
    assert enc_new["a"] == enc_old["a"]
    assert enc_old["a"] in after  # the very same text
    assert enc_new["b"] != enc_old["b"]
    assert set(enc_new) == {"a", "b", "c"}
    assert unseal_file(keys, target) == {"a": "1", "b": "new-b", "c": "3"}


def test_merge_keeps_json_and_takes_name_namespace_scope_from_file(keys, tmp_path):
    target = tmp_path / "sealed.json"
    ok("--cert", keys.pub[0], "-o", "json", "--scope", "namespace-wide", "-w", str(target),
       stdin=secret_yaml(data={"a": "1"}))
    old = json.loads(target.read_text())
    # the Secret names another name and namespace: FILE's win
    ok("merge", "--into", str(target), "--cert", keys.pub[0],
       stdin=secret_json(name="elsewhere", namespace="other", data={"z": "26"}))
    new = json.loads(target.read_text())
    assert new["metadata"] == old["metadata"]
    assert new["metadata"]["annotations"]["seal.dev/scope"] == "namespace-wide"
    assert new["spec"]["encryptedData"]["a"] == old["spec"]["encryptedData"]["a"]
    assert unseal_file(keys, target) == {"a": "1", "z": "26"}
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_merge_bad_input_leaves_file_alone(keys, tmp_path):
    target = tmp_path / "sealed.yaml"
    ok("--cert", keys.pub[0], "-w", str(target), stdin=secret_yaml(data={"a": "1"}))
    before = target.read_bytes()
    fails(1, "merge", "--into", str(target), "--cert", keys.pub[0], stdin="data: [")
    fails(1, "merge", "--into", str(target), "--cert", keys.pub[0],
          stdin=secret_yaml(extra="data:\n  x: '!!'\n"))
    fails(1, "merge", "--into", str(target), "--cert", keys.priv[0], stdin=secret_yaml(data={"x": "1"}))
    fails(1, "merge", "--into", str(target), "--cert", keys.pub[0],
          stdin="apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    assert target.read_bytes() == before


def test_merge_into_something_else(keys, tmp_path):
    target = tmp_path / "plain.yaml"
    target.write_text(secret_yaml(data={"a": "1"}))
    r = fails(1, "merge", "--into", str(target), "--cert", keys.pub[0], stdin=secret_yaml(data={"b": "2"}))
    assert "SealedSecret" in r.err
    fails(1, "merge", "--into", str(tmp_path / "missing.yaml"), "--cert", keys.pub[0],
          stdin=secret_yaml(data={"b": "2"}))
    assert not (tmp_path / "missing.yaml").exists()


def test_merge_needs_into(keys):
    r = run("merge", "--cert", keys.pub[0], stdin=secret_yaml(data={"b": "2"}))
    assert r.rc == 2 and "--into" in r.err
