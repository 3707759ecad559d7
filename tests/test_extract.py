"""Tests for brokenlinks.parsing.extract: tables per field, charsets, robustness, real pages."""

from __future__ import annotations

import gzip
import json
import random
import time
from collections import Counter
from functools import cache
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import pytest

from brokenlinks.parsing.extract import Link, Page, Position, extract_page, outbound_count
from brokenlinks.parsing.sites import is_outbound
from brokenlinks.parsing.urls import is_http, resolve_href

from .conftest import DATA

PAGE = "https://example.com/dir/page.html"
FIXTURES = Path(__file__).parent / "fixtures" / "extract"
REALPAGES = DATA / "realpages"
SELFTEST = DATA / "heritrix-selftest"


def only_link(html: str | bytes, url: str = PAGE, encoding: str | None = None) -> Link:
    links = extract_page(html, url, encoding=encoding).links
    assert len(links) == 1, links
    return links[0]


# --------------------------------------------------------------------------- anchor text


@pytest.mark.parametrize(
    ("html", "anchor"),
    [
        ('<a href="/x">Plain</a>', "Plain"),
        ('<a href="/x">  spread \n\t over\r\n lines  </a>', "spread over lines"),
        ('<a href="/x">no&nbsp;break&amp;more</a>', "no break&more"),
        ('<a href="/x">one <b>two</b><i> three</i></a>', "one two three"),
        ('<a href="/x">in<span>line</span></a>', "inline"),
        ('<a href="/x"><img src="l.png" alt="Logo"></a>', "Logo"),
        ('<a href="/x"><img src="l.png" alt="  Big \n logo "></a>', "Big logo"),
        ('<a href="/x"><img src="l.png" alt=""></a>', ""),
        ('<a href="/x"><img src="l.png"></a>', ""),
        ('<a href="/x">Read <img alt="the guide"> now</a>', "Read the guide now"),
        ('<a href="/x"><img alt="One"><img alt="Two">Three</a>', "One Two Three"),
        ('<a href="/x">a<script>var s = "no";</script>b</a>', "ab"),
        ('<a href="/x">a<style>.x{}</style> b</a>', "a b"),
        ('<a href="/x">a<!-- hidden -->b</a>', "ab"),
        ('<a href="/x"><h3>Title</h3><p>Description</p></a>', "Title Description"),
        ('<a href="/x">line<br>break</a>', "line break"),
        # an SVG adds its name as browsers compute it (accname): its <title>, never <desc>
        ('<a href="/x"><svg><title>Twitter</title><path d=""/></svg></a>', "Twitter"),
        (
            (
                '<a href="/x"><svg><title>Mail</title><desc>Ihr Kontakt zum ADAC</desc></svg>'
                "Kontakt</a>"
            ),
            "Mail Kontakt",
        ),
        ('<a href="/x"><svg><desc>Ihr Kontakt zum ADAC</desc><path/></svg>Kontakt</a>', "Kontakt"),
        ('<a href="/x"><svg aria-hidden="true"><title>Icon</title></svg>Kontakt</a>', "Kontakt"),
        ('<a href="/x"><svg aria-label="Facebook"><title>fb</title></svg></a>', "Facebook"),
        ('<a href="/x"><svg><text>On the map</text><desc>d</desc></svg></a>', "On the map"),
        ('<a href="/x">Go<svg><title>arrow</title></svg></a>', "Go arrow"),
        ('<map><area href="/x" alt="Area text"></map>', "Area text"),
        ('<map><area href="/x"></map>', ""),
        (
            '<a href="/x">caf\u00e9 \u201cquoted\u201d \u65e5\u672c</a>',
            "caf\u00e9 \u201cquoted\u201d \u65e5\u672c",
        ),
        ('<a href="/x"></a>', ""),
    ],
)
def test_anchor_text(html: str, anchor: str) -> None:
    link = only_link(html)
    assert link.anchor_text == anchor
    assert anchor in link.context


# --------------------------------------------------------------------------- rel / follow


@pytest.mark.parametrize(
    ("rel", "tokens", "follow"),
    [
        (None, (), True),
        ("", (), True),
        ("nofollow", ("nofollow",), False),
        ("NoFollow Noopener", ("nofollow", "noopener"), False),
        ("sponsored", ("sponsored",), False),
        ("ugc", ("ugc",), False),
        ("UGC nofollow", ("ugc", "nofollow"), False),
        ("noopener noreferrer", ("noopener", "noreferrer"), True),
        ("external", ("external",), True),
        ("nofollow nofollow ugc NOFOLLOW", ("nofollow", "ugc"), False),
        ("  external\tnofollow\n", ("external", "nofollow"), False),
        # rel is a set of space-separated tokens (HTML): a comma makes one odd token.
        ("nofollow,noopener", ("nofollow,noopener",), True),
        ("follow", ("follow",), True),
    ],
)
def test_rel_and_follow(rel: str | None, tokens: tuple[str, ...], follow: bool) -> None:
    attribute = "" if rel is None else f' rel="{rel}"'
    link = only_link(f'<a href="https://other.test/"{attribute}>x</a>')
    assert link.rel == tokens
    assert link.follow is follow


# --------------------------------------------------------------------------- position


