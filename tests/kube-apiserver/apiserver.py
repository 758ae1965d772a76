"""Starting a Kubernetes API server for the tests and the benchmarks.

Every test file and bench/bench.py starts its API server here, so the way a
server is started, waited for, talked to and stopped is written once.

ApiServer is what a test may rely on from any API server:
  url, port, scheme   where it serves (always on 127.0.0.1)
  kubeconfig          a kubeconfig file for it (cluster, user and context)
  ca                  the CA certificate file (None without TLS)
  token               the bearer token requests carry (None without one)
  ctx                 an ssl.SSLContext trusting ca (None without TLS)
  folder              the folder of its files (kubeconfig, logs, HOME of kubectl)
  request()           one request, the JSON body decoded
  exchange()          one request: status, headers and body
  conn()              a raw http.client connection (watch streams, hostile clients)
  kubectl()           kubectl with this server's kubeconfig
  log()               what the server wrote on standard error so far
  stop(), restart()   SIGTERM; start again with the same state and port

StandIn is tests/kube-apiserver/server.py, the stand-in documented in
README.md, started with its documented command line (--port, --kubeconfig-out,
--tls, --token, --state-dir, --namespace, --compact-after) and ready when it
prints `ready URL`. It adds the /_test/ control endpoints (stats, faults,
watches, compaction, token, objects), which only the stand-in has:
`has_test_endpoints` says whether a server offers them.

Standard library only: bench/bench.py imports it too (it puts this folder on
sys.path; the tests get it through PYTHONPATH, set in tests/meson.build).
"""

import base64
import http.client
import json
import os
import re
import select
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
DEFAULT_TOKEN = "seal-test-token-0123456789"
START_TIMEOUT = 60.0


class StartError(RuntimeError):
    """The server did not print its `ready URL` line."""


def kubectl_path():
    """The kubectl the tests use: $KUBECTL (set by tests/meson.build) or the one on PATH."""
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


