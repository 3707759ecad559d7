"""The store's tables and values: the handles its SQL is written against, shared helpers.

Table handles of the models (:mod:`brokenlinks.storage.models`), the join every reader of
link occurrences starts from, the columns those readers return, the dialect's ``INSERT``
(SQLite or PostgreSQL, for upserts) and the conversions of values between items, JSON and
the database. :mod:`brokenlinks.storage.writes` and :mod:`brokenlinks.storage.reads` hold
the SQL; :mod:`brokenlinks.storage.store` is their public face.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from brokenlinks.storage.models import (
    CampaignPage,
    Check,
    CrawlRun,
    Link,
    MyPage,
    Outreach,
    Page,
    Target,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine, Join, Label, Table
    from sqlalchemy.orm import Session

    Insert = sqlite.Insert | postgresql.Insert


pages = cast("Table", Page.__table__)
targets = cast("Table", Target.__table__)
links = cast("Table", Link.__table__)


def occurrences() -> Join:
    """Link occurrences joined with their page and their target (the readers' FROM)."""
    return links.join(pages, links.c.page_id == pages.c.id).join(
        targets, links.c.target_id == targets.c.id
    )


checks = cast("Table", Check.__table__)
runs = cast("Table", CrawlRun.__table__)
outreach = cast("Table", Outreach.__table__)
campaign_pages = cast("Table", CampaignPage.__table__)
my_pages = cast("Table", MyPage.__table__)

#: a referring page answering this is gone, and every link it had with it
PAGE_GONE_STATUSES = frozenset({404, 410})
#: outreach statuses of a prospect; ``new`` until the user marks it
OUTREACH_STATUSES = ("new", "contacted", "replied", "won", "lost", "ignored")
#: URLs per ``IN (...)`` lookup, below SQLite's oldest bound-parameter limit (999)
IN_CHUNK = 900


# --- values -------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str, field: str = "time") -> datetime:
    """Return the ISO 8601 *value* of an item field as an aware UTC datetime.

    A value without an offset is taken as UTC.

    >>> parse_time("2024-05-01T10:00:00Z")
    datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as e:
        msg = f"invalid {field}={value!r}: not an ISO 8601 datetime"
        raise ValueError(msg) from e
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def to_json(value: Any) -> str:
    """Return *value* (spider arguments, crawler stats) as JSON text; datetimes as ISO 8601.

    >>> to_json({"finish_time": datetime(2024, 5, 1, tzinfo=UTC), "n": 1})
    '{"finish_time": "2024-05-01T00:00:00+00:00", "n": 1}'
    """
    return json.dumps(value, default=_json_default, sort_keys=True)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- dialect upserts ----------------------------------------------------------------------


def insert(engine: Engine, table: Table) -> Insert:
    name = engine.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    msg = f"unsupported database dialect {name!r}: the store upserts on SQLite or PostgreSQL"
    raise ValueError(msg)


#: where each column a reader of link occurrences may return comes from: the page's as
#: ``source_*`` (and ``page_*``), the target's as ``target_*`` and by its verdict's names,
#: the link's by its own
_OCCURRENCE_COLUMNS: dict[str, tuple[str, str]] = {
    "page_id": ("pages", "id"),
    "source_url": ("pages", "url"),
    "source_title": ("pages", "title"),
    "source_domain": ("pages", "domain"),
    "page_status": ("pages", "status"),
    "links_on_page": ("pages", "links_on_page"),
    "target_id": ("targets", "id"),
    "target_url": ("targets", "url"),
    "target_domain": ("targets", "domain"),
    "status": ("targets", "status"),
    "reason": ("targets", "reason"),
    "final_url": ("targets", "final_url"),
    "checked_at": ("targets", "checked_at"),
    "anchor_text": ("links", "anchor_text"),
    "rel": ("links", "rel"),
    "follow": ("links", "follow"),
    "position": ("links", "position"),
    "context": ("links", "context"),
    "link_kind": ("links", "link_kind"),
    "first_seen_at": ("links", "first_seen_at"),
    "last_seen_at": ("links", "last_seen_at"),
    "gone_at": ("links", "gone_at"),
}


def occurrence_columns(*names: str) -> list[Label[Any]]:
    """The columns *names* of link occurrences (:func:`occurrences`), labelled by name.

    >>> [str(c) for c in occurrence_columns("source_url", "reason")]
    ['pages.url', 'targets.reason']
    """
    tables = {"pages": pages, "targets": targets, "links": links}
    out: list[Label[Any]] = []
    for name in names:
        table, column = _OCCURRENCE_COLUMNS[name]
        out.append(tables[table].c[column].label(name))
    return out


# --- shared readers -------------------------------------------------------------------


def runs_of(session: Session) -> list[dict[str, Any]]:
    """The crawl runs (id, spider, campaign, arguments), oldest first: campaigns' input."""
    query = select(runs.c.id, runs.c.spider, runs.c.campaign, runs.c.arguments).order_by(runs.c.id)
    return [
        {**row, "arguments": json.loads(row["arguments"] or "{}")}
        for row in session.execute(query).mappings()
    ]


def my_sites(session: Session) -> list[str]:
    """The sites of your pages (``scrapy crawl mysite``)."""
    return list(session.execute(select(my_pages.c.site).distinct()).scalars())


class UnknownProspectError(LookupError):
    """No stored link from that page to that target."""
