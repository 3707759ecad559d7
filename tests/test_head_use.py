"""HEAD where it settles checks, GET first where it never does (``checks.HeadUse``).

Three families of hosts, each linked many times from one referring page:

- a host that refuses HEAD (405 with ``Allow: GET``; seen on Amazon, many CDNs and web
  application firewalls): every HEAD is followed by a GET, so after
  ``HEAD_WASTED_LIMIT`` such HEADs its checks start with GET;
- a catch-all host (unknown paths answer 200 with a not-found template: soft-404 sites,
  parked domains): once its probe has answered 200, no HEAD there can settle a check, so
  the rest start with GET;
- an honest host (unknown paths 404, pages 200): a 2xx HEAD settles the check, and HEAD
  stays.

Verdicts are the same either way (every target alive); what changes is the server's
count of HEAD requests. With ``CONCURRENT_REQUESTS_PER_DOMAIN = 1`` the counts are exact;
with 8, the checks wait in the checker's host gate (``checks.HostGates``) and choose
their method when a place frees, so a page's forty links to one host are not all queued
as HEAD before the host's first answer.
"""

from __future__ import annotations

import asyncio

import pytest
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f

from brokenlinks.checker.checks import HEAD_WASTED_LIMIT, HostGates
from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import NO_LAG_CONTROL, run_crawl, write_seeds

HOSTS = ("nohead.test", "catchall.test", "honest.test")


def _page(n: int, host: str) -> str:
    return (
        f"<!doctype html><html><head><title>Guide {n} on {host}</title></head><body><main>"
        f"<h1>Guide number {n}</h1><p>{'Seed saving and soil notes. ' * (n + 3)}</p>"
        "</main></body></html>"
    )


def _routes(links: int) -> dict[str, dict[str, object]]:
    anchors = "".join(
        f'<li><a href="http://{host}/guide-{n}">guide {n} on {host}</a></li>'
        for host in HOSTS
        for n in range(links)
    )
    pages = {f"/guide-{n}": n for n in range(links)}
    return {
        "refs.test": {
            "/robots.txt": {"status": 404},
            "/links.html": {
                "body": f"<html><head><title>Links</title></head><body><main><ul>{anchors}"
                "</ul></main></body></html>"
            },
        },
        "nohead.test": {
            **{
                path: {
                    "body": _page(n, "nohead.test"),
                    "head": {"status": 405, "headers": {"Allow": "GET"}},
                }
                for path, n in pages.items()
            },
            "default": {"status": 404},
        },
        "catchall.test": {
            **{path: {"body": _page(n, "catchall.test")} for path, n in pages.items()},
            "default": {
                "body": "<!doctype html><html><head><title>Sorry, this page could not be found"
                "</title></head><body><h1>Page not found</h1><p>Try the search.</p></body></html>"
            },
        },
        "honest.test": {
            **{path: {"body": _page(n, "honest.test")} for path, n in pages.items()},
            "default": {"status": 404},
        },
    }


def _crawl(tmp_path, links: int, per_host: int):
    with LocalWeb(tmp_path, routes=_routes(links)) as web:
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(write_seeds(tmp_path, ["http://refs.test/links.html"]))},
            settings={"CONCURRENT_REQUESTS_PER_DOMAIN": per_host, **NO_LAG_CONTROL},
        )
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = {row["url"]: row["kind"] for row in result.rows["targets"]}
    for host in HOSTS:
        for n in range(links):
            assert kinds[f"http://{host}/guide-{n}"] == "alive", (host, n)
    assert not result.items  # no dead link: no prospect
    heads = {
        host: sum(
            1
            for r in log
            if r.host == host and r.method == "HEAD" and r.path.startswith("/guide-")
        )
        for host in HOSTS
    }
    gets = {
        host: sum(
            1 for r in log if r.host == host and r.method == "GET" and r.path.startswith("/guide-")
        )
        for host in HOSTS
    }
    return result, heads, gets


@pytest.mark.e2e
def test_one_place_per_host_counts_are_exact(tmp_path):
    links = 10
    result, heads, gets = _crawl(tmp_path, links, per_host=1)
    # refused HEAD: the first three are followed by GET, then GET only
    assert heads["nohead.test"] == HEAD_WASTED_LIMIT
    assert gets["nohead.test"] == links
    # catch-all: the first HEAD (200) sends the probe (200: not honest); the next checks
    # wait for its answer, then GET only
    assert heads["catchall.test"] == 1
    assert gets["catchall.test"] == links
    # honest: every 2xx HEAD settles its check
    assert heads["honest.test"] == links
    assert gets["honest.test"] == 0
    assert result.stats["brokenlinks/hosts/get_first"] == 1  # nohead.test, by count


@pytest.mark.e2e
def test_checks_choose_their_method_when_a_place_frees(tmp_path):
    links, per_host = 40, 8
    _, heads, gets = _crawl(tmp_path, links, per_host=per_host)
    # at most the first wave, and the places freed before the host had taught enough
    assert heads["nohead.test"] <= per_host + HEAD_WASTED_LIMIT - 1
    assert heads["catchall.test"] <= per_host
    assert heads["honest.test"] == links
    assert gets["nohead.test"] == gets["catchall.test"] == links
    assert gets["honest.test"] == 0


@deferred_f_from_coro_f
async def test_host_gates_hold_at_most_size_and_forget_idle_hosts():
    gates = HostGates(3)
    inside = most = 0

    async def check() -> None:
        nonlocal inside, most
        async with gates.place("a.test"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    waiting = asyncio.gather(*(check() for _ in range(10)))
    await asyncio.sleep(0.001)  # the checks start; three get in, seven wait
    assert len(gates) == 1
    assert most == 3
    # a check cancelled while it waits for a place gives its turn back
    cancelled = asyncio.ensure_future(check())
    await asyncio.sleep(0.001)
    cancelled.cancel()
    await waiting
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert most == 3
    assert len(gates) == 0  # no gate kept for a host nobody checks now


def test_host_gates_take_the_download_slots_concurrency():
    gates = HostGates.from_settings(
        Settings(
            {
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
                "DOWNLOAD_SLOTS": {"big.test": {"concurrency": 16}, "held.test": {"delay": 2}},
            }
        )
    )
    assert (gates.size, gates.sizes) == (8, {"big.test": 16})
