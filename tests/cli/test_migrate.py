"""seal migrate: Bitnami sealed-secrets objects, made by a test-only encoder
that is not seal's (bitnami_encoder.py: Python's cryptography package), become
seal SealedSecrets that `seal unseal` opens to the original bytes."""

import base64
import filecmp
import json
import os
import shutil
import subprocess

import pytest

import bitnami_encoder as bn
from conftest import fails, keys, ok, run  # noqa: F401


@pytest.fixture(scope="module")
def rsa():
    """Three Bitnami keys: two active, one to be labelled compromised; one outsider."""
    return {"k1": bn.new_key(), "k2": bn.new_key(), "bad": bn.new_key(), "other": bn.new_key()}


def backup(tmp_path, rsa, *names, states=None):
    states = states or {}
    p = tmp_path / "bitnami-keys.json"
    p.write_text(bn.key_backup(*[bn.key_secret(f"sealed-secrets-key{n}", rsa[n],
                                               states.get(n, "active")) for n in names]))
    return str(p)


def json_docs(text):
    dec, out, i = json.JSONDecoder(), [], 0
    text = text.strip()
    while i < len(text):
        doc, i = dec.raw_decode(text, i)
        out.append(doc)
        while i < len(text) and text[i].isspace():
            i += 1
    return out


def unseal(tmp_path, doc, priv):
    """The Secret seal's offline recovery makes of one SealedSecret: data as bytes."""
    p = tmp_path / "one.json"
    p.write_text(json.dumps(doc))
    r = ok("unseal", "--private-key", priv, "-f", str(p), "-o", "json")
    secret = json.loads(r.out)
    return secret, {k: base64.b64decode(v) for k, v in secret.get("data", {}).items()}


def migrate(tmp_path, keys_file, keys, src, *extra, fmt="json"):
    out = tmp_path / f"out.{fmt}"
    r = ok("migrate", "--bitnami-keys", keys_file, "--cert", keys.pub[0], "-f", str(src),
           "-w", str(out), *extra)
    assert r.out == b""
    return out, r


def test_all_scopes_several_keys_to_the_original_bytes(tmp_path, rsa, keys):
    binary = bytes(range(256)) + b"\0\xff"
    objs = [
        bn.sealed_secret(rsa["k1"], "api", "prod", {"token": "t0k3n", "empty": "",
                                                    "bin": binary},
                         template={"type": "kubernetes.io/basic-auth",
                                   "metadata": {"labels": {"app": "api"},
                                                "annotations": {"team": "core"}}},
                         annotations={"argocd.argoproj.io/sync-wave": "-1"},
                         labels={"tier": "backend"}),
        bn.sealed_secret(rsa["k2"], "shared", "prod", {"url": "https://x", "n": "1"},
                         scope="namespace-wide"),
        bn.sealed_secret(rsa["k1"], "everywhere", "prod", {"ca.crt": "-----BEGIN..."},
                         scope="cluster-wide"),
    ]
    src = tmp_path / "in.json"
    src.write_text("\n".join(json.dumps(o, indent=2) for o in objs) + "\n")
    out, r = migrate(tmp_path, backup(tmp_path, rsa, "k1", "k2"), keys, src)
    assert "migrated 3 Bitnami SealedSecrets" in r.err
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    docs = json_docs(out.read_text())
    assert [d["apiVersion"] for d in docs] == ["seal.dev/v1"] * 3
    assert [d["metadata"]["annotations"]["seal.dev/scope"] for d in docs] == [
        "strict", "namespace-wide", "cluster-wide"]
    api = docs[0]
    assert api["metadata"]["name"] == "api" and api["metadata"]["namespace"] == "prod"
    assert api["metadata"]["labels"] == {"tier": "backend"}
    assert api["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1",
                                              "seal.dev/scope": "strict"}
    assert api["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert api["spec"]["template"]["metadata"] == {"labels": {"app": "api"},
                                                   "annotations": {"team": "core"}}
    assert not any("bitnami" in json.dumps(d) for d in docs)
    secret, data = unseal(tmp_path, api, keys.priv[0])
    assert data == {"token": b"t0k3n", "empty": b"", "bin": binary}
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["metadata"]["labels"] == {"app": "api"}
    assert unseal(tmp_path, docs[1], keys.priv[0])[1] == {"url": b"https://x", "n": b"1"}
    assert unseal(tmp_path, docs[2], keys.priv[0])[1] == {"ca.crt": b"-----BEGIN..."}
    # another seal key does not open them
    p = tmp_path / "api.json"
    p.write_text(json.dumps(api))
    fails(1, "unseal", "--private-key", keys.priv[1], "-f", str(p))