@pytest.mark.parametrize(
    ("html", "position"),
    [
        # no marker at all
        ("<p>{link}</p>", Position.CONTENT),
        ("<div><div><span>{link}</span></div></div>", Position.CONTENT),
        # semantic elements
        ("<nav><ul><li>{link}</li></ul></nav>", Position.NAV),
        ("<header>{link}</header>", Position.HEADER),
        ("<footer><p>{link}</p></footer>", Position.FOOTER),
        ("<aside>{link}</aside>", Position.ASIDE),
        ("<main><p>{link}</p></main>", Position.CONTENT),
        ("<article><p>{link}</p></article>", Position.CONTENT),
        # ARIA roles
        ('<div role="navigation">{link}</div>', Position.NAV),
        ('<ul role="menubar"><li>{link}</li></ul>', Position.NAV),
        ('<ul role="menu"><li>{link}</li></ul>', Position.NAV),
        ('<div role="banner">{link}</div>', Position.HEADER),
        ('<div role="contentinfo">{link}</div>', Position.FOOTER),
        ('<div role="complementary">{link}</div>', Position.ASIDE),
        ('<footer><div role="main">{link}</div></footer>', Position.CONTENT),
        ('<div role="presentation navigation">{link}</div>', Position.NAV),
        # class and id tokens
        ('<ul class="nav">{link}</ul>', Position.NAV),
        ('<div class="navbar navbar-default">{link}</div>', Position.NAV),
        ('<ul class="menu">{link}</ul>', Position.NAV),
        ('<li class="menu-item">{link}</li>', Position.NAV),
        ('<ol class="breadcrumb">{link}</ol>', Position.NAV),
        ('<div class="breadcrumbs">{link}</div>', Position.NAV),
        ('<div class="pagination">{link}</div>', Position.NAV),
        ('<div class="mainNav">{link}</div>', Position.NAV),
        ('<div class="primary_navigation">{link}</div>', Position.NAV),
        ('<div class="header">{link}</div>', Position.HEADER),
        ('<div id="masthead">{link}</div>', Position.HEADER),
        ('<div class="site-header">{link}</div>', Position.HEADER),
        ('<div class="footer">{link}</div>', Position.FOOTER),
        ('<div class="site-footer">{link}</div>', Position.FOOTER),
        ('<div id="colophon">{link}</div>', Position.FOOTER),
        ('<div class="siteFooter">{link}</div>', Position.FOOTER),
        ('<div class="sidebar">{link}</div>', Position.ASIDE),
        ('<div id="sidebar-right">{link}</div>', Position.ASIDE),
        ('<div class="widget-area">{link}</div>', Position.ASIDE),
        ('<div class="aside">{link}</div>', Position.ASIDE),
        ('<ul class="related-posts">{link}</ul>', Position.ASIDE),
        # whole tokens only, not substrings
        ('<li class="menuitem">{link}</li>', Position.CONTENT),
        ('<div class="subheader">{link}</div>', Position.CONTENT),
        ('<div class="unavailable">{link}</div>', Position.CONTENT),
        ('<div class="navigator">{link}</div>', Position.CONTENT),
        ('<div class="footnotes">{link}</div>', Position.CONTENT),
        # "widget" alone: page builders wrap the article itself in widgets
        ('<div class="widget">{link}</div>', Position.CONTENT),
        ('<div class="elementor-widget-container"><p>{link}</p></div>', Position.CONTENT),
        # a content word neutralises the element; a state word only its own name
        ('<div class="navigation-content">{link}</div>', Position.CONTENT),
        ('<div class="article-header">{link}</div>', Position.CONTENT),
        ('<div class="sidebar entry-content">{link}</div>', Position.CONTENT),
        ('<div class="article-body pagination-first"><p>{link}</p></div>', Position.CONTENT),
        ('<div class="nav-open">{link}</div>', Position.CONTENT),
        ('<div class="has-sidebar">{link}</div>', Position.CONTENT),
        ('<div class="sidebar is-sticky">{link}</div>', Position.ASIDE),
        # classes of <html>/<body> describe the page, not a region
        ('<body class="sidebar-right nav">{link}</body>', Position.CONTENT),
        # the link's own class does not place it
        ('<p><a class="footer-link nav" href="/x">x</a></p>', Position.CONTENT),
        # the nearest marker wins
        ("<footer><aside>{link}</aside></footer>", Position.ASIDE),
        ("<aside><nav>{link}</nav></aside>", Position.NAV),
        ("<main><aside>{link}</aside></main>", Position.ASIDE),
        ('<div class="sidebar"><div class="menu">{link}</div></div>', Position.NAV),
        ("<nav><main>{link}</main></nav>", Position.CONTENT),
        ('<div class="footer"><article><p>{link}</p></article></div>', Position.CONTENT),
        ('<header><div class="content">{link}</div></header>', Position.HEADER),
        # a header or footer inside an article is the article's own
        ("<article><header>{link}</header></article>", Position.CONTENT),
        ("<article><footer><p>{link}</p></footer></article>", Position.CONTENT),
        ('<div role="article"><footer>{link}</footer></div>', Position.CONTENT),
        ('<article><div class="footer">{link}</div></article>', Position.CONTENT),
        ('<article><div role="contentinfo">{link}</div></article>', Position.CONTENT),
        ("<article><aside>{link}</aside></article>", Position.ASIDE),
        ("<article><nav>{link}</nav></article>", Position.NAV),
        ("<article><nav><header>{link}</header></nav></article>", Position.NAV),
        # ... but not inside main, which often wraps the whole page
        ("<main><header>{link}</header></main>", Position.HEADER),
        ('<main id="page"><footer id="footer-wrapper">{link}</footer></main>', Position.FOOTER),
        # a teaser <article> in a nav/aside/header/footer stays there
        ("<aside><article><h3>{link}</h3></article></aside>", Position.ASIDE),
        ("<footer><article>{link}</article></footer>", Position.FOOTER),
        ('<div role="complementary"><article>{link}</article></div>', Position.ASIDE),
        # XHTML prefixes
        ("<h:nav><h:a href='/x'>x</h:a></h:nav>", Position.NAV),
    ],
)
def test_position(html: str, position: Position) -> None:
    link = only_link(html.replace("{link}", '<a href="/x">x</a>'))
    assert link.position is position


