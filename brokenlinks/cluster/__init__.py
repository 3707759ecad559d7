"""Link checks partitioned by host across processes (and, with Redis, machines).

A crawl's link checks are most of its requests, and Scrapy's per-request path runs on
one core. With shards, the crawl process (the *coordinator*) reads the referring pages and
hands every target to the shard that owns the target's site; each shard is a Scrapy
crawler of its own (its downloader middlewares still record the status codes, its
:class:`~brokenlinks.checker.checks.LinkChecker` still follows redirects, probes hosts and
confirms) and alone talks to its sites, so per-host limits hold by construction and a
target is checked once. Verdicts come back to the coordinator, which builds the items,
feeds and store as without shards.

- :mod:`brokenlinks.cluster.partition`: which shard owns a URL (a stable hash of its site).
- :mod:`brokenlinks.cluster.wire`: the messages between coordinator and shards.
- :mod:`brokenlinks.cluster.node`: a shard process (a Scrapy crawler serving checks).
- :mod:`brokenlinks.cluster.local`: the coordinator's side on one machine (child processes).
- :mod:`brokenlinks.cluster.remote`: across machines: the nodes of a cluster share virtual
  shards, claims and verdicts through Redis (``REDIS_URL``).
- :mod:`brokenlinks.cluster.keys`: the cluster's key names in Redis and the rules its
  nodes agree by (namespace, fair share).
- :mod:`brokenlinks.cluster.middleware`: referring pages fetched through their host's shard.
- :mod:`brokenlinks.cluster.pages`: scrapy-redis' queue of referring pages made reliable
  (a popped page is held per node until its results are written, and put back when its
  node dies); :mod:`brokenlinks.cluster.queues` says which queue class a crawl gets.
- :mod:`brokenlinks.cluster.seeds`: seeds another node has queued already, skipped.
"""