NPM_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bitnami")


@pytest.fixture(scope="module")
def npm_encoder():
    """tests/cli/bitnami/ installed with npm ci into the build folder (or a
    temporary one): @socialgouv/aes-gcm-rsa-oaep, kubeseal's encryption as a
    third party wrote it. Reinstalled when the lock file changes."""
    where = os.environ.get("SEAL_NPM_DIR") or os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                           f"seal-npm-{os.getuid()}")
    os.makedirs(where, exist_ok=True)
    lock = os.path.join(where, "package-lock.json")
    installed = os.path.join(where, "node_modules", "@socialgouv", "aes-gcm-rsa-oaep")
    if not (os.path.isdir(installed) and os.path.exists(lock) and
            filecmp.cmp(lock, os.path.join(NPM_SOURCE, "package-lock.json"), shallow=False)):
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(NPM_SOURCE, f), os.path.join(where, f))
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=where,
                           capture_output=True, text=True, timeout=600, check=False)
        assert p.returncode == 0, f"npm ci in {where} failed: {p.stderr}"
    script = os.path.join(where, "seal-bitnami.js")
    shutil.copyfile(os.path.join(NPM_SOURCE, "seal-bitnami.js"), script)

    def encode(items):
        p = subprocess.run(["node", script], input=json.dumps(items), capture_output=True,
                           text=True, timeout=120, check=False)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return encode


def test_objects_of_a_third_party_encoder(tmp_path, rsa, keys, npm_encoder):
    """Every scope, made by @socialgouv/aes-gcm-rsa-oaep with Bitnami's certificates."""
    certs = {n: base64.b64decode(bn.key_secret("k", rsa[n])["data"]["tls.crt"]).decode()
             for n in ("k1", "k2")}
    values = {"token": "t0k3n", "empty": "", "text": "h\u00e9llo\nw\u00f6rld \u2603\n",
              "json": '{"a": [1, 2]}'}
    objs = npm_encoder([
        {"cert": certs["k1"], "scope": "strict", "namespace": "prod", "name": "a", "values": values},
        {"cert": certs["k2"], "scope": "namespace", "namespace": "prod", "name": "b",
         "values": values},
        {"cert": certs["k1"], "scope": "cluster", "namespace": "prod", "name": "c",
         "values": values},
    ])
    src = tmp_path / "in.json"
    src.write_text("\n".join(json.dumps(o) for o in objs))
    out, r = migrate(tmp_path, backup(tmp_path, rsa, "k1", "k2"), keys, src)
    assert "migrated 3 Bitnami SealedSecrets" in r.err
    docs = json_docs(out.read_text())
    assert [d["metadata"]["annotations"]["seal.dev/scope"] for d in docs] == [
        "strict", "namespace-wide", "cluster-wide"]
    for d in docs:
        assert unseal(tmp_path, d, keys.priv[0])[1] == {k: v.encode() for k, v in values.items()}
    # the same objects under another name do not open: the label binds them
    objs[0]["metadata"]["name"] = "renamed"
    src.write_text(json.dumps(objs[0]))
    r = fails(1, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1", "k2"), "--cert",
              keys.pub[0], "-f", str(src))
    assert 'no Bitnami key opens it under label "prod/renamed"' in r.err


