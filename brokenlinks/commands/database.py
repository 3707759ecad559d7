"""What the commands that read the store share (``scrapy report``, ``scrapy prospects``).

Builds the engine from ``BROKENLINKS_DATABASE_URL`` (``-s`` works as for ``scrapy crawl``),
brings the schema up to date (:func:`brokenlinks.storage.db.migrate`), and prints rows as a table
on stdout or writes them with ``-o FILE`` (.csv or .json). A bad option or setting prints
one ``error:`` line and exits 2 (usage) or 1.

:class:`DatabaseCommand` is a mixin, not a :class:`~scrapy.commands.ScrapyCommand`: Scrapy
lists every ``ScrapyCommand`` subclass defined in ``COMMANDS_MODULE`` as a command of its
own, so a command class here would appear as ``scrapy database``.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import UsageError
from scrapy.settings import Settings
from sqlalchemy.exc import SQLAlchemyError

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.outreach import campaigns
from brokenlinks.params import ArgumentError, parse_domains
from brokenlinks.reporting import reports
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping, Sequence

    from scrapy.commands import ScrapyCommand
    from scrapy.settings import BaseSettings
    from sqlalchemy import Engine

    # typed as the command it is mixed into; at run time a plain class
    _CommandBase = ScrapyCommand
else:
    _CommandBase = object


def with_database(description: str | None, settings: BaseSettings | None) -> str:
    """A command's description followed by :func:`database_help`."""
    text = (description or "").strip().rstrip(".")
    return f"{text}. {database_help(settings)}" if text else database_help(settings)


def database_help(settings: BaseSettings | None) -> str:
    """Say which database a command uses, for its ``-h``.

    >>> from scrapy.settings import Settings
    >>> database_help(Settings())
    'Database: data/brokenlinks.sqlite3 (BROKENLINKS_DATABASE_URL; -s BROKENLINKS_DATABASE_URL=URL for another).'
    """
    try:
        url = BrokenlinksConfig.from_settings(settings or Settings()).database_url
    except ValueError as e:
        return f"Database: {e}."
    return (
        f"Database: {db.describe_url(url)} (BROKENLINKS_DATABASE_URL; "
        "-s BROKENLINKS_DATABASE_URL=URL for another)."
    )


class DatabaseCommand(_CommandBase):
    """Mixed in before the command class: ``class Command(DatabaseCommand, ScrapyCommand)``."""

    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_LEVEL": "WARNING"}  # noqa: RUF012  (Scrapy's own attribute)

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.description = with_database(parser.description, self.settings)
        parser.add_argument(
            "-o", "--output", metavar="FILE", help="write the rows to FILE (.csv or .json)"
        )
        parser.add_argument(
            "--domain",
            metavar="D1,D2",
            help="only dead targets on these domains (subdomains included)",
        )
        parser.add_argument(
            "--wide",
            action="store_true",
            help="print whole cells (full URLs) however wide the table gets",
        )
        parser.add_argument(
            "--campaign",
            metavar="NAME",
            help="only this campaign's dead links (default: the last crawl's campaign; "
            "'all': every campaign, each row labelled)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError(f"unexpected argument(s): {' '.join(args)}")
        assert self.settings is not None
        try:
            if opts.output:
                self.check_output(opts.output)
            domains = parse_domains(opts.domain) if opts.domain is not None else frozenset()
            config = BrokenlinksConfig.from_settings(self.settings)
            engine = db.create_engine_from_url(config.database_url)
        except (ArgumentError, ValueError) as e:
            self._fail(str(e))
            return
        try:
            db.migrate(engine)
            self.campaign = self.resolve_campaign(engine, opts.campaign)
            self.wide = bool(opts.wide)
            self.run_with(engine, opts, domains)
        except (SQLAlchemyError, LookupError, ValueError, OSError) as e:
            self._fail(" ".join(str(e).split()))
        finally:
            engine.dispose()

    #: the campaign the command shows (``--campaign``, else the last crawl's), or ``all``
    campaign: str = campaigns.ALL
    #: ``--wide``: whole cells, however wide the table gets
    wide: bool = False

    def resolve_campaign(self, engine: Engine, given: str | None) -> str:
        """The campaign to show: *given* (``all`` or a stored one), else the last crawl's."""
        if given is None:
            return store.last_campaign(engine) or campaigns.ALL
        name = given.strip()
        if name == campaigns.ALL:
            return name
        known = sorted({run["campaign"] for run in store.campaign_runs(engine)})
        if name not in known:
            msg = f"--campaign: no campaign {name!r} in the database; known: {', '.join(known) or 'none'}, all"
            raise ValueError(msg)
        return name

    def check_output(self, path: str) -> None:
        """Raise ValueError when ``-o`` *path* names a format this command cannot write."""
        reports.output_format(path)

    def run_with(self, engine: Engine, opts: argparse.Namespace, domains: frozenset[str]) -> None:
        raise NotImplementedError

    def _fail(self, message: str) -> None:
        sys.stderr.write(f"error: {message}\n")
        self.exitcode = 1

    def emit(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        columns: Sequence[str],
        table_columns: Sequence[str],
        output: str | None,
        what: str,
    ) -> None:
        """Print *rows* as a table (the *table_columns*), or write all *columns* to *output*."""
        if output:
            reports.write_rows(rows, columns, output)
            sys.stderr.write(
                f"{len(rows)} {what} written to {output} (campaign {self.campaign})\n"
            )
            return
        if not rows:
            sys.stdout.write(f"no {what} (campaign {self.campaign})\n")
            return
        if self.campaign == campaigns.ALL and rows and "campaign" in rows[0]:
            # --campaign all: each row says which campaign(s) it belongs to
            table_columns = ("campaign", *table_columns)
        # fitted to a terminal (or the COLUMNS it says); piped into another program, whole
        width = (
            shutil.get_terminal_size((120, 24)).columns
            if not self.wide and (sys.stdout.isatty() or os.environ.get("COLUMNS"))
            else 0
        )
        sys.stdout.write(reports.render_table(rows, table_columns, width) + "\n")
        sys.stdout.write(f"{len(rows)} {what}\n")
