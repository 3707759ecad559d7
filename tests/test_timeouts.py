"""Timed-out requests are retried ``BROKENLINKS_TIMEOUT_RETRY_TIMES`` times, not ``RETRY_TIMES``."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadConnectionRefusedError, DownloadTimeoutError, NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.timeouts import TimeoutRetryLimit, stop_retrying

from .conftest import run_crawl, write_seeds

TIMEOUT = DownloadTimeoutError("Getting http://hang.test/never took longer than 2 seconds.")
REFUSED = DownloadConnectionRefusedError("Connection was refused by other side")


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
    return build_from_crawler(TimeoutRetryLimit, get_crawler(settings_dict=settings))


def test_middleware_marks_the_last_timeout_only():
    mw = _middleware({"RETRY_TIMES": 2})
    first = Request("http://hang.test/never")
    assert mw.process_exception(first, TIMEOUT) is None
    assert "dont_retry" not in first.meta
    retried = Request("http://hang.test/never", meta={"retry_times": 1})
    mw.process_exception(retried, TIMEOUT)
    assert retried.meta["dont_retry"] is True
    refused = Request("http://refused.test/", meta={"retry_times": 1})
    mw.process_exception(refused, REFUSED)
    assert "dont_retry" not in refused.meta
    assert mw.stats.get_value("brokenlinks/retry/timeout_limited") == 1


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"RETRY_ENABLED": False}, "RETRY_ENABLED"),
        ({"RETRY_TIMES": 1}, "not below RETRY_TIMES"),
        ({"RETRY_TIMES": 3, "BROKENLINKS_TIMEOUT_RETRY_TIMES": 3}, "not below RETRY_TIMES"),
    ],
)
def test_middleware_off_when_it_would_change_nothing(settings, why):
    with pytest.raises(NotConfigured, match=why):
        _middleware(settings)


def test_negative_limit_is_one_clear_error():
    crawler = get_crawler(settings_dict={"BROKENLINKS_TIMEOUT_RETRY_TIMES": -1})
    with pytest.raises(ValueError, match="BROKENLINKS_TIMEOUT_RETRY_TIMES: -1 is not"):
        BrokenlinksConfig.from_settings(crawler.settings)


def test_a_hung_target_is_tried_twice_end_to_end(tmp_path, web):
    """RETRY_TIMES = 2 still applies to 5xx; the hung target costs two timeouts, not three."""
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings={"RETRY_TIMES": 2})
    assert result.returncode == 0, result.stderr[-3000:]
    hang = [r.method for r in web.requests() if r.host == "hang.test" and r.path == "/never"]
    assert hang == ["HEAD", "HEAD"]
    (prospect,) = [i for i in result.items if i["target_url"] == "http://hang.test/never"]
    assert prospect["reason"] == "timeout"
    assert result.stats["brokenlinks/retry/timeout_limited"] == 1
    # other failures keep Scrapy's RETRY_TIMES: a persistent 500 is tried three times
    error = [r.method for r in web.requests() if r.host == "error.test" and r.path == "/500"]
    assert error == ["HEAD"] * 3 + ["GET"] * 3