def test_position_follows_document_structure() -> None:
    page = extract_page(
        """<body class="home">
        <header><a href="/">Logo</a><nav><a href="/news">News</a></nav></header>
        <main><article><h1>Title</h1><p>See <a href="https://other.test/">this</a>.</p>
          <aside class="pullquote"><a href="/q">Quote</a></aside></article></main>
        <div id="sidebar"><a href="/popular">Popular</a></div>
        <footer><a href="/about">About</a></footer></body>""",
        PAGE,
    )
    assert [(link.anchor_text, str(link.position)) for link in page.links] == [
        ("Logo", "header"),
        ("News", "nav"),
        ("this", "content"),
        ("Quote", "aside"),
        ("Popular", "aside"),
        ("About", "footer"),
    ]


# --------------------------------------------------------------------------- context

LONG = " ".join(f"word{i}" for i in range(120))  # 838 characters, no sentence end


@pytest.mark.parametrize(
    ("html", "context"),
    [
        ("<p>First one. Second with {link} here. Third one.</p>", "Second with x here."),
        ("<p>{link} starts it. Next one.</p>", "x starts it."),
        ("<p>Before. Ends with {link}</p>", "Ends with x"),
        ("<p>Use tools, e.g. the {link} one. Next.</p>", "Use tools, e.g. the x one."),
        ("<p>Ask Dr. Smith about {link} today. Then go.</p>", "Ask Dr. Smith about x today."),
        ("<p>The U.S. team used {link} too. Fine.</p>", "The U.S. team used x too."),
        ("<p>J. R. R. Tolkien wrote {link} books. Sure.</p>", "J. R. R. Tolkien wrote x books."),
        ("<p>Wow! Is {link} real? Yes.</p>", "Is x real?"),
        ('<p>He said "Go." Then {link} came. End.</p>', "Then x came."),
        ("<p>He said \u201cGo.\u201d Then {link} came.</p>", "Then x came."),
        ("<p>It costs approx. five {link} each. Ok.</p>", "It costs approx. five x each."),
        ("<p>Version 2.0 of {link} is out. Ok.</p>", "Version 2.0 of x is out."),
        (
            "<p>\u7b2c\u4e00\u53e5\u3002\u7b2c\u4e8c{link}\u53e5\u3002\u7b2c\u4e09</p>",
            "\u7b2c\u4e8cx\u53e5\u3002",
        ),
        ("<ul><li>{link}</li><li>Other</li></ul>", "x"),
        ("<ul><li>Item: {link} (new)</li></ul>", "Item: x (new)"),
        ("<table><tr><td>Cell with {link}</td><td>next cell</td></tr></table>", "Cell with x"),
        ("<div>Intro text<p>A paragraph.</p> tail {link} here</div>", "tail x here"),
        ("<p>Line one<br>Line two with {link}<br>Line three</p>", "Line two with x"),
        ("<p>Some <b>bold {link}</b> text.</p>", "Some bold x text."),
        ("<p>Code<script>var a = 'No. Way.';</script> near {link}.</p>", "Code near x."),
        ("<blockquote>Quoted {link} words</blockquote>", "Quoted x words"),
        ("<h2>Heading {link}</h2><p>Body.</p>", "Heading x"),
        ("<figure><img alt='pic'><figcaption>Photo: {link}</figcaption></figure>", "Photo: x"),
    ],
)
def test_context_sentence(html: str, context: str) -> None:
    link = only_link(html.replace("{link}", '<a href="/x">x</a>'))
    assert link.context == context


def test_context_keeps_sentence_breaks_inside_the_anchor() -> None:
    link = only_link('<p>First. Read <a href="/y">Yahoo! Finance. Now</a> daily. Next.</p>')
    assert link.context == "Read Yahoo! Finance. Now daily."


def test_context_window_in_a_long_sentence() -> None:
    link = only_link(f'<p>{LONG} <a href="/x">the anchor</a> {LONG}</p>')
    assert len(link.context) <= 300
    assert "the anchor" in link.context
    assert link.context.startswith("\u2026word")
    assert link.context.endswith("\u2026")
    middle = link.context.index("the anchor")
    assert abs(middle - (len(link.context) - middle - len("the anchor"))) < 20  # centred
    assert link.context.strip("\u2026").split(" ")[0].startswith("word")  # whole words


def test_context_window_at_the_start_of_a_long_sentence() -> None:
    link = only_link(f'<p><a href="/x">Anchor</a> {LONG}</p>')
    assert link.context.startswith("Anchor word0 word1")
    assert link.context.endswith("\u2026")
    assert len(link.context) <= 300


def test_context_of_an_anchor_longer_than_the_limit() -> None:
    link = only_link(f'<p>Intro <a href="/x">{LONG}</a> outro.</p>')
    assert link.anchor_text == LONG
    assert len(link.context) <= 300
    assert link.context.endswith("\u2026")
    assert LONG.startswith(link.context[:-1])


def test_context_of_an_anchor_of_exactly_the_limit() -> None:
    anchor = ("abcd " * 60).strip() + "e"  # 300 characters
    assert len(anchor) == 300
    link = only_link(f'<p>Intro words <a href="/x">{anchor}</a> outro words.</p>')
    assert link.context == anchor


def test_context_of_an_image_link_without_alt() -> None:
    link = only_link('<p>See the chart <a href="/x"><img src="c.png"></a> below. Next.</p>')
    assert link.anchor_text == ""
    assert link.context == "See the chart below."