def test_other_documents_pass_byte_for_byte(tmp_path, rsa, keys):
    cm = ("# the app's settings\n---\napiVersion: v1\nkind: ConfigMap   # odd spacing kept\n"
          "metadata: {name: settings}\ndata:\n  x: 'single'\n")
    obj = bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "one"})
    lst = {"apiVersion": "v1", "kind": "List", "items": [
        bn.sealed_secret(rsa["k2"], "b", "prod", {"b": "two"}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}]}
    tail = "---\n# trailing comment\nkind: Deployment\napiVersion: apps/v1\n"
    src = tmp_path / "in.yaml"
    src.write_text(cm + "---\n" + bn.to_yaml(obj) + "\n---\n" + bn.to_yaml(lst) + "\n" + tail)
    out, _ = migrate(tmp_path, backup(tmp_path, rsa, "k1", "k2"), keys, src, fmt="yaml")
    text = out.read_text()
    assert text.startswith(cm + "---\napiVersion: seal.dev/v1\n")
    assert text.endswith(tail)
    chunks = text.split("\n---\n")
    assert len(chunks) == 5
    r = ok("unseal", "--private-key", keys.priv[0], "-o", "json", stdin=chunks[2])
    assert base64.b64decode(json.loads(r.out)["data"]["a"]) == b"one"
    # the List keeps its other item, its SealedSecret is migrated
    assert "kind: Service" in chunks[3] and "seal.dev/v1" in chunks[3]
    assert "bitnami" not in chunks[3]


def test_templates_become_placeholders(tmp_path, rsa, keys):
    obj = bn.sealed_secret(rsa["k1"], "db", "prod", {"password": "s3cret", "db-user": "app"},
                           template={"data": {
                               "url": 'postgres://{{ index . "db-user" }}:{{.password}}@db/x',
                               "plain": "no reference } { here",
                               "config.ini": "[db]\npass = {{ .password }}\n"}})
    src = tmp_path / "in.json"
    src.write_text(json.dumps(obj))
    out, _ = migrate(tmp_path, backup(tmp_path, rsa, "k1"), keys, src)
    doc = json_docs(out.read_text())[0]
    assert doc["spec"]["template"]["data"] == {
        "url": "postgres://{{ .db-user }}:{{ .password }}@db/x",
        "plain": "no reference } { here",
        "config.ini": "[db]\npass = {{ .password }}\n"}
    _, data = unseal(tmp_path, doc, keys.priv[0])
    assert data["url"] == b"postgres://app:s3cret@db/x"
    assert data["config.ini"] == b"[db]\npass = s3cret\n"
    assert data["plain"] == b"no reference } { here"


@pytest.mark.parametrize("tpl", ["{{ .password | b64enc }}", "{{- .password }}",
                                 '{{ printf "%s" .password }}', "{{ .missing }}",
                                 "{{ if .password }}x{{ end }}", "{{ .password ",
                                 "{{/* note */}}", "{{ index . \"pass\\\"word\" }}"])
def test_other_templates_refused_naming_file_object_and_key(tmp_path, rsa, keys, tpl):
    objs = [bn.sealed_secret(rsa["k1"], "fine", "prod", {"a": "b"}),
            bn.sealed_secret(rsa["k1"], "db", "prod", {"password": "s3cret"},
                             template={"data": {"dsn": tpl}})]
    src = tmp_path / "in.json"
    src.write_text("\n".join(json.dumps(o) for o in objs))
    out = tmp_path / "out.json"
    r = fails(1, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1"), "--cert",
              keys.pub[0], "-f", str(src), "-w", str(out))
    assert f"{src}: document 2 (SealedSecret prod/db): template key \"dsn\"" in r.err
    assert not out.exists()


