"""A downloader whose per-host concurrency limit holds under the asyncio reactor.

Scrapy 2.19's ``Downloader._process_queue`` starts each queued request as a task and
only counts it as transferring once the task runs. Under Twisted's reactors the
coroutine starts at once; under the asyncio reactor (which scrapy-playwright needs) the
task starts later, so one pass of the loop starts every queued request of a slot and a
host sees far more than ``CONCURRENT_REQUESTS_PER_DOMAIN`` requests in flight (28–33
for a limit of 8, measured). Counting the request as transferring before its task is
scheduled restores the limit. Enabled with ``DOWNLOADER = "brokenlinks.downloader.PoliteDownloader"``.
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from scrapy.core.downloader import Downloader
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot


class PoliteDownloader(Downloader):
    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            # Counted now, not when the task starts: see the module docstring.
            # Downloader._download adds it again (a set) and removes it when done.
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
