"""Crawl progress: one live line on a terminal, a compact log line everywhere else.

:class:`CrawlProgress` (an extension) reads the crawl's stats every second and shows
:func:`progress_line` (referring pages done of the total when known, targets checked, dead
so far, requests per second, ETA). On a terminal (standard error is a TTY) it is a tqdm
status line at the bottom, and the log lines of Scrapy's console handler are written
through tqdm (:meth:`tqdm.tqdm.external_write_mode`), which clears the line, writes the
log line and draws the line again, so the two never mix. Otherwise (Scrapyd, cron, a
pipe, a log file) it logs the same text every ``LOGSTATS_INTERVAL`` seconds.
``BROKENLINKS_PROGRESS_ENABLED = False`` turns it off.

The total is the number of seeds of a ``backlinks`` crawl (``brokenlinks/seeds/pages``),
the pages of a ``recheck`` (``brokenlinks/recheck/pages``), and the pages found so far by a
``site`` crawl (``brokenlinks/site/pages_from/*``).
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call
from tqdm import tqdm

from brokenlinks.checker.checks import LinkChecker
from brokenlinks.config import config_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector
    from scrapy.utils.asyncio import AsyncioLoopingCall
    from twisted.internet.task import LoopingCall

logger = logging.getLogger(__name__)

#: seconds between updates of the terminal line
TERMINAL_INTERVAL = 1.0
#: seconds of history behind the requests-per-second figure
_RATE_WINDOW = 10.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The counts the progress line shows, read from the crawl's stats."""

    pages_done: int
    pages_total: int | None
    targets_checked: int
    dead: int
    requests: int

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> Self:
        """Read a snapshot from crawler stats.

        >>> Snapshot.from_stats({"brokenlinks/seeds/pages": 9, "brokenlinks/pages/crawled": 2,
        ...     "brokenlinks/pages/failed": 1, "downloader/request_count": 40})
        Snapshot(pages_done=3, pages_total=9, targets_checked=0, dead=0, requests=40)
        >>> Snapshot.from_stats({"brokenlinks/site/pages_from/start": 1,
        ...     "brokenlinks/site/pages_from/link": 6}).pages_total
        7
        """

        def count(key: str) -> int:
            return int(stats.get(f"brokenlinks/{key}", 0))

        done = count("pages/crawled") + count("pages/failed") + count("pages/not_html")
        total: int | None = None
        found = [v for k, v in stats.items() if k.startswith("brokenlinks/site/pages_from/")]
        if "brokenlinks/seeds/pages" in stats:
            total = count("seeds/pages")
        elif "brokenlinks/recheck/pages" in stats:
            total = count("recheck/pages")
        elif found:
            total = sum(int(v) for v in found)
        return cls(
            pages_done=done,
            pages_total=None if total is None else max(total, done),
            targets_checked=count("targets/checked"),
            dead=count("verdict_count/dead"),
            requests=int(stats.get("downloader/request_count", 0)),
        )


def progress_line(snap: Snapshot, *, requests_per_second: float, eta: float | None) -> str:
    """The progress as one line of text.

    >>> snap = Snapshot(pages_done=12, pages_total=300, targets_checked=840, dead=37,
    ...                 requests=900)
    >>> progress_line(snap, requests_per_second=41.23, eta=192)
    'referring pages 12/300 (4%), targets checked 840, dead 37, 41.2 requests/s, ETA 03:12'
    >>> progress_line(Snapshot(3, None, 5, 0, 9), requests_per_second=0, eta=None)
    'referring pages 3, targets checked 5, dead 0, 0.0 requests/s'
    """
    if snap.pages_total:
        pages = (
            f"referring pages {snap.pages_done}/{snap.pages_total} "
            f"({100 * snap.pages_done // snap.pages_total}%)"
        )
    else:
        pages = f"referring pages {snap.pages_done}"
    line = (
        f"{pages}, targets checked {snap.targets_checked}, dead {snap.dead}, "
        f"{requests_per_second:.1f} requests/s"
    )
    if eta is not None:
        line += f", ETA {tqdm.format_interval(eta)}"
    return line


