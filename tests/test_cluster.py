"""The check shards' parts: partition, messages, settings, stats, launching (one test starts processes)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.checker.checks import LinkChecker
from brokenlinks.cluster import wire
from brokenlinks.cluster.local import LocalShards, merge_stats, picklable_settings, shards_for
from brokenlinks.cluster.node import shard_settings
from brokenlinks.cluster.partition import shard_key, shard_of, shard_of_key
from brokenlinks.net import guard

from .conftest import PROJECT


def test_one_owner_per_site_whatever_the_host():
    owners = {shard_of(url, 7) for url in (
        "http://example.com/a", "https://www.example.com/b", "http://cdn.example.com:8080/c",
    )}  # fmt: skip
    assert len(owners) == 1
    # the private suffixes make each blog a site of its own
    assert shard_key("https://alice.github.io/x") != shard_key("https://bob.github.io/x")


def test_the_partition_is_the_same_in_every_process():
    # BLAKE2 of the site, not Python's salted hash(): nodes of a cluster agree
    assert [shard_of_key(f"site-{n}.test", 5) for n in range(8)] == [3, 4, 1, 1, 0, 2, 3, 0]


def test_sites_spread_over_the_shards():
    counts = [0, 0, 0]
    for n in range(3000):
        counts[shard_of_key(f"host-{n}.example", 3)] += 1
    assert min(counts) > 900


def test_a_response_comes_back_as_scrapy_would_have_built_it():
    request = Request("http://example.test/page")
    response = HtmlResponse(
        "http://example.test/page",
        status=404,
        headers={"Content-Type": "text/html; charset=utf-8", "Set-Cookie": ["a=1", "b=2"]},
        body=b"<title>gone</title>",
        ip_address=__import__("ipaddress").ip_address("127.0.0.1"),
        protocol="HTTP/1.1",
    )
    state = pickle.loads(pickle.dumps(wire.response_state(response)))
    back = wire.response_from_state(state, request)
    assert isinstance(back, HtmlResponse)
    assert (back.status, back.body, back.url) == (404, b"<title>gone</title>", response.url)
    assert back.headers.getlist("Set-Cookie") == [b"a=1", b"b=2"]
    assert str(back.ip_address) == "127.0.0.1"
    assert back.request is request
    plain = wire.response_from_state(
        {
            **state,
            "url": "http://example.test/a.png",
            "headers": {"Content-Type": ["image/png"]},
            "body": b"\x89PNG\r\n\x1a\n\0\0\0",
        },
        request,
    )
    assert type(plain) is Response
    text = wire.response_from_state(
        {**state, "headers": {"Content-Type": ["text/plain"]}}, request
    )
    assert isinstance(text, TextResponse)


def test_a_request_travels_with_what_its_download_reads():
    request = Request(
        "http://example.test/",
        method="POST",
        body=b"x",
        headers={"User-Agent": "ua", "Cookie": "a=1"},
        meta={"download_timeout": 3, "proxy": "http://p:1", "depth": 4},
    )
    state = pickle.loads(pickle.dumps(wire.request_state(request)))
    again = wire.request_from_state(state, dont_retry=True)
    assert (again.method, again.body, again.url) == ("POST", b"x", request.url)
    assert again.headers[b"User-Agent"] == b"ua"
    assert again.headers[b"Cookie"] == b"a=1"
    assert again.meta == {"download_timeout": 3, "proxy": "http://p:1", "dont_retry": True}
    assert again.dont_filter


def test_errors_come_back_as_themselves_or_described():
    error = wire.error_from_state(
        pickle.loads(
            pickle.dumps(wire.error_state(DownloadTimeoutError("took 2 s"), "http://x.test/"))
        )
    )
    assert isinstance(error, DownloadTimeoutError)
    assert "took 2 s" in str(error)

    class Local(Exception):  # cannot be pickled: defined in a function
        pass

    described = wire.error_from_state(wire.error_state(Local("odd"), "http://x.test/"))
    assert isinstance(described, wire.ShardFetchError)
    assert "Local: odd" in str(described)


def test_the_guards_refusal_is_noted_in_the_coordinator():
    guard.clear_refused_hosts()
    try:
        guard.record_refused("intranet.test", "private address 10.0.0.1")
        state = wire.error_state(CannotResolveHostError("no address"), "http://intranet.test/")
        guard.clear_refused_hosts()  # the coordinator's process has not seen it
        error = wire.error_from_state(pickle.loads(pickle.dumps(state)))
        refusal = guard.guard_refusal(error, "intranet.test")
        assert refusal is not None
        assert refusal.reason == "private address 10.0.0.1"
    finally:
        guard.clear_refused_hosts()


def test_shard_settings_leave_the_crawls_work_to_the_coordinator():
    values = {
        "CONCURRENT_REQUESTS": 100,
        "EXTENSIONS": {"brokenlinks.checker.checks.LinkChecker": 100},
        "FEEDS": {"out.csv": {"format": "csv"}},
        "ITEM_PIPELINES": {"pipelines.store.StorePipeline": 300},
        "ADDONS": {"brokenlinks.Addon": 0},
        "BROKENLINKS_CHECK_SHARDS": 0,
        "LOG_FORMAT": "%(message)s",
    }
    out = shard_settings(values, 1, 3)
    assert out["CONCURRENT_REQUESTS"] == 34
    assert out["BROKENLINKS_CHECK_SHARDS"] == 1
    assert out["FEEDS"] == {}
    assert out["ITEM_PIPELINES"] == {}
    assert out["ADDONS"] == {}
    assert out["EXTENSIONS"]["brokenlinks.checker.checks.LinkChecker"] == 100
    # the project's own are left out (Scrapy would import them), Scrapy's turned off
    assert "brokenlinks.extensions.summary.CrawlSummary" not in out["EXTENSIONS"]
    assert out["EXTENSIONS"]["scrapy.extensions.logstats.LogStats"] is None
    assert out["LOG_FORMAT"] == "%(message)s"  # the crawl logs the shard's records
    assert values["FEEDS"]  # the coordinator's own settings are untouched


@pytest.mark.e2e
def test_a_shard_does_not_import_the_store():
    # the add-on's extensions, as the coordinator has them; Scrapy loads every key
    code = """
