"""The HTML report (``scrapy report -o report.html``, brokenlinks/reporting) in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup, escape

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.outreach import records
from brokenlinks.outreach.items import ContactsItem, DomainStatusItem
from brokenlinks.reporting import charts
from brokenlinks.reporting.data import (
    Column,
    ReportData,
    cell_text,
    collect,
    run_timeline,
    with_optional,
)
from brokenlinks.reporting.html import render
from brokenlinks.storage import db, store

from .conftest import PROJECT

CHROMIUM = Path("/usr/bin/chromium")
XSS_TITLE = '<script>window.__xss = 1</script>"><img src=x onerror="window.__xss = 2">'
XSS_ANCHOR = "<script>window.__xss = 3</script>"
XSS_CONTEXT = 'Read "><img src=x onerror="window.__xss = 4"> for more.'
XSS_PAGE = "http://evil.test/page.html"
XSS_TARGET = "http://gone.test/<b>bold</b>"


def scrapy(
    *args: str, database: Path, check: bool = True, cwd: Path = PROJECT
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scrapy", *args]
    cmd += ["-s", f"BROKENLINKS_DATABASE_URL=sqlite:///{database}", "-s", "LOG_LEVEL=WARNING"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=240, env=env, check=check
    )


def add_hostile_page(database: Path) -> None:
    """A referring page written by an attacker: markup in its title, anchor and context."""
    engine = db.create_engine_from_url(f"sqlite:///{database}")
    try:
        run_id = store.start_run(engine, "backlinks", {"seeds": "evil.txt"})
        now = datetime.now(UTC).isoformat()
        page = PageItem(
            url=XSS_PAGE,
            requested_url=XSS_PAGE,
            domain="evil.test",
            title=XSS_TITLE,
            status=200,
            error=None,
            links_on_page=2,
            crawled_at=now,
            links=[
                LinkRecord(
                    target_url=XSS_TARGET,
                    target_domain="gone.test",
                    anchor_text=XSS_ANCHOR,
                    follow=True,
                    position="content",
                    context=XSS_CONTEXT,
                    checked=True,
                )
            ],
        )
        check = CheckItem(
            target_url=XSS_TARGET,
            target_domain="gone.test",
            kind="dead",
            reason="http_status",
            status=404,
            final_url=None,
            checked_at=now,
        )
        store.write_batch(engine, run_id, [page, check])
        store.finish_run(engine, run_id, "finished", {"brokenlinks/pages/crawled": 1})
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The demo crawled for real, then a hostile page and a few outreach marks."""
    tmp = tmp_path_factory.mktemp("demo")
    database = tmp / "demo.sqlite3"
    # a working directory like a clone's: the demo writes its export and log there
    shutil.copy(PROJECT / "scrapy.cfg", tmp)
    shutil.copytree(PROJECT / "data" / "demo", tmp / "data" / "demo")
    scrapy("demo", database=database, cwd=tmp)
    add_hostile_page(database)
    engine = db.create_engine_from_url(f"sqlite:///{database}")
    try:
        now = datetime.now(UTC).isoformat()
        # whom to write to, and an expired domain: what the outreach crawls would store
        records.write_items(
            engine,
            [
                ContactsItem(
                    site=site,
                    page_url=f"http://{site}/",
                    contact_emails=[f"editor@{site}"],
                    author="Ann Editor",
                    checked_at=now,
                )
                for site in ("resources.demo", "blog.demo")
            ]
            + [
                DomainStatusItem(
                    domain="brewratio-calculator.invalid",
                    domain_status="unregistered",
                    rdap_server=None,
                    checked_at=now,
                )
            ],
        )
        marked = sorted({(r["source_url"], r["target_url"]) for r in store.dead_links(engine)})
        for status, (source, target) in zip(("contacted", "won"), marked, strict=False):
            store.set_outreach(engine, source, target, status)
    finally:
        engine.dispose()
    return database


def read_report(database: Path, **filters: Any) -> ReportData:
    engine = db.create_engine_from_url(f"sqlite:///{database}")
    try:
        return collect(engine, now=datetime.now(UTC), **filters)
    finally:
        engine.dispose()


