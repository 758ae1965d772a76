"""seal cert, seal verify and sealing without --cert: the cluster's key, from
the ConfigMap seal-system/seal-public-keys, the controller's /v1/cert.pem
through the API server's service proxy, or --controller-url."""

import base64
import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

from conftest import (TOKEN, ApiServer, StandInHandler, fails, ok, publish_configmap,
                      publish_controller, run, secret_yaml)


# a terminal title, a bell, a right-to-left override, a C1 CSI, a line break
HOSTILE = "\x1b]0;pwned\x07 \u202e \u009b2J \n forged line"
RAW = ["\x1b", "\x07", "\u202e", "\u009b"]
ESCAPED = ["\\x1b]0;pwned\\x07", "\\u202e", "\\u009b2J", "\\x0a forged line"]


class Controller(StandInHandler):
    """A stand-in for unseal-controller's HTTP endpoints."""
    cert = b""
    seen = []

    def do_GET(self):
        if self.path == "/v1/cert.pem":
            self.reply(200, self.cert, "application/x-pem-file")
        else:
            self.reply(404, b"not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path != "/v1/verify":
            return self.reply(404, b"not found")
        doc = json.loads(body)
        Controller.seen.append((self.headers.get("Content-Type"), doc))
        # the answers of unseal-controller's /v1/verify
        if doc["metadata"]["name"].startswith("bad"):
            self.reply(409, json.dumps({"valid": False, "values": 1, "failed": [
                {"key": "a", "reason": "NoKey", "message": "no key of this cluster"}]}).encode(),
                "application/json")
        elif doc["metadata"]["name"].startswith("hostile"):
            self.reply(409, json.dumps({"valid": False, "values": 1, "failed": [
                {"key": "a", "reason": "NoKey",
                 "message": HOSTILE}]}).encode(), "application/json")
        elif doc["metadata"]["name"].startswith("invalid"):
            self.reply(422, json.dumps({"kind": "Status", "code": 422, "reason": "Invalid",
                                        "message": "request body: not a SealedSecret"}).encode(),
                       "application/json")
        else:
            self.reply(200, b'{"valid": true, "values": 1, "failed": []}', "application/json")


@pytest.fixture
def controller(keys):
    Controller.cert = open(keys.pub[1], "rb").read()
    Controller.seen = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Controller)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


# ---- --controller-url ----------------------------------------------------------

def test_cert_from_controller_url(keys, controller):
    r = ok("cert", "--controller-url", f"http://127.0.0.1:{controller}/")
    assert b"BEGIN SEAL PUBLIC KEY" in r.out
    assert keys.ids[1] in r.text
    assert r.out.count(b"BEGIN SEAL PUBLIC KEY") == 1


def test_seal_with_controller_url(keys, controller):
    r = ok("--controller-url", f"http://127.0.0.1:{controller}", "-o", "json",
           stdin=secret_yaml(data={"a": "1"}))
    assert f"sealing for key {keys.ids[1]}" in r.err
    ok("unseal", "--private-key", keys.priv[1], stdin=r.out)
    # pinning applies to the cluster's key too
    fails(1, "--controller-url", f"http://127.0.0.1:{controller}", "--key-id", keys.ids[0],
          stdin=secret_yaml(data={"a": "1"}))


def test_controller_serving_a_weak_key_is_refused(keys, controller):
    Controller.cert = ("-----BEGIN SEAL PUBLIC KEY-----\n" + keys.low_order[0] +
                       "\n-----END SEAL PUBLIC KEY-----\n").encode()
    fails(1, "cert", "--controller-url", f"http://127.0.0.1:{controller}")
    fails(1, "--controller-url", f"http://127.0.0.1:{controller}", stdin=secret_yaml(data={"a": "1"}))


def test_verify_with_controller_url(keys, controller, tmp_path):
    good = ok("--cert", keys.pub[1], stdin=secret_yaml(name="good", data={"a": "1"})).out
    bad = ok("--cert", keys.pub[1], stdin=secret_yaml(name="bad", data={"a": "1"})).out
    url = f"http://127.0.0.1:{controller}"
    r = ok("verify", "--controller-url", url, stdin=good)
    assert "ok" in r.text and "kotaemon/good" in r.text
    f = tmp_path / "both.yaml"
    f.write_bytes(good + b"---\n" + bad)
    r = run("verify", "--controller-url", url, "-f", str(f))
    assert r.rc == 1
    assert "kotaemon/good" in r.text and "kotaemon/bad" not in r.text
    assert "document 2" in r.err and "kotaemon/bad" in r.err
    assert 'key "a": NoKey: no key of this cluster' in r.err
    assert [d["metadata"]["name"] for _, d in Controller.seen] == ["good", "good", "bad"]
    assert {ct for ct, _ in Controller.seen} == {"application/json"}


