"""The crawl's downloader: one global request budget, exact per-host limits, held hosts.

Scrapy's Downloader (2.19) limits requests per slot (host) only where the engine does not
look: ``CONCURRENT_REQUESTS`` is enforced by the engine's ``needs_backout()`` for the
requests it schedules, but requests sent with ``engine.download_async`` (every link check,
probe, archive or RDAP look-up) go straight to the downloader. One referring page linking
to 300 hosts opened 300 connections with ``CONCURRENT_REQUESTS = 16`` (server-side count),
and a server with a small listen backlog then failed healthy targets. :class:`PoliteDownloader`
makes three promises:

- **one global budget**: at most ``CONCURRENT_REQUESTS`` requests are sent and unanswered
  at once, whoever sent them. A slot with queued requests and no room in the budget waits
  in a queue of starved slots (oldest first) and is served as answers come back.
- **exact per-host limits** under the asyncio reactor. Scrapy's ``_process_queue`` pops
  requests while ``slot.free_transfer_slots() > 0`` and starts each as a task; the request
  only counts as transferring once that task runs, at the loop's next turn, so one pass
  started every queued request of the slot (measured: 28 to 33 in flight to one host with
  ``CONCURRENT_REQUESTS_PER_DOMAIN = 8``; ``benchmarks/concurrency_overshoot.py``,
  ``docs/upstream-concurrency-overshoot.md``). Here a request counts from the moment it
  leaves its slot's queue.
- **held hosts**: :meth:`PoliteDownloader.hold` keeps a slot from sending until a given
  time (a ``Retry-After``): its queued requests wait in the queue, off the budget and off
  ``needs_backout()``, instead of in a sleeping middleware that counts them as active and
  stops the engine from scheduling referring pages.

Every use of a private Scrapy name (``_process_queue``, ``_latercall``, ``_download``,
``_wait_for_download``, ``_schedule_coro``) is in the section marked "Scrapy seam" at the end
of the class; ``tests/test_downloader.py`` pins them. Enabled with
``DOWNLOADER = "brokenlinks.net.downloader.PoliteDownloader"`` (the add-on sets it).
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from scrapy.core.downloader import Downloader
from scrapy.utils.asyncio import call_later

# Scrapy seam: the private helper Scrapy's _process_queue schedules download tasks with
from scrapy.utils.defer import _schedule_coro

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader import Slot
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class PoliteDownloader(Downloader):
    """Scrapy's Downloader with a global in-flight budget, exact slots and held hosts."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        #: requests sent and not yet answered, in every slot: the global budget's count
        self.sending: set[Request] = set()
        #: how many may be sending at once: CONCURRENT_REQUESTS, lowered while the event
        #: loop lags (brokenlinks.net.lag)
        self.budget = self.total_concurrency
        #: the most requests that were sending at once (stat ``brokenlinks/downloader/max_sending``)
        self.max_sending = 0
        #: slots with queued requests that found the budget spent, oldest first
        self._starved: dict[Slot, None] = {}
        #: slot key → monotonic time before which the slot sends nothing
        self._holds: dict[str, float] = {}

    # -- the public side ------------------------------------------------------------

    def budget_left(self) -> bool:
        """Tell whether one more request may be sent now (``CONCURRENT_REQUESTS``; 0: no limit)."""
        return not self.total_concurrency or len(self.sending) < self.budget

    def hold(self, request: Request, until: float) -> None:
        """Send nothing more to *request*'s slot before the monotonic time *until*."""
        key = request.meta.get(self.DOWNLOAD_SLOT) or self.get_slot_key(request)
        now = monotonic()
        # expired holds of slots that never came back: the dict stays small
        for stale in [k for k, t in self._holds.items() if t <= now]:
            del self._holds[stale]
        if until > self._holds.get(key, 0.0):
            self._holds[key] = until

    def held_until(self, key: str) -> float | None:
        """The time before which slot *key* sends nothing, if it is held now."""
        until = self._holds.get(key)
        return until if until is not None and until > monotonic() else None

    def needs_backout(self) -> bool:
        """Scrapy's rule (``active`` against ``CONCURRENT_REQUESTS``), held requests left out.

        A request queued on a held slot cannot go before its host allows: counting it
        would stop the engine from scheduling referring pages for as long as one
        rate-limited host makes the crawl wait.
        """
        if not self.total_concurrency:
            return False
        held = sum(
            len(self.slots[key].queue)
            for key in list(self._holds)
            if key in self.slots and self.held_until(key) is not None
        )
        return len(self.active) - held >= self.total_concurrency

    def close(self) -> None:
        """Close Scrapy's downloader; record the most requests that were sent at once."""
        super().close()
        if self.crawler.stats is not None:
            self.crawler.stats.max_value("brokenlinks/downloader/max_sending", self.max_sending)

    def feed(self) -> None:
        """Give room in the budget to the slots that waited for it, oldest first."""
        while self._starved and self.budget_left():
            slot = next(iter(self._starved))
            del self._starved[slot]
            self._process_queue(slot)

    def _slot_hold(self, slot: Slot, now: float) -> float | None:
        """The time *slot*'s queue is held until (its first request names its slot key)."""
        if not slot.queue or not self._holds:
            return None
        key = slot.queue[0][0].meta.get(self.DOWNLOAD_SLOT)
        if not isinstance(key, str) or (until := self._holds.get(key)) is None:
            return None
        if until <= now:
            del self._holds[key]  # served: the host may be asked again
            return None
        return until

    # -- Scrapy seam: every private name of Scrapy's Downloader used here -------------

    def _process_queue(self, slot: Slot) -> None:
        # Scrapy's own method (2.19) with three changes: a held slot waits, the global
        # budget is checked before each request, and a request is counted (in the slot
        # and in the budget) as it leaves the queue, before its task runs.
        if slot.latercall:
            return  # a later call is due: it processes the queue then
        now = monotonic()
        until = self._slot_hold(slot, now)
        if until is not None:
            slot.latercall = call_later(until - now, self._latercall, slot)
            return
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            if not self.budget_left():
                self._starved[slot] = None
                return
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)
            self.sending.add(request)
            self.max_sending = max(self.max_sending, len(self.sending))
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                # one request per delay: the next pass sets the slot's later call
                self._process_queue(slot)
                break

    async def _download(self, slot: Slot, request: Request) -> Response:
        try:
            return await super()._download(slot, request)
        finally:
            # Scrapy's own finally has freed the slot and processed its queue (which, the
            # budget still counting this request, may have starved it): now the budget
            self.sending.discard(request)
            self.feed()
