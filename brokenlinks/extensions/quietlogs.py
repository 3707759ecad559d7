"""Keep Scrapy's log to one line per fault: robots.txt download errors without tracebacks.

Scrapy's ``RobotsTxtMiddleware`` logs every failed robots.txt download as an ``ERROR``
with a full traceback (two chained ones for a DNS error). For a referring page on a dead
host or one the network guard refuses, that is 30 lines before the page's own one-line
failure (``Could not read URL: reason``), which says the same. The
:class:`QuietRobotsErrors` extension installs a logging filter that turns those records
into one ``DEBUG`` line, traceback dropped. The stats (``robotstxt/exception_count/...``)
are unchanged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

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
