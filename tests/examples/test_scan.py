"""`seal scan` over the whole repository finds no plain Secret: everything
committed is sealed. A control case makes sure the scan does find one."""

import os
import subprocess

from conftest import ROOT, seal_cli


def test_repository_holds_no_plain_secret():
    # The whole tree, tracked or not. Test fixtures under tests/ may hold plain
    # Secrets on purpose (the scan's own tests need some); nothing else may.
    proc = subprocess.run([seal_cli(), "scan", str(ROOT)], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    findings = [line for line in proc.stdout.splitlines() if line.strip()]
    assert (proc.returncode == 0) == (not findings), proc.stdout + proc.stderr
    outside = []
    for line in findings:
        path = os.path.relpath(os.path.join(ROOT, line.split(":", 1)[0]), ROOT)
        if not path.startswith("tests" + os.sep):
            outside.append(line)
    assert not outside, "plain Secrets in the repository:\n" + "\n".join(outside)


def test_scan_finds_a_plain_secret_next_to_the_examples(tmp_path):
    # The same layout as examples/kotaemon, with the mistake the scan exists
    # to catch: the plain Secret instead of the SealedSecret.
    env = tmp_path / "environments" / "staging"
    env.mkdir(parents=True)
    (env / "kustomization.yaml").write_text("resources:\n- secret.yaml\n")
    (env / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kotaemon-llm\n  namespace: kotaemon\n"
        "data:\n  OPENAI_API_KEY: c2stdGVzdA==\n")
    proc = subprocess.run([seal_cli(), "scan", str(tmp_path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1
    assert "secret.yaml" in proc.stdout and "kotaemon/kotaemon-llm" in proc.stdout


def test_scan_accepts_the_sealed_examples(tmp_path):
    sealed = (ROOT / "examples" / "kotaemon" / "environments" / "staging" / "sealedsecret.yaml")
    (tmp_path / "sealedsecret.yaml").write_text(sealed.read_text())
    proc = subprocess.run([seal_cli(), "scan", str(tmp_path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
