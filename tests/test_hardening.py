"""Hostile and broken bodies: decompression bombs, stacked and truncated encodings, Latin-1.

The material is Scrapy's own sample data (tests/data/scrapy-sample-data). A crawl over
it must finish, keep its memory bounded, report no bomb as dead and read every page it can.
The crawl runs in domain mode (``-a domain=bomb.test``) so that the real-world links inside
the sample pages are stored but never requested.
"""

from __future__ import annotations

import shutil

import pytest

from brokenlinks.testing.localweb import LocalWeb

from .conftest import DATA, read_tables, run_crawl, write_seeds

pytestmark = pytest.mark.e2e

SAMPLES = DATA / "scrapy-sample-data"

#: (path on pages.test, sample file, Content-Encoding)
REFERRING = [
    ("/gzip", "compressed/html-gzip.bin", "gzip"),
    ("/stacked", "compressed/html-gzip-deflate-gzip.bin", "gzip, deflate, gzip"),
    ("/truncated", "compressed/truncated-crc-error.gz", "gzip"),
    ("/bomb-page", "compressed/bomb-gzip.bin", "gzip"),
    ("/latin1", "link_extractor/linkextractor_latin1.html", None),
]
BOMBS = [
    ("/gzip", "compressed/bomb-gzip.bin", "gzip"),
    ("/deflate", "compressed/bomb-deflate.bin", "deflate"),
    ("/br", "compressed/bomb-br.bin", "br"),
    ("/zstd", "compressed/bomb-zstd.bin", "zstd"),
]
INDEX = """<!doctype html><html><head><title>Hostile bodies</title></head><body><article>
<p>Read the <a href="http://bomb.test/gzip">gzip bomb</a> first.</p>
<p>Then the <a href="http://bomb.test/deflate">deflate bomb</a>.</p>
<p>And the <a href="http://bomb.test/br">brotli bomb</a>.</p>
<p>Last the <a href="http://bomb.test/zstd">zstd bomb</a>.</p>
<p>A <a href="http://bomb.test/missing">missing page</a> on the same host is dead.</p>
</article></body></html>"""


def _rule(file: str, encoding: str | None, *, head_refused: bool = False) -> dict:
    rule: dict = {"file": file, "content_type": "text/html; charset=iso-8859-1"}
    if encoding:
        rule["headers"] = {"Content-Encoding": encoding}
    if head_refused:
        rule["head"] = {"status": 405}
    return rule


@pytest.fixture(scope="module")
def hostile_web(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    for _, name, _ in REFERRING + BOMBS:
        target = root / "samples" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / name, target)
    # the stored copy holds UTF-8 bytes under its latin-1 declaration; make it a real
    # Latin-1 page, as the sample means it to be
    latin1 = root / "samples" / "link_extractor" / "linkextractor_latin1.html"
    latin1.write_bytes(latin1.read_bytes().decode("utf-8").encode("latin-1"))
    (root / "pages.test").mkdir()
    (root / "pages.test" / "index.html").write_text(INDEX, encoding="utf-8")
    routes = {
        "pages.test": {path: _rule(f"samples/{name}", enc) for path, name, enc in REFERRING},
        # HEAD refused, so that each bomb is fetched with GET and decompressed
        "bomb.test": {
            **{
                path: _rule(f"samples/{name}", enc, head_refused=True) for path, name, enc in BOMBS
            },
            "default": {"status": 404},
        },
    }
    web = LocalWeb(root, routes=routes)
    web.start()
    yield web
    web.stop()


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory, hostile_web):
    tmp = tmp_path_factory.mktemp("hostile-crawl")
    pages = ["http://pages.test/", *(f"http://pages.test{p}" for p, _, _ in REFERRING)]
    seeds = write_seeds(tmp, pages)
    result = run_crawl(
        tmp,
        hostile_web,
        {"seeds": str(seeds), "domain": "bomb.test"},
        settings={
            "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{hostile_web.port}"},
            # Scrapy's MemoryUsage samples the crawl's own peak RSS (ru_maxrss, a running
            # maximum) at start and then every interval: often enough for a short crawl
            "MEMUSAGE_CHECK_INTERVAL_SECONDS": 0.1,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_bombs_are_not_dead_and_the_rest_is_checked(hostile_crawl):
    targets = {row["url"]: row for row in hostile_crawl.rows["targets"]}
    for path, _, _ in BOMBS:
        row = targets[f"http://bomb.test{path}"]
        assert row["kind"] in {"alive", "blocked"}, (path, row)
    missing = targets["http://bomb.test/missing"]
    assert (missing["kind"], missing["status"]) == ("dead", 404)
    assert [i["target_url"] for i in hostile_crawl.items] == ["http://bomb.test/missing"]


def test_memory_stays_bounded(hostile_crawl):
    # a bomb inflates to 11.5 MB at most under the caps; the whole crawl stays far below
    # the crawl's own peak (memusage/max), not RUSAGE_CHILDREN: that is the largest of every
    # child the test process ever reaped
    assert hostile_crawl.stats["memusage/max"] < 400 * 1024 * 1024


def test_encoded_and_broken_pages_are_read(hostile_crawl):
    pages = {row["url"]: row for row in hostile_crawl.rows["pages"]}
    assert pages["http://pages.test/gzip"]["title"] == "Tabellen nach Jack Daniels"
    assert pages["http://pages.test/stacked"]["title"] == "Tabellen nach Jack Daniels"
    truncated = pages["http://pages.test/truncated"]
    assert truncated["error"] is None
    assert truncated["links_on_page"] > 0
    # the bomb as a referring page: read within DOWNLOAD_MAXSIZE, or refused, never a crash
    assert "http://pages.test/bomb-page" in pages


def test_latin1_page_anchor_text(hostile_crawl):
    rows = read_tables(hostile_crawl.db_path)
    page_id = next(p["id"] for p in rows["pages"] if p["url"] == "http://pages.test/latin1")
    targets = {t["id"]: t["url"] for t in rows["targets"]}
    links = {
        targets[lk["target_id"]]: lk["anchor_text"]
        for lk in rows["links"]
        if lk["page_id"] == page_id
    }
    # <base href='http://example.com'> applies; the href's á is percent-encoded as UTF-8
    assert links["http://example.com/sample_%C3%A1.html"] == "sample á text"
    assert links["http://example.com/sample_%C3%B1.html"] == "sample2"
