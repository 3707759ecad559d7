"""Canaries of the private names brokenlinks relies on (``brokenlinks._compat``).

Each test pins down an upstream behaviour a seam takes for granted: when one fails after
an upgrade, the seam must change (or can go) before that release is allowed. ``.ci/run``
runs this file against the newest Scrapy and scrapy-playwright.
"""

from __future__ import annotations

import re

import pytest
from scrapy import Spider, signals
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
