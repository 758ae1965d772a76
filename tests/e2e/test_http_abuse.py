"""Hostile HTTP clients: oversized bodies, slow clients, many connections at once, malformed
requests, bodies held open, slowloris, one client flooding. Each gets a 4xx/503 or is dropped;
throughout, the controller keeps serving /health (on the metrics listener whatever happens to
the public one), keeps reconciling and stays under its memory ceiling.

Distinct clients are distinct loopback source addresses (127.0.0.2, 127.0.0.3, ...): the
controller tells clients apart by peer address."""

import collections
import http.client
import json
import os
import re
import socket
import threading
import time

import pytest

from conftest import TOKEN, condition, decoded, http_request, secret, wait_for

LIMIT = 4 * 1024 * 1024
MIB = 1024 * 1024


def connect(port, source="127.0.0.1", timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def post_from(port, source, path, body, headers=None, timeout=10):
    """(status, headers, body) of one request sent from a given loopback address."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        c.request("POST", path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def memory_mib(pid, field):
    """VmRSS (now) or VmHWM (peak) of a process, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1)) / 1024


def sanitized(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def status_of(sock):
    """The status of the answer read from sock, or None when the connection ends without one."""
    try:
        line = sock.makefile("rb").readline(256)
    except (ConnectionResetError, socket.timeout):
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", line)
    return int(m.group(1)) if m else None


def exchange(port, data, pieces=(), timeout=10, pause=0.0, source="127.0.0.1"):
    """Sends data (then pieces, pause seconds apart) on a raw connection from source; returns
    the HTTP status of the answer, or None when the server dropped the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as s:
        try:
            s.sendall(data)
            for p in pieces:
                if pause:
                    time.sleep(pause)
                s.sendall(p)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end
        return status_of(s)


def refused(status):
    """A 4xx (or 501/505 for what is not HTTP/1.x as the server speaks it), or dropped."""
    return status is None or 400 <= status < 500 or status in (501, 505)


def test_bodies_over_4_mib_are_refused_or_dropped(env):
    ctl = env.controller()
    big = LIMIT + 1
    for path in ("/v1/verify", "/v1/rotate"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        # announced, nothing sent
        assert exchange(ctl.port, f"{head}Content-Length: {big}\r\n\r\n".encode()) == 413
        # announced and sent
        assert exchange(ctl.port, f"{head}Content-Length: {big}\r\n\r\n".encode(),
                        [b"[" * 65536] * (big // 65536 + 1)) in (413, None)
        # chunked, no length: refused once the running total passes the limit
        chunk = b"c" * 65536
        parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (LIMIT // 65536 + 2) + [b"0\r\n\r\n"]
        assert exchange(ctl.port, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode(), parts) in (413, None)
        # a single chunk that claims more than the limit
        assert refused(exchange(ctl.port, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode(),
                                [b"%x\r\n" % (LIMIT * 2), b"d" * 65536]))
        # a Content-Length that does not fit any integer
        assert refused(exchange(ctl.port, f"{head}Content-Length: 99999999999999999999999\r\n\r\n".encode()))
    # exactly at the limit is still a request (an invalid one: 422, not 413)
    body = b" " * (LIMIT - 2) + b"{}"
    status = exchange(ctl.port, f"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
                      [body], timeout=30)
    assert status == 422, status
    assert ctl.http("GET", "/health")[0] == 200


def test_slow_clients_are_cut_off_after_the_timeout(env):
    ctl = env.controller("--http-timeout", "1s")
    request = b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
    with socket.create_connection(("127.0.0.1", ctl.port), timeout=15) as s:
        for i in range(len(request)):  # headers byte by byte, each well inside the timeout
            s.sendall(request[i:i + 1])
            time.sleep(0.02)
        t0 = time.monotonic()  # then it stalls
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
    assert not data.startswith(b"HTTP/1.1 2"), data
    assert took < 4, f"a stalled client was kept {took:.1f}s with a 1s timeout"
    # a stall in the middle of a body too
    with socket.create_connection(("127.0.0.1", ctl.port), timeout=15) as s:
        s.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
    assert not data.startswith(b"HTTP/1.1 2") and took < 4, (data, took)
    assert ctl.http("GET", "/health")[0] == 200


def test_two_hundred_connections_at_once(env):
    ctl = env.controller()
    n = 200
    # from 10 addresses: one address holds at most --http-max-connections-per-client (32)
    socks = [socket.create_connection(("127.0.0.1", ctl.port), timeout=20,
                                      source_address=(f"127.0.0.{2 + i % 10}", 0)) for i in range(n)]
    results = [None] * n
    go = threading.Barrier(n)

    def one(i):
        s = socks[i]
        try:
            go.wait()
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            results[i] = status_of(s)
        except OSError as e:
            results[i] = e
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    took = time.monotonic() - t0
    assert results == [200] * n, [r for r in results if r != 200][:5]
    assert took < 20, took
    assert ctl.http("GET", "/health")[0] == 200


MALFORMED = [
    b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n",                      # unknown method
    b"DELETE /v1/verify HTTP/1.1\r\nHost: x\r\n\r\n",                 # known method, wrong place
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,   # a TLS hello
    b"garbage garbage garbage\r\n\r\n",                                # no HTTP version
    b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",                       # unknown version
    b"GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",     # header without a colon
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",   # huge header
    b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(20000)) + b"\r\n",
    b"GET /" + b"p" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",     # huge request line
    b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n12345",
    b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    b"\r\n\r\n\r\n\r\n",
    b"\x00" * 1000,
]


def test_malformed_requests_get_4xx_or_are_dropped(env):
    ctl = env.controller("--http-timeout", "2s")
    for i, req in enumerate(MALFORMED):
        status = exchange(ctl.port, req, timeout=10)
        assert refused(status), (i, req[:60], status)
        assert ctl.http("GET", "/health")[0] == 200, (i, req[:60])


def test_health_and_reconciling_go_on_under_abuse(env):
    ctl = env.controller("--http-timeout", "2s", "--http-rate", "1000", "--http-burst", "1000")
    stop = threading.Event()
    errors = []

    def abuse(kind, source):
        while not stop.is_set():
            try:
                if kind == "big":
                    exchange(ctl.port, b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                             [b"10000\r\n" + b"x" * 65536 + b"\r\n"] * 80, source=source)
                elif kind == "slow":
                    exchange(ctl.port, b"POST /v1/rotate HTTP/1.1\r\nHost: x\r\n", timeout=6,
                             source=source)
                elif kind == "junk":
                    for req in MALFORMED:
                        exchange(ctl.port, req, timeout=5, source=source)
                else:
                    socks = [socket.create_connection(("127.0.0.1", ctl.port), timeout=5,
                                                      source_address=(source, 0)) for _ in range(20)]
                    time.sleep(0.5)
                    for s in socks:
                        s.close()
            except OSError as e:
                if not stop.is_set() and not isinstance(e, (ConnectionRefusedError, socket.timeout)):
                    errors.append(repr(e))

    kinds = ["big", "big", "slow", "slow", "slow", "junk", "junk", "flood", "flood"]
    # each abuser from an address of its own; the checks below come from 127.0.0.1
    threads = [threading.Thread(target=abuse, args=(k, f"127.0.0.{2 + i}"), daemon=True)
               for i, k in enumerate(kinds)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        env.apply(env.seal(secret("during", data={"VALUE": "made during the abuse"})))
        t0 = time.monotonic()
        health = []
        live = None
        while time.monotonic() - t0 < 20:
            try:
                health.append(ctl.http("GET", "/health")[0])
                health.append(ctl.http("GET", "/health", metrics=True)[0])
            except OSError as e:
                health.append(repr(e))
            live = env.api.get("secret", "during")
            if live and len(health) >= 10:
                break
            time.sleep(0.2)
        assert live is not None and decoded(live) == {"VALUE": "made during the abuse"}, health
        assert health and all(h == 200 for h in health), health
        ss = env.api.get("sealedsecret", "during")
        assert (condition(ss, "Synced") or {}).get("status") == "True" or wait_for(
            lambda: (condition(env.api.get("sealedsecret", "during"), "Synced") or {}).get("status") == "True",
            what="during Synced")
        status, _, body = ctl.http("POST", "/v1/verify", json.dumps(ss).encode())
        assert status == 200, body
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert ctl.proc.poll() is None, ctl.logs()[-3000:]
    assert errors == [] or all("Connection" in e or "Broken pipe" in e for e in errors), errors[:5]


# The memory ceiling docs/security.md states for the HTTP side with the default flags, above the
# idle controller: request bodies (--http-body-memory, 16 MiB) + request buffers of the open
# connections (64 KiB each) + the values of the two bodies being checked at a time.
HTTP_CEILING_MIB = 80


def test_bodies_held_open_stay_under_the_memory_ceiling(env):
    """80 connections each send about 4 MiB and stall (the review took the controller from 13
    to 332 MiB that way): the bodies held at once are bounded, the excess is refused with
    503/429 and Retry-After, /health answers, and the memory comes back when they leave."""
    asan = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"}
    ctl = env.controller(env=asan)
    pid = ctl.proc.pid
    base = memory_mib(pid, "VmRSS")
    size = LIMIT - 4096
    head = b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    statuses = [None] * 80
    retry_after = [None] * 80
    socks = [None] * 80
    sent_all = threading.Barrier(81)

    def one(i):
        try:
            s = connect(ctl.port, f"127.0.0.{2 + i % 40}", timeout=30)  # 40 clients, 2 each
            socks[i] = s
            s.sendall(head)
            s.settimeout(2)
            left = size - 1024  # all but the last KiB, then stall
            chunk = b" " * 65536
            while left > 0:
                try:
                    s.sendall(chunk[:left])
                except socket.timeout:
                    break  # not read any more: refused
                left -= min(left, len(chunk))
        except OSError:
            pass  # refused and closed while sending
        finally:
            sent_all.wait()
        try:
            s.settimeout(3)
            data = s.recv(4096)
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
            statuses[i] = int(m.group(1)) if m else "closed"
            m = re.search(rb"\r\nRetry-After: (\d+)\r\n", data, re.I)
            retry_after[i] = m and int(m.group(1))
        except socket.timeout:
            statuses[i] = "held"
        except OSError:
            statuses[i] = "closed"

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(80)]
    for t in threads:
        t.start()
    sent_all.wait()
    try:
        for t in threads:
            t.join(30)
        held = memory_mib(pid, "VmRSS")
        peak = memory_mib(pid, "VmHWM")
        counts = collections.Counter(statuses)
        print(f"80 x 4 MiB held open: RSS {base:.1f} -> {held:.1f} MiB, peak {peak:.1f} MiB; {dict(counts)}")
        allowance = 64 if sanitized(pid) else 0  # ASan: shadow memory and redzones
        assert peak - base <= HTTP_CEILING_MIB + allowance, (base, peak, counts)
        # 16 MiB hold four such bodies; the rest is refused before its body is read
        assert counts["held"] <= 4, counts
        refused = [i for i in range(80) if statuses[i] in (429, 503)]
        assert len(refused) >= 70, counts
        assert all(retry_after[i] for i in refused), retry_after
        # the probes, on both listeners, and another client's request
        assert ctl.http("GET", "/health", metrics=True)[0] == 200
        assert ctl.http("GET", "/ping", metrics=True)[0] == 200
        assert ctl.http("GET", "/health")[0] == 200
        assert post_from(ctl.port, "127.0.1.1", "/v1/verify", b"{}")[0] == 422
    finally:
        for s in socks:
            if s:
                s.close()
    # once they are gone their memory is free again: four bodies of 4 MiB from four clients
    def big_ok():
        return all(post_from(ctl.port, f"127.0.2.{i}", "/v1/verify", b" " * (LIMIT - 2) + b"{}",
                             timeout=30)[0] == 422 for i in range(1, 4))
    wait_for(big_ok, timeout=20, what="body memory given back")
    # and one client alone holds at most --http-client-body-memory (8 MiB: one body of 4 MiB
    # and a bit, plus a second)
    socks = []
    try:
        codes = []
        for i in range(4):
            s = connect(ctl.port, "127.0.3.1")
            socks.append(s)
            s.sendall(head)
            s.settimeout(0.5)
            try:
                codes.append(s.recv(64)[9:12])
            except socket.timeout:
                codes.append(b"held")
        assert codes[:2] == [b"held", b"held"] and codes[2:] == [b"429", b"429"], codes
    finally:
        for s in socks:
            s.close()


def test_slowloris_cannot_starve_the_probes(env):
    """300 connections trickle a header line every 2 s: they fill the public listener (no idle
    timeout ever fires), but the probes on the metrics listener answer within the kubelet's
    timeout, and each trickling connection is cut at the header deadline."""
    ctl = env.controller("--http-header-timeout", "4s")
    n = 300
    socks, opened, closed_after = [], [], [None] * n
    stop = threading.Event()
    for i in range(n):
        try:
            s = connect(ctl.port, f"127.0.0.{2 + i % 10}", timeout=5)  # 10 clients, 30 each
            s.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
            opened.append(time.monotonic())
        except OSError:
            socks.append(None)
            opened.append(None)

    def trickle():
        k = 0
        while not stop.is_set():
            for i, s in enumerate(socks):
                if s is None or closed_after[i] is not None:
                    continue
                try:
                    s.sendall(b"X-Trickle-%d: y\r\n" % k)
                    s.setblocking(False)
                    try:
                        if s.recv(1) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
                except OSError:
                    closed_after[i] = time.monotonic() - opened[i]
            k += 1
            stop.wait(2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        latencies = []
        for _ in range(6):
            for path in ("/health", "/ping"):
                t0 = time.monotonic()
                status = http_request(ctl.metrics_port, "GET", path, timeout=3)[0]  # kubelet: 3 s
                latencies.append(time.monotonic() - t0)
                assert status == 200, path
            time.sleep(0.5)
        print(f"probes under slowloris: max {max(latencies) * 1000:.1f} ms, "
              f"median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms")
        # every trickling connection is cut although it sends every 2 s (idle timeout: 30 s)
        live = [i for i, s in enumerate(socks) if s is not None]
        assert len(live) >= 250, len(live)
        wait_for(lambda: all(closed_after[i] is not None for i in live), timeout=30,
                 what="the trickling connections cut")
        worst = max(closed_after[i] for i in live)
        print(f"trickling connections cut after at most {worst:.1f} s (deadline 4 s)")
        # 4 s after accept; the 44 over --http-max-connections wait in the kernel's backlog
        # until the first cut frees room, then get 4 s of their own: about 8 s, plus the 2 s
        # the trickle takes to notice. The idle timeout (30 s) would never fire.
        assert worst < 15, worst
        assert ctl.http("GET", "/health")[0] == 200
    finally:
        stop.set()
        t.join(10)
        for s in socks:
            if s:
                s.close()


def test_one_client_cannot_hold_every_connection(env):
    """Connections from one address beyond --http-max-connections-per-client are closed as
    they are accepted; other addresses still get in."""
    ctl = env.controller("--http-max-connections-per-client", "5")
    socks = [connect(ctl.port, "127.0.0.2") for _ in range(5)]
    try:
        extra = connect(ctl.port, "127.0.0.2")
        extra.settimeout(5)
        try:
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = extra.recv(64)
        except OSError:
            data = b""
        extra.close()
        assert not data.startswith(b"HTTP/1.1 200"), data
        status = http_request(ctl.port, "GET", "/health")[0]
        assert status == 200
    finally:
        for s in socks:
            s.close()


def flood(port, source, body, stop, counts, headers=None):
    while not stop.is_set():
        try:
            status = post_from(port, source, "/v1/verify", body, headers=headers)[0]
        except OSError:
            status = "error"
        counts[status] += 1


def test_a_noisy_client_does_not_starve_the_others(env):
    """One client floods /v1/verify from 8 threads: it is throttled (429), while another
    client's verify requests, at a human pace, all answer 200."""
    ctl = env.controller()
    good = json.dumps(env.seal(secret("quiet", data={"K": "v"}))).encode()
    stop = threading.Event()
    noisy = collections.Counter()
    threads = [threading.Thread(target=flood, args=(ctl.port, "127.0.0.2", good, stop, noisy),
                                daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        quiet = [post_from(ctl.port, "127.0.0.3", "/v1/verify", good)[0] for _ in range(10)
                 if time.sleep(0.3) is None]
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    print(f"noisy client: {dict(noisy)}; quiet client: {quiet}")
    assert quiet == [200] * 10, (quiet, dict(noisy))
    assert noisy[429] > noisy[200] > 0, dict(noisy)


def test_clients_behind_a_trusted_proxy_are_told_apart(env):
    """Behind the API server's service proxy every request comes from the proxy: with
    --http-trusted-proxy the client is the last X-Forwarded-For entry (the one the proxy
    appended). Entries a client sends itself, or the header from any other peer, change
    nothing."""
    ctl = env.controller("--http-trusted-proxy", "127.0.0.1/32", "--http-burst", "5",
                         "--http-rate", "1")
    good = json.dumps(env.seal(secret("proxied", data={"K": "v"}))).encode()

    def burst(source, xff, n=8):
        return [post_from(ctl.port, source, "/v1/verify", good,
                          headers={"X-Forwarded-For": xff(i)} if xff else None)[0] for i in range(n)]

    # two callers through the proxy: each has its own bucket
    a = burst("127.0.0.1", lambda i: "10.1.1.1")
    b = burst("127.0.0.1", lambda i: "10.2.2.2")
    assert a[:5] == [200] * 5 and 429 in a[5:], a
    assert b[:5] == [200] * 5 and 429 in b[5:], b
    # a caller that prepends addresses of its own is still the address the proxy appended
    c = burst("127.0.0.1", lambda i: f"192.0.2.{i}, 10.1.1.1")
    assert c == [429] * 8, c
    # from a peer that is not a trusted proxy the header is ignored: one bucket, whatever it says
    d = burst("127.0.0.4", lambda i: f"10.9.9.{i}")
    assert d[:5] == [200] * 5 and d[5:] == [429] * 3, d
    # the proxy's own requests (no header) are the proxy's
    e = burst("127.0.0.1", None, 6)
    assert e[:5] == [200] * 5 and e[5] == 429, e


# A real API server refuses Endpoints on a loopback address (and will not proxy to one), so
# this runs against the stand-in, whose proxy appends X-Forwarded-For as kube-apiserver's does.
@pytest.mark.standin
def test_callers_through_the_api_servers_proxy_each_have_a_bucket(env):
    """Through the (stand-in) API server's service proxy, which appends the caller's address
    to X-Forwarded-For as kube-apiserver's does: with the API server as --http-trusted-proxy,
    a caller flooding verify is throttled and another caller's verify still answers 200."""
    ctl = env.controller("--http-trusted-proxy", "127.0.0.1", "--http-rate", "1", "--http-burst", "5")
    api = env.api
    assert api.request("POST", "/api/v1/namespaces/seal-system/services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "unseal-controller", "namespace": "seal-system"},
        "spec": {"ports": [{"name": "http", "port": 8080, "targetPort": ctl.port}]}})[0] == 201
    assert api.request("POST", "/api/v1/namespaces/seal-system/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "unseal-controller", "namespace": "seal-system"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": ctl.port}]}]})[0] == 201
    good = json.dumps(env.seal(secret("via-proxy", data={"K": "v"}))).encode()
    path = "/api/v1/namespaces/seal-system/services/http:unseal-controller:http/proxy/v1/verify"

    def verify(source, spoof=None):
        c = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ctx, timeout=30,
                                        source_address=(source, 0))
        h = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        if spoof:
            h["X-Forwarded-For"] = spoof
        try:
            c.request("POST", path, body=good, headers=h)
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    # the noisy caller also writes addresses of its own into X-Forwarded-For: ignored
    noisy = [verify("127.0.0.2", spoof=f"192.0.2.{i}") for i in range(15)]
    quiet = [verify("127.0.0.3") for _ in range(3)]
    assert noisy[:5] == [200] * 5 and noisy.count(429) >= 5, noisy
    assert quiet == [200] * 3, (quiet, noisy)


