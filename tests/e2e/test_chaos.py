"""Chaos: random 500s and 429s everywhere, cut watches and compaction during changes, an API
server restart, a controller SIGKILLed mid cold start, two leader-electing controllers racing.
After each, every SealedSecret converges to its Secret with the right data, nothing is lost,
nothing is written with wrong data and nothing is written needlessly."""

import signal
import time

import pytest

from conftest import MODE, secret, wait_for
from hardening_util import SecretWatch, converged, objects, restart_api, wrong_data
from test_leader import FAST, is_leader


def make_secrets(prefix, n):
    """n Secrets: most one key, every 5th several keys, every 7th templated. name -> (Secret,
    expected data of the produced Secret, template data)."""
    out = {}
    for i in range(n):
        name = f"{prefix}{i}"
        data = {"VALUE": f"value of {name}"}
        if i % 5 == 0:
            data.update({"USER": f"user-{i}", "TOKEN": f"token {name} \u00e9"})
        tmpl = None
        expect = dict(data)
        if i % 7 == 0:
            tmpl = {"URL": "db://{{ .VALUE }}@h/" + name, "PLAIN": "as is"}
            expect.update({"URL": f"db://value of {name}@h/{name}", "PLAIN": "as is"})
        out[name] = (secret(name, data=data), expect, tmpl)
    return out


def seal_all(env, made):
    sealed = env.seal_many([s for s, _, _ in made.values()])
    for obj in sealed:
        tmpl = made[obj["metadata"]["name"]][2]
        if tmpl:
            obj["spec"]["template"]["data"] = tmpl
    return sealed


def expected(made):
    return {n: e for n, (_, e, _) in made.items()}


def cold_setup(env, made):
    """A controller made the key; it stops; the SealedSecrets are stored while none runs."""
    ctl = env.controller(name="keymaker")
    sealed = seal_all(env, made)
    rc, _ = ctl.stop()
    assert rc == 0
    for i in range(0, len(sealed), 250):
        env.apply_all(sealed[i:i + 250])
    return sealed


@pytest.mark.standin
def test_random_500s_and_429s_on_every_path_converge_without_extra_writes(env):
    made = make_secrets("f", 200)
    cold_setup(env, made)
    watch = SecretWatch(env.api)
    before = env.api.stats()
    # ~30% of every request fails for 5 s: 500s, and 429s with Retry-After
    env.api.fault(method="*", path=".", status=500, probability=0.18, duration=5)
    env.api.fault(method="*", path=".", status=429, retry_after=1, probability=0.15, duration=5)
    t0 = time.monotonic()
    ctl = env.controller("--max-retries", "1000", name="chaos", ready=False)
    time.sleep(max(0.0, 5.5 - (time.monotonic() - t0)))
    wait_for(lambda: converged(env.api, expected(made)), timeout=60, interval=0.5,
             what="convergence after random 500s and 429s")
    assert wrong_data(env.api, expected(made)) == []
    assert ctl.proc.poll() is None
    time.sleep(1)
    w = env.api.writes(before)
    # each Secret created exactly once (no delete and recreate), never modified afterwards
    assert watch.error is None, watch.error
    added, modified, deleted = watch.count("ADDED"), watch.count("MODIFIED"), watch.count("DELETED")
    watch.close()
    assert sorted(added) == sorted(made) and set(added.values()) == {1}, added
    assert modified == {} and deleted == {}, (modified, deleted)
    # the counters include the faulted attempts: some creates were refused and retried (the
    # faults really hit), and at ~30% faults they stay well under 2x
    assert len(made) < w.get("create secrets", 0) <= 2 * len(made), w
    assert w.get("update secrets", 0) + w.get("patch secrets", 0) <= 10, w
    assert w.get("delete secrets", 0) == 0, w

    # steady state: nothing more is written
    before = env.api.stats()
    time.sleep(2)
    assert env.api.writes(before) == {}


@pytest.mark.standin
def test_cut_watches_and_compaction_during_changes(env):
    made = make_secrets("w", 60)
    env.controller()
    sealed = {o["metadata"]["name"]: o for o in seal_all(env, made)}
    names = list(made)
    env.apply_all([sealed[n] for n in names[:20]])
    exp = {n: made[n][1] for n in names[:20]}
    wait_for(lambda: converged(env.api, exp), timeout=30, what="first 20")
    gone = []
    for round_ in range(4):
        env.api.request("POST", "/_test/watches/cut")
        batch = names[20 + 10 * round_: 30 + 10 * round_]
        env.apply_all([sealed[n] for n in batch])
        exp.update({n: made[n][1] for n in batch})
        # a Secret deleted by someone comes back; a SealedSecret deleted takes its Secret along
        victim = names[round_]
        env.api.kubectl("delete", "secret", victim, "-n", "app", "--wait=false")
        dropped = names[10 + round_]
        env.api.kubectl("delete", "sealedsecret", dropped, "-n", "app", "--wait=false")
        exp.pop(dropped)
        gone.append(dropped)
        # a value changes (re-sealed, replaced unconditionally)
        changed = names[15 + round_]
        new = secret(changed, data={"VALUE": f"changed {round_}"})
        env.apply(env.seal(new), "replace")
        exp[changed] = {"VALUE": f"changed {round_}"}
        env.api.request("POST", "/_test/compact")
        time.sleep(0.3)
    env.api.request("POST", "/_test/watches/cut")
    env.api.request("POST", "/_test/compact")
    wait_for(lambda: converged(env.api, exp), timeout=60, interval=0.5,
             what="convergence after cut watches and compaction")
    wait_for(lambda: not set(gone) & {o["metadata"]["name"] for o in objects(env.api, "secrets", None, "app")},
             what="Secrets of deleted SealedSecrets collected")
    assert "reason=expired" in env.controllers[0].logs()
    before = env.api.stats()
    time.sleep(2)
    assert env.api.writes(before) == {}


