"""Href resolution against the WHATWG URL test data, and the site of a URL.

The URL data are web-platform-tests' ``url/resources`` files (BSD-3-Clause) copied into
``tests/data/wpt-url``.
"""

from __future__ import annotations

import json

import pytest

from brokenlinks.parsing.sites import in_domains, is_outbound, site_of, site_of_host
from brokenlinks.parsing.urls import (
    drop_fragment,
    host_of,
    origin_of,
    parse_absolute,
    port_of,
    resolve_href,
)

from .conftest import DATA

WPT_DIR = DATA / "wpt-url"


def _load(name):
    # strings in these files are comments
    return [
        row for row in json.loads((WPT_DIR / name).read_text("utf-8")) if isinstance(row, dict)
    ]


def _is_http_url(url):
    return url.split(":", 1)[0].lower() in {"http", "https"}


def _looks_http(text):
    # what a URL parser sees as the scheme: leading C0 controls and spaces stripped, tabs
    # and newlines removed anywhere
    text = text.lstrip("".join(map(chr, range(0x21))))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    return text.lower().startswith(("http:", "https:"))


def _row_id(index, row):
    return f"{index}:{row['input'][:40]!r}"


URL_ROWS = list(enumerate(_load("urltestdata.json")))
RELATIVE = [(i, r) for i, r in URL_ROWS if r["base"] and _is_http_url(r["base"])]
RELATIVE_OK = [(i, r) for i, r in RELATIVE if not r.get("failure")]
RELATIVE_FAIL = [(i, r) for i, r in RELATIVE if r.get("failure")]
ABSOLUTE_OK = [
    (i, r)
    for i, r in URL_ROWS
    if r["base"] is None and not r.get("failure") and _is_http_url(r["href"])
]
ABSOLUTE_FAIL = [
    (i, r)
    for i, r in URL_ROWS
    if r["base"] is None and r.get("failure") and _looks_http(r["input"])
]
TOASCII = list(enumerate(_load("toascii.json")))


def test_wpt_row_counts():
    # the README's numbers: a changed file or filter must show here, not pass silently
    assert (len(RELATIVE_OK), len(RELATIVE_FAIL)) == (150, 52)
    assert len(ABSOLUTE_OK) == 133
    assert len(ABSOLUTE_FAIL) == 147  # failures whose input is http(s)-like
    assert (len(TOASCII), sum(r["output"] is None for _, r in TOASCII)) == (87, 19)


@pytest.mark.parametrize(("index", "row"), RELATIVE_OK, ids=[_row_id(*x) for x in RELATIVE_OK])
def test_resolve_href_wpt(index, row):
    assert resolve_href(row["input"], row["base"]) == drop_fragment(row["href"])


@pytest.mark.parametrize(("index", "row"), RELATIVE_FAIL, ids=[_row_id(*x) for x in RELATIVE_FAIL])
def test_resolve_href_wpt_failures(index, row):
    assert resolve_href(row["input"], row["base"]) is None


@pytest.mark.parametrize(("index", "row"), ABSOLUTE_OK, ids=[_row_id(*x) for x in ABSOLUTE_OK])
def test_parse_absolute_wpt(index, row):
    assert parse_absolute(row["input"]) == drop_fragment(row["href"])
    assert host_of(parse_absolute(row["input"])) == row["hostname"].strip("[]")


@pytest.mark.parametrize(("index", "row"), ABSOLUTE_OK, ids=[_row_id(*x) for x in ABSOLUTE_OK])
def test_origin_host_port_wpt(index, row):
    # the one parser every module asks for origins, hosts and ports (probes, politeness
    # slots, the browser guard): what wpt expects of new URL(input).origin/.hostname/.port
    url = row["href"]
    if "origin" in row:  # a few rows leave it out
        assert origin_of(url) == row["origin"]
    assert host_of(url) == row["hostname"].strip("[]")
    default = 443 if row["protocol"] == "https:" else 80
    assert port_of(url) == (int(row["port"]) if row["port"] else default)


@pytest.mark.parametrize(("index", "row"), ABSOLUTE_FAIL, ids=[_row_id(*x) for x in ABSOLUTE_FAIL])
def test_parse_absolute_wpt_failures(index, row):
    assert parse_absolute(row["input"]) is None


