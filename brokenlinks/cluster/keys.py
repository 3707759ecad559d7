"""The names a cluster keeps in Redis, and the pure rules its nodes agree by.

Every key of a cluster run starts with ``{namespace}:{run}:``. The *namespace* is what
the same crawl scheduled on every node has in common (:func:`cluster_namespace`); the
*run* is a random id the first node of the namespace draws, which the others join while
any node is alive (it expires one lease time after the last node is gone), so that a
later crawl in the same namespace starts afresh instead of reading last week's verdicts.

Per virtual shard *v*: ``lease:{v}`` (the node that owns it, with expiry) and
``stream:{v}`` (its work: checks and page fetches, a stream with one consumer group).
Per target URL (by digest): ``verdict:{d}`` (the shared verdict), ``claim:{d}`` (a
stream entry exists for it), ``waiters:{d}`` (the reply streams of the nodes waiting).
Per node: ``reply:{node}`` (its answers). ``nodes``: the live nodes, a sorted set scored
by their last heartbeat (Redis's clock, so that the nodes' clocks need not agree).

The referring pages' reliable queue (:mod:`brokenlinks.cluster.pages`) keeps its keys
beside scrapy-redis' queue key *q* (they live as long as the queue, not the run):
``{q}:taken:{node}`` (the pages a node popped and has not acknowledged, a hash by token)
and ``{q}:nodes`` (the nodes popping from it, a sorted set scored by their last
heartbeat, Redis's clock).

Settings: ``BROKENLINKS_CLUSTER_KEY`` (the namespace; default: scrapy-redis'
``SCHEDULER_QUEUE_KEY`` of the spider, else ``brokenlinks:{spider}``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

#: the consumer group every node reads the shard streams in
GROUP = "checkers"


def cluster_namespace(setting: str, queue_key: str | None, spider: str) -> str:
    """The namespace of a run's keys: what every node of the same crawl computes alike.

    >>> cluster_namespace("acme-48", None, "backlinks")
    'acme-48'
    >>> cluster_namespace("", "acme-48:%(spider)s:requests", "backlinks")
    'acme-48:backlinks:requests:checks'
    >>> cluster_namespace("", None, "backlinks")
    'brokenlinks:backlinks'
    """
    if setting:
        return setting
    if queue_key:
        return f"{queue_key % {'spider': spider}}:checks"
    return f"brokenlinks:{spider}"


def digest(url: str) -> str:
    """A URL's short, fixed-length name in keys.

    >>> digest("http://a.test/"), len(digest("http://a.test/" + "x" * 5000))
    ('31a2a3783e38fe9fe4519b7a7e7f98ab', 32)
    """
    return hashlib.blake2b(url.encode("utf-8"), digest_size=16).hexdigest()


def quota(virtual: int, live: int) -> int:
    """The virtual shards one of *live* nodes may lease: its fair share, rounded up.

    >>> quota(64, 1), quota(64, 2), quota(64, 3), quota(64, 0)
    (64, 32, 22, 64)
    """
    return math.ceil(virtual / max(live, 1))


def preference(node: str, virtual: int) -> list[int]:
    """The order in which *node* tries to lease free shards (a rotation of its own).

    Nodes starting together then try different shards first instead of all racing for 0.

    >>> sorted(preference("n1", 8)) == list(range(8)), preference("n1", 8) != preference("n2", 8)
    (True, True)
    """
    start = int.from_bytes(hashlib.blake2b(node.encode(), digest_size=4).digest(), "big")
    return [(start + i) % virtual for i in range(virtual)]


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of one cluster run (see the module docstring)."""

    prefix: str

    @classmethod
    def of(cls, namespace: str, run: str) -> Keys:
        return cls(f"{namespace}:{run}")

    @staticmethod
    def run(namespace: str) -> str:
        return f"{namespace}:run"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"

    def lease(self, shard: int) -> str:
        return f"{self.prefix}:lease:{shard}"

    def stream(self, shard: int) -> str:
        return f"{self.prefix}:stream:{shard}"

    def shard_of_stream(self, stream: str) -> int:
        """The shard a stream key belongs to.

        >>> k = Keys("ns:r"); k.shard_of_stream(k.stream(12))
        12
        """
        return int(stream.rsplit(":", 1)[1])

    def reply(self, node: str) -> str:
        return f"{self.prefix}:reply:{node}"

    def verdict(self, url: str) -> str:
        return f"{self.prefix}:verdict:{digest(url)}"

    def claim(self, url: str) -> str:
        return f"{self.prefix}:claim:{digest(url)}"

    def waiters(self, url: str) -> str:
        return f"{self.prefix}:waiters:{digest(url)}"


@dataclass(frozen=True, slots=True)
class PageKeys:
    """The keys of the reliable queue beside scrapy-redis' queue key (module docstring).

    >>> k = PageKeys("acme:backlinks:requests"); k.taken("n1"), k.nodes
    ('acme:backlinks:requests:taken:n1', 'acme:backlinks:requests:nodes')
    """

    queue: str

    @property
    def taken_prefix(self) -> str:
        return f"{self.queue}:taken:"

    def taken(self, node: str) -> str:
        return f"{self.taken_prefix}{node}"

    @property
    def nodes(self) -> str:
        return f"{self.queue}:nodes"
