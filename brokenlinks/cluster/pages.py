"""scrapy-redis' queue of referring pages, made reliable: a page popped is held until its records are stored.

scrapy-redis pops a request from its Redis list or sorted set: once popped it is gone, and
a node that dies (SIGKILL, a lost machine) before the page's records are in the store
loses the page, and with it the dead links only that page had. With scrapy-redis'
scheduler the add-on sets ``SCHEDULER_QUEUE_CLASS`` to one of the queues here
(:mod:`brokenlinks.cluster.queues`): scrapy-redis' own (the same key, the same order:
priority, FIFO or LIFO), with three steps of their own, each one Lua script
(:mod:`brokenlinks.cluster.scripts`; keys: :class:`~brokenlinks.cluster.keys.PageKeys`):

- **Pop into a taken record.** A page leaves the queue and lands, in the same script, in
  the node's taken hash (``{queue}:taken:{node}``, under a token the request carries in
  ``meta["brokenlinks_page_token"]``), and the node's heartbeat is set: it is never only
  in the node's memory.
- **Acknowledge once stored.** A page is done when Scrapy is done with it (its request is
  neither in the downloader nor waiting for or in the scraper: every request its callback
  or errback made is in the queue, every item went through the item pipelines) *and* the
  store has written every record buffered by then (batches are written in order:
  :data:`~brokenlinks.storage.signals.batch_written`). The pages that make no
  ``PageItem`` (errback, robots.txt, a redirect, not HTML, read already) end the same way,
  with no hook per path that a new one could miss. One ``HDEL`` acknowledges every page a
  batch made safe.
- **Put back a dead node's pages.** Every node beats every second (every third of
  ``BROKENLINKS_CLUSTER_LEASE`` when shorter) into ``{queue}:nodes``, scored by Redis's
  clock. A node whose beat is a lease old is dead (the rule of the checks' leases): the
  first live node to beat after that puts its taken pages back in the queue (straight
  into it, past the duplicate filter, which saw them already) and forgets the node, in
  one script, so once however many nodes race. One INFO line, and
  ``brokenlinks/cluster/pages_redone``.

A node leaving (its crawl over, or stopped) acknowledges what is stored and gives the rest
back. An idle node writes its partial batch (or two idle nodes could wait for each other)
and stays open while a live node holds pages, since that node may still die with them.

Whether Scrapy is done with a request is read from ``engine.downloader.active`` and
``engine.scraper.slot`` (``queue``, ``active``): the attributes Scrapy's own
``spider_is_idle()`` and ``scrapy.utils.engine.get_engine_status`` read.
``SCHEDULER_IDLE_BEFORE_CLOSE`` is not used (a script cannot block): a pop answers at once.
Scrapy asks for the next request after every response and item, so once the queue is
drained a node would run the pop script thousands of times for nothing (about 2,000 a node
in the cluster benchmark, however many nodes): after an empty pop the node asks again only
after :data:`EMPTY_PAUSE` (or at once, after it pushed a page itself or put a dead node's
back), and wakes the engine then.
Stats: ``brokenlinks/cluster/pages_taken``, ``/pages_acked``, ``/pages_redone``,
``/pages_given_back``, ``/pages_queue_empty`` (empty pops). Settings:
``BROKENLINKS_CLUSTER_LEASE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.utils.asyncio import call_later, create_looping_call
from scrapy_redis.queue import FifoQueue, LifoQueue, PriorityQueue

from brokenlinks._compat import wake_engine
from brokenlinks.cluster import scripts
from brokenlinks.cluster.keys import PageKeys
from brokenlinks.config import config_of
from brokenlinks.storage.signals import batch_written

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: seconds a node leaves Redis alone after finding the queue empty: Scrapy asks for the
#: next request after every response and item, thousands of times a crawl once the queue
#: is drained, and each ask is a script run, whatever the number of nodes
EMPTY_PAUSE = 0.2

#: the meta key of a popped page's token (its field in the node's taken hash)
TOKEN = "brokenlinks_page_token"  # noqa: S105  (a meta key, not a password)


@runtime_checkable
class BufferedStore(Protocol):
    """An item pipeline that writes in batches, in order (``BatchingPipeline``)."""

    #: records buffered since the crawl opened, and records written
    accepted: int
    stored: int

    async def flush(self) -> bool: ...


@dataclass(slots=True)
class _Page:
    request: Request
    #: the records each store had buffered when the page was popped
    start: tuple[int, ...]
    #: the records each store must have written before the page is acknowledged: what it
    #: had buffered when Scrapy was done with the page, 0 for a store that buffered
    #: nothing meanwhile (None: Scrapy is not done with it)
    mark: tuple[int, ...] | None = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PageLedger:
    """One node's taken pages of one queue: pop, acknowledge, beat, give back."""

    def __init__(self, crawler: Crawler, server: Any, queue_key: str, kind: str) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.server = server
        self.keys = PageKeys(queue_key)
        self.kind = kind
        self.lease_ms = max(round(config_of(crawler).cluster_lease * 1000), 300)
        self.node = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.taken = self.keys.taken(self.node)
        #: pages popped and not acknowledged, by token
        self.pages: dict[str, _Page] = {}
        #: pages the other live nodes hold (as of the last beat)
        self.others = 0
        self.closed = False
        self._tokens = itertools.count(1)
        self._scripts = {name: server.register_script(s) for name, s in scripts.PAGES.items()}
        self._stores: list[BufferedStore] | None = None
        self._flushing: asyncio.Future[None] | None = None
        self._flushed_from: tuple[int, ...] = ()
        self._waiting_logged = False
        self._warned: set[str] = set()
        #: monotonic time until which the queue counts as empty (EMPTY_PAUSE)
        self._empty_until = 0.0
        self._wake_due = False
        crawler.signals.connect(self.batch_written, signal=batch_written)
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        self._loop = create_looping_call(self.beat)
        self._loop.start(min(self.lease_ms / 3000, 1.0), now=True)
        logger.info(
            "Referring pages of %(key)s are held by node %(node)s until stored",
            {"key": queue_key, "node": self.node},
        )

    # -- popping and acknowledging -------------------------------------------------------

    def pop(self) -> tuple[str, bytes | None]:
        """Pop the next request's data into this node's taken hash: ``(token, data)``.

        Within :data:`EMPTY_PAUSE` of finding the queue empty, and with nothing pushed
        here since, no data (and no Redis call); the engine is woken when the pause ends,
        so that a page another node pushed meanwhile waits that long at most.
        """
        now = time.monotonic()
        if now < self._empty_until:
            if not self._wake_due:
                self._wake_due = True
                call_later(self._empty_until - now, self._pause_over)
            return "", None
        token = format(next(self._tokens), "x")
        data = self._scripts["pop"](
            keys=[self.keys.queue, self.taken, self.keys.nodes],
            args=[self.kind, token, self.node],
        )
        if not data:
            self._empty_until = now + EMPTY_PAUSE
            self.stats.inc_value("brokenlinks/cluster/pages_queue_empty")
        return token, data

    def pushed(self) -> None:
        """This node queued a page: the queue is not empty any more."""
        self._empty_until = 0.0

    def _pause_over(self) -> None:
        self._wake_due = False
        wake_engine(self._engine())

    def hold(self, token: str, request: Request) -> None:
        """*request* (popped under *token*) is this node's until acknowledged."""
        self.pages[token] = _Page(request, self._positions("accepted"))
        self.stats.inc_value("brokenlinks/cluster/pages_taken")

    def batch_written(self, pipeline: BufferedStore, count: int) -> None:
        """A batch is in the store: acknowledge the pages it made safe."""
        self.settle()

    def settle(self) -> None:
        """Mark the pages Scrapy is done with, acknowledge those the stores hold."""
        if not self.pages:
            return
        self._mark_done()
        stored = self._positions("stored")
        done = [
            token
            for token, page in self.pages.items()
            if page.mark is not None
            and all(s >= m for s, m in zip(stored, page.mark, strict=True))
        ]
        if not done:
            return
        try:
            self.server.hdel(self.taken, *done)
        except RedisError as e:
            self._warn_once("acknowledging", e)  # kept: acknowledged at the next beat
            return
        for token in done:
            del self.pages[token]
        self.stats.inc_value("brokenlinks/cluster/pages_acked", len(done))

    def _engine(self) -> ExecutionEngine | None:
        try:
            return self.crawler.engine
        except RuntimeError:  # no crawl running (a component test)
            return None

    def _mark_done(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        busy: list[Any] = [engine.downloader.active]
        slot = engine.scraper.slot
        if slot is not None:
            busy.append(slot.active)
            if slot.queue:
                busy.append({request for _, request, _ in slot.queue})
        accepted: tuple[int, ...] | None = None
        for page in self.pages.values():
            if page.mark is None and not any(page.request in requests for requests in busy):
                if accepted is None:
                    accepted = self._positions("accepted")
                # records buffered before the page was popped are not its own: a store that
                # took none since (the export's metrics a crawl starts with) is not waited for
                page.mark = tuple(
                    now if now != then else 0
                    for now, then in zip(accepted, page.start, strict=True)
                )

    def _positions(self, which: str) -> tuple[int, ...]:
        return tuple(getattr(store, which) for store in self._find_stores())

    def _find_stores(self) -> list[BufferedStore]:
        if self._stores is None:
            engine = self._engine()
            if engine is None:
                return []
            pipelines = engine.scraper.itemproc.middlewares
            self._stores = [p for p in pipelines if isinstance(p, BufferedStore)]
        return self._stores

    # -- the heartbeat, and dead nodes' pages ------------------------------------------------

    def beat(self) -> None:
        """Acknowledge what is stored, beat, put a dead node's pages back (the looping call)."""
        if self.closed:
            return
        try:
            self.settle()
            self.sweep(beat=True)
        except RedisError as e:
            self._warn_once("beating", e)
        except Exception:  # a bug of ours must not stop the heartbeat
            logger.exception("The reliable page queue's heartbeat failed")

    def sweep(self, *, beat: bool, drop: bool = False) -> None:
        """Beat (with *beat*), and put back (or *drop*) the taken pages of dead nodes."""
        answer = self._scripts["beat"](
            keys=[self.keys.nodes, self.keys.queue],
            args=[
                self.node,
                self.lease_ms,
                self.kind,
                self.keys.taken_prefix,
                "1" if beat else "0",
                "1" if drop else "0",
            ],
        )
        others, self.others = self.others, int(answer[1])
        dead = answer[2:]
        put_back = any(int(count) for count in dead[1::2])
        if put_back and not drop:
            self._empty_until = 0.0  # a dead node's pages are back in the queue
        if (others and not self.others) or put_back:
            # no live node holds pages any more, or a dead node's are back in the queue:
            # an idle crawl waiting for them closes, or reads them, now
            wake_engine(self._engine())
        for node, count in zip(dead[::2], dead[1::2], strict=True):
            if int(count) and not drop:
                self.stats.inc_value("brokenlinks/cluster/pages_redone", int(count))
                logger.info(
                    "Node %(node)s is dead (no heartbeat for %(lease)g s): the %(n)d "
                    "referring pages it had taken and not stored are back in the queue",
                    {"node": _text(node), "lease": self.lease_ms / 1000, "n": int(count)},
                )

    # -- the end ----------------------------------------------------------------------------

    def idle(self) -> None:
        """Keep an idle crawl open while pages are unstored here or held by a live node."""
        if self.closed:
            return
        try:
            self.settle()
            if self.pages and any(s.accepted > s.stored for s in self._find_stores()):
                # the last batch is not full: write it now, not at the close (two idle nodes
                # would wait for each other); once more only if the last flush wrote some
                # (a failing store's outage rules decide, and the close gives pages back)
                stored = self._positions("stored")
                if self._flushing is None or (
                    self._flushing.done() and self._flushed_from != stored
                ):
                    self._flushed_from = stored
                    self._flushing = asyncio.ensure_future(self._flush())
                if not self._flushing.done():
                    raise DontCloseSpider
            self.sweep(beat=True)
        except RedisError as e:
            self._warn_once("beating", e)
            return
        if self.others:
            if not self._waiting_logged:
                self._waiting_logged = True
                logger.info(
                    "Waiting for %(n)d referring pages other nodes hold: if their node "
                    "dies, this node reads them",
                    {"n": self.others},
                )
            raise DontCloseSpider
        self._waiting_logged = False

    async def _flush(self) -> None:
        for store in self._find_stores():
            # a failure is the store's to log, and its outage rules apply
            with contextlib.suppress(Exception):
                await store.flush()
        self.settle()
        wake_engine(self._engine())  # the idle crawl waited for this flush

    def forget(self) -> None:
        """scrapy-redis clears the queue: drop this node's taken pages and dead nodes'."""
        try:
            self.server.delete(self.taken)
            self.sweep(beat=False, drop=True)
        except RedisError as e:
            self._warn_once("clearing", e)
        self.pages.clear()

    def spider_closed(self) -> None:
        """Acknowledge what is stored, give the rest back, leave the queue's nodes."""
        if self.closed:
            return
        self.closed = True
        if self._loop.running:
            self._loop.stop()
        try:
            self.settle()
            given = int(
                self._scripts["give_back"](
                    keys=[self.keys.queue, self.taken, self.keys.nodes],
                    args=[self.kind, self.node, "1"],
                )
            )
        except RedisError as e:
            logger.warning(
                "Could not give back %(n)d referring pages not stored (%(error)s): they go "
                "back to the queue once this node's heartbeat is %(lease)g s old",
                {"n": len(self.pages), "error": e, "lease": self.lease_ms / 1000},
            )
            return
        self.pages.clear()
        if given:
            self.stats.inc_value("brokenlinks/cluster/pages_given_back", given)
            logger.info(
                "Gave back %(n)d referring pages whose records were not stored: they are "
                "back in the queue",
                {"n": given},
            )

    def _warn_once(self, what: str, error: BaseException) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning(
                "Redis failed (%(what)s referring pages): %(error)s",
                {"what": what, "error": error},
            )


class _ReliableQueue:
    """What the three reliable queues add to scrapy-redis' (see the module docstring)."""

    kind: ClassVar[str]
    server: Any
    key: str
    spider: Spider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        crawler = getattr(self.spider, "crawler", None)
        #: None without a crawler (scrapy-redis' own behaviour then)
        self.ledger = (
            PageLedger(crawler, self.server, self.key, self.kind) if crawler is not None else None
        )

    def push(self, request: Request) -> None:
        # a page made again from a popped one (rendered, retried) gets a token of its own
        request.meta.pop(TOKEN, None)
        super().push(request)  # type: ignore[misc]
        if self.ledger is not None:
            self.ledger.pushed()

    def pop(self, timeout: int = 0) -> Request | None:
        if self.ledger is None:
            request: Request | None = super().pop(timeout)  # type: ignore[misc]
            return request
        token, data = self.ledger.pop()
        if not data:
            return None
        try:
            request = self._decode_request(data)  # type: ignore[attr-defined]
        except Exception:
            # lost as scrapy-redis would lose it (and logged by the engine), not held for ever
            self.ledger.server.hdel(self.ledger.taken, token)
            raise
        assert request is not None
        request.meta[TOKEN] = token
        self.ledger.hold(token, request)
        return request

    def clear(self) -> None:
        super().clear()  # type: ignore[misc]
        if self.ledger is not None:
            self.ledger.forget()


class ReliablePriorityQueue(_ReliableQueue, PriorityQueue):  # type: ignore[misc]
    """scrapy-redis' ``PriorityQueue`` (a sorted set), each page held until stored."""

    kind = "priority"


class ReliableFifoQueue(_ReliableQueue, FifoQueue):  # type: ignore[misc]
    """scrapy-redis' ``FifoQueue`` (a list), each page held until stored."""

    kind = "fifo"


class ReliableLifoQueue(_ReliableQueue, LifoQueue):  # type: ignore[misc]
    """scrapy-redis' ``LifoQueue`` (a list), each page held until stored."""

    kind = "lifo"