@pytest.mark.parametrize(("index", "row"), TOASCII, ids=[_row_id(*x) for x in TOASCII])
def test_idn_hosts_wpt_toascii(index, row):
    # wpt url/toascii.window.js: new URL("https://" + input + "/x").host
    url = parse_absolute(f"https://{row['input']}/x")
    if row["output"] is None:
        assert url is None
    else:
        assert url is not None
        assert host_of(url) == row["output"]


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("#top", "https://example.com/a?b#c", "https://example.com/a?b"),
        ("?q=1#x", "https://example.com/a", "https://example.com/a?q=1"),
        ("//cdn.example.net/x", "https://example.com/", "https://cdn.example.net/x"),
        (
            "HTTPS://BÜCHER.example/Ä",
            "https://example.com/",
            "https://xn--bcher-kva.example/%C3%84",
        ),
        ("http://example.com:80/", "https://example.com/", "http://example.com/"),
        ("https://example.com", "https://example.com/", "https://example.com/"),
        ("mailto:a@example.com", "https://example.com/", "mailto:a@example.com"),
        ("javascript:void(0)", "https://example.com/", "javascript:void(0)"),
        ("http://", "https://example.com/", None),
        ("https://#", "https://example.com/", None),
        ("http://[ccpa-preferences]", "https://example.com/", None),
        ("http://Du%20bist%20halle", "https://example.com/", None),
        ("http://0x7f.1/", "https://example.com/", "http://127.0.0.1/"),
        ("http://[::ffff:127.0.0.1]/", "https://example.com/", "http://[::ffff:7f00:1]/"),
    ],
)
def test_resolve_href_cases_seen_on_real_pages(href, base, expected):
    assert resolve_href(href, base) == expected


# ---------------------------------------------------------------------------------------
# sites

# Sites follow the browser's notion (HTML "registrable domain"), which uses the whole
# Public Suffix List, private section included: alice.github.io and bob.github.io are
# different owners, a link between them is outbound, and a site crawl that starts on one
# must not wander into every other github.io, blogspot.com or herokuapp.com site.
# tldextract leaves the private section out by default, so sites.py passes
# include_psl_private_domains=True.


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
        ("blog.example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("www.www.example.com", "example.com"),
        ("example.com.", "example.com"),  # trailing dot
        ("www.example.com.", "example.com"),
        ("example.co.uk", "example.co.uk"),
        ("blog.example.co.uk", "example.co.uk"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("www.co.uk", "www.co.uk"),  # a registrable name under co.uk, www is its label
        ("shop.example.com.au", "example.com.au"),
        ("a.b.c.example.com.au", "example.com.au"),
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # "!city.kawasaki.jp" exception rule
        ("a.b.kawasaki.jp", "a.b.kawasaki.jp"),  # "*.kawasaki.jp" wildcard rule
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),  # IDN, as the URL parser gives it
        ("www.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),  # пример.рф, IDN suffix
        ("shop.xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
        ("foo.wordpress.com", "wordpress.com"),  # not on the PSL at all
        # unknown suffixes: the host itself, without www.
        ("localhost", "localhost"),
        ("www.localhost", "localhost"),
        ("shop.test", "shop.test"),
        ("www.shop.test", "shop.test"),
        ("a.shop.test", "a.shop.test"),
        ("x.invalid", "x.invalid"),
        ("intranet", "intranet"),
        ("127.0.0.1", "127.0.0.1"),
        ("10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("alice.github.io", "alice.github.io"),
        ("www.alice.github.io", "alice.github.io"),
        ("foo.blogspot.com", "foo.blogspot.com"),
        ("user.herokuapp.com", "user.herokuapp.com"),
        ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
        ("a.b.netlify.app", "b.netlify.app"),
        ("github.io", "github.io"),  # a suffix alone is its own site either way
    ],
)
def test_site_of_host(host, site):
    assert site_of_host(host) == site


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://news.bbc.co.uk/sport/", "bbc.co.uk"),
        ("https://EXAMPLE.CO.UK", "example.co.uk"),
        ("https://example.com:8443/x", "example.com"),
        ("https://bücher.de/", "xn--bcher-kva.de"),
        ("https://пример.рф/", "xn--e1afmkfd.xn--p1ai"),
        ("https://www.example.com./", "example.com"),
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),  # the URL parser's IPv4 forms
        ("http://[::1]:8080/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://localhost:8000/", "localhost"),
        ("http://www.shop.test/", "shop.test"),
        ("mailto:someone@example.com", ""),
        ("javascript:void(0)", ""),
        ("data:text/plain,hello", ""),
    ],
)
def test_site_of(url, site):
    assert site_of(url) == site


