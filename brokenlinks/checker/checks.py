"""The single link-check mechanism every spider uses.

Each distinct target URL is checked once per crawl: concurrent callers share one task
(Scrapy's advice: cache the task, not only its result) and later callers get the stored
result (past ``BROKENLINKS_VERDICTS_IN_MEMORY`` results, from a spill on disk:
``brokenlinks.checker.spill``). A check sends HEAD first and confirms anything but a
clear 2xx with GET (a host where HEAD never settles a check gets GET first: ``HeadUse``);
it follows redirects itself, so that it keeps the chain, resolves ``Location`` the way
browsers do, and stops a loop on its third visit to a URL instead of after
``REDIRECT_MAX_TIMES`` round trips. Requests go through ``engine.download_async``, so
retries (``RETRY_TIMES``, ``RETRY_HTTP_CODES``), per-host concurrency, the network guard
and stats all apply; robots.txt does not (one check of a link is a click, not a crawl).
GET bodies are read only up to ``BROKENLINKS_MAX_BODY_BYTES``.

A 2xx is not the end of it: soft 404s and parked domains answer 200 too. Each host is
probed once per crawl with a URL that cannot exist (a shared task, like the checks). A
host that answers the probe with a 4xx is honest: a 2xx HEAD there is trusted. Elsewhere
(and wherever a deep URL was redirected to a home page) the target is read with GET and
judged by ``brokenlinks.judge.botwall`` (challenge pages: blocked), ``brokenlinks.judge.parked``
(markers, redirects to marketplaces, parking addresses: dead ``parked``) and
``brokenlinks.judge.soft404`` (compared with the probe's answer: dead ``soft_404``). A redirect
to a domain marketplace, or to the host's own ``/lander``, is decided on its ``Location``,
without fetching the lander. A redirect to a non-web URL (``ftp:``, ``file:``) is dead
(browsers fail it); a 3xx that is no redirect (300, or no ``Location``) is judged like a
200 (browsers show its body). A deep URL redirected to a language home (``/en/``) is a
soft 404 only if the site's ``/`` leads there too (looked up once per origin).

A dead verdict whose reason can be the crawl's own doing (a timeout, a refused or reset
connection, a 5xx, a TLS handshake that timed out: ``verdicts.needs_confirmation``) is not
final yet: it is checked once more, without retries, and the pages linking to it wait for
that. *Early*, during the crawl: ``BROKENLINKS_CONFIRM_DELAY`` after the failure, once its
host and the host's address have nothing of the crawl in flight (the host's places are
then held) and the event loop keeps up; a 5xx or a refusal is then final, a timeout or
reset only if the host answered a control request sent with it. Else in a *confirmation
pass*: once the crawl is quiet (nothing in the downloader), the engine is paused and each
waiting target is checked once more, one at a time per host. Either way
``BROKENLINKS_CONFIRM_CONCURRENCY`` hosts at once; the last verdict is the target's.

Settings: ``BROKENLINKS_HEAD_FIRST``, ``BROKENLINKS_MAX_BODY_BYTES``,
``BROKENLINKS_SOFT404_PROBE``, ``BROKENLINKS_VERDICTS_IN_MEMORY``,
``BROKENLINKS_CONFIRM_ENABLED``, ``BROKENLINKS_CONFIRM_EARLY``, ``BROKENLINKS_CONFIRM_DELAY``,
``BROKENLINKS_CONFIRM_CONCURRENCY``, ``REDIRECT_MAX_TIMES``.
Stats: ``brokenlinks/confirm/{queued,early,left_to_pass,passes,checked,confirmed,overturned}``,
``brokenlinks/hosts/get_first`` (hosts turned to GET first by their wasted HEADs).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import Counter
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from scrapy import Request, signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    StopDownload,
)
from scrapy.http import TextResponse
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.asyncio import create_looping_call

from brokenlinks.checker import verdicts
from brokenlinks.checker.spill import VerdictMemory
from brokenlinks.checker.verdicts import CheckResult, Kind, Reason, Verdict
from brokenlinks.checker.workers import WorkerPool, processes_for, read_body
from brokenlinks.cluster.local import LocalShards, ShardLost, shards_for
from brokenlinks.config import BrokenlinksConfig, config_of
from brokenlinks.downloadermiddlewares.retry import META_CONFIRMED_LATER, META_RETRY_AFTER
from brokenlinks.judge import parked, soft404
from brokenlinks.judge.botwall import detect_bot_wall
from brokenlinks.net import guard
from brokenlinks.net.downloader import PoliteDownloader
from brokenlinks.parsing.urls import host_of, is_http, origin_of, resolve_href

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from scrapy.settings import Settings
    from scrapy.statscollectors import StatsCollector

    from brokenlinks.cluster.remote import RedisShards

logger = logging.getLogger(__name__)

#: meta key marking a link-check request (bool)
META_CHECK = "brokenlinks_check"
_META_BYTES = "_brokenlinks_body_bytes"
#: a URL visited this many times within one chain is a loop (twice can be a cookie dance)
_LOOP_VISITS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: failures a GET would repeat: no need to try it after a failed HEAD
_CONCLUSIVE_FAILURES = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
#: a host where HEAD was followed by a GET of the same URL this many times, and never
#: settled a check alone, is checked with GET first from then on (see ``HeadUse``)
HEAD_WASTED_LIMIT = 3
_TEXT_TYPES = (b"text/", b"application/xhtml", b"application/xml", b"application/json")
#: seconds between two looks at whether the crawl is being stopped
_STOP_POLL = 0.2
#: seconds between two looks at the downloader, waiting for the crawl to be quiet
_QUIET_POLL = 0.2
#: looks in a row that must find the downloader empty before a confirmation pass
_QUIET_LOOKS = 2
#: hosts whose last answering address is remembered (hosts sharing one wait for each other)
_ADDRESSES_KEPT = 4096


class HeadUse:
    """Per origin, whether a HEAD still earns its request.

    HEAD saves a body where its answer settles the check: a 2xx on a host whose probe
    got a 4xx. Elsewhere every HEAD is followed by a GET of the same URL: on hosts that
    refuse HEAD (405, 501, a dropped connection), on hosts whose 2xx needs its body
    read (soft-404 sites, catch-all redirects to the home page or a search, parked
    domains), behind bot walls (403), and for every target a host answers with an
    error. An origin whose HEADs needed a GET :data:`HEAD_WASTED_LIMIT` times, none
    having settled a check alone, is checked with GET first: the same verdicts, one
    request each instead of two. An origin where a HEAD has settled a check keeps HEAD.

    >>> use = HeadUse()
    >>> [use.wasted(f"http://catchall.test/{i}") for i in range(HEAD_WASTED_LIMIT)]
    [False, False, True]
    >>> use.wanted("http://catchall.test/b"), use.wanted("http://other.test/")
    (False, True)
    >>> use.settled("http://honest.test/a")
    >>> [use.wasted(f"http://honest.test/{i}") for i in range(HEAD_WASTED_LIMIT)]
    [False, False, False]
    >>> use.wanted("http://honest.test/e")
    True
    """

    #: the count of an origin where HEAD has settled a check
    _SETTLED = -1

    def __init__(self, limit: int = HEAD_WASTED_LIMIT) -> None:
        self.limit = limit
        #: origin → HEADs that needed a GET there, or _SETTLED
        self._wasted: dict[str, int] = {}

    def wanted(self, url: str) -> bool:
        """Tell whether a check of *url* starts with HEAD."""
        return self._wasted.get(origin_of(url), 0) < self.limit

    def settled(self, url: str) -> None:
        """A HEAD of *url* settled its check."""
        self._wasted[origin_of(url)] = self._SETTLED

    def wasted(self, url: str) -> bool:
        """A HEAD of *url* needed a GET; True when its origin turns to GET first now."""
        origin = origin_of(url)
        count = self._wasted.get(origin, 0)
        if count == self._SETTLED or count >= self.limit:
            return False
        self._wasted[origin] = count + 1
        return count + 1 == self.limit


@dataclass(slots=True)
class _Gate:
    semaphore: asyncio.Semaphore
    #: checks holding or waiting for a place
    users: int = 0


class HostGates:
    """At most *size* checks of one host in the downloader at once; the rest wait here.

    A check waiting here has not chosen its request yet, so it is sent with what its
    host has taught by then (:class:`HeadUse`), not with what was known when the page
    linking to it was read: a page's twenty links to one host would otherwise all be
    queued as HEAD in the host's download slot before its first answer. The downloader
    still enforces every limit; a host's places are its download slot's concurrency
    (*sizes*, from ``DOWNLOAD_SLOTS``, else *size*: ``CONCURRENT_REQUESTS_PER_DOMAIN``),
    so the slot is kept as full as before. A host's gate exists while checks use it.
    """

    def __init__(self, size: int, sizes: dict[str, int] | None = None) -> None:
        self.size = size
        self.sizes = sizes or {}
        self._gates: dict[str, _Gate] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> HostGates:
        """The places Scrapy's downloader gives each host's slot."""
        size = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        sizes = {
            key: int(slot["concurrency"])
            for key, slot in settings.getdict("DOWNLOAD_SLOTS").items()
            if isinstance(slot, dict) and slot.get("concurrency")
        }
        return cls(size, sizes)

    def __len__(self) -> int:
        return len(self._gates)

    def hosts(self) -> set[str]:
        """The hosts with a check in the downloader or waiting for a place."""
        return set(self._gates)

    def hold(self, host: str) -> Callable[[], None]:
        """Hold every place of *host*, which no check uses now; return what releases them.

        Taken without waiting, so that nothing can come between the look that found the
        host idle (``host not in hosts()``) and the hold; checks of the host that come
        meanwhile wait for the release.
        """
        if host in self._gates:
            msg = f"{host} has checks under way"
            raise RuntimeError(msg)
        gate = self._gates[host] = _Gate(asyncio.Semaphore(0), users=1)

        def release() -> None:
            for _ in range(self.sizes.get(host, self.size)):
                gate.semaphore.release()
            gate.users -= 1
            if not gate.users:
                del self._gates[host]

        return release

    @asynccontextmanager
    async def place(self, host: str) -> AsyncIterator[None]:
        """Hold one of *host*'s places while the block runs."""
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _Gate(asyncio.Semaphore(self.sizes.get(host, self.size)))
        gate.users += 1
        try:
            async with gate.semaphore:
                yield
        finally:
            gate.users -= 1
            if not gate.users:
                del self._gates[host]


