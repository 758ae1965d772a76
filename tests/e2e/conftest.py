"""Shared fixtures of the controller's end-to-end tests.

A test API server (TLS and a token), the CRD registered with kubectl, and
unseal-controller processes started against it with short timings. Paths come
from the environment tests/meson.build sets: UNSEAL_CONTROLLER_BIN, SEAL_BIN,
SEAL_SOURCE_ROOT, KUBECTL, and PYTHONPATH for apiserver.py.

Two API servers, one code path (`--apiserver`):
  standin  tests/kube-apiserver/server.py, a fresh one for every test;
  real     upstream kube-apiserver, etcd and kube-controller-manager
           (tests/kube-real/cluster.sh), one control plane per test file,
           emptied between tests. The controller runs in cluster there: as its
           ServiceAccount (a TokenRequest token), with exactly the RBAC of
           examples/deploy/rbac.yaml, through KUBERNETES_SERVICE_HOST/_PORT and
           a ServiceAccount folder.
Tests marked `standin` need the stand-in's /_test/ endpoints (fault injection,
cut watches) and are deselected against the real server.
"""

import base64
import http.client
import json
import os
import signal
import socket
import shutil
import subprocess
import tempfile
import time

import pytest

from apiserver import StandIn, kubectl_path
from real import Real

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("SEAL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
CONTROLLER = os.environ.get("UNSEAL_CONTROLLER_BIN", "")
SEAL = os.environ.get("SEAL_BIN", "")
CRD = os.path.join(ROOT, "examples", "deploy", "crd.yaml")
DEPLOY = os.path.join(ROOT, "examples", "deploy")
TOKEN = "e2e-token-5f1c2a9b7d"
WRITE_VERBS = ("create", "update", "patch", "delete")
NAMESPACES = ("seal-system", "app", "other")
MODE = {"apiserver": "standin"}


def pytest_addoption(parser):
    parser.addoption("--apiserver", choices=("standin", "real"), default="standin",
                     help="API server of the end-to-end tests (default: standin)")


def pytest_configure(config):
    config.addinivalue_line("markers", "standin: needs the stand-in's /_test/ endpoints "
                            "(fault injection, cut watches); not run against the real server")
    MODE["apiserver"] = config.getoption("apiserver")
    if MODE["apiserver"] == "real":
        # the control plane runs detached: a SIGTERM (meson's timeout) must still end in
        # pytest_sessionfinish, which stops it
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    if MODE["apiserver"] != "real":
        return
    gone = [i for i in items if i.get_closest_marker("standin")]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = [i for i in items if not i.get_closest_marker("standin")]


def pytest_sessionfinish(session):
    shared = _shared.pop("real", None)
    if shared is not None:
        shared.stop()
        shutil.rmtree(shared.folder, ignore_errors=True)


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


class E2EApi:
    """What the end-to-end tests add to either API server: kubectl reads, write counts,
    and how a controller reaches the server."""

    real = False

    def crd_added(self):
        """Called once a test's own CRD is served: the garbage collector must know it."""

    def controller_config(self, copy_to=None):
        """(arguments, environment) that point unseal-controller at this server.
        copy_to: a folder the credentials are copied to, readable by any user."""
        kc = self.kubeconfig
        if copy_to is not None:
            kc = os.path.join(copy_to, "kubeconfig")
            shutil.copy(self.kubeconfig, kc)
            os.chmod(kc, 0o644)
        return ["--kubeconfig", kc], {}

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


class ApiServer(E2EApi, StandIn):
    """The test API server (TLS, a token, namespaces seal-system, app and other)
    (tests/kube-apiserver/apiserver.py)."""

    def __init__(self, tmp, extra=()):
        super().__init__(tmp, token=TOKEN, namespaces=NAMESPACES, extra=extra)
        self.kubectl("create", "-f", CRD)


class RealApiServer(E2EApi, Real):
    """kube-apiserver v1.20 prepared the way a cluster running unseal-controller is: the
    namespaces, the CRD and ServiceAccount and RBAC of examples/deploy, and a TokenRequest
    token for that ServiceAccount in a folder laid out like a pod's
    /var/run/secrets/kubernetes.io/serviceaccount."""

    real = True
    # what a test may leave behind, emptied by reset(): collection paths in a namespace
    RESET = ("/apis/seal.dev/v1/namespaces/{}/sealedsecrets",
             "/api/v1/namespaces/{}/configmaps", "/api/v1/namespaces/{}/events",
             "/apis/coordination.k8s.io/v1/namespaces/{}/leases",
             "/api/v1/namespaces/{}/endpoints",
             "/api/v1/namespaces/{}/secrets?fieldSelector=type%21%3Dkubernetes.io%2Fservice-account-token")

    def __init__(self, folder):
        super().__init__(folder)
        try:
            for ns in NAMESPACES:
                self.kubectl("create", "namespace", ns)
            self.kubectl("create", "-f", CRD)
            self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                         "crd/sealedsecrets.seal.dev")
            self.crd_added()
            self.kubectl("create", "-f", os.path.join(DEPLOY, "serviceaccount.yaml"))
            self.kubectl("create", "-f", os.path.join(DEPLOY, "rbac.yaml"))
            tr = self.ok("POST", "/api/v1/namespaces/seal-system/serviceaccounts/"
                         "unseal-controller/token",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {"expirationSeconds": 6 * 3600}})
            self.sa_dir = os.path.join(self.folder, "serviceaccount")
            os.makedirs(self.sa_dir, mode=0o700)
            for name, text in (("token", tr["status"]["token"]), ("namespace", "seal-system")):
                fd = os.open(os.path.join(self.sa_dir, name), os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
            shutil.copy(self.ca, os.path.join(self.sa_dir, "ca.crt"))
            self.sa_kubeconfig = os.path.join(self.folder, "serviceaccount.kubeconfig")
            fd = os.open(self.sa_kubeconfig, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "sa",
                           "clusters": [{"name": "real", "cluster": {
                               "server": self.url, "certificate-authority": self.ca}}],
                           "users": [{"name": "sa", "user": {
                               "tokenFile": os.path.join(self.sa_dir, "token")}}],
                           "contexts": [{"name": "sa", "context": {
                               "cluster": "real", "user": "sa"}}]}, f)
        except BaseException:
            self.stop()
            raise

    def crd_added(self):
        # kube-controller-manager's garbage collector looks for new resources every 30 s;
        # started again, it knows them at once
        self.restart_daemon("kube-controller-manager")

    def controller_config(self, copy_to=None):
        sa = self.sa_dir
        if copy_to is not None:
            sa = os.path.join(copy_to, "serviceaccount")
            shutil.copytree(self.sa_dir, sa)
            for f in os.listdir(sa):
                os.chmod(os.path.join(sa, f), 0o644)
            os.chmod(sa, 0o755)
        return (["--service-account-dir", sa],
                {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.port),
                 "KUBECONFIG": None})

    def reset(self):
        """Deletes what a test left (the ServiceAccounts, their token Secrets, the RBAC and
        the CRD stay), one collection at a time, and waits until it is gone."""
        self.kubectl("delete", "namespace", "kotaemon", "argocd", "--ignore-not-found",
                     "--wait=true", timeout=120)
        # CRDs a test added (the Bitnami one of test_migrate)
        crds = [c["metadata"]["name"] for c in self.ok(
            "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]]
        others = [c for c in crds if c != "sealedsecrets.seal.dev"]
        if others:
            self.kubectl("delete", "crd", *others, "--wait=true", timeout=120)
        for ns in NAMESPACES:
            self.kubectl("delete", "services", "--all", "-n", ns, "--wait=true", timeout=120)
            for path in self.RESET:
                self.ok("DELETE", path.format(ns))
        for ns in NAMESPACES:
            for path in self.RESET:
                wait_for(lambda p=path.format(ns): not self.ok("GET", p)["items"], timeout=60,
                         what=f"{path.format(ns)} emptied between tests")


_shared = {}


def new_api(tmp, server_args=()):
    """A fresh API server of the kind the run asks for (the caller stops it)."""
    if MODE["apiserver"] == "real":
        return RealApiServer(os.path.join(tmp, "real"))
    return ApiServer(tmp, server_args)


class Controller:
    """One unseal-controller process."""

    def __init__(self, api, tmp, name="ctl", args=(), env=None, ports=None):
        self.api = api
        self.port, self.metrics_port = ports or (free_port(), free_port())
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "w")
        api_args, api_env = api.controller_config()
        cmd = [CONTROLLER, *api_args, "--key-namespace", "seal-system"]
        if not ports:
            cmd += ["--listen", f"127.0.0.1:{self.port}",
                    "--metrics-listen", f"127.0.0.1:{self.metrics_port}"]
        cmd += ["--log-level", "debug", *args]
        e = dict(os.environ, HOME=api.home)
        e.update(api_env)
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, env=e)

    def http(self, method, path, body=None, headers=None, metrics=False):
        return http_request(self.metrics_port if metrics else self.port, method, path, body, headers)

    def healthy(self):
        try:
            return self.http("GET", "/health")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout=None):
        # kube-apiserver lists large objects far slower than the stand-in (100 objects of
        # 700 KiB: over 20 s on two busy cores)
        timeout = timeout or (90 if self.api.real else 20)
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
    """A test API server with the CRD, controllers started on demand, a sealer.
    api: a shared server, emptied (reset) instead of stopped at close; None: a fresh one."""

    def __init__(self, tmp, server_args=(), api=None):
        self.tmp = tmp
        self.shared = api is not None
        self.api = api if api is not None else new_api(tmp, server_args)
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
        if self.shared:
            self.api.reset()
        else:
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
    shared = None
    if MODE["apiserver"] == "real":
        shared = _shared.get("real")
        if shared is None:
            folder = tempfile.mkdtemp(prefix="seal-e2e-real-")
            try:
                shared = _shared["real"] = RealApiServer(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
    with tempfile.TemporaryDirectory(prefix="seal-e2e-") as tmp:
        e = Env(tmp, api=shared)
        try:
            yield e
        finally:
            e.close()
