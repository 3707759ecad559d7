"""Seeds another node has queued already (``brokenlinks.cluster.seeds``), on a real Redis.

The skip in a real crawl (a node started after the others finished) is in
``test_cluster_redis_crawl.py::test_two_nodes_on_one_scrapy_redis_queue``.
"""

from __future__ import annotations

import logging

import pytest
from scrapy import Request, Spider
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter

from brokenlinks.cluster.seeds import QueuedSeeds

REDIS_SETTINGS = {
    "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    "SCHEDULER_DUPEFILTER_KEY": "seeds-test:%(spider)s:dupefilter",
}


def _spider(**settings: object) -> Spider:
    crawler = get_crawler(Spider, settings_dict=settings)
    return crawler._create_spider("seeds")


@pytest.mark.e2e
def test_the_seeds_the_filter_has_seen_are_reported(redis_server, redis_client):
    spider = _spider(**REDIS_SETTINGS, REDIS_URL=redis_server.url)
    queued = QueuedSeeds.of(spider)
    assert queued is not None
    # what another node's scheduler did: its own filter, the same key
    other = RFPDupeFilter.from_spider(_spider(**REDIS_SETTINGS, REDIS_URL=redis_server.url))
    pushed = [Request("http://a.test/1"), Request("http://a.test/2?b=1&a=2")]
    for request in pushed:
        assert not other.request_seen(request)
    requests = [
        Request("http://a.test/1"),
        Request("http://a.test/new"),
        # the filter's canonical form: the same page with its query in another order
        Request("http://a.test/2?a=2&b=1"),
        # a request the scheduler never filters is never skipped
        Request("http://a.test/1", dont_filter=True),
    ]
    assert queued.seen(requests) == [True, False, True, False]


def test_only_scrapy_redis_filter_is_asked():
    assert QueuedSeeds.of(_spider()) is None
    assert (
        QueuedSeeds.of(
            _spider(
                SCHEDULER="scrapy_redis.scheduler.Scheduler",
                DUPEFILTER_CLASS="scrapy.dupefilters.RFPDupeFilter",
            )
        )
        is None
    )


def test_redis_down_leaves_every_seed_to_the_filter(caplog):
    spider = _spider(**REDIS_SETTINGS, REDIS_URL="redis://127.0.0.1:1")
    queued = QueuedSeeds.of(spider)
    assert queued is not None
    with caplog.at_level(logging.WARNING):
        assert queued.seen([Request("http://a.test/")] * 2) == [False, False]
        assert queued.seen([Request("http://a.test/")]) == [False]
    warnings = [r for r in caplog.records if "queued already" in r.getMessage()]
    assert len(warnings) == 1
