"""seal cert and seal verify against the real unseal-controller (and the test
API server): the key it publishes, and its /v1/verify answers."""

import base64
import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import HERE, ApiServer, fails, ok, publish_controller, run, secret_yaml

CONTROLLER = os.environ.get("UNSEAL_CONTROLLER_BIN", "")
CRD = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "deploy", "crd.yaml")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    def __init__(self, tmp):
        self.api = ApiServer(tmp)
        env = dict(os.environ, HOME=str(tmp))
        self.api.kubectl("create", "-f", CRD)
        self.port = free_port()
        self.log = open(tmp / "controller.log", "w")
        self.proc = subprocess.Popen(
            [CONTROLLER, "--kubeconfig", self.api.kubeconfig, "--key-namespace", "seal-system",
             "--listen", f"127.0.0.1:{self.port}", "--metrics-listen", f"127.0.0.1:{free_port()}"],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: self.proc.poll() is not None or self.healthy(), what="controller /health")
        assert self.proc.poll() is None, open(tmp / "controller.log").read()

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.api.stop()


@pytest.fixture
def cluster(tmp_path):
    if not CONTROLLER or not os.path.exists(CONTROLLER):
        pytest.fail("UNSEAL_CONTROLLER_BIN is not set to the built controller")
    c = Cluster(tmp_path)
    yield c
    c.close()


def key_id(cert_text):
    return [l.split(": ")[1] for l in cert_text.splitlines() if l.startswith("Key-Id: ")][0]


def test_cert_from_controller_and_configmap(cluster):
    direct = ok("cert", "--controller-url", cluster.url).text
    kid = key_id(direct)

    def published():
        r = run("cert", "--kubeconfig", cluster.api.kubeconfig)
        return r.rc == 0 and kid in r.text
    wait_for(published, what="the ConfigMap seal-system/seal-public-keys")
    # through the service proxy too
    cluster.api.send("DELETE", "/api/v1/namespaces/seal-system/configmaps/seal-public-keys")
    publish_controller(cluster.api, cluster.port)
    r = ok("cert", "--kubeconfig", cluster.api.kubeconfig)
    assert kid in r.text


def test_verify_against_the_controller(cluster, keys):
    kid = key_id(ok("cert", "--controller-url", cluster.url).text)
    r = ok("--controller-url", cluster.url, "-o", "json",
           stdin=secret_yaml(name="app", data={"a": "1", "b": "2"}))
    assert f"sealing for key {kid}" in r.err
    good = r.out
    r = ok("verify", "--controller-url", cluster.url, stdin=good)
    assert "kotaemon/app" in r.text and "ok" in r.text

    moved = json.loads(good)
    moved["metadata"]["namespace"] = "elsewhere"
    r = run("verify", "--controller-url", cluster.url, stdin=json.dumps(moved))
    assert r.rc == 1 and r.out == b"", r
    assert 'key "a": WrongScope' in r.err and 'key "b": WrongScope' in r.err

    other = ok("--cert", keys.pub[0], "-o", "json",
               stdin=secret_yaml(name="other", data={"a": "1"})).out
    r = run("verify", "--controller-url", cluster.url, stdin=good + b"\n" + other)
    assert r.rc == 1
    assert "kotaemon/app" in r.text
    assert "document 2 (SealedSecret kotaemon/other)" in r.err and "NoKey" in r.err
    assert keys.ids[0] in r.err

    publish_controller(cluster.api, cluster.port)
    ok("verify", "--kubeconfig", cluster.api.kubeconfig, stdin=good)
    r = run("verify", "--kubeconfig", cluster.api.kubeconfig, stdin=json.dumps(moved))
    assert r.rc == 1 and "WrongScope" in r.err


def broken_copies(good):
    """(what, document) pairs: good moved to another namespace, name, data key or scope,
    or with one value's commitment flipped; each names the broken key."""
    def copy():
        return json.loads(json.dumps(good))

    out = []
    d = copy()
    d["metadata"]["namespace"] = "elsewhere"
    out.append(("namespace", d, "a"))
    d = copy()
    d["metadata"]["name"] = "renamed"
    out.append(("name", d, "a"))
    d = copy()
    enc = d["spec"]["encryptedData"]
    enc["a"], enc["b"] = enc["b"], enc["a"]
    out.append(("data key", d, "a"))
    d = copy()
    d["metadata"].setdefault("annotations", {})["seal.dev/scope"] = "cluster-wide"
    out.append(("scope", d, "a"))
    d = copy()
    blob = bytearray(base64.b64decode(d["spec"]["encryptedData"]["b"]))
    blob[2 + 88 * blob[1] + 24] ^= 1  # version, count, stanzas, nonce, then the commitment
    d["spec"]["encryptedData"]["b"] = base64.b64encode(bytes(blob)).decode()
    out.append(("commitment", d, "b"))
    return out


def test_reseal_through_the_controller_checks_values_already_current(cluster, tmp_path):
    """Values sealed for the newest key already have nothing to re-seal; /v1/rotate checks
    them all the same, and seal reseal reports a broken one (exit 1, naming the key)."""
    good = ok("--controller-url", cluster.url, "-o", "json",
              stdin=secret_yaml(name="app", data={"a": "1", "b": "2"})).out
    r = ok("reseal", "--controller-url", cluster.url, stdin=good)
    assert json.loads(r.out)["spec"]["encryptedData"] == json.loads(good)["spec"]["encryptedData"]
    for what, doc, key in broken_copies(json.loads(good)):
        src = tmp_path / "in.json"
        src.write_text(json.dumps(doc))
        before = src.read_bytes()
        r = run("reseal", "--controller-url", cluster.url, "-f", str(src), "--in-place")
        assert r.rc == 1 and r.out == b"", (what, r)
        assert f'key "{key}"' in r.err and "HTTP 409" in r.err, (what, r.err)
        assert src.read_bytes() == before, what


@pytest.mark.parametrize("flag", ["--listen", "--metrics-listen"])
def test_busy_port_says_why_it_cannot_listen(tmp_path, flag):
    api = ApiServer(tmp_path)
    busy = socket.socket()
    try:
        api.kubectl("create", "-f", CRD)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        addr = f"127.0.0.1:{busy.getsockname()[1]}"
        other = "--metrics-listen" if flag == "--listen" else "--listen"
        r = subprocess.run(
            [CONTROLLER, "--kubeconfig", api.kubeconfig, "--key-namespace", "seal-system",
             flag, addr, other, f"127.0.0.1:{free_port()}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, HOME=str(tmp_path)),
            timeout=60, text=True)
    finally:
        busy.close()
        api.stop()
    assert r.returncode != 0
    line = next(l for l in r.stderr.splitlines() if "cannot listen" in l)
    assert "address already in use" in line and addr in line and flag in line, line
