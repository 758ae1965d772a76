"""The validating admission webhook (unseal-controller --admission-listen) against the real
kube-apiserver v1.20 (suite `real`; the stand-in calls no webhooks): the API server asks the
controller before it stores a SealedSecret, so a `kubectl apply` of one that would never unseal
fails at once with the reason, and nothing is stored.

The ValidatingWebhookConfiguration is examples/deploy/webhook.yaml's, with a `url` client
config (https://127.0.0.1:PORT/v1/admit: the API server runs on this host) and no caBundle:
the controller makes its own CA and publishes it."""

import base64
import json
import os
import re
import subprocess

import pytest

from conftest import DEPLOY, MODE, SEAL, condition, decoded, free_port, secret, wait_for

WEBHOOK = os.path.join(DEPLOY, "webhook.yaml")


@pytest.fixture(autouse=True)
def real_only():
    assert MODE["apiserver"] == "real", "test_admission.py runs with --apiserver=real only"


def webhook_config(port, policy="Ignore"):
    """examples/deploy/webhook.yaml with a url client config for a controller on this host."""
    with open(WEBHOOK) as f:
        text = f.read()
    assert "failurePolicy: Ignore" in text
    text = text.replace("failurePolicy: Ignore", f"failurePolicy: {policy}")
    # the service client config becomes a url one (the API server is not in a cluster)
    text = re.sub(r"clientConfig:\n(\s+)service:\n(?:\1  .*\n)+",
                  lambda m: f"clientConfig:\n{m.group(1)}url: https://127.0.0.1:{port}/v1/admit\n",
                  text)
    assert f"https://127.0.0.1:{port}/v1/admit" in text, text
    return text


class Webhook:
    def __init__(self, env, policy="Ignore", *args):
        self.env = env
        self.port = free_port()
        # the controller's own namespace is left out by its kubernetes.io/metadata.name
        # label (set by namespace.yaml; v1.20 does not set it by itself)
        env.api.kubectl("label", "namespace", "seal-system",
                        "kubernetes.io/metadata.name=seal-system", "--overwrite")
        env.api.kubectl("apply", "-f", "-", input=webhook_config(self.port, policy))
        self.ctl = env.controller("--admission-listen", f"127.0.0.1:{self.port}", *args)
        wait_for(self.bundle, timeout=30, what="the controller's CA in the caBundle")

    def bundle(self):
        vwc = self.env.api.ok("GET", "/apis/admissionregistration.k8s.io/v1/"
                              "validatingwebhookconfigurations/unseal-controller")
        return all(w.get("clientConfig", {}).get("caBundle") for w in vwc["webhooks"])

    def close(self):
        self.env.api.kubectl("delete", "validatingwebhookconfiguration", "unseal-controller",
                             "--ignore-not-found")


@pytest.fixture
def hook(env):
    h = Webhook(env)
    try:
        yield h
    finally:
        h.close()


