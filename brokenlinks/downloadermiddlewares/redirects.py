"""Redirects of referring pages: followed even where Scrapy's duplicate filter would drop them.

Scrapy's ``RedirectMiddleware`` gives a redirect the ``dont_filter`` of the request it
replaces, so a page that redirects to itself, or to a URL the crawl has already fetched
(another seed), is dropped by the duplicate filter: no callback, no errback, no log line,
and the referring page vanishes. :class:`PageRedirectMiddleware` lets every redirect of a
referring page through the filter (the spiders recognise pages they have read already by
their final URL) and stops a loop itself: a URL reached a third time within one chain
raises ``IgnoreRequest("redirect loop ...")``, which the spiders' errbacks record as a
failed page. A request whose meta key ``brokenlinks_sites`` (a set of sites) is set is not
redirected off those sites: :class:`OffsiteRedirect` is raised instead (the ``site``
spider's pages: another site's page is not one of its pages). Link checks (``dont_redirect``) follow their own redirects in
``brokenlinks.checker.checks``. ``<meta http-equiv="refresh">`` is not followed at all
(``METAREFRESH_ENABLED = False``): its target is a link of the page instead.

Settings: ``REDIRECT_ENABLED``, ``REDIRECT_MAX_TIMES`` (Scrapy's own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest

from brokenlinks.parsing.sites import site_of

if TYPE_CHECKING:
    from scrapy.http import Response

#: a URL visited this many times within one chain is a loop (as in brokenlinks.checker.checks)
LOOP_VISITS = 3
#: meta key: the sites (``brokenlinks.parsing.sites.site_of``) a page request may be redirected within
META_SITES = "brokenlinks_sites"


class OffsiteRedirect(IgnoreRequest):
    """A page request redirected away from the sites of its crawl (``META_SITES``)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"redirect to {url} on another site")
        self.url = url


class PageRedirectMiddleware(RedirectMiddleware):
    """Scrapy's ``RedirectMiddleware``, with redirects past the duplicate filter and loops cut.

    Only public API: the redirect Scrapy's ``process_response`` builds (with its documented
    ``redirect_urls`` meta key) is checked and let through the filter afterwards.
    """

    def process_response(  # type: ignore[override]  # the 2.14+ signature, without spider
        self, request: Request, response: Response
    ) -> Request | Response:
        out = super().process_response(request, response)
        if not isinstance(out, Request):
            return out
        sites = request.meta.get(META_SITES)
        if sites and site_of(out.url) not in sites:
            raise OffsiteRedirect(out.url)
        chain = out.meta.get("redirect_urls", [])
        if chain.count(out.url) + 1 >= LOOP_VISITS:
            stats = self.crawler.stats
            assert stats is not None
            stats.inc_value("brokenlinks/pages/redirect_loop")
            msg = f"redirect loop at {out.url} after {len(chain)} redirects"
            raise IgnoreRequest(msg)
        out.dont_filter = True
        return out
