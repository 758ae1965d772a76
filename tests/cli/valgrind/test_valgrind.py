"""seal under valgrind memcheck: round trips and refusals with no memory error and no
definite leak. Every run is `valgrind --error-exitcode=99 --leak-check=full
--errors-for-leak-kinds=definite seal ...`: a report turns the exit status into 99, which no
seal run returns by itself. Registered in tests/cli/meson.build only for builds without
sanitizers (valgrind and ASan do not mix)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bitnami_encoder as bn  # noqa: E402  (tests/cli: a test-only Bitnami encoder)

SEAL = os.environ.get("SEAL_BIN", "")
VALGRIND = shutil.which("valgrind")
REPORT = 99

if not SEAL or not os.path.exists(SEAL) or not VALGRIND:
    pytest.skip("seal or valgrind missing", allow_module_level=True)


def vg(*args, stdin=b"", expect=0):
    """Runs seal under memcheck; asserts no report and the expected exit status."""
    cmd = [VALGRIND, "-q", f"--error-exitcode={REPORT}", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite", SEAL, *args]
    env = dict(os.environ, KUBECONFIG="/nonexistent/kubeconfig")
    env.pop("SEAL_CERT", None)
    p = subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=300)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != REPORT and not re.search(r"^==\d+== ", err, re.M), err[-4000:]
    if expect == "fail":
        assert p.returncode not in (0, REPORT) and err.strip(), err
    else:
        assert p.returncode == expect, err[-4000:]
    return p.stdout


def secret(name, data):
    return json.dumps({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": name, "namespace": "app"}, "stringData": data}).encode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("vg")
    priv, pub = d / "k.key", d / "k.pem"
    vg("keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    return d, priv, pub


def test_seal_and_unseal_round_trip(keys):
    d, priv, pub = keys
    src = d / "in.json"
    src.write_bytes(secret("db", {"PASSWORD": "hunter2", "USER": "admin"}))
    vg("--cert", str(pub), "-f", str(src), "-w", str(d / "sealed.yaml"))
    out = vg("--cert", str(pub), "-o", "json", stdin=secret("db2", {"K": "v" * 5000}))
    assert json.loads(out)["kind"] == "SealedSecret"
    plain = vg("unseal", "--private-key", str(priv), "-f", str(d / "sealed.yaml"), "-o", "json")
    assert json.loads(plain)["data"]["USER"] == "YWRtaW4="
    vg("unseal", "--private-key", str(priv), "-f", str(d / "sealed.yaml"), "-w", str(d / "plain.yaml"))


def test_raw_merge_and_scan(keys):
    d, priv, pub = keys
    raw = vg("raw", "--cert", str(pub), "-n", "app", "--name", "db", "--key", "K", stdin=b"value")
    assert raw.strip()
    sealed = d / "merge.yaml"
    sealed.write_bytes(vg("--cert", str(pub), stdin=secret("m", {"A": "1"})))
    vg("merge", "--into", str(sealed), "--cert", str(pub), stdin=secret("m", {"B": "2"}))
    scan = d / "scan"
    scan.mkdir()
    (scan / "s.yaml").write_bytes(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  a: YQ==\n")
    vg("scan", str(scan), expect=1)


def test_refusals_free_everything(keys):
    d, priv, pub = keys
    other_priv, other_pub = d / "o.key", d / "o.pem"
    vg("keys", "generate", "--private-key", str(other_priv), "--cert", str(other_pub))
    vg("--cert", str(pub), stdin=b"kind: Secret\napiVersion: v1\nmetadata: [\n", expect="fail")
    vg("--cert", str(pub), stdin=b"\x00\xff" * 1000, expect="fail")
    vg("--cert", str(d / "missing.pem"), stdin=secret("x", {"K": "v"}), expect="fail")
    vg("--cert", str(priv), stdin=secret("x", {"K": "v"}), expect="fail")
    vg("unseal", "--private-key", str(other_priv), "-f", str(d / "sealed.yaml"), expect="fail")
    vg("unseal", "--private-key", str(pub), "-f", str(d / "sealed.yaml"), expect="fail")
    vg("keys", "generate", "--private-key", str(priv), "--cert", str(d / "x.pem"), expect="fail")
    vg("--frobnicate", expect=2)


def test_migrate_from_bitnami(keys, tmp_path):
    """seal migrate (libcrypto loaded at run time): a stream with every kind of object,
    and refusals (no key opens a value, a truncated value, a compromised key)."""
    d, priv, pub = keys
    k1, k2 = bn.new_key(), bn.new_key()
    backup = tmp_path / "keys.json"
    backup.write_text(bn.key_backup(bn.key_secret("k1", k1), bn.key_secret("k2", k2)))
    objs = [bn.sealed_secret(k1, "a", "app", {"x": "1", "e": ""},
                             template={"data": {"t": '{{ index . "x" }}-{{ .e }}'}}),
            bn.sealed_secret(k2, "b", "app", {"y": "2"}, scope="cluster-wide"),
            bn.old_sealed_secret(k2, "c", "app", {"z": "3"})]
    src = tmp_path / "in.yaml"
    src.write_text("---\n".join(bn.to_yaml(o) + "\n" for o in objs) + "---\nkind: ConfigMap\n")
    out = vg("migrate", "--bitnami-keys", str(backup), "--cert", str(pub), "-f", str(src))
    assert out.count(b"seal.dev/v1") == 3
    bad = dict(objs[0])
    bad["spec"] = {"encryptedData": {"x": objs[1]["spec"]["encryptedData"]["y"][:60]}}
    src.write_text(json.dumps(objs[1]) + json.dumps(bad))
    vg("migrate", "--bitnami-keys", str(backup), "--cert", str(pub), "-f", str(src),
       expect="fail")
    src.write_text(json.dumps(bn.sealed_secret(bn.new_key(), "d", "app", {"k": "v"})))
    vg("migrate", "--bitnami-keys", str(backup), "--cert", str(pub), "-f", str(src),
       expect="fail")
    backup.write_text(bn.key_backup(bn.key_secret("k1", k1, "compromised")))
    vg("migrate", "--bitnami-keys", str(backup), "--cert", str(pub), "-f", str(src),
       expect="fail")
