"""Store outages end to end: the database goes away in the middle of a real ``scrapy crawl``.

(a) The SQLite file cannot be written for a while, then can again: the crawl logs one
``ERROR`` line for the outage, keeps its records, writes them when the store is back and
ends with everything stored, exit 0. The file is made immutable (``chattr +i``, which holds
for root too) or, for another user, read-only; its ``-shm`` file is left alone (SQLite maps
it into memory). (b) PostgreSQL is stopped for longer than
``BROKENLINKS_STORE_OUTAGE_LIMIT``: the crawl ends as failed (exit 1, ``Crawl failed: the
store was unavailable ...``), and the rows written before the outage are all there when the
server is started again. The web is the slow 30-page web of tests/test_durability.py, so
the outage comes with pages still to crawl.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import write_seeds
from .pgserver import PgServer
from .test_durability import (
    COMPLETE,
    PAGE_URLS,
    counts,
    integrity,
    settings_for,
    slow_web,
    start_crawl,
    wait_for_pages,
)

pytestmark = pytest.mark.e2e

__all__ = ["slow_web"]  # a fixture used here

#: a log line at ERROR level, as Scrapy formats it
ERROR_LINE = re.compile(r"^\S+ \S+ \[[^\]]+\] ERROR: .*$", re.MULTILINE)


def set_writable(paths: list[Path], *, writable: bool) -> None:
    if os.geteuid() == 0:  # root writes read-only files: only the immutable flag stops it
        flag = "-i" if writable else "+i"
        subprocess.run(["chattr", flag, *map(str, paths)], check=True)
    else:
        for path in paths:
            path.chmod(0o644 if writable else 0o444)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, f"no {text!r} in the log: {log.read_text()[-3000:]}"
        assert proc.poll() is None or text in log.read_text(encoding="utf-8"), log.read_text()
        time.sleep(0.1)


def crawl_log(tmp_path: Path) -> Path:
    [log] = tmp_path.glob("crawl-*.log")
    return log


def test_sqlite_unwritable_for_a_while_then_back_stores_everything(tmp_path, slow_web):
    seeds = write_seeds(tmp_path, PAGE_URLS)
    db_path = tmp_path / "outage.sqlite3"
    proc = start_crawl(tmp_path, seeds, settings_for(slow_web, db_path))
    locked = [db_path, db_path.with_name(db_path.name + "-wal")]
    try:
        wait_for_pages(db_path, 3, proc)
        set_writable(locked, writable=False)
        try:
            log = crawl_log(tmp_path)
            wait_for_line(log, "Store unavailable", proc)
            time.sleep(2)  # a few more items, and retries that fail too
        finally:
            set_writable(locked, writable=True)
        assert proc.wait(timeout=240) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(encoding="utf-8")
    errors = ERROR_LINE.findall(text)
    assert len(errors) == 1, errors
    assert "Store unavailable (" in errors[0]
    assert re.search(r"\d+ records waiting to be written to .*outage\.sqlite3 \(", errors[0])
    assert "Store back after" in text
    assert "Crawl failed" not in text
    assert integrity(db_path) == "ok"
    stored = counts(db_path)
    assert {name: stored[name] for name in COMPLETE} == COMPLETE
    con = sqlite3.connect(db_path)
    try:
        [(finished, stats)] = con.execute("SELECT finished_at, stats FROM crawl_runs").fetchall()
    finally:
        con.close()
    assert finished is not None
    assert '"brokenlinks/store/outages": 1' in stats
    assert "brokenlinks/store/unstored" not in stats


@pytest.fixture
def own_pg():
    """A PostgreSQL server of this test alone: the test stops it."""
    root = Path(tempfile.mkdtemp(prefix="brokenlinks-pg-outage-"))
    server = PgServer(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def pg_pages(url: str) -> int:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=5) as con:
            return int(con.execute("SELECT count(*) FROM pages").fetchone()[0])
    except psycopg.errors.UndefinedTable:
        return 0


def test_postgres_stopped_past_the_limit_fails_the_job_and_keeps_what_was_stored(
    tmp_path, slow_web, own_pg
):
    url = own_pg.create_database("outage")
    seeds = write_seeds(tmp_path, PAGE_URLS)
    settings = {
        **settings_for(slow_web, tmp_path / "unused"),
        "BROKENLINKS_DATABASE_URL": url,
        "BROKENLINKS_STORE_OUTAGE_LIMIT": 3,
    }
    proc = start_crawl(tmp_path, seeds, settings)
    try:
        deadline = time.monotonic() + 120
        while (before := pg_pages(url)) < 3:
            assert proc.poll() is None, crawl_log(tmp_path).read_text()[-3000:]
            assert time.monotonic() < deadline, "fewer than 3 pages stored after 120 s"
            time.sleep(0.1)
        own_pg.stop()
        before = max(before, 3)
        code = proc.wait(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = crawl_log(tmp_path).read_text(encoding="utf-8")
    assert code == 1, text[-3000:]
    errors = ERROR_LINE.findall(text)
    assert sum("Store unavailable (" in line for line in errors) == 1, errors
    failed = re.search(
        r"Crawl failed: the store was unavailable for longer than 3 s "
        r"\(BROKENLINKS_STORE_OUTAGE_LIMIT\): (\d+) records could not be stored",
        text,
    )
    assert failed, text[-3000:]
    assert int(failed[1]) > 0
    assert re.search(rf"store outages: 1, records not stored: {failed[1]}\b", text)
    assert "Traceback" not in text

    own_pg.start_again()
    after = pg_pages(url)
    assert before <= after < len(PAGE_URLS)  # written before the outage, and kept
