"""kubectl's connection flags on every seal command that talks to a cluster
(--cluster, --user, --server/-s, --token, --certificate-authority,
--insecure-skip-tls-verify, --request-timeout) on top of the kubeconfig's
context, and the SEAL_* variable of every cluster option (the flag wins)."""

import json
import subprocess
import time

import pytest

from conftest import (TOKEN, fails, ok, parse_docs, publish_configmap, publish_controller, run,
                      secret_yaml)
from test_cluster import Controller, controller  # noqa: F401 (fixture)

WRONG = "wrong-token-never-printed-4711"


def two_of_each(tmp_path, api):
    """A kubeconfig whose current context uses a dead cluster and a user with a wrong
    token; the entries "live" and "right" reach the stand-in."""
    ca_data = open(api.kubeconfig).read().split("certificate-authority-data: ")[1].split()[0]
    path = tmp_path / "two.json"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}},
                     {"name": "live", "cluster": {"server": api.url,
                                                  "certificate-authority-data": ca_data}}],
        "users": [{"name": "wrong", "user": {"token": WRONG}},
                  {"name": "right", "user": {"token": TOKEN}}],
        "contexts": [{"name": "main", "context": {"cluster": "dead", "user": "wrong",
                                                   "namespace": "team"}},
                     {"name": "good", "context": {"cluster": "live", "user": "right",
                                                   "namespace": "good-ns"}}]}))
    return str(path)


def other_ca(tmp_path):
    """A CA certificate that did not sign the stand-in's certificate."""
    crt = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    str(tmp_path / "other-ca.key"), "-out", str(crt), "-subj", "/CN=other-ca",
                    "-days", "1"], check=True, capture_output=True)
    return str(crt)


def wrong_ca_kubeconfig(tmp_path, api):
    """two_of_each with the "live" cluster trusting another CA."""
    doc = json.loads(open(two_of_each(tmp_path, api)).read())
    live = doc["clusters"][1]["cluster"]
    del live["certificate-authority-data"]
    live["certificate-authority"] = other_ca(tmp_path)
    path = tmp_path / "wrong-ca.json"
    path.write_text(json.dumps(doc))
    return str(path)


def unauthorized(r):
    return "401" in r.err or "Unauthorized" in r.err


@pytest.fixture
def published(keys, apiserver):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    return apiserver


# ---- --cluster and --user pick other entries -------------------------------------

def test_cluster_and_user_pick_other_entries(keys, published, tmp_path):
    kc = two_of_each(tmp_path, published)
    r = fails(2, "cert", "--kubeconfig", kc)
    assert "127.0.0.1:1" in r.err, r.err
    # the live cluster, the context's (wrong) user: the stand-in refuses the token
    r = fails(2, "cert", "--kubeconfig", kc, "--cluster", "live")
    assert unauthorized(r), r.err
    r = ok("cert", "--kubeconfig", kc, "--cluster", "live", "--user", "right")
    assert keys.ids[0] in r.text
    # entries that do not exist are named with the flag
    r = fails(2, "cert", "--kubeconfig", kc, "--cluster", "nowhere")
    assert 'cluster "nowhere" (--cluster) not found' in r.err, r.err
    r = fails(2, "cert", "--kubeconfig", kc, "--cluster", "live", "--user", "nobody")
    assert 'user "nobody" (--user) not found' in r.err, r.err
    assert WRONG not in r.err


def test_cluster_and_user_from_variables(keys, published, tmp_path):
    kc = two_of_each(tmp_path, published)
    env = {"SEAL_KUBECONFIG": kc, "SEAL_CLUSTER": "live", "SEAL_USER": "right"}
    r = ok("cert", env=env)
    assert keys.ids[0] in r.text
    # the flag wins over the variable
    r = fails(2, "cert", "--user", "wrong", env=env)
    assert unauthorized(r), r.err
    r = fails(2, "cert", "--cluster", "dead", env=env)
    assert "127.0.0.1:1" in r.err, r.err
    # SEAL_KUBECONFIG wins over KUBECONFIG, --kubeconfig over both
    r = ok("cert", env={**env, "KUBECONFIG": "/nonexistent"})
    r = fails(2, "cert", "--kubeconfig", str(tmp_path / "missing"), env=env)
    assert "missing" in r.err


