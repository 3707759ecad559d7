"""Canaries of the private names brokenlinks relies on (``brokenlinks._compat``).

Each test pins down an upstream behaviour a seam takes for granted: when one fails after
an upgrade, the seam must change (or can go) before that release is allowed. ``.ci/run``
runs this file against the newest Scrapy and scrapy-playwright.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import Any, ClassVar

import pytest
from scrapy import Request, Spider, signals
from scrapy.core.scraper import Slot as ScraperSlot
from scrapy.exceptions import DontCloseSpider
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from brokenlinks import _compat
from brokenlinks.render.handler import LazyPlaywrightHandler

from .conftest import run_crawl, write_seeds


def test_scrapy_playwright_has_the_private_names():
    assert _compat.missing_names(ScrapyPlaywrightDownloadHandler, _compat.PLAYWRIGHT_SEAM) == []


def test_a_missing_name_fails_with_one_message_naming_the_release():
    class Renamed:
        async def _maybe_launch_in_thread(self): ...

        def _launch(self): ...

    with pytest.raises(_compat.MissingSeamError) as raised:
        _compat.require_names(Renamed, _compat.PLAYWRIGHT_SEAM, "scrapy-playwright", "0.0.99")
    message = str(raised.value)
    assert "scrapy-playwright 0.0.99" in message
    assert re.search(
        r"Renamed\._launch \(not a coroutine function\), .*_maybe_future_from_coro", message
    )


def _probe(base: type) -> type:
    class Probe(base):
        # records the start instead of starting a browser
        launched = 0

        async def _launch(self):
            self.launched += 1

    return Probe


async def _engine_started(base: type):
    crawler = get_crawler(Spider)
    handler = _probe(base).from_crawler(crawler)
    await crawler.signals.send_catch_log_async(signals.engine_started)
    return handler


@deferred_f_from_coro_f
async def test_scrapy_playwright_starts_at_engine_start_through_launch():
    # the seam: engine_started → _maybe_launch_in_thread → _maybe_future_from_coro(_launch())
    handler = await _engine_started(ScrapyPlaywrightDownloadHandler)
    assert handler.launched == 1


@deferred_f_from_coro_f
async def test_the_base_keeps_scrapy_playwrights_start():
    handler = await _engine_started(_compat.PlaywrightHandlerBase)
    assert handler.launched == 1


@deferred_f_from_coro_f
async def test_the_lazy_handler_starts_only_when_asked():
    handler = await _engine_started(LazyPlaywrightHandler)
    assert handler.launched == 0
    await handler.start_playwright()
    assert handler.launched == 1


@pytest.mark.e2e
def test_crawl_command_still_warns_when_no_exporter_writes_the_feed(tmp_path, web):
    # Scrapy's crawl command warns from its private crawler factory (_create_crawler);
    # brokenlinks' makes the crawler with the public create_crawler and warns itself
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds), "render": "never"},
        settings={"EXTENSIONS": {"brokenlinks.extensions.feeds.ProspectFeedExporter": None}},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "The FeedExporter extension is not enabled" in result.stderr
    assert not result.output.exists()


# -- the engine's attributes the checker and the reliable page queue read ----------------
# (brokenlinks.checker.checks: downloader.active, downloader.slots[...].active;
# brokenlinks.cluster.pages: the same, and scraper.slot.queue / .active). Public names
# without underscore, but undocumented: a release that moves them must fail here.


class _SeamHandler:
    """Answers from memory, noting what the downloader shows while a request downloads."""

    lazy = False
    seen: ClassVar[dict[str, bool]] = {}

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> _SeamHandler:
        return cls(crawler)

    async def download_request(self, request: Request) -> HtmlResponse:
        downloader = self.crawler.engine.downloader
        self.seen["downloader.active"] = request in downloader.active
        self.seen["downloader.slots[key].active"] = any(
            request in slot.active for slot in downloader.slots.values()
        )
        return HtmlResponse(request.url, body=b"<p>x</p>", encoding="utf-8", request=request)

    async def close(self) -> None:
        return


class _SeamSpider(Spider):
    name = "seams"

    async def start(self):
        yield Request("seam://page.test/", callback=self.parse)

    def parse(self, response):
        slot = self.crawler.engine.scraper.slot
        _SeamHandler.seen["scraper.slot.active"] = response.request in slot.active
        _SeamHandler.seen["scraper.slot.queue"] = isinstance(slot.queue, deque)


@deferred_f_from_coro_f
async def test_the_engine_shows_a_request_in_flight_where_the_checker_looks():
    _SeamHandler.seen.clear()
    crawler = get_crawler(
        _SeamSpider, {"DOWNLOAD_HANDLERS": {"seam": _SeamHandler}, "ROBOTSTXT_OBEY": False}
    )
    await crawler.crawl_async()
    assert _SeamHandler.seen == {
        "downloader.active": True,
        "downloader.slots[key].active": True,
        "scraper.slot.active": True,
        "scraper.slot.queue": True,
    }


def test_the_scrapers_slot_holds_a_response_in_its_queue_then_in_active():
    # the page queue reads the request of each queued (result, request, deferred), then
    # looks in active: a page is in one of the two until Scrapy is done with it
    slot = ScraperSlot()
    request = Request("http://page.test/")
    slot.add_response_request(HtmlResponse(request.url, body=b"", request=request), request)
    ((_, queued, _),) = slot.queue
    assert queued is request
    assert request not in slot.active
    slot.next_response_request_deferred()
    assert not slot.queue
    assert request in slot.active


class _IdleOnceSpider(Spider):
    """Kept open at its first idle; woken 0.2 s later, when it may close."""

    name = "idle-once"
    start_urls: ClassVar[list[str]] = []
    idles: ClassVar[list[float]] = []

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    def idle(self) -> None:
        loop = asyncio.get_running_loop()
        self.idles.append(loop.time())
        if len(self.idles) == 1:
            loop.call_later(0.2, _compat.wake_engine, self.crawler.engine)
            raise DontCloseSpider


@deferred_f_from_coro_f
async def test_a_woken_engine_asks_its_idle_receivers_again_at_once():
    # without the wake, Scrapy asks again on its heartbeat, 5 s later
    _IdleOnceSpider.idles.clear()
    crawler = get_crawler(_IdleOnceSpider)
    await crawler.crawl_async()
    first, second = _IdleOnceSpider.idles[:2]
    assert 0.15 < second - first < 2.5
    _compat.wake_engine(None)  # no crawl: nothing to wake
