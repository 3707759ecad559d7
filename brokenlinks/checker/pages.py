"""From a fetched referring page to its records: the page, its links, their verdicts.

Shared by every spider: extract the links (``brokenlinks.parsing.extract``), decide which are in
scope (:class:`Scope`), check those with the crawl's :class:`~brokenlinks.checker.checks.LinkChecker`,
(reusing the fresh verdicts the database has, see ``brokenlinks.checker.freshness``), and build the
items: one ``CheckItem`` per newly checked target, one ``PageItem`` with all
the page's links, and one ``ProspectItem`` per dead link occurrence.
"""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DownloadCancelledError
from scrapy.spidermiddlewares.httperror import HttpError
from w3lib.encoding import http_content_type_encoding

from brokenlinks.checker import verdicts
from brokenlinks.checker.checks import LinkChecker, now_iso
from brokenlinks.items import CheckItem, LinkRecord, PageItem, ProspectItem
from brokenlinks.net.guard import guard_refusal
from brokenlinks.parsing.charsets import Decoded, codec_for, decode_html
from brokenlinks.parsing.extract import Link, Page, extract_page, outbound_count
from brokenlinks.parsing.sites import in_domains, is_outbound, site_of
from brokenlinks.parsing.urls import host_of, is_http
from brokenlinks.render.browser import rendered_charset

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response, TextResponse
    from scrapy.statscollectors import StatsCollector

    from brokenlinks.checker.freshness import FreshVerdicts
    from brokenlinks.checker.verdicts import CheckResult, Verdict


@dataclass(frozen=True, slots=True)
class Scope:
    """Which links of a page a crawl checks.

    Without *domains*: every outbound link (resource-page prospecting), plus links the
    browser could not follow at all (unparseable hrefs; mailto: and the like, which are
    counted as skipped). With *domains*: only links to those sites (reclaim or
    competitor mode). *internal* adds same-site links (whole-site crawls).
    """

    domains: frozenset[str] = frozenset()
    internal: bool = False

    def wants(self, link: Link, page_url: str) -> bool:
        """Tell whether *link*, found on *page_url*, is checked.

        >>> from brokenlinks.parsing.extract import Link, Position
        >>> link = Link(href="https://other.org/", url="https://other.org/", anchor_text="x",
        ...             rel=(), follow=True, position=Position.CONTENT, context="x", tag="a")
        >>> Scope().wants(link, "https://example.com/")
        True
        >>> Scope(domains=frozenset({"example.com"})).wants(link, "https://example.com/")
        False
        """
        if link.url is None:
            return not self.domains
        if self.domains:
            return is_http(link.url) and in_domains(link.url, self.domains)
        if not is_http(link.url):
            return True
        return self.internal or is_outbound(link.url, page_url)


def target_key(link: Link) -> str:
    """The key a link's target is checked and stored under (the raw href if unparseable)."""
    return link.url if link.url is not None else link.href.strip()


async def check_links(
    page: Page, scope: Scope, checker: LinkChecker, fresh: FreshVerdicts | None = None
) -> dict[str, CheckResult]:
    """Check every in-scope link of *page* (each distinct target once).

    With *fresh*, targets whose stored verdict is recent enough are not checked again.
    """
    wanted: dict[str, Link] = {}
    for link in page.links:
        if scope.wants(link, page.url):
            wanted.setdefault(target_key(link), link)
    if fresh is not None:
        await fresh.seed(checker, wanted)
    results: dict[str, CheckResult] = {}
    pending: dict[str, Verdict | None] = {}
    for key, link in wanted.items():
        if (done := checker.known(key)) is not None:
            # most occurrences repeat a decided target: no task for those
            results[key] = done
        else:
            pending[key] = verdicts.invalid_url(link.href) if link.url is None else None
    checked = await asyncio.gather(*(checker.check(k, v) for k, v in pending.items()))
    results.update(zip(pending, checked, strict=True))
    return results


