"""``scrapy crawl``, with spider arguments validated before anything starts.

The Scrapy behaviour worked around (Scrapy 2.19): ``scrapy.cmdline.execute`` builds the
crawler process (which configures logging, logs the start-up banner and installs the
reactor) before the command runs, and a spider whose ``__init__`` rejects an argument is
reported with a traceback from inside the crawl (``bootstrap_failed``). A spider of this
project that has a ``check_arguments(kwargs)`` class method gets its ``-a`` arguments
checked in :meth:`Command.process_options`, the public hook that ``execute`` calls after
parsing the options and before it builds the process: a bad argument or seeds file prints
one ``error:`` line naming it, and the command exits 1 without starting anything. When
``LOG_FILE`` is set (as Scrapyd sets it for every job), the line is also logged there, so
that the job log says why the job ended. Nothing of ``scrapy.cmdline`` is copied.

``scrapy crawl -h`` lists the spiders' ``-a`` arguments, one line each, from
:data:`brokenlinks.params.SPIDER_ARGUMENTS` (the same declarations that validate them).

The project's ``BROKENLINKS_*`` settings, the store and the browser settings are checked
the same way before the process exists (:func:`brokenlinks.ops.preflight.preflight`). A crawl
that ran but could not do its job (see :func:`brokenlinks.extensions.summary.job_failure`) exits 1
too: :meth:`Command.run` makes its crawler with the public
``CrawlerProcess.create_crawler`` (Scrapy's own ``run`` keeps it inside the private
``_create_crawler``) and reads the ``brokenlinks/job_failed`` stat once it has run.
The crawl
summary (:class:`brokenlinks.extensions.summary.CrawlSummary`) is printed on stderr after
the process has stopped: the last thing a crawl prints, at any log level.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.extensions.feedexport import FeedExporter
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.log import configure_logging

from brokenlinks.extensions.summary import CrawlSummary
from brokenlinks.ops.preflight import preflight
from brokenlinks.params import arguments_help

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, ScrapyHelpFormatter):
    """Scrapy's help layout, with the description's lines (the argument list) kept as written."""


class Command(ScrapyCrawlCommand):
    def long_desc(self) -> str:
        return f"{super().long_desc()}\n\n{arguments_help()}"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = _HelpFormatter

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # -s into settings, -a into opts.spargs, -o/-O
        assert self.settings is not None
        if len(args) == 1:
            try:
                spidercls = get_spider_loader(self.settings).load(args[0])
            except KeyError:
                spidercls = None  # Scrapy's run() reports it
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(dict(opts.spargs))
                except ValueError as e:
                    self._fail(str(e))
        if (problem := preflight(self.settings)) is not None:
            self._fail(problem)

    def _fail(self, message: str) -> None:
        assert self.settings is not None
        sys.stderr.write(f"error: {message}\n")
        if self.settings.get("LOG_FILE"):
            configure_logging(self.settings)
            logger.error("%s", message)
        # before the crawler process exists: no banner, no reactor, no traceback
        raise SystemExit(1)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process is not None
        CrawlSummary.to_terminal = True
        crawler = self.crawler_process.create_crawler(args[0])
        crawler.signals.connect(self._warn_if_no_feed_exporter, signal=signals.engine_started)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        # after the process stopped (scrapy-playwright still logs while it closes): the
        # summary is the last thing a crawl prints, at any log level
        for extension in getattr(crawler.extensions, "middlewares", ()):
            if isinstance(extension, CrawlSummary) and extension.terminal_text():
                sys.stderr.write(extension.terminal_text())
                sys.stderr.flush()
        if crawler.stats is not None and crawler.stats.get_value("brokenlinks/job_failed"):
            self.exitcode = 1

    def _warn_if_no_feed_exporter(self, sender: Crawler) -> None:
        # Scrapy's crawl command warns so from its private crawler factory, not used here
        if sender.settings.getdict("FEEDS") and sender.get_extension(FeedExporter) is None:
            logger.warning(
                "The FeedExporter extension is not enabled, so no item will be "
                "exported to the configured feeds (FEEDS, -o, -O)."
            )
