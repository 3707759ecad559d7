"""StorePipeline: batches crawl records and writes them to the database off the event loop.

Buffers ``PageItem`` and ``CheckItem`` records and writes each batch through
:func:`brokenlinks.storage.store.write_batch` in a thread (``run_in_thread``), so the reactor never
waits on disk; every item is passed on unchanged. One crawl run row is opened in
``open_spider`` and closed with the finish reason and the crawler stats. Settings read:
``BROKENLINKS_STORE_ENABLED`` (``NotConfigured`` when false), ``BROKENLINKS_DATABASE_URL``,
``BROKENLINKS_STORE_BATCH_SIZE``. A transaction that meets another writer (SQLite's lock
held past its busy timeout, a PostgreSQL deadlock) is tried again a few times. Stats: ``brokenlinks/store/batches``,
``brokenlinks/store/items``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread

from brokenlinks.config import config_of
from brokenlinks.items import CheckItem, PageItem
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)


def _spider_arguments(spider: object) -> dict[str, Any]:
    arguments = getattr(spider, "arguments", None)
    if arguments is None:
        return {}
    if dataclasses.is_dataclass(arguments) and not isinstance(arguments, type):
        return dataclasses.asdict(arguments)
    return dict(arguments)


def _open_store(database_url: str, spider: str, arguments: dict[str, Any]) -> tuple[Engine, int]:
    engine = db.create_engine_from_url(database_url)
    try:
        store.retry_on_contention(db.init_db, engine)
        run_id = store.retry_on_contention(store.start_run, engine, spider, arguments)
    except Exception:
        engine.dispose()
        raise
    return engine, run_id


class StorePipeline:
    """Write pages, links and checks to the database in batches, one transaction each."""

    def __init__(self, database_url: str, batch_size: int, stats: StatsCollector) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.stats = stats
        self.crawler: Crawler | None = None
        self.engine: Engine | None = None
        self.run_id: int | None = None
        self._buffer: list[PageItem | CheckItem] = []
        # one flush at a time: batches are written in order and never race for the file
        self._lock = asyncio.Lock()
        self._error_logged = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        if not config.store_enabled:
            # off by a setting: a bare NotConfigured, or Scrapy logs it as a WARNING
            logger.debug("Store off: BROKENLINKS_STORE_ENABLED is False")
            raise NotConfigured
        pipeline = cls(config.database_url, config.store_batch_size, crawler.stats)
        pipeline.crawler = crawler
        # the finish reason is only known once the item pipelines are closed
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        spider = self.crawler.spider if self.crawler is not None else None
        name = getattr(spider, "name", None) or "unknown"
        self.engine, self.run_id = await run_in_thread(
            _open_store, self.database_url, name, _spider_arguments(spider)
        )
        logger.info(
            "Storing crawl run %(run_id)s in %(url)s",
            {"run_id": self.run_id, "url": self._shown_url()},
            extra={"spider": spider},
        )

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, PageItem | CheckItem):
            self._buffer.append(item)
            if len(self._buffer) >= self.batch_size:
                await self.flush()
        return item

    async def flush(self) -> None:
        """Write the buffered records now; on failure keep them for the next flush and raise."""
        async with self._lock:
            if not self._buffer:
                return
            if self.engine is None or self.run_id is None:
                msg = "StorePipeline.flush() before open_spider()"
                raise RuntimeError(msg)
            batch, self._buffer = self._buffer, []
            try:
                await run_in_thread(
                    store.retry_on_contention, store.write_batch, self.engine, self.run_id, batch
                )
            except Exception:
                # kept, not lost: the next flush (at the latest close_spider) tries again
                self._buffer[:0] = batch
                if not self._error_logged:
                    self._error_logged = True
                    logger.exception(
                        "Could not write %(count)d records to %(url)s",
                        {"count": len(batch), "url": self._shown_url()},
                    )
                raise
            self.stats.inc_value("brokenlinks/store/batches")
            self.stats.inc_value("brokenlinks/store/items", len(batch))

    async def close_spider(self) -> None:
        try:
            await self.flush()
        finally:
            await self._finish(self.stats.get_value("finish_reason"))

    async def spider_closed(self, reason: str) -> None:
        # close_spider ran already: record the reason and the final stats
        await self._finish(reason)

    async def _finish(self, reason: str | None) -> None:
        if self.engine is None or self.run_id is None:
            return
        stats = dict(self.stats.get_stats())
        if reason is not None:
            stats.setdefault("finish_reason", reason)
        try:
            await run_in_thread(
                store.retry_on_contention,
                store.finish_run,
                self.engine,
                self.run_id,
                reason,
                stats,
            )
        finally:
            # a disposed engine can still be used: it opens a new pool when asked
            await run_in_thread(self.engine.dispose)

    def _shown_url(self) -> str:
        if self.engine is None:
            return self.database_url
        url = self.engine.url
        shown = url.render_as_string(hide_password=True)
        database = url.database or ""
        if (
            url.get_backend_name() == "sqlite"
            and database not in {"", ":memory:"}
            and not database.startswith("file:")
            and not Path(database).is_absolute()
        ):
            # relative to the working directory, which under Scrapyd is Scrapyd's own
            shown += f" ({Path.cwd() / database})"
        return shown
