"""Kubeconfig credential plugins (users[].user.exec) against the stand-in API
server, which wants a bearer token: the token a plugin prints must reach it.

The plugin is a script that logs each run (argv, stdin, environment) to
runs.jsonl and prints an ExecCredential built from plugin.json, which a test
rewrites between runs."""

import base64
import http.server
import json
import os
import sys
import threading

import pytest

from conftest import (TOKEN, StandInHandler, fails, ok, publish_configmap, publish_controller,
                      run)

PLUGIN = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "plugin.json")) as f:
    conf = json.load(f)
with open(os.path.join(here, "runs.jsonl"), "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "stdin": sys.stdin.read(),
                        "env": {{k: os.environ.get(k) for k in ("SEAL_PLUGIN_A", "SEAL_PLUGIN_B",
                                                                "KUBERNETES_EXEC_INFO", "HOME")}}}})
            + "\\n")
n = sum(1 for _ in open(os.path.join(here, "runs.jsonl")))
if conf.get("stderr"):
    sys.stderr.write(conf["stderr"])
    sys.stderr.flush()
if "raw" in conf:
    sys.stdout.write(conf["raw"])
else:
    tokens = conf.get("tokens") or [None]
    status = dict(conf.get("status", {{}}))
    tok = tokens[min(n, len(tokens)) - 1]
    if tok is not None:
        status["token"] = tok
    sys.stdout.write(json.dumps({{"apiVersion": conf.get("api", "client.authentication.k8s.io/v1"),
                                 "kind": conf.get("kind", "ExecCredential"), "spec": {{}},
                                 "status": status}}))
