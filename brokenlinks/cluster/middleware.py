"""Referring pages fetched through the shard that owns their site: one owner per host.

A site's targets are checked by its shard; its referring pages, fetched by the crawl
process, would be a second stream of requests to the same host, and the host would see
up to twice ``CONCURRENT_REQUESTS_PER_DOMAIN``. This downloader middleware hands the
download of every referring page to the shard of its site, where it waits in the same
per-host slot as the site's checks: one process, one limit, for both.

It sits at 840, after every middleware that prepares a request (robots.txt, headers,
retries, compression, cookies, proxies: they run here, in the crawl process, as without
shards) and before ``DownloaderStats`` (850, counted where the download happens: the
shard's stats are merged into the crawl's). The shard downloads with its own middlewares
standing aside (``dont_retry``, ``dont_redirect``...). Pages rendered by the browser
(``playwright`` in their meta) stay in the crawl process, where the browser is, and so
does every page once its shard is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

from brokenlinks.checker.checks import LinkChecker
from brokenlinks.cluster.local import ShardLost
from brokenlinks.parsing.urls import is_http

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class ShardFetchMiddleware:
    """Download referring pages in the shard of their site (see the module docstring)."""

    def __init__(self, checker: LinkChecker | None) -> None:
        self.checker = checker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.get_extension(LinkChecker))

    async def process_request(self, request: Request) -> Response | None:
        shards = self.checker.shards if self.checker is not None else None
        if shards is None or request.meta.get("playwright") or not is_http(request.url):
            return None
        try:
            return await shards.fetch(request)
        except ShardLost:
            return None
