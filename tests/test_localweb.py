"""The local virtual-host web server, and the test web's promises (tests/web/expected.json)."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from brokenlinks.parsing.urls import is_http, resolve_href
from brokenlinks.testing.localweb import LocalWeb, refusing_socket, unused_port
from brokenlinks.testing.routes import parse_routes

WEB = Path(__file__).parent / "web"
EXPECTED = json.loads((WEB / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def web():
    with LocalWeb(WEB) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(request):
    if "web" in request.fixturenames:
        request.getfixturevalue("web").reset()


def fetch(port, method, host, path, *, timeout=5.0, headers=None):
    """One request on a fresh connection: (status, headers dict, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    with contextlib.closing(conn):
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body


# --- static files ---------------------------------------------------------------------


def test_static_page(web):
    status, headers, body = fetch(web.port, "GET", "blog.test", "/resources.html")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (WEB / "blog.test" / "resources.html").read_bytes()
    assert int(headers["Content-Length"]) == len(body)


def test_index_robots_and_host_header_forms(web):
    index = (WEB / "blog.test" / "index.html").read_bytes()
    assert fetch(web.port, "GET", "blog.test", "/")[2] == index
    assert fetch(web.port, "GET", "BLOG.test.:8080", "/")[2] == index
    status, headers, body = fetch(web.port, "GET", "blog.test", "/robots.txt")
    assert (status, headers["Content-Type"]) == (200, "text/plain; charset=utf-8")
    assert b"Allow: /" in body
    assert b"Disallow: /private/" in fetch(web.port, "GET", "blocked.test", "/robots.txt")[2]


def test_directory_without_slash_redirects(web):
    status, headers, _ = fetch(web.port, "GET", "news.test", "/archive")
    assert (status, headers["Location"]) == (301, "/archive/")
    assert fetch(web.port, "GET", "news.test", "/archive/")[0] == 200


def test_meta_charset_and_traversal(tmp_path):
    site = tmp_path / "old.test"
    site.mkdir()
    (site / "latin.html").write_bytes(b'<html><head><meta charset="iso-8859-1"></head>\xe9</html>')
    (tmp_path / "secret.txt").write_text("no")
    with LocalWeb(tmp_path) as local:
        headers = fetch(local.port, "GET", "old.test", "/latin.html")[1]
        assert headers["Content-Type"] == "text/html; charset=iso-8859-1"
        assert fetch(local.port, "GET", "old.test", "/../secret.txt")[0] == 404
        assert fetch(local.port, "GET", "old.test", "/%2e%2e/secret.txt")[0] == 404


def test_unknown_host_and_unknown_path(web):
    status, _, body = fetch(web.port, "GET", "nowhere.test", "/")
    assert status == 404
    assert b"No such host: nowhere.test" in body
    status, _, body = fetch(web.port, "GET", "blog.test", "/no-such-page.html")
    assert status == 404
    assert b"No such host" not in body
    assert fetch(web.port, "GET", "", "/")[0] == 404


# --- routes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("ok.test", "/page", 200),
        ("gone.test", "/404", 404),
        ("gone.test", "/410", 410),
        ("gone.test", "/anything-else", 404),
        ("error.test", "/500", 500),
        ("forbidden.test", "/", 403),
        ("auth.test", "/members", 401),
        ("botwall.test", "/", 999),
        ("shop.mysite.test", "/discontinued", 410),
        ("mysite.test", "/old-guide.html", 404),
    ],
)
def test_status_routes(web, host, path, status):
    assert fetch(web.port, "GET", host, path)[0] == status


def test_route_headers_and_body(web):
    status, headers, body = fetch(web.port, "GET", "auth.test", "/members")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="members"'
    assert b"401 Unauthorized" in body
    assert b"This page has been removed" in fetch(web.port, "GET", "gone.test", "/410")[2]


@pytest.mark.parametrize(("path", "head_status"), [("/head-405", 405), ("/head-404", 404)])
def test_head_differs_from_get(web, path, head_status):
    assert fetch(web.port, "HEAD", "nohead.test", path)[0] == head_status
    assert fetch(web.port, "GET", "nohead.test", path)[0] == 200


def test_head_never_sends_a_body(web):
    # On one keep-alive connection: a body after HEAD would corrupt the next response.
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    with contextlib.closing(conn):
        for host, path in [("big.test", "/1mb"), ("gone.test", "/410"), ("blog.test", "/")]:
            conn.request("HEAD", path, headers={"Host": host})
            response = conn.getresponse()
            assert response.read() == b""
            assert int(response.getheader("Content-Length")) > 0
        conn.request("GET", "/page", headers={"Host": "ok.test"})
        assert conn.getresponse().read().startswith(b"<!doctype html>")
    big = web.requests(host="big.test")
    assert [(r.method, r.status, r.bytes_sent) for r in big] == [("HEAD", 200, 0)]


