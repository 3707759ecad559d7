"""The egg ``scrapyd-deploy`` builds from this checkout: the project's code, nothing else.

Built for real with scrapyd-client's ``--build-egg`` from a copy of the checkout (tests/ and
data/ included, as in a user's clone), then opened as a zip.
"""

from __future__ import annotations

import zipfile
from pathlib import PurePosixPath

import pytest

from .conftest import PROJECT
from .scrapyd_support import build_egg, copy_project


@pytest.fixture(scope="module")
def egg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("egg")
    project = copy_project(tmp / "project")
    path = tmp / "brokenlinks.egg"
    result = build_egg(project, path)
    assert result.returncode == 0, result.stderr[-3000:]
    # the committed setup.py is used as is: scrapyd-deploy generates none
    assert (project / "setup.py").read_text() == (PROJECT / "setup.py").read_text()
    with zipfile.ZipFile(path) as z:
        yield z


def test_egg_holds_the_project_packages_only(egg):
    names = egg.namelist()
    tops = {PurePosixPath(name).parts[0] for name in names}
    assert tops == {"EGG-INFO", "brokenlinks", "spiders", "pipelines"}
    for module in (
        "brokenlinks/settings.py",
        "brokenlinks/commands/crawl.py",
        "brokenlinks/schedule.py",
        "spiders/backlinks.py",
        "pipelines/store.py",
    ):
        assert module in names
    assert not [n for n in names if n.startswith(("tests/", "data/")) or "/tests/" in n]
    assert not [n for n in names if n.endswith((".sqlite3", ".pyc"))]


def test_egg_declares_the_settings_entry_point(egg):
    entry_points = egg.read("EGG-INFO/entry_points.txt").decode()
    assert "[scrapy]\nsettings = brokenlinks.settings" in entry_points
    info = egg.read("EGG-INFO/PKG-INFO").decode()
    assert "Name: brokenlinks\n" in info
