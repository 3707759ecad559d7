"""Which queue class holds the referring pages of a scrapy-redis crawl (pure; no scrapy-redis import).

With scrapy-redis' scheduler (``SCHEDULER = "scrapy_redis.scheduler.Scheduler"``) the
add-on swaps scrapy-redis' queue class (``SCHEDULER_QUEUE_CLASS``) for its reliable
equivalent in :mod:`brokenlinks.cluster.pages`: the same order (priority, FIFO or LIFO)
and the same Redis key, with every popped page held in the node's taken record until its
results are written. A queue class of another package cannot be wrapped: it is kept, with
one WARNING naming the setting.
"""

from __future__ import annotations

from typing import Any

#: scrapy-redis' scheduler (the only one whose queue this module knows)
SCRAPY_REDIS_SCHEDULER = "scrapy_redis.scheduler.Scheduler"
#: scrapy-redis' default queue class (``SCHEDULER_QUEUE_CLASS`` unset)
SCRAPY_REDIS_DEFAULT_QUEUE = "scrapy_redis.queue.PriorityQueue"

_PAGES = "brokenlinks.cluster.pages"
#: the reliable queue of each kind
RELIABLE = {
    "priority": f"{_PAGES}.ReliablePriorityQueue",
    "fifo": f"{_PAGES}.ReliableFifoQueue",
    "lifo": f"{_PAGES}.ReliableLifoQueue",
}
#: scrapy-redis' queue classes (their old names too) → the kind they are
SCRAPY_REDIS_QUEUES = {
    "scrapy_redis.queue.PriorityQueue": "priority",
    "scrapy_redis.queue.SpiderPriorityQueue": "priority",
    "scrapy_redis.queue.FifoQueue": "fifo",
    "scrapy_redis.queue.SpiderQueue": "fifo",
    "scrapy_redis.queue.LifoQueue": "lifo",
    "scrapy_redis.queue.SpiderStack": "lifo",
}


def object_path(value: Any) -> str:
    """A setting's value as an import path (settings may hold the class itself).

    >>> from collections import OrderedDict
    >>> object_path("a.b.C"), object_path(OrderedDict), object_path(None)
    ('a.b.C', 'collections.OrderedDict', '')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return f"{value.__module__}.{value.__qualname__}"


def reliable_queue_class(scheduler: Any, queue_class: Any) -> tuple[str | None, str | None]:
    """The ``SCHEDULER_QUEUE_CLASS`` to set, and a warning line, for these two settings.

    ``(None, None)``: not scrapy-redis' scheduler, or the reliable queue already.

    >>> reliable_queue_class("scrapy_redis.scheduler.Scheduler", None)
    ('brokenlinks.cluster.pages.ReliablePriorityQueue', None)
    >>> reliable_queue_class("scrapy_redis.scheduler.Scheduler", "scrapy_redis.queue.FifoQueue")
    ('brokenlinks.cluster.pages.ReliableFifoQueue', None)
    >>> reliable_queue_class("scrapy.core.scheduler.Scheduler", None)
    (None, None)
    >>> reliable_queue_class("scrapy_redis.scheduler.Scheduler", "acme.MyQueue")[1][:54]
    "SCHEDULER_QUEUE_CLASS 'acme.MyQueue' is not a queue of"
    """
    if object_path(scheduler) != SCRAPY_REDIS_SCHEDULER:
        return None, None
    name = object_path(queue_class) or SCRAPY_REDIS_DEFAULT_QUEUE
    if name in RELIABLE.values():
        return None, None
    kind = SCRAPY_REDIS_QUEUES.get(name)
    if kind is not None:
        return RELIABLE[kind], None
    warning = (
        f"SCHEDULER_QUEUE_CLASS {name!r} is not a queue of scrapy-redis that brokenlinks "
        "can make reliable (scrapy_redis.queue.PriorityQueue, FifoQueue or LifoQueue): a "
        "referring page a node had popped when it died is lost"
    )
    return None, warning