def test_large_body(web):
    status, headers, body = fetch(web.port, "GET", "big.test", "/1mb")
    assert (status, len(body), headers["Content-Length"]) == (200, 1048576, "1048576")
    assert body.endswith(b"</html>\n")
    assert web.requests(host="big.test")[0].bytes_sent == 1048576
    assert fetch(web.port, "HEAD", "big.test", "/no-head")[0] == 405


@pytest.mark.parametrize(
    ("host", "path", "fail_status"),
    [("flaky.test", "/503-once", 503), ("ratelimit.test", "/429-once", 429)],
)
def test_fail_then_succeed(web, host, path, fail_status):
    status, headers, _ = fetch(web.port, "HEAD", host, path)
    assert (status, headers["Retry-After"]) == (fail_status, "1")
    assert fetch(web.port, "GET", host, path)[0] == 200
    assert fetch(web.port, "GET", host, path)[0] == 200
    web.reset_counters()
    assert fetch(web.port, "GET", host, path)[0] == fail_status
    web.reset()
    assert fetch(web.port, "GET", host, path)[0] == fail_status


def test_fail_counters_are_per_path():
    routes = {"a.test": {"/x/*": {"fail": {"times": 2, "status": 500}}}}
    with LocalWeb(WEB, routes=routes) as local:
        statuses = [fetch(local.port, "GET", "a.test", p)[0] for p in ["/x/1", "/x/2", "/x/1"]]
        assert statuses == [500, 500, 500]
        assert [fetch(local.port, "GET", "a.test", "/x/1")[0] for _ in range(2)] == [200, 200]
        assert fetch(local.port, "GET", "a.test", "/x/2")[0] == 500


@pytest.mark.parametrize(
    ("host", "path", "status", "location"),
    [
        ("moved.test", "/old", 301, "/new"),
        ("moved.test", "/to-404", 301, "http://gone.test/moved-away"),
        ("loop.test", "/a", 302, "/b"),
        ("loop.test", "/b", 302, "http://loop.test/a"),
        ("loop.test", "/self", 302, "/self"),
        ("chain.test", "/long/1", 302, "/long/2"),
        ("chain.test", "/long/24", 302, "/long/25"),
        ("chain.test", "/long/25", 302, "/final"),
        ("chain.test", "/short/3", 302, "/final"),
        ("mysite.test", "/moved", 301, "/guide.html"),
    ],
)
def test_redirects(web, host, path, status, location):
    got_status, headers, body = fetch(web.port, "GET", host, path)
    assert (got_status, headers["Location"]) == (status, location)
    assert location.encode() in body


@pytest.mark.parametrize("path", ["/long/0", "/long/26", "/short/4"])
def test_chain_out_of_range(web, path):
    assert fetch(web.port, "GET", "chain.test", path)[0] == 404


def test_wildcard_hosts_and_templates(web):
    status, _, body = fetch(web.port, "GET", "shop.Example.parked.test", "/any/where")
    assert status == 200
    assert b"<title>shop.example.parked.test - This domain may be for sale!" in body
    assert fetch(web.port, "GET", "parked.test", "/any")[0] == 404
    status, _, body = fetch(web.port, "GET", "soft404.test", "/<b>gone")
    assert status == 200
    assert b"Sorry, /&lt;b&gt;gone does not exist" in body
    assert b"Greenhouse Supply" in fetch(web.port, "GET", "soft404.test", "/")[2]


def test_year_template(tmp_path):
    # dated links derived from today: a page's calendar link never turns into a trap
    (tmp_path / "home.html").write_text("<a href='/calendar/{year}/'>calendar</a>")
    routes = {"d.test": {"/": {"file": "home.html"}, "/b": {"body": "{year}-{host}"}}}
    with LocalWeb(tmp_path, routes=routes) as local:
        year = datetime.now(UTC).year
        assert fetch(local.port, "GET", "d.test", "/")[2] == (
            f"<a href='/calendar/{year}/'>calendar</a>".encode()
        )
        assert fetch(local.port, "GET", "d.test", "/b")[2] == f"{year}-d.test".encode()


