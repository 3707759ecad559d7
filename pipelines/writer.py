"""The store's writer process: a crawl's batch writes, off the crawl process.

A crawl process is CPU-bound, and a third of its time went to the store (SQLAlchemy
processing parameters, SQLite's executemany and commit) in a thread that shares the GIL
with the reactor. :class:`StoreWriter` runs those writes in one writer process instead, a
one-worker ``concurrent.futures.ProcessPoolExecutor`` started by ``spawn`` (a fresh
interpreter: nothing of the threaded crawl process is forked). The process runs
:mod:`brokenlinks.storage.writer_process`: it builds its own engine once and writes each
batch in one transaction, as the thread did; the crawl process only packs the batch into
plain tuples (a few milliseconds per 100 pages, a third of pickling the items).

One process, so one writer at a time on SQLite, as before; the same code on PostgreSQL.
A failed write comes back as the exception the thread would have raised when it pickles
and classifies the same way, else as a
:class:`~brokenlinks.storage.outages.RemoteWriteError` carrying the writer's verdict
(outage or not), so the pipeline's outage handling (:mod:`brokenlinks.pipelines.batching`)
is unchanged. A writer that dies (killed, out of memory) is started again once and the
batch written again (upserts are idempotent, so a batch committed just before the death
is no harm); if the new one dies too, one WARNING, and the crawl writes in a thread from
then on. What the writer logs (a transaction that met another writer and is tried again)
is logged by the crawl under the same logger names, so it lands in the crawl's log. The
writer ignores SIGINT and SIGTERM: the crawl stops gracefully on them and still has
batches to write; it stops the writer itself, and a writer whose crawl died reads the end
of its job queue and exits. As with the worker pool (:mod:`brokenlinks.checker.workers`),
a script that runs crawls itself must start them under ``if __name__ == "__main__":``
(``spawn`` imports the main script again in the new process).
Setting read by :class:`~brokenlinks.pipelines.store.StorePipeline`:
``BROKENLINKS_STORE_PROCESS``. Stats: ``brokenlinks/store/writer/batches``,
``brokenlinks/store/writer/broken``, ``brokenlinks/store/writer/restarted``,
``brokenlinks/store/writer/cpu`` (CPU seconds of the writer process, set when it stops).
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from scrapy.utils.asyncio import run_in_thread

from brokenlinks.storage.writer_process import (
    Failed,
    Record,
    pack,
    ready,
    start,
    stop,
    write_records,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.queues import Queue

    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: times a dead writer is started again before the crawl writes in a thread
_RESTARTS = 1


class _Relay(logging.Handler):
    """Log a record of the writer process as the crawl's own (the crawl's handlers filter it)."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger(record.name).handle(record)


class StoreWriter:
    """The writer process of a crawl's :class:`~brokenlinks.pipelines.store.StorePipeline`."""

    def __init__(self, database_url: str, stats: StatsCollector | None = None) -> None:
        self.database_url = database_url
        self.stats = stats
        self._executor: ProcessPoolExecutor | None = None
        self._restarts_left = _RESTARTS
        self._context = multiprocessing.get_context("spawn")
        self._logs: Queue[logging.LogRecord] = self._context.Queue()
        self._listener = logging.handlers.QueueListener(self._logs, _Relay())
        self._listener.start()
        #: what writes a batch there (a module-level function: tests put a faulty one)
        self.job: Callable[[int, list[Record], bool], Failed | None] = write_records

    def _spawn(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=start,
            initargs=(self.database_url, self._logs, os.getpid()),
        )
        try:
            executor.submit(ready).result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        return executor

    async def start(self) -> bool:
        """Start the writer process and wait until it is up; False if it could not start."""
        try:
            self._executor = await run_in_thread(self._spawn)
        except (BrokenProcessPool, OSError) as e:
            logger.warning(
                "Could not start the store writer process (%(error)s): the crawl writes to "
                "the store in a thread",
                {"error": e},
            )
            return False
        return True

    async def write(self, run_id: int, batch: Sequence[Any], *, retry: bool) -> bool:
        """Write *batch* in the writer process; False when there is none (write it elsewhere).

        A failed write raises what the write raised there (see :class:`Failed`).
        """
        records = pack(batch)
        while (executor := self._executor) is not None:
            try:
                failed = await asyncio.wrap_future(
                    executor.submit(self.job, run_id, records, retry)
                )
            except BrokenProcessPool as e:
                await self._broken(executor, e)
                continue
            if failed is not None:
                raise failed.exception()
            self._count("brokenlinks/store/writer/batches")
            return True
        return False

    async def _broken(self, executor: ProcessPoolExecutor, error: BaseException) -> None:
        self._count("brokenlinks/store/writer/broken")
        self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)
        if self._restarts_left > 0:
            self._restarts_left -= 1
            logger.warning(
                "The store writer process died (%(error)s): starting it again",
                {"error": error},
            )
            if await self.start():
                self._count("brokenlinks/store/writer/restarted")
            return
        logger.warning(
            "The store writer process died again (%(error)s): the crawl writes to the store "
            "in a thread from now on",
            {"error": error},
        )

    async def close(self) -> None:
        """Stop the writer process once its last batch is written (or one that did not start)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            try:
                cpu = await asyncio.wrap_future(executor.submit(stop))
            except BrokenProcessPool:
                pass
            else:
                if self.stats is not None:
                    self.stats.set_value("brokenlinks/store/writer/cpu", round(cpu, 3))
            await run_in_thread(executor.shutdown, wait=True)
        # after the writer's exit: its last records are in the queue
        await run_in_thread(self._listener.stop)
        self._logs.close()

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)
