"""``scrapy pitches [-o pitches.csv] [--template FILE] [--min-score N] [--campaign NAME]``.

One pitch per recipient of a campaign (see :func:`brokenlinks.outreach.pitches.pitches`):
the address (``email``, the first of ``contact_emails``; or the site when only a contact
page is known), the contact page, author and social profiles, every dead link on their
pages (``links``, ``source_urls``, ``target_urls``, ``replacement_urls``, ``prospect_ids``),
what it asks (``ask``: your replacement, or plainly that a link is dead), and a ``subject``
and ``draft`` filled from a Jinja2 template (``--template FILE`` or
``BROKENLINKS_PITCH_TEMPLATE``; the bundled one otherwise). Prospects marked with
``scrapy prospects --mark``, and links on or to your own sites (reclaim work:
``scrapy redirects``), are left out; a line on stderr says how many and why. The CSV has
formula-like cells neutralised, so it opens as-is in mail-merge tools.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from brokenlinks.commands.database import DatabaseCommand
from brokenlinks.commands.prospects import prospect_rows
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.outreach import pitches
from brokenlinks.storage import store

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

TABLE_COLUMNS = ("email", "sites", "links", "ask", "subject")


class Command(DatabaseCommand, ScrapyCommand):
    def syntax(self) -> str:
        return "[--campaign NAME] [--domain D1,D2] [--template FILE] [--min-score N] [-o FILE]"

    def short_desc(self) -> str:
        return "Write one pitch per recipient of a campaign: their dead links, your replacements, a draft"

    def long_desc(self) -> str:
        return (
            "Group the campaign's prospects by recipient (the first address of the linking "
            "site, or the site when only a contact page is known) and write one message per "
            "recipient listing every dead link on their pages: page, anchor, dead URL, what it "
            "was (the archived title), your replacement (or plainly that the link is dead: "
            "ask). Marked prospects and links on or to your own sites (reclaim work: scrapy "
            "redirects) are left out. Needs scrapy crawl contacts (recipients); scrapy crawl "
            "archive and scrapy crawl mysite fill what it was and the replacement."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--template",
            metavar="FILE",
            help="a Jinja2 template for the drafts (default: BROKENLINKS_PITCH_TEMPLATE or the bundled one)",
        )
        parser.add_argument(
            "--min-score",
            type=int,
            default=0,
            metavar="N",
            help="only prospects scoring at least N (0-100)",
        )

    def run_with(self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]) -> None:
        assert self.settings is not None
        path = opts.template or BrokenlinksConfig.from_settings(self.settings).pitch_template
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                msg = (
                    f"pitch template {path}: cannot be read ({getattr(e, 'strerror', None) or e})"
                )
                raise ValueError(msg) from e
            name = path
        else:
            text, name = pitches.DEFAULT_TEMPLATE, "(bundled)"
        template = pitches.compile_template(text, name)
        selection = pitches.Selection()
        rows = pitches.pitches(
            prospect_rows(engine, domains=domains, campaign=self.campaign),
            template,
            name=name,
            min_score=opts.min_score,
            own_sites=store.own_sites(engine),
            selection=selection,
        )
        if message := selection.message():
            sys.stderr.write(message + "\n")
        self.emit(
            rows,
            columns=pitches.PITCH_COLUMNS,
            table_columns=TABLE_COLUMNS,
            output=opts.output,
            what="pitches",
        )
