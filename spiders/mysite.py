"""``scrapy crawl mysite -a mysite=URL[,URL] [-a max_pages=N]``: read your own pages.

Each ``mysite`` value is your home page, a sitemap (``.xml``, ``.xml.gz``) or a URL list
(a ``.txt`` URL or a local file, one URL a line). From a home page the site's
``/sitemap.xml`` is read first (indexes followed); when it lists nothing, the site is
crawled from the home page instead, breadth first, same site only. Either way at most
``max_pages`` pages (``BROKENLINKS_MYSITE_MAX_PAGES``) per value are read, robots.txt
obeyed. Each page is stored (``my_pages``) with its title, headings, URL words and a text
summary, which ``scrapy prospects``/``report``/``pitches`` rank against each dead target
(:mod:`brokenlinks.outreach.replacement`). Stats: ``brokenlinks/mysite/pages``,
``brokenlinks/mysite/sitemap_urls``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider
from scrapy.http import TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from brokenlinks.config import config_of
from brokenlinks.outreach.items import MyPageItem
from brokenlinks.outreach.pagetext import page_text
from brokenlinks.outreach.replacement import url_words
from brokenlinks.params import ArgumentError, MysiteParams
from brokenlinks.parsing.sites import site_of
from brokenlinks.parsing.urls import drop_fragment, is_http, parse_absolute, resolve_href

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response
    from twisted.python.failure import Failure

_GZIP_MAGIC = b"\x1f\x8b"
_NOT_PAGES = (".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".pdf", ".zip")


@dataclass(slots=True)
class _Budget:
    """The pages one ``mysite`` value may still read, and those already asked for."""

    left: int
    seen: set[str] = field(default_factory=set)

    def take(self, url: str) -> bool:
        if url in self.seen or self.left <= 0:
            return False
        self.seen.add(url)
        self.left -= 1
        return True


class MysiteSpider(Spider):
    name = "mysite"

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name)
        try:
            self.params = MysiteParams.from_kwargs(kwargs)
            #: the URL list files, read before the crawl starts
            self.lists = {v: _read_file(v) for v in self.params.mysite if not is_http(v)}
        except ArgumentError as e:
            self.logger.error("%s", e)
            raise
        self.arguments = {k: v for k, v in kwargs.items() if k not in {"_job", "_version"}}

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments or an unreadable list file."""
        for value in MysiteParams.from_kwargs(kwargs).mysite:
            if not is_http(value):
                _read_file(value)

    def _inc(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)

    async def start(self) -> AsyncIterator[Any]:
        config = config_of(self.crawler)
        limit = self.params.max_pages or config.mysite_max_pages
        for value in self.params.mysite:
            budget = _Budget(limit)
            if not is_http(value):
                for request in self._pages(self.lists[value], budget):
                    yield request
                continue
            path = value.split("?", 1)[0].lower()
            if path.endswith((".xml", ".xml.gz")):
                yield self._sitemap_request(value, budget, home=None)
            elif path.endswith(".txt"):
                yield Request(
                    value, callback=self.parse_list, cb_kwargs={"budget": budget}, dont_filter=True
                )
            else:
                sitemap = resolve_href("/sitemap.xml", value) or value
                yield self._sitemap_request(sitemap, budget, home=value)

    # -- sitemaps and lists --------------------------------------------------------------------

    def _sitemap_request(self, url: str, budget: _Budget, home: str | None) -> Request:
        return Request(
            url,
            callback=self.parse_sitemap,
            errback=self.sitemap_failed,
            cb_kwargs={"budget": budget, "home": home},
            dont_filter=True,
        )

    def parse_sitemap(
        self, response: Response, budget: _Budget, home: str | None
    ) -> Iterator[Any]:
        body = response.body
        if body.startswith(_GZIP_MAGIC):
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError):
                body = b""
        try:
            sitemap = Sitemap(body) if body.strip() else None
        except ValueError:
            sitemap = None
        urls = [entry["loc"] for entry in sitemap] if sitemap is not None else []
        if sitemap is not None and sitemap.type == "sitemapindex":
            for url in urls:
                yield self._sitemap_request(url, budget, home=None)
            return
        self._inc("brokenlinks/mysite/sitemap_urls", len(urls))
        if not urls and home is not None:
            yield from self._crawl_from(home, budget)
            return
        yield from self._pages(urls, budget)

    def sitemap_failed(self, failure: Failure) -> Iterator[Any]:
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        if kwargs["home"] is not None:
            # no sitemap: a bounded crawl from the home page
            yield from self._crawl_from(kwargs["home"], kwargs["budget"])
            return
        self.logger.error(
            "mysite: sitemap %(url)s could not be read: %(error)s",
            {"url": failure.request.url, "error": failure.getErrorMessage()},  # type: ignore[attr-defined]
        )

    def parse_list(self, response: Response, budget: _Budget) -> Iterator[Any]:
        text = response.text if isinstance(response, TextResponse) else response.body.decode()
        yield from self._pages(_read_list(text), budget)

    # -- pages ---------------------------------------------------------------------------------

    def _pages(self, urls: list[str], budget: _Budget, *, follow: bool = False) -> Iterator[Any]:
        for url in urls:
            if budget.take(url):
                yield Request(
                    url,
                    callback=self.parse_page,
                    cb_kwargs={"budget": budget, "follow": follow},
                    dont_filter=True,
                )

    def _crawl_from(self, home: str, budget: _Budget) -> Iterator[Any]:
        yield from self._pages([home], budget, follow=True)

    def parse_page(self, response: Response, budget: _Budget, follow: bool) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            return
        text = page_text(response.text)
        self._inc("brokenlinks/mysite/pages")
        yield MyPageItem(
            url=response.url,
            site=site_of(response.url),
            title=text.title,
            headings=text.headings,
            url_words=url_words(response.url),
            summary=text.summary,
            fetched_at=datetime.now(UTC).isoformat(),
        )
        if not follow:
            return
        site = site_of(response.url)
        links = []
        for href in response.xpath("//a/@href").getall():
            url = resolve_href(href, response.url)
            if url is None or not is_http(url) or site_of(url) != site:
                continue
            url = drop_fragment(url)
            if not url.split("?", 1)[0].lower().endswith(_NOT_PAGES):
                links.append(url)
        yield from self._pages(links, budget, follow=True)


def _read_list(text: str) -> list[str]:
    urls = []
    for line in text.splitlines():
        value = line.split("#", 1)[0].strip()
        url = parse_absolute(value) if value else None
        if url is not None and is_http(url):
            urls.append(url)
    return urls


def _read_file(path: str) -> list[str]:
    try:
        urls = _read_list(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        msg = f"mysite: {path!r} cannot be read as a UTF-8 URL list ({e})"
        raise ArgumentError(msg) from e
    if not urls:
        msg = f"mysite: {path!r} lists no http(s) URL"
        raise ArgumentError(msg)
    return urls
