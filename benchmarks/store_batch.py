"""Benchmark: one large batch (500 pages × 100 links, 1,667 checks) written to SQLite twice.

The first write inserts every row; the second is the idempotent re-write of a resumed or
repeated crawl (the upserts find every row already there). Prints both wall times and the
row counts. Run from the project directory: ``python benchmarks/store_batch.py``.
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


def main() -> None:
    items = batch()
    with tempfile.TemporaryDirectory(prefix="brokenlinks-bench-") as tmp:
        engine = db.create_engine_from_url(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            db.init_db(engine)
            run_id = store.start_run(engine, "backlinks", {"seeds": "seeds.txt"})
            started = time.perf_counter()
            store.write_batch(engine, run_id, items)
            first = time.perf_counter() - started
            started = time.perf_counter()
            store.write_batch(engine, run_id, items)
            second = time.perf_counter() - started
            counts = store.count_rows(engine)
        finally:
            engine.dispose()
    print(
        f"{PAGES} pages x {LINKS_PER_PAGE} links: first write {first:.2f} s, "
        f"rewrite {second:.2f} s; rows: {counts}"
    )
    if counts["pages"] != PAGES or counts["links"] != PAGES * LINKS_PER_PAGE:
        sys.exit(f"error: unexpected row counts {counts}")


if __name__ == "__main__":
    main()
