"""While a crawl runs, the collector skips the start-up's objects and collects young ones less often."""

from __future__ import annotations

import gc

import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler

from brokenlinks.extensions.gctuning import (
    YOUNG_THRESHOLD,
    GarbageCollectorTuning,
    tuned_threshold,
)
from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds


@pytest.fixture
def untuned():
    threshold = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    GarbageCollectorTuning._running = 0
    GarbageCollectorTuning._saved = None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((700, 10, 10), (YOUNG_THRESHOLD, 10, 10)),  # CPython's default: raised
        ((2000, 10, 0), (YOUNG_THRESHOLD, 10, 0)),  # the others are kept
        ((50_000, 20, 10), (50_000, 20, 10)),  # higher already: kept
        ((0, 10, 10), (0, 10, 10)),  # collection disabled: stays so
    ],
)
def test_tuned_threshold(before, after):
    assert tuned_threshold(before) == after


def test_engine_start_freezes_what_lives_until_the_engine_stops(untuned):
    crawler = get_crawler(Spider)
    crawler.stats.open_spider()
    ext = GarbageCollectorTuning.from_crawler(crawler)
    alive = [[] for _ in range(10)]  # held across the start: frozen
    tracked = len(gc.get_objects())
    ext.engine_started()
    frozen = gc.get_freeze_count()
    # (other threads may free an object or two between the count and the freeze)
    assert frozen >= tracked - 100
    scanned = {id(o) for o in gc.get_objects()}
    assert not any(id(x) in scanned for x in alive)
    # the count at the freeze; a frozen object freed since (another thread) lowers it
    assert 0 <= crawler.stats.get_value("brokenlinks/gc/frozen") - frozen <= 100
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    # full collections no longer scan them; what is made later is collected as before
    assert len(gc.get_objects(generation=2)) < tracked // 100
    later = [[] for _ in range(10)]
    visible = {id(o) for o in gc.get_objects()}
    assert all(id(x) in visible for x in later)
    ext.engine_stopped()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_tuned_until_the_last_crawl_of_the_process_stops(untuned):
    first, second = (GarbageCollectorTuning.from_crawler(get_crawler(Spider)) for _ in range(2))
    first.engine_started()
    second.engine_started()
    first.engine_stopped()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    first.engine_stopped()  # a second stop signal changes nothing
    assert gc.get_freeze_count() > 0
    second.engine_stopped()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_a_stop_without_a_start_changes_nothing(untuned):
    ext = GarbageCollectorTuning.from_crawler(get_crawler(Spider))
    gc.freeze()
    gc.set_threshold(1000, 10, 10)
    ext.engine_stopped()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (1000, 10, 10)


@pytest.mark.e2e
def test_a_crawl_freezes_its_start_up(tmp_path):
    routes = {
        "pages.test": {
            "/robots.txt": {"status": 404},
            "default": {"body": '<html><main><a href="http://t.test/x">x</a></main></html>'},
        },
        "t.test": {"default": {"body": "<title>t</title>"}},
    }
    with LocalWeb(tmp_path, routes=routes) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/a.html"])
        result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    # Scrapy, Twisted, SQLAlchemy, lxml...: far more than a hundred thousand objects
    assert result.stats["brokenlinks/gc/frozen"] > 100_000
    assert result.stats["brokenlinks/targets/checked"] == 1
