"""seal keys list|rotate|backup|restore|compromise: argument errors that
need no cluster, and which key Secrets count, against the test API server
(the lifecycle with the controller is in tests/e2e/test_keys.py)."""

import base64

from conftest import apiserver, fails, keys, ok, run  # noqa: F401


def test_help_of_each_command():
    for cmd in ["list", "rotate", "backup", "restore", "compromise"]:
        r = ok("keys", cmd, "--help")
        assert r.out.startswith(b"usage: seal keys " + cmd.encode()), r
        assert b"--key-namespace" in r.out
    r = ok("keys", "--help")
    for cmd in [b"list", b"rotate", b"backup", b"restore", b"compromise"]:
        assert cmd in r.out


def test_usage_errors(tmp_path):
    cases = [
        (["list", "-o", "yaml"], "text or json"),
        (["list", "extra"], "extra"),
        (["rotate", "now"], "now"),
        (["rotate", "--timeout", "1m"], "--timeout is for --wait"),
        (["rotate", "--wait", "--timeout", "soon"], "'soon': not a duration"),
        (["rotate", "--wait", "--timeout", "0"], "'0': not a duration"),
        (["rotate", "--wait", "--timeout", "25h"], "'25h': not a duration"),
        (["backup"], "-w FILE is required"),
        (["backup", "-w", "-"], "-w FILE is required"),
        (["restore"], "-f FILE is required"),
        (["restore", "-f", str(tmp_path / "x"), "--key-namespace", "Not_A_Namespace"],
         "not a valid namespace"),
        (["compromise"], "exactly one key id"),
        (["compromise", "0123456789abcdef", "fedcba9876543210"], "exactly one key id"),
        (["compromise", "0123"], "not a key id"),
        (["compromise", "0123456789abcdeg"], "not a key id"),
        (["list", "--bogus"], "bogus"),
        (["nope"], "unknown command"),
    ]
    for args, needle in cases:
        r = fails(2, "keys", *args)
        assert needle in r.err, (args, r)


def test_no_cluster_is_a_clear_error(tmp_path):
    for args in (["list"], ["rotate"], ["backup", "-w", str(tmp_path / "b.pem")],
                 ["compromise", "0123456789abcdef"]):
        r = fails(2, "keys", *args)
        assert "kubeconfig" in r.err, (args, r)
    assert not (tmp_path / "b.pem").exists()


def test_restore_checks_the_file_before_the_cluster(tmp_path):
    bad = tmp_path / "backup.pem"
    for text in ["", "not a key\n", "-----BEGIN SEAL PRIVATE KEY-----\nKey-Id: 00\n",
                 "-----BEGIN SEAL PUBLIC KEY-----\nAAAA\n-----END SEAL PUBLIC KEY-----\n"]:
        bad.write_text(text)
        r = run("keys", "restore", "-f", str(bad))
        assert r.rc == 1, (text, r)
        assert str(bad) in r.err and "kubeconfig" not in r.err, r
    r = fails(1, "keys", "restore", "-f", str(tmp_path / "missing.pem"))
    assert "missing.pem" in r.err


def test_man_page_documents_every_option():
    import os
    import re
    man_path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "docs", "seal.1")
    with open(man_path, encoding="utf-8") as f:
        man = f.read().replace("\\-", "-")
    for cmd in (["keys", "list"], ["keys", "rotate"], ["keys", "backup"], ["keys", "restore"],
                ["keys", "compromise"], ["reseal"]):
        helptext = ok(*cmd, "--help").text
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", helptext))
        assert options, helptext
        assert not sorted(o for o in options if o not in man), cmd
        assert "seal " + " ".join(cmd) in man


def key_secret(name, priv, pub, type_="seal.dev/key", labels=None, owners=None):
    meta = {"name": name, "namespace": "seal-system",
            "labels": {"seal.dev/key": "active", **(labels or {})}}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
            "data": {"private.key": base64.b64encode(open(priv, "rb").read()).decode(),
                     "public.key": base64.b64encode(open(pub, "rb").read()).decode()}}


