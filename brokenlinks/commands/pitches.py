"""``scrapy pitches [-o pitches.csv] [--template FILE] [--min-score N]``: pitches ready to send.

One row per referring page × dead target worth pitching (see
:func:`brokenlinks.outreach.pitches.pitches`): the recipient (``email``, the first of
``contact_emails``), the contact page, author and social profiles, the link and its
sentence, what the dead page was, your replacement, and a ``subject`` and ``draft`` filled
from a Jinja2 template (``--template FILE`` or ``BROKENLINKS_PITCH_TEMPLATE``; the bundled
one otherwise). The CSV has one row per recipient and formula-like cells neutralised, so
it opens as-is in mail-merge tools. Prospects marked with ``scrapy prospects --mark`` are
left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand

from brokenlinks.commands.database import DatabaseCommand
from brokenlinks.commands.prospects import prospect_rows
from brokenlinks.config import BrokenlinksConfig
from brokenlinks.outreach import pitches

if TYPE_CHECKING:
    import argparse

    from sqlalchemy import Engine

TABLE_COLUMNS = ("email", "source_url", "target_url", "replacement_url", "subject")


class Command(DatabaseCommand, ScrapyCommand):
    def syntax(self) -> str:
        return "[--domain D1,D2] [--template FILE] [--min-score N] [-o FILE]"

    def short_desc(self) -> str:
        return "Write pitches ready to send (one row per recipient, a draft from a template)"

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
        rows = pitches.pitches(
            prospect_rows(engine, domains=domains),
            template,
            name=name,
            min_score=opts.min_score,
        )
        self.emit(
            rows,
            columns=pitches.PITCH_COLUMNS,
            table_columns=TABLE_COLUMNS,
            output=opts.output,
            what="pitches",
        )