@pytest.mark.parametrize(
    ("url", "page", "outbound"),
    [
        ("https://other.org/x", "https://www.example.com/", True),
        ("https://shop.example.com/x", "https://www.example.com/", False),
        ("http://example.com/", "https://www.example.com/", False),  # scheme does not matter
        ("https://example.com:8443/", "https://example.com/", False),  # nor the port
        ("https://example.co.uk/", "https://example.com/", True),
        ("https://a.example.co.uk/", "https://b.example.co.uk/", False),
        ("https://example.com./", "https://example.com/", False),
        ("https://bücher.de/", "https://www.xn--bcher-kva.de/", False),
        ("http://127.0.0.1:8001/", "http://127.0.0.1:8000/", False),
        ("http://127.0.0.2/", "http://127.0.0.1/", True),
        ("http://[::1]/", "http://localhost/", True),
        ("http://localhost/", "http://www.localhost/", False),
        ("http://a.shop.test/", "http://www.shop.test/", True),  # unknown suffix: per host
        ("http://shop.test/", "http://www.shop.test/", False),
        ("https://bob.github.io/", "https://alice.github.io/", True),
        ("https://alice.github.io/x", "https://alice.github.io/", False),
    ],
)
def test_is_outbound(url, page, outbound):
    assert is_outbound(url, page) is outbound


DOMAINS = frozenset({"example.com", "xn--bcher-kva.de", "shop.test"})


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://example.com/", True),
        ("https://www.example.com/", True),
        ("https://a.b.example.com/x", True),
        ("https://EXAMPLE.com/", True),
        ("https://example.com:8443/", True),
        ("https://notexample.com/", False),
        ("https://example.com.evil.net/", False),
        ("https://example.co.uk/", False),
        ("https://bücher.de/", True),
        ("https://www.xn--bcher-kva.de/", True),
        ("http://www.shop.test/", True),
        ("http://shop.test.invalid/", False),
        ("mailto:x@example.com", False),
        ("https://example.com./", True),
        ("https://www.example.com./", True),
    ],
)
def test_in_domains(url, inside):
    assert in_domains(url, DOMAINS) is inside


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        # issue 11: browsers, not other link checkers. A special scheme without "//" is
        # relative when it is the base's own scheme (WHATWG "special relative or
        # authority state"), and an authority when it is another special scheme.
        ("http:/ok.test/page", "http://blog.test/guides/p.html", "http://blog.test/ok.test/page"),
        ("HTTP:/ok.test/page", "http://blog.test/guides/p.html", "http://blog.test/ok.test/page"),
        (
            "http:ok.test/page",
            "http://blog.test/guides/p.html",
            "http://blog.test/guides/ok.test/page",
        ),
        ("https:/ok.test/page", "http://blog.test/guides/p.html", "https://ok.test/page"),
        ("http:/ok.test/page", "https://blog.test/a/b", "http://ok.test/page"),
        ("http:///ok.test/page", "http://blog.test/a/b", "http://ok.test/page"),
        ("http:\\\\ok.test\\page", "http://blog.test/a/b", "http://ok.test/page"),
        # ";" cannot be in a scheme: the whole href is a relative path
        (
            "https;//ok.test/page",
            "http://blog.test/guides/p.html",
            "http://blog.test/guides/https;//ok.test/page",
        ),
        (
            "https;//ok.test/page",
            "https://blog.test/a/b",
            "https://blog.test/a/https;//ok.test/page",
        ),
    ],
)
def test_resolve_href_like_browsers(href, base, expected):
    assert resolve_href(href, base) == expected
