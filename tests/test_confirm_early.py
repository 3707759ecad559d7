"""Early confirmation: a transient failure is checked again during the crawl, alone on its host.

The confirmation pass waits for the whole crawl to be quiet, and the pages linking to a
target that waits hold the scraper meanwhile. A target is confirmed early instead, once
``BROKENLINKS_CONFIRM_DELAY`` has passed, its host and the host's address have nothing
of the crawl in flight, and the event loop keeps up. A failure the network could have
made (a timeout) is final only when the host answered a control request sent with it;
otherwise the target still waits for the quiet pass.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from brokenlinks.checker.checks import HostGates, LinkChecker
from brokenlinks.checker.verdicts import Kind, Reason, Verdict
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.net.downloader import PoliteDownloader
from brokenlinks.testing.localweb import LocalWeb
from brokenlinks.testing.routes import linking_page
from tests.conftest import run_crawl, write_seeds

#: seconds the slow referring page takes: the crawl is not quiet before it is answered
SLOW = 6

BUSY_ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "/a.html": linking_page(
            "A",
            [
                "http://flaky.test/p",
                "http://down.test/p",
                "http://refused.test/p",
                "http://ok.test/p",
            ],
        ),
        "/slow.html": {**linking_page("Slow", ["http://ok.test/q"]), "delay": SLOW},
    },
    # HEAD and GET fail, the early check gets the page
    "flaky.test": {
        "/p": {"body": "<title>Busy page</title>", "fail": {"times": 2, "status": 503}},
        "default": {"status": 404},
    },
    "down.test": {"/p": {"status": 500}, "default": {"status": 404}},
    "ok.test": {
        "/p": {"body": "<title>ok</title>"},
        "/q": {"body": "<title>q</title>"},
        "default": {"status": 404},
    },
}

SETTINGS = {
    "DOWNLOAD_TIMEOUT": 15,
    # checks in the crawl process: the slow page keeps their downloader busy
    "BROKENLINKS_CHECK_SHARDS": 1,
    "BROKENLINKS_CONFIRM_DELAY": 0.5,
}


@pytest.mark.e2e
def test_targets_are_confirmed_while_the_crawl_goes_on(tmp_path):
    with LocalWeb(tmp_path, routes=BUSY_ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/slow.html", "http://pages.test/a.html"])
        result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings=SETTINGS)
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = {
        row["url"]: (row["kind"], row["reason"], row["status"]) for row in result.rows["targets"]
    }
    assert kinds["http://flaky.test/p"] == ("alive", "ok", 200)
    assert kinds["http://down.test/p"] == ("dead", "http_status", 500)
    assert kinds["http://refused.test/p"][:2] == ("dead", "connection")
    stats = result.stats
    assert stats["brokenlinks/confirm/queued"] == 3
    assert stats["brokenlinks/confirm/early"] == 3
    assert stats["brokenlinks/confirm/confirmed"] == 2
    assert stats["brokenlinks/confirm/overturned"] == 1
    # none needed the quiet pass, and none was made to wait for the slow page
    assert "brokenlinks/confirm/passes" not in stats
    (slow,) = [r for r in log if r.path == "/slow.html"]
    down = [r for r in log if r.host == "down.test" and r.path == "/p"]
    flaky = [r for r in log if r.host == "flaky.test" and r.path == "/p"]
    assert [r.method for r in down] == ["HEAD", "GET", "HEAD", "GET"]
    assert [r.method for r in flaky] == ["HEAD", "GET", "HEAD"]
    for again in (down[2], flaky[2]):
        assert again.time < slow.time + SLOW - 1
        assert again.time - down[0].time >= SETTINGS["BROKENLINKS_CONFIRM_DELAY"]
    # no control request: a 5xx and a refusal are the host's own answers
    assert not [r for r in log if r.host in {"down.test", "flaky.test"} and r.path == "/"]
    assert "checked again (transient failures): 3, confirmed dead 2, came back 1" in result.stderr


HANG_ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "/a.html": linking_page(
            "A", ["http://hang.test/never", "http://stuck.test/x", "http://stuck.test/y"]
        ),
    },
    # one URL hangs, the host answers the rest
    "hang.test": {"/never": {"hang": 30}, "default": {"status": 404}},
    # everything hangs: the network or the host, not the URL
    "stuck.test": {"default": {"hang": 30}},
}


@pytest.mark.e2e
def test_a_timeout_is_final_early_only_where_the_host_answers(tmp_path):
    with LocalWeb(tmp_path, routes=HANG_ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/a.html"])
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(seeds)},
            settings={"BROKENLINKS_CHECK_SHARDS": 1, "BROKENLINKS_CONFIRM_DELAY": 0},
        )
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = {row["url"]: (row["kind"], row["reason"]) for row in result.rows["targets"]}
    assert kinds["http://hang.test/never"] == ("dead", "timeout")
    assert kinds["http://stuck.test/x"] == ("dead", "timeout")
    assert kinds["http://stuck.test/y"] == ("dead", "timeout")

    def paths(host: str) -> list[str]:
        return [f"{r.method} {r.path}" for r in log if r.host == host]

    # the first check, the early one with its control request (answered: final)
    assert sorted(paths("hang.test")) == ["HEAD /", "HEAD /never", "HEAD /never"]
    # the control request hung too: the quiet pass checked the target a third time, and
    # the host's other target was left to the pass at once (one timeout less)
    stuck = Counter(paths("stuck.test"))
    assert stuck["HEAD /"] == 1
    assert sorted([stuck["HEAD /x"], stuck["HEAD /y"]]) == [2, 3]
    stats = result.stats
    assert stats["brokenlinks/confirm/early"] == 2
    assert stats["brokenlinks/confirm/left_to_pass"] == 1
    assert stats["brokenlinks/confirm/passes"] == 1
    assert stats["brokenlinks/confirm/confirmed"] == 3


@pytest.mark.e2e
def test_early_confirmation_can_be_turned_off(tmp_path):
    with LocalWeb(tmp_path, routes=BUSY_ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/slow.html", "http://pages.test/a.html"])
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(seeds)},
            settings={**SETTINGS, "BROKENLINKS_CONFIRM_EARLY": False},
        )
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "brokenlinks/confirm/early" not in result.stats
    assert result.stats["brokenlinks/confirm/passes"] == 1
    (slow,) = [r for r in log if r.path == "/slow.html"]
    down = [r for r in log if r.host == "down.test" and r.path == "/p"]
    assert down[2].time > slow.time + SLOW - 1  # the pass waited for the slow page


# -- the choice of what is confirmed now, on its own ------------------------------------------


def _checker(**settings: Any) -> tuple[LinkChecker, list[str]]:
    crawler = get_crawler(settings_dict=settings)
    checker = LinkChecker(crawler, BrokenlinksConfig.from_settings(crawler.settings))
    started: list[str] = []

    async def confirm(url: str, host: str, entry: Any, release: Any) -> None:
        started.append(url)
        release()

    checker._confirm_early = confirm  # type: ignore[method-assign]
    return checker, started


def _wait(checker: LinkChecker, *urls: str, due: float = 0.0) -> None:
    loop = asyncio.get_running_loop()
    for url in urls:
        first = Verdict(Kind.DEAD, Reason.HTTP_STATUS, 500)
        checker._unconfirmed[url] = (first, loop.create_future())
        checker._early[url] = due


def _engine(slots: dict[str, int], downloader: Any = None) -> Any:
    if downloader is None:
        downloader = SimpleNamespace()
    downloader.slots = {
        key: SimpleNamespace(active=set(range(active))) for key, active in slots.items()
    }
    return SimpleNamespace(downloader=downloader)


@deferred_f_from_coro_f
async def test_busy_hosts_and_their_addresses_wait():
    checker, started = _checker()
    checker.crawler.engine = _engine({"busy.test": 1, "idle.test": 0})
    checker._addresses = {"busy.test": "192.0.2.1", "shared.test": "192.0.2.1"}
    _wait(
        checker,
        "http://busy.test/a",
        "http://shared.test/a",
        "http://idle.test/a",
        "http://free.test/a",
        "http://free.test/b",
    )
    checker._start_early(now=1.0)
    await asyncio.sleep(0)
    # free.test's second target waits for its first: one check of a host at a time
    assert started == ["http://idle.test/a", "http://free.test/a"]
    assert set(checker._early) == {
        "http://busy.test/a",
        "http://shared.test/a",
        "http://free.test/b",
    }
    # a host with a check in its gate is busy too
    checker.crawler.engine = _engine({})
    async with checker._gates.place("free.test"):
        checker._start_early(now=1.0)
        await asyncio.sleep(0)
    assert "http://free.test/b" not in started
    assert "http://busy.test/a" in started


@deferred_f_from_coro_f
async def test_nothing_is_confirmed_before_its_time_or_while_the_loop_lags():
    checker, started = _checker()
    checker.crawler.engine = _engine({})
    _wait(checker, "http://early.test/a", due=5.0)
    checker._start_early(now=4.9)
    await asyncio.sleep(0)
    assert started == []
    downloader = PoliteDownloader.__new__(PoliteDownloader)
    downloader.total_concurrency, downloader.budget = 128, 64
    checker.crawler.engine = _engine({}, downloader)
    assert not checker._keeping_up()  # the lag monitor has halved the budget
    downloader.budget = 128
    assert checker._keeping_up()


@deferred_f_from_coro_f
async def test_a_host_held_alone_makes_its_checks_wait():
    gates = HostGates(2)
    entered: list[str] = []

    async def check(name: str) -> None:
        async with gates.place("h.test"):
            entered.append(name)

    release = gates.hold("h.test")
    waiting = asyncio.ensure_future(check("a"))
    await asyncio.sleep(0.01)
    assert entered == []
    with pytest.raises(RuntimeError, match=r"h\.test has checks under way"):
        gates.hold("h.test")
    release()
    await waiting
    assert entered == ["a"]
    assert len(gates) == 0  # forgotten once unused


@deferred_f_from_coro_f
async def test_a_timeout_has_waited_its_delay_already():
    checker, _ = _checker(DOWNLOAD_TIMEOUT=5, BROKENLINKS_CONFIRM_DELAY=7)
    loop = asyncio.get_running_loop()
    waiting = [
        asyncio.ensure_future(checker._confirm_later(url, first))
        for url, first in (
            ("http://hang.test/a", Verdict(Kind.DEAD, Reason.TIMEOUT)),
            ("http://down.test/a", Verdict(Kind.DEAD, Reason.HTTP_STATUS, 500)),
        )
    ]
    await asyncio.sleep(0)
    now = loop.time()
    try:
        # the two tries start at least the delay apart: a timeout's try lasted 5 s
        assert now + 1.9 <= checker._early["http://hang.test/a"] <= now + 2
        assert now + 6.9 <= checker._early["http://down.test/a"] <= now + 7
    finally:
        for task in (*waiting, checker._confirming, checker._early_looks):
            assert task is not None
            task.cancel()
