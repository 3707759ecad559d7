"""The crawl summary: what was crawled, checked, confirmed, found dead, blocked and skipped.

An extension that counts exported prospects (``brokenlinks/prospects``) and, when the
spider closes, makes a short summary from the crawl's stats with :func:`summary_lines`
(also used by ``scrapy demo``), followed by :func:`next_steps`: the export written and the
command that shows the database as an HTML report. Under ``scrapy crawl``
(:attr:`CrawlSummary.to_terminal`), the command writes it to stderr once the crawler
process has stopped, so that it is the last thing a crawl prints whatever the log level
(``-L WARNING`` too); it is also logged when the log goes to a file (``LOG_FILE``), and
logged at INFO as before when no command prints it (a script's ``CrawlerProcess``). The
project turns Scrapy's stats dump off (``STATS_DUMP = False``: 60-odd lines above the
summary); this extension logs the stats instead, to the log file at INFO, else at DEBUG. A run that
could not do its job (:func:`job_failure`: the seeds file could not be read, not one
referring page could, or the store stayed unavailable past its limit) also gets an ``ERROR`` line ``Crawl failed: ...`` and the stats key
``brokenlinks/job_failed``, from which ``scrapy crawl`` makes its exit status 1.
"""

from __future__ import annotations

import logging
import pprint
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from sqlalchemy.engine import make_url

from brokenlinks.config import BrokenlinksConfig, config_of
from brokenlinks.items import ProspectItem

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_KINDS = ("alive", "dead", "blocked", "skipped")


def summary_lines(stats: dict[str, Any]) -> list[str]:
    """Summarise a crawl's stats in a few lines.

    >>> print("\\n".join(summary_lines({
    ...     "brokenlinks/pages/crawled": 3, "brokenlinks/targets/checked": 5,
    ...     "brokenlinks/verdict_count/alive": 3, "brokenlinks/verdict_count/dead": 2,
    ...     "brokenlinks/reason_count/dead/dns": 1,
    ...     "brokenlinks/reason_count/dead/http_status": 1, "brokenlinks/prospects": 4})))
    referring pages: 3 crawled, 0 failed
    targets checked: 5 (alive 3, dead 2, blocked 0, skipped 0)
    dead by reason: dns 1, http_status 1
    prospects (dead link occurrences): 4

    The confirmation pass says how many transient failures it checked again:

    >>> summary_lines({"brokenlinks/confirm/checked": 5, "brokenlinks/confirm/confirmed": 3,
    ...                "brokenlinks/confirm/overturned": 2})[2]
    'checked again (transient failures): 5, confirmed dead 3, came back 2'

    A site crawl adds its internal/external split and what it cut off:

    >>> summary_lines({"brokenlinks/prospects/internal": 1, "brokenlinks/prospects/external": 3,
    ...                "brokenlinks/site/cut/depth": 2, "brokenlinks/site/cut/calendar": 1})[-2:]
    ['  internal 1, external 3', 'site crawl cut off: calendar 1, depth 2']
    """

    def count(key: str) -> int:
        return int(stats.get(f"brokenlinks/{key}", 0))

    failed = count("pages/failed") + count("pages/not_html")
    failures = _failure_counts(stats)
    kinds = ", ".join(f"{kind} {count('verdict_count/' + kind)}" for kind in _KINDS)
    lines = [
        f"referring pages: {count('pages/crawled')} crawled, {failed} failed",
        f"targets checked: {count('targets/checked')} ({kinds})",
    ]
    if failures:
        lines.append(f"failed referring pages by reason: {failures}")
    if count("targets/cached"):
        lines.append(f"verdicts reused from the database: {count('targets/cached')}")
    for kind in ("dead", "blocked", "skipped"):
        prefix = f"brokenlinks/reason_count/{kind}/"
        reasons = sorted(
            (key.removeprefix(prefix), value)
            for key, value in stats.items()
            if key.startswith(prefix)
        )
        if reasons:
            lines.append(f"{kind} by reason: " + ", ".join(f"{r} {n}" for r, n in reasons))
    if count("confirm/checked"):
        lines.append(
            f"checked again (transient failures): {count('confirm/checked')}, "
            f"confirmed dead {count('confirm/confirmed')}, "
            f"came back {count('confirm/overturned')}"
        )
    lines.append(f"prospects (dead link occurrences): {count('prospects')}")
    if count("store/outages"):
        lines.append(
            f"store outages: {count('store/outages')}, records not stored: "
            f"{count('store/unstored')}"
        )
    if "brokenlinks/prospects/internal" in stats or "brokenlinks/prospects/external" in stats:
        lines.append(
            f"  internal {count('prospects/internal')}, external {count('prospects/external')}"
        )
    if render := _render_line(stats):
        lines.append(render)
    prefix = "brokenlinks/site/cut/"
    cuts = sorted((k.removeprefix(prefix), v) for k, v in stats.items() if k.startswith(prefix))
    if cuts:
        lines.append("site crawl cut off: " + ", ".join(f"{why} {n}" for why, n in cuts))
    return lines


