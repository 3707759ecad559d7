"""What the HTML report shows, read from the store: crawls, totals, chart series and tables.

:func:`collect` applies the filters of ``scrapy report`` (``--domain``, ``--reason``,
``--since``, and ``--lost``/``--came-back`` for the tables) to the rows that
:mod:`brokenlinks.reporting.reports` builds from :mod:`brokenlinks.storage.store`'s readers, so the page and the
CSV/JSON output agree. :func:`run_timeline` is the pure part behind the chart across crawl
runs. Columns another component adds to the report rows (the archived page, the
replacement, the contacts) are shown when some row has a value for them, and left out
otherwise. Reads no settings.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brokenlinks.outreach import pitches
from brokenlinks.outreach.campaigns import LINK_CHECKING_SPIDERS
from brokenlinks.parsing.sites import in_domains
from brokenlinks.reporting import reports
from brokenlinks.storage import store

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import Engine

#: crawl runs drawn in the chart across runs (the latest ones)
MAX_RUNS_CHARTED = 30
#: broken pages in the "most referring domains" chart
TOP_PAGES = 10
#: outreach statuses in funnel order (``ignored`` last, shown only when used)
FUNNEL = ("new", "contacted", "replied", "won", "lost", "ignored")


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: the row key, its heading and how its cells are shown.

    *kind* is ``text``, ``long`` (a sentence), ``number``, ``bool``, ``date`` or ``url``
    (a link when the value is an http(s) URL; *title_key* names a row key shown as the
    link's text). A *facet* column gets a drop-down filter of its values.
    """

    key: str
    label: str
    kind: str = "text"
    facet: bool = False
    title_key: str | None = None
    #: hidden until "all columns" is ticked, so that the table fits a 1,280-pixel window
    secondary: bool = False


@dataclass(slots=True)
class Table:
    """One table of the page: at most the report's row limit of *total* rows."""

    id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: int
    #: what the rows are sorted by, and the command that writes them all
    order: str
    full_command: str

    def facet_values(self, column: Column) -> list[str]:
        return sorted({cell_text(row.get(column.key)) for row in self.rows} - {""})


@dataclass(frozen=True, slots=True)
class RunPoint:
    """What one crawl run found: dead targets, links lost and targets that came back."""

    run_id: int
    label: str
    dead: int
    lost: int
    came_back: int


@dataclass(slots=True)
class ReportData:
    generated_at: datetime
    filters: list[str]
    runs: list[dict[str, Any]]
    pages_read: int
    targets_checked: int
    dead_targets: int
    prospects: int
    dead_by_reason: list[tuple[str, int]]
    top_pages: list[tuple[str, int]]
    timeline: list[RunPoint]
    funnel: list[tuple[str, int]]
    tables: list[Table] = field(default_factory=list)
    #: the campaign's pitches, one per recipient (:func:`brokenlinks.outreach.pitches.pitches`)
    actions: list[dict[str, Any]] = field(default_factory=list)
    #: dead targets whose whole domain is unregistered (RDAP): a domain to buy back
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    #: why prospects are not in the action list (one line, '' when none are left out)
    left_out: str = ""


#: columns other components add to report rows, shown when any row has a value for them
OPTIONAL_COLUMNS = (
    Column("authority", "Authority", "number"),
    Column("archived_title", "Was (archived title)"),
    Column("archived_summary", "Was (archived summary)", "long", secondary=True),
    Column("archived_url", "Archived copy", "url", secondary=True),
    Column("replacement_url", "Your replacement", "url"),
    Column("replacement_score", "Replacement score", "number"),
    Column("contact_emails", "Contact e-mails"),
    Column("contact_page", "Contact page", "url", secondary=True),
    Column("author", "Author"),
)

BROKEN_COLUMNS = [
    Column("target_url", "Dead target", "url"),
    Column("reason", "Reason", facet=True),
    Column("status", "Status", "number", facet=True, secondary=True),
    Column("target_domain", "Domain", facet=True),
    Column("referring_domains", "Referring domains", "number"),
    Column("referring_pages", "Referring pages", "number", secondary=True),
    Column("followed", "Followed", "number", secondary=True),
    Column("in_content", "In content", "number", secondary=True),
    Column("dead_since", "Dead since", "date"),
    Column("source_url", "Best referring page", "url", title_key="source_title"),
    Column("context", "Context", "long", secondary=True),
    Column("top_anchors", "Top anchors", secondary=True),
]
PROSPECT_COLUMNS = [
    Column("score", "Score", "number"),
    Column("outreach", "Outreach status", facet=True),
    Column("source_url", "Referring page", "url", title_key="source_title"),
    Column("target_url", "Dead target", "url"),
    Column("reason", "Reason", facet=True),
    Column("target_domain", "Domain", facet=True, secondary=True),
    Column("anchor_text", "Anchor"),
    Column("follow", "Follow", "bool", facet=True, secondary=True),
    Column("position", "Position", facet=True, secondary=True),
    Column("context", "Context", "long", secondary=True),
    Column("referring_domains", "Referring domains", "number"),
    Column("links_on_page", "Links on page", "number", secondary=True),
    Column("dead_since", "Dead since", "date", secondary=True),
]
LOST_COLUMNS = [
    Column("source_url", "Referring page", "url"),
    Column("target_url", "Lost link to", "url"),
    Column("target_domain", "Domain", facet=True),
    Column("anchor_text", "Anchor"),
    Column("follow", "Follow", "bool", facet=True),
    Column("position", "Position", facet=True),
    Column("page_status", "Page status", "number", facet=True),
    Column("first_seen_at", "First seen", "date"),
    Column("gone_at", "Gone", "date"),
]
CAME_BACK_COLUMNS = [
    Column("target_url", "Target", "url"),
    Column("target_domain", "Domain", facet=True),
    Column("status", "Status", "number", facet=True),
    Column("first_seen_dead", "First seen dead", "date"),
    Column("last_seen_dead", "Last seen dead", "date"),
    Column("came_back", "Came back", "date"),
]