class ApiServer:
    """What every API server the tests use offers; see the module's docstring."""

    has_test_endpoints = False

    def __init__(self, folder):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.kubeconfig = os.path.join(self.folder, "kubeconfig")
        self.home = os.path.join(self.folder, "home")
        os.makedirs(self.home, exist_ok=True)
        self.url = self.scheme = None
        self.port = None
        self.ca = None
        self.ctx = None
        self.token = None

    # ---- talking to it ---------------------------------------------------------------------

    def conn(self, timeout=30):
        """A new connection to the server (the caller closes it)."""
        if self.ctx is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                               timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def headers(self, token=None):
        """The Authorization header for token (default: the server's own; "" for none)."""
        token = self.token if token is None else token
        return {"Authorization": "Bearer " + token} if token else {}

    def exchange(self, method, path, body=None, ctype="application/json", token=None,
                 headers=None, raw=False, timeout=30):
        """(status, headers with lowercase names, body): body is decoded JSON when the
        answer is JSON and raw is false, bytes otherwise. A dict or list body is sent as
        JSON, bytes as they are."""
        h = self.headers(token)
        h.update(headers or {})
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            h["Content-Type"] = ctype
        req = urllib.request.Request(self.url + path, data=body, headers=h, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                status, hdrs, data = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, data = e.code, e.headers, e.read()
            e.close()
        hdrs = {k.lower(): v for k, v in hdrs.items()}
        if not raw and hdrs.get("content-type", "").startswith("application/json") and data:
            data = json.loads(data)
        return status, hdrs, data

    def request(self, method, path, body=None, ctype="application/json", **kw):
        """(status, decoded JSON body or None when empty)."""
        status, _h, data = self.exchange(method, path, body, ctype, **kw)
        if isinstance(data, bytes):
            data = json.loads(data) if data.strip() else None
        return status, data

    def ok(self, method, path, body=None, ctype="application/json"):
        """The decoded body of a request that must succeed (2xx)."""
        status, data = self.request(method, path, body, ctype)
        if not 200 <= status < 300:
            raise AssertionError(f"{method} {path}: {status} {data}")
        return data

    def kubectl_env(self):
        return dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)

    def kubectl(self, *args, input=None, check=True, timeout=60):
        """kubectl ARGS against this server; a CompletedProcess with text output.
        check: a non-zero exit raises AssertionError with kubectl's message."""
        kubectl = kubectl_path()
        if not kubectl:
            raise AssertionError("kubectl is not installed (scripts/test.sh says which to install)")
        p = subprocess.run([kubectl, *args], input=input, capture_output=True, text=True,
                           env=self.kubectl_env(), timeout=timeout, check=False)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {p.stderr.strip()}")
        return p

    # ---- lifetime (each implementation) ----------------------------------------------------

    def log(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def restart(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class StandIn(ApiServer):
    """tests/kube-apiserver/server.py, started in folder (its standard error in
    folder/apiserver.log).

    tls, token: HTTPS with a CA of its own, a bearer token (None: no token).
    namespaces: created at start. compact_after: --compact-after N.
    port: 0 for any free port. extra: further arguments of server.py.
    state: --state-dir folder/state, so restart() keeps the objects and the CA.
    Without it (the benchmarks: no snapshot of a large store at each stop) a
    restart starts empty. Either way a new StandIn starts with no objects, even
    in a folder an earlier one used."""

    has_test_endpoints = True

    def __init__(self, folder, tls=True, token=DEFAULT_TOKEN, namespaces=(), compact_after=None,
                 port=0, extra=(), verbose=False, state=True):
        super().__init__(folder)
        self.state = os.path.join(self.folder, "state") if state else None
        self.log_path = os.path.join(self.folder, "apiserver.log")
        self.tls = tls
        self.token = token
        args = ["--kubeconfig-out", self.kubeconfig]
        if self.state:
            args += ["--state-dir", self.state]
            try:
                os.remove(os.path.join(self.state, "objects.json"))
            except FileNotFoundError:
                pass
        if tls:
            args.append("--tls")
        if token:
            args += ["--token", token]
        for ns in namespaces:
            args += ["--namespace", ns]
        if compact_after is not None:
            args += ["--compact-after", str(compact_after)]
        if verbose:
            args.append("--verbose")
        self.args = args + list(extra)
        self.proc = None
        self._start(port)

    def _start(self, port):
        logf = open(self.log_path, "a")
        try:
            self.proc = subprocess.Popen([sys.executable, SERVER, "--port", str(port), *self.args],
                                         stdout=subprocess.PIPE, stderr=logf, text=True)
        finally:
            logf.close()
        line = ""
        ready, _w, _x = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        if ready:
            line = self.proc.stdout.readline()
        url = line[len("ready "):].strip() if line.startswith("ready ") else ""
        parts = urllib.parse.urlsplit(url)
        if not url or parts.hostname != "127.0.0.1" or not parts.port:
            self._kill()
            raise StartError(f"the test API server did not start: {line!r}\n{self.log()[-3000:]}")
        self.url, self.scheme, self.port = url, parts.scheme, parts.port
        if self.tls:
            self.ca = os.path.join(self.state, "ca.crt") if self.state else self._ca_from_kubeconfig()
            self.ctx = ssl.create_default_context(cafile=self.ca)

    def _ca_from_kubeconfig(self):
        """The CA the kubeconfig embeds, as folder/ca.crt (no state folder to hold it)."""
        with open(self.kubeconfig) as f:
            m = re.search(r"certificate-authority-data:\s*(\S+)", f.read())
        if not m:
            raise StartError(f"{self.kubeconfig} has no certificate-authority-data")
        path = os.path.join(self.folder, "ca.crt")
        with open(path, "wb") as f:
            f.write(base64.b64decode(m.group(1)))
        return path

    def _kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM (the state is saved to --state-dir); SIGKILL after 20 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc = None

    def restart(self, timeout=20.0):
        """Stops the server and starts it again on the same port with the same state
        (objects, uids, resourceVersions; the change history is gone, as the README
        says); without a state folder, empty."""
        port = self.port
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._start(port)
                return self
            except StartError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    # ---- the /_test/ endpoints (README.md) ------------------------------------------------

    def _test(self, method, path, body=None):
        status, _h, data = self.exchange(method, "/_test/" + path, body, token="")
        if status != 200 or not isinstance(data, dict):
            raise AssertionError(f"{method} /_test/{path}: {status} {data}")
        return data

    def stats(self):
        """Requests served so far, by "verb resource"."""
        return self._test("GET", "stats")["counts"]

    def reset_stats(self):
        self._test("POST", "stats/reset", {})

    def objects(self, resource, group=None, namespace=None):
        """Every stored object of a resource, as stored (no kubectl, no token)."""
        q = {"resource": resource}
        if group:
            q["group"] = group
        if namespace:
            q["namespace"] = namespace
        return self._test("GET", "objects?" + urllib.parse.urlencode(q))["items"]

    def fault(self, **rule):
        """Adds a fault rule (README.md, "Fault injection")."""
        return self._test("POST", "faults", rule)

    def clear_faults(self):
        return self._test("DELETE", "faults")["cleared"]

    def watches(self):
        """{"open": N, "byResource": {plural: N}} of the watch streams open now."""
        return self._test("GET", "watches")

    def cut_watches(self):
        return self._test("POST", "watches/cut", {})["cut"]

    def compact(self):
        """Drops the change history; the resourceVersion it was compacted at."""
        return self._test("POST", "compact", {})["resourceVersion"]

    def set_token(self, token):
        """The token the server wants from now on (None: none); the kubeconfig keeps the old."""
        self._test("POST", "token", {"token": token})
        self.token = token
