"""``scrapy crawl``, with spider arguments validated before anything starts.

Scrapy's own command builds the crawler process (which logs its start-up banner) before
it runs, and reports a spider that fails to start with a traceback. A spider of this
project that has a ``check_arguments(kwargs)`` class method gets its ``-a`` arguments
checked first: a bad argument or seeds file prints one line naming it, and the command
exits 1 without starting a crawl. When ``LOG_FILE`` is set (as Scrapyd sets it for every
job), the line is also logged there, so that the job log says why the job ended.

The project's ``BROKENLINKS_*`` settings, the store and the browser settings are checked
the same way before the crawl. A crawl that ran but could not do its job (see
:func:`brokenlinks.summary.job_failure`) exits 1 too.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import AsyncCrawlerProcess, CrawlerProcess
from scrapy.spiderloader import get_spider_loader
from scrapy.utils.log import configure_logging

from brokenlinks.preflight import preflight

if TYPE_CHECKING:
    import argparse

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class Command(ScrapyCrawlCommand):
    # the process is built in run(), once the arguments are known to be good
    requires_crawler_process = False

    def __init__(self) -> None:
        super().__init__()
        self._crawlers: list[Crawler] = []

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawlers.append(crawler)  # to read its outcome once it has run
        return crawler

    def _fail(self, message: str) -> None:
        assert self.settings is not None
        sys.stderr.write(f"error: {message}\n")
        if self.settings.get("LOG_FILE"):
            configure_logging(self.settings)
            logger.error("%s", message)
        self.exitcode = 1

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if (problem := preflight(self.settings)) is not None:
            self._fail(problem)
            return
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
                    self._fail(str(e))
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
        for crawler in self._crawlers:
            if crawler.stats is not None and crawler.stats.get_value("brokenlinks/job_failed"):
                self.exitcode = 1
