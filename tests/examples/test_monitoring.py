"""examples/monitoring: the alert rules pass `promtool check rules`, every
alert fires on its fixture series and stays silent before its `for` and when
all is well (`promtool test rules`, seal-alerts*.test.yaml), the
PrometheusRule carries exactly the plain rule file, the ServiceMonitor finds
the controller's Service and port, the dashboard is valid JSON in a
ConfigMap, and every metric the rules and the dashboard read is one the
controller documents. tests/e2e/test_prometheus.py runs them in a real
Prometheus."""

import json
import re
import shutil
import subprocess

import pytest

from conftest import EXAMPLES, ROOT, find, kustomize, one

MONITORING = EXAMPLES / "monitoring"
RULES = MONITORING / "seal.rules.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
HERE = ROOT / "tests" / "examples"
FIXTURES = [HERE / "seal-alerts.test.yaml", HERE / "seal-alerts-days.test.yaml"]
MAN = ROOT / "docs" / "unseal-controller.8"


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed (Debian package prometheus; scripts/setup.sh)")
    return path


def alerts_of(text):
    return re.findall(r"^\s*- alert: (\w+)$", text, re.M)


def test_rule_file_is_valid():
    p = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    alerts = alerts_of(RULES.read_text())
    assert f"SUCCESS: {len(alerts)} rules found" in p.stdout
    assert set(alerts) >= {"SealControllerDown", "SealedSecretUnsealFailed", "SealNoLeader",
                           "SealedSecretsOnOldKey", "SealedSecretsOnCompromisedKey",
                           "SealKeysNotBackedUp", "SealWatchRelistStorm"}
    # every alert selects the job the ServiceMonitor names, and says how bad it is
    for block in re.split(r"\n(?=  - alert: )", RULES.read_text())[1:]:
        name = alerts_of(block)[0]
        assert 'job="unseal-controller"' in block, name
        assert re.search(r"severity: (critical|warning|info)\n", block), name
        assert "summary:" in block and "description:" in block, name


def test_every_alert_fires_and_stays_silent_in_the_fixtures():
    fixtures = "\n".join(f.read_text() for f in FIXTURES)
    for alert in alerts_of(RULES.read_text()):
        cases = re.findall(r"alertname: " + alert + r"\n    exp_alerts:( \[\]|\n    - exp_labels)",
                           fixtures)
        assert " []" in cases, f"{alert}: no fixture where it stays silent"
        assert "\n    - exp_labels" in cases, f"{alert}: no fixture where it fires"
    p = subprocess.run([promtool(), "test", "rules", *map(str, FIXTURES)], capture_output=True,
                       text=True, check=False, cwd=HERE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("SUCCESS") == len(FIXTURES), p.stdout


def test_a_wrong_expectation_fails(tmp_path):
    """The fixtures are checked, not only run: a changed severity or a firing
    alert expected silent fails promtool."""
    text = FIXTURES[0].read_text().replace("../../examples/monitoring/seal.rules.yaml", str(RULES))
    for wrong in (text.replace("severity: critical", "severity: warning", 1),
                  text.replace("    - exp_labels:\n        severity: warning\n        namespace: app",
                               "    - exp_labels:\n        severity: warning\n        namespace: other",
                               1)):
        assert wrong != text
        path = tmp_path / "wrong.test.yaml"
        path.write_text(wrong)
        p = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True,
                           text=True, check=False)
        assert p.returncode != 0 and "FAILED" in p.stdout + p.stderr, p.stdout


def test_prometheusrule_carries_the_rule_file():
    p = subprocess.run([str(ROOT / "scripts" / "prometheusrule.sh"), "--check"],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr


def test_kustomization(tmp_path):
    objects, _ = kustomize(MONITORING, tmp_path)
    deploy, _ = kustomize(EXAMPLES / "deploy", tmp_path)
    service = one(deploy, "Service", "unseal-controller")

    rule = one(objects, "PrometheusRule", "unseal-controller")
    assert rule["metadata"]["namespace"] == "seal-system"
    rendered = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert rendered == alerts_of(RULES.read_text())

    monitor = one(objects, "ServiceMonitor", "unseal-controller")
    spec = monitor["spec"]
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items())
    assert service["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
    # the job label the alerts select is the Service's label named by jobLabel
    assert labels[spec["jobLabel"]] == "unseal-controller"
    (endpoint,) = spec["endpoints"]
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert endpoint["port"] == "metrics" and ports["metrics"]["port"] == 8081
    assert endpoint["path"] == "/metrics" and endpoint["honorLabels"] is True

    (cm,) = find(objects, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["grafana-dashboard.json"]) == json.loads(DASHBOARD.read_text())


def dashboard_exprs():
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboard_panels():
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert variables == {"datasource", "job", "instance"}
    for p in dash["panels"]:
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == "${datasource}"
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24
        for t in p["targets"]:
            assert 'job="$job"' in t["expr"], (p["title"], t["expr"])
            for var in re.findall(r"\$(\w+)", t["expr"]):
                assert var in variables | {"__rate_interval"}, (p["title"], var)


def documented_metrics():
    text = MAN.read_text()
    section = text[text.index("\n.SH METRICS\n"):]
    section = section[:section.index("\n.SH ", 1)]
    return set(re.findall(r"^\.B ([a-z_]+)", section, re.M))


def test_every_metric_read_is_documented():
    documented = documented_metrics()
    assert "seal_sealedsecret_condition_info" in documented
    used = set()
    rule_exprs = re.findall(r"expr: (?:>-\n)?(.*?)\n    for:", RULES.read_text(), re.S)
    assert len(rule_exprs) == len(alerts_of(RULES.read_text()))
    for expr in dashboard_exprs() + rule_exprs:
        used |= set(re.findall(r"\b((?:seal|process)_[a-z_]+)", expr))
    assert used
    for name in used:
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        assert name in documented or base in documented, f"{name} is not in unseal-controller(8)"
