"""A new user's first commands: the demo's modes, the help, and bad report filters."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from brokenlinks.params import SPIDER_ARGUMENTS

pytestmark = pytest.mark.e2e

PROJECT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}


def scrapy(*args: str, cwd: Path = PROJECT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def checkout(tmp_path):
    """A working directory like a fresh clone's: scrapy.cfg and data/, no database."""
    shutil.copy(PROJECT / "scrapy.cfg", tmp_path)
    for name in ("demo", "samples"):
        shutil.copytree(PROJECT / "data" / name, tmp_path / "data" / name)
    return tmp_path


@pytest.mark.parametrize("spider", sorted(SPIDER_ARGUMENTS))
def test_crawl_help_lists_spider_arguments(spider):
    proc = scrapy("crawl", spider, "-h")
    assert proc.returncode == 0
    assert f"scrapy crawl {spider}" in proc.stdout
    for argument in SPIDER_ARGUMENTS[spider]:
        assert re.search(rf"-a {re.escape(argument.name)}=\S+ +\S", proc.stdout), argument


@pytest.mark.parametrize("command", ["report", "prospects", "demo", "pitches", "redirects"])
def test_help_names_the_database(command):
    proc = scrapy(command, "-h")
    assert proc.returncode == 0
    assert "Database: data/brokenlinks.sqlite3 (BROKENLINKS_DATABASE_URL" in " ".join(
        proc.stdout.split()
    )


def test_report_unknown_reason_is_an_error(checkout):
    proc = scrapy("report", "--reason", "dns,gone", cwd=checkout)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        (
            "error: --reason: unknown 'gone'; use http_status, dns, connection, timeout, tls, "
            "redirect_loop, soft_404, parked, invalid_url"
        )
    ]
    assert not (checkout / "data" / "brokenlinks.sqlite3").exists()


def test_prospects_unknown_status_is_an_error(checkout):
    proc = scrapy("prospects", "--status", "maybe", cwd=checkout)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: --status: unknown maybe; use new, contacted, replied, won, lost, ignored"
    ]


def test_every_demo_mode_finds_prospects_and_report_shows_them(checkout):
    proc = scrapy("demo", "all", cwd=checkout, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # people get the commands and the summaries, not Scrapy's log
    assert proc.stderr == ""
    assert not re.search(r"\[scrapy|INFO|WARNING", out)
    steps = re.split(r"\n\[\d+/15\] ", out)[1:]
    assert len(steps) == 15
    found = [
        int(re.search(r"prospects \(dead link occurrences\): (\d+)", s)[1]) for s in steps[:8]
    ]
    # resources, reclaim, competitor (Semrush, Ahrefs), site, weekly x2, recheck
    assert found[:7] == [8, 3, 2, 2, 5, 8, 8]
    assert found[7] > 0
    # outreach: archive, contacts, mysite, pitches (its crawl is the resources one, not
    # rerun), the reclaim crawl of mycoffee.demo and its redirect map
    assert [s.splitlines()[1].split()[:3] for s in steps[8:]] == [
        ["$", "scrapy", "crawl"],
        ["$", "scrapy", "crawl"],
        ["$", "scrapy", "crawl"],
        ["$", "scrapy", "pitches"],
        ["$", "scrapy", "crawl"],
        ["$", "scrapy", "redirects"],
        ["$", "scrapy", "redirects"],
    ]
    # the demo-resources campaign's 8 prospects, one pitch per recipient: the other
    # campaigns (site, exports) stay apart
    assert re.search(
        r"^  2 pitches written to demo-pitches\.csv \(campaign demo-resources\) in ",
        steps[11],
        re.MULTILINE,
    )
    assert "2 redirects (1 without a good match) written to demo-redirects.csv" in steps[13]
    assert "-a domain=mysite.demo" in steps[1]
    assert "internal 1, external 4" in steps[4]
    assert "verdicts reused from the database: 26" in steps[6]
    assert "Stored in data/brokenlinks.sqlite3: scrapy report, scrapy prospects" in out
    log = (checkout / "data" / "demo.log").read_text(encoding="utf-8")
    assert "Spider closed (finished)" in log
    # nothing normal is a warning (FreshVerdicts off under BROKENLINKS_RECHECK_AFTER=0 was)
    assert " WARNING: " not in log
    assert " ERROR: " not in log

    report = scrapy(
        "report",
        "--campaign",
        "all",
        "--domain",
        "mysite.demo,rivalbrew.demo",
        "--wide",
        cwd=checkout,
    )
    assert report.returncode == 0
    for target in (
        "http://mysite.demo/guides/cold-brew-ratio",
        "http://mysite.demo/tools/grind-chart",
        "http://rivalbrew.demo/tools/brew-timer",
    ):
        assert target in report.stdout  # --wide: whole URLs
    prospects = scrapy("prospects", cwd=checkout)
    assert prospects.returncode == 0
    assert re.search(r"^\d+ prospects$", prospects.stdout, re.MULTILINE)
    assert "no prospects" not in prospects.stdout


def test_demo_serve_prints_the_setting_and_serves(checkout):
    with subprocess.Popen(
        [sys.executable, "-m", "scrapy", "demo", "--serve"],
        cwd=checkout,
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(3)]
            found = re.search(
                r"BROKENLINKS_RESOLVE=\{\"\*\.demo\": \"127\.0\.0\.1:(\d+)\"\}", lines[2]
            )
            assert found, lines
            request = urllib.request.Request(
                f"http://127.0.0.1:{found[1]}/guides/cold-brew-ratio",
                headers={"Host": "mysite.demo"},
            )
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=10)
            answer.value.close()
            assert answer.value.code == 404
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
