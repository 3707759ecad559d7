"""End to end (issue 11): what real pages and servers do, through ``scrapy crawl``.

Two-letter paths that are no language home, ``<meta http-equiv="refresh">``, referring
pages that redirect to themselves or to another seed, redirects off the web, 3xx answers
without a redirect, chunked answers, parking landers that look like soft 404s, and image
links in figures. The pages and targets are in ``tests/web`` (README.md, expected.json).
"""

from __future__ import annotations

import pytest

from .conftest import run_crawl, write_seeds

pytestmark = pytest.mark.e2e

ODD = "http://blog.test/odd-answers.html"
MOVED = "http://blog.test/moved.html"
REFRESH_LOOP = "http://blog.test/refresh-loop.html"
SELF_REDIRECT = "http://loop.test/self"
OLD_ARTICLE = "http://news.test/old-article"
ARTICLE = "http://news.test/article.html"


@pytest.fixture(scope="module")
def odd_crawl(tmp_path_factory, test_web):
    test_web.reset()
    tmp = tmp_path_factory.mktemp("odd")
    seeds = write_seeds(tmp, [ODD, MOVED, REFRESH_LOOP, SELF_REDIRECT, OLD_ARTICLE, ARTICLE])
    result = run_crawl(tmp, test_web, {"seeds": str(seeds)})
    assert result.returncode == 0, result.stderr[-3000:]
    result.web_requests = test_web.requests()  # type: ignore[attr-defined]
    return result


def targets(result):
    return {row["url"]: row for row in result.rows["targets"]}


def prospects(result, source):
    return [item for item in result.items if item["source_url"] == source]


@pytest.mark.parametrize("page", [ODD, MOVED, REFRESH_LOOP])
def test_every_checked_link_gets_its_verdict(odd_crawl, expected, page):
    rows = targets(odd_crawl)
    wrong = []
    for link in expected[page]:
        if link["kind"] == "unchecked":
            continue
        row = rows.get(link["target_url"])
        got = row and (row["kind"], row["reason"], row["status"], row["final_url"])
        want = (link["kind"], link["reason"], link["status"], link["final_url"])
        if got != want:
            wrong.append((link["target_url"], got, want))
    assert not wrong


def test_dead_rows_are_the_expected_prospects(odd_crawl, expected):
    for page in (ODD, MOVED, REFRESH_LOOP):
        dead = sorted(
            (link["target_url"], link["reason"])
            for link in expected[page]
            if link["kind"] == "dead"
        )
        got = sorted((item["target_url"], item["reason"]) for item in prospects(odd_crawl, page))
        assert got == dead, page


@pytest.mark.parametrize(
    ("target", "kind", "reason"),
    [
        # point 1: /ok is no language code; /tv is a region, but / does not lead there
        ("http://twoletters.test/deep/old-guide", "alive", "ok"),
        ("http://twoletters.test/shows/old", "alive", "ok"),
        # ... while a retired post sent to /en/, where / itself leads, is a soft 404
        ("http://langhome.test/2019/old-post", "dead", "soft_404"),
        # point 4: a redirect a browser cannot follow
        ("http://oddredirect.test/to-ftp", "dead", "http_status"),
        ("http://oddredirect.test/to-file", "dead", "http_status"),
        # point 5: a 3xx without a redirect shows its body
        ("http://oddredirect.test/no-location", "alive", "ok"),
        ("http://oddredirect.test/choices", "alive", "ok"),
        # point 8: parked wins over soft 404
        ("http://godaddy.test/old-shop", "dead", "parked"),
        ("http://danlander.test/old-page", "dead", "parked"),
    ],
)
def test_case_by_case(odd_crawl, target, kind, reason):
    row = targets(odd_crawl)[target]
    assert (row["kind"], row["reason"]) == (kind, reason), row["detail"]


def test_language_home_is_read_once_per_site(odd_crawl):
    homes = [
        r.method
        for r in odd_crawl.web_requests
        if r.host == "langhome.test" and r.path == "/"  # type: ignore[attr-defined]
    ]
    assert homes == ["GET"]
    # /ok is no language code; /tv is a region code, so where / leads is asked once
    asked = [r for r in odd_crawl.web_requests if r.host == "twoletters.test" and r.path == "/"]
    assert [r.method for r in asked] == ["GET"]


def test_redirects_off_the_web_are_never_fetched(odd_crawl):
    assert not [r for r in odd_crawl.web_requests if r.host == "files.oddredirect.test"]
    row = targets(odd_crawl)["http://oddredirect.test/to-ftp"]
    assert row["detail"] == "redirect to a ftp: URL"


