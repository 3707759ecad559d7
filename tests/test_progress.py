"""The crawl progress line (brokenlinks/extensions/progress.py) on a terminal and in a log."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.extensions.progress import CrawlProgress, Snapshot, estimate_eta, progress_line

from .conftest import PROJECT, resolve_map, run_crawl, write_seeds

PAGES = [
    "http://blog.test/resources.html",
    "http://news.test/article.html",
    "http://news.test/other.html",
    "http://blog.test/slow-links.html",
]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[\w.\-]+\] [A-Z]+: ")
PROGRESS = re.compile(
    r"referring pages (\d+)/4 \(\d+%\), targets checked (\d+), dead (\d+), (?P<rate>[\d.]+) requests/s"
)


@pytest.mark.parametrize(
    ("stats", "total"),
    [
        ({"brokenlinks/seeds/pages": 5}, 5),
        ({"brokenlinks/recheck/pages": 2, "brokenlinks/pages/crawled": 3}, 3),
        ({"brokenlinks/site/pages_from/start": 1, "brokenlinks/site/pages_from/link": 4}, 5),
        ({"brokenlinks/pages/crawled": 3}, None),
    ],
)
def test_snapshot_total(stats, total):
    assert Snapshot.from_stats(stats).pages_total == total


def test_line_and_eta():
    snap = Snapshot(pages_done=1, pages_total=4, targets_checked=7, dead=2, requests=30)
    assert estimate_eta(snap, elapsed=10.0) == 30.0
    assert progress_line(snap, requests_per_second=3.0, eta=30.0) == (
        "referring pages 1/4 (25%), targets checked 7, dead 2, 3.0 requests/s, ETA 00:30"
    )


@deferred_f_from_coro_f
async def test_the_first_lines_rate_counts_from_the_start():
    # the first log line comes one interval after the start: it had no sample before it,
    # and said 0.0 requests/s in every crawl
    crawler = get_crawler(settings_dict={"LOGSTATS_INTERVAL": 60})
    progress = CrawlProgress(crawler, terminal=False, interval=60)
    progress.spider_opened()
    try:
        crawler.stats.set_value("downloader/request_count", 30)
        _, text = progress.line()
    finally:
        progress.spider_closed()
    match = re.search(r"([\d.]+) requests/s", text)
    assert match is not None, text
    assert float(match.group(1)) > 0, text


def test_switched_off():
    crawler = get_crawler(settings_dict={"BROKENLINKS_PROGRESS_ENABLED": False})
    with pytest.raises(NotConfigured):
        build_from_crawler(CrawlProgress, crawler)


@pytest.mark.e2e
def test_log_line_without_terminal(tmp_path, web):
    """Not a terminal (a pipe, as under Scrapyd or cron): a progress log line every interval."""
    seeds = write_seeds(tmp_path, PAGES)
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        # the checks' requests are sent by the shards: the rate must count them
        settings={"LOGSTATS_INTERVAL": 0.5, "BROKENLINKS_CHECK_SHARDS": 2},
    )
    assert result.returncode == 0, result.stderr
    lines = [
        line for line in result.stderr.splitlines() if "[brokenlinks.extensions.progress]" in line
    ]
    assert lines, result.stderr
    assert all(
        LOG_LINE.match(line) and "INFO: Progress: referring pages" in line for line in lines
    )
    found = [m for line in lines if (m := PROGRESS.search(line))]
    assert found
    assert any(float(m["rate"]) > 0 for m in found), lines
    assert "\r" not in result.stderr  # no terminal line drawn into a log


def _run_on_pty(cmd: list[str], timeout: float) -> tuple[int, str]:
    main_fd, child_fd = os.openpty()
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "COLUMNS": "160"}
    proc = subprocess.Popen(
        cmd, cwd=PROJECT, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env
    )
    os.close(child_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            chunks.append(data)
        returncode = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main_fd)
    return returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.e2e
def test_terminal_line_does_not_mix_with_the_log(tmp_path, web):
    seeds = write_seeds(tmp_path, PAGES)
    settings = {
        "BROKENLINKS_RESOLVE": resolve_map(web),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DOWNLOAD_TIMEOUT": 2,
        "LOG_LEVEL": "INFO",
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    cmd += ["-O", str(tmp_path / "prospects.csv")]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    returncode, output = _run_on_pty(cmd, timeout=240)
    assert returncode == 0, output
    # the line is drawn (carriage returns, no newline) while the crawl runs
    drawn = list(PROGRESS.finditer(output))
    assert drawn, output
    assert int(drawn[-1].group(1)) == 4
    segments = output.replace("\r\n", "\n").split("\n")
    # a log line always starts a visible line of its own: the progress line was cleared first
    for segment in segments:
        visible = segment.rsplit("\r", 1)[-1]
        if re.search(r" (INFO|WARNING|ERROR|DEBUG): ", visible):
            assert LOG_LINE.match(visible), repr(segment)
    # the summary is whole, each line on its own, and nothing is left drawn after it
    summary_at = next(i for i, s in enumerate(segments) if "Crawl summary:" in s)
    summary = segments[summary_at + 1 : summary_at + 16]
    assert summary[0] == "  referring pages: 4 crawled, 0 failed", summary
    assert any(
        re.fullmatch(r"  targets checked: \d+ \(alive \d+, dead \d+, .*\)", s) for s in summary
    )
    assert any(s.startswith("  prospects exported to ") for s in summary), summary
    assert any(
        s.startswith("  next: scrapy report -o report.html -s BROKENLINKS_DATABASE_URL=")
        for s in summary
    )
    assert not PROGRESS.search(segments[summary_at].rsplit("\r", 1)[-1])
    assert not PROGRESS.search("\n".join(segments[summary_at + 1 :]))
