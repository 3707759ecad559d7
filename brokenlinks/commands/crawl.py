"""``scrapy crawl``, with spider arguments validated before the crawl starts.

Scrapy's own command reports a spider that fails to start with a traceback. A spider of
this project that has a ``check_arguments(kwargs)`` class method gets its ``-a``
arguments checked first: a bad argument or seeds file prints one line naming it, and
the command exits 1 without starting the reactor.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None  # Scrapy's own command reports it
            check = getattr(spidercls, "check_arguments", None)
            if check is not None:
                try:
                    check(dict(opts.spargs))
                except ValueError as e:
                    sys.stderr.write(f"error: {e}\n")
                    self.exitcode = 1
                    return
        super().run(args, opts)
