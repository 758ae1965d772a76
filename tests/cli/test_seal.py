"""seal (the default command): Secrets in, SealedSecrets out."""

import base64
import http.server
import json
import os
import threading

import pytest

from conftest import b64, fails, ok, parse_docs, run, secret_json, secret_yaml


def unseal(keys, sealed, idx=0, *extra):
    r = ok("unseal", "--private-key", keys.priv[idx], "-o", "json", *extra, stdin=sealed)
    return parse_docs(r.out)


def plain(doc):
    return {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_round_trip_each_scope(keys, scope):
    r = ok("--cert", keys.pub[0], "--scope", scope, "-o", "json",
           stdin=secret_yaml(data={"OPENAI_API_KEY": "sk-123"}, string_data={"DB": "hunter2"}))
    assert f"sealing for key {keys.ids[0]}" in r.err
    [doc] = parse_docs(r.out)
    assert doc["apiVersion"] == "seal.dev/v1" and doc["kind"] == "SealedSecret"
    assert doc["metadata"]["name"] == "api-keys"
    assert doc["metadata"]["namespace"] == "kotaemon"
    assert doc["metadata"]["annotations"]["seal.dev/scope"] == scope
    assert set(doc["spec"]["encryptedData"]) == {"OPENAI_API_KEY", "DB"}
    assert b"sk-123" not in r.out and b"hunter2" not in r.out
    [secret] = unseal(keys, r.out)
    assert plain(secret) == {"OPENAI_API_KEY": "sk-123", "DB": "hunter2"}


def test_yaml_output_is_default_and_round_trips(keys):
    r = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"}))
    assert r.out.startswith(b"apiVersion: seal.dev/v1\nkind: SealedSecret\n")
    [doc] = parse_docs(r.out)
    assert list(doc["spec"]["encryptedData"]) == ["a"]
    [secret] = unseal(keys, r.out)
    assert plain(secret) == {"a": "1"}


def test_json_input(keys):
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=secret_json(data={"k": "v"}))
    [doc] = parse_docs(r.out)
    assert doc["metadata"]["name"] == "api-keys"
    assert plain(unseal(keys, r.out)[0]) == {"k": "v"}


def test_template_keeps_type_labels_annotations_but_not_server_fields(keys):
    extra = ""
    text = """apiVersion: v1
kind: Secret
metadata:
  name: tls
  namespace: web
  uid: 1234
  resourceVersion: "99"
  labels: {app: web}
  annotations:
    team: blue
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"x":"c2VjcmV0"}}'
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
""" + extra
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=text)
    [doc] = parse_docs(r.out)
    tmpl = doc["spec"]["template"]
    assert tmpl["type"] == "kubernetes.io/tls"
    assert tmpl["metadata"]["labels"] == {"app": "web"}
    assert tmpl["metadata"]["annotations"] == {"team": "blue"}
    assert b"last-applied" not in r.out and b"c2VjcmV0" not in r.out
    assert "uid" not in doc["metadata"] and "resourceVersion" not in doc["metadata"]


def test_multi_document_stream(keys):
    text = secret_yaml(name="one", data={"a": "1"}) + "---\n" + secret_yaml(name="two", data={"b": "2"})
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=text)
    docs = parse_docs(r.out)
    assert [d["metadata"]["name"] for d in docs] == ["one", "two"]
    secrets = unseal(keys, r.out)
    assert [plain(s) for s in secrets] == [{"a": "1"}, {"b": "2"}]
    # YAML out keeps them as separate documents
    r = ok("--cert", keys.pub[0], stdin=text)
    assert r.out.count(b"kind: SealedSecret") == 2 and b"\n---\n" in r.out


def test_list_input(keys):
    lst = {"apiVersion": "v1", "kind": "List", "items": [
        json.loads(secret_json(name="x", data={"a": "1"})),
        json.loads(secret_json(name="y", data={"b": "2"}))]}
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=json.dumps(lst))
    assert [d["metadata"]["name"] for d in parse_docs(r.out)] == ["x", "y"]


def test_namespace_from_flag_then_default(keys):
    r = ok("--cert", keys.pub[0], "-o", "json", "-n", "team",
           stdin=secret_yaml(namespace=None, data={"a": "1"}))
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "team"
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=secret_yaml(namespace=None, data={"a": "1"}))
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "default"
    # the flag agreeing with the document is fine
    ok("--cert", keys.pub[0], "-n", "kotaemon", stdin=secret_yaml(data={"a": "1"}))