def test_api_server_restart_while_the_controller_runs(env):
    made = make_secrets("r", 40)
    ctl = env.controller()
    sealed = {o["metadata"]["name"]: o for o in seal_all(env, made)}
    names = list(made)
    env.apply_all([sealed[n] for n in names[:30]])
    exp = {n: made[n][1] for n in names[:30]}
    wait_for(lambda: converged(env.api, exp), timeout=30, what="before the restart")
    for _ in range(2):
        restart_api(env)
        assert ctl.proc.poll() is None, ctl.logs()[-3000:]
    before = env.api.stats()
    # the restarted server still has everything; new objects and edits are handled
    env.apply_all([sealed[n] for n in names[30:]])
    exp.update({n: made[n][1] for n in names[30:]})
    env.api.kubectl("delete", "secret", names[0], "-n", "app", "--wait=false")
    wait_for(lambda: converged(env.api, exp), timeout=60, interval=0.5,
             what="convergence after API server restarts")
    time.sleep(1)
    w = env.api.writes(before)
    # only the 10 new Secrets and the deleted one were created; nothing else rewritten
    assert w.get("create secrets", 0) == 11, w
    assert w.get("update secrets", 0) == 0, w
    assert ctl.healthy()


def test_sigkill_mid_cold_start_then_restart_loses_nothing(env):
    made = make_secrets("k", 1000)
    cold_setup(env, made)
    exp = expected(made)
    watch = SecretWatch(env.api)
    first = env.controller("--qps", "300", "--burst", "50", name="killed", ready=False)
    wait_for(lambda: len(objects(env.api, "secrets", None, "app")) >= 150, timeout=60,
             interval=0.1, what="the cold start under way")
    first.stop(signal.SIGKILL)
    done = len(objects(env.api, "secrets", None, "app"))
    assert done < len(made), "the cold start finished before the kill: nothing tested"
    assert wrong_data(env.api, exp) == []
    before = env.api.stats()
    env.controller(name="again", ready=False)
    wait_for(lambda: converged(env.api, exp), timeout=90, interval=1,
             what="convergence of 1000 SealedSecrets after SIGKILL")
    assert wrong_data(env.api, exp) == []
    w = env.api.writes(before)
    # the second one creates only what the first did not, and rewrites nothing
    assert w.get("create secrets", 0) <= len(made) - done + 64, (w, done)
    assert w.get("update secrets", 0) <= 64, w
    # across both runs: each Secret created once and never rewritten or deleted
    time.sleep(0.5)
    assert watch.error is None, watch.error
    added, modified, deleted = watch.count("ADDED"), watch.count("MODIFIED"), watch.count("DELETED")
    watch.close()
    assert sorted(added) == sorted(made) and set(added.values()) == {1}
    assert modified == {} and deleted == {}, (modified, deleted)


IN_FLIGHT = 16


def test_two_leader_electing_controllers_race_from_a_cold_start(env):
    made = make_secrets("l", 200)
    cold_setup(env, made)
    exp = expected(made)
    watch = SecretWatch(env.api)
    before = env.api.stats()
    # at most IN_FLIGHT creates can be cut short by the SIGKILL below
    a = env.controller(*FAST, "--qps", "200", "--burst", "50", "--max-in-flight", str(IN_FLIGHT),
                       name="a", ready=False)
    b = env.controller(*FAST, "--qps", "200", "--burst", "50", "--max-in-flight", str(IN_FLIGHT),
                       name="b", ready=False)
    a.wait_ready(30)
    b.wait_ready(30)
    wait_for(lambda: is_leader(a) != is_leader(b), what="exactly one leader")
    leader, follower = (a, b) if is_leader(a) else (b, a)
    wait_for(lambda: len(objects(env.api, "secrets", None, "app")) >= 40, timeout=30,
             what="the leader under way")
    leader.stop(signal.SIGKILL)
    wait_for(lambda: is_leader(follower), timeout=15, what="the other one taking over")
    wait_for(lambda: converged(env.api, exp), timeout=60, interval=0.5,
             what="convergence under the new leader")
    assert wrong_data(env.api, exp) == []
    time.sleep(1)
    assert watch.error is None, watch.error
    added, modified = watch.count("ADDED"), watch.count("MODIFIED")
    watch.close()
    assert sorted(added) == sorted(made) and set(added.values()) == {1}, added
    assert modified == {}, modified
    w = env.api.writes(before)
    # one writer at a time: one create per Secret (no 409 storm of two writers).
    # kube-apiserver's request metric does not count with a 2xx code a create
    # whose client was SIGKILLed mid-request, although etcd kept the object
    # (seen: 199 and, on a loaded machine, 184 counted for 200 Secrets, each
    # ADDED once on the watch above): at most the leader's requests in flight.
    creates = w.get("create secrets", 0)
    if MODE["apiserver"] == "real":
        assert len(made) - IN_FLIGHT <= creates <= len(made), w
    else:
        assert creates == len(made), w
    assert w.get("update secrets", 0) == 0, w