def test_verify_refuses_non_sealed_input(controller):
    r = fails(1, "verify", "--controller-url", f"http://127.0.0.1:{controller}",
              stdin=secret_yaml(data={"a": "1"}))
    assert "SealedSecret" in r.err
    assert Controller.seen == []


def test_unreachable_controller_is_an_environment_error(keys):
    r = fails(2, "cert", "--controller-url", "http://127.0.0.1:1")
    assert "127.0.0.1:1" in r.err


def test_plain_http_warns(keys, controller, tmp_path):
    url = f"http://127.0.0.1:{controller}"
    r = ok("cert", "--controller-url", url)
    assert f"seal: warning: {url}: plain HTTP" in r.err, r.err
    assert "--key-id" in r.err
    # --cert http://: warned once for the origin, however often it is named
    r = ok("--cert", url + "/v1/cert.pem", "--cert", url + "/v1/cert.pem", "-o", "json",
           stdin=secret_yaml(data={"a": "1"}))
    assert r.err.count("plain HTTP") == 1, r.err
    sealed = r.out
    r = ok("verify", "--controller-url", url + "/", stdin=sealed)
    assert r.err.count("plain HTTP") == 1 and "use https)" in r.err, r.err
    # files and pinned keys are not network answers: no warning
    r = ok("--cert", keys.pub[1], stdin=secret_yaml(data={"a": "1"}))
    assert "warning" not in r.err


def test_controller_url_serving_two_keys_is_refused(keys, controller):
    Controller.cert = open(keys.pub[0], "rb").read() + open(keys.pub[1], "rb").read()
    r = fails(1, "cert", "--controller-url", f"http://127.0.0.1:{controller}")
    assert "/v1/cert.pem: not exactly one public key" in r.err, r.err
    fails(1, "--controller-url", f"http://127.0.0.1:{controller}",
          stdin=secret_yaml(data={"a": "1"}))


# ---- through the API server ------------------------------------------------------

def test_cert_from_configmap(keys, apiserver):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig)
    assert keys.ids[0] in r.text
    r = ok("--kubeconfig", apiserver.kubeconfig, "-o", "json", stdin=secret_yaml(data={"a": "1"}))
    assert f"sealing for key {keys.ids[0]}" in r.err
    ok("unseal", "--private-key", keys.priv[0], stdin=r.out)
    # KUBECONFIG works like kubectl's
    r = ok("cert", env={"KUBECONFIG": apiserver.kubeconfig})
    assert keys.ids[0] in r.text


def published_variants(keys):
    one, two = open(keys.pub[0]).read(), open(keys.pub[1]).read()
    after = f"line {one.count(chr(10)) + 1}: text outside the key block"
    return {
        "two blocks": (one + two, "2 SEAL PUBLIC KEY blocks"),
        "garbage before": ("garbage\n" + one, "line 1: text outside the key block"),
        "garbage after": (one + "and more\n", after),
        "garbage between": (one + "x\n" + two, after),
        "garbage alone": ("not a key at all\n", "text outside the key block"),
        "private block": (open(keys.priv[0]).read(), "private key"),
    }


@pytest.mark.parametrize("variant", ["two blocks", "garbage before", "garbage after",
                                     "garbage between", "garbage alone", "private block"])
def test_configmap_not_exactly_one_key_is_refused(keys, apiserver, tmp_path, variant):
    text, why = published_variants(keys)[variant]
    publish_configmap(apiserver, text)
    r = fails(1, "cert", "--kubeconfig", apiserver.kubeconfig)
    assert ("configmap seal-system/seal-public-keys, key cert.pem: not exactly one public key, "
            "refused") in r.err, r.err
    assert why in r.err, r.err
    out = tmp_path / "sealed.yaml"
    r = fails(1, "--kubeconfig", apiserver.kubeconfig, "-w", str(out),
              stdin=secret_yaml(data={"a": "1"}))
    assert "seal-public-keys" in r.err and "sealing for key" not in r.err, r.err
    assert not out.exists()