def test_namespace_conflict_is_an_error(keys):
    r = fails(1, "--cert", keys.pub[0], "-n", "other", stdin=secret_yaml(data={"a": "1"}))
    assert "namespace" in r.err and "other" in r.err


def test_name_flag(keys):
    r = ok("--cert", keys.pub[0], "-o", "json", "--name", "given",
           stdin=secret_yaml(name=None, data={"a": "1"}))
    assert parse_docs(r.out)[0]["metadata"]["name"] == "given"


def test_missing_name(keys):
    r = fails(1, "--cert", keys.pub[0], stdin=secret_yaml(name=None, data={"a": "1"}))
    assert "name" in r.err


def test_scope_from_document_annotation(keys):
    text = secret_yaml(data={"a": "1"}).replace(
        "metadata:\n", "metadata:\n  annotations:\n    seal.dev/scope: cluster-wide\n")
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=text)
    assert parse_docs(r.out)[0]["metadata"]["annotations"]["seal.dev/scope"] == "cluster-wide"


def test_multi_cert_opens_with_each_private_key(keys):
    r = ok("--cert", keys.pub[0], "--cert", keys.pub[1], "-o", "json",
           stdin=secret_yaml(data={"a": "multi"}))
    assert f"sealing for key {keys.ids[0]}" in r.err
    assert f"sealing for key {keys.ids[1]}" in r.err
    for i in (0, 1):
        assert plain(unseal(keys, r.out, i)[0]) == {"a": "multi"}
    fails(1, "unseal", "--private-key", keys.priv[2], stdin=r.out)


def test_several_blocks_in_one_cert_file(keys, tmp_path):
    both = tmp_path / "both.pem"
    both.write_text(open(keys.pub[0]).read() + "some text between\n" + open(keys.pub[2]).read())
    r = ok("--cert", str(both), "-o", "json", stdin=secret_yaml(data={"a": "1"}))
    assert keys.ids[0] in r.err and keys.ids[2] in r.err
    assert plain(unseal(keys, r.out, 2)[0]) == {"a": "1"}


def test_duplicate_cert_is_sealed_once(keys):
    r = ok("--cert", keys.pub[0], "--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"}))
    assert r.err.count("sealing for key") == 1


def test_key_id_pinning(keys):
    ok("--cert", keys.pub[0], "--key-id", keys.ids[0], stdin=secret_yaml(data={"a": "1"}))
    ok("--cert", keys.pub[0], "--cert", keys.pub[1], "--key-id", keys.ids[0],
       "--key-id", keys.ids[1].upper(), stdin=secret_yaml(data={"a": "1"}))
    r = fails(1, "--cert", keys.pub[0], "--cert", keys.pub[1], "--key-id", keys.ids[0],
              stdin=secret_yaml(data={"a": "1"}))
    assert keys.ids[1] in r.err and "pinned" in r.err
    fails(2, "--cert", keys.pub[0], "--key-id", "xyz", stdin=secret_yaml(data={"a": "1"}))


def test_seal_cert_environment(keys):
    r = ok("-o", "json", stdin=secret_yaml(data={"a": "1"}), env={"SEAL_CERT": keys.pub[1]})
    assert keys.ids[1] in r.err
    # --cert wins over the environment
    r = ok(stdin=secret_yaml(data={"a": "1"}), env={"SEAL_CERT": keys.pub[1]},
           *["--cert", keys.pub[0]])
    assert keys.ids[0] in r.err and keys.ids[1] not in r.err


def test_file_url(keys):
    r = ok("--cert", "file://" + keys.pub[0], stdin=secret_yaml(data={"a": "1"}))
    assert keys.ids[0] in r.err


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}

    def do_GET(self):
        code, body = self.routes.get(self.path, (404, b"not found"))
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def web(keys):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.routes = {
        "/cert.pem": (200, open(keys.pub[1], "rb").read()),
        "/big.pem": (200, b"x" * (300 * 1024)),
        "/garbage.pem": (200, b"<html>hello</html>"),
    }
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_http_cert(keys, web):
    r = ok("--cert", web + "/cert.pem", "-o", "json", stdin=secret_yaml(data={"a": "1"}))
    assert keys.ids[1] in r.err
    assert plain(unseal(keys, r.out, 1)[0]) == {"a": "1"}


