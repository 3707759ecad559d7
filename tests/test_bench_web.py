"""Smoke test of the benchmark's generated web (``benchmarks/bigweb.py``): consistent, served as described.

The benchmark itself (``benchmarks/bench.py``) is not a test; this only checks that the web
it measures on says what its truth says.
"""

from __future__ import annotations

import http.client
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bigweb


@pytest.fixture(scope="module")
def small_web():
    port = bigweb.free_port(hosts=20)
    web = bigweb.generate(0.05, port=port, hosts=20, timeout=1.0, latency_ms=(1, 3))
    server = bigweb.BigWebServer(web)
    server.start()
    yield web, server
    server.stop()


def test_generated_web_is_consistent():
    web = bigweb.generate(0.25, port=8000)
    assert len(web.pages) == 500
    assert len(web.targets) == 1000
    assert len({h.address for h in web.hosts}) == 200
    linked = {t.url for p in web.pages for t in p.links}
    assert linked == {t.url for t in web.targets}, "every target is linked at least once"
    for page in web.pages:
        assert len({t.url for t in page.links}) == len(page.links), "no duplicate on a page"
        assert all(t.host is not page.host for t in page.links), "every link is outbound"
    kinds = Counter(t.kind for t in web.targets)
    assert set(kinds) == set(bigweb.Kind), "every behaviour is present"
    assert web.dead_targets() == {t.url for t in web.targets if t.kind.dead}
    assert len(web.dead_occurrences()) == sum(1 for p in web.pages for t in p.links if t.kind.dead)
    assert web == bigweb.generate(0.25, port=8000), "deterministic"


def test_politeness_bound_components():
    web = bigweb.generate(0.25, port=8000, timeout=7.0)
    bound = web.politeness_bound(8, 128)
    assert bound["longest_chain"] == 7.0  # a hang costs the timeout
    assert bound["bound"] == max(
        bound["sum_over_total"], bound["worst_host_over_per_host"], bound["longest_chain"]
    )
    assert bound["sum_over_total"] > 0
    assert bound["worst_host_over_per_host"] > 0


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, "/" + path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("kind", "head", "get"),
    [
        (bigweb.Kind.OK, 200, 200),
        (bigweb.Kind.NOT_FOUND, 404, 404),
        (bigweb.Kind.GONE, 410, 410),
        (bigweb.Kind.ERROR, 500, 500),
        (bigweb.Kind.HEAD_405, 405, 200),
        (bigweb.Kind.REDIRECT, 301, 301),
        (bigweb.Kind.LOOP, 301, 301),
    ],
)
def test_served_as_described(small_web, kind, head, get):
    web, _ = small_web
    target = next(t for t in web.targets if t.kind is kind)
    assert _get(target.url, "HEAD")[0] == head
    status, headers, _ = _get(target.url)
    assert status == get
    if kind in {bigweb.Kind.REDIRECT, bigweb.Kind.LOOP}:
        origin = target.url.removesuffix(target.path)
        moved, again, _ = _get(origin + headers["Location"])
        if kind is bigweb.Kind.REDIRECT:
            assert moved == 200
        else:
            assert (moved, again["Location"]) == (301, target.path)


def test_pages_link_their_targets_and_the_dead_fail(small_web):
    web, server = small_web
    page = web.pages[0]
    status, _, body = _get(page.url)
    assert status == 200
    assert all(t.url.encode() in body for t in page.links)
    refused = next(t for t in web.targets if t.kind is bigweb.Kind.REFUSED)
    with pytest.raises(ConnectionRefusedError):
        _get(refused.url)
    hang = next(t for t in web.targets if t.kind is bigweb.Kind.HANG)
    assert hang.host is not None
    conn = http.client.HTTPConnection(hang.host.address, web.port, timeout=1.0)
    try:
        conn.request("GET", hang.path)
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    assert max(server.max_in_flight.values()) >= 1
