"""Helpers shared by the hardening tests (chaos, hygiene, HTTP abuse)."""

import base64
import json
import socket
import threading

from conftest import condition, decoded


def objects(api, resource, group=None, ns=None):
    """Every stored object of a resource, straight from the server (no kubectl)."""
    return api.objects(resource, group, ns)


def converged(api, expected, ns="app"):
    """expected: name -> data (dict of str). True when each SealedSecret is Synced=True,
    observed at its generation, and its Secret holds exactly that data."""
    sealed = {o["metadata"]["name"]: o for o in objects(api, "sealedsecrets", "seal.dev", ns)}
    secrets = {o["metadata"]["name"]: o for o in objects(api, "secrets", None, ns)}
    for name, data in expected.items():
        ss = sealed.get(name)
        c = condition(ss, "Synced")
        if not c or c["status"] != "True":
            return False
        if ss["status"].get("observedGeneration") != ss["metadata"].get("generation"):
            return False
        if name not in secrets or decoded(secrets[name]) != data:
            return False
    return True


def wrong_data(api, expected, ns="app"):
    """Names whose Secret exists with data other than expected (never acceptable)."""
    secrets = {o["metadata"]["name"]: o for o in objects(api, "secrets", None, ns)}
    return sorted(n for n, d in expected.items() if n in secrets and decoded(secrets[n]) != d)


def restart_api(env):
    """SIGTERM the test API server and start it again on the same port and --state-dir."""
    return env.api.restart()


class SecretWatch:
    """Counts ADDED/MODIFIED/DELETED events of Secrets in one namespace, from a raw watch
    opened before the test acts (faults installed later do not touch an open stream)."""

    def __init__(self, api, ns="app"):
        status, body = api.request("GET", f"/api/v1/namespaces/{ns}/secrets")
        assert status == 200, body
        rv = body["metadata"]["resourceVersion"]
        self.conn = api.conn(timeout=300)
        self.conn.request("GET", f"/api/v1/namespaces/{ns}/secrets?watch=1&resourceVersion={rv}"
                          "&timeoutSeconds=600",
                          headers=api.headers())
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        self.events = {}
        self.objects = {}  # name -> the object of each event, in order
        self.error = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                ev = json.loads(line)
                if ev["type"] == "ERROR":
                    self.error = ev
                    return
                name = ev["object"]["metadata"]["name"]
                self.events.setdefault(name, []).append(ev["type"])
                self.objects.setdefault(name, []).append(ev["object"])
        except Exception as e:  # noqa: BLE001 - a closed stream ends the thread, anything else is reported
            if not self.closed:
                self.error = e

    def count(self, kind):
        return {n: evs.count(kind) for n, evs in self.events.items() if kind in evs}

    def close(self):
        self.closed = True
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()
