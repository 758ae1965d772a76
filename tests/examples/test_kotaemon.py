"""The Kotaemon example: probes and ports as the service needs them, the
plugins ConfigMap, environments that differ in replicas and resources, each
environment's SealedSecret sealed for its own cluster's key only, and
namePrefix/nameSuffix following SealedSecret references."""

import base64
import json
import os
import pathlib
import subprocess

import pytest

from conftest import (ENVIRONMENTS, EXAMPLES, KEYDIR, ROOT, armored_keys, find, key_id,
                      kustomize, need_kubectl, one, seal_cli, sealed_key_ids, to_objects, wave)

KOTAEMON = EXAMPLES / "kotaemon" / "environments"
COMPONENT = EXAMPLES / "kustomize" / "components" / "sealedsecret-names"


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    need_kubectl()
    tmp = tmp_path_factory.mktemp("kotaemon")
    return {env: kustomize(KOTAEMON / env, tmp)[0] for env in ("base",) + ENVIRONMENTS}


def container(objects):
    dep = one(objects, "Deployment", "kotaemon")
    return dep, one([dict(c, kind="c", metadata={"name": c["name"]})
                     for c in dep["spec"]["template"]["spec"]["containers"]], "c", "kotaemon")


@pytest.mark.parametrize("env", ("base",) + ENVIRONMENTS)
def test_deployment(envs, env):
    dep, c = container(envs[env])
    assert dep["metadata"]["namespace"] == "kotaemon"
    assert c["image"] == "registry.example.com/ai/kotaemon:v1.4.2"
    assert [p["containerPort"] for p in c["ports"]] == [8000]
    ready, live = c["readinessProbe"], c["livenessProbe"]
    assert ready["httpGet"] == {"path": "/health", "port": 8000}
    assert ready["initialDelaySeconds"] == 45
    assert live["httpGet"] == {"path": "/ping", "port": 8000}
    assert live["initialDelaySeconds"] == 60
    assert live["failureThreshold"] == 3
    env_vars = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in c["env"]}
    assert env_vars["OPENAI_API_KEY"] == {"name": "kotaemon-llm", "key": "OPENAI_API_KEY"}
    assert env_vars["DB_PASSWORD"] == {"name": "kotaemon-llm", "key": "DB_PASSWORD"}
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    svc = one(envs[env], "Service", "kotaemon")
    assert svc["spec"]["ports"][0]["port"] == 8000


@pytest.mark.parametrize("env", ("base",) + ENVIRONMENTS)
def test_plugins_configmap(envs, env):
    cms = [o for o in envs[env] if o["kind"] == "ConfigMap"
           and o["metadata"]["name"].startswith("kotaemon-plugins-")]
    assert len(cms) == 1
    text = cms[0]["data"]["plugins.yaml"]
    # kubectl parses it, so the check does not depend on YAML style.
    plugins = to_objects("apiVersion: v1\nkind: Plugins\nmetadata: {name: p}\n" + text,
                         pathlib.Path(os.environ.get("TMPDIR", "/tmp")))
    assert plugins[0]["enabled_plugins"] == [
        "query_order_status", "authenticate_user", "fetch_kb_article"]
    dep, _ = container(envs[env])
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    # The generated name (with its content hash) is what the Deployment mounts.
    assert volumes["plugins"]["configMap"]["name"] == cms[0]["metadata"]["name"]


def test_environments_differ_in_replicas_and_resources(envs):
    s_dep, s_c = container(envs["staging"])
    p_dep, p_c = container(envs["production"])
    assert s_dep["spec"]["replicas"] < p_dep["spec"]["replicas"]
    assert p_dep["spec"]["replicas"] >= 2
    assert s_c["resources"] != p_c["resources"]
    base_dep, base_c = container(envs["base"])
    assert base_c["resources"] not in (s_c["resources"], p_c["resources"])


def cert_key_id(env):
    keys = armored_keys((KOTAEMON / env / "cert.pem").read_text(), "PUBLIC")
    assert len(keys) == 1, f"{env}/cert.pem must hold one public key"
    return key_id(keys[0])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sealed_for_its_own_cluster_only(envs, env):
    ss = one(envs[env], "SealedSecret", "kotaemon-llm")
    assert ss["apiVersion"] == "seal.dev/v1"
    assert ss["metadata"]["namespace"] == "kotaemon"
    assert set(ss["spec"]["encryptedData"]) == {"OPENAI_API_KEY", "DB_PASSWORD"}
    own = cert_key_id(env)
    other = cert_key_id([e for e in ENVIRONMENTS if e != env][0])
    assert own != other
    for key, value in ss["spec"]["encryptedData"].items():
        assert sealed_key_ids(value) == [own], f"{env}: {key} is not sealed for {env}'s key only"
    # No plain values anywhere in the rendered environment.
    assert not find(envs[env], "Secret")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sealedsecret_syncs_before_the_deployment(envs, env):
    ss = one(envs[env], "SealedSecret", "kotaemon-llm")
    dep, _ = container(envs[env])
    ns = one(envs[env], "Namespace", "kotaemon")
    assert wave(ns) < wave(ss) < wave(dep)