@pytest.mark.parametrize("seed", range(40))
def test_context_always_contains_the_anchor(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta.", "Gamma!", "e.g.", "Mr.", "delta?", "U.S.", "x", "\u2014"]
    paragraphs = []
    for _ in range(10):
        words = [rng.choice(vocabulary) for _ in range(rng.randrange(1, 160))]
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(words) + 1)
            anchor = " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(0, 70)))
            words.insert(at, f'<a href="/{at}">{anchor}</a>')
        paragraphs.append("<p>" + " ".join(words) + "</p>")
    for link in extract_page("".join(paragraphs), PAGE).links:
        assert len(link.context) <= 300
        if link.anchor_text and len(link.anchor_text) <= 300:
            assert link.anchor_text in link.context


# --------------------------------------------------------------------------- title


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<title>Plain</title>", "Plain"),
        ("<title>  Spread \n\t over   lines </title>", "Spread over lines"),
        ("<title>A &amp; B&nbsp;C</title>", "A & B C"),
        ("<title></title>", None),
        ("<title>   \n </title>", None),
        ("<p>No title</p>", None),
        ("<title>First</title><title>Second</title>", "First"),
        ("<body><svg><title>Icon</title></svg><p>x</p></body>", None),
        ("<head><title>Head</title></head><body><svg><title>Icon</title></svg></body>", "Head"),
        ("<title>Caf\u00e9 \u2013 \u201cq\u201d</title>", "Caf\u00e9 \u2013 \u201cq\u201d"),
    ],
)
def test_title(html: str, title: str | None) -> None:
    assert extract_page(html, PAGE).title == title


# --------------------------------------------------------------------------- base href


@pytest.mark.parametrize(
    ("head", "base_url", "resolved"),
    [
        ("", PAGE, "https://example.com/dir/x"),
        ('<base href="https://cdn.test/a/">', "https://cdn.test/a/", "https://cdn.test/a/x"),
        ('<base href="/docs/">', "https://example.com/docs/", "https://example.com/docs/x"),
        ('<base href="../up/">', "https://example.com/up/", "https://example.com/up/x"),
        ('<base href="sub/">', "https://example.com/dir/sub/", "https://example.com/dir/sub/x"),
        ('<base href="//cdn.test/">', "https://cdn.test/", "https://cdn.test/x"),
        ('<base href="  /docs/ ">', "https://example.com/docs/", "https://example.com/docs/x"),
        ('<base href="/docs/#frag">', "https://example.com/docs/", "https://example.com/docs/x"),
        ('<base href="">', PAGE, "https://example.com/dir/x"),
        # bad or non-http bases are ignored: the page URL is the base
        ('<base href="http://a:b/">', PAGE, "https://example.com/dir/x"),
        ('<base href="http://[bad/">', PAGE, "https://example.com/dir/x"),
        ('<base href="javascript:void(0)">', PAGE, "https://example.com/dir/x"),
        ('<base href="mailto:a@b.test">', PAGE, "https://example.com/dir/x"),
        ('<base href="data:text/html,x">', PAGE, "https://example.com/dir/x"),
        ('<base href="ftp://files.test/">', PAGE, "https://example.com/dir/x"),
        # only the first <base> with an href counts, even when it is bad
        ('<base href="/one/"><base href="/two/">', "https://example.com/one/", None),
        ('<base target="_blank"><base href="/two/">', "https://example.com/two/", None),
        ('<base href="http://a:b/"><base href="/two/">', PAGE, None),
        # WHATWG: extra slashes after a special scheme are skipped (a valid base)
        ('<base href="http:///lcweb.test/a/b.html">', "http://lcweb.test/a/b.html", None),
    ],
)
def test_base_href(head: str, base_url: str, resolved: str | None) -> None:
    page = extract_page(f"<html><head>{head}</head><body><a href='x'>x</a></body>", PAGE)
    assert page.base_url == base_url
    assert page.links[0].url == (resolved or resolve_href("x", base_url))


def test_base_href_in_body_and_absolute_links_untouched() -> None:
    page = extract_page('<a href="a">a</a><base href="/b/"><a href="https://o.test/">o</a>', PAGE)
    assert page.base_url == "https://example.com/b/"
    assert [link.url for link in page.links] == ["https://example.com/b/a", "https://o.test/"]


@pytest.mark.parametrize(
    ("number", "base_url", "target"),
    [
        # <base href="http://a:b/">: the port does not parse, the base is ignored
        (1, "http://127.0.0.1:7777/one.html", "http://127.0.0.1:7777/goodone.html"),
        # <base href="http:///lcweb.loc.gov/...">: valid by WHATWG, the link leaves the site
        # (Heritrix expects goodtwo "outside of selftest scope" too)
        (
            2,
            "http://lcweb.loc.gov/rr/amed/afs/afsctylng.html",
            "http://lcweb.loc.gov/rr/amed/afs/goodtwo.html",
        ),
        # <base href="/cata;pgs-new.html""> (stray quote): relative, goodthree stays on site
        (3, "http://127.0.0.1:7777/cata;pgs-new.html", "http://127.0.0.1:7777/goodthree.html"),
    ],
)
def test_heritrix_bad_bases_do_not_stop_extraction(
    number: int, base_url: str, target: str
) -> None:
    name = ["one", "two", "three"][number - 1]
    html = (SELFTEST / "BadURIsStopPageParsingSelfTest" / "htdocs" / f"{name}.html").read_bytes()
    page = extract_page(html, f"http://127.0.0.1:7777/{name}.html")
    assert page.base_url == base_url
    assert page.title == f"Bad BASE {number}"
    [link] = page.links
    assert link.url == target
    assert link.anchor_text == f"Good #{number}"
    assert link.anchor_text in link.context
    assert link.context.startswith("Pointer to a document that should be found")


def test_heritrix_charset_undeclared_utf8() -> None:
    html = (SELFTEST / "CharsetSelfTest" / "htdocs" / "index.html").read_bytes()
    [link] = extract_page(html, "http://127.0.0.1:7777/").links
    assert link.anchor_text == "\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c!"
    assert link.url == "http://127.0.0.1:7777/link.html"


