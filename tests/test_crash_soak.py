"""Crash soak: SIGKILL a crawl at random points several times, then let it finish.

The final database must hold what a clean, uninterrupted run stores: the same pages, the
same targets with the same verdicts, the same link occurrences and so the same prospects,
each once. The kill points are random within the crawl, drawn from a seed that every failure
message names; ``BROKENLINKS_SOAK_SEED=<seed>`` replays that soak's kill points.
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
    settings_for,
    slow_web,
    start_crawl,
    wait_for_pages,
)

if TYPE_CHECKING:
    from pathlib import Path

#: kills per soak: 2 by default (CI's time budget); BROKENLINKS_SOAK_KILLS=10 for a longer soak
KILLS = int(os.environ.get("BROKENLINKS_SOAK_KILLS", "2"))

__all__ = ["slow_web"]  # a fixture used here


def soak_seed() -> int:
    """The seed of the kill points: BROKENLINKS_SOAK_SEED (to replay a failure), else random."""
    text = os.environ.get("BROKENLINKS_SOAK_SEED", "").strip()
    return int(text) if text else random.randrange(2**32)


def kill_points(seed: int, kills: int = KILLS) -> list[int]:
    """After how many stored pages each kill comes: increasing, so the crawl moves on."""
    return sorted(random.Random(seed).sample(range(1, PAGES - 2), kills))


def test_the_same_seed_gives_the_same_kill_points(monkeypatch):
    monkeypatch.setenv("BROKENLINKS_SOAK_SEED", "12345")
    assert soak_seed() == 12345
    assert kill_points(soak_seed()) == kill_points(12345)
    monkeypatch.delenv("BROKENLINKS_SOAK_SEED")
    seeds = {soak_seed() for _ in range(5)}
    assert len(seeds) > 1  # a fresh seed per soak when none is given


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


@pytest.mark.e2e
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

    seed = soak_seed()
    replay = f"replay with BROKENLINKS_SOAK_SEED={seed}"
    # pytest shows a failed test's captured output: the seed reaches the report even when the
    # failure is a helper's (wait_for_pages) with a message of its own
    print(f"crash soak: {replay}")  # noqa: T201
    soaked_db = tmp_path / "soaked.sqlite3"
    points = kill_points(seed)
    for point in points:
        proc = start_crawl(tmp_path, seeds, settings_for(slow_web, soaked_db))
        wait_for_pages(soaked_db, point, proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, replay
        assert integrity(soaked_db) == "ok", f"killed after {point} pages; {replay}"
    final = run_crawl(
        tmp_path,
        slow_web,
        {"seeds": str(seeds)},
        db_path=soaked_db,
        settings=settings_for(slow_web, soaked_db),
    )
    assert final.returncode == 0, f"{replay}\n{final.stderr[-3000:]}"
    assert integrity(soaked_db) == "ok", replay
    assert content(soaked_db) == expected, f"kill points {points}; {replay}"
    runs = final.rows["crawl_runs"]
    assert len(runs) == KILLS + 1, replay
    assert [run["finished_at"] is None for run in runs] == [True] * KILLS + [False], replay
