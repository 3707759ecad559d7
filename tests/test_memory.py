"""End to end: the database as the user's memory, week after week.

A small web of its own (built in a temporary directory, changed between the weeks) is
crawled by real ``scrapy crawl`` processes, then read by ``scrapy report`` and
``scrapy prospects``: fresh verdicts reused, forced re-checks, the broken pages report, the
ranked prospects and their outreach status, and ``scrapy crawl recheck`` finding a target
that came back, links gone from their pages and a lost link to the user's own site.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT, run_crawl, write_seeds

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

REF1 = "http://ref1.test/links.html"
REF2 = "http://ref2.test/list.html"
OLD = "http://mine.test/old.html"
GUIDE = "http://mine.test/guide.html"
MISSING = "http://other.test/missing"
THIRD = "http://third.test/gone"

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<nav><a href="/">Home</a></nav>
<main>{body}</main>
<footer>{footer}</footer>
</body></html>
"""


def write(root: Path, path: str, text: str) -> None:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text, encoding="utf-8")


def ref1_page(*, with_guide: bool) -> str:
    guide = f'<p>Read <a href="{GUIDE}">the brewing guide</a> first.</p>' if with_guide else ""
    return PAGE.format(
        title="Ref one",
        body=f'<p>The <a href="{OLD}">old ratio chart</a> was handy.</p>{guide}'
        f'<p>Try <a href="{MISSING}">the missing tool</a> for grinding.</p>',
        footer="",
    )


def ref2_page(*, with_third: bool) -> str:
    third = f'<a href="{THIRD}" rel="nofollow">gone page</a>' if with_third else ""
    return PAGE.format(
        title="Ref two",
        body=f'<p>We like <a href="{MISSING}">the tool</a> a lot.</p>',
        footer=third,
    )


@pytest.fixture
def week_web(tmp_path):
    root = tmp_path / "web"
    write(root, "ref1.test/links.html", ref1_page(with_guide=True))
    write(root, "ref2.test/list.html", ref2_page(with_third=True))
    write(root, "mine.test/guide.html", PAGE.format(title="Guide", body="<p>ok</p>", footer=""))
    write(root, "other.test/index.html", PAGE.format(title="Other", body="", footer=""))
    write(root, "third.test/index.html", PAGE.format(title="Third", body="", footer=""))
    web = LocalWeb(root)
    web.start()
    web.root_dir = root  # type: ignore[attr-defined]
    yield web
    web.stop()


