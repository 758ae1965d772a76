"""A real Kubernetes API server for the tests: the second implementation of
apiserver.ApiServer.

Real runs tests/kube-real/cluster.sh up FOLDER: etcd, kube-apiserver and
kube-controller-manager (garbage collector, namespaces, ServiceAccounts and
their tokens) v1.20 built from Debian's `kubernetes` source package, TLS with
a CA of its own, RBAC, a static administrator token. Its kubeconfig uses an
administrator client certificate; `token` is the administrator's token.

Beyond the common interface it offers what the stand-in fakes through its
/_test/ endpoints, done the way one does it with a real cluster:
  stats()         requests that succeeded (2xx), by "verb resource[/subresource]",
                  from the server's apiserver_request_total metric (all
                  clients). Refused requests are left out: on a real server
                  they come from real races (a create answered 409 when two
                  replicas hand over), not from injected faults, and change
                  nothing.
  objects()       every object of a resource, read through the API
  compact()       etcd compacted at its current revision (etcdctl)
  restart()       kube-apiserver stopped and started again (etcd keeps the data)
  restart_daemon(name)  the same for etcd or kube-controller-manager
It has no fault injection (`has_test_endpoints` is false).
"""

import collections
import json
import os
import re
import ssl
import subprocess

from apiserver import ApiServer, StartError

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_SH = os.path.join(os.path.dirname(HERE), "kube-real", "cluster.sh")
# The first `up` on a machine builds the binaries (about 10-20 minutes).
BUILD_TIMEOUT = 3600

# apiserver_request_total's verb label -> the stand-in's stats verb
_VERBS = {"POST": "create", "CREATE": "create", "PUT": "update", "UPDATE": "update",
          "PATCH": "patch", "APPLY": "patch", "DELETE": "delete",
          "DELETECOLLECTION": "deletecollection", "GET": "get", "LIST": "list",
          "WATCH": "watch", "WATCHLIST": "watch", "CONNECT": "connect"}
_METRIC = re.compile(r'^apiserver_request_total\{([^}]*)\} (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def cluster_sh(*args, timeout=300):
    p = subprocess.run([CLUSTER_SH, *args], capture_output=True, text=True, timeout=timeout,
                       check=False)
    if p.returncode != 0:
        raise AssertionError(f"cluster.sh {' '.join(args)} failed: {p.stderr[-3000:]}")
    return p.stdout


def build():
    """Builds (or finds cached) kube-apiserver and kube-controller-manager; their folder."""
    return cluster_sh("build", timeout=BUILD_TIMEOUT).strip().splitlines()[-1]


class Real(ApiServer):
    """cluster.sh up in folder; stop() is cluster.sh down."""

    real = True

    def __init__(self, folder):
        super().__init__(folder)
        p = subprocess.run([CLUSTER_SH, "up", self.folder], capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT, check=False)
        m = re.search(r"^ready (https://127\.0\.0\.1:(\d+))$", p.stdout, re.M)
        if p.returncode != 0 or not m:
            self.stop()
            raise StartError(f"cluster.sh up failed ({p.returncode}): {p.stderr[-3000:]}")
        self.url, self.scheme, self.port = m.group(1), "https", int(m.group(2))
        self.ca = os.path.join(self.folder, "pki", "ca.crt")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        with open(os.path.join(self.folder, "admin.token")) as f:
            self.token = f.read().strip()
        with open(os.path.join(self.folder, "etcd.url")) as f:
            self.etcd_url = f.read().strip()

    # ---- lifetime --------------------------------------------------------------------------

    def log(self, name="kube-apiserver"):
        try:
            with open(os.path.join(self.folder, name + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if os.path.isdir(self.folder):
            subprocess.run([CLUSTER_SH, "down", self.folder], capture_output=True, timeout=120,
                           check=False)

    def restart_daemon(self, name):
        cluster_sh("stop", self.folder, name)
        cluster_sh("start", self.folder, name)
        return self

    def restart(self):
        return self.restart_daemon("kube-apiserver")

    # ---- what the stand-in's /_test/ endpoints give, the real way ---------------------------

    def stats(self):
        status, _h, text = self.exchange("GET", "/metrics", raw=True)
        assert status == 200, text
        counts = collections.Counter()
        for line in text.decode().splitlines():
            m = _METRIC.match(line)
            if not m:
                continue
            labels = dict(_LABEL.findall(m.group(1)))
            if not labels.get("resource") or labels.get("dry_run") or \
                    not labels.get("code", "").startswith("2"):
                continue
            verb = labels.get("verb", "")
            verb = _VERBS.get(verb, verb.lower())
            sub = labels.get("subresource")
            counts[f"{verb} {labels['resource']}" + (f"/{sub}" if sub else "")] += \
                int(float(m.group(2)))
        return dict(counts)

    def objects(self, resource, group=None, namespace=None):
        if group:
            version = self.ok("GET", f"/apis/{group}")["preferredVersion"]["groupVersion"]
            base = f"/apis/{version}"
        else:
            base = "/api/v1"
        path = f"{base}/namespaces/{namespace}/{resource}" if namespace else f"{base}/{resource}"
        return self.ok("GET", path)["items"]

    def etcdctl(self, *args):
        p = subprocess.run(["etcdctl", "--endpoints", self.etcd_url, *args], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, ETCDCTL_API="3"),
                           check=False)
        if p.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} failed: {p.stderr.strip()}")
        return p.stdout

    def revision(self):
        """etcd's current revision (what resourceVersions count)."""
        return int(json.loads(self.etcdctl("endpoint", "status", "-w", "json"))[0]
                   ["Status"]["header"]["revision"])

    def compact(self):
        """Compacts etcd at its current revision; that revision. Every older
        resourceVersion expires (watches, continue tokens); the current one stays valid
        (write something first to expire it too)."""
        rev = self.revision()
        self.etcdctl("compact", str(rev), "--physical")
        return rev
