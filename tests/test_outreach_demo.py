"""``scrapy demo outreach`` ends with pitches whose every field came from a request.

The demo runs its real commands as child processes (``scrapy crawl backlinks``, ``archive``,
``contacts``, ``mysite``, then ``scrapy pitches``) against the demo web in ``data/demo/``,
in a working directory like a fresh clone's; the pitches are read from the CSV it writes.
"""

from __future__ import annotations

import csv
import re

import pytest

from .test_front_door import checkout, scrapy

pytestmark = pytest.mark.e2e

__all__ = ["checkout"]  # the fixture, imported to be used here

RESOURCES = "http://resources.demo/best-tools.html"
POUR_OVER = "http://blog.demo/pour-over-guide.html"
GRINDERS = "http://blog.demo/grinder-notes.html"
EXPIRED = "http://brewratio-calculator.invalid/"
#: dead target → (capture timestamp and archived title, or None; the replacement a person would pick)
EXPECTED = {
    "http://grindlab.demo/hand-grinders-2019": (("20191104093000", "Hand grinders 2019: eight tested"), "hand-grinder-guide.html"),
    "http://kettleworks.demo/discontinued/variable-temp": (("20200612120000", "Variable temperature kettle"), "kettles.html"),
    EXPIRED: (("20180220080000", "Brew ratio calculator"), "brew-ratio.html"),
    "http://oldroaster.demo/shop": (("20210301101500", "Old Roaster shop: fresh beans weekly"), "fresh-beans.html"),
    "http://latteart.demo/lessons": (None, "latte-art.html"),
    "http://espressoforum.demo/threads/tamping": (("20170909170000", "Tamping pressure: does it matter?"), "tamping.html"),
}  # fmt: skip
#: referring site → (recipient, author, contact page, social profile)
CONTACTS = {
    "resources.demo": (
        "hello@resources.demo",
        "Alex Rivera",
        "http://resources.demo/about.html",
        "https://x.com/brewbetter",
    ),
    "blog.demo": (
        "sam@blog.demo",  # from "sam [at] blog [dot] demo" on the contact page
        "Sam Brewer",
        "http://blog.demo/contact.html",
        "https://bsky.app/profile/morningcup.demo",
    ),
}


def test_demo_outreach_ends_with_pitches(checkout):
    proc = scrapy("demo", "outreach", cwd=checkout, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    commands = re.findall(r"^\$ scrapy (.*)$", out, re.MULTILINE)
    assert commands == [
        "crawl backlinks -a seeds=data/demo/seeds.txt -O demo-resources.csv",
        (
            "crawl archive -s BROKENLINKS_ARCHIVE_URL=http://archive.demo"
            " -s BROKENLINKS_RDAP_BOOTSTRAP_URL=http://iana.demo/rdap/dns.json"
        ),
        "crawl contacts",
        "crawl mysite -a mysite=http://mycoffee.demo/",
        "pitches -o demo-pitches.csv",
    ]
    assert "archive: 6 dead targets, 5 captures read, 1 without capture, 0 failed" in out
    assert "RDAP: 1 domains (unregistered 1)" in out
    assert "contacts: 2 linking sites, 2 with an address, 1 contact pages read, 0 failed" in out
    assert "your site: 7 pages read (7 listed by sitemaps)" in out
    assert re.search(r"^  8 pitches written to demo-pitches\.csv in ", out, re.MULTILINE)
    assert "Pitches, one row per recipient with a draft: demo-pitches.csv" in out
    log = (checkout / "data" / "demo.log").read_text(encoding="utf-8")
    assert log.count("Spider closed (finished)") == 4
    assert " WARNING: " not in log
    assert " ERROR: " not in log

    with (checkout / "demo-pitches.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # the demo's 8 prospects, each with a recipient
    assert sorted((r["source_url"], r["target_url"]) for r in rows) == sorted(
        [
            *((RESOURCES, t) for t in EXPECTED),
            (POUR_OVER, EXPIRED),
            (GRINDERS, "http://grindlab.demo/hand-grinders-2019"),
        ]
    )
    for row in rows:
        site = row["source_domain"]
        email, author, contact_page, social = CONTACTS[site]
        assert (row["email"], row["contact_emails"]) == (email, email), row
        assert (row["author"], row["contact_page"], row["social"]) == (
            author,
            contact_page,
            social,
        ), row
        assert row["source_title"]
        assert row["anchor_text"]
        assert row["anchor_text"] in row["context"]

        capture, replacement = EXPECTED[row["target_url"]]
        if capture is None:  # the archive's index has no capture of it
            assert (row["archived_url"], row["archived_title"], row["archived_at"]) == ("", "", "")
        else:
            timestamp, title = capture
            assert row["archived_url"] == (
                f"http://archive.demo/web/{timestamp}/{row['target_url']}"
            )
            assert row["archived_at"].startswith(
                f"{timestamp[:4]}-{timestamp[4:6]}-{timestamp[6:8]}T"
            )
            assert row["archived_title"] == title
            assert row["archived_summary"]
        if row["target_url"] == EXPIRED:
            assert row["reason"] == "dns"
            assert row["domain_status"] == "unregistered"
            assert row["domain_checked_at"]
        else:
            assert (row["domain_status"], row["domain_checked_at"]) == ("", "")

        assert row["replacement_url"] == f"http://mycoffee.demo/{replacement}", row
        assert row["replacement_title"]
        assert float(row["replacement_score"]) > 0
        assert row["replacements"].startswith(f"{row['replacement_url']} (")

        assert row["subject"] == f"A broken link on {row['source_title']}"
        first_name = author.split()[0]
        draft = row["draft"].splitlines()
        assert draft[0] == f"Hi {first_name},"
        assert f"({row['source_url']})" in draft[2]
        assert f'"{row["anchor_text"]}" goes to {row["target_url"]}' in draft[2]
        assert row["replacement_url"] in row["draft"]
        if capture is not None:
            assert f'It used to be "{capture[1]}" (last archived' in row["draft"]
