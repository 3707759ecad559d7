"""The reliable queue of referring pages: which class a crawl gets, and its Redis scripts.

The scripts run on a throwaway Redis: *pop* (a page leaves scrapy-redis' queue into the
node's taken hash, in the queue's order), *beat* (a dead node's taken pages go back to
the queue, once however many nodes race), *give back* (a node leaving). The queue classes
in real crawls (every page acknowledged, a killed node's pages read by the other) are in
``test_cluster_redis_crawl``.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time

import pytest
import redis
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from brokenlinks.addon import Addon
from brokenlinks.cluster import pages, scripts
from brokenlinks.cluster.keys import PageKeys
from brokenlinks.cluster.pages import TOKEN, ReliableFifoQueue, ReliablePriorityQueue
from brokenlinks.cluster.queues import RELIABLE, reliable_queue_class

SCHEDULER = "scrapy_redis.scheduler.Scheduler"


@pytest.mark.parametrize(
    ("scheduler", "queue_class", "expected"),
    [
        (SCHEDULER, None, RELIABLE["priority"]),
        (SCHEDULER, "", RELIABLE["priority"]),
        (SCHEDULER, "scrapy_redis.queue.PriorityQueue", RELIABLE["priority"]),
        (SCHEDULER, "scrapy_redis.queue.SpiderPriorityQueue", RELIABLE["priority"]),
        (SCHEDULER, "scrapy_redis.queue.FifoQueue", RELIABLE["fifo"]),
        (SCHEDULER, "scrapy_redis.queue.SpiderQueue", RELIABLE["fifo"]),
        (SCHEDULER, "scrapy_redis.queue.LifoQueue", RELIABLE["lifo"]),
        (SCHEDULER, " scrapy_redis.queue.SpiderStack ", RELIABLE["lifo"]),
        (SCHEDULER, ReliableFifoQueue, None),  # ours already, as a class
        (SCHEDULER, RELIABLE["lifo"], None),
        (SCHEDULER, "acme.queues.MyQueue", None),  # kept, with a warning
        ("scrapy.core.scheduler.Scheduler", None, None),
        (None, "scrapy_redis.queue.FifoQueue", None),
    ],
)
def test_reliable_queue_class(scheduler, queue_class, expected):
    assert reliable_queue_class(scheduler, queue_class)[0] == expected


def _addon_settings(**values: object) -> Settings:
    settings = Settings()
    for name, value in values.items():
        settings.set(name, value, "cmdline")
    Addon().update_settings(settings)
    return settings


def test_the_addon_makes_scrapy_redis_queue_reliable(caplog):
    with caplog.at_level(logging.WARNING):
        default = _addon_settings(SCHEDULER=SCHEDULER)
        fifo = _addon_settings(
            SCHEDULER=SCHEDULER, SCHEDULER_QUEUE_CLASS="scrapy_redis.queue.FifoQueue"
        )
        plain = _addon_settings()
    assert default["SCHEDULER_QUEUE_CLASS"] == RELIABLE["priority"]
    assert fifo["SCHEDULER_QUEUE_CLASS"] == RELIABLE["fifo"]
    assert plain.get("SCHEDULER_QUEUE_CLASS") is None
    assert not caplog.records


def test_a_queue_class_it_cannot_wrap_is_kept_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        settings = _addon_settings(SCHEDULER=SCHEDULER, SCHEDULER_QUEUE_CLASS="acme.MyQueue")
    assert settings["SCHEDULER_QUEUE_CLASS"] == "acme.MyQueue"
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    message = record.getMessage()
    assert message.startswith(
        "SCHEDULER_QUEUE_CLASS 'acme.MyQueue' is not a queue of scrapy-redis"
    )
    assert "\n" not in message
    assert record.exc_info is None


# -- the scripts, on a real Redis --------------------------------------------------------


KEYS = PageKeys("t:backlinks:requests")
LEASE = 60_000


def run(client, name, *, keys, args):
    return client.register_script(scripts.PAGES[name])(keys=keys, args=args)


def pop(client, kind, token, node="n1"):
    keys = [KEYS.queue, KEYS.taken(node), KEYS.nodes]
    return run(client, "pop", keys=keys, args=[kind, token, node])


def dies(client, node):
    """*node*'s last beat was long ago (Redis's clock: ms since 1970; one lease is 60 s)."""
    client.zadd(KEYS.nodes, {node: 0})


def beat(client, node, *, kind="priority", drop=False):
    args = [node, LEASE, kind, KEYS.taken_prefix, "1", "1" if drop else "0"]
    return run(client, "beat", keys=[KEYS.nodes, KEYS.queue], args=args)


@pytest.mark.e2e
def test_pop_moves_a_page_into_the_nodes_taken_record(redis_client):
    # scrapy-redis' priority queue: score -priority, the lowest score first
    redis_client.zadd(KEYS.queue, {b"low": 0, b"high": -10, b"also-low": 0})
    assert pop(redis_client, "priority", "1") == b"high"
    assert pop(redis_client, "priority", "2") == b"also-low"
    assert redis_client.hgetall(KEYS.taken("n1")) == {b"1": b"-10|high", b"2": b"0|also-low"}
    assert redis_client.zrange(KEYS.queue, 0, -1) == [b"low"]
    assert redis_client.zrange(KEYS.nodes, 0, -1) == [b"n1"]  # its heartbeat, set by the pop
    assert pop(redis_client, "priority", "3") == b"low"
    assert pop(redis_client, "priority", "4") is None  # empty: nothing taken
    assert redis_client.hlen(KEYS.taken("n1")) == 3


@pytest.mark.e2e
@pytest.mark.parametrize(("kind", "order"), [("fifo", [b"a", b"b"]), ("lifo", [b"b", b"a"])])
def test_pop_keeps_a_lists_order(redis_client, kind, order):
    redis_client.lpush(KEYS.queue, b"a", b"b")  # scrapy-redis pushes on the left
    assert [pop(redis_client, kind, "1"), pop(redis_client, kind, "2")] == order
    assert pop(redis_client, kind, "3") is None
    assert redis_client.hvals(KEYS.taken("n1")) == order


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["priority", "fifo", "lifo"])
def test_a_dead_nodes_pages_go_back_where_they_pop_next(redis_client, kind):
    if kind == "priority":
        redis_client.zadd(KEYS.queue, {b"first": -5, b"second": 0, b"third": 0})
    else:
        # scrapy-redis pushes on the left; FIFO pops on the right, LIFO on the left
        pages = [b"first", b"second", b"third"]
        redis_client.lpush(KEYS.queue, *(pages if kind == "fifo" else pages[::-1]))
    assert pop(redis_client, kind, "1", node="dead") == b"first"
    assert pop(redis_client, kind, "1", node="live") == b"second"
    assert beat(redis_client, "live", kind=kind) == [
        0,
        1,
    ]  # beating since its pop; "dead" holds one
    dies(redis_client, "dead")
    assert beat(redis_client, "live", kind=kind) == [0, 0, b"dead", 1]
    assert not redis_client.exists(KEYS.taken("dead"))
    assert redis_client.zrange(KEYS.nodes, 0, -1) == [b"live"]
    # back with its score (priority) or at the end the queue pops from (lists)
    assert pop(redis_client, kind, "2", node="live") == b"first"
    assert pop(redis_client, kind, "3", node="live") == b"third"
    assert redis_client.hlen(KEYS.taken("live")) == 3


@pytest.mark.e2e
def test_racing_nodes_put_a_dead_nodes_pages_back_once(redis_server, redis_client):
    redis_client.zadd(KEYS.queue, {f"page-{n}".encode(): 0 for n in range(50)})
    for n in range(50):
        assert pop(redis_client, "priority", str(n), node="dead") is not None
    dies(redis_client, "dead")
    answers: list[list] = []
    start = threading.Barrier(8)

    def live_node(name: str) -> None:
        client = redis.Redis.from_url(redis_server.url)
        try:
            start.wait()
            answers.append(beat(client, name))
        finally:
            client.close()

    threads = [threading.Thread(target=live_node, args=(f"live{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    redone = [answer[2:] for answer in answers if answer[2:]]
    assert redone == [[b"dead", 50]]  # one node put them back
    assert redis_client.zcard(KEYS.queue) == 50
    assert sorted(redis_client.zrange(KEYS.queue, 0, -1)) == sorted(
        f"page-{n}".encode() for n in range(50)
    )


@pytest.mark.e2e
def test_beat_counts_the_pages_live_nodes_hold(redis_client):
    redis_client.lpush(KEYS.queue, b"a", b"b", b"c")
    pop(redis_client, "fifo", "1", node="n1")
    pop(redis_client, "fifo", "2", node="n1")
    pop(redis_client, "fifo", "1", node="n2")
    assert beat(redis_client, "n1", kind="fifo") == [0, 1]  # n2 holds one
    assert beat(redis_client, "n3", kind="fifo") == [1, 3]
    redis_client.hdel(KEYS.taken("n1"), "1", "2")  # acknowledged
    assert beat(redis_client, "n3", kind="fifo") == [0, 1]


@pytest.mark.e2e
def test_dropping_forgets_dead_nodes_pages(redis_client):
    redis_client.lpush(KEYS.queue, b"a")
    pop(redis_client, "fifo", "1", node="dead")
    dies(redis_client, "dead")
    assert beat(redis_client, "n1", kind="fifo", drop=True) == [1, 0, b"dead", 1]
    assert redis_client.llen(KEYS.queue) == 0
    assert not redis_client.exists(KEYS.taken("dead"))


@pytest.mark.e2e
def test_a_node_leaving_gives_back_what_it_holds(redis_client):
    redis_client.zadd(KEYS.queue, {b"a": -1, b"b": 0})
    pop(redis_client, "priority", "1")
    pop(redis_client, "priority", "2")
    redis_client.hdel(KEYS.taken("n1"), "2")  # b's records were stored
    keys = [KEYS.queue, KEYS.taken("n1"), KEYS.nodes]
    assert run(redis_client, "give_back", keys=keys, args=["priority", "n1", "1"]) == 1
    assert redis_client.zrange(KEYS.queue, 0, -1, withscores=True) == [(b"a", -1.0)]
    assert not redis_client.exists(KEYS.taken("n1"))
    assert redis_client.zcard(KEYS.nodes) == 0


# -- the queue class ---------------------------------------------------------------------


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_a_popped_request_carries_its_token_and_a_pushed_one_none(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    crawler = get_crawler(Spider, settings_dict={"BROKENLINKS_CLUSTER_LEASE": 1})
    spider = crawler._create_spider("pages-test")
    queue = ReliablePriorityQueue(client, spider, "t:%(spider)s:requests", pickle)
    ledger = queue.ledger
    assert ledger is not None
    try:
        queue.push(Request("http://a.test/", meta={TOKEN: "stale"}, priority=1))
        queue.push(Request("http://b.test/"))
        first = queue.pop()
        assert first is not None
        assert first.url == "http://a.test/"
        token = first.meta[TOKEN]
        assert token != "stale"
        assert client.hkeys(ledger.taken) == [token.encode()]
        assert set(ledger.pages) == {token}
        assert len(queue) == 1
        assert crawler.stats.get_value("brokenlinks/cluster/pages_taken") == 1
    finally:
        ledger.spider_closed()  # leaving: the page not stored goes back
        assert client.zcard("t:pages-test:requests") == 2
        assert not client.exists(ledger.taken)
        assert crawler.stats.get_value("brokenlinks/cluster/pages_given_back") == 1
        client.close()


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_an_empty_queue_is_not_asked_again_for_a_moment(redis_server, monkeypatch):
    """Scrapy asks for a request after every response: a drained queue is asked again only
    after ``EMPTY_PAUSE`` (and the engine woken then), or at once after a push of its own."""
    woken = []
    monkeypatch.setattr(pages, "wake_engine", lambda engine: woken.append(time.monotonic()))
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    crawler = get_crawler(Spider, settings_dict={"BROKENLINKS_CLUSTER_LEASE": 1})
    spider = crawler._create_spider("pages-test")
    mine = ReliablePriorityQueue(client, spider, "t:%(spider)s:requests", pickle)
    other = ReliablePriorityQueue(client, spider, "t:%(spider)s:requests", pickle)
    assert mine.ledger is not None
    assert other.ledger is not None
    try:
        began = time.monotonic()
        assert mine.pop() is None  # empty: Redis asked once
        other.push(Request("http://other.test/"))  # another node's page
        assert mine.pop() is None  # within the pause: not asked
        assert crawler.stats.get_value("brokenlinks/cluster/pages_queue_empty") == 1
        await asyncio.sleep(pages.EMPTY_PAUSE + 0.1)
        assert len(woken) == 1
        assert woken[0] - began >= pages.EMPTY_PAUSE
        popped = mine.pop()
        assert popped is not None
        assert popped.url == "http://other.test/"
        assert mine.pop() is None
        mine.push(Request("http://mine.test/"))  # its own push ends the pause
        popped = mine.pop()
        assert popped is not None
        assert popped.url == "http://mine.test/"
    finally:
        for queue in (mine, other):
            assert queue.ledger is not None
            queue.ledger.spider_closed()
        client.close()