def test_rotate_answers_count_against_body_memory(env):
    """A /v1/rotate answer is held until the client reads it: it counts against the body memory
    like the body did. With room for exactly the body, a compact JSON body whose (indented)
    answer is longer is refused; /v1/verify of the same body, whose answer is short, is not."""
    probe = env.controller(name="probe")
    doc = env.seal(secret("answer", data={f"K{i}": f"value {i}" for i in range(200)}))
    probe.stop()
    body = json.dumps(doc, separators=(",", ":")).encode()
    room = str(len(body) + 64)
    ctl = env.controller("--http-body-memory", room, "--http-client-body-memory", room)
    status, _, answer = post_from(ctl.port, "127.0.0.2", "/v1/verify", body)
    assert status == 200, answer
    status, headers, answer = post_from(ctl.port, "127.0.0.2", "/v1/rotate", body)
    assert status in (429, 503) and headers.get("retry-after"), (status, answer)
    # with room for the answer too it is answered, and the memory was given back meanwhile
    ctl2 = env.controller("--http-body-memory", str(3 * len(body)), "--http-client-body-memory",
                          str(3 * len(body)), name="roomy")
    for _ in range(3):
        status, _, answer = post_from(ctl2.port, "127.0.0.2", "/v1/rotate", body)
        assert status == 200 and len(answer) > len(body), (status, len(answer), len(body))
