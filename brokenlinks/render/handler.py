"""scrapy-playwright's download handler, started on the first page to render, with its guard.

scrapy-playwright starts Playwright when the engine starts: a Node.js driver process per
handler instance (one for ``http``, one for ``https``), ~120 MB and ~0.5 s of CPU each.
``render=auto`` installs the handler for every crawl that might render, yet most crawls
render no page at all (0 of 181 real pages in ``tests/data`` looked like an app shell), so
the drivers were pure cost: a third of a crawl's memory, counted over all its processes.
This handler starts Playwright on the first request that asks for the browser, under a
lock, and otherwise behaves exactly as scrapy-playwright's (plain requests go to Scrapy's
HTTP/1.1 handler, as before).

It is also where the browser's network guard is enforced, at the point of use: the
browser's egress proxy (:class:`~brokenlinks.render.egress.EgressProxy`) starts with the
first rendered page (and a failure to start is raised, never ignored), and the options the
guard needs are merged into scrapy-playwright's launch options and browser contexts as they
are *then* (``launch_options``/``context_options``), so ``-s PLAYWRIGHT_LAUNCH_OPTIONS=...``
or Scrapyd's ``setting=`` cannot replace them. A remote browser, another browser type or
browser provider is replaced by a local Chromium with a warning (preflight refuses those
settings before the crawl; this covers crawls started without ``scrapy crawl``). The proxy
stops after the browser has closed.

scrapy-playwright has no public way to start later: the private start-up names it takes are
reached through ``brokenlinks._compat.PlaywrightHandlerBase`` (checked on import; canary in
``tests/test_compat.py``, behaviour in ``tests/test_render_lazy.py``). The ``Config`` fields
read here (``launch_options``, ``startup_context_kwargs``, ``cdp_url``, ``connect_url``,
``browser_type_name``) and ``browser_provider_cls`` are scrapy-playwright's too;
``tests/test_render_guard.py`` fails if they change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from scrapy_playwright.provider import PlaywrightBrowserProvider

from brokenlinks._compat import PlaywrightHandlerBase
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.render.browser import context_options, launch_options, stats_counter
from brokenlinks.render.egress import EgressProxy

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class LazyPlaywrightHandler(PlaywrightHandlerBase):
    """Starts Playwright (and the egress proxy) on the first rendered request."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._started = False
        self._start_lock = asyncio.Lock()
        self._guard_config = BrokenlinksConfig.from_settings(crawler.settings)
        self._count = stats_counter(crawler)
        #: the browser's only way out, once the browser is started
        self.egress: EgressProxy | None = None
        self._local_chromium()

    def _local_chromium(self) -> None:
        """Launch a local Chromium whatever the settings say (preflight refuses the others)."""
        config = self.config
        for name in ("cdp_url", "connect_url"):
            if getattr(config, name):
                logger.warning(
                    "Ignored PLAYWRIGHT_%(name)s: the crawl launches its own guarded browser",
                    {"name": name.upper()},
                )
                setattr(config, name, None)
        if config.browser_type_name != "chromium":
            logger.warning(
                "Ignored PLAYWRIGHT_BROWSER_TYPE=%(type)s: the network guard needs Chromium",
                {"type": config.browser_type_name},
            )
            config.browser_type_name = "chromium"
        if getattr(self, "browser_provider_cls", None) is not PlaywrightBrowserProvider:
            logger.warning(
                "Ignored PLAYWRIGHT_BROWSER_PROVIDER: the crawl launches its own guarded browser"
            )
            self.browser_provider_cls = PlaywrightBrowserProvider

    async def at_engine_start(self) -> None:
        """Start nothing yet."""

    async def _start_playwright(self) -> None:
        async with self._start_lock:
            if not self._started:
                proxy = EgressProxy(self._guard_config, count=self._count)
                # start() waits for the proxy's own thread: not on the reactor's
                await asyncio.to_thread(proxy.start)
                self.egress = proxy
                self.config.launch_options = launch_options(
                    self._guard_config, self.config.launch_options, proxy.url
                )
                self.config.startup_context_kwargs = {
                    name: context_options(self._guard_config, kwargs, proxy.url)
                    for name, kwargs in (self.config.startup_context_kwargs or {}).items()
                }
                await self.start_playwright()
                self._started = True

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright"):
            if not self._started:
                await self._start_playwright()
            if "playwright_context_kwargs" in request.meta:
                assert self.egress is not None
                request.meta["playwright_context_kwargs"] = context_options(
                    self._guard_config, request.meta["playwright_context_kwargs"], self.egress.url
                )
        response: Response = await super().download_request(request)
        return response

    async def close(self) -> None:
        """Close the browser, then its egress proxy."""
        try:
            await super().close()
        finally:
            if self.egress is not None:
                proxy, self.egress = self.egress, None
                await asyncio.to_thread(proxy.stop)
