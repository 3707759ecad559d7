"""The database schema: SQLAlchemy 2.0 typed models of crawl runs, pages, targets, links and checks.

A *page* is a referring page as crawled; a *target* is a distinct link target (absolute URL
without fragment) carrying its latest verdict; a *link* is one occurrence of a target on a
page; a *check* is one verdict in a target's history (one row per check, so "dead since" can
be answered); a *crawl run* is one ``scrapy crawl``; an *outreach* row is the user's status
of one prospect; a *campaign page* ties a page to each campaign that read it. The tables are created and changed by the Alembic revisions in
:mod:`brokenlinks.storage.migrations`, never by ``create_all``. Every datetime is timezone-aware UTC
(:class:`UTCDateTime` makes SQLite round-trip it). Reads no settings; the only SQL that uses
these models lives in :mod:`brokenlinks.storage.store`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: constraint names that Alembic (render_as_batch on SQLite) can find and alter later
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def text_key(value: str) -> str:
    """The key a long text column is unique on: its SHA-256, 64 hex digits.

    PostgreSQL's B-tree indexes refuse an entry over about 2.7 KB, and URLs (a ``data:``
    href) and anchor texts have no length limit, so the unique indexes hold this instead.

    >>> text_key("https://example.com/")[:16]
    '0f115db062b7c0dd'
    """
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite's ``DATETIME`` drops the offset and gives back naive values, so values are
    converted to UTC before they are stored and marked UTC when they are read. The stored
    text has a fixed format, so comparing and ordering in SQL stay chronological.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value!r}: the store keeps timezone-aware UTC datetimes"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


class CrawlRun(Base):
    """One crawl: which spider, with which arguments, how it ended and its final stats."""

    __tablename__ = "crawl_runs"

    __table_args__ = (Index(None, "campaign"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spider: Mapped[str] = mapped_column(String(200))
    #: the campaign the crawl belongs to (``-a campaign=NAME`` or its default)
    campaign: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: the spider arguments as a JSON object
    arguments: Mapped[str] = mapped_column(Text, default="{}")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    finish_reason: Mapped[str | None] = mapped_column(String(200))
    #: the crawler stats at the end, as a JSON object
    stats: Mapped[str | None] = mapped_column(Text)


class Page(Base):
    """A referring page as last crawled."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    #: text_key(url): the unique key (a URL can be longer than an index entry may be)
    url_key: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None]
    #: why the page itself could not be read, else None
    error: Mapped[str | None] = mapped_column(Text)
    links_on_page: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime]
    last_crawled_at: Mapped[datetime]
    last_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))


class CampaignPage(Base):
    """A referring page one campaign's crawls read (a page can belong to several)."""

    __tablename__ = "campaign_pages"
    __table_args__ = (UniqueConstraint("campaign", "page_id"), Index(None, "page_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200))
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))


class Target(Base):
    """A distinct link target with its latest check (all verdict columns null until checked)."""

    __tablename__ = "targets"
    __table_args__ = (Index(None, "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    #: text_key(url): the unique key (a URL can be longer than an index entry may be)
    url_key: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(String(255))
    #: alive, dead, blocked or skipped
    kind: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))


class Link(Base):
    """One occurrence of a target on a page."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("page_id", "target_id", "anchor_key", "position"),
        Index(None, "target_id"),
        Index(None, "page_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    anchor_text: Mapped[str] = mapped_column(Text)
    #: text_key(anchor_text), in the unique key in its place
    anchor_key: Mapped[str] = mapped_column(String(64))
    #: the rel tokens, lower-cased, joined by spaces (as in HTML)
    rel: Mapped[str] = mapped_column(Text, default="")
    follow: Mapped[bool] = mapped_column(Boolean)
    #: content, nav, header, footer or aside
    position: Mapped[str] = mapped_column(String(20))
    context: Mapped[str] = mapped_column(Text)
    #: whether the crawl checked this link (out-of-scope links are stored, not checked)
    checked: Mapped[bool] = mapped_column(Boolean)
    #: link, refresh, or a reference's kind: img, source, iframe, frame, canonical, alternate
    link_kind: Mapped[str] = mapped_column(String(20), default="link", server_default="link")
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    #: when a crawl of the page last found the link missing (None while it is there)
    gone_at: Mapped[datetime | None]
    last_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))


class Check(Base):
    """One verdict in a target's history; the same check written twice is one row."""

    __tablename__ = "checks"
    __table_args__ = (UniqueConstraint("target_id", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(50))
    status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime]


