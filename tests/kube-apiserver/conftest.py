"""Fixtures for the test API server's tests: a running server and a small client."""

import base64
import os
import re
import tempfile
import time

import pytest

from apiserver import SERVER, StandIn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("SEAL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
CRD = os.path.join(ROOT, "examples", "deploy", "crd.yaml")
TOKEN = "test-token-0123456789"


class Running(StandIn):
    """A started server (apiserver.py); get, post, put, patch and delete answer
    (status, headers, decoded JSON body or bytes)."""

    def __init__(self, tmp, extra=(), tls=True, token=TOKEN):
        super().__init__(tmp, tls=tls, token=token, extra=extra)

    def get(self, path, **kw):
        return self.exchange("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.exchange("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.exchange("PUT", path, body, **kw)

    def patch(self, path, body, ctype="application/merge-patch+json", **kw):
        return self.exchange("PATCH", path, body, ctype=ctype, **kw)

    def delete(self, path, **kw):
        return self.exchange("DELETE", path, **kw)

    def ok(self, method, path, body=None, **kw):
        code, _h, data = self.exchange(method, path, body, **kw)
        assert 200 <= code < 300, (method, path, code, data)
        return data


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
