"""A rendered page is read as the browser produced it, not by its own charset (issue 21, point 3).

scrapy-playwright hands back the DOM re-encoded, with ``response.encoding`` saying how;
decoding those bytes again by the page's own ``<meta charset=iso-8859-1>`` garbled the
anchors (``SinglebÃ¶rse``) and the non-ASCII paths of its links, which became URLs that do
not exist: false dead links. That happens when the DOM holds a character the legacy
charset cannot encode (here a ``&#8594;`` arrow): scrapy-playwright falls back to UTF-8. Legacy-charset pages, declared (meta) and undeclared (no
charset anywhere), in ISO-8859-1 and windows-1251, are crawled rendered and not rendered:
the same links with the same anchors, and only the one really dead link is dead.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds

#: (host, charset, declared, anchor text, path of a page that exists on live.test)
PAGES = [
    ("latin1.test", "iso-8859-1", True, "Singlebörse für Café", "vetgép.html"),
    ("latin1-bare.test", "iso-8859-1", False, "Singlebörse für Café", "vetgép.html"),
    ("cyrillic.test", "windows-1251", True, "Знакомства в Москве", "страница.html"),
    ("cyrillic-bare.test", "windows-1251", False, "Знакомства в Москве", "страница.html"),
]


def legacy_page(charset: str, declared: bool, anchor: str, path: str) -> bytes:
    meta = f'<meta charset="{charset}">' if declared else ""
    text = f"""<!doctype html><html><head>{meta}<title>{anchor}</title></head><body>
<main><p>Unsere Empfehlung &#8594; <a href="http://live.test/{path}">{anchor}</a> und
<a href="http://gone.test/{path}">{anchor} (alt)</a>,
<a href="http://gone.test/search?q={anchor.split(maxsplit=1)[0]}">search</a>.</p></main>
<script>document.title = document.title;</script></body></html>"""
    return text.encode(charset)


@pytest.fixture
def legacy_web(tmp_path):
    root = tmp_path / "web"
    routes: dict[str, dict[str, dict[str, str]]] = {"gone.test": {}}
    for host, charset, declared, anchor, path in PAGES:
        (root / host).mkdir(parents=True)
        (root / host / "index.html").write_bytes(legacy_page(charset, declared, anchor, path))
        if not declared:
            # no charset in the header either (the static server would say utf-8)
            routes[host] = {"/": {"file": f"{host}/index.html", "content_type": "text/html"}}
        (root / "live.test").mkdir(parents=True, exist_ok=True)
        (root / "live.test" / path).write_text("<p>here</p>", encoding="utf-8")
    with LocalWeb(root, routes=routes) as web:
        yield web


def links_by_page(db_path) -> dict[str, set[tuple[str, str, str | None]]]:
    con = sqlite3.connect(db_path)
    try:
        rows = con.execute(
            "SELECT p.url, t.url, l.anchor_text, t.kind FROM links l "
            "JOIN pages p ON p.id = l.page_id JOIN targets t ON t.id = l.target_id"
        ).fetchall()
    finally:
        con.close()
    found: dict[str, set[tuple[str, str, str | None]]] = {}
    for page, target, anchor, kind in rows:
        found.setdefault(page, set()).add((target, anchor, kind))
    return found


@pytest.mark.e2e
def test_legacy_charset_pages_read_the_same_rendered_and_not(tmp_path, legacy_web):
    seeds = write_seeds(tmp_path, [f"http://{host}/" for host, *_ in PAGES])
    read = {}
    for render in ("never", "always"):
        out = tmp_path / render
        out.mkdir()
        result = run_crawl(
            out,
            legacy_web,
            {"seeds": str(seeds), "render": render},
            settings={"BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{legacy_web.port}"}},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        read[render] = links_by_page(result.db_path)
        titles = {row["url"]: row["title"] for row in result.rows["pages"]}
        for host, _, _, anchor, _ in PAGES:
            assert titles[f"http://{host}/"] == anchor, (render, titles)
    expected = {}
    for host, charset, _, anchor, path in PAGES:
        # a query is percent-encoded in the document's encoding (WHATWG URL), a path in UTF-8
        query = quote(anchor.split()[0].encode(charset))
        expected[f"http://{host}/"] = {
            (f"http://live.test/{quote(path)}", anchor, "alive"),
            (f"http://gone.test/{quote(path)}", f"{anchor} (alt)", "dead"),
            (f"http://gone.test/search?q={query}", "search", "dead"),
        }
    assert read["never"] == expected
    assert read["always"] == expected