class Outreach(Base):
    """The user's outreach status of one prospect (a referring page × a dead target)."""

    __tablename__ = "outreach"
    __table_args__ = (UniqueConstraint("page_id", "target_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    #: new, contacted, replied, won, lost or ignored
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


# --- outreach (issue 13): keyed by URL, site or domain text, so that they can be filled
# --- before or after the crawl that stores the page or the target they describe


class ExportMetrics(Base):
    """The link metrics one backlink export gives one referring page."""

    __tablename__ = "export_metrics"
    __table_args__ = (UniqueConstraint("page_url", "export_format", "export_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_url: Mapped[str] = mapped_column(Text)
    #: semrush, ahrefs, majestic or moz
    export_format: Mapped[str] = mapped_column(String(20))
    #: the export's file name (or URL)
    export_file: Mapped[str] = mapped_column(Text)
    #: the export's own ``Target URL`` of the page's first row
    export_target_url: Mapped[str | None] = mapped_column(Text)
    page_ascore: Mapped[float | None] = mapped_column(Float)
    domain_rating: Mapped[float | None] = mapped_column(Float)
    ur: Mapped[float | None] = mapped_column(Float)
    domain_traffic: Mapped[float | None] = mapped_column(Float)
    source_trust_flow: Mapped[float | None] = mapped_column(Float)
    source_citation_flow: Mapped[float | None] = mapped_column(Float)
    domain_authority: Mapped[float | None] = mapped_column(Float)
    page_authority: Mapped[float | None] = mapped_column(Float)
    spam_score: Mapped[float | None] = mapped_column(Float)
    first_seen: Mapped[str | None] = mapped_column(String(40))
    last_seen: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class ArchivedTarget(Base):
    """What a dead target was: its newest good capture in the Wayback Machine (one lookup)."""

    __tablename__ = "archived_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_url: Mapped[str] = mapped_column(Text, unique=True)
    #: found (a capture was read), none (the archive has no 200 capture)
    outcome: Mapped[str] = mapped_column(String(20))
    archived_url: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None]
    archived_title: Mapped[str | None] = mapped_column(Text)
    archived_heading: Mapped[str | None] = mapped_column(Text)
    archived_description: Mapped[str | None] = mapped_column(Text)
    archived_summary: Mapped[str | None] = mapped_column(Text)
    looked_up_at: Mapped[datetime]


class SiteContact(Base):
    """Whom to write to on a referring site."""

    __tablename__ = "site_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(255), unique=True)
    #: the page the contacts were read from
    page_url: Mapped[str] = mapped_column(Text)
    #: e-mail addresses, space-separated
    contact_emails: Mapped[str] = mapped_column(Text, default="")
    contact_page: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    #: social profile URLs, space-separated
    social: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime]


class DomainStatus(Base):
    """Whether the registered domain of a target dead by ``dns`` is still registered (RDAP)."""

    __tablename__ = "domain_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    #: registered, unregistered or unknown
    domain_status: Mapped[str] = mapped_column(String(20))
    rdap_server: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime]


class MyPage(Base):
    """One of the user's own pages (``-a mysite=``), as the replacement ranking reads it."""

    __tablename__ = "my_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    site: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    #: h1-h3 texts, one a line
    headings: Mapped[str] = mapped_column(Text, default="")
    url_words: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    fetched_at: Mapped[datetime]
