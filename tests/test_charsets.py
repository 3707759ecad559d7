"""Legacy charsets: undeclared pages decode as browsers do, hrefs' queries use the page's
encoding (WHATWG URL), and a crawl decodes each page once, the same way."""

from __future__ import annotations

import json

import pytest

from brokenlinks.parsing.charsets import browser_fallback, codec_for, decode_html
from brokenlinks.parsing.extract import extract_page
from brokenlinks.parsing.urls import resolve_href
from brokenlinks.testing.localweb import LocalWeb

from .conftest import DATA, run_crawl, write_seeds

FRENCH = (
    "<html><head><title>Caf\u00e9 \u201cliens\u201d</title></head><body>"
    "<p>Le caf\u00e9 est tr\u00e8s bon \u00e0 Paris \u2014 "
    "<a href='http://gone.test/cr\u00e8me'>Cr\u00e8me br\u00fbl\u00e9e</a>, na\u00efve fa\u00e7ade.</p>"
    "</body></html>"
)
POLISH = (
    "<html><body><p>Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144. "
    "<a href='/x'>\u0141\u00f3d\u017a \u015broda</a> "
    "P\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148.</p></body></html>"
)
RUSSIAN = (
    "<html><body><p>\u0417\u043d\u0430\u043a\u043e\u043c\u0441\u0442\u0432\u0430 "
    "\u0432 \u041c\u043e\u0441\u043a\u0432\u0435. <a href='/x'>\u041f\u0440\u0438\u0432\u0435\u0442, "
    "\u043c\u0438\u0440</a></p></body></html>"
)
JAPANESE = (
    "<html><body><p>\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8\u3067\u3059\u3002"
    "<a href='/x'>\u6771\u4eac\u306e\u5929\u6c17</a></p></body></html>"
)


