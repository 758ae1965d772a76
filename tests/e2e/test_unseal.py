"""SealedSecrets become Secrets, shown with kubectl against the test API server."""

import copy

from conftest import condition, decoded, events_for, secret, wait_for


def synced(env, name, ns="app", status="True"):
    def check():
        ss = env.api.get("sealedsecret", name, ns)
        c = condition(ss, "Synced")
        gen = (ss or {}).get("metadata", {}).get("generation")
        ok = c and c["status"] == status and ss["status"].get("observedGeneration") == gen
        return ss if ok else None
    return wait_for(check, what=f"SealedSecret {ns}/{name} Synced={status}")


def test_sealed_secret_becomes_secret_and_follows_edits(env):
    env.controller()
    s = secret("db", data={"PASSWORD": "hunter2", "USER": "admin"}, type_="kubernetes.io/basic-auth",
               labels={"team": "payments"}, annotations={"note": "kept"})
    s["stringData"] = {"username": "admin", "password": "hunter2"}
    ss = env.seal(s)
    ss["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})[
        "argocd.argoproj.io/tracking-id"] = "app:v1/Secret:app/db"
    env.apply(ss)

    live = wait_for(lambda: env.api.get("secret", "db"), what="Secret app/db")
    assert decoded(live) == {"username": "admin", "password": "hunter2"}
    assert live["type"] == "kubernetes.io/basic-auth"
    assert live["metadata"]["labels"]["team"] == "payments"
    assert live["metadata"]["labels"]["seal.dev/unsealed"] == "true"
    assert live["metadata"]["annotations"]["note"] == "kept"
    assert "argocd.argoproj.io/tracking-id" not in live["metadata"].get("annotations", {})
    sealed = synced(env, "db")
    owners = live["metadata"]["ownerReferences"]
    assert owners == [{"apiVersion": "seal.dev/v1", "kind": "SealedSecret", "name": "db",
                       "uid": sealed["metadata"]["uid"], "controller": True}] or (
        len(owners) == 1 and owners[0]["uid"] == sealed["metadata"]["uid"]
        and owners[0]["controller"] is True and owners[0]["kind"] == "SealedSecret")
    assert sealed["status"]["keyIds"] and condition(sealed, "KeyCurrent")["status"] == "True"
    assert any(e["reason"] == "Unsealed" and e["type"] == "Normal" for e in events_for(env.api, "db"))

    # editing the SealedSecret updates the Secret
    s2 = copy.deepcopy(s)
    s2["stringData"]["password"] = "new password"
    ss2 = env.seal(s2)
    ss2["metadata"]["resourceVersion"] = sealed["metadata"]["resourceVersion"]
    env.apply(ss2, "replace")
    wait_for(lambda: decoded(env.api.get("secret", "db")).get("password") == "new password",
             what="the edited value in Secret app/db")
    synced(env, "db")


def test_delete_and_edit_of_secret_are_put_back_and_gc(env):
    env.controller()
    env.apply(env.seal(secret("api", data={"TOKEN": "t0ken"})))
    first = wait_for(lambda: env.api.get("secret", "api"), what="Secret app/api")

    env.api.kubectl("delete", "secret", "api", "-n", "app", "--wait=false")
    back = wait_for(lambda: (lambda s: s if s and s["metadata"]["uid"] != first["metadata"]["uid"] else None)(
        env.api.get("secret", "api")), what="Secret app/api put back")
    assert decoded(back) == {"TOKEN": "t0ken"}

    env.api.kubectl("patch", "secret", "api", "-n", "app", "--type", "merge", "-p",
                    '{"data": {"TOKEN": "ZXZpbA=="}}')
    wait_for(lambda: decoded(env.api.get("secret", "api")) == {"TOKEN": "t0ken"},
             what="edited Secret app/api put back")

    # deleting the SealedSecret removes the Secret (ownerReference garbage collection)
    env.api.kubectl("delete", "sealedsecret", "api", "-n", "app", "--wait=false")
    wait_for(lambda: env.api.get("secret", "api") is None, what="Secret app/api collected")


def test_template_data_is_rendered(env):
    env.controller()
    ss = env.seal(secret("conn", data={"DB_PASSWORD": "s3cret"}))
    ss["spec"]["template"]["data"] = {"DATABASE_URL": "postgres://kb:{{ .DB_PASSWORD }}@db:5432/kb",
                                      "PLAIN": "as is"}
    env.apply(ss)
    live = wait_for(lambda: env.api.get("secret", "conn"), what="Secret app/conn")
    assert decoded(live) == {"DB_PASSWORD": "s3cret", "PLAIN": "as is",
                             "DATABASE_URL": "postgres://kb:s3cret@db:5432/kb"}


