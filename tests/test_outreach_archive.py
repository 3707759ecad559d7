"""``scrapy crawl archive``: the Wayback Machine and RDAP, served in their documented shapes."""

from __future__ import annotations

import json

import pytest

from brokenlinks.outreach import archive

from .conftest import run_crawl
from .outreach_data import dead, link, make_db, page
from .serviceweb import Reply, ServiceWeb

pytestmark = pytest.mark.e2e

CDX_FIELDS = ["timestamp", "original", "mimetype", "statuscode"]
TOOLS = "http://gone.test/seo-tools"
EMPTY = "http://gone.test/never-archived"
LIMITED = "http://gone.test/rate-limited"
MOVED = "http://gone.test/moved-capture"
SLOW = "http://gone.test/slow"
EXPIRED = "http://www.lapsed-domain.com/guide"
OWNED = "http://owned-domain.com/"
NO_SERVER = "http://nothing.zz/"

CAPTURE = """<html><head><title>The  SEO tools list</title>
<meta name="description" content="Forty SEO tools, tested."></head>
<body><nav><p>Home | Blog</p></nav><h1>SEO tools we use</h1>
<p>We tested forty keyword research and link checking tools.</p>
<p>These are the ones we kept.</p></body></html>"""


def cdx(*rows: list[str]) -> Reply:
    return Reply(200, json.dumps([CDX_FIELDS, *rows]), {"Content-Type": "application/json"})


@pytest.fixture
def services():
    web = ServiceWeb().start()
    yield web
    web.stop()


def serve_archive(web: ServiceWeb) -> None:
    host = "archive.test"
    path = "/cdx/search/cdx"
    # any other URL: never archived (the CDX API's empty JSON array)
    web.add(host, path, Reply(200, "[]", {"Content-Type": "application/json"}))
    web.add(
        host,
        path,
        cdx(
            ["20180101000000", TOOLS, "text/html", "200"],
            ["20210304050607", TOOLS, "text/html", "200"],
            ["20220101000000", TOOLS, "application/pdf", "200"],
        ),
        url=TOOLS,
    )
    web.add(host, f"/web/20210304050607id_/{TOOLS}", Reply(200, CAPTURE))
    web.add(host, path, Reply(200, "[]", {"Content-Type": "application/json"}), url=EMPTY)
    web.add(
        host,
        path,
        Reply(429, "slow down", {"Retry-After": "1"}),
        cdx(["20200101000000", LIMITED, "text/html", "200"]),
        url=LIMITED,
    )
    web.add(
        host,
        f"/web/20200101000000id_/{LIMITED}",
        Reply(200, "<title>Rate limited page</title><p>Still here.</p>"),
    )
    web.add(host, path, cdx(["20190101000000", MOVED, "text/html", "200"]), url=MOVED)
    # the capture asked for redirects to its neighbour, as the Wayback Machine does
    web.add(
        host,
        f"/web/20190101000000id_/{MOVED}",
        Reply(302, "", {"Location": f"http://archive.test/web/20190105000000id_/{MOVED}"}),
    )
    web.add(
        host,
        f"/web/20190105000000id_/{MOVED}",
        Reply(200, "<title>Moved capture</title><h1>Where it went</h1>"),
    )
    web.add(host, path, Reply(200, "[]", delay=6), url=SLOW)


def serve_rdap(web: ServiceWeb) -> None:
    bootstrap = {
        "version": "1.0",
        "publication": "2024-01-01T00:00:00Z",
        "services": [[["com"], ["http://rdap.test/com/v1/"]]],
    }
    web.add("iana.test", "/rdap/dns.json", Reply(200, json.dumps(bootstrap)))
    web.add(
        "rdap.test",
        "/com/v1/domain/lapsed-domain.com",
        Reply(404, json.dumps({"errorCode": 404, "title": "Not Found"})),
    )
    web.add(
        "rdap.test",
        "/com/v1/domain/owned-domain.com",
        Reply(
            200,
            json.dumps({"objectClassName": "domain", "ldhName": "OWNED-DOMAIN.COM"}),
            {"Content-Type": "application/rdap+json"},
        ),
    )


def database(tmp_path):
    targets = [TOOLS, EMPTY, LIMITED, MOVED, SLOW]
    links = [link(t, "tools", f"See the {t} list") for t in targets]
    links += [link(u, "guide", "A guide") for u in (EXPIRED, OWNED, NO_SERVER)]
    checks = [dead(t) for t in targets]
    checks += [dead(u, "dns", None) for u in (EXPIRED, OWNED, NO_SERVER)]
    return make_db(
        tmp_path / "db.sqlite3", [page("http://blog.test/tools", "Tools", links)], checks
    )


