"""The Argo CD health check for seal.dev/SealedSecret, run by a Debian Lua
interpreter against sample objects, and the argocd-cm copy of it."""

import os
import shutil
import subprocess

import pytest

from conftest import EXAMPLES, need_kubectl, one, to_objects

HEALTH = EXAMPLES / "argocd" / "health.lua"
APP_HEALTH = EXAMPLES / "argocd" / "application-health.lua"
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua_harness.lua")


def lua_literal(value):
    """A Python value (as JSON would give it) as a Lua table constructor."""
    if value is None:
        raise ValueError("JSON null has no Lua value; leave the key out")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # Every byte outside a plain set as a three-digit decimal escape.
        return '"' + "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in " -_./:,()'")
                             else f"\\{b:03d}" for b in value.encode()) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"


def health_of(tmp_path, obj, script=HEALTH):
    lua = os.environ.get("LUA") or shutil.which("lua5.4")
    if not lua:
        pytest.skip("lua5.4 is not installed")
    path = tmp_path / "object.lua"
    path.write_text("return " + lua_literal(obj) + "\n")
    proc = subprocess.run([lua, HARNESS, str(script), str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    status, message = proc.stdout.split("\n", 1)
    return status, message.rstrip("\n")


def sealed_secret(generation=3, status=None):
    obj = {"apiVersion": "seal.dev/v1", "kind": "SealedSecret",
           "metadata": {"name": "kotaemon-llm", "namespace": "kotaemon", "generation": generation},
           "spec": {"encryptedData": {"OPENAI_API_KEY": "AQE="}}}
    if status is not None:
        obj["status"] = status
    return obj


def cond(type_, status, reason="", message=""):
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-25T20:00:00Z"}


def test_healthy(tmp_path):
    obj = sealed_secret(3, {"observedGeneration": 3, "keyIds": ["3e221f7d13407cff"],
                            "conditions": [cond("Synced", "True", "Unsealed")]})
    assert health_of(tmp_path, obj) == ("Healthy", "Unsealed")


def test_healthy_even_when_sealed_with_an_older_key(tmp_path):
    # KeyCurrent=False asks for a re-seal; the Secret is still right.
    obj = sealed_secret(3, {"observedGeneration": 3, "conditions": [
        cond("KeyCurrent", "False", "OlderKey", "sealed with 3e22, newest is 9a10"),
        cond("Synced", "True", "Unsealed")]})
    assert health_of(tmp_path, obj)[0] == "Healthy"


def test_degraded_carries_the_message(tmp_path):
    message = ("kotaemon/kotaemon-llm: key \"DB_PASSWORD\": no key in the keyring "
               "(sealed for 3e221f7d13407cff) \u2014 run seal reseal\n1")
    obj = sealed_secret(3, {"observedGeneration": 3, "conditions": [
        cond("Synced", "False", "UnsealFailed", message)]})
    assert health_of(tmp_path, obj) == ("Degraded", message)


def test_degraded_without_message_gives_the_reason(tmp_path):
    obj = sealed_secret(2, {"observedGeneration": 2, "conditions": [
        cond("Synced", "False", "SecretNotManaged")]})
    assert health_of(tmp_path, obj) == ("Degraded", "SecretNotManaged")


def test_stale_generation_is_progressing(tmp_path):
    # Synced=True describes generation 2; Git now holds generation 3.
    obj = sealed_secret(3, {"observedGeneration": 2, "conditions": [
        cond("Synced", "True", "Unsealed")]})
    status, message = health_of(tmp_path, obj)
    assert status == "Progressing"
    assert "generation 3" in message and "observed 2" in message


def test_stale_failure_is_progressing_not_degraded(tmp_path):
    # A fix was just pushed for a failure of the previous generation: until
    # the controller has looked at it, the old failure says nothing.
    obj = sealed_secret(4, {"observedGeneration": 3, "conditions": [
        cond("Synced", "False", "UnsealFailed", "old failure")]})
    assert health_of(tmp_path, obj)[0] == "Progressing"


def test_no_status_is_progressing(tmp_path):
    status, message = health_of(tmp_path, sealed_secret(1))
    assert status == "Progressing"
    assert message


@pytest.mark.parametrize("status", [
    {},
    {"observedGeneration": 1},
    {"observedGeneration": 1, "conditions": []},
    {"observedGeneration": 1, "conditions": [cond("KeyCurrent", "True")]},
    {"observedGeneration": 1, "conditions": [cond("Synced", "Unknown", "Pending")]},
    {"conditions": [cond("Synced", "True", "Unsealed")]},
])
def test_incomplete_status_is_progressing(tmp_path, status):
    assert health_of(tmp_path, sealed_secret(1, status))[0] == "Progressing"


def test_object_without_generation_is_never_healthy(tmp_path):
    obj = sealed_secret(1, {"observedGeneration": 1, "conditions": [cond("Synced", "True")]})
    del obj["metadata"]["generation"]
    assert health_of(tmp_path, obj)[0] == "Progressing"


def test_harness_can_tell_a_broken_script(tmp_path):
    # The harness must not pass a script that gets the cases wrong.
    broken = tmp_path / "broken.lua"
    broken.write_text('return { status = "Healthy", message = "" }\n')
    obj = sealed_secret(3, {"observedGeneration": 2, "conditions": [cond("Synced", "True")]})
    assert health_of(tmp_path, obj, broken)[0] == "Healthy"
    assert health_of(tmp_path, obj)[0] != "Healthy"


def test_argocd_cm_holds_the_same_scripts(tmp_path):
    need_kubectl()
    objects = to_objects((EXAMPLES / "argocd" / "argocd-cm.yaml").read_text(), tmp_path)
    cm = one(objects, "ConfigMap", "argocd-cm")
    assert cm["metadata"]["namespace"] == "argocd"
    assert cm["data"]["resource.customizations.health.seal.dev_SealedSecret"] == HEALTH.read_text()
    # the Application check is a separate, opt-in patch: merging argocd-cm.yaml
    # must not silently replace an Application health check already there
    assert len(cm["data"]) == 1
    objects = to_objects((EXAMPLES / "argocd" / "argocd-cm-application-health.yaml").read_text(),
                         tmp_path)
    app_cm = one(objects, "ConfigMap", "argocd-cm")
    assert app_cm["metadata"]["namespace"] == "argocd"
    assert app_cm["data"] == {
        "resource.customizations.health.argoproj.io_Application": APP_HEALTH.read_text()}
    text = (EXAMPLES / "argocd" / "argocd-cm-application-health.yaml").read_text()
    assert "kubectl -n argocd get configmap argocd-cm" in text


def application(health=None):
    obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "seal-controller-staging", "namespace": "argocd"},
           "spec": {"project": "default"}}
    if health is not None:
        obj["status"] = {"health": health, "sync": {"status": "Synced"}}
    return obj


@pytest.mark.parametrize("health,expected", [
    (None, ("Progressing", "")),
    ({}, ("Progressing", "")),
    ({"status": "Healthy"}, ("Healthy", "")),
    ({"status": "Degraded", "message": "unseal-controller: 0/1 ready"},
     ("Degraded", "unseal-controller: 0/1 ready")),
    ({"status": "Missing"}, ("Missing", "")),
])
def test_application_health_follows_the_application(tmp_path, health, expected):
    assert health_of(tmp_path, application(health), APP_HEALTH) == expected
