"""One retry path: Scrapy's RetryMiddleware, honouring ``Retry-After`` and sparing hung hosts.

:class:`RetryAfterMiddleware` replaces ``scrapy.downloadermiddlewares.retry.RetryMiddleware``
in ``DOWNLOADER_MIDDLEWARES`` and keeps its settings (``RETRY_ENABLED``, ``RETRY_TIMES``,
``RETRY_HTTP_CODES``, ``dont_retry``). When a 429 or 503 carries ``Retry-After`` (delay
seconds or an HTTP-date, RFC 9110 section 10.2.3), the host is given that long: its
downloader slot is held until then (:meth:`brokenlinks.net.downloader.PoliteDownloader.hold`),
so its requests, the retry included, wait in the slot's queue. They are not sent, do not
count against ``CONCURRENT_REQUESTS`` and do not make the engine back out: other hosts and
referring pages go on. (With another downloader, each request waits in its own coroutine
in ``process_request``, counted as active.) Once the host answers after its wait, its
entry is dropped. A delay longer than
``BROKENLINKS_RETRY_AFTER_MAX`` is not waited for: the answer stands (a 429 is then
blocked ``rate_limited``, and so is a 503, which the meta key ``brokenlinks_retry_after``
marks for the checker).

A request that waited ``DOWNLOAD_TIMEOUT`` seconds for nothing is the longest wait of a
crawl: with Scrapy's ``RETRY_TIMES`` (2) a hung target holds its check for three timeouts,
and that single chain then sets the crawl's wall time (benchmarks/). A host that did not
answer within the timeout twice is dead for a link check's purpose, so a timed-out request
is retried ``BROKENLINKS_TIMEOUT_RETRY_TIMES`` times (stat
``brokenlinks/retry/timeout_limited`` when that stops it); refused connections, DNS errors
and 5xx answers are cheap to retry and keep ``RETRY_TIMES``.

A link check marked ``brokenlinks_confirmed_later`` (:data:`META_CONFIRMED_LATER`: every
check while ``BROKENLINKS_CONFIRM_ENABLED``) is not retried at once for a failure the
confirmation pass checks again (a timeout, a refused or reset connection, a 5xx without
a ``Retry-After`` to honour: ``brokenlinks.checker.verdicts.needs_confirmation``): the pass
is its retry, made alone on its host with the crawl quiet, and a retry made at once under
the same load only held the pages linking to it longer (a hung target: two timeouts before
it even waited for the pass). DNS errors, 408 and 429 keep their retries; referring pages
and probes keep all of theirs (stat ``brokenlinks/retry/left_to_confirmation``).

Settings: ``BROKENLINKS_RETRY_AFTER_MAX``, ``BROKENLINKS_TIMEOUT_RETRY_TIMES`` and Scrapy's
retry settings. Stats: ``brokenlinks/retry_after/{honoured,over_cap,waits}``,
``brokenlinks/retry/timeout_limited``, ``brokenlinks/retry/left_to_confirmation``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic
from typing import TYPE_CHECKING, Self

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import DownloadTimeoutError
from scrapy.utils.httpobj import urlparse_cached

from brokenlinks.checker.verdicts import classify_exception, classify_status, needs_confirmation
from brokenlinks.config import config_of
from brokenlinks.net.downloader import PoliteDownloader

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: meta key set on a request whose answer asked for a longer wait than the cap (float seconds)
META_RETRY_AFTER = "brokenlinks_retry_after"
#: meta key of a link check whose transient failures the confirmation pass checks again
META_CONFIRMED_LATER = "brokenlinks_confirmed_later"
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


def stop_retrying(exception: BaseException, retry_times: int, limit: int) -> bool:
    """Tell whether a request that failed with *exception* after *retry_times* retries stops.

    >>> timeout = DownloadTimeoutError("took longer than 20 seconds")
    >>> stop_retrying(timeout, 0, 1), stop_retrying(timeout, 1, 1)
    (False, True)
    >>> stop_retrying(ConnectionRefusedError(), 1, 1)
    False
    """
    return isinstance(exception, DownloadTimeoutError) and retry_times >= limit


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware with ``Retry-After`` (per host, capped) and a timeout limit."""

    def __init__(
        self, settings: BaseSettings, *, cap: float = 30.0, timeout_retry_times: int = 1
    ) -> None:
        super().__init__(settings)
        self.cap = cap
        self.timeout_retry_times = timeout_retry_times
        #: host → monotonic time before which no request is sent to it
        self.not_before: dict[str, float] = {}
        self._warned: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = config_of(crawler)
        mw = cls(
            crawler.settings,
            cap=config.retry_after_max,
            timeout_retry_times=config.timeout_retry_times,
        )
        mw.crawler = crawler
        return mw

    def process_exception(  # type: ignore[override]  # the 2.14+ signature, without spider
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        if request.meta.get(META_CONFIRMED_LATER) and needs_confirmation(
            classify_exception(exception)
        ):
            self._left_to_confirmation()
            return None  # the failure stands: the confirmation pass tries it again
        limit = self.timeout_retry_times
        max_retry_times = request.meta.get("max_retry_times", self.max_retry_times)
        if (
            limit < max_retry_times
            and not request.meta.get("dont_retry", False)
            and stop_retrying(exception, request.meta.get("retry_times", 0), limit)
        ):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("brokenlinks/retry/timeout_limited")
            return None  # the timeout stands: the errback gets it
        return super().process_exception(request, exception)

    def _downloader(self) -> PoliteDownloader | None:
        try:
            downloader = self.crawler.engine.downloader
        except RuntimeError:  # no engine: a component test drives the middleware alone
            return None
        return downloader if isinstance(downloader, PoliteDownloader) else None

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        until = self.not_before.get(host, 0.0)
        wait = until - monotonic()
        if wait > 0:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("brokenlinks/retry_after/waits")
            downloader = self._downloader()
            if downloader is not None:
                # its slot holds it (also a slot of its own, from download_slot in meta)
                downloader.hold(request, until)
                return
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
                until = max(self.not_before.get(host, 0.0), monotonic() + delay)
                self.not_before[host] = until
                if (downloader := self._downloader()) is not None:
                    # requests queued for the host already passed process_request
                    downloader.hold(request, until)
                return super().process_response(request, response)
        self._answered(urlparse_cached(request).hostname or "")
        if (
            request.meta.get(META_CONFIRMED_LATER)
            and response.status in self.retry_http_codes
            and needs_confirmation(classify_status(response.status))
        ):
            self._left_to_confirmation()
            return response  # the confirmation pass asks again, with the crawl quiet
        return super().process_response(request, response)

    def _left_to_confirmation(self) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("brokenlinks/retry/left_to_confirmation")

    def _answered(self, host: str) -> None:
        """The host answered: once its wait is over, it is forgotten (the dict shrinks)."""
        until = self.not_before.get(host)
        if until is not None and until <= monotonic():
            del self.not_before[host]
