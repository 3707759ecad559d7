"""Reproduce Scrapy's per-domain concurrency overshoot under the asyncio reactor.

Standalone (Scrapy only, no brokenlinks code unless ``--polite``): a local HTTP server
that holds every request for ``--hold`` seconds and records how many were in flight at
once, and a spider that queues ``--requests`` requests to that one host with
``CONCURRENT_REQUESTS_PER_DOMAIN = --limit``. Prints the most requests the server saw in
flight. Text of the upstream report: docs/upstream-concurrency-overshoot.md.

    python benchmarks/concurrency_overshoot.py                       # asyncio reactor
    python benchmarks/concurrency_overshoot.py --reactor epoll       # Twisted's epoll
    python benchmarks/concurrency_overshoot.py --polite              # brokenlinks' seam
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import scrapy
from scrapy.crawler import AsyncCrawlerProcess, CrawlerProcess

REACTORS = {
    "asyncio": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "epoll": "twisted.internet.epollreactor.EPollReactor",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hold: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hold = hold
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            time.sleep(server.hold)
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with server.lock:
                server.in_flight -= 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib name)
        return


class OneHostSpider(scrapy.Spider):
    name = "one_host"

    def __init__(self, base: str, count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base
        self.count = count

    async def start(self) -> Any:
        for i in range(self.count):
            yield scrapy.Request(f"{self.base}/{i}", dont_filter=True)

    def parse(self, response: scrapy.http.Response) -> None:
        return None


def run(*, reactor: str, limit: int, requests: int, hold: float, polite: bool) -> int:
    """Crawl *requests* URLs of one host; return the most the server saw in flight."""
    server = _Server(hold)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings: dict[str, Any] = {
        "TWISTED_REACTOR": REACTORS[reactor],
        "CONCURRENT_REQUESTS": 4 * limit + requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": limit,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
    }
    if polite:
        settings["DOWNLOADER"] = "brokenlinks.net.downloader.PoliteDownloader"
    process_class = AsyncCrawlerProcess if reactor == "asyncio" else CrawlerProcess
    process = process_class(settings)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    process.crawl(OneHostSpider, base=base, count=requests)
    process.start()
    server.shutdown()
    server.server_close()
    return server.max_in_flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reactor", choices=sorted(REACTORS), default="asyncio")
    parser.add_argument("--limit", type=int, default=8, help="CONCURRENT_REQUESTS_PER_DOMAIN")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--hold", type=float, default=0.5, help="seconds per answer")
    parser.add_argument("--polite", action="store_true", help="brokenlinks' PoliteDownloader")
    args = parser.parse_args()
    most = run(
        reactor=args.reactor,
        limit=args.limit,
        requests=args.requests,
        hold=args.hold,
        polite=args.polite,
    )
    print(
        f"reactor={args.reactor} limit={args.limit} polite={args.polite} "
        f"scrapy={scrapy.__version__}: at most {most} requests in flight"
    )


if __name__ == "__main__":
    main()
