"""Shared fixtures of the controller's end-to-end tests.

A test API server (TLS and a token), the CRD registered with kubectl, and
unseal-controller processes started against it with short timings. Paths come
from the environment tests/meson.build sets: UNSEAL_CONTROLLER_BIN, SEAL_BIN,
SEAL_SOURCE_ROOT, KUBECTL, and PYTHONPATH for apiserver.py.
"""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from apiserver import StandIn, kubectl_path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("SEAL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
CONTROLLER = os.environ.get("UNSEAL_CONTROLLER_BIN", "")
SEAL = os.environ.get("SEAL_BIN", "")
CRD = os.path.join(ROOT, "examples", "deploy", "crd.yaml")
TOKEN = "e2e-token-5f1c2a9b7d"
WRITE_VERBS = ("create", "update", "patch", "delete")


def wait_for(fn, timeout=20.0, interval=0.1, what="condition"):
    """Polls fn until it returns a true value; returns it or fails the test."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (AssertionError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as e:
            last = e
            value = None
        else:
            value = last
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port, method, path, body=None, headers=None, timeout=10):
    """(status, headers, bytes) from a plain HTTP endpoint of the controller."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


class ApiServer(StandIn):
    """The test API server (TLS, a token, namespaces seal-system, app and other) with
    kubectl reads and write counts (tests/kube-apiserver/apiserver.py)."""

    def __init__(self, tmp, extra=()):
        super().__init__(tmp, token=TOKEN, namespaces=("seal-system", "app", "other"),
                         extra=extra)

    def get(self, kind, name, ns="app"):
        """The object as kubectl shows it, or None when it does not exist."""
        p = self.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        if p.returncode != 0:
            if "NotFound" in p.stderr or "not found" in p.stderr:
                return None
            raise AssertionError(f"kubectl get {kind} {name} failed: {p.stderr.strip()}")
        return json.loads(p.stdout)

    def writes(self, before, after=None):
        """Write requests between two stats snapshots, by "verb resource"."""
        after = after if after is not None else self.stats()
        return {k: v - before.get(k, 0) for k, v in after.items()
                if k.split(" ")[0] in WRITE_VERBS and v != before.get(k, 0)}


class Controller:
    """One unseal-controller process."""

    def __init__(self, api, tmp, name="ctl", args=(), env=None, ports=None):
        self.api = api
        self.port, self.metrics_port = ports or (free_port(), free_port())
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "w")
        cmd = [CONTROLLER, "--kubeconfig", api.kubeconfig, "--key-namespace", "seal-system"]
        if not ports:
            cmd += ["--listen", f"127.0.0.1:{self.port}",
                    "--metrics-listen", f"127.0.0.1:{self.metrics_port}"]
        cmd += ["--log-level", "debug", *args]
        e = dict(os.environ, HOME=api.home)
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=e)

    def http(self, method, path, body=None, headers=None, metrics=False):
        return http_request(self.metrics_port if metrics else self.port, method, path, body, headers)

    def healthy(self):
        try:
            return self.http("GET", "/health")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout=20):
        wait_for(lambda: self.proc.poll() is not None or self.healthy(), timeout,
                 what="controller /health")
        assert self.proc.poll() is None, f"controller exited early: {self.logs()}"

    def cert(self):
        status, _, body = self.http("GET", "/v1/cert.pem")
        assert status == 200, body
        return body.decode()

    def logs(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig; returns (exit status, seconds it took)."""
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.monotonic() - t0

    def close(self):
        self.stop(signal.SIGKILL)
        self.log.close()


class Env:
    """A test API server with the CRD, controllers started on demand, a sealer."""

    def __init__(self, tmp, server_args=()):
        self.tmp = tmp
        self.api = ApiServer(tmp, server_args)
        self.api.kubectl("create", "-f", CRD)
        self.controllers = []
        self.cert_path = os.path.join(tmp, "cert.pem")

    def controller(self, *args, name=None, env=None, ready=True, ports=None):
        c = Controller(self.api, self.tmp, name or f"ctl{len(self.controllers)}", args, env, ports)
        self.controllers.append(c)
        if ready:
            c.wait_ready()
            with open(self.cert_path, "w") as f:
                f.write(c.cert())
        return c

    def seal(self, secret, *args, cert=None):
        """A Secret (dict) sealed by the seal CLI for the controller's key: a dict."""
        if not SEAL or not os.path.exists(SEAL):
            pytest.fail("the seal command line tool is not built (SEAL_BIN unset or missing)")
        p = subprocess.run([SEAL, "--cert", cert or self.cert_path, "-o", "json", *args],
                           input=json.dumps(secret), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"seal failed: {p.stderr}"
        return json.loads(p.stdout)

    def seal_many(self, secrets):
        """Several Secrets sealed in one run of the CLI: a list of dicts."""
        if not SEAL or not os.path.exists(SEAL):
            pytest.fail("the seal command line tool is not built (SEAL_BIN unset or missing)")
        doc = {"apiVersion": "v1", "kind": "List", "items": secrets}
        p = subprocess.run([SEAL, "--cert", self.cert_path, "-o", "json"], input=json.dumps(doc),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"seal failed: {p.stderr}"
        out, dec, i, text = [], json.JSONDecoder(), 0, p.stdout
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            obj, i = dec.raw_decode(text, i)
            out.extend(obj["items"] if obj.get("kind") == "List" else [obj])
        assert len(out) == len(secrets), f"seal gave {len(out)} documents for {len(secrets)}"
        return out

    def apply_all(self, objs, verb="create"):
        self.api.kubectl(verb, "-f", "-", input="\n".join(json.dumps(o) for o in objs))

    def apply(self, obj, verb="create"):
        self.api.kubectl(verb, "-f", "-", input=json.dumps(obj))

    def close(self):
        """Stops every controller still running with SIGTERM: each must exit 0 (under the
        sanitizers that also means no leak and no error report)."""
        bad = []
        for c in self.controllers:
            if c.proc.poll() is None:
                rc, took = c.stop(signal.SIGTERM)
                if rc != 0 or took >= 10:
                    bad.append(f"{c.log_path}: exit {rc} after {took:.1f}s\n{c.logs()[-3000:]}")
            c.close()
        self.api.stop()
        if bad:
            pytest.fail("controller did not stop cleanly:\n" + "\n".join(bad))


def secret(name, ns="app", data=None, type_=None, labels=None, annotations=None, immutable=None):
    md = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    if annotations:
        md["annotations"] = annotations
    s = {"apiVersion": "v1", "kind": "Secret", "metadata": md,
         "stringData": data or {"PASSWORD": "correct horse battery staple"}}
    if type_:
        s["type"] = type_
    if immutable is not None:
        s["immutable"] = immutable
    return s


def decoded(sec):
    return {k: base64.b64decode(v).decode() for k, v in (sec.get("data") or {}).items()}


def condition(obj, type_):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c.get("type") == type_:
            return c
    return None


def events_for(api, name, ns="app"):
    p = api.kubectl("get", "events", "-n", ns, "-o", "json")
    return [e for e in json.loads(p.stdout)["items"]
            if e.get("involvedObject", {}).get("name") == name]


@pytest.fixture
def env():
    if not CONTROLLER or not os.path.exists(CONTROLLER):
        pytest.fail("unseal-controller is not built (UNSEAL_CONTROLLER_BIN unset or missing)")
    if not kubectl_path():
        pytest.skip("kubectl is not installed")
    with tempfile.TemporaryDirectory(prefix="seal-e2e-") as tmp:
        e = Env(tmp)
        try:
            yield e
        finally:
            e.close()
