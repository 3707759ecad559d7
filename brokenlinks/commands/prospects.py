"""``scrapy prospects``: ranked prospects with their outreach status; ``--mark`` sets a status.

One row per referring page × dead target still linked, ranked by
:func:`brokenlinks.reporting.reports.prospect_score`, with the pitch context and the outreach status
(new, contacted, replied, won, lost, ignored) that
``scrapy prospects --mark STATUS ID [--note TEXT]`` sets (the ``id`` column, ``PAGE-TARGET``;
or ``--mark STATUS SOURCE_URL TARGET_URL``). A prospect
whose target came back alive or whose link is gone is no longer listed.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy.commands import ScrapyCommand

from brokenlinks.commands.database import DatabaseCommand
from brokenlinks.outreach import campaigns, pitches
from brokenlinks.reporting import reports
from brokenlinks.storage import store

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

COLUMNS = (
    "id",
    "campaign",
    "score",
    "outreach",
    "source_url",
    "source_title",
    "source_domain",
    "target_url",
    "target_domain",
    "reason",
    "status",
    "anchor_text",
    "follow",
    "position",
    "links_on_page",
    "referring_domains",
    "context",
    "dead_since",
    "checked_at",
    "note",
    # outreach (docs/outreach.md): authority, archive, domain, contacts, replacement
    *pitches.PROSPECT_FIELDS,
)
TABLE_COLUMNS = (
    "id",
    "score",
    "authority",
    "outreach",
    "source_url",
    "target_url",
    "reason",
    "anchor_text",
    "follow",
    "position",
    "context",
)


class Command(DatabaseCommand, ScrapyCommand):
    def syntax(self) -> str:
        return (
            "[--campaign NAME] [--domain D1,D2] [--status S1,S2] [--wide] [-o FILE]\n"
            "       scrapy prospects --mark STATUS ID [--note TEXT]\n"
            "       scrapy prospects --mark STATUS SOURCE_URL TARGET_URL [--note TEXT]"
        )

    def short_desc(self) -> str:
        return "List ranked prospects from the database, or set one's outreach status"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--status",
            metavar="S1,S2",
            help=f"only prospects with these outreach statuses ({', '.join(store.OUTREACH_STATUSES)})",
        )
        parser.add_argument(
            "--mark",
            nargs="+",
            metavar="STATUS ID|SOURCE_URL TARGET_URL",
            help="set the outreach status of prospect ID (the id column), or of "
            "SOURCE_URL × TARGET_URL",
        )
        parser.add_argument("--note", default="", help="a note kept with --mark")

    def run_with(self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]) -> None:
        if opts.mark:
            if len(opts.mark) == 2:  # noqa: PLR2004  (STATUS ID)
                status, prospect_id = opts.mark
                source_url, target_url = store.prospect_urls(engine, prospect_id)
            elif len(opts.mark) == 3:  # noqa: PLR2004  (STATUS SOURCE_URL TARGET_URL)
                status, source_url, target_url = opts.mark
            else:
                msg = "--mark: give STATUS ID, or STATUS SOURCE_URL TARGET_URL"
                raise ValueError(msg)
            store.set_outreach(engine, source_url, target_url, status, opts.note)
            sys.stdout.write(f"{source_url} -> {target_url}: {status}\n")
            return
        statuses = frozenset(s.strip() for s in (opts.status or "").split(",") if s.strip())
        unknown = sorted(statuses - set(store.OUTREACH_STATUSES))
        if unknown:
            # one error line and exit 1, like every other bad argument (DatabaseCommand.run)
            msg = (
                f"--status: unknown {', '.join(unknown)}; use {', '.join(store.OUTREACH_STATUSES)}"
            )
            raise ValueError(msg)
        rows = prospect_rows(engine, domains=domains, statuses=statuses, campaign=self.campaign)
        self.emit(
            rows,
            columns=COLUMNS,
            table_columns=TABLE_COLUMNS,
            output=opts.output,
            what="prospects",
        )


def prospect_rows(
    engine: Engine,
    *,
    domains: frozenset[str],
    statuses: frozenset[str] = frozenset(),
    campaign: str = campaigns.ALL,
) -> list[dict[str, Any]]:
    """The ranked prospects of *campaign* with their outreach fields (``prospects``, ``pitches``).

    Each row carries its ``id`` (``PAGE-TARGET``, what ``--mark STATUS ID`` takes) and its
    ``campaign``.
    """
    occurrences = store.campaign_occurrences(engine, campaign)
    labels = {(r["source_url"], r["target_url"]): r["campaign"] for r in occurrences}
    ids = {
        (r["source_url"], r["target_url"]): f"{r['page_id']}-{r['target_id']}" for r in occurrences
    }
    history = store.check_history(engine, {row["target_id"] for row in occurrences})
    data = pitches.load(engine)
    rows = reports.prospects(
        occurrences,
        history,
        store.outreach_statuses(engine),
        now=datetime.now(UTC),
        domains=domains,
        statuses=statuses,
        authority=data.page_authority(),
    )
    pitches.enrich_prospects(rows, data, occurrences)
    for row in rows:
        key = (row["source_url"], row["target_url"])
        row["id"] = ids[key]
        row["campaign"] = labels[key]
    return rows
