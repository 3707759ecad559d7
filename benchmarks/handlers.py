"""Benchmark: Scrapy's HTTP download handlers, on CPU per request, on the generated web.

One command (from the project directory)::

    python benchmarks/handlers.py [--scale 0.1] [--timeout 4] [--only NAME ...]

generates the web of :mod:`bigweb` once, serves it in this process and runs our
``scrapy crawl backlinks`` on it once per download handler (:data:`HANDLERS`), with the
settings ``bench.py`` uses and ``DOWNLOAD_HANDLERS`` set on the command line (which wins
over the spider's own choice of scrapy-playwright's handler). It prints one Markdown
table: handler, CPU s (user + sys of the crawl process, ``wait4``), requests the server
received, CPU ms per request, wall s, peak RSS, F1 of the dead targets, the download
timeouts (from the run's stats; in brackets the targets found dead by timeout, of which the
web's hang targets are the true ones), whether the network guard stood between the crawl and the
sockets, and the load average after the run (CPU per request is comparable under load,
wall time is not).

The guard is a Twisted resolver: only the handlers built on Twisted's HTTP client ask it.
The others resolve with asyncio's ``getaddrinfo``; on this web it makes no difference to
what is reached (every host is an IP literal, ``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES`` is
set as in ``bench.py``, and ``.invalid`` names fail in the system resolver too), so the
table compares the cost of the download path alone. The handlers that are not Scrapy's
default need ``pip install -e '.[bench]'`` (aiohttp, httpx2, the incubator). Not a test:
numbers vary with the machine's load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench
import bigweb


@dataclass(frozen=True)
class Handler:
    name: str
    #: the http/https handler class; "" leaves the project's choice (scrapy-playwright's)
    path: str
    #: whether the crawl's connections go through brokenlinks.net.guard.GuardedResolver
    guarded: bool
    #: the module it needs beyond the project's dependencies (the bench extra has it)
    requires: str = ""


HANDLERS = (
    Handler("default: scrapy-playwright over HTTP11", "", guarded=True),
    Handler("Scrapy HTTP11", "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler", True),
    Handler(
        "Scrapy httpx",
        "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler",
        guarded=False,
        requires="httpx2",
    ),
    Handler(
        "Scrapy aiohttp",
        "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler",
        guarded=False,
        requires="aiohttp",
    ),
    Handler(
        "incubator aiohttp",
        "scrapy_download_handlers_incubator.AiohttpDownloadHandler",
        guarded=False,
        requires="scrapy_download_handlers_incubator",
    ),
)


_TIMEOUTS = "downloader/exception_type_count/scrapy.exceptions.DownloadTimeoutError"


@dataclass
class Row:
    handler: Handler
    cpu: float
    requests: int
    wall: float
    rss: float
    f1: float
    returncode: int
    load: tuple[float, float, float]
    #: DownloadTimeoutError raised by the handler (retries included)
    timeouts: int
    #: targets found dead by timeout (the web's hangs are the true ones)
    dead_timeouts: int


def handler_settings(handler: Handler) -> list[str]:
    """The ``-s`` settings that put *handler* in charge of http and https."""
    if not handler.path:
        return []
    # the project's own None entries: only the web
    handlers: dict[str, str | None] = {"data": None, "file": None, "ftp": None, "s3": None}
    handlers |= {"http": handler.path, "https": handler.path}
    return [f"DOWNLOAD_HANDLERS={json.dumps(handlers)}"]


def run(
    handler: Handler, web: bigweb.Web, server: bigweb.BigWebServer, work: Path, seeds: Path
) -> Row:
    """Crawl *web* once with *handler*; its log is ``work/<index>/ours.log``."""
    server.reset_counters()
    work.mkdir()
    measured, stats, out = bench.run_ours(web, work, seeds, [], handler_settings(handler))
    targets, _ = bench.read_ours(out)
    return Row(
        handler,
        measured.cpu,
        sum(server.requests.values()),
        measured.wall,
        measured.rss,
        bench.f1(targets, web.dead_targets()),
        measured.returncode,
        os.getloadavg(),
        int(stats.get(_TIMEOUTS, 0)),
        int(stats.get("brokenlinks/reason_count/dead/timeout", 0)),
    )


def table(rows: list[Row]) -> str:
    lines = [
        (
            "| handler | CPU s | requests served | CPU ms/request | wall s | peak RSS MB | F1 "
            "| timeouts: downloads (dead targets) | guard | load average (1/5/15 min) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        per_request = 1000 * row.cpu / row.requests if row.requests else 0.0
        guard = "yes" if row.handler.guarded else "bypassed (asyncio getaddrinfo)"
        status = "" if row.returncode == 0 else f" (exit {row.returncode})"
        load = "/".join(f"{x:.2f}" for x in row.load)
        lines.append(
            f"| {row.handler.name}{status} | {row.cpu:.1f} | {row.requests:,} "
            f"| {per_request:.2f} | {row.wall:.1f} | {row.rss:.0f} | {row.f1:.3f} "
            f"| {row.timeouts} ({row.dead_timeouts}) | {guard} | {load} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="size of the web (0.1)")
    parser.add_argument("--timeout", type=float, default=4.0, help="DOWNLOAD_TIMEOUT (4)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--only",
        action="append",
        choices=[h.name for h in HANDLERS],
        metavar="NAME",
        help="run this handler only (repeatable; default: all)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.timeout <= 0:
        parser.error("--scale and --timeout must be positive")
    chosen = [h for h in HANDLERS if not args.only or h.name in args.only]
    for handler in chosen:
        if handler.requires and importlib.util.find_spec(handler.requires) is None:
            parser.error(
                f"{handler.name!r} needs the module {handler.requires!r}: "
                "python -m pip install -e '.[bench]'"
            )
    web = bigweb.generate(
        args.scale, port=bigweb.free_port(), seed=args.seed, timeout=args.timeout
    )
    work, seeds, server = bench.serve(web, prefix="brokenlinks-handlers-")
    rows: list[Row] = []
    try:
        for index, handler in enumerate(chosen):
            rows.append(run(handler, web, server, work / str(index), seeds))
            # a long series can be interrupted: keep what was measured
            sys.stderr.write(table(rows) + "\n")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(
        f"web: scale {args.scale}, {len(web.pages)} referring pages, {len(web.targets)} "
        f"targets on {len(web.hosts)} hosts, timeout {args.timeout} s\n\n{table(rows)}\n"
    )
    if args.keep:
        sys.stdout.write(f"work directory: {work}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