def test_spec_data_objects(tmp_path, rsa, keys):
    obj = bn.old_sealed_secret(rsa["k2"], "legacy", "prod", {"user": "admin", "pw": "x\ny"},
                               secret_type="kubernetes.io/basic-auth")
    src = tmp_path / "in.json"
    src.write_text(json.dumps(obj))
    out, _ = migrate(tmp_path, backup(tmp_path, rsa, "k1", "k2"), keys, src)
    doc = json_docs(out.read_text())[0]
    assert doc["metadata"]["annotations"] == {"seal.dev/scope": "strict"}
    assert doc["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    secret, data = unseal(tmp_path, doc, keys.priv[0])
    assert data == {"user": b"admin", "pw": b"x\ny"}
    assert secret["metadata"]["labels"] == {"app": "legacy"}


def test_compromised_key_refused_unless_allowed(tmp_path, rsa, keys):
    obj = bn.sealed_secret(rsa["bad"], "api", "prod", {"a": "leaked"})
    src = tmp_path / "in.json"
    src.write_text(json.dumps(obj))
    kf = backup(tmp_path, rsa, "k1", "bad", states={"bad": "compromised"})
    out = tmp_path / "out.json"
    r = fails(1, "migrate", "--bitnami-keys", kf, "--cert", keys.pub[0], "-f", str(src),
              "-w", str(out))
    assert "kube-system/sealed-secrets-keybad is labelled compromised" in r.err
    assert not out.exists()
    out, r = migrate(tmp_path, kf, keys, src, "--allow-compromised")
    assert "warning: using Bitnami key kube-system/sealed-secrets-keybad" in r.err
    assert ('key "a" was opened with compromised Bitnami key '
            'kube-system/sealed-secrets-keybad') in r.err
    assert unseal(tmp_path, json_docs(out.read_text())[0], keys.priv[0])[1] == {"a": b"leaked"}


def test_several_key_files_and_yaml_documents(tmp_path, rsa, keys):
    f1 = tmp_path / "k1.yaml"
    f1.write_text(bn.to_yaml(bn.key_secret("key-one", rsa["k1"])) + "\n")
    f2 = tmp_path / "k2.yaml"
    f2.write_text("---\n" + bn.to_yaml(bn.key_secret("key-two", rsa["k2"])) + "\n---\n")
    src = tmp_path / "in.json"
    src.write_text(json.dumps(bn.sealed_secret(rsa["k2"], "api", "prod", {"a": "two"})))
    out = tmp_path / "out.json"
    ok("migrate", "--bitnami-keys", str(f1), "--bitnami-keys", str(f2), "--cert",
       keys.pub[0], "-f", str(src), "-w", str(out))
    assert unseal(tmp_path, json_docs(out.read_text())[0], keys.priv[0])[1] == {"a": b"two"}


def tamper(value, at):
    raw = bytearray(base64.b64decode(value))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def bad_inputs(rsa):
    good = bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "one"})
    v = good["spec"]["encryptedData"]["a"]
    raw = base64.b64decode(v)
    renamed = json.loads(json.dumps(good))
    renamed["metadata"]["name"] = "other"
    rescoped = json.loads(json.dumps(good))
    rescoped["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/namespace-wide": "true"}

    def with_value(val):
        d = json.loads(json.dumps(good))
        d["spec"]["encryptedData"]["a"] = val
        return d
    return {
        "no key opens": (bn.sealed_secret(rsa["other"], "api", "prod", {"a": "one"}),
                         'key "a": no Bitnami key opens it under label "prod/api"'),
        "wrong label": (renamed, 'key "a": no Bitnami key opens it under label "prod/other"'),
        "scope changed": (rescoped, 'key "a": sealed strict (label "prod/api"), but the object '
                                    'is namespace-wide (label "prod")'),
        "truncated": (with_value(base64.b64encode(raw[:200]).decode()),
                      'key "a": value is truncated (200 bytes)'),
        "truncated tag": (with_value(base64.b64encode(raw[:-17]).decode()),
                          'key "a": value is truncated'),
        "empty": (with_value(""), 'key "a": value is truncated (0 bytes)'),
        "altered body": (with_value(tamper(v, len(raw) - 3)), 'key "a": value was altered'),
        "altered rsa": (with_value(tamper(v, 40)), 'key "a": no Bitnami key opens it'),
        "not base64": (with_value("%%%"), 'key "a": value is not base64'),
    }