def x25519_public(private):
    """The public half of an X25519 private key, computed by openssl (a second,
    independent implementation)."""
    der = bytes.fromhex("302e020100300506032b656e04220420") + private
    proc = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
                          input=der, capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"openssl cannot derive X25519 keys: {proc.stderr.decode().strip()}")
    return proc.stdout[-32:]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_private_keys_match_the_certs(env):
    private = armored_keys((KEYDIR / f"{env}.key").read_text(), "PRIVATE")
    assert len(private) == 1 and len(private[0]) == 32
    public = armored_keys((KOTAEMON / env / "cert.pem").read_text(), "PUBLIC")
    assert x25519_public(private[0]) == public[0]


def test_private_keys_only_under_tests():
    # Any file, tracked or not, holding private key material (an armored
    # block with a key in it; code that merely names the BEGIN line does not
    # count) must be under tests/.
    marker = "BEGIN SEAL PRIVATE KEY"
    proc = subprocess.run(["git", "-C", str(ROOT), "grep", "--untracked", "-l", marker, "--", "."],
                          capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        pytest.skip(f"not a git checkout: {proc.stderr.strip()}")
    holders = []
    for path in proc.stdout.split():
        try:
            keys = armored_keys((ROOT / path).read_text(errors="replace"), "PRIVATE")
        except ValueError:
            continue
        if any(len(k) == 32 for k in keys):
            holders.append(path)
    assert holders, "the test keys under tests/examples/keys were not found"
    for path in holders:
        assert path.startswith("tests/"), f"private key outside tests/: {path}"


def values(env):
    out = {}
    for line in (KEYDIR / f"{env}.values").read_text().splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_unseals_with_its_own_key_and_not_the_other(tmp_path, env):
    seal = seal_cli()
    sealed = KOTAEMON / env / "sealedsecret.yaml"
    proc = subprocess.run([seal, "unseal", "--private-key", str(KEYDIR / f"{env}.key"),
                           "-f", str(sealed), "-o", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    secret = json.loads(proc.stdout)
    if secret.get("kind") == "List":
        secret = secret["items"][0]
    assert secret["kind"] == "Secret"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == values(env)

    other = [e for e in ENVIRONMENTS if e != env][0]
    proc = subprocess.run([seal, "unseal", "--private-key", str(KEYDIR / f"{other}.key"),
                           "-f", str(sealed), "-o", "json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "kotaemon-llm" in proc.stderr


def write_app(directory, with_component, prefix):
    directory.mkdir(parents=True)
    (directory / "deployment.yaml").write_text((KOTAEMON / "base" / "deployment.yaml").read_text())
    (directory / "sealedsecret.yaml").write_text(
        (KOTAEMON / "staging" / "sealedsecret.yaml").read_text())
    component = os.path.relpath(COMPONENT, directory)  # kustomize refuses absolute paths
    components = f"components:\n- {component}\n" if with_component else ""
    (directory / "kustomization.yaml").write_text(
        "namespace: kotaemon\nresources:\n- deployment.yaml\n- sealedsecret.yaml\n" + components +
        f"namePrefix: {prefix}\nnameSuffix: -v2\n")


def refs(dep):
    spec = dep["spec"]["template"]["spec"]
    return {e["valueFrom"]["secretKeyRef"]["name"] for c in spec["containers"]
            for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}


def test_name_prefix_follows_sealedsecret(tmp_path):
    need_kubectl()
    write_app(tmp_path / "with", True, "preview-")
    objects, _ = kustomize(tmp_path / "with", tmp_path)
    ss = one(objects, "SealedSecret")
    assert ss["metadata"]["name"] == "preview-kotaemon-llm-v2"
    assert refs(one(objects, "Deployment")) == {"preview-kotaemon-llm-v2"}


def test_name_prefix_follows_through_an_overlay(tmp_path):
    need_kubectl()
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        f"resources:\n- {os.path.relpath(KOTAEMON / 'staging', overlay)}\nnamePrefix: pr-42-\n")
    objects, _ = kustomize(overlay, tmp_path)
    ss = one(objects, "SealedSecret")
    assert ss["metadata"]["name"] == "pr-42-kotaemon-llm"
    assert refs(one(objects, "Deployment", "pr-42-kotaemon")) == {"pr-42-kotaemon-llm"}


def test_without_the_component_references_break(tmp_path):
    # The reason the component exists: plain kustomize renames the
    # SealedSecret and leaves the Deployment pointing at a Secret that will
    # never exist.
    need_kubectl()
    write_app(tmp_path / "without", False, "preview-")
    objects, _ = kustomize(tmp_path / "without", tmp_path)
    assert one(objects, "SealedSecret")["metadata"]["name"] == "preview-kotaemon-llm-v2"
    assert refs(one(objects, "Deployment")) == {"kotaemon-llm"}
