"""Hostile HTTP clients: oversized bodies, slow clients, many connections at once, malformed
requests. Each gets a 4xx or is dropped; throughout, the controller keeps serving /health and
keeps reconciling."""

import json
import re
import socket
import threading
import time

from conftest import condition, decoded, secret, wait_for

LIMIT = 4 * 1024 * 1024


def status_of(sock):
    """The status of the answer read from sock, or None when the connection ends without one."""
    try:
        line = sock.makefile("rb").readline(256)
    except (ConnectionResetError, socket.timeout):
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", line)
    return int(m.group(1)) if m else None


def exchange(port, data, pieces=(), timeout=10, pause=0.0):
    """Sends data (then pieces, pause seconds apart) on a raw connection; returns the HTTP
    status of the answer, or None when the server dropped the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
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
    socks = [socket.create_connection(("127.0.0.1", ctl.port), timeout=20) for _ in range(n)]
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

    def abuse(kind):
        while not stop.is_set():
            try:
                if kind == "big":
                    exchange(ctl.port, b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                             [b"10000\r\n" + b"x" * 65536 + b"\r\n"] * 80)
                elif kind == "slow":
                    exchange(ctl.port, b"POST /v1/rotate HTTP/1.1\r\nHost: x\r\n", timeout=6)
                elif kind == "junk":
                    for req in MALFORMED:
                        exchange(ctl.port, req, timeout=5)
                else:
                    socks = [socket.create_connection(("127.0.0.1", ctl.port), timeout=5) for _ in range(20)]
                    time.sleep(0.5)
                    for s in socks:
                        s.close()
            except OSError as e:
                if not stop.is_set() and not isinstance(e, (ConnectionRefusedError, socket.timeout)):
                    errors.append(repr(e))

    kinds = ["big", "big", "slow", "slow", "slow", "junk", "junk", "flood", "flood"]
    threads = [threading.Thread(target=abuse, args=(k,), daemon=True) for k in kinds]
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