@pytest.mark.parametrize("case", ["no key opens", "wrong label", "scope changed", "truncated",
                                  "truncated tag", "empty", "altered body", "altered rsa",
                                  "not base64"])
def test_bad_values_refused_and_nothing_written(tmp_path, rsa, keys, case):
    obj, msg = bad_inputs(rsa)[case]
    fine = bn.sealed_secret(rsa["k1"], "fine", "prod", {"x": "y"})
    src = tmp_path / "in.json"
    src.write_text(json.dumps(fine) + "\n" + json.dumps(obj))
    out = tmp_path / "out.json"
    r = fails(1, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1", "k2"), "--cert",
              keys.pub[0], "-f", str(src), "-w", str(out))
    name = obj["metadata"]["name"]
    assert f"{src}: document 2 (SealedSecret prod/{name}): {msg}" in r.err, r.err
    assert not out.exists()


@pytest.mark.parametrize("case", ["opaque", "no label", "other label", "not rsa", "no tls.key",
                                  "garbage pem", "configmap"])
def test_not_a_bitnami_key_refused(tmp_path, rsa, keys, case):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    s = bn.key_secret("k", rsa["k1"])
    msg = "not a Bitnami key"
    if case == "opaque":
        s["type"] = "Opaque"
    elif case == "no label":
        del s["metadata"]["labels"]
    elif case == "other label":
        s["metadata"]["labels"][bn.KEY_LABEL] = "retired"
        msg = 'is "retired", not active or compromised'
    elif case == "not rsa":
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption())
        s["data"]["tls.key"] = base64.b64encode(pem).decode()
        msg = "tls.key is not an RSA key"
    elif case == "no tls.key":
        del s["data"]["tls.key"]
        msg = "no data tls.key"
    elif case == "garbage pem":
        s["data"]["tls.key"] = base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
                                                b"-----END RSA PRIVATE KEY-----\n").decode()
        msg = "tls.key is not a PEM private key"
    elif case == "configmap":
        s = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k"}}
    kf = tmp_path / "keys.json"
    kf.write_text(bn.key_backup(bn.key_secret("ok", rsa["k2"]), s))
    src = tmp_path / "in.json"
    src.write_text(json.dumps(bn.sealed_secret(rsa["k2"], "api", "prod", {"a": "b"})))
    r = fails(1, "migrate", "--bitnami-keys", str(kf), "--cert", keys.pub[0], "-f", str(src))
    assert f"{kf}: document 2" in r.err and msg in r.err, r.err


def test_folder_tree_written_to_out_or_in_place(tmp_path, rsa, keys):
    tree = tmp_path / "repo"
    (tree / "apps" / "api").mkdir(parents=True)
    (tree / "apps" / "web").mkdir(parents=True)
    (tree / ".git").mkdir()
    (tree / "apps" / "api" / "sealed.json").write_text(
        json.dumps(bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "1"})))
    (tree / "apps" / "web" / "sealed.yml").write_text(
        bn.to_yaml(bn.sealed_secret(rsa["k2"], "web", "prod", {"w": "2"})) + "\n")
    (tree / "apps" / "web" / "deploy.yaml").write_text("kind: Deployment\n")
    (tree / "apps" / "README.md").write_text("sealedsecrets\n")
    (tree / ".git" / "x.yaml").write_text("not: [valid\n")
    kf = backup(tmp_path, rsa, "k1", "k2")
    out = tmp_path / "migrated"
    r = ok("migrate", "--bitnami-keys", kf, "--cert", keys.pub[0], "-f", str(tree), "-w",
           str(out))
    assert "migrated 2 Bitnami SealedSecrets" in r.err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["apps/api/sealed.json", "apps/web/sealed.yml"]
    doc = json_docs((out / "apps" / "api" / "sealed.json").read_text())[0]
    assert unseal(tmp_path, doc, keys.priv[0])[1] == {"a": b"1"}
    r = ok("unseal", "--private-key", keys.priv[0], "-o", "json", "-f",
           str(out / "apps" / "web" / "sealed.yml"))
    assert base64.b64decode(json.loads(r.out)["data"]["w"]) == b"2"
    # in place: only the files that held Bitnami objects change
    before = (tree / "apps" / "web" / "deploy.yaml").stat().st_mtime_ns
    ok("migrate", "--bitnami-keys", kf, "--cert", keys.pub[0], "-f", str(tree), "--in-place")
    assert "seal.dev/v1" in (tree / "apps" / "api" / "sealed.json").read_text()
    assert "seal.dev/v1" in (tree / "apps" / "web" / "sealed.yml").read_text()
    assert (tree / "apps" / "web" / "deploy.yaml").stat().st_mtime_ns == before
    # nothing Bitnami left
    fails(1, "migrate", "--bitnami-keys", kf, "--cert", keys.pub[0], "-f", str(tree),
          "--in-place")


