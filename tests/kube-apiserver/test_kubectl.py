"""The real kubectl against the test API server (TLS and a token), with validation on."""

import base64
import json
import os
import subprocess

import pytest

from apiserver import kubectl_path
from conftest import CRD

pytestmark = pytest.mark.skipif(kubectl_path() is None,
                                reason="kubectl is not installed: its tests against the test API server are skipped")


@pytest.fixture(scope="module")
def kubectl(srv, tmp_path_factory):
    home = str(tmp_path_factory.mktemp("home"))
    env = dict(os.environ, HOME=home, KUBECONFIG=srv.kubeconfig)
    work = tmp_path_factory.mktemp("work")

    def run(*args, stdin=None, ok=True):
        p = subprocess.run([kubectl_path(), "--kubeconfig", srv.kubeconfig, *args], input=stdin, env=env,
                           capture_output=True, text=True, timeout=60, cwd=str(work))
        if ok:
            assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
        return p
    return run


SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: team-a
type: Opaque
stringData:
  password: {value}
"""


def data_of(kubectl, name, ns="team-a"):
    obj = json.loads(kubectl("-n", ns, "get", "secret", name, "-o", "json").stdout)
    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}


def test_version_and_discovery(kubectl):
    out = kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["major"] == "1"
    res = kubectl("api-resources", "-o", "name").stdout.split()
    assert "secrets" in res and "leases.coordination.k8s.io" in res


def test_secret_lifecycle(kubectl):
    p = kubectl("create", "-f", "-", stdin=SECRET.format(name="k1", value="one"))
    assert "secret/k1 created" in p.stdout
    assert data_of(kubectl, "k1") == {"password": "one"}
    p = kubectl("create", "-f", "-", stdin=SECRET.format(name="k1", value="one"), ok=False)
    assert p.returncode != 0 and "AlreadyExists" in p.stderr
    kubectl("replace", "-f", "-", stdin=SECRET.format(name="k1", value="two"))
    assert data_of(kubectl, "k1") == {"password": "two"}
    kubectl("apply", "-f", "-", stdin=SECRET.format(name="k1", value="three"))
    assert data_of(kubectl, "k1") == {"password": "three"}
    kubectl("apply", "-f", "-", stdin=SECRET.format(name="k2", value="new"))
    assert data_of(kubectl, "k2") == {"password": "new"}
    kubectl("apply", "--server-side", "-f", "-", stdin=SECRET.format(name="k3", value="ssa"))
    kubectl("apply", "--server-side", "-f", "-", stdin=SECRET.format(name="k3", value="ssa2"))
    assert data_of(kubectl, "k3") == {"password": "ssa2"}
    kubectl("-n", "team-a", "delete", "secret", "k3")
    kubectl("-n", "team-a", "patch", "secret", "k1", "--type", "merge", "-p",
            '{"data": {"extra": "ZXh0cmE="}}')
    assert data_of(kubectl, "k1") == {"password": "three", "extra": "extra"}
    kubectl("-n", "team-a", "patch", "secret", "k1", "--type", "json", "-p",
            '[{"op": "remove", "path": "/data/extra"}]')
    assert data_of(kubectl, "k1") == {"password": "three"}
    kubectl("-n", "team-a", "label", "secret", "k1", "tier=gold")
    kubectl("-n", "team-a", "annotate", "secret", "k1", "note=hello")
    meta = json.loads(kubectl("-n", "team-a", "get", "secret", "k1", "-o", "json").stdout)["metadata"]
    assert meta["labels"]["tier"] == "gold" and meta["annotations"]["note"] == "hello"
    names = kubectl("-n", "team-a", "get", "secrets", "-l", "tier=gold", "-o", "name").stdout.split()
    assert names == ["secret/k1"]
    kubectl("-n", "team-a", "label", "secret", "k1", "tier-")
    assert kubectl("-n", "team-a", "get", "secrets", "-l", "tier", "-o", "name").stdout.strip() == ""
    listed = kubectl("get", "secrets", "-A", "-o", "name").stdout.split()
    assert "secret/k1" in listed and "secret/k2" in listed
    table = kubectl("-n", "team-a", "get", "secrets").stdout
    assert "k1" in table and "k2" in table
    p = kubectl("-n", "team-a", "delete", "secret", "k1", "k2")
    assert 'secret "k1" deleted' in p.stdout
    p = kubectl("-n", "team-a", "get", "secret", "k1", ok=False)
    assert p.returncode != 0 and "NotFound" in p.stderr


def test_invalid_secret_is_refused(kubectl):
    bad = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: Bad_Name\n  namespace: team-a\n"
    p = kubectl("create", "-f", "-", stdin=bad, ok=False)
    assert p.returncode != 0 and "is invalid" in p.stderr


def test_crd_and_sealed_secret_status(kubectl):
    kubectl("create", "-f", CRD)
    kubectl("wait", "--for=condition=Established", "crd/sealedsecrets.seal.dev", "--timeout=10s")
    sealed = """apiVersion: seal.dev/v1
kind: SealedSecret
metadata:
  name: db
  namespace: team-a
spec:
  encryptedData:
    password: QUJDRA==