def test_context_from_variable(keys, published, tmp_path):
    kc = two_of_each(tmp_path, published)
    r = ok("cert", "--kubeconfig", kc, env={"SEAL_CONTEXT": "good"})
    assert keys.ids[0] in r.text
    fails(2, "cert", "--kubeconfig", kc, "--context", "main", env={"SEAL_CONTEXT": "good"})


def test_namespace_follows_the_chosen_context(keys, published, tmp_path):
    kc = two_of_each(tmp_path, published)
    unnamed = secret_yaml(namespace=None, data={"a": "1"})
    r = ok("--cert", keys.pub[0], "--kubeconfig", kc, "-o", "json", stdin=unnamed)
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "team"
    r = ok("--cert", keys.pub[0], "--kubeconfig", kc, "--context", "good", "-o", "json",
           stdin=unnamed)
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "good-ns"
    r = ok("--cert", keys.pub[0], "-o", "json", stdin=unnamed,
           env={"SEAL_KUBECONFIG": kc, "SEAL_CONTEXT": "good"})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "good-ns"
    # SEAL_NAMESPACE stands for -n; -n wins
    r = ok("--cert", keys.pub[0], "--kubeconfig", kc, "-o", "json", stdin=unnamed,
           env={"SEAL_NAMESPACE": "from-env"})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "from-env"
    r = ok("--cert", keys.pub[0], "-n", "from-flag", "-o", "json", stdin=unnamed,
           env={"SEAL_NAMESPACE": "from-env"})
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "from-flag"
    r = fails(2, "--cert", keys.pub[0], stdin=unnamed, env={"SEAL_NAMESPACE": "Not_Valid"})
    assert "SEAL_NAMESPACE" in r.err, r.err
    # --server alone, no kubeconfig: default
    r = ok("--cert", keys.pub[0], "--server", published.url, "-o", "json", stdin=unnamed)
    assert parse_docs(r.out)[0]["metadata"]["namespace"] == "default"


# ---- --server, --token, --certificate-authority without a kubeconfig --------------

def test_server_without_a_kubeconfig(keys, published):
    api = published
    r = ok("cert", "--server", api.url, "--token", TOKEN, "--certificate-authority", api.ca)
    assert keys.ids[0] in r.text
    # -s as kubectl
    r = ok("cert", "-s", api.url, "--token", TOKEN, "--certificate-authority", api.ca)
    assert keys.ids[0] in r.text
    # sealing and verifying too
    r = ok("-s", api.url, "--token", TOKEN, "--certificate-authority", api.ca, "-o", "json",
           stdin=secret_yaml(data={"a": "1"}))
    assert f"sealing for key {keys.ids[0]}" in r.err
    # and from the variables alone
    env = {"SEAL_SERVER": api.url, "SEAL_TOKEN": TOKEN, "SEAL_CERTIFICATE_AUTHORITY": api.ca}
    r = ok("cert", env=env)
    assert keys.ids[0] in r.text
    # without a token the stand-in refuses
    r = fails(2, "cert", "--server", api.url, "--certificate-authority", api.ca)
    assert unauthorized(r), r.err
    bad = fails(2, "cert", "--server", "ftp://127.0.0.1:1", "--token", TOKEN)
    assert "--server" in bad.err and "not an http(s) URL" in bad.err, bad.err


def test_server_replaces_the_kubeconfig_server(keys, published, tmp_path):
    api = published
    kc = two_of_each(tmp_path, api)
    # the context's cluster is dead; --server points at the stand-in, the CA comes along
    r = ok("cert", "--kubeconfig", kc, "--server", api.url, "--user", "right",
           "--certificate-authority", api.ca)
    assert keys.ids[0] in r.text
    r = fails(2, "cert", "--kubeconfig", kc, "--context", "good", "--server", "https://127.0.0.1:1")
    assert "127.0.0.1:1" in r.err, r.err


