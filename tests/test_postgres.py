"""PostgreSQL through the same ``BROKENLINKS_DATABASE_URL``: a real server started for the module.

They run wherever the test command runs (``.ci/run`` installs postgresql). Only a machine
without PostgreSQL's binaries skips them, with a reason saying how to install them; a
server that is installed but does not start fails them.
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest
from sqlalchemy import text

from brokenlinks.storage import db, store
from brokenlinks.testing.localweb import LocalWeb

from .conftest import run_crawl, write_seeds
from .test_durability import COMPLETE, PAGE_URLS, settings_for, slow_web, start_crawl
from .test_memory import scrapy
from .test_migrations import revision, schema_diff
from .test_store import check, link, page

pytestmark = pytest.mark.e2e

__all__ = ["slow_web"]  # a fixture used here


@pytest.fixture
def pg_url(pg, request):
    return pg.create_database(request.node.name.lower().replace("[", "_").rstrip("]")[:60])


def test_migrations_on_postgres(pg_url):
    engine = db.create_engine_from_url(pg_url)
    db.migrate(engine)
    db.migrate(engine)
    assert revision(engine) == "0006"
    assert schema_diff(engine) == []
    with engine.connect() as con:
        kind = con.execute(
            text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'checks' AND column_name = 'checked_at'"
            )
        ).scalar()
    assert kind == "timestamp with time zone"
    engine.dispose()


def test_crawl_report_prospects_recheck_on_postgres(tmp_path, web, pg_url):
    seeds = write_seeds(tmp_path, ["http://news.test/article.html", "http://news.test/other.html"])
    settings = {"BROKENLINKS_DATABASE_URL": pg_url}
    first = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings=settings)
    assert first.returncode == 0, first.stderr[-3000:]
    engine = db.create_engine_from_url(pg_url)
    rows = store.count_rows(engine)
    again = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings=settings)
    assert again.returncode == 0, again.stderr[-3000:]
    after = store.count_rows(engine)
    assert after == {**rows, "crawl_runs": 2}
    first_stats = store.get_run(engine, 1)["stats"]
    again_stats = store.get_run(engine, 2)["stats"]
    # every target comes from the cache: nothing checked, no history added
    assert again_stats["brokenlinks/targets/cached"] == first_stats["brokenlinks/targets/checked"]
    assert "brokenlinks/targets/checked" not in again_stats
    assert "brokenlinks/requests/head" not in again_stats
    dead = store.dead_links(engine)
    assert {(d["source_url"], d["target_url"]) for d in dead} == {
        (i["source_url"], i["target_url"]) for i in first.items
    }

    report = tmp_path / "report.json"
    assert scrapy(pg_url, "report", "-o", str(report)).returncode == 0
    broken = json.loads(report.read_text(encoding="utf-8"))
    assert broken[0]["target_url"] == "http://mysite.test/old-guide.html"
    assert broken[0]["referring_pages"] == 2
    mark = scrapy(
        pg_url,
        "prospects",
        "--mark",
        "won",
        "http://news.test/article.html",
        broken[0]["target_url"],
    )
    assert mark.returncode == 0, mark.stderr
    prospects = tmp_path / "prospects.json"
    assert scrapy(pg_url, "prospects", "--status", "won", "-o", str(prospects)).returncode == 0
    assert [p["source_url"] for p in json.loads(prospects.read_text(encoding="utf-8"))] == [
        "http://news.test/article.html"
    ]

    recheck = run_crawl(
        tmp_path, web, {"domain": "mysite.test"}, spider="recheck", settings=settings
    )
    assert recheck.returncode == 0, recheck.stderr[-3000:]
    stats = store.get_run(engine, 3)["stats"]
    assert stats["brokenlinks/recheck/pages"] == 2
    assert stats["brokenlinks/recheck/dead_targets"] == len(broken)
    assert "brokenlinks/links/lost" not in stats
    assert store.count_rows(engine)["links"] == rows["links"]
    engine.dispose()


def test_two_crawls_at_once_on_postgres(tmp_path, slow_web, pg_url):
    settings = {**settings_for(slow_web, tmp_path / "unused"), "BROKENLINKS_DATABASE_URL": pg_url}
    first = write_seeds(tmp_path, PAGE_URLS[:18], "first.txt")
    second = write_seeds(tmp_path, PAGE_URLS[12:], "second.txt")
    procs = [start_crawl(tmp_path, first, settings), start_crawl(tmp_path, second, settings)]
    codes = [proc.wait(timeout=240) for proc in procs]
    logs = [p.read_text(encoding="utf-8") for p in sorted(tmp_path.glob("crawl-*.log"))]
    assert codes == [0, 0], [log[-3000:] for log in logs]
    engine = db.create_engine_from_url(pg_url)
    rows = store.count_rows(engine)
    engine.dispose()
    assert {name: rows[name] for name in COMPLETE} == COMPLETE
    assert rows["crawl_runs"] == 2


def test_long_anchor_and_data_href_on_postgres(tmp_path, pg_url):
    # PostgreSQL refuses a B-tree entry over ~2.7 KB: with the raw texts in the unique
    # keys, this page's batch failed, was queued again and every later flush failed too
    # random text: PostgreSQL compresses an index entry first, and repeated text would fit
    rng = random.Random(16)
    anchor = " ".join(
        "".join(rng.choices(string.ascii_letters, k=rng.randint(2, 9))) for _ in range(1700)
    )[:10_000]  # 10 KB
    data_href = "data:text/plain;base64," + base64.b64encode(rng.randbytes(3750)).decode()
    long_path = base64.urlsafe_b64encode(rng.randbytes(3000)).decode()  # 4 KB
    root = tmp_path / "web"
    (root / "long.test").mkdir(parents=True)
    (root / "long.test" / "index.html").write_text(
        f"<p>Resources: <a href='http://gone.test/long'>{anchor}</a> and "
        f"<a href='{data_href}'>inline data</a> and "
        f"<a href='http://gone.test/{long_path}'>a long path</a>.</p>",
        encoding="utf-8",
    )
    (root / "routes.json").write_text(
        json.dumps({"gone.test": {"default": {"status": 404}}}), encoding="utf-8"
    )
    settings = {"BROKENLINKS_DATABASE_URL": pg_url}
    with LocalWeb(root) as web:
        seeds = write_seeds(tmp_path, ["http://long.test/"])
        first = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings=settings)
        again = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings=settings)
    assert first.returncode == 0, first.stderr[-3000:]
    assert again.returncode == 0, again.stderr[-3000:]
    engine = db.create_engine_from_url(pg_url)
    try:
        assert store.count_rows(engine) == {
            "crawl_runs": 2,
            "pages": 1,
            "targets": 3,
            "links": 3,
            "checks": 3,
        }
        dead = {d["target_url"]: d for d in store.dead_links(engine)}
        assert dead["http://gone.test/long"]["anchor_text"] == " ".join(anchor.split())
        assert f"http://gone.test/{long_path}" in dead
        with engine.connect() as con:
            stored = con.execute(text("SELECT url FROM targets WHERE url LIKE 'data:%'")).scalar()
        assert stored == data_href
    finally:
        engine.dispose()


def _overlapping_batch(node: int, round_: int, targets: list[str]) -> list:
    crawled = f"2026-01-01T10:{round_:02d}:00Z"
    links = [link(url, "a") for url in targets]
    return [
        page(f"http://node{node}.test/page{round_}", links, crawled_at=crawled),
        *(check(url, checked_at=crawled) for url in targets),
    ]


def test_two_writers_on_the_same_targets_never_deadlock(pg_url):
    """Two nodes storing the same verdicts, their pages' links in opposite orders.

    Rows locked in the order the batch met them: each writer holds rows the other waits
    for, and PostgreSQL ends one transaction ("deadlock detected"); in key order, never.
    """
    import threading

    engine = db.create_engine_from_url(pg_url)
    db.init_db(engine)
    targets = [f"http://t{n}.test/gone" for n in range(300)]
    runs = [store.start_run(engine, "backlinks", {"node": n}) for n in (0, 1)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(node: int) -> None:
        order = targets if node == 0 else targets[::-1]
        for round_ in range(12):
            barrier.wait(timeout=60)
            try:
                store.write_batch(engine, runs[node], _overlapping_batch(node, round_, order))
            except Exception as e:  # noqa: BLE001  (reported below)
                errors.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        assert store.count_rows(engine)["targets"] == 300
    finally:
        engine.dispose()
