"""Renders every kustomization in examples/ with `kubectl kustomize` and checks
what a cluster would receive: hardened, probed, resourced workloads with
pinned images, least-privilege RBAC, and overlays that differ as documented."""

import os
import re
import subprocess

import pytest

from conftest import (EXAMPLES, annotation, controller_binary, find, kustomizations, kustomize,
                      need_kubectl, one, wave)

CONTROLLER_IMAGE = "registry.example.com/seal/unseal-controller"
PINNED_TAG = re.compile(r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    need_kubectl()
    tmp = tmp_path_factory.mktemp("render")
    return {d.relative_to(EXAMPLES).as_posix(): kustomize(d, tmp)[0] for d in kustomizations()}


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def workloads(rendered):
    for where, objects in rendered.items():
        for obj in objects:
            if obj["kind"] in WORKLOAD_KINDS:
                yield where, obj


def test_every_kustomization_renders(rendered):
    expected = {"deploy", "deploy/developer-access", "kustomize/base", "kustomize/staging", "kustomize/production",
                "argocd", "kotaemon/environments/base", "kotaemon/environments/staging",
                "kotaemon/environments/production"}
    assert expected <= set(rendered), f"missing: {expected - set(rendered)}"
    for where, objects in rendered.items():
        assert objects, f"{where} renders nothing"


def test_images_are_pinned_to_a_version(rendered):
    seen = 0
    for where, obj in workloads(rendered):
        spec = pod_spec(obj)
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            image = c["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{where}: {obj['metadata']['name']}: image '{image}' has no tag"
            assert tag != "latest", f"{where}: image '{image}' uses latest"
            assert PINNED_TAG.match(tag), f"{where}: image '{image}' is not pinned to a version"
            seen += 1
    assert seen >= 7


def test_no_latest_anywhere(rendered):
    for where, objects in rendered.items():
        for obj in objects:
            text = repr(obj)
            assert ":latest" not in text, f"{where}: {obj['kind']} {obj['metadata']['name']} mentions :latest"


def test_workloads_are_hardened_probed_and_resourced(rendered):
    count = 0
    for where, obj in workloads(rendered):
        label = f"{where}: {obj['kind']} {obj['metadata']['name']}"
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, label
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", label
        assert "automountServiceAccountToken" in spec, f"{label}: token automounting left to the default"
        if spec["automountServiceAccountToken"]:
            assert spec.get("serviceAccountName") not in (None, "default"), \
                f"{label}: mounts the default ServiceAccount's token"
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, label
            assert sc["readOnlyRootFilesystem"] is True, label
            assert sc["allowPrivilegeEscalation"] is False, label
            assert sc["capabilities"]["drop"] == ["ALL"], label
            assert "add" not in sc["capabilities"], label
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", label
            assert sc.get("privileged", False) is False, label
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in c, f"{label}: no {probe}"
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    assert res in c["resources"][kind], f"{label}: no {kind}.{res}"
        count += 1
    assert count >= 7


def controller(objects):
    return one(objects, "Deployment", "unseal-controller")


@pytest.mark.parametrize("where", ["deploy", "kustomize/base", "kustomize/staging",
                                   "kustomize/production"])
def test_controller_deployment(rendered, where):
    objects = rendered[where]
    dep = controller(objects)
    assert dep["metadata"]["namespace"] == "seal-system"
    spec = pod_spec(dep)
    assert spec["serviceAccountName"] == "unseal-controller"
    assert spec["automountServiceAccountToken"] is True
    c = one([dict(x, kind="c", metadata={"name": x["name"]}) for x in spec["containers"]], "c",
            "unseal-controller")
    assert c["image"].startswith(CONTROLLER_IMAGE + ":")
    args = c["args"]
    assert "--key-namespace=seal-system" in args
    assert "--listen=:8080" in args
    assert "--metrics-listen=:8081" in args
    assert "--admission-listen=:8443" in args
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8080, "metrics": 8081, "admission": 8443}
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert c["livenessProbe"]["httpGet"]["path"] == "/ping"
    # on the metrics listener, which no flood of the public port can starve
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] == "metrics", probe
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    # Key loading and the first list of every SealedSecret: minutes, not seconds.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    # A read-only root: anything written goes to the in-memory /tmp.
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/tmp" in mounts

    svc = one(objects, "Service", "unseal-controller")
    assert {(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == \
        {("http", 8080, "http"), ("metrics", 8081, "metrics"), ("admission", 443, "admission")}
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]

    sa = one(objects, "ServiceAccount", "unseal-controller")
    assert sa["automountServiceAccountToken"] is False
    one(objects, "Namespace", "seal-system")
    crd = one(objects, "CustomResourceDefinition")
    assert crd["spec"]["group"] == "seal.dev"
    assert crd["spec"]["names"]["kind"] == "SealedSecret"


def rules_of(role):
    out = set()
    for rule in role["rules"]:
        for group in rule.get("apiGroups", []):
            for res in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, res, verb, tuple(rule.get("resourceNames", ()))))
    return out