"""
    kubectl("create", "-f", "-", stdin=sealed)
    obj = json.loads(kubectl("-n", "team-a", "get", "sealedsecret", "db", "-o", "json").stdout)
    assert obj["spec"]["encryptedData"] == {"password": "QUJDRA=="}
    assert obj["metadata"]["generation"] == 1
    assert kubectl("-n", "team-a", "get", "sealed", "-o", "name").stdout.split() == ["sealedsecret.seal.dev/db"]
    status = {"status": {"observedGeneration": 1,
                         "conditions": [{"type": "Synced", "status": "True", "reason": "Unsealed"}]}}
    kubectl("-n", "team-a", "patch", "sealedsecret", "db", "--subresource=status", "--type", "merge",
            "-p", json.dumps(status))
    obj = json.loads(kubectl("-n", "team-a", "get", "sealedsecret", "db", "-o", "json").stdout)
    assert obj["status"] == status["status"]
    # the main resource ignores status; a spec change bumps generation
    kubectl("-n", "team-a", "patch", "sealedsecret", "db", "--type", "merge",
            "-p", '{"spec": {"encryptedData": {"other": "QUJD"}}, "status": {"observedGeneration": 7}}')
    obj = json.loads(kubectl("-n", "team-a", "get", "sealedsecret", "db", "-o", "json").stdout)
    assert obj["metadata"]["generation"] == 2 and obj["status"]["observedGeneration"] == 1
    kubectl("-n", "team-a", "delete", "sealedsecret", "db")


def test_typed_generators_send_protobuf(kubectl):
    kubectl("create", "namespace", "pb-ns")
    ns = json.loads(kubectl("get", "namespace", "pb-ns", "-o", "json").stdout)
    assert ns["status"]["phase"] == "Active"
    kubectl("-n", "pb-ns", "create", "secret", "generic", "gen", "--from-literal=user=admin",
            "--from-literal=pass=s3cret", "--type=example.dev/custom")
    assert data_of(kubectl, "gen", "pb-ns") == {"user": "admin", "pass": "s3cret"}
    obj = json.loads(kubectl("-n", "pb-ns", "get", "secret", "gen", "-o", "json").stdout)
    assert obj["type"] == "example.dev/custom"
    kubectl("-n", "pb-ns", "create", "configmap", "cfg", "--from-literal=a=b")
    cm = json.loads(kubectl("-n", "pb-ns", "get", "configmap", "cfg", "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    kubectl("-n", "pb-ns", "create", "serviceaccount", "robot")
    p = kubectl("-n", "pb-ns", "create", "secret", "generic", "gen", "--from-literal=x=y", ok=False)
    assert p.returncode != 0 and "already exists" in p.stderr
    p = kubectl("-n", "no-such-ns", "create", "secret", "generic", "gen", "--from-literal=x=y", ok=False)
    assert p.returncode != 0 and 'namespaces "no-such-ns" not found' in p.stderr


def test_get_prints_table_columns(kubectl):
    kubectl("apply", "-f", CRD)
    kubectl("wait", "--for=condition=Established", "crd/sealedsecrets.seal.dev", "--timeout=10s")
    kubectl("create", "-f", "-", stdin="""apiVersion: seal.dev/v1
kind: SealedSecret
metadata: {name: cols, namespace: team-b}
spec: {encryptedData: {k: QUJD}}
""")
    status = {"status": {"conditions": [{"type": "Synced", "status": "True"},
                                        {"type": "KeyCurrent", "status": "False"}]}}
    kubectl("-n", "team-b", "patch", "sealedsecret", "cols", "--subresource=status", "--type", "merge",
            "-p", json.dumps(status))
    lines = kubectl("-n", "team-b", "get", "sealedsecrets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SYNCED", "KEYCURRENT", "AGE"]
    assert lines[1].split()[:3] == ["cols", "True", "False"]
    lines = kubectl("get", "sealed", "-A").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"] and "team-b" in lines[1]
    kubectl("-n", "team-b", "create", "-f", "-", stdin=SECRET.format(name="tab", value="x").replace("team-a", "team-b"))
    lines = kubectl("-n", "team-b", "get", "secrets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert lines[1].split()[:3] == ["tab", "Opaque", "1"]


def test_apply_the_deploy_kustomization_twice(kubectl):
    deploy = os.path.dirname(CRD)
    first = kubectl("apply", "-k", deploy).stdout
    for made in ("namespace/seal-system", "customresourcedefinition.apiextensions.k8s.io/sealedsecrets.seal.dev",
                 "serviceaccount/unseal-controller", "clusterrole.rbac.authorization.k8s.io/unseal-controller",
                 "deployment.apps/unseal-controller", "service/unseal-controller",
                 "networkpolicy.networking.k8s.io/unseal-controller"):
        assert made in first
    second = kubectl("apply", "-k", deploy).stdout.splitlines()
    assert second and all(line.endswith(" unchanged") for line in second), second
    deployment = json.loads(kubectl("-n", "seal-system", "get", "deployment", "unseal-controller",
                                    "-o", "json").stdout)
    assert deployment["metadata"]["generation"] == 1
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kustomize"
