"""From a dead link to a pitch: contacts, archive, RDAP, your pages, then ``scrapy pitches``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from .conftest import PROJECT, run_crawl
from .outreach import web as outreach
from .outreach_data import dead, link, make_db, page
from .serviceweb import ServiceWeb

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


@pytest.fixture
def services():
    web = ServiceWeb().start()
    outreach.serve(web)
    yield web
    web.stop()


def scrapy(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scrapy", *args]
    cmd += ["-s", f"BROKENLINKS_DATABASE_URL=sqlite:///{db_path}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    return subprocess.run(
        cmd, cwd=PROJECT, capture_output=True, text=True, env=env, check=False, timeout=120
    )


def prospects_db(tmp_path: Path) -> Path:
    pages = []
    checks = {}
    for url, (title, links) in outreach.PROSPECTS.items():
        pages.append(page(url, title, [link(t, a, c) for t, a, c in links]))
        for target, _, _ in links:
            dns = target == outreach.TOMATOES
            checks[target] = dead(target, "dns" if dns else "http_status", None if dns else 404)
    path = tmp_path / "db.sqlite3"
    make_db(path, pages, list(checks.values()))
    return path


def crawl(tmp_path, web, services, spider, args=None):
    settings = {
        "BROKENLINKS_RESOLVE": outreach.resolve(services),
        "BROKENLINKS_ARCHIVE_URL": "http://archive.test",
        "BROKENLINKS_RDAP_BOOTSTRAP_URL": "http://iana.test/rdap/dns.json",
        "DOWNLOAD_DELAY": 0,
    }
    result = run_crawl(
        tmp_path,
        web,
        args or {},
        spider=spider,
        settings=settings,
        db_path=tmp_path / "db.sqlite3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_contacts_per_site(tmp_path, web, services):
    prospects_db(tmp_path)
    result = crawl(tmp_path, web, services, "contacts")
    found = {row["site"]: row for row in result.rows["site_contacts"]}
    # on the page itself: the address, the author, the profile; no contact page fetched
    assert found["gardenblog.test"]["contact_emails"] == "ann@gardenblog.test"
    assert found["gardenblog.test"]["author"] == "Ann Gardener"
    assert found["gardenblog.test"]["social"] == "https://x.com/anngardens"
    # no address on the page: its contact page, read once, has an obfuscated one
    assert found["veggies.test"]["contact_emails"] == "editor@veggies.test"
    assert found["veggies.test"]["contact_page"] == "http://veggies.test/contact"
    assert len(services.requests("veggies.test", "/contact")) == 1
    # robots.txt forbids the contact page: it is named, never fetched
    assert found["orchard.test"]["contact_emails"] == ""
    assert found["orchard.test"]["contact_page"] == "http://orchard.test/contact"
    assert services.requests("orchard.test", "/contact") == []
    assert result.stats["brokenlinks/contacts/with_email"] == 2
    # stored per site: a second run reads nothing
    services.log.clear()
    crawl(tmp_path, web, services, "contacts")
    assert [r for r in services.log if not r.path.endswith("robots.txt")] == []


def test_from_dead_links_to_pitches(tmp_path, web, services):
    db_path = prospects_db(tmp_path)
    crawl(tmp_path, web, services, "contacts")
    crawl(tmp_path, web, services, "archive")
    mysite = crawl(tmp_path, web, services, "mysite", {"mysite": outreach.MINE})
    assert mysite.stats["brokenlinks/mysite/pages"] == 5
    assert mysite.stats["brokenlinks/mysite/sitemap_urls"] == 5
    marked = scrapy(
        db_path, "prospects", "--mark", "contacted", outreach.GARDENBLOG, outreach.SEEDS
    )
    assert marked.returncode == 0, marked.stderr

    out = tmp_path / "pitches.csv"
    result = scrapy(db_path, "pitches", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "prospects left out: 1 marked with scrapy prospects --mark" in result.stderr
    # one pitch per recipient: the contacted prospect is left out, veggies.test's two dead
    # links go in one message
    pitches = {r["email"] or r["sites"]: r for r in read_csv(out)}
    assert set(pitches) == {"ann@gardenblog.test", "editor@veggies.test", "orchard.test"}
    assert {k: (r["links"], r["source_urls"], r["target_urls"]) for k, r in pitches.items()} == {
        "ann@gardenblog.test": ("1", outreach.GARDENBLOG, outreach.COMPOST),
        "editor@veggies.test": (
            "2",
            outreach.VEGGIES,
            f"{outreach.COMPOST} {outreach.TOMATOES}",
        ),
        "orchard.test": ("1", outreach.ORCHARD, outreach.PRUNING),
    }
    compost = pitches["ann@gardenblog.test"]
    assert compost["author"] == "Ann Gardener"
    assert compost["campaign"] == "resources"
    assert compost["ask"] == "replacement"
    assert compost["replacement_urls"] == "http://mine.test/compost-bins-guide"
    assert compost["subject"] == "A broken link on Garden resources"
    assert compost["draft"].startswith("Hi Ann,")
    assert '"How to build a compost bin" (last archived 2020-05-05)' in compost["draft"]
    assert "http://mine.test/compost-bins-guide" in compost["draft"]
    veggies = pitches["editor@veggies.test"]
    assert veggies["subject"] == "2 broken links on veggies.test"
    assert veggies["replacement_urls"] == (
        "http://mine.test/compost-bins-guide http://mine.test/growing-tomatoes"
    )
    draft = veggies["draft"]
    assert "noticed 2 links that no longer work:" in draft
    assert f"{outreach.TOMATOES} (the whole site is gone)" in draft
    assert draft.count("A replacement that covers the same ground") == 2
    assert "http://mine.test/growing-tomatoes" in draft
    pruning = pitches["orchard.test"]
    assert pruning["email"] == ""
    assert pruning["contact_page"] == "http://orchard.test/contact"
    assert pruning["replacement_urls"] == "http://mine.test/pruning-fruit-trees"
    assert pruning["subject"].startswith("A broken link on =HYPERLINK")

    # the user's own template, with the documented variables: one written for one link
    # per pitch still renders (the first link), and one can list them all
    template = tmp_path / "pitch.j2"
    template.write_text(
        "Subject: {{ anchor_text }} is gone\n\nDear {{ author or 'editor' }}, "
        "try {{ replacement_url }} instead of {{ target_url }}."
        "{% for link in links[1:] %} And {{ link.target_url }}.{% endfor %}\n",
        encoding="utf-8",
    )
    out_json = tmp_path / "pitches.json"
    custom = scrapy(db_path, "pitches", "--template", str(template), "-o", str(out_json))
    assert custom.returncode == 0, custom.stderr
    drafts = {r["email"] or r["sites"]: r for r in json.loads(out_json.read_text())}
    first = drafts["ann@gardenblog.test"]
    assert first["subject"] == "compost bin guide is gone"
    assert first["draft"] == (
        f"Dear Ann Gardener, try http://mine.test/compost-bins-guide instead of {outreach.COMPOST}."
    )
    assert drafts["editor@veggies.test"]["draft"].endswith(f" And {outreach.TOMATOES}.")

    # the same fields in the prospects and the report
    prospects_json = tmp_path / "prospects.json"
    assert scrapy(db_path, "prospects", "-o", str(prospects_json)).returncode == 0
    listed = {
        (p["source_url"], p["target_url"]): p for p in json.loads(prospects_json.read_text())
    }
    seeds = listed[outreach.GARDENBLOG, outreach.SEEDS]
    assert seeds["outreach"] == "contacted"
    assert seeds["contact_emails"] == "ann@gardenblog.test"
    assert seeds["archived_url"] is None  # the archive has no capture of it
    assert seeds["replacement_url"] == "http://mine.test/saving-seeds"
    report_json = tmp_path / "report.json"
    assert scrapy(db_path, "report", "-o", str(report_json)).returncode == 0
    report = {r["target_url"]: r for r in json.loads(report_json.read_text())}
    assert report[outreach.COMPOST]["archived_title"] == "How to build a compost bin"
    assert report[outreach.TOMATOES]["domain_status"] == "unregistered"
    assert report[outreach.PRUNING]["replacement_url"] == "http://mine.test/pruning-fruit-trees"


def test_bad_template_is_one_error_line(tmp_path):
    db_path = prospects_db(tmp_path)
    template = tmp_path / "broken.j2"
    template.write_text("Hi {{ author ", encoding="utf-8")
    result = scrapy(db_path, "pitches", "--template", str(template))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: pitch template {template}:")
    assert "Traceback" not in result.stderr
    # a variable that does not exist is an error, not a blank in a mail sent to hundreds
    typo = tmp_path / "typo.j2"
    typo.write_text("Hi {{ autor }}", encoding="utf-8")
    result = scrapy(db_path, "pitches", "--template", str(typo))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: pitch template {typo}: unknown variable(s) autor;")
    missing = tmp_path / "missing.j2"
    result = scrapy(db_path, "pitches", "--template", str(missing))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: pitch template {missing}: cannot be read")
