"""What only a real API server can prove (suite `real`: upstream kube-apiserver v1.20, etcd,
kube-controller-manager, see tests/kube-real/README.md): the examples pass the server's own
validation, the ServiceAccount's RBAC is exactly what the controller needs, and a watch expired
by an etcd compaction is followed by a re-list that loses no change, and seal authenticates
through a kubeconfig credential plugin."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from conftest import MODE, ROOT, SEAL, condition, decoded, secret, wait_for

EXAMPLES = os.path.join(ROOT, "examples")
# Every kustomization that is deployed on its own (components and bases are part of these).
KUSTOMIZATIONS = ["deploy", "deploy/developer-access", "kustomize/staging", "kustomize/production",
                  "kotaemon/environments/staging", "kotaemon/environments/production"]
# Plain manifests outside any of those (examples/argocd's Applications need Argo CD's own
# CRD, which is Argo CD's, not this project's).
MANIFESTS = ["argocd/argocd-cm.yaml", "argocd/argocd-cm-application-health.yaml"]


@pytest.fixture(autouse=True)
def real_only():
    assert MODE["apiserver"] == "real", "test_real.py runs with --apiserver=real only"


def documents(text):
    """The YAML documents of a stream, each with its top-level apiVersion, kind, name."""
    out = []
    for doc in re.split(r"^---\s*$", text, flags=re.M):
        api = re.search(r"^apiVersion:\s*(\S+)\s*$", doc, re.M)
        kind = re.search(r"^kind:\s*(\S+)\s*$", doc, re.M)
        if not api or not kind:
            assert not doc.strip() or doc.strip().startswith("#"), f"not an object: {doc[:200]}"
            continue
        name = re.search(r"^metadata:\n(?:\s+.*\n)*?\s+name:\s*(\S+)", doc, re.M)
        out.append((api.group(1), kind.group(1), name.group(1) if name else "?", doc))
    return out


def served(api, group_version, kind):
    path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    status, body = api.request("GET", path)
    return status == 200 and any(r.get("kind") == kind for r in body.get("resources", []))


def test_examples_pass_a_server_side_dry_run(env):
    for ns in ("kotaemon", "argocd"):
        env.api.kubectl("create", "namespace", ns)
    docs = []
    for k in KUSTOMIZATIONS:
        docs += [(k, *d) for d in documents(env.api.kubectl("kustomize",
                                                            os.path.join(EXAMPLES, k)).stdout)]
    for m in MANIFESTS:
        with open(os.path.join(EXAMPLES, m)) as f:
            docs += [(m, *d) for d in documents(f.read())]
    assert len(docs) > 30, len(docs)
    assert sum(1 for d in docs if d[2] == "SealedSecret") == 2, "both Kotaemon SealedSecrets"
    skipped, refused = [], []
    for source, gv, kind, name, doc in docs:
        if not served(env.api, gv, kind):
            skipped.append(f"{source}: {gv} {kind} {name}")
            continue
        p = env.api.kubectl("apply", "--dry-run=server", "-f", "-", input=doc, check=False)
        if p.returncode != 0:
            refused.append(f"{source}: {gv} {kind} {name}: {p.stderr.strip()}")
    version = env.api.ok("GET", "/version")["gitVersion"]
    print(f"examples: {len(docs) - len(skipped)} objects accepted by a server-side dry run on "
          f"{version}; skipped, newer than the server: {skipped}")
    assert refused == []
    # only kinds this server predates are skipped: PodDisruptionBudget is policy/v1 since
    # Kubernetes 1.21 (kept: current clusters require it)
    assert skipped == ["kustomize/production: policy/v1 PodDisruptionBudget unseal-controller"], \
        skipped


def rules(api, ns):
    """(resource, resourceNames, verbs) the ServiceAccount may use in ns, from
    `kubectl auth can-i --list` as the ServiceAccount itself."""
    p = api.kubectl("--kubeconfig", api.sa_kubeconfig, "auth", "can-i", "--list", "-n", ns)
    out = set()
    for line in p.stdout.splitlines()[1:]:
        m = re.match(r"^(\S+)\s+\[\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$", line)
        if m:
            out.add((m.group(1), m.group(2), m.group(3)))
    return out


SELF = {("selfsubjectaccessreviews.authorization.k8s.io", "", "create"),
        ("selfsubjectrulesreviews.authorization.k8s.io", "", "create")}
CLUSTER_WIDE = {("sealedsecrets.seal.dev", "", "get list watch"),
                ("sealedsecrets.seal.dev/status", "", "update patch"),
                ("secrets", "", "get list watch create update patch"),
                ("events", "", "create patch"),
                ("validatingwebhookconfigurations.admissionregistration.k8s.io",
                 "unseal-controller", "get patch")}


def test_serviceaccount_has_only_the_rules_it_needs_and_never_meets_a_403(env):
    # everything the controller does: elect a leader, make and publish a key, unseal, report
    # status and events, renew the key, put back a deleted Secret
    ctl = env.controller("--leader-elect", "--lease-duration", "3s", "--renew-deadline", "2s",
                         "--retry-period", "500ms")
    wait_for(lambda: env.api.get("lease", "unseal-controller", "seal-system"), what="the Lease")
    env.apply(env.seal(secret("ok", data={"V": "1"})))
    wait_for(lambda: env.api.get("secret", "ok"), what="Secret app/ok")
    env.api.kubectl("delete", "secret", "ok", "-n", "app")
    wait_for(lambda: env.api.get("secret", "ok"), what="Secret app/ok put back")
    cm = env.api.get("configmap", "seal-public-keys", "seal-system")
    ctl.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: env.api.get("configmap", "seal-public-keys", "seal-system")["metadata"][
        "resourceVersion"] != cm["metadata"]["resourceVersion"], what="the renewed key published")
    wait_for(lambda: condition(env.api.get("sealedsecret", "ok"), "KeyCurrent") is not None,
             what="status")

    assert rules(env.api, "app") == CLUSTER_WIDE | SELF
    assert rules(env.api, "seal-system") == CLUSTER_WIDE | SELF | {
        ("configmaps", "", "create"), ("configmaps", "seal-public-keys", "get update patch"),
        ("leases.coordination.k8s.io", "", "create"),
        ("leases.coordination.k8s.io", "unseal-controller", "get update patch")}
    sa = ("--kubeconfig", env.api.sa_kubeconfig, "auth", "can-i")
    for args in (("delete", "secrets", "-n", "app"), ("create", "sealedsecrets", "-n", "app"),
                 ("get", "configmaps/other", "-n", "seal-system"), ("list", "pods", "-n", "app"),
                 ("delete", "leases/unseal-controller", "-n", "seal-system")):
        assert env.api.kubectl(*sa, *args, check=False).stdout.strip() == "no", args
    log = ctl.logs()
    assert not re.search(r"\b403\b|forbidden", log, re.I), \
        [ln for ln in log.splitlines() if re.search(r"\b403\b|forbidden", ln, re.I)][:5]


def restarts(ctl, resource):
    body = ctl.http("GET", "/metrics", metrics=True)[2].decode()
    m = re.search(r'^seal_watch_restarts_total\{resource="%s"\} (\S+)$' % resource, body, re.M)
    return float(m.group(1)) if m else 0.0


def test_watch_expired_by_compaction_relists_and_loses_no_change(env):
    ctl = env.controller()
    for name, value in (("kept", "1"), ("edited", "old"), ("removed", "x")):
        env.apply(env.seal(secret(name, data={"V": value})))
    for name in ("kept", "edited", "removed"):
        wait_for(lambda n=name: env.api.get("secret", n), what=f"Secret app/{name}")
    edited = env.api.get("sealedsecret", "edited")
    before = restarts(ctl, "sealedsecrets")

    # The controller is frozen while the API server restarts (its watches end) and changes
    # are made; etcd is compacted past the resourceVersion it last saw. Thawed, it must
    # watch from that resourceVersion, be told it expired (410), list again and act on
    # every change of the gap.
    ctl.proc.send_signal(signal.SIGSTOP)
    try:
        env.api.kubectl("create", "configmap", "bump", "-n", "app")
        env.api.restart()
        new = env.seal(secret("edited", data={"V": "new"}))
        new["metadata"]["resourceVersion"] = edited["metadata"]["resourceVersion"]
        env.apply(new, "replace")
        env.apply(env.seal(secret("added", data={"V": "2"})))
        env.api.kubectl("delete", "sealedsecret", "removed", "-n", "app")
        rev = env.api.compact()
    finally:
        ctl.proc.send_signal(signal.SIGCONT)

    wait_for(lambda: decoded(env.api.get("secret", "edited") or {}) == {"V": "new"}, timeout=60,
             what="the edit made during the gap")
    wait_for(lambda: decoded(env.api.get("secret", "added") or {}) == {"V": "2"},
             what="the SealedSecret added during the gap")
    wait_for(lambda: env.api.get("secret", "removed") is None,
             what="the Secret of the SealedSecret deleted during the gap collected")
    assert decoded(env.api.get("secret", "kept")) == {"V": "1"}
    log = ctl.logs()
    assert re.search(r'msg="watch restarted" resource=sealedsecrets reason=expired', log), \
        (rev, [ln for ln in log.splitlines() if "watch" in ln][-10:])
    assert restarts(ctl, "sealedsecrets") >= before + 1
    for name in ("edited", "added"):
        ss = env.api.get("sealedsecret", name)
        assert condition(ss, "Synced")["status"] == "True"
        assert ss["status"]["observedGeneration"] == ss["metadata"]["generation"]



def apiserver_count(api, resource, verb, code):
    """apiserver_request_total summed for one resource, verb and code."""
    status, _h, text = api.exchange("GET", "/metrics", raw=True)
    assert status == 200
    total = 0.0
    for m in re.finditer(r"^apiserver_request_total\{([^}]*)\} (\S+)$", text.decode(), re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if (labels.get("resource"), labels.get("verb"), labels.get("code")) == \
                (resource, verb, code):
            total += float(m.group(2))
    return total


def test_continue_token_expired_mid_list_starts_the_list_again(env):
    # more SealedSecrets than one page of the controller's lists (500)
    n = 1100
    ctl = env.controller()
    sealed = env.seal_many([secret(f"c{i}", data={"V": str(i)}) for i in range(n)])
    for i in range(0, n, 250):
        env.apply_all(sealed[i:i + 250])
    unsealed = lambda: len([s for s in env.api.objects("secrets", None, "app")  # noqa: E731
                            if s["metadata"]["name"].startswith("c")])
    wait_for(lambda: unsealed() == n, timeout=240, interval=1, what=f"{n} Secrets")
    rc, _ = ctl.stop()
    assert rc == 0

    # A controller held to one request per 2 s lists page by page; etcd is compacted
    # between its first and second page, so the second page's continue token has expired.
    lists = apiserver_count(env.api, "sealedsecrets", "LIST", "200")
    expired = apiserver_count(env.api, "sealedsecrets", "LIST", "410")
    slow = env.controller("--qps", "0.5", "--burst", "1", name="slow", ready=False)
    wait_for(lambda: apiserver_count(env.api, "sealedsecrets", "LIST", "200") > lists,
             timeout=60, interval=0.02, what="the first page")
    # compacted past the first page's resourceVersion (a compaction keeps the revision it
    # is made at: one write first)
    env.api.kubectl("create", "configmap", "bump", "-n", "app")
    env.api.compact()
    # a change made while the list is started again is not lost
    edited = env.seal(secret("c7", data={"V": "edited"}))
    edited["metadata"]["resourceVersion"] = env.api.get("sealedsecret", "c7")["metadata"][
        "resourceVersion"]
    env.apply(edited, "replace")
    slow.wait_ready(timeout=180)
    assert apiserver_count(env.api, "sealedsecrets", "LIST", "410") > expired, \
        "the second page was not refused: the compaction came too late"
    assert re.search(r"sealedsecrets: restarting \(expired\)", slow.logs()), \
        [ln for ln in slow.logs().splitlines() if "watch" in ln][-10:]
    wait_for(lambda: decoded(env.api.get("secret", "c7")) == {"V": "edited"}, timeout=60,
             what="the edit made during the re-list")


PROXY = "/api/v1/namespaces/seal-system/services/{}/proxy/v1/cert.pem"


def test_developer_access_is_opt_in_and_reaches_the_controllers_api_port_only(env):
    """examples/deploy/developer-access grants a group the service proxy to the controller's
    "http" port, the way `seal verify` and `seal reseal` reach it, and nothing else."""
    env.api.kubectl("create", "-f", os.path.join(EXAMPLES, "deploy", "service.yaml"))
    # no endpoints controller runs here (tests/kube-real/README.md): an Endpoints without
    # addresses, so that an authorized proxy request is answered 503 "no endpoints available"
    env.api.kubectl("create", "-f", "-", input='{"apiVersion": "v1", "kind": "Endpoints", '
                    '"metadata": {"name": "unseal-controller", "namespace": "seal-system"}}')
    alice = ("--as=alice", "--as-group=seal-developers")
    bob = ("--as=bob", "--as-group=other-team")

    def can(who, verb, what, *extra, ns="seal-system"):
        p = env.api.kubectl("auth", "can-i", verb, what, *extra, "-n", ns, *who, check=False)
        return p.stdout.strip()

    def proxied(who, name):
        """The API server's answer to a proxy request as who: 403 when RBAC refuses it,
        503 (no endpoints: no controller Pod runs here) once it is authorized."""
        p = env.api.kubectl("get", "--raw", PROXY.format(name), *who, check=False)
        assert p.returncode != 0, p.stdout
        m = re.search(r"\b(403|503)\b|forbidden|no endpoints", p.stderr, re.I)
        assert m, p.stderr
        return "403" if re.search(r"\b403\b|forbidden", p.stderr, re.I) else "503"

    ours = ("services/http:unseal-controller:http", "--subresource=proxy")
    # the shipped RBAC (examples/deploy) grants the proxy to no one
    assert can(alice, "create", *ours) == "no"
    assert can(alice, "get", *ours) == "no"
    assert proxied(alice, "http:unseal-controller:http") == "403"

    p = env.api.kubectl("apply", "-k", os.path.join(EXAMPLES, "deploy", "developer-access"))
    assert "role.rbac.authorization.k8s.io/seal-controller-api" in p.stdout, p.stdout
    try:
        for verb in ("create", "get"):
            assert can(alice, verb, *ours) == "yes", verb
            assert can(alice, verb, "services/unseal-controller:http", "--subresource=proxy") \
                == "yes", verb
        assert proxied(alice, "http:unseal-controller:http") == "503"
        assert proxied(alice, "unseal-controller:http") == "503"
        # the other ports of the same Service, another Service, other verbs and resources
        for name in ("unseal-controller", "http:unseal-controller:metrics",
                     "unseal-controller:metrics", "https:unseal-controller:admission",
                     "http:kube-dns:http"):
            assert can(alice, "create", f"services/{name}", "--subresource=proxy") == "no", name
            assert can(alice, "get", f"services/{name}", "--subresource=proxy") == "no", name
        assert proxied(alice, "http:unseal-controller:metrics") == "403"
        for args in (("delete", *ours), ("update", *ours), ("get", "services/unseal-controller"),
                     ("get", "secrets"), ("list", "secrets"), ("get", "sealedsecrets"),
                     ("create", "pods/portforward"), ("create", "pods/exec")):
            assert can(alice, *args) == "no", args
        assert can(alice, "create", *ours, ns="app") == "no"
        # only the group named in the RoleBinding
        assert can(bob, "create", *ours) == "no"
        assert proxied(bob, "http:unseal-controller:http") == "403"
    finally:
        env.api.kubectl("delete", "-k", os.path.join(EXAMPLES, "deploy", "developer-access"))
        env.api.kubectl("delete", "endpoints", "unseal-controller", "-n", "seal-system")


PLUGIN = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "runs"), "a") as f:
    f.write(os.environ["KUBERNETES_EXEC_INFO"] + "\\n")
with open(os.path.join(here, "status.json")) as f:
    status = json.load(f)
print(json.dumps({{"apiVersion": json.loads(os.environ["KUBERNETES_EXEC_INFO"])["apiVersion"],
                  "kind": "ExecCredential", "status": status}}))
"""