def test_http_cert_failures(keys, web):
    r = fails(1, "--cert", web + "/missing.pem", stdin=secret_yaml(data={"a": "1"}))
    assert "404" in r.err
    r = fails(1, "--cert", web + "/big.pem", stdin=secret_yaml(data={"a": "1"}))
    assert "larger" in r.err
    fails(1, "--cert", web + "/garbage.pem", stdin=secret_yaml(data={"a": "1"}))
    fails(1, "--cert", "ftp://example.invalid/x.pem", stdin=secret_yaml(data={"a": "1"}))


def test_write_file_atomically(keys, tmp_path):
    out = tmp_path / "sealed.yaml"
    r = ok("--cert", keys.pub[0], "-w", str(out), stdin=secret_yaml(data={"a": "1"}))
    assert r.out == b""
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert plain(unseal(keys, out.read_bytes())[0]) == {"a": "1"}
    # -f reads a file
    src = tmp_path / "in.json"
    src.write_text(secret_json(data={"b": "2"}))
    r = ok("--cert", keys.pub[0], "-f", str(src), "-o", "json")
    assert plain(unseal(keys, r.out)[0]) == {"b": "2"}


def test_allow_empty_data(keys):
    r = fails(1, "--cert", keys.pub[0], stdin=secret_yaml(data=None))
    assert "data" in r.err
    r = ok("--cert", keys.pub[0], "--allow-empty-data", "-o", "json", stdin=secret_yaml(data=None))
    assert parse_docs(r.out)[0]["kind"] == "SealedSecret"


@pytest.mark.parametrize("where", ["data", "stringData"])
def test_empty_value_refused_unless_allow_empty_data(keys, tmp_path, where):
    """`password: $UNSET` must not seal an empty password with exit status 0."""
    doc = (secret_yaml(data={"user": "me"}, extra='  password: ""\n') if where == "data"
           else secret_yaml(data={"user": "me"}, string_data={"password": ""}))
    out = tmp_path / "out.yaml"
    r = fails(1, "--cert", keys.pub[0], "-w", str(out), stdin=doc)
    assert "Secret kotaemon/api-keys" in r.err and '"password"' in r.err, r.err
    assert "empty value" in r.err and "--allow-empty-data" in r.err
    assert r.out == b"" and not out.exists()
    r = ok("--cert", keys.pub[0], "--allow-empty-data", "-o", "json", stdin=doc)
    assert plain(unseal(keys, r.out)[0]) == {"user": "me", "password": ""}


def test_unset_variable_in_yaml_is_named_empty(keys):
    """`password: $UNSET` in a heredoc is YAML null: refused, saying it is empty."""
    r = fails(1, "--cert", keys.pub[0], "--allow-empty-data",
              stdin=secret_yaml(string_data={"user": "me"}, extra="  password:\n"))
    assert '"password"' in r.err and "empty" in r.err and r.out == b""


