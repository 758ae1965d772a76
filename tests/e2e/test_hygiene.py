"""Secret hygiene: no plaintext or private key in anything the controller emits; no core
dumps; private key files 0600 and never through a symlink; no temporary file left by -w.

What "not dumpable" is asserted by: a process that calls prctl(PR_SET_DUMPABLE, 0) gets its
/proc/PID files owned by root instead of its own user. The controller is started as the
unprivileged user 65534 (setpriv) and /proc/PID/environ must then be owned by uid 0, while the
same check on an ordinary process of that user (the control) shows uid 65534. /proc/PID/limits
must show a core file size limit of 0 (RLIMIT_CORE)."""

import base64
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

import conftest

from conftest import SEAL, condition, secret, wait_for
from hardening_util import objects

MARK = "zq7-PLAINTEXT-MARKER"


def plain(tag):
    """A distinctive plaintext: found in output only if something leaked it."""
    return f"{MARK}-{tag}-x9"


def tamper(ss, key):
    v = ss["spec"]["encryptedData"][key]
    ss["spec"]["encryptedData"][key] = v[:40] + ("A" if v[40] != "A" else "B") + v[41:]
    return ss


def private_key_forms(api):
    """Every form of the key Secrets' private keys that must never be emitted."""
    forms = []
    for s in objects(api, "secrets", None, "seal-system"):
        if s.get("type") != "seal.dev/key":
            continue
        raw_field = s["data"]["private.key"]
        forms.append(raw_field)
        armored = base64.b64decode(raw_field).decode()
        m = re.search(r"-----BEGIN SEAL PRIVATE KEY-----\r?\n(?:[A-Za-z0-9-]+: [^\n]*\n)*"
                      r"([A-Za-z0-9+/=]{44})\r?\n", armored)
        assert m, f"no private key line in Secret {s['metadata']['name']}"
        line = m.group(1)
        key = base64.b64decode(line)
        assert len(key) == 32
        forms += [line, line.rstrip("="), key.hex(), key.hex().upper(),
                  base64.urlsafe_b64encode(key).decode().rstrip("=")]
    assert forms, "no key Secret found"
    return forms


def make_objects(env, prefix):
    """SealedSecrets with known plaintexts, good and failing. Returns the plaintexts."""
    secrets_ = [
        secret(f"{prefix}-good", data={"PASSWORD": plain(f"{prefix}-good")}),
        secret(f"{prefix}-multi", data={"A": plain(f"{prefix}-multi-a"), "B": plain(f"{prefix}-multi-b")}),
        secret(f"{prefix}-tmpl", data={"DB": plain(f"{prefix}-tmpl")}),
        secret(f"{prefix}-tamper", data={"OK": plain(f"{prefix}-tamper-ok"),
                                          "BAD": plain(f"{prefix}-tamper-bad")}),
        secret(f"{prefix}-scope", data={"K": plain(f"{prefix}-scope")}),
        secret(f"{prefix}-tmplerr", data={"K": plain(f"{prefix}-tmplerr")}),
        secret(f"{prefix}-frozen", data={"K": plain(f"{prefix}-frozen-v1")}, immutable=True),
        secret(f"{prefix}-foreign", data={"K": plain(f"{prefix}-foreign-ours")}),
    ]
    sealed = env.seal_many(secrets_)
    by = {s["metadata"]["name"]: s for s in sealed}
    by[f"{prefix}-tmpl"]["spec"]["template"]["data"] = {"URL": "pg://u:{{ .DB }}@db/x"}
    tamper(by[f"{prefix}-tamper"], "BAD")
    by[f"{prefix}-scope"]["metadata"]["namespace"] = "other"
    by[f"{prefix}-tmplerr"]["spec"]["template"]["data"] = {"URL": "pg://{{ .K }}:{{ .NOPE }}"}
    # a Secret of someone else's under the same name: not managed, left alone
    env.apply(secret(f"{prefix}-foreign", data={"K": plain(f"{prefix}-foreign-theirs")}))
    env.apply_all(list(by.values()))
    wait_for(lambda: (condition(env.api.get("sealedsecret", f"{prefix}-frozen"), "Synced") or {}).get("status") == "True",
             what=f"{prefix}-frozen synced")
    # the immutable Secret must change: ImmutableSecret
    frozen = secret(f"{prefix}-frozen", data={"K": plain(f"{prefix}-frozen-v2")}, immutable=True)
    env.apply(env.seal(frozen), "replace")
    expect = {f"{prefix}-tamper": "Altered", f"{prefix}-frozen": "ImmutableSecret",
              f"{prefix}-foreign": "SecretNotManaged"}
    for name, reason in expect.items():
        wait_for(lambda n=name, r=reason: (condition(env.api.get("sealedsecret", n), "Synced") or {}).get("reason") == r,
                 what=f"{name} reason {reason}")
    wait_for(lambda: (condition(env.api.get("sealedsecret", f"{prefix}-scope", "other"), "Synced") or {}).get("status") == "False",
             what=f"{prefix}-scope failed")
    wait_for(lambda: (condition(env.api.get("sealedsecret", f"{prefix}-tmplerr"), "Synced") or {}).get("reason") == "InvalidTemplate",
             what=f"{prefix}-tmplerr failed")
    for n in ("good", "multi", "tmpl"):
        wait_for(lambda n=n: (condition(env.api.get("sealedsecret", f"{prefix}-{n}"), "Synced") or {}).get("status") == "True",
                 what=f"{prefix}-{n} synced")
    return by


