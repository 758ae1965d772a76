"""Faults injected by the test API server lose nothing; a restart writes nothing."""

import json
import time

import pytest

from conftest import condition, decoded, events_for, secret, wait_for

SEALED_LIST = r"^/apis/seal\.dev/v1/sealedsecrets$"
SECRET_LIST = r"^/api/v1/secrets$"


def all_converged(env, names, ns="app"):
    """Every name has its Secret with the right data and Synced=True."""
    p = env.api.kubectl("get", "sealedsecrets", "-n", ns, "-o", "json")
    sealed = {o["metadata"]["name"]: o for o in json.loads(p.stdout)["items"]}
    p = env.api.kubectl("get", "secrets", "-n", ns, "-o", "json")
    secrets = {o["metadata"]["name"]: o for o in json.loads(p.stdout)["items"]}
    for n in names:
        c = condition(sealed.get(n), "Synced")
        if not c or c["status"] != "True" or n not in secrets:
            return False
        if decoded(secrets[n]) != {"VALUE": f"value of {n}"}:
            return False
    return True


def make(env, names):
    return env.seal_many([secret(n, data={"VALUE": f"value of {n}"}) for n in names])


@pytest.mark.standin
def test_500s_429s_cut_watches_and_compaction_lose_nothing(env):
    env.controller("--max-retries", "30")
    first = [f"a{i}" for i in range(20)]
    sealed_first = make(env, first)
    # the first writes fail with 500, the status writes are throttled with 429
    env.api.fault(method="POST", path=r"^/api/v1/namespaces/app/secrets$", status=500, count=8)
    env.api.fault(method="PUT", path=r"/sealedsecrets/[^/]+/status$", status=429, retry_after=1,
                  count=6)
    env.apply_all(sealed_first)
    wait_for(lambda: all_converged(env, first), timeout=60, what="convergence through 500s and 429s")
    # every injected fault was served: the controller went through them
    assert env.api.request("GET", "/_test/faults")[1]["faults"] == []

    # a gap: the watches are cut and come back late, objects change meanwhile and the server
    # compacts its history: the resume gets 410 Gone and the controller lists again
    second = [f"b{i}" for i in range(10)]
    sealed_second = make(env, second)
    env.api.fault(method="GET", path=f"{SEALED_LIST}|{SECRET_LIST}", status=0, delay=2, count=2)
    env.api.request("POST", "/_test/watches/cut")
    time.sleep(0.3)
    env.apply_all(sealed_second)
    for n in first[:5]:
        env.api.kubectl("delete", "secret", n, "-n", "app", "--wait=false")
    env.api.request("POST", "/_test/compact")
    wait_for(lambda: all_converged(env, first + second), timeout=60,
             what="convergence after cut watches and compaction")

    # the list itself failing for a while: the controller keeps trying
    third = [f"c{i}" for i in range(5)]
    sealed_third = make(env, third)
    env.api.fault(method="GET", path=f"{SEALED_LIST}|{SECRET_LIST}", status=500, duration=3)
    env.api.request("POST", "/_test/watches/cut")
    env.apply_all(sealed_third)
    wait_for(lambda: all_converged(env, first + second + third), timeout=60,
             what="convergence after failing lists")
    env.api.clear_faults()
    logs = env.controllers[0].logs()
    assert "reason=expired" in logs, logs[-5000:]

    status, _, body = env.controllers[0].http("GET", "/metrics", metrics=True)
    assert status == 200
    text = body.decode()
    assert 'seal_watch_restarts_total{resource="sealedsecrets"}' in text
    assert 'seal_api_requests_total{verb="update",code="200"}' in text


def test_restart_over_up_to_date_objects_performs_no_writes(env):
    ctl = env.controller()
    names = [f"r{i}" for i in range(25)]
    objs = make(env, names)
    bad = env.seal(secret("broken"))
    v = bad["spec"]["encryptedData"]["PASSWORD"]
    bad["spec"]["encryptedData"]["PASSWORD"] = v[:40] + ("A" if v[40] != "A" else "B") + v[41:]
    env.apply_all(objs + [bad])
    wait_for(lambda: all_converged(env, names), timeout=60, what="first convergence")
    wait_for(lambda: (condition(env.api.get("sealedsecret", "broken"), "Synced") or {}).get("status") == "False",
             what="broken SealedSecret reported")
    events_before = len(events_for(env.api, "broken"))
    time.sleep(1)

    rc, took = ctl.stop()
    assert rc == 0 and took < 10, (rc, took)
    before = env.api.stats()
    ctl2 = env.controller(name="restarted")
    # let it list, watch and reconcile everything
    wait_for(lambda: "caches synced" in ctl2.logs(), what="the restarted controller syncing")
    time.sleep(3)
    assert env.api.writes(before) == {}, ctl2.logs()[-3000:]
    assert len(events_for(env.api, "broken")) == events_before
    assert all_converged(env, names)


@pytest.mark.standin
def test_gives_up_after_max_retries_and_says_so(env):
    env.controller("--max-retries", "2")
    env.apply(env.seal(secret("stuck", data={"VALUE": "value of stuck"})))
    wait_for(lambda: all_converged(env, ["stuck"]), what="stuck converged first")
    # someone edits the Secret; every attempt to put it back conflicts
    env.api.fault(method="PUT", path=r"^/api/v1/namespaces/app/secrets/stuck$", status=409,
                  count=1000)
    env.api.kubectl("patch", "secret", "stuck", "-n", "app", "--type", "merge", "-p",
                    '{"data": {"VALUE": "ZWRpdGVk"}}')
    got = wait_for(lambda: (lambda ss: ss if (condition(ss, "Synced") or {}).get("reason") == "RetriesExhausted" else None)(
        env.api.get("sealedsecret", "stuck")), what="RetriesExhausted")
    c = condition(got, "Synced")
    assert c["status"] == "False" and "gave up after 2 retries" in c["message"], c
    # it stopped trying: no more PUTs of the Secret
    before = env.api.stats()
    time.sleep(2)
    assert env.api.writes(before).get("update secrets", 0) == 0
    env.api.clear_faults()
    # a change of the SealedSecret tries again
    env.api.kubectl("annotate", "sealedsecret", "stuck", "-n", "app", "touched=yes")
    env.api.kubectl("patch", "sealedsecret", "stuck", "-n", "app", "--type", "merge", "-p",
                    '{"spec": {"template": {"metadata": {"labels": {"again": "yes"}}}}}')
    wait_for(lambda: all_converged(env, ["stuck"]), what="stuck converged again")
