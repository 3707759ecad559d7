"""``scrapy crawl contacts [-a again=1]``: whom to write to on each referring site of a prospect.

A spider of its own over the database: contacts matter only for sites that link to a dead
target (a small share of what a crawl reads), are stored per site, and a crawl that checks
links should not wait on them. For each such site without stored contacts, its first
referring page is read (robots.txt obeyed) with :func:`brokenlinks.outreach.contacts.read_contacts`;
when it gives no address, the site's contact page it links to is read once (robots.txt
obeyed too). A page that cannot be read is tried with the site's next referring page.
Stats: ``brokenlinks/contacts/sites``, ``brokenlinks/contacts/with_email``,
``brokenlinks/contacts/contact_page_read``, ``brokenlinks/contacts/failed``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.http import TextResponse
from scrapy.utils.asyncio import run_in_thread

from brokenlinks.config import config_of
from brokenlinks.outreach import records
from brokenlinks.outreach.contacts import Contacts, read_contacts
from brokenlinks.outreach.items import ContactsItem

from .base import OutreachSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.http import Response
    from twisted.python.failure import Failure


def _item(site: str, page_url: str, found: Contacts) -> ContactsItem:
    return ContactsItem(
        site=site,
        page_url=page_url,
        contact_emails=found.emails,
        contact_page=found.contact_page,
        author=found.author,
        social=found.social,
        checked_at=datetime.now(UTC).isoformat(),
    )


class ContactsSpider(OutreachSpider):
    name = "contacts"

    async def start(self) -> AsyncIterator[Any]:
        config = config_of(self.crawler)
        sites = await run_in_thread(
            records.read, config.database_url, records.sites_to_contact, again=self.params.again
        )
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("brokenlinks/contacts/sites", len(sites))
        self.logger.info("Looking for contacts on %(n)d referring sites", {"n": len(sites)})
        for site, pages in sites.items():
            yield self._page_request(site, pages)

    def _page_request(self, site: str, pages: list[str]) -> Request:
        return Request(
            pages[0],
            callback=self.parse_page,
            errback=self.page_failed,
            cb_kwargs={"site": site, "pages": pages},
            dont_filter=True,
        )

    def parse_page(self, response: Response, site: str, pages: list[str]) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            yield from self._next_page(site, pages)
            return
        found = read_contacts(response.text, response.url)
        if found.emails or not found.contact_page or found.contact_page == response.url:
            yield self._done(site, response.url, found)
            return
        yield Request(
            found.contact_page,
            callback=self.parse_contact_page,
            errback=self.contact_page_failed,
            cb_kwargs={"site": site, "page_url": response.url, "found": found},
            dont_filter=True,
        )

    def parse_contact_page(
        self, response: Response, site: str, page_url: str, found: Contacts
    ) -> Iterator[Any]:
        self._inc("brokenlinks/contacts/contact_page_read")
        more = (
            read_contacts(response.text, response.url)
            if isinstance(response, TextResponse)
            else Contacts()
        )
        merged = Contacts(
            emails=list(dict.fromkeys([*found.emails, *more.emails])),
            contact_page=found.contact_page,
            author=found.author or more.author,
            social=list(dict.fromkeys([*found.social, *more.social])),
        )
        yield self._done(site, page_url, merged)

    def contact_page_failed(self, failure: Failure) -> Iterator[Any]:
        # the referring page's own findings still stand (robots.txt may forbid the page)
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        self.logger.info(
            "Contact page %(url)s not read: %(error)s",
            {"url": kwargs["found"].contact_page, "error": failure.getErrorMessage()},
        )
        yield self._done(kwargs["site"], kwargs["page_url"], kwargs["found"])

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        self.logger.info(
            "Referring page %(url)s not read: %(error)s",
            {"url": kwargs["pages"][0], "error": failure.getErrorMessage()},
        )
        yield from self._next_page(kwargs["site"], kwargs["pages"])

    def _next_page(self, site: str, pages: list[str]) -> Iterator[Any]:
        if len(pages) > 1:
            yield self._page_request(site, pages[1:])
        else:
            # nothing stored: the next run tries again
            self._inc("brokenlinks/contacts/failed")

    def _done(self, site: str, page_url: str, found: Contacts) -> ContactsItem:
        if found.emails:
            self._inc("brokenlinks/contacts/with_email")
        return _item(site, page_url, found)
