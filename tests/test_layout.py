"""The layout by role: the add-on installs the crawl, old module paths still import.

Unit tests of :class:`brokenlinks.Addon` and :mod:`brokenlinks._moved`, and two real
crawls: one in a Scrapy project of somebody else's that only names the add-on, one in a
project whose settings still name the components by their pre-0.2 paths.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import warnings
from typing import TYPE_CHECKING

import pytest
from scrapy import Spider
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

import brokenlinks
from brokenlinks import _moved
from brokenlinks.addon import COMPONENTS, SETTINGS, Addon

from .conftest import PROJECT, resolve_map, run_crawl, write_seeds

if TYPE_CHECKING:
    from pathlib import Path

#: components by the paths settings.py named them with before 0.2
OLD_COMPONENT_PATHS = {
    "brokenlinks.checks.LinkChecker": "brokenlinks.checker.checks.LinkChecker",
    "brokenlinks.freshness.FreshVerdicts": "brokenlinks.checker.freshness.FreshVerdicts",
    "brokenlinks.feeds.ProspectFeedExporter": "brokenlinks.extensions.feeds.ProspectFeedExporter",
    "brokenlinks.feeds.SafeCsvItemExporter": "brokenlinks.extensions.feeds.SafeCsvItemExporter",
    "brokenlinks.progress.CrawlProgress": "brokenlinks.extensions.progress.CrawlProgress",
    "brokenlinks.summary.CrawlSummary": "brokenlinks.extensions.summary.CrawlSummary",
    "brokenlinks.quietlogs.QuietRobotsErrors": "brokenlinks.extensions.quietlogs.QuietRobotsErrors",
    "brokenlinks.guard.GuardedResolver": "brokenlinks.net.guard.GuardedResolver",
    "brokenlinks.downloader.PoliteDownloader": "brokenlinks.net.downloader.PoliteDownloader",
    "brokenlinks.retry.RetryAfterMiddleware": (
        "brokenlinks.downloadermiddlewares.retry.RetryAfterMiddleware"
    ),
    "brokenlinks.redirects.PageRedirectMiddleware": (
        "brokenlinks.downloadermiddlewares.redirects.PageRedirectMiddleware"
    ),
    "brokenlinks.renderhandler.LazyPlaywrightHandler": (
        "brokenlinks.render.handler.LazyPlaywrightHandler"
    ),
}


def _forget(old: str) -> None:
    """Drop an old path from the import cache, so that importing it runs the finder again."""
    sys.modules.pop(old, None)
    parent, _, child = old.rpartition(".")
    # the parent package's attribute would be the new module under the old name
    if getattr(sys.modules[parent], child, None) is not None and child in _moved.MOVED:
        delattr(sys.modules[parent], child)


@pytest.mark.parametrize(("old", "new"), sorted(_moved.MOVED.items()))
def test_an_old_module_path_warns_and_is_the_module_at_its_new_place(old, new):
    _forget(f"brokenlinks.{old}")
    with pytest.warns(DeprecationWarning, match=f"brokenlinks.{old} moved to brokenlinks.{new}"):
        module = importlib.import_module(f"brokenlinks.{old}")
    assert module is importlib.import_module(f"brokenlinks.{new}")
    _forget(f"brokenlinks.{old}")


def test_every_moved_module_exists_and_no_old_file_is_left():
    for old, new in _moved.MOVED.items():
        assert importlib.util.find_spec(f"brokenlinks.{new}") is not None, new
        assert not (PROJECT / "brokenlinks" / f"{old}.py").exists(), old


@pytest.mark.parametrize(("old", "new"), sorted(OLD_COMPONENT_PATHS.items()))
def test_a_component_named_by_its_old_path_loads_the_same_class(old, new):
    _forget(old.rpartition(".")[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_object(old) is load_object(new)
    assert [w.category for w in caught] == [DeprecationWarning]
    _forget(old.rpartition(".")[0])


def test_an_unknown_old_name_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("brokenlinks.nosuchmodule")


@pytest.mark.e2e
def test_brokenlinks_exposes_the_addon_without_importing_scrapy_on_import():
    assert brokenlinks.Addon is Addon
    code = "import sys, brokenlinks; print('scrapy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT
    )
    assert out.stdout.strip() == "False"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = brokenlinks.Nope


def _with_addon(values: dict[str, object] | None = None) -> Settings:
    settings = Settings(values or {}, priority="project")
    Addon().update_settings(settings)
    return settings


def test_the_addon_installs_every_component():
    settings = _with_addon()
    for name, component, order in COMPONENTS:
        assert settings.getdict(name)[component] == order, (name, component)
    assert settings["FEED_EXPORTERS"]["csv"] == "brokenlinks.extensions.feeds.SafeCsvItemExporter"
    for name, value in SETTINGS.items():
        assert settings[name] == value, name


def test_project_settings_win_over_the_addon_defaults():
    settings = _with_addon(
        {
            "CONCURRENT_REQUESTS": 7,
            "EXTENSIONS": {"brokenlinks.extensions.progress.CrawlProgress": None},
            "FEED_EXPORTERS": {"csv": "myproject.exporters.Mine"},
        }
    )
    assert settings.getint("CONCURRENT_REQUESTS") == 7
    assert settings.getdict("EXTENSIONS")["brokenlinks.extensions.progress.CrawlProgress"] is None
    assert settings.getdict("EXTENSIONS")["brokenlinks.checker.checks.LinkChecker"] == 100
    assert settings["FEED_EXPORTERS"]["csv"] == "myproject.exporters.Mine"


def test_a_crawler_of_a_bare_project_gets_the_checker_from_the_addon():
    crawler = get_crawler(Spider, {"ADDONS": {"brokenlinks.Addon": 0}})
    assert crawler.settings.getdict("EXTENSIONS")["brokenlinks.checker.checks.LinkChecker"] == 100
    assert crawler.settings["DOWNLOADER"] == "brokenlinks.net.downloader.PoliteDownloader"
    assert crawler.settings.getbool("METAREFRESH_ENABLED") is False


def test_the_project_settings_module_is_the_addon_and_the_process_settings():
    from brokenlinks import settings as project

    names = {n for n in vars(project) if n.isupper()}
    assert names == {
        "ADDONS",
        "BOT_NAME",
        "COMMANDS_MODULE",
        "DNSCACHE_ENABLED",
        "DNSCACHE_SIZE",
        "DNS_TIMEOUT",
        "LOG_LEVEL",
        "NEWSPIDER_MODULE",
        "SPIDER_MODULES",
        "TWISTED_DNS_RESOLVER",
    }
    assert load_object(project.TWISTED_DNS_RESOLVER).__name__ == "GuardedResolver"


PAGES = ["http://blog.test/resources.html", "http://news.test/article.html"]


def _foreign_project(root: Path, settings: str) -> Path:
    """A Scrapy project of somebody else's: its own package and settings, brokenlinks installed."""
    (root / "otherproject").mkdir(parents=True)
    (root / "otherproject" / "__init__.py").write_text("")
    (root / "otherproject" / "settings.py").write_text(settings)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = otherproject.settings\n")
    return root