def test_token_reaches_the_server_as_the_bearer_token(keys, published):
    api = published
    api.set_token("rotated-token-0123")
    # the kubeconfig's token is the old one now
    r = fails(2, "cert", "--kubeconfig", api.kubeconfig)
    assert unauthorized(r), r.err
    r = ok("cert", "--kubeconfig", api.kubeconfig, "--token", "rotated-token-0123")
    assert keys.ids[0] in r.text
    r = ok("cert", "--kubeconfig", api.kubeconfig, env={"SEAL_TOKEN": "rotated-token-0123"})
    assert keys.ids[0] in r.text
    # the flag wins over the variable, and a token is never printed
    r = fails(2, "cert", "--kubeconfig", api.kubeconfig, "--token", WRONG,
              env={"SEAL_TOKEN": "rotated-token-0123"})
    assert unauthorized(r) and WRONG not in r.err and "rotated" not in r.err, r.err
    r = fails(2, "cert", "--kubeconfig", api.kubeconfig, "--token", WRONG + " \r\nX-Injected: 1")
    assert "--token holds a space" in r.err and WRONG not in r.err, r.err


def test_certificate_authority_validates_tls(keys, published, tmp_path):
    api = published
    args = ("cert", "--server", api.url, "--token", TOKEN)
    # the system store does not know the stand-in's CA
    r = fails(2, *args)
    assert "certificate" in r.err, r.err
    # a CA that did not sign the server's certificate
    wrong = other_ca(tmp_path)
    r = fails(2, *args, "--certificate-authority", wrong)
    assert "certificate" in r.err and api.url in r.err, r.err
    r = fails(2, *args, env={"SEAL_CERTIFICATE_AUTHORITY": wrong})
    assert "certificate" in r.err, r.err
    # a CA file that is not there
    r = fails(2, *args, "--certificate-authority", str(tmp_path / "missing.crt"))
    assert "--certificate-authority" in r.err and "missing.crt" in r.err, r.err
    # the right one; the flag wins over the variable
    r = ok(*args, "--certificate-authority", api.ca, env={"SEAL_CERTIFICATE_AUTHORITY": wrong})
    assert keys.ids[0] in r.text and "warning" not in r.err
    # over a kubeconfig whose CA is wrong
    kc = wrong_ca_kubeconfig(tmp_path, api)
    r = fails(2, "cert", "--kubeconfig", kc, "--context", "good")
    assert "certificate" in r.err, r.err
    r = ok("cert", "--kubeconfig", kc, "--context", "good", "--certificate-authority", api.ca)
    assert keys.ids[0] in r.text


def test_insecure_skip_tls_verify(keys, published, tmp_path):
    api = published
    args = ("cert", "--server", api.url, "--token", TOKEN)
    r = ok(*args, "--insecure-skip-tls-verify")
    assert keys.ids[0] in r.text
    assert "insecure-skip-tls-verify: the API server is not authenticated" in r.err, r.err
    r = ok(*args, env={"SEAL_INSECURE_SKIP_TLS_VERIFY": "true"})
    assert "not authenticated" in r.err, r.err
    # kubectl's --insecure-skip-tls-verify=false, and the variable's false
    fails(2, *args, "--insecure-skip-tls-verify=false")
    fails(2, *args, env={"SEAL_INSECURE_SKIP_TLS_VERIFY": "false"})
    # the flag wins over the variable
    fails(2, *args, "--insecure-skip-tls-verify=false",
          env={"SEAL_INSECURE_SKIP_TLS_VERIFY": "true"})
    # over a kubeconfig whose CA is wrong
    kc = wrong_ca_kubeconfig(tmp_path, api)
    fails(2, "cert", "--kubeconfig", kc, "--context", "good")
    r = ok("cert", "--kubeconfig", kc, "--context", "good", "--insecure-skip-tls-verify")
    assert keys.ids[0] in r.text


@pytest.mark.parametrize("how", ["flags", "variables", "mixed"])
def test_certificate_authority_with_insecure_is_refused(published, tmp_path, how):
    api = published
    if how == "flags":
        r = run("cert", "--server", api.url, "--certificate-authority", api.ca,
                "--insecure-skip-tls-verify")
    elif how == "variables":
        r = run("cert", "--server", api.url, env={"SEAL_CERTIFICATE_AUTHORITY": api.ca,
                                                   "SEAL_INSECURE_SKIP_TLS_VERIFY": "1"})
    else:
        r = run("cert", "--server", api.url, "--insecure-skip-tls-verify",
                env={"SEAL_CERTIFICATE_AUTHORITY": api.ca})
    assert r.rc == 2 and r.out == b"", r
    assert "--certificate-authority and --insecure-skip-tls-verify cannot be used together" \
        in r.err, r.err
    assert "seal cert --help" in r.err, r.err


