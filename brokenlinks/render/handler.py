"""scrapy-playwright's download handler, started on the first page to render.

scrapy-playwright starts Playwright when the engine starts: a Node.js driver process per
handler instance (one for ``http``, one for ``https``), ~120 MB and ~0.5 s of CPU each.
``render=auto`` installs the handler for every crawl that might render, yet most crawls
render no page at all (0 of 181 real pages in ``tests/data`` looked like an app shell), so
the drivers were pure cost: a third of a crawl's memory, counted over all its processes.
This handler starts Playwright on the first request that asks for the browser, under a
lock, and otherwise behaves exactly as scrapy-playwright's (plain requests go to Scrapy's
HTTP/1.1 handler, as before).

scrapy-playwright has no public way to start later: the private names it takes are
reached through ``brokenlinks._compat.PlaywrightHandlerBase`` (checked on import; canary
in ``tests/test_compat.py``, behaviour in ``tests/test_render_lazy.py``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from brokenlinks._compat import PlaywrightHandlerBase

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class LazyPlaywrightHandler(PlaywrightHandlerBase):
    """Starts Playwright on the first rendered request instead of at engine start."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def at_engine_start(self) -> None:
        """Start nothing yet."""

    async def _start_playwright(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self.start_playwright()
                self._started = True

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright") and not self._started:
            await self._start_playwright()
        response: Response = await super().download_request(request)
        return response
