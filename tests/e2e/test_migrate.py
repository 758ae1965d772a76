"""The takeover of docs/gitops.md ("Moving from Bitnami sealed-secrets"),
step by step, against the stand-in API server (suite e2e) and upstream
kube-apiserver with kube-controller-manager's garbage collector (suite real): live
Secrets made and owned by Bitnami's controller pass to seal's controller, and
a watch on them shows each one never deleted, never empty, its data never
changed.

Bitnami's controller is played by the test: its SealedSecrets are made by the
test-only encoder tests/cli/bitnami_encoder.py, and their Secrets are created
as Bitnami's controller makes them (the plain values, an ownerReference to the
SealedSecret with controller: true). Namespace "other" stands in for
kube-system, where Bitnami keeps its keys; `kubectl apply -f` stands in for an
Argo CD sync."""

import base64
import json
import os
import subprocess
import sys

from conftest import ROOT, SEAL, condition, wait_for
from hardening_util import SecretWatch

sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
import bitnami_encoder as bn  # noqa: E402

BITNAMI = "sealedsecrets.bitnami.com"
SEALED = "sealedsecrets.seal.dev"

# The runbook's commands (docs/gitops.md), run as written there.
MARK = r"""kubectl get sealedsecrets.bitnami.com -A \
  -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}' |
  while read -r ns name; do
    kubectl annotate secret -n "$ns" "$name" seal.dev/managed=true --overwrite
  done"""
ORPHAN = "kubectl delete sealedsecrets.bitnami.com --all --all-namespaces --cascade=orphan"


def b64(v):
    return base64.b64encode(v.encode()).decode()


def sh(api, script):
    kubectl = api.kubectl_env()
    path = os.path.dirname(os.environ.get("KUBECTL") or "/usr/bin/kubectl")
    kubectl["PATH"] = path + os.pathsep + kubectl.get("PATH", "")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                       text=True, env=kubectl, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


def live(api, name):
    status, body = api.request("GET", f"/api/v1/namespaces/app/secrets/{name}")
    return body if status == 200 else None


def synced(api, name):
    obj = api.get(SEALED, name)
    c = condition(obj, "Synced")
    return c is not None and c["status"] == "True"


def seal_owner(api, name):
    """The Secret's ownerReferences are exactly one, to its seal.dev SealedSecret."""
    uid = api.get(SEALED, name)["metadata"]["uid"]
    refs = (live(api, name) or {}).get("metadata", {}).get("ownerReferences") or []
    return [(r["apiVersion"], r["kind"], r["name"], r["uid"]) for r in refs] == [
        ("seal.dev/v1", "SealedSecret", name, uid)]


def play_bitnami(env, obj, data):
    """What Bitnami's controller makes of its SealedSecret obj (created already)."""
    uid = env.api.get(BITNAMI, obj["metadata"]["name"])["metadata"]["uid"]
    env.apply(bn.controller_secret(obj, uid, data))


def bitnami_cluster(env, tmp_path):
    """Bitnami's cluster and repository: key Secrets, SealedSecrets "api" and "db" with the
    Secrets its controller made of them, and the repository folder; the plain values."""
    api = env.api
    api.kubectl("apply", "-f", "-", input=json.dumps(bn.CRD))  # one per control plane
    wait_for(lambda: api.kubectl("get", BITNAMI, "-n", "app", check=False).returncode == 0,
             what="the Bitnami CRD served")
    # the real control plane serves a whole file: what an earlier test may have left
    api.kubectl("delete", BITNAMI, "--all", "-n", "app", "--ignore-not-found")
    api.crd_added()

    # Bitnami's cluster: two keys, three SealedSecrets, their Secrets
    k_old, k_new = bn.new_key(), bn.new_key()
    env.apply_all([bn.key_secret("sealed-secrets-keyold", k_old, namespace="other"),
                   bn.key_secret("sealed-secrets-keynew", k_new, namespace="other")])
    plain = {
        "api": {"token": "t0k3n", "empty": ""},
        "db": {"password": "s3cret", "user": "app",
               "url": "postgres://app:s3cret@db/app"},   # from the template
        "doomed": {"x": "y"},
    }
    objs = [
        bn.sealed_secret(k_old, "api", "app", plain["api"],
                         template={"metadata": {"labels": {"app": "api"}}}),
        bn.sealed_secret(k_new, "db", "app", {"password": "s3cret", "user": "app"},
                         scope="namespace-wide",
                         template={"data": {"url": "postgres://{{ .user }}:{{ .password }}@db/app"}}),
        bn.sealed_secret(k_new, "doomed", "app", plain["doomed"]),
    ]
    env.apply_all(objs)
    for o in objs:
        play_bitnami(env, o, plain[o["metadata"]["name"]])
    # the garbage collector is at work: deleting a Bitnami SealedSecret the
    # ordinary way deletes its Secret (what the runbook must avoid)
    api.kubectl("delete", BITNAMI, "doomed", "-n", "app")
    wait_for(lambda: live(api, "doomed") is None, what="the garbage collector")

    # the Git repository: the Bitnami objects next to other manifests
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    (repo / "db").mkdir()
    (repo / "api" / "sealedsecret.yaml").write_text(bn.to_yaml(objs[0]) + "\n")
    (repo / "db" / "sealedsecret.json").write_text(json.dumps(objs[1], indent=2) + "\n")
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: app\n"
    (repo / "api" / "config.yaml").write_text(config)
    return plain, repo, config


