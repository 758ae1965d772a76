"""seal unseal: offline recovery with private key files."""

import base64
import json

import pytest

from conftest import fails, ok, parse_docs, run, secret_yaml


def seal(keys, text, *args, idx=0):
    return ok("--cert", keys.pub[idx], "-o", "json", *args, stdin=text).out


def plain(doc):
    return {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}


def edit(sealed, fn):
    doc = json.loads(sealed)
    fn(doc)
    return json.dumps(doc)


def test_unseal_warns_that_output_is_plain_text(keys):
    r = ok("unseal", "--private-key", keys.priv[0],
           stdin=seal(keys, secret_yaml(data={"a": "secret-value"})))
    assert "warning" in r.err and "plain" in r.err
    assert r.out.startswith(b"apiVersion: v1\nkind: Secret\n")
    assert base64.b64encode(b"secret-value") in r.out


def test_unseal_yaml_input_and_json_output(keys):
    sealed_yaml = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"})).out
    r = ok("unseal", "--private-key", keys.priv[0], "-o", "json", stdin=sealed_yaml)
    [doc] = parse_docs(r.out)
    assert doc["kind"] == "Secret" and doc["metadata"]["name"] == "api-keys"
    assert doc["metadata"]["namespace"] == "kotaemon" and plain(doc) == {"a": "1"}


def test_unseal_applies_and_renders_template(keys):
    sealed = edit(seal(keys, secret_yaml(data={"DB_PASSWORD": "pw"})), lambda d: d["spec"]["template"].update(
        {"data": {"DATABASE_URL": "postgres://u:{{ .DB_PASSWORD }}@db/kb", "PLAIN": "x"}}))
    [doc] = parse_docs(ok("unseal", "--private-key", keys.priv[0], "-o", "json", stdin=sealed).out)
    p = plain(doc)
    assert p["DATABASE_URL"] == "postgres://u:pw@db/kb"
    assert p["PLAIN"] == "x" and p["DB_PASSWORD"] == "pw"
    assert doc["type"] == "Opaque"


def test_several_key_files_and_key_blocks(keys, tmp_path):
    both = tmp_path / "both.key"
    both.write_text(open(keys.priv[0]).read() + open(keys.priv[1]).read())
    s1 = seal(keys, secret_yaml(name="one", data={"a": "1"}), idx=1)
    s2 = seal(keys, secret_yaml(name="two", data={"b": "2"}), idx=2)
    r = ok("unseal", "--private-key", str(both), "--private-key", keys.priv[2], "-o", "json",
           stdin=s1 + b"\n" + s2)
    assert [plain(d) for d in parse_docs(r.out)] == [{"a": "1"}, {"b": "2"}]
    # the same key twice is fine
    ok("unseal", "--private-key", keys.priv[1], "--private-key", str(both), stdin=s1)


@pytest.mark.parametrize("field,value", [
    ("name", "other-name"), ("namespace", "other-ns")])
def test_value_moved_to_another_secret_does_not_unseal(keys, tmp_path, field, value):
    sealed = edit(seal(keys, secret_yaml(data={"a": "1"})),
                  lambda d: d["metadata"].update({field: value}))
    out = tmp_path / "plain.yaml"
    r = fails(1, "unseal", "--private-key", keys.priv[0], "-w", str(out), stdin=sealed)
    assert not out.exists()
    assert f'document 1 (SealedSecret {value if field == "namespace" else "kotaemon"}/' in r.err
    assert 'key "a"' in r.err and "scope" in r.err


def test_value_moved_to_another_data_key_does_not_unseal(keys):
    def move(d):
        enc = d["spec"]["encryptedData"]
        enc["b"] = enc.pop("a")
    sealed = edit(seal(keys, secret_yaml(data={"a": "1"})), move)
    r = fails(1, "unseal", "--private-key", keys.priv[0], stdin=sealed)
    assert 'key "b"' in r.err


