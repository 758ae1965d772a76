"""Trust boundaries of the key manager and the Secret writer (issue 14): a
SealedSecret never plants a sealing key, a key held by several Secrets stays
while any holds it and is compromised when any copy says so, and only the
controller's ownerReference or seal.dev/managed lets it write an existing
Secret."""

import base64
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import SEAL, condition, decoded, events_for, secret, wait_for

FUTURE = "2999-01-01T00:00:00Z"


def seal_cli(env, *args):
    if not SEAL or not os.path.exists(SEAL):
        pytest.skip("the seal command line tool is not built")
    e = dict(os.environ, KUBECONFIG=env.api.kubeconfig, HOME=env.api.home)
    p = subprocess.run([SEAL, *args], capture_output=True, text=True, env=e, timeout=60)
    assert p.returncode == 0, f"seal {' '.join(args)}: {p.stderr}"
    return p


def cert_id(text):
    m = re.search(r"^Key-Id: ([0-9a-f]{16})$", text, re.M)
    assert m, f"no Key-Id in {text!r}"
    return m.group(1)


def configmap_id(env):
    cm = env.api.get("configmap", "seal-public-keys", "seal-system")
    pem = (cm or {}).get("data", {}).get("cert.pem", "")
    return cert_id(pem) if "Key-Id" in pem else None


def status_of(env, name, ns, type_="Synced", status=None, reason=None):
    def check():
        c = condition(env.api.get("sealedsecret", name, ns), type_)
        ok = c and (status is None or c["status"] == status) and (reason is None or c["reason"] == reason)
        return c if ok else None
    return wait_for(check, what=f"SealedSecret {ns}/{name} {type_}={status} {reason or ''}")


def attacker_key(env):
    """An armored private key of the attacker's, dated far in the future: (armor, key id)."""
    d = env.tmp
    seal_cli(env, "keys", "generate", "--private-key", f"{d}/evil.key", "--cert", f"{d}/evil.pem")
    armor = open(f"{d}/evil.key").read()
    armor = re.sub(r"^Created: .*$", f"Created: {FUTURE}", armor, flags=re.M)
    return armor, cert_id(armor)


def test_sealed_secret_cannot_plant_a_sealing_key(env):
    ctl = env.controller()
    kid = cert_id(ctl.cert())
    wait_for(lambda: configmap_id(env) == kid, what="ConfigMap serves the controller's key")
    armor, evil = attacker_key(env)

    # the review's attack: sealed for the cluster, and in plain template.data
    sealed = env.seal(secret("planted", ns="seal-system", data={"private.key": armor}))
    plain = env.seal(secret("planted-plain", ns="seal-system", data={"x": "y"}))
    plain["spec"]["template"]["data"] = {"private.key": armor}
    for ss in (sealed, plain):
        ss["spec"]["template"]["type"] = "seal.dev/key"
        ss["spec"]["template"].setdefault("metadata", {})["labels"] = {"seal.dev/key": "active"}
        ss["spec"]["template"]["metadata"]["annotations"] = {"seal.dev/created-at": FUTURE}
    # each reserved part alone is refused too
    label_only = env.seal(secret("planted-label", ns="seal-system", data={"private.key": armor}))
    label_only["spec"]["template"].setdefault("metadata", {})["labels"] = {"seal.dev/key": "active"}
    env.apply_all([sealed, plain, label_only])

    for name in ("planted", "planted-plain", "planted-label"):
        c = status_of(env, name, "seal-system", status="False", reason="InvalidTemplate")
        assert "reserved for the controller" in c["message"], c
        assert env.api.get("secret", name, "seal-system") is None
    assert any(e["reason"] == "UnsealFailed" for e in events_for(env.api, "planted", "seal-system"))
    # /v1/verify shares the checks: it refuses the same document
    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(sealed).encode())
    assert status == 409 and json.loads(body)["valid"] is False
    assert [f["reason"] for f in json.loads(body)["failed"]] == ["InvalidTemplate"], body
    assert "reserved for the controller" in body.decode()

    # the key manager refuses such Secrets even if something else makes them
    evil_b64 = base64.b64encode(armor.encode()).decode()
    uid = env.api.get("sealedsecret", "planted", "seal-system")["metadata"]["uid"]
    made = [
        ("by-unsealed", {"seal.dev/key": "active", "seal.dev/unsealed": "true"}, None),
        ("by-owner", {"seal.dev/key": "active"},
         [{"apiVersion": "seal.dev/v1", "kind": "SealedSecret", "name": "planted", "uid": uid}]),
    ]
    for name, labels, owners in made:
        md = {"name": name, "namespace": "seal-system", "labels": labels}
        if owners:
            md["ownerReferences"] = owners
        env.apply({"apiVersion": "v1", "kind": "Secret", "metadata": md, "type": "seal.dev/key",
                   "data": {"private.key": evil_b64}})
    opaque = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "by-type", "namespace": "seal-system",
                           "labels": {"seal.dev/key": "active"}},
              "data": {"private.key": evil_b64}}
    env.apply(opaque)
    for name in ("by-unsealed", "by-owner", "by-type"):
        wait_for(lambda: re.search(rf"is not a key secret, ignored.*{name}", ctl.logs()),
                 what=f"{name} refused by the key manager")
    assert cert_id(ctl.cert()) == kid
    assert configmap_id(env) == kid
    # and after a restart, which lists them all again
    ctl.stop()
    ctl2 = env.controller()
    assert cert_id(ctl2.cert()) == kid
    wait_for(lambda: "by-owner" in ctl2.logs(), what="the second controller saw the Secrets")
    status, _, body = ctl2.http("GET", "/metrics", metrics=True)
    assert 'seal_keys{state="active"} 1\n' in body.decode()
    assert configmap_id(env) == kid and evil not in ctl2.cert()


