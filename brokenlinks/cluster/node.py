"""A check shard: a Scrapy crawler of its own that checks the targets of the sites it owns.

Started by the coordinator (:mod:`brokenlinks.cluster.local`) as
``python -m brokenlinks.cluster.node --fd N --index I --count C``, with the coordinator's
final settings pickled on its standard input and one end of a socket pair as file
descriptor *N*. It is launched as the crawl is set up and imports while the crawl opens;
the settings come once the spider is open (none: the crawl ended first, and it exits).
It runs :class:`ShardSpider`, which starts no request of its own: it serves the
coordinator's messages (:mod:`brokenlinks.cluster.wire`) with the crawl's
:class:`~brokenlinks.checker.checks.LinkChecker` (checks) and its engine (page fetches of
the shard's hosts), until told to close or until the coordinator goes away.

What differs from the coordinator's settings: no add-ons (the settings are final), no
feeds, pipelines, progress, summary or fresh-verdict look-ups (the coordinator has them),
no spider modules (the shard's spider is given as a class), no nested shards, Scrapy's own
scheduler (a shard schedules nothing: with scrapy-redis' it would read the crawl's queue
when its key names no spider), no worker processes (the shard is itself one of the
crawl's processes: a body is read on its loop, a large one in a thread),
``CONCURRENT_REQUESTS`` divided among the shards (the crawl's budget is for all of them), and the shard's name in every log line. ``SIGINT`` is ignored:
Ctrl-C reaches the whole process group, and the coordinator stops its shards itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import pickle
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider
from scrapy.settings import Settings
from scrapy.settings.default_settings import EXTENSIONS_BASE

from brokenlinks.checker.checks import ChecksStopped, LinkChecker
from brokenlinks.cluster import wire
from brokenlinks.render.browser import PLAYWRIGHT_HANDLER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler

# by name: the shard runs as __main__ (python -m brokenlinks.cluster.node)
logger = logging.getLogger("brokenlinks.cluster.node")

#: meta a page fetch carries in its shard: the download as the coordinator asked it, with
#: none of the shard's own middlewares deciding again (the coordinator's did)
_FETCH_META = {
    "dont_retry": True,
    "dont_redirect": True,
    "dont_merge_cookies": True,
    "dont_obey_robotstxt": True,
    "allow_offsite": True,
    "brokenlinks_shard_fetch": True,
}

#: extensions the coordinator runs for the whole crawl: left out of a shard's settings
#: (Scrapy's own, which its defaults enable, set to None)
_COORDINATOR_ONLY = (
    "brokenlinks.checker.freshness.FreshVerdicts",
    "brokenlinks.extensions.feeds.ProspectFeedExporter",
    "brokenlinks.extensions.progress.CrawlProgress",
    "brokenlinks.extensions.summary.CrawlSummary",
    "scrapy.extensions.closespider.CloseSpider",
    "scrapy.extensions.logstats.LogStats",
    "scrapy.extensions.remote_control.RemoteControl",
)
#: download handlers that render in a browser (a shard's requests never ask for it)
_BROWSER_HANDLERS = (
    PLAYWRIGHT_HANDLER,
    "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
)
#: seconds between two stats snapshots while the shard is busy
_STATS_EVERY = 0.5


def shard_settings(values: dict[str, Any], index: int, count: int) -> dict[str, Any]:
    """A shard's settings from the coordinator's final ones.

    >>> s = shard_settings({"CONCURRENT_REQUESTS": 128, "EXTENSIONS": {},
    ...                     "DOWNLOAD_HANDLERS": {"https": PLAYWRIGHT_HANDLER, "ftp": None}}, 0, 3)
    >>> s["CONCURRENT_REQUESTS"], s["BROKENLINKS_CHECK_SHARDS"], s["FEEDS"]
    (43, 1, {})
    >>> s["SCHEDULER"]
    'scrapy.core.scheduler.Scheduler'
    >>> s["DOWNLOAD_HANDLERS"]
    {'ftp': None}
    """
    out = dict(values)
    # a shard renders nothing: Scrapy's own handlers, not the browser's
    handlers = dict(out.get("DOWNLOAD_HANDLERS") or {})
    for scheme in ("http", "https"):
        if handlers.get(scheme) in _BROWSER_HANDLERS:
            del handlers[scheme]
    extensions = dict(out.get("EXTENSIONS") or {})
    for key in _COORDINATOR_ONLY:
        # Scrapy imports every key it is given, a None-valued one too: a key removed
        # spares the shard the store's modules (SQLAlchemy, Alembic: 0.3 to 0.5 s of its
        # start, on the cores the crawl starts on); Scrapy's own are turned off
        extensions.pop(key, None)
        if key in EXTENSIONS_BASE:
            extensions[key] = None
    total = int(out.get("CONCURRENT_REQUESTS") or 0)
    out.update(
        {
            "ADDONS": {},
            "DOWNLOAD_HANDLERS": handlers,
            "EXTENSIONS": extensions,
            "ITEM_PIPELINES": {},
            "FEEDS": {},
            # the shard runs ShardSpider, given as a class: importing every spider module
            # (the outreach ones and what they import) would only slow its start
            "SPIDER_MODULES": [],
            "NEWSPIDER_MODULE": "",
            # a shard schedules no request (checks and fetches go to its downloader): not
            # scrapy-redis' scheduler, whose queue may be the crawl's (a key without
            # %(spider)s), nor its duplicate filter
            "SCHEDULER": "scrapy.core.scheduler.Scheduler",
            "DUPEFILTER_CLASS": "scrapy.dupefilters.RFPDupeFilter",
            "BROKENLINKS_CHECK_SHARDS": 1,
            "BROKENLINKS_WORKERS": 1,
            "CONCURRENT_REQUESTS": math.ceil(total / count) if total else 0,
            "TELNETCONSOLE_ENABLED": False,
            "STATS_DUMP": False,
            "JOBDIR": None,
            "LOG_INSTALL_ROOT_HANDLER": False,
            "LOG_VERSIONS": [],
        }
    )
    return out


#: loggers whose INFO lines (start-up, component lists, "Spider closed") are the shard's
#: own business: the crawl's log has them once, from the crawl
_QUIET_LOGGERS = (
    "scrapy.utils.log",
    "scrapy.middleware",
    "scrapy.addons",
    "scrapy.crawler",
    "scrapy.core.engine",
    "scrapy.extensions",
    "scrapy-playwright",
)


class ForwardingHandler(logging.Handler):
    """Sends the shard's log records to the crawl, which logs them where its own go.

    A shard writing to the crawl's terminal or log file itself would cut into the crawl's
    progress line and interleave half-lines; through the crawl, each record is one line
    of the crawl's log, its message prefixed with the shard. Records made before the
    crawl is connected wait; records of other threads go through the event loop.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spider: ShardSpider | None = None
        self.waiting: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def connected(self, spider: ShardSpider) -> None:
        self._loop = asyncio.get_running_loop()
        self.spider = spider
        waiting, self.waiting = self.waiting, []
        for fields in waiting:
            spider.forward_log(fields)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno <= logging.INFO and record.name.startswith(_QUIET_LOGGERS):
            return
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        fields = {
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "msg": message,
            "created": record.created,
            "msecs": record.msecs,
        }
        spider = self.spider
        if spider is None or self._loop is None:
            self.waiting.append(fields)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            spider.forward_log(fields)
        else:
            self._loop.call_soon_threadsafe(spider.forward_log, fields)


