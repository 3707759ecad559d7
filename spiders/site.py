"""``scrapy crawl site -a start=URL[,URL] [-a depth=N] [-a max_pages=N] [-a render=M]``.

Crawls whole sites: the sites (registered domains) of the start URLs. Every page's links,
internal and external, are checked with the shared checker; internal HTML links and the
URLs of the sites' sitemaps (``Sitemap:`` lines of robots.txt, else ``/sitemap.xml``;
indexes and gzip followed) are crawled as referring pages, breadth first, each canonical
URL once (``brokenlinks.parsing.siteurls``). Pages obey robots.txt. What the crawl cuts off (depth,
page budget, traps) is counted under ``brokenlinks/site/cut/<why>``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from scrapy.utils.url import url_has_any_extension

from brokenlinks.checker.checks import LinkChecker
from brokenlinks.checker.pages import Scope, is_rendered, process_page
from brokenlinks.config import BrokenlinksConfig, config_of
from brokenlinks.downloadermiddlewares.redirects import META_SITES, OffsiteRedirect
from brokenlinks.items import ProspectItem
from brokenlinks.params import ArgumentError, SiteParams
from brokenlinks.parsing.extract import extract_page
from brokenlinks.parsing.sites import site_of
from brokenlinks.parsing.siteurls import TrapLimits, canonical_url, split_list, trap_reason
from brokenlinks.parsing.urls import is_http, origin_of

from .base import ReferringPagesSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from brokenlinks.parsing.charsets import Decoded

#: tags whose links lead to other pages (not images, scripts or stylesheets); a meta
#: refresh sends the browser to its target page by itself
_PAGE_TAGS = frozenset({"a", "area", "meta"})
_GZIP_MAGIC = b"\x1f\x8b"


class SiteSpider(ReferringPagesSpider):
    name = "site"
    # breadth first (Scrapy's FAQ), so that a page is reached by its shortest path before
    # the depth limit can cut it off on a longer one. The depth limit is the spider's own
    # (cb_kwargs "depth"), not DEPTH_LIMIT: a page fetched again through the browser is one
    # more hop to DepthMiddleware, and each cut-off URL is counted once under
    # brokenlinks/site/cut/depth
    custom_settings = {  # noqa: RUF012  (Scrapy's attribute)
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
    }
    config: BrokenlinksConfig
    max_depth: int
    max_pages: int
    tracking: tuple[str, ...]
    index_pages: tuple[str, ...]
    limits: TrapLimits

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        try:
            self.params = SiteParams.from_kwargs(kwargs)
        except ArgumentError as e:
            self.logger.error("%s", e)
            raise
        super().__init__(name, arguments=kwargs, scope=Scope(internal=True))
        self.sites = frozenset(site_of(url) for url in self.params.start)
        self.seen: set[str] = set()
        self.cut: dict[str, set[str]] = {}

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments."""
        SiteParams.from_kwargs(kwargs)

    @property
    def render_mode(self) -> str:
        return self.params.render

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        config = config_of(crawler)
        depth = spider.params.depth if spider.params.depth is not None else config.site_max_depth
        spider.config = config
        spider.max_depth = depth
        spider.max_pages = spider.params.max_pages or config.site_max_pages
        spider.tracking = split_list(config.site_tracking_params)
        spider.index_pages = split_list(config.site_index_pages)
        spider.limits = TrapLimits(
            max_url_length=config.site_max_url_length,
            max_repeated_segments=config.site_max_repeated_segments,
            calendar_years=config.site_calendar_years,
        )
        return spider

    # -- requests ---------------------------------------------------------------------

    def canonical(self, url: str) -> str | None:
        return canonical_url(url, tracking=self.tracking, index_pages=self.index_pages)

    def _cut(self, why: str, url: str) -> None:
        urls = self.cut.setdefault(why, set())
        if url not in urls:
            urls.add(url)
            stats = self.crawler.stats
            assert stats is not None
            stats.inc_value("brokenlinks/site/cut")
            stats.inc_value(f"brokenlinks/site/cut/{why}")
            self.logger.debug("Not following %(url)s (%(why)s)", {"url": url, "why": why})

    def page_request(self, url: str, *, depth: int, source: str) -> Request | None:
        """The request for a page of the crawled sites, or ``None`` when it is cut off.

        The URL is fetched as given (without its fragment): the canonical form only
        recognises a page already queued (``/guides/index.html`` may be the only
        spelling a server answers).
        """
        url_key = self.canonical(url)
        fetched = canonical_url(url)
        if (
            url_key is None
            or fetched is None
            or not is_http(url_key)
            or site_of(url_key) not in self.sites
        ):
            return None
        if url_key in self.seen:
            return None
        if url_has_any_extension(url_key, [f".{ext}" for ext in IGNORED_EXTENSIONS]):
            return None  # a file, not a page: its link is checked, it is not crawled
        why = trap_reason(url_key, self.limits, this_year=datetime.now(UTC).year)
        if why is None and self.max_depth and depth > self.max_depth:
            why = "depth"
        if why is None and len(self.seen) >= self.max_pages:
            why = "max_pages"
        if why is not None:
            self._cut(why, url_key)
            return None
        self.seen.add(url_key)
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(f"brokenlinks/site/pages_from/{source}")
        meta: dict[str, Any] = self.contexts.meta() if self.params.render == "always" else {}
        meta[META_SITES] = self.sites
        return Request(
            fetched,
            callback=self.parse_page,
            errback=self.page_failed,
            cb_kwargs={"requested_url": fetched, "depth": depth},
            meta=meta,
        )

    async def start(self) -> AsyncIterator[Any]:
        self.checker = LinkChecker.of(self.crawler)
        self.logger.info(
            "Crawling %(sites)s from %(count)d start URL(s): depth %(depth)s, at most "
            "%(pages)d pages, render=%(render)s",
            {
                "sites": ", ".join(sorted(self.sites)),
                "count": len(self.params.start),
                "depth": self.max_depth or "unlimited",
                "pages": self.max_pages,
                "render": self.params.render,
            },
        )
        for url in self.params.start:
            request = self.page_request(url, depth=0, source="start")
            if request is not None:
                yield request
        for url in await self.sitemap_urls():
            request = self.page_request(url, depth=1, source="sitemap")
            if request is not None:
                yield request

    # -- sitemaps -----------------------------------------------------------------------

    async def _fetch(self, url: str) -> Response | None:
        assert self.crawler.engine is not None
        try:
            return await self.crawler.engine.download_async(
                Request(url, callback=NO_CALLBACK, dont_filter=True)
            )
        except IgnoreRequest:
            return None  # robots.txt forbids it
        except Exception as e:  # noqa: BLE001  (a missing sitemap is not an error)
            self.logger.info("Could not read %(url)s: %(error)s", {"url": url, "error": e})
            return None

    async def sitemap_urls(self) -> list[str]:
        """Read the sites' sitemaps (robots.txt ``Sitemap:`` lines, else /sitemap.xml)."""
        stats = self.crawler.stats
        assert stats is not None
        queue: list[str] = []
        for origin in dict.fromkeys(origin_of(url) for url in self.params.start):
            robots = await self._fetch(origin + "/robots.txt")
            found = (
                list(sitemap_urls_from_robots(robots.body, base_url=robots.url))
                if isinstance(robots, TextResponse) and robots.status == 200  # noqa: PLR2004
                else []
            )
            queue.extend(found or [origin + "/sitemap.xml"])
        pages: list[str] = []
        done: set[str] = set()
        while queue and len(done) < self.config.site_max_sitemaps:
            url = queue.pop(0)
            if url in done or not is_http(url):
                continue
            done.add(url)
            response = await self._fetch(url)
            if response is None or response.status != 200:  # noqa: PLR2004
                continue
            sitemap = self._parse_sitemap(response)
            if sitemap is None:
                stats.inc_value("brokenlinks/site/sitemaps/invalid")
                continue
            stats.inc_value("brokenlinks/site/sitemaps/read")
            locs = [entry["loc"] for entry in sitemap if entry.get("loc")]
            if sitemap.type == "sitemapindex":
                queue.extend(locs)
            elif sitemap.type == "urlset":
                pages.extend(locs)
        if queue:
            stats.inc_value("brokenlinks/site/cut/sitemaps", len(set(queue) - done))
        self.logger.info(
            "Read %(count)d sitemap(s) listing %(pages)d URLs",
            {"count": len(done), "pages": len(pages)},
        )
        return pages

    def _parse_sitemap(self, response: Response) -> Sitemap | None:
        body = response.body
        if body[:2] == _GZIP_MAGIC:
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError):
                return None
        try:
            sitemap = Sitemap(body)
        except ValueError:
            return None
        return sitemap if sitemap.type in {"urlset", "sitemapindex"} else None

    # -- pages (the hooks of ReferringPagesSpider) ----------------------------------------

    def page_key(self, url: str) -> str | None:
        return self.canonical(url)

    def skip_response(self, response: Response, requested_url: str) -> bool:
        if site_of(response.url) in self.sites:
            return False
        # (PageRedirectMiddleware stops such redirects; a browser may not)
        self._offsite(requested_url, response.url)
        return True

    async def page_items(
        self, response: TextResponse, decoded: Decoded, requested_url: str, **context: Any
    ) -> AsyncIterator[Any]:
        stats = self.crawler.stats
        assert stats is not None
        depth: int = context["depth"]
        final = self.canonical(response.url)
        if final is not None:
            self.seen.add(final)
        # extracted here, not in the worker pool: the order pages are found in decides
        # their depth and where they were found first (links or sitemap), and awaiting a
        # worker would let sitemap callbacks run in between
        page = extract_page(
            decoded.text,
            response.url,
            encoding=decoded.encoding,
            references=self.config.site_references,
            scripted=is_rendered(response),
        )
        for link in page.links:
            if link.url is not None and link.tag in _PAGE_TAGS:
                request = self.page_request(link.url, depth=depth + 1, source="links")
                if request is not None:
                    yield request
        for item in await process_page(
            page,
            requested_url=requested_url,
            status=response.status,
            scope=self.scope,
            checker=self.checker,
        ):
            if isinstance(item, ProspectItem):
                where = "internal" if item.target_domain in self.sites else "external"
                stats.inc_value(f"brokenlinks/prospects/{where}")
            yield item

    def _offsite(self, requested_url: str, url: str) -> None:
        # another site's page is not one of this crawl's: the link to requested_url is
        # checked, and reported, as a link
        self._cut("offsite_redirect", requested_url)
        self.logger.info(
            "%(requested)s redirects to %(url)s on another site: not crawled",
            {"requested": requested_url, "url": url},
        )

    def skip_failure(self, failure: Failure, requested_url: str) -> bool:
        if isinstance(failure.value, OffsiteRedirect):
            self._offsite(requested_url, failure.value.url)
            return True
        if (
            isinstance(failure.value, IgnoreRequest)
            and not isinstance(failure.value, HttpError)
            and "robots.txt" in str(failure.value)  # RobotsTxtMiddleware's message
        ):
            self._cut("robots_txt", failure.request.url)  # type: ignore[attr-defined]
            return True
        return False

    def failure_is_normal(self, failure: Failure) -> bool:
        # a page of the site answering an HTTP error is a dead internal link, which the
        # crawl reports as such: normal, so not a WARNING; a page that could not be
        # downloaded at all is
        return isinstance(failure.value, HttpError)