# --------------------------------------------------------------------------- hrefs

SKIPPED = object()


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("/a", "https://example.com/a"),
        ("javascript:void(0)", "javascript:void(0)"),
        ("JavaScript:alert(1)", "javascript:alert(1)"),
        ("mailto:someone@other.test", "mailto:someone@other.test"),
        ("tel:+1-555-0100", "tel:+1-555-0100"),
        ("data:text/plain,hi", "data:text/plain,hi"),
        (" http://x.test/a ", "http://x.test/a"),
        ("\n\thttp://x.test/a\n", "http://x.test/a"),
        ("ht\ttp://x.te\nst/p\ra", "http://x.test/pa"),
        ("http://[bad", None),
        ("http://a:b/", None),
        ("http://exa mple.test/", None),
        ("https://", None),
        ("//cdn.test/x", "https://cdn.test/x"),
        ("?q=1", "https://example.com/dir/page.html?q=1"),
        ("other.html#part", "https://example.com/dir/other.html"),
        ("../up", "https://example.com/up"),
        ("/path with space", "https://example.com/path%20with%20space"),
        ("HTTP://X.TEST:80/A", "http://x.test/A"),
        ("http://b\u00fccher.test/", "http://xn--bcher-kva.test/"),
        ("https://\u043f\u0440\u0438\u043c\u0435\u0440.test/", "https://xn--e1afmkfd.test/"),
        ("#frag", SKIPPED),
        ("#", SKIPPED),
        ("  #frag", SKIPPED),
        ("\n#frag", SKIPPED),
        ("", SKIPPED),
        ("   ", SKIPPED),
        ("\t\n", SKIPPED),
    ],
)
def test_odd_hrefs(href: str, url: object) -> None:
    page = extract_page(f'<p>Text <a href="{href}">anchor</a> after.</p>', PAGE)
    if url is SKIPPED:
        assert page.links == []
        return
    [link] = page.links
    assert link.href == href.replace("\r", "\n")  # as the parser gives it (CR → LF)
    assert link.url == url
    assert link.anchor_text == "anchor"


def test_very_long_href_is_kept() -> None:
    href = "https://other.test/" + "a" * 3000
    link = only_link(f'<a href="{href}">long</a>')
    assert link.href == href
    assert link.url == href
    assert len(link.url) > 2083


def test_bad_hrefs_never_stop_the_rest_of_the_page() -> None:
    bad = "".join(f'<a href="http://[bad{i}">bad {i}</a> ' for i in range(50))
    page = extract_page(f'<p>{bad}<a href="/good">good</a></p><a href="/last">last</a>', PAGE)
    assert [link.url for link in page.links[:50]] == [None] * 50
    assert [link.url for link in page.links[50:]] == [
        "https://example.com/good",
        "https://example.com/last",
    ]


# --------------------------------------------------------------------------- which links


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a name="top">no href</a><a href="/x">x</a>', [("a", "/x", "x")]),
        ('<a id="y">none</a>', []),
        ('<map><area href="/m" alt="M"><area nohref alt="N"></map>', [("area", "/m", "M")]),
        ('<h:a href="/ns">NS</h:a>', [("a", "/ns", "NS")]),
        ("<noscript><a href='/ns'>No script</a></noscript>", [("a", "/ns", "No script")]),
        ("<template><a href='/t'>T</a></template><a href='/x'>x</a>", [("a", "/x", "x")]),
        ("<script>document.write('<a href=\"/js\">js</a>')</script>", []),
        ("<!-- <a href='/c'>c</a> --><a href='/x'>x</a>", [("a", "/x", "x")]),
        ("<style>a[href='/s']{}</style>", []),
        ("<link rel='stylesheet' href='/s.css'><img src='/i.png'>", []),
        # browsers never nest <a>: a new one ends the open one
        ("<a href='/a'>x<a href='/b'>y</a>z</a>", [("a", "/a", "x"), ("a", "/b", "y")]),
        ("<p><a href='/1'>one<p><a href='/2'>two", [("a", "/1", "one"), ("a", "/2", "two")]),
        (
            "<a href='/o'>out <map><area href='/i' alt='in'></map></a>",
            [("a", "/o", "out in"), ("area", "/i", "in")],
        ),
        # broken markup
        ("<div><p><a href='/u'>unclosed <b>bold", [("a", "/u", "unclosed bold")]),
        ("<a href='/q' <b>odd</b>", [("a", "/q", "odd")]),
        ("<table><a href='/t'>in table</a><tr><td>c</td></tr></table>", [("a", "/t", "in table")]),
        ("<a href=/unquoted?a=1&b=2>uq</a>", [("a", "/unquoted?a=1&b=2", "uq")]),
        ("<a href='/amp?a=1&amp;b=2'>e</a>", [("a", "/amp?a=1&b=2", "e")]),
    ],
)
def test_which_links(html: str, expected: list[tuple[str, str, str]]) -> None:
    page = extract_page(html, PAGE)
    assert [(link.tag, link.href, link.anchor_text) for link in page.links] == expected