def _crawl_in(project: Path, web, seeds: Path, db: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-O", str(out)]
    cmd += ["-a", f"seeds={seeds}"]
    for key, value in {
        "BROKENLINKS_RESOLVE": json.dumps(resolve_map(web)),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db}",
        "DOWNLOAD_TIMEOUT": "2",
    }.items():
        cmd += ["-s", f"{key}={value}"]
    env = {
        **os.environ,
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
        "PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        cmd, cwd=project, capture_output=True, text=True, timeout=240, env=env, check=False
    )


def _prospects(path: Path) -> set[tuple[str, str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {(r["source_url"], r["target_url"], r["reason"]) for r in rows}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(
            'ADDONS = {"brokenlinks.Addon": 0}\n'
            'SPIDER_MODULES = ["brokenlinks.spiders"]\n'
            'TWISTED_DNS_RESOLVER = "brokenlinks.net.guard.GuardedResolver"\n',
            id="addon",
        ),
        pytest.param(
            # a pre-0.2 project's settings: components by their old flat paths, no add-on
            'SPIDER_MODULES = ["brokenlinks.spiders"]\n'
            'TWISTED_DNS_RESOLVER = "brokenlinks.guard.GuardedResolver"\n'
            'DOWNLOADER = "brokenlinks.downloader.PoliteDownloader"\n'
            "EXTENSIONS = {\n"
            '    "brokenlinks.checks.LinkChecker": 100,\n'
            '    "brokenlinks.freshness.FreshVerdicts": 110,\n'
            '    "brokenlinks.feeds.ProspectFeedExporter": 0,\n'
            '    "brokenlinks.summary.CrawlSummary": 500,\n'
            '    "scrapy.extensions.feedexport.FeedExporter": None,\n'
            "}\n"
            'ITEM_PIPELINES = {"brokenlinks.pipelines.store.StorePipeline": 300}\n'
            "DOWNLOADER_MIDDLEWARES = {\n"
            '    "brokenlinks.retry.RetryAfterMiddleware": 550,\n'
            '    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,\n'
            '    "brokenlinks.redirects.PageRedirectMiddleware": 600,\n'
            '    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,\n'
            "}\n"
            "METAREFRESH_ENABLED = False\n"
            'FEED_EXPORTERS = {"csv": "brokenlinks.feeds.SafeCsvItemExporter"}\n',
            id="old-paths",
        ),
    ],
)
def test_another_project_crawls_like_this_one(tmp_path, web, settings):
    seeds = write_seeds(tmp_path, PAGES)
    ours = run_crawl(tmp_path / "ours", web, {"seeds": str(seeds)})
    assert ours.returncode == 0, ours.stderr[-3000:]
    project = _foreign_project(tmp_path / "theirs", settings)
    out = tmp_path / "theirs.jsonl"
    theirs = _crawl_in(project, web, seeds, tmp_path / "theirs.sqlite3", out)
    assert theirs.returncode == 0, theirs.stderr[-3000:]
    expected = _prospects(ours.output)
    assert expected, "the pages have dead links"
    assert _prospects(out) == expected
    assert "LinkChecker" in theirs.stderr
