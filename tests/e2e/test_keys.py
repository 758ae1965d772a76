"""Key lifecycle against the test API server: renewal (period, SIGUSR1,
seal keys rotate), admin-added and compromised keys, KeyCurrent, seal reseal
(through /v1/rotate and offline), backup and restore into a fresh cluster,
and the not-backed-up gauge."""

import base64
import calendar
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, SEAL, Env, condition, decoded, secret, wait_for

EXAMPLE_KEYS = os.path.join(ROOT, "tests", "examples", "keys")
EXAMPLE_ENVS = os.path.join(ROOT, "examples", "kotaemon", "environments")


def seal_cli(env, *args, check=True, input=None):
    if not SEAL or not os.path.exists(SEAL):
        pytest.skip("the seal command line tool is not built")
    e = dict(os.environ, KUBECONFIG=env.api.kubeconfig, HOME=env.api.home)
    e.pop("SEAL_CERT", None)
    p = subprocess.run([SEAL, *args], capture_output=True, text=True, env=e, timeout=60,
                       input=input)
    if check:
        assert p.returncode == 0, f"seal {' '.join(args)}: {p.stderr}"
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p


def key_list(env):
    return json.loads(seal_cli(env, "keys", "list", "-o", "json").stdout)["keys"]


def key_ids(env):
    return [k["keyId"] for k in key_list(env)]


def cert_id(text):
    for line in text.splitlines():
        if line.startswith("Key-Id: "):
            return line.split(": ", 1)[1]
    raise AssertionError(f"no Key-Id in {text!r}")


def configmap_id(env):
    cm = env.api.get("configmap", "seal-public-keys", "seal-system")
    pem = (cm or {}).get("data", {}).get("cert.pem", "")
    return cert_id(pem) if "Key-Id" in pem else None


def value_ids(value):
    blob = base64.b64decode(value)
    return [blob[2 + 88 * i: 10 + 88 * i].hex() for i in range(blob[1])]


def sealed_ids(ss):
    return {i for v in ss["spec"]["encryptedData"].values() for i in value_ids(v)}


def key_current(env, name, ns="app", status="True", reason=None):
    def check():
        c = condition(env.api.get("sealedsecret", name, ns), "KeyCurrent")
        ok = c and c["status"] == status and (reason is None or c["reason"] == reason)
        return c if ok else None
    return wait_for(check, what=f"SealedSecret {ns}/{name} KeyCurrent={status} {reason or ''}")


def metric(ctl, name):
    body = ctl.http("GET", "/metrics", metrics=True)[2].decode()
    out = {}
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def new_key_after(env, before, timeout=20):
    """Waits for a key id not in before; returns the ids now."""
    return wait_for(lambda: (lambda ids: ids if set(ids) - set(before) else None)(key_ids(env)),
                    timeout, what="a new key")


def test_renewal_after_the_period_and_not_reset_by_a_restart(env):
    ctl = env.controller("--key-renew-period", "3s")
    first = [cert_id(ctl.cert())]
    ids = new_key_after(env, first, timeout=15)
    newest = ids[-1]
    wait_for(lambda: cert_id(ctl.cert()) == newest, what="cert.pem serves the new key")
    wait_for(lambda: configmap_id(env) == newest, what="ConfigMap serves the new key")
    ctl.stop()
    # a long period: the newest key is young, a restart makes no key
    ctl2 = env.controller("--key-renew-period", "1h")
    now = key_ids(env)
    time.sleep(2)
    assert key_ids(env) == now, "a restart must not renew a young key"
    ctl2.stop()
    # the period counts from the newest key's creation, not from the start: with the
    # newest key 6 s old and a 6 s period, a restarted controller renews at once
    newest_created = max(k["createdAt"] for k in key_list(env))
    created = calendar.timegm(time.strptime(newest_created, "%Y-%m-%dT%H:%M:%SZ"))
    time.sleep(max(0.0, created + 6.5 - time.time()))
    env.controller("--key-renew-period", "6s")
    new_key_after(env, now, timeout=3)
    for k in key_list(env):
        assert k["state"] == "active"  # renewal never relabels a key
    assert set(now) <= set(key_ids(env)), "no key is ever deleted"