def hit_endpoints(ctl, sealed, prefix):
    """Every HTTP endpoint with good and bad bodies; the answers, for the search."""
    out = []
    good = json.dumps(sealed[f"{prefix}-multi"]).encode()
    bad = json.dumps(sealed[f"{prefix}-tamper"]).encode()
    plain_secret = json.dumps(secret(f"{prefix}-raw", data={"K": plain(f"{prefix}-posted")})).encode()
    yaml_secret = (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: y\n  namespace: app\n"
                   f"stringData:\n  K: {plain(prefix + '-posted-yaml')}\n").encode()
    for method, path, body, metrics in [
            ("GET", "/health", None, False), ("GET", "/ping", None, False),
            ("GET", "/v1/cert.pem", None, False), ("GET", "/metrics", None, True),
            ("GET", "/nope", None, False), ("GET", "/v1/verify", None, False),
            ("POST", "/v1/verify", good, False), ("POST", "/v1/verify", bad, False),
            ("POST", "/v1/verify", plain_secret, False), ("POST", "/v1/verify", yaml_secret, False),
            ("POST", "/v1/verify", b"{" + plain(prefix + "-junk").encode(), False),
            ("POST", "/v1/rotate", good, False), ("POST", "/v1/rotate", bad, False),
            ("POST", "/v1/rotate", plain_secret, False), ("POST", "/v1/rotate", yaml_secret, False),
            ("POST", "/v1/rotate", b"\x00\xff" + plain(prefix + "-bin").encode(), False)]:
        status, _, data = ctl.http(method, path, body, metrics=metrics)
        assert status < 500 or path == "/health", (method, path, status, data[:300])
        out.append((f"{method} {path}", data))
    return out


def search(haystacks, needles):
    """(where, needle) for every needle found in any haystack."""
    found = []
    for where, text in haystacks:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for n in needles:
            if n in text:
                found.append((where, n))
    return found


class _StdoutToFile:
    """Stands in for the subprocess module inside conftest so that the controllers it starts
    write their standard output to a file (conftest sends it to /dev/null) that the test
    searches too."""

    def __init__(self, path):
        self.out = open(path, "wb")
        self.started = 0

    def __getattr__(self, name):
        return getattr(subprocess, name)

    def Popen(self, *args, **kw):  # noqa: N802 - the name subprocess uses
        if kw.get("stdout") == subprocess.DEVNULL:
            kw["stdout"] = self.out
            self.started += 1
        return subprocess.Popen(*args, **kw)


