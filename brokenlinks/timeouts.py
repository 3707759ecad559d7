"""Retry a timed-out request fewer times than other failures.

A request that waited ``DOWNLOAD_TIMEOUT`` seconds for nothing is the longest wait of a
crawl: with Scrapy's ``RETRY_TIMES`` (2) a hung target holds its check for three timeouts,
and that single chain then sets the crawl's wall time (benchmarks/). A host that did not
answer within the timeout twice is dead for a link check's purpose; refused connections,
DNS errors and 5xx answers are cheap to retry and keep ``RETRY_TIMES``.

A downloader middleware placed just before Scrapy's ``RetryMiddleware`` (550): its
``process_exception`` runs first and sets ``dont_retry`` once a timed-out request has been
retried ``BROKENLINKS_TIMEOUT_RETRY_TIMES`` times. Stat: ``brokenlinks/retry/timeout_limited``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from scrapy.exceptions import DownloadTimeoutError, NotConfigured

from brokenlinks.config import BrokenlinksConfig

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def stop_retrying(exception: BaseException, retry_times: int, limit: int) -> bool:
    """Tell whether a request that failed with *exception* after *retry_times* retries stops.

    >>> timeout = DownloadTimeoutError("took longer than 20 seconds")
    >>> stop_retrying(timeout, 0, 1), stop_retrying(timeout, 1, 1)
    (False, True)
    >>> stop_retrying(ConnectionRefusedError(), 1, 1)
    False
    """
    return isinstance(exception, DownloadTimeoutError) and retry_times >= limit


class TimeoutRetryLimit:
    """Cap the retries of timed-out requests at ``BROKENLINKS_TIMEOUT_RETRY_TIMES``."""

    def __init__(self, limit: int, stats: StatsCollector) -> None:
        self.limit = limit
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        # switched off by settings: a bare NotConfigured (with a message, Scrapy would
        # log this normal state as a WARNING)
        if not crawler.settings.getbool("RETRY_ENABLED"):
            logger.debug("Timeout retry limit off: RETRY_ENABLED is False")
            raise NotConfigured
        config = BrokenlinksConfig.from_settings(crawler.settings)
        if config.timeout_retry_times >= crawler.settings.getint("RETRY_TIMES"):
            logger.debug("Timeout retry limit off: BROKENLINKS_TIMEOUT_RETRY_TIMES >= RETRY_TIMES")
            raise NotConfigured
        assert crawler.stats is not None
        return cls(config.timeout_retry_times, crawler.stats)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if request.meta.get("dont_retry"):
            return
        if stop_retrying(exception, request.meta.get("retry_times", 0), self.limit):
            request.meta["dont_retry"] = True
            self.stats.inc_value("brokenlinks/retry/timeout_limited")
