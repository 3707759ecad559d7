"""OutreachStorePipeline: writes the outreach records (metrics, captures, contacts ...).

Stores the records of :mod:`brokenlinks.outreach.items` through
:func:`brokenlinks.outreach.records.write_items`, batched and riding out store outages as
:class:`~brokenlinks.pipelines.batching.BatchingPipeline` does; every item is passed on
unchanged (the feed exports prospects only). The database is opened at the first batch: a
crawl that yields no outreach record never touches it here. Settings read: those of the
base (``BROKENLINKS_STORE_ENABLED``, ``BROKENLINKS_DATABASE_URL``,
``BROKENLINKS_STORE_BATCH_SIZE``, ``BROKENLINKS_STORE_OUTAGE_LIMIT``).
Stats: ``brokenlinks/outreach/stored`` and the base's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.utils.asyncio import run_in_thread

from brokenlinks.outreach import records
from brokenlinks.outreach.items import OUTREACH_ITEMS
from brokenlinks.storage import db, store

from .batching import BatchingPipeline

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _open(database_url: str) -> Engine:
    engine = db.create_engine_from_url(database_url)
    try:
        store.retry_on_contention(db.init_db, engine)
    except Exception:
        engine.dispose()
        raise
    return engine


class OutreachStorePipeline(BatchingPipeline):
    """Write outreach records to the database in batches, one transaction each."""

    item_types = OUTREACH_ITEMS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine: Engine | None = None

    def write(self, batch: list[Any], *, retry: bool) -> None:
        if self.engine is None:
            self.engine = _open(self.database_url)
        if retry:
            store.retry_on_contention(records.write_items, self.engine, batch)
        else:
            records.write_items(self.engine, batch)

    def written(self, batch: list[Any]) -> None:
        self.stats.inc_value("brokenlinks/outreach/stored", len(batch))

    async def closed(self) -> None:
        if self.engine is not None:
            await run_in_thread(self.engine.dispose)