def foreign_cert(tmp):
    cert = os.path.join(tmp, "foreign.pem")
    p = subprocess.run([SEAL, "keys", "generate", "--private-key", os.path.join(tmp, "foreign.key"),
                        "--cert", cert, "--force"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return cert


def apply(env, obj, *args):
    return env.api.kubectl("apply", *args, "-f", "-", input=json.dumps(obj), check=False)


def metrics(ctl):
    return ctl.http("GET", "/metrics", metrics=True)[2].decode()


def refused_until_webhook_serves(env, obj):
    """The API server reads webhook configurations from an informer: the first apply after
    the configuration was made may not be asked yet. A server-side dry run until refused."""
    return wait_for(lambda: (lambda p: p if p.returncode != 0 else None)(
        apply(env, obj, "--dry-run=server")), timeout=30, what="the webhook refusing")


def test_apply_of_a_sealedsecret_that_would_not_unseal_fails_with_the_reason(env, hook):
    other = env.seal(secret("foreign", data={"PASSWORD": "x"}), cert=foreign_cert(env.tmp))
    p = refused_until_webhook_serves(env, other)
    assert "denied the request" in p.stderr, p.stderr
    assert re.search(r'sealedsecret app/foreign will not unseal: data key "PASSWORD": NoKey: '
                     r"no key for this value: sealed for key ids [0-9a-f]{16}", p.stderr), p.stderr
    # a real apply is refused the same way, and nothing is stored
    p = apply(env, other)
    assert p.returncode != 0 and "NoKey" in p.stderr, p.stderr
    assert env.api.get("sealedsecret", "foreign") is None

    # a value moved to another namespace
    moved = env.seal(secret("moved", ns="app", data={"PASSWORD": "y"}))
    moved["metadata"]["namespace"] = "other"
    for args in (("--dry-run=server",), ()):
        p = apply(env, moved, *args)
        assert p.returncode != 0, p.stdout
        assert re.search(r'sealedsecret other/moved will not unseal: data key "PASSWORD": '
                         r'WrongScope: the value does not open under label "strict/other/moved/PASSWORD"',
                         p.stderr), p.stderr
    assert env.api.get("sealedsecret", "moved", "other") is None

    # a valid one is admitted and unsealed
    good = env.seal(secret("good", data={"PASSWORD": "right"}))
    p = apply(env, good)
    assert p.returncode == 0, p.stderr
    wait_for(lambda: decoded(env.api.get("secret", "good") or {}) == {"PASSWORD": "right"},
             what="Secret app/good")

    # an update that would break it is refused; the working Secret stays as it was
    broken = env.seal(secret("good", data={"PASSWORD": "new"}), cert=foreign_cert(env.tmp))
    p = apply(env, broken)
    assert p.returncode != 0 and "NoKey" in p.stderr, p.stderr
    ss = env.api.get("sealedsecret", "good")
    assert ss["spec"]["encryptedData"] == good["spec"]["encryptedData"]
    assert decoded(env.api.get("secret", "good")) == {"PASSWORD": "right"}
    assert condition(ss, "Synced")["status"] == "True"

    # an update that leaves the sealed values alone (a label Argo CD adds) is allowed
    p = env.api.kubectl("label", "sealedsecret", "good", "-n", "app", "team=payments",
                        check=False)
    assert p.returncode == 0, p.stderr

    body = metrics(hook.ctl)
    assert re.search(r'^seal_admission_reviews_total\{outcome="refused",reason="NoKey"\} [3-9]',
                     body, re.M), body
    assert re.search(r'^seal_admission_reviews_total\{outcome="refused",reason="WrongScope"\} 2$',
                     body, re.M), body
    assert re.search(r'^seal_admission_reviews_total\{outcome="allowed",reason=""\} [1-9]',
                     body, re.M), body
    assert re.search(r'^seal_admission_reviews_total\{outcome="unchanged",reason=""\} 1$',
                     body, re.M), body
    # no plaintext in the controller's log
    assert "right" not in hook.ctl.logs()


def test_with_the_controller_stopped_and_ignore_applies_still_succeed(env, hook):
    other = env.seal(secret("foreign", data={"PASSWORD": "x"}), cert=foreign_cert(env.tmp))
    refused_until_webhook_serves(env, other)
    rc, _ = hook.ctl.stop()
    assert rc == 0
    p = apply(env, other)
    assert p.returncode == 0, p.stderr
    assert env.api.get("sealedsecret", "foreign") is not None


def test_the_controllers_own_namespace_is_never_asked(env, hook):
    other = env.seal(secret("foreign", ns="seal-system", data={"PASSWORD": "x"}),
                     cert=foreign_cert(env.tmp))
    refused_until_webhook_serves(env, env.seal(secret("probe", data={"P": "x"}),
                                               cert=foreign_cert(env.tmp)))
    p = apply(env, other)
    assert p.returncode == 0, p.stderr


def test_ca_bundle_keeps_other_replicas_cas(env, hook):
    second = env.controller("--admission-listen", f"127.0.0.1:{free_port()}", name="second")
    vwc_path = ("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/"
                "unseal-controller")

    def cas():
        vwc = env.api.ok("GET", vwc_path)
        pem = base64.b64decode(vwc["webhooks"][0]["clientConfig"]["caBundle"]).decode()
        return pem.count("-----BEGIN CERTIFICATE-----")
    wait_for(lambda: cas() == 2, what="both replicas' CAs in the caBundle")
    assert second.proc.poll() is None
