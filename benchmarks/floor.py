"""The per-request floor: what Scrapy's own path costs per request, the network removed.

One command (from the project directory)::

    python benchmarks/floor.py [--requests 20000] [--only NAME[,NAME]] [--repeat 3]

Each configuration runs in a process of its own: a spider sends ``--requests`` requests to
as many distinct hosts (so that no per-host limit serialises them) and a download handler
answers each from memory with a small HTML page, so that what is measured is everything
between a request and its response but the network: the engine, the scheduler or
``engine.download_async``, the downloader and its slots, the downloader middlewares, the
spider middlewares and the callback. CPU time is read from ``getrusage`` at
``engine_started`` and at ``spider_closed``; start-up is not counted. The table gives CPU
microseconds per request, the best of ``--repeat`` runs (the least disturbed by other load
on the machine), for:

- ``scheduled``: requests yielded by ``start()`` through the scheduler to a callback (the
  referring pages' path), Scrapy's default components;
- ``download_async``: the same requests sent with ``engine.download_async``, 128 at a time
  (the link checks' path);
- ``no <middleware>``: ``scheduled`` without one of Scrapy's downloader middlewares, and
  ``no downloader middlewares`` without any;
- ``brokenlinks add-on``: ``scheduled`` with the project's add-on (its downloader, retry
  and redirect middlewares; its extensions with the store and progress line off);
- ``reactorless`` and ``reactorless + uvloop``: ``scheduled`` with
  ``TWISTED_REACTOR_ENABLED=False`` (Scrapy 2.19 runs on an asyncio loop with no Twisted
  reactor), on the standard loop and on uvloop (``pip install uvloop``).

Not a test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
BODY = b"<!doctype html><title>t</title><p>Hello <a href='/x'>x</a></p>" * 4

#: Scrapy 2.19's default downloader middlewares (DOWNLOADER_MIDDLEWARES_BASE)
DEFAULT_MIDDLEWARES = (
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware",
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware",
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware",
    "scrapy.downloadermiddlewares.retry.RetryMiddleware",
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware",
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware",
    "scrapy.downloadermiddlewares.stats.DownloaderStats",
)


def configurations() -> dict[str, dict[str, Any]]:
    """Name → (mode, settings) of every configuration measured."""
    configs: dict[str, dict[str, Any]] = {
        "scheduled": {"mode": "scheduled", "settings": {}},
        "download_async": {"mode": "download_async", "settings": {}},
        "no downloader middlewares": {
            "mode": "scheduled",
            "settings": {"DOWNLOADER_MIDDLEWARES": dict.fromkeys(DEFAULT_MIDDLEWARES)},
        },
        "brokenlinks add-on": {
            "mode": "scheduled",
            "settings": {
                "ADDONS": {"brokenlinks.Addon": 0},
                "BROKENLINKS_STORE_ENABLED": False,
                "BROKENLINKS_PROGRESS_ENABLED": False,
                "ROBOTSTXT_OBEY": False,
            },
        },
        "CONCURRENT_ITEMS=16": {"mode": "scheduled", "settings": {"CONCURRENT_ITEMS": 16}},
        "brokenlinks downloader": {
            "mode": "scheduled",
            "settings": {"DOWNLOADER": "brokenlinks.net.downloader.PoliteDownloader"},
        },
        "reactorless": {"mode": "scheduled", "settings": {"TWISTED_REACTOR_ENABLED": False}},
        "reactorless + uvloop": {
            "mode": "scheduled",
            "settings": {"TWISTED_REACTOR_ENABLED": False, "ASYNCIO_EVENT_LOOP": "uvloop.Loop"},
        },
    }
    for path in DEFAULT_MIDDLEWARES:
        name = path.rpartition(".")[2]
        configs[f"no {name}"] = {
            "mode": "scheduled",
            "settings": {"DOWNLOADER_MIDDLEWARES": {path: None}},
        }
    return configs


def child(name: str, requests: int) -> None:
    """Run one configuration in this process and print its figures as JSON."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import scrapy  # noqa: PLC0415  # in the child only: the parent stays light
    from scrapy import signals  # noqa: PLC0415
    from scrapy.crawler import AsyncCrawlerProcess  # noqa: PLC0415
    from scrapy.http import HtmlResponse  # noqa: PLC0415

    config = configurations()[name]
    cpu: dict[str, float] = {}
    responses = 0

    def now() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    class MemoryHandler:
        lazy = False

        def __init__(self, crawler: Any) -> None:
            self.crawler = crawler

        @classmethod
        def from_crawler(cls, crawler: Any) -> MemoryHandler:
            return cls(crawler)

        async def download_request(self, request: Any) -> Any:
            return HtmlResponse(request.url, body=BODY, encoding="utf-8", request=request)

        async def close(self) -> None:
            return

    class FloorSpider(scrapy.Spider):
        name = "floor"

        @classmethod
        def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> FloorSpider:
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.started, signals.engine_started)
            crawler.signals.connect(spider.closed_, signals.spider_closed)
            return spider

        def started(self) -> None:
            cpu["start"] = now()

        def closed_(self) -> None:
            cpu["end"] = now()

        def urls(self) -> Any:
            return (f"http://h{i}.floor.invalid/p" for i in range(requests))

        async def start(self) -> Any:
            if config["mode"] == "scheduled":
                for url in self.urls():
                    yield scrapy.Request(url, callback=self.parse, dont_filter=True)
                return
            import asyncio  # noqa: PLC0415

            from scrapy.http.request import NO_CALLBACK  # noqa: PLC0415

            engine = self.crawler.engine
            batch: list[Any] = []
            for url in self.urls():
                batch.append(engine.download_async(scrapy.Request(url, callback=NO_CALLBACK)))
                if len(batch) == 128:
                    self.count(await asyncio.gather(*batch))
                    batch = []
            self.count(await asyncio.gather(*batch))

        def count(self, answers: list[Any]) -> None:
            nonlocal responses
            responses += len(answers)

        def parse(self, response: Any) -> None:
            nonlocal responses
            responses += 1

    handler = f"{__name__}.MemoryHandler" if __name__ != "__main__" else None
    sys.modules["__main__"].MemoryHandler = MemoryHandler  # type: ignore[attr-defined]
    settings: dict[str, Any] = {
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 128,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "DOWNLOAD_HANDLERS": {"http": handler or "__main__.MemoryHandler"},
        **config["settings"],
    }
    if settings.get("ASYNCIO_EVENT_LOOP") == "uvloop.Loop":
        try:
            import uvloop  # noqa: F401, PLC0415
        except ImportError:
            print(json.dumps({"name": name, "skipped": "uvloop is not installed"}))
            return
    process = AsyncCrawlerProcess(settings)
    process.crawl(FloorSpider)
    process.start()
    print(
        json.dumps(
            {
                "name": name,
                "requests": requests,
                "responses": responses,
                "cpu": cpu["end"] - cpu["start"],
            }
        )
    )


def measure(name: str, requests: int) -> dict[str, Any]:
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, "--requests", str(requests)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=env,
        check=False,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"name": name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return dict(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="comma-separated configuration names")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests)
        return
    names = list(configurations())
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
    load = os.getloadavg()[0]
    print(f"{args.requests} requests per run, best of {args.repeat}; load average {load:.2f}")
    print("| configuration | CPU µs/request | responses |")
    print("|---|---|---|")
    base: float | None = None
    for name in names:
        runs = [measure(name, args.requests) for _ in range(args.repeat)]
        good = [r for r in runs if "cpu" in r]
        if not good:
            why = runs[0].get("error") or runs[0].get("skipped")
            print(f"| {name} | — ({why}) | |")
            continue
        best = min(good, key=lambda r: r["cpu"])
        per = best["cpu"] / best["requests"] * 1e6
        if name == "scheduled":
            base = per
        delta = f" ({per - base:+.0f})" if base is not None and name != "scheduled" else ""
        print(f"| {name} | {per:.0f}{delta} | {best['responses']} |", flush=True)


if __name__ == "__main__":
    main()
