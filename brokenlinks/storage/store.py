"""The only SQL of the project: idempotent batch upserts of crawl records, and a few readers.

:func:`write_batch` writes the ``PageItem`` and ``CheckItem`` records a crawl yields in one
transaction per batch, with the dialect's upsert (``INSERT ... ON CONFLICT``, SQLite or
PostgreSQL) keyed by the target and page URLs, the link occurrence key and the check key.
Writing the same records again adds no rows and changes no values; a newer observation
replaces an older one, never the other way round, and a target's verdict is never replaced
by "not checked yet". :func:`start_run` and :func:`finish_run` keep the crawl runs. The
readers (:func:`count_rows`, :func:`dead_links`, :func:`get_run`, :func:`fresh_verdicts`)
serve tests, reports and the check cache. Reads no settings: callers pass an engine built
by :mod:`brokenlinks.storage.db`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from brokenlinks.items import CheckItem, PageItem, ProspectItem
from brokenlinks.outreach import campaigns
from brokenlinks.storage import db
from brokenlinks.storage.models import (
    CampaignPage,
    Check,
    CrawlRun,
    Link,
    MyPage,
    Outreach,
    Page,
    Target,
    text_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from sqlalchemy import ColumnElement, Engine, Join
    from sqlalchemy.sql.elements import KeyedColumnElement

    Insert = sqlite.Insert | postgresql.Insert

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_pages = cast("Table", Page.__table__)
_targets = cast("Table", Target.__table__)
_links = cast("Table", Link.__table__)


def _occurrences() -> Join:
    """Link occurrences joined with their page and their target (the readers' FROM)."""
    return _links.join(_pages, _links.c.page_id == _pages.c.id).join(
        _targets, _links.c.target_id == _targets.c.id
    )


_checks = cast("Table", Check.__table__)
_runs = cast("Table", CrawlRun.__table__)
_outreach = cast("Table", Outreach.__table__)
_campaign_pages = cast("Table", CampaignPage.__table__)
_my_pages = cast("Table", MyPage.__table__)

#: a referring page answering this is gone, and every link it had with it
PAGE_GONE_STATUSES = frozenset({404, 410})
#: outreach statuses of a prospect; ``new`` until the user marks it
OUTREACH_STATUSES = ("new", "contacted", "replied", "won", "lost", "ignored")
#: URLs per ``IN (...)`` lookup, below SQLite's oldest bound-parameter limit (999)
_IN_CHUNK = 900


# --- values -------------------------------------------------------------------------------


def _now() -> datetime:
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


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- dialect upserts ----------------------------------------------------------------------


def _insert(engine: Engine, table: Table) -> Insert:
    name = engine.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    msg = f"unsupported database dialect {name!r}: the store upserts on SQLite or PostgreSQL"
    raise ValueError(msg)


def _earliest(column: KeyedColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((new < column, new), else_=column)


def _if_newer(
    newer: ColumnElement[bool], table: Table, excluded: Any, names: Iterable[str]
) -> dict[str, ColumnElement[Any]]:
    """SET values that take the incoming row's value only when its observation is newer."""
    return {name: case((newer, getattr(excluded, name)), else_=table.c[name]) for name in names}


# --- batches ------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Batch:
    """A batch reduced to one row per key, in plain column values."""

    #: url → {domain, first_seen_at}: every target a link or a check refers to
    targets: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: url → the latest verdict of the batch
    verdicts: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: (url, checked_at) → one history row
    checks: dict[tuple[str, datetime], dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: url → the latest crawl of the page
    pages: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    #: (page url, target url, anchor text, position) → the latest occurrence
    links: dict[tuple[str, str, str, str], dict[str, Any]] = dataclasses.field(
        default_factory=dict
    )

    def see_target(self, url: str, domain: str, seen_at: datetime) -> None:
        row = self.targets.get(url)
        if row is None:
            self.targets[url] = {
                "url": url,
                "url_key": text_key(url),
                "domain": domain,
                "first_seen_at": seen_at,
            }
        elif seen_at < row["first_seen_at"]:
            row["first_seen_at"] = seen_at

    def add_check(self, item: CheckItem) -> None:
        checked_at = parse_time(item.checked_at, "checked_at")
        self.see_target(item.target_url, item.target_domain, checked_at)
        verdict = {
            "url": item.target_url,
            "kind": item.kind,
            "reason": item.reason,
            "status": item.status,
            "final_url": item.final_url,
            "detail": item.detail,
            "checked_at": checked_at,
        }
        self.checks[item.target_url, checked_at] = verdict
        latest = self.verdicts.get(item.target_url)
        if latest is None or checked_at >= latest["checked_at"]:
            self.verdicts[item.target_url] = verdict

    def add_page(self, item: PageItem) -> None:
        crawled_at = parse_time(item.crawled_at, "crawled_at")
        latest = self.pages.get(item.url)
        if latest is None or crawled_at >= latest["last_crawled_at"]:
            self.pages[item.url] = {
                "url": item.url,
                "url_key": text_key(item.url),
                "domain": item.domain,
                "title": item.title,
                "status": item.status,
                "error": item.error,
                "links_on_page": item.links_on_page,
                "first_seen_at": (
                    crawled_at if latest is None else min(crawled_at, latest["first_seen_at"])
                ),
                "last_crawled_at": crawled_at,
            }
        else:
            latest["first_seen_at"] = min(crawled_at, latest["first_seen_at"])
        for link in item.links:
            self.see_target(link.target_url, link.target_domain, crawled_at)
            key = (item.url, link.target_url, link.anchor_text, link.position)
            seen = self.links.get(key)
            if seen is not None and crawled_at < seen["last_seen_at"]:
                seen["first_seen_at"] = min(crawled_at, seen["first_seen_at"])
                continue
            self.links[key] = {
                "anchor_text": link.anchor_text,
                "anchor_key": text_key(link.anchor_text),
                "position": link.position,
                "rel": " ".join(link.rel),
                "follow": link.follow,
                "context": link.context,
                "checked": link.checked,
                "link_kind": link.link_kind,
                "first_seen_at": crawled_at if seen is None else seen["first_seen_at"],
                "last_seen_at": crawled_at,
            }


def _reduce(items: Sequence[Any]) -> _Batch:
    batch = _Batch()
    for item in items:
        if isinstance(item, CheckItem):
            batch.add_check(item)
        elif isinstance(item, PageItem):
            batch.add_page(item)
        elif isinstance(item, ProspectItem):
            continue  # derived from links + targets: nothing of its own to store
        else:
            msg = f"cannot store {type(item).__name__}: expected PageItem or CheckItem"
            raise TypeError(msg)
    return batch


def _upsert_targets(
    session: Session, engine: Engine, run_id: int, batch: _Batch
) -> dict[str, int]:
    """Upsert the batch's targets and their verdicts; return their ids by URL."""
    if not batch.targets:
        return {}
    ins = _insert(engine, _targets)
    # a target only referred to gets no verdict columns, so it never nulls a verdict
    seen = ins.on_conflict_do_update(
        index_elements=[_targets.c.url_key],
        set_={
            "first_seen_at": _earliest(_targets.c.first_seen_at, ins.excluded.first_seen_at),
            "last_run_id": ins.excluded.last_run_id,
        },
    ).returning(_targets.c.url, _targets.c.id)
    # RETURNING gives the id of every row, inserted or updated (SQLite >= 3.35, PostgreSQL)
    rows = [{**row, "last_run_id": run_id} for row in batch.targets.values()]
    ids: dict[str, int] = dict(session.execute(seen, rows).all())
    if not batch.verdicts:
        return ids
    ins = _insert(engine, _targets)
    newer = or_(_targets.c.checked_at.is_(None), ins.excluded.checked_at >= _targets.c.checked_at)
    names = ("kind", "reason", "status", "final_url", "detail", "checked_at")
    stmt = ins.on_conflict_do_update(
        index_elements=[_targets.c.url_key], set_=_if_newer(newer, _targets, ins.excluded, names)
    )
    session.execute(
        stmt,
        [
            {
                **verdict,
                "url_key": batch.targets[url]["url_key"],
                "domain": batch.targets[url]["domain"],
                "first_seen_at": batch.targets[url]["first_seen_at"],
                "last_run_id": run_id,
            }
            for url, verdict in batch.verdicts.items()
        ],
    )
    return ids


def _insert_checks(
    session: Session, engine: Engine, run_id: int, batch: _Batch, target_ids: Mapping[str, int]
) -> None:
    if not batch.checks:
        return
    stmt = _insert(engine, _checks).on_conflict_do_nothing(
        index_elements=[_checks.c.target_id, _checks.c.checked_at]
    )
    rows = []
    for (url, _), verdict in batch.checks.items():
        row = {key: value for key, value in verdict.items() if key != "url"}
        rows.append({**row, "target_id": target_ids[url], "run_id": run_id})
    session.execute(stmt, rows)


def _upsert_pages(session: Session, engine: Engine, run_id: int, batch: _Batch) -> dict[str, int]:
    """Upsert the batch's pages; return their ids by URL."""
    if not batch.pages:
        return {}
    ins = _insert(engine, _pages)
    newer = ins.excluded.last_crawled_at >= _pages.c.last_crawled_at
    names = ("domain", "title", "status", "error", "links_on_page", "last_crawled_at")
    stmt = ins.on_conflict_do_update(
        index_elements=[_pages.c.url_key],
        set_={
            **_if_newer(newer, _pages, ins.excluded, names),
            "first_seen_at": _earliest(_pages.c.first_seen_at, ins.excluded.first_seen_at),
            "last_run_id": ins.excluded.last_run_id,
        },
    ).returning(_pages.c.url, _pages.c.id)
    rows = [{**row, "last_run_id": run_id} for row in batch.pages.values()]
    return dict(session.execute(stmt, rows).all())


def _upsert_links(
    session: Session,
    engine: Engine,
    run_id: int,
    batch: _Batch,
    *,
    page_ids: Mapping[str, int],
    target_ids: Mapping[str, int],
) -> None:
    if not batch.links:
        return
    ins = _insert(engine, _links)
    newer = ins.excluded.last_seen_at >= _links.c.last_seen_at
    # gone_at: the incoming occurrence is there, so a newer sighting clears it
    names = ("rel", "follow", "context", "checked", "link_kind", "last_seen_at", "gone_at")
    stmt = ins.on_conflict_do_update(
        index_elements=[
            _links.c.page_id,
            _links.c.target_id,
            _links.c.anchor_key,
            _links.c.position,
        ],
        set_={
            **_if_newer(newer, _links, ins.excluded, names),
            "first_seen_at": _earliest(_links.c.first_seen_at, ins.excluded.first_seen_at),
            "last_run_id": ins.excluded.last_run_id,
        },
    )
    rows = [
        {
            **row,
            "page_id": page_ids[page_url],
            "target_id": target_ids[target_url],
            "last_run_id": run_id,
        }
        for (page_url, target_url, _, _), row in batch.links.items()
    ]
    session.execute(stmt, rows)


def _mark_gone(session: Session, batch: _Batch, page_ids: Mapping[str, int]) -> None:
    """Mark the links a complete crawl of their page no longer found (lost links)."""
    for url, page in batch.pages.items():
        whole = page["error"] is None or page["status"] in PAGE_GONE_STATUSES
        if not whole:
            continue  # a network failure says nothing about the page's links
        crawled_at = page["last_crawled_at"]
        session.execute(
            update(_links)
            .where(
                _links.c.page_id == page_ids[url],
                _links.c.last_seen_at < crawled_at,
                _links.c.gone_at.is_(None),
            )
            .values(gone_at=crawled_at)
        )


def write_batch(engine: Engine, run_id: int, items: Sequence[Any]) -> None:
    """Store *items* (``PageItem``, ``CheckItem``; ``ProspectItem`` is skipped) in one transaction.

    The order of the items does not matter: a check may come before or after the page that
    links to its target, in the same batch or another one. Either everything is written or,
    on an error, nothing is, and the error propagates.
    """
    batch = _reduce(items)
    if not batch.targets and not batch.pages:
        return
    with Session(db.writer(engine)) as session, session.begin():
        target_ids = _upsert_targets(session, engine, run_id, batch)
        _insert_checks(session, engine, run_id, batch, target_ids)
        page_ids = _upsert_pages(session, engine, run_id, batch)
        _upsert_links(session, engine, run_id, batch, page_ids=page_ids, target_ids=target_ids)
        _mark_gone(session, batch, page_ids)
        _join_campaign(session, engine, run_id, page_ids)


def _join_campaign(
    session: Session, engine: Engine, run_id: int, page_ids: Mapping[str, int]
) -> None:
    """Add the batch's pages to the campaign of run *run_id* (once per page and campaign)."""
    if not page_ids:
        return
    name = session.execute(select(_runs.c.campaign).where(_runs.c.id == run_id)).scalar()
    if not name:
        return
    stmt = _insert(engine, _campaign_pages).on_conflict_do_nothing(
        index_elements=[_campaign_pages.c.campaign, _campaign_pages.c.page_id]
    )
    session.execute(stmt, [{"campaign": name, "page_id": pid} for pid in page_ids.values()])


#: messages of the errors a transaction can meet because another writer holds the database
_CONTENTION = (
    "database is locked",
    "database table is locked",
    "deadlock detected",
    "could not serialize access",
)


def is_contention(error: BaseException) -> bool:
    """Tell whether *error* means "another writer was in the way": worth trying again.

    >>> is_contention(OperationalError("INSERT", {}, Exception("database is locked")))
    True
    >>> is_contention(OperationalError("INSERT", {}, Exception("no such table: pages")))
    False
    """
    return isinstance(error, OperationalError) and any(
        text in str(error.orig).lower() for text in _CONTENTION
    )


def retry_on_contention(
    function: Callable[..., _T], *args: Any, attempts: int = 5, pause: float = 0.5
) -> _T:
    """Call *function*; while another writer is in the way, wait and try again (blocking).

    SQLite's busy timeout already makes a writer wait for the lock; this covers what it
    does not (a lock held longer than the timeout, PostgreSQL deadlocks between two
    upserts). Each transaction is all-or-nothing, so trying one again is safe.
    """
    for attempt in range(1, attempts + 1):
        try:
            return function(*args)
        except OperationalError as e:
            if attempt == attempts or not is_contention(e):
                raise
            logger.warning(
                "Database busy (%(error)s); trying again (%(attempt)d/%(attempts)d)",
                {"error": e.orig, "attempt": attempt, "attempts": attempts},
            )
            time.sleep(pause * 2 ** (attempt - 1))
    msg = "attempts must be at least 1"
    raise ValueError(msg)


# --- runs ---------------------------------------------------------------------------------


def start_run(engine: Engine, spider: str, arguments: Mapping[str, Any]) -> int:
    """Record the start of a crawl of *spider* with its *arguments*; return the run id.

    The run's campaign is ``arguments["campaign"]`` or the default for the spider and its
    arguments (:func:`brokenlinks.outreach.campaigns.default_campaign`).
    """
    with Session(db.writer(engine)) as session, session.begin():
        own = campaigns.own_sites(_runs_of(session), _my_sites(session))
        last = session.execute(
            select(_runs.c.campaign)
            .where(_runs.c.spider.in_(sorted(campaigns.LINK_CHECKING_SPIDERS)))
            .order_by(_runs.c.id.desc())
            .limit(1)
        ).scalar()
        run = CrawlRun(
            spider=spider,
            campaign=campaigns.default_campaign(spider, arguments, own=own, last=last),
            arguments=to_json(dict(arguments)),
            started_at=_now(),
        )
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    engine: Engine, run_id: int, finish_reason: str | None, stats: Mapping[str, Any]
) -> None:
    """Record the end of run *run_id*: now, the finish reason (None keeps it) and the stats."""
    values: dict[str, Any] = {"finished_at": _now(), "stats": to_json(dict(stats))}
    if finish_reason is not None:
        values["finish_reason"] = finish_reason
    with Session(db.writer(engine)) as session, session.begin():
        session.execute(update(_runs).where(_runs.c.id == run_id).values(**values))


# --- readers ------------------------------------------------------------------------------


def _runs_of(session: Session) -> list[dict[str, Any]]:
    query = select(_runs.c.id, _runs.c.spider, _runs.c.campaign, _runs.c.arguments).order_by(
        _runs.c.id
    )
    return [
        {**row, "arguments": json.loads(row["arguments"] or "{}")}
        for row in session.execute(query).mappings()
    ]


def _my_sites(session: Session) -> list[str]:
    return list(session.execute(select(_my_pages.c.site).distinct()).scalars())


def campaign_runs(engine: Engine) -> list[dict[str, Any]]:
    """Return every run's id, spider, campaign and arguments (decoded), oldest first."""
    with Session(engine) as session:
        return _runs_of(session)


def campaign_memberships(engine: Engine) -> dict[int, set[str]]:
    """Return the campaigns that read each page, by page id."""
    out: dict[int, set[str]] = {}
    with Session(engine) as session:
        for name, page_id in session.execute(
            select(_campaign_pages.c.campaign, _campaign_pages.c.page_id)
        ):
            out.setdefault(page_id, set()).add(name)
    return out


def campaign_occurrences(engine: Engine, campaign: str) -> list[dict[str, Any]]:
    """The dead link occurrences (still linked) of *campaign* (``all``: every one), labelled.

    See :func:`brokenlinks.outreach.campaigns.in_campaign`.
    """
    scopes = campaigns.campaign_scopes(campaign_runs(engine))
    return campaigns.in_campaign(
        dead_occurrences(engine), campaign_memberships(engine), scopes, campaign
    )


def own_sites(engine: Engine) -> frozenset[str]:
    """Return your sites: those of your pages and the domains of reclaim campaigns."""
    with Session(engine) as session:
        return campaigns.own_sites(_runs_of(session), _my_sites(session))


def last_campaign(engine: Engine) -> str | None:
    """Return the campaign of the latest crawl run (None: no run yet)."""
    with Session(engine) as session:
        return session.execute(
            select(_runs.c.campaign).order_by(_runs.c.id.desc()).limit(1)
        ).scalar()


def count_rows(engine: Engine) -> dict[str, int]:
    """Return the number of rows of every table, by table name."""
    tables = (_runs, _pages, _targets, _links, _checks)
    with Session(engine) as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }


def last_run_id(engine: Engine) -> int:
    """Return the id of the latest crawl run, 0 when there is none."""
    with Session(engine) as session:
        return session.execute(select(func.max(_runs.c.id))).scalar_one() or 0


def get_run(engine: Engine, run_id: int) -> dict[str, Any] | None:
    """Return crawl run *run_id* (arguments and stats decoded, datetimes ISO), or None."""
    with Session(engine) as session:
        run = session.get(CrawlRun, run_id)
        if run is None:
            return None
        return {
            "id": run.id,
            "spider": run.spider,
            "campaign": run.campaign,
            "arguments": json.loads(run.arguments),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "finish_reason": run.finish_reason,
            "stats": None if run.stats is None else json.loads(run.stats),
        }


def dead_links(engine: Engine, run_id: int | None = None) -> list[dict[str, Any]]:
    """Return every occurrence of a link to a dead target, with the exported item's fields.

    With *run_id*, only the occurrences seen by that run. Ordered by page, then target.
    """
    query = (
        select(
            _pages.c.url.label("source_url"),
            _pages.c.title.label("source_title"),
            _pages.c.domain.label("source_domain"),
            _targets.c.url.label("target_url"),
            _targets.c.domain.label("target_domain"),
            _targets.c.status,
            _targets.c.reason,
            _targets.c.final_url,
            _links.c.anchor_text,
            _links.c.rel,
            _links.c.follow,
            _links.c.position,
            _links.c.context,
            _pages.c.links_on_page,
            _targets.c.checked_at,
            _links.c.link_kind,
        )
        .select_from(_occurrences())
        .where(_targets.c.kind == "dead")
        .order_by(_pages.c.url, _targets.c.url, _links.c.position, _links.c.anchor_text)
    )
    if run_id is not None:
        query = query.where(_links.c.last_run_id == run_id)
    with Session(engine) as session:
        rows = session.execute(query).mappings().all()
    return [
        {**row, "rel": row["rel"].split(), "checked_at": _iso(row["checked_at"])} for row in rows
    ]


def fresh_verdicts(
    engine: Engine, urls: Iterable[str], since: datetime
) -> dict[str, dict[str, Any]]:
    """Return the latest verdict of each of *urls* checked at or after *since*, by URL.

    The check cache reuses these instead of checking the target again.
    """
    wanted = list(dict.fromkeys(urls))
    found: dict[str, dict[str, Any]] = {}
    columns = (
        _targets.c.url,
        _targets.c.domain,
        _targets.c.kind,
        _targets.c.reason,
        _targets.c.status,
        _targets.c.final_url,
        _targets.c.detail,
        _targets.c.checked_at,
    )
    with Session(engine) as session:
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = select(*columns).where(
                and_(
                    _targets.c.url_key.in_([text_key(url) for url in chunk]),
                    _targets.c.checked_at >= since,
                )
            )
            for row in session.execute(query).mappings():
                found[row["url"]] = {**row, "checked_at": _iso(row["checked_at"])}
    return found


# --- the user's memory: reports, prospects, outreach, re-checks -----------------------------


def dead_occurrences(engine: Engine) -> list[dict[str, Any]]:
    """Return every link occurrence still on its page whose target is dead now.

    Each row has the page's and the target's ids, URLs, sites and the link's details;
    ordered by target, then page.
    """
    query = (
        select(
            _targets.c.id.label("target_id"),
            _targets.c.url.label("target_url"),
            _targets.c.domain.label("target_domain"),
            _targets.c.reason,
            _targets.c.status,
            _targets.c.final_url,
            _targets.c.checked_at,
            _pages.c.id.label("page_id"),
            _pages.c.url.label("source_url"),
            _pages.c.title.label("source_title"),
            _pages.c.domain.label("source_domain"),
            _pages.c.links_on_page,
            _links.c.anchor_text,
            _links.c.rel,
            _links.c.follow,
            _links.c.position,
            _links.c.context,
            _links.c.first_seen_at,
        )
        .select_from(_occurrences())
        .where(_targets.c.kind == "dead", _links.c.gone_at.is_(None))
        .order_by(_targets.c.url, _pages.c.url, _links.c.id)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def check_history(
    engine: Engine, target_ids: Iterable[int]
) -> dict[int, list[tuple[datetime, str]]]:
    """Return the verdict history (checked_at, kind) of each target, oldest first."""
    wanted = sorted(set(target_ids))
    history: dict[int, list[tuple[datetime, str]]] = {}
    with Session(engine) as session:
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = (
                select(_checks.c.target_id, _checks.c.checked_at, _checks.c.kind)
                .where(_checks.c.target_id.in_(chunk))
                .order_by(_checks.c.target_id, _checks.c.checked_at)
            )
            for target_id, checked_at, kind in session.execute(query):
                history.setdefault(target_id, []).append((checked_at, kind))
    return history


def outreach_statuses(engine: Engine) -> dict[tuple[int, int], dict[str, Any]]:
    """Return the outreach status, note and time of every marked prospect, by (page, target)."""
    query = select(
        _outreach.c.page_id,
        _outreach.c.target_id,
        _outreach.c.status,
        _outreach.c.note,
        _outreach.c.updated_at,
    )
    with Session(engine) as session:
        return {
            (row["page_id"], row["target_id"]): dict(row)
            for row in session.execute(query).mappings()
        }


class UnknownProspectError(LookupError):
    """No stored link from that page to that target."""


def set_outreach(
    engine: Engine, source_url: str, target_url: str, status: str, note: str = ""
) -> None:
    """Set the outreach *status* of the prospect *source_url* × *target_url*.

    Raises :class:`UnknownProspectError` when the database has no link from that page to
    that target, and ``ValueError`` for a status not in :data:`OUTREACH_STATUSES`.
    """
    if status not in OUTREACH_STATUSES:
        msg = f"unknown outreach status {status!r}; use one of {', '.join(OUTREACH_STATUSES)}"
        raise ValueError(msg)
    with Session(db.writer(engine)) as session, session.begin():
        found = session.execute(
            select(_links.c.page_id, _links.c.target_id)
            .select_from(_occurrences())
            .where(
                _pages.c.url_key == text_key(source_url),
                _targets.c.url_key == text_key(target_url),
            )
            .limit(1)
        ).first()
        if found is None:
            msg = f"no link from {source_url} to {target_url} in the database"
            raise UnknownProspectError(msg)
        ins = _insert(engine, _outreach)
        stmt = ins.on_conflict_do_update(
            index_elements=[_outreach.c.page_id, _outreach.c.target_id],
            set_={
                "status": ins.excluded.status,
                "note": ins.excluded.note,
                "updated_at": ins.excluded.updated_at,
            },
        )
        session.execute(
            stmt,
            {
                "page_id": found.page_id,
                "target_id": found.target_id,
                "status": status,
                "note": note,
                "updated_at": _now(),
            },
        )


def prospect_urls(engine: Engine, prospect_id: str) -> tuple[str, str]:
    """Return the (page URL, target URL) of prospect *prospect_id* (``PAGE-TARGET`` ids).

    Raises :class:`UnknownProspectError` for an id of no stored link.
    """
    page_id, _, target_id = prospect_id.strip().partition("-")
    if not (page_id.isdigit() and target_id.isdigit()):
        msg = f"{prospect_id!r} is not a prospect id (PAGE-TARGET, as scrapy prospects lists them)"
        raise UnknownProspectError(msg)
    with Session(engine) as session:
        found = session.execute(
            select(_pages.c.url, _targets.c.url)
            .select_from(_occurrences())
            .where(_links.c.page_id == int(page_id), _links.c.target_id == int(target_id))
            .limit(1)
        ).first()
    if found is None:
        msg = f"no prospect {prospect_id} in the database"
        raise UnknownProspectError(msg)
    return found[0], found[1]


def revived_targets(engine: Engine) -> list[dict[str, Any]]:
    """Return the targets alive now that some earlier check found dead, with their ids."""
    was_dead = select(_checks.c.target_id).where(_checks.c.kind == "dead")
    query = (
        select(
            _targets.c.id.label("target_id"),
            _targets.c.url.label("target_url"),
            _targets.c.domain.label("target_domain"),
            _targets.c.status,
            _targets.c.final_url,
            _targets.c.checked_at,
        )
        .where(_targets.c.kind == "alive", _targets.c.id.in_(was_dead))
        .order_by(_targets.c.url)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def lost_links(engine: Engine) -> list[dict[str, Any]]:
    """Return every link a later crawl of its page no longer found, newest loss first."""
    query = (
        select(
            _pages.c.url.label("source_url"),
            _pages.c.domain.label("source_domain"),
            _pages.c.status.label("page_status"),
            _targets.c.url.label("target_url"),
            _targets.c.domain.label("target_domain"),
            _links.c.anchor_text,
            _links.c.follow,
            _links.c.position,
            _links.c.first_seen_at,
            _links.c.last_seen_at,
            _links.c.gone_at,
        )
        .select_from(_occurrences())
        .where(_links.c.gone_at.is_not(None))
        .order_by(_links.c.gone_at.desc(), _pages.c.url, _targets.c.url)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def crawl_runs(engine: Engine) -> list[dict[str, Any]]:
    """Return every crawl run, oldest first, with its arguments and final stats decoded."""
    query = select(_runs).order_by(_runs.c.started_at, _runs.c.id)
    with Session(engine) as session:
        rows = session.execute(query).mappings().all()
    return [
        {
            **row,
            "arguments": json.loads(row["arguments"] or "{}"),
            "stats": json.loads(row["stats"]) if row["stats"] else {},
        }
        for row in rows
    ]


def check_events(engine: Engine) -> list[dict[str, Any]]:
    """Return every check (run, target URL, verdict kind), by target, oldest check first."""
    query = (
        select(
            _checks.c.run_id,
            _checks.c.target_id,
            _targets.c.url.label("target_url"),
            _checks.c.kind,
            _checks.c.checked_at,
        )
        .select_from(_checks.join(_targets, _checks.c.target_id == _targets.c.id))
        .order_by(_checks.c.target_id, _checks.c.checked_at)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def store_totals(engine: Engine) -> dict[str, int]:
    """Return how many referring pages were read and how many targets have a verdict."""
    with Session(engine) as session:
        pages = session.execute(
            select(func.count()).select_from(_pages).where(_pages.c.error.is_(None))
        ).scalar_one()
        checked = session.execute(
            select(func.count()).select_from(_targets).where(_targets.c.kind.is_not(None))
        ).scalar_one()
    return {"pages_read": pages, "targets_checked": checked}


def recheck_plan(engine: Engine) -> tuple[dict[str, list[str]], list[str]]:
    """Return what a re-check visits: referring pages with their stored targets, dead targets.

    The pages are those with a link (still there) to a dead target, each with every target
    it linked to at its last crawl; the targets are every target whose latest verdict is dead.
    """
    dead = select(_targets.c.id).where(_targets.c.kind == "dead")
    pages_with_dead = (
        select(_links.c.page_id)
        .where(_links.c.target_id.in_(dead), _links.c.gone_at.is_(None))
        .distinct()
    )
    query = (
        select(_pages.c.url, _targets.c.url)
        .select_from(_occurrences())
        .where(_links.c.page_id.in_(pages_with_dead), _links.c.gone_at.is_(None))
        .order_by(_pages.c.url, _targets.c.url)
    )
    pages: dict[str, list[str]] = {}
    with Session(engine) as session:
        for page_url, target_url in session.execute(query):
            targets = pages.setdefault(page_url, [])
            if not targets or targets[-1] != target_url:
                targets.append(target_url)
        dead_urls = list(
            session.execute(
                select(_targets.c.url).where(_targets.c.kind == "dead").order_by(_targets.c.url)
            ).scalars()
        )
    return pages, dead_urls


def pages_linking_to(engine: Engine, domains: Iterable[str]) -> dict[str, list[str]]:
    """Return the pages with a link (still there) to a target on *domains* (sites), with those targets."""
    sites = sorted(set(domains))
    query = (
        select(_pages.c.url, _targets.c.url)
        .select_from(_occurrences())
        .where(_targets.c.domain.in_(sites), _links.c.gone_at.is_(None))
        .order_by(_pages.c.url, _targets.c.url)
        .distinct()
    )
    pages: dict[str, list[str]] = {}
    with Session(engine) as session:
        for page_url, target_url in session.execute(query):
            pages.setdefault(page_url, []).append(target_url)
    return pages
