"""``scrapy crawl archive [-a again=1]``: what each dead target was, and whether its domain is free.

A spider of its own over the database, not a step of the backlinks and site crawls: a
capture does not change, so each dead target is looked up once whatever crawl found it,
the link-checking spiders stay as they are, and the archive (one host, which asks for
patience) gets its own politeness (``CONCURRENT_REQUESTS_PER_DOMAIN = 2``,
``DOWNLOAD_DELAY = 1``; ``-s`` overrides) without slowing down a crawl. Requests go through
the engine: retries with Retry-After (``brokenlinks.downloadermiddlewares.retry``), the network guard and stats
apply.

For every dead target still linked and not yet looked up: the CDX API, then the newest
capture without toolbar (:mod:`brokenlinks.outreach.archive`). For every registered domain
of a target dead by ``dns``: IANA's RDAP bootstrap file once, then the domain's RDAP server
(:mod:`brokenlinks.outreach.rdap`). Settings: ``BROKENLINKS_ARCHIVE_ENABLED``,
``BROKENLINKS_ARCHIVE_URL``, ``BROKENLINKS_RDAP_ENABLED``, ``BROKENLINKS_RDAP_BOOTSTRAP_URL``.
Stats under ``brokenlinks/archive/`` and ``brokenlinks/rdap/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.asyncio import run_in_thread

from brokenlinks.config import config_of
from brokenlinks.net.guard import guard_refusal
from brokenlinks.outreach import archive, rdap, records
from brokenlinks.outreach.items import CaptureItem, DomainStatusItem
from brokenlinks.outreach.pagetext import page_text
from brokenlinks.parsing.urls import host_of

from .base import OutreachSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response
    from twisted.python.failure import Failure

#: an API, not pages to crawl: robots.txt is for crawlers of pages
_API_META = {"dont_obey_robotstxt": True}
_CAPTURE_PATH = re.compile(r"/web/(\d{4,14})id_/")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _why(failure: Failure) -> str:
    """The failure in one line; the network guard's refusal named as such."""
    request = failure.request  # type: ignore[attr-defined]
    error = failure.value
    refused = guard_refusal(error, host_of(request.url)) if error is not None else None
    if refused is not None:
        # the guard fails a download like a DNS error: say what really happened
        return f"refused by the network guard ({refused.reason})"
    return failure.getErrorMessage()


