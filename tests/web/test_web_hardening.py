"""The pad under hostile clients: issue 15's reproducers, each a regression test.

Nested JSON gets a 4xx, not a 500; every answer carries the security headers; a
pad bound to loopback refuses foreign Host names (DNS rebinding); too many busy
requests get 503s; idle, half-sent and slow connections are closed; a flood of
connections cannot starve real ones; log floods are collapsed.  The server tests
run a real uvicorn on 127.0.0.1 with timeouts of a fraction of a second.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[web]'")
import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from neuraldigits.cli import serve as serve_cli  # noqa: E402
from neuraldigits.errors import NeuralDigitsError  # noqa: E402
from neuraldigits.network import Network  # noqa: E402
from neuraldigits.web import app as web_app  # noqa: E402
from neuraldigits.web import server as web_server  # noqa: E402
from neuraldigits.web.app import LOOPBACK_HOSTS, MAX_BODY_BYTES, MAX_BUSY, create_app  # noqa: E402
from neuraldigits.web.logs import RateLimitFilter  # noqa: E402
from neuraldigits.web.middleware import SECURITY_HEADERS, BusyLimit  # noqa: E402
from neuraldigits.web.reading import Reading  # noqa: E402
from neuraldigits.web.server import ServerLimits, connection_cap, server_config  # noqa: E402

SAFETY = 20  # seconds: only a broken server waits this long; no test measures time


@pytest.fixture(scope="module")
def net() -> Network:
    return Network([784, 16, 10], seed=3)


@pytest.fixture(scope="module")
def client(net) -> TestClient:
    return TestClient(create_app(net))


def assert_security_headers(reply: httpx2.Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert reply.headers.get(name) == value, (reply.request.url, name)
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["cache-control"] in ("no-store", "no-cache")


# ---------------------------------------------------------------------- bodies


@pytest.mark.parametrize("depth", [500, 100_000])
def test_nested_json_is_a_4xx_not_a_500(client, depth):
    # Issue 15: a 1 KB body of nested arrays raised RecursionError (HTTP 500).
    body = b"[" * depth + b"]" * depth
    reply = client.post("/api/predict", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert "not valid JSON" in reply.json()["detail"]


def test_shallow_nesting_is_a_clear_422(client):
    reply = client.post("/api/predict", json={"pixels": [[0.5]] * 784})
    assert reply.status_code == 422 and "pixel 0 is [0.5]" in reply.json()["detail"]


def test_a_huge_number_is_refused_and_not_echoed_in_full(client):
    body = b"[" + b"9" * 4000 + b"]"
    reply = client.post("/api/predict", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code in (400, 422) and len(reply.text) < 500


def test_infinity_spelt_as_a_big_exponent_is_not_a_pixel(client):
    body = b"[1e999" + b", 0" * 783 + b"]"
    reply = client.post("/api/predict", content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422 and "pixel 0 is inf" in reply.json()["detail"]


def test_a_smaller_body_cap_is_enforced(net):
    small = TestClient(create_app(net, max_body_bytes=100))
    reply = small.post("/api/predict", json=[0.0] * 784)
    assert reply.status_code == 413 and "100-byte limit" in reply.json()["detail"]
    assert reply.headers["connection"] == "close"


def test_non_finite_activations_are_a_clear_error_not_invalid_json(net, monkeypatch):
    nan = np.full(10, np.nan, dtype=np.float32)
    monkeypatch.setattr(
        web_app,
        "read",
        lambda net, x: Reading(digit=0, outputs=nan, hidden=np.zeros(16), input=np.zeros(784)),
    )
    reply = TestClient(create_app(net)).post("/api/predict", json=[0.0] * 784)
    assert reply.status_code == 422 and "not finite" in reply.json()["detail"]


def test_a_network_with_non_finite_activations_is_refused():
    net = Network([784, 16, 10], seed=0)
    net.weights[1][3, 5] = np.nan  # (overflowing weights give NaN only in some BLAS orders)
    with pytest.raises(NeuralDigitsError, match="non-finite"):
        create_app(net)


# ---------------------------------------------------------------------- headers


def test_every_answer_carries_the_security_headers(net):
    client = TestClient(
        create_app(net, allowed_hosts=LOOPBACK_HOSTS, max_busy=1), base_url="http://localhost"
    )
    replies = [
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/static/style.css"),
        client.get("/openapi.json"),
        client.get("/api/model"),
        client.get("/api/hidden/3"),
        client.get("/api/hidden/99"),  # 404
        client.get("/no/such/page"),  # 404
        client.post("/api/model"),  # 405
        client.post("/api/predict", json=[0.0] * 784),
        client.post("/api/predict", content=b"[[[", headers={"Content-Type": "application/json"}),
        client.get("/", headers={"Host": "evil.example"}),  # 400 from the Host check
    ]
    assert [r.status_code for r in replies] == [200] * 6 + [404, 404, 405, 200, 400, 400]
    for reply in replies:
        assert_security_headers(reply)
    assert replies[4].headers["cache-control"] == "no-store"  # /api/*: never cached
    assert replies[0].headers["cache-control"] == "no-cache"  # the page: revalidated


def test_an_internal_error_is_json_with_the_headers(net, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(web_app, "read", broken)
    client = TestClient(create_app(net), raise_server_exceptions=False)
    reply = client.post("/api/predict", json=[0.0] * 784)
    assert reply.status_code == 500 and "a bug" not in reply.text
    assert reply.json()["detail"].startswith("internal error")
    assert_security_headers(reply)


# ---------------------------------------------------------------------- Host check


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8765", "[::1]", "[::1]:80"]
)
def test_loopback_names_are_answered(net, host):
    client = TestClient(create_app(net, allowed_hosts=LOOPBACK_HOSTS))
    assert client.get("/api/model", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example"])
def test_a_foreign_host_name_is_refused_on_loopback(net, host):
    # DNS rebinding: a page at evil.example, its name now resolving to 127.0.0.1.
    client = TestClient(create_app(net, allowed_hosts=LOOPBACK_HOSTS))
    reply = client.post("/api/predict", json=[0.0] * 784, headers={"Host": host})
    assert reply.status_code == 400 and "Invalid host header" in reply.text


@pytest.mark.parametrize(
    "bound, extra, expected",
    [
        ("127.0.0.1", None, list(LOOPBACK_HOSTS)),
        ("::1", None, list(LOOPBACK_HOSTS)),
        ("localhost", None, list(LOOPBACK_HOSTS)),
        ("127.0.0.1", ["pad.lan"], [*LOOPBACK_HOSTS, "pad.lan"]),
        ("0.0.0.0", None, None),  # reached by a phone under any name: no check unless asked
        ("0.0.0.0", ["192.168.1.5"], [*LOOPBACK_HOSTS, "192.168.1.5"]),
        ("127.0.0.1", ["*"], None),
    ],
)
def test_serve_checks_hosts_when_bound_to_loopback(bound, extra, expected):
    assert serve_cli._allowed_hosts(bound, extra, LOOPBACK_HOSTS) == expected


def test_serve_defaults_match_the_web_packages():
    # cli/serve.py repeats them so that --help needs no web extra.
    assert serve_cli.MAX_BODY_BYTES == MAX_BODY_BYTES and serve_cli.MAX_BUSY == MAX_BUSY
    limits = ServerLimits()
    assert serve_cli.REQUEST_TIMEOUT == limits.request_timeout
    assert serve_cli.KEEP_ALIVE == limits.keep_alive
    assert serve_cli.MAX_CONNECTIONS == limits.max_connections


def test_the_serve_docs_describe_every_option():
    from support.cli import subcommand_parsers

    [parser] = [p for p in subcommand_parsers() if p.prog.endswith(" serve")]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text("utf-8")
    options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    shared = {"--help", "--quiet", "--verbose"}  # every command's, described once for all
    assert {"--max-busy", "--request-timeout", "--allowed-host"} <= set(options)
    assert [o for o in options if o not in shared and f"`{o}" not in docs] == []


def test_serve_raises_the_open_file_limit_to_the_hard_limit():
    resource = pytest.importorskip("resource", reason="no POSIX resource limits here")
    # In a child, so that this process's own limit is left alone.
    script = (
        "import resource\n"
        "from neuraldigits.web.server import raise_open_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "low = min(256, hard)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))\n"
        "got = raise_open_file_limit()\n"
        "print(low, got, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    low, got, soft, hard = (int(x) for x in done.stdout.split())
    assert got == soft >= low
    if hard != resource.RLIM_INFINITY:
        assert soft == hard


def test_without_posix_limits_serve_caps_connections_by_its_option_alone(monkeypatch):
    monkeypatch.setattr(web_server, "resource", None)  # as on Windows, where it is missing
    assert connection_cap(20_000, web_server.raise_open_file_limit()) == 20_000


def test_the_connection_cap_leaves_descriptors_free():
    assert connection_cap(10_000, 1024) == 1024 - 64
    assert connection_cap(500, 1024) == 500


# ---------------------------------------------------------------------- busy: 503, not a hang


def test_requests_beyond_the_busy_cap_get_503_at_once():
    release = asyncio.Event()
    entered = []

    async def slow_app(scope, receive, send):
        entered.append(scope["path"])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    limit = BusyLimit(slow_app, limit=2)

    async def ask(path):
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": path, "method": "GET", "headers": []}
        await limit(scope, None, send)
        return sent[0]["status"]

    async def scenario():
        first = [asyncio.ensure_future(ask(f"/{i}")) for i in range(2)]
        await asyncio.sleep(0)
        refused = await asyncio.wait_for(ask("/third"), SAFETY)  # answered while two wait
        release.set()
        return refused, await asyncio.gather(*first), limit.busy

    refused, served, busy = asyncio.run(scenario())
    assert refused == 503 and served == [200, 200] and busy == 0
    assert entered == ["/0", "/1"]


def test_the_busy_503_is_json_with_the_headers(net):
    app = create_app(net, max_busy=1)
    busy = next(m for m in app.user_middleware if m.cls is BusyLimit)
    assert busy.kwargs == {"limit": 1}
    client = TestClient(app)
    stack = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = stack
    # Find the BusyLimit instance and make it look full.
    layer = stack
    while not isinstance(layer, BusyLimit):
        layer = layer.app
    layer.busy = 1
    reply = client.get("/api/model")
    assert reply.status_code == 503 and "busy" in reply.json()["detail"]
    assert reply.headers["retry-after"] == "1"
    assert_security_headers(reply)


# ---------------------------------------------------------------------- a real server


@contextmanager
def running(app, limits: ServerLimits) -> Iterator[int]:
    """uvicorn serving ``app`` under ``limits`` on 127.0.0.1 in a thread; yields its port."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app, limits, own_logging=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(SAFETY * 100):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(SAFETY)
        sock.close()


