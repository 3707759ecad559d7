"""The store's writer process (pipelines/writer.py, storage/writer_process.py).

The pure parts (packing a batch into tuples, a failure described for the crawl process)
run without a process; the tests that drive a real writer process are marked ``e2e``.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from brokenlinks.pipelines.writer import StoreWriter
from scrapy.utils.defer import deferred_f_from_coro_f
from sqlalchemy.exc import OperationalError

from brokenlinks.items import ProspectItem
from brokenlinks.storage import store
from brokenlinks.storage import writer_process as writer
from brokenlinks.storage.outages import RemoteWriteError, is_outage
from brokenlinks.storage.writer_process import Failed, pack, unpack

from .test_pipeline import check_item, make_pipeline, outage_error, page_item

__all__ = ["db_url", "read_engine"]  # fixtures used here

from .test_pipeline import db_url, read_engine


def test_pack_unpack_keeps_every_field():
    prospect = ProspectItem(
        source_url="https://p.example/",
        source_title=None,
        source_domain="p.example",
        target_url="https://t.test/",
        target_domain="t.test",
        status=404,
        reason="http_status",
        final_url=None,
        anchor_text="a",
        follow=True,
        position="content",
        context="",
        links_on_page=1,
        checked_at="2024-05-01T10:05:00Z",
    )
    items = [page_item(1, targets=4), check_item(2), page_item(3, targets=0), prospect]
    records = pack(items)
    assert unpack(pickle.loads(pickle.dumps(records))) == items
    # plain tuples but for the odd item, pickled as it is
    assert [type(values) for _, values, _ in records] == [tuple, tuple, tuple, ProspectItem]


def failed(error: Exception) -> Failed:
    try:
        raise error
    except Exception as e:  # noqa: BLE001 - as the writer catches them
        return Failed.of(e)


class Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("not this one")


@pytest.mark.parametrize(
    ("error", "kind", "outage"),
    [
        (outage_error(), OperationalError, True),
        (
            OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: pages")),
            OperationalError,
            False,
        ),
        (OSError(28, "No space left on device"), OSError, True),
        (RuntimeError("a bug"), RuntimeError, False),
        (Unpicklable("disk I/O error"), RemoteWriteError, False),
    ],
)
def test_a_failure_comes_back_as_its_exception_or_described(error, kind, outage):
    if isinstance(error, OperationalError) and not outage:
        error.orig.sqlite_errorname = "SQLITE_ERROR"
    sent = pickle.loads(pickle.dumps(failed(error)))
    raised = sent.exception()
    assert type(raised) is kind
    assert sent.outage is outage
    assert is_outage(raised) is outage
    assert "in the store writer process" in str(raised.__cause__)
    assert type(error).__name__ in str(raised.__cause__)  # the writer's traceback


def test_a_described_outage_is_an_outage():
    assert is_outage(RemoteWriteError("disk I/O error", outage=True))
    assert not is_outage(RemoteWriteError("no such table: pages", outage=False))


@deferred_f_from_coro_f
async def test_a_writer_that_cannot_start_leaves_the_writes_to_the_thread(
    db_url, read_engine, monkeypatch, caplog
):
    def cannot(self: Any) -> Any:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(StoreWriter, "_spawn", cannot)
    pipeline = process_pipeline(db_url)
    with caplog.at_level(logging.WARNING, logger="brokenlinks.pipelines.writer"):
        await pipeline.open_spider()
    assert pipeline.writer is None
    assert [r.getMessage() for r in caplog.records] == [
        (
            "Could not start the store writer process ([Errno 24] Too many open files): "
            "the crawl writes to the store in a thread"
        )
    ]
    await pipeline.process_item(page_item(0))
    await pipeline.process_item(page_item(1))
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == 2
    assert "brokenlinks/store/writer/batches" not in pipeline.stats.get_stats()


# --- a real writer process ------------------------------------------------------------------


def write_unless_down(run_id: int, records: list[Any], retry: bool) -> Failed | None:
    """The writer's job, failing while a file ``down`` sits beside the database."""
    assert writer._engine is not None
    down = Path(str(writer._engine.url.database)).with_name("down")
    if down.exists():
        return failed(outage_error())
    return writer.write_records(run_id, records, retry)


def write_and_log(run_id: int, records: list[Any], retry: bool) -> Failed | None:
    """The writer's job, logging what a transaction that met another writer logs."""
    logging.getLogger("brokenlinks.storage.writes").warning("Database busy (a test)")
    return writer.write_records(run_id, records, retry)


def process_pipeline(db_url: str, **settings: Any) -> Any:
    pipeline = make_pipeline(db_url, BROKENLINKS_STORE_PROCESS=True, **settings)
    pipeline.first_retry_delay = pipeline.max_retry_delay = 0.0
    return pipeline


