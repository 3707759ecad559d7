"""Authority from the backlink export: metrics per referring page, per export, in the reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from brokenlinks.outreach.authority import authority, export_items, parse_number
from brokenlinks.seeds.read import read_seeds

from .conftest import PROJECT, read_tables, run_crawl

if TYPE_CHECKING:
    from pathlib import Path

SEEDS = PROJECT / "tests" / "fixtures" / "seeds"


def metrics_of(name: str) -> dict[str, dict]:
    return {item.page_url: item.metrics for item in export_items(read_seeds(SEEDS / name))}


@pytest.mark.parametrize(
    ("fixture", "page", "expected"),
    [
        (
            "semrush-backlinks.csv",
            "https://blog.example.org/best-seo-tools/",
            {"page_ascore": 41.0, "first_seen": "2023-02-11", "last_seen": "2024-05-30"},
        ),
        (
            "semrush-backlinks-utf16.csv",
            None,
            {"page_ascore"},
        ),
        (
            "ahrefs-backlinks-utf8.csv",
            "https://www.example.com/free-tools/",
            {
                "domain_rating": 72.0,
                "ur": 31.0,
                "domain_traffic": 15230.0,
                "first_seen": "2022-10-04",
                "last_seen": "2024-05-29",
            },
        ),
        (
            "majestic-backlinks.csv",
            "https://links.example.org/web/",
            {
                "source_trust_flow": 28.0,
                "source_citation_flow": 35.0,
                "first_seen": "2020-08-01",
                "last_seen": "2024-05-12",
            },
        ),
        (
            "majestic-api.csv",
            "http://partners.example.com/",
            {
                "source_trust_flow": 18.0,
                "source_citation_flow": 25.0,
                "first_seen": "2018-06-07",
                "last_seen": "2024-03-01",
            },
        ),
        (
            "moz-inbound-links.csv",
            "http://resources.example.net/web-tools",
            {
                "spam_score": 1.0,
                "domain_authority": 45.0,
                "page_authority": 38.0,
                "first_seen": "2021-06-01",
                "last_seen": "2024-05-20",
            },
        ),
    ],
)
def test_export_metrics_per_vendor(fixture, page, expected):
    found = metrics_of(fixture)
    if page is None:  # the same columns under another encoding: the names are found
        assert all(expected <= set(m) for m in found.values())
        return
    assert found[page] == expected


def test_export_keeps_its_target_url_and_file_name():
    items = export_items(read_seeds(SEEDS / "semrush-backlinks.csv"))
    first = items[0]
    assert first.export_format == "semrush"
    assert first.export_file == "semrush-backlinks.csv"
    assert first.export_target_url == "https://mysite.example/guide/keyword-research"


def test_url_lists_carry_no_metrics():
    assert export_items(read_seeds(SEEDS / "urls.txt")) == []


@pytest.mark.parametrize(
    ("cell", "value"),
    [("41", 41.0), ("3%", 3.0), ("1,5", 1.5), ("15,230", 15230.0), ("15 230", 15230.0),
     ("-", None), ("", None), ("n/a", None), ("72.5", 72.5)],
)  # fmt: skip
def test_parse_number(cell, value):
    assert parse_number(cell) == value


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"export_format": "semrush", "page_ascore": 41.0}], (41.0, "semrush:page_ascore")),
        ([{"export_format": "ahrefs", "domain_rating": 72.0, "ur": None}], (72.0, "ahrefs:domain_rating")),
        ([{"export_format": "ahrefs", "domain_rating": 72.0, "ur": 31.0}], (31.0, "ahrefs:ur")),
        ([{"export_format": "majestic", "source_trust_flow": 28.0}], (28.0, "majestic:source_trust_flow")),
        ([{"export_format": "moz", "page_authority": 130.0}], (100.0, "moz:page_authority")),
        ([{"export_format": "gsc"}], (None, "")),
        (
            [{"export_format": "semrush", "page_ascore": 40.0}, {"export_format": "semrush", "page_ascore": 20.0}],
            (30.0, "semrush:page_ascore"),
        ),
        (
            [{"export_format": "moz", "domain_authority": 60.0}, {"export_format": "majestic", "source_trust_flow": 20.0}],
            (40.0, "mixed:majestic:source_trust_flow,moz:domain_authority"),
        ),
    ],
)  # fmt: skip
def test_authority(rows, expected):
    assert authority(rows) == expected


def scrapy(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        *args,
        "-s",
        f"BROKENLINKS_DATABASE_URL=sqlite:///{db_path}",
    ]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    return subprocess.run(
        cmd, cwd=PROJECT, capture_output=True, text=True, env=env, check=False, timeout=120
    )


ARTICLE = "http://news.test/article.html"
OTHER = "http://news.test/other.html"
DEAD = "http://mysite.test/old-guide.html"


@pytest.mark.e2e
def test_two_exports_of_one_page_are_both_kept_and_rank_prospects(tmp_path, web):
    semrush = tmp_path / "semrush.csv"
    semrush.write_text(
        "Page ascore,Source title,Source url,Target url,Anchor,First seen,Last seen\n"
        f"12,Article,{ARTICLE},{DEAD},guide,2023-02-11,2024-05-30\n"
        f"90,Other,{OTHER},{DEAD},guide,2021-01-01,2024-05-01\n",
        encoding="utf-8",
    )
    moz = tmp_path / "moz.csv"
    moz.write_text(
        "URL,Title,Anchor Text,Spam Score,Domain Authority,Page Authority,Target URL\n"
        f"{ARTICLE.removeprefix('http://')},Article,guide,2%,55,48,{DEAD.removeprefix('http://')}\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "db.sqlite3"
    for seeds in (semrush, moz):
        result = run_crawl(
            tmp_path, web, {"seeds": str(seeds), "domain": "mysite.test"}, db_path=db_path
        )
        assert result.returncode == 0, result.stderr[-3000:]
    rows = read_tables(db_path)["export_metrics"]
    by_export = {(r["page_url"], r["export_format"]): r for r in rows}
    assert len(rows) == 3
    assert by_export[ARTICLE, "semrush"]["page_ascore"] == 12.0
    assert by_export[ARTICLE, "semrush"]["export_file"] == "semrush.csv"
    assert by_export[ARTICLE, "moz"]["page_authority"] == 48.0
    assert by_export[ARTICLE, "moz"]["spam_score"] == 2.0
    assert by_export[ARTICLE, "moz"]["export_target_url"] == DEAD
    assert by_export[OTHER, "semrush"]["first_seen"] == "2021-01-01"

    out = tmp_path / "prospects.json"
    listed = scrapy(db_path, "prospects", "-o", str(out))
    assert listed.returncode == 0, listed.stderr
    prospects = {(p["source_url"], p["target_url"]): p for p in json.loads(out.read_text())}
    article = prospects[ARTICLE, DEAD]
    assert article["page_ascore"] == 12.0
    assert article["page_authority"] == 48.0
    assert article["domain_authority"] == 55.0
    assert article["authority"] == 30.0
    assert article["authority_source"] == "mixed:moz:page_authority,semrush:page_ascore"
    assert article["exports"] == "moz:moz.csv semrush:semrush.csv"
    other = prospects[OTHER, DEAD]
    assert (other["authority"], other["authority_source"]) == (90.0, "semrush:page_ascore")
    # both link the same way to the same target: authority decides the order
    assert other["score"] > article["score"]
    assert next(iter(prospects)) == (OTHER, DEAD)
    # the table shows it too
    table = scrapy(db_path, "prospects", "--wide")
    assert "authority" in table.stdout.splitlines()[0]
