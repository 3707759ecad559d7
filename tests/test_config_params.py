"""Settings and spider arguments, validated without a crawl."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from brokenlinks.spiders.backlinks import BacklinksSpider
from brokenlinks.spiders.base import BrokenlinksSpider, ReferringPagesSpider
from brokenlinks.spiders.recheck import RecheckSpider
from brokenlinks.spiders.site import SiteSpider
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.settings import SETTINGS_PRIORITIES, Settings
from scrapy.utils.test import get_crawler

from brokenlinks.config import BrokenlinksConfig, config_of
from brokenlinks.extensions.feeds import csv_safe
from brokenlinks.params import ArgumentError, BacklinksParams, parse_domain


def test_defaults():
    config = BrokenlinksConfig.from_settings(Settings())
    assert config.database_url == "sqlite:///data/brokenlinks.sqlite3"
    assert config.allow_private_addresses is False
    assert config.resolve == {}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ('{"*.test": "127.0.0.1:8080"}', {"*.test": "127.0.0.1:8080"}),
        ({"A.Test": "127.0.0.1"}, {"a.test": "127.0.0.1"}),
        ("a.test=127.0.0.1,b.test=::1", {"a.test": "127.0.0.1", "b.test": "::1"}),
        ("", {}),
    ],
)
def test_resolve_forms(value, parsed):
    config = BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_RESOLVE": value}))
    assert config.resolve == parsed


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("BROKENLINKS_MAX_BODY_BYTES", "lots", "BROKENLINKS_MAX_BODY_BYTES"),
        ("BROKENLINKS_MAX_BODY_BYTES", 10, "at least 1024"),
        ("BROKENLINKS_STORE_BATCH_SIZE", 0, "at least 1"),
        ("BROKENLINKS_VERDICTS_IN_MEMORY", -1, "at least 0"),
        ("BROKENLINKS_VERDICTS_IN_MEMORY", 2.5, "a whole number"),
        ("BROKENLINKS_RESOLVE", "a.test", "NAME=ADDRESS"),
        ("BROKENLINKS_RESOLVE", "[1, 2]", "BROKENLINKS_RESOLVE"),
        ("BROKENLINKS_ALLOW_PRIVATE_ADDRESSES", "maybe", "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES"),
    ],
)
def test_bad_settings_name_the_setting(name, value, fragment):
    with pytest.raises(ValueError, match=fragment) as excinfo:
        BrokenlinksConfig.from_settings(Settings({name: value}))
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        (" blog.example.co.uk ", "blog.example.co.uk"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("my-site.test", "my-site.test"),
    ],
)
def test_good_domains(value, domain):
    assert parse_domain(value) == domain


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/",
        "example",
        "exa mple.com",
        "-bad.com",
        "bad-.com",
        "example.com/x",
        "*.example.com",
        "",
        "a..b",
        "user@example.com",
    ],
)
def test_bad_domains(value):
    with pytest.raises(ArgumentError, match="domain"):
        parse_domain(value)


def test_params(tmp_path):
    seeds = tmp_path / "s.txt"
    seeds.write_text("http://a.test/\n", encoding="utf-8")
    params = BacklinksParams.from_kwargs(
        {"seeds": str(seeds), "domain": "a.test,b.test", "_job": "1", "_version": "r1"}
    )
    assert params.domains == frozenset({"a.test", "b.test"})
    with pytest.raises(ArgumentError, match="unknown argument"):
        BacklinksParams.from_kwargs({"seeds": str(seeds), "domains": "a.test"})
    with pytest.raises(ArgumentError, match="is not a file"):
        BacklinksParams.from_kwargs({"seeds": str(tmp_path)})
    with pytest.raises(ArgumentError, match="empty value"):
        BacklinksParams.from_kwargs({"seeds": str(seeds), "domain": " , "})


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain anchor", "plain anchor"),
        ("http://a.test/", "http://a.test/"),
        ("", ""),
    ],
)
def test_csv_safe(cell, safe):
    assert csv_safe(cell) == safe


def test_csv_exporter_escapes_formulas_and_joins_rel():
    import io

    from brokenlinks.extensions.feeds import SafeCsvItemExporter
    from brokenlinks.items import ProspectItem

    out = io.BytesIO()
    exporter = SafeCsvItemExporter(out, fields_to_export=["anchor_text", "rel", "status"])
    exporter.start_exporting()
    exporter.export_item(
        ProspectItem(
            source_url="http://a.test/",
            source_title="t",
            source_domain="a.test",
            target_url="http://b.test/",
            target_domain="b.test",
            status=404,
            reason="http_status",
            final_url="http://b.test/",
            anchor_text='=HYPERLINK("x")',
            rel=["nofollow", "ugc"],
            follow=False,
            position="content",
            context="c",
            links_on_page=1,
            checked_at="2026-01-01T00:00:00+00:00",
        )
    )
    exporter.finish_exporting()
    lines = out.getvalue().decode().splitlines()
    assert lines == ["anchor_text,rel,status", '"\'=HYPERLINK(""x"")","nofollow,ugc",404']


def test_config_is_read_once_per_crawler():
    crawler = Crawler(Spider, Settings({"BROKENLINKS_RETRY_AFTER_MAX": 5}))
    # settings may still change (a spider's from_crawler): read afresh each time
    assert not crawler.settings.frozen
    assert config_of(crawler) is not config_of(crawler)
    crawler.settings.freeze()
    first = config_of(crawler)
    assert first.retry_after_max == 5
    assert config_of(crawler) is first
    assert config_of(get_crawler(settings_dict={"BROKENLINKS_RETRY_AFTER_MAX": 5})) is not first


@pytest.mark.e2e
def test_importing_the_package_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k != "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"}
    code = (
        "import os, brokenlinks; a = os.environ.get('TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS');"
        "import brokenlinks.settings; b = os.environ.get('TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS');"
        "print(repr(a), repr(b))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    # the settings module (what Scrapy loads first) keeps tldextract offline
    assert proc.stdout.split() == ["None", "''"]


def test_spiders_share_a_base_and_constant_settings_are_custom_settings():
    assert issubclass(RecheckSpider, ReferringPagesSpider)
    assert not issubclass(RecheckSpider, BacklinksSpider)
    assert issubclass(SiteSpider, BrokenlinksSpider)
    # set before any spider exists, at the spider priority: -s still overrides them
    crawler = get_crawler(SiteSpider, settings_dict={"SCHEDULER_MEMORY_QUEUE": "x.Queue"})
    assert crawler.settings.getint("DEPTH_PRIORITY") == 1
    assert crawler.settings["SCHEDULER_DISK_QUEUE"] == "scrapy.squeues.PickleFifoDiskQueue"
    assert crawler.settings.getpriority("DEPTH_PRIORITY") == SETTINGS_PRIORITIES["spider"]
