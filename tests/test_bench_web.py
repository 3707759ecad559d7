"""Smoke test of the benchmark's generated web (``benchmarks/bigweb.py``): consistent, served as described.

The benchmark itself (``benchmarks/bench.py``) is not a test; this checks that the web it
measures on has the mix it says it has and that every host and target answers as its
truth says.
"""

from __future__ import annotations

import gzip
import http.client
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench
import bigweb
from bigweb import Behaviour, Kind


@pytest.fixture(scope="module")
def small_web():
    port = bigweb.free_port(hosts=20)
    web = bigweb.generate(
        0.05, port=port, hosts=20, timeout=1.0, latency_ms=(1, 3), slow_ms=(5, 10)
    )
    server = bigweb.BigWebServer(web)
    server.start()
    yield web, server
    server.stop()


def test_generated_web_is_consistent():
    web = bigweb.generate(0.25, port=8000)
    assert len(web.pages) == 500
    assert len(web.targets) == 2000
    assert len({h.address for h in web.hosts}) == 400
    linked = {t.url for p in web.pages for t in p.links}
    assert linked == {t.url for t in web.targets}, "every target is linked at least once"
    for page in web.pages:
        assert len({t.url for t in page.links}) == len(page.links), "no duplicate on a page"
        assert all(t.host is not page.host for t in page.links), "every link is outbound"
        origin = page.url.removesuffix(page.path)
        assert all(u.startswith(origin + "/") for u in page.internal), "internal: same host"
        assert page.host.behaviour.serves_site, "referring pages live on live sites"
    kinds = Counter(t.kind for t in web.targets)
    assert set(kinds) == set(Kind), "every kind of target is present"
    for target in web.targets:
        if target.host is not None and target.host.behaviour is Behaviour.PARKED:
            assert target.kind is Kind.PARKED
        if target.host is not None and target.host.behaviour is Behaviour.BOT_WALL:
            assert target.kind is Kind.WALLED
    assert web.dead_targets() == {t.url for t in web.targets if t.kind.dead}
    assert Kind.PARKED.dead
    assert not Kind.WALLED.dead
    assert Kind.MISSING.dead
    assert len(web.dead_occurrences()) == sum(1 for p in web.pages for t in p.links if t.kind.dead)
    assert web == bigweb.generate(0.25, port=8000), "deterministic"
    assert web != bigweb.generate(0.25, port=8000, seed=8), "the seed matters"


def test_the_mix_is_the_documented_one():
    web = bigweb.generate(1, port=8000)
    n = len(web.hosts)
    behaviours = Counter(h.behaviour.value for h in web.hosts)
    for name, share in bigweb.BEHAVIOUR_SHARES.items():
        assert behaviours[name] / n == pytest.approx(share, abs=0.01), name
    assert sum(h.head_refused for h in web.hosts) / n == pytest.approx(0.06, abs=0.01)
    assert sum(h.slow for h in web.hosts) / n == pytest.approx(0.05, abs=0.01)
    assert sum(h.gzip for h in web.hosts) / n == pytest.approx(0.6, abs=0.01)
    slow = [h.latency for h in web.hosts if h.slow]
    assert min(slow) >= 0.3
    assert max(slow) <= 1.5
    assert all(0.02 <= h.latency <= 0.08 for h in web.hosts if not h.slow)
    links = [len(p.links) + len(p.internal) for p in web.pages]
    assert min(links) >= 30
    assert max(links) <= 80
    assert 50 <= sum(links) / len(links) <= 60, "uniform over 30-80"
    internal = sum(len(p.internal) for p in web.pages) / sum(links)
    assert 0.1 <= internal <= 0.2, "navigation and related posts"
    # targets on hosts that answer unknown paths with something else than a 404
    missing = [t for t in web.targets if t.kind is Kind.MISSING]
    soft = [t for t in missing if t.host is not None and t.host.behaviour is not Behaviour.HONEST]
    assert 0.2 <= len(soft) / len(missing) <= 0.5
    table = bench.mix_table(web)
    assert "| soft404_title | 32 | 8% |" in table
    assert "| trait: gzip | 240 | 60% |" in table


def test_politeness_bound_components():
    web = bigweb.generate(0.25, port=8000, timeout=7.0)
    bound = web.politeness_bound(8, 128)
    assert bound["longest_chain"] == 7.0  # a hang costs the timeout
    assert bound["bound"] == max(
        bound["sum_over_total"], bound["worst_host_over_per_host"], bound["longest_chain"]
    )
    assert bound["sum_over_total"] > 0
    assert bound["worst_host_over_per_host"] > 0


def test_f1():
    assert bench.f1({"a", "b"}, {"a", "b"}) == 1.0
    assert bench.f1({"a", "c"}, {"a", "b"}) == 0.5
    assert bench.f1(set(), {"a"}) == 0.0


