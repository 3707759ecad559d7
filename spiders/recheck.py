"""``scrapy crawl recheck [-a domain=D1,D2]``: re-check what the database remembers.

Re-checks every stored dead target (still dead? came back?) and re-crawls the referring
pages of the stored prospects (still linked?); with ``domain``, also every stored page that
links to those domains, so that a link to the user's site that disappeared is reported as
a lost link. Stored verdicts are not reused (``BROKENLINKS_RECHECK_AFTER = 0``). The logic
lives in :mod:`brokenlinks.seeds.recheck` and :mod:`brokenlinks.checker.pages`; the store marks links
gone. Stats: ``brokenlinks/recheck/pages``, ``brokenlinks/recheck/dead_targets``,
``brokenlinks/targets/came_back``, ``brokenlinks/links/gone``, ``brokenlinks/links/lost``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.utils.asyncio import run_in_thread

from brokenlinks.checker.checks import ChecksStopped, LinkChecker
from brokenlinks.checker.pages import Scope, check_item
from brokenlinks.checker.verdicts import Kind
from brokenlinks.config import config_of
from brokenlinks.items import PageItem
from brokenlinks.params import ArgumentError, RecheckParams
from brokenlinks.seeds.recheck import RecheckPlan, RecheckScope, load_plan, lost, vanished
from brokenlinks.storage.store import PAGE_GONE_STATUSES

from .base import ReferringPagesSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from scrapy.http import Response
    from twisted.python.failure import Failure


class RecheckSpider(ReferringPagesSpider):
    name = "recheck"
    custom_settings = {"BROKENLINKS_RECHECK_AFTER": 0}  # noqa: RUF012  (Scrapy's attribute)

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        try:
            self.recheck_params = RecheckParams.from_kwargs(kwargs)
        except ArgumentError as e:
            self.logger.error("%s", e)
            raise
        super().__init__(name, arguments=kwargs, scope=Scope(domains=self.recheck_params.domains))
        self.plan = RecheckPlan()

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ValueError`` (one line) for bad arguments."""
        RecheckParams.from_kwargs(kwargs)

    @property
    def render_mode(self) -> str:
        # pages whose links only a browser sees must be read the same way again, or
        # those links would look gone
        return "auto"

    async def start(self) -> AsyncIterator[Any]:
        self.checker = LinkChecker.of(self.crawler)
        self.fresh = None
        config = config_of(self.crawler)
        self.plan = await run_in_thread(
            load_plan, config.database_url, self.recheck_params.domains
        )
        self.scope = RecheckScope(
            domains=self.recheck_params.domains, dead=frozenset(self.plan.dead_targets)
        )
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("brokenlinks/recheck/pages", len(self.plan.pages))
        stats.set_value("brokenlinks/recheck/dead_targets", len(self.plan.dead_targets))
        self.logger.info(
            "Re-checking %(targets)d dead targets and %(pages)d referring pages",
            {"targets": len(self.plan.dead_targets), "pages": len(self.plan.pages)},
        )
        for url in self.plan.pages:
            yield Request(
                url,
                callback=self.parse_page,
                errback=self.page_failed,
                cb_kwargs={"requested_url": url},
            )
        try:
            results = await asyncio.gather(
                *(self.checker.check(url) for url in self.plan.dead_targets)
            )
        except ChecksStopped:
            return  # the crawl is being stopped: the next recheck checks them
        for result in results:
            if result.verdict.kind is Kind.ALIVE:
                stats.inc_value("brokenlinks/targets/came_back")
                self.logger.info("Came back: %(url)s is alive again", {"url": result.url})
        for result in self.checker.take_unreported():
            yield check_item(result)

    async def parse_page(
        self, response: Response, requested_url: str, **context: Any
    ) -> AsyncIterator[Any]:
        async for item in super().parse_page(response, requested_url, **context):
            if isinstance(item, PageItem):
                found = [link.target_url for link in item.links]
                if item.error is None:
                    self._count_vanished(requested_url, found)
                elif item.status in PAGE_GONE_STATUSES:
                    self._count_vanished(requested_url, [])
            yield item

    def page_failed(self, failure: Failure) -> Any:
        items = super().page_failed(failure)
        for item in items:
            if isinstance(item, PageItem) and item.status in PAGE_GONE_STATUSES:
                self._count_vanished(item.requested_url, [])
        return items

    def _count_vanished(self, page_url: str, found: Iterable[str]) -> None:
        gone = vanished(self.plan.pages.get(page_url, ()), found)
        stats = self.crawler.stats
        assert stats is not None
        if gone:
            stats.inc_value("brokenlinks/links/gone", len(gone))
        for target in lost(gone, self.recheck_params.domains):
            stats.inc_value("brokenlinks/links/lost")
            self.logger.warning(
                "Lost link: %(page)s no longer links to %(target)s",
                {"page": page_url, "target": target},
            )