@pytest.mark.parametrize(
    ("text", "codec", "anchor"),
    [
        (FRENCH, "cp1252", "Cr\u00e8me br\u00fbl\u00e9e"),
        ("<a href='/x'>caf\u00e9</a>", "cp1252", "caf\u00e9"),  # Scrapy guesses cp1006
        (POLISH, "iso8859-2", "\u0141\u00f3d\u017a \u015broda"),
        (
            POLISH.replace("P\u0159\u00edli\u0161", "Pilis"),
            "cp1250",
            "\u0141\u00f3d\u017a \u015broda",
        ),
        (RUSSIAN, "cp1251", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440"),
        # a page of Polish with many accents stays Central European
        (
            POLISH.replace("P\u0159\u00edli\u0161", "Pilis") * 3,
            "cp1250",
            "\u0141\u00f3d\u017a \u015broda",
        ),
        (JAPANESE, "cp932", "\u6771\u4eac\u306e\u5929\u6c17"),
        (JAPANESE, "euc_jp", "\u6771\u4eac\u306e\u5929\u6c17"),
        (FRENCH, "utf-8", "Cr\u00e8me br\u00fbl\u00e9e"),
    ],
)
def test_undeclared_pages_decode_as_browsers_do(text: str, codec: str, anchor: str) -> None:
    data = text.encode(codec)
    assert browser_fallback(data) == codec
    page = extract_page(data, "http://page.test/")
    assert page.links[0].anchor_text == anchor
    assert page.encoding == codec


@pytest.mark.parametrize(
    ("data", "anchor"),
    [
        # labels w3lib does not know, mapped as in the WHATWG Encoding standard
        (b"<meta charset='x-mac-roman'><a href='/x'>\x8e</a>", "\u00e9"),
        (b"<meta charset='x-gbk'><a href='/x'>\xc4\xe3</a>", "\u4f60"),
        (b"<meta charset='utf-16'><a href='/x'>caf\xc3\xa9</a>", "caf\u00e9"),
    ],
)
def test_project_label_rules(data: bytes, anchor: str) -> None:
    assert extract_page(data, "http://page.test/").links[0].anchor_text == anchor


def test_the_header_wins_over_a_disagreeing_meta() -> None:
    data = b"<meta charset='utf-8'><a href='/x'>caf\xe9 \x93q\x94</a>"
    assert decode_html(data, "windows-1252").encoding == "cp1252"
    page = extract_page(data, "http://page.test/", encoding="windows-1252")
    assert page.links[0].anchor_text == "caf\u00e9 \u201cq\u201d"
    # and the other way round: the header says UTF-8, the meta a legacy charset
    data = "<meta charset='windows-1252'><a href='/x'>caf\u00e9</a>".encode()
    assert extract_page(data, "http://page.test/", encoding="utf-8").links[0].anchor_text == (
        "caf\u00e9"
    )


def _percent_encoding_rows() -> list[tuple[str, str, str]]:
    rows = json.loads((DATA / "wpt-url" / "percent-encoding.json").read_text(encoding="utf-8"))
    return [
        (row["input"], label, output)
        for row in rows
        if isinstance(row, dict)
        for label, output in row["output"].items()
    ]


@pytest.mark.parametrize(("text", "label", "output"), _percent_encoding_rows())
def test_query_percent_encoding_follows_wpt(text: str, label: str, output: str) -> None:
    # web-platform-tests url/percent-encoding.window.js: <a href="...?{input}#{input}"> in a
    # document of that encoding has search "?{output}" (the fragment is always UTF-8).
    codec = codec_for(label)
    assert codec is not None
    href = f"https://doesnotmatter.invalid/?{text}#{text}"
    assert resolve_href(href, "https://page.test/", codec) == (
        f"https://doesnotmatter.invalid/?{output}"
    )


@pytest.mark.parametrize(
    ("href", "codec", "url"),
    [
        ("/s?q=caf\u00e9&x=\u00e9#caf\u00e9", "cp1252", "http://a.test/s?q=caf%E9&x=%E9"),
        ("/caf\u00e9?q=\u00e9", "cp1252", "http://a.test/caf%C3%A9?q=%E9"),  # path: UTF-8
        ("?q=\u0142", "iso8859-2", "http://a.test/p?q=%B3"),
        ("?q=\u6771", "cp932", "http://a.test/p?q=%93%8C"),
        ("?q=\u6771", "utf-8", "http://a.test/p?q=%E6%9D%B1"),
        ("\t?q=\n\u00e9 ", "cp1252", "http://a.test/p?q=%E9"),
        ("?q=%C3%A9\u00e9", "cp1252", "http://a.test/p?q=%C3%A9%E9"),  # escapes kept as typed
        ("ws://w.test/?q=\u00e9", "cp1252", "ws://w.test/?q=%C3%A9"),  # ws: always UTF-8
    ],
)
def test_query_in_the_document_encoding(href: str, codec: str, url: str) -> None:
    assert resolve_href(href, "http://a.test/p", codec) == url


@pytest.mark.e2e
def test_crawl_decodes_undeclared_legacy_pages(tmp_path) -> None:
    root = tmp_path / "web"
    (root / "legacy.test").mkdir(parents=True)
    routes = {
        "legacy.test": {
            "/fr": {"file": "legacy.test/fr.html", "content_type": "text/html"},
            "/pl": {"file": "legacy.test/pl.html", "content_type": "text/html"},
            "/jp": {"file": "legacy.test/jp.html", "content_type": "text/html"},
            "/both": {
                "file": "legacy.test/both.html",
                "content_type": "text/html; charset=windows-1252",
            },
        },
        "gone.test": {"default": {"status": 404}},
    }
    (root / "routes.json").write_text(json.dumps(routes), encoding="utf-8")
    pages = {
        "fr": FRENCH.encode("cp1252"),
        "pl": POLISH.replace("/x", "http://gone.test/pl?q=\u0142").encode("iso-8859-2"),
        "jp": JAPANESE.replace("/x", "http://gone.test/jp").encode("shift_jis"),
        "both": b"<meta charset='utf-8'><p><a href='http://gone.test/both'>caf\xe9</a></p>",
    }
    for name, data in pages.items():
        (root / "legacy.test" / f"{name}.html").write_bytes(data)
    with LocalWeb(root) as web:
        seeds = write_seeds(tmp_path, [f"http://legacy.test/{name}" for name in pages])
        result = run_crawl(tmp_path, web, {"seeds": str(seeds)})
        requested = {f"{r.path}?{r.query}" for r in web.requests("gone.test")}
    assert result.returncode == 0, result.stderr
    anchors = {item["source_url"].rsplit("/", 1)[1]: item for item in result.items}
    assert anchors["fr"]["anchor_text"] == "Cr\u00e8me br\u00fbl\u00e9e"
    assert anchors["fr"]["source_title"] == "Caf\u00e9 \u201cliens\u201d"
    assert anchors["fr"]["context"].startswith("Le caf\u00e9 est tr\u00e8s bon")
    assert anchors["pl"]["anchor_text"] == "\u0141\u00f3d\u017a \u015broda"
    assert anchors["pl"]["target_url"] == "http://gone.test/pl?q=%B3"
    assert anchors["jp"]["anchor_text"] == "\u6771\u4eac\u306e\u5929\u6c17"
    assert anchors["both"]["anchor_text"] == "caf\u00e9"
    assert "/pl?q=%B3" in requested