def _render_line(stats: dict[str, Any]) -> str | None:
    """What the browser did: ``rendered 12 pages on 3 sites; 2 sites need JavaScript``.

    >>> _render_line({"brokenlinks/render/pages": 12, "brokenlinks/render/sites": 3,
    ...     "brokenlinks/render/probes": 4, "brokenlinks/render/sites_need_js": 2,
    ...     "brokenlinks/render/fallback": 1})
    'rendered 12 pages on 3 sites; 2 sites need JavaScript; 1 page read without the browser after it failed'
    >>> _render_line({"brokenlinks/render/pages": 1, "brokenlinks/render/sites": 1})
    'rendered 1 page on 1 site'
    """

    def count(key: str) -> int:
        return int(stats.get(f"brokenlinks/render/{key}", 0))

    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    pages, fallback = count("pages"), count("fallback")
    if not pages and not fallback:
        return None
    parts = [f"rendered {plural(pages, 'page')} on {plural(count('sites'), 'site')}"]
    if count("probes") or count("sites_need_js"):
        need = count("sites_need_js")
        parts.append(f"{plural(need, 'site')} need{'s' if need == 1 else ''} JavaScript")
    if fallback:
        parts.append(f"{plural(fallback, 'page')} read without the browser after it failed")
    return "; ".join(parts)


def next_steps(feeds: Iterable[str], database_url: str | None) -> list[str]:
    """What to do after the crawl: where the export is, and how to look at the database.

    *database_url* is None when nothing was stored; a password in it is hidden.

    >>> print("\\n".join(next_steps(["prospects.csv"], "sqlite:///data/brokenlinks.sqlite3")))
    prospects exported to prospects.csv
    next: scrapy report -o report.html  (the HTML report of the database)
    >>> next_steps([], "postgresql://bl:secret@db/bl")[-1]
    'next: scrapy report -o report.html -s BROKENLINKS_DATABASE_URL=postgresql://bl:***@db/bl  (the HTML report of the database)'
    """
    lines = [f"prospects exported to {feed}" for feed in feeds]
    if database_url is not None:
        option = ""
        if database_url != BrokenlinksConfig().database_url:
            shown = make_url(database_url).render_as_string(hide_password=True)
            option = f" -s BROKENLINKS_DATABASE_URL={shown}"
        lines.append(
            f"next: scrapy report -o report.html{option}  (the HTML report of the database)"
        )
    return lines


def _failure_counts(stats: dict[str, Any]) -> str:
    prefix = "brokenlinks/pages/failed/"
    kinds = sorted((k.removeprefix(prefix), v) for k, v in stats.items() if k.startswith(prefix))
    if stats.get("brokenlinks/pages/not_html"):
        kinds.append(("not_html", stats["brokenlinks/pages/not_html"]))
    return ", ".join(f"{kind} {n}" for kind, n in kinds)