def shown_text(row: dict[str, Any], columns: list[Column]) -> str:
    """What a table row shows, as its cells' text."""
    texts = [cell_text(row.get(c.key)) for c in columns]
    texts += [cell_text(row.get(c.title_key)) for c in columns if c.title_key]
    return " ".join(texts).lower()


@pytest.fixture(scope="module")
def report(demo_db: Path) -> Path:
    data = read_report(demo_db)
    assert data.dead_targets > 3
    assert XSS_TARGET in [row["target_url"] for row in data.tables[0].rows]
    path = demo_db.parent / "report.html"
    result = scrapy("report", "--campaign", "all", "-o", str(path), database=demo_db)
    assert re.fullmatch(
        rf"report written to {re.escape(str(path))} \({data.dead_targets} dead targets, "
        rf"{data.prospects} prospects, \d+ KiB\)\n",
        result.stderr,
    ), result.stderr
    return path


def in_browser(report: Path, tmp_path: Path, search: str, reason: str) -> dict[str, Any]:
    """Open *report* in headless Chromium, use its tables, and say what happened."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"console": [], "requests": [], "dialogs": []}

    def browse() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM))
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1200})
                page.on(
                    "console",
                    lambda m: out["console"].append(m.text) if m.type == "error" else None,
                )
                page.on("pageerror", lambda e: out["console"].append(str(e)))
                page.on("request", lambda r: out["requests"].append(r.url))
                page.on("dialog", lambda d: (out["dialogs"].append(d.message), d.dismiss()))
                page.goto(report.as_uri())
                page.wait_for_load_state("load")
                out["charts"] = page.eval_on_selector_all(
                    "svg.chart",
                    "els => els.map(s => [s.getBoundingClientRect().width,"
                    " s.getBoundingClientRect().height,"
                    " Array.from(s.querySelectorAll('rect')).filter("
                    "   r => r.getBBox().width > 0 && r.getBBox().height > 0).length])",
                )
                out["xss"] = page.evaluate("window.__xss === undefined ? null : window.__xss")
                out["images"] = page.locator("img").count()
                out["title_text"] = page.locator("#prospects-rows .title").all_inner_texts()
                out["anchor_cells"] = page.locator("#prospects-rows td").all_inner_texts()
                # the first screen is the action list, above the cards and the charts
                out["actions_top"] = page.eval_on_selector(
                    "#actions", "e => e.getBoundingClientRect().top"
                )
                out["first_pitch_bottom"] = page.eval_on_selector(
                    ".pitch", "e => e.getBoundingClientRect().bottom"
                )
                out["charts_top"] = page.eval_on_selector(
                    ".charts", "e => e.getBoundingClientRect().top"
                )
                out["recipients"] = page.locator(".pitch h3").all_inner_texts()
                out["actions_note"] = page.inner_text("#actions .note")
                out["opportunities"] = page.locator("#opportunities li").all_inner_texts()
                out["legend"] = page.locator(".legend dt").all_inner_texts()
                # the tables fit 1,280 pixels: no horizontal scrolling
                out["overflow"] = page.eval_on_selector_all(
                    ".scroll", "els => els.map(e => e.scrollWidth - e.clientWidth)"
                )
                page.click(".pitch button.copy")
                # the Clipboard API answers asynchronously: wait for the button to say how
                page.wait_for_function(
                    "() => document.querySelector('.pitch button.copy').textContent"
                    " !== 'Copy draft'"
                )
                out["copied"] = page.inner_text(".pitch button.copy")
                out["draft"] = page.input_value("#draft-1")
                page.check('.filters[data-table="prospects-rows"] input[data-all-columns]')
                out["all_columns"] = page.locator("#prospects-rows thead th:visible").count()
                page.uncheck('.filters[data-table="prospects-rows"] input[data-all-columns]')
                page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

                rows = "#prospects-rows tbody tr"
                out["score_default"] = scores(page, rows)
                page.click("#prospects-rows th:nth-child(1) button")
                out["score_ascending"] = scores(page, rows)
                page.click("#prospects-rows th:nth-child(1) button")
                out["score_descending"] = scores(page, rows)
                bar = '.filters[data-table="prospects-rows"]'
                page.fill(f"{bar} input[data-search]", search)
                out["search_rows"] = page.locator(f"{rows}:visible").count()
                out["search_count"] = page.inner_text(f"{bar} output")
                page.fill(f"{bar} input[data-search]", "")
                reasons = page.locator(f"{bar} select").nth(1)
                reasons.select_option(reason)
                out["reason_rows"] = page.locator(f"{rows}:visible").count()
                out["reasons_shown"] = page.locator(
                    f"{rows}:visible td:nth-child(5)"
                ).all_inner_texts()
                reasons.select_option("")
                out["all_rows"] = page.locator(f"{rows}:visible").count()
                page.pdf(path=str(tmp_path / "report.pdf"), landscape=True)
                page.emulate_media(media="print")
                out["print_filters"] = page.locator(bar).is_visible()
            finally:
                browser.close()

    # Playwright's sync API refuses a thread with a running event loop (the test reactor's)
    thread = threading.Thread(target=browse)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    return out


def scores(page: Any, rows: str) -> list[int]:
    return [int(t) for t in page.locator(f"{rows} td:nth-child(1)").all_inner_texts()]


@pytest.mark.e2e
def test_report_in_chromium(report, demo_db, tmp_path):
    table = read_report(demo_db).tables[1]
    prospects = table.rows
    # a search that keeps some rows (the least linked target site), a reason that does too
    domains = Counter(row["target_domain"] for row in prospects)
    search = min(domains, key=lambda d: (domains[d], d))
    reasons = Counter(row["reason"] for row in prospects)
    reason = min(reasons, key=lambda r: (reasons[r], r))
    seen = in_browser(report, tmp_path, search, reason)

    assert seen["console"] == []
    assert seen["requests"] == [report.as_uri()]  # the page itself, nothing else
    assert seen["dialogs"] == []
    # the action list leads: one pitch per recipient, within the first screen
    assert seen["actions_top"] < 200
    assert seen["first_pitch_bottom"] < 1200
    assert seen["actions_top"] < seen["charts_top"]
    # blog.demo's two prospects are marked (contacted, won): out of the action list
    assert [h.split()[0] for h in seen["recipients"]] == ["editor@resources.demo"]
    assert "2 marked with scrapy prospects --mark" in seen["actions_note"]
    assert seen["opportunities"][0].startswith("brewratio-calculator.invalid: http://brewratio")
    assert seen["legend"] == ["Score", "Authority", "Replacement score", "Referring domains"]
    assert seen["overflow"]
    assert all(extra <= 0 for extra in seen["overflow"]), seen["overflow"]
    assert seen["copied"] in {"Copied", "Select and copy (Ctrl+C)"}
    assert seen["draft"].startswith("Subject: 6 broken links on resources.demo\n\nHi Ann,")
    assert seen["all_columns"] > len([c for c in table.columns if not c.secondary])
    # reasons, top pages, runs, outreach; each drawn with bars of some size
    assert len(seen["charts"]) == 4
    assert all(w > 200 and h > 50 and bars > 0 for w, h, bars in seen["charts"]), seen["charts"]
    assert (tmp_path / "report.png").stat().st_size > 20_000

    # hostile markup is text: nothing ran, no image was made, the words are shown
    assert seen["xss"] is None
    assert seen["images"] == 0
    assert XSS_TITLE in seen["title_text"]
    assert XSS_ANCHOR in seen["anchor_cells"]
    assert XSS_CONTEXT in seen["anchor_cells"]

    expected = [row["score"] for row in prospects]
    assert seen["score_default"] == expected
    assert seen["score_ascending"] == sorted(expected)
    assert seen["score_descending"] == sorted(expected, reverse=True)
    found = [r for r in prospects if search in shown_text(r, table.columns)]
    assert 0 < seen["search_rows"] == len(found) < len(prospects)
    assert seen["search_count"] == f"{len(found)} of {len(prospects)} rows"
    with_reason = [r for r in prospects if r["reason"] == reason]
    assert 0 < seen["reason_rows"] == len(with_reason) < len(prospects)
    assert set(seen["reasons_shown"]) == {reason}
    assert seen["all_rows"] == len(prospects)
    assert not seen["print_filters"]
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 20_000


@pytest.mark.e2e
def test_report_html_markup(demo_db):
    page = render(read_report(demo_db))
    assert "<script>window.__xss" not in page
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert 'onerror="window' not in page
    # a link only from an http(s) URL, its markup escaped in the attribute
    assert 'href="http://gone.test/&lt;b&gt;bold&lt;/b&gt;"' in page
    assert page.count("<script") == 1  # the page's own
    assert not re.search(r"<(link|iframe|object|embed|img)\b", page)
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", page)
    # no such table column in this database (the action list says so in words)
    assert '<button type="button">Your replacement</button>' not in page
    assert "none: the draft says the link is dead" in page


@pytest.mark.e2e
def test_report_command_filters(demo_db, tmp_path):
    everything = read_report(demo_db).tables[0].rows
    reason = min(r["reason"] for r in everything)
    wanted = read_report(demo_db, reasons=frozenset({reason}))
    path = tmp_path / "one-reason.htm"
    result = scrapy(
        "report", "--campaign", "all", "--reason", reason, "-o", str(path), database=demo_db
    )
    assert f"({wanted.dead_targets} dead targets, {wanted.prospects} prospects" in result.stderr
    page = path.read_text(encoding="utf-8")
    assert 0 < wanted.dead_targets < len(everything)
    for row in everything:
        assert (f'href="{escape(row["target_url"])}"' in page) == (row["reason"] == reason)
    assert f"reasons {reason}" in page
    assert "every campaign" in page
    lost = tmp_path / "lost.html"
    scrapy("report", "--lost", "-o", str(lost), database=demo_db)
    assert "<h2>Lost links" in lost.read_text(encoding="utf-8")
    bad = scrapy("report", "-o", str(tmp_path / "report.pdf"), database=demo_db, check=False)
    assert bad.returncode == 1
    assert (
        bad.stderr
        == f"error: -o {tmp_path / 'report.pdf'}: use a .csv, .json or .html file name\n"
    )
    assert not (tmp_path / "report.pdf").exists()


def test_optional_columns_shown_when_filled():
    columns = [Column("target_url", "Dead target", "url")]
    rows = [{"target_url": "http://a.test/", "replacement_url": "https://me.test/guide"}]
    assert [c.key for c in with_optional(columns, rows)] == ["target_url", "replacement_url"]
    assert [c.key for c in with_optional(columns, [{"target_url": "x"}])] == ["target_url"]


def test_bar_chart_escapes_and_scales():
    svg = charts.bar_chart([("<b>x</b>", 10), ("dns", 5), ("none", 0)], title='"t"')
    assert isinstance(svg, Markup)
    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert widths[2] == 0
    assert 'aria-label="&#34;t&#34;"' in svg


def test_column_chart_heights():
    svg = charts.column_chart(["#1", "#2"], [("dead", [4, 2]), ("lost", [0, 1])], title="runs")
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#\w+"><title>', svg)]
    assert heights[0] == 2 * heights[2]  # #1 dead is twice #2 dead
    assert heights[1] == 0
    assert charts.column_chart([], [], title="empty").count("<rect") == 0


def test_runs_chart_readable_at_32_runs_and_only_checking_runs():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    runs = [
        {
            "id": i,
            "spider": "contacts" if i % 3 == 0 else "backlinks",
            "started_at": start.replace(day=1 + i % 28),
        }
        for i in range(1, 49)
    ]
    timeline = run_timeline(runs, [], [])
    # runs that check no link are not drawn as "0 dead"
    assert all(p.run_id % 3 for p in timeline)
    assert len(timeline) == 30
    svg = charts.column_chart(
        [p.label for p in timeline], [("dead", [p.dead + 1 for p in timeline])], title="runs"
    )
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', svg)
    # every run has its column (and its tooltip); every other one a label, so none overlap
    assert svg.count("<title>") == 30
    assert len(ticks) == 15
    assert ticks[0] == timeline[0].label
