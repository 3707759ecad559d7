"""The cluster's rules (pure) and its Redis scripts, run on a throwaway Redis.

The scripts are what makes a check happen once in a cluster (ask: claim or wait; answer:
the first verdict wins and reaches every waiter), shards owned by one node at a time
(acquire, renew, release), and a dead node's work redone (take). The crawls through them
are in ``test_cluster_redis_crawl``.
"""

from __future__ import annotations

import asyncio
import pickle
import time

import pytest
import redis
from scrapy import Spider
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.checker import verdicts
from brokenlinks.checker.checks import ChecksStopped, LinkChecker
from brokenlinks.cluster import scripts
from brokenlinks.cluster.keys import GROUP, Keys, cluster_namespace, preference, quota
from brokenlinks.cluster.local import LocalShards
from brokenlinks.cluster.remote import RedisShards
from brokenlinks.config import BrokenlinksConfig


@pytest.mark.parametrize(
    ("setting", "queue_key", "namespace"),
    [
        ("acme-48", "x:%(spider)s:requests", "acme-48"),
        ("", "acme-48:%(spider)s:requests", "acme-48:backlinks:requests:checks"),
        ("", "fixed", "fixed:checks"),
        ("", None, "brokenlinks:backlinks"),
        ("", "", "brokenlinks:backlinks"),
    ],
)
def test_namespace(setting, queue_key, namespace):
    assert cluster_namespace(setting, queue_key, "backlinks") == namespace


@pytest.mark.parametrize(
    ("virtual", "live", "share"),
    [(64, 0, 64), (64, 1, 64), (64, 2, 32), (64, 3, 22), (64, 64, 1), (64, 100, 1), (1, 2, 1)],
)
def test_quota_covers_every_shard(virtual, live, share):
    assert quota(virtual, live) == share
    assert share * max(live, 1) >= virtual


def test_preferences_differ_and_cover_every_shard():
    orders = {tuple(preference(f"host:{pid}:x", 64)) for pid in range(20)}
    assert len({order[0] for order in orders}) > 10
    assert all(sorted(order) == list(range(64)) for order in orders)


def test_settings_validated():
    config = BrokenlinksConfig.from_settings(
        Settings({"BROKENLINKS_CLUSTER_SHARDS": "16", "BROKENLINKS_CLUSTER_LEASE": "2.5"})
    )
    assert (config.cluster_shards, config.cluster_lease, config.cluster_key) == (16, 2.5, "")
    with pytest.raises(ValueError, match="BROKENLINKS_CLUSTER_SHARDS"):
        BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_CLUSTER_SHARDS": 0}))
    with pytest.raises(ValueError, match="BROKENLINKS_CLUSTER_LEASE"):
        BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_CLUSTER_LEASE": 0.1}))
    with pytest.raises(ValueError, match="BROKENLINKS_CLUSTER_NODES"):
        BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_CLUSTER_NODES": -1}))


# -- the scripts, on a real Redis --------------------------------------------------------


def script(client, name):
    return client.register_script(getattr(scripts, name))


KEYS = Keys.of("t", "run1")
URL = "http://gone.test/404"
TTL = 60_000


def ask(client, reply):
    keys = [KEYS.verdict(URL), KEYS.waiters(URL), KEYS.claim(URL), KEYS.stream(3)]
    return script(client, "ASK")(keys=keys, args=[reply, pickle.dumps(("check", URL)), TTL])


def answer(client, entry, verdict):
    keys = [KEYS.verdict(URL), KEYS.waiters(URL), KEYS.claim(URL), KEYS.stream(3)]
    message = pickle.dumps(("verdict", URL, verdict))
    return script(client, "ANSWER")(keys=keys, args=[GROUP, entry, verdict, TTL, message])


def replies(client, node):
    return [pickle.loads(f[b"m"]) for _, f in client.xrange(KEYS.reply(node))]


@pytest.mark.e2e
def test_a_target_is_claimed_once_and_every_waiter_answered(redis_client):
    redis_client.xgroup_create(KEYS.stream(3), GROUP, id="0", mkstream=True)
    assert ask(redis_client, KEYS.reply("a")) == [2]  # claimed: the entry is queued
    assert ask(redis_client, KEYS.reply("b")) == [3]  # claimed already: b waits
    assert ask(redis_client, KEYS.reply("a")) == [3]
    assert redis_client.xlen(KEYS.stream(3)) == 1
    [[_, [(entry, fields)]]] = redis_client.xreadgroup(GROUP, "owner", {KEYS.stream(3): ">"})
    assert pickle.loads(fields[b"m"]) == ("check", URL)
    assert answer(redis_client, entry, b"dead-404") == 1
    for node in ("a", "b"):
        assert replies(redis_client, node) == [("verdict", URL, b"dead-404")]
    # acknowledged, deleted, claim and waiters gone: the verdict answers later askers
    assert redis_client.xpending(KEYS.stream(3), GROUP)["pending"] == 0
    assert redis_client.xlen(KEYS.stream(3)) == 0
    assert not redis_client.exists(KEYS.claim(URL), KEYS.waiters(URL))
    assert ask(redis_client, KEYS.reply("c")) == [1, b"dead-404"]
    # a check redone after its first owner answered anyway: the first verdict stays
    assert answer(redis_client, entry, b"alive") == 0
    assert redis_client.get(KEYS.verdict(URL)) == b"dead-404"
    assert len(replies(redis_client, "a")) == 1


