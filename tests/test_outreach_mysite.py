"""``scrapy crawl mysite``: sitemaps first, else a bounded crawl; URL lists; bad arguments."""

from __future__ import annotations

import gzip

import pytest

from .conftest import run_crawl
from .serviceweb import Reply, ServiceWeb

pytestmark = pytest.mark.e2e


def html(title: str, body: str = "") -> Reply:
    return Reply(200, f"<html><head><title>{title}</title></head><body>{body}</body></html>")


@pytest.fixture
def services():
    web = ServiceWeb().start()
    # nosite.test: no sitemap; a home page linking on, one link offsite, one loop back
    web.add("nosite.test", "/", html("Home", '<a href="/a">A</a><a href="/b#x">B</a>'))
    web.add(
        "nosite.test",
        "/a",
        html("Page A", '<h1>Alpha</h1><a href="/c">C</a><a href="http://other.test/">x</a>'),
    )
    web.add("nosite.test", "/b", html("Page B", '<a href="/">home</a><a href="/d">D</a>'))
    web.add("nosite.test", "/c", html("Page C"))
    web.add("nosite.test", "/d", html("Page D"))
    web.add("other.test", "/", html("Other"))
    # gz.test: a gzipped sitemap index pointing at a sitemap
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<sitemap><loc>http://gz.test/pages.xml</loc></sitemap></sitemapindex>"
    )
    xml = {"Content-Type": "application/xml"}
    web.add("gz.test", "/sitemap.xml.gz", Reply(200, gzip.compress(index.encode()), xml))
    pages = (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>http://gz.test/one</loc></url><url><loc>http://gz.test/two</loc></url>"
        "</urlset>"
    )
    web.add("gz.test", "/pages.xml", Reply(200, pages, xml))
    web.add("gz.test", "/one", html("One", "<p>First page.</p>"))
    web.add("gz.test", "/two", html("Two"))
    web.add(
        "list.test",
        "/urls.txt",
        Reply(200, "http://gz.test/two\n# note\n", {"Content-Type": "text/plain"}),
    )
    yield web
    web.stop()


def crawl(tmp_path, web, services, args):
    hosts = ("nosite.test", "other.test", "gz.test", "list.test")
    settings = {"BROKENLINKS_RESOLVE": dict.fromkeys(hosts, f"127.0.0.1:{services.port}")}
    return run_crawl(tmp_path, web, args, spider="mysite", settings=settings)


def test_no_sitemap_means_a_bounded_same_site_crawl(tmp_path, web, services):
    result = crawl(tmp_path, web, services, {"mysite": "http://nosite.test/", "max_pages": "4"})
    assert result.returncode == 0, result.stderr[-3000:]
    urls = sorted(row["url"] for row in result.rows["my_pages"])
    # at most 4 pages: the home page, the two it links to, one of the pages they link to
    assert len(urls) == 4
    assert urls[:3] == ["http://nosite.test/", "http://nosite.test/a", "http://nosite.test/b"]
    assert urls[3] in {"http://nosite.test/c", "http://nosite.test/d"}
    # the sitemap first (404), then the pages; nothing beyond the budget was fetched
    paths = [r.path for r in services.requests("nosite.test")]
    assert sorted(paths) == sorted(["/robots.txt", "/sitemap.xml", *(u[18:] for u in urls)])
    assert services.requests("other.test") == []
    page_a = next(r for r in result.rows["my_pages"] if r["url"].endswith("/a"))
    assert (page_a["title"], page_a["headings"], page_a["url_words"]) == ("Page A", "Alpha", "a")


def test_sitemaps_gzipped_indexes_and_url_lists(tmp_path, web, services):
    url_file = tmp_path / "mine.txt"
    url_file.write_text("http://gz.test/one\n", encoding="utf-8")
    result = crawl(
        tmp_path,
        web,
        services,
        {"mysite": f"http://gz.test/sitemap.xml.gz,http://list.test/urls.txt,{url_file}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["url"]: row for row in result.rows["my_pages"]}
    assert sorted(rows) == ["http://gz.test/one", "http://gz.test/two"]
    assert rows["http://gz.test/one"]["summary"] == "First page."


@pytest.mark.parametrize(
    ("spider", "args", "message"),
    [
        ("mysite", {}, "mysite: missing argument mysite"),
        ("mysite", {"mysite": "mine.test"}, "is neither an http(s) URL nor a file"),
        ("mysite", {"mysite": "http://mine.test/", "max_pages": "0"}, "max_pages: '0'"),
        ("archive", {"again": "maybe"}, "again: 'maybe' is not one of"),
        ("contacts", {"since": "x"}, "contacts: unknown argument(s) 'since'"),
    ],
)
def test_bad_arguments_are_one_error_line(tmp_path, web, spider, args, message):
    result = run_crawl(tmp_path, web, args, spider=spider)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