def test_no_plaintext_or_private_key_in_logs_metrics_events_or_status(env, monkeypatch):
    stdout_path = os.path.join(env.tmp, "controllers.stdout")
    shim = _StdoutToFile(stdout_path)
    monkeypatch.setattr(conftest, "subprocess", shim)
    ctl = env.controller(name="text")  # debug log level, text format
    sealed_a = make_objects(env, "ta")
    assert "level=debug" in ctl.logs()  # the most verbose level was really on
    answers = hit_endpoints(ctl, sealed_a, "ta")
    metrics_text = ctl.http("GET", "/metrics", metrics=True)[2]
    rc, _ = ctl.stop()
    assert rc == 0

    ctl2 = env.controller("--log-format", "json", name="json")
    sealed_b = make_objects(env, "jb")
    answers += hit_endpoints(ctl2, sealed_b, "jb")
    metrics_text2 = ctl2.http("GET", "/metrics", metrics=True)[2]
    lines = [line for line in ctl2.logs().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)
    assert any(json.loads(line)["level"] == "debug" for line in lines)

    # the plaintexts really exist where they belong: the test can see them
    good = env.api.get("secret", "ta-good")
    assert base64.b64decode(good["data"]["PASSWORD"]).decode() == plain("ta-good")

    events = env.api.kubectl("get", "events", "-A", "-o", "json").stdout
    statuses = json.dumps([o.get("status") for ns in ("app", "other")
                           for o in objects(env.api, "sealedsecrets", "seal.dev", ns)])
    rc, _ = ctl2.stop()
    assert rc == 0
    shim.out.close()
    assert shim.started == 2  # both controllers' standard output is in the haystack
    with open(stdout_path, "rb") as f:
        stdout = f.read()
    haystacks = [("log text", ctl.logs()), ("log json", ctl2.logs()), ("stdout", stdout),
                 ("metrics 1", metrics_text), ("metrics 2", metrics_text2),
                 ("events", events), ("statuses", statuses)] + answers
    assert "Altered" in statuses and "ImmutableSecret" in statuses  # failures were reported
    needles = [MARK] + private_key_forms(env.api)
    assert search(haystacks, needles) == []


def test_controller_is_not_dumpable_and_has_no_core_limit(env):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the controller as another user")
    # the control: an ordinary process of user 65534 owns its /proc files
    ctrl = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             "sleep", "30"])
    try:
        wait_for(lambda: os.stat(f"/proc/{ctrl.pid}/status").st_uid == 65534,
                 what="setpriv dropping privileges")
        assert os.stat(f"/proc/{ctrl.pid}/environ").st_uid == 65534
    finally:
        ctrl.kill()
        ctrl.wait()
    # the controller as user 65534: its credentials must be readable by it
    d = pathlib.Path(tempfile.mkdtemp(prefix="seal-hygiene-"))
    os.chmod(d, 0o755)
    api_args, api_env = env.api.controller_config(copy_to=str(d))
    log = open(d / "ctl.log", "w")
    from conftest import CONTROLLER, free_port
    e = dict(os.environ, HOME=str(d))
    e.update(api_env)
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             CONTROLLER, *api_args, "--key-namespace", "seal-system",
                             "--listen", f"127.0.0.1:{free_port()}",
                             "--metrics-listen", f"127.0.0.1:{free_port()}"],
                            stdout=subprocess.DEVNULL, stderr=log,
                            env={k: v for k, v in e.items() if v is not None})
    try:
        def running_as_nobody():
            with open(f"/proc/{proc.pid}/status") as f:
                st = f.read()
            return proc.poll() is not None or (
                re.search(r"^Uid:\s+65534\s", st, re.M) and
                re.search(r"^Name:\s+unseal-control", st, re.M))
        wait_for(running_as_nobody, what="controller running as 65534")
        assert proc.poll() is None, open(d / "ctl.log").read()
        # prctl(PR_SET_DUMPABLE, 0) runs first thing in main; give exec a moment to get there
        wait_for(lambda: os.stat(f"/proc/{proc.pid}/environ").st_uid == 0, timeout=5,
                 what="/proc/PID files owned by root (not dumpable)")
        with open(f"/proc/{proc.pid}/limits") as f:
            limits = f.read()
        m = re.search(r"^Max core file size\s+(\S+)\s+(\S+)", limits, re.M)
        assert m and m.groups() == ("0", "0"), limits
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(d)


def run_seal(*args, input=None):
    if not SEAL or not os.path.exists(SEAL):
        pytest.skip("the seal command line tool is not built")
    p = subprocess.run([SEAL, *args], input=input, capture_output=True, timeout=60,
                       env=dict(os.environ, KUBECONFIG="/nonexistent"))
    err = p.stderr.decode("utf-8", "replace")
    assert "Sanitizer" not in err and "runtime error:" not in err, err
    return p.returncode, p.stdout, err


