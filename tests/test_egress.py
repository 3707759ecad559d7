"""The browser's egress proxy: every request Chromium makes passes the network guard.

A trap server listens on every local address (``[::]``, dual stack) and records each
connection it accepts. A page on the test web makes the browser reach for it in every way
a page can: images, iframes, fetch, XHR, a worker, WebSockets, https, redirect chains that
end there, and names that resolve to loopback. With the guard on, the trap must see
nothing; with ``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES`` (the control run) it sees them, which
proves that the page really makes those requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading
from collections import Counter

import pytest

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.render.egress import EgressProxy, Refused
from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds


class Trap:
    """Accepts connections on every local address of one port and records their first bytes."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    first = conn.recv(200)
                except OSError:
                    first = b""
                self.seen.append(first or b"(connected)")
                reply = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret"
                with contextlib.suppress(OSError):
                    conn.sendall(reply)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def trap():
    t = Trap()
    yield t
    t.stop()


def hostile_page(trap_port: int) -> str:
    hostname = socket.gethostname()
    trap = f"127.0.0.1:{trap_port}"
    return f"""<!doctype html><html><head><title>Hostile</title></head><body>
<p>A page that reaches for the crawler's own network.
<a href="http://gone.test/404">a dead link</a></p>
<img src="http://{trap}/img-direct">
<img src="http://hostile.test/redirect-img">
<img src="http://hostile.test/hop/1">
<img src="https://{trap}/img-https">
<img src="http://trap.localhost:{trap_port}/img-localhost-name">
<img src="http://{hostname}:{trap_port}/img-dns-name">
<iframe src="http://hostile.test/redirect-frame"></iframe>
<iframe src="http://[::1]:{trap_port}/frame-v6"></iframe>
<script>
fetch("http://hostile.test/redirect-fetch", {{mode: "no-cors"}}).catch(() => 0);
fetch("http://{hostname}:{trap_port}/fetch-dns-name", {{mode: "no-cors"}}).catch(() => 0);
const x = new XMLHttpRequest();
x.open("GET", "http://[::ffff:127.0.0.1]:{trap_port}/xhr"); x.send();
for (const u of ["ws://{trap}/ws", "wss://{trap}/wss", "ws://localhost:{trap_port}/ws-name"]) {{
  try {{ new WebSocket(u); }} catch (e) {{}}
}}
const code = 'fetch("http://{trap}/worker", {{mode: "no-cors"}}).catch(() => 0)';
new Worker(URL.createObjectURL(new Blob([code], {{type: "text/javascript"}})));
navigator.sendBeacon("http://127.0.0.2:{trap_port}/beacon", "x");
</script></body></html>"""


@pytest.fixture
def hostile_web(tmp_path, trap):
    root = tmp_path / "web"
    (root / "hostile.test").mkdir(parents=True)
    (root / "hostile.test" / "index.html").write_text(hostile_page(trap.port), encoding="utf-8")
    trap_url = f"http://127.0.0.1:{trap.port}"
    routes = {
        "hostile.test": {
            "/redirect-img": {"location": f"{trap_url}/img-redirect"},
            "/hop/{n}": {"chain": {"hops": 3, "to": f"http://[::1]:{trap.port}/img-chain"}},
            "/redirect-frame": {"location": f"http://localhost:{trap.port}/frame-redirect"},
            "/redirect-fetch": {"location": f"http://127.0.0.2:{trap.port}/fetch-redirect"},
            "/navigate": {"location": f"{trap_url}/navigate"},
        },
        "gone.test": {"/404": {"status": 404}},
    }
    with LocalWeb(root, routes=routes) as web:
        yield web


def crawl_hostile(tmp_path, web, **settings):
    seeds = write_seeds(tmp_path, ["http://hostile.test/", "http://hostile.test/navigate"])
    return run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds), "render": "always"},
        settings={"BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{web.port}"}, **settings},
    )


