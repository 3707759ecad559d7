"""Campaigns: every crawl run has one, the database commands show one at a time.

Real ``scrapy crawl`` processes against the demo web (``data/demo/``, hosts under ``.demo``),
then the commands a user types; plus the defaults as a table and the migration of an old
database.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from brokenlinks.outreach.campaigns import default_campaign
from brokenlinks.storage import db, store
from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT, run_crawl
from .test_front_door import scrapy
from .test_migrations import first_release_db

SEEDS = PROJECT / "data" / "demo" / "seeds.txt"
SEMRUSH = PROJECT / "data" / "samples" / "semrush-backlinks.csv"
RESOURCE_PAGES = {
    "http://resources.demo/best-tools.html",
    "http://blog.demo/pour-over-guide.html",
    "http://blog.demo/grinder-notes.html",
}


@pytest.fixture(scope="module")
def demo_web():
    with LocalWeb(PROJECT / "data" / "demo") as web:
        yield web


@pytest.mark.parametrize(
    ("spider", "arguments", "own", "expected"),
    [
        ("backlinks", {"seeds": "s.txt"}, (), "resources"),
        ("backlinks", {"seeds": "s.txt", "domain": "mine.test"}, ("mine.test",), "reclaim-mine.test"),
        ("backlinks", {"seeds": "s.txt", "domain": "b.test,a.test"}, (), "competitor-a.test,b.test"),
        # one domain of several is not yours: not reclaim
        ("backlinks", {"seeds": "s", "domain": "mine.test,b.test"}, ("mine.test",), "competitor-b.test,mine.test"),
        ("site", {"start": "https://blog.example.co.uk/a"}, (), "site-example.co.uk"),
        ("recheck", {"domain": "x.test"}, (), "recheck"),
        ("backlinks", {"seeds": "s", "campaign": "q3 pitches"}, (), "q3 pitches"),
    ],
)  # fmt: skip
def test_default_campaign(spider, arguments, own, expected):
    assert default_campaign(spider, arguments, own=own) == expected


@pytest.mark.e2e
def test_campaigns_kept_apart(tmp_path, demo_web):
    settings = {"BROKENLINKS_RESOLVE": {"*.demo": f"127.0.0.1:{demo_web.port}"}}
    database = tmp_path / "db.sqlite3"
    resources = run_crawl(
        tmp_path, demo_web, {"seeds": str(SEEDS)}, settings=settings, db_path=database
    )
    assert resources.returncode == 0, resources.stderr[-2000:]
    competitor = run_crawl(
        tmp_path,
        demo_web,
        {"seeds": str(SEMRUSH), "domain": "rivalbrew.demo"},
        settings=settings,
        db_path=database,
    )
    assert competitor.returncode == 0, competitor.stderr[-2000:]
    named = run_crawl(
        tmp_path,
        demo_web,
        {"seeds": str(SEEDS), "campaign": "q3"},
        settings=settings,
        db_path=database,
    )
    assert named.returncode == 0, named.stderr[-2000:]
    assert [run["campaign"] for run in named.rows["crawl_runs"]] == [
        "resources",
        "competitor-rivalbrew.demo",
        "q3",
    ]

    def prospects(*args):
        out = tmp_path / "p.json"
        proc = scrapy(
            "prospects",
            *args,
            "-o",
            str(out),
            "-s",
            f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(out.read_text(encoding="utf-8"))

    rows = prospects("--campaign", "resources")
    assert len(rows) == 8
    assert {r["source_url"] for r in rows} == RESOURCE_PAGES
    assert {r["campaign"] for r in rows} == {"resources"}
    rows = prospects("--campaign", "competitor-rivalbrew.demo")
    # the Semrush export's pages also link to dead mysite.demo pages: not this campaign's
    assert sorted(r["target_url"] for r in rows) == [
        "http://rivalbrew.demo/blog/best-grinders-2020",
        "http://rivalbrew.demo/guides/espresso-dialing",
    ]
    # the default is the last crawl's campaign
    assert {r["campaign"] for r in prospects()} == {"q3"}
    every = prospects("--campaign", "all")
    assert len(every) == 10
    labels = {r["target_url"]: r["campaign"] for r in every}
    assert labels["http://rivalbrew.demo/guides/espresso-dialing"] == "competitor-rivalbrew.demo"
    assert labels["http://grindlab.demo/hand-grinders-2019"] == "q3,resources"
    # the report too: one campaign's dead targets, or every one's labelled
    report = tmp_path / "r.json"
    for args, expected in (
        (("--campaign", "resources"), 6),
        (("--campaign", "competitor-rivalbrew.demo"), 2),
        (("--campaign", "all"), 8),
    ):
        made = scrapy(
            "report",
            *args,
            "-o",
            str(report),
            "-s",
            f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
        )
        assert made.returncode == 0, made.stderr
        targets = json.loads(report.read_text(encoding="utf-8"))
        assert len(targets) == expected, args
    labels = {r["target_url"]: r["campaign"] for r in targets}
    assert labels["http://rivalbrew.demo/guides/espresso-dialing"] == "competitor-rivalbrew.demo"
    assert labels["http://latteart.demo/lessons"] == "q3,resources"
    # no pitch yet, and the command says what is missing
    pitches = scrapy(
        "pitches",
        "--campaign",
        "resources",
        "-s",
        f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
    )
    assert pitches.returncode == 0, pitches.stderr
    assert pitches.stdout == "no pitches (campaign resources)\n"
    assert pitches.stderr == (
        "prospects left out: 8 without a recipient (scrapy crawl contacts finds them)\n"
    )
    # ids from the table are what --mark takes
    marked = scrapy(
        "prospects",
        "--mark",
        "ignored",
        every[0]["id"],
        "-s",
        f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
    )
    assert marked.returncode == 0, marked.stderr
    assert {r["id"]: r["outreach"] for r in prospects("--campaign", "all")}[every[0]["id"]] == (
        "ignored"
    )


@pytest.mark.e2e
def test_bad_campaign_argument_is_one_error_line(tmp_path):
    proc = scrapy("crawl", "backlinks", "-a", f"seeds={SEEDS}", "-a", "campaign=all")
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line or "error" in line]
    assert any("campaign: 'all' is reserved (it means every campaign)" in e for e in errors)
    assert "Traceback" not in proc.stderr


def test_migration_gives_old_runs_and_pages_a_campaign(tmp_path):
    path = first_release_db(tmp_path / "old.sqlite3")
    engine = db.create_engine_from_url(f"sqlite:///{path}")
    try:
        db.init_db(engine)
        runs = store.campaign_runs(engine)
        pages = store.count_rows(engine)["pages"]
    finally:
        engine.dispose()
    assert runs
    assert [r["campaign"] for r in runs] == [
        default_campaign(r["spider"], r["arguments"]) for r in runs
    ]
    with sqlite3.connect(path) as con:
        (count,) = con.execute("SELECT count(*) FROM campaign_pages").fetchone()
    assert count == pages
