"""The demo web extended for outreach ends with pitches whose every field came from a request."""

from __future__ import annotations

import csv

import pytest

from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT, run_crawl
from .outreach.demo_web import MYSITE, SETTINGS, extend_demo
from .test_outreach_pitches import scrapy

RESOURCES = "http://resources.demo/best-tools.html"
POUR_OVER = "http://blog.demo/pour-over-guide.html"
GRINDERS = "http://blog.demo/grinder-notes.html"
#: dead target → (archived title or None, the replacement a person would pick)
EXPECTED = {
    "http://grindlab.demo/hand-grinders-2019": ("Hand grinders 2019: eight tested", "hand-grinder-guide.html"),
    "http://kettleworks.demo/discontinued/variable-temp": ("Variable temperature kettle", "kettles.html"),
    "http://brewratio-calculator.invalid/": ("Brew ratio calculator", "brew-ratio.html"),
    "http://oldroaster.demo/shop": ("Old Roaster shop: fresh beans weekly", "fresh-beans.html"),
    "http://latteart.demo/lessons": (None, "latte-art.html"),
    "http://espressoforum.demo/threads/tamping": ("Tamping pressure: does it matter?", "tamping.html"),
}  # fmt: skip


@pytest.fixture
def demo_web(tmp_path):
    web = LocalWeb(extend_demo(PROJECT / "data" / "demo", tmp_path / "demo"))
    web.start()
    yield web
    web.stop()


def test_demo_ends_with_pitches(tmp_path, demo_web):
    settings = {"BROKENLINKS_RESOLVE": {"*.demo": f"127.0.0.1:{demo_web.port}"}, **SETTINGS}
    settings["DOWNLOAD_DELAY"] = 0
    db_path = tmp_path / "demo.sqlite3"
    steps = [
        ("backlinks", {"seeds": str(PROJECT / "data" / "demo" / "seeds.txt")}),
        ("archive", {}),
        ("contacts", {}),
        ("mysite", {"mysite": MYSITE}),
    ]
    for spider, args in steps:
        result = run_crawl(
            tmp_path, demo_web, args, spider=spider, settings=settings, db_path=db_path
        )
        assert result.returncode == 0, (spider, result.stderr[-3000:])
    out = tmp_path / "demo-pitches.csv"
    done = scrapy(db_path, "pitches", "-o", str(out))
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # the 8 prospects of the demo, each with a recipient
    assert len(rows) == 8
    assert {(r["source_url"], r["target_url"]) for r in rows} == {
        *((RESOURCES, t) for t in EXPECTED),
        (POUR_OVER, "http://brewratio-calculator.invalid/"),
        (GRINDERS, "http://grindlab.demo/hand-grinders-2019"),
    }
    for row in rows:
        title, replacement = EXPECTED[row["target_url"]]
        assert row["archived_title"] == (title or ""), row
        assert row["replacement_url"] == f"http://mycoffee.demo/{replacement}", row
        assert row["subject"]
        assert row["replacement_url"] in row["draft"]
        if row["source_url"] == RESOURCES:
            assert row["email"] == "hello@resources.demo"
        else:
            assert row["email"] == "sam@blog.demo"
            assert row["author"] == "Sam Brewer"
            assert row["contact_page"] == "http://blog.demo/contact.html"
            assert row["social"] == "https://bsky.app/profile/morningcup.demo"
        if row["target_url"] == "http://brewratio-calculator.invalid/":
            assert row["domain_status"] == "unregistered"
            assert row["domain_checked_at"]
        else:
            assert row["domain_status"] == ""
