"""End to end: ``-a seeds=URL`` downloads the seeds file through the engine.

The seeds files are served by the test web (``tests/web/seeds.test/``); a seeds URL that
cannot be downloaded gives one error line and closes the spider cleanly.
"""

from __future__ import annotations

import pytest

from brokenlinks.params import ArgumentError, BacklinksParams

from .conftest import run_crawl


@pytest.mark.e2e
def test_seeds_url_list(tmp_path, web):
    result = run_crawl(tmp_path, web, {"seeds": "http://seeds.test/resources.txt"})
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {row["url"] for row in result.rows["pages"]}
    assert pages == {"http://blog.test/resources.html", "http://news.test/article.html"}
    assert result.items
    assert {item["source_url"] for item in result.items} <= pages
    assert "Read 2 referring pages from http://seeds.test/resources.txt" in result.stderr
    assert result.stats["brokenlinks/seeds/pages"] == 2
    run = result.rows["crawl_runs"][-1]
    assert run["finish_reason"] == "finished"
    assert "http://seeds.test/resources.txt" in run["arguments"]
    # the seeds file is fetched once, like any request through the engine
    fetched = [r for r in web.requests() if r.host == "seeds.test"]
    assert [(r.method, r.path) for r in fetched] == [("GET", "/resources.txt")]


@pytest.mark.e2e
def test_seeds_url_export_in_domain_mode(tmp_path, web):
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": "http://seeds.test/mysite-links.csv", "domain": "mysite.test"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(Google Search Console export, URL column 'Linking page')" in result.stderr
    pages = {row["url"] for row in result.rows["pages"]}
    assert pages == {"http://news.test/article.html", "http://news.test/other.html"}
    assert result.items
    assert all(item["target_domain"].endswith("mysite.test") for item in result.items)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://seeds.test/no-such-file.txt", "download failed (HTTP 404)"),
        ("http://seeds.invalid/seeds.txt", "download failed (CannotResolveHostError"),
        ("http://gone.test/410", "download failed (HTTP 410)"),
    ],
)
@pytest.mark.e2e
def test_seeds_url_that_fails_closes_cleanly(tmp_path, web, url, why):
    result = run_crawl(tmp_path, web, {"seeds": url}, settings={"RETRY_TIMES": 0})
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"seeds file {url!r}: {why}" in errors[0]
    assert "Traceback" not in result.stderr
    # a run that could not do its job: cron and Scrapyd must be able to tell
    assert result.returncode == 1
    assert "Crawl failed: the seeds file could not be read" in result.stderr
    assert result.rows["crawl_runs"][-1]["finish_reason"] == "seeds_unavailable"
    assert result.rows["pages"] == []
    assert result.items == []


@pytest.mark.e2e
def test_seeds_url_on_a_private_address_is_refused_by_the_guard(tmp_path, web):
    url = f"http://127.0.0.1:{web.port}/seeds.txt"
    result = run_crawl(tmp_path, web, {"seeds": url})
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"seeds file {url!r}: refused by the network guard (" in errors[0]
    assert "BROKENLINKS_RESOLVE" in errors[0]
    assert result.rows["crawl_runs"][-1]["finish_reason"] == "seeds_unavailable"
    assert web.requests() == []


@pytest.mark.e2e
def test_seeds_url_that_is_no_seeds_file(tmp_path, web):
    result = run_crawl(tmp_path, web, {"seeds": "http://blog.test/resources.html"})
    errors = [line for line in result.stderr.splitlines() if "] ERROR: " in line]
    assert len(errors) == 1, result.stderr[-3000:]
    assert "seeds file 'http://blog.test/resources.html'" in errors[0]
    assert result.rows["crawl_runs"][-1]["finish_reason"] == "seeds_unavailable"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://[oops/seeds.txt", "seeds: 'http://[oops/seeds.txt' is not a valid URL"),
        ("no/such/seeds.txt", "seeds: file 'no/such/seeds.txt' does not exist (relative to "),
    ],
)
@pytest.mark.e2e
def test_bad_seeds_argument_fails_before_crawling(tmp_path, web, value, message):
    result = run_crawl(tmp_path, web, {"seeds": value})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert web.requests() == []


@pytest.mark.parametrize(
    ("value", "seeds"),
    [
        ("https://Exports.Example/seeds.csv?token=1", "https://exports.example/seeds.csv?token=1"),
        ("HTTP://a.example/list.txt", "http://a.example/list.txt"),
        ("  http://a.example/s.txt ", "http://a.example/s.txt"),
    ],
)
def test_seeds_url_argument_is_not_a_path(value, seeds):
    params = BacklinksParams.from_kwargs({"seeds": value, "_job": "j1"})
    assert params.seeds == seeds
    assert params.seeds_is_url


@pytest.mark.parametrize(
    "value", ["http://", "https://:80/", "http://[::1/seeds.txt", "http://a b.example/"]
)
def test_bad_seeds_urls(value):
    with pytest.raises(ArgumentError, match="is not a valid URL"):
        BacklinksParams.from_kwargs({"seeds": value})


def test_relative_seeds_path_names_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArgumentError, match=f"relative to {tmp_path}"):
        BacklinksParams.from_kwargs({"seeds": "seeds.txt"})
    (tmp_path / "seeds.txt").write_text("http://a.example/\n", encoding="utf-8")
    assert not BacklinksParams.from_kwargs({"seeds": "seeds.txt"}).seeds_is_url