def test_keys_count_only_key_secrets_the_controller_trusts(keys, apiserver, tmp_path):
    kc = ["--kubeconfig", apiserver.kubeconfig]
    backup0 = tmp_path / "key0.key"
    backup0.write_text(open(keys.priv[0]).read())
    ok("keys", "restore", "-f", str(backup0), *kc)
    owner = [{"apiVersion": "seal.dev/v1", "kind": "SealedSecret", "name": "x", "uid": "u1",
              "controller": True}]
    planted = {
        # what a SealedSecret's template or another tool could make
        "planted-opaque": (key_secret("planted-opaque", keys.priv[1], keys.pub[1],
                                      type_="Opaque"), "not of type seal.dev/key"),
        "planted-unsealed": (key_secret("planted-unsealed", keys.priv[1], keys.pub[1],
                                        labels={"seal.dev/unsealed": "true"}),
                             "labelled seal.dev/unsealed"),
        "planted-owned": (key_secret("planted-owned", keys.priv[2], keys.pub[2], owners=owner),
                          "owned by a SealedSecret"),
    }
    for obj, _ in planted.values():
        apiserver.send("POST", "/api/v1/namespaces/seal-system/secrets", obj)
    backup = tmp_path / "backup.pem"
    r = ok("keys", "backup", "-w", str(backup), *kc)
    for name, (_, why) in planted.items():
        assert f"key secret seal-system/{name} skipped: {why}" in r.err, r.err
    assert r.text.count("backed up key") == 1 and keys.ids[0] in r.text, r.text
    text = backup.read_text()
    assert text.count("BEGIN SEAL PRIVATE KEY") == 1 and f"Key-Id: {keys.ids[0]}" in text

    # a key Secret whose public.key names another key than its private.key
    # (the one the controller loads) is an error, not a key listed under the
    # wrong id
    apiserver.send("POST", "/api/v1/namespaces/seal-system/secrets",
                   key_secret("mismatch", keys.priv[2], keys.pub[1]))
    for cmd in (["backup", "-w", str(tmp_path / "again.pem")], ["rotate"]):
        r = fails(1, "keys", *cmd, *kc)
        assert ("key secret seal-system/mismatch: its public.key is not the public key of its "
                "private.key") in r.err, r.err
    assert not (tmp_path / "again.pem").exists()


def test_restored_keys_are_not_reported_as_never_backed_up(keys, apiserver, tmp_path):
    kc = ["--kubeconfig", apiserver.kubeconfig]
    backup = tmp_path / "key0.key"
    backup.write_text(open(keys.priv[0]).read())
    ok("keys", "restore", "-f", str(backup), *kc)
    secret = apiserver.send("GET", f"/api/v1/namespaces/seal-system/secrets/seal-key-{keys.ids[0]}")
    assert secret["metadata"]["annotations"]["seal.dev/backed-up-at"].endswith("Z"), secret
    # what seal keys list and the controller's backup gauge read
    assert secret["metadata"]["annotations"]["seal.dev/created-at"], secret


def test_rotate_wait_gives_up_when_no_controller_makes_the_key(keys, apiserver, tmp_path):
    import time
    kc = ["--kubeconfig", apiserver.kubeconfig]
    backup = tmp_path / "key0.key"
    backup.write_text(open(keys.priv[0]).read())
    ok("keys", "restore", "-f", str(backup), *kc)
    start = time.monotonic()
    r = run("keys", "rotate", "--wait", "--timeout", "1500ms", *kc)
    took = time.monotonic() - start
    # the request is made and said, then the wait ends with the reason
    assert r.rc == 2, r
    assert "renewal requested" in r.text and keys.ids[0] in r.text, r
    assert (f"keys rotate: no new key in namespace seal-system after --timeout 1.5s (newest is "
            f"still {keys.ids[0]})") in r.err, r.err
    assert 1.4 < took < 10, took
    secret = apiserver.send("GET", f"/api/v1/namespaces/seal-system/secrets/seal-key-{keys.ids[0]}")
    assert secret["metadata"]["annotations"]["seal.dev/renew-requested-at"].endswith("Z"), secret
