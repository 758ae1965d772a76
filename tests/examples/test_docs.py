"""The docs run as written: the shell blocks of README.md, docs/gitops.md,
docs/keys.md and examples/kotaemon/README.md, in order, in a temporary clone of the repository (with an
`origin` to push to), by a user whose PATH holds this build's `seal`,
`kubectl seal` and kubectl, and whose ~/.kube/config names the clusters the
document names. Each cluster is a stand-in API server with the controller's
overlay applied (what Argo CD's controller Application or `kubectl apply -k`
would create) and unseal-controller running against it as its pod would, its
Service's Endpoints pointing at it. How blocks and placeholders are read is in
docrun.py; a block fails the test when any command in it fails. After the
commands, the test does what Argo CD would do with what was pushed, and checks
that the Secrets the documents promise appear with the values that were sealed."""

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys

import pytest

from docrun import blocks, copy_repository, run_block

from conftest import (EXAMPLES, ROOT, armored_keys, controller_binary, key_id,
                      kustomize, need_kubectl, sealed_key_ids, seal_cli, to_objects, wait_for)
from test_e2e_kotaemon import Cluster as E2ECluster, admin_key_secret, values

sys.path.insert(0, str(ROOT / "tests" / "cli"))
import bitnami_encoder as bn  # noqa: E402


class Cluster(E2ECluster):
    """One stand-in cluster with the controller installed from an overlay of
    examples/kustomize and unseal-controller running as its pod."""

    def __init__(self, tmp, name):
        super().__init__(tmp / name)
        self.name = name
        self.ctl = None

    def install(self, overlay):
        _, text = kustomize(EXAMPLES / "kustomize" / overlay, self.tmp)
        self.kubectl("apply", "-f", "-", input=text)

    def start_controller(self, binary):
        """The controller's pod: its HTTP API where the Service's Endpoints say."""
        self.ctl = self.controller(binary)
        self.ok("POST", "/api/v1/namespaces/seal-system/endpoints", {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "unseal-controller", "namespace": "seal-system"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                         "ports": [{"name": "http", "port": self.ctl.http_port}]}]})
        wait_for(lambda: self.ctl.poll() is None
                 and self.get("configmap", "seal-public-keys", "seal-system"),
                 f"the {self.name} controller to publish its key")

    def public_key(self):
        cm = self.get("configmap", "seal-public-keys", "seal-system")
        return armored_keys(cm["data"]["cert.pem"], "PUBLIC")[0]

    def controller_log(self):
        return (self.tmp / "controller.log").read_text()


def kubeconfig(clusters, path, current):
    """One kubeconfig with a context (and cluster and user) per cluster, named
    like it, as a user who works with several clusters has."""
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {},
              "clusters": [], "users": [], "contexts": [], "current-context": current}
    for c in clusters:
        view = json.loads(c.kubectl("config", "view", "--flatten", "--raw", "-o", "json").stdout)
        merged["clusters"].append({"name": c.name, "cluster": view["clusters"][0]["cluster"]})
        merged["users"].append({"name": c.name, "user": view["users"][0]["user"]})
        merged["contexts"].append({"name": c.name, "context": {"cluster": c.name, "user": c.name}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1))
    path.chmod(0o600)


class User:
    """A user's shell: HOME with ~/.kube/config and a git identity, PATH with
    seal, kubectl-seal and kubectl, working in a clone of the repository."""

    def __init__(self, tmp, clone=True):
        """clone: work in a clone of this repository (else in an empty one of
        the user's own, with an origin too)."""
        self.tmp = tmp
        self.home = tmp / "home"
        self.bin = tmp / "bin"
        self.repo = tmp / "work" / "seal"
        self.scripts = tmp / "scripts"
        for d in (self.home, self.bin, self.repo, self.scripts):
            d.mkdir(parents=True)
        seal = seal_cli()
        os.symlink(seal, self.bin / "seal")
        os.symlink(seal, self.bin / "kubectl-seal")
        os.symlink(need_kubectl(), self.bin / "kubectl")
        self.env = {
            "HOME": str(self.home), "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8", "TMPDIR": str(tmp), "TERM": "dumb", "GIT_EDITOR": "true",
            "GIT_CONFIG_NOSYSTEM": "1"}
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = Docs Test\n\temail = docs-test@example.com\n"
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
        self.origin = copy_repository(ROOT if clone else None, self.repo, self.env)

    def git(self, *args, cwd=None):
        return subprocess.run(["git", *args], cwd=cwd or self.repo, env=self.env,
                              capture_output=True, text=True, check=True).stdout

    def run(self, doc, values, hooks=None):
        """Runs the doc's blocks in order. hooks: {text: fn}, fn runs after the
        block that contains text, run or shown (what the cluster or Argo CD does
        meanwhile); each must find its block. Returns the blocks that ran and
        those only shown."""
        ran, shown, hooks, used = [], [], dict(hooks or {}), set()
        for block in blocks(ROOT / doc, ROOT):
            if block.skip is not None:
                shown.append(block)
            else:
                block.output = run_block(block, values, self.repo, self.env, self.scripts).stdout
                ran.append(block)
            for text, hook in hooks.items():
                if text in block.text:
                    hook()
                    used.add(text)
        assert used == set(hooks), f"{doc}: no block holds {set(hooks) - used}"
        return ran, shown

    def pushed(self, name):
        """What Argo CD would check out: a fresh clone of origin."""
        dest = self.tmp / "argocd" / name
        self.git("clone", "-q", str(self.origin), str(dest), cwd=self.tmp)
        return dest