def writer_pid(pipeline: Any) -> int:
    [pid] = pipeline.writer._executor._processes
    return int(pid)


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


@deferred_f_from_coro_f
@pytest.mark.e2e
async def test_batches_go_to_the_writer_process(db_url, read_engine):
    pipeline = process_pipeline(db_url)
    await pipeline.open_spider()
    assert pipeline.writer is not None
    assert writer_pid(pipeline) != os.getpid()
    for n in range(5):
        await pipeline.process_item(page_item(n))
    await pipeline.process_item(check_item(1))
    await pipeline.close_spider()
    assert store.count_rows(read_engine) == {
        "crawl_runs": 1,
        "pages": 5,
        "targets": 3,
        "links": 15,
        "checks": 1,
    }
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/writer/batches"] == stats["brokenlinks/store/batches"] == 3
    assert stats["brokenlinks/store/writer/cpu"] > 0
    assert pipeline.writer is None  # stopped


@deferred_f_from_coro_f
@pytest.mark.e2e
async def test_a_dead_writer_is_started_again_once_then_the_thread_writes(
    db_url, read_engine, caplog
):
    pipeline = process_pipeline(db_url)
    await pipeline.open_spider()
    with caplog.at_level(logging.WARNING, logger="brokenlinks.pipelines.writer"):
        await pipeline.process_item(page_item(0))
        await pipeline.process_item(page_item(1))
        first = writer_pid(pipeline)
        kill(first)
        await pipeline.process_item(page_item(2))
        await pipeline.process_item(page_item(3))  # a new writer writes this batch
        second = writer_pid(pipeline)
        assert second != first
        kill(second)
        await pipeline.process_item(page_item(4))
        await pipeline.process_item(page_item(5))  # the thread writes this one
        assert pipeline.writer is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("The store writer process died (")
    assert warnings[1].endswith("the crawl writes to the store in a thread from now on")
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == 6
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/writer/broken"] == 2
    assert stats["brokenlinks/store/writer/restarted"] == 1
    assert stats["brokenlinks/store/writer/batches"] == 2
    assert stats["brokenlinks/store/batches"] == 3


@deferred_f_from_coro_f
@pytest.mark.e2e
async def test_an_outage_in_the_writer_is_ridden_out(db_url, read_engine, caplog):
    pipeline = process_pipeline(db_url)
    await pipeline.open_spider()
    pipeline.writer.job = write_unless_down
    down = Path(db_url.split("///")[1]).with_name("down")
    await pipeline.process_item(page_item(0))
    await pipeline.process_item(page_item(1))
    down.touch()
    with caplog.at_level(logging.INFO, logger="brokenlinks.pipelines.store"):
        for n in range(2, 6):
            await pipeline.process_item(page_item(n))
        assert store.count_rows(read_engine)["pages"] == 2
        down.unlink()
        await pipeline.process_item(page_item(6))
        await pipeline.process_item(page_item(7))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("Store unavailable (disk I/O error): 2 records waiting")
    assert any(r.getMessage().startswith("Store back after") for r in caplog.records)
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == 8
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/outages"] == 1
    assert "brokenlinks/store/writer/broken" not in stats


@deferred_f_from_coro_f
@pytest.mark.e2e
async def test_the_writer_logs_through_the_crawl(db_url, read_engine, caplog):
    pipeline = process_pipeline(db_url)
    await pipeline.open_spider()
    pipeline.writer.job = write_and_log
    with caplog.at_level(logging.INFO):
        await pipeline.process_item(page_item(0))
        await pipeline.process_item(page_item(1))
        await pipeline.close_spider()  # the writer stopped: its records relayed
    [record] = [r for r in caplog.records if r.getMessage() == "Database busy (a test)"]
    assert record.name == "brokenlinks.storage.writes"
    assert record.levelno == logging.WARNING
    assert record.process != os.getpid()
    assert store.count_rows(read_engine)["pages"] == 2


#: a crawl process in miniature: starts a writer, prints its pid, waits to be killed
_CRAWL = """
import asyncio, sys, time
from brokenlinks.pipelines.writer import StoreWriter

async def main():
    writer = StoreWriter(sys.argv[1])
    assert await writer.start()
    [pid] = writer._executor._processes
    print(pid, flush=True)
    time.sleep(120)

asyncio.run(main())
"""


@pytest.mark.e2e
def test_the_writer_exits_when_its_crawl_is_killed(db_url):
    with subprocess.Popen(
        [sys.executable, "-c", _CRAWL, db_url], stdout=subprocess.PIPE, text=True
    ) as crawl:
        assert crawl.stdout is not None
        pid = int(crawl.stdout.readline())
        assert Path(f"/proc/{pid}").exists()
        crawl.kill()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        assert time.monotonic() < deadline, "the writer outlived its crawl"
        time.sleep(0.1)
