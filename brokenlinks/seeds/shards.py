"""Split referring pages into N shards by site, one per Scrapyd node (pure functions).

Every page of a site goes to the same shard, so that each site is crawled by one node
only and ``CONCURRENT_REQUESTS_PER_DOMAIN`` still bounds what the site sees. Shards are
balanced by page count: the biggest sites are placed first, each on the shard with the
fewest pages so far. The result is deterministic. No settings are read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from brokenlinks.parsing.sites import site_of

if TYPE_CHECKING:
    from collections.abc import Sequence


def split_by_site(urls: Sequence[str], shards: int) -> list[list[str]]:
    """Split *urls* into *shards* lists; the URLs of one site always share a list.

    Each list keeps the input order. Fewer sites than shards leaves shards empty.

    >>> split_by_site(["http://a.example/1", "http://b.example/", "http://blog.a.example/2",
    ...                "http://c.example/"], 2)
    [['http://a.example/1', 'http://blog.a.example/2'], ['http://b.example/', 'http://c.example/']]
    >>> split_by_site(["http://a.example/"], 0)
    Traceback (most recent call last):
    ...
    ValueError: shards: at least 1 (got 0)
    """
    if shards < 1:
        msg = f"shards: at least 1 (got {shards})"
        raise ValueError(msg)
    by_site: dict[str, list[int]] = defaultdict(list)
    for index, url in enumerate(urls):
        by_site[site_of(url)].append(index)
    sizes = [0] * shards
    shard_of: dict[str, int] = {}
    # largest first, then by name: the same input always gives the same shards
    for site, indexes in sorted(by_site.items(), key=lambda item: (-len(item[1]), item[0])):
        target = min(range(shards), key=lambda s: (sizes[s], s))
        shard_of[site] = target
        sizes[target] += len(indexes)
    out: list[list[str]] = [[] for _ in range(shards)]
    for url in urls:
        out[shard_of[site_of(url)]].append(url)
    return out
