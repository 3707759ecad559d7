"""Timed-out requests are retried ``BROKENLINKS_TIMEOUT_RETRY_TIMES`` times, not ``RETRY_TIMES``.

The limit is part of the one retry path, ``brokenlinks.downloadermiddlewares.retry.RetryAfterMiddleware``,
and so is the rule that a link check's transient failure is left to the confirmation pass."""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.downloadermiddlewares.retry import (
    META_CONFIRMED_LATER,
    RetryAfterMiddleware,
    stop_retrying,
)

from .conftest import run_crawl, write_seeds

TIMEOUT = DownloadTimeoutError("Getting http://hang.test/never took longer than 2 seconds.")
REFUSED = DownloadConnectionRefusedError("Connection was refused by other side")
DNS = CannotResolveHostError("no such host")


def _methods(web, host: str, path: str) -> list[str]:
    """The methods of the test web's requests for *path* on *host*, in order."""
    return [r.method for r in web.requests() if r.host == host and r.path == path]


@pytest.mark.parametrize(
    ("exception", "retry_times", "limit", "stops"),
    [
        (TIMEOUT, 0, 1, False),
        (TIMEOUT, 1, 1, True),
        (TIMEOUT, 2, 1, True),
        (TIMEOUT, 0, 0, True),
        (TIMEOUT, 1, 2, False),
        (REFUSED, 1, 1, False),
        (REFUSED, 5, 0, False),
        (ValueError("x"), 3, 0, False),
    ],
)
def test_stop_retrying(exception, retry_times, limit, stops):
    assert stop_retrying(exception, retry_times, limit) is stops


def _middleware(settings):
    crawler = get_crawler(Spider, settings_dict=settings)
    crawler.spider = crawler._create_spider("test")
    mw = build_from_crawler(RetryAfterMiddleware, crawler)
    crawler.stats.open_spider()
    return mw, crawler.stats


def test_the_last_timeout_stands_other_failures_are_retried():
    mw, stats = _middleware({"RETRY_TIMES": 2})
    first = Request("http://hang.test/never")
    retry = mw.process_exception(first, TIMEOUT)
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    assert mw.process_exception(retry, TIMEOUT) is None
    refused = Request("http://refused.test/", meta={"retry_times": 1})
    assert isinstance(mw.process_exception(refused, REFUSED), Request)
    assert stats.get_value("brokenlinks/retry/timeout_limited") == 1
    assert stats.get_value("retry/count") == 2


@pytest.mark.parametrize(
    ("settings", "meta"),
    [
        ({"RETRY_TIMES": 1}, {}),
        ({"RETRY_TIMES": 3, "BROKENLINKS_TIMEOUT_RETRY_TIMES": 3}, {}),
        ({"RETRY_TIMES": 3}, {"max_retry_times": 1}),
    ],
)
def test_the_limit_changes_nothing_when_not_below_the_retries(settings, meta):
    mw, stats = _middleware(settings)
    request = Request("http://hang.test/never", meta={**meta, "retry_times": 1})
    mw.process_exception(request, TIMEOUT)
    assert stats.get_value("brokenlinks/retry/timeout_limited") is None


def test_negative_limit_is_one_clear_error():
    crawler = get_crawler(settings_dict={"BROKENLINKS_TIMEOUT_RETRY_TIMES": -1})
    with pytest.raises(ValueError, match="BROKENLINKS_TIMEOUT_RETRY_TIMES: -1 is not"):
        BrokenlinksConfig.from_settings(crawler.settings)


@pytest.mark.e2e
def test_a_hung_target_is_tried_twice_end_to_end(tmp_path, web):
    """A check's transient failure is retried by the confirmation pass, not at once."""
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings={"RETRY_TIMES": 2})
    assert result.returncode == 0, result.stderr[-3000:]
    hang = _methods(web, "hang.test", "/never")
    # one timeout, then the confirmation pass's one try with the crawl quiet
    assert hang == ["HEAD", "HEAD"]
    (prospect,) = [i for i in result.items if i["target_url"] == "http://hang.test/never"]
    assert prospect["reason"] == "timeout"
    # a persistent 500: HEAD, then GET, then the same once more in the pass
    error = _methods(web, "error.test", "/500")
    assert error == ["HEAD", "GET", "HEAD", "GET"]
    assert result.stats["brokenlinks/retry/left_to_confirmation"] >= 3
    # a 503 with Retry-After is still waited for and retried, and comes back
    flaky = _methods(web, "flaky.test", "/503-once")
    assert len(flaky) >= 2
    assert ("http://flaky.test/503-once", "alive") in {
        (row["url"], row["kind"]) for row in result.rows["targets"]
    }


@pytest.mark.e2e
def test_without_the_confirmation_pass_checks_keep_their_retries(tmp_path, web):
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={"RETRY_TIMES": 2, "BROKENLINKS_CONFIRM_ENABLED": False},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    hang = _methods(web, "hang.test", "/never")
    assert hang == ["HEAD", "HEAD"]  # two timeouts (BROKENLINKS_TIMEOUT_RETRY_TIMES = 1)
    assert result.stats["brokenlinks/retry/timeout_limited"] == 1
    error = _methods(web, "error.test", "/500")
    assert error == ["HEAD"] * 3 + ["GET"] * 3  # Scrapy's RETRY_TIMES
    assert "brokenlinks/retry/left_to_confirmation" not in result.stats


def test_a_check_left_to_the_confirmation_pass_is_not_retried_at_once():
    mw, stats = _middleware({"RETRY_TIMES": 2})
    later = {META_CONFIRMED_LATER: True}
    assert mw.process_exception(Request("http://hang.test/never", meta=later), TIMEOUT) is None
    assert mw.process_exception(Request("http://refused.test/", meta=later), REFUSED) is None
    # a DNS answer is no transient failure: retried as before
    dns = mw.process_exception(Request("http://nx.test/", meta=later), DNS)
    assert isinstance(dns, Request)
    error = Response("http://down.test/", status=500, request=Request("http://down.test/"))
    assert mw.process_response(Request("http://down.test/", meta=later), error) is error
    # without the mark (a referring page, a probe): Scrapy's retries
    assert isinstance(mw.process_response(Request("http://down.test/"), error), Request)
    assert stats.get_value("brokenlinks/retry/left_to_confirmation") == 3