def test_merge_refuses_an_empty_value_unless_allow_empty_data(keys, tmp_path):
    into = tmp_path / "s.yaml"
    into.write_bytes(ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"})).out)
    before = into.read_bytes()
    r = fails(1, "merge", "--into", str(into), "--cert", keys.pub[0],
              stdin=secret_yaml(data={"a": "2"}, extra='  b: ""\n'))
    assert '"b"' in r.err and "--allow-empty-data" in r.err
    assert into.read_bytes() == before
    ok("merge", "--into", str(into), "--cert", keys.pub[0], "--allow-empty-data",
       stdin=secret_yaml(data={"a": "1"}, extra='  b: ""\n'))
    assert plain(unseal(keys, into.read_bytes())[0]) == {"a": "1", "b": ""}


# ---- bad input: a clear message, exit 1, no output, no -w file --------------------

BAD_INPUTS = {
    "malformed yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: x\n",
    "malformed json": '{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ',
    "deployment": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
    "invalid base64": secret_yaml(extra="data:\n  x: 'not base64!'\n"),
    "non-canonical base64": secret_yaml(extra="data:\n  x: YQ\n"),
    "bad data key": secret_yaml(extra="data:\n  'a/b': YQ==\n"),
    "data not a map": secret_yaml(extra="data: [1, 2]\n"),
    "duplicate key": secret_yaml(extra="data:\n  a: YQ==\n  a: Yg==\n"),
    "empty input": "",
    "binary garbage": "\x00\x01\x02\xff",
    "deep json nesting": "[" * 100 + "]" * 100,
    "deep yaml nesting": secret_yaml(data={"a": "1"}, extra="x: " + "[" * 100 + "]" * 100 + "\n"),
    "document over 4 MiB": secret_yaml(extra="data:\n  a: " + "A" * (4 * 1024 * 1024 + 4) + "\n"),
    "truncated yaml": secret_yaml(data={"a": "1"})[:-12],
    "data value not a string": secret_yaml(extra="data:\n  a: {b: c}\n"),
    "metadata not a map": "apiVersion: v1\nkind: Secret\nmetadata: [x]\ndata: {a: YQ==}\n",
    "invalid name": secret_yaml(name="Not_Valid", data={"a": "1"}),
}


@pytest.mark.parametrize("what", sorted(BAD_INPUTS))
def test_bad_input(keys, tmp_path, what):
    out = tmp_path / "out.yaml"
    r = fails(1, "--cert", keys.pub[0], "-w", str(out), stdin=BAD_INPUTS[what])
    assert not out.exists()
    assert "stdin" in r.err, r
    r = fails(1, "--cert", keys.pub[0], stdin=BAD_INPUTS[what])


def test_bad_second_document_writes_nothing(keys, tmp_path):
    text = secret_yaml(name="good", data={"a": "1"}) + "---\n" + secret_yaml(
        name="bad", extra="data:\n  x: '!!!'\n")
    out = tmp_path / "o.yaml"
    r = fails(1, "--cert", keys.pub[0], "-w", str(out), stdin=text)
    assert not out.exists()
    assert "document 2" in r.err and "kotaemon/bad" in r.err and '"x"' in r.err


def test_error_names_document_and_kind(keys):
    text = secret_yaml(name="ok", data={"a": "1"}) + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
    r = fails(1, "--cert", keys.pub[0], stdin=text)
    assert "document 2" in r.err and "Deployment" in r.err


def test_oversized_value(keys, tmp_path):
    big = "A" * (1024 * 1024 + 16)
    text = secret_yaml(extra=f"data:\n  big: {b64(big)}\n")
    fails(1, "--cert", keys.pub[0], stdin=text)
    text = secret_yaml(string_data={"big": big})
    fails(1, "--cert", keys.pub[0], stdin=text)


def test_too_many_keys(keys):
    data = {f"k{i}": "v" for i in range(1025)}
    r = fails(1, "--cert", keys.pub[0], stdin=secret_json(data=data))
    assert "1024" in r.err
    data = {f"k{i}": "v" for i in range(1024)}
    ok("--cert", keys.pub[0], stdin=secret_json(data=data))


def test_sealed_secret_is_not_a_secret(keys):
    sealed = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"})).out
    r = fails(1, "--cert", keys.pub[0], stdin=sealed)
    assert "SealedSecret" in r.err


def test_unreadable_cert(keys, tmp_path):
    r = fails(1, "--cert", str(tmp_path / "nope.pem"), stdin=secret_yaml(data={"a": "1"}))
    assert "nope.pem" in r.err
    r = fails(1, "--cert", str(tmp_path), stdin=secret_yaml(data={"a": "1"}))
    assert str(tmp_path) in r.err
    big = tmp_path / "big.pem"
    big.write_text(open(keys.pub[0]).read() + "x" * (300 * 1024))
    fails(1, "--cert", str(big), stdin=secret_yaml(data={"a": "1"}))
    fails(1, "--cert", "/dev/null", stdin=secret_yaml(data={"a": "1"}))


def test_private_key_as_cert_is_refused(keys):
    r = fails(1, "--cert", keys.priv[0], stdin=secret_yaml(data={"a": "1"}))
    assert keys.priv[0] in r.err


def test_garbage_cert(keys, tmp_path):
    g = tmp_path / "garbage.pem"
    g.write_text("hello\n")
    fails(1, "--cert", str(g), stdin=secret_yaml(data={"a": "1"}))
    g.write_text("-----BEGIN SEAL PUBLIC KEY-----\nnot base64\n-----END SEAL PUBLIC KEY-----\n")
    fails(1, "--cert", str(g), stdin=secret_yaml(data={"a": "1"}))


@pytest.mark.parametrize("i", range(3))
def test_low_order_cert_is_refused(keys, tmp_path, i):
    g = tmp_path / "weak.pem"
    g.write_text("-----BEGIN SEAL PUBLIC KEY-----\n" + keys.low_order[i] +
                 "\n-----END SEAL PUBLIC KEY-----\n")
    out = tmp_path / "o.yaml"
    fails(1, "--cert", str(g), "-w", str(out), stdin=secret_yaml(data={"a": "1"}))
    assert not out.exists()


def test_no_cert_and_no_cluster_is_an_environment_error(keys, tmp_path):
    r = run(stdin=secret_yaml(data={"a": "1"}))
    assert r.rc == 2 and r.out == b"" and "seal: " in r.err
    assert "--cert" in r.err


def test_stdout_write_failure_is_reported(keys):
    with open("/dev/full", "wb") as full:
        import subprocess
        from conftest import SEAL
        p = subprocess.run([SEAL, "--cert", keys.pub[0]], input=secret_yaml(data={"a": "1"}).encode(),
                           stdout=full, stderr=subprocess.PIPE, check=False)
    assert p.returncode == 2
    assert b"stdout" in p.stderr


def test_at_most_16_recipients(tmp_path):
    pems = []
    for i in range(17):
        pub = tmp_path / f"k{i}.pem"
        ok("keys", "generate", "--private-key", str(tmp_path / f"k{i}.key"), "--cert", str(pub))
        pems.append(pub.read_text())
    sixteen = tmp_path / "sixteen.pem"
    sixteen.write_text("".join(pems[:16]))
    r = ok("--cert", str(sixteen), stdin=secret_yaml(data={"a": "1"}))
    assert r.err.count("sealing for key") == 16
    r = fails(1, "--cert", str(sixteen), "--cert", str(tmp_path / "k16.pem"),
              stdin=secret_yaml(data={"a": "1"}))
    assert "16" in r.err


HOSTILE = "x\u202ey\x1b[2J\u009b31m\u2066"
RAW_CONTROLS = (b"\x1b", b"\xe2\x80\xae", b"\xc2\x9b", b"\xe2\x81\xa6", b"\x07")


def test_messages_escape_control_and_bidi_characters(keys, tmp_path):
    """A name or data key from a document reaches the terminal escaped: no ESC, C1 (U+009B is
    CSI) or bidi control (U+202E) raw in messages (stderr) or in lines naming documents
    (stdout of seal scan)."""
    doc = json.dumps({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": HOSTILE, "namespace": "app"},
                      "stringData": {"k" + HOSTILE: "v\a"}})
    r = run("--cert", keys.pub[0], stdin=doc)
    assert r.rc == 1 and r.out == b"", r
    err = r.err.encode("utf-8", "surrogateescape")
    for raw in RAW_CONTROLS:
        assert raw not in err, (raw, r.err)
    assert "x\\u202ey\\x1b[2J\\u009b31m\\u2066" in r.err, r.err
    (tmp_path / "s.json").write_text(doc)
    r = run("scan", str(tmp_path))
    assert r.rc == 1, r
    for raw in RAW_CONTROLS:
        assert raw not in r.out, (raw, r.out)
    assert b"app/x\\u202ey\\x1b[2J\\u009b31m\\u2066" in r.out, r.out


# ---- kubeseal users' usual mistakes: a message that says what to do ---------------

def test_sealing_a_sealed_secret_says_already_sealed(keys, tmp_path):
    sealed = ok("--cert", keys.pub[0], stdin=secret_yaml(data={"a": "1"})).out
    out = tmp_path / "out.yaml"
    r = fails(1, "--cert", keys.pub[0], "-w", str(out), stdin=sealed)
    assert "already sealed" in r.err and "seal reseal" in r.err and "seal merge" in r.err, r.err
    assert r.out == b"" and not out.exists()


def test_sealing_a_bitnami_sealed_secret_names_migrate(keys):
    doc = ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
           "metadata: {name: x, namespace: y}\nspec: {encryptedData: {a: AgBy}}\n")
    r = fails(1, "--cert", keys.pub[0], stdin=doc)
    assert "already sealed" in r.err and "seal migrate" in r.err and r.out == b"", r.err


