"""Check shards across machines: the nodes of a cluster share one Redis.

With ``REDIS_URL`` set (the Redis scrapy-redis already shares referring pages through)
and ``BROKENLINKS_CHECK_SHARDS`` not 1 (its default gives a node of one core one shard
process), :class:`RedisShards` stands in for
:class:`~brokenlinks.cluster.local.LocalShards` (same calls: ``check``, ``fetch``,
``stop``, ``close``). Each node's crawl process still runs its local shard processes; on
top of them:

- **Virtual shards.** Sites hash to ``BROKENLINKS_CLUSTER_SHARDS`` virtual shards
  (:func:`~brokenlinks.cluster.partition.shard_of_key`). Each has a Redis stream of work
  and a *lease*: the one node allowed to read it (``SET NX PX``, renewed every second or
  third of ``BROKENLINKS_CLUSTER_LEASE``). A node leases its fair share (``ceil(virtual /
  live nodes)``, nodes counted by heartbeat, or ``BROKENLINKS_CLUSTER_NODES`` expected ones
  for their first three lease times) and hands back what exceeds it, a shard only once
  nothing of it is in flight there; a lease it failed to renew (it was stalled) is gone,
  and it stops taking that shard's work (fencing). Within the node, the site's checks go
  to one local shard process, so a host is talked to by one process of the cluster:
  per-host limits hold cluster-wide.
- **A claim per target.** A node that needs a verdict runs one script: the verdict if it
  is known, else the node is added to the target's waiters and, if nobody claimed it, the
  claim is set and a check entry added to the shard's stream. Each distinct target is thus
  queued once in the cluster. The owner checks it (its local shard process) and runs a
  second script: the entry acknowledged and deleted, the verdict stored (the first one
  wins), and sent to every waiter's reply stream.
- **Dead nodes.** An entry read and not acknowledged stays pending in the consumer group.
  When a node dies its leases expire, other nodes' quotas grow, and the node that leases
  a shard next takes its pending entries over (``XAUTOCLAIM``) and does them again. A
  claim has no deadline of its own: its entry is what carries it, and the entry is
  redone; no waiter waits for a dead node.
- **Page fetches** (:mod:`brokenlinks.cluster.middleware`): a referring page on a site
  whose shard this node leases is downloaded by its local shard process; any other goes
  as an entry to the site's stream, and the owner sends the response (or the error) to
  this node's reply stream. Pages and checks of one host wait in one slot of one process.
- **Verdicts decided without a request** (a ``mailto:`` link, an unparseable href) have no
  check to claim: the first node to decide one sets it (``settle``), and the others take
  that one, so that the store holds one check of it, not one per node.

Every node stores the verdicts its own pages need (the store's upserts: one row per
target, one ``checks`` row per verdict, whichever nodes write it), so the store holds
each verdict once. A node counts ``brokenlinks/targets/checked`` for the verdicts its
pages got, wherever they were made; the checks it made count under
``brokenlinks/cluster/served`` (and its downloader stats), those it queued under
``brokenlinks/cluster/claimed``. Messages are pickled (as scrapy-redis pickles its
requests): the Redis must be one only the cluster writes to.

If Redis cannot be reached when the crawl opens, the node works alone with its local
shards (one WARNING).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import secrets
import socket
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from brokenlinks._compat import wake_engine
from brokenlinks.cluster import scripts, wire
from brokenlinks.cluster.keys import GROUP, Keys, cluster_namespace, preference, quota
from brokenlinks.cluster.local import LocalShards, ShardLost
from brokenlinks.cluster.partition import shard_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

    from brokenlinks.checker.verdicts import CheckResult
    from brokenlinks.config import BrokenlinksConfig

logger = logging.getLogger(__name__)

#: milliseconds the keys of a run outlive their last write (a run longer than this
#: checks again what it has forgotten; the store keeps everything)
KEY_TTL_MS = 2 * 24 * 3600 * 1000

#: connections to Redis per node (two of them wait in blocking reads)
_CONNECTIONS = 32
#: the ask script's answers: the verdict is known; this node claimed the check
_KNOWN, _CLAIMED = 1, 2


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(data: bytes) -> Any:
    return pickle.loads(data)  # noqa: S301  (the cluster's own Redis: see the module docstring)


def redacted(url: str) -> str:
    """A Redis URL fit for a log line: without its password.

    >>> redacted("redis://:secret@redis.internal:6379/0"), redacted("redis://127.0.0.1:6379")
    ('redis://redis.internal:6379/0', 'redis://127.0.0.1:6379')
    """
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisShards:
    """Check shards of a cluster of nodes sharing one Redis (see the module docstring)."""

    def __init__(self, crawler: Crawler, count: int, config: BrokenlinksConfig, url: str) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.local = LocalShards(crawler, count)
        # every node reading a site's pages asks for its robots.txt: the holder answers once
        self.local.share_robots = True
        self.count = count
        self.url = url
        self.virtual = config.cluster_shards
        self.lease_ms = max(round(config.cluster_lease * 1000), 300)
        self.namespace_setting = config.cluster_key
        self.expected_nodes = config.cluster_nodes
        #: loop time until which the share counts the expected nodes, not just the live ones
        self._expect_until = 0.0
        self.node = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        #: milliseconds a blocking read waits (short: leases are handed over between reads)
        self.block_ms = max(50, min(500, self.lease_ms // 6))
        self.max_in_flight = max(16, 2 * crawler.settings.getint("CONCURRENT_REQUESTS"))
        self.closing = False
        self.stopping = False
        #: the node's crawl is over: it takes no more work and hands its shards over
        self.leaving = False
        #: the node checks for the cluster (False once its local shards are lost)
        self.serving = True
        #: Redis could not be reached when the crawl opened: local shards only
        self.failed = False
        self.ready = asyncio.Event()
        self.redis: aioredis.Redis | None = None
        self.keys = Keys("")
        self.namespace = ""
        self.reply = ""
        self.owned: set[int] = set()
        self.draining: set[int] = set()
        #: the shards of the blocking read under way (none is handed over meanwhile)
        self._reading: frozenset[int] = frozenset()
        #: entries being served here, as (shard, entry id): ids are unique per stream only
        self._serving: set[tuple[int, bytes]] = set()
        self._per_shard: Counter[int] = Counter()
        self._checks: dict[str, asyncio.Future[CheckResult]] = {}
        self._fetches: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._rids = itertools.count()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._loops: list[asyncio.Future[None]] = []
        self._warned: set[str] = set()
        self._announced = -1
        self._scripts: dict[str, Any] = {}
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    # -- life ---------------------------------------------------------------------------

    def launch(self) -> None:
        """Launch the local shard processes' interpreters (see ``LocalShards.launch``)."""
        self.local.launch()

    def start(self) -> None:
        """Start the local shard processes, then join the cluster in the background."""
        self.local.start()
        self._keep(asyncio.ensure_future(self._join()))

    async def _join(self) -> None:
        spider = self.crawler.spider
        name = spider.name if spider is not None else "crawl"
        namespace = cluster_namespace(
            self.namespace_setting, self.crawler.settings.get("SCHEDULER_QUEUE_KEY"), name
        )
        try:
            # a bounded pool that waits for a free connection: every target's ask is a
            # command, and a pool that refuses past its size (redis-py's default, 100)
            # would turn a busy moment into checks made twice
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=_CONNECTIONS, timeout=None
            )
            self.redis = aioredis.Redis.from_pool(pool)
            self._scripts = {k: self.redis.register_script(v) for k, v in scripts.ALL.items()}
            run = await self._scripts["join"](
                keys=[Keys.run(namespace)], args=[secrets.token_hex(4), 2 * self.lease_ms]
            )
            self.namespace = namespace
            self.keys = Keys.of(namespace, _text(run))
            self.reply = self.keys.reply(self.node)
            self._expect_until = asyncio.get_running_loop().time() + 3 * self.lease_ms / 1000
            await self._tick()
        except (RedisError, OSError) as e:
            self.failed = True
            self.owned.clear()
            logger.warning(
                "Redis at %(url)s cannot be reached (%(error)s): links are checked by this "
                "node's shards alone",
                {"url": redacted(self.url), "error": e},
            )
            self.ready.set()
            return
        logger.info(
            "Checking links with the cluster %(prefix)s as node %(node)s (%(n)d virtual shards)",
            {"prefix": self.keys.prefix, "node": self.node, "n": self.virtual},
        )
        self.ready.set()
        for loop in (self._lease_loop(), self._consume_loop(), self._reply_loop()):
            self._loops.append(asyncio.ensure_future(loop))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _warn_once(self, what: str, error: BaseException) -> None:
        if what not in self._warned:
            self._warned.add(what)
            logger.warning("Redis failed (%(what)s): %(error)s", {"what": what, "error": error})

    def idle(self) -> None:
        """The crawl has nothing left of its own: hand the shards over, once they are idle.

        Undone by the next check or page this node asks for (another component may keep
        an idle crawl open).
        """
        if self.failed or self.closing:
            return
        self.leaving = True
        if self._serving or any(self._per_shard.values()):
            raise DontCloseSpider

    def stop(self) -> None:
        """The crawl is stopping: abandon what this node waits for and what it serves."""
        self.stopping = True
        self.local.stop()
        from brokenlinks.checker.checks import ChecksStopped  # noqa: PLC0415  (a cycle)

        for url, future in self._checks.items():
            if not future.done():
                future.set_exception(ChecksStopped(url))
        self._checks.clear()
        for fetched in self._fetches.values():
            if not fetched.done():
                fetched.set_exception(ShardLost())
        self._fetches.clear()

    def live_stats(self) -> dict[str, Any]:
        """The crawl's stats with this node's shards' last snapshots added."""
        return self.local.live_stats()

    def close(self) -> None:
        """Stop taking work and let the local shards exit (their stats merged)."""
        if self.closing:
            return
        self.closing = True
        self.leaving = True
        for loop in self._loops:
            loop.cancel()
        self.local.close()

    async def spider_closed(self) -> None:
        """Hand the leases back and leave the cluster (the next owners redo what is left)."""
        self.close()
        if self.redis is None:
            return
        for loop in self._loops:
            try:
                await loop
            except asyncio.CancelledError:
                pass
            except Exception as e:  # noqa: BLE001  (logged: the node leaves all the same)
                logger.warning("A cluster loop failed: %(error)r", {"error": e})
        try:
            if self.owned:
                await self._scripts["release"](
                    keys=[self.keys.lease(v) for v in sorted(self.owned)], args=[self.node]
                )
            await self.redis.zrem(self.keys.nodes, self.node)
            await self.redis.delete(self.reply)
        except RedisError as e:
            logger.warning("Leaving the cluster failed (its leases expire): %(e)s", {"e": e})
        self.owned.clear()
        await self.redis.aclose()

    # -- leases -------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        loop = asyncio.get_running_loop()
        # a tick renews the leases (every third of a lease at least) and rebalances: at
        # most a second apart, so that a node joining gets its share within seconds
        period = min(self.lease_ms / 3000, 1.0)
        while not self.closing:
            began = loop.time()
            try:
                await self._tick()
            except RedisError as e:
                self._warn_once("leases", e)
            except Exception:  # a bug of ours must not stop the renewals
                logger.exception("Renewing the cluster leases failed")
            await asyncio.sleep(max(period - (loop.time() - began), 0))

    async def _tick(self) -> None:
        """Heartbeat, renew the leases, hand back or take shards to hold the fair share."""
        serving = self.serving and not self.leaving
        live = await self._scripts["heartbeat"](
            keys=[self.keys.nodes, Keys.run(self.namespace)],
            args=[
                self.node,
                self.lease_ms,
                KEY_TTL_MS,
                "1" if serving else "0",
                2 * self.lease_ms,
            ],
        )
        self.stats.max_value("brokenlinks/cluster/nodes_max", int(live))
        held = sorted(self.owned)
        if held:
            kept = await self._scripts["renew"](
                keys=[self.keys.lease(v) for v in held], args=[self.node, self.lease_ms]
            )
            lost = [shard for shard, ok in zip(held, kept, strict=True) if not ok]
            if lost:
                # fencing: no more of their work is taken here (_dispatch)
                self.owned.difference_update(lost)
                self.draining.difference_update(lost)
                self.stats.inc_value("brokenlinks/cluster/leases_lost", len(lost))
                logger.warning(
                    "Lost the lease of %(n)d virtual shards (this node was too slow to renew "
                    "them): their work is other nodes' now",
                    {"n": len(lost)},
                )
        handed = [
            v
            for v in self.draining
            if not self._per_shard[v] and v not in self._reading and v in self.owned
        ]
        if handed:
            await self._scripts["release"](
                keys=[self.keys.lease(v) for v in handed], args=[self.node]
            )
            self.owned.difference_update(handed)
            self.draining.difference_update(handed)
        counted = int(live)
        if (
            counted < self.expected_nodes
            and asyncio.get_running_loop().time() < self._expect_until
        ):
            counted = self.expected_nodes
        share = quota(self.virtual, counted) if serving else 0
        active = self.owned - self.draining
        if len(active) > share:
            # the idlest shards go first: a shard is handed back once nothing is in flight
            extra = sorted(active, key=lambda v: self._per_shard[v])[: len(active) - share]
            self.draining.update(extra)
        elif len(active) < share:
            wanted = share - len(active)
            back = sorted(self.draining)[:wanted]
            self.draining.difference_update(back)
            wanted -= len(back)
            if wanted > 0:
                await self._acquire(wanted)
        await self._sweep()
        if len(self.owned) != self._announced:
            self._announced = len(self.owned)
            logger.info(
                "This node holds %(n)d of %(v)d virtual shards (%(live)d nodes)",
                {"n": self._announced, "v": self.virtual, "live": int(live)},
            )

    async def _acquire(self, wanted: int) -> None:
        candidates = [v for v in preference(self.node, self.virtual) if v not in self.owned]
        if not candidates:
            return
        got = await self._scripts["acquire"](
            keys=[self.keys.lease(v) for v in candidates],
            args=[self.node, self.lease_ms, wanted],
        )
        taken = [candidates[int(position) - 1] for position in got]
        if taken:
            self.owned.update(taken)
            # what earlier owners left pending is redone: a dead owner's entries have been
            # idle at least two thirds of a lease by now (its last renewal, then the
            # expiry); younger ones are a stalled owner's, still at work (the sweep takes
            # them if they stay pending)
            await self._claim_pending(taken, min_idle=self.lease_ms // 2, create=True)

    async def _sweep(self) -> None:
        """Take over entries left pending too long in the shards held (a stalled reader)."""
        held = sorted(self.owned - self.draining)
        if held:
            await self._claim_pending(held, min_idle=3 * self.lease_ms, create=False)

    async def _claim_pending(self, shards: list[int], *, min_idle: int, create: bool) -> None:
        claimed = await self._scripts["take"](
            keys=[self.keys.stream(v) for v in shards],
            args=[GROUP, self.node, KEY_TTL_MS, min_idle, "1" if create else "0"],
        )
        for position, entry, fields in claimed:
            if fields and (shards[int(position) - 1], entry) not in self._serving:
                self.stats.inc_value("brokenlinks/cluster/redone")
                pairs = dict(zip(fields[::2], fields[1::2], strict=True))
                self._dispatch(shards[int(position) - 1], entry, pairs)

    # -- serving the cluster's work -----------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self.redis is not None
        while not self.closing and not self.stopping:
            shards = (
                sorted(self.owned - self.draining) if self.serving and not self.leaving else []
            )
            room = self.max_in_flight - len(self._serving)
            if not shards or room <= 0:
                await asyncio.sleep(self.block_ms / 1000)
                continue
            self._reading = frozenset(shards)
            answer: Any
            try:
                answer = await self.redis.xreadgroup(
                    GROUP,
                    self.node,
                    {self.keys.stream(v): ">" for v in shards},
                    count=room,
                    block=self.block_ms,
                )
            except ResponseError as e:
                if "NOGROUP" not in str(e):  # a stream expired: created again on lease
                    self._warn_once("reading", e)
                await asyncio.sleep(self.block_ms / 1000)
                continue
            except RedisError as e:
                self._warn_once("reading", e)
                await asyncio.sleep(self.block_ms / 1000)
                continue
            finally:
                self._reading = frozenset()
            for stream, entries in answer or []:
                shard = self.keys.shard_of_stream(_text(stream))
                for entry, fields in entries:
                    if fields:
                        self._dispatch(shard, entry, fields)

    def _dispatch(self, shard: int, entry: bytes, fields: dict[bytes, bytes]) -> None:
        if shard not in self.owned:
            return  # fenced: the lease was lost; the next owner takes the entry over
        if (shard, entry) in self._serving:
            return  # claimed again while under way here (the sweep)
        self._serving.add((shard, entry))
        self._per_shard[shard] += 1
        task = asyncio.ensure_future(self._serve(shard, entry, _loads(fields[b"m"])))
        self._keep(task)
        task.add_done_callback(lambda _t: self._served(shard, entry))

    def _served(self, shard: int, entry: bytes) -> None:
        self._serving.discard((shard, entry))
        self._per_shard[shard] -= 1
        self._wake_if_done()

    def _wake_if_done(self) -> None:
        """The crawl was kept open for what this node served: let it close now, if idle."""
        if self.leaving and not self._serving and not any(self._per_shard.values()):
            wake_engine(self.crawler.engine)

    async def _serve(self, shard: int, entry: bytes, message: tuple[Any, ...]) -> None:
        from brokenlinks.checker.checks import ChecksStopped  # noqa: PLC0415  (a cycle)

        stream = self.keys.stream(shard)
        assert self.redis is not None
        try:
            if message[0] == "check":
                url = message[1]
                result = await self.local.check(url)
                self.stats.inc_value("brokenlinks/cluster/served")
                await self._scripts["answer"](
                    keys=[
                        self.keys.verdict(url),
                        self.keys.waiters(url),
                        self.keys.claim(url),
                        stream,
                    ],
                    args=[
                        GROUP,
                        entry,
                        _dumps(result),
                        KEY_TTL_MS,
                        _dumps(("verdict", url, result)),
                    ],
                )
            elif message[0] == "fetch":
                _, rid, state, reply = message
                outcome = await self.local.fetch_state(state)
                self.stats.inc_value("brokenlinks/cluster/fetches_served")
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xadd(reply, {"m": _dumps(("fetched", rid, outcome))})
                    pipe.pexpire(reply, KEY_TTL_MS)
                    pipe.xack(stream, GROUP, entry)
                    pipe.xdel(stream, entry)
                    await pipe.execute()
        except ChecksStopped:
            pass  # this node is stopping: the entry stays pending, for the next owner
        except ShardLost:
            self._give_up()
        except RedisError as e:
            self._warn_once("answering", e)

    def _give_up(self) -> None:
        """The local shards are lost: hand the virtual shards over, check in this process."""
        if not self.serving:
            return
        self.serving = False
        self.draining.update(self.owned)
        logger.warning(
            "This node's check shards are lost: it hands its virtual shards to the cluster "
            "and checks its own targets in the crawl process"
        )
        # what this node waits for is checked here (LinkChecker on ShardLost); a claim it
        # queued is still done by the shard's next owner, if any
        for future in self._checks.values():
            if not future.done():
                future.set_exception(ShardLost())
        self._checks.clear()

    # -- the coordinator's calls --------------------------------------------------------

    async def check(self, url: str) -> CheckResult:
        """The verdict of *url*: the cluster's, or checked once by its shard's owner."""
        await self.ready.wait()
        if self.failed:
            return await self.local.check(url)
        if self.closing or not self.serving:
            raise ShardLost
        self.leaving = False  # an idle crawl kept open (DontCloseSpider) has work again
        future = self._checks.get(url)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._checks[url] = future
            shard = shard_of(url, self.virtual)
            try:
                answer = await self._scripts["ask"](
                    keys=[
                        self.keys.verdict(url),
                        self.keys.waiters(url),
                        self.keys.claim(url),
                        self.keys.stream(shard),
                    ],
                    args=[self.reply, _dumps(("check", url)), KEY_TTL_MS],
                )
            except RedisError as e:
                self._checks.pop(url, None)
                self._warn_once("asking", e)
                return await self.local.check(url)
            if int(answer[0]) == _KNOWN:
                self._checks.pop(url, None)
                self.stats.inc_value("brokenlinks/cluster/shared")
                if not future.done():
                    future.set_result(_loads(answer[1]))
            elif int(answer[0]) == _CLAIMED:
                self.stats.inc_value("brokenlinks/cluster/claimed")
            else:
                self.stats.inc_value("brokenlinks/cluster/shared")
        return await asyncio.shield(future)

    async def settle(self, result: CheckResult) -> CheckResult:
        """A verdict decided without a request (no check to claim): the first node's wins.

        Two nodes whose pages link to one ``mailto:`` address (or one unparseable href)
        would otherwise store two checks of it, dated a second apart.
        """
        await self.ready.wait()
        if self.failed or self.closing or self.redis is None:
            return result
        try:
            known = await self._scripts["settle"](
                keys=[self.keys.verdict(result.url)], args=[_dumps(result), KEY_TTL_MS]
            )
        except RedisError as e:
            self._warn_once("settling", e)
            return result
        if known is None:
            return result
        self.stats.inc_value("brokenlinks/cluster/shared")
        first: CheckResult = _loads(known)
        return first

    async def fetch(self, request: Request) -> Response:
        """Download *request* (a referring page) where its site's checks are made."""
        await self.ready.wait()
        shard = shard_of(request.url, self.virtual)
        if self.failed:
            return await self.local.fetch(request)
        if not self.closing:
            self.leaving = False
        if shard in self.owned and shard not in self.draining and self.serving:
            # in flight in the shard: it is not handed over before the page is in
            self._per_shard[shard] += 1
            try:
                return await self.local.fetch(request)
            finally:
                self._per_shard[shard] -= 1
                self._wake_if_done()
        if self.closing or not self.serving or self.redis is None:
            raise ShardLost
        rid = next(self._rids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._fetches[rid] = future
        state = wire.request_state(request)
        try:
            stream = self.keys.stream(shard)
            await self.redis.xadd(stream, {"m": _dumps(("fetch", rid, state, self.reply))})
            await self.redis.pexpire(stream, KEY_TTL_MS)
        except RedisError as e:
            self._fetches.pop(rid, None)
            self._warn_once("forwarding", e)
            return await self.local.fetch(request)
        self.stats.inc_value("brokenlinks/cluster/fetches_forwarded")
        outcome = await future
        if outcome["error"] is not None:
            raise wire.error_from_state(outcome["error"])
        return wire.response_from_state(outcome["response"], request)

    async def _reply_loop(self) -> None:
        assert self.redis is not None
        last: bytes | str = "0-0"
        while not self.closing:
            answer: Any
            try:
                answer = await self.redis.xread({self.reply: last}, count=200, block=1000)
            except RedisError as e:
                self._warn_once("replies", e)
                await asyncio.sleep(self.block_ms / 1000)
                continue
            done = []
            for _, entries in answer or []:
                for entry, fields in entries:
                    last = entry
                    done.append(entry)
                    self._answered(_loads(fields[b"m"]))
            if done:
                try:
                    await self.redis.xdel(self.reply, *done)
                except RedisError as e:
                    self._warn_once("replies", e)

    def _answered(self, message: tuple[Any, ...]) -> None:
        if message[0] == "verdict":
            future = self._checks.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result(message[2])
        elif message[0] == "fetched":
            fetched = self._fetches.pop(message[1], None)
            if fetched is not None and not fetched.done():
                fetched.set_result(message[2])
