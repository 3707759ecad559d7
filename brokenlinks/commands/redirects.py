"""``scrapy redirects [--campaign NAME] [--domain D1,D2] [--min-score N] [-o FILE]``: reclaim's deliverable.

For your own sites (``--domain``, else the sites of your pages from ``scrapy crawl mysite``
and the domains of ``reclaim-`` campaigns), each dead page that still has backlinks → your
best live page of the same site (the replacement ranking over your pages), ordered by
referring domains (:func:`brokenlinks.outreach.redirects.plan`). ``-o`` writes CSV or JSON
rows (a page without a good match has an empty ``target_url`` and a ``reason``), nginx
rules (``.conf``, ``.nginx``) or Apache rules (``.htaccess``, ``.apache``), where such pages
are comments. Without ``-o``, a table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from brokenlinks.commands.database import DatabaseCommand
from brokenlinks.outreach import pitches, redirects
from brokenlinks.reporting import reports
from brokenlinks.storage import store

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

TABLE_COLUMNS = ("referring_domains", "dead_url", "target_url", "score", "reason")


class Command(DatabaseCommand, ScrapyCommand):
    def syntax(self) -> str:
        return (
            "[--campaign NAME] [--domain D1,D2] [--min-score N] [-o redirects.csv|.conf|.htaccess]"
        )

    def short_desc(self) -> str:
        return "Write 301 redirects: each dead page of yours with backlinks -> your best live page"

    def long_desc(self) -> str:
        return (
            "For your own sites (--domain, else the sites scrapy crawl mysite read and the "
            "domains of reclaim- campaigns), map each dead page that still has backlinks to "
            "your best live page of the same site (the replacement ranking over the pages "
            "scrapy crawl mysite stored), most referring domains first. -o writes CSV or JSON "
            "rows, nginx rules (.conf, .nginx) or Apache rules (.htaccess, .apache); pages "
            "without a good match get an empty target and a reason (comments in the rules)."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--min-score",
            type=float,
            default=redirects.MIN_SCORE,
            metavar="N",
            help=f"lowest ranking score of a redirect target (default {redirects.MIN_SCORE})",
        )
        for action in parser._actions:
            if action.dest == "output":
                action.help = f"write the map to FILE ({redirects.FORMATS_HELP})"

    def check_output(self, path: str) -> None:
        redirects.output_format(path)

    def run_with(self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]) -> None:
        own = domains or store.own_sites(engine)
        if not own:
            msg = (
                "no site of yours is known: give --domain, run scrapy crawl mysite "
                "-a mysite=URL, or a reclaim- campaign"
            )
            raise ValueError(msg)
        data = pitches.load(engine)
        rows = redirects.plan(
            store.campaign_occurrences(engine, self.campaign),
            data.my_pages,
            data.captures,
            frozenset(own),
            min_score=opts.min_score,
        )
        output = opts.output
        if output:
            fmt = redirects.output_format(output)
            if fmt in {"nginx", "apache"}:
                writer = redirects.nginx if fmt == "nginx" else redirects.apache
                Path(output).write_text(writer(rows), encoding="utf-8")
            else:
                reports.write_rows(rows, redirects.COLUMNS, output)
            done = sum(1 for r in rows if r["target_url"])
            sys.stderr.write(
                f"{done} redirects ({len(rows) - done} without a good match) written to "
                f"{output} (campaign {self.campaign})\n"
            )
            return
        self.emit(
            rows,
            columns=redirects.COLUMNS,
            table_columns=TABLE_COLUMNS,
            output=None,
            what="dead pages of yours with backlinks",
        )