def test_rbac_is_least_privilege(rendered):
    objects = rendered["deploy"]
    cluster = rules_of(one(objects, "ClusterRole", "unseal-controller"))
    expected = {("seal.dev", "sealedsecrets", v, ()) for v in ("get", "list", "watch")}
    expected |= {("seal.dev", "sealedsecrets/status", v, ()) for v in ("update", "patch")}
    # No delete: produced Secrets go with their SealedSecret through the
    # garbage collector; a Secret in the way is reported, never deleted.
    expected |= {("", "secrets", v, ()) for v in
                 ("get", "list", "watch", "create", "update", "patch")}
    expected |= {("", "events", v, ()) for v in ("create", "patch")}
    # the admission CA into the one webhook configuration's caBundle; never create
    expected |= {("admissionregistration.k8s.io", "validatingwebhookconfigurations", v,
                  ("unseal-controller",)) for v in ("get", "patch")}
    assert cluster == expected

    role = rules_of(one(objects, "Role", "unseal-controller"))
    assert ("", "configmaps", "create", ()) in role
    assert ("", "configmaps", "get", ("seal-public-keys",)) in role
    assert ("", "configmaps", "update", ("seal-public-keys",)) in role
    assert ("coordination.k8s.io", "leases", "create", ()) in role
    assert ("coordination.k8s.io", "leases", "update", ("unseal-controller",)) in role
    # The controller never deletes a key Secret.
    assert not any(r[1] == "secrets" and r[2] == "delete" for r in role)
    # Only the things named above: configmaps and leases beyond create are
    # limited by name.
    for group, res, verb, names in role:
        if res in ("configmaps", "leases") and verb != "create":
            assert names, f"{res} {verb} is not limited by resourceNames"

    # No wildcard anywhere.
    for kind in ("ClusterRole", "Role"):
        for r in find(objects, kind):
            for rule in r["rules"]:
                for field in ("apiGroups", "resources", "verbs"):
                    assert "*" not in rule.get(field, []), f"{kind} {r['metadata']['name']}: wildcard"


def test_public_keys_readable_by_all_authenticated_users_and_nothing_else(rendered):
    objects = rendered["deploy"]
    reader = one(objects, "Role", "seal-public-keys-reader")
    assert rules_of(reader) == {("", "configmaps", "get", ("seal-public-keys",))}
    binding = one(objects, "RoleBinding", "seal-public-keys-reader")
    assert binding["metadata"]["namespace"] == "seal-system"
    assert binding["roleRef"]["name"] == "seal-public-keys-reader"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:authenticated"}]
    # Every other binding names the controller's ServiceAccount alone, so key
    # Secrets are readable by the controller only.
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in find(objects, kind):
            if b["metadata"]["name"] == "seal-public-keys-reader":
                continue
            assert b["subjects"] == [{"kind": "ServiceAccount", "name": "unseal-controller",
                                      "namespace": "seal-system"}], b["metadata"]["name"]


