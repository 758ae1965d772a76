"""Fixtures for the test API server's tests: a running server and a small client."""

import base64
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
ROOT = os.environ.get("SEAL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
CRD = os.path.join(ROOT, "examples", "deploy", "crd.yaml")
TOKEN = "test-token-0123456789"


class Running:
    """A started server: its URL, kubeconfig, CA file and a way to talk to it."""

    def __init__(self, tmp, extra=(), tls=True, token=TOKEN):
        self.tmp = tmp
        self.kubeconfig = os.path.join(tmp, "kubeconfig")
        self.state = os.path.join(tmp, "state")
        self.token = token
        args = [sys.executable, SERVER, "--port", "0", "--kubeconfig-out", self.kubeconfig,
                "--state-dir", self.state, *extra]
        if tls:
            args.append("--tls")
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"ready (https?)://127\.0\.0\.1:(\d+)\n", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.scheme, self.port = m.group(1), int(m.group(2))
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context(cafile=os.path.join(self.state, "ca.crt"))

    def conn(self, timeout=30):
        """A raw connection, for streams (watch) and hostile clients."""
        if self.ctx is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", token=None, headers=None,
                raw=False):
        """(status, headers, decoded JSON body or bytes), through urllib with the server's CA."""
        if token is None:
            token = self.token
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            h["Content-Type"] = ctype
        req = urllib.request.Request(self.url + path, data=body, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                status, hdrs, data = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, data = e.code, e.headers, e.read()
            e.close()
        hdrs = {k.lower(): v for k, v in hdrs.items()}
        if not raw and hdrs.get("content-type", "").startswith("application/json"):
            data = json.loads(data)
        return status, hdrs, data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ok(self, method, path, body=None, **kw):
        code, _h, data = self.request(method, path, body, **kw)
        assert 200 <= code < 300, (method, path, code, data)
        return data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def secret(name, data=None, labels=None, **extra):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
           "data": {k: base64.b64encode(v.encode()).decode() for k, v in (data or {}).items()}}
    if labels:
        obj["metadata"]["labels"] = labels
    obj.update(extra)
    return obj


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def srv():
    with tempfile.TemporaryDirectory(prefix="seal-apiserver-test-") as tmp:
        s = Running(tmp, extra=["--namespace", "team-a", "--namespace", "team-b"])
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture
def fresh(tmp_path):
    """A server of one's own, for tests that change global state (compaction, token)."""
    started = []

    def start(*extra, **kw):
        s = Running(str(tmp_path / f"s{len(started)}"), extra=extra, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


@pytest.fixture
def ns(srv, request):
    """A namespace of the test's own."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:50]
    srv.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": name}})
    return name
