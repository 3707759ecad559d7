"""Keep Python's cyclic garbage collector from rescanning a crawl's heap every few requests.

CPython's cyclic collector runs a young (generation 0) collection each time 700 more
container objects have been made than freed, an older one every 10 of those and a full
one (generation 2, every tracked object) every 10 of the older ones. A crawl makes and
frees objects fast, so full collections came every couple of seconds, and each scanned
the whole heap: the few hundred thousand objects the process holds from its start (the
modules, classes and functions of Scrapy, Twisted, SQLAlchemy, lxml...) and everything
the crawl holds (queued referring pages, verdicts). The larger the web, the larger the
heap and the dearer each full collection, at the same rate: the collector took 22% of the
crawl process's CPU at scale 1, and its full collections scanned a median of 389,000
objects at scale 3 and 449,000 at scale 10, which is why CPU per request grew with scale
(docs/benchmark.md, "Why CPU per request grows with scale").

:class:`GarbageCollectorTuning`, when the engine starts:

- moves what the process holds then into the collector's permanent generation
  (:func:`gc.freeze`), which collections skip; objects made later are collected as before;
- raises the young generation's threshold to :data:`YOUNG_THRESHOLD` (10,000), so that a
  collection is due after 10,000 more objects made than freed, not 700. Most of a
  request's objects are freed by reference counting long before that, and collections
  become rare. Cycles are still collected, a little later.

When the crawl's engine stops, the objects are unfrozen and the threshold restored, once
no other crawl of the process is running.

Stats: ``brokenlinks/gc/frozen`` (objects frozen at the start). Switched off like any
extension: ``EXTENSIONS = {"brokenlinks.extensions.gctuning.GarbageCollectorTuning": None}``.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, ClassVar, Self

from scrapy import signals

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

#: container objects made (net of those freed) between two young collections while a crawl
#: runs (CPython's default: 700)
YOUNG_THRESHOLD = 10_000


def tuned_threshold(threshold: tuple[int, int, int]) -> tuple[int, int, int]:
    """The collector's thresholds for a crawl: the young one raised, never lowered.

    >>> tuned_threshold((700, 10, 10))
    (10000, 10, 10)
    >>> tuned_threshold((50000, 20, 10))
    (50000, 20, 10)

    0 (collection disabled) stays disabled:

    >>> tuned_threshold((0, 10, 10))
    (0, 10, 10)
    """
    young, middle, old = threshold
    if young == 0:
        return threshold
    return max(young, YOUNG_THRESHOLD), middle, old


class GarbageCollectorTuning:
    """Extension: freeze the start-up and collect young objects less often while the engine runs."""

    #: crawls of this process whose engine runs with the collector tuned
    _running: ClassVar[int] = 0
    #: the thresholds before the first of them started
    _saved: ClassVar[tuple[int, int, int] | None] = None

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.tuned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.engine_started, signal=signals.engine_started)
        crawler.signals.connect(ext.engine_stopped, signal=signals.engine_stopped)
        return ext

    def engine_started(self) -> None:
        # No collection first: it would hold the loop for a full collection's time (the
        # start-up leaves a few dozen garbage objects, not worth it), and a checker that
        # polls engine.running could take the pause for a stop.
        gc.freeze()
        cls = GarbageCollectorTuning
        if not cls._running:
            cls._saved = gc.get_threshold()
            gc.set_threshold(*tuned_threshold(cls._saved))
        cls._running += 1
        self.tuned = True
        if self.crawler.stats is not None:
            self.crawler.stats.set_value("brokenlinks/gc/frozen", gc.get_freeze_count())

    def engine_stopped(self) -> None:
        if not self.tuned:
            return
        self.tuned = False
        cls = GarbageCollectorTuning
        cls._running -= 1
        if not cls._running:
            gc.unfreeze()
            if cls._saved is not None:
                gc.set_threshold(*cls._saved)
                cls._saved = None