class ArchiveSpider(OutreachSpider):
    name = "archive"
    custom_settings = {  # noqa: RUF012  (Scrapy's attribute)
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "DOWNLOAD_DELAY": 1.0,
    }

    async def start(self) -> AsyncIterator[Any]:
        self.config = config_of(self.crawler)
        again = self.params.again
        url = self.config.database_url
        targets = await run_in_thread(records.read, url, records.targets_to_archive, again=again)
        domains = await run_in_thread(records.read, url, records.domains_to_look_up, again=again)
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("brokenlinks/archive/targets", len(targets))
        self.crawler.stats.set_value("brokenlinks/rdap/domains", len(domains))
        self.logger.info(
            "Looking up %(targets)d dead targets in the archive, %(domains)d domains in RDAP",
            {"targets": len(targets), "domains": len(domains)},
        )
        if self.config.rdap_enabled and domains:
            yield Request(
                self.config.rdap_bootstrap_url,
                callback=self.parse_bootstrap,
                errback=self.bootstrap_failed,
                cb_kwargs={"domains": domains},
                dont_filter=True,
                meta=_API_META,
            )
        if not self.config.archive_enabled:
            return
        for target_url in targets:
            yield Request(
                archive.cdx_url(self.config.archive_url, target_url),
                callback=self.parse_cdx,
                errback=self.lookup_failed,
                cb_kwargs={"target_url": target_url},
                dont_filter=True,
                meta=_API_META,
            )

    # -- the Wayback Machine ----------------------------------------------------------------

    def parse_cdx(self, response: Response, target_url: str) -> Iterator[Any]:
        try:
            captures = archive.parse_cdx(response.body, target_url)
        except ValueError as e:
            self._inc("brokenlinks/archive/failed")
            self.logger.warning("CDX answer for %(url)s: %(e)s", {"url": target_url, "e": e})
            return
        if not captures:
            self._inc("brokenlinks/archive/no_capture")
            yield CaptureItem(target_url=target_url, outcome="none", looked_up_at=_now())
            return
        capture = captures[0]
        yield Request(
            archive.capture_url(self.config.archive_url, capture),
            callback=self.parse_capture,
            errback=self.lookup_failed,
            cb_kwargs={"target_url": target_url, "capture": capture},
            dont_filter=True,
            meta=_API_META,
        )

    def parse_capture(
        self, response: Response, target_url: str, capture: archive.Capture
    ) -> Iterator[Any]:
        # a capture can redirect to a neighbouring one (the archive's own redirect, or the
        # page's archived 3xx); the timestamp of the one read is in the final URL
        found = _CAPTURE_PATH.search(response.url)
        timestamp = found.group(1) if found else capture.timestamp
        if found and found.group(1) != capture.timestamp:
            self._inc("brokenlinks/archive/redirected")
        text = page_text(response.text) if isinstance(response, TextResponse) else None
        self._inc("brokenlinks/archive/found")
        endpoint = self.config.archive_url.rstrip("/")
        yield CaptureItem(
            target_url=target_url,
            outcome="found",
            archived_url=f"{endpoint}/web/{timestamp}/{capture.original}",
            archived_at=archive.capture_time(timestamp),
            archived_title=text.title if text else None,
            archived_heading=text.heading if text else None,
            archived_description=text.description if text else None,
            archived_summary=(text.summary or None) if text else None,
            looked_up_at=_now(),
        )

    def lookup_failed(self, failure: Failure) -> None:
        # nothing is stored: the next run asks again
        request = failure.request  # type: ignore[attr-defined]
        self._inc("brokenlinks/archive/failed")
        self.logger.warning(
            "Archive lookup failed for %(url)s: %(error)s",
            {"url": request.cb_kwargs.get("target_url"), "error": _why(failure)},
        )

    # -- RDAP --------------------------------------------------------------------------------

    def parse_bootstrap(self, response: Response, domains: list[str]) -> Iterator[Any]:
        try:
            servers = rdap.rdap_servers(response.body)
        except ValueError as e:
            self.logger.error(
                "RDAP bootstrap %(url)s: %(e)s", {"url": self.config.rdap_bootstrap_url, "e": e}
            )
            return
        for domain in domains:
            url = rdap.domain_url(servers, domain)
            if url is None:
                self._inc("brokenlinks/rdap/status/unknown")
                yield DomainStatusItem(
                    domain=domain, domain_status=rdap.UNKNOWN, rdap_server=None, checked_at=_now()
                )
                continue
            yield Request(
                url,
                callback=self.parse_rdap,
                errback=self.rdap_failed,
                cb_kwargs={"domain": domain},
                dont_filter=True,
                headers={"Accept": "application/rdap+json, application/json"},
                # 404 is the answer "not registered", not an error
                meta={**_API_META, "handle_httpstatus_list": [404]},
            )

    def bootstrap_failed(self, failure: Failure) -> None:
        self._inc("brokenlinks/rdap/failed")
        self.logger.error(
            "RDAP bootstrap %(url)s could not be read: %(error)s",
            {"url": self.config.rdap_bootstrap_url, "error": _why(failure)},
        )

    def parse_rdap(self, response: Response, domain: str) -> Iterator[Any]:
        status = rdap.domain_status(response.status, response.body)
        self._inc(f"brokenlinks/rdap/status/{status}")
        yield DomainStatusItem(
            domain=domain, domain_status=status, rdap_server=response.url, checked_at=_now()
        )

    def rdap_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        self._inc("brokenlinks/rdap/status/unknown")
        self.logger.warning(
            "RDAP lookup of %(domain)s failed: %(error)s",
            {"domain": request.cb_kwargs["domain"], "error": _why(failure)},
        )
        yield DomainStatusItem(
            domain=request.cb_kwargs["domain"],
            domain_status=rdap.UNKNOWN,
            rdap_server=request.url,
            checked_at=_now(),
        )
