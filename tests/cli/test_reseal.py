"""seal reseal: argument errors, and re-sealing offline with private key files
(no cluster: KUBECONFIG points nowhere in every test)."""

import base64
import http.server
import json
import os
import struct
import subprocess
import threading

import pytest

from conftest import (SEAL, StandInHandler, fails, keys, ok, parse_docs, run,  # noqa: F401
                      secret_json, secret_yaml)


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


# ---- through a controller: its /v1/rotate answer is checked ------------------------

class Rotator(StandInHandler):
    """A stand-in controller that re-seals honestly (seal reseal offline with
    key 0 to key 1), then lets the test tamper with the answer."""
    keys = None
    tamper = None

    def do_GET(self):
        if self.path != "/v1/cert.pem":
            return self.reply(404, b"not found", "text/plain")
        self.reply(200, open(self.keys.pub[1], "rb").read(), "application/x-pem-file")

    def do_POST(self):
        sent = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        honest = subprocess.run([SEAL, "reseal", "--private-key", self.keys.priv[0], "--cert",
                                 self.keys.pub[1], "-o", "json"], input=sent,
                                capture_output=True, check=True).stdout
        doc = json.loads(honest)
        if Rotator.tamper:
            Rotator.tamper(doc, json.loads(sent), self.keys)
        self.reply(200, json.dumps(doc).encode(), "application/json")


@pytest.fixture
def rotator(keys):
    Rotator.keys = keys
    Rotator.tamper = None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Rotator)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _set(path, value):
    def tamper(doc, sent, keys):
        obj = doc
        for p in path[:-1]:
            obj = obj.setdefault(p, {})
        obj[path[-1]] = value
    return tamper


def _extra_recipient(doc, sent, keys):
    doc["spec"]["encryptedData"]["A"] = ok(
        "raw", "--cert", keys.pub[1], "--cert", keys.pub[2], "-n", "kotaemon", "--name",
        "api-keys", "--key", "A", stdin="one").text.strip()


def _not_for_newest(doc, sent, keys):
    doc["spec"]["encryptedData"]["A"] = sent["spec"]["encryptedData"]["A"]


def _drop_key(doc, sent, keys):
    del doc["spec"]["encryptedData"]["B"]


def _add_key(doc, sent, keys):
    doc["spec"]["encryptedData"]["C"] = doc["spec"]["encryptedData"]["A"]


TAMPERS = {
    "name": (_set(["metadata", "name"], "other"), "metadata, scope or template"),
    "namespace": (_set(["metadata", "namespace"], "team-b"), "metadata, scope or template"),
    "scope": (_set(["metadata", "annotations", "seal.dev/scope"], "cluster-wide"),
              "metadata, scope or template"),
    "template type": (_set(["spec", "template", "type"], "seal.dev/key"),
                      "metadata, scope or template"),
    "template label": (_set(["spec", "template", "metadata"],
                            {"labels": {"seal.dev/key": "active"}}),
                       "metadata, scope or template"),
    "dropped key": (_drop_key, "other keys"),
    "added key": (_add_key, "other keys"),
    "extra recipient": (_extra_recipient, "which it was not sealed for"),
    "not for the newest key": (_not_for_newest, "is not sealed for the newest key"),
}


def test_reseal_through_the_controller(tmp_path, keys, rotator):
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    out = tmp_path / "out.yaml"
    r = ok("reseal", "--controller-url", rotator, "-f", str(src), "-w", str(out))
    assert "1 of 1 SealedSecret re-sealed" in r.err, r.err
    [doc] = parse_docs(out.read_text())
    assert {tuple(value_ids(v)) for v in doc["spec"]["encryptedData"].values()} == {
        (keys.ids[1],)}
    assert unsealed(out, keys.priv[1]) == {"A": "one", "B": "two"}


@pytest.mark.parametrize("what", list(TAMPERS))
def test_reseal_refuses_a_tampered_rotate_answer(tmp_path, keys, rotator, what):
    tamper, why = TAMPERS[what]
    Rotator.tamper = tamper
    src = sealed_file(tmp_path, keys, [keys.pub[0]])
    before = src.read_bytes()
    out = tmp_path / "out.yaml"
    r = fails(2, "reseal", "--controller-url", rotator, "-f", str(src), "-w", str(out))
    assert "/v1/rotate answer is refused" in r.err and why in r.err, r.err
    assert not out.exists()
    r = fails(2, "reseal", "--controller-url", rotator, "-f", str(src), "--in-place")
    assert src.read_bytes() == before
