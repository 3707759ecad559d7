"""Referring pages are handed to Scrapy lazily: none waits in memory while the downloader is full."""

from __future__ import annotations

import asyncio

from brokenlinks.spiders.backlinks import BacklinksSpider
from scrapy import signals
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.checker.checks import LinkChecker

from .conftest import write_seeds


class _Engine:
    """The one engine method start() asks: is the downloader full?"""

    def __init__(self) -> None:
        self.busy = True

    def needs_backout(self) -> bool:
        return self.busy


# asyncio awaits inside: run as an asyncio task, as in tests/test_pipeline.py
@deferred_f_from_coro_f
async def test_start_waits_for_an_empty_scheduler_while_backed_out(tmp_path):
    seeds = write_seeds(tmp_path, [f"http://blog.test/{i}.html" for i in range(3)])
    crawler = get_crawler(BacklinksSpider)
    # render=never: get_crawler() freezes the settings that rendering would add to
    spider = BacklinksSpider.from_crawler(crawler, seeds=str(seeds), render="never")
    checker = build_from_crawler(LinkChecker, crawler)
    crawler.get_extension = lambda cls: checker  # type: ignore[method-assign]
    engine = _Engine()
    crawler.engine = engine  # type: ignore[assignment]
    # the moment start() waits for the signal, not a sleep: the test knows it is waiting
    waiting = asyncio.Event()
    wait_for = crawler.signals.wait_for

    def recording_wait_for(signal):
        waiting.set()
        return wait_for(signal)

    crawler.signals.wait_for = recording_wait_for  # type: ignore[method-assign]
    start = spider.start()

    pending = asyncio.ensure_future(anext(start))
    await asyncio.wait_for(waiting.wait(), 5)
    assert not pending.done(), "a backed-out engine gets no new request"
    crawler.signals.send_catch_log(signals.scheduler_empty)
    first = await asyncio.wait_for(pending, 5)
    assert first.url == "http://blog.test/0.html"

    engine.busy = False  # room in the downloader: the next ones come at once
    second = await asyncio.wait_for(anext(start), 5)
    third = await asyncio.wait_for(anext(start), 5)
    assert [second.url, third.url] == ["http://blog.test/1.html", "http://blog.test/2.html"]