def migrate_repo(env, repo):
    """Runbook steps 2 and 3: Bitnami's keys backed up with kubectl, the repository migrated."""
    api = env.api
    backup = os.path.join(env.tmp, "bitnami-keys.yaml")
    with open(backup, "w") as f:
        f.write(api.kubectl("get", "secret", "-n", "other", "-l",
                            "sealedsecrets.bitnami.com/sealed-secrets-key", "-o", "yaml").stdout)
    p = subprocess.run([SEAL, "migrate", "--bitnami-keys", backup, "--cert", env.cert_path,
                        "-f", str(repo), "--in-place"], capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert "migrated 2 Bitnami SealedSecrets" in p.stderr


def taken_over(env, plain, watch):
    """Each Secret ends owned by seal's SealedSecret alone, with its data; the watch saw it
    never deleted or added again, and every event carried the same data."""
    api = env.api
    for name in ("api", "db"):
        wait_for(lambda n=name: synced(api, n) and seal_owner(api, n), timeout=30,
                 what=f"seal's controller owning Secret {name}")
        sec = live(api, name)
        assert {k: base64.b64decode(v).decode() for k, v in sec["data"].items()} == plain[name]
        assert "seal.dev/managed" not in (sec["metadata"].get("annotations") or {})
    assert live(api, "api")["metadata"]["labels"]["app"] == "api"
    watch.close()
    assert watch.error is None, watch.error
    for name in ("api", "db"):
        events = watch.events.get(name, [])
        assert "DELETED" not in events and "ADDED" not in events, events
        assert events.count("MODIFIED") >= 2, events  # marked, taken over
        for obj in watch.objects[name]:
            assert obj.get("data") == {k: b64(v) for k, v in plain[name].items()}, obj


def test_takeover_from_bitnami_keeps_every_secret(env, tmp_path):
    api = env.api
    plain, repo, config = bitnami_cluster(env, tmp_path)
    env.controller()  # seal's controller is installed; its public key is env.cert_path
    watch = SecretWatch(api)
    migrate_repo(env, repo)
    assert (repo / "api" / "config.yaml").read_text() == config
    assert "seal.dev/v1" in (repo / "db" / "sealedsecret.json").read_text()
    # 5. mark the live Secrets for takeover; 6. delete Bitnami's objects, orphaning them
    sh(api, MARK)
    sh(api, ORPHAN)
    assert api.kubectl("get", BITNAMI, "-A", "-o", "json").stdout.count('"uid"') == 0
    # 7. the sync (Argo CD) applies the migrated repository; 8. seal's controller takes over
    api.kubectl("apply", "-R", "-f", str(repo))
    taken_over(env, plain, watch)


def test_takeover_while_bitnami_objects_still_exist(env, tmp_path):
    """Steps 6 and 7 the other way round: seal's controller takes a Secret that still has
    Bitnami's live ownerReference, putting its own in its place; deleting the Bitnami
    object afterwards, even without --cascade=orphan, then leaves the Secret alone."""
    api = env.api
    plain, repo, _ = bitnami_cluster(env, tmp_path)
    env.controller()
    watch = SecretWatch(api)
    migrate_repo(env, repo)
    sh(api, MARK)
    api.kubectl("apply", "-R", "-f", str(repo))
    for name in ("api", "db"):
        wait_for(lambda n=name: seal_owner(api, n), timeout=30, what=f"takeover of {name}")
    # a canary deleted last: once the garbage collector has deleted its Secret, it has had
    # its turn at the others
    canary = bn.sealed_secret(bn.new_key(), "zz-canary", "app", {"c": "c"})
    env.apply(canary)
    play_bitnami(env, canary, {"c": "c"})
    api.kubectl("delete", BITNAMI, "api", "db", "zz-canary", "-n", "app")
    wait_for(lambda: live(api, "zz-canary") is None, what="the garbage collector")
    assert api.kubectl("get", BITNAMI, "-A", "-o", "json").stdout.count('"uid"') == 0
    taken_over(env, plain, watch)
