"""End-to-end ``scrapy crawl site`` and rendering tests against the site test web (tests/siteweb)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import PROJECT, run_crawl, write_seeds
from tests.test_localweb import fetch

pytestmark = pytest.mark.e2e

SITE_WEB = PROJECT / "tests" / "siteweb"
EXPECTED = json.loads((SITE_WEB / "expected.json").read_text(encoding="utf-8"))
JS_SEEDS = ["http://js.test/app.html", "http://js.test/noscript.html", "http://js.test/plain.html"]


@pytest.fixture(scope="module")
def site_web():
    with LocalWeb(SITE_WEB) as web:
        yield web


@pytest.fixture
def sweb(site_web):
    site_web.reset()
    return site_web


def rows(items):
    return sorted([i["source_url"], i["target_url"], i["reason"], i["status"]] for i in items)


def gets(web, host="garden.test"):
    return [r.path for r in web.requests(host=host) if r.method == "GET"]


def test_site_crawl_without_rendering(tmp_path, sweb):
    result = run_crawl(
        tmp_path, sweb, {"start": "http://garden.test/", "render": "never"}, spider="site"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows(result.items) == sorted(EXPECTED["site"]["never"])
    fetched = gets(sweb)
    # one fetch per page, whatever the spelling (utm_*, fbclid, index.html, case, :80)
    for path in ("/", "/about.html", "/guides/", "/posts/tomatoes.html", "/orphan.html"):
        assert fetched.count(path) == 1, (path, fetched)
    # robots.txt Disallow: never fetched as a page; a file is checked, not crawled
    assert "/private/secret.html" not in fetched
    assert "/files/planting-chart.pdf" not in fetched
    assert "http://oldnursery.test/secret-only" not in {i["target_url"] for i in result.items}
    # traps: an endless calendar and a path nesting into itself
    year = datetime.now(UTC).year
    calendar = sorted(int(p.split("/")[2]) for p in fetched if p.startswith("/calendar/"))
    assert calendar
    assert all(abs(y - year) <= 3 for y in calendar), calendar
    assert not any(p.startswith("/guides/guides/guides/") for p in fetched)
    stats = result.stats
    assert stats["brokenlinks/site/cut/calendar"] == 2  # the next and previous year's pages
    assert stats["brokenlinks/site/cut/repeated_segments"] == 1
    assert stats["brokenlinks/site/cut/robots_txt"] == 1
    assert stats["brokenlinks/site/sitemaps/read"] == 3  # index + gzip urlset + plain urlset
    # orphan.html and retired.html are in the sitemap only; a page linked as well counts
    # here when the sitemap is read before the link is found (a busy machine's order)
    assert stats["brokenlinks/site/pages_from/sitemap"] >= 2
    assert stats["brokenlinks/prospects/internal"] == 2
    assert stats["brokenlinks/prospects/external"] == 3
    assert "internal 2, external 3" in result.stderr
    assert "site crawl cut off:" in result.stderr
    # nothing was rendered: the app's links stay unseen
    assert "/app/hidden.html" not in fetched
    assert "brokenlinks/render/pages" not in stats
    # a sitemap URL that is gone is a failed page in the store
    pages = {row["url"]: row for row in result.rows["pages"]}
    assert pages["http://garden.test/retired.html"]["status"] == 404


def test_site_crawl_renders_client_side_pages(tmp_path, sweb):
    result = run_crawl(
        tmp_path,
        sweb,
        {"start": "http://garden.test/"},
        spider="site",
        # the fetches are counted: none may time out and be retried (nothing here hangs)
        settings={"DOWNLOAD_TIMEOUT": 15},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = EXPECTED["site"]["never"] + EXPECTED["site"]["rendered"]
    assert rows(result.items) == sorted(expected)
    stats = result.stats
    assert stats["brokenlinks/render/auto"] == 1  # only /app/ looks client-rendered
    assert stats["brokenlinks/render/pages"] == 1
    # the page's requests to a private and a loopback address were aborted by the guard
    assert stats["brokenlinks/render/aborted"] == 2
    assert stats["brokenlinks/render/aborted/private"] == 1
    assert stats["brokenlinks/render/aborted/loopback"] == 1
    fetched = gets(sweb)
    assert fetched.count("/app/hidden.html") == 1
    assert fetched.count("/app/app.js") == 1
    assert stats["playwright/page_count/closed"] == stats["playwright/page_count"]


def test_site_crawl_depth_and_page_budget(tmp_path, sweb):
    result = run_crawl(
        tmp_path,
        sweb,
        {"start": "http://garden.test/", "depth": "1", "render": "never"},
        spider="site",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = gets(sweb)
    assert "/guides/" in fetched
    assert "/guides/compost.html" not in fetched  # two hops from the start URL
    assert result.stats["brokenlinks/site/cut/depth"] == 6  # every page two hops away

    sweb.reset()
    (tmp_path / "budget").mkdir()
    result = run_crawl(
        tmp_path / "budget",
        sweb,
        {"start": "http://garden.test/", "max_pages": "3", "render": "never"},
        spider="site",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats["brokenlinks/pages/crawled"] + stats.get("brokenlinks/pages/failed", 0) == 3
    # which pages come first depends on which answers come first: how many are cut does too
    assert stats["brokenlinks/site/cut/max_pages"] >= 1


@pytest.mark.parametrize(
    ("render", "expected", "rendered"),
    [
        ("never", EXPECTED["backlinks"]["never"], 0),
        ("auto", EXPECTED["backlinks"]["rendered"] + EXPECTED["backlinks"]["never"], 2),
        ("always", EXPECTED["backlinks"]["rendered"] + EXPECTED["backlinks"]["never"], 3),
    ],
)
def test_backlinks_render_modes(tmp_path, sweb, render, expected, rendered):
    seeds = write_seeds(tmp_path, JS_SEEDS)
    # one page per browser context: each retired context is closed once its page is
    settings = {"BROKENLINKS_RENDER_PAGES_PER_CONTEXT": 1}
    result = run_crawl(tmp_path, sweb, {"seeds": str(seeds), "render": render}, settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    found = {tuple(row) for row in rows(result.items)}
    assert found == {tuple(row) for row in expected}
    assert result.stats.get("brokenlinks/render/pages", 0) == rendered
    # link targets are checked over HTTP (HEAD first), never loaded in the browser
    first: dict[str, str] = {}
    for request in sweb.requests(host="oldnursery.test"):
        first.setdefault(request.path, request.method)
    assert first
    assert set(first.values()) == {"HEAD"}
    # with scrapy-playwright's handler installed, unrendered requests still go through
    # Scrapy's HTTP handler and the guarded resolver: the metadata address is refused
    assert result.stats["brokenlinks/reason_count/skipped/guard"] == 1
    if render == "never":
        assert not any(key.startswith("playwright/") for key in result.stats)
        assert "scrapy-playwright" not in result.stderr
    else:
        # every browser page was closed once read
        assert result.stats["playwright/page_count/closed"] == rendered
        assert result.stats["playwright/page_count"] == rendered
        assert result.stats["playwright/context_count"] == rendered
        assert result.stats["brokenlinks/render/contexts_closed"] == rendered - 1


@pytest.mark.parametrize(
    ("spider", "args", "message"),
    [
        ("site", ["start=garden.test"], "start: 'garden.test' is not an absolute http(s) URL"),
        ("site", ["start=http://garden.test/", "depth=-1"], "depth: '-1' is not a whole number"),
        ("site", ["start=http://garden.test/", "render=maybe"], "render: 'maybe' is not one of"),
        ("site", [], "site: missing argument start"),
        ("backlinks", ["seeds=x.txt", "render=yes"], "seeds: file 'x.txt' does not exist"),
    ],
)
def test_bad_arguments_fail_in_one_line(spider, args, message):
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider]
    for arg in args:
        cmd += ["-a", arg]
    proc = subprocess.run(
        cmd, cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: {proc.stderr.strip()[7:]}"]
    assert message in proc.stderr


def test_site_web_serves_the_traps_and_sitemaps(sweb):
    status, _, body = fetch(sweb.port, "GET", "garden.test", "/calendar/2026/")
    assert status == 200
    assert b'href="/calendar/2025/"' in body
    assert b'href="/calendar/2027/"' in body
    _, _, body = fetch(sweb.port, "GET", "garden.test", "/guides/guides/guides/guides/")
    assert b'href="guides/"' in body
    _, headers, body = fetch(sweb.port, "GET", "garden.test", "/sitemap-pages.xml.gz")
    assert body[:2] == b"\x1f\x8b"
    assert "Content-Encoding" not in headers
    assert b"http://garden.test/orphan.html" in gzip.decompress(body)
    _, _, robots = fetch(sweb.port, "GET", "garden.test", "/robots.txt")
    assert b"Sitemap: http://garden.test/sitemap_index.xml" in robots
