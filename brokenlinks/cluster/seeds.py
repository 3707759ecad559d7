"""Seeds another node has queued already: skipped before they become requests.

With scrapy-redis' scheduler and duplicate filter, every node of a shared queue reads the
same seeds (docs/deployment.md) and runs each one through the filter: a request built, the
spider middlewares, the scheduler, one ``SADD``, for every seed on every node, of which
all but one node's are dropped. For an agency's million referring pages on N nodes that is
N million filter round trips before a page is read. The spider asks :class:`QueuedSeeds`
about its next seeds in batches, one ``SMISMEMBER`` on the filter's own key with the
filter's own fingerprints, and skips those already seen. A seed another node pushes after
its batch was asked is dropped by the filter, as before; if Redis fails, the filter
decides alone, as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy.utils.misc import load_object

from brokenlinks.cluster.queues import SCRAPY_REDIS_SCHEDULER, object_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy import Request, Spider

logger = logging.getLogger(__name__)

#: seeds asked about in one round trip
BATCH = 256


class QueuedSeeds:
    """Which requests scrapy-redis' duplicate filter has seen (see the module docstring)."""

    def __init__(self, dupefilter: Any) -> None:
        self.dupefilter = dupefilter
        self._warned = False

    @classmethod
    def of(cls, spider: Spider) -> Self | None:
        """The spider's scrapy-redis duplicate filter, or ``None`` when it has none."""
        settings = spider.crawler.settings
        if object_path(settings.get("SCHEDULER")) != SCRAPY_REDIS_SCHEDULER:
            return None
        try:
            from scrapy_redis.dupefilter import RFPDupeFilter  # noqa: PLC0415  (optional)
        except ImportError:
            return None
        filter_class = load_object(settings.get("DUPEFILTER_CLASS") or RFPDupeFilter)
        if not (isinstance(filter_class, type) and issubclass(filter_class, RFPDupeFilter)):
            return None  # another filter: its own notion of "seen"
        # the scheduler builds its own the same way (Scheduler.open): the same key
        untyped: Any = filter_class  # scrapy-redis has no type hints
        return cls(untyped.from_spider(spider))

    def seen(self, requests: Sequence[Request]) -> list[bool]:
        """For each request, whether the filter would drop it now."""
        # redis comes with scrapy-redis, an optional dependency: here only with it
        from redis.exceptions import RedisError  # noqa: PLC0415

        fingerprints = [self.dupefilter.request_fingerprint(r) for r in requests]
        try:
            answer = self.dupefilter.server.smismember(self.dupefilter.key, fingerprints)
        except RedisError as e:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "Redis failed (asking which seeds are queued already): %(error)s; "
                    "every seed goes to the duplicate filter",
                    {"error": e},
                )
            return [False] * len(requests)
        return [bool(flag) and not r.dont_filter for flag, r in zip(answer, requests, strict=True)]
