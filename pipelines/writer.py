"""The store's writer process: a crawl's batch writes, off the crawl process.

A crawl process is CPU-bound, and a third of its time went to the store (SQLAlchemy
compiling statements and processing parameters, SQLite's executemany and commit) in a
thread that shares the GIL with the reactor. :class:`StoreWriter` runs those writes in one
writer process instead, a one-worker ``concurrent.futures.ProcessPoolExecutor`` started by
``spawn`` (a fresh interpreter: nothing of the threaded crawl process is forked). The
process builds its own engine once and writes each batch in one transaction with
:func:`brokenlinks.storage.store.write_batch`, as the thread did; the crawl process only
packs the batch into plain tuples (:func:`pack`, a few milliseconds per 100 pages, a
third of pickling the items themselves).

One process, so one writer at a time on SQLite, as before; the same code on PostgreSQL.
A failed write comes back as the exception the thread would have raised when it pickles
(and classifies the same way; else as a :class:`~brokenlinks.pipelines.batching.RemoteWriteError`
carrying the writer's verdict "outage or not"), so the pipeline's outage handling
(:mod:`brokenlinks.pipelines.batching`) is unchanged. A writer that dies (killed, out of
memory) is started again once and the batch written again (upserts are idempotent, so a
batch committed just before the death is no harm); if the new one dies too, one WARNING,
and the crawl writes in a thread from then on. What the writer logs (a transaction that met
another writer and is tried again) is logged by the crawl, under the same logger names, so
it lands in the crawl's log. The writer ignores SIGINT and SIGTERM: the
crawl stops gracefully on them and still has batches to write; it stops the writer
itself, and a writer whose crawl died reads the end of its job queue and exits.
Stats: ``brokenlinks/store/writer/batches``, ``brokenlinks/store/writer/broken``,
``brokenlinks/store/writer/restarted``, ``brokenlinks/store/writer/cpu`` (CPU seconds of the
writer process, set when it stops).
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import pickle
import signal
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from scrapy.utils.asyncio import run_in_thread

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.storage import db, store

from .batching import OUTAGE_ERRORS, RemoteWriteError, is_outage, one_line

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.queues import Queue

    from scrapy.statscollectors import StatsCollector
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

#: times a dead writer is started again before the crawl writes in a thread
_RESTARTS = 1

_PAGE_FIELDS = tuple(f.name for f in fields(PageItem) if f.name != "links")
_LINK_FIELDS = tuple(f.name for f in fields(LinkRecord))
_CHECK_FIELDS = tuple(f.name for f in fields(CheckItem))
_page_values = attrgetter(*_PAGE_FIELDS)
_link_values = attrgetter(*_LINK_FIELDS)
_check_values = attrgetter(*_CHECK_FIELDS)
_PAGE, _CHECK, _OTHER = 0, 1, 2

#: a packed item: (kind, its field values or the item itself, its links' field values)
Record = tuple[int, Any, "list[tuple[Any, ...]] | None"]


def pack(items: Sequence[Any]) -> list[Record]:
    """Pack *items* into plain tuples for the writer process (see :func:`unpack`).

    Pickling a slotted dataclass calls its ``__getstate__`` in Python, once per link;
    tuples pickle in C.

    >>> from brokenlinks.items import CheckItem
    >>> check = CheckItem(target_url="https://t.test/", target_domain="t.test", kind="dead",
    ...                   reason="dns", status=None, final_url=None, checked_at="2024-05-01")
    >>> unpack(pack([check])) == [check]
    True
    """
    records: list[Record] = []
    for item in items:
        kind = type(item)
        if kind is PageItem:
            records.append((_PAGE, _page_values(item), [_link_values(x) for x in item.links]))
        elif kind is CheckItem:
            records.append((_CHECK, _check_values(item), None))
        else:  # a subclass, a prospect: pickled as it is
            records.append((_OTHER, item, None))
    return records


def unpack(records: Sequence[Record]) -> list[Any]:
    """The items of :func:`pack`'s *records*."""
    items: list[Any] = []
    for kind, values, links in records:
        if kind == _PAGE:
            assert links is not None
            page = PageItem(
                **dict(zip(_PAGE_FIELDS, values, strict=True)),
                links=[LinkRecord(**dict(zip(_LINK_FIELDS, x, strict=True))) for x in links],
            )
            items.append(page)
        elif kind == _CHECK:
            items.append(CheckItem(**dict(zip(_CHECK_FIELDS, values, strict=True))))
        else:
            items.append(values)
    return items


# --- in the writer process ----------------------------------------------------------------

_engine: Engine | None = None


def _start(database_url: str, logs: Queue[logging.LogRecord]) -> None:
    """Writer start-up: its engine, built once; its log records sent to the crawl.

    The crawl's signals are the crawl's.
    """
    global _engine  # noqa: PLW0603 - the process's one engine, kept between jobs
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(logging.INFO)
    _engine = db.create_engine_from_url(database_url)


@dataclass(frozen=True, slots=True)
class Failed:
    """A write that failed in the writer process, as the crawl process gets it back."""

    #: the exception itself, when it pickles and classifies the same on the way back
    error: BaseException | None
    #: the writer's verdict (:func:`~brokenlinks.pipelines.batching.is_outage`)
    outage: bool
    #: the first line of its message
    text: str
    #: the writer's traceback
    trace: str

    @classmethod
    def of(cls, error: Exception) -> Failed:
        outage = isinstance(error, OUTAGE_ERRORS) and is_outage(error)
        sent: BaseException | None
        try:
            sent = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        except Exception:  # noqa: BLE001 - any exception that cannot travel is described
            sent = None
        if sent is not None and (isinstance(sent, OUTAGE_ERRORS) and is_outage(sent)) != outage:
            sent = None  # its class or attributes lost on the way: the description is safer
        return cls(sent, outage, one_line(error), traceback.format_exc())

    def exception(self) -> BaseException:
        """The exception to raise in the crawl process, with the writer's traceback as cause."""
        error = self.error or RemoteWriteError(self.text, outage=self.outage)
        error.__cause__ = _RemoteTraceback(self.trace)
        return error


class _RemoteTraceback(Exception):
    def __str__(self) -> str:
        return f"\n(in the store writer process)\n{self.args[0]}"


def write_records(run_id: int, records: list[Record], retry: bool) -> Failed | None:
    """Write *records* (:func:`pack`) for run *run_id* in one transaction; the failure if any."""
    engine = _engine
    if engine is None:
        msg = "the store writer was not started"
        raise RuntimeError(msg)
    items = unpack(records)
    try:
        if retry:
            store.retry_on_contention(store.write_batch, engine, run_id, items)
        else:
            store.write_batch(engine, run_id, items)
    except Exception as e:  # noqa: BLE001 - sent back, classified, raised there
        return Failed.of(e)
    return None


def _stop() -> float:
    """Release the writer's database; its CPU seconds."""
    if _engine is not None:
        _engine.dispose()
    return time.process_time()


def _ready() -> None:
    """A job that returns once the writer has started."""


# --- in the crawl process -----------------------------------------------------------------


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

    @property
    def running(self) -> bool:
        """Whether batches go to the writer process (else: a thread of the crawl)."""
        return self._executor is not None

    def _spawn(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=_start,
            initargs=(self.database_url, self._logs),
        )
        try:
            executor.submit(_ready).result()
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
        """Stop the writer process once its last batch is written."""
        executor, self._executor = self._executor, None
        if executor is not None:
            try:
                cpu = await asyncio.wrap_future(executor.submit(_stop))
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
