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
background; jobs run in the crawl process until the workers answer. A worker that dies
(killed, out of memory) breaks the pool: it is built again once (one WARNING); if that
one breaks too, the crawl logs a second WARNING and does the work in its own process from
then on. Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the crawl
stops them itself when it has stopped.

``BROKENLINKS_WORKERS``: processes sharing the work, the crawl's own included; 1 does
everything in the crawl process (a job runs on the event loop, or in a thread when it
reads more than ``INLINE_CHARS`` characters), N adds N - 1 workers,
0 (the default) shares the CPU cores this process may use (its affinity, capped by its
cgroup's CPU limit: :mod:`brokenlinks.ops.cores`) among the crawls that run
side by side on the machine: one outside Scrapyd, ``SCRAPYD_CRAWLS`` (the ``max_proc``
of ``deploy/scrapyd.conf``) in a Scrapyd job (``SCRAPY_JOB`` in the environment), so that
four jobs on an 8-core node use 8 processes, not 4 x 8.
Stats: ``brokenlinks/workers/processes``, ``brokenlinks/workers/jobs``,
``brokenlinks/workers/broken``, ``brokenlinks/workers/rebuilt``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, TypeVar

from scrapy.utils.asyncio import run_in_thread

from brokenlinks.judge import parked, soft404
from brokenlinks.ops.cores import available_cores

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: crawls that share a Scrapyd node's cores: ``max_proc`` in deploy/scrapyd.conf
SCRAPYD_CRAWLS = 4
#: times a broken pool is built again before the crawl does the work itself
_REBUILDS = 1
#: without workers, a job on fewer characters runs on the event loop itself (2 to 3 ms
#: of reading at most); a larger one runs in a thread. A thread does not run beside the
#: loop (the GIL) and its hand-off cost a check shard 0.5 ms of CPU a body, more than
#: reading an 18 KB body (0.9 ms on the benchmark web) took; it only keeps a long job
#: from stalling the loop's other work.
INLINE_CHARS = 50_000

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
    return signals, parked.parked_by_markup(signals.title, signals.text, markup, normalised=True)


def _exit_with(crawl: int) -> None:
    """Worker start-up: exit as soon as the crawl process *crawl* does, however it ends.

    A killed crawl cannot stop its workers, and they would wait for jobs forever: the
    fork server is their parent, and it stays up as long as any of them does. A daemon
    thread waits on a pidfd of the crawl (Linux 5.3+; elsewhere it polls every second).
    Ctrl-C is the crawl's to handle (it stops gracefully, then stops its workers): a
    worker killed by the terminal's SIGINT would break the pool under the running crawl.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

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


def crawls_sharing_cores(environ: Mapping[str, str] | None = None) -> int:
    """How many crawls share this machine's cores: ``SCRAPYD_CRAWLS`` under Scrapyd, else 1.

    >>> crawls_sharing_cores({}), crawls_sharing_cores({"SCRAPY_JOB": "2f0c"})
    (1, 4)
    """
    job = (os.environ if environ is None else environ).get("SCRAPY_JOB")
    return SCRAPYD_CRAWLS if job else 1


def processes_for(setting: int, *, cores: int | None = None, crawls: int | None = None) -> int:
    """Worker processes for a ``BROKENLINKS_WORKERS`` value (the crawl's own counted).

    0 shares *cores* (those this process may use) among *crawls* (see
    :func:`crawls_sharing_cores`).

    >>> processes_for(1), processes_for(4)
    (0, 3)
    >>> processes_for(0, cores=8, crawls=1), processes_for(0, cores=8, crawls=4)
    (7, 1)
    >>> processes_for(0, cores=2, crawls=4)
    0
    """
    if setting > 0:
        return setting - 1
    cores = available_cores() if cores is None else cores
    crawls = crawls_sharing_cores() if crawls is None else crawls
    return max(cores // max(crawls, 1) - 1, 0)


class WorkerPool:
    """Runs pure functions in worker processes (or, without workers, on the loop or in a thread).

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
        #: no workers, or no more (closed, or broken past rebuilding): run in a thread
        self._inline = processes == 0
        #: guards the hand-over of a started executor (a thread) against close() (the loop)
        self._lock = threading.Lock()
        self._rebuilds_left = _REBUILDS
        if stats is not None:
            stats.set_value("brokenlinks/workers/processes", processes)

    def _start(self) -> None:
        """Start the workers and wait until each has answered (in a thread)."""
        if self._inline:
            return  # closed before the thread ran
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
        with self._lock:
            # close() may run at any point of this thread: under the lock it either
            # comes first (and this executor is shut down here) or finds it installed
            closed = self._inline
            if not closed:
                self._executor = executor
        if closed:
            executor.shutdown(wait=False, cancel_futures=True)

    async def _warm_up(self) -> None:
        try:
            await run_in_thread(self._start)
        except (BrokenProcessPool, OSError) as e:
            self._broken(None, e)

    def _broken(self, executor: ProcessPoolExecutor | None, error: BaseException) -> None:
        """A worker died: build the pool again once, then give up on workers."""
        if self._inline or self._executor is not executor:
            return  # closed, or another job saw this break first
        if self.stats is not None:
            self.stats.inc_value("brokenlinks/workers/broken")
        if self._rebuilds_left > 0:
            self._rebuilds_left -= 1
            logger.warning(
                "A worker process died (%(error)s): starting the workers again",
                {"error": error},
            )
            if self.stats is not None:
                self.stats.inc_value("brokenlinks/workers/rebuilt")
            with self._lock:
                self._executor = None
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
            self._starting = asyncio.ensure_future(self._warm_up())
            return
        logger.warning(
            "A worker process died again (%(error)s): the crawl reads pages in its own "
            "process from now on",
            {"error": error},
        )
        self.close()

    def start(self) -> None:
        """Start the workers in the background, if there are any and they are not started."""
        if not self._inline and self._starting is None:
            self._starting = asyncio.ensure_future(self._warm_up())

    async def run(self, func: Callable[..., _T], *args: object, size: int | None = None) -> _T:
        """Return ``func(*args)``, computed in a worker process when there are workers.

        *func* must be a module-level function and its arguments and result picklable.
        *size*: the characters the job reads; without workers, a job under
        :data:`INLINE_CHARS` runs on the loop instead of in a thread.
        """
        executor = self._executor
        if self._inline or executor is None:
            self.start()
            if size is not None and size < INLINE_CHARS:
                return func(*args)
            return await run_in_thread(func, *args)
        try:
            result = await asyncio.wrap_future(executor.submit(func, *args))
        except BrokenProcessPool as e:
            self._broken(executor, e)
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
        with self._lock:
            executor, self._executor = self._executor, None
            self._inline = True
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
