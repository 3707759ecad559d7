"""The egg ``scrapyd-deploy`` builds from this checkout: the project's code, nothing else.

Built for real with scrapyd-client's ``--build-egg`` from a copy of the checkout (tests/ and
data/ included, as in a user's clone), then opened as a zip.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
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


@pytest.mark.e2e
def test_egg_holds_the_project_packages_only(egg):
    names = egg.namelist()
    tops = {PurePosixPath(name).parts[0] for name in names}
    assert tops == {"EGG-INFO", "brokenlinks"}
    for module in (
        "brokenlinks/settings.py",
        "brokenlinks/commands/crawl.py",
        "brokenlinks/commands/database.py",
        "brokenlinks/ops/schedule.py",
        "brokenlinks/spiders/backlinks.py",
        "brokenlinks/pipelines/store.py",
        "brokenlinks/testing/localweb.py",
        "brokenlinks/data/parking.json",
        "brokenlinks/data/iso_codes.json",
        "brokenlinks/reporting/templates/report.html.j2",
        "brokenlinks/reporting/templates/report.js",
        "brokenlinks/reporting/templates/report.css",
    ):
        assert module in names
    assert not [n for n in names if n.startswith(("tests/", "data/")) or "/tests/" in n]
    assert not [n for n in names if n.endswith((".sqlite3", ".pyc"))]


@pytest.mark.e2e
def test_egg_declares_the_settings_entry_point(egg):
    entry_points = egg.read("EGG-INFO/entry_points.txt").decode()
    assert "[scrapy]\nsettings = brokenlinks.settings" in entry_points
    info = egg.read("EGG-INFO/PKG-INFO").decode()
    assert "Name: brokenlinks\n" in info


@pytest.mark.e2e
def test_wheel_installs_one_top_level_package(tmp_path):
    """``pip install`` adds ``brokenlinks`` to site-packages, no generic ``spiders``/``pipelines``."""
    project = copy_project(tmp_path / "project")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("brokenlinks-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    tops = {PurePosixPath(name).parts[0] for name in names}
    assert tops == {"brokenlinks", next(t for t in tops if t.endswith(".dist-info"))}
    assert "brokenlinks/spiders/site.py" in names
    assert "brokenlinks/pipelines/store.py" in names
    top_level = [n for n in names if n.endswith("top_level.txt")]
    if top_level:  # setuptools writes it into the wheel's metadata
        with zipfile.ZipFile(wheel) as z:
            assert z.read(top_level[0]).decode().split() == ["brokenlinks"]


def test_no_command_module_is_a_stray_command():
    """Every module of ``COMMANDS_MODULE`` is a real command (the mixin is not listed)."""
    from scrapy.cmdline import _get_commands_from_module

    from brokenlinks.settings import COMMANDS_MODULE

    names = set(_get_commands_from_module(COMMANDS_MODULE, inproject=True))
    assert names == {
        "crawl",
        "demo",
        "pitches",
        "prospects",
        "redirects",
        "report",
        "schedule",
        "splitseeds",
    }


def test_scrapyd_node_requirements_match_the_project():
    # deploy/requirements.txt installs the egg's dependencies on a Scrapyd node: the same
    # as pyproject's, plus Scrapyd and the setuptools its egg runner needs
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))["project"]
    lines = (PROJECT / "deploy" / "requirements.txt").read_text("utf-8").splitlines()
    node = [line for line in lines if line and not line.startswith("#")]
    assert node[:2] == ["scrapyd>=1.6,<1.7", "setuptools<81"]
    assert node[2:] == project["dependencies"]
    assert not [d for d in project["optional-dependencies"]["deploy"] if "<81" in d]