@pytest.mark.e2e
def test_browser_requests_to_refused_addresses_never_leave(tmp_path, hostile_web, trap):
    result = crawl_hostile(tmp_path, hostile_web)
    assert result.returncode == 0, result.stderr[-3000:]
    assert trap.seen == []
    # the page was rendered and its redirect hops were requested (so they were refused)
    stats = result.stats
    assert stats["brokenlinks/render/pages"] == 1
    paths = {r.path for r in hostile_web.requests(host="hostile.test")}
    assert {"/redirect-img", "/hop/3", "/redirect-frame", "/redirect-fetch", "/navigate"} <= paths
    assert stats["brokenlinks/render/egress/refused"] >= 8
    assert stats["brokenlinks/render/egress/refused/loopback"] >= 8
    # the page's own links were still checked
    assert [(i["target_url"], i["status"]) for i in result.items] == [
        ("http://gone.test/404", 404)
    ]
    # the seed whose navigation redirects to loopback says that the guard refused it
    (navigated,) = [p for p in result.rows["pages"] if p["url"].endswith("/navigate")]
    assert navigated["error"] == ("refused by the network guard: loopback address 127.0.0.1"), (
        navigated
    )


@pytest.mark.e2e
def test_control_run_with_private_addresses_allowed_reaches_the_trap(tmp_path, hostile_web, trap):
    result = crawl_hostile(tmp_path, hostile_web, BROKENLINKS_ALLOW_PRIVATE_ADDRESSES=True)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = b"\n".join(trap.seen)
    for path in (
        b"/img-direct",
        b"/img-redirect",
        b"/img-chain",
        b"/frame-redirect",
        b"/frame-v6",
        b"/fetch-redirect",
        b"/xhr",
        b"/ws ",
        b"/worker",
        b"/navigate",
        b"/img-localhost-name",
        b"/beacon",
    ):
        assert path in seen, (path, trap.seen)
    # the https image and the wss socket: TLS handshakes through CONNECT tunnels
    assert sum(first.startswith(b"\x16\x03") for first in trap.seen) >= 2
    assert not [k for k in result.stats if k.startswith("brokenlinks/render/egress/refused/loop")]


@pytest.mark.parametrize(
    ("host", "allow_private", "resolve", "expected"),
    [
        ("127.0.0.1", False, {}, Refused),
        ("[::1]", False, {}, Refused),
        ("localhost", False, {}, Refused),
        ("db.localhost", False, {}, Refused),
        ("169.254.169.254", False, {}, Refused),
        ("[::ffff:10.0.0.1]", False, {}, Refused),
        ("x.invalid", False, {}, Refused),
        ("x.invalid", True, {}, Refused),
        ("bad..name", False, {}, Refused),
        ("127.0.0.1", True, {}, [("127.0.0.1", 80)]),
        ("93.184.216.34", False, {}, [("93.184.216.34", 80)]),
        ("site.test", False, {"*.test": "127.0.0.1:81"}, [("127.0.0.1", 81)]),
        ("SITE.test.", False, {"site.test": "[::1]"}, [("::1", 80)]),
    ],
)
def test_proxy_resolution(host, allow_private, resolve, expected):
    proxy = EgressProxy(BrokenlinksConfig(resolve=resolve, allow_private_addresses=allow_private))
    if expected is Refused:
        with pytest.raises(Refused):
            in_thread(proxy.resolve(host, 80))
    else:
        assert in_thread(proxy.resolve(host, 80)) == expected


