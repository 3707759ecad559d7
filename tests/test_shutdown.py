"""SIGTERM/SIGINT stop a crawl at the first signal, gracefully: store flushed, export closed.

The web's link targets answer only after a minute. Scrapy's graceful stop waits for every
request in progress, and every queued check is one: before the fix the crawl went on until
the targets answered. The assertions are on order, not speed: the crawl ended while every
target request was still unanswered, and what it wrote is consistent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import PROJECT, resolve_map, write_seeds

#: targets answer after this long: far beyond the time the crawl is given to stop
SLOW = 120
#: polls of 0.1 s for each phase of the test
POLLS = 600

LINKS = "".join(f'<a href="http://t{i}.slow.test/page">target {i}</a> ' for i in range(60))
ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "/fast.html": {
            "body": '<html><title>Fast</title><main><a href="http://gone.test/x">gone</a></main>'
        },
        "default": {"body": f"<html><title>Slow</title><main><p>{LINKS}</p></main></html>"},
    },
    "gone.test": {"default": {"status": 404}},
    "*.slow.test": {"default": {"delay": SLOW, "body": "<title>fine</title>"}},
}


#: Scrapy's DEBUG line for the fast page's prospect, handed to the pipelines' end and the export
SCRAPED_PROSPECT = re.compile(
    r"Scraped from <200 http://pages\.test/fast\.html>\n"
    r"ProspectItem\([^\n]*target_url='http://gone\.test/x'"
)


def _log(tmp_path) -> str:
    return (tmp_path / "crawl.log").read_text(encoding="utf-8", errors="replace")[-3000:]


def _poll(condition) -> bool:
    for _ in range(POLLS):
        if condition():
            return True
        time.sleep(0.1)
    return False


def _crawl(tmp_path, web, db, out) -> subprocess.Popen[bytes]:
    seeds = write_seeds(
        tmp_path,
        ["http://pages.test/fast.html"] + [f"http://pages.test/{i}.html" for i in range(5)],
    )
    settings = {
        "BROKENLINKS_RESOLVE": json.dumps(resolve_map(web)),
        "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "true",
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db}",
        "DOWNLOAD_TIMEOUT": str(SLOW * 2),
        # DEBUG: Scrapy logs each item it hands to the export ("Scraped from ..."), which
        # the test waits for before its signal
        "LOG_LEVEL": "DEBUG",
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-O", str(out)]
    cmd += ["-a", f"seeds={seeds}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    # the child keeps its own descriptor of the log
    with (tmp_path / "crawl.log").open("wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=PROJECT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
        )


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_first_signal_stops_the_crawl_gracefully(tmp_path, signum):
    db, out = tmp_path / "db.sqlite3", tmp_path / "prospects.jsonl"
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        proc = _crawl(tmp_path, web, db, out)
        try:

            def slow():
                return [r for r in web.requests() if r.host.endswith(".slow.test")]

            def prospect_exported():
                log = (tmp_path / "crawl.log").read_text(encoding="utf-8", errors="replace")
                return re.search(SCRAPED_PROSPECT, log) is not None

            # the crawl is checking slow targets and has checked the fast page's link (its
            # GET: a status alone never makes a link dead), and the page's prospect has been
            # handed to the export (a HEAD alone left a window: the signal then abandoned the
            # check and the page went back to the queue with no row; a fixed wait after the
            # GET was answered could end before the prospect was scraped on a busy machine)
            assert _poll(lambda: len(slow()) >= 8 and prospect_exported()), _log(tmp_path)
            proc.send_signal(signum)
            assert _poll(lambda: proc.poll() is not None), "still running after the signal"
            # it ended before any slow target answered: it did not wait for them
            assert all(r.status is None for r in slow())
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
    log = (tmp_path / "crawl.log").read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, log[-3000:]  # Scrapy's status for a graceful stop
    assert "Traceback" not in log
    assert "checks under way abandoned" in log
    # the export is closed (complete JSON lines) and holds the fast page's prospect
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["source_url"], r["target_url"]) for r in rows] == [
        ("http://pages.test/fast.html", "http://gone.test/x")
    ]
    # the store was flushed: the run is closed, the fast page and its dead target stored,
    # no verdict made up for an abandoned check
    con = sqlite3.connect(db)
    try:
        reason, stats = con.execute("SELECT finish_reason, stats FROM crawl_runs").fetchone()
        pages = {u for (u,) in con.execute("SELECT url FROM pages")}
        targets = dict(con.execute("SELECT url, kind FROM targets WHERE kind IS NOT NULL"))
    finally:
        con.close()
    assert reason == "shutdown"
    stats = json.loads(stats)
    # the pages that waited for abandoned checks are not counted as read: scheduled again
    # (a JOBDIR resume reads them, tests/test_durability.py)
    assert stats["brokenlinks/pages/crawled"] == len(pages)
    assert stats["brokenlinks/pages/interrupted"] >= 1
    assert "http://pages.test/fast.html" in pages
    assert targets.get("http://gone.test/x") == "dead"
    assert not [u for u in targets if ".slow.test" in u]