import sys
from scrapy.settings import Settings
from brokenlinks.addon import Addon
from brokenlinks.cluster.node import shard_settings
settings = Settings()
Addon().update_settings(settings)
values = shard_settings(dict(settings.copy_to_dict()), 0, 2)
names = Settings(values).get_component_priority_dict_with_base("EXTENSIONS")
assert "brokenlinks.checker.checks.LinkChecker" in names, sorted(names)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic")))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=PROJECT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_only_changed_picklable_settings_travel():
    values = {
        "DOWNLOAD_TIMEOUT": 180,  # Scrapy's default: the shard has it
        "RANDOMIZE_DOWNLOAD_DELAY": True,  # deprecated default: must not warn in the shard
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "PLAYWRIGHT_ABORT_REQUEST": lambda request: False,
        # what holds a running crawl (a lock here) can be neither copied nor pickled
        "BROKENLINKS_TEST_FILTER": threading.Lock(),
        "BROKENLINKS_RESOLVE": {"*.test": "127.0.0.1:8080"},
        "DOWNLOAD_HANDLERS": {"s3": None},
    }
    assert picklable_settings(Settings(values)) == {
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "BROKENLINKS_RESOLVE": {"*.test": "127.0.0.1:8080"},
        "DOWNLOAD_HANDLERS": {"s3": None},
    }


