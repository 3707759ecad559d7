"""The crawl's CPU-heavy pure work in worker processes, so that a crawl uses every core.

CPython runs one core per process, and a crawl is CPU-bound: a link check is a few
milliseconds of Python. Two pieces of that work are pure functions of a page's text,
with no network, no reactor and no shared state: extracting a referring page's links
(``brokenlinks.parsing.extract.extract_page``) and reading a fetched body into soft-404 signals
and parked-domain markers (:func:`read_body`). :class:`WorkerPool` runs them in a
``concurrent.futures.ProcessPoolExecutor``; everything else (downloads, politeness, the
network guard, verdicts, items, the store) stays in the crawl process, so each target is
still checked once and each host's concurrency limit holds as before.

Why a pool and not N crawler processes splitting the web by host: a referring page's
links point at any host, so split crawlers would have to send every target to the
process owning its host and wait for the verdict, and each would need its own feed
exports merged afterwards; the pool needs none of that, works unchanged under Scrapyd,
and moves the work that does not depend on where it runs.

The workers are forked from a ``forkserver`` that has imported only the page-reading
modules (lxml, ada-url, the project's extract/soft404/parked), not Scrapy, Twisted or
SQLAlchemy: each worker is ~40 MB, and forking from it is safe where forking the
threaded crawl process is not. The pool starts when the spider opens, in the
background; jobs run in the crawl process until the workers answer. A worker that dies (killed, out of memory) breaks the pool:
the crawl logs one warning and does the work in its own process from then on.

``BROKENLINKS_WORKERS``: processes sharing the work, the crawl's own included; 1 does
everything in the crawl process (jobs go to a thread, as before), N adds N - 1 workers,
0 (the default) is the number of CPU cores this process may use.
Stats: ``brokenlinks/workers/processes``, ``brokenlinks/workers/jobs``,
``brokenlinks/workers/broken``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, TypeVar

from scrapy.utils.asyncio import run_in_thread

from brokenlinks.judge import parked, soft404

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: what the fork server imports once, so that each forked worker starts ready
_PRELOAD = ("brokenlinks.parsing.extract", "brokenlinks.judge.soft404", "brokenlinks.judge.parked")


def read_body(
    markup: str, url: str, redirected: bool
) -> tuple[soft404.PageSignals, parked.ParkedMatch | None]:
    """Read one fetched body into its soft-404 signals and parked-domain markers.

    >>> signals, lander = read_body("<title>x.test</title><p>This domain may be for sale</p>",
    ...                             "http://x.test/", False)
    >>> signals.title, lander.service
    ('x.test', 'GoDaddy')
    """
    signals = soft404.page_signals(markup, url, redirected=redirected)
    return signals, parked.parked_by_markup(signals.title, signals.text, markup)


def _exit_with(crawl: int) -> None:
    """Worker start-up: exit as soon as the crawl process *crawl* does, however it ends.

    A killed crawl cannot stop its workers, and they would wait for jobs forever: the
    fork server is their parent, and it stays up as long as any of them does. A daemon
    thread waits on a pidfd of the crawl (Linux 5.3+; elsewhere it polls every second).
    """

    def watch() -> None:
        try:
            fd = os.pidfd_open(crawl)
        except ProcessLookupError:
            os._exit(0)
        except (AttributeError, OSError):
            while _alive(crawl):
                time.sleep(1)
            os._exit(0)
        select.select([fd], [], [])
        os._exit(0)

    threading.Thread(target=watch, name="brokenlinks-crawl-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    return True


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def processes_for(setting: int) -> int:
    """Worker processes for a ``BROKENLINKS_WORKERS`` value (the crawl's own counted).

    >>> processes_for(1), processes_for(4)
    (0, 3)
    """
    total = setting if setting > 0 else available_cores()
    return max(total - 1, 0)


class WorkerPool:
    """Runs pure functions in worker processes (or, without workers, in a thread).

    The workers start when the spider opens (or with the first job), in a thread:
    starting the fork server and forking from it takes a second or so, while robots.txt
    and the first pages download; the crawl must not stall (nor hold its pages)
    meanwhile, so jobs run in a thread of the crawl process until the workers answer.
    Owned by the crawl's :class:`~brokenlinks.checker.checks.LinkChecker`, which starts it when
    the spider opens and closes it when the spider closes.
    """

    def __init__(self, processes: int, stats: StatsCollector | None = None) -> None:
        self.processes = processes
        self.stats = stats
        #: set once every worker has answered
        self._executor: ProcessPoolExecutor | None = None
        self._starting: asyncio.Future[None] | None = None
        #: no workers, or no more (closed, or one died): run in a thread
        self._inline = processes == 0
        if stats is not None:
            stats.set_value("brokenlinks/workers/processes", processes)

    def _start(self) -> None:
        """Start the workers and wait until each has answered (in a thread)."""
        context = multiprocessing.get_context("forkserver")
        # set before the server starts; harmless once it runs (one server per process)
        context.set_forkserver_preload(list(_PRELOAD))
        executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_exit_with,
            initargs=(os.getpid(),),
        )
        try:
            # one job per worker, each spawning one: all of them up before the first real job
            for done in [executor.submit(os.getpid) for _ in range(self.processes)]:
                done.result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        if self._inline:  # closed meanwhile
            executor.shutdown(wait=False, cancel_futures=True)
        else:
            self._executor = executor

    async def _warm_up(self) -> None:
        try:
            await run_in_thread(self._start)
        except (BrokenProcessPool, OSError) as e:
            self._give_up(e)

    def _give_up(self, error: BaseException) -> None:
        logger.warning(
            "A worker process died (%(error)s): the crawl reads pages in its own "
            "process from now on",
            {"error": error},
        )
        if self.stats is not None:
            self.stats.set_value("brokenlinks/workers/broken", 1)
        self.close()

    def start(self) -> None:
        """Start the workers in the background, if there are any and they are not started."""
        if not self._inline and self._starting is None:
            self._starting = asyncio.ensure_future(self._warm_up())

    async def run(self, func: Callable[..., _T], *args: object) -> _T:
        """Return ``func(*args)``, computed in a worker process when there are workers.

        *func* must be a module-level function and its arguments and result picklable.
        """
        executor = self._executor
        if self._inline or executor is None:
            self.start()
            return await run_in_thread(func, *args)
        try:
            result = await asyncio.wrap_future(executor.submit(func, *args))
        except BrokenProcessPool as e:
            if self._executor is executor:
                self._give_up(e)
            return await run_in_thread(func, *args)
        if self.stats is not None:
            self.stats.inc_value("brokenlinks/workers/jobs")
        return result

    async def ready(self) -> bool:
        """Start the workers if they are not yet; whether jobs now go to them."""
        self.start()
        if self._starting is not None:
            await asyncio.shield(self._starting)
        return self._executor is not None

    def close(self) -> None:
        """Stop the workers; a job still running finishes, queued ones are dropped."""
        executor, self._executor = self._executor, None
        self._inline = True
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