def test_meta_refresh_page_keeps_its_links(odd_crawl):
    # the referring page is read as itself, and its refresh target is one of its links
    pages = {row["url"]: row for row in odd_crawl.rows["pages"]}
    assert pages[MOVED]["status"] == 200
    assert pages[MOVED]["error"] is None
    rows = {item["target_url"]: item for item in prospects(odd_crawl, MOVED)}
    assert set(rows) == {"http://gone.test/refresh-target", "http://gone.test/moved-page-link"}
    assert rows["http://gone.test/refresh-target"]["anchor_text"] == ""
    assert rows["http://gone.test/moved-page-link"]["source_title"] == (
        "This list has moved | The Patient Gardener"
    )
    # the page that refreshes to itself is there too
    assert pages[REFRESH_LOOP]["status"] == 200
    assert [i["target_url"] for i in prospects(odd_crawl, REFRESH_LOOP)] == [
        "http://gone.test/loop-page-link"
    ]


def test_self_redirecting_seed_gets_a_failed_row(odd_crawl):
    pages = {row["url"]: row for row in odd_crawl.rows["pages"]}
    row = pages[SELF_REDIRECT]
    assert "redirect loop" in row["error"]
    assert odd_crawl.stats["brokenlinks/pages/redirect_loop"] == 1
    assert odd_crawl.stats["brokenlinks/pages/failed"] == 1
    assert f"Could not read {SELF_REDIRECT}" in odd_crawl.stderr


def test_seed_redirecting_to_another_seed_is_read_once(odd_crawl, expected):
    assert odd_crawl.stats["brokenlinks/pages/duplicate"] == 1
    assert "already read in this crawl" in odd_crawl.stderr
    dead = [link for link in expected[ARTICLE] if link["kind"] == "dead" and link["outbound"]]
    got = prospects(odd_crawl, ARTICLE)
    assert len(got) == len(dead)
    assert len({(i["target_url"], i["anchor_text"]) for i in got}) == len(got)


def test_image_link_in_a_figure_carries_its_caption(odd_crawl):
    (item,) = [i for i in odd_crawl.items if i["target_url"] == "http://gone.test/figure-photo"]
    assert item["anchor_text"] == "Tomato seedlings in a cold frame"
    assert item["context"].startswith("Tomato seedlings in a cold frame")
    assert "Seedlings at two weeks" in item["context"]


def test_odd_crawl_logs_no_error(odd_crawl):
    assert "log_count/ERROR" not in odd_crawl.stats
    assert "Traceback" not in odd_crawl.stderr