def argocd_sync(cluster, checkout, path, tmp):
    """Argo CD's part: render the kustomization from the pushed tree and apply it."""
    objects, text = kustomize(checkout / path, tmp)
    cluster.kubectl("apply", "-f", "-", input=text)
    return objects


def secret_values(cluster, name, ns, want):
    def got():
        s = cluster.get("secret", name, ns)
        if not s:
            return None
        d = {k: base64.b64decode(v).decode() for k, v in s.get("data", {}).items()}
        return d if d == want else None
    return wait_for(got, f"the Secret {ns}/{name} in {cluster.name} with the sealed values")


@pytest.fixture
def tools():
    need_kubectl()
    for tool in ("git", "openssl", "age", "age-keygen"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    return controller_binary()


@pytest.fixture
def clusters(tmp_path, tools):
    """clusters(name, ...): new stand-in clusters, stopped after the test."""
    made = []

    def make(*names):
        for name in names:
            made.append(Cluster(tmp_path / "clusters", name))
        return made[-len(names):]
    try:
        yield make
    finally:
        for c in made:
            c.close()


def test_kotaemon_walkthrough(tmp_path, tools, clusters):
    """examples/kotaemon/README.md, every block but Argo CD's. Staging is a new
    cluster whose controller made its own key; production already runs the
    key the committed production SealedSecret is sealed for (the test key in
    tests/examples/keys, added as an admin would add a restored key)."""
    staging, production = clusters("staging", "production")
    staging.install("staging")
    production.install("production")
    _kid, key_secret = admin_key_secret("production")
    production.kubectl("create", "-f", "-", input=json.dumps(key_secret))
    for c in (staging, production):
        c.start_controller(tools)
    test_prod_key = production.public_key()

    user = User(tmp_path)
    kubeconfig([staging, production], user.home / ".kube" / "config", "staging")
    creds = {"OPENAI_API_KEY": "sk-docs-" + secrets.token_hex(12),
             "DB_PASSWORD": "db-" + secrets.token_hex(12)}
    user.env.update(creds)
    # `git revert <commit>`: the commit to undo, the re-seal of step 5.
    ran, shown = user.run("examples/kotaemon/README.md",
                          {"commit": "$(git log -1 --format=%h -- examples/kotaemon/environments/production)"})

    # Every block ran but the ones that say why not.
    assert len(ran) >= 7, [b.where() for b in ran]
    assert all("argocd" in b.skip.lower() for b in shown), [(b.where(), b.skip) for b in shown]

    # Step 1 fetched the staging cluster's own key; step 3 pushed the staging
    # SealedSecret sealed for it.
    checkout = user.pushed("after-walkthrough")
    staging_cert = (checkout / "examples/kotaemon/environments/staging/cert.pem").read_text()
    assert armored_keys(staging_cert, "PUBLIC") == [staging.public_key()]
    # The pre-commit hook is in place, and refuses a plain Secret.
    plain = user.repo / "plain-secret.yaml"
    plain.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: oops\ndata:\n  K: dg==\n")
    user.git("add", "plain-secret.yaml")
    refused = subprocess.run(["git", "commit", "-q", "-m", "oops"], cwd=user.repo, env=user.env,
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "plain-secret.yaml" in refused.stderr, refused.stderr
    user.git("rm", "-q", "--cached", "plain-secret.yaml")

    # Step 5 rotated production's key, fetched the new key and re-sealed for
    # it; step 6 reverted that commit, so the pushed production files are
    # again sealed for the older key, which still opens them.
    log = user.git("log", "--format=%s", "origin/main")
    assert "kotaemon: re-seal production for the new key" in log
    assert log.splitlines()[0].startswith('Revert "kotaemon: re-seal production')
    resealed = user.git("show", "HEAD~1:examples/kotaemon/environments/production/cert.pem")
    new_key = armored_keys(resealed, "PUBLIC")[0]
    assert new_key != test_prod_key and new_key == production.public_key()
    resealed_ss = to_objects(user.git(
        "show", "HEAD~1:examples/kotaemon/environments/production/sealedsecret.yaml"), tmp_path)[0]
    for value in resealed_ss["spec"]["encryptedData"].values():
        assert sealed_key_ids(value) == [key_id(new_key)]

    # Argo CD syncs what was pushed: each cluster unseals its own environment.
    argocd_sync(staging, checkout, "examples/kotaemon/environments/staging", tmp_path)
    secret_values(staging, "kotaemon-llm", "kotaemon", creds)
    argocd_sync(production, checkout, "examples/kotaemon/environments/production", tmp_path)
    secret_values(production, "kotaemon-llm", "kotaemon", values("production"))
    for c in (staging, production):
        assert c.ctl.poll() is None, c.controller_log()


def bitnami_world(cluster, repo, user):
    """A cluster and repository coming from Bitnami sealed-secrets: its CRD, a
    key Secret in kube-system, the SealedSecrets "api" and "db" in namespace
    app with the Secrets its controller made of them, and the same objects
    committed under apps/ in the user's repository. Returns the plain values
    and the uids of those Secrets."""
    cluster.kubectl("apply", "-f", "-", input=json.dumps(bn.CRD))
    wait_for(lambda: cluster.kubectl("get", "sealedsecrets.bitnami.com", "-A",
                                     check=False).returncode == 0, "the Bitnami CRD served")
    cluster.kubectl("create", "namespace", "app")
    key = bn.new_key()
    cluster.kubectl("create", "-f", "-", input=json.dumps(bn.key_secret("sealed-secrets-keyab12", key)))
    uids, plain = {}, {"api": {"token": "t0k3n-" + secrets.token_hex(6)},
             "db": {"password": "pw-" + secrets.token_hex(6), "user": "app"}}
    objs = [bn.sealed_secret(key, "api", "app", plain["api"]),
            bn.sealed_secret(key, "db", "app", plain["db"], scope="namespace-wide")]
    for obj in objs:
        cluster.kubectl("create", "-f", "-", input=json.dumps(obj))
        uid = cluster.get("sealedsecrets.bitnami.com", obj["metadata"]["name"], "app")["metadata"]["uid"]
        made = cluster.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(
            bn.controller_secret(obj, uid, plain[obj["metadata"]["name"]])))
        uids[obj["metadata"]["name"]] = json.loads(made.stdout)["metadata"]["uid"]
        folder = repo / "apps" / obj["metadata"]["name"]
        folder.mkdir(parents=True)
        (folder / "sealedsecret.yaml").write_text(bn.to_yaml(obj) + "\n")
    user.git("add", "apps")
    user.git("commit", "-q", "-m", "apps: the SealedSecrets sealed with kubeseal")
    user.git("push", "-q")
    return plain, uids


def test_gitops_guide(tmp_path, tools, clusters):
    """docs/gitops.md, every block but those that need Argo CD, a running pod or
    authorization. prod-eu is the cluster the guide installs the controller on
    (with `kubectl apply -k`), where Argo CD is installed (its namespace and
    argocd-cm) and Bitnami sealed-secrets ran; prod-us already runs seal's
    controller, for "Several clusters"."""
    eu, us = clusters("prod-eu", "prod-us")
    us.install("staging")
    us.start_controller(tools)
    eu.kubectl("create", "namespace", "argocd")
    eu.kubectl("create", "configmap", "argocd-cm", "-n", "argocd")

    user = User(tmp_path)
    kubeconfig([eu, us], user.home / ".kube" / "config", "prod-eu")
    plain, uids = bitnami_world(eu, user.repo, user)
    age_identity = user.home / ".config" / "age" / "key.txt"
    age_identity.parent.mkdir(parents=True)
    subprocess.run(["age-keygen", "-o", str(age_identity)], env=user.env, capture_output=True, check=True)
    recipient = subprocess.run(["age-keygen", "-y", str(age_identity)], env=user.env,
                               capture_output=True, text=True, check=True).stdout.strip()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    plain_secret = private / "secret.yaml"
    plain_secret.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\n"
                            "stringData:\n  PASSWORD: " + secrets.token_hex(8) + "\n")

    hooks = {
        # the Deployment's pod, which the test API server does not run
        "kubectl apply -k examples/kustomize/staging": lambda: eu.start_controller(tools),
        # Argo CD's sync of the merged branch
        "argocd app sync my-app": lambda: eu.kubectl("apply", "-R", "-f", str(user.repo / "apps")),
    }
    ran, shown = user.run("docs/gitops.md", {
        "age-recipient": recipient, "age-identity-file": str(age_identity),
        "date": "$(date +%F)", "secret.yaml": str(plain_secret), "namespace": "app", "name": "api",
    }, hooks)
    assert len(ran) >= 15, [b.where() for b in ran]
    assert len(shown) <= 6, [(b.where(), b.skip) for b in shown]

    # Install: Argo CD learnt both health checks; the developers' Role is there.
    cm = eu.get("configmap", "argocd-cm", "argocd")["data"]
    assert "resource.customizations.health.seal.dev_SealedSecret" in cm
    assert "resource.customizations.health.argoproj.io_Application" in cm
    assert eu.get("role", "seal-controller-api", "seal-system")
    # Backup and restore: the encrypted backup is there, the plain file is not.
    backups = list(user.repo.glob("seal-keys-*.pem.age"))
    assert len(backups) == 1 and not (user.repo / "seal-keys.pem").exists()
    # Several clusters: one value that both clusters' keys open.
    both = to_objects((user.repo / "sealedsecret.yaml").read_text(), tmp_path)[0]
    assert sealed_key_ids(both["spec"]["encryptedData"]["PASSWORD"]) == \
        [key_id(eu.public_key()), key_id(us.public_key())]
    # Bitnami: the repository migrated on its branch, the live Secrets taken
    # over with their data, never deleted on the way (the same objects), no
    # Bitnami object left.
    assert user.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "move-to-seal"
    assert "seal.dev/v1" in (user.repo / "apps" / "api" / "sealedsecret.yaml").read_text()
    for name, want in plain.items():
        secret_values(eu, name, "app", want)

        def owned(n=name):
            refs = eu.get("secret", n, "app")["metadata"].get("ownerReferences") or []
            return [(r["apiVersion"], r["kind"]) for r in refs] == [("seal.dev/v1", "SealedSecret")]
        wait_for(owned, f"seal's controller owning the Secret app/{name}")
        assert eu.get("secret", name, "app")["metadata"]["uid"] == uids[name]
    assert json.loads(eu.kubectl("get", "sealedsecrets.bitnami.com", "-A", "-o", "json").stdout)["items"] == []
    for c in (eu, us):
        assert c.ctl.poll() is None, c.controller_log()


