"""The whole example against the test API server: apply the rendered
controller overlay (CRD, RBAC, ServiceAccount, Deployment, ...) and the
rendered Kotaemon environment as Argo CD would, bring the environment's test
key in as an admin-added key, run unseal-controller, and see the Secret
kotaemon-llm appear with the values that were sealed, the SealedSecret turn
Healthy by the Argo CD health check, and the other cluster's SealedSecret
turn Degraded without touching the Secret."""

import base64
import datetime
import json
import os
import shutil
import signal
import subprocess

import pytest

from apiserver import StandIn

from conftest import (EXAMPLES, KEYDIR, armored_keys, controller_binary, free_port, key_id,
                      kustomize, need_kubectl, one, wait_for)

TOKEN = "examples-e2e-token"


class Cluster(StandIn):
    """The test API server (TLS, a token) and the processes started against it."""

    def __init__(self, tmp):
        super().__init__(tmp, token=TOKEN)
        self.tmp = tmp
        self.procs = []

    def get(self, kind, name, ns):
        p = self.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def controller(self, binary):
        """Starts unseal-controller; its HTTP API port is proc.http_port."""
        log = open(self.tmp / "controller.log", "w")
        http_port = free_port()
        proc = subprocess.Popen(
            [binary, "--kubeconfig", self.kubeconfig, "--key-namespace", "seal-system",
             "--listen", f"127.0.0.1:{http_port}",
             "--metrics-listen", f"127.0.0.1:{free_port()}", "--key-renew-period", "0"],
            stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, HOME=str(self.tmp)))
        proc.http_port = http_port
        self.procs.append((proc, log))
        return proc

    def close(self):
        for proc, log in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        self.stop()


@pytest.fixture
def cluster(tmp_path):
    need_kubectl()
    binary = controller_binary()
    if not (os.environ.get("LUA") or shutil.which("lua5.4")):
        pytest.skip("lua5.4 is not installed (the Argo CD health check is part of the test)")
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (the test API server makes its certificates)")
    c = Cluster(tmp_path)
    c.binary = binary
    try:
        yield c
    finally:
        c.close()


def admin_key_secret(env):
    """The environment's test key as an admin would add it: a Secret of type
    seal.dev/key in the controller's namespace (docs/design.md, Keys in the
    cluster). Made here, never stored as a manifest."""
    private = (KEYDIR / f"{env}.key").read_text()
    public = (EXAMPLES / "kotaemon" / "environments" / env / "cert.pem").read_text()
    kid = key_id(armored_keys(public, "PUBLIC")[0])
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return kid, {
        "apiVersion": "v1", "kind": "Secret", "type": "seal.dev/key",
        "metadata": {"name": f"seal-key-{kid}", "namespace": "seal-system",
                     "labels": {"seal.dev/key": "active"},
                     "annotations": {"seal.dev/created-at": created}},
        "data": {"private.key": base64.b64encode(private.encode()).decode(),
                 "public.key": base64.b64encode(public.encode()).decode()}}


def argocd_health(tmp_path, obj):
    """(status, message) of the live object by examples/argocd/health.lua."""
    from test_lua_health import health_of
    return health_of(tmp_path, obj)


def values(env):
    return dict(line.split("=", 1) for line in (KEYDIR / f"{env}.values").read_text().splitlines())


def test_kotaemon_staging_unseals_in_its_cluster(cluster, tmp_path):
    # What Argo CD applies: the controller's overlay, then the application.
    _, controller_yaml = kustomize(EXAMPLES / "kustomize" / "staging", tmp_path)
    cluster.kubectl("apply", "-f", "-", input=controller_yaml)
    assert cluster.get("customresourcedefinition", "sealedsecrets.seal.dev", "default")
    assert cluster.get("clusterrole", "unseal-controller", "default")
    assert cluster.get("rolebinding", "seal-public-keys-reader", "seal-system")

    kid, key_secret = admin_key_secret("staging")
    cluster.kubectl("create", "-f", "-", input=json.dumps(key_secret))

    objects, app_yaml = kustomize(EXAMPLES / "kotaemon" / "environments" / "staging", tmp_path)
    cluster.kubectl("apply", "-f", "-", input=app_yaml)

    proc = cluster.controller(cluster.binary)
    secret = wait_for(lambda: proc.poll() is None and cluster.get("secret", "kotaemon-llm", "kotaemon"),
                      "the Secret kotaemon-llm")
    assert proc.poll() is None, (cluster.tmp / "controller.log").read_text()
    got = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert got == values("staging")
    assert secret["metadata"]["labels"]["seal.dev/unsealed"] == "true"
    owner = secret["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("SealedSecret", "kotaemon-llm", True)
    # Argo CD's tracking annotation never reaches the Secret (it would prune it).
    assert "argocd.argoproj.io/tracking-id" not in secret["metadata"].get("annotations", {})

    # The controller used the admin-added key and published it.
    cm = wait_for(lambda: cluster.get("configmap", "seal-public-keys", "seal-system"),
                  "the ConfigMap seal-public-keys")
    assert armored_keys(cm["data"]["cert.pem"], "PUBLIC") == \
        armored_keys((EXAMPLES / "kotaemon" / "environments" / "staging" / "cert.pem").read_text(),
                     "PUBLIC")

    def healthy():
        live = cluster.get("sealedsecret", "kotaemon-llm", "kotaemon")
        return live if argocd_health(tmp_path, live)[0] == "Healthy" else None
    live = wait_for(healthy, "the SealedSecret to turn Healthy")
    assert live["status"]["observedGeneration"] == live["metadata"]["generation"]
    assert kid in live["status"].get("keyIds", [kid])

    # Production's SealedSecret, applied to the staging cluster by mistake:
    # no key for it here. Degraded, with a message that names it; the Secret
    # keeps the values it had.
    prod = one(kustomize(EXAMPLES / "kotaemon" / "environments" / "production", tmp_path)[0],
               "SealedSecret", "kotaemon-llm")
    live = cluster.get("sealedsecret", "kotaemon-llm", "kotaemon")
    live["spec"] = prod["spec"]
    cluster.kubectl("replace", "-f", "-", input=json.dumps(live))

    def degraded():
        health = argocd_health(tmp_path, cluster.get("sealedsecret", "kotaemon-llm", "kotaemon"))
        return health if health[0] == "Degraded" else None
    status, message = wait_for(degraded, "the SealedSecret to turn Degraded")
    prod_kid = key_id(armored_keys(
        (EXAMPLES / "kotaemon" / "environments" / "production" / "cert.pem").read_text(), "PUBLIC")[0])
    assert prod_kid in message
    secret = cluster.get("secret", "kotaemon-llm", "kotaemon")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == values("staging")
