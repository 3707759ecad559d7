"""StorePipeline: writes the crawl's pages, links and checks, and records the crawl run.

Stores ``PageItem`` and ``CheckItem`` records through
:func:`brokenlinks.storage.store.write_batch`, batched and riding out store outages as
:class:`~brokenlinks.pipelines.batching.BatchingPipeline` does. One crawl run row is opened in
``open_spider`` and closed with the finish reason and the crawler stats. Settings read: those
of the base (``BROKENLINKS_STORE_ENABLED``, ``BROKENLINKS_DATABASE_URL``,
``BROKENLINKS_STORE_BATCH_SIZE``, ``BROKENLINKS_STORE_OUTAGE_LIMIT``) and
``BROKENLINKS_STORE_PROCESS``: the batches are written by a writer process of their own
(:mod:`brokenlinks.pipelines.writer`) unless it is false or the writer cannot run, then in a
thread. A transaction that meets another writer (SQLite's lock held past its busy timeout, a
PostgreSQL deadlock) is tried again a few times. Stats: ``brokenlinks/store/batches``,
``brokenlinks/store/items``, the writer's and the base's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.asyncio import is_asyncio_available, run_in_thread

from brokenlinks.items import CheckItem, PageItem
from brokenlinks.storage import db, store

from .batching import OUTAGE_ERRORS, BatchingPipeline
from .writer import StoreWriter

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from sqlalchemy import Engine

    from brokenlinks.config import BrokenlinksConfig


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


class StorePipeline(BatchingPipeline):
    """Write pages, links and checks to the database in batches, one transaction each."""

    item_types = (PageItem, CheckItem)

    def __init__(self, config: BrokenlinksConfig, crawler: Crawler) -> None:
        super().__init__(config, crawler)
        self.engine: Engine | None = None
        self.run_id: int | None = None
        self._finish_failed = False
        self.use_process = config.store_process
        #: the writer process, while batches go to it
        self.writer: StoreWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        pipeline = super().from_crawler(crawler)
        # the finish reason is only known once the item pipelines are closed
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        spider = self.crawler.spider
        name = getattr(spider, "name", None) or "unknown"
        writer = started = None
        if self.use_process and is_asyncio_available():
            writer = StoreWriter(self.database_url, self.stats)
            # it starts (a second or so) while the database is opened and migrated
            started = asyncio.ensure_future(writer.start())
        try:
            self.engine, self.run_id = await run_in_thread(
                _open_store, self.database_url, name, _spider_arguments(spider)
            )
        except BaseException:
            if writer is not None and started is not None:
                await started
                await writer.close()
            raise
        if writer is not None and started is not None:
            if await started:
                self.writer = writer
            else:  # could not start: its log relay goes too
                await writer.close()
        self.logger.info(
            "Storing crawl run %(run_id)s in %(url)s",
            {"run_id": self.run_id, "url": self.shown_url()},
            extra={"spider": spider},
        )

    def write(self, batch: list[Any], *, retry: bool) -> None:
        engine, run_id = self.engine, self.run_id
        if engine is None or run_id is None:
            msg = "StorePipeline.flush() before open_spider()"
            raise RuntimeError(msg)
        if retry:
            store.retry_on_contention(store.write_batch, engine, run_id, batch)
        else:
            store.write_batch(engine, run_id, batch)

    async def write_async(self, batch: list[Any], *, retry: bool) -> None:
        writer, run_id = self.writer, self.run_id
        if writer is not None and run_id is not None:
            if await writer.write(run_id, batch, retry=retry):
                return
            self.writer = None  # gone for good: the thread from now on
            await writer.close()
        await super().write_async(batch, retry=retry)

    def written(self, batch: list[Any]) -> None:
        self.stats.inc_value("brokenlinks/store/batches")
        self.stats.inc_value("brokenlinks/store/items", len(batch))

    async def closed(self) -> None:
        await self._stop_writer()
        await self._finish(self.stats.get_value("finish_reason"))

    async def _stop_writer(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            await writer.close()

    async def spider_closed(self, reason: str) -> None:
        # close_spider ran already: record the reason and the final stats
        await self._finish(reason)

    async def _finish(self, reason: str | None) -> None:
        if self.engine is None or self.run_id is None or self._finish_failed:
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
        except OUTAGE_ERRORS as e:
            # the store is down at the end: the run row keeps no finish time, which says so
            self._finish_failed = True
            self.logger.warning(
                "Could not record the end of crawl run %(run_id)s in %(url)s: %(error)s",
                {"run_id": self.run_id, "url": self.shown_url(), "error": e},
            )
        finally:
            # a disposed engine can still be used: it opens a new pool when asked
            await run_in_thread(self.engine.dispose)
