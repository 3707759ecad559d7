"""Retries that honour ``Retry-After``: Scrapy's RetryMiddleware retries a 429 or 503 at once.

:class:`RetryAfterMiddleware` replaces ``scrapy.downloadermiddlewares.retry.RetryMiddleware``
in ``DOWNLOADER_MIDDLEWARES`` and keeps its settings (``RETRY_ENABLED``, ``RETRY_TIMES``,
``RETRY_HTTP_CODES``, ``dont_retry``). When a 429 or 503 carries ``Retry-After`` (delay
seconds or an HTTP-date, RFC 9110 section 10.2.3), the host is given that long: every
request to it, the retry included, waits in its own coroutine in ``process_request``
until then, so other hosts are not held up. A delay longer than
``BROKENLINKS_RETRY_AFTER_MAX`` is not waited for: the answer stands (a 429 is then
blocked ``rate_limited``, and so is a 503, which the meta key ``brokenlinks_retry_after``
marks for the checker).

Settings: ``BROKENLINKS_RETRY_AFTER_MAX`` and Scrapy's retry settings.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import TYPE_CHECKING, Self

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.httpobj import urlparse_cached

from brokenlinks.config import BrokenlinksConfig

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: meta key set on a request whose answer asked for a longer wait than the cap (float seconds)
META_RETRY_AFTER = "brokenlinks_retry_after"
_RETRY_AFTER_STATUSES = frozenset({429, 503})


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Return the delay a ``Retry-After`` value asks for, in seconds, or None if invalid.

    >>> parse_retry_after("120")
    120.0
    >>> now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    >>> parse_retry_after("Thu, 01 Jan 2026 12:00:05 GMT", now)
    5.0
    >>> parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now), parse_retry_after("soon")
    (0.0, None)
    """
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting per host as ``Retry-After`` asks (up to a cap)."""

    def __init__(self, settings: BaseSettings, *, cap: float = 30.0) -> None:
        super().__init__(settings)
        self.cap = cap
        #: host → monotonic time before which no request is sent to it
        self.not_before: dict[str, float] = {}
        self._warned: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = BrokenlinksConfig.from_settings(crawler.settings)
        mw = cls(crawler.settings, cap=config.retry_after_max)
        mw.crawler = crawler
        return mw

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        wait = self.not_before.get(host, 0.0) - monotonic()
        if wait > 0:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("brokenlinks/retry_after/waits")
            logger.debug("Waiting %.1f s before %s (Retry-After)", wait, request)
            await asyncio.sleep(wait)

    def process_response(  # type: ignore[override]  # the 2.14+ signature, without spider
        self, request: Request, response: Response
    ) -> Request | Response:
        if (
            response.status in _RETRY_AFTER_STATUSES
            and response.status in self.retry_http_codes
            and not request.meta.get("dont_retry", False)
        ):
            header = response.headers.get(b"Retry-After")
            delay = parse_retry_after(header.decode("latin-1")) if header else None
            if delay is not None:
                assert self.crawler.stats is not None
                host = urlparse_cached(request).hostname or ""
                if delay > self.cap:
                    self.crawler.stats.inc_value("brokenlinks/retry_after/over_cap")
                    request.meta[META_RETRY_AFTER] = delay
                    if host not in self._warned:
                        self._warned.add(host)
                        logger.info(
                            "%(host)s asks to wait %(delay).0f s (Retry-After), more than "
                            "BROKENLINKS_RETRY_AFTER_MAX=%(cap).0f: not retried",
                            {"host": host, "delay": delay, "cap": self.cap},
                        )
                    return response
                self.crawler.stats.inc_value("brokenlinks/retry_after/honoured")
                self.not_before[host] = max(self.not_before.get(host, 0.0), monotonic() + delay)
        return super().process_response(request, response)