def build_items(
    page: Page,
    *,
    requested_url: str,
    status: int,
    results: dict[str, CheckResult],
    new_checks: list[CheckResult],
) -> list[Any]:
    """Build the items of one crawled page (pure)."""
    links_on_page = outbound_count(page)
    source_domain = site_of(page.url)
    items: list[Any] = [check_item(result) for result in new_checks]
    records: list[LinkRecord] = []
    prospects: list[ProspectItem] = []
    for link in page.links:
        key = target_key(link)
        target_domain = site_of(link.url) if link.url is not None else ""
        result = results.get(key)
        records.append(
            LinkRecord(
                target_url=key,
                target_domain=target_domain,
                anchor_text=link.anchor_text,
                rel=list(link.rel),
                follow=link.follow,
                position=str(link.position),
                context=link.context,
                checked=result is not None,
                link_kind=link.kind,
            )
        )
        if result is not None and result.verdict.is_dead:
            prospects.append(
                ProspectItem(
                    source_url=page.url,
                    source_title=page.title,
                    source_domain=source_domain,
                    target_url=key,
                    target_domain=target_domain,
                    status=result.verdict.status,
                    reason=str(result.verdict.reason),
                    final_url=result.verdict.final_url,
                    anchor_text=link.anchor_text,
                    rel=list(link.rel),
                    follow=link.follow,
                    position=str(link.position),
                    context=link.context,
                    links_on_page=links_on_page,
                    checked_at=result.checked_at,
                    link_kind=link.kind,
                )
            )
    items.append(
        PageItem(
            url=page.url,
            requested_url=requested_url,
            domain=source_domain,
            title=page.title,
            status=status,
            error=None,
            links_on_page=links_on_page,
            crawled_at=now_iso(),
            links=records,
        )
    )
    items.extend(prospects)
    return items


def check_item(result: CheckResult) -> CheckItem:
    verdict = result.verdict
    return CheckItem(
        target_url=result.url,
        target_domain=site_of(result.url) if is_http(result.url) else "",
        kind=str(verdict.kind),
        reason=str(verdict.reason),
        status=verdict.status,
        final_url=verdict.final_url,
        checked_at=result.checked_at,
        detail=verdict.detail,
    )


#: the header the browser's egress proxy sets on a request the guard refused
REFUSED_HEADER = "X-Brokenlinks-Refused"


def page_failure(
    exception: BaseException, url: str, maxsize: int
) -> tuple[str | None, int | None, str]:
    """Say why a referring page could not be read: ``(final url, status, error)``.

    *url* is the URL of the request that failed (a redirect hop's, after redirects) and
    *maxsize* the ``download_maxsize`` it had.

    >>> from scrapy.exceptions import DownloadCancelledError
    >>> page_failure(DownloadCancelledError(), "http://big.example/", 1024)
    (None, None, 'download cancelled: larger than DOWNLOAD_MAXSIZE (1024 bytes)')
    >>> page_failure(OSError("boom"), "http://a.example/", 1024)
    (None, None, 'OSError: boom')
    """
    if isinstance(exception, HttpError):
        response = exception.response
        refused = response.headers.get(REFUSED_HEADER)
        if refused is not None:
            # the browser's egress proxy answered for the guard (brokenlinks.render.egress)
            detail = refused.decode("latin-1")
            return response.url, None, f"refused by the network guard: {detail}"
        return response.url, response.status, f"HTTP {response.status}"
    if (refusal := guard_refusal(exception, host_of(url))) is not None:
        return None, None, f"refused by the network guard: {refusal.reason}"
    if isinstance(exception, DownloadCancelledError) and not str(exception):
        # Scrapy cancels a body that outgrows the limit without saying so
        return None, None, f"download cancelled: larger than DOWNLOAD_MAXSIZE ({maxsize} bytes)"
    return None, None, f"{type(exception).__name__}: {exception}"[:300]


def failure_kind(error: str) -> str:
    """The stats key part that groups a :func:`page_failure` error.

    >>> [failure_kind(e) for e in ("HTTP 404", "refused by the network guard: x", "OSError: y")]
    ['http_404', 'guard_refused', 'OSError']
    """
    if error.startswith("HTTP "):
        return "http_" + error.removeprefix("HTTP ")
    if error.startswith("refused by the network guard"):
        return "guard_refused"
    if error.startswith("download cancelled"):
        return "too_large"
    return error.split(":", 1)[0].strip() or "error"