def test_folder_with_one_bad_file_writes_nothing(tmp_path, rsa, keys):
    tree = tmp_path / "repo"
    tree.mkdir()
    good = json.dumps(bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "1"}))
    (tree / "a.json").write_text(good)
    (tree / "b.json").write_text(json.dumps(bn.sealed_secret(rsa["other"], "x", "prod",
                                                             {"k": "v"})))
    r = fails(1, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1"), "--cert",
              keys.pub[0], "-f", str(tree), "--in-place")
    assert f"{tree}/b.json: document 1 (SealedSecret prod/x): key \"k\"" in r.err
    assert (tree / "a.json").read_text() == good


def test_stdin_to_stdout(tmp_path, rsa, keys):
    r = ok("migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1"), "--cert", keys.pub[0],
           stdin=json.dumps(bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "1"})))
    assert unseal(tmp_path, json_docs(r.text)[0], keys.priv[0])[1] == {"a": b"1"}


@pytest.mark.parametrize("args,msg", [
    ([], "--bitnami-keys FILE is needed"),
    (["--bitnami-keys", "k", "-f", "{tree}"], "needs -w OUT (a folder) or --in-place"),
    (["--bitnami-keys", "k", "--in-place"], "--in-place needs -f"),
    (["--bitnami-keys", "k", "-f", "a", "-f", "b"], "give one -f"),
    (["--bitnami-keys", "k", "-w", "a", "--in-place", "-f", "x"], "exclude each other"),
    (["--bitnami-keys", "k", "extra"], ""),
])
def test_usage_errors(tmp_path, args, msg):
    args = [a.replace("{tree}", str(tmp_path)) for a in args]
    r = fails(2, "migrate", *args)
    assert msg in r.err


def test_no_bitnami_object_is_an_error(tmp_path, rsa, keys):
    src = tmp_path / "in.yaml"
    src.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    r = fails(1, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1"), "--cert",
              keys.pub[0], "-f", str(src))
    assert "no Bitnami SealedSecret" in r.err


def test_libcrypto_loaded_by_migrate_only(tmp_path, rsa, keys):
    """seal loads libcrypto for this command only (seal/crypto_loader.c): with a
    broken libcrypto.so.3 first on the library path, sealing still works and
    migrate says why it cannot."""
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "libcrypto.so.3").write_bytes(b"not a shared object\n")
    env = {"LD_LIBRARY_PATH": str(libdir)}
    r = ok("--cert", keys.pub[0], stdin="apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n"
           "  namespace: b\nstringData:\n  k: v\n", env=env)
    assert b"kind: SealedSecret" in r.out
    src = tmp_path / "in.json"
    src.write_text(json.dumps(bn.sealed_secret(rsa["k1"], "api", "prod", {"a": "1"})))
    r = fails(2, "migrate", "--bitnami-keys", backup(tmp_path, rsa, "k1"), "--cert",
              keys.pub[0], "-f", str(src), env=env)
    assert "cannot load libcrypto.so.3" in r.err
