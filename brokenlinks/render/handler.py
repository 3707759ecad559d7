"""scrapy-playwright's download handler, started on the first page to render.

scrapy-playwright starts Playwright when the engine starts: a Node.js driver process per
handler instance (one for ``http``, one for ``https``), ~120 MB and ~0.5 s of CPU each.
``render=auto`` installs the handler for every crawl that might render, yet most crawls
render no page at all (0 of 181 real pages in ``tests/data`` looked like an app shell), so
the drivers were pure cost: a third of a crawl's memory, counted over all its processes.
This handler starts Playwright on the first request that asks for the browser, under a
lock, and otherwise behaves exactly as scrapy-playwright's (plain requests go to Scrapy's
HTTP/1.1 handler, as before).

It relies on two names of scrapy-playwright that are not public API: the
``engine_started`` receiver ``_maybe_launch_in_thread`` and the start-up coroutine
``_launch`` (with ``_maybe_future_from_coro`` for its threaded-loop mode);
``tests/test_render_lazy.py`` fails if either changes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class LazyPlaywrightHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]  # untyped base
    """Starts Playwright on the first rendered request instead of at engine start."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def _maybe_launch_in_thread(self) -> None:
        """The ``engine_started`` receiver: start nothing yet."""

    async def _start_playwright(self) -> None:
        async with self._start_lock:
            if not self._started:
                await self._maybe_future_from_coro(self._launch())
                self._started = True

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("playwright") and not self._started:
            await self._start_playwright()
        response: Response = await super().download_request(request)
        return response