sys.exit(conf.get("exit", 0))
"""

PAST = "2000-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00.123+02:00"


class Plugin:
    """The plugin script in folder, and a kubeconfig for the stand-in using it."""

    def __init__(self, folder, api):
        self.folder = folder
        self.api = api
        self.path = folder / "plugin.py"
        self.path.write_text(PLUGIN.format(python=sys.executable))
        self.path.chmod(0o755)
        self.configure()
        self.kubeconfig = str(folder / "kubeconfig")
        self.write_kubeconfig()

    def configure(self, **conf):
        conf.setdefault("tokens", [TOKEN])
        (self.folder / "plugin.json").write_text(json.dumps(conf))

    def write_kubeconfig(self, command=None, **exec_extra):
        with open(self.api.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        exec_ = {"apiVersion": "client.authentication.k8s.io/v1", "command": command or str(self.path),
                 "interactiveMode": "Never"}
        exec_.update(exec_extra)
        exec_ = {k: v for k, v in exec_.items() if v is not None}
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
               "clusters": [{"name": "c", "cluster": {
                   "server": self.api.url, "certificate-authority-data": ca,
                   "extensions": [{"name": "client.authentication.k8s.io/exec",
                                   "extension": {"audience": "seal-test"}}]}}],
               "users": [{"name": "u", "user": {"exec": exec_}}],
               "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
        with open(self.kubeconfig, "w") as f:
            json.dump(doc, f)  # JSON is YAML

    def runs(self):
        try:
            with open(self.folder / "runs.jsonl") as f:
                return [json.loads(line) for line in f]
        except FileNotFoundError:
            return []


@pytest.fixture
def plugin(tmp_path, apiserver):
    d = tmp_path / "kube"
    d.mkdir()
    return Plugin(d, apiserver)


class Controller(StandInHandler):
    """The controller's /v1/cert.pem, reached through the API server's service proxy."""
    cert = b""

    def do_GET(self):
        self.reply(200, self.cert, "application/x-pem-file") if self.path == "/v1/cert.pem" \
            else self.reply(404, b"not found")


@pytest.fixture
def controller(keys, apiserver):
    Controller.cert = open(keys.pub[1], "rb").read()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Controller)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    publish_controller(apiserver, srv.server_address[1])
    yield srv
    srv.shutdown()
    srv.server_close()


def test_token_reaches_the_server_and_is_cached_while_valid(keys, plugin, controller):
    # no ConfigMap: seal cert asks for it (404), then the controller through the service
    # proxy: two requests, one plugin run while the credential has not expired
    plugin.configure(tokens=[TOKEN], status={"expirationTimestamp": FUTURE})
    r = ok("cert", "--kubeconfig", plugin.kubeconfig)
    assert b"BEGIN SEAL PUBLIC KEY" in r.out and keys.ids[1] in r.text
    assert len(plugin.runs()) == 1
    assert TOKEN not in r.err


def test_plugin_runs_again_after_expiration(keys, plugin, controller):
    plugin.configure(tokens=[TOKEN], status={"expirationTimestamp": PAST})
    ok("cert", "--kubeconfig", plugin.kubeconfig)
    assert len(plugin.runs()) == 2  # expired at once: each request runs it


def test_a_token_the_server_refuses_runs_the_plugin_again(keys, plugin, apiserver):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    plugin.configure(tokens=["stale-token", TOKEN], status={"expirationTimestamp": FUTURE})
    r = ok("cert", "--kubeconfig", plugin.kubeconfig)
    assert keys.ids[0] in r.text
    assert len(plugin.runs()) == 2
    # and a plugin whose token the server never takes: one re-run, then the 401
    (plugin.folder / "runs.jsonl").unlink()
    plugin.configure(tokens=["wrong-token"])
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert "401" in r.err or "Unauthorized" in r.err
    assert len(plugin.runs()) == 2
    assert "wrong-token" not in r.err


@pytest.mark.parametrize("api", ["client.authentication.k8s.io/v1",
                                 "client.authentication.k8s.io/v1beta1"])
def test_args_env_and_exec_info(keys, plugin, apiserver, api):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    plugin.configure(api=api, stderr="plugin: hello from the plugin\n")
    env = [{"name": "SEAL_PLUGIN_A", "value": "from kubeconfig"},
           {"name": "HOME", "value": "/plugin-home"}]
    plugin.write_kubeconfig(apiVersion=api, args=["get-token", "--cluster", "a b"], env=env,
                            interactiveMode=None if api.endswith("v1beta1") else "IfAvailable")
    r = ok("cert", "--kubeconfig", plugin.kubeconfig, env={"SEAL_PLUGIN_B": "from seal"})
    # the plugin's stderr passes through
    assert "plugin: hello from the plugin" in r.err
    (run_,) = plugin.runs()
    assert run_["argv"] == ["get-token", "--cluster", "a b"]
    assert run_["stdin"] == ""  # never interactive: stdin is /dev/null
    assert run_["env"]["SEAL_PLUGIN_A"] == "from kubeconfig"
    assert run_["env"]["SEAL_PLUGIN_B"] == "from seal"  # seal's environment is inherited
    assert run_["env"]["HOME"] == "/plugin-home"  # the kubeconfig's env wins
    info = json.loads(run_["env"]["KUBERNETES_EXEC_INFO"])
    assert info == {"apiVersion": api, "kind": "ExecCredential", "spec": {"interactive": False}}


def test_provide_cluster_info(keys, plugin, apiserver):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    plugin.write_kubeconfig(provideClusterInfo=True)
    ok("cert", "--kubeconfig", plugin.kubeconfig)
    info = json.loads(plugin.runs()[0]["env"]["KUBERNETES_EXEC_INFO"])
    cluster = info["spec"]["cluster"]
    assert info["spec"]["interactive"] is False
    assert cluster["server"] == apiserver.url
    with open(apiserver.ca, "rb") as f:
        assert base64.b64decode(cluster["certificate-authority-data"]) == f.read()
    assert cluster["config"] == {"audience": "seal-test"}


def test_relative_command_is_relative_to_the_kubeconfig(keys, plugin, apiserver, tmp_path):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    plugin.write_kubeconfig(command="./plugin.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ok("cert", "--kubeconfig", plugin.kubeconfig, cwd=str(elsewhere))
    assert len(plugin.runs()) == 1


def test_bare_command_is_looked_up_in_path(keys, plugin, apiserver):
    publish_configmap(apiserver, open(keys.pub[0]).read())
    plugin.write_kubeconfig(command="plugin.py")
    ok("cert", "--kubeconfig", plugin.kubeconfig,
       env={"PATH": str(plugin.folder) + ":" + os.environ["PATH"]})
    assert len(plugin.runs()) == 1


def test_missing_command_names_it_and_the_install_hint(plugin):
    plugin.write_kubeconfig(command="seal-no-such-plugin",
                            installHint="install it with: apt-get install seal-plugin")
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert 'credential plugin "seal-no-such-plugin" not found in $PATH' in r.err
    assert "install it with: apt-get install seal-plugin" in r.err
    plugin.write_kubeconfig(command="./nothing-here")
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert f'credential plugin "{plugin.folder}/./nothing-here" not found or not executable' in r.err


def test_failing_command_gives_its_exit_code_and_first_stderr_line(plugin):
    plugin.configure(exit=3, tokens=["printed-but-failed-token"],
                     stderr="\nerror: you must log in first\nsecond line\n")
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert (f'credential plugin "{plugin.path}" failed with exit code 3: '
            "error: you must log in first") in r.err
    assert "second line" in r.err  # passed through, not in the message
    assert "printed-but-failed-token" not in r.err


@pytest.mark.parametrize("conf, message", [
    ({"raw": "token=secret-in-bad-output"}, "its output is not JSON (line 1, column"),
    ({"raw": ""}, "its output is not JSON"),
    ({"kind": "Secret"}, 'its output has kind "Secret", not ExecCredential'),
    ({"api": "client.authentication.k8s.io/v1beta1"},
     'its output has apiVersion "client.authentication.k8s.io/v1beta1", but the kubeconfig '
     "asked for client.authentication.k8s.io/v1"),
    ({"raw": json.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                         "kind": "ExecCredential"})}, "its ExecCredential has no status"),
    ({"tokens": [None], "status": {"expirationTimestamp": FUTURE}},
     "status has neither a token nor a client certificate and key"),
    ({"status": {"expirationTimestamp": "tomorrow"}},
     'status.expirationTimestamp "tomorrow" is not an RFC 3339 time'),
])
def test_bad_output_is_a_clear_error(plugin, conf, message):
    plugin.configure(**conf)
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert f'credential plugin "{plugin.path}"' in r.err and message in r.err, r.err
    assert "secret-in-bad-output" not in r.err and TOKEN not in r.err


def test_interactive_mode_always_is_refused(plugin):
    plugin.write_kubeconfig(interactiveMode="Always")
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert "interactiveMode is Always" in r.err and "never runs a credential plugin" in r.err
    assert plugin.runs() == []


def test_v1_without_interactive_mode_is_a_kubeconfig_error(plugin):
    plugin.write_kubeconfig(interactiveMode=None)
    r = fails(2, "cert", "--kubeconfig", plugin.kubeconfig)
    assert 'user "u": exec: interactiveMode must be set' in r.err


def test_a_static_token_beside_the_plugin_wins(keys, plugin, apiserver):
    # as client-go: the plugin is for users without a token or client certificate of their own
    publish_configmap(apiserver, open(keys.pub[0]).read())
    with open(plugin.kubeconfig) as f:
        doc = json.load(f)
    doc["users"][0]["user"]["token"] = TOKEN
    with open(plugin.kubeconfig, "w") as f:
        json.dump(doc, f)
    plugin.configure(exit=1)
    ok("cert", "--kubeconfig", plugin.kubeconfig)
    assert plugin.runs() == []