def test_shard_stats_are_merged_once():
    stats = {"downloader/request_count": 10, "brokenlinks/verdict_count/dead": 3}
    merge_stats(stats, {"downloader/request_count": 5, "brokenlinks/verdict_count/dead": 3,
                        "brokenlinks/downloader/max_sending": 9, "finish_reason": "finished"})  # fmt: skip
    merge_stats(stats, {"downloader/request_count": 7, "brokenlinks/downloader/max_sending": 4})
    assert stats == {
        "downloader/request_count": 22,
        "brokenlinks/verdict_count/dead": 3,
        "brokenlinks/downloader/max_sending": 9,
    }


def test_live_stats_count_the_shards_work_until_it_is_merged():
    checker = build_from_crawler(
        LinkChecker, get_crawler(settings_dict={"BROKENLINKS_CHECK_SHARDS": 2})
    )
    shards = checker.shards
    assert isinstance(shards, LocalShards)
    stats = checker.stats
    stats.set_value("downloader/request_count", 4)
    stats.set_value("brokenlinks/targets/checked", 2)
    shards._retired.append({"downloader/request_count": 3})
    shards.live_stats()  # no shard yet: the crawl's own and the retired ones
    assert checker.live_stats()["downloader/request_count"] == 7
    assert checker.live_stats()["brokenlinks/targets/checked"] == 2  # counted by the crawl
    assert stats.get_value("downloader/request_count") == 4  # the crawl's stats untouched
    shards.close()  # merged once: progress read after the close does not count them twice
    assert stats.get_value("downloader/request_count") == 7
    assert checker.live_stats()["downloader/request_count"] == 7


@pytest.mark.e2e
@deferred_f_from_coro_f
async def test_shards_are_launched_with_the_checker_and_leave_quietly_if_never_started():
    crawler = get_crawler(settings_dict={"BROKENLINKS_CHECK_SHARDS": 2})
    crawler.spider = type("S", (), {"checks_links": True})()
    checker = build_from_crawler(LinkChecker, crawler)
    shards = checker.shards
    assert isinstance(shards, LocalShards)
    processes = [process for process, _ in shards._launched]
    assert len(processes) == 2
    assert all(p.poll() is None for p in processes)  # importing, waiting for settings
    shards.close()  # the crawl ended before its spider opened
    assert shards._reaper is not None
    await shards._reaper
    assert [p.returncode for p in processes] == [0, 0]  # no settings came: a clean exit


def test_shard_count():
    assert shards_for(1) == 1
    assert shards_for(4) == 4
    assert shards_for(0, cores=6, crawls=1) == 6
    assert shards_for(0, cores=8, crawls=4) == 2


def test_shards_that_cannot_start_leave_the_checks_to_the_crawl(caplog):
    checker = build_from_crawler(
        LinkChecker, get_crawler(settings_dict={"BROKENLINKS_CHECK_SHARDS": 2})
    )
    shards = checker.shards
    assert isinstance(shards, LocalShards)
    closed = []

    def start() -> None:
        raise OSError(24, "Too many open files")

    shards.start = start  # type: ignore[method-assign]
    shards.close = lambda: closed.append(True)  # type: ignore[method-assign]
    spider = type("S", (), {"checks_links": True})()
    checker.open_shards(spider)
    assert checker.shards is None  # the crawl checks its links itself: slower, not stuck
    assert closed == [True]
    assert "Check shards could not start: links are checked in the crawl process" in caplog.text
    assert "Too many open files" in caplog.text


def test_robots_txt_and_its_redirects_are_one_answer_per_crawl():
    robots = Request("http://a.test/robots.txt")
    assert wire.is_robots_txt(robots)
    assert wire.request_state(robots)["robots"] is True
    moved = Request("http://a.test/", meta={"redirect_urls": ["http://a.test/robots.txt"]})
    assert wire.is_robots_txt(moved)  # where robots.txt redirected: shared as well
    assert not wire.is_robots_txt(Request("http://a.test/"))
    assert not wire.is_robots_txt(Request("http://a.test/robots.txt", method="HEAD"))
    page = Request("http://a.test/x", meta={"redirect_urls": ["http://a.test/old"]})
    assert wire.request_state(page)["robots"] is False
