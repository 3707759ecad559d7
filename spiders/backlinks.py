"""``scrapy crawl backlinks -a seeds=FILE [-a domain=D1,D2]``: check the links of referring pages.

The seeds file is a URL list or a backlink export (see ``brokenlinks.seeds``). Without
``domain`` every outbound link is checked (resource-page prospecting); with it only links
to those domains and their subdomains (reclaim or competitor mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider, signals
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from brokenlinks.checks import LinkChecker
from brokenlinks.pages import Scope, failed_page, process_response
from brokenlinks.params import ArgumentError, BacklinksParams
from brokenlinks.seeds import SeedFileError, read_seeds

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.http import Response
    from twisted.python.failure import Failure


class BacklinksSpider(Spider):
    name = "backlinks"
    checker: LinkChecker

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name)
        try:
            self.params = BacklinksParams.from_kwargs(kwargs)
            self.seed_file = read_seeds(self.params.seeds)
        except (ArgumentError, SeedFileError) as e:
            self.logger.error("%s", e)
            raise
        self.arguments = {k: v for k, v in kwargs.items() if k not in {"_job", "_version"}}
        self.scope = Scope(domains=self.params.domains)

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments or an unreadable seeds file."""
        read_seeds(BacklinksParams.from_kwargs(kwargs).seeds)

    async def start(self) -> AsyncIterator[Any]:
        # extensions are built after the spider, so the checker is looked up here
        checker = self.crawler.get_extension(LinkChecker)
        if checker is None:
            msg = "the brokenlinks.checks.LinkChecker extension is not enabled (EXTENSIONS)"
            raise RuntimeError(msg)
        self.checker = checker
        seeds = self.seed_file
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("brokenlinks/seeds/pages", len(seeds.seeds))
        stats.set_value("brokenlinks/seeds/duplicates", seeds.duplicates)
        stats.set_value("brokenlinks/seeds/invalid", len(seeds.invalid))
        for bad in seeds.invalid:
            self.logger.warning(
                "seeds %(path)s line %(line)d: skipped %(value)r (%(why)s)",
                {"path": seeds.path, "line": bad.line, "value": bad.value, "why": bad.why},
            )
        self.logger.info(
            "Read %(count)d referring pages from %(path)s (%(format)s)",
            {"count": len(seeds.seeds), "path": seeds.path, "format": seeds.format},
        )
        for seed in seeds.seeds:
            # Lazy start (Scrapy docs, "start-requests-lazy"): while the downloader is busy,
            # the next referring page waits until the scheduler runs dry, so that a long
            # seeds file does not become that many queued requests in memory at once.
            if self.crawler.engine is not None and self.crawler.engine.needs_backout():
                await self.crawler.signals.wait_for(signals.scheduler_empty)
            yield Request(
                seed.url,
                callback=self.parse_page,
                errback=self.page_failed,
                cb_kwargs={"requested_url": seed.url},
            )

    async def parse_page(self, response: Response, requested_url: str) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if not isinstance(response, TextResponse):
            stats.inc_value("brokenlinks/pages/not_html")
            yield failed_page(
                requested_url, url=response.url, status=response.status, error="not an HTML page"
            )
            return
        stats.inc_value("brokenlinks/pages/crawled")
        for item in await process_response(
            response, requested_url=requested_url, scope=self.scope, checker=self.checker
        ):
            yield item

    def page_failed(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        requested_url = request.cb_kwargs.get("requested_url", request.url)
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("brokenlinks/pages/failed")
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            return [
                failed_page(
                    requested_url,
                    url=response.url,
                    status=response.status,
                    error=f"HTTP {response.status}",
                )
            ]
        error = f"{type(failure.value).__name__}: {failure.getErrorMessage()}"[:300]
        self.logger.warning(
            "Could not read %(url)s: %(error)s", {"url": request.url, "error": error}
        )
        return [failed_page(requested_url, url=None, status=None, error=error)]
