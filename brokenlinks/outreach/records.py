"""The outreach tables' SQL: upserts of what the outreach steps found, and their readers.

:func:`write_items` writes the records of :mod:`brokenlinks.outreach.items` in one
transaction with the dialect's upsert (a newer lookup replaces an older one); the readers
feed the outreach spiders (what is left to look up) and the reports (what was found).
Kept beside :mod:`brokenlinks.storage.store` rather than inside it: the tables are keyed by URL,
site or domain text, not by the store's row ids. Reads no settings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from brokenlinks.outreach.authority import METRICS
from brokenlinks.outreach.items import (
    CaptureItem,
    ContactsItem,
    DomainStatusItem,
    ExportMetricsItem,
    MyPageItem,
)
from brokenlinks.parsing.sites import site_of_host
from brokenlinks.parsing.urls import host_of
from brokenlinks.storage import db, store, tables
from brokenlinks.storage.models import (
    ArchivedTarget,
    DomainStatus,
    ExportMetrics,
    Link,
    MyPage,
    Page,
    SiteContact,
    Target,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy import Engine

_T = TypeVar("_T")

_metrics = cast("Table", ExportMetrics.__table__)
_archived = cast("Table", ArchivedTarget.__table__)
_contacts = cast("Table", SiteContact.__table__)
_domains = cast("Table", DomainStatus.__table__)
_my_pages = cast("Table", MyPage.__table__)
_pages = cast("Table", Page.__table__)
_targets = cast("Table", Target.__table__)
_links = cast("Table", Link.__table__)


def _time(value: str | None) -> datetime | None:
    return None if value is None else store.parse_time(value)


def _rows(items: Iterable[Any]) -> dict[Table, dict[tuple[Any, ...], dict[str, Any]]]:
    """One row per table key, the last record of a key winning."""
    now = datetime.now(UTC)
    out: dict[Table, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for item in items:
        if isinstance(item, ExportMetricsItem):
            row = {
                "page_url": item.page_url,
                "export_format": item.export_format,
                "export_file": item.export_file,
                "export_target_url": item.export_target_url,
                **{name: item.metrics.get(name) for name in METRICS},
                "updated_at": now,
            }
            key: tuple[Any, ...] = (item.page_url, item.export_format, item.export_file)
            out.setdefault(_metrics, {})[key] = row
        elif isinstance(item, CaptureItem):
            row = {
                "target_url": item.target_url,
                "outcome": item.outcome,
                "archived_url": item.archived_url,
                "archived_at": _time(item.archived_at),
                "archived_title": item.archived_title,
                "archived_heading": item.archived_heading,
                "archived_description": item.archived_description,
                "archived_summary": item.archived_summary,
                "looked_up_at": store.parse_time(item.looked_up_at),
            }
            out.setdefault(_archived, {})[(item.target_url,)] = row
        elif isinstance(item, ContactsItem):
            row = {
                "site": item.site,
                "page_url": item.page_url,
                "contact_emails": " ".join(item.contact_emails),
                "contact_page": item.contact_page,
                "author": item.author,
                "social": " ".join(item.social),
                "checked_at": store.parse_time(item.checked_at),
            }
            out.setdefault(_contacts, {})[(item.site,)] = row
        elif isinstance(item, DomainStatusItem):
            row = {
                "domain": item.domain,
                "domain_status": item.domain_status,
                "rdap_server": item.rdap_server,
                "checked_at": store.parse_time(item.checked_at),
            }
            out.setdefault(_domains, {})[(item.domain,)] = row
        elif isinstance(item, MyPageItem):
            row = {
                "url": item.url,
                "site": item.site,
                "title": item.title,
                "headings": "\n".join(item.headings),
                "url_words": item.url_words,
                "summary": item.summary,
                "fetched_at": store.parse_time(item.fetched_at),
            }
            out.setdefault(_my_pages, {})[(item.url,)] = row
        else:
            msg = f"not an outreach record: {type(item).__name__}"
            raise TypeError(msg)
    return out


_KEYS: dict[str, tuple[str, ...]] = {
    "export_metrics": ("page_url", "export_format", "export_file"),
    "archived_targets": ("target_url",),
    "site_contacts": ("site",),
    "domain_statuses": ("domain",),
    "my_pages": ("url",),
}


def write_items(engine: Engine, items: Iterable[Any]) -> None:
    """Upsert outreach records in one transaction; a record written again changes nothing."""
    by_table = _rows(items)
    if not by_table:
        return
    with Session(db.writer(engine)) as session, session.begin():
        for table, rows in by_table.items():
            keys = _KEYS[table.name]
            ins = tables.insert(engine, table)
            names = [c.name for c in table.columns if c.name != "id" and c.name not in keys]
            stmt = ins.on_conflict_do_update(
                index_elements=[table.c[k] for k in keys],
                set_={name: getattr(ins.excluded, name) for name in names},
            )
            session.execute(stmt, list(rows.values()))


# --- what is left to look up ---------------------------------------------------------------


def read(database_url: str, reader: Callable[..., _T], **kwargs: Any) -> _T:
    """Call ``reader(engine, **kwargs)`` on the database at *database_url* (migrated first)."""
    engine = db.create_engine_from_url(database_url)
    try:
        db.migrate(engine)
        return reader(engine, **kwargs)
    finally:
        engine.dispose()


def _dead_linked() -> Any:
    return (
        select(_targets.c.url, _targets.c.reason, _targets.c.domain)
        .where(
            _targets.c.kind == "dead",
            _targets.c.id.in_(select(_links.c.target_id).where(_links.c.gone_at.is_(None))),
        )
        .order_by(_targets.c.url)
    )


def targets_to_archive(engine: Engine, *, again: bool = False) -> list[str]:
    """Return the dead targets (still linked) without an archive lookup (*again*: all)."""
    query = _dead_linked()
    if not again:
        query = query.where(_targets.c.url.not_in(select(_archived.c.target_url)))
    with Session(engine) as session:
        return [row.url for row in session.execute(query)]


def domains_to_look_up(engine: Engine, *, again: bool = False) -> list[str]:
    """Return the registered domains of targets dead by ``dns`` not yet looked up in RDAP."""
    query = _dead_linked().where(_targets.c.reason == "dns")
    with Session(engine) as session:
        urls = [row.url for row in session.execute(query)]
        # an unknown answer (rate limited, no server, a failure) is asked again next time
        known = select(_domains.c.domain).where(_domains.c.domain_status != "unknown")
        done = set() if again else set(session.execute(known).scalars())
    domains = dict.fromkeys(site_of_host(host_of(url)) for url in urls)
    return [d for d in domains if d and d not in done]


def sites_to_contact(engine: Engine, *, again: bool = False) -> dict[str, list[str]]:
    """Return the referring sites of dead links (still there) without contacts, with their pages."""
    query = (
        select(_pages.c.domain, _pages.c.url)
        .select_from(_links.join(_pages, _links.c.page_id == _pages.c.id))
        .join(_targets, _links.c.target_id == _targets.c.id)
        .where(_targets.c.kind == "dead", _links.c.gone_at.is_(None))
        .distinct()
        .order_by(_pages.c.domain, _pages.c.url)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
        done = set() if again else set(session.execute(select(_contacts.c.site)).scalars())
    sites: dict[str, list[str]] = {}
    for site, url in rows:
        if site not in done:
            sites.setdefault(site, []).append(url)
    return sites


# --- what was found ---------------------------------------------------------------------------


def export_metrics(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Return every export's metrics row, by referring page URL (export format order)."""
    query = select(_metrics).order_by(
        _metrics.c.page_url, _metrics.c.export_format, _metrics.c.export_file
    )
    out: dict[str, list[dict[str, Any]]] = {}
    with Session(engine) as session:
        for row in session.execute(query).mappings():
            out.setdefault(row["page_url"], []).append(dict(row))
    return out


def captures(engine: Engine) -> dict[str, dict[str, Any]]:
    """Return the archive lookup of each target, by target URL."""
    with Session(engine) as session:
        return {
            row["target_url"]: dict(row) for row in session.execute(select(_archived)).mappings()
        }


def contacts(engine: Engine) -> dict[str, dict[str, Any]]:
    """Return the contacts of each referring site, by site."""
    with Session(engine) as session:
        return {row["site"]: dict(row) for row in session.execute(select(_contacts)).mappings()}


def domain_statuses(engine: Engine) -> dict[str, dict[str, Any]]:
    """Return the RDAP status of each looked-up domain, by domain."""
    with Session(engine) as session:
        return {row["domain"]: dict(row) for row in session.execute(select(_domains)).mappings()}


def my_pages(engine: Engine) -> list[dict[str, Any]]:
    """Return the user's own pages, by URL order."""
    with Session(engine) as session:
        query = select(_my_pages).order_by(_my_pages.c.url)
        return [dict(row) for row in session.execute(query).mappings()]
