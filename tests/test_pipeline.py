"""StorePipeline: built through get_crawler + build_from_crawler, driven like Scrapy drives it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

import pytest
from brokenlinks.pipelines.batching import BatchingPipeline
from brokenlinks.pipelines.outreach import OutreachStorePipeline
from brokenlinks.pipelines.store import StorePipeline
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from sqlalchemy.exc import OperationalError

from brokenlinks.extensions.summary import job_failure, summary_lines
from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.storage import db, store
from brokenlinks.storage.signals import batch_written

# Async tests use Scrapy's deferred_f_from_coro_f, not @pytest_twisted.ensureDeferred: the latter
# drives the coroutine with Deferred.fromCoroutine, and awaiting run_in_thread's asyncio future
# there fails ("await wasn't used with future"); Scrapy itself runs coroutines as asyncio tasks.


class ArgumentsSpider(Spider):
    name = "backlinks"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arguments = {"seeds": "seeds.txt", "domain": ["a.example"]}


def page_item(n: int, targets: int = 3) -> PageItem:
    return PageItem(
        url=f"https://p{n}.example/",
        requested_url=f"https://p{n}.example/",
        domain=f"p{n}.example",
        title=f"Page {n}",
        status=200,
        error=None,
        links_on_page=targets,
        crawled_at="2024-05-01T10:00:00Z",
        links=[
            LinkRecord(
                target_url=f"https://t{i}.test/",
                target_domain=f"t{i}.test",
                anchor_text=f"link {i}",
                follow=True,
                position="content",
                context=f"see link {i}",
                checked=True,
            )
            for i in range(targets)
        ],
    )


def check_item(i: int, kind: str = "dead") -> CheckItem:
    return CheckItem(
        target_url=f"https://t{i}.test/",
        target_domain=f"t{i}.test",
        kind=kind,
        reason="http_status",
        status=404,
        final_url=None,
        checked_at="2024-05-01T10:05:00Z",
    )


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'data' / 'store.sqlite3'}"


@pytest.fixture
def read_engine(db_url):
    engine = db.create_engine_from_url(db_url)
    yield engine
    engine.dispose()


def make_pipeline(db_url: str, **settings: Any) -> StorePipeline:
    crawler = get_crawler(
        ArgumentsSpider,
        {
            "BROKENLINKS_DATABASE_URL": db_url,
            "BROKENLINKS_STORE_BATCH_SIZE": 2,
            # the batching in a thread of this process, where monkeypatching store.write_batch
            # reaches; tests/test_store_writer.py drives the writer process
            "BROKENLINKS_STORE_PROCESS": False,
            **settings,
        },
    )
    crawler.spider = crawler._create_spider()
    return build_from_crawler(StorePipeline, crawler)


def test_not_configured(db_url, caplog):
    crawler = get_crawler(
        ArgumentsSpider,
        {"BROKENLINKS_DATABASE_URL": db_url, "BROKENLINKS_STORE_ENABLED": False},
    )
    caplog.set_level(logging.DEBUG, logger="brokenlinks.pipelines.store")
    with pytest.raises(NotConfigured) as raised:
        build_from_crawler(StorePipeline, crawler)
    # a message would make Scrapy log this normal state as a WARNING
    assert raised.value.args == ()
    assert "BROKENLINKS_STORE_ENABLED is False" in caplog.text


def test_bad_batch_size(db_url):
    crawler = get_crawler(
        ArgumentsSpider,
        {"BROKENLINKS_DATABASE_URL": db_url, "BROKENLINKS_STORE_BATCH_SIZE": 0},
    )
    with pytest.raises(ValueError, match="BROKENLINKS_STORE_BATCH_SIZE"):
        build_from_crawler(StorePipeline, crawler)


@deferred_f_from_coro_f
async def test_bad_url_on_open():
    pipeline = make_pipeline("nosuchdialect://x/y")
    with pytest.raises(ValueError, match="BROKENLINKS_DATABASE_URL"):
        await pipeline.open_spider()


@deferred_f_from_coro_f
async def test_batches_and_run(db_url, read_engine):
    pipeline = make_pipeline(db_url)
    await pipeline.open_spider()
    run = store.get_run(read_engine, pipeline.run_id)
    assert run["spider"] == "backlinks"
    assert run["arguments"] == {"seeds": "seeds.txt", "domain": ["a.example"]}
    assert run["finished_at"] is None

    first = page_item(1)
    assert await pipeline.process_item(first) is first
    assert store.count_rows(read_engine)["pages"] == 0  # buffered
    other = {"not": "stored"}
    assert await pipeline.process_item(other) is other
    await pipeline.process_item(check_item(0))  # the batch is full: written
    assert store.count_rows(read_engine)["pages"] == 1
    assert store.count_rows(read_engine)["checks"] == 1
    await pipeline.process_item(page_item(2))
    await pipeline.close_spider()

    assert store.count_rows(read_engine) == {
        "crawl_runs": 1,
        "pages": 2,
        "targets": 3,
        "links": 6,
        "checks": 1,
    }
    assert len(store.dead_links(read_engine)) == 2
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/batches"] == 2
    assert stats["brokenlinks/store/items"] == 3
    run = store.get_run(read_engine, pipeline.run_id)
    assert run["finished_at"] is not None
    assert run["stats"]["brokenlinks/store/items"] == 3

    # Scrapy sends spider_closed after closing the pipelines: that is where the reason is known
    await pipeline.crawler.signals.send_catch_log_async(
        signal=signals.spider_closed, spider=pipeline.crawler.spider, reason="finished"
    )
    run = store.get_run(read_engine, pipeline.run_id)
    assert run["finish_reason"] == "finished"
    assert run["stats"]["finish_reason"] == "finished"


@deferred_f_from_coro_f
async def test_the_store_says_how_far_it_is_and_signals_each_batch(db_url):
    pipeline = make_pipeline(db_url)
    written = []

    def on_batch(pipeline: BatchingPipeline, count: int) -> None:
        written.append((pipeline.accepted, pipeline.stored, count))

    pipeline.crawler.signals.connect(on_batch, signal=batch_written)
    await pipeline.open_spider()
    await pipeline.process_item(page_item(1))
    await pipeline.process_item({"not": "stored"})
    assert (pipeline.accepted, pipeline.stored) == (1, 0)
    await pipeline.process_item(check_item(0))  # the batch is full: written
    await pipeline.process_item(page_item(2))
    assert (pipeline.accepted, pipeline.stored) == (3, 2)
    await pipeline.close_spider()
    assert written == [(2, 2, 2), (3, 3, 1)]


@deferred_f_from_coro_f
async def test_concurrent_items(db_url, read_engine):
    pipeline = make_pipeline(db_url, BROKENLINKS_STORE_BATCH_SIZE=7)
    await pipeline.open_spider()
    items = [page_item(n) for n in range(50)] + [check_item(i) for i in range(3)]
    results = await asyncio.gather(*(pipeline.process_item(item) for item in items))
    assert results == items
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == 50
    assert store.count_rows(read_engine)["links"] == 150
    assert pipeline.stats.get_value("brokenlinks/store/items") == 53


@deferred_f_from_coro_f
async def test_items_that_arrive_during_a_write_fill_whole_batches(db_url, monkeypatch):
    pipeline = make_pipeline(db_url, BROKENLINKS_STORE_BATCH_SIZE=5)
    await pipeline.open_spider()
    real_write = store.write_batch
    sizes: list[int] = []

    def slow(engine: Any, run_id: int, items: list[Any]) -> None:
        sizes.append(len(items))
        time.sleep(0.05)
        real_write(engine, run_id, items)

    monkeypatch.setattr(store, "write_batch", slow)

    async def arrive(n: int) -> None:
        await asyncio.sleep(0.02 * n)
        await pipeline.process_item(page_item(n))

    await asyncio.gather(*(arrive(n) for n in range(23)))
    await pipeline.close_spider()
    # not a transaction for each few items that came during a write
    assert sizes == [5, 5, 5, 5, 3]


@deferred_f_from_coro_f
async def test_failed_write_raises_and_keeps_items(db_url, read_engine, monkeypatch, caplog):
    pipeline = make_pipeline(db_url)
    await pipeline.open_spider()
    real_write = store.write_batch

    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(store, "write_batch", broken)
    with caplog.at_level(logging.ERROR, logger="brokenlinks.pipelines.store"):
        await pipeline.process_item(page_item(1))
        with pytest.raises(RuntimeError, match="database is gone"):
            await pipeline.process_item(page_item(2))
        with pytest.raises(RuntimeError, match="database is gone"):
            await pipeline.process_item(page_item(3))
    errors = [r for r in caplog.records if r.name == "brokenlinks.pipelines.store"]
    assert len(errors) == 1
    assert db_url.split("///")[1] in errors[0].getMessage()
    assert store.count_rows(read_engine)["pages"] == 0

    monkeypatch.setattr(store, "write_batch", real_write)
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == 3


@deferred_f_from_coro_f
@pytest.mark.e2e
async def test_crawl(db_url, read_engine):
    """A real crawl (no HTTP: the spider yields its records from start)."""

    class RecordsSpider(Spider):
        name = "records"

        async def start(self):
            for n in range(5):
                yield page_item(n)
            yield check_item(1)

    crawler = get_crawler(
        RecordsSpider,
        {
            "BROKENLINKS_DATABASE_URL": db_url,
            "BROKENLINKS_STORE_BATCH_SIZE": 4,
            "ITEM_PIPELINES": {StorePipeline: 300},
        },
    )
    await crawler.crawl_async()
    assert store.count_rows(read_engine) == {
        "crawl_runs": 1,
        "pages": 5,
        "targets": 3,
        "links": 15,
        "checks": 1,
    }
    run = store.get_run(read_engine, 1)
    assert run["spider"] == "records"
    assert run["arguments"] == {}
    assert run["finish_reason"] == "finished"
    assert run["stats"]["brokenlinks/store/batches"] == 2
    assert run["stats"]["brokenlinks/store/items"] == 6
    assert run["stats"]["item_scraped_count"] == 6
    assert crawler.stats.get_value("brokenlinks/store/items") == 6


def outage_error() -> OperationalError:
    """What SQLAlchemy raises when SQLite cannot write its file (no contention: no retries)."""
    orig = sqlite3.OperationalError("disk I/O error")
    orig.sqlite_errorname = "SQLITE_IOERR"
    return OperationalError("INSERT INTO pages ...", {}, orig)


class Outage:
    """store.write_batch while the store is down: every call fails and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise outage_error()


