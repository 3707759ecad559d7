"""The single link-check mechanism every spider uses.

Each distinct target URL is checked once per crawl: concurrent callers share one task
(Scrapy's advice: cache the task, not only its result) and later callers get the stored
result. A check sends HEAD first and confirms anything but a clear 2xx with GET; it
follows redirects itself, so that it keeps the chain, resolves ``Location`` the way
browsers do, and stops a loop on its third visit to a URL instead of after
``REDIRECT_MAX_TIMES`` round trips. Requests go through ``engine.download_async``, so
retries (``RETRY_TIMES``, ``RETRY_HTTP_CODES``), per-host concurrency, the network guard
and stats all apply; robots.txt does not (one check of a link is a click, not a crawl).
GET bodies are read only up to ``BROKENLINKS_MAX_BODY_BYTES``.

Settings: ``BROKENLINKS_HEAD_FIRST``, ``BROKENLINKS_MAX_BODY_BYTES``, ``REDIRECT_MAX_TIMES``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    StopDownload,
)
from scrapy.http.request import NO_CALLBACK

from brokenlinks import guard, verdicts
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.urls import host_of, is_http, resolve_href
from brokenlinks.verdicts import Kind, Verdict

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: meta key marking a link-check request (bool)
META_CHECK = "brokenlinks_check"
_META_BYTES = "_brokenlinks_body_bytes"
#: a URL visited this many times within one chain is a loop (twice can be a cookie dance)
_LOOP_VISITS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: failures a GET would repeat: no need to try it after a failed HEAD
_CONCLUSIVE_FAILURES = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
_TEXT_TYPES = (b"text/", b"application/xhtml", b"application/xml", b"application/json")


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class CheckResult:
    url: str
    verdict: Verdict
    checked_at: str


class LinkChecker:
    """Checks link targets once per crawl.

    An extension; spiders reach it with ``crawler.get_extension(LinkChecker)``.
    """

    def __init__(self, crawler: Crawler, config: BrokenlinksConfig) -> None:
        self.crawler = crawler
        self.config = config
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.max_redirects = crawler.settings.getint("REDIRECT_MAX_TIMES")
        self._results: dict[str, CheckResult] = {}
        self._tasks: dict[str, asyncio.Task[CheckResult]] = {}
        self._unreported: list[CheckResult] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        checker = cls(crawler, BrokenlinksConfig.from_settings(crawler.settings))
        crawler.signals.connect(checker.headers_received, signal=signals.headers_received)
        crawler.signals.connect(checker.bytes_received, signal=signals.bytes_received)
        return checker

    # -- the public API -------------------------------------------------------------

    async def check(self, url: str) -> CheckResult:
        """Return the verdict of *url* (absolute, fragment-less), checking it at most once."""
        if (done := self._results.get(url)) is not None:
            self.stats.inc_value("brokenlinks/targets/reused")
            return done
        task = self._tasks.get(url)
        if task is None:
            task = asyncio.ensure_future(self._check(url))
            self._tasks[url] = task
        else:
            self.stats.inc_value("brokenlinks/targets/reused")
        return await asyncio.shield(task)

    def known(self, url: str) -> CheckResult | None:
        """Return the verdict of *url* if it is decided already (no task, no await)."""
        done = self._results.get(url)
        if done is not None:
            self.stats.inc_value("brokenlinks/targets/reused")
        return done

    def record(self, url: str, verdict: Verdict) -> CheckResult:
        """Store a verdict decided without a request (an unparseable href...)."""
        if (done := self._results.get(url)) is not None:
            return done
        return self._finish(url, verdict)

    def take_unreported(self) -> list[CheckResult]:
        """Return the results finished since the last call (each is stored once)."""
        out, self._unreported = self._unreported, []
        return out

    # -- signals: read bodies only as far as a verdict needs ------------------------

    def headers_received(
        self, headers: Headers, body_length: int, request: Request, spider: Any
    ) -> None:
        if not request.meta.get(META_CHECK) or request.method == "HEAD":
            return
        content_type = (headers.get(b"Content-Type") or b"").lower()
        if body_length > self.config.max_body_bytes or (
            content_type and not content_type.startswith(_TEXT_TYPES)
        ):
            raise StopDownload(fail=False)

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        if not request.meta.get(META_CHECK):
            return
        seen = request.meta.get(_META_BYTES, 0) + len(data)
        request.meta[_META_BYTES] = seen
        if seen >= self.config.max_body_bytes:
            raise StopDownload(fail=False)

    # -- the check itself ---------------------------------------------------------------

    def _finish(self, url: str, verdict: Verdict) -> CheckResult:
        result = CheckResult(url, verdict, now_iso())
        self._results[url] = result
        self._tasks.pop(url, None)
        self._unreported.append(result)
        self.stats.inc_value("brokenlinks/targets/checked")
        self.stats.inc_value(f"brokenlinks/verdict_count/{verdict.kind}")
        if verdict.kind is not Kind.ALIVE:
            self.stats.inc_value(f"brokenlinks/reason_count/{verdict.kind}/{verdict.reason}")
        logger.debug(
            "Checked %(url)s: %(kind)s (%(reason)s, status %(status)s)",
            {"url": url, "kind": verdict.kind, "reason": verdict.reason, "status": verdict.status},
        )
        return result

    async def _check(self, url: str) -> CheckResult:
        try:
            verdict = await self._follow(url)
        except asyncio.CancelledError:
            self._tasks.pop(url, None)
            raise
        return self._finish(url, verdict)

    def _request(self, url: str, method: str) -> Request:
        return Request(
            url,
            method=method,
            callback=NO_CALLBACK,
            dont_filter=True,
            headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
            meta={
                META_CHECK: True,
                "dont_redirect": True,
                "dont_obey_robotstxt": True,
                "allow_offsite": True,
                # bounds decompression too: a check reads a capped, possibly
                # compressed body and must not inflate a bomb
                "download_maxsize": self.config.max_body_bytes * 16,
            },
        )

    async def _download(self, url: str, method: str) -> Response | Exception:
        """Download once; a failure is returned, to be classified."""
        assert self.crawler.engine is not None
        self.stats.inc_value(f"brokenlinks/requests/{method.lower()}")
        try:
            return await self.crawler.engine.download_async(self._request(url, method))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  (every failure is classified)
            return exc

    async def _follow(self, url: str) -> Verdict:
        if not is_http(url):
            return verdicts.unsupported_scheme(url)
        method = "HEAD" if self.config.head_first else "GET"
        visits: Counter[str] = Counter({url: 1})
        hops = 0
        current = url
        while True:
            outcome = await self._download(current, method)
            if isinstance(outcome, Exception):
                if method == "HEAD" and not (
                    isinstance(outcome, _CONCLUSIVE_FAILURES) or verdicts.is_tls_error(outcome)
                ):
                    # some servers drop or choke on HEAD requests; only GET can tell
                    method = "GET"
                    continue
                refused = (
                    guard.refused_host(host_of(current))
                    if isinstance(outcome, CannotResolveHostError)
                    else None
                )
                return verdicts.classify_exception(outcome, refused=refused)
            response = outcome
            status = response.status
            location = response.headers.get(b"Location")
            if status in _REDIRECT_STATUSES and location:
                target = resolve_href(location.decode("latin-1"), response.url)
                if target is None:
                    return Verdict(
                        Kind.DEAD,
                        verdicts.Reason.HTTP_STATUS,
                        status,
                        response.url,
                        "redirect to an unparseable Location",
                    )
                hops += 1
                visits[target] += 1
                if visits[target] >= _LOOP_VISITS or hops > self.max_redirects:
                    return verdicts.redirect_loop(
                        target, status, hops, looped=visits[target] >= _LOOP_VISITS
                    )
                if not is_http(target):
                    return verdicts.unsupported_scheme(target)
                current = target
                continue
            if method == "HEAD" and not verdicts.head_is_conclusive(status):
                method = "GET"
                continue
            return verdicts.classify_status(status, response.url)