def test_developer_access_is_opt_in_and_limited_to_the_controllers_api_port(rendered):
    proxy = [(where, o["kind"], o["metadata"]["name"]) for where, objects in rendered.items()
             for o in objects if o["kind"] in ("Role", "ClusterRole")
             and any("services/proxy" in rule.get("resources", []) for rule in o["rules"])]
    # only the opt-in folder grants the service proxy; the default deploy and the overlays
    # built on it never do
    assert proxy == [("deploy/developer-access", "Role", "seal-controller-api")], proxy
    for where in ("deploy", "kustomize/staging", "kustomize/production"):
        assert not [o for o in rendered[where] if o["metadata"]["name"] == "seal-controller-api"]
    with open(EXAMPLES / "deploy" / "kustomization.yaml") as f:
        assert "developer-access" not in f.read()

    objects = rendered["deploy/developer-access"]
    assert sorted(o["kind"] for o in objects) == ["Role", "RoleBinding"]
    role = one(objects, "Role", "seal-controller-api")
    assert role["metadata"]["namespace"] == "seal-system"
    # the "http" port of the controller's Service as seal names it (seal/cluster.c) and
    # without the scheme; never the metrics or admission port, never another Service
    names = ("http:unseal-controller:http", "unseal-controller:http")
    assert rules_of(role) == {("", "services/proxy", v, names) for v in ("get", "create")}
    binding = one(objects, "RoleBinding", "seal-controller-api")
    assert binding["metadata"]["namespace"] == "seal-system"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "seal-controller-api"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "seal-developers"}]
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "seal", "cluster.c")) as f:
        assert "services/http:%s:http/proxy" in f.read(), "seal's proxy path changed"