def test_sigusr1_renews_and_every_sealed_secret_is_re_evaluated(env):
    ctl = env.controller()
    names = ["s1", "s2", "s3"]
    env.apply_all(env.seal_many([secret(n) for n in names]))
    for n in names:
        key_current(env, n)
    wait_for(lambda: all(env.api.get("secret", n) for n in names), what="Secrets")
    before = key_ids(env)
    stats = env.api.stats()
    ctl.proc.send_signal(signal.SIGUSR1)
    ids = new_key_after(env, before)
    assert len(ids) == 2
    for n in names:
        c = key_current(env, n, status="False", reason="OlderKey")
        assert before[0] in c["message"] and ids[-1] in c["message"]
    wait_for(lambda: cert_id(ctl.cert()) == ids[-1], what="cert.pem")
    wait_for(lambda: configmap_id(env) == ids[-1], what="ConfigMap")
    writes = env.api.writes(stats)
    # a new key Secret, the ConfigMap, status writes: never the unsealed Secrets
    assert not any(k.split(" ")[1] == "secrets" and k.split(" ")[0] != "create" for k in writes), writes
    assert writes.get("create secrets", 0) == 1, writes
    for n in names:
        assert decoded(env.api.get("secret", n)) == {"PASSWORD": "correct horse battery staple"}
    # the old key still unseals: a SealedSecret sealed for it syncs
    assert ctl.proc.poll() is None
    usage = metric(ctl, "seal_sealedsecrets_by_key")
    wait_for(lambda: metric(ctl, "seal_sealedsecrets_by_key").get(
        f'seal_sealedsecrets_by_key{{key_id="{before[0]}",state="active"}}') == 3, what="usage metric")
    assert usage is not None


def test_keys_rotate_and_keys_list(env):
    ctl = env.controller()
    env.apply_all(env.seal_many([secret("a"), secret("b")]))
    key_current(env, "a")
    keys = key_list(env)
    assert len(keys) == 1 and keys[0]["newest"] and keys[0]["sealedSecrets"] == 2
    assert keys[0]["state"] == "active" and keys[0]["backedUpAt"] is None
    p = seal_cli(env, "keys", "rotate")
    assert keys[0]["keyId"] in p.stdout and "renew-requested-at" in p.stdout
    secret_obj = env.api.get("secret", keys[0]["secret"], "seal-system")
    assert "seal.dev/renew-requested-at" in secret_obj["metadata"]["annotations"]
    ids = new_key_after(env, [keys[0]["keyId"]])
    assert len(ids) == 2
    wait_for(lambda: cert_id(ctl.cert()) == ids[-1], what="cert.pem")
    time.sleep(2)
    assert len(key_ids(env)) == 2, "one request makes one key"
    text = seal_cli(env, "keys", "list").stdout
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["KEY", "ID"]
    assert lines[1].startswith(ids[0] + " ") and lines[1].rstrip().endswith(" 2")
    assert lines[2].startswith(ids[1] + "*") and lines[2].rstrip().endswith(" 0")


def test_keys_rotate_wait_returns_when_the_new_key_is_published(env):
    env.controller()
    before = key_ids(env)
    p = seal_cli(env, "keys", "rotate", "--wait", "--timeout", "30s")
    ids = key_ids(env)
    assert len(ids) == len(before) + 1, (before, ids)
    new = (set(ids) - set(before)).pop()
    assert f"new key {new} (key secret seal-system/" in p.stdout, p.stdout
    # no waiting loop after it: what seal cert prints is the new key already
    assert cert_id(seal_cli(env, "cert").stdout) == new
    assert configmap_id(env) == new