def closed_by_server(conn: socket.socket) -> bool:
    """Whether the server closes ``conn`` (reads until EOF; False if it is still open)."""
    conn.settimeout(SAFETY)
    try:
        while conn.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    finally:
        conn.close()


@pytest.fixture(scope="module")
def quick_server(net) -> Iterator[int]:
    limits = ServerLimits(request_timeout=0.3, keep_alive=0.3)
    with running(create_app(net, allowed_hosts=LOOPBACK_HOSTS), limits) as port:
        yield port


def test_an_idle_connection_is_closed(quick_server):
    assert closed_by_server(socket.create_connection(("127.0.0.1", quick_server)))


def test_half_sent_headers_are_closed(quick_server):
    # slowloris: a request line and part of a header, then nothing more
    conn = socket.create_connection(("127.0.0.1", quick_server))
    conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: a")
    assert closed_by_server(conn)


def test_a_slow_body_is_closed(quick_server):
    conn = socket.create_connection(("127.0.0.1", quick_server))
    conn.sendall(
        b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
        b"Content-Length: 10000\r\n\r\n\x89PNG"
    )
    assert closed_by_server(conn)


def test_a_kept_alive_connection_is_closed_once_idle(quick_server):
    conn = socket.create_connection(("127.0.0.1", quick_server))
    conn.sendall(b"GET /api/hidden/0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    conn.settimeout(SAFETY)
    assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    assert closed_by_server(conn)


def test_a_wrong_host_is_refused_by_the_real_server(quick_server):
    reply = httpx2.get(f"http://127.0.0.1:{quick_server}/", headers={"Host": "evil.example"})
    assert reply.status_code == 400
    assert_security_headers(reply)
    assert "server" not in reply.headers  # no banner


def test_a_body_found_malformed_after_the_app_started_is_a_400_not_an_app_error(quick_server):
    # Found by fuzz/fuzz_http.py: valid headers start the app, then the chunked body is
    # junk; uvicorn answered 400 itself and the app's own answer hit h11's closed state.
    errors = []
    catcher = logging.Handler()
    catcher.emit = lambda record: errors.append(record) if record.levelno >= logging.ERROR else None
    logging.getLogger("uvicorn.error").addHandler(catcher)
    try:
        conn = socket.create_connection(("127.0.0.1", quick_server))
        conn.sendall(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        )
        conn.settimeout(SAFETY)
        answer = b""
        while piece := conn.recv(65536):
            answer += piece
        conn.close()
        threading.Event().wait(0.2)  # the app's task finishes after the 400 went out
    finally:
        logging.getLogger("uvicorn.error").removeHandler(catcher)
    assert answer.startswith(b"HTTP/1.1 400") and b"x-frame-options: DENY" in answer
    assert errors == []


def test_a_flood_of_idle_connections_cannot_starve_real_requests(net):
    # Requests get 30 s to arrive, so only the cap can close the idle ones here.
    limits = ServerLimits(request_timeout=30, max_connections=5)
    with running(create_app(net), limits) as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        reply = httpx2.post(f"http://127.0.0.1:{port}/api/predict", json=[0.0] * 784)
        assert reply.status_code == 200
        # The oldest idle connection made room for the real one.
        assert closed_by_server(idle[0])
        for conn in idle[1:]:
            conn.close()


# ---------------------------------------------------------------------- logs


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, None, None)


def test_a_log_flood_is_collapsed_and_counted():
    now = [0.0]
    limit = RateLimitFilter(burst=3, interval=10, clock=lambda: now[0])
    flood = [limit.filter(record("socket.accept() out of system resource")) for _ in range(1000)]
    assert flood.count(True) == 3  # the rest are dropped ...
    assert limit.filter(record("another message"))  # ... without silencing others
    now[0] = 10.0
    later = record("socket.accept() out of system resource")
    assert limit.filter(later)
    assert "[suppressed 997 similar messages in the previous 10 s]" in later.getMessage()


def test_the_log_filter_keeps_bounded_memory():
    limit = RateLimitFilter(max_keys=10)
    for i in range(1000):
        limit.filter(record(f"message {i}"))
    assert len(limit._windows) == 10


def test_a_suppression_note_does_not_upset_percent_arguments():
    now = [0.0]
    limit = RateLimitFilter(burst=1, interval=1, clock=lambda: now[0])
    args = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s at 100%%", ("load",), None)
    assert limit.filter(args) and not limit.filter(args)
    now[0] = 2.0
    again = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s at 100%%", ("load",), None)
    assert limit.filter(again)
    assert again.getMessage() == ("load at 100% [suppressed 1 similar message in the previous 1 s]")
