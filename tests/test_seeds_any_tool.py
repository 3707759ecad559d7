"""Seeds from any tool, end to end: another tool's export by its named URL column, a CSV
without a header row by its first column of URLs, and the layout named in the log.

Families: exports of tools the reader does not know (Screaming Frog's "Address", Sitebulb,
Linkody, a spreadsheet of prospects with its own column names), and header-less two-column
lists that people paste out of spreadsheets ("URL,note").
"""

from __future__ import annotations

import pytest

from .conftest import run_crawl

pytestmark = pytest.mark.e2e

PAGES = ["http://blog.test/resources.html", "http://news.test/article.html"]


def _prospects(result) -> set[tuple[str, str]]:
    return {(item["source_url"], item["target_url"]) for item in result.items}


@pytest.fixture
def reference(tmp_path, web):
    seeds = tmp_path / "list.txt"
    seeds.write_text("\n".join(PAGES) + "\n", encoding="utf-8")
    result = run_crawl(tmp_path / "list", web, {"seeds": str(seeds)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert _prospects(result)
    return _prospects(result)


@pytest.mark.parametrize(
    ("text", "args", "layout"),
    [
        pytest.param(
            "".join(f"{url},found by hand,2024-05-0{n}\n" for n, url in enumerate(PAGES, 1)),
            {},
            "CSV without a header row, URL column 1",
            id="headerless",
        ),
        pytest.param(
            "Prospect;Where on the page;Page\n"
            + "".join(f"p{n};sidebar;{url}\n" for n, url in enumerate(PAGES, 1)),
            {"url_column": "page"},
            "CSV, URL column 'Page'",
            id="named-column",
        ),
    ],
)
def test_any_tool_export_crawls_the_same_pages_as_a_list(
    tmp_path, web, reference, text, args, layout
):
    seeds = tmp_path / "export.csv"
    seeds.write_text(text, encoding="utf-8")
    result = run_crawl(tmp_path, web, {"seeds": str(seeds), **args})
    assert result.returncode == 0, result.stderr[-3000:]
    assert _prospects(result) == reference
    assert f"Read 2 referring pages from {seeds} ({layout})" in result.stderr
    # no page was fetched with the CSV's tail in its URL
    assert not [r.path for r in web.requests() if "found" in r.path or "sidebar" in r.path]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        (
            "Prospect;Page\np1;http://blog.test/resources.html\n",
            {},
            "or name the column of referring page URLs with -a url_column=NAME",
        ),
        (
            "Prospect;Page\np1;http://blog.test/resources.html\n",
            {"url_column": "Address"},
            "no column 'Address' (url_column) in its first line ['Prospect', 'Page']",
        ),
        ("http://blog.test/resources.html\n", {"url_column": " "}, "url_column: empty value"),
    ],
)
def test_a_column_that_is_not_there_is_one_error_line(tmp_path, web, text, args, message):
    seeds = tmp_path / "export.csv"
    seeds.write_text(text, encoding="utf-8")
    result = run_crawl(tmp_path, web, {"seeds": str(seeds), **args})
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert lines[0].startswith("error: ")
