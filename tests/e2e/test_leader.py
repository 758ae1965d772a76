"""Leader election between two replicas, and a clean stop on SIGTERM."""

import re
import signal
import time

import pytest

from conftest import condition, decoded, secret, wait_for

FAST = ("--leader-elect", "--lease-duration", "3s", "--renew-deadline", "2s",
        "--retry-period", "500ms")


def is_leader(ctl):
    status, _, body = ctl.http("GET", "/metrics", metrics=True)
    return status == 200 and re.search(r"^seal_leader 1$", body.decode(), re.M) is not None


def writes_of(ctl):
    """Successful writes this replica made, from its own metrics."""
    body = ctl.http("GET", "/metrics", metrics=True)[2].decode()
    return sum(float(m.group(2)) for m in re.finditer(
        r'^seal_api_requests_total\{verb="(create|update|patch|delete)",code="2\d\d"\} (\S+)$',
        body, re.M))


def lease(env):
    return env.api.get("lease", "unseal-controller", "seal-system")


def converged(env, name, value):
    s = env.api.get("secret", name)
    ss = env.api.get("sealedsecret", name)
    c = condition(ss, "Synced")
    return s is not None and decoded(s) == {"VALUE": value} and c and c["status"] == "True"


def test_one_leader_acts_and_the_other_takes_over(env):
    a = env.controller(*FAST, name="a", ready=False)
    b = env.controller(*FAST, name="b", ready=False)
    a.wait_ready(30)
    b.wait_ready(30)
    with open(env.cert_path, "w") as f:
        f.write(a.cert())
    assert a.cert() == b.cert()  # both serve HTTP, one key
    wait_for(lambda: is_leader(a) != is_leader(b), what="exactly one leader")
    leader, follower = (a, b) if is_leader(a) else (b, a)
    holder = lease(env)["spec"]["holderIdentity"]
    assert holder and str(leader.proc.pid) in holder

    env.apply(env.seal(secret("one", data={"VALUE": "1"})))
    wait_for(lambda: converged(env, "one", "1"), what="the leader unsealing")
    time.sleep(1)
    # only the leader writes: the follower made lease reads and nothing else
    assert writes_of(follower) == 0, follower.logs()[-2000:]
    assert writes_of(leader) > 0

    # the leader dies without releasing: the follower takes over within one lease
    leader.stop(signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: is_leader(follower), timeout=10, interval=0.1, what="handover")
    took = time.monotonic() - t0
    assert took < 3 + 0.5 + 1.5, f"handover took {took:.1f}s, the lease is 3s"
    assert str(follower.proc.pid) in lease(env)["spec"]["holderIdentity"]
    env.apply(env.seal(secret("two", data={"VALUE": "2"})))
    wait_for(lambda: converged(env, "two", "2"), what="the new leader unsealing")


@pytest.mark.standin
def test_sigterm_releases_the_lease_and_exits_zero_within_10s(env):
    a = env.controller(*FAST, name="a")
    wait_for(lambda: is_leader(a), what="a leading")
    b = env.controller(*FAST, name="b")
    # work in flight while stopping: status writes are slow
    env.api.fault(method="PUT", path=r"/status$", status=0, delay=2, count=3)
    env.apply(env.seal(secret("slow", data={"VALUE": "s"})))
    wait_for(lambda: env.api.get("secret", "slow"), what="Secret app/slow")
    rc, took = a.stop(signal.SIGTERM)
    assert rc == 0, a.logs()[-2000:]
    assert took < 10, took
    assert "lease released" in a.logs()
    # released, not expired: b takes over at its next try
    t0 = time.monotonic()
    wait_for(lambda: is_leader(b), timeout=10, interval=0.1, what="b leading")
    assert time.monotonic() - t0 < 2.5
    wait_for(lambda: converged(env, "slow", "s"), what="convergence under the new leader")


def test_sigterm_and_sigint_without_leader_election(env):
    a = env.controller(name="plain")
    rc, took = a.stop(signal.SIGINT)
    assert rc == 0 and took < 10, (rc, took)
    b = env.controller(name="plain2")
    rc, took = b.stop(signal.SIGTERM)
    assert rc == 0 and took < 10, (rc, took)
    assert "stopped" in b.logs()