@pytest.mark.parametrize(
    ("html", "unscripted", "scripted"),
    [
        # a rendered page (scripts ran): <noscript> content is not on the page
        (
            "<noscript><a href='/ad'>Ad</a></noscript><p><a href='/x'>x</a></p>",
            [("/ad", "Ad", "Ad"), ("/x", "x", "x")],
            [("/x", "x", "x")],
        ),
        (
            "<a href='/x'><img alt='Logo'><noscript><img alt='Logo'></noscript></a>",
            [("/x", "Logo Logo", "Logo Logo")],
            [("/x", "Logo", "Logo")],
        ),
        (
            "<p>Read <noscript>Please enable JavaScript.</noscript><a href='/x'>this</a>.</p>",
            [("/x", "this", "Read Please enable JavaScript.this.")],
            [("/x", "this", "Read this.")],
        ),
        (
            (
                "<div><noscript><iframe src='/gtm'></iframe></noscript>"
                "<a href='/y'>y<svg><desc>skip</desc></svg></a></div>"
            ),
            [("/y", "y", "y")],
            [("/y", "y", "y")],
        ),
    ],
)
def test_noscript_in_a_rendered_page(
    html: str,
    unscripted: list[tuple[str, str, str]],
    scripted: list[tuple[str, str, str]],
) -> None:
    for flag, expected in ((False, unscripted), (True, scripted)):
        page = extract_page(html, PAGE, scripted=flag)
        got = [(link.href, link.anchor_text, link.context) for link in page.links]
        assert got == expected, flag


@pytest.mark.parametrize(
    "html",
    ["", "   ", "\n", "<!-- only a comment -->", "<?xml version='1.0'?>", b"", b"\x00\x00", "<"],
)
def test_empty_documents(html: str | bytes) -> None:
    page = extract_page(html, PAGE)
    assert page.links == []
    assert page.title is None
    assert page.base_url == PAGE


def test_nul_bytes_and_xml_declaration() -> None:
    page = extract_page(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<head><title>X</title></head><body><p><a href='/x'>a\x00b</a></p></body></html>",
        PAGE,
    )
    assert page.title == "X"
    assert page.links[0].anchor_text == "a\ufffdb"


def test_str_input_with_a_charset_declaration_is_not_decoded_again() -> None:
    html = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><html><head><meta charset="koi8-r">'
        "<title>Caf\u00e9</title></head>"
        "<body><a href='/x'>cr\u00e8me \u201cb\u201d</a></body></html>"
    )
    page = extract_page(html, PAGE)
    assert page.title == "Caf\u00e9"
    assert page.links[0].anchor_text == "cr\u00e8me \u201cb\u201d"


def test_deeply_nested_markup_keeps_every_link() -> None:
    # libxml2 stops at 2,048 open elements and drops the rest of the page.
    html = (
        "<title>Deep</title>"
        + "".join(f"<div class='x'>Text {i}. <a href='/d{i}'>d{i}</a>" for i in range(3000))
        + "<script>var no = 'script text';</script>"
        + "</div>" * 3000
        + "<footer><p>End <a href='/after'>after</a>.</p></footer>"
    )
    page = extract_page(html, PAGE)
    assert page.title == "Deep"
    assert [link.href for link in page.links] == [f"/d{i}" for i in range(3000)] + ["/after"]
    assert page.links[2999].anchor_text == "d2999"
    assert "script" not in page.links[2999].context
    assert page.links[-1].position is Position.FOOTER
    assert page.links[-1].context == "End after."
    assert all(link.anchor_text in link.context for link in page.links)


# --------------------------------------------------------------------------- charsets


def test_cp1252_declared_by_meta() -> None:
    page = extract_page((FIXTURES / "cp1252-meta.html").read_bytes(), "https://caf\u00e9.test/")
    assert page.title == "Caf\u00e9 \u201clinks\u201d"
    first, second = page.links
    assert (
        first.anchor_text == "Caf\u00e9 cr\u00e8me \u201cbr\u00fbl\u00e9e\u201d \u2013 the guide"
    )
    assert first.url == "https://cafe.test/cr%C3%A8me"
    assert first.context == (
        "Our \u201cfavourite\u201d resources: Caf\u00e9 cr\u00e8me \u201cbr\u00fbl\u00e9e\u201d"
        " \u2013 the guide and more."
    )
    assert second.anchor_text == "na\u00efve \u2018tips\u2019 \u2026"
    assert second.href == "/na\u00efve"


@pytest.mark.parametrize("encoding", ["cp1252", "windows-1252", "ISO-8859-1", "latin1"])
def test_cp1252_declared_by_the_http_header_only(encoding: str) -> None:
    # WHATWG: iso-8859-1 and latin1 labels mean windows-1252 (curly quotes at 0x93/0x94).
    data = (FIXTURES / "cp1252-undeclared.html").read_bytes()
    page = extract_page(data, "https://cafe.test/", encoding=encoding)
    assert page.title == "Caf\u00e9 \u201clinks\u201d"
    assert page.links[0].anchor_text == (
        "Caf\u00e9 cr\u00e8me \u201cbr\u00fbl\u00e9e\u201d \u2013 the guide"
    )


def test_the_http_header_wins_over_meta() -> None:
    data = (FIXTURES / "cp1252-meta.html").read_bytes().replace(b"windows-1252", b"utf-8")
    assert "\ufffd" in extract_page(data, PAGE).links[0].anchor_text  # meta says utf-8
    fixed = extract_page(data, PAGE, encoding="cp1252").links[0].anchor_text
    assert fixed == "Caf\u00e9 cr\u00e8me \u201cbr\u00fbl\u00e9e\u201d \u2013 the guide"
    wrong = extract_page(
        (FIXTURES / "cp1252-undeclared.html").read_bytes(), PAGE, encoding="utf-8"
    )
    assert "\ufffd" in wrong.links[0].anchor_text  # the argument really is used