def scrapy(database: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``scrapy`` command of the project on *database* (a SQLite file or a URL)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    cmd = [sys.executable, "-m", "scrapy", *args, "-s", f"BROKENLINKS_DATABASE_URL={url}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    return subprocess.run(
        cmd, cwd=PROJECT, capture_output=True, text=True, env=env, check=False, timeout=120
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def iso(stored: str) -> str:
    """A datetime as SQLite stores it, as the reports write it."""
    return stored.replace(" ", "T")[:19] + "+00:00"


def read_json(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def crawl(tmp_path, web, name, **settings):
    seeds = write_seeds(tmp_path, [REF1, REF2])
    out = tmp_path / name
    out.mkdir()
    return run_crawl(
        out, web, {"seeds": str(seeds)}, db_path=tmp_path / "memory.sqlite3", settings=settings
    )


def test_weekly_workflow(tmp_path, week_web):
    db_path = tmp_path / "memory.sqlite3"

    # week 1: the first crawl checks every target
    first = crawl(tmp_path, week_web, "first")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stats["brokenlinks/targets/checked"] == 4
    assert "brokenlinks/targets/cached" not in first.stats
    assert {(i["source_url"], i["target_url"]) for i in first.items} == {
        (REF1, OLD),
        (REF1, MISSING),
        (REF2, MISSING),
        (REF2, THIRD),
    }

    # the same crawl again: fresh verdicts are reused, nothing is fetched but the pages
    week_web.reset()
    again = crawl(tmp_path, week_web, "again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stats["brokenlinks/targets/cached"] == 4
    assert "brokenlinks/targets/checked" not in again.stats
    assert "brokenlinks/requests/head" not in again.stats
    assert not [r for r in week_web.requests() if r.host in {"mine.test", "other.test"}]
    assert sorted(again.items, key=str) == sorted(
        ({**i, "checked_at": i["checked_at"]} for i in first.items), key=str
    )
    assert len(again.rows["checks"]) == len(first.rows["checks"])
    assert len(again.rows["links"]) == len(first.rows["links"])
    assert len(again.rows["crawl_runs"]) == 2

    # BROKENLINKS_RECHECK_AFTER=0 forces fresh checks: a second verdict in each history
    forced = crawl(tmp_path, week_web, "forced", BROKENLINKS_RECHECK_AFTER=0)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert forced.stats["brokenlinks/targets/checked"] == 4
    assert "brokenlinks/targets/cached" not in forced.stats
    assert len(forced.rows["checks"]) == 2 * len(first.rows["checks"])

    # the broken pages report: a table by default, CSV with -o
    table = scrapy(db_path, "report", "--wide")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["target_url", "reason", "status"]
    assert lines[2].startswith(MISSING)  # two referring domains: first
    assert lines[-1] == "3 dead targets"
    report_csv = tmp_path / "report.csv"
    written = scrapy(db_path, "report", "-o", str(report_csv))
    assert written.returncode == 0, written.stderr
    rows = read_csv(report_csv)
    assert [r["target_url"] for r in rows] == [MISSING, OLD, THIRD]
    missing = rows[0]
    assert missing["reason"] == "http_status"
    assert missing["status"] == "404"
    assert (missing["referring_pages"], missing["referring_domains"]) == ("2", "2")
    assert (missing["followed"], missing["in_content"]) == ("2", "2")
    assert missing["top_anchors"] == "the missing tool; the tool"
    # dead since the first crawl's check, though checked again since
    first_check = next(t for t in first.rows["targets"] if t["url"] == MISSING)["checked_at"]
    assert missing["dead_since"] == iso(first_check)
    assert missing["first_seen_dead"] == iso(first_check)
    assert missing["checked_at"] > missing["dead_since"]
    third = rows[2]
    assert (third["followed"], third["in_content"]) == ("0", "0")
    filtered = tmp_path / "filtered.json"
    assert scrapy(db_path, "report", "--domain", "mine.test", "-o", str(filtered)).returncode == 0
    assert [r["target_url"] for r in read_json(filtered)] == [OLD]
    assert scrapy(db_path, "report", "--reason", "dns", "-o", str(filtered)).returncode == 0
    assert read_json(filtered) == []
    assert scrapy(db_path, "report", "--since", "2999-01-01", "-o", str(filtered)).returncode == 0
    assert read_json(filtered) == []

    # prospects: ranked by the score, all new
    prospects_json = tmp_path / "prospects.json"
    listed = scrapy(db_path, "prospects", "-o", str(prospects_json))
    assert listed.returncode == 0, listed.stderr
    prospects = read_json(prospects_json)
    assert len(prospects) == 4
    assert [p["score"] for p in prospects] == sorted((p["score"] for p in prospects), reverse=True)
    assert prospects[-1]["target_url"] == THIRD  # nofollow, footer, one referring domain
    assert {p["outreach"] for p in prospects} == {"new"}
    top = next(p for p in prospects if p["source_url"] == REF1 and p["target_url"] == MISSING)
    assert top["context"] == "Try the missing tool for grinding."
    assert top["referring_domains"] == 2

    # outreach: mark one, see it kept and filtered
    marked = scrapy(db_path, "prospects", "--mark", "contacted", REF2, MISSING, "--note", "Ann")
    assert marked.returncode == 0, marked.stderr
    bad = scrapy(db_path, "prospects", "--mark", "contacted", REF2, OLD)
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"error: no link from {REF2} to {OLD} in the database"
    assert scrapy(db_path, "prospects", "--mark", "maybe", REF2, MISSING).returncode == 1
    contacted = scrapy(db_path, "prospects", "--status", "contacted")
    assert contacted.returncode == 0, contacted.stderr
    assert contacted.stdout.splitlines()[-1] == "1 prospects"
    assert "contacted" in contacted.stdout.splitlines()[2]

    # week 2: the old page is back, the guide link and the third link are gone
    root = week_web.root_dir
    write(root, "mine.test/old.html", PAGE.format(title="Old", body="<p>back</p>", footer=""))
    write(root, "ref1.test/links.html", ref1_page(with_guide=False))
    write(root, "ref2.test/list.html", ref2_page(with_third=False))
    out = tmp_path / "recheck"
    out.mkdir()
    recheck = run_crawl(out, week_web, {"domain": "mine.test"}, spider="recheck", db_path=db_path)
    assert recheck.returncode == 0, recheck.stderr[-3000:]
    stats = recheck.stats
    assert stats["brokenlinks/recheck/pages"] == 2
    assert stats["brokenlinks/recheck/dead_targets"] == 3
    assert stats["brokenlinks/targets/came_back"] == 1
    assert stats["brokenlinks/links/gone"] == 2
    assert stats["brokenlinks/links/lost"] == 1
    assert f"Lost link: {REF1} no longer links to {GUIDE}" in recheck.stderr
    assert "brokenlinks/targets/cached" not in stats
    assert {(i["source_url"], i["target_url"]) for i in recheck.items} == {
        (REF1, MISSING),
        (REF2, MISSING),
    }

    # the came-back target and the gone link drop out; the status is kept
    assert scrapy(db_path, "prospects", "-o", str(prospects_json)).returncode == 0
    prospects = read_json(prospects_json)
    assert {(p["source_url"], p["target_url"], p["outreach"]) for p in prospects} == {
        (REF1, MISSING, "new"),
        (REF2, MISSING, "contacted"),
    }
    assert next(p for p in prospects if p["outreach"] == "contacted")["note"] == "Ann"
    assert scrapy(db_path, "report", "-o", str(report_csv)).returncode == 0
    assert [r["target_url"] for r in read_csv(report_csv)] == [MISSING]

    # the lost links report
    lost_json = tmp_path / "lost.json"
    assert (
        scrapy(
            db_path, "report", "--lost", "--domain", "mine.test", "-o", str(lost_json)
        ).returncode
        == 0
    )
    lost = read_json(lost_json)
    assert [(r["source_url"], r["target_url"], r["anchor_text"]) for r in lost] == [
        (REF1, GUIDE, "the brewing guide")
    ]
    everything = scrapy(db_path, "report", "--lost", "--wide")
    assert everything.stdout.splitlines()[-1] == "2 lost links"

    # the target that came back, with its history
    back_json = tmp_path / "back.json"
    assert scrapy(db_path, "report", "--came-back", "-o", str(back_json)).returncode == 0
    [back] = read_json(back_json)
    assert back["target_url"] == OLD
    assert back["first_seen_dead"] == iso(
        next(t for t in first.rows["targets"] if t["url"] == OLD)["checked_at"]
    )
    assert back["last_seen_dead"] < back["came_back"] == back["checked_at"]
    assert back["status"] == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "-o", "x.xlsx"], "error: -o x.xlsx: use a .csv, .json or .html file name"),
        (
            ["report", "--since", "soon"],
            "error: --since 'soon': not a date (YYYY-MM-DD) or an ISO 8601 time",
        ),
        (
            ["report", "--domain", "http://x/"],
            "error: domain: 'http://x/' is not a domain name (give a bare host name such as example.com)",
        ),
        (
            ["prospects", "--mark", "maybe", "http://a.test/", "http://b.test/"],
            "error: unknown outreach status 'maybe'; use one of new, contacted, replied, won, lost, ignored",
        ),
    ],
)
def test_command_errors_are_one_line(tmp_path, args, message):
    proc = scrapy(tmp_path / "db.sqlite3", *args)
    assert proc.returncode == 1
    assert proc.stderr.strip() == message


def test_recheck_rejects_unknown_arguments(tmp_path, web):
    proc = run_crawl(tmp_path, web, {"seeds": "x"}, spider="recheck")
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("error: recheck: unknown argument(s) 'seeds'")
    )
