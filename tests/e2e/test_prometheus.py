"""A real Prometheus (Debian's prometheus) on 127.0.0.1 scrapes the controller
every second with the alert rules of examples/monitoring/seal.rules.yaml,
their `for:` shortened to seconds and nothing else changed. A SealedSecret
broken in the cluster fires SealedSecretUnsealFailed, named by namespace,
name and reason, through Prometheus' HTTP API, and mending it resolves it;
keys never backed up fire SealKeysNotBackedUp; no other alert fires. Every
query of the Grafana dashboard returns data there."""

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, condition, decoded, free_port, secret, wait_for

MONITORING = os.path.join(ROOT, "examples", "monitoring")
JOB = "unseal-controller"


class Prometheus:
    def __init__(self, tmp, target_port, rules):
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed (Debian package prometheus; scripts/setup.sh)")
        self.port = free_port()
        folder = os.path.join(tmp, "prometheus")
        os.makedirs(folder)
        with open(os.path.join(folder, "seal.rules.yaml"), "w") as f:
            f.write(rules)
        config = os.path.join(folder, "prometheus.yml")
        with open(config, "w") as f:
            # JSON is YAML: the scrape configuration the ServiceMonitor makes
            json.dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                           "scrape_timeout": "1s"},
                "rule_files": ["seal.rules.yaml"],
                "scrape_configs": [{
                    "job_name": JOB, "honor_labels": True, "metrics_path": "/metrics",
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }],
            }, f)
        self.log_path = os.path.join(folder, "prometheus.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(folder, 'data')}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log, cwd=folder)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def get(self, path, **params):
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())

    def ready(self):
        assert self.proc.poll() is None, f"prometheus exited: {self.log()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, q):
        body = self.get("/api/v1/query", query=q)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def alerts(self):
        """{alertname: [alert]} of the pending and firing alerts."""
        out = {}
        for a in self.get("/api/v1/alerts")["data"]["alerts"]:
            out.setdefault(a["labels"]["alertname"], []).append(a)
        return out

    def firing(self, name):
        return [a for a in self.alerts().get(name, []) if a["state"] == "firing"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def shortened_rules():
    """The rule file with every `for:` at 2s (the alerts' waits are minutes to days)."""
    with open(os.path.join(MONITORING, "seal.rules.yaml")) as f:
        text = f.read()
    short, n = re.subn(r"^(\s+for: )\S+$", r"\g<1>2s", text, flags=re.M)
    assert n == len(re.findall(r"^\s+- alert: ", text, re.M)) == 9
    return short


def dashboard_queries():
    with open(os.path.join(MONITORING, "grafana-dashboard.json")) as f:
        dash = json.load(f)
    out = []
    for p in dash["panels"]:
        for t in p["targets"]:
            q = (t["expr"].replace("$job", JOB).replace("$instance", ".*")
                 .replace("$__rate_interval", "1m"))
            assert "$" not in q, q
            out.append((p["title"], q))
    return out


@pytest.fixture
def prometheus(env):
    ctl = env.controller("--backup-warn-after", "1s")
    prom = Prometheus(env.tmp, ctl.metrics_port, shortened_rules())
    try:
        wait_for(prom.ready, 60, what="prometheus /-/ready")
        yield ctl, prom
    finally:
        prom.stop()


def test_broken_sealedsecret_fires_its_alert_and_dashboard_has_data(env, prometheus):
    ctl, prom = prometheus
    wait_for(lambda: prom.query(f'up{{job="{JOB}"}} == 1'), 30, what="the controller scraped")
    sealed = env.seal(secret("db", data={"PASSWORD": "correct horse battery staple"}))
    env.apply(sealed)
    wait_for(lambda: (condition(env.api.get("sealedsecret", "db"), "Synced") or {})
             .get("status") == "True", 30, what="db synced")

    # Break it: a value that is not the ciphertext any more.
    value = sealed["spec"]["encryptedData"]["PASSWORD"]
    broken = value[:40] + ("A" if value[40] != "A" else "B") + value[41:]
    env.api.kubectl("patch", "sealedsecret", "db", "-n", "app", "--type", "merge", "-p",
                    json.dumps({"spec": {"encryptedData": {"PASSWORD": broken}}}))
    cnd = wait_for(lambda: (lambda c: c if c and c["status"] == "False" else None)(
        condition(env.api.get("sealedsecret", "db"), "Synced")), 30, what="db Synced=False")

    (alert,) = wait_for(lambda: prom.firing("SealedSecretUnsealFailed"), 60,
                        what="SealedSecretUnsealFailed firing in Prometheus")
    assert alert["labels"]["namespace"] == "app"
    assert alert["labels"]["name"] == "db"
    assert alert["labels"]["reason"] == cnd["reason"]
    assert alert["labels"]["severity"] == "warning"
    assert "app/db" in alert["annotations"]["summary"]
    wait_for(lambda: prom.firing("SealKeysNotBackedUp"), 60,
             what="SealKeysNotBackedUp firing (the key was never backed up)")
    # the Secret unsealed before stays as it was
    assert decoded(env.api.get("secret", "db")) == {"PASSWORD": "correct horse battery staple"}

    # Every panel of the dashboard has data while something is broken.
    for title, q in dashboard_queries():
        wait_for(lambda: prom.query(q), 90, what=f"data for the panel '{title}': {q}")

    # Nothing else fires or is pending.
    assert set(prom.alerts()) == {"SealedSecretUnsealFailed", "SealKeysNotBackedUp"}, \
        prom.alerts()

    # Mended, the alert resolves.
    env.api.kubectl("patch", "sealedsecret", "db", "-n", "app", "--type", "merge", "-p",
                    json.dumps({"spec": {"encryptedData": {"PASSWORD": value}}}))
    wait_for(lambda: "SealedSecretUnsealFailed" not in prom.alerts(), 60,
             what="SealedSecretUnsealFailed resolved")
    assert ctl.proc.poll() is None