def test_readme(tmp_path, tools, clusters):
    """README.md's "Using it", in a GitOps repository of the user's own, with
    two clusters running seal's controller."""
    eu, us = clusters("prod-eu", "prod-us")
    for c in (eu, us):
        c.install("staging")
        c.start_controller(tools)
    user = User(tmp_path, clone=False)
    kubeconfig([eu, us], user.home / ".kube" / "config", "prod-eu")
    password = "pw-" + secrets.token_hex(8)
    user.env["DB_PASSWORD"] = password
    ran, shown = user.run("README.md", {})
    assert len(ran) == 1 and len(shown) == 3, [(b.where(), b.skip) for b in ran + shown]
    assert not (user.repo / "secret.yaml").exists()
    sealed = to_objects((user.repo / "sealed.yaml").read_text(), tmp_path)[0]
    assert sealed["metadata"]["namespace"] == "app"
    assert sealed_key_ids(sealed["spec"]["encryptedData"]["PASSWORD"]) == \
        [key_id(eu.public_key()), key_id(us.public_key())]
    assert (user.repo / ".git" / "hooks" / "pre-commit").exists()
    # Applied to either cluster, it unseals to the password.
    for c in (eu, us):
        c.kubectl("create", "namespace", "app")
        c.kubectl("apply", "-f", str(user.repo / "sealed.yaml"))
        secret_values(c, "db", "app", {"PASSWORD": password})


