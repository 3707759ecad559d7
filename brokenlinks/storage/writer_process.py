"""What runs in the store's writer process: a crawl's batches, written with its own engine.

The crawl side is :class:`brokenlinks.pipelines.writer.StoreWriter`; this module is what the
writer process imports, kept free of Scrapy and Twisted (the process is ~25 MB smaller
without them). :func:`pack` turns a batch into plain tuples in the crawl process,
:func:`write_records` unpacks and writes it there in one transaction
(:func:`brokenlinks.storage.store.write_batch`) and sends a failure back as a
:class:`Failed`, classified by :func:`brokenlinks.storage.outages.is_outage`. Reads no
settings: the database URL comes from the crawl.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import pickle
import signal
import threading
import time
import traceback
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.storage import db, store
from brokenlinks.storage.outages import OUTAGE_ERRORS, RemoteWriteError, is_outage, one_line

if TYPE_CHECKING:
    from collections.abc import Sequence
    from multiprocessing.queues import Queue

    from sqlalchemy import Engine

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


# --- in the writer process -----------------------------------------------------------------

_engine: Engine | None = None


def start(database_url: str, logs: Queue[logging.LogRecord], crawl: int) -> None:
    """Writer start-up: its engine, built once; its log records sent to the crawl.

    The crawl's signals are the crawl's, and the writer exits when the crawl *crawl* does,
    however it ends: the job queue's pipe gives no end of file then, since this process
    holds its writing end too.
    """
    global _engine  # noqa: PLW0603 - the process's one engine, kept between jobs
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with, args=(crawl,), name="brokenlinks-crawl-watch", daemon=True
    ).start()
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(logging.INFO)
    _engine = db.create_engine_from_url(database_url)


def _exit_with(crawl: int) -> None:
    # spawned by the crawl: its parent, until the crawl's end hands it to another one
    while os.getppid() == crawl:
        time.sleep(1)
    os._exit(0)


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


def stop() -> float:
    """Release the writer's database; its CPU seconds."""
    if _engine is not None:
        _engine.dispose()
    return time.process_time()


def ready() -> None:
    """A job that returns once the writer has started."""