def outage_pipeline(db_url: str, **settings: Any) -> StorePipeline:
    pipeline = make_pipeline(db_url, **settings)
    # retries at once: the test decides when the store comes back, not the clock
    pipeline.first_retry_delay = pipeline.max_retry_delay = 0.0
    return pipeline


@deferred_f_from_coro_f
async def test_outage_one_error_retries_per_batch_then_everything_stored(
    db_url, read_engine, monkeypatch, caplog
):
    pipeline = outage_pipeline(db_url)
    await pipeline.open_spider()
    await pipeline.process_item(page_item(0))
    await pipeline.process_item(page_item(1))  # written
    real_write = store.write_batch
    down = Outage()
    monkeypatch.setattr(store, "write_batch", down)
    with caplog.at_level(logging.DEBUG, logger="brokenlinks.pipelines.store"):
        for n in range(2, 12):
            await pipeline.process_item(page_item(n))
        # a retry per batch's worth (2) of new items, not per item; no contention retries
        assert down.calls == 10 // 2
        assert store.count_rows(read_engine)["pages"] == 2
        monkeypatch.setattr(store, "write_batch", real_write)
        await pipeline.process_item(page_item(12))
        await pipeline.process_item(page_item(13))  # back: every waiting record written
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        (
            f"Store unavailable (disk I/O error): 2 records waiting to be written to {db_url} "
            "(page 2); trying again with backoff for up to 300 s "
            "(BROKENLINKS_STORE_OUTAGE_LIMIT), holding at most 20 records"
        )
    ]
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(r.getMessage().startswith("Store back after") for r in caplog.records)
    assert store.count_rows(read_engine)["pages"] == 14
    await pipeline.close_spider()
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/outages"] == 1
    assert stats["brokenlinks/store/items"] == 14
    assert "brokenlinks/store/unstored" not in stats
    assert job_failure(stats, "finished") is None