def test_network_policy(rendered):
    objects = rendered["deploy"]
    pol = one(objects, "NetworkPolicy", "unseal-controller")
    dep = controller(objects)
    assert pol["spec"]["podSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert set(pol["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {p["port"] for rule in pol["spec"]["ingress"] for p in rule["ports"]}
    assert ingress_ports == {"http", "metrics", "admission"}
    metrics_rule = [r for r in pol["spec"]["ingress"] if r["ports"][0]["port"] == "metrics"][0]
    assert metrics_rule.get("from"), "metrics open to every pod"


@pytest.mark.parametrize("where", ["deploy", "kustomize/staging", "kustomize/production"])
def test_admission_webhook(rendered, where):
    objects = rendered[where]
    vwc = one(objects, "ValidatingWebhookConfiguration", "unseal-controller")
    svc = one(objects, "Service", "unseal-controller")
    ns = one(objects, "Namespace", "seal-system")
    (hook,) = vwc["webhooks"]
    # a controller that is down never blocks a sync; nothing but the check happens
    assert hook["failurePolicy"] == "Ignore"
    assert hook["sideEffects"] == "None"
    assert hook["admissionReviewVersions"] == ["v1"]
    assert 1 <= hook["timeoutSeconds"] <= 10
    assert "caBundle" not in hook["clientConfig"], "the controller publishes its own CA"
    ref = hook["clientConfig"]["service"]
    assert (ref["name"], ref["namespace"], ref["path"]) == \
        ("unseal-controller", "seal-system", "/v1/admit")
    assert ref["port"] in {p["port"] for p in svc["spec"]["ports"] if p["name"] == "admission"}
    assert hook["rules"] == [{"apiGroups": ["seal.dev"], "apiVersions": ["*"],
                              "resources": ["sealedsecrets"], "operations": ["CREATE", "UPDATE"],
                              "scope": "Namespaced"}]
    # the controller's own namespace is left out by a label its Namespace carries
    # (Kubernetes sets it by itself only from 1.21)
    (expr,) = hook["namespaceSelector"]["matchExpressions"]
    assert (expr["key"], expr["operator"], expr["values"]) == \
        ("kubernetes.io/metadata.name", "NotIn", ["seal-system"])
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "seal-system"


def test_sync_waves_put_crd_and_controller_first(rendered):
    objects = rendered["deploy"]
    crd = one(objects, "CustomResourceDefinition")
    ns = one(objects, "Namespace", "seal-system")
    dep = controller(objects)
    assert wave(crd) < wave(dep) and wave(ns) < wave(dep)
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        for obj in find(objects, kind):
            assert wave(crd) <= wave(obj) < wave(dep), f"{kind} {obj['metadata']['name']}"
    # Argo CD must never prune the CRD (that deletes every SealedSecret and
    # their Secrets) or the namespace holding the keys.
    for obj in (crd, ns):
        assert "Prune=false" in annotation(obj, "argocd.argoproj.io/sync-options", "")
        assert "Delete=false" in annotation(obj, "argocd.argoproj.io/sync-options", "")


def test_controller_overlays_differ_as_documented(rendered):
    staging = controller(rendered["kustomize/staging"])
    production = controller(rendered["kustomize/production"])
    s_c, p_c = pod_spec(staging)["containers"][0], pod_spec(production)["containers"][0]

    assert staging["spec"]["replicas"] == 1
    assert "--leader-elect" not in s_c["args"]
    # Without leader election two controllers must never run at once.
    assert staging["spec"]["strategy"]["type"] == "Recreate"

    assert production["spec"]["replicas"] >= 2
    assert "--leader-elect" in p_c["args"]
    assert production["spec"]["strategy"]["type"] == "RollingUpdate"
    assert production["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    one(rendered["kustomize/production"], "PodDisruptionBudget", "unseal-controller")
    assert not find(rendered["kustomize/staging"], "PodDisruptionBudget")

    assert s_c["resources"] != p_c["resources"]
    for c in (s_c, p_c):
        assert PINNED_TAG.match(c["image"].rpartition(":")[2])


def test_argocd_applications(rendered):
    apps = {a["metadata"]["name"]: a for a in find(rendered["argocd"], "Application")}
    assert set(apps) == {"seal-controller-staging", "seal-controller-production",
                         "kotaemon-staging", "kotaemon-production"}
    for name, app in apps.items():
        path = app["spec"]["source"]["path"]
        assert (EXAMPLES.parent / path / "kustomization.yaml").is_file(), f"{name}: no {path}"
        sync = app["spec"].get("syncPolicy", {})
        if name.endswith("-production"):
            assert "automated" not in sync, f"{name}: production must sync by hand"
            assert "finalizers" not in app["metadata"], f"{name}: deleting the app would delete production"
        else:
            assert sync["automated"] == {"prune": True, "selfHeal": True}, name
    # The controller's Applications before those whose SealedSecrets it unseals.
    for env in ("staging", "production"):
        assert wave(apps[f"seal-controller-{env}"]) < wave(apps[f"kotaemon-{env}"])
        assert apps[f"seal-controller-{env}"]["spec"]["destination"] == \
            apps[f"kotaemon-{env}"]["spec"]["destination"]
    assert apps["kotaemon-staging"]["spec"]["destination"] != \
        apps["kotaemon-production"]["spec"]["destination"]


@pytest.mark.parametrize("where", ["deploy", "kustomize/staging", "kustomize/production"])
def test_controller_accepts_the_deployments_flags(rendered, where):
    # The built controller parses the container's args and SEAL_* env
    # exactly as the pod would start it (--version exits after parsing).
    binary = controller_binary()
    c = pod_spec(controller(rendered[where]))["containers"][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEAL_")}
    env.update({e["name"]: e["value"] for e in c.get("env", []) if "value" in e})
    proc = subprocess.run([binary, *c["args"], "--version"], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 0, f"{where}: {proc.stderr}"