def test_chunked_targets_log_no_error(tmp_path, web):
    seeds = write_seeds(tmp_path, ["http://blog.test/chunked-links.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)})
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats.get("log_count/ERROR", 0) == 0, result.stderr[-3000:]
    assert "TypeError" not in result.stderr
    rows = targets(result)
    assert (
        rows["http://chunked.test/page"]["kind"],
        rows["http://chunked.test/page"]["status"],
    ) == (
        "alive",
        200,
    )
    for url in ("http://chunked.test/gone", "http://chunked.test/old-news"):
        assert (rows[url]["kind"], rows[url]["status"]) == ("dead", 404)
    # HEAD refused, GET of a 2 MB chunked image: stopped at its headers (not text)
    photo = rows["http://chunked.test/photo.png"]
    assert (photo["kind"], photo["status"]) == ("alive", 200)
    gets = [r for r in web.requests(host="chunked.test") if r.path == "/photo.png"]
    assert [r.method for r in gets] == ["HEAD", "GET"]
    assert stats["downloader/response_bytes"] < 1_000_000


def test_site_crawl_follows_meta_refresh_and_stays_on_its_site(tmp_path, web):
    result = run_crawl(
        tmp_path, web, {"start": "http://refresh.test/", "render": "never"}, spider="site"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {row["url"]: row for row in result.rows["pages"]}
    # the page that refreshes elsewhere is read as itself; other sites' pages are not
    # stored as crawled, whether reached by a refresh or by an HTTP redirect (/away)
    assert set(pages) == {
        "http://refresh.test/",
        "http://refresh.test/next.html",
        "http://refresh.test/final.html",
    }
    # /away's redirect to another site is not followed for a page (its link is checked)
    read = [r.path for r in web.requests(host="elsewhere.test") if r.method == "GET"]
    assert "/landing" not in read
    assert "/robots.txt" not in read
    got = sorted((i["source_url"], i["target_url"]) for i in result.items)
    assert got == [
        ("http://refresh.test/", "http://gone.test/refresh-site-link"),
        ("http://refresh.test/final.html", "http://gone.test/after-refresh"),
    ]
    rows = targets(result)
    assert rows["http://elsewhere.test/landing"]["kind"] == "alive"  # checked as a link
    assert result.stats["brokenlinks/site/cut/offsite_redirect"] == 1
    assert "redirects to http://elsewhere.test/landing on another site" in result.stderr
    assert "log_count/ERROR" not in result.stats


def test_site_start_url_is_fetched_as_given(tmp_path, web):
    start = "http://indexonly.test/index.html"
    result = run_crawl(tmp_path, web, {"start": start, "render": "never"}, spider="site")
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = [r.path for r in web.requests(host="indexonly.test") if r.method == "GET"]
    assert "/index.html" in fetched
    assert "/" not in fetched
    assert [(i["source_url"], i["target_url"]) for i in result.items] == [
        (start, "http://gone.test/index-only-link")
    ]


SCRIPTED = [
    "http://scripted.test/related.html",  # inline data
    "http://scripted.test/reading.html",  # JSON fetched from the site
    "http://scripted.test/tools.html",  # a JSON blob
]
SCRIPT_INSERTED = sorted(
    f"http://gone.test/js-{kind}-{n}" for kind in ("inline", "fetch", "blob") for n in (1, 2, 3)
)


@pytest.mark.parametrize(("render", "found"), [("never", []), (None, SCRIPT_INSERTED)])
def test_script_inserted_links_on_server_rendered_pages(tmp_path, web, render, found):
    # three ordinary pages (header, navigation, a content link in their HTML) whose
    # scripts insert three dead links each: the default render=auto finds all nine
    seeds = write_seeds(tmp_path, SCRIPTED)
    args = {"seeds": str(seeds)} | ({"render": render} if render else {})
    result = run_crawl(tmp_path, web, args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(i["target_url"] for i in result.items) == found
    if render is None:
        assert result.stats["brokenlinks/render/auto"] == 3
        assert result.stats["brokenlinks/render/pages"] == 3
        # the raw HTML's own links are still there
        pages = {row["url"]: row for row in result.rows["pages"]}
        assert all(pages[url]["status"] == 200 for url in SCRIPTED)
    assert "log_count/ERROR" not in result.stats


def test_whole_test_web_logs_no_error(tmp_path, web, expected):
    # every referring page of the test web, with the default render=auto
    seeds = write_seeds(tmp_path, sorted(expected))
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stats["brokenlinks/pages/crawled"] >= len(expected) - 3
    assert "log_count/ERROR" not in result.stats, result.stderr[-5000:]
    assert "Traceback" not in result.stderr


AUDIT_DEAD = [
    ("http://audit.test/de/", "alternate"),
    ("http://audit.test/gone-2x.png", "img"),
    ("http://audit.test/gone.webp", "source"),
    ("http://audit.test/missing-chart.png", "img"),
    ("http://gone.test/audit-link", "link"),
    ("http://gone.test/embed", "iframe"),
]


@pytest.mark.parametrize("audit", [False, True])
def test_site_audit_of_references(tmp_path, web, audit):
    result = run_crawl(
        tmp_path,
        web,
        {"start": "http://audit.test/", "render": "never"},
        spider="site",
        settings={"BROKENLINKS_SITE_REFERENCES": audit},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = sorted((i["target_url"], i["link_kind"]) for i in result.items)
    assert got == (AUDIT_DEAD if audit else [("http://gone.test/audit-link", "link")])
    kinds = {}
    targets_by_id = {row["id"]: row["url"] for row in result.rows["targets"]}
    for row in result.rows["links"]:
        kinds[targets_by_id[row["target_id"]]] = row["link_kind"]
    if audit:
        assert kinds["http://audit.test/"] == "canonical"  # alive: stored, not a prospect
        assert kinds["http://audit.test/ok.png"] == "img"
        assert not any(url.startswith("data:") for url in kinds)
        (chart,) = [i for i in result.items if i["target_url"].endswith("missing-chart.png")]
        assert chart["anchor_text"] == "Plot chart"
        assert chart["context"] == "Plot chart The 2019 plot chart."
        # references are no links: the page's link density stays the same
        assert {i["links_on_page"] for i in result.items} == {1}
    else:
        assert set(kinds.values()) == {"link"}
    assert "log_count/ERROR" not in result.stats