def test_pattern_order_and_catch_all(tmp_path):
    routes = {
        "*": {"default": {"status": 418}},
        "*.b.test": {"default": {"status": 201}},
        "*.a.b.test": {
            "/x/*": {"status": 202},
            "/x/{n}": {"status": 203},
            "/x/7": {"status": 204},
        },
    }
    with LocalWeb(tmp_path, routes=routes) as local:
        assert fetch(local.port, "GET", "z.a.b.test", "/x/7")[0] == 204
        assert fetch(local.port, "GET", "z.a.b.test", "/x/8")[0] == 202
        assert fetch(local.port, "GET", "z.a.b.test", "/y")[0] == 404
        assert fetch(local.port, "GET", "a.b.test", "/y")[0] == 201
        assert fetch(local.port, "GET", "b.test", "/")[0] == 418


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"a.test": {"/x": {"stauts": 404}}}, "unknown key 'stauts'"),
        ({"a.test": {"x": {}}}, "starts with '/'"),
        ({"a.test": {"/x": {"status": "404"}}}, "'status' must be"),
        ({"a.test": {"/x": {"status": 42}}}, "within 100-999"),
        ({"a.test": {"/x": {"body": "a", "file": "b"}}}, "only one of body, file"),
        ({"a.test": {"/x": {"chain": {"hops": 2, "to": "/"}}}}, "needs a path pattern"),
        ({"a.test": {"/x/{n}/*": {"chain": {"hops": 2, "to": "/"}}}}, "exactly one {n}"),
        ({"a.test": {"/x/{n}": {"chain": {"hops": 0, "to": "/"}}}}, "'chain' must be"),
        ({"a.test": {"/x": {"fail": {"times": 0}}}}, "'fail.times'"),
        ({"a.test": {"/x": {"head": {"times": 1}}}}, "unknown key 'times'"),
        ({"a.test": {"/x": {"hang": -1}}}, "'hang' must be"),
        ({"a.test": {"/x": {"headers": {"A": 1}}}}, "'headers' must be"),
        ({"a*.test": {}}, "host wildcards"),
        ({"a.test": []}, "object of path patterns"),
    ],
)
def test_bad_routes(routes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_routes(routes)


def test_routes_files_parse():
    for root in (WEB, WEB.parent.parent / "data" / "demo"):
        LocalWeb(root)  # parses routes.json; raises on any mistake


# --- hang, delay, stop -----------------------------------------------------------------


def test_hang_then_quick_stop(tmp_path):
    local = LocalWeb(tmp_path, routes={"hang.test": {"/never": {"hang": 30}}})
    local.start()
    try:
        with pytest.raises(TimeoutError):
            fetch(local.port, "GET", "hang.test", "/never", timeout=0.3)
        # the client gave up after 0.3 s: a busy machine's server may read the request later
        deadline = time.monotonic() + 30
        while not local.in_flight("hang.test") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert local.in_flight("hang.test") == 1
        [record] = local.requests(host="hang.test")
        assert (record.method, record.path, record.status) == ("GET", "/never", None)
    finally:
        local.stop()
    # the hang (30 s) still had its connection when stop() returned, unless stop closed it:
    # no wall-clock bound needed
    assert local.in_flight("hang.test") == 0
    with pytest.raises(ConnectionRefusedError):
        fetch(local.port, "GET", "hang.test", "/", timeout=1)


def test_hang_has_a_limit(tmp_path):
    routes = {"h.test": {"default": {"hang": 0.1}}}
    with (
        LocalWeb(tmp_path, routes=routes) as local,
        pytest.raises(http.client.RemoteDisconnected),
    ):
        fetch(local.port, "GET", "h.test", "/", timeout=5)


def test_stop_closes_idle_keep_alive_connections(tmp_path):
    local = LocalWeb(tmp_path, routes={"a.test": {"/": {}}})
    local.start()
    conn = http.client.HTTPConnection("127.0.0.1", local.port, timeout=5)
    with contextlib.closing(conn):
        conn.request("GET", "/", headers={"Host": "a.test"})
        assert conn.getresponse().read()
        local.stop()
        assert conn.sock.recv(1) == b""  # the server side is closed


def test_max_in_flight(tmp_path):
    # answers after 3 s (the test web's slow.test: 0.3 s): five client threads that a busy
    # machine starts a second apart still have their requests in flight together
    routes = {"slow.test": {"/maker-{n}": {"delay": 3}, "default": {"status": 404}}}
    with LocalWeb(tmp_path, routes=routes) as web:
        _max_in_flight(web)


def _max_in_flight(web: LocalWeb) -> None:
    def one(i):
        return fetch(web.port, "GET", "slow.test", f"/maker-{i}", timeout=60)[0]

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert list(pool.map(one, range(5))) == [200] * 5
    assert web.max_in_flight("slow.test") == 5
    assert web.in_flight("slow.test") == 0
    fetch(web.port, "GET", "slow.test", "/alone")
    assert web.max_in_flight("slow.test") == 5
    assert web.max_in_flight("blog.test") == 0
    # the client can have the whole answer a moment before the server's handler ends it
    deadline = time.monotonic() + 30
    while web.in_flight("slow.test") and time.monotonic() < deadline:
        time.sleep(0.01)
    web.reset()
    assert web.max_in_flight("slow.test") == 0
    fetch(web.port, "GET", "slow.test", "/alone")
    assert web.max_in_flight("slow.test") == 1


def test_request_log(web):
    fetch(web.port, "GET", "ok.test:80", "/page?utm=1", headers={"User-Agent": "probe/1"})
    fetch(web.port, "HEAD", "gone.test", "/404")
    first, second = web.requests()
    assert (first.method, first.host, first.path, first.query) == (
        "GET",
        "ok.test",
        "/page",
        "utm=1",
    )
    assert (first.status, first.headers["User-Agent"]) == (200, "probe/1")
    assert (second.method, second.status, second.bytes_sent) == ("HEAD", 404, 0)
    assert first.time <= second.time
    assert web.count(host="gone.test", method="HEAD") == 1
    assert web.count(path="/page") == 1


def test_tls_client_fails_at_once(web):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # an SSLError, not the socket's TimeoutError: the server answered at once
    with (
        socket.create_connection(("127.0.0.1", web.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw, server_hostname="tls.test")
    assert [r.method for r in web.requests()] == ["TLS"]


def test_unused_port_refuses():
    port = unused_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_refusing_socket_refuses_and_keeps_its_port():
    with refusing_socket() as sock:
        port = sock.getsockname()[1]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # nobody else can bind the port meanwhile: a server started beside it cannot answer
        with socket.socket() as other, pytest.raises(OSError, match="in use"):
            other.bind(("127.0.0.1", port))


def test_context_manager_and_base(tmp_path):
    local = LocalWeb(tmp_path)
    assert local.port == 0
    with local:
        assert local.port > 0
        assert local.base == f"http://127.0.0.1:{local.port}"
        name = f"localweb-{local.port}"
        assert name in {thread.name for thread in threading.enumerate()}
    assert name not in {thread.name for thread in threading.enumerate()}
    local.stop()  # a second stop is harmless


@pytest.mark.e2e
def test_command_line_serves_until_killed():
    process = subprocess.Popen(
        [sys.executable, "-m", "brokenlinks.testing.localweb", str(WEB)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=WEB.parent.parent,
    )
    with process:
        try:
            base = process.stdout.readline().strip()
            port = urlsplit(base).port
            assert base == f"http://127.0.0.1:{port}"
            assert fetch(port, "GET", "ok.test", "/page")[0] == 200
        finally:
            process.terminate()
        assert process.wait(timeout=5) == 0


# --- expected.json against the pages and the server -------------------------------------


def _page_url(path):
    rel = path.relative_to(WEB)
    rest = "/".join(rel.parts[1:])
    if rest == "index.html" or rest.endswith("/index.html"):
        rest = rest[: -len("index.html")]
    return f"http://{rel.parts[0]}/{rest}"


_REFRESH = re.compile(r"""^\s*[\d.]+\s*[;,]\s*(?:url\s*=\s*)?['"]?([^'"]+)""", re.IGNORECASE)


def _links(path, url):
    """(href, element) of every link, as lxml sees it, without same-document links.

    The target of a ``<meta http-equiv="refresh">`` is a link too (issue 11).
    """
    tree = lxml_html.fromstring(path.read_bytes())
    bases = tree.xpath("//base[@href]/@href")
    base = resolve_href(bases[0], url) if bases else url
    for element in tree.xpath("//a[@href] | //area[@href] | //meta[@http-equiv][@content]"):
        if element.tag == "meta":
            found = _REFRESH.match(element.get("content"))
            if element.get("http-equiv").lower() != "refresh" or found is None:
                continue
            yield found.group(1).strip(), element, base
            continue
        href = element.get("href")
        if href.strip(" \t\n\r\f").startswith("#") or not href.strip():
            continue
        yield href, element, base


def _text(element):
    if element.tag == "meta":
        return ""
    if element.tag == "area":
        return element.get("alt", "")
    parts = [element.text or ""]
    for child in element:
        parts.append(child.get("alt", "") if child.tag == "img" else child.text_content())
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


REFERRING = sorted(path for path in WEB.rglob("*.html") if "template" not in path.name)


@pytest.mark.parametrize("path", REFERRING, ids=lambda p: str(p.relative_to(WEB)))
def test_expected_lists_every_link(path):
    url = _page_url(path)
    links = list(_links(path, url))
    if not links:
        assert url not in EXPECTED
        return
    # links a script inserts are not in the HTML (they are listed for the crawls to find)
    entries = [e for e in EXPECTED[url] if not e.get("script")]
    assert [e["href"] for e in entries] == [href for href, _, _ in links]
    for entry, (href, element, base) in zip(entries, links, strict=True):
        assert entry["target_url"] == resolve_href(href, base)
        assert entry["anchor_text"] == _text(element)
        rel = (element.get("rel") or "").lower().split()
        assert entry["rel"] == rel
        assert entry["follow"] is not bool({"nofollow", "sponsored", "ugc"} & set(rel))
        assert entry["position"] in {"content", "nav", "header", "footer", "aside"}
        assert entry["kind"] in {"alive", "dead", "blocked", "skipped", "unchecked"}
        if entry["kind"] == "alive":
            assert entry["reason"] == "ok"


def test_expected_pages_exist():
    urls = {_page_url(path) for path in REFERRING}
    assert set(EXPECTED) <= urls
    assert {"http://blog.test/resources.html", "http://news.test/article.html"} <= set(EXPECTED)


def _targets(kinds, reasons=None):
    seen = {}
    for entries in EXPECTED.values():
        for entry in entries:
            url = entry["target_url"]
            if (
                entry["kind"] in kinds
                and (reasons is None or entry["reason"] in reasons)
                and url is not None
                and is_http(url)
            ):
                seen[url] = entry
    # slow.test answers every path alike after 0.3 s: one of its 24 targets is enough
    slow = sorted(url for url in seen if urlsplit(url).hostname == "slow.test")
    return [pytest.param(url, seen[url], id=url) for url in sorted(seen) if url not in slow[1:]]


def _follow(port, url, method="GET"):
    """Follow redirects like the checker (third visit of a URL = loop, >20 hops = too many)."""
    visits = {url: 1}
    hops = 0
    while True:
        parts = urlsplit(url)
        for _attempt in range(2):  # one retry, as after a 503 or 429
            status, headers, _ = fetch(port, method, parts.hostname, parts.path or "/")
            if status not in {429, 503}:
                break
        if status in {301, 302, 303, 307, 308} and "Location" in headers:
            url = resolve_href(headers["Location"], url)
            if not is_http(url):  # a redirect off the web ends there (issue 11)
                return "answer", status, url
            hops += 1
            visits[url] = visits.get(url, 0) + 1
            if visits[url] >= 3 or hops > 20:
                return "loop", status, url
            continue
        return "answer", status, url


@pytest.mark.parametrize(
    ("url", "entry"), _targets({"alive", "dead", "blocked"}, {"ok", "http_status"})
)
def test_expected_http_outcomes(web, url, entry):
    outcome, status, final_url = _follow(web.port, url)
    assert (outcome, status, final_url) == ("answer", entry["status"], entry["final_url"])


@pytest.mark.parametrize(("url", "entry"), _targets({"dead"}, {"redirect_loop"}))
def test_expected_redirect_loops(web, url, entry):
    assert _follow(web.port, url) == ("loop", entry["status"], entry["final_url"])


@pytest.mark.parametrize(("url", "entry"), _targets({"unchecked"}))
def test_internal_targets_exist(web, url, entry):
    assert _follow(web.port, url)[1] == 200


def test_expected_network_failures_are_not_served(web):
    hosts = {urlsplit(p.values[0]).hostname for p in _targets({"dead", "skipped"})}
    assert {"expired-domain.invalid", "refused.test", "hang.test", "tls.test"} <= hosts
    routes = json.loads((WEB / "routes.json").read_text())
    assert "refused.test" not in routes
    assert not (WEB / "refused.test").exists()
    assert routes["hang.test"]["/never"]["hang"] >= 10


def test_chunked_answers(web):
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
    with contextlib.closing(conn):
        conn.request("GET", "/page", headers={"Host": "chunked.test"})
        response = conn.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Length") is None
        assert b"Allotment rules" in response.read()
    status, headers, body = fetch(web.port, "GET", "chunked.test", "/photo.png")
    assert (status, headers["Content-Type"], len(body)) == (200, "image/png", 2_000_000)
    assert fetch(web.port, "GET", "chunked.test", "/anything")[0] == 404
    with pytest.raises(ValueError, match="'chunked' must be true or false"):
        parse_routes({"a.test": {"/x": {"chunked": "yes"}}})
