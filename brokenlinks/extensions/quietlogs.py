"""Keep Scrapy's log to one line per fault, and its DEBUG lines off when nobody reads them.

Scrapy's ``RobotsTxtMiddleware`` logs every failed robots.txt download as an ``ERROR``
with a full traceback (two chained ones for a DNS error). For a referring page on a dead
host or one the network guard refuses, that is 30 lines before the page's own one-line
failure (``Could not read URL: reason``), which says the same. The
:class:`QuietRobotsErrors` extension installs a logging filter that turns those records
into one ``DEBUG`` line, traceback dropped. The stats (``robotstxt/exception_count/...``)
are unchanged.

:class:`QuietLogFormatter` (``LOG_FORMATTER``, set by the add-on) skips Scrapy's two
per-event ``DEBUG`` lines, "Crawled (200) <GET ...>" for every response and "Scraped
from ..." for every item, when the crawl logs above ``DEBUG``: Scrapy's root handler
filters by level, so each was a log record made and thrown away (3 % of a crawl
process's CPU in ``benchmarks/bench.py``; a check shard makes one per check).
With ``LOG_LEVEL = "DEBUG"`` they are logged as by Scrapy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy.logformatter import LogFormatter

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.logformatter import LogFormatterResult

ROBOTS_LOGGER = "scrapy.downloadermiddlewares.robotstxt"


class RobotsErrorFilter(logging.Filter):
    """Make "Error downloading ..." records of the robots.txt middleware one DEBUG line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith("Error downloading"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            record.msg = "robots.txt not read for " + str(record.msg).removeprefix(
                "Error downloading "
            )
            return logging.getLogger(ROBOTS_LOGGER).isEnabledFor(logging.DEBUG)
        return True


class QuietRobotsErrors:
    """Extension: install :class:`RobotsErrorFilter` for the crawl (idempotent)."""

    def __init__(self) -> None:
        robots_logger = logging.getLogger(ROBOTS_LOGGER)
        if not any(isinstance(f, RobotsErrorFilter) for f in robots_logger.filters):
            robots_logger.addFilter(RobotsErrorFilter())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls()


def logs_debug(level: object) -> bool:
    """Tell whether a ``LOG_LEVEL`` value lets ``DEBUG`` lines through.

    >>> logs_debug("DEBUG"), logs_debug("info"), logs_debug(logging.WARNING), logs_debug(5)
    (True, False, False, True)
    """
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
    # an unknown name: Scrapy's own handler refuses it; log as Scrapy would
    return not isinstance(level, int) or level <= logging.DEBUG


class QuietLogFormatter(LogFormatter):
    """Scrapy's log formatter without per-response and per-item lines above ``DEBUG``."""

    def __init__(self, *, debug: bool = True) -> None:
        super().__init__()
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        return cls(debug=settings.getbool("LOG_ENABLED") and logs_debug(settings.get("LOG_LEVEL")))

    # Scrapy's engine and scraper skip a None (documented), its annotations do not say so
    def crawled(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Any, spider: Spider
    ) -> LogFormatterResult | None:
        return super().scraped(item, response, spider) if self.debug else None
