"""Which shard owns a URL: a stable hash of its site (registered domain).

Partitioned by *site* (``blog.example.co.uk`` → ``example.co.uk``, the browser's
registrable domain, private suffixes included), not by host name:

- **politeness**: the hosts of one site (``example.com``, ``www.example.com``,
  ``cdn.example.com``) are usually one server or one operator's servers; in one shard
  they share one process's view of the site's answers (``Retry-After`` holds, its
  in-flight requests), and Scrapy's per-host slots of the site are all in that process;
- **probes**: a site's soft-404 probes and home-page look-ups (one per origin) and the
  parked-domain reading of a whole expired domain all happen in one process, so no
  probe is sent twice for a site spread over shards;
- **balance** is still fine: the Public Suffix List's private section makes each
  ``*.github.io`` or ``*.blogspot.com`` blog a site of its own.

The key is the one ``scrapy splitseeds`` splits referring pages by
(:mod:`brokenlinks.seeds.shards`); there the whole list is known beforehand and balanced
by page count, here targets arrive one by one, so the owner is a hash.

A URL without a host (``mailto:``, an unparseable href) never reaches a shard (it is
decided without a request); it maps to shard 0 all the same. The hash is BLAKE2 of the
site's name: the same on every machine and every Python (``hash()`` is salted per
process), so that nodes of a cluster agree on the owner.
"""

from __future__ import annotations

import hashlib

from brokenlinks.parsing.sites import site_of_host
from brokenlinks.parsing.urls import host_of


def shard_key(url: str) -> str:
    """The name a URL is partitioned by: its site.

    >>> shard_key("https://www.shop.example.co.uk/a"), shard_key("mailto:x@y.test")
    ('example.co.uk', '')
    """
    host = host_of(url)
    return site_of_host(host) if host else ""


def shard_of_key(key: str, count: int) -> int:
    """The shard (0 to *count* - 1) that owns the site *key*.

    >>> shard_of_key("example.com", 1), shard_of_key("example.com", 4)
    (0, 2)
    """
    if count <= 1:
        return 0
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def shard_of(url: str, count: int) -> int:
    """The shard (0 to *count* - 1) that owns *url*'s site.

    >>> shard_of("https://www.example.com/x", 4) == shard_of("http://example.com/", 4)
    True
    """
    return shard_of_key(shard_key(url), count)