def test_x509_certificate_as_cert_says_what_it_is(tmp_path):
    pem = tmp_path / "kubeseal.pem"
    # the shape of a kubeseal --fetch-cert answer; seal reads no further than the BEGIN line
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n")
    r = fails(1, "--cert", str(pem), stdin=secret_yaml(data={"a": "1"}))
    assert "PEM CERTIFICATE" in r.err and "X.509" in r.err and "seal cert" in r.err, r.err
    other = tmp_path / "key.pem"
    other.write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
    r = fails(1, "--cert", str(other), stdin=secret_yaml(data={"a": "1"}))
    assert "a PEM RSA PRIVATE KEY block, not a SEAL PUBLIC KEY block" in r.err, r.err


@pytest.mark.parametrize("args,instead", [
    (["--fetch-cert"], "seal cert"),
    (["--format", "json"], "-o yaml|json"),
    (["--format=json"], "-o yaml|json"),
    (["--re-encrypt"], "seal reseal"),
    (["--recovery-unseal"], "seal unseal --private-key FILE"),
    (["--merge-into", "x.yaml"], "seal merge --into FILE"),
    (["--raw"], "seal raw"),
    (["--sealed-secret-file", "x"], "-w FILE"),
    (["--secret-file", "x"], "-f FILE"),
])
def test_kubeseal_flags_name_the_seal_equivalent(args, instead):
    r = run(*args, stdin="")
    assert r.rc == 2 and r.out == b""
    assert f"kubeseal's spelling; in seal: {instead}" in r.err, r.err