def test_keys_generate_0600_and_refuses_symlinks(tmp_path):
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    rc, out, err = run_seal("keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    assert rc == 0, err
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    assert b"SEAL PRIVATE KEY" in priv.read_bytes()
    # a symlink planted at the target: refused, the file it points to untouched
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o644)
    link = tmp_path / "link.key"
    os.symlink(victim, link)
    rc, out, err = run_seal("keys", "generate", "--private-key", str(link), "--cert", str(tmp_path / "l.pem"))
    assert rc != 0 and err.strip(), err
    assert victim.read_text() == "precious\n" and stat.S_IMODE(os.stat(victim).st_mode) == 0o644
    assert os.path.islink(link)
    # a dangling symlink too (O_CREAT would follow it and create the target)
    dangling = tmp_path / "dangling.key"
    os.symlink(tmp_path / "created-through-link", dangling)
    rc, out, err = run_seal("keys", "generate", "--private-key", str(dangling), "--cert", str(tmp_path / "d.pem"))
    assert rc != 0
    assert not os.path.exists(tmp_path / "created-through-link")
    # an existing key is never overwritten
    before = priv.read_bytes()
    rc, out, err = run_seal("keys", "generate", "--private-key", str(priv), "--cert", str(tmp_path / "x.pem"))
    assert rc != 0 and priv.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == sorted(["k.key", "k.pem", "victim", "link.key", "dangling.key"]), \
        os.listdir(tmp_path)


def test_write_leaves_no_temporary_file_on_success_or_failure(tmp_path):
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    rc, _, err = run_seal("keys", "generate", "--private-key", str(priv), "--cert", str(pub))
    assert rc == 0, err
    out = tmp_path / "out"
    out.mkdir()
    src = tmp_path / "in.json"
    src.write_text(json.dumps(secret("w", data={"K": plain("w")})))

    # seal -w: success, then failures (bad input, unreadable cert) leave the old file alone
    rc, _, err = run_seal("--cert", str(pub), "-f", str(src), "-w", str(out / "sealed.yaml"))
    assert rc == 0, err
    assert os.listdir(out) == ["sealed.yaml"]
    good = (out / "sealed.yaml").read_bytes()
    assert MARK.encode() not in good
    for args in (["--cert", str(pub), "-w", str(out / "sealed.yaml")],
                 ["--cert", str(tmp_path / "missing.pem"), "-f", str(src), "-w", str(out / "sealed.yaml")],
                 ["--cert", str(pub), "-w", str(out / "new.yaml")]):
        rc, _, err = run_seal(*args, input=b"kind: Secret\napiVersion: v1\nmetadata: [\n")
        assert rc != 0 and err.strip()
        assert os.listdir(out) == ["sealed.yaml"], os.listdir(out)
        assert (out / "sealed.yaml").read_bytes() == good

    # seal unseal -w: plaintext written 0600, nothing else; failures write nothing at all
    rc, _, err = run_seal("unseal", "--private-key", str(priv), "-f", str(out / "sealed.yaml"),
                          "-w", str(out / "plain.yaml"))
    assert rc == 0, err
    assert sorted(os.listdir(out)) == ["plain.yaml", "sealed.yaml"]
    assert stat.S_IMODE(os.stat(out / "plain.yaml").st_mode) == 0o600
    assert base64.b64encode(plain("w").encode()) in (out / "plain.yaml").read_bytes()
    other_priv, other_pub = tmp_path / "o.key", tmp_path / "o.pem"
    assert run_seal("keys", "generate", "--private-key", str(other_priv), "--cert", str(other_pub))[0] == 0
    tampered = tmp_path / "tampered.yaml"
    tampered.write_bytes(good.replace(b"encryptedData:", b"encryptedData:\n    X: AAAA", 1))
    for args in (["--private-key", str(other_priv), "-f", str(out / "sealed.yaml")],  # wrong key
                 ["--private-key", str(priv), "-f", str(tampered)],                    # broken value
                 ["--private-key", str(priv), "-f", str(tmp_path / "missing.yaml")]):
        rc, stdout, err = run_seal("unseal", *args, "-w", str(out / "plain2.yaml"))
        assert rc != 0 and err.strip(), args
        assert sorted(os.listdir(out)) == ["plain.yaml", "sealed.yaml"], (args, os.listdir(out))
        assert MARK not in err and stdout == b""