class ShardSpider(Spider):
    """Serves one coordinator's checks and page fetches; sends no request of its own."""

    name = "brokenlinks-shard"

    def __init__(self, *, fd: int, logs: ForwardingHandler | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fd = fd
        self.logs = logs
        self.closing = False
        self.checker: LinkChecker
        self._writer: asyncio.StreamWriter | None = None
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_stats = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ShardSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, ShardSpider)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.closed_signal, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        return
        yield

    def opened(self) -> None:
        self.checker = LinkChecker.of(self.crawler)
        self._serving = asyncio.ensure_future(self.serve())

    def idle(self) -> None:
        if not self.closing:
            raise DontCloseSpider

    async def closed_signal(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            assert self.crawler.stats is not None
            await self._send(("stats", dict(self.crawler.stats.get_stats())))
            self._writer.close()

    async def serve(self) -> None:
        sock = socket.socket(fileno=self.fd)
        reader, self._writer = await asyncio.open_connection(sock=sock)
        if self.logs is not None:
            self.logs.connected(self)
        logger.info("Check shard ready (pid %(pid)d)", {"pid": os.getpid()})
        while (message := await wire.receive(reader)) is not None:
            kind = message[0]
            if kind == "check":
                self._spawn(self._check(message[1]))
            elif kind == "fetch":
                self._spawn(self._fetch(message[1], message[2]))
            elif kind == "stop":
                self.checker.stop_checks()
            elif kind == "close":
                break
        # told to close, or the coordinator is gone: nothing more will be asked
        self.close_shard()

    def close_shard(self) -> None:
        if self.closing:
            return
        self.closing = True
        for task in self._tasks:
            task.cancel()
        engine = self.crawler.engine
        if engine is not None:
            self._closing = asyncio.ensure_future(engine.close_spider_async(reason="finished"))

    def _spawn(self, coro: Any) -> None:
        self._busy += 1
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy -= 1
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("A shard job failed: %(error)r", {"error": error}, exc_info=error)
        loop = asyncio.get_running_loop()
        if self._busy == 0 or loop.time() - self._last_stats > _STATS_EVERY:
            self._last_stats = loop.time()
            assert self.crawler.stats is not None
            self._write(("stats", dict(self.crawler.stats.get_stats())))

    async def _check(self, url: str) -> None:
        try:
            result = await self.checker.check(url)
        except ChecksStopped:
            await self._send(("stopped", url))
            return
        # the coordinator stores it: nothing is kept here for the store
        self.checker.take_unreported()
        await self._send(("result", url, result))

    async def _fetch(self, rid: int, state: dict[str, Any]) -> None:
        request = wire.request_from_state(state, **_FETCH_META)
        engine = self.crawler.engine
        assert engine is not None
        try:
            response = await engine.download_async(request)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001  (every failure goes back to the page)
            await self._send(("fetched", rid, None, wire.error_state(e, request.url)))
            return
        await self._send(("fetched", rid, wire.response_state(response), None))

    def forward_log(self, fields: dict[str, Any]) -> None:
        """Send one log record's fields to the crawl (on the event loop's thread)."""
        self._write(("log", fields))

    def _write(self, message: tuple[Any, ...]) -> None:
        if self._writer is not None and not self._writer.is_closing():
            wire.write(self._writer, message)

    async def _send(self, message: tuple[Any, ...]) -> None:
        if self._writer is not None and not self._writer.is_closing():
            try:
                await wire.send(self._writer, message)
            except ConnectionError:
                self.close_shard()


def main(argv: list[str] | None = None) -> int:
    """Run one shard until its coordinator closes it (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m brokenlinks.cluster.node")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    data = sys.stdin.buffer.read()
    if not data:
        # launched as the crawl was set up, and the crawl ended before it opened
        return 0
    values = pickle.loads(data)  # noqa: S301  (from our own coordinator)
    settings = Settings(shard_settings(values, args.index, args.count), priority="cmdline")
    # the shard logs through the crawl (ForwardingHandler), not to its terminal or file;
    # warnings too (a line of its own on the crawl's terminal breaks the progress line)
    logs = ForwardingHandler()
    root = logging.getLogger()
    root.addHandler(logs)
    logging.captureWarnings(True)
    process = CrawlerProcess(settings)
    root.setLevel(settings.get("LOG_LEVEL") or logging.DEBUG)
    process.crawl(ShardSpider, fd=args.fd, logs=logs)
    process.start(install_signal_handlers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
