"""The documentation's runnable examples run, and the documentation builds.

Every fenced block marked ```` ```sh ```` in README.md and docs/*.md is run with bash, in a
temporary working directory holding a copy of scrapy.cfg and data/, with the demo web served
by LocalWeb and every ``scrapy`` command given ``-s BROKENLINKS_RESOLVE=...`` for its
``*.demo`` hosts (a ``scrapy`` first on PATH adds it). The blocks of one file run in order in
one directory, so a report sees the crawls before it. ```` ```console ```` and
```` ```text ```` blocks are shown, not run (docs/development.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from brokenlinks.testing.localweb import LocalWeb

PROJECT = Path(__file__).resolve().parents[1]
DOCUMENTS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,})(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    info: str
    code: str


def fenced_blocks(path: Path, text: str | None = None) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their info string and first line."""
    blocks: list[Block] = []
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        blocks.append(Block(path, i + 1, opening["info"].strip(), "\n".join(body)))
        i = j + 1
    return blocks


def runnable(path: Path) -> list[Block]:
    return [block for block in fenced_blocks(path) if block.info == "sh"]


def test_fenced_blocks_parser():
    text = "a\n```sh\nscrapy report\n```\n- item\n\n  ```console\n  pip install x\n  ```\n"
    path = PROJECT / "README.md"
    blocks = [(b.info, b.code, b.line) for b in fenced_blocks(path, text)]
    assert blocks == [("sh", "scrapy report", 2), ("console", "pip install x", 7)]


def test_readme_has_runnable_examples():
    # the test below must not pass by finding nothing to run
    assert len(runnable(PROJECT / "README.md")) >= 2


@pytest.fixture(scope="module")
def demo_web():
    with LocalWeb(PROJECT / "data" / "demo") as web:
        yield web


@pytest.mark.parametrize(
    "document",
    [path for path in DOCUMENTS if runnable(path)],
    ids=lambda path: path.relative_to(PROJECT).as_posix(),
)
@pytest.mark.e2e
def test_runnable_examples(document, demo_web, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PROJECT / "scrapy.cfg", work)
    for name in ("demo", "samples"):
        shutil.copytree(PROJECT / "data" / name, work / "data" / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "scrapy"
    wrapper.write_text(
        '#!/bin/sh\nexec "$EXAMPLES_PYTHON" -m scrapy "$@" -s "BROKENLINKS_RESOLVE=$EXAMPLES_RESOLVE"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "EXAMPLES_PYTHON": sys.executable,
        "EXAMPLES_RESOLVE": json.dumps({"*.demo": f"127.0.0.1:{demo_web.port}"}),
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    }
    for block in runnable(document):
        proc = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.code],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        where = f"{block.path.relative_to(PROJECT)}:{block.line}"
        assert proc.returncode == 0, (
            f"{where}: exit status {proc.returncode}\n{block.code}\n"
            f"--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )


def test_readme_links_resolve():
    # GitHub renders README.md's relative links; MkDocs checks docs/ but not the README
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"^[a-z]+:", t)]
    assert local
    missing = [t for t in local if not (PROJECT / t).exists()]
    assert missing == []


@pytest.mark.e2e
def test_docs_build_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    proc = subprocess.run(
        # not --quiet: with it, MkDocs 1.6 does not count the warnings strict mode fails on
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr
    assert (tmp_path / "site" / "index.html").exists()


@pytest.mark.e2e
def test_docs_build_fails_on_a_broken_link(tmp_path):
    # the check above must be able to fail: a copy of the docs with one broken link
    shutil.copy(PROJECT / "mkdocs.yml", tmp_path)
    shutil.copytree(PROJECT / "docs", tmp_path / "docs")
    with (tmp_path / "docs" / "benchmark.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [nowhere](nowhere.md).\n")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    proc = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "nowhere.md" in proc.stderr