def in_thread(coroutine):
    """Run *coroutine* on a fresh loop (pytest-twisted's reactor owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _ask(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while data := conn.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_proxy_refuses_and_relays(trap, tmp_path):
    (tmp_path / "ok.test").mkdir()
    (tmp_path / "ok.test" / "index.html").write_text("<p>fine</p>", encoding="utf-8")
    with LocalWeb(tmp_path) as web:
        config = BrokenlinksConfig(resolve={"ok.test": f"127.0.0.1:{web.port}"})
        counted: list[str] = []
        proxy = EgressProxy(config, count=counted.append)
        port = proxy.start()
        try:
            answer = _ask(port, b"GET http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n")
            assert answer.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
            assert b"Connection: close" in answer
            assert answer.endswith(b"<p>fine</p>")
            refused = _ask(
                port,
                f"GET http://127.0.0.1:{trap.port}/x HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
            )
            assert refused.startswith(b"HTTP/1.1 403 Forbidden")
            assert b"X-Brokenlinks-Refused: loopback address 127.0.0.1" in refused
            tunnel = _ask(port, f"CONNECT localhost:{trap.port} HTTP/1.1\r\n\r\n".encode())
            assert tunnel.startswith(b"HTTP/1.1 403 Forbidden")
            assert _ask(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
            assert _ask(port, b"GET ftp://ok.test/ HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
            huge = b"GET http://ok.test/ HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"
            assert _ask(port, huge).startswith(b"HTTP/1.1 400")
        finally:
            proxy.stop()
        assert trap.seen == []
        # a request is counted once its request line parses: the relayed GET, the refused GET and
        # CONNECT, and the ftp:// GET; each refusal is counted once in total and once by reason
        assert Counter(counted) == {
            "brokenlinks/render/egress/requests": 4,
            "brokenlinks/render/egress/refused": 2,
            "brokenlinks/render/egress/refused/loopback": 2,
        }


def test_a_proxy_that_cannot_serve_raises(monkeypatch):
    async def refuse(*args, **kwargs):
        raise OSError("no more file descriptors")

    monkeypatch.setattr("brokenlinks.render.egress.asyncio.start_server", refuse)
    proxy = EgressProxy(BrokenlinksConfig())
    with pytest.raises(OSError, match="egress proxy could not start: no more file descriptors"):
        proxy.start()


@pytest.fixture
def upstreams(tmp_path):
    (tmp_path / "ok.test").mkdir()
    (tmp_path / "ok.test" / "index.html").write_text("<p>fine</p>", encoding="utf-8")
    with LocalWeb(tmp_path, routes={"hang.test": {"/slow": {"hang": 5}}}) as web:
        yield web


def test_upstream_failures_are_a_gateways_answers(upstreams):
    from brokenlinks.testing.localweb import unused_port

    resolve = {"*.test": f"127.0.0.1:{upstreams.port}", "down.test": f"127.0.0.1:{unused_port()}"}
    counted: list[str] = []
    proxy = EgressProxy(BrokenlinksConfig(resolve=resolve), count=counted.append)
    proxy.response_timeout = 1
    port = proxy.start()
    try:
        slow = _ask(port, b"GET http://hang.test/slow HTTP/1.1\r\nHost: hang.test\r\n\r\n")
        assert slow.startswith(b"HTTP/1.1 504 Gateway Timeout"), slow
        down = _ask(port, b"GET http://down.test/ HTTP/1.1\r\nHost: down.test\r\n\r\n")
        assert down.startswith(b"HTTP/1.1 502 Bad Gateway"), down
        tunnel = _ask(port, b"CONNECT down.test:443 HTTP/1.1\r\n\r\n")
        assert tunnel.startswith(b"HTTP/1.1 502 Bad Gateway"), tunnel
    finally:
        proxy.stop()
    assert counted.count("brokenlinks/render/egress/upstream_504") == 1
    assert counted.count("brokenlinks/render/egress/upstream_502") == 2


def test_idle_tunnels_are_closed(upstreams):
    config = BrokenlinksConfig(resolve={"*.test": f"127.0.0.1:{upstreams.port}"})
    counted: list[str] = []
    # idle for 3 s: a busy machine can be slow to pass the answer through the tunnel, which
    # a shorter timeout would close first
    proxy = EgressProxy(config, count=counted.append, idle_timeout=3)
    port = proxy.start()
    try:
        # the socket's timeout is a busy machine's deadline, far beyond the idle timeout
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(b"CONNECT ok.test:80 HTTP/1.1\r\n\r\n")
            assert conn.recv(200).startswith(b"HTTP/1.1 200 Connection established")
            # a request through the tunnel works, then nothing is sent either way
            conn.sendall(b"GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n")
            answer = b""
            while b"fine" not in answer:
                data = conn.recv(65536)
                assert data, f"the tunnel closed before the whole answer: {answer!r}"
                answer += data
            assert conn.recv(200) == b"", "the idle tunnel was closed by the proxy"
    finally:
        proxy.stop()
    assert counted.count("brokenlinks/render/egress/idle_closed") == 1


def test_stopping_with_open_tunnels_logs_no_error(upstreams, caplog):
    config = BrokenlinksConfig(resolve={"*.test": f"127.0.0.1:{upstreams.port}"})
    proxy = EgressProxy(config)
    port = proxy.start()
    conns = []
    try:
        for _ in range(3):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conns.append(conn)
            conn.sendall(b"CONNECT ok.test:80 HTTP/1.1\r\n\r\n")
            assert conn.recv(200).startswith(b"HTTP/1.1 200")
        with caplog.at_level("DEBUG"):
            proxy.stop()
    finally:
        for conn in conns:
            conn.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