@pytest.mark.parametrize(
    ("data", "encoding", "anchor"),
    [
        # http-equiv declaring iso-8859-1: still windows-1252 (WHATWG)
        (
            (
                b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
                b"<a href='/x'>\x93quoted\x94 caf\xe9</a>"
            ),
            None,
            "\u201cquoted\u201d caf\u00e9",
        ),
        (b"<meta charset='utf-8'><a href='/x'>caf\xc3\xa9</a>", None, "caf\u00e9"),
        (
            b"<a href='/x'>caf\xc3\xa9 \xe2\x80\x9cq\xe2\x80\x9d</a>",
            None,
            "caf\u00e9 \u201cq\u201d",
        ),
        (b"<a href='/x'>caf\xe9 \x93q\x94</a>", None, "caf\u00e9 \u201cq\u201d"),  # sniffed
        (b"\xef\xbb\xbf<a href='/x'>caf\xc3\xa9</a>", "cp1252", "caf\u00e9"),  # BOM wins
        ("<a href='/x'>caf\u00e9</a>".encode("utf-16"), None, "caf\u00e9"),
        (b"<a href='/x'>\xa4uro</a>", "iso-8859-15", "\u20acuro"),
        (b"<meta charset='iso-8859-15'><a href='/x'>\xa4uro</a>", None, "\u20acuro"),
        (
            b"<meta charset='koi8-r'><a href='/x'>\xf0\xd2\xc9\xd7\xc5\xd4</a>",
            None,
            "\u041f\u0440\u0438\u0432\u0435\u0442",
        ),
        (b"<meta charset='shift_jis'><a href='/x'>\x82\xa0</a>", None, "\u3042"),
        (b"<meta charset='utf-8'><a href='/x'>caf\xc3\xa9</a>", "x-no-such-charset", "caf\u00e9"),
        (b"<meta charset='no-such'><a href='/x'>caf\xc3\xa9</a>", None, "caf\u00e9"),
        (b"<meta charset='utf-16'><a href='/x'>caf\xc3\xa9</a>", None, "caf\u00e9"),
        (b"<a href='/x'>caf\xc3</a>", None, "caf\u00c3"),  # invalid UTF-8: windows-1252
    ],
)
def test_charsets(data: bytes, encoding: str | None, anchor: str) -> None:
    assert only_link(data, encoding=encoding).anchor_text == anchor


# --------------------------------------------------------------------------- outbound_count


def test_outbound_count() -> None:
    page = extract_page(
        """<a href="https://other.test/">1</a> <a href="https://other.test/2">2</a>
        <a href="/local">same</a> <a href="https://blog.example.com/">subdomain</a>
        <a href="http://www.example.com/">www</a> <a href="mailto:a@other.test">mail</a>
        <a href="http://[bad">bad</a> <a href="https://example.co.uk/">other suffix</a>""",
        "https://www.example.com/page",
    )
    assert outbound_count(page) == 3


# --------------------------------------------------------------------------- performance


def test_five_thousand_links_extract_fast() -> None:
    items = "".join(
        f'<li class="card"><p>Intro sentence number {i}. See <a href="https://site{i % 300}.test/'
        f'page/{i}" rel="nofollow">resource {i}</a> for details, e.g. the specs. End.</p></li>'
        for i in range(5000)
    )
    nav = "".join(f'<li><a href="/n{i}">N{i}</a></li>' for i in range(50))
    html = (
        f"<html><head><title>Big</title></head><body><nav><ul>{nav}</ul></nav>"
        f"<main><ul>{items}</ul></main></body></html>"
    ).encode()
    # CPU time, not wall time: other processes on a loaded machine do not count against it
    started = time.process_time()
    page = extract_page(html, "https://example.com/")
    elapsed = time.process_time() - started
    assert len(page.links) == 5050
    assert outbound_count(page) == 5000
    assert page.links[123].context == "See resource 73 for details, e.g. the specs."
    assert elapsed < 5, elapsed  # about 0.2 s on the development machine


# --------------------------------------------------------------------------- real pages


def _manifest() -> list[dict[str, object]]:
    with (REALPAGES / "manifest.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


MANIFEST = _manifest()


def _lxml_tree(data: bytes) -> lxml.html.HtmlElement:
    """Plain lxml.html parse, as the manifest's; every corpus page is UTF-8."""
    return lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))


def _semantic_ancestor(element: lxml.html.HtmlElement) -> bool:
    return any(a.tag in {"nav", "header", "footer", "aside"} for a in element.iterancestors())


@cache
def _real_page(path: str, url: str) -> tuple[Page, dict[str, int], list[bool]]:
    """Extract one corpus page; also count, with plain lxml, what the manifest counts.

    The manifest counts every ``<a href>`` (``lxml.html``, ``//a[@href]``): blank hrefs
    (which resolve to the page itself) as http links, links inside ``<template>``, and no
    ``<area>``. Extraction skips blank hrefs and template links and keeps ``<area>``s; the
    test compares like with like by adding those back from this plain-lxml count. The
    manifest's ``in_boilerplate`` is "an http link with a nav/header/footer/aside
    ancestor element": the third value gives that flag for each extracted ``<a>`` link.
    """
    data = gzip.decompress((REALPAGES / path).read_bytes())
    page = extract_page(data, url)
    extra = Counter[str]()
    semantic: list[bool] = []
    for element in _lxml_tree(data).iter("a"):
        href = element.get("href")
        if href is None or href.strip().startswith("#"):
            continue
        in_template = any(True for _ in element.iterancestors("template"))
        if href.strip() and not in_template:
            semantic.append(_semantic_ancestor(element))
            continue
        target = resolve_href(href, page.base_url)
        if target is None or not is_http(target):
            extra["non_http"] += 1
            continue
        extra["http_links"] += 1
        extra["outbound"] += is_outbound(target, url)
        extra["rel_nofollow"] += "nofollow" in (element.get("rel") or "").lower().split()
        extra["in_boilerplate"] += _semantic_ancestor(element)
    return page, dict(extra), semantic


def _a_http(page: Page) -> list[Link]:
    return [link for link in page.links if link.tag == "a" and link.url and is_http(link.url)]


