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
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.log import configure_logging

if TYPE_CHECKING:
    import argparse

logger = logging.getLogger(__name__)


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)  # -a into opts.spargs, -o/-O into FEEDS
        assert self.settings is not None
        if len(args) != 1:
            return  # Scrapy's run() reports it
        try:
            spidercls = get_spider_loader(self.settings).load(args[0])
        except KeyError:
            return  # Scrapy's run() reports it
        check = getattr(spidercls, "check_arguments", None)
        if check is None:
            return
        try:
            check(dict(opts.spargs))
        except ValueError as e:
            sys.stderr.write(f"error: {e}\n")
            if self.settings.get("LOG_FILE"):
                configure_logging(self.settings)
                logger.error("%s", e)
            # before the crawler process exists: no banner, no reactor, no traceback
            raise SystemExit(1) from None