def test_configmap_one_key_with_blank_lines_is_used(keys, apiserver):
    publish_configmap(apiserver, "\n  \n" + open(keys.pub[0]).read() + "\n\n")
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig)
    assert keys.ids[0] in r.text


def test_cert_through_service_proxy(keys, apiserver, controller):
    publish_controller(apiserver, controller)
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig)
    assert keys.ids[1] in r.text
    r = ok("--kubeconfig", apiserver.kubeconfig, stdin=secret_yaml(data={"a": "1"}))
    assert f"sealing for key {keys.ids[1]}" in r.err


def test_controller_name_and_namespace_flags(keys, apiserver, controller):
    apiserver.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": "sec"}})
    publish_controller(apiserver, controller, ns="sec", name="ctl")
    fails(2, "cert", "--kubeconfig", apiserver.kubeconfig)
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig, "--controller-namespace", "sec",
           "--controller-name", "ctl")
    assert keys.ids[1] in r.text


def test_verify_through_service_proxy(keys, apiserver, controller):
    publish_controller(apiserver, controller)
    good = ok("--cert", keys.pub[1], stdin=secret_yaml(name="good", data={"a": "1"})).out
    bad = ok("--cert", keys.pub[1], stdin=secret_yaml(name="bad", data={"a": "1"})).out
    ok("verify", "--kubeconfig", apiserver.kubeconfig, stdin=good)
    r = run("verify", "--kubeconfig", apiserver.kubeconfig, stdin=bad)
    assert r.rc == 1 and 'key "a": NoKey: no key of this cluster' in r.err, r
    invalid = ok("--cert", keys.pub[1], stdin=secret_yaml(name="invalid", data={"a": "1"})).out
    r = run("verify", "--kubeconfig", apiserver.kubeconfig, stdin=invalid)
    assert r.rc == 1 and "not a SealedSecret" in r.err, r


def test_no_key_anywhere(keys, apiserver):
    r = fails(2, "cert", "--kubeconfig", apiserver.kubeconfig)
    assert "--cert" in r.err
    # a 404 is a ConfigMap that does not exist, not one without cert.pem
    assert ("configmap seal-public-keys in namespace seal-system does not exist" in r.err), r.err
    assert "has no cert.pem" not in r.err
    assert "service seal-system/unseal-controller" in r.err
    out = apiserver.kubeconfig + ".out"
    fails(2, "--kubeconfig", apiserver.kubeconfig, "-w", out, stdin=secret_yaml(data={"a": "1"}))
    assert not os.path.exists(out)


def test_cert_write_is_atomic_and_never_leaves_an_empty_file(keys, apiserver, tmp_path):
    out = tmp_path / "cert.pem"
    # no key anywhere: no file at all (a shell redirection would leave an empty one)
    fails(2, "cert", "--kubeconfig", apiserver.kubeconfig, "-w", str(out))
    assert not out.exists()
    publish_configmap(apiserver, open(keys.pub[0]).read())
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig, "-w", str(out))
    assert r.out == b"" and "BEGIN SEAL PUBLIC KEY" in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    before = out.read_bytes()
    # a failed fetch leaves the previous file as it was
    apiserver.send("DELETE", "/api/v1/namespaces/seal-system/configmaps/seal-public-keys")
    fails(2, "cert", "--kubeconfig", apiserver.kubeconfig, "-w", str(out))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("cert")) == ["cert.pem"]
    ok("--cert", str(out), stdin=secret_yaml(data={"a": "1"}))


def test_configmap_without_cert_pem_says_so(keys, apiserver):
    apiserver.send("POST", "/api/v1/namespaces/seal-system/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "seal-public-keys", "namespace": "seal-system"},
        "data": {"other": "x"}})
    r = fails(2, "cert", "--kubeconfig", apiserver.kubeconfig)
    assert "configmap seal-public-keys in namespace seal-system has no cert.pem" in r.err, r.err


def test_bad_kubeconfig(tmp_path):
    k = tmp_path / "kubeconfig"
    k.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    fails(2, "cert", "--kubeconfig", str(k))
    fails(2, "cert", "--kubeconfig", str(tmp_path / "missing"))