def key_current(cluster, name, ns):
    obj = cluster.get("sealedsecret", name, ns) or {}
    return any(c["type"] == "KeyCurrent" and c["status"] == "True"
               and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
               for c in obj.get("status", {}).get("conditions", []))


def test_keys_runbooks(tmp_path, tools, clusters):
    """docs/keys.md: rotate, back up, re-seal the repository through the
    controller and offline, and restore into a new cluster (context dr) where
    the repository's SealedSecret opens with the restored keys."""
    prod, dr = clusters("prod", "dr")
    prod.install("staging")
    prod.start_controller(tools)
    prod.kubectl("create", "namespace", "app")
    user = User(tmp_path, clone=False)
    kubeconfig([prod, dr], user.home / ".kube" / "config", "prod")
    password = "pw-" + secrets.token_hex(8)
    (user.repo / "app").mkdir()
    cert = tmp_path / "prod.pem"
    cert.write_text(prod.get("configmap", "seal-public-keys", "seal-system")["data"]["cert.pem"])
    subprocess.run([seal_cli(), "--cert", str(cert), "-w", str(user.repo / "app" / "sealedsecret.yaml")],
                   input="apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\n"
                         f"stringData:\n  PASSWORD: {password}\n",
                   text=True, capture_output=True, check=True)
    user.git("add", "app")
    user.git("commit", "-q", "-m", "app: the database password")
    manifest = user.repo / "app" / "sealedsecret.yaml"
    prod.kubectl("apply", "-f", str(manifest))
    secret_values(prod, "db", "app", {"PASSWORD": password})
    first_key = prod.public_key()
    newest = tmp_path / "newest.pem"

    def gitops_apply():
        prod.kubectl("apply", "-f", str(manifest))
        wait_for(lambda: key_current(prod, "db", "app"), "KeyCurrent=True after the re-seal")
        newest.write_text(prod.get("configmap", "seal-public-keys", "seal-system")["data"]["cert.pem"])

    def new_cluster():
        """Step 2 and 3 of the recovery: the controller starts, GitOps applies."""
        dr.install("staging")
        dr.start_controller(tools)
        dr.kubectl("create", "namespace", "app")
        dr.kubectl("apply", "-f", str(manifest))
        secret_values(dr, "db", "app", {"PASSWORD": password})

    ran, shown = user.run("docs/keys.md", {
        "backup.pem": "keys-$(date +%F).pem", "newest.pem": str(newest), "new-cluster": "dr",
    }, {"git commit -qam": gitops_apply, "seal keys restore": new_cluster})
    assert len(ran) == 10 and not shown, [b.where() for b in ran + shown]

    # Rotated: the repository's value is sealed for the new key only, and
    # every SealedSecret was current (the verification printed nothing).
    new_key = prod.public_key()
    assert new_key != first_key
    resealed = to_objects(manifest.read_text(), tmp_path)[0]
    assert sealed_key_ids(resealed["spec"]["encryptedData"]["PASSWORD"]) == [key_id(new_key)]
    verify = next(b for b in ran if "jq -r" in b.text)
    assert verify.output == "", verify.output
    # The new cluster runs the restored keys (no new one) and seals with the newest.
    keys = json.loads(dr.kubectl("get", "secrets", "-n", "seal-system", "-l", "seal.dev/key",
                                 "-o", "json").stdout)["items"]
    assert len(keys) == 2
    assert dr.public_key() == new_key
    for c in (prod, dr):
        assert c.ctl.poll() is None, c.controller_log()


