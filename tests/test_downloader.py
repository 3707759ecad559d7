"""The downloader seam (brokenlinks.net.downloader): a slot never starts more than its concurrency.

The canary test pins down the Scrapy behaviour the seam works around: when it fails, Scrapy
counts a dequeued request before its task starts and the seam (and the pin) can go.
"""

from __future__ import annotations

import asyncio
import time

from scrapy import Request, Spider
from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from brokenlinks.net.downloader import PoliteDownloader


def _never_downloading(base: type[Downloader]) -> type[Downloader]:
    class Held(base):  # type: ignore[misc,valid-type]
        # the request stays "in flight" until the test ends: no network, no handler
        async def _download(self, slot, request):
            slot.transferring.add(request)
            await asyncio.Event().wait()

    return Held


async def _start_queued(base: type[Downloader], queued: int, concurrency: int) -> Slot:
    crawler = get_crawler(Spider)
    downloader = _never_downloading(base)(crawler)
    slot = Slot(concurrency=concurrency, delay=0, jitter=0)
    for i in range(queued):
        slot.queue.append((Request(f"http://a.test/{i}"), Deferred()))
    downloader._process_queue(slot)
    return slot


async def _cancel_others() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@deferred_f_from_coro_f
async def test_polite_downloader_starts_only_free_slots():
    slot = await _start_queued(PoliteDownloader, queued=5, concurrency=2)
    # counted at once, before any task has run: the other three wait in the queue
    assert (len(slot.transferring), len(slot.queue)) == (2, 3)
    await asyncio.sleep(0)  # the tasks run: still two
    assert (len(slot.transferring), len(slot.queue)) == (2, 3)
    await _cancel_others()


@deferred_f_from_coro_f
async def test_scrapy_downloader_starts_every_queued_request():
    # Scrapy 2.19 under the asyncio reactor: one pass of _process_queue empties the queue,
    # because a request counts as transferring only once its task runs
    slot = await _start_queued(Downloader, queued=5, concurrency=2)
    assert (len(slot.transferring), len(slot.queue)) == (0, 0)
    await asyncio.sleep(0)
    assert len(slot.transferring) == 5
    await _cancel_others()


@deferred_f_from_coro_f
async def test_polite_downloader_keeps_one_global_budget():
    crawler = get_crawler(Spider, settings_dict={"CONCURRENT_REQUESTS": 3})
    downloader = _never_downloading(PoliteDownloader)(crawler)
    slots = [Slot(concurrency=2, delay=0, jitter=0) for _ in range(3)]
    for n, slot in enumerate(slots):
        for i in range(2):
            slot.queue.append((Request(f"http://h{n}.test/{i}"), Deferred()))
        downloader._process_queue(slot)
    # two from the first slot, one from the second: the third waits for room
    assert [len(s.transferring) for s in slots] == [2, 1, 0]
    assert len(downloader.sending) == 3
    assert list(downloader._starved) == [slots[1], slots[2]]
    await _cancel_others()


@deferred_f_from_coro_f
async def test_a_held_slot_sends_nothing_and_does_not_count_for_backout():
    crawler = get_crawler(Spider, settings_dict={"CONCURRENT_REQUESTS": 2})
    downloader = _never_downloading(PoliteDownloader)(crawler)
    slot = downloader.slots["held.test"] = Slot(concurrency=8, delay=0, jitter=0)
    requests = [
        Request(f"http://held.test/{i}", meta={"download_slot": "held.test"}) for i in range(4)
    ]
    downloader.hold(requests[0], time.monotonic() + 60)
    for request in requests:
        downloader.active.add(request)
        slot.queue.append((request, Deferred()))
    downloader._process_queue(slot)
    assert (len(slot.transferring), len(slot.queue)) == (0, 4)
    assert slot.latercall is not None  # woken when the hold ends
    # four requests active, all of them waiting on a held host: the engine may go on
    assert not downloader.needs_backout()
    slot.close()
    await _cancel_others()
