"""``scrapy demo outreach`` ends with one pitch per recipient and the redirect map of your site.

The demo runs its real commands as child processes (``scrapy crawl backlinks``, ``archive``,
``contacts``, ``mysite``, ``scrapy pitches``, a reclaim crawl of ``mycoffee.demo`` and
``scrapy redirects``) against the demo web in ``data/demo/``, in a working directory like a
fresh clone's; the pitches and the redirect map are read from the files it writes, and the
database it leaves is asked per campaign.
"""

from __future__ import annotations

import csv
import json
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


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.e2e
def test_demo_outreach_ends_with_pitches(checkout):
    proc = scrapy("demo", "outreach", cwd=checkout, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    commands = re.findall(r"^\$ scrapy (.*)$", out, re.MULTILINE)
    assert commands == [
        "crawl backlinks -a seeds=data/demo/seeds.txt -a campaign=demo-resources -O demo-resources.csv",
        (
            "crawl archive -s BROKENLINKS_ARCHIVE_URL=http://archive.demo"
            " -s BROKENLINKS_RDAP_BOOTSTRAP_URL=http://iana.demo/rdap/dns.json"
        ),
        "crawl contacts",
        "crawl mysite -a mysite=http://mycoffee.demo/",
        "pitches --campaign demo-resources -o demo-pitches.csv",
        (
            "crawl backlinks -a seeds=data/demo/mycoffee-links.txt -a domain=mycoffee.demo"
            " -O demo-reclaim-mycoffee.csv"
        ),
        "redirects --campaign reclaim-mycoffee.demo -o demo-redirects.csv",
        "redirects --campaign reclaim-mycoffee.demo -o demo-redirects.conf",
    ]
    assert "archive: 6 dead targets, 5 captures read, 1 without capture, 0 failed" in out
    assert "RDAP: 1 domains (unregistered 1)" in out
    assert "contacts: 2 linking sites, 2 with an address, 1 contact pages read, 0 failed" in out
    assert "your site: 7 pages read (7 listed by sitemaps)" in out
    assert re.search(
        r"^  2 pitches written to demo-pitches\.csv \(campaign demo-resources\) in ",
        out,
        re.MULTILINE,
    )
    assert "Pitches, one row per recipient with a draft: demo-pitches.csv" in out
    assert re.search(
        r"^  2 redirects \(1 without a good match\) written to demo-redirects\.conf ",
        out,
        re.MULTILINE,
    )
    assert "Redirect map of your dead pages: demo-redirects.csv and demo-redirects.conf" in out
    log = (checkout / "data" / "demo.log").read_text(encoding="utf-8")
    assert log.count("Spider closed (finished)") == 5
    assert " WARNING: " not in log
    assert " ERROR: " not in log

    rows = read_csv(checkout / "demo-pitches.csv")
    # one message per recipient: the two blog.demo posts' dead links go to Sam in one
    assert [row["email"] for row in rows] == ["sam@blog.demo", "hello@resources.demo"]
    by_email = {row["email"]: row for row in rows}
    assert by_email["hello@resources.demo"]["source_urls"] == RESOURCES
    assert sorted(by_email["hello@resources.demo"]["target_urls"].split()) == sorted(EXPECTED)
    assert by_email["sam@blog.demo"]["source_urls"].split() == [GRINDERS, POUR_OVER]
    assert by_email["sam@blog.demo"]["target_urls"].split() == [
        "http://grindlab.demo/hand-grinders-2019",
        EXPIRED,
    ]
    for row in rows:
        site = row["sites"]
        email, author, contact_page, social = CONTACTS[site]
        assert (row["email"], row["contact_emails"]) == (email, email), row
        assert (row["author"], row["contact_page"], row["social"]) == (
            author,
            contact_page,
            social,
        ), row
        assert row["campaign"] == "demo-resources"
        assert row["ask"] == "replacement"
        targets = row["target_urls"].split()
        assert row["links"] == str(len(targets))
        assert row["replacement_urls"].split() == [
            f"http://mycoffee.demo/{EXPECTED[t][1]}" for t in targets
        ]
        assert len(row["prospect_ids"].split()) == len(targets)
        assert row["subject"] == f"{len(targets)} broken links on {site}"
        draft = row["draft"]
        assert draft.splitlines()[0] == f"Hi {author.split()[0]},"
        assert f"noticed {len(targets)} links that no longer work:" in draft
        for target in targets:
            capture, replacement = EXPECTED[target]
            line = next(x for x in draft.splitlines() if f"-> {target}" in x)
            if capture is not None:
                assert line.endswith(f'it used to be "{capture[1]}"'), line
            assert f"http://mycoffee.demo/{replacement}" in draft
        assert "(the whole site is gone)" in draft  # both have the expired domain

    # the redirect map: mycoffee.demo's dead pages with backlinks, most referring domains first
    redirects = read_csv(checkout / "demo-redirects.csv")
    assert [
        (r["dead_url"], r["target_url"], r["status"], r["referring_domains"]) for r in redirects
    ] == [
        ("http://mycoffee.demo/kettle-reviews", "http://mycoffee.demo/kettles.html", "301", "2"),
        (
            "http://mycoffee.demo/guides/grinders-2020",
            "http://mycoffee.demo/hand-grinder-guide.html",
            "301",
            "1",
        ),
        ("http://mycoffee.demo/old/moka-pot-tips", "", "", "1"),
    ]
    assert redirects[2]["reason"] == "none of your pages shares a word with it"
    conf = (checkout / "demo-redirects.conf").read_text(encoding="utf-8").splitlines()
    assert [line for line in conf if line.startswith("location")] == [
        (
            "location = /kettle-reviews { return 301 /kettles.html; }"
            "  # 2 referring domains, 2 linking pages"
        ),
        (
            "location = /guides/grinders-2020 { return 301 /hand-grinder-guide.html; }"
            "  # 1 referring domain, 1 linking page"
        ),
    ]
    assert any(
        line.startswith("# no good match: http://mycoffee.demo/old/moka-pot-tips") for line in conf
    )

    # campaigns kept apart: the reclaim campaign's prospects are mycoffee.demo's alone
    reclaim = checkout / "reclaim.json"
    listed = scrapy(
        "prospects", "--campaign", "reclaim-mycoffee.demo", "-o", str(reclaim), cwd=checkout
    )
    assert listed.returncode == 0, listed.stderr
    reclaimed = json.loads(reclaim.read_text(encoding="utf-8"))
    assert len(reclaimed) == 4
    assert {p["target_domain"] for p in reclaimed} == {"mycoffee.demo"}
    assert {p["campaign"] for p in reclaimed} == {"reclaim-mycoffee.demo"}
    resources = checkout / "resources.json"
    listed = scrapy(
        "prospects", "--campaign", "demo-resources", "-o", str(resources), cwd=checkout
    )
    assert listed.returncode == 0, listed.stderr
    assert {p["source_url"] for p in json.loads(resources.read_text(encoding="utf-8"))} == {
        RESOURCES,
        POUR_OVER,
        GRINDERS,
    }
    # never a pitch to or about your own site, whatever the campaign: links to your dead
    # pages are reclaim work (the redirect map)
    every = checkout / "every.csv"
    allc = scrapy("pitches", "--campaign", "all", "-o", str(every), cwd=checkout)
    assert allc.returncode == 0, allc.stderr
    assert "4 on or to your own sites (reclaim work: scrapy redirects)" in allc.stderr
    pitched = read_csv(every)
    assert len(pitched) == 2
    assert len({row["email"] for row in pitched}) == len(pitched)
    assert not any("mycoffee.demo" in row["target_urls"] for row in pitched)
    own = scrapy("pitches", "--campaign", "reclaim-mycoffee.demo", cwd=checkout)
    assert own.returncode == 0, own.stderr
    assert own.stdout == "no pitches (campaign reclaim-mycoffee.demo)\n"
    # the default campaign is the last crawl's: the reclaim one
    assert scrapy("redirects", cwd=checkout).stdout.splitlines()[-1] == (
        "3 dead pages of yours with backlinks"
    )
    unknown = scrapy("pitches", "--campaign", "nope", cwd=checkout)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: --campaign: no campaign 'nope' in the database;")
    bad = scrapy("redirects", "-o", "map.txt", cwd=checkout)
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        (
            "error: -o map.txt: unknown format; use .csv, .json, .conf or .nginx (nginx),"
            " .htaccess or .apache (Apache)"
        )
    ]
    apache = scrapy("redirects", "-o", "site.htaccess", cwd=checkout)
    assert apache.returncode == 0, apache.stderr
    rules = (checkout / "site.htaccess").read_text(encoding="utf-8").splitlines()
    assert "RedirectMatch 301 ^/guides/grinders-2020$ /hand-grinder-guide.html" in [
        line.split("  #")[0] for line in rules
    ]