def copy_of(env, name, new_name, label=None):
    src = env.api.get("secret", name, "seal-system")
    labels = dict(src["metadata"].get("labels") or {})
    if label:
        labels["seal.dev/key"] = label
    env.apply({"apiVersion": "v1", "kind": "Secret", "type": src["type"], "data": src["data"],
               "metadata": {"name": new_name, "namespace": "seal-system", "labels": labels}})


def test_spare_copy_of_a_key_deleted_keeps_the_key(env):
    ctl = env.controller()
    kid = cert_id(ctl.cert())
    ss = env.seal(secret("kept"))
    env.apply(ss)
    status_of(env, "kept", "app", status="True")
    copy_of(env, f"seal-key-{kid}", f"spare-{kid}")
    env.api.kubectl("delete", "secret", f"spare-{kid}", "-n", "seal-system")
    wait_for(lambda: "key secret deleted" in ctl.logs(), what="the copy's deletion")
    assert cert_id(ctl.cert()) == kid
    assert "another secret still holds its key" in ctl.logs()
    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(ss).encode())
    assert status == 200, body
    env.apply(env.seal(secret("after")))
    status_of(env, "after", "app", status="True")
    assert [s["metadata"]["name"] for s in json.loads(env.api.kubectl(
        "get", "secrets", "-n", "seal-system", "-l", "seal.dev/key", "-o", "json").stdout)["items"]] \
        == [f"seal-key-{kid}"], "no new key was made"
    # the original goes while the copy is back: still held
    copy_of(env, f"seal-key-{kid}", f"spare-{kid}")
    wait_for(lambda: ctl.logs().count(f"spare-{kid}") >= 2, what="the copy seen again")
    env.api.kubectl("delete", "secret", f"seal-key-{kid}", "-n", "seal-system")
    wait_for(lambda: ctl.logs().count("another secret still holds its key") >= 2,
             what="the original's deletion")
    assert cert_id(ctl.cert()) == kid
    assert ctl.http("POST", "/v1/verify", json.dumps(ss).encode())[0] == 200