@deferred_f_from_coro_f
async def test_outage_past_the_limit_gives_up_and_fails_the_job(db_url, read_engine, monkeypatch):
    pipeline = outage_pipeline(db_url, BROKENLINKS_STORE_OUTAGE_LIMIT=0.2)
    await pipeline.open_spider()
    await pipeline.process_item(page_item(0))
    await pipeline.process_item(page_item(1))
    monkeypatch.setattr(store, "write_batch", Outage())
    for n in range(2, 5):
        assert (await pipeline.process_item(page_item(n))).url == f"https://p{n}.example/"
    await pipeline.close_spider()  # tries until the limit, then gives up
    await pipeline.process_item(page_item(5))  # after giving up: passed on, counted
    stats = pipeline.stats.get_stats()
    assert stats["brokenlinks/store/unstored"] == 4
    assert job_failure(stats, "store_unavailable") == (
        "the store was unavailable for longer than 0.2 s (BROKENLINKS_STORE_OUTAGE_LIMIT): "
        "4 records could not be stored"
    )
    assert "store outages: 1, records not stored: 4" in summary_lines(stats)
    # what was written before the outage stays
    assert store.count_rows(read_engine)["pages"] == 2


@deferred_f_from_coro_f
async def test_a_full_buffer_waits_for_the_store(db_url, read_engine, monkeypatch):
    pipeline = outage_pipeline(db_url, BROKENLINKS_STORE_BATCH_SIZE=1)
    await pipeline.open_spider()
    real_write = store.write_batch
    monkeypatch.setattr(store, "write_batch", Outage())
    for n in range(pipeline.max_buffered):
        await pipeline.process_item(page_item(n))
    assert len(pipeline._buffer) == pipeline.max_buffered
    waiting = asyncio.ensure_future(pipeline.process_item(page_item(99)))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # held back, not buffered, not dropped
    assert len(pipeline._buffer) == pipeline.max_buffered
    monkeypatch.setattr(store, "write_batch", real_write)
    await waiting
    await pipeline.close_spider()
    assert store.count_rows(read_engine)["pages"] == pipeline.max_buffered + 1


@deferred_f_from_coro_f
async def test_a_refused_batch_is_no_outage(db_url, monkeypatch):
    pipeline = outage_pipeline(db_url, BROKENLINKS_STORE_BATCH_SIZE=1)
    await pipeline.open_spider()
    orig = sqlite3.OperationalError("no such table: pages")
    orig.sqlite_errorname = "SQLITE_ERROR"

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, orig)

    monkeypatch.setattr(store, "write_batch", refused)
    with pytest.raises(OperationalError, match="no such table"):
        await pipeline.process_item(page_item(0))
    assert "brokenlinks/store/outages" not in pipeline.stats.get_stats()


def test_both_store_pipelines_share_the_batching_base():
    assert issubclass(StorePipeline, BatchingPipeline)
    assert issubclass(OutreachStorePipeline, BatchingPipeline)
    assert "process_item" not in vars(StorePipeline)
    assert "process_item" not in vars(OutreachStorePipeline)
