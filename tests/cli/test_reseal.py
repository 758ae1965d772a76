"""seal reseal: argument errors, and re-sealing offline with private key files
(no cluster: KUBECONFIG points nowhere in every test)."""

import base64
import json
import os
import struct

from conftest import fails, keys, ok, parse_docs, run, secret_json, secret_yaml  # noqa: F401


def value_ids(value):
    """The key ids of a sealed value's stanzas (docs/spec.md: version, count, stanzas)."""
    blob = base64.b64decode(value)
    n = blob[1]
    return [blob[2 + 88 * i: 2 + 88 * i + 8].hex() for i in range(n)]


def sealed_file(tmp_path, keys_, certs, name="sealed.yaml", fmt="yaml",
                secret=None):
    args = []
    for c in certs:
        args += ["--cert", c]
    r = ok(*args, "-o", fmt, stdin=secret or secret_yaml(data={"A": "one", "B": "two"}))
    p = tmp_path / name
    p.write_bytes(r.out)
    return p


def unsealed(path, *priv):
    args = []
    for k in priv:
        args += ["--private-key", k]
    r = ok("unseal", *args, "-f", str(path), "-o", "json")
    return {k: base64.b64decode(v).decode() for k, v in json.loads(r.out)["data"].items()}


def test_offline_reseal_moves_values_to_the_new_key(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    out = tmp_path / "out.yaml"
    r = ok("reseal", "--private-key", keys.priv[0], "--cert", keys.pub[1], "-f", str(src),
           "-w", str(out))
    assert r.out == b""
    assert "re-sealed for key " + keys.ids[1] in r.err
    doc = parse_docs(out.read_text())[0]
    for v in doc["spec"]["encryptedData"].values():
        assert value_ids(v) == [keys.ids[1]]
    # the new key alone opens it; the old one no longer does
    assert unsealed(out, keys.priv[1]) == {"A": "one", "B": "two"}
    fails(1, "unseal", "--private-key", keys.priv[0], "-f", str(out))
    # name, namespace and template kept
    old = parse_docs(src.read_text())[0]
    assert doc["metadata"] == old["metadata"]
    assert doc["spec"]["template"] == old["spec"]["template"]


def test_offline_reseal_keeps_other_clusters_stanzas(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[0], keys.pub[2]])
    out = tmp_path / "out.yaml"
    ok("reseal", "--private-key", keys.priv[0], "--cert", keys.pub[1], "-f", str(src),
       "-w", str(out))
    doc = parse_docs(out.read_text())[0]
    for v in doc["spec"]["encryptedData"].values():
        assert value_ids(v) == [keys.ids[2], keys.ids[1]]
    # the other cluster still opens its values, and so does the new key
    assert unsealed(out, keys.priv[2]) == {"A": "one", "B": "two"}
    assert unsealed(out, keys.priv[1]) == {"A": "one", "B": "two"}


def test_current_file_left_byte_for_byte(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[1]])
    before = src.read_bytes()
    st = os.stat(src)
    r = ok("reseal", "--private-key", keys.priv[0], "--private-key", keys.priv[1], "--cert",
           keys.pub[1], "-f", str(src), "--in-place")
    assert "already sealed for key " + keys.ids[1] in r.err
    assert src.read_bytes() == before
    assert os.stat(src).st_mtime_ns == st.st_mtime_ns
    assert os.stat(src).st_ino == st.st_ino  # not even rewritten
    # on stdout a current input comes out as it went in
    r = ok("reseal", "--private-key", keys.priv[1], "--cert", keys.pub[1], stdin=before)
    assert r.out == before


def test_in_place_tree_and_format_kept(tmp_path, keys):
    a = sealed_file(tmp_path, keys, [keys.pub[0]], "a.yaml")
    b = sealed_file(tmp_path, keys, [keys.pub[0]], "b.json", fmt="json")
    c = sealed_file(tmp_path, keys, [keys.pub[1]], "c.yaml")
    c_before = c.read_bytes()
    ok("reseal", "--private-key", keys.priv[0], "--private-key", keys.priv[1], "--cert",
       keys.pub[1], "--in-place", "-f", str(a), "-f", str(b), "-f", str(c))
    assert c.read_bytes() == c_before
    assert b.read_text().lstrip().startswith("{")
    assert a.read_text().startswith("apiVersion:")
    for p in (a, b, c):
        for v in parse_docs(p.read_text())[0]["spec"]["encryptedData"].values():
            assert value_ids(v) == [keys.ids[1]]
        assert unsealed(p, keys.priv[1]) == {"A": "one", "B": "two"}


def test_other_documents_pass_through(tmp_path, keys):
    sealed = sealed_file(tmp_path, keys, [keys.pub[0]]).read_text()
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LEVEL: debug\n"
    src = tmp_path / "mixed.yaml"
    src.write_text(cm + "---\n" + sealed)
    r = ok("reseal", "--private-key", keys.priv[0], "--cert", keys.pub[1], "-f", str(src))
    docs = parse_docs(r.out)
    assert docs[0]["kind"] == "ConfigMap" and docs[0]["data"] == {"LEVEL": "debug"}
    assert docs[1]["kind"] == "SealedSecret"