def test_namespace_wide_value_moves_between_names_but_not_namespaces(keys):
    sealed = seal(keys, secret_yaml(data={"a": "1"}), "--scope", "namespace-wide")
    ok("unseal", "--private-key", keys.priv[0],
       stdin=edit(sealed, lambda d: d["metadata"].update({"name": "renamed"})))
    fails(1, "unseal", "--private-key", keys.priv[0],
          stdin=edit(sealed, lambda d: d["metadata"].update({"namespace": "elsewhere"})))


def test_cluster_wide_value_moves_anywhere(keys):
    sealed = seal(keys, secret_yaml(data={"a": "1"}), "--scope", "cluster-wide")
    moved = edit(sealed, lambda d: d["metadata"].update({"name": "n2", "namespace": "ns2"}))
    [doc] = parse_docs(ok("unseal", "--private-key", keys.priv[0], "-o", "json", stdin=moved).out)
    assert plain(doc) == {"a": "1"} and doc["metadata"]["namespace"] == "ns2"


def test_changing_scope_annotation_does_not_unseal(keys):
    sealed = seal(keys, secret_yaml(data={"a": "1"}))
    fails(1, "unseal", "--private-key", keys.priv[0], stdin=edit(
        sealed, lambda d: d["metadata"]["annotations"].update({"seal.dev/scope": "cluster-wide"})))


def test_wrong_key_names_key_ids(keys):
    r = fails(1, "unseal", "--private-key", keys.priv[1], stdin=seal(keys, secret_yaml(data={"a": "1"})))
    assert r.err.startswith('seal: stdin: document 1 (SealedSecret kotaemon/api-keys): key "a": ')
    assert keys.ids[0] in r.err and keys.ids[1] not in r.err


def test_altered_value(keys):
    def flip(d):
        v = d["spec"]["encryptedData"]["a"]
        raw = bytearray(base64.b64decode(v))
        raw[-1] ^= 1
        d["spec"]["encryptedData"]["a"] = base64.b64encode(bytes(raw)).decode()
    fails(1, "unseal", "--private-key", keys.priv[0], stdin=edit(seal(keys, secret_yaml(data={"a": "1"})), flip))
    fails(1, "unseal", "--private-key", keys.priv[0], stdin=edit(
        seal(keys, secret_yaml(data={"a": "1"})),
        lambda d: d["spec"]["encryptedData"].update({"a": "AQE"})))


def test_a_secret_is_not_a_sealed_secret(keys):
    r = fails(1, "unseal", "--private-key", keys.priv[0], stdin=secret_yaml(data={"a": "1"}))
    assert "SealedSecret" in r.err


def test_bad_private_key_files(keys, tmp_path):
    sealed = seal(keys, secret_yaml(data={"a": "1"}))
    fails(1, "unseal", "--private-key", str(tmp_path / "missing.key"), stdin=sealed)
    fails(1, "unseal", "--private-key", keys.pub[0], stdin=sealed)
    g = tmp_path / "garbage.key"
    g.write_text("-----BEGIN SEAL PRIVATE KEY-----\n!!!\n-----END SEAL PRIVATE KEY-----\n")
    fails(1, "unseal", "--private-key", str(g), stdin=sealed)


def test_write_file_is_private(keys, tmp_path):
    out = tmp_path / "plain.yaml"
    r = ok("unseal", "--private-key", keys.priv[0], "-w", str(out),
           stdin=seal(keys, secret_yaml(data={"a": "1"})))
    assert r.out == b""
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert b"kind: Secret" in out.read_bytes()


def test_unseal_requires_a_key():
    r = run("unseal", stdin="")
    assert r.rc == 2 and "--private-key" in r.err


def test_malformed_input(keys):
    fails(1, "unseal", "--private-key", keys.priv[0], stdin="{not json")
    fails(1, "unseal", "--private-key", keys.priv[0], stdin="")
