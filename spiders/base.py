"""What the spiders share: their arguments, scope and rendering; reading a referring page.

:class:`BrokenlinksSpider` is every spider's base: each validates its own ``-a`` arguments
in ``__init__`` and hands them on, and ``from_crawler`` routes pages through the browser as
its ``render_mode`` says. :class:`ReferringPagesSpider` adds the reading of a referring
page and of a page that failed, shared by ``backlinks`` (seeds from a file or URL),
``recheck`` (pages from the database) and ``site`` (whole sites, through its hooks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from scrapy import Spider
from scrapy.http import TextResponse

from brokenlinks.checker.checks import ChecksStopped
from brokenlinks.checker.pages import (
    Scope,
    failed_page,
    failure_kind,
    page_again,
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
    from brokenlinks.parsing.charsets import Decoded
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
    """A spider that reads referring pages and checks their links.

    :meth:`parse_page` and :meth:`page_failed` are the callbacks of every referring page:
    the steps all spiders share, with hooks for what differs (``site`` follows links, keys
    pages by canonical URL and keeps other sites' pages out).
    """

    #: the crawl's link checks may run in check shards (brokenlinks.cluster)
    checks_links = True

    def page_key(self, url: str) -> str | None:
        """What makes two fetched pages the same page (``None``: never a duplicate)."""
        return url

    def skip_response(self, response: Response, requested_url: str) -> bool:
        """Whether *response* is none of this crawl's pages (nothing is recorded for it)."""
        return False

    def skip_failure(self, failure: Failure, requested_url: str) -> bool:
        """Whether a failed page is none of this crawl's pages (nothing is recorded for it)."""
        return False

    def failure_is_normal(self, failure: Failure) -> bool:
        """Whether a failed page is logged at ``INFO`` (else ``WARNING``)."""
        return False

    async def page_items(
        self, response: TextResponse, decoded: Decoded, requested_url: str, **context: Any
    ) -> AsyncIterator[Any]:
        """The items (and requests) of a page read for the first time."""
        for item in await process_response(
            response,
            decoded,
            requested_url=requested_url,
            scope=self.scope,
            checker=self.checker,
            fresh=self.fresh,
        ):
            yield item

    async def parse_page(
        self, response: Response, requested_url: str, **context: Any
    ) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        if self.skip_response(response, requested_url):
            return
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
        key = self.page_key(response.url)
        if key is not None and key in self.read:
            stats.inc_value("brokenlinks/pages/duplicate")
            self.logger.info(
                "%(requested)s leads to %(url)s, already read in this crawl",
                {"requested": requested_url, "url": response.url},
            )
            return
        if key is not None:
            self.read.add(key)
        stats.inc_value("brokenlinks/pages/crawled")
        try:
            # as they come: a site's page requests go out before its checks are awaited (the
            # order pages are found in decides their depth and whether links or the sitemap
            # found them first)
            async for item in self.page_items(response, decoded, requested_url, **context):
                yield item
        except ChecksStopped:
            # the crawl is stopping: the page's items are not all there, read it again
            if key is not None:
                self.read.discard(key)
            yield page_again(response, stats)

    def page_failed(self, failure: Failure) -> list[Any]:
        request = failure.request  # type: ignore[attr-defined]
        requested_url = request.cb_kwargs.get("requested_url", request.url)
        if self.skip_failure(failure, requested_url):
            return []
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
        log = self.logger.info if self.failure_is_normal(failure) else self.logger.warning
        log("Could not read %(url)s: %(error)s", {"url": requested_url, "error": error})
        return [failed_page(requested_url, url=url, status=status, error=error)]
