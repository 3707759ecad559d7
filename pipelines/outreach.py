"""OutreachStorePipeline: writes the outreach records (metrics, captures, contacts ...) in batches.

Buffers the records of :mod:`brokenlinks.outreach.items` and writes each batch through
:func:`brokenlinks.outreach.records.write_items` in a thread, so the reactor never waits
on disk; every item is passed on unchanged (the feed exports prospects only). The database
is opened at the first batch: a crawl that yields no outreach record never touches it
here. Settings read:
``BROKENLINKS_STORE_ENABLED``, ``BROKENLINKS_DATABASE_URL``, ``BROKENLINKS_STORE_BATCH_SIZE``.
Stats: ``brokenlinks/outreach/stored``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread

from brokenlinks.config import config_of
from brokenlinks.outreach import records
from brokenlinks.outreach.items import OUTREACH_ITEMS
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy import Engine


logger = logging.getLogger(__name__)


def _open(database_url: str) -> Engine:
    engine = db.create_engine_from_url(database_url)
    try:
        store.retry_on_contention(db.init_db, engine)
    except Exception:
        engine.dispose()
        raise
    return engine


class OutreachStorePipeline:
    """Write outreach records to the database in batches, one transaction each."""

    def __init__(self, database_url: str, batch_size: int, stats: StatsCollector) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.stats = stats
        self.engine: Engine | None = None
        self._buffer: list[Any] = []
        self._lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        if not config.store_enabled:
            # off by a setting is normal: a bare NotConfigured, as StorePipeline raises,
            # or Scrapy logs it as a WARNING in every crawl run with the store off
            logger.debug("Outreach store off: BROKENLINKS_STORE_ENABLED is False")
            raise NotConfigured
        assert crawler.stats is not None
        return cls(config.database_url, config.store_batch_size, crawler.stats)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, OUTREACH_ITEMS):
            self._buffer.append(item)
            if len(self._buffer) >= self.batch_size:
                await self.flush()
        return item

    async def flush(self) -> None:
        """Write the buffered records now; on failure keep them for the next flush and raise."""
        async with self._lock:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            try:
                if self.engine is None:
                    self.engine = await run_in_thread(_open, self.database_url)
                await run_in_thread(
                    store.retry_on_contention, records.write_items, self.engine, batch
                )
            except Exception:
                self._buffer[:0] = batch
                raise
            self.stats.inc_value("brokenlinks/outreach/stored", len(batch))

    async def close_spider(self) -> None:
        try:
            await self.flush()
        finally:
            if self.engine is not None:
                await run_in_thread(self.engine.dispose)