class ChecksStopped(Exception):
    """The crawl is stopping (SIGINT/SIGTERM): checks under way were abandoned, no verdict."""


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


#: redirects a probe follows before it stops looking
_PROBE_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class HostProfile:
    """How a host answers a URL that cannot exist (its probe), for the crawl."""

    origin: str
    #: the probe got a 4xx (not 401/403/407/429): a 2xx there means the page exists
    honest: bool
    #: the probe's final 2xx answer, to compare targets with (None if it got none)
    probe: soft404.PageSignals | None = None


def probe_url(origin: str) -> str:
    """A URL of *origin* that cannot exist (random, so no site can have it)."""
    return f"{origin}/{secrets.token_hex(6)}-brokenlinks-probe-{secrets.token_hex(4)}"


def _lower_headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): (response.headers.get(key) or b"").decode("latin-1")
        for key in response.headers
    }


class PageReader:
    """Reads answers into soft-404 signals and parked markers, once per distinct body.

    A host's not-found template, its search page, a parking service's lander and a
    home page that deep URLs are sent to are the same bytes every time: the reading of
    a body depends on the markup alone (the URL and the redirect flag are put back
    afterwards), so identical bodies are read once. Keyed by a BLAKE2 digest of the
    markup, so the cache holds no bodies; bounded, least recently used dropped first
    (a template that keeps coming back stays; a reading holds up to 600 words and the
    page's text, so the bound is small). The reading itself runs in the crawl's
    :class:`~brokenlinks.checker.workers.WorkerPool` (another process, or a thread); two answers
    with the same new body at once are both read, and the second reading is kept.
    """

    def __init__(self, pool: WorkerPool, size: int = 128) -> None:
        self.pool = pool
        self.size = size
        self.hits = 0
        self._read: dict[bytes, tuple[soft404.PageSignals, parked.ParkedMatch | None]] = {}

    async def __call__(
        self, markup: str, url: str, redirected: bool
    ) -> tuple[soft404.PageSignals, parked.ParkedMatch | None]:
        key = hashlib.blake2b(markup.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        known = self._read.pop(key, None)
        if known is not None:
            self._read[key] = known  # now the most recently used
            self.hits += 1
            signals, lander = known
            return replace(signals, url=url, redirected=redirected), lander
        signals, lander = await self.pool.run(read_body, markup, url, redirected, size=len(markup))
        if len(self._read) >= self.size:
            self._read.pop(next(iter(self._read), key), None)
        self._read[key] = (signals, lander)
        return signals, lander


def _markup(response: Response) -> str:
    if isinstance(response, TextResponse):
        try:
            return response.text
        except (UnicodeDecodeError, LookupError):
            return response.body.decode("utf-8", "replace")
    return ""


class LinkChecker:
    """Checks link targets once per crawl.

    An extension; spiders reach it with ``crawler.get_extension(LinkChecker)``.
    """

    def __init__(self, crawler: Crawler, config: BrokenlinksConfig) -> None:
        self.crawler = crawler
        self.config = config
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.max_redirects = crawler.settings.getint("REDIRECT_MAX_TIMES")
        self._timeout = crawler.settings.getfloat("DOWNLOAD_TIMEOUT")
        #: one result per distinct target, the least recently used spilled to disk
        self._results = VerdictMemory(config.verdicts_in_memory, stats=self.stats)
        self._tasks: dict[str, asyncio.Task[CheckResult]] = {}
        self._unreported: list[CheckResult] = []
        self._profiles: dict[str, asyncio.Task[HostProfile]] = {}
        self._homes: dict[str, asyncio.Task[str | None]] = {}
        self._head_use = HeadUse()
        self._gates = HostGates.from_settings(crawler.settings)
        self.workers = WorkerPool(processes_for(config.workers), self.stats)
        self._read_page = PageReader(self.workers)
        self.stopping = False
        #: the engine was seen running: only a running engine that stops is a stop
        self._seen_running = False
        self._watch: Any = None
        #: targets dead for a reason that can be transient: first verdict, final one to come
        self._unconfirmed: dict[str, tuple[Verdict, asyncio.Future[Verdict]]] = {}
        self._confirming: asyncio.Task[None] | None = None
        #: of those, the ones still to be confirmed early: URL → loop time from which they may
        self._early: dict[str, float] = {}
        self._early_looks: asyncio.Task[None] | None = None
        self._early_checks: set[asyncio.Task[None]] = set()
        #: host → the address it last answered from (bounded, oldest dropped first)
        self._addresses: dict[str, str] = {}
        #: hosts that answered neither an early check nor its control: left to the pass
        self._unanswering: set[str] = set()
        #: the check shards (brokenlinks.cluster) when checks run in other processes
        self.shards: LocalShards | RedisShards | None = None
        count = shards_for(config.check_shards)
        redis_url = crawler.settings.get("REDIS_URL")
        # a node of a cluster checks through the cluster whatever its cores (one shard
        # process on a one-core node, or a Scrapyd job's share of a small one): outside it,
        # it would check targets others check too, and send its own requests to their hosts
        if redis_url and (count > 1 or config.check_shards == 0):
            # the nodes of a cluster share the checks through Redis; redis-py is an extra
            from brokenlinks.cluster.remote import RedisShards  # noqa: PLC0415

            self.shards = RedisShards(crawler, count, config, redis_url)
        elif count > 1:
            self.shards = LocalShards(crawler, count)

    @classmethod
    def of(cls, crawler: Crawler) -> LinkChecker:
        """Return the crawl's checker; spiders call it in ``start()``, after extensions exist."""
        checker = crawler.get_extension(cls)
        if checker is None:
            msg = (
                "the brokenlinks.checker.checks.LinkChecker extension is not enabled (EXTENSIONS)"
            )
            raise RuntimeError(msg)
        return checker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        checker = cls(crawler, config_of(crawler))
        spider = getattr(crawler, "spider", None)  # set before extensions since Scrapy 2.13
        if checker.shards is not None and getattr(spider, "checks_links", False):
            # their interpreters start now and import while the crawl opens its store
            checker.shards.launch()
        crawler.signals.connect(checker.headers_received, signal=signals.headers_received)
        crawler.signals.connect(checker.bytes_received, signal=signals.bytes_received)
        crawler.signals.connect(checker.workers.start, signal=signals.spider_opened)
        if checker.shards is not None:
            crawler.signals.connect(checker.open_shards, signal=signals.spider_opened)
        crawler.signals.connect(checker.watch_stop, signal=signals.spider_opened)
        crawler.signals.connect(checker.close, signal=signals.spider_closed)
        return checker

    def open_shards(self, spider: Any) -> None:
        """Start the check shards for a spider that checks links (``checks_links``).

        The outreach spiders (``archive``, ``contacts``, ``mysite``) check none: no shard
        process is started for them, and their requests go out from the crawl process.
        """
        if self.shards is None:
            return
        if not getattr(spider, "checks_links", False):
            self.shards = None  # nothing was launched: from_crawler saw this spider too
            return
        try:
            self.shards.start()
        except Exception:
            # a crawl without shards is slower, not wrong: it must not wait for none
            logger.exception(
                "Check shards could not start: links are checked in the crawl process"
            )
            shards, self.shards = self.shards, None
            shards.close()

    def live_stats(self) -> dict[str, Any]:
        """The crawl's stats, with what its check shards have counted so far (progress)."""
        if self.shards is not None:
            return self.shards.live_stats()
        return dict(self.stats.get_stats())

    def close(self) -> None:
        """Stop the worker processes and remove the spilled verdicts' files (the crawl is over)."""
        if self._watch is not None and self._watch.running:
            self._watch.stop()
        if self.shards is not None:
            # first of the spider_closed receivers: the shards' stats are in before the
            # store and the summary read them
            self.shards.close()
        self.workers.close()
        self._results.close()

    # -- stopping: a graceful stop must not wait for every check ----------------------

    def watch_stop(self) -> None:
        """Look every ``_STOP_POLL`` s whether the crawl is being stopped (SIGINT/SIGTERM).

        Scrapy's graceful stop waits for every request in progress, and every check is one
        (with its GET, probe and retries still to come): with thousands of targets queued
        the first signal seemed ignored. Scrapy sends no signal when a stop begins; the
        engine's public ``running`` turns false, so it is polled.
        """
        self._watch = create_looping_call(self._look_for_stop)
        self._watch.start(_STOP_POLL, now=False)

    def _look_for_stop(self) -> None:
        try:
            running = self.crawler.engine.running
        except RuntimeError:  # no engine: a component test sent spider_opened itself
            return
        if running:
            # Scrapy sets running once the engine_started receivers are done: a pause
            # before that (a slow machine) is no stop
            self._seen_running = True
        elif self._seen_running and not self.stopping:
            self.stop_checks()

    def stop_checks(self) -> None:
        """Abandon every check under way (no verdict is made up); later checks raise."""
        self.stopping = True
        if self.shards is not None:
            self.shards.stop()
        pending = [
            task
            for tasks in (self._tasks, self._profiles, self._homes)
            for task in tasks.values()
            if not task.done()
        ]
        pending.extend(
            task
            for task in (self._confirming, self._early_looks, *self._early_checks)
            if task is not None and not task.done()
        )
        for task in pending:
            task.cancel()
        abandoned = sum(1 for task in self._tasks.values() if not task.done())
        self.stats.set_value("brokenlinks/targets/abandoned", abandoned)
        logger.info(
            "Stopping: %(n)d checks under way abandoned (checked again by the next crawl)",
            {"n": abandoned},
        )

    # -- the public API -------------------------------------------------------------

    async def check(self, url: str, decided: Verdict | None = None) -> CheckResult:
        """Return the verdict of *url* (absolute, fragment-less), checking it at most once.

        *decided*: its verdict, decided without a request (an unparseable href). A crawl
        keeps the first one; a cluster's nodes keep the first node's (one stored check).
        Raises :class:`ChecksStopped` once the crawl is being stopped.
        """
        if (done := self.known(url)) is not None:
            return done
        if self.stopping:
            raise ChecksStopped(url)
        task = self._tasks.get(url)
        if task is None:
            task = asyncio.ensure_future(self._check(url, decided))
            self._tasks[url] = task
        else:
            self.stats.inc_value("brokenlinks/targets/reused")
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if self.stopping and task.cancelled():
                raise ChecksStopped(url) from None
            raise

    def known(self, url: str) -> CheckResult | None:
        """Return the verdict of *url* if it is decided already (no task, no await)."""
        done = self._results.get(url)
        if done is not None:
            self.stats.inc_value("brokenlinks/targets/reused")
        return done

    def remember(self, url: str, verdict: Verdict, checked_at: str) -> CheckResult:
        """Seed the verdict of *url* found fresh in the database: it is not checked again.

        Not reported (the database has it already); counted as
        ``brokenlinks/targets/cached``. A verdict already known in this crawl wins.
        """
        if (done := self._results.get(url)) is not None:
            return done
        result = CheckResult(url, verdict, checked_at)
        self._results.put(result)
        self.stats.inc_value("brokenlinks/targets/cached")
        return result

    def knows(self, url: str) -> bool:
        """Tell whether *url* has a verdict, or a check under way, in this crawl."""
        return url in self._tasks or url in self._results

    def take_unreported(self) -> list[CheckResult]:
        """Return the results finished since the last call (each is stored once)."""
        out, self._unreported = self._unreported, []
        return out

    # -- signals: read bodies only as far as a verdict needs ------------------------

    def headers_received(
        self, headers: Headers, body_length: int | str, request: Request, spider: Any
    ) -> None:
        if not request.meta.get(META_CHECK) or request.method == "HEAD":
            return
        content_type = (headers.get(b"Content-Type") or b"").lower()
        # a chunked answer has no length: Twisted passes its UNKNOWN_LENGTH marker, a str
        too_long = isinstance(body_length, int) and body_length > self.config.max_body_bytes
        if too_long or (content_type and not content_type.startswith(_TEXT_TYPES)):
            raise StopDownload(fail=False)

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        if not request.meta.get(META_CHECK):
            return
        seen = request.meta.get(_META_BYTES, 0) + len(data)
        request.meta[_META_BYTES] = seen
        if seen >= self.config.max_body_bytes:
            raise StopDownload(fail=False)

    # -- the check itself ---------------------------------------------------------------

    def _finish(self, url: str, verdict: Verdict, checked_at: str | None = None) -> CheckResult:
        result = CheckResult(url, verdict, checked_at or now_iso())
        self._results.put(result)
        self._tasks.pop(url, None)
        self._unreported.append(result)
        self.stats.inc_value("brokenlinks/targets/checked")
        self.stats.inc_value(f"brokenlinks/verdict_count/{verdict.kind}")
        if verdict.kind is not Kind.ALIVE:
            self.stats.inc_value(f"brokenlinks/reason_count/{verdict.kind}/{verdict.reason}")
        logger.debug(
            "Checked %(url)s: %(kind)s (%(reason)s, status %(status)s)",
            {"url": url, "kind": verdict.kind, "reason": verdict.reason, "status": verdict.status},
        )
        return result

    async def _check(self, url: str, decided: Verdict | None = None) -> CheckResult:
        if decided is None and not is_http(url):
            decided = verdicts.unsupported_scheme(url)
        if decided is not None:
            result = CheckResult(url, decided, now_iso())
            if self.shards is not None:
                try:
                    result = await self.shards.settle(result)
                except asyncio.CancelledError:
                    self._tasks.pop(url, None)
                    raise
            return self._finish(url, result.verdict, result.checked_at)
        if self.shards is not None:
            try:
                remote = await self.shards.check(url)
            except ShardLost:
                pass  # its shard is gone: checked here, by the only process left for its site
            except asyncio.CancelledError:
                self._tasks.pop(url, None)
                raise
            else:
                return self._finish(url, remote.verdict, remote.checked_at)
        try:
            verdict = await self._follow(url)
            if self.config.confirm_enabled and verdicts.needs_confirmation(verdict):
                verdict = await self._confirm_later(url, verdict)
        except asyncio.CancelledError:
            self._tasks.pop(url, None)
            raise
        except Exception as e:  # noqa: BLE001  (a bug of ours must not cost the pages their items)
            # A failure cached in the task would re-raise for every page that links here
            # and fail its gather: it ends as a verdict instead, decided once.
            verdict = self._failed(url, e)
        return self._finish(url, verdict)

    def _failed(self, url: str, error: Exception) -> Verdict:
        """The verdict of a check that raised: blocked ``error`` (not verified, never dead)."""
        self.stats.inc_value("brokenlinks/targets/check_errors")
        logger.error(
            "Check of %(url)s failed unexpectedly (%(error)s): verdict blocked/error",
            {"url": url, "error": f"{type(error).__name__}: {error}"},
        )
        logger.debug("Check of %(url)s failed", {"url": url}, exc_info=error)
        return verdicts.check_error(error)

    def _request(
        self, url: str, method: str, *, confirming: bool = False, probe: bool = False
    ) -> Request:
        meta: dict[str, Any] = {"max_retry_times": 0} if confirming else {}
        if self.config.confirm_enabled and not confirming and not probe:
            # a transient failure waits for the confirmation pass, not for a retry at once
            meta[META_CONFIRMED_LATER] = True
        return Request(
            url,
            method=method,
            callback=NO_CALLBACK,
            dont_filter=True,
            headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
            meta={
                **meta,
                META_CHECK: True,
                "dont_redirect": True,
                "dont_obey_robotstxt": True,
                "allow_offsite": True,
                # bounds decompression too: a check reads a capped, possibly
                # compressed body and must not inflate a bomb
                "download_maxsize": self.config.max_body_bytes * 16,
            },
        )

    async def _download(
        self, url: str, method: str, *, probe: bool = False, confirming: bool = False
    ) -> Response | Exception:
        """Download once; a failure is returned, to be classified."""
        assert self.crawler.engine is not None
        self.stats.inc_value(f"brokenlinks/requests/{'probe' if probe else method.lower()}")
        request = self._request(url, method, confirming=confirming, probe=probe)
        try:
            return await self.crawler.engine.download_async(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  (every failure is classified)
            return exc

    async def _follow(
        self, url: str, *, confirming: bool = False, held: str | None = None
    ) -> Verdict:
        """Check *url*, following its redirects; *held*: a host whose places are held."""
        if not is_http(url):
            return verdicts.unsupported_scheme(url)
        method = "HEAD" if self.config.head_first else "GET"
        visits: Counter[str] = Counter({url: 1})
        hops = 0
        current = url
        while True:
            host = host_of(current)
            place: AbstractAsyncContextManager[None] = (
                nullcontext() if host == held else self._gates.place(host)
            )
            async with place:
                # chosen once a place is free: what the host taught meanwhile counts
                if method == "HEAD" and not await self._head_settles(current):
                    method = "GET"
                outcome = await self._download(current, method, confirming=confirming)
            if isinstance(outcome, Exception):
                if method == "HEAD" and not (
                    isinstance(outcome, _CONCLUSIVE_FAILURES) or verdicts.is_tls_error(outcome)
                ):
                    # some servers drop or choke on HEAD requests; only GET can tell
                    self._head_wasted(current)
                    method = "GET"
                    continue
                refusal = guard.guard_refusal(outcome, host)
                return verdicts.classify_exception(
                    outcome, refused=refusal.reason if refusal is not None else None
                )
            response = outcome
            self._note_address(host, response)
            status = response.status
            location = response.headers.get(b"Location")
            if status in _REDIRECT_STATUSES and location:
                target = resolve_href(location.decode("latin-1"), response.url)
                if target is None:
                    return Verdict(
                        Kind.DEAD,
                        verdicts.Reason.HTTP_STATUS,
                        status,
                        response.url,
                        "redirect to an unparseable Location",
                    )
                market = parked.parked_by_redirect(
                    response.url, target
                ) or parked.parked_by_lander(response.url, target)
                if market is not None:
                    # decided on the Location: the marketplace itself is not fetched
                    return Verdict(Kind.DEAD, Reason.PARKED, status, target, market.detail)
                hops += 1
                visits[target] += 1
                if visits[target] >= _LOOP_VISITS or hops > self.max_redirects:
                    return verdicts.redirect_loop(
                        target, status, hops, looped=visits[target] >= _LOOP_VISITS
                    )
                if not is_http(target):
                    # Fetch: a redirect to a non-HTTP(S) URL is a network error; the
                    # visitor who clicked gets no page
                    return verdicts.redirect_off_web(target, status)
                current = target
                continue
            if method == "HEAD" and not verdicts.head_is_conclusive(status):
                self._head_wasted(current)
                method = "GET"
                continue
            verdict = await self._judge(url, response, redirected=hops > 0)
            if verdict is None:  # a 2xx HEAD that needs its body read
                self._head_wasted(current)
                method = "GET"
                continue
            if method == "HEAD":
                self._head_use.settled(current)
            return verdict

    async def _head_settles(self, url: str) -> bool:
        """Tell whether a HEAD of *url* can settle its check, as far as its host has shown.

        Not where HEAD has been wasted (``HeadUse``), nor on a host whose probe got a 2xx:
        there a 2xx needs its body read and anything else a GET. A probe under way (sent
        after the host's first 2xx HEAD) is waited for: one round trip, against a HEAD
        for every check of a catch-all host.
        """
        task = self._profiles.get(origin_of(url))
        if task is not None and not (await asyncio.shield(task)).honest:
            return False
        # after the wait: what the host's other answers taught meanwhile counts too
        return self._head_use.wanted(url)

    def _head_wasted(self, url: str) -> None:
        """Count a HEAD of *url* that needs a GET of it (``HeadUse``)."""
        if self._head_use.wasted(url):
            self.stats.inc_value("brokenlinks/hosts/get_first")
            logger.debug(
                "%(origin)s: HEAD never settled a check there, checked with GET first from now",
                {"origin": origin_of(url)},
            )

    async def _judge(self, url: str, response: Response, *, redirected: bool) -> Verdict | None:
        """The verdict of a final (non-redirect) answer; None asks for a GET of it."""
        status = response.status
        markup = _markup(response) if response.request and response.request.method == "GET" else ""
        wall = detect_bot_wall(status, _lower_headers(response), markup)
        if wall is not None:
            return Verdict(Kind.BLOCKED, Reason.BOT_WALL, status, response.url, wall)
        verdict = verdicts.classify_status(
            status,
            response.url,
            retry_after_refused=META_RETRY_AFTER in response.meta,
        )
        if verdict.kind is not Kind.ALIVE:
            return verdict
        address = parked.parked_by_address(
            str(response.ip_address) if response.ip_address is not None else None
        )
        if address is not None:
            return Verdict(Kind.DEAD, Reason.PARKED, status, response.url, address.detail)
        if response.request is None or response.request.method != "GET":
            if redirected and soft404.is_home_path(response.url):
                return None
            profile = await self._profile(url) if self.config.soft404_probe else None
            return None if profile is not None and not profile.honest else verdict
        if not isinstance(response, TextResponse):
            return verdict
        # parsing a capped body is CPU work: in a worker process, or (a shard) on the loop
        # when it is small, else in a thread
        signals, lander = await self._read_page(markup, response.url, redirected)
        self.stats.set_value("brokenlinks/bodies/read_once", self._read_page.hits)
        if lander is not None:
            return Verdict(Kind.DEAD, Reason.PARKED, status, response.url, lander.detail)
        # what the page says of itself first: the probe is only needed to compare
        home = None
        if redirected and soft404.is_language_home(response.url):
            # /en/ is the home page only if the site's own / leads there
            home = await self._home(url)
        why = soft404.soft404_reason(url, signals, home=home)
        if why is None and self.config.soft404_probe and not soft404.is_home_path(url):
            probe = (await self._profile(url)).probe
            why = soft404.soft404_reason(url, signals, probe, home=home)
        if why is not None:
            return Verdict(Kind.DEAD, Reason.SOFT_404, status, response.url, why)
        return verdict

    # -- the confirmation pass -------------------------------------------------------------

    async def _confirm_later(self, url: str, first: Verdict) -> Verdict:
        """The verdict of *url* once confirmed (*first* was transient): early, or in a pass."""
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        self._unconfirmed[url] = (first, future)
        self.stats.inc_value("brokenlinks/confirm/queued")
        if self.config.confirm_early:
            delay = self.config.confirm_delay
            if first.reason is Reason.TIMEOUT:
                # the delay spaces the two tries' starts: a timeout has watched that long
                delay = max(0.0, delay - self._timeout)
            self._early[url] = asyncio.get_running_loop().time() + delay
            if self._early_looks is None or self._early_looks.done():
                self._early_looks = asyncio.ensure_future(self._early_confirmations())
        self._ensure_passes()
        return await future

    def _ensure_passes(self) -> None:
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.ensure_future(self._confirmation_passes())

    async def _confirmation_passes(self) -> None:
        while self._unconfirmed:
            await self._until_quiet()
            batch, self._unconfirmed = self._unconfirmed, {}
            if not batch:
                break  # confirmed early meanwhile
            for url in batch:
                self._early.pop(url, None)
            engine = self.crawler.engine
            assert engine is not None
            # no new referring page while the pass runs: the hosts see the check alone
            engine.pause()
            self.stats.inc_value("brokenlinks/confirm/passes")
            logger.info(
                "Confirmation pass: checking %(n)d targets again that failed for a reason "
                "that can be transient",
                {"n": len(batch)},
            )
            try:
                await self._confirm_batch(batch)
            finally:
                engine.unpause()

    # -- early confirmation: alone on the host while the crawl goes on ---------------------

    async def _early_confirmations(self) -> None:
        """Look every ``_QUIET_POLL`` s for waiting targets that can be confirmed now."""
        loop = asyncio.get_running_loop()
        on_time = self.config.lag_max / 2 or _QUIET_POLL
        while self._early:
            before = loop.time()
            await asyncio.sleep(_QUIET_POLL)
            now = loop.time()
            # a loop that wakes late is a starved crawl: what it sends now proves less
            if now - before - _QUIET_POLL <= on_time and self._keeping_up():
                self._start_early(now)

    def _keeping_up(self) -> bool:
        """False while the lag monitor holds the downloader's budget below its ceiling."""
        engine = self.crawler.engine
        downloader = engine.downloader if engine is not None else None
        return not (
            isinstance(downloader, PoliteDownloader)
            and downloader.total_concurrency
            and downloader.budget < downloader.total_concurrency
        )

    def _busy_hosts(self) -> set[str]:
        """The hosts that have a request of this crawl in the downloader, or a check waiting."""
        busy = self._gates.hosts()
        engine = self.crawler.engine
        if engine is not None:
            # the slot keys are host names unless a request names its own (download_slot)
            busy.update(key for key, slot in engine.downloader.slots.items() if slot.active)
        return busy

    def _start_early(self, now: float) -> None:
        """Confirm the due targets whose host, and the host's address, are free of ours."""
        busy = self._busy_hosts()
        # a slot key that is no known host is an address (CONCURRENT_REQUESTS_PER_IP)
        taken = {self._addresses.get(host, host) for host in busy}
        for url, due in list(self._early.items()):
            if due > now:
                break  # in the order they failed, each due the same delay later
            if len(self._early_checks) >= self.config.confirm_concurrency:
                break
            host = host_of(url) or url
            if host in self._unanswering:
                del self._early[url]  # its host answers nothing: the quiet pass decides
                continue
            address = self._addresses.get(host)
            if host in busy or (address is not None and address in taken):
                continue
            del self._early[url]
            entry = self._unconfirmed.pop(url, None)
            if entry is None:
                continue
            busy.add(host)
            if address is not None:
                taken.add(address)
            # held now, before the task runs: no check of the host can come in between
            release = self._gates.hold(host)
            task = asyncio.ensure_future(self._confirm_early(url, host, entry, release))
            self._early_checks.add(task)
            task.add_done_callback(self._early_checks.discard)

    async def _confirm_early(
        self,
        url: str,
        host: str,
        entry: tuple[Verdict, asyncio.Future[Verdict]],
        release: Callable[[], None],
    ) -> None:
        """Check *url* once more, alone on its host; the pass decides what stays unclear.

        A failure the network could have made (a timeout, a reset) is checked together with
        a control request to the host's home page: if the host answers that, it is up and
        reachable, and the target fails by itself. Otherwise the target waits for the pass.
        """
        first, future = entry
        self.stats.inc_value("brokenlinks/confirm/early")
        control: asyncio.Task[Response | Exception] | None = None
        try:
            if not verdicts.host_answered(first):
                control = asyncio.ensure_future(
                    self._download(origin_of(url) + "/", "HEAD", probe=True, confirming=True)
                )
            try:
                second = await self._follow(url, confirming=True, held=host)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001  (as in _check: a verdict, not a crash)
                second = self._failed(url, e)
            reachable = control is not None and not isinstance(await control, Exception)
        finally:
            if control is not None and not control.done():
                control.cancel()
            release()
        if (
            verdicts.needs_confirmation(second)
            and not verdicts.host_answered(second)
            and not reachable
        ):
            # the network may have made this failure: checked again once the crawl is quiet
            self.stats.inc_value("brokenlinks/confirm/left_to_pass")
            if control is not None:
                # the host answered neither: its other targets would only hold it as long
                self._unanswering.add(host)
            self._unconfirmed[url] = entry
            self._ensure_passes()
            return
        if not future.done():
            future.set_result(self._settle(url, first, second))

    def _note_address(self, host: str, response: Response) -> None:
        if response.ip_address is None:
            return
        self._addresses.pop(host, None)
        self._addresses[host] = str(response.ip_address)
        if len(self._addresses) > _ADDRESSES_KEPT:
            del self._addresses[next(iter(self._addresses))]

    async def _until_quiet(self) -> None:
        """Return once the downloader has been found empty ``_QUIET_LOOKS`` times in a row."""
        looks = 0
        while looks < _QUIET_LOOKS:
            await asyncio.sleep(_QUIET_POLL)
            engine = self.crawler.engine
            busy = engine is not None and bool(engine.downloader.active)
            looks = 0 if busy else looks + 1

    async def _confirm_batch(
        self, batch: dict[str, tuple[Verdict, asyncio.Future[Verdict]]]
    ) -> None:
        hosts: dict[str, list[str]] = {}
        for url in batch:
            hosts.setdefault(host_of(url) or url, []).append(url)
        room = asyncio.Semaphore(self.config.confirm_concurrency)

        async def confirm_host(urls: list[str]) -> None:
            async with room:
                for url in urls:  # one at a time: the host answers this check alone
                    first, future = batch[url]
                    try:
                        second = await self._follow(url, confirming=True)
                    except asyncio.CancelledError:
                        raise
                    except Exception as e:  # noqa: BLE001  (as in _check: a verdict, not a crash)
                        second = self._failed(url, e)
                    if not future.done():
                        future.set_result(self._settle(url, first, second))

        await asyncio.gather(*(confirm_host(urls) for urls in hosts.values()))

    def _settle(self, url: str, first: Verdict, second: Verdict) -> Verdict:
        """Count the confirmation of *url*; its verdict is the second check's."""
        self.stats.inc_value("brokenlinks/confirm/checked")
        if second.kind is Kind.DEAD:
            self.stats.inc_value("brokenlinks/confirm/confirmed")
        else:
            self.stats.inc_value("brokenlinks/confirm/overturned")
            self.stats.inc_value(f"brokenlinks/confirm/overturned/{first.reason}")
            logger.info(
                "%(url)s came back on a second check: %(kind)s, not dead (%(reason)s)",
                {"url": url, "kind": second.kind, "reason": first.reason},
            )
        return second

    # -- host probes ----------------------------------------------------------------------

    async def _profile(self, url: str) -> HostProfile:
        """The host's answer to a URL that cannot exist, probed once per origin."""
        origin = origin_of(url)
        task = self._profiles.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._probe(origin))
            self._profiles[origin] = task
        return await asyncio.shield(task)

    async def _home(self, url: str) -> str | None:
        """Where the home page (``/``) of *url*'s origin leads, found once per origin."""
        origin = origin_of(url)
        task = self._homes.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._land(origin + "/"))
            self._homes[origin] = task
        return await asyncio.shield(task)

    async def _land(self, url: str) -> str | None:
        """Follow *url*'s redirects (at most ``_PROBE_REDIRECTS``); the URL that answers."""
        try:
            return await self._follow_home(url)
        except asyncio.CancelledError:
            raise
        except Exception:  # cached per origin, like a probe: a failure proves nothing
            logger.debug("Following %(url)s failed", {"url": url}, exc_info=True)
            return None

    async def _follow_home(self, url: str) -> str | None:
        current = url
        for _ in range(_PROBE_REDIRECTS + 1):
            outcome = await self._download(current, "GET", probe=True)
            if isinstance(outcome, Exception):
                return None
            location = outcome.headers.get(b"Location")
            if outcome.status not in _REDIRECT_STATUSES or not location:
                return outcome.url
            target = resolve_href(location.decode("latin-1"), outcome.url)
            if target is None or not is_http(target):
                return None
            current = target
        return None

    async def _probe(self, origin: str) -> HostProfile:
        try:
            return await self._send_probe(origin)
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed probe proves nothing about the host
            # cached for the origin: a raising probe would fail every check of the host
            logger.debug("Probe of %(origin)s failed", {"origin": origin}, exc_info=True)
            self.stats.inc_value("brokenlinks/probes/not_honest")
            return HostProfile(origin, honest=False)

    async def _send_probe(self, origin: str) -> HostProfile:
        self.stats.inc_value("brokenlinks/probes/sent")
        current = probe_url(origin)
        redirected = False
        for _ in range(_PROBE_REDIRECTS + 1):
            outcome = await self._download(current, "GET", probe=True)
            if isinstance(outcome, Exception):
                break
            location = outcome.headers.get(b"Location")
            if outcome.status in _REDIRECT_STATUSES and location:
                target = resolve_href(location.decode("latin-1"), outcome.url)
                if target is None or not is_http(target):
                    break
                current, redirected = target, True
                continue
            status = outcome.status
            honest = 400 <= status < 500 and status not in verdicts.BLOCKED_STATUSES  # noqa: PLR2004
            probe = None
            if 200 <= status < 300 and isinstance(outcome, TextResponse):  # noqa: PLR2004
                probe, _ = await self._read_page(_markup(outcome), outcome.url, redirected)
            self.stats.inc_value(f"brokenlinks/probes/{'honest' if honest else 'not_honest'}")
            logger.debug(
                "Probed %(origin)s: %(status)s (%(honest)s)",
                {"origin": origin, "status": status, "honest": honest},
            )
            return HostProfile(origin, honest=honest, probe=probe)
        self.stats.inc_value("brokenlinks/probes/not_honest")
        return HostProfile(origin, honest=False)