def estimate_eta(snap: Snapshot, elapsed: float) -> float | None:
    """Seconds left at the average page rate so far; None when it cannot be told.

    >>> estimate_eta(Snapshot(10, 30, 0, 0, 0), elapsed=20.0)
    40.0
    >>> estimate_eta(Snapshot(0, 30, 0, 0, 0), elapsed=20.0) is None
    True
    >>> estimate_eta(Snapshot(30, 30, 0, 0, 0), elapsed=20.0) is None
    True
    """
    if not snap.pages_total or not snap.pages_done or elapsed <= 0:
        return None
    if snap.pages_done >= snap.pages_total:
        return None  # the last checks: how many are left is not known
    return (snap.pages_total - snap.pages_done) * elapsed / snap.pages_done


class _LineSafeStream:
    """A log handler's stream that clears the progress line around every write."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        with tqdm.external_write_mode(file=self.stream):
            return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        # the rest of the file API (encoding, fileno, ...) is the stream's own
        return getattr(self.stream, name)


def _size() -> tuple[int, int]:
    # a terminal that reports no size (0 x 0, e.g. a bare pty) gets the fallback: tqdm
    # would draw nothing in zero columns or rows
    size = shutil.get_terminal_size((100, 24))
    return size.columns - 1, size.lines


def _console_handlers() -> list[logging.StreamHandler[Any]]:
    return [
        h
        for h in logging.root.handlers
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and getattr(h.stream, "isatty", lambda: False)()
    ]


class CrawlProgress:
    """Show the crawl's progress; see the module docstring."""

    def __init__(self, crawler: Crawler, *, terminal: bool, interval: float) -> None:
        assert crawler.stats is not None
        self.crawler = crawler
        self.stats: StatsCollector = crawler.stats
        self.terminal = terminal
        self.interval = interval
        self.task: AsyncioLoopingCall | LoopingCall | None = None
        self.bar: tqdm[Any] | None = None
        self.started = time.monotonic()
        self.samples: deque[tuple[float, int]] = deque()
        self.wrapped: list[tuple[logging.StreamHandler[Any], IO[str]]] = []
        #: the crawl's checker: its shards' requests count too (in their processes until
        #: the crawl closes); looked up when the spider opens, once every extension exists
        self.checker: LinkChecker | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not config_of(crawler).progress_enabled:
            raise NotConfigured("BROKENLINKS_PROGRESS_ENABLED is off")
        terminal = sys.stderr.isatty()
        interval = (
            TERMINAL_INTERVAL if terminal else crawler.settings.getfloat("LOGSTATS_INTERVAL")
        )
        if interval <= 0:
            raise NotConfigured("not a terminal, and LOGSTATS_INTERVAL is 0")
        ext = cls(crawler, terminal=terminal, interval=interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        # the rate of the first line (after one interval) counts from the start: without
        # this sample it had nothing before it, and every crawl's first log line said 0.0
        self.samples.append((self.started, 0))
        self.checker = self.crawler.get_extension(LinkChecker)
        if self.terminal:
            self.bar = tqdm(
                file=sys.stderr,
                bar_format="{bar:12} {desc}",
                ncols=_size()[0],
                nrows=_size()[1],
                leave=False,
                mininterval=0,
            )
            for handler in _console_handlers():
                old = handler.setStream(_LineSafeStream(handler.stream))
                if old is not None:
                    self.wrapped.append((handler, old))
        self.task = create_looping_call(self.update)
        # the first call waits one interval: nothing has happened at the start
        self.task.start(self.interval, now=self.terminal)

    def line(self) -> tuple[Snapshot, str]:
        now = time.monotonic()
        stats = self.stats.get_stats() if self.checker is None else self.checker.live_stats()
        snap = Snapshot.from_stats(stats)
        self.samples.append((now, snap.requests))
        while len(self.samples) > 2 and now - self.samples[1][0] >= _RATE_WINDOW:  # noqa: PLR2004
            self.samples.popleft()
        then, requests = self.samples[0]
        rate = (snap.requests - requests) / (now - then) if now > then else 0.0
        eta = estimate_eta(snap, now - self.started)
        return snap, progress_line(snap, requests_per_second=rate, eta=eta)

    def update(self) -> None:
        snap, text = self.line()
        if self.bar is None:
            logger.info("Progress: %s", text)
            return
        self.bar.ncols, self.bar.nrows = _size()
        self.bar.total = snap.pages_total or None
        self.bar.n = snap.pages_done
        self.bar.set_description_str(text, refresh=False)
        self.bar.refresh()

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.close_line()

    def engine_stopped(self) -> None:
        self.close_line()

    def close_line(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        for handler, stream in self.wrapped:
            handler.setStream(stream)
        self.wrapped.clear()