@pytest.mark.e2e
def test_leases_one_owner_each(redis_client):
    keys = [KEYS.lease(v) for v in range(4)]
    acquire, renew, release = (script(redis_client, n) for n in ("ACQUIRE", "RENEW", "RELEASE"))
    assert acquire(keys=keys, args=["a", TTL, 3]) == [1, 2, 3]
    assert acquire(keys=keys, args=["b", TTL, 3]) == [4]  # the one left
    assert renew(keys=keys, args=["a", TTL]) == [1, 1, 1, 0]
    assert release(keys=keys, args=["b"]) == 1
    assert redis_client.get(keys[0]) == b"a"
    assert acquire(keys=keys[:1], args=["b", 100, 1]) == []
    # a lease not renewed expires: another node takes it
    assert acquire(keys=[KEYS.lease(9)], args=["a", 100, 1]) == [1]
    time.sleep(0.25)
    assert renew(keys=[KEYS.lease(9)], args=["a", TTL]) == [0]
    assert acquire(keys=[KEYS.lease(9)], args=["b", TTL, 1]) == [1]


@pytest.mark.e2e
def test_heartbeats_count_live_nodes(redis_client):
    heartbeat = script(redis_client, "HEARTBEAT")
    nodes = [KEYS.nodes, Keys.run("t")]
    redis_client.set(Keys.run("t"), "run1")
    assert heartbeat(keys=nodes, args=["a", 300, TTL, "1", 600]) == 1
    # a lease of a minute here: a busy machine may take longer than 300 ms between two calls
    assert heartbeat(keys=nodes, args=["b", 60_000, TTL, "1", 600]) == 2
    time.sleep(0.4)
    # a's heartbeat is older than the lease: a is dead
    assert heartbeat(keys=nodes, args=["b", 300, TTL, "1", 600]) == 1
    # a node leaving says so at once
    assert heartbeat(keys=nodes, args=["b", 300, TTL, "0", 600]) == 0
    assert 0 < redis_client.pttl(Keys.run("t")) <= 600


@pytest.mark.e2e
def test_a_dead_owners_entries_are_taken_over(redis_client):
    take = script(redis_client, "TAKE")
    streams = [KEYS.stream(1), KEYS.stream(2)]
    assert take(keys=streams, args=[GROUP, "dead", TTL, 0, "1"]) == []  # groups created
    redis_client.xadd(KEYS.stream(2), {"m": b"one"})
    redis_client.xadd(KEYS.stream(2), {"m": b"two"})
    redis_client.xreadgroup(GROUP, "dead", {KEYS.stream(2): ">"})  # read, never acknowledged
    assert take(keys=streams, args=[GROUP, "next", TTL, 60_000, "0"]) == []  # not idle yet
    taken = take(keys=streams, args=[GROUP, "next", TTL, 0, "1"])
    assert [(position, fields) for position, _, fields in taken] == [
        (2, [b"m", b"one"]),
        (2, [b"m", b"two"]),
    ]
    consumers = {
        c["name"]: c["pending"] for c in redis_client.xinfo_consumers(KEYS.stream(2), GROUP)
    }
    assert consumers == {b"dead": 0, b"next": 2}