def test_connection_flags_alone_reach_the_api_server(env):
    """kubectl's --server, --token and --certificate-authority without any kubeconfig
    (issue 17): the published key, the key list and a SealedSecret the controller unseals;
    a wrong token is refused by the API server and never printed."""
    ctl = env.controller()
    api = env.api
    flags = ["--server", api.url, "--token", api.token, "--certificate-authority", api.ca]
    e = dict(os.environ, KUBECONFIG=os.path.join(env.tmp, "no-such-kubeconfig"), HOME=env.tmp)
    for k in ("SEAL_CERT", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        e.pop(k, None)

    def cli(*args, input=None):
        p = subprocess.run([SEAL, *args, *flags], capture_output=True, text=True, env=e,
                           timeout=60, input=input)
        assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
        return p

    p = cli("cert")
    assert p.returncode == 0, p.stderr
    assert cert_id(p.stdout) == cert_id(ctl.cert())
    p = cli("keys", "list", "-o", "json")
    assert p.returncode == 0, p.stderr
    assert [k["keyId"] for k in json.loads(p.stdout)["keys"]] == [cert_id(ctl.cert())]
    p = cli("-o", "json", input=json.dumps(secret("by-flags", data={"V": "flags alone"})))
    assert p.returncode == 0, p.stderr
    env.apply(json.loads(p.stdout))
    assert decoded(wait_for(lambda: env.api.get("secret", "by-flags"),
                            what="Secret app/by-flags")) == {"V": "flags alone"}
    # the token is what authenticates: a wrong one is refused, and not printed
    wrong = "wrong-token-0123456789abcdef"
    p = subprocess.run([SEAL, "cert", "--server", api.url, "--token", wrong,
                        "--certificate-authority", api.ca], capture_output=True, text=True,
                       env=e, timeout=60)
    assert p.returncode == 2 and ("401" in p.stderr or "Unauthorized" in p.stderr), p.stderr
    assert wrong not in p.stderr


def test_admin_added_key_used_without_restart(env):
    ctl = env.controller()
    old = cert_id(ctl.cert())
    time.sleep(1.1)  # a creation time after the controller's key
    d = env.tmp
    seal_cli(env, "keys", "generate", "--private-key", f"{d}/admin.key", "--cert",
             f"{d}/admin.pem")
    p = seal_cli(env, "keys", "restore", "-f", f"{d}/admin.key")
    admin = cert_id(open(f"{d}/admin.pem").read())
    assert f"key {admin}: restored" in p.stdout
    wait_for(lambda: cert_id(ctl.cert()) == admin, what="cert.pem serves the admin's key")
    wait_for(lambda: configmap_id(env) == admin, what="ConfigMap serves the admin's key")
    ss = env.seal(secret("by-admin"), cert=f"{d}/admin.pem")
    env.apply(ss)
    wait_for(lambda: env.api.get("secret", "by-admin"), what="Secret by-admin")
    key_current(env, "by-admin")
    # restoring it again is fine; a conflicting state is refused, nothing written
    p = seal_cli(env, "keys", "restore", "-f", f"{d}/admin.key")
    assert "already in key secret" in p.stdout
    # deleting the key Secret is picked up too: the older key seals again
    env.api.kubectl("delete", "secret", f"seal-key-{admin}", "-n", "seal-system")
    wait_for(lambda: cert_id(ctl.cert()) == old, what="cert.pem back to the older key")
    assert old in key_ids(env)


def test_compromised_key_never_served_and_users_flagged(env):
    ctl = env.controller()
    first = cert_id(ctl.cert())
    ctl.proc.send_signal(signal.SIGUSR1)
    ids = new_key_after(env, [first])
    second = ids[-1]
    wait_for(lambda: cert_id(ctl.cert()) == second, what="cert.pem")
    ss_new = env.seal(secret("on-second"))  # env.cert_path is still the first key
    env.apply(ss_new)
    key_current(env, "on-second", status="False", reason="OlderKey")
    with open(env.cert_path, "w") as f:
        f.write(ctl.cert())
    env.apply(env.seal(secret("fresh")))
    key_current(env, "fresh")
    p = seal_cli(env, "keys", "compromise", second)
    assert "labelled compromised" in p.stdout and "warning" in p.stderr
    c = key_current(env, "fresh", status="False", reason="CompromisedKey")
    assert second in c["message"]
    # no outage: the Secret is still there and still right
    assert decoded(env.api.get("secret", "fresh")) == {"PASSWORD": "correct horse battery staple"}
    # it is never served again: the older active key seals until a new one comes
    for _ in range(20):
        assert cert_id(ctl.cert()) != second
        cm = configmap_id(env)
        assert cm != second or cm is None or _ < 10  # the ConfigMap write follows within 1 s
        time.sleep(0.1)
    wait_for(lambda: configmap_id(env) not in (second, None), what="ConfigMap without it")
    states = {k["keyId"]: k["state"] for k in key_list(env)}
    assert states[second] == "compromised" and states[first] == "active"
    # compromising every key makes the controller renew: something safe seals
    seal_cli(env, "keys", "compromise", first)
    ids = wait_for(lambda: (lambda ks: ks if len(ks) == 3 else None)(key_ids(env)),
                   what="a key after every key was compromised")
    wait_for(lambda: cert_id(ctl.cert()) == ids[-1], what="cert.pem serves the new key")
    assert cert_id(ctl.cert()) not in (first, second)
    key_current(env, "on-second", status="False", reason="CompromisedKey")


def sealed_tree(env, root):
    """examples/kotaemon/environments copied, and SealedSecrets of our own."""
    shutil.copytree(EXAMPLE_ENVS, os.path.join(root, "environments"))
    os.makedirs(os.path.join(root, "apps", "deep"))
    mine = env.seal_many([secret("t1"), secret("t2"), secret("t3", ns="other")])
    with open(os.path.join(root, "apps", "one.json"), "w") as f:
        f.write(json.dumps(mine[0], indent=2) + "\n")
    p = seal_cli(env, "--cert", env.cert_path, "-w", os.path.join(root, "apps", "deep", "two.yaml"),
                 input=json.dumps({"apiVersion": "v1", "kind": "List",
                                   "items": [secret("t2"), secret("t3", ns="other")]}))
    del p
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, encoding="utf-8") as f:
                if "kind: SealedSecret\n" in f.read().split("---")[0] or n.endswith(".json"):
                    files.append(path)
    return sorted(f for f in files if not f.endswith("kustomization.yaml"))