def job_failure(stats: dict[str, Any], finish_reason: str) -> str | None:
    """Why a run could not do its job; ``None`` when it did (even with no dead link).

    >>> job_failure({"brokenlinks/pages/crawled": 1, "brokenlinks/pages/failed": 9}, "finished")
    >>> job_failure({}, "seeds_unavailable")
    'the seeds file could not be read (finish reason seeds_unavailable)'
    >>> job_failure({"brokenlinks/pages/crawled": 5, "brokenlinks/store/unstored": 40,
    ...              "brokenlinks/store/outage_limit": 60.0}, "store_unavailable")
    'the store was unavailable for longer than 60 s (BROKENLINKS_STORE_OUTAGE_LIMIT): 40 records could not be stored'
    >>> job_failure({"brokenlinks/pages/failed": 2, "brokenlinks/pages/failed/http_404": 1,
    ...              "brokenlinks/pages/failed/guard_refused": 1}, "finished")
    'no referring page could be read: 2 failed (guard_refused 1, http_404 1)'
    """
    if finish_reason == "seeds_unavailable":
        return f"the seeds file could not be read (finish reason {finish_reason})"
    unstored = int(stats.get("brokenlinks/store/unstored", 0))
    if unstored:
        limit = float(stats.get("brokenlinks/store/outage_limit", 0))
        return (
            f"the store was unavailable for longer than {limit:g} s "
            f"(BROKENLINKS_STORE_OUTAGE_LIMIT): {unstored} records could not be stored"
        )
    crawled = int(stats.get("brokenlinks/pages/crawled", 0))
    failed = int(stats.get("brokenlinks/pages/failed", 0)) + int(
        stats.get("brokenlinks/pages/not_html", 0)
    )
    if crawled == 0 and failed > 0:
        return f"no referring page could be read: {failed} failed ({_failure_counts(stats)})"
    return None


class CrawlSummary:
    #: ``scrapy crawl`` prints the summary itself, last (set by brokenlinks.commands.crawl)
    to_terminal = False

    def __init__(self, stats: StatsCollector, next_lines: list[str] | None = None) -> None:
        self.stats = stats
        self.next_lines = next_lines or []
        #: the summary, once the spider closed
        self.lines: list[str] = []
        #: the log goes to a file: the summary is logged there too
        self.log_file = False
        #: Scrapy's own stats dump is off: this extension logs the stats
        self.dump_stats = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        assert crawler.stats is not None
        config = config_of(crawler)
        stored = config.store_enabled and any(
            str(path).endswith("StorePipeline")
            for path, order in crawler.settings.getdict("ITEM_PIPELINES").items()
            if order is not None
        )
        ext = cls(
            crawler.stats,
            next_steps(crawler.settings.getdict("FEEDS"), config.database_url if stored else None),
        )
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        ext.log_file = bool(crawler.settings.get("LOG_FILE")) and crawler.settings.getbool(
            "LOG_ENABLED"
        )
        ext.dump_stats = not crawler.settings.getbool("STATS_DUMP")
        return ext

    def item_scraped(self, item: Any) -> None:
        if isinstance(item, ProspectItem):
            self.stats.inc_value("brokenlinks/prospects")

    def spider_closed(self, reason: str) -> None:
        stats = self.stats.get_stats()
        self.lines = summary_lines(stats) + self.next_lines
        if self.log_file or not self.to_terminal:
            logger.info("Crawl summary:\n  %s", "\n  ".join(self.lines))
        failure = job_failure(stats, reason)
        if failure is not None:
            self.stats.set_value("brokenlinks/job_failed", failure)
            # the spider logged the seeds file's own error line already: one ERROR per cause
            log = logger.info if reason == "seeds_unavailable" else logger.error
            log("Crawl failed: %(why)s", {"why": failure})

    def engine_stopped(self) -> None:
        if self.dump_stats:
            # the stats dump is for the log file (or -L DEBUG), not for the person at the terminal
            log = logger.info if self.log_file else logger.debug
            log("Scrapy stats:\n%s", pprint.pformat(self.stats.get_stats()))

    def terminal_text(self) -> str:
        """The summary as ``scrapy crawl`` prints it ('' before the spider closed)."""
        return "Crawl summary:\n  " + "\n  ".join(self.lines) + "\n" if self.lines else ""
