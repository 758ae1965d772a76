"""Shared fixtures of the seal command line tests.

SEAL_BIN is the binary under test, SEAL_TESTVECTORS the folder of seal-v1.json;
both come from meson (tests/meson.build)."""

import base64
import http.server
import json
import os
import subprocess

import pytest

from apiserver import StandIn

SEAL = os.environ.get("SEAL_BIN", "")
VECTORS = os.environ.get("SEAL_TESTVECTORS", "")
HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "cli-test-token-0123456789"


def vectors():
    with open(os.path.join(VECTORS, "seal-v1.json"), encoding="utf-8") as f:
        return json.load(f)


class StandInHandler(http.server.BaseHTTPRequestHandler):
    """Base of the tests' stand-ins for the controller's HTTP endpoints."""

    def reply(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr.decode("utf-8", "replace")

    @property
    def text(self):
        return self.out.decode("utf-8")

    def __repr__(self):
        return f"<rc={self.rc} out={self.out[:300]!r} err={self.err[:500]!r}>"


def run(*args, stdin=b"", env=None, cwd=None, timeout=60, prefix=()):
    """Runs seal with args; stdin is bytes or str; prefix: a command that runs seal."""
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    full_env = dict(os.environ)
    full_env.pop("SEAL_CERT", None)
    full_env["KUBECONFIG"] = "/nonexistent/kubeconfig"
    full_env.pop("KUBERNETES_SERVICE_HOST", None)
    if env:
        full_env.update(env)
    proc = subprocess.run([*prefix, SEAL, *args], input=stdin, capture_output=True, env=full_env,
                          cwd=cwd, timeout=timeout, check=False)
    r = Result(proc)
    # under ASan/UBSan a report can hide behind an expected exit code
    assert "Sanitizer" not in r.err and "runtime error:" not in r.err, r.err
    return r


def ok(*args, **kw):
    r = run(*args, **kw)
    assert r.rc == 0, r
    return r


def fails(rc, *args, **kw):
    """Runs seal expecting exit code rc, a message on stderr and nothing on stdout."""
    r = run(*args, **kw)
    assert r.rc == rc, r
    assert r.out == b"", r
    assert r.err.startswith("seal: ") or "seal: " in r.err, r
    return r


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def secret_yaml(name="api-keys", namespace="kotaemon", data=None, string_data=None, extra=""):
    """A Secret in YAML; data values are plain text and are base64-encoded here."""
    lines = ["apiVersion: v1", "kind: Secret", "metadata:"]
    if name is not None:
        lines.append(f"  name: {name}")
    if namespace is not None:
        lines.append(f"  namespace: {namespace}")
    lines.append("type: Opaque")
    if data:
        lines.append("data:")
        for k, v in data.items():
            lines.append(f"  {k}: {b64(v)}")
    if string_data:
        lines.append("stringData:")
        for k, v in string_data.items():
            lines.append(f"  {k}: {json.dumps(v)}")
    return "\n".join(lines) + "\n" + extra


def secret_json(name="api-keys", namespace="kotaemon", data=None):
    doc = {"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": namespace}, "type": "Opaque",
           "data": {k: b64(v) for k, v in (data or {}).items()}}
    return json.dumps(doc, indent=2) + "\n"


class Keys:
    """The test vectors' key pairs as files in a temporary folder."""

    def __init__(self, folder):
        v = vectors()
        self.ids = []
        self.pub = []
        self.priv = []
        for i, k in enumerate(v["keys"]):
            pub = folder / f"key{i}.pem"
            priv = folder / f"key{i}.key"
            pub.write_text(k["public_armored"])
            priv.write_text(k["private_armored"])
            priv.chmod(0o600)
            self.pub.append(str(pub))
            self.priv.append(str(priv))
            self.ids.append(k["kid"])
        self.low_order = v["low_order_public_keys"]


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return Keys(d)


def parse_docs(text):
    """The SealedSecrets or Secrets of seal's output, YAML or JSON, as dicts.

    A minimal reader for the block YAML seal writes (maps, strings), so the
    tests need nothing beyond the standard library; JSON via json."""
    text = text.decode("utf-8") if isinstance(text, bytes) else text
    if text.lstrip().startswith("{"):
        dec = json.JSONDecoder()
        docs, i = [], 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            doc, i = dec.raw_decode(text, i)
            docs.append(doc)
        return docs
    docs = []
    for chunk in text.split("\n---\n"):
        chunk = chunk.strip("\n")
        if chunk.startswith("---"):
            chunk = chunk[3:].lstrip("\n")
        if chunk.strip():
            docs.append(_yaml_block([l for l in chunk.split("\n") if l.strip()], 0)[0])
    return docs


def _scalar(s):
    s = s.strip()
    if s.startswith('"'):
        return json.loads(s)
    if s.startswith("'"):
        return s[1:-1].replace("''", "'")
    if s in ("true", "false"):
        return s == "true"
    if s == "{}":
        return {}
    if s == "[]":
        return []
    if s.lstrip("-").isdigit():
        return int(s)
    return s


def _yaml_block(lines, i):
    indent = len(lines[i]) - len(lines[i].lstrip(" "))
    if lines[i].lstrip().startswith("- "):
        out = []
        while i < len(lines) and len(lines[i]) - len(lines[i].lstrip(" ")) == indent \
                and lines[i].lstrip().startswith("- "):
            item = lines[i].lstrip()[2:]
            if ":" in item and not item.startswith(('"', "'")):
                sub = [" " * (indent + 2) + item]
                j = i + 1
                while j < len(lines) and len(lines[j]) - len(lines[j].lstrip(" ")) > indent:
                    sub.append(lines[j])
                    j += 1
                out.append(_yaml_block(sub, 0)[0])
                i = j
            else:
                out.append(_scalar(item))
                i += 1
        return out, i
    out = {}
    while i < len(lines):
        line = lines[i]
        cur = len(line) - len(line.lstrip(" "))
        if cur < indent:
            break
        body = line.strip()
        if body.startswith('"'):
            end = body.index('":')
            key, rest = json.loads(body[:end + 1]), body[end + 2:]
        else:
            key, _, rest = body.partition(":")
        if rest.strip():
            out[key] = _scalar(rest)
            i += 1
        elif i + 1 < len(lines) and (len(lines[i + 1]) - len(lines[i + 1].lstrip(" ")) > cur
                                     or lines[i + 1].lstrip().startswith("- ")):
            out[key], i = _yaml_block(lines, i + 1)
        else:
            out[key] = None
            i += 1
    return out, i


class ApiServer(StandIn):
    """The test API server (tests/kube-apiserver/apiserver.py) with TLS, a token and
    the namespace seal-system."""

    def __init__(self, tmp, extra=()):
        super().__init__(tmp, token=TOKEN, namespaces=("seal-system",), extra=extra)

    def send(self, method, path, obj=None):
        """The decoded answer of a request that must succeed."""
        return self.ok(method, path, obj) or {}


@pytest.fixture
def apiserver(tmp_path):
    s = ApiServer(tmp_path)
    yield s
    s.stop()


def publish_configmap(api, cert_text):
    api.send("POST", "/api/v1/namespaces/seal-system/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "seal-public-keys", "namespace": "seal-system"},
        "data": {"cert.pem": cert_text}})


def publish_controller(api, port, ns="seal-system", name="unseal-controller"):
    api.send("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": port}]}})
    api.send("POST", f"/api/v1/namespaces/{ns}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": port}]}]})
