"""The store's reads: what a crawl, the reports, the outreach commands and the tests ask.

The check cache's fresh verdicts, the crawl runs, the dead link occurrences with their pages
and targets, the campaigns' pages, the user's outreach marks, revived targets and lost links,
the recheck plan. Reads no settings: callers pass an engine built by
:mod:`brokenlinks.storage.db`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from brokenlinks.outreach import campaigns
from brokenlinks.storage.models import (
    CrawlRun,
    text_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from sqlalchemy import Engine
    from sqlalchemy.dialects import postgresql, sqlite

    Insert = sqlite.Insert | postgresql.Insert


from brokenlinks.items import PROSPECT_FIELDS
from brokenlinks.storage import tables as t

# --- readers ------------------------------------------------------------------------------


def campaign_runs(engine: Engine) -> list[dict[str, Any]]:
    """Return every run's id, spider, campaign and arguments (decoded), oldest first."""
    with Session(engine) as session:
        return t.runs_of(session)


def campaign_memberships(engine: Engine) -> dict[int, set[str]]:
    """Return the campaigns that read each page, by page id."""
    out: dict[int, set[str]] = {}
    with Session(engine) as session:
        for name, page_id in session.execute(
            select(t.campaign_pages.c.campaign, t.campaign_pages.c.page_id)
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
        return campaigns.own_sites(t.runs_of(session), t.my_sites(session))


def last_campaign(engine: Engine) -> str | None:
    """Return the campaign of the latest crawl run (None: no run yet)."""
    with Session(engine) as session:
        return session.execute(
            select(t.runs.c.campaign).order_by(t.runs.c.id.desc()).limit(1)
        ).scalar()


def count_rows(engine: Engine) -> dict[str, int]:
    """Return the number of rows of every table, by table name."""
    tables = (t.runs, t.pages, t.targets, t.links, t.checks)
    with Session(engine) as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }


def last_run_id(engine: Engine) -> int:
    """Return the id of the latest crawl run, 0 when there is none."""
    with Session(engine) as session:
        return session.execute(select(func.max(t.runs.c.id))).scalar_one() or 0


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
            "started_at": t.iso(run.started_at),
            "finished_at": t.iso(run.finished_at),
            "finish_reason": run.finish_reason,
            "stats": None if run.stats is None else json.loads(run.stats),
        }


def dead_links(engine: Engine, run_id: int | None = None) -> list[dict[str, Any]]:
    """Return every occurrence of a link to a dead target, with the exported item's fields.

    With *run_id*, only the occurrences seen by that run. Ordered by page, then target.
    """
    query = (
        # the exported item's fields, in the contract's order
        select(*t.occurrence_columns(*PROSPECT_FIELDS))
        .select_from(t.occurrences())
        .where(t.targets.c.kind == "dead")
        .order_by(t.pages.c.url, t.targets.c.url, t.links.c.position, t.links.c.anchor_text)
    )
    if run_id is not None:
        query = query.where(t.links.c.last_run_id == run_id)
    with Session(engine) as session:
        rows = session.execute(query).mappings().all()
    return [
        {**row, "rel": row["rel"].split(), "checked_at": t.iso(row["checked_at"])} for row in rows
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
        t.targets.c.url,
        t.targets.c.domain,
        t.targets.c.kind,
        t.targets.c.reason,
        t.targets.c.status,
        t.targets.c.final_url,
        t.targets.c.detail,
        t.targets.c.checked_at,
    )
    with Session(engine) as session:
        for start in range(0, len(wanted), t.IN_CHUNK):
            chunk = wanted[start : start + t.IN_CHUNK]
            query = select(*columns).where(
                and_(
                    t.targets.c.url_key.in_([text_key(url) for url in chunk]),
                    t.targets.c.checked_at >= since,
                )
            )
            for row in session.execute(query).mappings():
                found[row["url"]] = {**row, "checked_at": t.iso(row["checked_at"])}
    return found


# --- the user's memory: reports, prospects, outreach, re-checks -----------------------------