def cell_text(value: Any) -> str:
    """The text a cell shows for *value*.

    >>> [cell_text(v) for v in (None, True, 3, "a")]
    ['', 'yes', '3', 'a']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def with_optional(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[Column]:
    """*columns* plus each optional column that some row has a value for.

    >>> [c.key for c in with_optional([Column("a", "A")], [{"a": 1, "author": "Ann"}])]
    ['a', 'author']
    >>> [c.key for c in with_optional([Column("a", "A")], [{"a": 1, "author": None}])]
    ['a']
    """
    return [
        *columns,
        *(c for c in OPTIONAL_COLUMNS if any(row.get(c.key) not in {None, ""} for row in rows)),
    ]


def run_timeline(
    runs: Sequence[Mapping[str, Any]],
    checks: Iterable[Mapping[str, Any]],
    losses: Iterable[datetime],
) -> list[RunPoint]:
    """Per link-checking run: targets found dead, links found lost, targets that came back.

    Runs that check no link (``archive``, ``contacts``, ``mysite``) are left out: drawn as
    0 dead, they would read as "the links got fixed".

    *checks* are by target, oldest first (:func:`brokenlinks.storage.store.check_events`); a check
    that answers alive right after a dead one is a comeback. A loss counts for the run
    that had started last when the link was found gone.

    >>> from datetime import UTC, datetime
    >>> t = [datetime(2024, 5, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> runs = [{"id": 1, "spider": "backlinks", "started_at": t[0]},
    ...         {"id": 2, "spider": "recheck", "started_at": t[1]},
    ...         {"id": 3, "spider": "contacts", "started_at": t[2]}]
    >>> checks = [{"run_id": 1, "target_id": 7, "kind": "dead"},
    ...           {"run_id": 2, "target_id": 7, "kind": "alive"},
    ...           {"run_id": 2, "target_id": 8, "kind": "dead"}]
    >>> [(p.dead, p.lost, p.came_back) for p in run_timeline(runs, checks, [t[2]])]
    [(1, 0, 0), (1, 1, 1)]
    """
    runs = [run for run in runs if run["spider"] in LINK_CHECKING_SPIDERS]
    dead: dict[int, set[int]] = {}
    back: Counter[int] = Counter()
    previous: tuple[int, str] | None = None
    for check in checks:
        target, kind = check["target_id"], check["kind"]
        if kind == "dead":
            dead.setdefault(check["run_id"], set()).add(target)
        elif kind == "alive" and previous == (target, "dead"):
            back[check["run_id"]] += 1
        previous = (target, kind)
    starts = [run["started_at"] for run in runs]
    lost: Counter[int] = Counter()
    for gone_at in losses:
        index = max(bisect.bisect_right(starts, gone_at) - 1, 0)
        if runs:
            lost[runs[index]["id"]] += 1
    return [
        RunPoint(
            run_id=run["id"],
            label=f"#{run['id']} {run['started_at']:%m-%d}",
            dead=len(dead.get(run["id"], ())),
            lost=lost[run["id"]],
            came_back=back[run["id"]],
        )
        for run in runs[-MAX_RUNS_CHARTED:]
    ]


def _filter_text(
    domains: frozenset[str],
    reasons: frozenset[str],
    since: datetime | None,
    mode: str,
    campaign: str = "all",
) -> list[str]:
    out = ["every campaign" if campaign == "all" else f"campaign {campaign}"]
    if domains:
        out.append("dead targets on " + ", ".join(sorted(domains)))
    if reasons:
        out.append("reasons " + ", ".join(sorted(reasons)))
    if since is not None:
        out.append(f"dead since {since:%Y-%m-%d %H:%M} UTC or later")
    if mode == "lost":
        out.append("tables: lost links")
    elif mode == "came_back":
        out.append("tables: targets that came back")
    return out


def _table(
    id_: str,
    title: str,
    columns: list[Column],
    rows: list[dict[str, Any]],
    max_rows: int,
    *,
    order: str,
    full_command: str,
) -> Table:
    return Table(
        id=id_,
        title=title,
        columns=with_optional(columns, rows),
        rows=rows[:max_rows],
        total=len(rows),
        order=order,
        full_command=full_command,
    )


def collect(
    engine: Engine,
    *,
    now: datetime,
    domains: frozenset[str] = frozenset(),
    reasons: frozenset[str] = frozenset(),
    since: datetime | None = None,
    mode: str = "broken",
    max_rows: int = 1000,
    campaign: str = "all",
) -> ReportData:
    """Read everything the report shows; *mode* is ``broken``, ``lost`` or ``came_back``.

    The dead links are *campaign*'s (``all``: every campaign's).
    """
    occurrences = store.campaign_occurrences(engine, campaign)
    history = store.check_history(engine, {row["target_id"] for row in occurrences})
    broken = reports.broken_pages(
        occurrences, history, domains=domains, reasons=reasons, since=since
    )
    outreach = pitches.load(engine)
    pitches.enrich_targets(broken, outreach, occurrences)
    kept = {row["target_url"] for row in broken}
    ranked = reports.prospects(
        occurrences,
        history,
        store.outreach_statuses(engine),
        now=now,
        domains=domains,
        authority=outreach.page_authority(),
    )
    pitches.enrich_prospects(ranked, outreach, occurrences)
    prospects = [row for row in ranked if row["target_url"] in kept]
    labels = {(r["source_url"], r["target_url"]): r for r in occurrences}
    for row in prospects:
        found = labels.get((row["source_url"], row["target_url"]), {})
        row["campaign"] = found.get("campaign")
        row["id"] = f"{found.get('page_id')}-{found.get('target_id')}" if found else None
    selection = pitches.Selection()
    actions = pitches.pitches(
        prospects,
        pitches.compile_template(pitches.DEFAULT_TEMPLATE, "(bundled)"),
        name="(bundled)",
        own_sites=store.own_sites(engine),
        selection=selection,
    )
    opportunities = [
        {
            "domain": row["target_domain"],
            "target_url": row["target_url"],
            "referring_domains": row["referring_domains"],
            "archived_title": row.get("archived_title"),
        }
        for row in broken
        if row.get("domain_status") == "unregistered"
    ]
    best: dict[str, dict[str, Any]] = {}
    for row in prospects:  # ranked: the first per target is the one to pitch about
        best.setdefault(row["target_url"], row)
    for row in broken:
        pick = best.get(row["target_url"], {})
        row.update({k: pick.get(k) for k in ("source_url", "source_title", "context")})
        for column in OPTIONAL_COLUMNS:
            if row.get(column.key) is None and pick.get(column.key) is not None:
                row[column.key] = pick[column.key]

    runs = store.crawl_runs(engine)
    checks = store.check_events(engine)
    lost_rows = [
        row
        for row in store.lost_links(engine)
        if not domains or in_domains(row["target_url"], domains)
    ]
    if domains:
        checks = [c for c in checks if in_domains(c["target_url"], domains)]
    statuses = Counter(row["outreach"] for row in prospects)
    funnel = (
        [(s, statuses[s]) for s in FUNNEL if s != "ignored" or statuses[s]]
        if set(statuses) - {"new"}
        else []
    )
    totals = store.store_totals(engine)
    data = ReportData(
        generated_at=now,
        filters=_filter_text(domains, reasons, since, mode, campaign),
        runs=runs,
        pages_read=totals["pages_read"],
        targets_checked=totals["targets_checked"],
        dead_targets=len(broken),
        prospects=len(prospects),
        dead_by_reason=Counter(row["reason"] for row in broken).most_common(),
        top_pages=[(row["target_url"], row["referring_domains"]) for row in broken[:TOP_PAGES]],
        timeline=run_timeline(runs, checks, (row["gone_at"] for row in lost_rows)),
        funnel=funnel,
        actions=actions,
        opportunities=opportunities,
        left_out=selection.message(),
    )
    if mode == "lost":
        data.tables.append(
            _table(
                "lost",
                "Lost links",
                LOST_COLUMNS,
                lost_rows,
                max_rows,
                order="newest loss first",
                full_command="scrapy report --lost -o lost.csv",
            )
        )
    elif mode == "came_back":
        targets = store.revived_targets(engine)
        back_history = store.check_history(engine, {row["target_id"] for row in targets})
        data.tables.append(
            _table(
                "came-back",
                "Targets that came back",
                CAME_BACK_COLUMNS,
                reports.revived(targets, back_history, domains=domains),
                max_rows,
                order="latest comeback first",
                full_command="scrapy report --came-back -o came-back.csv",
            )
        )
    else:
        data.tables.append(
            _table(
                "broken",
                "Broken pages",
                BROKEN_COLUMNS,
                broken,
                max_rows,
                order="most referring domains first",
                full_command="scrapy report -o broken-pages.csv",
            )
        )
        data.tables.append(
            _table(
                "prospects",
                "Prospects",
                PROSPECT_COLUMNS,
                prospects,
                max_rows,
                order="highest score first",
                full_command="scrapy prospects -o prospects.csv",
            )
        )
    return data