def _get(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, "/" + path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _target(web: bigweb.Web, kind: Kind, behaviour: Behaviour | None = None) -> bigweb.Target:
    return next(
        t
        for t in web.targets
        if t.kind is kind
        and (t.host is None or not t.host.head_refused)
        and (behaviour is None or (t.host is not None and t.host.behaviour is behaviour))
    )


@pytest.mark.parametrize(
    ("kind", "head", "get"),
    [
        (Kind.OK, 200, 200),
        (Kind.GONE, 410, 410),
        (Kind.ERROR, 500, 500),
        (Kind.REDIRECT, 301, 301),
        (Kind.LOOP, 301, 301),
        (Kind.PARKED, 200, 200),
        (Kind.WALLED, 403, 403),
    ],
)
def test_served_as_described(small_web, kind, head, get):
    web, _ = small_web
    target = _target(web, kind)
    assert _get(target.url, "HEAD")[0] == head
    status, headers, body = _get(target.url)
    assert status == get
    if kind in {Kind.REDIRECT, Kind.LOOP}:
        origin = target.url.removesuffix(target.path)
        moved, again, _ = _get(origin + headers["Location"])
        if kind is Kind.REDIRECT:
            assert moved == 200
        else:
            assert (moved, again["Location"]) == (301, target.path)
    if kind is Kind.PARKED:
        assert b"sedoParkingUrl" in body
    if kind is Kind.WALLED:
        assert headers["cf-mitigated"] == "challenge"
        assert b"_cf_chl_opt" in body


@pytest.mark.parametrize(
    ("behaviour", "status", "location", "says"),
    [
        (Behaviour.HONEST, 404, None, b"Not found"),
        (Behaviour.SOFT404_TITLE, 200, None, b"<title>Page not found | Site"),
        (Behaviour.SOFT404_TEMPLATE, 200, None, b"Browse our latest articles"),
        (Behaviour.REDIRECT_HOME, 302, "/", b""),
        (Behaviour.REDIRECT_SEARCH, 302, "/search?q=", b""),
    ],
)
def test_unknown_paths_answered_by_behaviour(small_web, behaviour, status, location, says):
    web, _ = small_web
    host = next(h for h in web.hosts if h.behaviour is behaviour)
    origin = f"http://{host.address}:{web.port}"
    # a missing target, and a path nobody links to, get the same kind of answer
    for path in ("/no-such-page-zq7x", "/another/unknown"):
        got, headers, body = _get(origin + path)
        assert got == status
        if location is not None:
            assert headers["Location"].startswith(location)
            landing, _, _ = _get(origin + headers["Location"])
            assert landing == 200
        assert says in body
    # while its own pages and navigation are there
    for nav in bigweb.NAV_PATHS:
        assert _get(origin + nav)[0] == 200


def test_template_pages_differ_from_real_ones(small_web):
    web, _ = small_web
    host = next(h for h in web.hosts if h.behaviour is Behaviour.SOFT404_TEMPLATE)
    origin = f"http://{host.address}:{web.port}"
    one = _get(origin + "/gone-a")[2]
    two = _get(origin + "/gone-b")[2]
    assert one.replace(b"gone-a", b"") == two.replace(b"gone-b", b""), "one template"
    ok = next(t for t in web.targets if t.kind is Kind.OK and t.host is not None)
    assert _get(ok.url)[2] != _get(ok.url.rsplit("/", 1)[0] + "/other")[2]


def test_host_traits(small_web):
    web, _ = small_web
    refusing = next(h for h in web.hosts if h.head_refused)
    origin = f"http://{refusing.address}:{web.port}"
    assert _get(origin + "/", "HEAD")[0] == 405
    assert _get(origin + "/")[0] in {200, 403}, "GET is answered: a site, a lander or a wall"
    zipped = next(h for h in web.hosts if h.gzip and h.behaviour.serves_site)
    url = f"http://{zipped.address}:{web.port}/about/"
    status, headers, body = _get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    plain = _get(url)
    assert "Content-Encoding" not in plain[1]
    assert gzip.decompress(body) == plain[2]
    assert int(headers["Content-Length"]) == len(body)


def test_pages_link_their_targets_and_the_dead_fail(small_web):
    web, server = small_web
    page = web.pages[0]
    status, _, body = _get(page.url)
    assert status == 200
    assert all(t.url.encode() in body for t in page.links)
    origin = page.url.removesuffix(page.path)
    assert all(f"href='{u.removeprefix(origin)}'".encode() in body for u in page.internal)
    assert 30 <= len(page.links) + len(page.internal) <= 80
    refused = next(t for t in web.targets if t.kind is Kind.REFUSED)
    with pytest.raises(ConnectionRefusedError):
        _get(refused.url)
    hang = next(t for t in web.targets if t.kind is Kind.HANG)
    assert hang.host is not None
    conn = http.client.HTTPConnection(hang.host.address, web.port, timeout=1.0)
    try:
        conn.request("GET", hang.path)
        with pytest.raises(TimeoutError):
            conn.getresponse()
    finally:
        conn.close()
    assert max(server.max_in_flight.values()) >= 1
    assert server.methods["GET"] >= 1
