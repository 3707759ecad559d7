"""``scrapy splitseeds FILE -n N``: split a seeds file into N URL lists by site, one per node.

Reads any seeds file the backlinks spider reads (URL list or backlink export), keeps the
distinct referring pages, and writes ``DIR/<name>-<i>-of-<N>.txt`` URL lists with every page
of a site in the same file (:func:`brokenlinks.seeds.shards.split_by_site`). Prints one line per
file written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from brokenlinks.parsing.sites import site_of
from brokenlinks.seeds.read import SeedFileError, read_seeds
from brokenlinks.seeds.shards import split_by_site

if TYPE_CHECKING:
    import argparse


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "[options] SEEDS_FILE"

    def short_desc(self) -> str:
        return "Split a seeds file into N URL lists by site (one per Scrapyd node)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-n", "--shards", type=int, required=True, help="number of files (nodes)"
        )
        parser.add_argument(
            "-d",
            "--dir",
            default=".",
            help="directory to write the files to (default: the current one)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one seeds file")
        if opts.shards < 1:
            raise UsageError(f"-n {opts.shards}: at least 1")
        try:
            seeds = read_seeds(args[0])
        except SeedFileError as e:
            sys.stderr.write(f"error: {e}\n")
            self.exitcode = 1
            return
        urls = [seed.url for seed in seeds.seeds]
        shards = split_by_site(urls, opts.shards)
        out_dir = Path(opts.dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = Path(args[0]).stem
        for number, shard in enumerate(shards, start=1):
            path = out_dir / f"{stem}-{number}-of-{len(shards)}.txt"
            sites = len({site_of(url) for url in shard})
            header = (
                f"# {stem}: shard {number} of {len(shards)}, {len(shard)} pages, {sites} sites\n"
            )
            path.write_text(header + "".join(f"{url}\n" for url in shard), encoding="utf-8")
            sys.stdout.write(f"{path}: {len(shard)} pages, {sites} sites\n")
