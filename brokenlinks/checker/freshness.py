"""The freshness cache: a target checked within ``BROKENLINKS_RECHECK_AFTER`` days is not fetched again.

:class:`FreshVerdicts` is an extension. :func:`brokenlinks.checker.pages.check_links` asks it, once per
page and in one query run off the event loop, for the stored verdicts of the page's targets
that are recent enough, and seeds the crawl's :class:`~brokenlinks.checker.checks.LinkChecker` with
them (``LinkChecker.remember``), which counts them as ``brokenlinks/targets/cached``. A
verdict that says nothing about the target (reason ``error``) is never reused. Settings:
``BROKENLINKS_RECHECK_AFTER`` (days; 0 switches the cache off, so every target is checked),
``BROKENLINKS_DATABASE_URL``, ``BROKENLINKS_STORE_ENABLED`` (without the store there is
nothing to reuse).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import run_in_thread
from sqlalchemy.exc import SQLAlchemyError

from brokenlinks.checker.verdicts import Kind, Reason, Verdict
from brokenlinks.config import config_of
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from scrapy.crawler import Crawler
    from sqlalchemy import Engine

    from brokenlinks.checker.checks import LinkChecker

logger = logging.getLogger(__name__)


def stored_verdict(row: Mapping[str, Any]) -> Verdict | None:
    """Return the verdict of a stored target row, or None when it must not be reused.

    >>> stored_verdict({"kind": "dead", "reason": "dns", "status": None,
    ...                 "final_url": None, "detail": "no such host"})
    Verdict(kind=<Kind.DEAD: 'dead'>, reason=<Reason.DNS: 'dns'>, status=None, final_url=None, detail='no such host')
    >>> stored_verdict({"kind": "blocked", "reason": "error", "status": None,
    ...                 "final_url": None, "detail": ""}) is None
    True
    """
    try:
        kind, reason = Kind(row["kind"]), Reason(row["reason"])
    except ValueError:
        return None  # written by another version of the project: check again
    if reason is Reason.ERROR:
        return None
    return Verdict(kind, reason, row["status"], row["final_url"], row["detail"] or "")


class FreshVerdicts:
    """Reuse verdicts stored less than ``BROKENLINKS_RECHECK_AFTER`` days ago."""

    def __init__(self, database_url: str, max_age: timedelta) -> None:
        self.database_url = database_url
        self.max_age = max_age
        self.engine: Engine | None = None
        self._failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        # Switched off by a setting is normal, so NotConfigured carries no message: Scrapy
        # logs one with a message as a WARNING (scrapy/middleware.py), as its own
        # components do when a setting turns them off.
        if not config.store_enabled:
            logger.debug("Stored verdicts not reused: BROKENLINKS_STORE_ENABLED is False")
            raise NotConfigured
        if config.recheck_after <= 0:
            logger.debug("Stored verdicts not reused: BROKENLINKS_RECHECK_AFTER is 0")
            raise NotConfigured
        ext = cls(config.database_url, timedelta(days=config.recheck_after))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    async def seed(self, checker: LinkChecker, urls: Iterable[str]) -> int:
        """Seed *checker* with the fresh stored verdicts of *urls*; return how many."""
        wanted = [url for url in dict.fromkeys(urls) if not checker.knows(url)]
        if not wanted or self._failed:
            return 0
        since = datetime.now(UTC) - self.max_age
        try:
            if self.engine is None:
                self.engine = db.create_engine_from_url(self.database_url)
            rows = await run_in_thread(store.fresh_verdicts, self.engine, wanted, since)
        except SQLAlchemyError as e:
            # the crawl goes on, checking everything: slower, not wrong
            self._failed = True
            logger.warning("Stored verdicts cannot be read, checking every target: %s", e)
            return 0
        seeded = 0
        for url, row in rows.items():
            verdict = stored_verdict(row)
            if verdict is not None and row["checked_at"] is not None:
                checker.remember(url, verdict, row["checked_at"])
                seeded += 1
        return seeded

    async def spider_closed(self) -> None:
        if self.engine is not None:
            await run_in_thread(self.engine.dispose)
