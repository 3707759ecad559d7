"""``scrapy report``: the broken pages report, one row per dead target; ``--lost`` for lost links.

Reads the database (``BROKENLINKS_DATABASE_URL``): every target whose latest verdict is dead
and that some stored page still links to, with its reason, status, since when it has been
dead, how many pages and sites link to it (followed, in content) and the most common
anchor texts; sorted by referring domains. ``--lost`` lists the links a later crawl no
longer found on their page instead, ``--came-back`` the targets that were dead and answer
again. ``-o report.html`` writes the HTML report (:mod:`brokenlinks.reporting`) instead:
one self-contained page with the same filters.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from brokenlinks.checker.verdicts import DEAD_REASONS
from brokenlinks.commands.database import DatabaseCommand
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.outreach import pitches
from brokenlinks.parsing.sites import in_domains
from brokenlinks.reporting import reports
from brokenlinks.reporting.data import collect
from brokenlinks.reporting.html import write_report
from brokenlinks.storage import store

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

COLUMNS = (
    "target_url",
    "target_domain",
    "reason",
    "status",
    "dead_since",
    "first_seen_dead",
    "referring_pages",
    "referring_domains",
    "followed",
    "in_content",
    "top_anchors",
    "checked_at",
    # outreach (docs/outreach.md): what the page was, its domain, your replacement
    *pitches.TARGET_FIELDS,
    # the campaigns whose crawls found it (docs/outreach.md#campaigns)
    "campaign",
)
TABLE_COLUMNS = (
    "target_url",
    "reason",
    "status",
    "dead_since",
    "referring_pages",
    "referring_domains",
    "followed",
    "in_content",
    "top_anchors",
)
LOST_COLUMNS = (
    "source_url",
    "target_url",
    "anchor_text",
    "follow",
    "position",
    "first_seen_at",
    "last_seen_at",
    "gone_at",
    "page_status",
)
LOST_TABLE_COLUMNS = ("source_url", "target_url", "anchor_text", "follow", "gone_at")
BACK_COLUMNS = (
    "target_url",
    "target_domain",
    "status",
    "final_url",
    "first_seen_dead",
    "last_seen_dead",
    "came_back",
    "checked_at",
)
BACK_TABLE_COLUMNS = ("target_url", "status", "first_seen_dead", "last_seen_dead", "came_back")


def parse_reasons(value: str | None) -> frozenset[str]:
    """Parse ``--reason``: dead reasons separated by commas; an unknown one is an error.

    >>> sorted(parse_reasons("dns, http_status"))
    ['dns', 'http_status']
    >>> parse_reasons("gone")
    Traceback (most recent call last):
    ...
    ValueError: --reason: unknown 'gone'; use http_status, dns, connection, timeout, tls, redirect_loop, soft_404, parked, invalid_url
    """
    reasons = frozenset(r.strip() for r in (value or "").split(",") if r.strip())
    unknown = sorted(reasons - set(DEAD_REASONS))
    if unknown:
        msg = (
            f"--reason: unknown {', '.join(repr(r) for r in unknown)}; "
            f"use {', '.join(DEAD_REASONS)}"
        )
        raise ValueError(msg)
    return reasons


def parse_since(value: str) -> datetime:
    """Parse ``--since``: a date or an ISO 8601 time (UTC unless it says otherwise).

    >>> parse_since("2024-05-01")
    datetime.datetime(2024, 5, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        msg = f"--since {value!r}: not a date (YYYY-MM-DD) or an ISO 8601 time"
        raise ValueError(msg) from e
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Command(DatabaseCommand, ScrapyCommand):
    def syntax(self) -> str:
        return "[--campaign NAME] [--domain D1,D2] [--reason R1,R2] [--since DATE] [--lost | --came-back] [-o FILE]"

    def short_desc(self) -> str:
        return "Report dead targets from the database (--lost: lost links, --came-back: revived)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--reason",
            metavar="R1,R2",
            help=f"only these reasons ({', '.join(DEAD_REASONS)})",
        )
        parser.add_argument(
            "--since", metavar="DATE", help="only targets dead since DATE or later"
        )
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--lost",
            action="store_true",
            help="list the links no longer found on their page (lost links) instead",
        )
        which.add_argument(
            "--came-back",
            action="store_true",
            help="list the targets that were dead and answer again instead",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        # a bad filter is an error before the database is opened
        try:
            opts.reasons = parse_reasons(opts.reason)
            opts.since_time = parse_since(opts.since) if opts.since else None
        except ValueError as e:
            self._fail(str(e))
            return
        super().run(args, opts)

    def check_output(self, path: str) -> None:
        if not _is_html(path) and Path(path).suffix.lower() not in reports.OUTPUT_FORMATS:
            msg = f"-o {path}: use a .csv, .json or .html file name"
            raise ValueError(msg)

    def run_with(self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]) -> None:
        if opts.output and _is_html(opts.output):
            self.write_html(engine, opts, domains)
            return
        if opts.lost:
            rows = [
                {key: _text(value) for key, value in row.items()}
                for row in store.lost_links(engine)
                if not domains or in_domains(row["target_url"], domains)
            ]
            self.emit(
                rows,
                columns=LOST_COLUMNS,
                table_columns=LOST_TABLE_COLUMNS,
                output=opts.output,
                what="lost links",
            )
            return
        if opts.came_back:
            targets = store.revived_targets(engine)
            history = store.check_history(engine, {row["target_id"] for row in targets})
            self.emit(
                reports.revived(targets, history, domains=domains),
                columns=BACK_COLUMNS,
                table_columns=BACK_TABLE_COLUMNS,
                output=opts.output,
                what="targets came back",
            )
            return
        occurrences = store.campaign_occurrences(engine, self.campaign)
        history = store.check_history(engine, {row["target_id"] for row in occurrences})
        rows = reports.broken_pages(
            occurrences, history, domains=domains, reasons=opts.reasons, since=opts.since_time
        )
        pitches.enrich_targets(rows, pitches.load(engine), occurrences)
        found: dict[str, set[str]] = {}
        for occurrence in occurrences:
            found.setdefault(occurrence["target_url"], set()).update(
                occurrence["campaign"].split(",")
            )
        for row in rows:
            row["campaign"] = ",".join(sorted(found.get(str(row["target_url"]), set())))
        self.emit(
            rows,
            columns=COLUMNS,
            table_columns=TABLE_COLUMNS,
            output=opts.output,
            what="dead targets",
        )

    def write_html(
        self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]
    ) -> None:
        """Write the HTML report of the store to ``-o``, with the same filters as the table."""
        assert self.settings is not None
        config = BrokenlinksConfig.from_settings(self.settings)
        data = collect(
            engine,
            now=datetime.now(UTC),
            domains=domains,
            reasons=opts.reasons,
            since=opts.since_time,
            mode="lost" if opts.lost else "came_back" if opts.came_back else "broken",
            max_rows=config.report_max_rows,
            campaign=self.campaign,
        )
        size = write_report(data, opts.output)
        sys.stderr.write(
            f"report written to {opts.output} ({data.dead_targets} dead targets, "
            f"{data.prospects} prospects, {size / 1024:.0f} KiB)\n"
        )


def _is_html(path: str) -> bool:
    return Path(path).suffix.lower() in {".html", ".htm"}


def _text(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value
