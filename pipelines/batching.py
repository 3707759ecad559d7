"""BatchingPipeline: the base of the pipelines that write items to the database in batches.

Buffers the items of the kinds a subclass stores and writes each batch in a thread
(``run_in_thread``), so the reactor never waits on the database; every item is passed on
unchanged, stored or not (the feed export keeps working). A subclass says what it stores
(``item_types``) and how one batch is written (``write``, blocking), and may write elsewhere
(``write_async``: the store pipeline's writer process, :mod:`brokenlinks.pipelines.writer`).

A store outage (the database unreachable, shut down, locked past its busy timeout, full or
unwritable: see :func:`brokenlinks.storage.outages.is_outage`) does not stop the crawl at
once and does not cost a traceback per item:

- one ``ERROR`` line when the outage starts, saying how many records of which kinds wait;
- the waiting records stay in a bounded buffer (``OUTAGE_BUFFER_BATCHES`` batches); when it is
  full, the next item waits for the store (which slows the crawl down instead of losing data);
- the write is tried again once a batch's worth of new items has arrived and the backoff
  (1 s, doubling, at most 30 s) has passed, and at the end of the crawl;
- when the store is back, one ``INFO`` line, and every waiting record is written;
- when it is not back ``BROKENLINKS_STORE_OUTAGE_LIMIT`` seconds after the first failed
  write, the pipeline gives up: the crawl is closed (finish reason ``store_unavailable``),
  the records it could not write are counted in ``brokenlinks/store/unstored`` and
  :func:`brokenlinks.extensions.summary.job_failure` makes ``scrapy crawl`` exit 1.

Each batch is one transaction, so what was written before the outage stays written. Any
other failure (a batch the database refuses, a bug) keeps the batch for the next flush,
is logged once and raised.

Batches are written in the order their records came: ``accepted`` (records buffered since
the crawl opened) and ``stored`` (records written) say how far the store is, and the
:data:`~brokenlinks.storage.signals.batch_written` signal follows every batch written (the cluster's reliable page
queue acknowledges a referring page once the records buffered before it finished are
stored: :mod:`brokenlinks.cluster.pages`).
Settings read: ``BROKENLINKS_STORE_ENABLED`` (``NotConfigured`` when false),
``BROKENLINKS_DATABASE_URL``, ``BROKENLINKS_STORE_BATCH_SIZE``,
``BROKENLINKS_STORE_OUTAGE_LIMIT``. Stats: ``brokenlinks/store/outages``,
``brokenlinks/store/unstored``, ``brokenlinks/store/outage_limit``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from brokenlinks.config import config_of
from brokenlinks.storage.outages import (
    OUTAGE_ERRORS,
    RemoteWriteError,
    is_outage,
    one_line,
)
from brokenlinks.storage.signals import batch_written

#: the store's outage classification, imported from here before it moved
__all__ = ["OUTAGE_ERRORS", "BatchingPipeline", "RemoteWriteError", "is_outage", "one_line"]

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from brokenlinks.config import BrokenlinksConfig

#: during an outage, at most this many batches of records wait in memory
OUTAGE_BUFFER_BATCHES = 10
#: seconds before the first retry; doubled after each failed one, up to the second
FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 30.0
#: the finish reason of a crawl closed because the store did not come back
STORE_UNAVAILABLE = "store_unavailable"


@dataclass(slots=True)
class _Outage:
    started: float
    error: str
    delay: float
    next_attempt: float = 0.0
    #: items buffered since the last attempt
    new_items: int = 0


def waiting_kinds(items: list[Any]) -> str:
    """Count *items* by kind for a log line.

    >>> from brokenlinks.items import CheckItem
    >>> waiting_kinds([CheckItem.__new__(CheckItem)] * 2 + [object()])
    'check 2, object 1'
    """
    kinds = Counter(type(item).__name__.removesuffix("Item").lower() for item in items)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))


class BatchingPipeline:
    """Write items in batches, one transaction each, and ride out store outages."""

    #: the item classes this pipeline stores (others are passed on untouched)
    item_types: ClassVar[tuple[type, ...]] = ()

    def __init__(self, config: BrokenlinksConfig, crawler: Crawler) -> None:
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.database_url = config.database_url
        self.batch_size = config.store_batch_size
        self.outage_limit = config.store_outage_limit
        self.max_buffered = self.batch_size * OUTAGE_BUFFER_BATCHES
        self.first_retry_delay = FIRST_RETRY_DELAY
        self.max_retry_delay = MAX_RETRY_DELAY
        # the subclass's module logger: its name is what users filter on
        self.logger = logging.getLogger(type(self).__module__)
        self._buffer: list[Any] = []
        #: records buffered since the crawl opened, and records written: batches go in
        #: order, so a record is written once ``stored`` reaches its place in ``accepted``
        self.accepted = 0
        self.stored = 0
        # one flush at a time: batches are written in order and never race for the database
        self._lock = asyncio.Lock()
        self._outage: _Outage | None = None
        self._gave_up = False
        self._closing = False
        self._error_logged = False
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        if not config.store_enabled:
            # off by a setting is normal: a bare NotConfigured, or Scrapy logs it as a
            # WARNING in every crawl run with the store off
            logging.getLogger(cls.__module__).debug(
                "%s off: BROKENLINKS_STORE_ENABLED is False", cls.__name__
            )
            raise NotConfigured
        return cls(config, crawler)

    # --- what a subclass provides ---------------------------------------------------------

    def write(self, batch: list[Any], *, retry: bool) -> None:
        """Write *batch* in one transaction (blocking: runs in a thread).

        With *retry*, a transaction that meets another writer is tried again a few times
        (:func:`brokenlinks.storage.store.retry_on_contention`); during an outage the
        pipeline does its own retrying and asks for one attempt.
        """
        raise NotImplementedError

    async def write_async(self, batch: list[Any], *, retry: bool) -> None:
        """Write *batch* without blocking the reactor: :meth:`write` in a thread."""
        await run_in_thread(self.write, batch, retry=retry)

    def written(self, batch: list[Any]) -> None:
        """Count *batch* as written (stats)."""

    # --- the batching -----------------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, self.item_types):
            return item
        if self._outage is not None:
            # a full buffer waits for the store: the crawl slows down, nothing is dropped
            while len(self._buffer) >= self.max_buffered and not self._gave_up:
                await self._sleep_until_next_attempt()
                await self.flush()
        if self._gave_up:
            self._not_stored(1)
            return item
        self._buffer.append(item)
        self.accepted += 1
        outage = self._outage
        if outage is None:
            if len(self._buffer) >= self.batch_size:
                # the items that arrive during a write wait for it here (the crawl never
                # runs ahead of the store), then find the batches they filled written
                await self.flush(full_only=True)
            return item
        outage.new_items += 1
        if outage.new_items >= self.batch_size and time.monotonic() >= outage.next_attempt:
            await self.flush()
        return item

    async def flush(self, *, full_only: bool = False) -> bool:
        """Write the buffered records, a batch per transaction; True when all are written.

        With *full_only* (and no outage), a last batch smaller than
        ``BROKENLINKS_STORE_BATCH_SIZE`` keeps waiting for more items: the callers queued
        behind a write would otherwise each write the few items that came meanwhile, in a
        transaction of its own (a crawl wrote 10,000 items in 807 transactions).
        A store outage keeps the records waiting (see the module docstring) and returns
        False; any other failure keeps them for the next flush and is raised.
        """
        async with self._lock:
            outage = self._outage
            if outage is not None:
                full_only = False
                now = time.monotonic()
                # callers that queued on the lock behind a failed attempt wait for the backoff
                if now < outage.next_attempt and now < outage.started + self.outage_limit:
                    return False
            while self._buffer and not self._gave_up:
                if full_only and len(self._buffer) < self.batch_size:
                    return False
                batch = self._buffer[: self.batch_size]
                try:
                    await self.write_async(batch, retry=self._outage is None)
                except Exception as e:
                    if not is_outage(e):
                        self._refused(len(batch), e)
                        raise
                    self._failed(e)
                    return False
                # items buffered meanwhile were appended behind the batch
                del self._buffer[: len(batch)]
                self.stored += len(batch)
                self.written(batch)
                self.crawler.signals.send_catch_log(
                    signal=batch_written, pipeline=self, count=len(batch)
                )
            if self._outage is not None and not self._gave_up:
                self.logger.info(
                    "Store back after %(seconds).0f s: every waiting record written to %(url)s",
                    {"seconds": time.monotonic() - self._outage.started, "url": self.shown_url()},
                )
                self._outage = None
            return not self._buffer

    async def close_spider(self) -> None:
        self._closing = True
        try:
            while not await self.flush() and not self._gave_up:
                await self._sleep_until_next_attempt()
        finally:
            await self.closed()

    async def closed(self) -> None:
        """After the last flush (written or given up): release the database."""

    # --- outages ----------------------------------------------------------------------------

    def _failed(self, error: BaseException) -> None:
        now = time.monotonic()
        outage = self._outage
        if outage is None:
            outage = self._outage = _Outage(
                started=now, error=one_line(error), delay=self.first_retry_delay
            )
            self.stats.inc_value("brokenlinks/store/outages")
            self.logger.error(
                "Store unavailable (%(error)s): %(count)d records waiting to be written to "
                "%(url)s (%(kinds)s); trying again with backoff for up to %(limit)g s "
                "(BROKENLINKS_STORE_OUTAGE_LIMIT), holding at most %(bound)d records",
                {
                    "error": outage.error,
                    "count": len(self._buffer),
                    "url": self.shown_url(),
                    "kinds": waiting_kinds(self._buffer),
                    "limit": self.outage_limit,
                    "bound": self.max_buffered,
                },
            )
        else:
            outage.delay = min(outage.delay * 2, self.max_retry_delay)
            self.logger.debug(
                "Store still unavailable (%(error)s): %(count)d records waiting",
                {"error": one_line(error), "count": len(self._buffer)},
            )
        outage.next_attempt = now + outage.delay
        outage.new_items = 0
        if now - outage.started >= self.outage_limit:
            self._give_up()

    def _give_up(self) -> None:
        self._gave_up = True
        self.stats.set_value("brokenlinks/store/outage_limit", self.outage_limit)
        self.logger.warning(
            "Store not back within %(limit)g s (BROKENLINKS_STORE_OUTAGE_LIMIT): giving up "
            "on %(count)d waiting records (%(kinds)s); closing the crawl",
            {
                "limit": self.outage_limit,
                "count": len(self._buffer),
                "kinds": waiting_kinds(self._buffer),
            },
        )
        self._not_stored(len(self._buffer))
        self._buffer = []
        if not self._closing and self.crawler.crawling:
            # not awaited: closing waits for the items in the pipelines, this one included
            task = asyncio.get_running_loop().create_task(
                self.crawler.engine.close_spider_async(reason=STORE_UNAVAILABLE)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _refused(self, count: int, error: BaseException) -> None:
        # kept, not lost: the next flush (at the latest close_spider) tries again; logged
        # once, as every later flush of the same batch fails the same way
        if not self._error_logged:
            self._error_logged = True
            self.logger.error(
                "Could not write %(count)d records to %(url)s",
                {"count": count, "url": self.shown_url()},
                exc_info=error,
            )

    def _not_stored(self, count: int) -> None:
        if count:
            self.stats.inc_value("brokenlinks/store/unstored", count)

    async def _sleep_until_next_attempt(self) -> None:
        outage = self._outage
        if outage is None:
            return
        # not past the limit: the attempt that finds the store still down there gives up
        wake = min(outage.next_attempt, outage.started + self.outage_limit)
        await asyncio.sleep(max(0.0, wake - time.monotonic()))

    def shown_url(self) -> str:
        """The database for log lines: its URL without password, a SQLite file's full path."""
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            return self.database_url
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
