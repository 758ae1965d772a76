"""seal merge: new keys into an existing SealedSecret, in place."""

import base64
import json

import pytest

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
    # the Secret names another name and namespace: with --retarget, FILE's win
    r = ok("merge", "--into", str(target), "--cert", keys.pub[0], "--retarget",
           stdin=secret_json(name="elsewhere", namespace="other", data={"z": "26"}))
    assert ("Secret other/elsewhere sealed as kotaemon/api-keys (scope namespace-wide)"
            in r.err), r.err
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


@pytest.mark.parametrize("name,namespace,scope,why", [
    ("other", "team-a", None, "Secret team-a/other is not the SealedSecret team-a/m"),
    ("m", "team-b", None, "Secret team-b/m is not the SealedSecret team-a/m"),
    ("other", "team-b", None, "Secret team-b/other is not the SealedSecret team-a/m"),
    ("m", "team-a", "cluster-wide", "asks for scope cluster-wide"),
])
def test_merge_refuses_another_target(keys, tmp_path, name, namespace, scope, why):
    target = tmp_path / "m.yaml"
    ok("--cert", keys.pub[0], "-w", str(target),
       stdin=secret_yaml(name="m", namespace="team-a", data={"a": "1"}))
    before = target.read_bytes()
    extra = f"  annotations:\n    seal.dev/scope: {scope}\n" if scope else ""
    doc = secret_yaml(name=name, namespace=namespace, data={"b": "2"})
    if extra:
        doc = doc.replace("metadata:\n", "metadata:\n" + extra, 1)
    r = fails(1, "merge", "--into", str(target), "--cert", keys.pub[0], stdin=doc)
    assert why in r.err and "--retarget" in r.err, r.err
    assert target.read_bytes() == before
    # asked for: sealed for FILE's name, namespace and scope
    r = ok("merge", "--into", str(target), "--cert", keys.pub[0], "--retarget", stdin=doc)
    assert "sealed as team-a/m (scope strict)" in r.err, r.err
    [new] = parse_docs(target.read_text())
    assert new["metadata"]["name"] == "m" and new["metadata"]["namespace"] == "team-a"
    assert unseal_file(keys, target) == {"a": "1", "b": "2"}


def test_merge_same_target_or_unnamed_needs_no_flag(keys, tmp_path):
    target = tmp_path / "m.yaml"
    ok("--cert", keys.pub[0], "-w", str(target),
       stdin=secret_yaml(name="m", namespace="team-a", data={"a": "1"}))
    r = ok("merge", "--into", str(target), "--cert", keys.pub[0],
           stdin=secret_yaml(name="m", namespace="team-a", data={"b": "2"}))
    assert "sealed as" not in r.err
    r = ok("merge", "--into", str(target), "--cert", keys.pub[0],
           stdin="apiVersion: v1\nkind: Secret\nstringData:\n  c: '3'\n")
    assert unseal_file(keys, target) == {"a": "1", "b": "2", "c": "3"}