def test_tampered_value_fails_alone_with_event(env):
    env.controller()
    good = env.seal(secret("good"))
    bad = env.seal(secret("bad"))
    v = bad["spec"]["encryptedData"]["PASSWORD"]
    # flip one character inside this cluster's stanza (keep it valid base64)
    i = 40
    bad["spec"]["encryptedData"]["PASSWORD"] = v[:i] + ("A" if v[i] != "A" else "B") + v[i + 1:]
    env.apply(bad)
    env.apply(good)

    ss = synced(env, "bad", status="False")
    c = condition(ss, "Synced")
    assert c["reason"] == "Altered", c
    assert "PASSWORD" in c["message"] and "seal it again" in c["message"], c
    assert "correct horse" not in c["message"]
    assert env.api.get("secret", "bad") is None
    wait_for(lambda: any(e["reason"] == "UnsealFailed" and e["type"] == "Warning"
                         for e in events_for(env.api, "bad")), what="UnsealFailed event")
    # the other SealedSecret is unaffected
    synced(env, "good")
    assert decoded(env.api.get("secret", "good")) == {"PASSWORD": "correct horse battery staple"}


def test_value_moved_to_another_namespace_does_not_unseal(env):
    env.controller()
    ss = env.seal(secret("moved", ns="app"))
    ss["metadata"]["namespace"] = "other"
    env.apply(ss)
    got = synced(env, "moved", ns="other", status="False")
    c = condition(got, "Synced")
    assert c["reason"] == "WrongScope", c
    assert env.api.get("secret", "moved", "other") is None


def test_foreign_secret_left_alone_managed_one_taken_over(env):
    env.controller()
    env.apply(secret("foreign", data={"K": "theirs"}))
    env.apply(secret("adopt", data={"K": "old"}, annotations={"seal.dev/managed": "true"}))
    env.apply(env.seal(secret("foreign", data={"K": "ours"})))
    env.apply(env.seal(secret("adopt", data={"K": "ours"})))

    ss = synced(env, "foreign", status="False")
    assert condition(ss, "Synced")["reason"] == "SecretNotManaged"
    assert decoded(env.api.get("secret", "foreign")) == {"K": "theirs"}
    wait_for(lambda: any(e["reason"] == "SecretNotManaged" for e in events_for(env.api, "foreign")),
             what="SecretNotManaged event")

    adopted = synced(env, "adopt")
    live = env.api.get("secret", "adopt")
    assert decoded(live) == {"K": "ours"}
    assert live["metadata"]["ownerReferences"][0]["uid"] == adopted["metadata"]["uid"]


def test_immutable_secret_that_must_change_is_reported(env):
    env.controller()
    s = secret("frozen", data={"K": "v1"}, immutable=True)
    ss = env.seal(s)
    env.apply(ss)
    sealed = synced(env, "frozen")
    assert env.api.get("secret", "frozen")["immutable"] is True

    s["stringData"]["K"] = "v2"
    ss2 = env.seal(s)
    ss2["metadata"]["resourceVersion"] = sealed["metadata"]["resourceVersion"]
    env.apply(ss2, "replace")
    got = synced(env, "frozen", status="False")
    c = condition(got, "Synced")
    assert c["reason"] == "ImmutableSecret" and "delete the Secret" in c["message"], c
    assert decoded(env.api.get("secret", "frozen")) == {"K": "v1"}
    # not retried forever: the status stays put and no more updates are attempted
    before = env.api.stats()
    import time
    time.sleep(2)
    assert env.api.writes(before) == {}


def test_namespace_option_limits_what_is_watched(env):
    env.controller("--namespace", "other")
    env.apply(env.seal(secret("here", ns="other")))
    env.apply(env.seal(secret("there", ns="app")))
    synced(env, "here", ns="other")
    import time
    time.sleep(1.5)
    assert env.api.get("secret", "there", "app") is None
    assert env.api.get("sealedsecret", "there", "app").get("status") is None


def test_service_account_token_template_is_refused(env):
    env.controller()
    ss = env.seal(secret("sat"))
    ss["spec"]["template"]["type"] = "kubernetes.io/service-account-token"
    env.apply(ss)
    got = synced(env, "sat", status="False")
    c = condition(got, "Synced")
    assert c["reason"] == "InvalidTemplate" and "spec.template" in c["message"], c
    assert "service-account-token" in c["message"], c
    assert env.api.get("secret", "sat") is None


def test_template_that_is_not_a_plain_key_is_refused(env):
    """A Go template function is not copied into the Secret while the status says Unsealed."""
    env.controller()
    ss = env.seal(secret("gotpl", data={"DB_PASSWORD": "s3cret"}))
    ss["spec"]["template"]["data"] = {"DATABASE_URL": "postgres://kb:{{ .DB_PASSWORD | b64enc }}@db"}
    env.apply(ss)
    got = synced(env, "gotpl", status="False")
    c = condition(got, "Synced")
    assert c["reason"] == "InvalidTemplate" and "DATABASE_URL" in c["message"], c
    assert "plain {{ .KEY }}" in c["message"], c
    assert env.api.get("secret", "gotpl") is None