def test_context_flag(keys, apiserver, tmp_path):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    text = open(apiserver.kubeconfig).read()
    text = text.replace("contexts:\n", "contexts:\n- name: dead\n  context:\n    cluster: dead\n"
                        "    user: seal-test\n")
    text = text.replace("clusters:\n", "clusters:\n- name: dead\n  cluster:\n"
                        "    server: https://127.0.0.1:1\n")
    text = text.replace("current-context: seal-test", "current-context: dead")
    k = tmp_path / "two-contexts"
    k.write_text(text)
    fails(2, "cert", "--kubeconfig", str(k))
    r = ok("cert", "--kubeconfig", str(k), "--context", "seal-test")
    assert keys.ids[0] in r.text
    fails(2, "cert", "--kubeconfig", str(k), "--context", "no-such-context")


# ---- trust: the kubeconfig's CA alone --------------------------------------------

def private_trust_store(tmp_path, ca):
    """A command prefix that runs seal with /etc/ssl/certs (libcurl's default CA
    folder on Debian) replaced, for that process only, by a folder that trusts
    ca: a private mount namespace; the machine's store is left alone."""
    store = tmp_path / "system-certs"
    store.mkdir()
    shutil.copy(ca, store / "ca-certificates.crt")
    shutil.copy(ca, store / "system-trusted.pem")
    subprocess.run(["openssl", "rehash", str(store)], check=True, capture_output=True)
    return ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount --bind "$0" /etc/ssl/certs && exec "$@"', str(store))


def cluster_kubeconfig(path, server, ca_field=None):
    cluster = {"server": server}
    if ca_field:
        cluster.update(ca_field)
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


@pytest.mark.parametrize("field", ["certificate-authority", "certificate-authority-data"])
def test_impostor_trusted_by_the_system_store_is_refused(keys, tmp_path, field):
    # the impostor: an API server whose own CA the (private) system store trusts,
    # publishing its own key in the ConfigMap
    impostor = ApiServer(tmp_path, extra=("--verbose",))
    try:
        publish_configmap(impostor, open(keys.pub[1]).read())
        impostor.send("POST", "/_test/stats/reset")
        wrap = private_trust_store(tmp_path, impostor.ca)
        # the cluster's real CA, named by the kubeconfig
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                        str(tmp_path / "real.key"), "-out", str(tmp_path / "real.crt"),
                        "-subj", "/CN=real-cluster-ca", "-days", "1"],
                       check=True, capture_output=True)
        real = str(tmp_path / "real.crt")
        ca = ({"certificate-authority": real} if field == "certificate-authority" else
              {"certificate-authority-data": base64.b64encode(open(real, "rb").read()).decode()})

        # the control: without a CA in the kubeconfig the system store decides,
        # and the private one trusts the impostor
        open_kc = cluster_kubeconfig(tmp_path / "no-ca.json", impostor.url)
        r = ok("cert", "--kubeconfig", open_kc, prefix=wrap)
        assert keys.ids[1] in r.text
        assert impostor.send("GET", "/_test/stats")["total"] >= 1
        impostor.send("POST", "/_test/stats/reset")
        before = impostor.log()
        assert "GET /api/v1/namespaces/seal-system/configmaps/seal-public-keys" in before

        # with the real CA named, the impostor's certificate is refused
        kc = cluster_kubeconfig(tmp_path / "kubeconfig.json", impostor.url, ca)
        r = fails(2, "cert", "--kubeconfig", kc, prefix=wrap)
        assert "certificate" in r.err, r.err
        out = tmp_path / "sealed.yaml"
        r = fails(2, "--kubeconfig", kc, "-w", str(out), stdin=secret_yaml(data={"a": "1"}),
                  prefix=wrap)
        assert "certificate" in r.err and "sealing for key" not in r.err, r.err
        assert not out.exists()
        r = fails(2, "verify", "--kubeconfig", kc, prefix=wrap,
                  stdin=ok("--cert", keys.pub[1], stdin=secret_yaml(data={"a": "1"})).out)
        assert "certificate" in r.err, r.err
        # no request reached the impostor: no token was sent
        assert impostor.send("GET", "/_test/stats")["total"] == 0
        after = impostor.log()[len(before):]
        assert '"GET /api' not in after and '"POST /api' not in after, after
    finally:
        impostor.stop()