# ---- --request-timeout ------------------------------------------------------------

def stall(api, seconds):
    api.fault(path="/configmaps", status=0, delay=seconds, duration=60)


@pytest.mark.parametrize("value", ["1", "1s", "1000ms", "0.5s500ms"])
def test_request_timeout_gives_up_in_about_that_time(published, value):
    stall(published, 8)
    t0 = time.monotonic()
    r = fails(2, "cert", "--kubeconfig", published.kubeconfig, "--request-timeout", value)
    took = time.monotonic() - t0
    assert 0.9 <= took < 4, (took, r.err)
    assert "timed out" in r.err.lower() or "timeout" in r.err.lower(), r.err


def silent_server():
    """A listening socket that takes connections and never answers: (socket, url)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s, f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_request_timeout_bounds_the_controller_url(how):
    sock, url = silent_server()
    try:
        t0 = time.monotonic()
        if how == "flag":
            r = fails(2, "cert", "--controller-url", url, "--request-timeout", "1s")
        else:
            r = fails(2, "cert", "--controller-url", url, env={"SEAL_REQUEST_TIMEOUT": "1500ms"})
        took = time.monotonic() - t0
        assert 0.9 <= took < 5, (took, r.err)
        assert url in r.err and "timed out" in r.err.lower(), r.err
    finally:
        sock.close()


def test_request_timeout_from_the_variable(published):
    stall(published, 8)
    t0 = time.monotonic()
    fails(2, "cert", "--kubeconfig", published.kubeconfig, env={"SEAL_REQUEST_TIMEOUT": "1s"})
    assert time.monotonic() - t0 < 4
    # the flag wins: 0 is no timeout at all
    published.clear_faults()
    stall(published, 2)
    t0 = time.monotonic()
    ok("cert", "--kubeconfig", published.kubeconfig, "--request-timeout", "0",
       env={"SEAL_REQUEST_TIMEOUT": "1s"})
    assert time.monotonic() - t0 >= 2


def test_request_timeout_longer_than_the_stall_succeeds(keys, published):
    stall(published, 2)
    t0 = time.monotonic()
    r = ok("cert", "--kubeconfig", published.kubeconfig, "--request-timeout", "1m")
    assert keys.ids[0] in r.text and time.monotonic() - t0 >= 2


@pytest.mark.parametrize("value", ["abc", "-1", "-1s", "1x", "", "1.5.5s", "s", "10d",
                                   "99999999999999999999", "1h1h1h1h1h1h1h1h1h1h1h1h9999999h"])
def test_bad_request_timeouts_are_usage_errors(value):
    r = run("cert", "--request-timeout", value)
    assert r.rc == 2 and r.out == b"", r
    assert "--request-timeout" in r.err and "seal cert --help" in r.err, r.err
    if value:
        assert "1s" in r.err and "2m" in r.err, r.err  # says what is valid
    r = run("cert", env={"SEAL_REQUEST_TIMEOUT": value} if value else {
        "SEAL_REQUEST_TIMEOUT": "bogus"})
    assert r.rc == 2 and "SEAL_REQUEST_TIMEOUT" in r.err, r


@pytest.mark.parametrize("cmd", [[], ["raw"], ["merge"], ["verify"], ["reseal"], ["keys", "list"]])
def test_bad_values_are_usage_errors_on_every_cluster_command(cmd):
    r = run(*cmd, "--request-timeout", "soon", stdin="")
    assert r.rc == 2 and "--request-timeout" in r.err, r
    r = run(*cmd, "--insecure-skip-tls-verify=maybe", stdin="")
    assert r.rc == 2 and "--insecure-skip-tls-verify" in r.err, r
    r = run(*cmd, "--server", "", stdin="")
    assert r.rc == 2 and "--server" in r.err, r
    r = run(*cmd, stdin="", env={"SEAL_INSECURE_SKIP_TLS_VERIFY": "maybe"})
    assert r.rc == 2 and "SEAL_INSECURE_SKIP_TLS_VERIFY" in r.err, r


# ---- the variables of the other cluster options ------------------------------------

def test_controller_options_from_variables(keys, apiserver, controller):  # noqa: F811
    apiserver.send("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": "sec"}})
    publish_controller(apiserver, controller, ns="sec", name="ctl")
    env = {"SEAL_CONTROLLER_NAMESPACE": "sec", "SEAL_CONTROLLER_NAME": "ctl"}
    r = ok("cert", "--kubeconfig", apiserver.kubeconfig, env=env)
    assert keys.ids[1] in r.text
    fails(2, "cert", "--kubeconfig", apiserver.kubeconfig, "--controller-name", "other", env=env)
    r = ok("cert", env={"SEAL_CONTROLLER_URL": f"http://127.0.0.1:{controller}"})
    assert keys.ids[1] in r.text
    r = fails(2, "cert", "--controller-url", "http://127.0.0.1:1",
              env={"SEAL_CONTROLLER_URL": f"http://127.0.0.1:{controller}"})
    assert "127.0.0.1:1" in r.err


def test_key_namespace_from_the_variable(keys, apiserver, tmp_path):
    backup = tmp_path / "key0.key"
    backup.write_text(open(keys.priv[0]).read())
    ok("keys", "restore", "-f", str(backup), "--kubeconfig", apiserver.kubeconfig,
       env={"SEAL_KEY_NAMESPACE": "default"})
    assert [s["type"] for s in apiserver.objects("secrets", namespace="default")] == \
        ["seal.dev/key"]
    assert apiserver.objects("secrets", namespace="seal-system") == []
    # the option wins
    ok("keys", "restore", "-f", str(backup), "--kubeconfig", apiserver.kubeconfig,
       "--key-namespace", "seal-system", env={"SEAL_KEY_NAMESPACE": "default"})
    assert len(apiserver.objects("secrets", namespace="seal-system")) == 1
    r = fails(2, "keys", "list", "--kubeconfig", apiserver.kubeconfig,
              env={"SEAL_KEY_NAMESPACE": "Not_Valid"})
    assert "SEAL_KEY_NAMESPACE" in r.err, r.err


# ---- documentation -------------------------------------------------------------------

FLAGS = ["--cluster", "--user", "--server", "--token", "--certificate-authority",
         "--insecure-skip-tls-verify", "--request-timeout"]
VARIABLES = ["SEAL_KUBECONFIG", "SEAL_CONTEXT", "SEAL_CLUSTER", "SEAL_USER", "SEAL_SERVER",
             "SEAL_TOKEN", "SEAL_CERTIFICATE_AUTHORITY", "SEAL_INSECURE_SKIP_TLS_VERIFY",
             "SEAL_REQUEST_TIMEOUT", "SEAL_NAMESPACE", "SEAL_CONTROLLER_NAMESPACE",
             "SEAL_CONTROLLER_NAME", "SEAL_CONTROLLER_URL", "SEAL_KEY_NAMESPACE"]


@pytest.mark.parametrize("cmd", [[], ["raw"], ["merge"], ["cert"], ["verify"], ["reseal"],
                                 ["keys", "list"]])
def test_help_lists_the_flags(cmd):
    text = ok(*cmd, "--help").text
    missing = [f for f in FLAGS if f not in text]
    assert not missing, missing
    assert "SEAL_*" in text or "SEAL_SERVER" in text, text


def test_man_page_and_completion_list_the_flags_and_variables():
    import os
    man = open(os.path.join(os.environ.get("SEAL_SOURCE_ROOT", ""), "docs", "seal.1")).read()
    man = man.replace("\\-", "-").replace("\\_", "_")
    missing = [v for v in FLAGS + VARIABLES if v not in man]
    assert not missing, missing
    for shell in ("bash", "zsh"):
        script = ok("completion", shell).text
        missing = [f for f in FLAGS if f not in script]
        assert not missing, (shell, missing)