def test_kustomize_scopes(tmp_path, tools):
    """examples/kustomize/README.md: sealing for an overlay that renames, offline."""
    user = User(tmp_path)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kotaemon-llm\n  namespace: kotaemon\n"
        "stringData:\n  OPENAI_API_KEY: sk-" + secrets.token_hex(8) + "\n")
    ran, _shown = user.run("examples/kustomize/README.md", {
        "secret.yaml": str(private / "secret.yaml"), "sealedsecret.yaml": "preview.yaml"})
    assert len(ran) == 1
    sealed = to_objects((user.repo / "preview.yaml").read_text(), tmp_path)[0]
    assert sealed["metadata"]["annotations"]["seal.dev/scope"] == "namespace-wide"


# The documents the tests above run; every other Markdown file's shell blocks
# must say why they are not run.
RUN = {"README.md", "docs/gitops.md", "docs/keys.md", "examples/kotaemon/README.md",
       "examples/kustomize/README.md"}


def test_every_shell_block_runs_or_says_why():
    names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others",
                            "--exclude-standard", "*.md"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert RUN <= set(names)
    unmarked = [b.where() for name in names if name not in RUN and (ROOT / name).exists()
                for b in blocks(ROOT / name, ROOT) if b.skip is None]
    assert not unmarked, "shell blocks no test runs: run them in test_docs.py or mark them " \
                         "'# not run by the docs test: REASON':\n" + "\n".join(unmarked)
