"""Log what holds a crawl back, twice a second: a Scrapy extension for benchmark runs.

Which limit binds at each moment of a crawl: the downloader's requests (queued and
sending, against ``CONCURRENT_REQUESTS``), the scraper's responses waiting for their
callbacks and items (against ``SCRAPER_SLOT_MAX_ACTIVE_SIZE``), the items in the
pipelines, the scheduler's queue, and which of the two ``needs_backout()`` says. Put on
the path and enabled for one run (the check shards run it too: their lines carry
``[shard i/n]``)::

    PYTHONPATH=.:benchmarks/engineprobe python benchmarks/bench.py --only ours --keep \\
        --set 'EXTENSIONS={"engineprobe.EngineProbe": 1}'
    grep '\\[engineprobe\\]' /tmp/brokenlinks-bench-*/ours.log

Each line: seconds since the spider opened, ``downloader`` (requests in the downloader),
``sending`` (sent and unanswered: ``PoliteDownloader``'s budget count), ``scraper`` (its
responses, and their bytes), ``items`` (in the pipelines), ``scheduled``, and
``backout=downloader/scraper``. Reads private engine attributes: a benchmark tool only.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.utils.asyncio import create_looping_call

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger("engineprobe")

#: seconds between two lines
INTERVAL = 0.5


class EngineProbe:
    """The extension: one INFO line every :data:`INTERVAL` seconds while the spider is open."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.started = time.monotonic()
        self.task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        probe = cls(crawler)
        crawler.signals.connect(probe.opened, signal=signals.spider_opened)
        crawler.signals.connect(probe.closed, signal=signals.spider_closed)
        return probe

    def opened(self) -> None:
        self.started = time.monotonic()
        self.task = create_looping_call(self.tick)
        self.task.start(INTERVAL)

    def closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()

    def tick(self) -> None:
        engine = self.crawler.engine
        if engine is None or engine.scraper.slot is None:
            return
        scraper = engine.scraper.slot
        downloader = engine.downloader
        slot = engine._slot  # a probe: the scheduler has no public handle
        scheduled = len(slot.scheduler) if slot is not None else 0  # type: ignore[arg-type]
        logger.info(
            "t=%.1f downloader=%d sending=%d scraper=%d (%d bytes) items=%d scheduled=%d "
            "backout=%s/%s",
            time.monotonic() - self.started,
            len(downloader.active),
            len(getattr(downloader, "sending", ())),
            len(scraper.active),
            scraper.active_size,
            scraper.itemproc_size,
            scheduled,
            downloader.needs_backout(),
            scraper.needs_backout(),
        )
