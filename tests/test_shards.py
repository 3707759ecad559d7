"""Splitting referring pages into shards by site, and ``scrapy splitseeds``."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from brokenlinks.parsing.sites import site_of
from brokenlinks.seeds.read import read_seeds
from brokenlinks.seeds.shards import split_by_site

from .conftest import PROJECT


@pytest.mark.parametrize(
    ("urls", "shards", "expected"),
    [
        ([], 3, [[], [], []]),
        (["http://a.test/"], 1, [["http://a.test/"]]),
        (["http://a.test/"], 2, [["http://a.test/"], []]),
        # subdomains and www. stay with their registered domain
        (
            ["http://www.example.co.uk/a", "http://x.example.org/", "http://blog.example.co.uk/b"],
            2,
            [
                ["http://www.example.co.uk/a", "http://blog.example.co.uk/b"],
                ["http://x.example.org/"],
            ],
        ),
        # the biggest site first, then each site on the emptiest shard
        (
            [
                "http://s.test/1",
                "http://b.test/1",
                "http://b.test/2",
                "http://b.test/3",
                "http://a.test/1",
                "http://a.test/2",
            ],
            2,
            [
                ["http://b.test/1", "http://b.test/2", "http://b.test/3"],
                ["http://s.test/1", "http://a.test/1", "http://a.test/2"],
            ],
        ),
        # IP addresses and ports: the host is the site
        (
            ["http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b", "http://10.0.0.1/"],
            2,
            [["http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b"], ["http://10.0.0.1/"]],
        ),
    ],
)
def test_split_by_site(urls, shards, expected):
    assert split_by_site(urls, shards) == expected


def test_split_is_balanced_and_keeps_every_page():
    urls = [f"http://site{i % 37}.example/{i}" for i in range(1000)]
    shards = split_by_site(urls, 4)
    assert sorted(url for shard in shards for url in shard) == sorted(urls)
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 28  # at most one site's worth apart
    # every site on exactly one shard
    owners = Counter(site for shard in shards for site in {site_of(url) for url in shard})
    assert len(owners) == 37
    assert set(owners.values()) == {1}


@pytest.mark.e2e
def test_splitseeds_command(tmp_path):
    export = PROJECT / "tests" / "web" / "seeds.test" / "mysite-links.csv"
    seeds = tmp_path / "backlinks.csv"
    seeds.write_text(
        export.read_text(encoding="utf-8")
        + "http://blog.test/resources.html,2026-10-03\nhttp://news.test/article.html,2026-10-04\n",
        encoding="utf-8",
    )
    out = tmp_path / "shards"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "splitseeds", str(seeds), "-n", "2", "-d", str(out)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    first, second = out / "backlinks-1-of-2.txt", out / "backlinks-2-of-2.txt"
    assert result.stdout.splitlines() == [
        f"{first}: 2 pages, 1 sites",
        f"{second}: 1 pages, 1 sites",
    ]
    assert [s.url for s in read_seeds(first).seeds] == [
        "http://news.test/article.html",
        "http://news.test/other.html",
    ]
    assert [s.url for s in read_seeds(second).seeds] == ["http://blog.test/resources.html"]


@pytest.mark.e2e
def test_splitseeds_bad_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "splitseeds", str(tmp_path / "none.txt"), "-n", "2"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: seeds file '{tmp_path / 'none.txt'}': no such file"
    ]