def test_compromised_copy_wins_after_a_restart(env):
    ctl = env.controller()
    first = cert_id(ctl.cert())
    first_pem = os.path.join(env.tmp, "first.pem")
    with open(first_pem, "w") as f:
        f.write(ctl.cert())
    env.apply(env.seal(secret("old-key")))
    status_of(env, "old-key", "app", "KeyCurrent", status="True")
    ctl.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: cert_id(ctl.cert()) != first, what="a second key")
    seal_cli(env, "keys", "compromise", first)
    status_of(env, "old-key", "app", "KeyCurrent", status="False", reason="CompromisedKey")
    # an active-labelled copy, listed after the compromised Secret: still compromised
    copy_of(env, f"seal-key-{first}", f"zz-copy-{first}", label="active")
    metrics = lambda c: c.http("GET", "/metrics", metrics=True)[2].decode()
    wait_for(lambda: f"zz-copy-{first}" in ctl.logs() or 'compromised"} 0\n' in metrics(ctl),
             what="the copy seen")
    assert 'seal_keys{state="compromised"} 1\n' in metrics(ctl)
    ctl.stop()
    ctl2 = env.controller()
    assert 'seal_keys{state="compromised"} 1\n' in metrics(ctl2)
    assert cert_id(ctl2.cert()) != first and configmap_id(env) != first
    # a SealedSecret sealed for it after the restart is flagged, not merely "older"
    env.apply(env.seal(secret("new-on-old"), cert=first_pem))
    c = status_of(env, "new-on-old", "app", "KeyCurrent", status="False")
    assert c["reason"] == "CompromisedKey" and first in c["message"], c
    c = status_of(env, "old-key", "app", "KeyCurrent", status="False")
    assert c["reason"] == "CompromisedKey", c
    assert decoded(env.api.get("secret", "old-key")) == {"PASSWORD": "correct horse battery staple"}


def test_a_label_alone_is_not_ownership(env):
    env.controller()
    # hand-made, carrying only the controller's label: never overwritten
    env.apply(secret("hand-made", data={"K": "theirs"}, labels={"seal.dev/unsealed": "true"}))
    ss = env.seal(secret("hand-made", data={"K": "ours"}))
    ss["spec"]["template"].setdefault("metadata", {})["annotations"] = {
        "seal.dev/skip-owner-reference": "true"}
    env.apply(ss)
    c = status_of(env, "hand-made", "app", status="False", reason="SecretNotManaged")
    assert "the label seal.dev/unsealed alone does not count" in c["message"], c
    assert decoded(env.api.get("secret", "hand-made")) == {"K": "theirs"}
    wait_for(lambda: any(e["reason"] == "SecretNotManaged" for e in events_for(env.api, "hand-made")),
             what="SecretNotManaged event")
    # a Secret the controller made without an owner is marked seal.dev/managed, and followed
    ss = env.seal(secret("no-owner", data={"K": "v1"}))
    ss["spec"]["template"].setdefault("metadata", {})["annotations"] = {
        "seal.dev/skip-owner-reference": "true"}
    env.apply(ss)
    status_of(env, "no-owner", "app", status="True")
    live = env.api.get("secret", "no-owner")
    assert "ownerReferences" not in live["metadata"]
    assert live["metadata"]["annotations"]["seal.dev/managed"] == "true"
    live["data"]["K"] = base64.b64encode(b"edited").decode()
    env.apply(live, "replace")
    wait_for(lambda: decoded(env.api.get("secret", "no-owner")) == {"K": "v1"}, what="put back")
    # and the admin's annotation hands the hand-made one over
    env.api.kubectl("annotate", "secret", "hand-made", "-n", "app", "seal.dev/managed=true")
    wait_for(lambda: decoded(env.api.get("secret", "hand-made")) == {"K": "ours"}, what="taken over")
    status_of(env, "hand-made", "app", status="True")


def test_a_key_secret_is_never_written(env):
    """Fresh pass: a SealedSecret named like a key Secret cannot replace (and so delete) the
    key, even when an admin marked the key Secret seal.dev/managed by mistake."""
    ctl = env.controller()
    kid = cert_id(ctl.cert())
    name = f"seal-key-{kid}"
    env.api.kubectl("annotate", "secret", name, "-n", "seal-system", "seal.dev/managed=true")
    before = env.api.get("secret", name, "seal-system")
    env.apply(env.seal(secret(name, ns="seal-system", data={"private.key": "not a key"})))
    c = status_of(env, name, "seal-system", status="False", reason="SecretNotManaged")
    assert "is a key Secret" in c["message"], c
    after = env.api.get("secret", name, "seal-system")
    assert after["data"] == before["data"] and after["type"] == "seal.dev/key"
    assert cert_id(ctl.cert()) == kid