def crawl(tmp_path, web, services, **settings):
    database(tmp_path)
    port = services.port
    merged = {
        "BROKENLINKS_RESOLVE": {
            "archive.test": f"127.0.0.1:{port}",
            "iana.test": f"127.0.0.1:{port}",
            "rdap.test": f"127.0.0.1:{port}",
        },
        "BROKENLINKS_ARCHIVE_URL": "http://archive.test",
        "BROKENLINKS_RDAP_BOOTSTRAP_URL": "http://iana.test/rdap/dns.json",
        "BROKENLINKS_TIMEOUT_RETRY_TIMES": 0,
        "DOWNLOAD_DELAY": 0,
        **settings,
    }
    return run_crawl(
        tmp_path, web, {}, spider="archive", settings=merged, db_path=tmp_path / "db.sqlite3"
    )


def test_archive_reads_the_newest_good_capture_and_rdap_status(tmp_path, web, services):
    serve_archive(services)
    serve_rdap(services)
    result = crawl(tmp_path, web, services)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["target_url"]: r for r in result.rows["archived_targets"]}
    # the newest HTML capture that answered 200, read without toolbar (id_)
    tools = rows[TOOLS]
    assert tools["outcome"] == "found"
    assert tools["archived_url"] == f"http://archive.test/web/20210304050607/{TOOLS}"
    assert tools["archived_at"].startswith("2021-03-04 05:06:07")
    assert tools["archived_title"] == "The SEO tools list"
    assert tools["archived_heading"] == "SEO tools we use"
    assert tools["archived_description"] == "Forty SEO tools, tested."
    assert tools["archived_summary"] == (
        "We tested forty keyword research and link checking tools. These are the ones we kept."
    )
    assert rows[EMPTY]["outcome"] == "none"
    assert rows[EMPTY]["archived_url"] is None
    # 429 with Retry-After: waited, asked again, answered
    assert rows[LIMITED]["archived_title"] == "Rate limited page"
    asked = services.requests("archive.test", "/cdx/search/cdx?url=http%3A%2F%2Fgone.test%2Frate")
    assert [r.status for r in asked] == [429, 200]
    assert asked[1].at - asked[0].at >= 0.9
    # a capture that redirects to its neighbour: the one read is the one recorded
    assert rows[MOVED]["archived_title"] == "Moved capture"
    assert rows[MOVED]["archived_url"] == f"http://archive.test/web/20190105000000/{MOVED}"
    # a slow archive: timed out, nothing stored, asked again next time
    assert SLOW not in rows
    stats = result.stats
    assert stats["brokenlinks/archive/found"] == 3
    # EMPTY and the three dead domains' pages
    assert stats["brokenlinks/archive/no_capture"] == 4
    assert stats["brokenlinks/archive/redirected"] == 1
    assert stats["brokenlinks/archive/failed"] == 1, result.stderr[-6000:]
    # RDAP: 404 is unregistered, a domain object registered, no server for .zz unknown
    statuses = {r["domain"]: r for r in result.rows["domain_statuses"]}
    assert statuses["lapsed-domain.com"]["domain_status"] == "unregistered"
    assert statuses["owned-domain.com"]["domain_status"] == "registered"
    assert statuses["nothing.zz"]["domain_status"] == "unknown"
    assert statuses["lapsed-domain.com"]["checked_at"]
    assert len(services.requests("iana.test")) == 1

    # a second run looks up only what is missing: the slow target, the unknown domain
    services.log.clear()
    again = crawl(tmp_path, web, services)
    assert again.returncode == 0, again.stderr[-3000:]
    paths = [r.path for r in services.requests("archive.test")]
    assert paths == [archive.cdx_url("", SLOW)]
    assert services.requests("rdap.test") == []


def test_archive_and_rdap_can_be_switched_off(tmp_path, web, services):
    serve_archive(services)
    serve_rdap(services)
    result = crawl(
        tmp_path, web, services, BROKENLINKS_ARCHIVE_ENABLED=False, BROKENLINKS_RDAP_ENABLED=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert services.log == []
    assert result.rows["archived_targets"] == []


def test_bad_archive_setting_is_one_error_line(tmp_path, web, services):
    result = crawl(tmp_path, web, services, BROKENLINKS_ARCHIVE_URL="web.archive.org")
    assert result.returncode == 1
    assert "BROKENLINKS_ARCHIVE_URL" in result.stderr


def test_the_network_guard_applies_to_the_archive(tmp_path, web, services):
    serve_archive(services)
    # the archive on a loopback address that BROKENLINKS_RESOLVE does not vouch for
    result = crawl(
        tmp_path,
        web,
        services,
        BROKENLINKS_ARCHIVE_URL=f"http://127.0.0.1:{services.port}",
        BROKENLINKS_RDAP_ENABLED=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert services.log == []
    assert result.rows["archived_targets"] == []
    assert "refused by the network guard" in result.stderr
    assert result.stats["brokenlinks/archive/failed"] == 8
