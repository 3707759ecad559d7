"""Durability end to end: concurrent writers, kill -9, Ctrl-C, JOBDIR resume.

Real ``scrapy crawl`` processes on one SQLite file, against a web of 30 referring pages
whose link targets answer slowly enough to interrupt a crawl half-way. Every test ends with
``PRAGMA integrity_check`` and the exact row counts a complete crawl gives: nothing lost,
nothing duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT, read_tables, run_crawl, write_seeds

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

PAGES = 30
PAGE_URLS = [f"http://ref.test/p{i}.html" for i in range(PAGES)]
ROUTES = {
    "slow.t.test": {"default": {"delay": 0.3}},
    "gone.t.test": {"default": {"status": 404}},
    "mine.t.test": {"default": {}},
}
#: a complete crawl of every page: 3 links each, to 2 own targets and 1 shared one
COMPLETE = {"pages": PAGES, "links": 3 * PAGES, "targets": 2 * PAGES + 1}


@pytest.fixture(scope="module")
def slow_web(tmp_path_factory):
    web = make_slow_web(tmp_path_factory.mktemp("durability-web"))
    web.start()
    yield web
    web.stop()


def make_slow_web(root: Path) -> LocalWeb:
    """The web of 30 referring pages (test_crash_soak.py uses it too)."""
    (root / "ref.test").mkdir()
    for i in range(PAGES):
        (root / "ref.test" / f"p{i}.html").write_text(
            f"<!doctype html><title>Page {i}</title><main><p>"
            f'<a href="http://slow.t.test/{i}">slow {i}</a>, '
            f'<a href="http://gone.t.test/{i}">gone {i}</a> and '
            f'<a href="http://mine.t.test/">mine</a>.</p></main>',
            encoding="utf-8",
        )
    return LocalWeb(root, routes=ROUTES)


def settings_for(web: LocalWeb, db_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{web.port}"},
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db_path}",
        "BROKENLINKS_STORE_BATCH_SIZE": 1,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "DOWNLOAD_TIMEOUT": 5,
        "LOG_LEVEL": "INFO",
        **extra,
    }


def start_crawl(tmp_path: Path, seeds: Path, settings: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``scrapy crawl backlinks`` in the background (the command run_crawl runs)."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    for key, value in settings.items():
        text = json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)
        cmd += ["-s", f"{key}={text}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    log = (tmp_path / f"crawl-{time.monotonic_ns()}.log").open("w", encoding="utf-8")
    try:
        return subprocess.Popen(
            cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=log, text=True, env=env
        )
    finally:
        log.close()


def stored_pages(db_path: Path) -> int:
    try:
        con = sqlite3.connect(db_path, timeout=30)
        try:
            return con.execute("SELECT count(*) FROM pages").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0  # not created yet


def wait_for_pages(db_path: Path, count: int, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        stored = stored_pages(db_path)
        if stored >= count:
            return stored
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        time.sleep(0.05)
    pytest.fail(f"fewer than {count} pages stored after 90 s")


def integrity(db_path: Path) -> str:
    con = sqlite3.connect(db_path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def counts(db_path: Path) -> dict[str, int]:
    tables = read_tables(db_path)
    return {name: len(tables[name]) for name in COMPLETE}


def test_two_crawls_write_one_sqlite_file_at_once(tmp_path, slow_web):
    db_path = tmp_path / "shared.sqlite3"  # new: both processes migrate it at once
    first = write_seeds(tmp_path, PAGE_URLS[:18], "first.txt")
    second = write_seeds(tmp_path, PAGE_URLS[12:], "second.txt")
    settings = settings_for(slow_web, db_path)
    procs = [start_crawl(tmp_path, first, settings), start_crawl(tmp_path, second, settings)]
    codes = [proc.wait(timeout=240) for proc in procs]
    logs = [p.read_text(encoding="utf-8") for p in sorted(tmp_path.glob("crawl-*.log"))]
    assert codes == [0, 0], [log[-3000:] for log in logs]
    assert not [log for log in logs if "Traceback" in log]
    assert integrity(db_path) == "ok"
    assert counts(db_path) == COMPLETE
    runs = read_tables(db_path)["crawl_runs"]
    assert [run["finish_reason"] for run in runs] == ["finished", "finished"]
    stats = [json.loads(run["stats"]) for run in runs]
    assert sorted(s["brokenlinks/pages/crawled"] for s in stats) == [18, 18]


def test_kill_9_mid_crawl_leaves_a_consistent_database(tmp_path, slow_web):
    db_path = tmp_path / "killed.sqlite3"
    seeds = write_seeds(tmp_path, PAGE_URLS)
    proc = start_crawl(tmp_path, seeds, settings_for(slow_web, db_path))
    stored = wait_for_pages(db_path, 3, proc)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert integrity(db_path) == "ok"
    killed = counts(db_path)
    assert stored <= killed["pages"] < PAGES
    [run] = read_tables(db_path)["crawl_runs"]
    assert run["finished_at"] is None  # the run that died says so
    # the next run completes and the database holds each record once
    again = run_crawl(
        tmp_path,
        slow_web,
        {"seeds": str(seeds)},
        db_path=db_path,
        settings=settings_for(slow_web, db_path),
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert integrity(db_path) == "ok"
    assert counts(db_path) == COMPLETE
    assert again.stats["brokenlinks/pages/crawled"] == PAGES


def test_ctrl_c_then_jobdir_resume_adds_no_duplicates(tmp_path, slow_web):
    db_path = tmp_path / "resumed.sqlite3"
    jobdir = tmp_path / "job"
    seeds = write_seeds(tmp_path, PAGE_URLS)
    settings = settings_for(slow_web, db_path, JOBDIR=str(jobdir), CONCURRENT_REQUESTS=4)
    proc = start_crawl(tmp_path, seeds, settings)
    wait_for_pages(db_path, 3, proc)
    proc.send_signal(signal.SIGINT)  # one Ctrl-C: Scrapy stops gracefully and keeps the queue
    assert proc.wait(timeout=120) == 0
    assert integrity(db_path) == "ok"
    [run] = read_tables(db_path)["crawl_runs"]
    assert run["finish_reason"] == "shutdown"
    crawled_first = json.loads(run["stats"])["brokenlinks/pages/crawled"]
    assert 3 <= crawled_first < PAGES
    assert counts(db_path)["pages"] == crawled_first
    resumed = run_crawl(
        tmp_path, slow_web, {"seeds": str(seeds)}, db_path=db_path, settings=settings
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert integrity(db_path) == "ok"
    assert counts(db_path) == COMPLETE
    # the resumed run crawled only what the first one had not
    assert resumed.stats["brokenlinks/pages/crawled"] == PAGES - crawled_first
    assert resumed.stats["finish_reason"] == "finished"
