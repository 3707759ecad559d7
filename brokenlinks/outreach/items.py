"""The records the outreach steps yield for the database (never exported by a feed).

``ExportMetricsItem`` comes from the backlinks crawl (one per referring page of an export
that has metrics); ``CaptureItem`` and ``DomainStatusItem`` from ``scrapy crawl archive``;
``ContactsItem`` from ``scrapy crawl contacts``; ``MyPageItem`` from ``scrapy crawl mysite``.
:class:`brokenlinks.pipelines.outreach.OutreachStorePipeline` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True, slots=True)
class ExportMetricsItem:
    """The metrics one export gives one referring page."""

    page_url: str
    export_format: str
    export_file: str
    export_target_url: str | None
    #: canonical metric name → number or ISO date (see ``outreach.authority.METRICS``)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class CaptureItem:
    """The newest good capture of a dead target, or that there is none (``outcome``)."""

    target_url: str
    #: found or none
    outcome: str
    archived_url: str | None = None
    #: ISO 8601 UTC time of the capture
    archived_at: str | None = None
    archived_title: str | None = None
    archived_heading: str | None = None
    archived_description: str | None = None
    archived_summary: str | None = None
    looked_up_at: str


@dataclass(kw_only=True, slots=True)
class DomainStatusItem:
    """The RDAP answer about a registered domain."""

    domain: str
    #: registered, unregistered or unknown
    domain_status: str
    rdap_server: str | None
    checked_at: str


@dataclass(kw_only=True, slots=True)
class ContactsItem:
    """Whom to write to on a referring site."""

    site: str
    page_url: str
    contact_emails: list[str] = field(default_factory=list)
    contact_page: str | None = None
    author: str | None = None
    social: list[str] = field(default_factory=list)
    checked_at: str


@dataclass(kw_only=True, slots=True)
class MyPageItem:
    """One of the user's own pages, as the replacement ranking reads it."""

    url: str
    site: str
    title: str | None
    headings: list[str] = field(default_factory=list)
    url_words: str = ""
    summary: str = ""
    fetched_at: str


OUTREACH_ITEMS = (ExportMetricsItem, CaptureItem, DomainStatusItem, ContactsItem, MyPageItem)
