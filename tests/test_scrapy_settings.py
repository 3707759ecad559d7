"""Scrapy's own settings checked before the crawl: one ``error: setting X: ...`` line, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from scrapy.settings import Settings

from brokenlinks.ops.scrapysettings import check_scrapy_settings, effective_settings

from .conftest import PROJECT, write_seeds


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONCURRENT_REQUESTS_PER_DOMAIN", "-3", "'-3' is not a whole number, at least 1"),
        ("CONCURRENT_REQUESTS_PER_DOMAIN", "0", "'0' is not a whole number, at least 1"),
        ("CONCURRENT_REQUESTS", "many", "'many' is not a whole number, at least 1"),
        ("CONCURRENT_REQUESTS", 2.5, "2.5 is not a whole number, at least 1"),
        ("CONCURRENT_REQUESTS_PER_IP", "-1", "'-1' is not a whole number, at least 0"),
        ("CONCURRENT_ITEMS", "0", "'0' is not a whole number, at least 1"),
        ("DOWNLOAD_TIMEOUT", "fast", "'fast' is not a number of seconds above 0"),
        ("DOWNLOAD_TIMEOUT", "0", "'0' is not a number of seconds above 0"),
        ("DOWNLOAD_TIMEOUT", "nan", "'nan' is not a number of seconds above 0"),
        ("DNS_TIMEOUT", "-1", "'-1' is not a number of seconds above 0"),
        ("DOWNLOAD_DELAY", "-0.5", "'-0.5' is not a number of seconds, at least 0"),
        ("RETRY_TIMES", "-1", "'-1' is not a whole number, at least 0"),
        ("RETRY_TIMES", True, "True is not a whole number, at least 0"),
        ("DOWNLOAD_MAXSIZE", "1e9", "'1e9' is not a number of bytes, at least 0"),
        ("DOWNLOAD_WARNSIZE", "-1", "'-1' is not a number of bytes, at least 0"),
        ("DEPTH_LIMIT", "deep", "'deep' is not a whole number, at least 0"),
        ("REDIRECT_MAX_TIMES", "-2", "'-2' is not a whole number, at least 0"),
    ],
)
def test_bad_values_name_the_setting(name, value, message):
    with pytest.raises(ValueError, match=r"^setting ") as e:
        check_scrapy_settings(Settings({name: value}))
    assert str(e.value).startswith(f"setting {name}: {message}")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONCURRENT_REQUESTS", "16"),
        ("CONCURRENT_REQUESTS", 16.0),
        ("CONCURRENT_REQUESTS_PER_IP", "0"),
        ("DOWNLOAD_TIMEOUT", "2.5"),
        ("DOWNLOAD_DELAY", 0),
        ("RETRY_TIMES", " 0 "),
        ("DOWNLOAD_MAXSIZE", "0"),
        ("DEPTH_LIMIT", 3),
    ],
)
def test_good_values_pass(name, value):
    check_scrapy_settings(Settings({name: value}))


def test_the_addon_defaults_are_what_is_checked():
    project = Settings()
    project.setmodule("brokenlinks.settings", priority="project")
    # Scrapy's default is 180 s; the crawl really uses the add-on's 20 s
    assert effective_settings(project).getfloat("DOWNLOAD_TIMEOUT") == 20
    assert project.getfloat("DOWNLOAD_TIMEOUT") == 180  # the original is untouched
    project.set("DOWNLOAD_TIMEOUT", "5", priority="cmdline")
    assert effective_settings(project).getfloat("DOWNLOAD_TIMEOUT") == 5
    check_scrapy_settings(effective_settings(project))


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("setting", "line"),
    [
        (
            "CONCURRENT_REQUESTS_PER_DOMAIN=-3",
            "error: setting CONCURRENT_REQUESTS_PER_DOMAIN: '-3' is not a whole number, at least 1",
        ),
        (
            "DOWNLOAD_TIMEOUT=fast",
            "error: setting DOWNLOAD_TIMEOUT: 'fast' is not a number of seconds above 0",
        ),
    ],
)
def test_scrapy_crawl_fails_before_starting(tmp_path, setting, line):
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    db = tmp_path / "db.sqlite3"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "backlinks",
            "-a",
            f"seeds={seeds}",
            "-s",
            f"BROKENLINKS_DATABASE_URL=sqlite:///{db}",
            "-s",
            setting,
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
        check=False,
    )
    assert (proc.returncode, proc.stderr.splitlines()) == (1, [line])
    assert not db.exists()  # nothing written
