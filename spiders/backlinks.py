"""``scrapy crawl backlinks -a seeds=FILE|URL [-a domain=D1,D2]``: check the links of referring pages.

The seeds file is a URL list or a backlink export (see ``brokenlinks.seeds.read``), read from disk
or, when ``seeds`` is an http(s) URL, downloaded through the engine when the crawl starts
(a failed download logs one error line and closes the spider with the finish reason
``seeds_unavailable``). Without ``domain`` every outbound link is checked (resource-page
prospecting); with it only links to those domains and their subdomains (reclaim or
competitor mode).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import CloseSpider
from scrapy.http.request import NO_CALLBACK

from brokenlinks.checker.checks import LinkChecker
from brokenlinks.checker.freshness import FreshVerdicts
from brokenlinks.checker.pages import Scope
from brokenlinks.cluster.seeds import BATCH, QueuedSeeds
from brokenlinks.net.guard import guard_refusal
from brokenlinks.outreach.authority import export_items
from brokenlinks.params import ArgumentError, BacklinksParams
from brokenlinks.parsing.urls import host_of
from brokenlinks.seeds.read import SeedFile, SeedFileError, parse_seeds_bytes, read_seeds

from .base import ReferringPagesSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


#: invalid seed lines logged one by one; the rest are counted in one line
MAX_LOGGED_INVALID = 10


class BacklinksSpider(ReferringPagesSpider):
    name = "backlinks"
    seed_file: SeedFile | None

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        try:
            self.params = BacklinksParams.from_kwargs(kwargs)
            # a seeds URL is downloaded in start(), through the engine
            self.seed_file = (
                None
                if self.params.seeds_is_url
                else read_seeds(self.params.seeds, url_column=self.params.url_column)
            )
        except (ArgumentError, SeedFileError) as e:
            self.logger.error("%s", e)
            raise
        super().__init__(name, arguments=kwargs, scope=Scope(domains=self.params.domains))

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments or an unreadable seeds file."""
        params = BacklinksParams.from_kwargs(kwargs)
        if not params.seeds_is_url:
            read_seeds(params.seeds, url_column=params.url_column)

    async def _download_seeds(self, url: str) -> SeedFile:
        """Download and parse the seeds file at *url*; one-line ``SeedFileError`` on failure."""
        assert self.crawler.engine is not None
        request = Request(
            url,
            callback=NO_CALLBACK,
            dont_filter=True,
            # the user's own file (an export on a share, a private gist): not a page to crawl
            meta={"dont_obey_robotstxt": True, "allow_offsite": True},
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as e:
            refused = guard_refusal(e, host_of(url))
            if refused is not None:
                # the guard fails a download like a DNS error: say what really happened
                msg = (
                    f"seeds file {url!r}: refused by the network guard ({refused.reason}); "
                    "map the host in BROKENLINKS_RESOLVE to allow it"
                )
                raise SeedFileError(msg) from e
            what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            msg = f"seeds file {url!r}: download failed ({' '.join(what.split())})"
            raise SeedFileError(msg) from e
        if response.status != 200:  # noqa: PLR2004
            msg = f"seeds file {url!r}: download failed (HTTP {response.status})"
            raise SeedFileError(msg)
        return parse_seeds_bytes(response.body, path=url, url_column=self.params.url_column)

    @property
    def render_mode(self) -> str:
        """When referring pages go through the browser: never, auto or always."""
        return self.params.render

    async def start(self) -> AsyncIterator[Any]:
        self.checker = LinkChecker.of(self.crawler)
        if self.seed_file is None:
            try:
                self.seed_file = await self._download_seeds(self.params.seeds)
            except SeedFileError as e:
                self.logger.error("%s", e)
                raise CloseSpider("seeds_unavailable") from e
        self.fresh = self.crawler.get_extension(FreshVerdicts)
        seeds = self.seed_file
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("brokenlinks/seeds/pages", len(seeds.seeds))
        stats.set_value("brokenlinks/seeds/duplicates", seeds.duplicates)
        stats.set_value("brokenlinks/seeds/invalid", len(seeds.invalid))
        for bad in seeds.invalid[:MAX_LOGGED_INVALID]:
            self.logger.warning(
                "seeds %(path)s line %(line)d: skipped %(value)r (%(why)s)",
                {"path": seeds.path, "line": bad.line, "value": bad.value[:200], "why": bad.why},
            )
        if (more := len(seeds.invalid) - MAX_LOGGED_INVALID) > 0:
            self.logger.warning(
                "seeds %(path)s: skipped %(more)d more invalid lines (not logged; "
                "brokenlinks/seeds/invalid counts them all)",
                {"path": seeds.path, "more": more},
            )
        self.logger.info(
            "Read %(count)d referring pages from %(path)s (%(layout)s)",
            {"count": len(seeds.seeds), "path": seeds.path, "layout": seeds.layout},
        )
        # the export's own metrics, per referring page, for the database (never a prospect)
        for item in export_items(seeds):
            yield item
        # a shared scrapy-redis queue: the seeds other nodes queued already are skipped,
        # and each node starts at a random place in the file, so that nodes started
        # together do not walk it side by side (each would queue what the other just
        # did, and see it too late to skip it)
        queued = QueuedSeeds.of(self)
        order = seeds.seeds
        if queued is not None and order:
            start = secrets.randbelow(len(order))
            order = [*order[start:], *order[:start]]
        skipped = 0
        for first in range(0, len(order), BATCH):
            batch = [
                Request(
                    seed.url,
                    callback=self.parse_page,
                    errback=self.page_failed,
                    cb_kwargs={"requested_url": seed.url},
                )
                for seed in order[first : first + BATCH]
            ]
            seen = queued.seen(batch) if queued is not None else [False] * len(batch)
            for request, already in zip(batch, seen, strict=True):
                if already:
                    skipped += 1
                    continue
                # Lazy start (Scrapy docs, "start-requests-lazy"): while the downloader is
                # busy, the next referring page waits until the scheduler runs dry, so that
                # a long seeds file does not become that many queued requests at once.
                if self.crawler.engine is not None and self.crawler.engine.needs_backout():
                    await self.crawler.signals.wait_for(signals.scheduler_empty)
                if self.render_mode == "always":
                    # the browser context of the next rendered page: taken when it is sent
                    request.meta.update(self.contexts.meta())
                yield request
        if skipped:
            stats.set_value("brokenlinks/seeds/queued_elsewhere", skipped)
            self.logger.info(
                "%(n)d of %(count)d referring pages were queued by another node already: skipped",
                {"n": skipped, "count": len(seeds.seeds)},
            )
