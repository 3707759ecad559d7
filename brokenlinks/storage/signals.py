"""The store's Scrapy signal: a batch of records is written.

``batch_written`` is sent by :class:`~brokenlinks.pipelines.batching.BatchingPipeline`
after each batch it wrote (one transaction committed), with the arguments ``pipeline``
(the sender, whose ``accepted`` and ``stored`` counters say how far the store is) and
``count`` (records in the batch). The cluster's reliable page queue
(:mod:`brokenlinks.cluster.pages`) acknowledges referring pages on it.
"""

from __future__ import annotations

#: sent after a batch is written (arguments ``pipeline``, ``count``)
batch_written = object()