async def _until(condition, seconds: float = 60) -> None:
    """Return once *condition()* holds, or after *seconds* (a busy machine's deadline)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.02)


# -- the node's bookkeeping, without Redis -------------------------------------------------


def _node(url: str = "redis://127.0.0.1:1", **settings: object) -> LinkChecker:
    crawler = get_crawler(
        settings_dict={"REDIS_URL": url, "BROKENLINKS_CHECK_SHARDS": 2, **settings},
        spidercls=Spider,
    )
    crawler.spider = crawler._create_spider("cluster-test")
    checker = build_from_crawler(LinkChecker, crawler)
    assert isinstance(checker.shards, RedisShards)  # REDIS_URL and shards: the cluster's
    return checker


def _redis_shards(url: str = "redis://127.0.0.1:1", **settings: object) -> RedisShards:
    shards = _node(url, **settings).shards
    assert isinstance(shards, RedisShards)
    return shards


def test_the_cluster_needs_shards_and_redis():
    assert (
        build_from_crawler(
            LinkChecker,
            get_crawler(settings_dict={"REDIS_URL": "redis://x", "BROKENLINKS_CHECK_SHARDS": 1}),
        ).shards
        is None
    )
    local = build_from_crawler(
        LinkChecker, get_crawler(settings_dict={"BROKENLINKS_CHECK_SHARDS": 2})
    ).shards
    assert isinstance(local, LocalShards)
    assert _redis_shards().virtual == 64


@pytest.mark.parametrize("job", [False, True], ids=["one-core node", "Scrapyd job, 2 cores"])
def test_a_small_node_joins_the_cluster_with_one_shard(monkeypatch, job):
    """The default shards on one core (or a Scrapyd job's share of two) are one process."""
    import brokenlinks.cluster.local

    monkeypatch.setattr(brokenlinks.cluster.local, "available_cores", lambda: 2 if job else 1)
    if job:
        monkeypatch.setenv("SCRAPY_JOB", "a1b2")
    else:
        monkeypatch.delenv("SCRAPY_JOB", raising=False)
    crawler = get_crawler(settings_dict={"REDIS_URL": "redis://x"})
    shards = build_from_crawler(LinkChecker, crawler).shards
    assert isinstance(shards, RedisShards)
    assert shards.count == shards.local.count == 1
    # without Redis, one core checks in the crawl process, as before
    alone = build_from_crawler(LinkChecker, get_crawler(settings_dict={}))
    assert alone.shards is None


@deferred_f_from_coro_f
async def test_entries_in_flight_keep_the_node_open():
    shards = _redis_shards()
    shards.owned = {1, 2}
    done = asyncio.Event()

    async def check(url):
        await done.wait()
        raise ChecksStopped(url)  # left pending: no answer is written

    shards.local.check = check
    shards.redis = redis.asyncio.Redis()  # never connected: nothing is answered here
    message = {b"m": pickle.dumps(("check", "http://a.test/"))}
    # entry ids are unique per stream only: the same id in two shards is two entries
    shards._dispatch(1, b"1700000000000-0", message)
    shards._dispatch(2, b"1700000000000-0", message)
    shards._dispatch(2, b"1700000000000-0", message)  # taken again while under way: once
    shards._dispatch(3, b"1700000000000-1", message)  # not this node's shard (fenced)
    assert len(shards._serving) == 2
    with pytest.raises(DontCloseSpider):
        shards.idle()
    assert shards.leaving
    done.set()
    await _until(lambda: not shards._serving)  # a busy machine's loop may be slow
    assert not shards._serving
    assert not any(shards._per_shard.values())
    shards.idle()  # nothing in flight: the crawl may close


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_expected_nodes_share_from_the_start_then_one_takes_all(redis_server):
    redis.Redis.from_url(redis_server.url).flushall()
    alone = _redis_shards(
        redis_server.url, BROKENLINKS_CLUSTER_NODES=3, BROKENLINKS_CLUSTER_LEASE=1
    )
    await alone._join()
    try:
        # alone, but three are expected: a third of the shards, the rest wait for them
        assert len(alone.owned) == quota(64, 3) == 22
        # they never come: after three lease times the node takes every shard (the
        # deadline is a busy machine's, far beyond the 3 s)
        await _until(lambda: len(alone.owned) == 64)
        assert len(alone.owned) == 64
    finally:
        await alone.spider_closed()


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_a_node_joining_gets_its_share_within_seconds(redis_server):
    redis.Redis.from_url(redis_server.url).flushall()
    first = _redis_shards(redis_server.url)
    await first._join()
    second = _redis_shards(redis_server.url)
    try:
        assert len(first.owned) == 64
        await second._join()
        began = time.monotonic()
        # the first hands half back at its next tick (a second at most with a 10 s lease),
        # the second takes them at its own
        await _until(lambda: len(second.owned) >= 32)
        assert (len(first.owned), len(second.owned)) == (32, 32)
        # two ticks of a third of the 10 s lease, 6.7 s at most, and a busy machine's slack:
        # within one lease time (no lease of the first node had to expire)
        assert time.monotonic() - began < 10
    finally:
        await second.spider_closed()
        await first.spider_closed()


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_a_verdict_decided_without_a_request_is_the_first_nodes(redis_server):
    """A mailto: link or an unparseable href has no check to claim: the nodes whose pages
    link to it take the first node's verdict, so the store holds one check of it."""
    redis.Redis.from_url(redis_server.url).flushall()
    first, second = _node(redis_server.url), _node(redis_server.url)
    shards = [first.shards, second.shards]
    for node in shards:
        assert isinstance(node, RedisShards)
        await node._join()
    try:
        mailto = await first.check("mailto:tips@news.test")
        oops = await first.check("http://[oops", verdicts.invalid_url("http://[oops"))
        # a second later: a verdict decided again here would be another stored check
        await asyncio.sleep(1.1)
        assert await second.check("mailto:tips@news.test") == mailto
        assert await second.check("http://[oops", verdicts.invalid_url("http://[oops")) == oops
        assert mailto.verdict.reason == "unsupported_scheme"
        assert second.crawler.stats.get_value("brokenlinks/cluster/shared") == 2
        assert first.crawler.stats.get_value("brokenlinks/cluster/shared") is None
    finally:
        for node in shards:
            assert isinstance(node, RedisShards)
            await node.spider_closed()
