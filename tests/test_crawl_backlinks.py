"""End to end: ``scrapy crawl backlinks`` against the local test web.

Each crawl is a real ``scrapy crawl`` process; the assertions read the exported feed and
the SQLite database, case by case against ``tests/web/expected.json``.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime

import pytest

from brokenlinks.parsing.sites import in_domains, site_of
from brokenlinks.parsing.urls import is_http

from .conftest import NO_LAG_CONTROL, CrawlResult, run_crawl, write_seeds

pytestmark = pytest.mark.e2e

CONTRACT = [
    "source_url",
    "source_title",
    "source_domain",
    "target_url",
    "target_domain",
    "status",
    "reason",
    "final_url",
    "anchor_text",
    "rel",
    "follow",
    "position",
    "context",
    "links_on_page",
    "checked_at",
    # added fields (the contract allows them, after the fixed ones)
    "link_kind",
]

RESOURCE_PAGES = [
    "http://blog.test/resources.html",
    "http://news.test/article.html",
    "http://news.test/other.html",
    "http://blocked.test/",
    "http://blog.test/slow-links.html",
]
MYSITE = frozenset({"mysite.test"})
ROBOTS_DISALLOWED = "http://blocked.test/private/links.html"


def checked_links(expected, pages):
    """The expected links of *pages* that the backlinks spider checks (no domain)."""
    for page in pages:
        for link in expected[page]:
            if link["kind"] != "unchecked":
                yield page, link


def targets_by_url(result: CrawlResult) -> dict[str, dict]:
    return {row["url"]: row for row in result.rows["targets"]}


@pytest.fixture(scope="module")
def resource_crawl(tmp_path_factory, test_web):
    """One crawl of the resource pages (plus a robots.txt-disallowed one), shared."""
    test_web.reset()
    tmp = tmp_path_factory.mktemp("resource")
    seeds = write_seeds(tmp, [*RESOURCE_PAGES, ROBOTS_DISALLOWED, RESOURCE_PAGES[0]])
    result = run_crawl(
        tmp,
        test_web,
        {"seeds": str(seeds)},
        # the loop-lag control off: on a busy machine it lowers the global budget, and
        # test_politeness_per_host's limit of 4 could then not be reached
        settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 4, **NO_LAG_CONTROL},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result.web_requests = test_web.requests()  # type: ignore[attr-defined]
    result.max_in_flight = {  # type: ignore[attr-defined]
        host: test_web.max_in_flight(host) for host in ("slow.test", "ok.test", "gone.test")
    }
    return result


def test_every_checked_link_gets_its_verdict(resource_crawl, expected):
    targets = targets_by_url(resource_crawl)
    seen = 0
    for page, link in checked_links(expected, RESOURCE_PAGES):
        key = link["target_url"] if link["target_url"] is not None else link["href"].strip()
        row = targets.get(key)
        assert row is not None, f"{page}: no verdict for {key}"
        got = (row["kind"], row["reason"], row["status"], row["final_url"])
        want = (link["kind"], link["reason"], link["status"], link["final_url"])
        assert got == want, f"{page} -> {key}"
        seen += 1
    assert seen > 70


@pytest.mark.parametrize(
    ("target", "kind", "reason", "status"),
    [
        ("http://ok.test/page", "alive", "ok", 200),
        ("http://gone.test/404", "dead", "http_status", 404),
        ("http://gone.test/410", "dead", "http_status", 410),
        ("http://error.test/500", "dead", "http_status", 500),
        ("http://flaky.test/503-once", "alive", "ok", 200),
        ("http://ratelimit.test/429-once", "alive", "ok", 200),
        ("http://nohead.test/head-405", "alive", "ok", 200),
        ("http://nohead.test/head-404", "alive", "ok", 200),
        ("http://moved.test/old", "alive", "ok", 200),
        ("http://moved.test/to-404", "dead", "http_status", 404),
        ("http://loop.test/a", "dead", "redirect_loop", 302),
        ("http://loop.test/self", "dead", "redirect_loop", 302),
        ("http://chain.test/long/1", "dead", "redirect_loop", 302),
        ("http://chain.test/short/1", "alive", "ok", 200),
        ("http://hang.test/never", "dead", "timeout", None),
        ("http://refused.test/", "dead", "connection", None),
        ("http://expired-domain.invalid/", "dead", "dns", None),
        ("https://tls.test/", "dead", "tls", None),
        ("http://forbidden.test/", "blocked", "http_status", 403),
        ("http://auth.test/members", "blocked", "http_status", 401),
        ("http://botwall.test/", "blocked", "http_status", 999),
        ("http://10.0.0.1/admin", "skipped", "guard", None),
        ("http://127.0.0.1:9/", "skipped", "guard", None),
        ("http://169.254.169.254/latest/meta-data/", "skipped", "guard", None),
        ("mailto:editor@blog.test?subject=Broken%20link", "skipped", "unsupported_scheme", None),
        ("http://big.test/1mb", "alive", "ok", 200),
    ],
)
def test_case_by_case(resource_crawl, target, kind, reason, status):
    row = targets_by_url(resource_crawl)[target]
    assert (row["kind"], row["reason"], row["status"]) == (kind, reason, status)


def test_prospects_carry_every_contract_field(resource_crawl, expected):
    items = resource_crawl.items
    titles = {row["url"]: row["title"] for row in resource_crawl.rows["pages"]}
    by_key = {}
    for item in items:
        assert list(item) == CONTRACT
        by_key.setdefault((item["source_url"], item["target_url"]), []).append(item)
    want = [
        (page, link)
        for page, link in checked_links(expected, RESOURCE_PAGES)
        if link["kind"] == "dead"
    ]
    assert len(items) == len(want)
    for page, link in want:
        key = link["target_url"] if link["target_url"] is not None else link["href"].strip()
        candidates = by_key[(page, key)]
        item = next(i for i in candidates if i["anchor_text"] == link["anchor_text"])
        assert item["source_title"] == titles[page]
        assert item["source_title"]
        assert item["source_domain"] == site_of(page)
        assert item["target_domain"] == (site_of(key) if link["target_url"] else "")
        assert item["status"] == link["status"]
        assert item["reason"] == link["reason"]
        assert item["final_url"] == link["final_url"]
        assert item["rel"] == link["rel"]
        assert item["follow"] is link["follow"]
        assert item["position"] == link["position"]
        assert link["anchor_text"] in item["context"]
        assert len(item["context"]) <= 300
        outbound = sum(
            1
            for other in expected[page]
            if other["outbound"] and is_http(other["target_url"] or "")
        )
        assert item["links_on_page"] == outbound
        checked_at = datetime.fromisoformat(item["checked_at"])
        assert checked_at.utcoffset() is not None
        assert checked_at.utcoffset().total_seconds() == 0


def test_one_check_per_target_and_fan_out(resource_crawl):
    requests = resource_crawl.web_requests
    # gone.test/404 is linked from two pages, checked once: HEAD then one confirming GET
    gone = [r for r in requests if r.host == "gone.test" and r.path == "/404"]
    assert [r.method for r in gone] == ["HEAD", "GET"]
    prospects = [i for i in resource_crawl.items if i["target_url"] == "http://gone.test/404"]
    assert {i["source_url"] for i in prospects} == {
        "http://blog.test/resources.html",
        "http://news.test/article.html",
    }
    stats = resource_crawl.stats
    assert stats["brokenlinks/targets/checked"] == len(resource_crawl.rows["targets"]) - sum(
        1 for row in resource_crawl.rows["targets"] if row["kind"] is None
    )


def test_head_first_and_bodies_capped(resource_crawl):
    requests = resource_crawl.web_requests
    ok = [r.method for r in requests if r.host == "ok.test" and r.path == "/page"]
    assert ok == ["HEAD"]
    nohead = [r.method for r in requests if r.host == "nohead.test" and r.path == "/head-405"]
    assert nohead == ["HEAD", "GET"]
    big = [r for r in requests if r.host == "big.test" and r.path == "/no-head"]
    assert big, "the no-HEAD big page is confirmed with GET"
    # what the crawler read (the server's own count includes what kernel buffers absorbed):
    # the 1 MiB body is cut at BROKENLINKS_MAX_BODY_BYTES, so the whole crawl reads less
    assert resource_crawl.stats["downloader/response_bytes"] < 1_000_000


def test_politeness_per_host(resource_crawl):
    # 24 links to slow.test (0.3 s each) with CONCURRENT_REQUESTS_PER_DOMAIN = 4
    assert resource_crawl.max_in_flight["slow.test"] == 4
    assert "brokenlinks/lag/max" not in resource_crawl.stats  # the lag control was off


def test_robots_txt_is_obeyed_for_referring_pages(resource_crawl):
    requests = resource_crawl.web_requests
    assert not [r for r in requests if r.host == "blocked.test" and r.path.startswith("/private")]
    page = next(p for p in resource_crawl.rows["pages"] if p["url"] == ROBOTS_DISALLOWED)
    assert "robots.txt" in page["error"]
    assert not [i for i in resource_crawl.items if i["source_url"] == ROBOTS_DISALLOWED]


def test_database_rows(resource_crawl, expected):
    rows = resource_crawl.rows
    pages = {p["url"]: p for p in rows["pages"]}
    assert set(pages) == {*RESOURCE_PAGES, ROBOTS_DISALLOWED}
    for url in RESOURCE_PAGES:
        assert pages[url]["status"] == 200
        assert pages[url]["error"] is None
    by_id = {p["id"]: p["url"] for p in rows["pages"]}
    stored = {by_id[link["page_id"]] for link in rows["links"]}
    assert stored == set(RESOURCE_PAGES)
    per_page = dict.fromkeys(RESOURCE_PAGES, 0)
    for link in rows["links"]:
        per_page[by_id[link["page_id"]]] += 1
    for url in RESOURCE_PAGES:
        distinct = {
            (link["target_url"] or link["href"].strip(), link["anchor_text"], link["position"])
            for link in expected[url]
        }
        assert per_page[url] == len(distinct), url
    run = rows["crawl_runs"][-1]
    assert run["finish_reason"] == "finished"
    assert json.loads(run["arguments"])["seeds"].endswith("seeds.txt")


def test_summary_in_log(resource_crawl):
    assert "Crawl summary:" in resource_crawl.stderr
    assert re.search(r"dead by reason: .*dns 1", resource_crawl.stderr)
    assert re.search(r"skipped by reason: guard 3", resource_crawl.stderr)


def test_domain_mode(tmp_path, web, expected):
    pages = ["http://news.test/article.html", "http://news.test/other.html"]
    seeds = write_seeds(tmp_path, pages)
    result = run_crawl(tmp_path, web, {"seeds": str(seeds), "domain": "mysite.test"})
    assert result.returncode == 0, result.stderr[-3000:]
    want = sorted(
        (page, link["target_url"], link["anchor_text"])
        for page in pages
        for link in expected[page]
        if link["kind"] == "dead" and in_domains(link["target_url"] or "", MYSITE)
    )
    got = sorted((i["source_url"], i["target_url"], i["anchor_text"]) for i in result.items)
    assert got == want
    assert {i["target_domain"] for i in result.items} == {"mysite.test", "shop.mysite.test"}
    # other sites' links are stored but not checked
    assert not [r for r in web.requests() if r.host in {"gone.test", "ok.test"}]
    old_guide = [r for r in web.requests() if r.path == "/old-guide.html"]
    assert [r.method for r in old_guide] == ["HEAD", "GET"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_csv_and_json_exports(tmp_path, web, fmt):
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, output=f"prospects.{fmt}")
    assert result.returncode == 0, result.stderr[-3000:]
    if fmt == "csv":
        with result.output.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == CONTRACT
        nofollow = [r for r in rows if "nofollow" in r["rel"]]
        assert nofollow
        assert all(r["follow"] == "False" for r in nofollow)
    else:
        rows = json.loads(result.output.read_text(encoding="utf-8"))
        assert all(isinstance(r["rel"], list) for r in rows)
        assert all(list(r) == CONTRACT for r in rows)
    assert len(rows) == len([r for r in result.rows["links"] if r["checked"]]) - len(
        [
            link
            for link in result.rows["links"]
            if link["checked"]
            and next(t for t in result.rows["targets"] if t["id"] == link["target_id"])["kind"]
            != "dead"
        ]
    )


def test_rerun_leaves_the_same_rows(tmp_path, web):
    seeds = write_seeds(tmp_path, ["http://news.test/article.html"])
    first = run_crawl(tmp_path, web, {"seeds": str(seeds)})
    web.reset()
    second = run_crawl(tmp_path, web, {"seeds": str(seeds)})
    assert first.returncode == second.returncode == 0
    for table in ("pages", "targets", "links"):
        assert len(first.rows[table]) == len(second.rows[table]), table
    assert len(second.rows["crawl_runs"]) == 2
    assert sorted(i["target_url"] for i in first.items) == sorted(
        i["target_url"] for i in second.items
    )


def test_private_addresses_allowed_when_asked(tmp_path, web):
    page = "http://blog.test/resources.html"
    seeds = write_seeds(tmp_path, [page])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={"BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": True},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    row = targets_by_url(result)["http://127.0.0.1:9/"]
    assert (row["kind"], row["reason"]) == ("dead", "connection")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"seeds": "missing.txt"}, "seeds: file 'missing.txt' does not exist"),
        ({"seeds": "{seeds}", "colour": "red"}, "unknown argument(s) 'colour'"),
        ({"seeds": "{seeds}", "domain": "https://mysite.test/"}, "is not a domain name"),
        ({"seeds": "{unknown_csv}"}, "unknown CSV header"),
        ({}, "missing argument seeds"),
    ],
)
def test_bad_arguments_fail_in_one_line(tmp_path, web, args, message):
    seeds = write_seeds(tmp_path, ["http://news.test/article.html"])
    unknown_csv = tmp_path / "export.csv"
    unknown_csv.write_text("Foo,Bar\n1,2\n", encoding="utf-8")
    first = run_crawl(tmp_path, web, {"seeds": str(seeds)})
    assert first.returncode == 0
    args = {k: v.format(seeds=seeds, unknown_csv=unknown_csv) for k, v in args.items()}
    result = run_crawl(tmp_path, web, args)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    # nothing already stored is lost
    assert result.rows["pages"] == first.rows["pages"]
    assert result.rows["targets"] == first.rows["targets"]


def test_backlink_export_as_seeds(tmp_path, web):
    export = tmp_path / "semrush.csv"
    export.write_text(
        "Page ascore,Source title,Source url,Target url,Anchor,Nofollow\n"
        '12,"Garden news",http://news.test/article.html,http://mysite.test/old-guide.html,'
        "our old guide,false\n"
        "12,Garden news,http://news.test/article.html,http://mysite.test/,home,false\n",
        encoding="utf-8",
    )
    result = run_crawl(tmp_path, web, {"seeds": str(export), "domain": "mysite.test"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert {i["source_url"] for i in result.items} == {"http://news.test/article.html"}
    assert result.stats["brokenlinks/seeds/duplicates"] == 1
    assert "(Semrush export, URL column 'Source url')" in result.stderr
