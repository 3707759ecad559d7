"""The store's writes: idempotent batch upserts of crawl records, crawl runs, outreach marks.

:func:`write_batch` writes the ``PageItem`` and ``CheckItem`` records a crawl yields in one
transaction per batch, with the dialect's upsert (``INSERT ... ON CONFLICT``, SQLite or
PostgreSQL) keyed by the target and page URLs, the link occurrence key and the check key.
Writing the same records again adds no rows and changes no values; a newer observation
replaces an older one, never the other way round, and a target's verdict is never replaced
by "not checked yet". Each statement is compiled once per dialect and run as the driver's
``executemany`` on rows converted by the columns' own bind processors (:func:`_executemany`),
not through SQLAlchemy's per-row parameter processing, which was most of a batch's CPU.
:func:`start_run` and :func:`finish_run` keep the crawl runs;
:func:`set_outreach` the user's marks. Reads no settings: callers pass an engine built by
:mod:`brokenlinks.storage.db`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, case, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from brokenlinks.items import CheckItem, PageItem, ProspectItem
from brokenlinks.outreach import campaigns
from brokenlinks.storage import db
from brokenlinks.storage.models import (
    CrawlRun,
    text_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import ColumnElement, Engine
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.sql.compiler import SQLCompiler
    from sqlalchemy.sql.elements import ClauseElement, KeyedColumnElement

    Insert = sqlite.Insert | postgresql.Insert


from brokenlinks.storage import tables as t

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def _earliest(column: KeyedColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((new < column, new), else_=column)


def _if_newer(
    newer: ColumnElement[bool], table: Table, excluded: Any, names: Iterable[str]
) -> dict[str, ColumnElement[Any]]:
    """SET values that take the incoming row's value only when its observation is newer."""
    return {name: case((newer, getattr(excluded, name)), else_=table.c[name]) for name in names}


# --- the driver's executemany -------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect, and how to turn a row into its parameters."""

    sql: str
    #: the bound parameters, in the order of a positional dialect's
    names: tuple[str, ...]
    positional: bool
    #: (index in *names*, the column type's bind processor) for the values to convert
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


#: per dialect: (statement name, row keys) → the compiled statement
_COMPILED: WeakKeyDictionary[Dialect, dict[tuple[str, tuple[str, ...]], _Compiled]] = (
    WeakKeyDictionary()
)


def _compile(
    dialect: Dialect, name: str, build: Callable[[], ClauseElement], keys: tuple[str, ...]
) -> _Compiled:
    cache = _COMPILED.setdefault(dialect, {})
    compiled = cache.get((name, keys))
    if compiled is not None:
        return compiled
    sql = cast(
        "SQLCompiler",
        build().compile(dialect=dialect, column_keys=list(keys), for_executemany=True),
    )
    names = tuple(sql.positiontup or ()) if dialect.positional else tuple(sql.bind_names.values())
    missing = set(names) - set(keys)
    if missing:  # a column default SQLAlchemy would have filled in: rows must carry it
        msg = f"rows of {name} lack {sorted(missing)}"
        raise ValueError(msg)
    processors = []
    for index, bound in enumerate(names):
        processor = sql.binds[bound].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((index, processor))
    compiled = cache[name, keys] = _Compiled(
        str(sql), names, dialect.positional, tuple(processors)
    )
    return compiled


