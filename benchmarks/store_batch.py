"""Benchmark: one large batch (500 pages × 100 links, 1,667 checks) written to SQLite twice.

The first write inserts every row; the second is the idempotent re-write of a resumed or
repeated crawl (the upserts find every row already there). Then the same records again,
into a new database, in the crawl's batches (``BROKENLINKS_STORE_BATCH_SIZE`` = 100 items,
one transaction each). Prints the wall and CPU times of each and the row counts; on a
shared machine compare the CPU times. Run from the project directory:
``python benchmarks/store_batch.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.storage import db, store

PAGES = 500
LINKS_PER_PAGE = 100
TARGETS = 5000
#: items per transaction in a crawl (BROKENLINKS_STORE_BATCH_SIZE)
BATCH = 100


def link(target: str, anchor: str) -> LinkRecord:
    return LinkRecord(
        target_url=target,
        target_domain=target.split("/")[2],
        anchor_text=anchor,
        rel=[],
        follow=True,
        position="content",
        context=f"some text around {anchor}",
        checked=True,
    )


def batch() -> list[Any]:
    items: list[Any] = [
        PageItem(
            url=f"https://page{p}.example/article",
            requested_url=f"https://page{p}.example/article",
            domain=f"page{p}.example",
            title="A page",
            status=200,
            error=None,
            links_on_page=LINKS_PER_PAGE,
            crawled_at="2024-05-01T10:00:00Z",
            links=[
                link(f"https://t{(p * 7 + n) % TARGETS}.test/path/{n}", f"anchor {n}")
                for n in range(LINKS_PER_PAGE)
            ],
        )
        for p in range(PAGES)
    ]
    items += [
        CheckItem(
            target_url=f"https://t{n}.test/path/{n}",
            target_domain=f"t{n}.test",
            kind="dead",
            reason="http_status",
            status=404,
            final_url=None,
            checked_at="2024-05-01T11:00:00+00:00",
        )
        for n in range(0, TARGETS, 3)
    ]
    return items


def timed(function: Any, *args: Any) -> tuple[float, float]:
    """Call *function*; its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def in_batches(engine: Any, run_id: int, items: list[Any]) -> None:
    for start in range(0, len(items), BATCH):
        store.write_batch(engine, run_id, items[start : start + BATCH])


def write_twice(path: Path, items: list[Any], write: Any) -> tuple[Any, Any, dict[str, int]]:
    engine = db.create_engine_from_url(f"sqlite:///{path}")
    try:
        db.init_db(engine)
        run_id = store.start_run(engine, "backlinks", {"seeds": "seeds.txt"})
        first = timed(write, engine, run_id, items)
        second = timed(write, engine, run_id, items)
        counts = store.count_rows(engine)
    finally:
        engine.dispose()
    if counts["pages"] != PAGES or counts["links"] != PAGES * LINKS_PER_PAGE:
        sys.exit(f"error: unexpected row counts {counts}")
    return first, second, counts


def main() -> None:
    items = batch()
    with tempfile.TemporaryDirectory(prefix="brokenlinks-bench-") as tmp:
        first, second, counts = write_twice(Path(tmp) / "one.sqlite3", items, store.write_batch)
        print(
            f"{PAGES} pages x {LINKS_PER_PAGE} links in one batch: "
            f"first write {first[0]:.2f} s (CPU {first[1]:.2f} s), "
            f"rewrite {second[0]:.2f} s (CPU {second[1]:.2f} s); rows: {counts}"
        )
        first, second, _ = write_twice(Path(tmp) / "batches.sqlite3", items, in_batches)
        print(
            f"the same in batches of {BATCH} items ({-(-len(items) // BATCH)} transactions): "
            f"first write {first[0]:.2f} s (CPU {first[1]:.2f} s), "
            f"rewrite {second[0]:.2f} s (CPU {second[1]:.2f} s)"
        )


if __name__ == "__main__":
    main()
