"""``scrapy demo``: run the backlinks spider on the bundled demo web, offline.

Serves ``data/demo/`` (hosts under ``.demo``) on a loopback port with
``brokenlinks.testing.localweb``, points ``BROKENLINKS_RESOLVE`` at it, crawls the referring
pages listed in ``data/demo/seeds.txt``, writes the prospects file and prints the crawl
summary. The demo has its own database (``data/demo.sqlite3``) unless
``-s BROKENLINKS_DATABASE_URL=...`` says otherwise, and checks every target each time
(``BROKENLINKS_RECHECK_AFTER=0`` unless given with ``-s``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.conf import closest_scrapy_cfg

from brokenlinks.summary import summary_lines
from brokenlinks.testing.localweb import LocalWeb

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = True

    def syntax(self) -> str:
        return "[-o FILE]"

    def short_desc(self) -> str:
        return "Run the backlinks spider on the bundled demo web (no internet needed)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o",
            "--output",
            default="demo-prospects.csv",
            help="prospects file to write (.csv, .json or .jsonl; default: %(default)s)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("scrapy demo takes no positional arguments")
        assert self.settings is not None
        assert self.crawler_process is not None
        root = Path(closest_scrapy_cfg()).parent / "data" / "demo"
        seeds = root / "seeds.txt"
        output = Path(opts.output)
        fmt = output.suffix.removeprefix(".")
        if fmt not in {"csv", "json", "jsonl"}:
            raise UsageError(f"-o {opts.output}: use a .csv, .json or .jsonl file name")
        web = LocalWeb(root)
        port = web.start()
        try:
            self.settings.set("BROKENLINKS_RESOLVE", {"*.demo": f"127.0.0.1:{port}"}, "cmdline")
            if (self.settings.getpriority("BROKENLINKS_DATABASE_URL") or 0) < SETTINGS_PRIORITIES[
                "cmdline"
            ]:
                self.settings.set(
                    "BROKENLINKS_DATABASE_URL",
                    f"sqlite:///{root.parent / 'demo.sqlite3'}",
                    "project",
                )
            if (self.settings.getpriority("BROKENLINKS_RECHECK_AFTER") or 0) < SETTINGS_PRIORITIES[
                "cmdline"
            ]:
                # the demo shows the checks every time, not verdicts remembered from the last run
                self.settings.set("BROKENLINKS_RECHECK_AFTER", 0, "project")
            self.settings.set(
                "FEEDS", {str(output): {"format": fmt, "overwrite": True}}, "cmdline"
            )
            started = time.monotonic()
            crawler = self.crawler_process.create_crawler("backlinks")
            self.crawler_process.crawl(crawler, seeds=str(seeds))
            self.crawler_process.start()
            elapsed = time.monotonic() - started
        finally:
            web.stop()
        if self.crawler_process.bootstrap_failed or crawler.stats is None:
            self.exitcode = 1
            return
        lines = summary_lines(crawler.stats.get_stats())
        lines.append(f"prospects written to {output} in {elapsed:.1f} s")
        sys.stdout.write("\n".join(lines) + "\n")