def read_docs(env, path):
    if path.endswith(".json"):
        return [json.load(open(path))]
    out = env.api.kubectl("create", "--dry-run=client", "--validate=false", "-o", "json", "-f",
                          path)
    docs, dec, i, text = [], json.JSONDecoder(), 0, out.stdout
    while text[i:].strip():
        while text[i].isspace():
            i += 1
        doc, i = dec.raw_decode(text, i)
        docs.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return docs


def test_reseal_moves_the_examples_tree_to_the_newest_key(env):
    ctl = env.controller()
    for k in ("production.key", "staging.key"):
        seal_cli(env, "keys", "restore", "-f", os.path.join(EXAMPLE_KEYS, k))
    root = os.path.join(env.tmp, "tree")
    files = sealed_tree(env, root)
    assert len(files) == 4, files
    before = key_ids(env)
    ctl.proc.send_signal(signal.SIGUSR1)
    ids = new_key_after(env, before)
    newest = ids[-1]
    wait_for(lambda: cert_id(ctl.cert()) == newest, what="cert.pem")
    with open(env.cert_path, "w") as f:
        f.write(ctl.cert())
    current = os.path.join(root, "apps", "current.json")
    with open(current, "w") as f:
        f.write(json.dumps(env.seal(secret("t4")), indent=2))
    files.append(current)
    before = {f: open(f, "rb").read() for f in files}
    url = f"http://127.0.0.1:{ctl.port}"
    args = ["reseal", "--in-place", "--controller-url", url]
    for f in files:
        args += ["-f", f]
    p = seal_cli(env, *args)
    assert open(current, "rb").read() == before[current], "a current file is left byte for byte"
    assert "already sealed" in p.stderr
    for f in files:
        for doc in read_docs(env, f):
            assert sealed_ids(doc) == {newest}, f
        if f != current:
            assert open(f, "rb").read() != before[f]
    # a second run changes nothing at all
    seal_cli(env, *args)
    for f in files:
        for doc in read_docs(env, f):
            assert sealed_ids(doc) == {newest}
    # the re-sealed manifests unseal and are current
    env.api.kubectl("create", "namespace", "kotaemon", check=False)
    prod = os.path.join(root, "environments", "production", "sealedsecret.yaml")
    env.api.kubectl("apply", "-f", prod)
    for f in files:
        if "environments" not in f:
            env.api.kubectl("apply", "-f", f)
    for name, ns in [("kotaemon-llm", "kotaemon"), ("t1", "app"), ("t2", "app"),
                     ("t3", "other"), ("t4", "app")]:
        key_current(env, name, ns)
    live = wait_for(lambda: env.api.get("secret", "kotaemon-llm", "kotaemon"), what="Secret")
    want = dict(line.split("=", 1) for line in
                open(os.path.join(EXAMPLE_KEYS, "production.values")).read().splitlines() if line)
    assert decoded(live) == want
    # staging's re-sealed file is accepted too
    p = seal_cli(env, "verify", "--controller-url", url, "-f",
                 os.path.join(root, "environments", "staging", "sealedsecret.yaml"))
    assert ": ok" in p.stdout