def _memo(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """*processor* remembering its results: a batch repeats its few datetimes a lot."""
    seen: dict[Any, Any] = {}

    def process(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            converted = seen[value] = processor(value)
            return converted

    return process


def _by(*keys: str) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """Rows in the order of their unique key: every writer locks rows in the same order.

    Two writers upserting overlapping rows in different orders (two nodes of a cluster,
    each storing the verdicts its pages need, in PostgreSQL) each wait for a row the
    other holds: PostgreSQL ends one transaction with "deadlock detected", and it is
    written again. In the same order, the second writer waits for the first, and no more.
    """
    return lambda row: tuple(row[key] for key in keys)


def _executemany(
    session: Session,
    engine: Engine,
    name: str,
    build: Callable[[], ClauseElement],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Run the statement *build* returns (cached as *name*) once per row, as one executemany.

    Every row has the same keys, and a key for each bound parameter.
    """
    if not rows:
        return
    compiled = _compile(engine.dialect, name, build, tuple(rows[0]))
    get = itemgetter(*compiled.names)
    processors = [(index, _memo(processor)) for index, processor in compiled.processors]
    params: list[Any] = []
    for row in rows:
        values = get(row)
        if len(compiled.names) == 1:
            values = (values,)
        if processors:
            values = list(values)
            for index, process in processors:
                values[index] = process(values[index])
        params.append(
            tuple(values)
            if compiled.positional
            else dict(zip(compiled.names, values, strict=True))
        )
    session.connection().exec_driver_sql(compiled.sql, params)


def _ids(session: Session, table: Table, keys: Mapping[str, str]) -> dict[str, int]:
    """The ids of the rows of *table* whose ``url_key`` is a key of *keys*, by its value."""
    ids: dict[str, int] = {}
    chunk = list(keys)
    for start in range(0, len(chunk), t.IN_CHUNK):
        found = session.execute(
            select(table.c.url_key, table.c.id).where(
                table.c.url_key.in_(chunk[start : start + t.IN_CHUNK])
            )
        )
        ids.update((keys[key], row_id) for key, row_id in found.all())
    return ids


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
        checked_at = t.parse_time(item.checked_at, "checked_at")
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
        crawled_at = t.parse_time(item.crawled_at, "crawled_at")
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

    def seen() -> ClauseElement:
        # a target only referred to gets no verdict columns, so it never nulls a verdict
        ins = t.insert(engine, t.targets)
        return ins.on_conflict_do_update(
            index_elements=[t.targets.c.url_key],
            set_={
                "first_seen_at": _earliest(t.targets.c.first_seen_at, ins.excluded.first_seen_at),
                "last_run_id": ins.excluded.last_run_id,
            },
        )

    rows = sorted(
        ({**row, "last_run_id": run_id} for row in batch.targets.values()), key=_by("url_key")
    )
    _executemany(session, engine, "targets_seen", seen, rows)
    ids = _ids(session, t.targets, {row["url_key"]: url for url, row in batch.targets.items()})
    if not batch.verdicts:
        return ids

    def checked() -> ClauseElement:
        ins = t.insert(engine, t.targets)
        newer = or_(
            t.targets.c.checked_at.is_(None), ins.excluded.checked_at >= t.targets.c.checked_at
        )
        names = ("kind", "reason", "status", "final_url", "detail", "checked_at")
        return ins.on_conflict_do_update(
            index_elements=[t.targets.c.url_key],
            set_=_if_newer(newer, t.targets, ins.excluded, names),
        )

    rows = [
        {
            **verdict,
            "url_key": batch.targets[url]["url_key"],
            "domain": batch.targets[url]["domain"],
            "first_seen_at": batch.targets[url]["first_seen_at"],
            "last_run_id": run_id,
        }
        for url, verdict in batch.verdicts.items()
    ]
    _executemany(session, engine, "targets_checked", checked, sorted(rows, key=_by("url_key")))
    return ids


def _insert_checks(
    session: Session, engine: Engine, run_id: int, batch: _Batch, target_ids: Mapping[str, int]
) -> None:
    if not batch.checks:
        return

    def build() -> ClauseElement:
        return t.insert(engine, t.checks).on_conflict_do_nothing(
            index_elements=[t.checks.c.target_id, t.checks.c.checked_at]
        )

    rows = []
    for (url, _), verdict in batch.checks.items():
        row = {key: value for key, value in verdict.items() if key != "url"}
        rows.append({**row, "target_id": target_ids[url], "run_id": run_id})
    rows.sort(key=_by("target_id", "checked_at"))
    _executemany(session, engine, "checks", build, rows)


def _upsert_pages(session: Session, engine: Engine, run_id: int, batch: _Batch) -> dict[str, int]:
    """Upsert the batch's pages; return their ids by URL."""
    if not batch.pages:
        return {}

    def build() -> ClauseElement:
        ins = t.insert(engine, t.pages)
        newer = ins.excluded.last_crawled_at >= t.pages.c.last_crawled_at
        names = ("domain", "title", "status", "error", "links_on_page", "last_crawled_at")
        return ins.on_conflict_do_update(
            index_elements=[t.pages.c.url_key],
            set_={
                **_if_newer(newer, t.pages, ins.excluded, names),
                "first_seen_at": _earliest(t.pages.c.first_seen_at, ins.excluded.first_seen_at),
                "last_run_id": ins.excluded.last_run_id,
            },
        )

    rows = sorted(
        ({**row, "last_run_id": run_id} for row in batch.pages.values()), key=_by("url_key")
    )
    _executemany(session, engine, "pages", build, rows)
    return _ids(session, t.pages, {row["url_key"]: url for url, row in batch.pages.items()})


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

    def build() -> ClauseElement:
        ins = t.insert(engine, t.links)
        newer = ins.excluded.last_seen_at >= t.links.c.last_seen_at
        # gone_at: the incoming occurrence is there, so a newer sighting clears it
        names = ("rel", "follow", "context", "checked", "link_kind", "last_seen_at", "gone_at")
        return ins.on_conflict_do_update(
            index_elements=[
                t.links.c.page_id,
                t.links.c.target_id,
                t.links.c.anchor_key,
                t.links.c.position,
            ],
            set_={
                **_if_newer(newer, t.links, ins.excluded, names),
                "first_seen_at": _earliest(t.links.c.first_seen_at, ins.excluded.first_seen_at),
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
    rows.sort(key=_by("page_id", "target_id", "anchor_key", "position"))
    _executemany(session, engine, "links", build, rows)


def _gone() -> ClauseElement:
    return (
        update(t.links)
        .where(
            t.links.c.page_id == bindparam("page"),
            t.links.c.last_seen_at < bindparam("crawled"),
            t.links.c.gone_at.is_(None),
        )
        .values(gone_at=bindparam("crawled"))
    )


def _mark_gone(
    session: Session, engine: Engine, batch: _Batch, page_ids: Mapping[str, int]
) -> None:
    """Mark the links a complete crawl of their page no longer found (lost links)."""
    rows = [
        {"page": page_ids[url], "crawled": page["last_crawled_at"]}
        for url, page in batch.pages.items()
        # a network failure says nothing about the page's links
        if page["error"] is None or page["status"] in t.PAGE_GONE_STATUSES
    ]
    _executemany(session, engine, "links_gone", _gone, sorted(rows, key=_by("page")))


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
        _mark_gone(session, engine, batch, page_ids)
        _join_campaign(session, engine, run_id, page_ids)


def _join_campaign(
    session: Session, engine: Engine, run_id: int, page_ids: Mapping[str, int]
) -> None:
    """Add the batch's pages to the campaign of run *run_id* (once per page and campaign)."""
    if not page_ids:
        return
    name = session.execute(select(t.runs.c.campaign).where(t.runs.c.id == run_id)).scalar()
    if not name:
        return

    def build() -> ClauseElement:
        return t.insert(engine, t.campaign_pages).on_conflict_do_nothing(
            index_elements=[t.campaign_pages.c.campaign, t.campaign_pages.c.page_id]
        )

    rows = [{"campaign": name, "page_id": pid} for pid in sorted(page_ids.values())]
    _executemany(session, engine, "campaign_pages", build, rows)


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
        own = campaigns.own_sites(t.runs_of(session), t.my_sites(session))
        last = session.execute(
            select(t.runs.c.campaign)
            .where(t.runs.c.spider.in_(sorted(campaigns.LINK_CHECKING_SPIDERS)))
            .order_by(t.runs.c.id.desc())
            .limit(1)
        ).scalar()
        run = CrawlRun(
            spider=spider,
            campaign=campaigns.default_campaign(spider, arguments, own=own, last=last),
            arguments=t.to_json(dict(arguments)),
            started_at=t.now(),
        )
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    engine: Engine, run_id: int, finish_reason: str | None, stats: Mapping[str, Any]
) -> None:
    """Record the end of run *run_id*: now, the finish reason (None keeps it) and the stats."""
    values: dict[str, Any] = {"finished_at": t.now(), "stats": t.to_json(dict(stats))}
    if finish_reason is not None:
        values["finish_reason"] = finish_reason
    with Session(db.writer(engine)) as session, session.begin():
        session.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))


# --- outreach -----------------------------------------------------------------------------


def set_outreach(
    engine: Engine, source_url: str, target_url: str, status: str, note: str = ""
) -> None:
    """Set the outreach *status* of the prospect *source_url* × *target_url*.

    Raises :class:`t.UnknownProspectError` when the database has no link from that page to
    that target, and ``ValueError`` for a status not in :data:`t.OUTREACH_STATUSES`.
    """
    if status not in t.OUTREACH_STATUSES:
        msg = f"unknown outreach status {status!r}; use one of {', '.join(t.OUTREACH_STATUSES)}"
        raise ValueError(msg)
    with Session(db.writer(engine)) as session, session.begin():
        found = session.execute(
            select(t.links.c.page_id, t.links.c.target_id)
            .select_from(t.occurrences())
            .where(
                t.pages.c.url_key == text_key(source_url),
                t.targets.c.url_key == text_key(target_url),
            )
            .limit(1)
        ).first()
        if found is None:
            msg = f"no link from {source_url} to {target_url} in the database"
            raise t.UnknownProspectError(msg)
        ins = t.insert(engine, t.outreach)
        stmt = ins.on_conflict_do_update(
            index_elements=[t.outreach.c.page_id, t.outreach.c.target_id],
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
                "updated_at": t.now(),
            },
        )
