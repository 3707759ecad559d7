"""The private names of other packages that brokenlinks relies on: one place, each checked.

A private name can change in any release of its package, with no deprecation. Each one the
project uses is reached only through this module, checked when the module is imported:
if one is gone, the import fails with one message that names the package, its installed
version and the name, instead of a crawl that misbehaves later. ``tests/test_compat.py``
holds a canary per seam that fails when the upstream behaviour changes, so a new release
is tried by running it (``.ci/run`` does, against the newest releases).

The seams, and why there is no public way:

* scrapy-playwright's download handler starts Playwright (a Node.js driver per handler,
  ~120 MB) from its ``engine_started`` receiver ``_maybe_launch_in_thread``, through the
  coroutine ``_launch`` and ``_maybe_future_from_coro`` (its threaded-loop mode). There
  is no setting to start it later; :class:`PlaywrightHandlerBase` gives both steps names
  of this project, and ``brokenlinks.render.handler`` starts the browser on the first
  page to render. Checked with scrapy-playwright 0.0.48.

* Scrapy's engine asks the ``spider_idle`` receivers again only on its heartbeat, every
  5 s, once one of them kept the crawl open (``DontCloseSpider``); it asks at once when
  its ``_slot.nextcall`` is scheduled, which is what each finished download does. A
  cluster node that waits for another node (its shards serve the other's checks, or the
  other holds pages) calls :func:`wake_engine` when the wait is over, so that the crawl
  closes then rather than up to 5 s later (each node of a cluster run, at its end).
  Without the seam it does nothing: the heartbeat still comes. Checked with Scrapy 2.19.

One seam is not here yet: ``Downloader._process_queue`` (``brokenlinks.net.downloader``,
canary ``tests/test_downloader.py``), whose module is being rewritten. The engine's
``downloader.active``, ``downloader.slots[key].active`` and ``scraper.slot`` (``queue``
then ``active``), read by the checker's early confirmation and the reliable page queue,
have no underscore but no documentation either: their canaries are in
``tests/test_compat.py`` too. The others that the
project once used have public replacements: ``RedirectMiddleware.process_response``
instead of ``_redirect``, ``CrawlerProcess.create_crawler`` instead of
``ScrapyCommand._create_crawler``, the ``FEEDS`` options instead of
``FeedExporter.feeds``/``filters``, the exporter's own ``export_item`` instead of
``CsvItemExporter._headers_not_written``, and literals declared beside each marker
instead of the stdlib's ``re._parser``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from scrapy_playwright import __version__ as SCRAPY_PLAYWRIGHT_VERSION
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

if TYPE_CHECKING:
    from scrapy.core.engine import ExecutionEngine

#: scrapy-playwright's private handler methods used here: name → must be a coroutine function
PLAYWRIGHT_SEAM: dict[str, bool] = {
    "_maybe_launch_in_thread": True,
    "_launch": True,
    "_maybe_future_from_coro": False,
}


class MissingSeamError(ImportError):
    """A private name brokenlinks relies on is not in the installed release of its package."""


def missing_names(owner: type, names: dict[str, bool]) -> list[str]:
    """The *names* of *owner* that are absent, not callable, or not coroutine functions.

    >>> class A:
    ...     async def go(self): ...
    ...     def now(self): ...
    >>> missing_names(A, {"go": True, "now": True, "gone": False})
    ['now (not a coroutine function)', 'gone']
    """
    missing: list[str] = []
    for name, coroutine in names.items():
        member = inspect.getattr_static(owner, name, None)
        if member is None or not callable(member):
            missing.append(name)
        elif coroutine and not inspect.iscoroutinefunction(member):
            missing.append(f"{name} (not a coroutine function)")
    return missing


def require_names(owner: type, names: dict[str, bool], package: str, version: str) -> None:
    """Raise :class:`MissingSeamError` naming the release if *owner* lacks one of *names*."""
    missing = missing_names(owner, names)
    if missing:
        msg = (
            f"brokenlinks relies on private names of {package} that {package} {version} "
            f"does not have: {', '.join(f'{owner.__qualname__}.{n}' for n in missing)}. "
            f"Install the {package} release that brokenlinks declares (pip check names a "
            f"conflict) or a brokenlinks release that supports {package} {version}."
        )
        raise MissingSeamError(msg)


require_names(
    ScrapyPlaywrightDownloadHandler,
    PLAYWRIGHT_SEAM,
    "scrapy-playwright",
    SCRAPY_PLAYWRIGHT_VERSION,
)


class PlaywrightHandlerBase(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]  # untyped
    """scrapy-playwright's download handler, its start-up under names of this project.

    :meth:`at_engine_start` runs when the engine starts and starts Playwright, as
    scrapy-playwright does; a subclass may start nothing there and call
    :meth:`start_playwright` later.
    """

    async def _maybe_launch_in_thread(self) -> None:
        # scrapy-playwright's engine_started receiver (connected in its __init__)
        await self.at_engine_start()

    async def at_engine_start(self) -> None:
        await self.start_playwright()

    async def start_playwright(self) -> None:
        """Start Playwright and the start-up contexts (scrapy-playwright's own start)."""
        awaitable: Any = self._maybe_future_from_coro(self._launch())
        await awaitable


def wake_engine(engine: ExecutionEngine | None) -> None:
    """Have *engine* look now whether its spider is idle, not at its next heartbeat (5 s).

    Scheduling the engine's ``_slot.nextcall`` is what a finished download does; without
    it (another Scrapy release, no crawl open) this does nothing, and the heartbeat asks.
    """
    slot = getattr(engine, "_slot", None)
    schedule = getattr(getattr(slot, "nextcall", None), "schedule", None)
    if callable(schedule):
        schedule()
