"""What the spiders share: their arguments, scope and rendering; reading a referring page.

:class:`BrokenlinksSpider` is every spider's base: each validates its own ``-a`` arguments
in ``__init__`` and hands them on, and ``from_crawler`` routes pages through the browser as
its ``render_mode`` says. :class:`ReferringPagesSpider` adds the reading of a referring
page and of a page that failed, shared by ``backlinks`` (seeds from a file or URL) and
``recheck`` (pages from the database); ``site`` follows links and reads pages its own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from scrapy import Spider
from scrapy.http import TextResponse

from brokenlinks.checker.pages import (
    Scope,
    failed_page,
    failure_kind,
    page_failure,
    process_response,
    read_page,
)
from brokenlinks.params import ArgumentError, OutreachParams
from brokenlinks.render.browser import configure_rendering

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from brokenlinks.checker.checks import LinkChecker
    from brokenlinks.checker.freshness import FreshVerdicts
    from brokenlinks.render.browser import BrowserContexts

#: arguments Scrapyd adds to every job: accepted, never stored as the crawl's arguments
SCRAPYD_ARGUMENTS = frozenset({"_job", "_version"})


class BrokenlinksSpider(Spider):
    """The project's spider base (no ``name``: Scrapy lists no spider for it)."""

    checker: LinkChecker
    contexts: BrowserContexts
    fresh: FreshVerdicts | None = None

    def __init__(self, name: str | None, *, arguments: dict[str, Any], scope: Scope) -> None:
        super().__init__(name)
        #: the spider arguments as given, stored with the crawl run
        self.arguments = {k: v for k, v in arguments.items() if k not in SCRAPYD_ARGUMENTS}
        self.scope = scope
        #: final URLs of the pages read (a page may redirect to one read already)
        self.read: set[str] = set()

    @property
    def render_mode(self) -> str:
        """When referring pages go through the browser: never, auto or always."""
        raise NotImplementedError

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.contexts = configure_rendering(crawler.settings, spider.render_mode, crawler)
        return spider


class OutreachSpider(Spider):
    """A spider over the database's dead targets or referring sites (``archive``, ``contacts``).

    Its one argument, ``-a again=1``, looks up again what an earlier run looked up.
    """

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name)
        try:
            self.params = OutreachParams.from_kwargs(kwargs, self.name)
        except ArgumentError as e:
            self.logger.error("%s", e)
            raise
        #: the spider arguments as given, stored with the crawl run
        self.arguments = {k: v for k, v in kwargs.items() if k not in SCRAPYD_ARGUMENTS}

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments."""
        OutreachParams.from_kwargs(kwargs, cls.name)

    def _inc(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)


class ReferringPagesSpider(BrokenlinksSpider):
    """A spider that reads referring pages and checks their links."""

    async def parse_page(self, response: Response, requested_url: str) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if not isinstance(response, TextResponse):
            stats.inc_value("brokenlinks/pages/not_html")
            yield failed_page(
                requested_url, url=response.url, status=response.status, error="not an HTML page"
            )
            return
        decoded = read_page(response)
        if (
            again := self.contexts.browser_request(response, self.render_mode, stats, decoded.text)
        ) is not None:
            # the raw HTML looks like an app shell: read it again through the browser
            yield again
            return
        if response.url in self.read:
            stats.inc_value("brokenlinks/pages/duplicate")
            self.logger.info(
                "%(requested)s leads to %(url)s, already read in this crawl",
                {"requested": requested_url, "url": response.url},
            )
            return
        self.read.add(response.url)
        stats.inc_value("brokenlinks/pages/crawled")
        for item in await process_response(
            response,
            decoded,
            requested_url=requested_url,
            scope=self.scope,
            checker=self.checker,
            fresh=self.fresh,
        ):
            yield item

    def page_failed(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        requested_url = request.cb_kwargs.get("requested_url", request.url)
        stats = self.crawler.stats
        assert stats is not None
        assert failure.value is not None
        if (again := self.contexts.fallback_request(request, failure.value, stats)) is not None:
            return [again]
        stats.inc_value("brokenlinks/pages/failed")
        maxsize = request.meta.get(
            "download_maxsize", self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        )
        assert failure.value is not None
        url, status, error = page_failure(failure.value, request.url, maxsize)
        stats.inc_value(f"brokenlinks/pages/failed/{failure_kind(error)}")
        self.logger.warning(
            "Could not read %(url)s: %(error)s", {"url": requested_url, "error": error}
        )
        return [failed_page(requested_url, url=url, status=status, error=error)]