def failed_page(
    requested_url: str, *, url: str | None, status: int | None, error: str
) -> PageItem:
    """The record of a referring page that could not be read."""
    page_url = url or requested_url
    return PageItem(
        url=page_url,
        requested_url=requested_url,
        domain=site_of(page_url),
        title=None,
        status=status,
        error=error,
        links_on_page=0,
        crawled_at=now_iso(),
    )


def read_page(response: TextResponse) -> Decoded:
    """Decode a fetched page once, the browser way (``brokenlinks.parsing.charsets``).

    Not ``response.text``: for a page that declares no charset Scrapy guesses with
    charset-normalizer, which reads windows-1252 ``caf\\xe9`` as Urdu (cp1006).

    A rendered page is the DOM the browser produced, which scrapy-playwright re-encodes
    (in UTF-8 when the page's own charset cannot hold it) and names in
    ``response.encoding``: it is decoded with exactly that, never again by the page's own
    ``<meta charset>``; the encoding kept (for links' queries) is the one the browser read
    the page with.
    """
    if is_rendered(response):
        text = response.body.decode(response.encoding, "replace")
        label = rendered_charset(response.meta)
        return Decoded(text, codec_for(label) or codecs.lookup(response.encoding).name)
    content_type = response.headers.get(b"Content-Type") or b""
    return decode_html(response.body, http_content_type_encoding(content_type.decode("latin-1")))


def page_again(response: Response, stats: StatsCollector) -> Request:
    """The request of a page whose checks were abandoned (the crawl is stopping), once more.

    The page gives no items and is not counted as crawled (``brokenlinks/pages/interrupted``
    instead); its request goes back to the scheduler past the duplicate filter, so that a
    crawl resumed from its ``JOBDIR`` reads it (without ``JOBDIR`` the queue ends with the
    crawl, and the next crawl reads the page anyway).
    """
    # counted as crawled when its reading began: the reading did not end
    stats.inc_value("brokenlinks/pages/crawled", -1)
    stats.inc_value("brokenlinks/pages/interrupted")
    assert response.request is not None
    return response.request.replace(dont_filter=True)


def is_rendered(response: TextResponse) -> bool:
    """Tell whether *response* is the DOM the browser produced (scrapy-playwright's flag)."""
    return "playwright" in response.flags


async def extract_in_pool(
    checker: LinkChecker, decoded: Decoded, url: str, *, scripted: bool = False
) -> Page:
    """Extract a decoded page in the crawl's worker pool (``BROKENLINKS_WORKERS``).

    *scripted*: the page is a DOM the browser rendered with scripts on.
    """
    return await checker.workers.run(
        partial(extract_page, encoding=decoded.encoding, scripted=scripted),
        decoded.text,
        url,
        size=len(decoded.text),
    )


async def process_response(
    response: TextResponse,
    decoded: Decoded,
    *,
    requested_url: str,
    scope: Scope,
    checker: LinkChecker,
    fresh: FreshVerdicts | None = None,
) -> list[Any]:
    """Extract, check and build the items of one fetched referring page."""
    page = await extract_in_pool(checker, decoded, response.url, scripted=is_rendered(response))
    return await process_page(
        page,
        requested_url=requested_url,
        status=response.status,
        scope=scope,
        checker=checker,
        fresh=fresh,
    )


async def process_page(
    page: Page,
    *,
    requested_url: str,
    status: int,
    scope: Scope,
    checker: LinkChecker,
    fresh: FreshVerdicts | None = None,
) -> list[Any]:
    """Check and build the items of an already extracted page (a site crawl follows its links).

    Raises :class:`~brokenlinks.checker.checks.ChecksStopped` when the crawl is stopping
    before its checks are done (the spider then schedules the page again: :func:`page_again`).
    """
    results = await check_links(page, scope, checker, fresh)
    return build_items(
        page,
        requested_url=requested_url,
        status=status,
        results=results,
        new_checks=checker.take_unreported(),
    )
