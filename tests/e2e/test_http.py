"""The controller's HTTP endpoints and its command line."""

import base64
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import CONTROLLER, SEAL, condition, free_port, http_request, secret, wait_for


def tamper(ss, key="PASSWORD"):
    v = ss["spec"]["encryptedData"][key]
    ss["spec"]["encryptedData"][key] = v[:40] + ("A" if v[40] != "A" else "B") + v[41:]
    return ss


@pytest.mark.standin
def test_health_is_503_until_synced_then_200(env):
    # the first lists fail for a while, so the controller cannot be ready
    env.api.fault(method="GET", path=r"^/apis/seal\.dev/v1/sealedsecrets$", status=500, duration=3)
    ctl = env.controller(ready=False)
    first = wait_for(lambda: ctl.http("GET", "/health")[0], what="/health answering")
    assert first == 503
    assert ctl.http("GET", "/ping")[0] == 200
    ctl.wait_ready(20)
    assert ctl.http("GET", "/health")[0] == 200


def test_cert_metrics_and_unknown_paths(env):
    ctl = env.controller()
    status, headers, cert = ctl.http("GET", "/v1/cert.pem")
    assert status == 200 and cert.startswith(b"-----BEGIN SEAL PUBLIC KEY-----")
    cm = env.api.get("configmap", "seal-public-keys", "seal-system")
    assert cm["data"]["cert.pem"] == cert.decode()
    key = env.api.kubectl("get", "secrets", "-n", "seal-system", "-l", "seal.dev/key=active",
                          "-o", "json")
    items = json.loads(key.stdout)["items"]
    assert len(items) == 1 and items[0]["type"] == "seal.dev/key"
    assert items[0]["metadata"]["name"].startswith("seal-key-")
    assert "seal.dev/created-at" in items[0]["metadata"]["annotations"]
    assert set(items[0]["data"]) == {"private.key", "public.key"}

    env.apply(env.seal(secret("m")))
    wait_for(lambda: (condition(env.api.get("sealedsecret", "m"), "Synced") or {}).get("status") == "True",
             what="m synced")
    status, headers, body = ctl.http("GET", "/metrics", metrics=True)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    for family in ("seal_build_info", "seal_unseal_total", "seal_unseal_errors_total",
                   "seal_reconcile_duration_seconds_bucket", "seal_queue_depth",
                   'seal_keys{state="active"} 1', "seal_watch_restarts_total",
                   "seal_api_requests_total", "seal_keys_not_backed_up"):
        assert family in text, family
    assert re.search(r"^seal_unseal_total [1-9]", text, re.M)
    assert ctl.http("GET", "/nope")[0] == 404
    assert ctl.http("GET", "/metrics")[0] == 404  # only on the metrics port
    assert ctl.http("GET", "/v1/verify")[0] == 405
    assert ctl.http("POST", "/v1/cert.pem", b"")[0] == 405


def test_verify_says_which_keys_fail_and_why(env):
    ctl = env.controller()
    good = env.seal(secret("v", data={"A": "plain-a", "B": "plain-b"}))
    good["spec"]["template"]["data"] = {"URL": "x://{{ .A }}"}
    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(good).encode())
    assert status == 200, body
    assert json.loads(body)["valid"] is True
    assert b"plain-a" not in body  # no template rendered, no value returned

    bad = tamper(json.loads(json.dumps(good)), "B")
    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(bad).encode())
    assert status == 409
    doc = json.loads(body)
    assert doc["valid"] is False
    assert [(f["key"], f["reason"]) for f in doc["failed"]] == [("B", "Altered")]
    assert b"plain" not in body

    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(bad).encode(),
                               headers={"Accept": "text/plain"})
    assert status == 409 and body.decode().startswith("B: Altered: ")

    moved = json.loads(json.dumps(good))
    moved["metadata"]["namespace"] = "other"
    status, _, body = ctl.http("POST", "/v1/verify", json.dumps(moved).encode())
    assert status == 409 and {f["reason"] for f in json.loads(body)["failed"]} == {"WrongScope"}

    for junk in (b"", b"{", b"kind: Secret\napiVersion: v1\n", b"\x00\xff" * 100):
        status, _, body = ctl.http("POST", "/v1/verify", junk)
        assert status == 422, (junk, status, body)
        assert json.loads(body)["reason"] == "Invalid"