def dead_occurrences(engine: Engine) -> list[dict[str, Any]]:
    """Return every link occurrence still on its page whose target is dead now.

    Each row has the page's and the target's ids, URLs, sites and the link's details;
    ordered by target, then page.
    """
    query = (
        select(
            *t.occurrence_columns(
                "target_id",
                "target_url",
                "target_domain",
                "reason",
                "status",
                "final_url",
                "checked_at",
                "page_id",
                "source_url",
                "source_title",
                "source_domain",
                "links_on_page",
                "anchor_text",
                "rel",
                "follow",
                "position",
                "context",
                "first_seen_at",
            )
        )
        .select_from(t.occurrences())
        .where(t.targets.c.kind == "dead", t.links.c.gone_at.is_(None))
        .order_by(t.targets.c.url, t.pages.c.url, t.links.c.id)
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
        for start in range(0, len(wanted), t.IN_CHUNK):
            chunk = wanted[start : start + t.IN_CHUNK]
            query = (
                select(t.checks.c.target_id, t.checks.c.checked_at, t.checks.c.kind)
                .where(t.checks.c.target_id.in_(chunk))
                .order_by(t.checks.c.target_id, t.checks.c.checked_at)
            )
            for target_id, checked_at, kind in session.execute(query):
                history.setdefault(target_id, []).append((checked_at, kind))
    return history


def outreach_statuses(engine: Engine) -> dict[tuple[int, int], dict[str, Any]]:
    """Return the outreach status, note and time of every marked prospect, by (page, target)."""
    query = select(
        t.outreach.c.page_id,
        t.outreach.c.target_id,
        t.outreach.c.status,
        t.outreach.c.note,
        t.outreach.c.updated_at,
    )
    with Session(engine) as session:
        return {
            (row["page_id"], row["target_id"]): dict(row)
            for row in session.execute(query).mappings()
        }


def prospect_urls(engine: Engine, prospect_id: str) -> tuple[str, str]:
    """Return the (page URL, target URL) of prospect *prospect_id* (``PAGE-TARGET`` ids).

    Raises :class:`t.UnknownProspectError` for an id of no stored link.
    """
    page_id, _, target_id = prospect_id.strip().partition("-")
    if not (page_id.isdigit() and target_id.isdigit()):
        msg = f"{prospect_id!r} is not a prospect id (PAGE-TARGET, as scrapy prospects lists them)"
        raise t.UnknownProspectError(msg)
    with Session(engine) as session:
        found = session.execute(
            select(t.pages.c.url, t.targets.c.url)
            .select_from(t.occurrences())
            .where(t.links.c.page_id == int(page_id), t.links.c.target_id == int(target_id))
            .limit(1)
        ).first()
    if found is None:
        msg = f"no prospect {prospect_id} in the database"
        raise t.UnknownProspectError(msg)
    return found[0], found[1]


def revived_targets(engine: Engine) -> list[dict[str, Any]]:
    """Return the targets alive now that some earlier check found dead, with their ids."""
    was_dead = select(t.checks.c.target_id).where(t.checks.c.kind == "dead")
    query = (
        select(
            t.targets.c.id.label("target_id"),
            t.targets.c.url.label("target_url"),
            t.targets.c.domain.label("target_domain"),
            t.targets.c.status,
            t.targets.c.final_url,
            t.targets.c.checked_at,
        )
        .where(t.targets.c.kind == "alive", t.targets.c.id.in_(was_dead))
        .order_by(t.targets.c.url)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def lost_links(engine: Engine) -> list[dict[str, Any]]:
    """Return every link a later crawl of its page no longer found, newest loss first."""
    query = (
        select(
            *t.occurrence_columns(
                "source_url",
                "source_domain",
                "page_status",
                "target_url",
                "target_domain",
                "anchor_text",
                "follow",
                "position",
                "first_seen_at",
                "last_seen_at",
                "gone_at",
            )
        )
        .select_from(t.occurrences())
        .where(t.links.c.gone_at.is_not(None))
        .order_by(t.links.c.gone_at.desc(), t.pages.c.url, t.targets.c.url)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def crawl_runs(engine: Engine) -> list[dict[str, Any]]:
    """Return every crawl run, oldest first, with its arguments and final stats decoded."""
    query = select(t.runs).order_by(t.runs.c.started_at, t.runs.c.id)
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
            t.checks.c.run_id,
            t.checks.c.target_id,
            t.targets.c.url.label("target_url"),
            t.checks.c.kind,
            t.checks.c.checked_at,
        )
        .select_from(t.checks.join(t.targets, t.checks.c.target_id == t.targets.c.id))
        .order_by(t.checks.c.target_id, t.checks.c.checked_at)
    )
    with Session(engine) as session:
        return [dict(row) for row in session.execute(query).mappings()]


def store_totals(engine: Engine) -> dict[str, int]:
    """Return how many referring pages were read and how many targets have a verdict."""
    with Session(engine) as session:
        pages = session.execute(
            select(func.count()).select_from(t.pages).where(t.pages.c.error.is_(None))
        ).scalar_one()
        checked = session.execute(
            select(func.count()).select_from(t.targets).where(t.targets.c.kind.is_not(None))
        ).scalar_one()
    return {"pages_read": pages, "targets_checked": checked}


def recheck_plan(engine: Engine) -> tuple[dict[str, list[str]], list[str]]:
    """Return what a re-check visits: referring pages with their stored targets, dead targets.

    The pages are those with a link (still there) to a dead target, each with every target
    it linked to at its last crawl; the targets are every target whose latest verdict is dead.
    """
    dead = select(t.targets.c.id).where(t.targets.c.kind == "dead")
    pages_with_dead = (
        select(t.links.c.page_id)
        .where(t.links.c.target_id.in_(dead), t.links.c.gone_at.is_(None))
        .distinct()
    )
    query = (
        select(t.pages.c.url, t.targets.c.url)
        .select_from(t.occurrences())
        .where(t.links.c.page_id.in_(pages_with_dead), t.links.c.gone_at.is_(None))
        .order_by(t.pages.c.url, t.targets.c.url)
    )
    pages: dict[str, list[str]] = {}
    with Session(engine) as session:
        for page_url, target_url in session.execute(query):
            targets = pages.setdefault(page_url, [])
            if not targets or targets[-1] != target_url:
                targets.append(target_url)
        dead_urls = list(
            session.execute(
                select(t.targets.c.url).where(t.targets.c.kind == "dead").order_by(t.targets.c.url)
            ).scalars()
        )
    return pages, dead_urls


def pages_linking_to(engine: Engine, domains: Iterable[str]) -> dict[str, list[str]]:
    """Return the pages with a link (still there) to a target on *domains* (sites), with those targets."""
    sites = sorted(set(domains))
    query = (
        select(t.pages.c.url, t.targets.c.url)
        .select_from(t.occurrences())
        .where(t.targets.c.domain.in_(sites), t.links.c.gone_at.is_(None))
        .order_by(t.pages.c.url, t.targets.c.url)
        .distinct()
    )
    pages: dict[str, list[str]] = {}
    with Session(engine) as session:
        for page_url, target_url in session.execute(query):
            pages.setdefault(page_url, []).append(target_url)
    return pages
