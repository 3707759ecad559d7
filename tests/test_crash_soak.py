"""Crash soak: SIGKILL a crawl at random points several times, then let it finish.

The final database must hold what a clean, uninterrupted run stores: the same pages, the
same targets with the same verdicts, the same link occurrences and so the same prospects,
each once. The kill points are random (seeded, and printed on failure) within the crawl.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
from typing import TYPE_CHECKING

import pytest

from .conftest import run_crawl, write_seeds
from .test_durability import (
    COMPLETE,
    PAGE_URLS,
    PAGES,
    integrity,
    make_slow_web,
    settings_for,
    start_crawl,
    wait_for_pages,
)

if TYPE_CHECKING:
    from pathlib import Path

#: kills per soak: 2 by default (CI's time budget); BROKENLINKS_SOAK_KILLS=10 for a longer soak
KILLS = int(os.environ.get("BROKENLINKS_SOAK_KILLS", "2"))


@pytest.fixture(scope="module")
def slow_web(tmp_path_factory):
    web = make_slow_web(tmp_path_factory.mktemp("soak-web"))
    web.start()
    yield web
    web.stop()


def content(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """What a user gets from the store, without ids, times and run numbers."""
    con = sqlite3.connect(db_path)
    try:
        queries = {
            "pages": "SELECT url, title, status, error, links_on_page FROM pages",
            "targets": "SELECT url, kind, reason, status, final_url FROM targets",
            "links": (
                "SELECT p.url, t.url, l.anchor_text, l.rel, l.follow, l.position, l.checked, "
                "l.gone_at IS NULL FROM links l JOIN pages p ON p.id = l.page_id "
                "JOIN targets t ON t.id = l.target_id"
            ),
            "prospects": (
                "SELECT p.url, t.url FROM links l JOIN pages p ON p.id = l.page_id "
                "JOIN targets t ON t.id = l.target_id WHERE t.kind = 'dead'"
            ),
        }
        return {name: sorted(con.execute(sql).fetchall()) for name, sql in queries.items()}
    finally:
        con.close()


def test_killed_again_and_again_then_finished_equals_a_clean_run(tmp_path, slow_web):
    seeds = write_seeds(tmp_path, PAGE_URLS)
    clean_db = tmp_path / "clean.sqlite3"
    clean = run_crawl(
        tmp_path, slow_web, {"seeds": str(seeds)}, settings=settings_for(slow_web, clean_db)
    )
    assert clean.returncode == 0, clean.stderr[-3000:]
    expected = content(clean_db)
    assert {name: len(rows) for name, rows in expected.items() if name in COMPLETE} == COMPLETE
    assert len(expected["prospects"]) == PAGES  # one dead target per page

    seed = random.randrange(2**32)
    rng = random.Random(seed)
    soaked_db = tmp_path / "soaked.sqlite3"
    # each kill comes later than the last one's stored pages: the crawl moves on
    points = sorted(rng.sample(range(1, PAGES - 2), KILLS))
    for point in points:
        proc = start_crawl(tmp_path, seeds, settings_for(slow_web, soaked_db))
        wait_for_pages(soaked_db, point, proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, f"seed {seed}"
        assert integrity(soaked_db) == "ok", f"seed {seed}, killed after {point} pages"
    final = run_crawl(
        tmp_path,
        slow_web,
        {"seeds": str(seeds)},
        db_path=soaked_db,
        settings=settings_for(slow_web, soaked_db),
    )
    assert final.returncode == 0, final.stderr[-3000:]
    assert integrity(soaked_db) == "ok"
    assert content(soaked_db) == expected, f"seed {seed}, kill points {points}"
    runs = final.rows["crawl_runs"]
    assert len(runs) == KILLS + 1
    assert [run["finished_at"] is None for run in runs] == [True] * KILLS + [False]
