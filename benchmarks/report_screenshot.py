"""A picture of the HTML report of the demo: run the demo, mark a few prospects, screenshot.

Runs ``scrapy demo all`` (every mode: eight crawl runs for the chart across runs) into a
database of its own, in a temporary working directory like a clone's, marks a prospect of
the resource pages' campaign as contacted (for the outreach funnel), writes
``scrapy report --campaign demo-resources -o report.html`` (its first screen: the action
list, one pitch per recipient) and opens it in headless Chromium (Debian's
``/usr/bin/chromium`` when present) through Playwright, saving a PNG of the top of the page.
Also prints the size of the report. Offline, like the demo. Run from the repository root:

    python benchmarks/report_screenshot.py docs/images/report.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
PROJECT = Path(__file__).resolve().parents[1]
#: the demo's resource-pages campaign: the one with pitches
CAMPAIGN = "demo-resources"


def scrapy(*args: str, database: Path, cwd: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            *args,
            "-s",
            f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
            "-s",
            "LOG_LEVEL=WARNING",
            "-s",
            "BROKENLINKS_PROGRESS_ENABLED=False",
        ],
        check=True,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
    )


def demo_report(workdir: Path) -> Path:
    """Build the demo's database in *workdir* and write its HTML report; return its path."""
    database = workdir / "demo.sqlite3"
    # a working directory like a clone's, so the report shows the paths a user types
    shutil.copy(PROJECT / "scrapy.cfg", workdir)
    shutil.copytree(PROJECT / "data" / "demo", workdir / "data" / "demo")
    shutil.copytree(PROJECT / "data" / "samples", workdir / "data" / "samples")
    scrapy("demo", "all", database=database, cwd=workdir)
    listed = workdir / "prospects.json"
    scrapy("prospects", "--campaign", CAMPAIGN, "-o", str(listed), database=database, cwd=workdir)
    prospects = json.loads(listed.read_text(encoding="utf-8"))
    # the lowest-ranked one: the action list keeps its recipients
    scrapy("prospects", "--mark", "contacted", prospects[-1]["id"], database=database, cwd=workdir)
    report = workdir / "report.html"
    scrapy("report", "--campaign", CAMPAIGN, "-o", str(report), database=database, cwd=workdir)
    return report


def screenshot(report: Path, png: Path, *, width: int = 1280, height: int = 1500) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM) if CHROMIUM.is_file() else None)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(report.as_uri())
            page.screenshot(path=str(png))
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("png", type=Path, help="the PNG to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = demo_report(Path(tmp))
        print(f"report: {report.stat().st_size} bytes")
        args.png.parent.mkdir(parents=True, exist_ok=True)
        screenshot(report, args.png)
    print(f"screenshot: {args.png} ({args.png.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