def test_offline_reseal_is_accepted_by_the_controller(env):
    ctl = env.controller()
    env.apply(env.seal(secret("off")))
    key_current(env, "off")
    src = os.path.join(env.tmp, "off.json")
    with open(src, "w") as f:
        json.dump(env.api.get("sealedsecret", "off"), f)
    seal_cli(env, "keys", "backup", "-w", os.path.join(env.tmp, "backup.pem"))
    before = key_ids(env)
    ctl.proc.send_signal(signal.SIGUSR1)
    newest = new_key_after(env, before)[-1]
    wait_for(lambda: cert_id(ctl.cert()) == newest, what="cert.pem")
    key_current(env, "off", status="False", reason="OlderKey")
    cert = os.path.join(env.tmp, "newest.pem")
    with open(cert, "w") as f:
        f.write(ctl.cert())
    out = os.path.join(env.tmp, "off-new.json")
    # offline: no cluster is reachable from this run
    e = dict(os.environ, KUBECONFIG="/nonexistent")
    p = subprocess.run([SEAL, "reseal", "--private-key", os.path.join(env.tmp, "backup.pem"),
                        "--cert", cert, "-f", src, "-w", out], capture_output=True, text=True,
                       env=e, timeout=60)
    assert p.returncode == 0, p.stderr
    doc = json.load(open(out))
    assert sealed_ids(doc) == {newest}
    for k in ("status", "uid", "resourceVersion"):
        doc.pop(k, None)
        doc["metadata"].pop(k, None)
    env.apply(doc, verb="replace")
    key_current(env, "off")
    assert decoded(env.api.get("secret", "off")) == {"PASSWORD": "correct horse battery staple"}


def test_backup_and_restore_into_a_fresh_cluster(env):
    ctl = env.controller()
    names = [f"dr{i}" for i in range(5)]
    sealed = env.seal_many([secret(n, data={"V": f"value-{n}"}) for n in names])
    env.apply_all(sealed)
    before = key_ids(env)
    ctl.proc.send_signal(signal.SIGUSR1)
    ids = new_key_after(env, before)
    wait_for(lambda: cert_id(ctl.cert()) == ids[-1], what="cert.pem")
    with open(env.cert_path, "w") as f:
        f.write(ctl.cert())
    late = env.seal(secret("dr-late", data={"V": "late"}))
    env.apply(late)
    sealed.append(late)
    seal_cli(env, "keys", "compromise", ids[0])
    backup = os.path.join(env.tmp, "backup.pem")
    p = seal_cli(env, "keys", "backup", "-w", backup)
    assert os.stat(backup).st_mode & 0o777 == 0o600
    assert "warning" in p.stderr and backup in p.stderr
    assert p.stdout.count("backed up key") == 2
    text = open(backup).read()
    assert text.count("BEGIN SEAL PRIVATE KEY") == 2
    assert "State: compromised" in text and "State: active" in text
    assert f"Key-Id: {ids[0]}" in text and "Created: " in text
    for k in key_list(env):
        assert k["backedUpAt"] is not None
    # refusing to overwrite the backup without --force
    p = seal_cli(env, "keys", "backup", "-w", backup, check=False)
    assert p.returncode == 1 and "already exists" in p.stderr

    with tempfile.TemporaryDirectory(prefix="seal-e2e-dr-") as tmp2:
        fresh = Env(tmp2)
        try:
            p = seal_cli(fresh, "keys", "restore", "-f", backup)
            assert p.stdout.count("restored as key secret") == 2
            restored = {k["keyId"]: k for k in key_list(fresh)}
            original = {k["keyId"]: k for k in key_list(env)}
            assert set(restored) == set(original)
            for kid, k in restored.items():
                assert k["createdAt"] == original[kid]["createdAt"]
                assert k["state"] == original[kid]["state"]
            ctl2 = fresh.controller()
            assert cert_id(ctl2.cert()) == ids[-1]
            assert len(key_ids(fresh)) == 2, "a restored cluster needs no new key"
            fresh.apply_all(sealed)
            for s in sealed:
                n = s["metadata"]["name"]
                live = wait_for(lambda n=n: fresh.api.get("secret", n), what=f"Secret {n}")
                assert decoded(live) == {"V": "late" if n == "dr-late" else f"value-{n}"}
            key_current(fresh, "dr0", status="False", reason="CompromisedKey")
            key_current(fresh, "dr-late")
            # a second restore is fine; a conflicting state is refused and writes nothing
            seal_cli(fresh, "keys", "restore", "-f", backup)
            seal_cli(fresh, "keys", "compromise", ids[-1])
            p = seal_cli(fresh, "keys", "restore", "-f", backup, check=False)
            assert p.returncode == 1 and "nothing restored" in p.stderr
        finally:
            fresh.close()


