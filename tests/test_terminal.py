"""A terminal a person can work in: the summary comes last, tables fit, ids mark prospects.

Real ``scrapy crawl`` processes against the demo web (``data/demo/``), then the commands a
user types, with ``COLUMNS`` as a terminal of that width would set it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT

SEEDS = PROJECT / "data" / "demo" / "seeds.txt"


@pytest.fixture(scope="module")
def demo_web():
    with LocalWeb(PROJECT / "data" / "demo") as web:
        yield web


def scrapy(database, *args, columns=None, web=None):
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    cmd = [sys.executable, "-m", "scrapy", *args]
    cmd += ["-s", f"BROKENLINKS_DATABASE_URL=sqlite:///{database}"]
    if web is not None:
        cmd += ["-s", f'BROKENLINKS_RESOLVE={{"*.demo": "127.0.0.1:{web.port}"}}']
    return subprocess.run(
        cmd, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=240, check=False
    )


SUMMARY_START = "Crawl summary:"


@pytest.mark.e2e
@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_crawl_summary_is_the_last_thing_printed(tmp_path, demo_web, level):
    database = tmp_path / "db.sqlite3"
    out = tmp_path / "p.csv"
    proc = scrapy(
        database,
        "crawl",
        "backlinks",
        "-a",
        f"seeds={SEEDS}",
        "-O",
        str(out),
        "-L",
        level,
        web=demo_web,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    start = lines.index(SUMMARY_START)
    # the summary, then nothing: no log line, no stats dump after it
    assert lines[start + 1] == "  referring pages: 3 crawled, 0 failed"
    assert all(line.startswith("  ") for line in lines[start + 1 :])
    assert lines[-1].startswith("  next: scrapy report -o report.html")
    assert lines.count(SUMMARY_START) == 1
    # Scrapy's 60-odd lines of stats are not on the terminal
    assert "'downloader/request_count'" not in proc.stderr
    if level == "WARNING":
        assert lines[0] == SUMMARY_START


@pytest.mark.e2e
def test_tables_fit_the_terminal_and_ids_mark(tmp_path, demo_web):
    database = tmp_path / "db.sqlite3"
    crawl = scrapy(
        database, "crawl", "backlinks", "-a", f"seeds={SEEDS}", "-L", "WARNING", web=demo_web
    )
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    narrow = scrapy(database, "prospects", columns=100)
    assert narrow.returncode == 0, narrow.stderr
    table = narrow.stdout.splitlines()
    assert table[0].split()[:2] == ["id", "score"]
    assert table[-1] == "8 prospects"
    assert max(len(line) for line in table) <= 100
    assert "…" in narrow.stdout  # long cells are cut to fit
    wide = scrapy(database, "prospects", "--wide", columns=100)
    assert "http://espressoforum.demo/threads/tamping" in wide.stdout
    assert max(len(line) for line in wide.stdout.splitlines()) > 100
    # the first row's id marks it; marked, it leaves the pitches and keeps its status
    first = table[2].split()[0]
    marked = scrapy(database, "prospects", "--mark", "contacted", first, "--note", "sent")
    assert marked.returncode == 0, marked.stderr
    listed = scrapy(database, "prospects", "--status", "contacted", "--wide")
    rows = listed.stdout.splitlines()
    assert rows[-1] == "1 prospects"
    assert rows[2].split()[0] == first
    bad = scrapy(database, "prospects", "--mark", "contacted", "99999-1")
    assert bad.returncode == 1
    assert bad.stderr == "error: no prospect 99999-1 in the database\n"