@pytest.mark.parametrize(
    "row", MANIFEST, ids=[str(row["path"]).rsplit("/", 1)[-1][:10] for row in MANIFEST]
)
def test_real_page(row: dict[str, object]) -> None:
    page, extra, _ = _real_page(str(row["path"]), str(row["url"]))
    http = _a_http(page)
    # Counts agree exactly once blank hrefs and <template> links are added back
    # (see _real_page); <area> links are left out as the manifest counts <a> only.
    assert len(http) + extra.get("http_links", 0) == row["http_links"]
    outbound = sum(is_outbound(link.url or "", page.url) for link in http)
    assert outbound + extra.get("outbound", 0) == row["outbound"]
    nofollow = sum("nofollow" in link.rel for link in http)
    assert nofollow + extra.get("rel_nofollow", 0) == row["rel_nofollow"]
    non_http = [link for link in page.links if link.tag == "a" and link not in http]
    assert len(non_http) + extra.get("non_http", 0) == row["non_http"]
    assert sum(link.url is None for link in page.links) == row["unparseable_href"]
    assert sum(not link.follow for link in http) >= nofollow
    assert outbound_count(page) >= outbound
    for link in page.links:
        assert len(link.context) <= 300
        if link.anchor_text and len(link.anchor_text) <= 300:
            assert link.anchor_text in link.context
        assert link.anchor_text == " ".join(link.anchor_text.split())
    # The manifest decoded pages without a declared charset as Latin-1; its titles then
    # show UTF-8 mojibake ("Playâ\x80¦and"). Extraction reads them as UTF-8.
    assert page.title is not None
    mojibake = " ".join(page.title.encode("utf-8").decode("latin-1").split())
    assert row["title"] in {page.title, mojibake}


def _names_itself(svg) -> bool:
    hidden = (svg.get("aria-hidden") or "").strip().lower() == "true"
    return not hidden and bool(svg.get("aria-label") or svg.findall("title"))


def test_real_pages_image_links_use_alt_text() -> None:
    """The manifest's img_only_anchor links (http, <img> inside, no text) get the alts."""
    checked = 0
    for row in MANIFEST:
        page, _, _ = _real_page(str(row["path"]), str(row["url"]))
        tree = _lxml_tree(gzip.decompress((REALPAGES / str(row["path"])).read_bytes()))
        mine = Counter((link.href, link.anchor_text) for link in page.links)
        expected = Counter[tuple[str, str]]()
        for element in tree.iter("a"):
            href = element.get("href")
            images = list(element.iter("img"))
            if not href or not href.strip() or not images or element.text_content().strip():
                continue
            if any(True for _ in element.iterancestors("template")):
                continue
            if href.strip().startswith("#"):
                continue
            if any(_names_itself(svg) for svg in element.iter("svg")):
                continue  # an icon's aria-label or <title> is part of the link's name
            alts = " ".join(" ".join((img.get("alt") or "").split()) for img in images)
            expected[(href, " ".join(alts.split()))] += 1
        assert not expected - mine, row["url"]
        checked += expected.total()
    assert checked >= 1400  # the manifest has 1,433 such links (a few are non-http)


def test_real_pages_position_against_the_manifest() -> None:
    """Position vs the manifest's in_boilerplate (semantic elements only).

    Every extracted http <a> link is paired with the manifest's own flag (nav, header,
    footer or aside ancestor). On the 181 pages: 14,906 of 15,393 such links are not
    content here (96.8%); the rest are an article's own header or footer (bylines, tags,
    share buttons), which count as content by design. Links the manifest calls content
    and extraction calls boilerplate come from roles and class/id names (menus, widget
    areas, "footer" divs): 77% of http links are boilerplate here, 63% in the manifest.
    """
    pairs = Counter[tuple[bool, bool]]()
    close = 0
    for row in MANIFEST:
        page, extra, semantic = _real_page(str(row["path"]), str(row["url"]))
        a_links = [link for link in page.links if link.tag == "a"]
        assert len(a_links) == len(semantic), row["url"]
        flags = [
            (flag, link.position is not Position.CONTENT)
            for link, flag in zip(a_links, semantic, strict=True)
            if link.url and is_http(link.url)
        ]
        in_boilerplate = sum(flag for flag, _ in flags) + extra.get("in_boilerplate", 0)
        assert in_boilerplate == row["in_boilerplate"], row["url"]
        pairs.update(flags)
        share = sum(mine for _, mine in flags) / max(len(flags), 1)
        manifest = in_boilerplate / max(int(str(row["http_links"])), 1)
        close += abs(share - manifest) <= 0.25
    semantic_total = pairs[(True, True)] + pairs[(True, False)]
    assert pairs[(True, True)] / semantic_total > 0.95
    boilerplate_share = (pairs[(True, True)] + pairs[(False, True)]) / pairs.total()
    manifest_share = semantic_total / pairs.total()
    assert manifest_share <= boilerplate_share <= manifest_share + 0.2
    # Per page, the shares are within 25 points on 142 of 181 pages; the others are sites
    # marked up with classes only (higher here) and digg.com's teaser <article>s (lower).
    assert close >= 0.75 * len(MANIFEST)


def test_real_pages_article_links_are_content() -> None:
    """Links whose context lies inside the ground-truth article body are content.

    On the 181 pages, 833 of 837 http links whose context (40 characters or more) is a
    substring of the article body are position content (99.5%); the 4 others sit in a
    "related posts" box that the ground truth counted as article text.
    """
    truth = json.loads((REALPAGES / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    positions = Counter[Position]()
    for row in MANIFEST:
        page, _, _ = _real_page(str(row["path"]), str(row["url"]))
        key = str(row["path"]).rsplit("/", 1)[-1].split(".", 1)[0]
        body = " ".join((truth[key]["articleBody"] or "").split())
        for link in _a_http(page):
            if len(link.context) >= 40 and link.context in body:
                positions[link.position] += 1
    assert positions.total() > 500
    assert positions[Position.CONTENT] / positions.total() > 0.95