@pytest.mark.parametrize("ann,scope", [("namespace-wide", "namespace-wide"),
                                       ("cluster-wide", "cluster-wide")])
def test_bitnami_scope_annotations_are_honoured(keys, ann, scope):
    doc = secret_yaml(data={"a": "1"}).replace(
        "metadata:\n", f"metadata:\n  annotations:\n    sealedsecrets.bitnami.com/{ann}: \"true\"\n", 1)
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=doc)
    [sealed] = parse_docs(r.out)
    assert sealed["metadata"]["annotations"]["seal.dev/scope"] == scope
    assert f"note:" in r.err and f"sealedsecrets.bitnami.com/{ann}" in r.err and scope in r.err
    # sealed for that scope: it opens as another name (and namespace for cluster-wide)
    moved = json.loads(r.out)
    moved["metadata"]["name"] = "other"
    if scope == "cluster-wide":
        moved["metadata"]["namespace"] = "elsewhere"
    [secret] = unseal(keys, json.dumps(moved).encode())
    assert plain(secret) == {"a": "1"}
    # a contradicting --scope is refused, not silently overridden
    r = fails(1, "--cert", keys.pub[0], "--scope", "strict", stdin=doc)
    assert "contradicts --scope strict" in r.err and r.out == b""


def test_bitnami_annotation_false_is_strict(keys):
    doc = secret_yaml(data={"a": "1"}).replace(
        "metadata:\n", "metadata:\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"false\"\n", 1)
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=doc)
    assert parse_docs(r.out)[0]["metadata"]["annotations"]["seal.dev/scope"] == "strict"
    assert "note:" not in r.err


def kubeconfig_with_namespace(tmp_path, ns):
    path = tmp_path / "kubeconfig"
    ctx = {"cluster": "c", "user": "u"}
    if ns:
        ctx["namespace"] = ns
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "ctx", "context": ctx}]}))
    return path


def test_namespace_defaults_to_the_kubeconfig_context(keys, tmp_path):
    """As kubectl: the context's namespace, else default; said on stderr, never silent."""
    doc = secret_yaml(namespace=None, data={"a": "1"})
    kc = kubeconfig_with_namespace(tmp_path, "team-a")
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=doc,
           env={"KUBECONFIG": str(kc), "HOME": str(tmp_path)})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "team-a"
    assert "names no namespace: sealed for namespace team-a" in r.err, r.err
    # --kubeconfig too; -n wins over the context
    r = ok("--cert", keys.pub[0], "--kubeconfig", str(kc), "-n", "other", "-o", "json", stdin=doc,
           env={"HOME": str(tmp_path)})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "other"
    # a context without a namespace, and no kubeconfig at all: default
    (tmp_path / "sub").mkdir()
    kc2 = kubeconfig_with_namespace(tmp_path / "sub", None)
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=doc, env={"KUBECONFIG": str(kc2)})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "default"
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=doc,
           env={"KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path / "nohome")})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "default"
    assert "sealed for namespace default" in r.err
    # a document that names its namespace is not touched, and no note is printed
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=secret_yaml(data={"a": "1"}),
           env={"KUBECONFIG": str(kc)})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "kotaemon" and "note" not in r.err