def test_rotate_reseals_for_the_newest_key(env, tmp_path):
    ctl = env.controller()
    old = env.seal(secret("rot", data={"K": "v"}))
    env.apply(old)
    wait_for(lambda: (condition(env.api.get("sealedsecret", "rot"), "KeyCurrent") or {}).get("status") == "True",
             what="rot KeyCurrent=True")
    old_kid = env.api.get("sealedsecret", "rot")["status"]["keyIds"]

    # already current: the same values come back
    status, headers, body = ctl.http("POST", "/v1/rotate", json.dumps(old).encode())
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body)["spec"]["encryptedData"] == old["spec"]["encryptedData"]

    # an admin adds a newer key: it is picked up without a restart
    if not SEAL or not os.path.exists(SEAL):
        pytest.skip("the seal command line tool is not built")
    priv, pub = tmp_path / "k.key", tmp_path / "k.pem"
    time.sleep(1.1)  # a later creation time than the first key
    p = subprocess.run([SEAL, "keys", "generate", "--private-key", str(priv), "--cert", str(pub)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    kid = re.search(r"[0-9a-f]{16}", p.stdout + p.stderr).group(0)
    env.api.kubectl("create", "secret", "generic", f"seal-key-{kid}", "-n", "seal-system",
                    f"--from-file=private.key={priv}", f"--from-file=public.key={pub}",
                    "--type", "seal.dev/key")
    env.api.kubectl("label", "secret", f"seal-key-{kid}", "-n", "seal-system", "seal.dev/key=active")
    wait_for(lambda: kid in ctl.cert(), what="the new key served")
    got = wait_for(lambda: (lambda s: s if (condition(s, "KeyCurrent") or {}).get("reason") == "OlderKey" else None)(
        env.api.get("sealedsecret", "rot")), what="KeyCurrent=False OlderKey")
    assert kid in condition(got, "KeyCurrent")["message"]

    yaml_in = subprocess.run([SEAL, "--cert", env.cert_path], input=json.dumps(secret("rot", data={"K": "v"})),
                             capture_output=True, text=True).stdout
    status, headers, body = ctl.http("POST", "/v1/rotate", yaml_in.encode())
    assert status == 200 and headers["content-type"] == "application/yaml"
    assert body.decode().startswith("apiVersion: seal.dev/v1")
    status, _, body = ctl.http("POST", "/v1/rotate", json.dumps(old).encode())
    rotated = json.loads(body)
    assert rotated["spec"]["encryptedData"] != old["spec"]["encryptedData"]
    rotated["metadata"]["resourceVersion"] = got["metadata"]["resourceVersion"]
    env.apply(rotated, "replace")
    wait_for(lambda: (condition(env.api.get("sealedsecret", "rot"), "KeyCurrent") or {}).get("status") == "True",
             what="KeyCurrent=True after rotation")
    assert env.api.get("sealedsecret", "rot")["status"]["keyIds"] == [kid] != old_kid
    status, _, body = ctl.http("POST", "/v1/rotate", json.dumps(tamper(old, "K")).encode())
    assert status == 409 and json.loads(body)["reason"] == "Altered"


def test_rotate_checks_values_already_sealed_for_the_newest_key(env):
    """Nothing to re-seal is no reason to answer 200: every value is checked as verify
    checks it, and a moved, re-scoped or altered one is refused (409) naming the key."""
    ctl = env.controller()
    good = env.seal(secret("cur", data={"A": "one", "B": "two"}))
    status, _, body = ctl.http("POST", "/v1/rotate", json.dumps(good).encode())
    assert status == 200, body
    assert json.loads(body)["spec"]["encryptedData"] == good["spec"]["encryptedData"]

    def copy():
        return json.loads(json.dumps(good))

    cases = []
    d = copy()
    d["metadata"]["namespace"] = "other"
    cases.append(("namespace", d, "A", "WrongScope"))
    d = copy()
    d["metadata"]["name"] = "elsewhere"
    cases.append(("name", d, "A", "WrongScope"))
    d = copy()
    enc = d["spec"]["encryptedData"]
    enc["A"], enc["B"] = enc["B"], enc["A"]
    cases.append(("data key", d, "A", "WrongScope"))
    d = copy()
    d["metadata"].setdefault("annotations", {})["seal.dev/scope"] = "namespace-wide"
    cases.append(("scope", d, "A", "WrongScope"))
    d = copy()
    blob = bytearray(base64.b64decode(d["spec"]["encryptedData"]["B"]))
    blob[2 + 88 * blob[1] + 24] ^= 1  # version, count, stanzas, nonce, then the commitment
    d["spec"]["encryptedData"]["B"] = base64.b64encode(bytes(blob)).decode()
    cases.append(("commitment", d, "B", None))
    for what, doc, key, reason in cases:
        status, _, body = ctl.http("POST", "/v1/rotate", json.dumps(doc).encode())
        assert status == 409, (what, status, body)
        answer = json.loads(body)
        assert f'key "{key}"' in answer["message"], (what, answer)
        assert key in [f["key"] for f in answer["failed"]], (what, answer)
        if reason:
            assert answer["reason"] == reason, (what, answer)
        assert b"one" not in body and b"two" not in body
        # verify says the same
        status, _, vbody = ctl.http("POST", "/v1/verify", json.dumps(doc).encode())
        assert status == 409 and key in [f["key"] for f in json.loads(vbody)["failed"]], what


def raw_post(port, path, headers, body_parts):
    """Sends a request piece by piece; the status line, even if the server answers early."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        try:
            for part in body_parts:
                s.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end
        data = b""
        try:
            while b"\r\n" not in data:
                more = s.recv(4096)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
        return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


def test_oversized_bodies_get_413(env):
    ctl = env.controller()
    size = 5 * 1024 * 1024
    for path in ("/v1/verify", "/v1/rotate"):
        # announced: refused before the body is read
        assert raw_post(ctl.port, path, f"Content-Length: {size}\r\n", []) == 413
        # sent: refused too
        assert raw_post(ctl.port, path, f"Content-Length: {size}\r\n", [b"a" * size]) == 413
    # without Content-Length (chunked): refused once the running total passes 4 MiB
    chunk = b"b" * 65536
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 81 + [b"0\r\n\r\n"]
    assert raw_post(ctl.port, "/v1/verify", "Transfer-Encoding: chunked\r\n", parts) == 413
    assert ctl.http("GET", "/ping")[0] == 200  # still serving


def test_verify_and_rotate_are_rate_limited(env):
    ctl = env.controller("--http-rate", "0.2", "--http-burst", "3")
    ss = json.dumps(env.seal(secret("r"))).encode()
    codes = [ctl.http("POST", "/v1/verify", ss)[0] for _ in range(3)]
    assert codes == [200, 200, 200]
    status, headers, _ = ctl.http("POST", "/v1/rotate", ss)
    assert status == 429 and headers.get("retry-after")
    assert ctl.http("GET", "/health")[0] == 200  # the others are not limited


def test_help_lists_every_flag_with_its_env_var():
    if not CONTROLLER or not os.path.exists(CONTROLLER):
        pytest.skip("unseal-controller is not built")
    p = subprocess.run([CONTROLLER, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    flags = re.findall(r"^  --([a-z-]+)", p.stdout, re.M)
    for f in ("kubeconfig", "namespace", "key-namespace", "listen", "metrics-listen", "log-format",
              "log-level", "leader-elect", "lease-duration", "renew-deadline", "retry-period",
              "key-renew-period", "qps", "burst", "max-in-flight", "max-retries"):
        assert f in flags, f
        env = "SEAL_" + f.upper().replace("-", "_")
        assert env in p.stdout, env
    assert "default 15s" in p.stdout and "default 720h" in p.stdout
    bad = subprocess.run([CONTROLLER, "--lease-duration", "soon"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--lease-duration" in bad.stderr
    bad = subprocess.run([CONTROLLER, "--frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "frobnicate" in bad.stderr
    bad = subprocess.run([CONTROLLER], capture_output=True, text=True,
                         env=dict(os.environ, SEAL_QPS="lots"))
    assert bad.returncode == 2 and "SEAL_QPS" in bad.stderr


def test_environment_configures_and_json_logs(env):
    ports = (free_port(), free_port())
    ctl = env.controller(env={"SEAL_LISTEN": f"127.0.0.1:{ports[0]}",
                              "SEAL_METRICS_LISTEN": f"127.0.0.1:{ports[1]}",
                              "SEAL_LOG_FORMAT": "json"}, ports=ports)
    env.apply(env.seal(secret("j", data={"PASSWORD": "do-not-log-me"})))
    wait_for(lambda: (condition(env.api.get("sealedsecret", "j"), "Synced") or {}).get("status") == "True",
             what="j synced")
    assert http_request(ports[1], "GET", "/metrics")[0] == 200
    logs = ctl.logs()
    lines = [line for line in logs.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] in ("debug", "info", "warn", "error") for line in lines)
    assert any(json.loads(line)["msg"] == "secret created" for line in lines)
    assert "do-not-log-me" not in logs


def test_slow_clients_time_out_and_connections_are_limited(env):
    ctl = env.controller("--http-timeout", "1s", "--http-max-connections", "4")
    slow = socket.create_connection(("127.0.0.1", ctl.port), timeout=10)
    slow.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\n")  # never finishes
    t0 = time.monotonic()
    try:
        data = slow.recv(100)  # closed by the server after the idle timeout
    except ConnectionResetError:
        data = b""
    assert time.monotonic() - t0 < 5 and not data.startswith(b"HTTP/1.1 200")
    slow.close()
    # more idle connections than allowed: a new request waits until idle ones time out
    held = [socket.create_connection(("127.0.0.1", ctl.port), timeout=5) for _ in range(8)]
    time.sleep(0.2)
    t0 = time.monotonic()
    assert ctl.http("GET", "/ping")[0] == 200
    assert time.monotonic() - t0 >= 0.8, "the connection limit did not hold"
    for s in held:
        s.close()


def test_compromised_key_still_unseals_and_is_flagged(env):
    ctl = env.controller()
    env.apply(env.seal(secret("c", data={"K": "v"})))
    wait_for(lambda: (condition(env.api.get("sealedsecret", "c"), "KeyCurrent") or {}).get("status") == "True",
             what="KeyCurrent=True")
    keys = json.loads(env.api.kubectl("get", "secrets", "-n", "seal-system", "-l", "seal.dev/key",
                                      "-o", "json").stdout)["items"]
    name = keys[0]["metadata"]["name"]
    env.api.kubectl("label", "--overwrite", "secret", name, "-n", "seal-system",
                    "seal.dev/key=compromised")
    got = wait_for(lambda: (lambda ss: ss if (condition(ss, "KeyCurrent") or {}).get("reason") == "CompromisedKey" else None)(
        env.api.get("sealedsecret", "c")), what="KeyCurrent=False CompromisedKey")
    assert name[len("seal-key-"):] in condition(got, "KeyCurrent")["message"]
    assert condition(got, "Synced")["status"] == "True"  # no outage
    # a compromised key never seals: not served (503, or a newer key once renewal made one)
    status, _, cert = ctl.http("GET", "/v1/cert.pem")
    assert status == 503 or name[len("seal-key-"):].encode() not in cert
    metrics = ctl.http("GET", "/metrics", metrics=True)[2].decode()
    assert 'seal_keys{state="compromised"} 1' in metrics


def test_seal_verify_checks_a_file_through_the_controller(env, tmp_path):
    ctl = env.controller()
    good = env.seal(secret("ok", data={"K": "v"}))
    bad = tamper(env.seal(secret("nok", data={"K": "v"})), "K")
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    url = f"http://127.0.0.1:{ctl.port}"
    p = subprocess.run([SEAL, "verify", "--controller-url", url, "-f", str(tmp_path / "good.json")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([SEAL, "verify", "--controller-url", url, "-f", str(tmp_path / "bad.json")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "Altered" in p.stderr, (p.returncode, p.stderr)


def test_hostile_bodies_are_refused_cleanly(env):
    ctl = env.controller("--http-rate", "1000", "--http-burst", "1000")
    laughs = b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
        b"%c: &%c [%s]\n" % (c, c, b",".join([b"*%c" % (c - 1)] * 9)) for c in range(ord("b"), ord("i")))
    many = {"apiVersion": "seal.dev/v1", "kind": "SealedSecret",
            "metadata": {"name": "x", "namespace": "y"},
            "spec": {"encryptedData": {f"k{i}": "AQ==" for i in range(2000)}}}
    for what, body in (("deep JSON", b"[" * 100000 + b"]" * 100000),
                       ("deep YAML", b"a:\n" + b"".join(b"  " * i + b"- \n" for i in range(1, 200))),
                       ("alias bomb", laughs),
                       ("too many keys", json.dumps(many).encode()),
                       ("not UTF-8", b'{"apiVersion":"seal.dev/v1","kind":"SealedSecret","metadata":{"name":"\xff"}}')):
        for path in ("/v1/verify", "/v1/rotate"):
            status, _, reply = ctl.http("POST", path, body)
            assert status == 422, (what, path, status, reply[:200])
            assert json.loads(reply)["reason"] == "Invalid"
    assert ctl.http("GET", "/ping")[0] == 200
