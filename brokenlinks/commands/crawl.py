"""``scrapy crawl``, with spider arguments validated before anything starts.

Scrapy's own command builds the crawler process (which logs its start-up banner) before
it runs, and reports a spider that fails to start with a traceback. A spider of this
project that has a ``check_arguments(kwargs)`` class method gets its ``-a`` arguments
checked first: a bad argument or seeds file prints one line naming it, and the command
exits 1 without starting a crawl. When ``LOG_FILE`` is set (as Scrapyd sets it for every
job), the line is also logged there, so that the job log says why the job ended.

``scrapy crawl -h`` lists the spiders' ``-a`` arguments, one line each, from
:data:`brokenlinks.params.SPIDER_ARGUMENTS` (the same declarations that validate them).
"""

from __future__ import annotations

import argparse
import logging
import sys

from scrapy.commands import ScrapyHelpFormatter
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import AsyncCrawlerProcess, CrawlerProcess
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.log import configure_logging

from brokenlinks.params import arguments_help

logger = logging.getLogger(__name__)

_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, ScrapyHelpFormatter):
    """Scrapy's help layout, with the description's lines (the argument list) kept as written."""


class Command(ScrapyCrawlCommand):
    # the process is built in run(), once the arguments are known to be good
    requires_crawler_process = False

    def long_desc(self) -> str:
        return f"{super().long_desc()}\n\n{arguments_help()}"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.formatter_class = _HelpFormatter

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if len(args) == 1:
            try:
                spidercls = get_spider_loader(self.settings).load(args[0])
            except KeyError:
                spidercls = None  # Scrapy's own command reports it
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(dict(opts.spargs))
                except ValueError as e:
                    sys.stderr.write(f"error: {e}\n")
                    if self.settings.get("LOG_FILE"):
                        configure_logging(self.settings)
                        logger.error("%s", e)
                    self.exitcode = 1
                    return
        # the same choice as scrapy.cmdline makes for commands that need a process
        if (
            self.settings["TWISTED_REACTOR"] == _ASYNCIO_REACTOR
            and not self.settings.getbool("FORCE_CRAWLER_PROCESS")
        ) or not self.settings.getbool("TWISTED_REACTOR_ENABLED"):
            self.crawler_process = AsyncCrawlerProcess(self.settings)
        else:
            self.crawler_process = CrawlerProcess(self.settings)
        super().run(args, opts)