def test_answers_reach_the_terminal_escaped(keys, controller, apiserver):
    # the controller's reason in a /v1/verify refusal
    hostile = ok("--cert", keys.pub[1], stdin=secret_yaml(name="hostile", data={"a": "1"})).out
    r = run("verify", "--controller-url", f"http://127.0.0.1:{controller}", stdin=hostile)
    assert r.rc == 1, r
    assert not any(c in r.err for c in RAW), repr(r.err)
    assert all(e in r.err for e in ESCAPED), r.err
    assert r.err.count("\n") == 2, r.err  # the plain-HTTP warning and the refusal
    # a published ConfigMap's text quoted in the refusal
    publish_configmap(apiserver, "-----BEGIN SEAL " + HOSTILE + "\n")
    r = fails(1, "cert", "--kubeconfig", apiserver.kubeconfig)
    assert not any(c in r.err for c in RAW), repr(r.err)
    assert "\\x1b]0;pwned\\x07" in r.err and "\\u202e" in r.err, r.err


def test_unauthenticated_api_server_warns(keys, apiserver, tmp_path):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig)
    assert "warning" not in r.err, r.err
    kc = cluster_kubeconfig(tmp_path / "insecure.json", apiserver.url,
                            {"insecure-skip-tls-verify": True})
    r = ok("cert", "--kubeconfig", kc)
    assert keys.ids[0] in r.text
    assert (f"seal: warning: kubeconfig: {apiserver.url}: insecure-skip-tls-verify: the API "
            "server is not authenticated") in r.err, r.err
    kc = cluster_kubeconfig(tmp_path / "http.json", "http://127.0.0.1:1")
    r = fails(2, "cert", "--kubeconfig", kc)
    assert "seal: warning: kubeconfig: http://127.0.0.1:1: plain HTTP" in r.err, r.err


def test_verify_json_output(keys, controller):
    good = ok("--cert", keys.pub[1], stdin=secret_yaml(name="good", data={"a": "1"})).out
    bad = ok("--cert", keys.pub[1], stdin=secret_yaml(name="bad", data={"a": "1"})).out
    url = f"http://127.0.0.1:{controller}"
    r = ok("verify", "--controller-url", url, "-o", "json", stdin=good)
    assert json.loads(r.out) == {"results": [
        {"document": 1, "namespace": "kotaemon", "name": "good", "valid": True, "failed": []}]}
    r = run("verify", "--controller-url", url, "--output", "json", stdin=good + b"---\n" + bad)
    assert r.rc == 1, r
    assert json.loads(r.out)["results"][1] == {
        "document": 2, "namespace": "kotaemon", "name": "bad", "valid": False,
        "failed": [{"key": "a", "reason": "NoKey", "message": "no key of this cluster"}]}
    r = run("verify", "--controller-url", url, "-o", "yaml", stdin=good)
    assert r.rc == 2 and r.out == b"" and "use text or json" in r.err


def test_verify_offline_with_cert(keys, tmp_path):
    sealed = ok("--cert", keys.pub[0], stdin=secret_yaml(name="good", data={"a": "1", "b": "2"})).out
    r = ok("verify", "--cert", keys.pub[0], stdin=sealed)
    assert "kotaemon/good" in r.text and "not checked offline" in r.text and "label" in r.text
    # sealed for another key: no stanza for this one
    r = run("verify", "--cert", keys.pub[1], stdin=sealed)
    assert r.rc == 1 and r.out == b"", r
    assert 'key "a": NoKey' in r.err and 'key "b": NoKey' in r.err
    # a truncated value is malformed; the other value is still fine
    doc = json.loads(ok("--cert", keys.pub[0], "-o", "json",
                        stdin=secret_yaml(name="cut", data={"a": "1", "b": "2"})).out)
    doc["spec"]["encryptedData"]["a"] = doc["spec"]["encryptedData"]["a"][:20]
    r = run("verify", "--cert", keys.pub[0], "-o", "json", stdin=json.dumps(doc).encode())
    assert r.rc == 1, r
    out = json.loads(r.out)
    assert out["notChecked"] == ["label", "commitment"]
    [res] = out["results"]
    assert res["valid"] is False and [(f["key"], f["reason"]) for f in res["failed"]] == [("a", "Malformed")]
    bad = tmp_path / "not-a-key.pem"
    bad.write_text("hello\n")
    r = run("verify", "--cert", str(bad), stdin=sealed)
    assert r.rc != 0 and r.out == b"" and "not-a-key.pem: no SEAL PUBLIC KEY" in r.err