def test_seal_authenticates_through_a_credential_plugin(env, tmp_path):
    """seal keys list against the real server with neither token nor certificate in the
    kubeconfig: a plugin prints the administrator's token (v1beta1), then the administrator's
    client certificate and key (v1); a token the server refuses runs the plugin once more."""
    env.controller()
    want = sorted(k["metadata"]["name"] for k in
                  env.api.objects("secrets", namespace="seal-system")
                  if (k["metadata"].get("labels") or {}).get("seal.dev/key") is not None)
    assert want
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN.format(python=sys.executable))
    plugin.chmod(0o755)
    pki = os.path.join(env.api.folder, "pki")
    kubeconfig = tmp_path / "kubeconfig"

    def configure(api, status):
        (tmp_path / "status.json").write_text(json.dumps(status))
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": env.api.url,
                                                   "certificate-authority": env.api.ca}}],
            "users": [{"name": "u", "user": {"exec": {
                "apiVersion": api, "command": "./plugin.py", "interactiveMode": "Never",
                "provideClusterInfo": True}}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))

    def keys_list(check=True):
        e = dict(os.environ, HOME=str(tmp_path))
        e.pop("KUBECONFIG", None)
        p = subprocess.run([SEAL, "keys", "list", "-o", "json", "--kubeconfig", str(kubeconfig)],
                           capture_output=True, text=True, env=e, timeout=60, check=False)
        assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
        assert (p.returncode == 0) == check, p.stderr
        return p

    def runs():
        with open(tmp_path / "runs") as f:
            lines = [json.loads(line) for line in f]
        os.remove(tmp_path / "runs")
        return lines

    configure("client.authentication.k8s.io/v1beta1",
              {"token": env.api.token, "expirationTimestamp": "2999-01-01T00:00:00Z"})
    p = keys_list()
    assert sorted(k["secret"] for k in json.loads(p.stdout)["keys"]) == want, p.stdout
    (info,) = runs()
    assert info["spec"]["cluster"]["server"] == env.api.url
    assert env.api.token not in p.stderr

    with open(os.path.join(pki, "admin.crt")) as c, open(os.path.join(pki, "admin.key")) as k:
        configure("client.authentication.k8s.io/v1",
                  {"clientCertificateData": c.read(), "clientKeyData": k.read()})
    p = keys_list()
    assert sorted(k["secret"] for k in json.loads(p.stdout)["keys"]) == want, p.stdout
    assert len(runs()) == 1

    configure("client.authentication.k8s.io/v1", {"token": "not-a-token-of-this-cluster"})
    p = keys_list(check=False)
    assert "401" in p.stderr or "Unauthorized" in p.stderr, p.stderr
    assert len(runs()) == 2  # the refused token, then once more
