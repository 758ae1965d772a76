"""How often the controller writes when writes fail or are undone (issue 14):
one layer owns the retries of a write, and a fight with another writer backs
off and is named (condition reason, Event, metric)."""

import base64
import math
import time

import pytest

from conftest import condition, decoded, events_for, secret, wait_for

# unseal-controller/ctl.h: a fight from the third repair in a row, then 1 s, 2 s, 4 s ...
FIGHT_REPAIRS = 3


def metric(ctl, name):
    for line in ctl.http("GET", "/metrics", metrics=True)[2].decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ")[1])
    return None


@pytest.mark.standin  # fault injection
def test_a_failing_status_write_is_retried_by_the_work_queue_alone(env):
    ctl = env.controller("--max-retries", "3")
    env.api.fault(method="PUT", path=r"/sealedsecrets/[^/]+/status$", status=500, count=1000)
    before = env.api.stats()
    env.apply(env.seal(secret("failing")))
    wait_for(lambda: "giving up until the sealedsecret changes" in ctl.logs(), timeout=60,
             what="the work queue giving up")
    time.sleep(1)  # nothing more may come
    writes = env.api.writes(before)
    print(f"writes with failing status writes: {writes}")
    # the first attempt and 3 retries of the work queue, none of the client's own
    assert writes.get("update sealedsecrets/status") == 1 + 3, writes
    assert writes.get("create secrets") == 1, writes
    env.api.clear_faults()


def test_a_fight_with_another_writer_backs_off_and_is_named(env):
    ctl = env.controller()
    env.apply(env.seal(secret("fought", data={"K": "ours"})))
    wait_for(lambda: decoded(env.api.get("secret", "fought") or {}) == {"K": "ours"},
             what="the Secret")
    wait_for(lambda: (condition(env.api.get("sealedsecret", "fought"), "Synced") or {}).get("status") == "True",
             what="Synced=True")
    path = "/api/v1/namespaces/app/secrets/fought"
    theirs = base64.b64encode(b"theirs").decode()
    before = env.api.stats()
    own_writes = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 12:  # another writer undoes the controller's every write
        status, live = env.api.request("GET", path)
        if status == 200 and live["data"].get("K") != theirs:
            live["data"]["K"] = theirs
            own_writes += 1
            env.api.request("PUT", path, live)
        else:
            time.sleep(0.02)
    elapsed = time.monotonic() - t0
    repairs = env.api.writes(before).get("update secrets", 0) - own_writes
    # the backoff documented in unseal-controller(8): FIGHT_REPAIRS at once, then one
    # after 1 s, 2 s, 4 s ... (one more for the repair in flight when the loop ends)
    bound = FIGHT_REPAIRS + math.floor(math.log2(elapsed)) + 2
    print(f"fight: {repairs} repairs by the controller, {own_writes} by the other writer, "
          f"in {elapsed:.1f} s (bound {bound})")
    assert FIGHT_REPAIRS <= repairs <= bound, (repairs, bound, own_writes)
    c = condition(env.api.get("sealedsecret", "fought"), "Synced")
    assert c["status"] == "False" and c["reason"] == "ConflictingWriter", c
    assert "another writer" in c["message"]
    assert [e for e in events_for(env.api, "fought") if e["reason"] == "ConflictingWriter"]
    assert metric(ctl, "seal_secret_repairs_total") == repairs
    # the other writer stops: the Secret is put back and, once quiet, Synced again
    wait_for(lambda: decoded(env.api.get("secret", "fought")) == {"K": "ours"}, timeout=60,
             what="the Secret put back")
    wait_for(lambda: (condition(env.api.get("sealedsecret", "fought"), "Synced") or {}).get("status") == "True",
             timeout=60, what="Synced=True after the fight")