def test_not_backed_up_gauge_and_event(env):
    ctl = env.controller("--backup-warn-after", "3s")
    assert metric(ctl, "seal_keys_not_backed_up") == {"seal_keys_not_backed_up": 0.0}
    kid = key_ids(env)[0]
    wait_for(lambda: metric(ctl, "seal_keys_not_backed_up")["seal_keys_not_backed_up"] == 1,
             what="gauge 1")

    def warned():
        p = env.api.kubectl("get", "events", "-n", "seal-system", "-o", "json")
        return [e for e in json.loads(p.stdout)["items"] if e.get("reason") == "KeyNotBackedUp"]
    evs = wait_for(warned, what="KeyNotBackedUp event")
    assert evs[0]["type"] == "Warning" and evs[0]["involvedObject"]["name"] == f"seal-key-{kid}"
    assert kid in evs[0]["message"]
    seal_cli(env, "keys", "backup", "-w", os.path.join(env.tmp, "b.pem"))
    wait_for(lambda: metric(ctl, "seal_keys_not_backed_up")["seal_keys_not_backed_up"] == 0,
             what="gauge 0 after a backup")
    time.sleep(2.5)
    assert len(warned()) == 1, "the event is sent once"
    # a renewal makes the backup stale again: the new key counts
    ctl.proc.send_signal(signal.SIGUSR1)
    new_key_after(env, [kid])
    wait_for(lambda: metric(ctl, "seal_keys_not_backed_up")["seal_keys_not_backed_up"] == 1,
             what="gauge 1 for the new key")
    keys = metric(ctl, "seal_keys")
    assert keys['seal_keys{state="active"}'] == 2


# A real API server refuses Endpoints on 127.0.0.1 ("may not be in the loopback range") and
# never proxies to a loopback address: a controller on this machine is unreachable that way.
@pytest.mark.standin
def test_reseal_through_the_service_proxy(env):
    ctl = env.controller()
    ns = "seal-system"
    env.api.request("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "unseal-controller", "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": ctl.port}]}})
    env.api.request("POST", f"/api/v1/namespaces/{ns}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "unseal-controller", "namespace": ns},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": ctl.port}]}]})
    src = os.path.join(env.tmp, "proxied.yaml")
    with open(src, "w") as f:
        f.write(json.dumps(env.seal(secret("proxied"))))
    before = key_ids(env)
    ctl.proc.send_signal(signal.SIGUSR1)
    newest = new_key_after(env, before)[-1]
    wait_for(lambda: configmap_id(env) == newest, what="ConfigMap")
    stats = env.api.stats()
    p = seal_cli(env, "reseal", "--in-place", "-f", src)
    assert f"re-sealed for key {newest}" in p.stderr
    assert env.api.stats().get("create services/proxy", 0) - stats.get("create services/proxy", 0) == 1
    doc = json.load(open(src))
    assert sealed_ids(doc) == {newest}
    env.apply(doc)
    key_current(env, "proxied")
    # a SealedSecret the controller cannot open is refused with its reason; nothing written
    doc["metadata"]["namespace"] = "other"
    doc["spec"]["encryptedData"]["PASSWORD"] = json.load(open(src))["spec"]["encryptedData"][
        "PASSWORD"]
    bad = os.path.join(env.tmp, "moved.json")
    with open(bad, "w") as f:
        json.dump(doc, f)
    os.utime(bad, (1, 1))
    # current for the newest key already, yet moved: refused with its reason, file untouched
    p = seal_cli(env, "reseal", "--in-place", "-f", bad, check=False)
    assert p.returncode == 1, p.stderr
    assert "other/proxied" in p.stderr and "WrongScope" in p.stderr, p.stderr
    assert os.stat(bad).st_mtime == 1
    old = env.seal(secret("old-moved"), cert=env.cert_path)  # env.cert_path: the first key
    old["metadata"]["namespace"] = "other"
    with open(bad, "w") as f:
        json.dump(old, f)
    before_bytes = open(bad, "rb").read()
    p = seal_cli(env, "reseal", "--in-place", "-f", bad, check=False)
    assert p.returncode == 1, p.stderr
    assert "other/old-moved" in p.stderr and "HTTP 409" in p.stderr, p.stderr
    assert open(bad, "rb").read() == before_bytes


def test_keys_list_counts_across_pages(env):
    env.controller()
    n = 230  # more than two pages of 100
    env.apply_all(env.seal_many([secret(f"p{i}", ns=("app", "other")[i % 2]) for i in range(n)]))
    stats = env.api.stats()
    keys = key_list(env)
    assert [k["sealedSecrets"] for k in keys] == [n]
    lists = env.api.stats().get("list sealedsecrets", 0) - stats.get("list sealedsecrets", 0)
    assert lists == 3, env.api.writes(stats)
