"""Shared helpers for the examples suite: paths, rendering with kubectl, and
reading the rendered objects as JSON (kubectl's own YAML parser, so the tests
need nothing beyond the Python standard library)."""

import base64
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import time

import pytest

from apiserver import kubectl_path

ROOT = pathlib.Path(os.environ.get("SEAL_SOURCE_ROOT",
                                   pathlib.Path(__file__).resolve().parents[2]))
EXAMPLES = ROOT / "examples"
KEYDIR = ROOT / "tests" / "examples" / "keys"
ENVIRONMENTS = ("staging", "production")


def git(repo, *args):
    """git in repo as a throwaway identity, no signing; its stdout, stripped."""
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-c", "tag.gpgSign=false", "-c", "commit.gpgSign=false",
                           "-C", str(repo), *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def need_kubectl():
    path = kubectl_path()
    if not path:
        pytest.skip("kubectl is not installed")
    return path


def _kubectl_env(tmp):
    env = dict(os.environ)
    # Never reach for a real cluster or a user's cache.
    env["KUBECONFIG"] = str(tmp / "no-kubeconfig")
    env["HOME"] = str(tmp)
    return env


def to_objects(yaml_text, tmp):
    """Parses a YAML stream into a list of dicts with `kubectl label --local`,
    which prints each object as JSON without contacting a server. Removing a
    label nobody has changes nothing but an empty labels map, dropped here."""
    kubectl = need_kubectl()
    if not yaml_text.strip():
        return []
    proc = subprocess.run(
        [kubectl, "label", "--local", "-f", "-", "-o", "json", "seal.test/none-"],
        input=yaml_text, capture_output=True, text=True, env=_kubectl_env(tmp),
        check=False)
    assert proc.returncode == 0, f"kubectl could not parse the YAML: {proc.stderr}"
    objects = []
    decoder = json.JSONDecoder()
    text, pos = proc.stdout, 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        items = obj.get("items") if obj.get("kind") == "List" else [obj]
        for item in items:
            meta = item.get("metadata", {})
            if meta.get("labels") == {}:
                del meta["labels"]
            objects.append(item)
    return objects


def kustomize(directory, tmp):
    """Renders a kustomization; returns (objects, YAML text)."""
    kubectl = need_kubectl()
    proc = subprocess.run([kubectl, "kustomize", str(directory)],
                          capture_output=True, text=True, env=_kubectl_env(tmp),
                          check=False)
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed: {proc.stderr}"
    return to_objects(proc.stdout, tmp), proc.stdout


def find(objects, kind, name=None):
    found = [o for o in objects if o.get("kind") == kind
             and (name is None or o["metadata"]["name"] == name)]
    return found


def one(objects, kind, name=None):
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def kustomizations():
    """Every kustomization under examples/ that renders on its own
    (components are rendered through the kustomizations that use them)."""
    found = []
    for path in sorted(EXAMPLES.rglob("kustomization.yaml")):
        if "\nkind: Component" in path.read_text():
            continue
        found.append(path.parent)
    return found


def annotation(obj, key, default=None):
    return obj.get("metadata", {}).get("annotations", {}).get(key, default)


def wave(obj):
    return int(annotation(obj, "argocd.argoproj.io/sync-wave", "0"))


# The sealed value format (docs/spec.md), enough to see who a value is sealed for.

def key_id(public_key):
    digest = hashlib.blake2b(b"seal.v1.kid" + public_key, digest_size=32).digest()
    return digest[:8].hex()


def armored_keys(text, kind):
    """The base64 key lines of every `SEAL <kind> KEY` block in text."""
    keys, inside = [], False
    for line in text.splitlines():
        line = line.rstrip("\r")
        if line == f"-----BEGIN SEAL {kind} KEY-----":
            inside = True
        elif line == f"-----END SEAL {kind} KEY-----":
            inside = False
        elif inside and ":" not in line:
            keys.append(base64.b64decode(line, validate=True))
    return keys


def sealed_key_ids(value):
    blob = base64.b64decode(value, validate=True)
    assert blob[0] == 1, "sealed value is not format version 1"
    count = blob[1]
    assert 1 <= count <= 16
    return [blob[2 + 88 * i: 2 + 88 * i + 8].hex() for i in range(count)]


def built(variable, what):
    """The path of a binary this build made (meson passes it in the
    environment once the target exists), or skip the test."""
    path = os.environ.get(variable)
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"{what} is not built yet ({variable} unset)")
    return path


def seal_cli():
    return built("SEAL_BIN", "seal")


def controller_binary():
    return built("UNSEAL_CONTROLLER_BIN", "unseal-controller")


def wait_for(fn, what, timeout=30.0):
    """Polls fn until it returns a true value; returns it or fails the test."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last: {last!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