def test_scope_comes_from_the_sealed_secret(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    # moving it to another namespace is not re-sealing: the label no longer opens
    text = src.read_text().replace("namespace: kotaemon", "namespace: elsewhere")
    moved = tmp_path / "moved.yaml"
    moved.write_text(text)
    out = tmp_path / "out.yaml"
    r = fails(1, "reseal", "--private-key", keys.priv[0], "--cert", keys.pub[1], "-f",
              str(moved), "-w", str(out))
    assert "elsewhere" in r.err or "SealedSecret" in r.err
    assert not out.exists()


def test_wrong_private_key_writes_nothing(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    before = src.read_bytes()
    r = fails(1, "reseal", "--private-key", keys.priv[2], "--cert", keys.pub[1], "-f", str(src),
              "--in-place")
    assert "key" in r.err
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_hostile_inputs(tmp_path, keys):
    bad = tmp_path / "bad.yaml"
    for text in ["apiVersion: seal.dev/v1\nkind: SealedSecret\nmetadata:\n  name: x\n"
                 "  namespace: y\nspec:\n  encryptedData:\n    A: AQE=\n",
                 "{\"apiVersion\": \"seal.dev/v1\", \"kind\": \"SealedSecret\", ",
                 secret_yaml(data={"A": "plain"}),
                 "\x00\x01\x02"]:
        bad.write_text(text)
        before = bad.read_bytes()
        r = run("reseal", "--private-key", keys.priv[0], "--cert", keys.pub[1], "-f", str(bad),
                "--in-place")
        assert r.rc == 1, r
        assert r.err.startswith("seal: "), r
        assert bad.read_bytes() == before


def test_argument_errors(tmp_path, keys):
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    both = tmp_path / "both.pem"
    both.write_text(open(keys.pub[0]).read() + open(keys.pub[1]).read())
    cases = [
        (["--private-key", keys.priv[0]], "--cert"),
        (["--cert", keys.pub[1]], "--private-key"),
        (["--in-place"], "needs -f"),
        (["-f", str(src), "--in-place", "-w", str(tmp_path / "x")], "exclude"),
        (["-f", str(src), "-f", str(src)], "--in-place"),
        (["-f", "-", "--in-place"], "stdin"),
        (["-o", "toml"], "toml"),
        (["--bogus"], "bogus"),
        (["extra"], "extra"),
        (["--private-key", keys.priv[0], "--cert", keys.pub[1], "--controller-url",
          "http://127.0.0.1:1"], "exclude"),
    ]
    for args, needle in cases:
        r = fails(2, "reseal", *args)
        assert needle in r.err, (args, r)
    r = fails(1, "reseal", "--private-key", keys.priv[0], "--cert", str(both), "-f", str(src))
    assert "2 public keys" in r.err
    r = fails(1, "reseal", "--private-key", keys.pub[0], "--cert", keys.pub[1], "-f", str(src))
    assert "PRIVATE" in r.err or "private" in r.err
    r = run("reseal", "--private-key", str(tmp_path / "missing.key"), "--cert", keys.pub[1],
            "-f", str(src))
    assert r.rc != 0 and "missing.key" in r.err
    # without --private-key it needs the cluster, and says so
    r = fails(2, "reseal", "-f", str(src))
    assert "kubeconfig" in r.err
    r = ok("reseal", "--help")
    assert b"--private-key" in r.out


def test_values_already_sealed_for_the_newest_key_are_checked(tmp_path, keys):
    """Nothing to re-seal is no reason to pass a broken value on: values sealed for the
    newest key already are opened under their scope, and a moved or altered one fails
    (exit 1, naming the key) with nothing written."""
    good = json.loads(sealed_file(tmp_path, keys, [keys.pub[1]], fmt="json").read_text())

    def flip_commit(v):
        blob = bytearray(base64.b64decode(v))
        blob[2 + 88 * blob[1] + 24] ^= 1  # header: version, count, stanzas, nonce, commit
        return base64.b64encode(bytes(blob)).decode()

    cases = []
    moved = json.loads(json.dumps(good))
    moved["metadata"]["namespace"] = "elsewhere"
    cases.append(("namespace", moved))
    renamed = json.loads(json.dumps(good))
    renamed["metadata"]["name"] = "other-name"
    cases.append(("name", renamed))
    swapped = json.loads(json.dumps(good))
    enc = swapped["spec"]["encryptedData"]
    enc["A"], enc["B"] = enc["B"], enc["A"]
    cases.append(("data key", swapped))
    scoped = json.loads(json.dumps(good))
    scoped["metadata"].setdefault("annotations", {})["seal.dev/scope"] = "namespace-wide"
    cases.append(("scope", scoped))
    flipped = json.loads(json.dumps(good))
    flipped["spec"]["encryptedData"]["B"] = flip_commit(flipped["spec"]["encryptedData"]["B"])
    cases.append(("commitment", flipped))
    for what, doc in cases:
        src = tmp_path / "in.json"
        src.write_text(json.dumps(doc))
        out = tmp_path / "out.json"
        r = fails(1, "reseal", "--private-key", keys.priv[1], "--cert", keys.pub[1], "-f",
                  str(src), "-w", str(out))
        assert '"A"' in r.err or '"B"' in r.err, (what, r.err)
        assert not out.exists(), what
    # the untouched document still passes, byte for byte
    src = tmp_path / "good.json"
    src.write_text(json.dumps(good))
    r = ok("reseal", "--private-key", keys.priv[1], "--cert", keys.pub[1], "-f", str(src))
    assert json.loads(r.out)["spec"]["encryptedData"] == good["spec"]["encryptedData"]
