"""The coordinator's side of the check shards on one machine: child processes.

:class:`LocalShards` launches ``count`` shard processes (:mod:`brokenlinks.cluster.node`)
as the crawl is set up (their imports overlap the opening of the crawl's store) and hands
them the crawl's final settings when the spider opens, each with one end of a socket pair,
and sends each target (and each referring page, :mod:`brokenlinks.cluster.middleware`) to
the shard that owns its site (:mod:`brokenlinks.cluster.partition`). Answers come back as
they are ready; the crawl's event loop never blocks on a shard.

A shard that dies (killed, out of memory) is started again once, and what it had not
answered is sent to the new one (a check is idempotent: nothing is stored twice, the
coordinator stores each verdict once). If it dies again, its sites are checked in the
crawl process from then on (:class:`ShardLost`; one WARNING each time).

The shards' stats come back as snapshots (whenever a shard runs out of work, and when it
closes) and are merged into the crawl's when the spider closes: counters are added,
``max`` values kept at their maximum; the coordinator's own counts of verdicts are not
counted twice.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.settings import BaseSettings, default_settings

from brokenlinks.checker.workers import crawls_sharing_cores
from brokenlinks.cluster import wire
from brokenlinks.cluster.partition import shard_of
from brokenlinks.ops.cores import available_cores

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from brokenlinks.checker.verdicts import CheckResult

logger = logging.getLogger(__name__)

_MISSING = object()
#: times each shard is started again after it died
_RESTARTS = 1
#: seconds a shard whose stream ended has to show its exit status
_EXIT_STATUS_WAIT = 0.5
#: robots.txt answers a node keeps (the oldest go first): in a cluster every node reading a
#: site's pages asks for its robots.txt, and the node holding the site answers them all
_ROBOTS_KEPT = 4096
#: seconds a closing shard has to exit before it is killed
_EXIT_WAIT = 10.0
#: stats a shard counts that the coordinator counts itself (verdicts are finished there)
_COUNTED_BY_COORDINATOR = (
    "brokenlinks/targets/checked",
    "brokenlinks/verdict_count/",
    "brokenlinks/reason_count/",
    "brokenlinks/workers/",
    "brokenlinks/shards/",
    # the shards' log lines are logged (and counted) by the crawl
    "log_count/",
)


def shards_for(setting: int, *, cores: int | None = None, crawls: int | None = None) -> int:
    """Check processes for a ``BROKENLINKS_CHECK_SHARDS`` value (1: none, checks in-process).

    0 gives one per core this process may use, shared among Scrapyd's crawls.

    >>> shards_for(3), shards_for(0, cores=8, crawls=1), shards_for(0, cores=2, crawls=4)
    (3, 8, 1)
    """
    if setting > 0:
        return setting
    cores = available_cores() if cores is None else cores
    crawls = crawls_sharing_cores() if crawls is None else crawls
    return max(cores // max(crawls, 1), 1)


class ShardLost(Exception):
    """The shard owning a target died twice: the coordinator checks it itself."""


def merge_stats(into: dict[str, Any], snapshot: dict[str, Any]) -> None:
    """Add a shard's stats snapshot to *into* (counters summed, maxima kept).

    >>> stats = {"downloader/request_count": 3, "brokenlinks/targets/checked": 2}
    >>> merge_stats(stats, {"downloader/request_count": 5, "brokenlinks/targets/checked": 5,
    ...                     "memusage/max": 7, "start_time": "x"})
    >>> stats
    {'downloader/request_count': 8, 'brokenlinks/targets/checked': 2, 'memusage/max': 7}
    """
    for key, value in snapshot.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key.startswith(_COUNTED_BY_COORDINATOR) or key.endswith("elapsed_time_seconds"):
            continue
        if "max" in key.rsplit("/", 1)[-1]:
            into[key] = max(into.get(key, value), value)
        else:
            into[key] = into.get(key, 0) + value


def picklable_settings(settings: BaseSettings) -> dict[str, Any]:
    """The settings that travel to a shard: those not at Scrapy's default, and picklable.

    Defaults stay behind (a shard has them, and deprecated ones would warn once more);
    an object holding the crawler (the browser's request filter) cannot travel. Values
    are not deep-copied (``copy_to_dict`` would copy that object and its crawler, whose
    running tasks cannot be copied): pickling them is the copy.
    """
    out: dict[str, Any] = {}
    for key in settings:
        value = settings[key]
        if isinstance(value, BaseSettings):
            value = value.copy_to_dict()
        if getattr(default_settings, key, _MISSING) == value:
            continue
        try:
            pickle.dumps(value)
        except Exception:  # noqa: BLE001  (whatever a setting holds)
            logger.debug("Setting %(key)s stays in the crawl process", {"key": key})
            continue
        out[key] = value
    return out


@dataclass
class _Shard:
    index: int
    process: subprocess.Popen[bytes]
    writer: asyncio.StreamWriter | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    checks: dict[str, asyncio.Future[CheckResult]] = field(default_factory=dict)
    fetches: dict[int, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = field(
        default_factory=dict
    )
    stats: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    lost: bool = False
    reader: asyncio.Task[None] | None = None


def _exit_status(process: subprocess.Popen[bytes]) -> int | None:
    """A dying shard's exit status; None if it lives on with its socket closed (killed later)."""
    try:
        # its stream ends as it dies: the kernel may not have its exit status yet
        return process.wait(_EXIT_STATUS_WAIT)
    except subprocess.TimeoutExpired:
        return None


class LocalShards:
    """Check shards in child processes of this crawl (see the module docstring)."""

    def __init__(self, crawler: Crawler, count: int) -> None:
        self.crawler = crawler
        self.count = count
        self.closing = False
        self._shards: list[_Shard] = []
        #: the last stats of shards that died and were started again (merged at close)
        self._retired: list[dict[str, Any]] = []
        #: robots.txt answers are shared only in a cluster (``cluster.remote`` sets it): one
        #: crawl process alone asks once per site, and keeping its answers would only cost
        self.share_robots = False
        #: robots.txt URL → its download's outcome (shared by every asker)
        self._robots: OrderedDict[str, asyncio.Future[dict[str, Any]]] = OrderedDict()
        self._settings = b""
        self._rids = itertools.count()
        self._started = False
        #: shard processes launched before the crawl's settings were final (see launch())
        self._launched: list[tuple[subprocess.Popen[bytes], socket.socket]] = []
        self._tmp = ""
        #: messages waiting for their shard to connect (references keep the tasks alive)
        self._waiting: set[asyncio.Future[None]] = set()
        self._reaper: asyncio.Future[None] | None = None

    # -- life ---------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the shard processes' interpreters (their settings come with :meth:`start`).

        Called as the crawl is set up: a shard's imports (Scrapy, Twisted, the checker:
        about a second and a half of CPU) then run while the crawl opens its store, instead
        of after it. A process launched and never started reads no settings and exits.
        """
        if self._tmp:
            return
        self._tmp = tempfile.mkdtemp(prefix="brokenlinks-shards-")
        self._launched = [self._launch(index) for index in range(self.count)]
        atexit.register(self._kill_all)

    def start(self) -> None:
        """Start every shard process (they connect in the background)."""
        if self._started:
            return
        self._started = True
        # the crawl's final settings (what the shards run with), pickled once per crawl
        self._settings = pickle.dumps(
            picklable_settings(self.crawler.settings),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        self.launch()
        self._shards = [
            self._connect(index, *launched) for index, launched in enumerate(self._launched)
        ]
        self._launched = []
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("brokenlinks/shards/processes", self.count)
        logger.info("Checking links in %(n)d shard processes", {"n": self.count})

    def _spawn(self, index: int, restarts: int = 0) -> _Shard:
        return self._connect(index, *self._launch(index), restarts=restarts)

    def _launch(self, index: int) -> tuple[subprocess.Popen[bytes], socket.socket]:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # the shard imports what this process imports (a Scrapyd egg included)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        # the shards' temporary files (spilled verdicts) in a directory the crawl removes,
        # even when it has to kill them
        env["TMPDIR"] = self._tmp
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "brokenlinks.cluster.node",
                "--fd",
                str(theirs.fileno()),
                "--index",
                str(index),
                "--count",
                str(self.count),
            ],
            stdin=subprocess.PIPE,
            pass_fds=(theirs.fileno(),),
            env=env,
        )
        theirs.close()
        return process, ours

    def _connect(
        self,
        index: int,
        process: subprocess.Popen[bytes],
        ours: socket.socket,
        *,
        restarts: int = 0,
    ) -> _Shard:
        assert process.stdin is not None
        try:
            process.stdin.write(self._settings)
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died already: its stream ends at once, and it is started again
        shard = _Shard(index, process, restarts=restarts)
        shard.reader = asyncio.ensure_future(self._read(shard, ours))
        return shard

    async def _read(self, shard: _Shard, sock: socket.socket) -> None:
        reader, shard.writer = await asyncio.open_connection(sock=sock)
        shard.connected.set()
        while (message := await wire.receive(reader)) is not None:
            self._dispatch(shard, message)
        if not self.closing:
            await self._died(shard)

    def _dispatch(self, shard: _Shard, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "result":
            future = shard.checks.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result(message[2])
        elif kind == "stopped":
            # checks.py imports this module: its exception is looked up when needed
            from brokenlinks.checker.checks import ChecksStopped  # noqa: PLC0415

            future = shard.checks.pop(message[1], None)
            if future is not None and not future.done():
                future.set_exception(ChecksStopped(message[1]))
        elif kind == "fetched":
            entry = shard.fetches.pop(message[1], None)
            if entry is not None and not entry[1].done():
                entry[1].set_result({"response": message[2], "error": message[3]})
        elif kind == "stats":
            shard.stats = message[1]
        elif kind == "log":
            fields = dict(message[1])
            fields["msg"] = f"[shard {shard.index + 1}/{self.count}] {fields['msg']}"
            record = logging.makeLogRecord(fields)
            logging.getLogger(record.name).handle(record)

    async def _died(self, shard: _Shard) -> None:
        """A shard's stream ended before the crawl closed it: start it again, or give up.

        Checks sent to it meanwhile are in ``shard.checks`` and go to its successor.
        """
        code = await asyncio.to_thread(_exit_status, shard.process)
        if self.closing:
            return
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("brokenlinks/shards/died")
        if shard.restarts < _RESTARTS:
            logger.warning(
                "Check shard %(i)d died (exit status %(code)s): starting it again",
                {"i": shard.index + 1, "code": code},
            )
            new = self._spawn(shard.index, shard.restarts + 1)
            self._shards[shard.index] = new
            self._retired.append(shard.stats)
            # what the dead shard had not answered goes to the new one
            for url, future in shard.checks.items():
                new.checks[url] = future
                self._send(new, ("check", url))
            for rid, (state, fetched) in shard.fetches.items():
                new.fetches[rid] = (state, fetched)
                self._send(new, ("fetch", rid, state))
            return
        logger.warning(
            "Check shard %(i)d died again (exit status %(code)s): its sites are checked in "
            "the crawl process from now on",
            {"i": shard.index + 1, "code": code},
        )
        shard.lost = True
        for future in shard.checks.values():
            if not future.done():
                future.set_exception(ShardLost())
        for _, fetched in shard.fetches.values():
            if not fetched.done():
                fetched.set_exception(ShardLost())
        shard.checks.clear()
        shard.fetches.clear()

    def _send(self, shard: _Shard, message: tuple[Any, ...]) -> None:
        if shard.writer is not None and not shard.writer.is_closing():
            wire.write(shard.writer, message)
        else:
            waiting = asyncio.ensure_future(self._send_when_connected(shard, message))
            self._waiting.add(waiting)
            waiting.add_done_callback(self._waiting.discard)

    async def _send_when_connected(self, shard: _Shard, message: tuple[Any, ...]) -> None:
        await shard.connected.wait()
        if shard.writer is not None and not shard.writer.is_closing():
            wire.write(shard.writer, message)

    # -- the coordinator's calls --------------------------------------------------------

    def owner(self, url: str) -> _Shard | None:
        """The live shard owning *url*'s site (``None`` once it is lost)."""
        shard = self._shards[shard_of(url, self.count)]
        return None if shard.lost else shard

    async def check(self, url: str) -> CheckResult:
        """The verdict of *url*, checked by its shard; :class:`ShardLost` if it is gone."""
        shard = self.owner(url)
        if shard is None or self.closing:
            raise ShardLost
        future = shard.checks.get(url)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            shard.checks[url] = future
            self._send(shard, ("check", url))
        return await asyncio.shield(future)

    async def settle(self, result: CheckResult) -> CheckResult:
        """A verdict decided without a request: on one machine, the crawl's own."""
        return result

    async def fetch(self, request: Request) -> Response:
        """Download *request* (a referring page) in the shard of its site."""
        outcome = await self.fetch_state(wire.request_state(request))
        if outcome["error"] is not None:
            raise wire.error_from_state(outcome["error"])
        return wire.response_from_state(outcome["response"], request)

    async def fetch_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Download a request given as :func:`wire.request_state`; the outcome as data.

        ``{"response": response_state or None, "error": error_state or None}``: what a
        node of a cluster sends back to the node whose page it was (``cluster.remote``).
        A site's robots.txt (and where it redirects) is downloaded once, whichever nodes
        ask for it (Scrapy's ``RobotsTxtMiddleware`` asks once per crawl process).
        """
        if not (self.share_robots and state.get("robots")):
            return await self._fetch_state(state)
        url = state["url"]
        known = self._robots.get(url)
        if known is None:
            known = asyncio.ensure_future(self._fetch_state(state))
            self._robots[url] = known
            known.add_done_callback(lambda done: self._forget_lost(url, done))
            if len(self._robots) > _ROBOTS_KEPT:
                self._robots.popitem(last=False)
        else:
            self._robots.move_to_end(url)
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("brokenlinks/cluster/robots_shared")
        # shielded: one asker cancelled (its crawl stopping) does not cancel the others'
        return await asyncio.shield(known)

    def _forget_lost(self, url: str, done: asyncio.Future[dict[str, Any]]) -> None:
        if (done.cancelled() or done.exception() is not None) and self._robots.get(url) is done:
            del self._robots[url]  # its shard was lost: the next asker downloads it

    async def _fetch_state(self, state: dict[str, Any]) -> dict[str, Any]:
        shard = self.owner(state["url"])
        if shard is None or self.closing:
            raise ShardLost
        rid = next(self._rids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        shard.fetches[rid] = (state, future)
        self._send(shard, ("fetch", rid, state))
        return await future

    def stop(self) -> None:
        """The crawl is stopping: every shard abandons its checks (each answers ``stopped``)."""
        for shard in self._shards:
            self._send(shard, ("stop",))

    def live_stats(self) -> dict[str, Any]:
        """The crawl's stats with the shards' last snapshots added (what progress shows).

        Once the shards are closing their stats are in the crawl's already.
        """
        stats = self.crawler.stats
        assert stats is not None
        merged = dict(stats.get_stats())
        if not self.closing:
            for snapshot in [*self._retired, *(shard.stats for shard in self._shards)]:
                merge_stats(merged, snapshot)
        return merged

    def close(self) -> None:
        """Merge the shards' last stats into the crawl's and let the shards exit."""
        if self.closing:
            return
        stats = self.crawler.stats
        assert stats is not None
        stats.set_stats(self.live_stats())
        self.closing = True
        for shard in self._shards:
            self._send(shard, ("close",))
        for process, ours in self._launched:
            # launched, never started: no settings come, and it exits
            assert process.stdin is not None
            with contextlib.suppress(OSError):
                process.stdin.close()
            ours.close()
        self._reaper = asyncio.ensure_future(asyncio.to_thread(self._reap))

    def _reap(self) -> None:
        """Wait (in a thread) for the shards to exit; kill those that take too long."""
        deadline = time.monotonic() + _EXIT_WAIT
        for process in self._processes():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0))
        # in a thread: the processes only (their streams belong to the event loop)
        self._kill_shards(close_streams=False)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _kill_all(self) -> None:
        self._kill_shards()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _processes(self) -> list[subprocess.Popen[bytes]]:
        """Every shard process: started ones and those launched and never started."""
        return [shard.process for shard in self._shards] + [p for p, _ in self._launched]

    def _kill_shards(self, *, close_streams: bool = True) -> None:
        for process in self._processes():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        if close_streams:
            for shard in self._shards:
                if shard.writer is not None:
                    shard.writer.close()
