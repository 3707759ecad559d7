"""RetryAfterMiddleware as a component: built with get_crawler, driven like the downloader does."""

from __future__ import annotations

import asyncio
import time

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.downloadermiddlewares.retry import META_RETRY_AFTER, RetryAfterMiddleware


def middleware(**settings):
    crawler = get_crawler(Spider, settings_dict={"RETRY_TIMES": 2, **settings})
    crawler.spider = crawler._create_spider("test")
    mw = build_from_crawler(RetryAfterMiddleware, crawler)
    crawler.stats.open_spider()
    return mw, crawler


def answer(request, status, retry_after=None):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return HtmlResponse(request.url, status=status, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "retry_after", "retried", "waits"),
    [
        (429, "2", True, True),
        (503, "2", True, True),
        (429, "0", True, False),
        (429, None, True, False),  # no Retry-After: Scrapy's immediate retry
        (503, "Fri, 31 Dec 2100 23:59:59 GMT", False, False),  # over the cap: the answer stands
        (429, "86400", False, False),
        (500, "2", True, False),  # Retry-After only counts on 429 and 503
        (404, "2", False, False),
    ],
)
def test_process_response(status, retry_after, retried, waits):
    mw, crawler = middleware(BROKENLINKS_RETRY_AFTER_MAX=30)
    request = Request("http://a.test/x")
    before = time.monotonic()
    result = mw.process_response(request, answer(request, status, retry_after))
    assert isinstance(result, Request) is retried
    if waits:
        assert mw.not_before["a.test"] >= before + 2
    else:
        assert mw.not_before.get("a.test", before) <= time.monotonic()  # nothing to wait for
    over_cap = not retried and retry_after is not None and status in {429, 503}
    assert (META_RETRY_AFTER in request.meta) is over_cap
    assert bool(crawler.stats.get_value("brokenlinks/retry_after/over_cap")) is over_cap


def test_dont_retry_is_respected():
    mw, _ = middleware()
    request = Request("http://a.test/x", meta={"dont_retry": True})
    response = answer(request, 429, "1")
    assert mw.process_response(request, response) is response
    assert "a.test" not in mw.not_before


def test_bad_cap_setting_names_it():
    with pytest.raises(ValueError, match="BROKENLINKS_RETRY_AFTER_MAX"):
        middleware(BROKENLINKS_RETRY_AFTER_MAX=-1)


@deferred_f_from_coro_f
async def test_process_request_waits_per_host():
    mw, crawler = middleware()
    # order, not wall-clock bounds: the waiting host never holds up another one
    until = mw.not_before["slow.test"] = time.monotonic() + 0.3
    done: list[tuple[str, float]] = []

    async def send(url: str) -> None:
        assert await mw.process_request(Request(url)) is None
        done.append((url, time.monotonic()))

    await asyncio.gather(send("http://slow.test/"), send("http://other.test/"))
    assert [url for url, _ in done] == ["http://other.test/", "http://slow.test/"]
    # asyncio runs a timer up to its clock resolution (1 ns on Linux) early
    assert done[1][1] >= until - 1e-3
    assert crawler.stats.get_value("brokenlinks/retry_after/waits") == 1


def test_a_host_is_forgotten_once_it_answers_after_its_wait():
    mw, _ = middleware()
    request = Request("http://a.test/x")
    mw.not_before["a.test"] = time.monotonic() + 60
    mw.process_response(request, answer(request, 200))
    assert "a.test" in mw.not_before  # still waiting: an answer sent earlier changes nothing
    mw.not_before["a.test"] = time.monotonic() - 1
    mw.process_response(request, answer(request, 200))
    assert "a.test" not in mw.not_before
