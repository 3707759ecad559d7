"""Event-loop lag lowers the crawl's global budget, and the budget comes back as the lag goes."""

from __future__ import annotations

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from brokenlinks.net.downloader import PoliteDownloader
from brokenlinks.net.lag import LoopLag, next_budget
from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds


@pytest.mark.parametrize(
    ("budget", "lag", "ceiling", "after"),
    [
        (128, 0.6, 128, 64),  # lagging: halved
        (64, 0.6, 128, 32),
        (6, 2.0, 128, 4),  # never below the floor
        (3, 2.0, 3, 3),  # nor below CONCURRENT_REQUESTS when it is smaller than the floor
        (32, 0.4, 128, 32),  # between half and the limit: kept
        (32, 0.1, 128, 40),  # keeping up: raised by a sixteenth of the ceiling
        (127, 0.0, 128, 128),  # never above CONCURRENT_REQUESTS
        (8, 0.0, 8, 8),
    ],
)
def test_next_budget(budget, lag, ceiling, after):
    assert next_budget(budget, lag, ceiling=ceiling, lag_max=0.5) == after


def test_lag_lowers_the_downloader_budget_and_it_comes_back():
    crawler = get_crawler(Spider, settings_dict={"CONCURRENT_REQUESTS": 64})
    crawler.stats.open_spider()
    downloader = PoliteDownloader(crawler)
    ext = LoopLag(crawler, 0.5)
    ext.downloader = downloader
    ext.observe(1.2)
    ext.observe(0.8)
    assert downloader.budget == 16
    assert crawler.stats.get_value("brokenlinks/lag/lowered") == 2
    assert crawler.stats.get_value("brokenlinks/lag/lowest_budget") == 16
    assert crawler.stats.get_value("brokenlinks/lag/max") == 1200
    for _ in range(12):
        ext.observe(0.0)
    assert downloader.budget == 64


ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "default": {
            "body": '<html><title>P</title><main><a href="http://busy.test/x">x</a></main></html>'
        },
    },
    "busy.test": {"default": {"body": "<title>busy</title>"}},
}


@pytest.mark.e2e
def test_a_lagging_crawl_lowers_its_budget(tmp_path):
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/a.html"])
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(seeds)},
            settings={
                "DOWNLOADER_MIDDLEWARES": {"tests.crawl_components.LoopBlockingMiddleware": 950},
                "CONCURRENT_REQUESTS": 32,
            },
        )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats["brokenlinks/lag/lowered"] >= 1
    assert stats["brokenlinks/lag/lowest_budget"] < 32
    assert stats["brokenlinks/lag/max"] >= 500
    assert "The event loop lags" in result.stderr
