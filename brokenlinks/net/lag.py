"""Event-loop lag: fewer requests at once while the crawl process cannot keep up.

A crawl whose process is starved (the CPU shared with other work, a long parse holding the
loop) still has every request's timeout running: answers wait in socket buffers while the
loop is busy, and live targets time out. Scrapy's AutoThrottle adapts a per-host delay to
the latency it measures; here the measure is the loop's own lag (how late a timer set for
every ``_INTERVAL`` seconds runs; Scrapy has an open proposal for a reactor lag monitor),
and what adapts is the crawl's global budget
(:attr:`brokenlinks.net.downloader.PoliteDownloader.budget`): halved while the lag is above
``BROKENLINKS_LAG_MAX``, raised back by a sixteenth of ``CONCURRENT_REQUESTS`` per look
while it is below half of it (:func:`next_budget`: multiplicative decrease, additive
increase, as TCP and AutoThrottle do).

Settings: ``BROKENLINKS_LAG_MAX`` (0 turns it off), ``CONCURRENT_REQUESTS``. Stats:
``brokenlinks/lag/max`` (milliseconds), ``brokenlinks/lag/lowered``,
``brokenlinks/lag/lowest_budget``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call

from brokenlinks.config import config_of
from brokenlinks.net.downloader import PoliteDownloader

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: seconds between two looks at the loop
_INTERVAL = 0.25
#: the budget is never lowered below this (or CONCURRENT_REQUESTS if smaller)
_FLOOR = 4


def next_budget(budget: int, lag: float, *, ceiling: int, lag_max: float) -> int:
    """The global budget after one look that found the loop *lag* seconds late.

    >>> next_budget(128, 0.9, ceiling=128, lag_max=0.5)
    64
    >>> next_budget(5, 0.9, ceiling=128, lag_max=0.5)
    4
    >>> next_budget(64, 0.1, ceiling=128, lag_max=0.5)
    72
    >>> next_budget(126, 0.0, ceiling=128, lag_max=0.5), next_budget(64, 0.3, ceiling=128, lag_max=0.5)
    (128, 64)
    """
    floor = min(_FLOOR, ceiling)
    if lag > lag_max:
        return max(floor, budget // 2)
    if lag < lag_max / 2:
        return min(ceiling, budget + max(1, ceiling // 16))
    return budget


class LoopLag:
    """Extension: measures the event loop's lag and sets the downloader's budget from it."""

    def __init__(self, crawler: Crawler, lag_max: float) -> None:
        self.crawler = crawler
        self.lag_max = lag_max
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.downloader: PoliteDownloader | None = None
        self._task: Any = None
        self._last = 0.0
        self._warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        if not config.lag_max:
            msg = "BROKENLINKS_LAG_MAX is 0"
            raise NotConfigured(msg)
        ext = cls(crawler, config.lag_max)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        assert self.crawler.engine is not None
        downloader = self.crawler.engine.downloader
        if not isinstance(downloader, PoliteDownloader) or not downloader.total_concurrency:
            return  # nothing to adapt: another downloader, or no global limit
        self.downloader = downloader
        self._last = time.monotonic()
        self._task = create_looping_call(self.look)
        self._task.start(_INTERVAL, now=False)

    def spider_closed(self) -> None:
        if self._task is not None and self._task.running:
            self._task.stop()

    def look(self) -> None:
        now = time.monotonic()
        lag = max(0.0, now - self._last - _INTERVAL)
        self._last = now
        self.observe(lag)

    def observe(self, lag: float) -> None:
        """Adapt the budget to one measured *lag* (seconds)."""
        downloader = self.downloader
        if downloader is None:
            return
        self.stats.max_value("brokenlinks/lag/max", round(lag * 1000))
        before = downloader.budget
        after = next_budget(
            before, lag, ceiling=downloader.total_concurrency, lag_max=self.lag_max
        )
        if after == before:
            return
        downloader.budget = after
        if after < before:
            self.stats.inc_value("brokenlinks/lag/lowered")
            self.stats.min_value("brokenlinks/lag/lowest_budget", after)
            if not self._warned:
                self._warned = True
                logger.info(
                    "The event loop lags %(lag).2f s (BROKENLINKS_LAG_MAX=%(max)s): sending at "
                    "most %(budget)d requests at once until it keeps up",
                    {"lag": lag, "max": self.lag_max, "budget": after},
                )
        else:
            downloader.feed()
