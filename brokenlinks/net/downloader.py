"""A downloader whose per-host concurrency limit holds under the asyncio reactor.

The Scrapy behaviour worked around (Scrapy 2.19, ``scrapy/core/downloader/__init__.py``):
``Downloader._process_queue`` pops requests off a slot's queue while
``slot.free_transfer_slots() > 0`` and starts each one as a task; the request is only
added to ``slot.transferring`` when that task runs ``Downloader._download``. Under the
asyncio reactor a task created with ``loop.create_task`` runs at the loop's next turn, so
one pass of the ``while`` loop sees the same free slots every time and starts every
queued request of the slot. Measured against the test web (``LocalWeb.max_in_flight``)
with ``CONCURRENT_REQUESTS_PER_DOMAIN = 8``: 28 to 33 requests in flight to one host (2
gave the same overshoot); with Twisted's epoll reactor, where the coroutine starts at
once, the limit held exactly. The reproduction is ``benchmarks/concurrency_overshoot.py``
and the upstream report ``docs/upstream-concurrency-overshoot.md``.

The seam is one thing: a request counts as transferring from the moment it leaves its
slot's queue (:class:`_CountingQueue`), before its task starts. ``Downloader._download``
adds it again (a set) and removes it when done, so nothing else changes. The override of
``_process_queue`` only installs that queue and calls Scrapy's own method; it copies none
of its logic. ``tests/test_downloader.py`` checks the seam against Scrapy's Slot and the
limit in a real crawl; when Scrapy counts the request before scheduling its task, remove
this module and the ``DOWNLOADER`` setting. Enabled with
``DOWNLOADER = "brokenlinks.net.downloader.PoliteDownloader"``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader

if TYPE_CHECKING:
    from scrapy.core.downloader import Slot


class _CountingQueue(deque[tuple[Any, Any]]):
    """A slot's queue that marks each request it hands out as transferring."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot.queue)
        self.slot = slot

    def popleft(self) -> tuple[Any, Any]:
        entry = super().popleft()
        self.slot.transferring.add(entry[0])
        return entry


class PoliteDownloader(Downloader):
    """Scrapy's Downloader, with a request counted as transferring once it is dequeued."""

    def _process_queue(self, slot: Slot) -> None:
        if not isinstance(slot.queue, _CountingQueue):
            slot.queue = _CountingQueue(slot)
        super()._process_queue(slot)
