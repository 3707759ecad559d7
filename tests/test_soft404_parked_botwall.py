"""Soft 404s, parked pages, bot walls and Retry-After values as tables (pure functions)."""

from __future__ import annotations

import gzip
import ipaddress
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from brokenlinks.checker.checks import origin_of, probe_url
from brokenlinks.downloadermiddlewares.retry import parse_retry_after
from brokenlinks.judge import parked
from brokenlinks.judge.botwall import detect_bot_wall
from brokenlinks.judge.soft404 import (
    PageSignals,
    is_home_path,
    is_locale_code,
    is_redirect_to_home,
    page_signals,
    says_not_found,
    similarity,
    soft404_reason,
)
from brokenlinks.parsing.charsets import decode_html

from .conftest import DATA, PROJECT

# --- not-found titles and headings -----------------------------------------------------


@pytest.mark.parametrize(
    ("title", "headings", "expected"),
    [
        ("Page not found | Greenhouse Supply Co.", (), True),
        ("404 Not Found", (), True),
        ("404 - Page Not Found - Example", (), True),
        ("Error 404: page not found", (), True),
        ("Page Not Found – Acme", (), True),
        ("Not Found", (), True),
        ("404", (), True),
        ("Oops! That page can’t be found. – My Blog", (), True),
        ("My Blog", ("Oops! That page can't be found.",), True),
        ("Shop", ("Sorry, we couldn't find that page",), True),
        ("Shop", ("The page you are looking for does not exist",), True),
        ("Shop", ("This page doesn't exist",), True),
        ("Nothing found | Blog", (), True),
        ("Seite nicht gefunden – Verein", (), True),
        ("Fehler 404 - Seite nicht gefunden", (), True),
        ("Page introuvable | Jardin", (), True),
        ("Cette page n'existe pas", (), True),
        ("Página no encontrada - Huerto", (), True),
        ("Página não encontrada", (), True),
        ("Pagina non trovata", (), True),
        ("Pagina niet gevonden", (), True),
        ("Sidan kunde inte hittas", (), True),
        ("Nie znaleziono strony", (), True),
        ("Stránka nenalezena", (), True),
        ("Sayfa bulunamadı", (), True),
        ("Страница не найдена", (), True),
        ("ページが見つかりません | 園芸", (), True),
        ("页面不存在 - 花园", (), True),
        ("페이지를 찾을 수 없습니다", (), True),
        # look-alikes: pages about 404s, titles that merely contain the words
        ("How to fix 404 errors | WebDev Notes", ("Fixing 404 Not Found errors",), False),
        ("The 404 Club: a band from Leeds", (), False),
        ("Lost and found: gardening tools we recovered", (), False),
        ("Found: the missing page of my grandmother's recipe book", (), False),
        ("Greenhouse heaters | Greenhouse Supply Co.", ("Greenhouse heaters",), False),
        ("Not found in stores: rare heirloom seeds", (), False),
        ("", (), False),
    ],
)
def test_says_not_found(title, headings, expected):
    assert says_not_found(title, headings) is expected


@pytest.mark.parametrize(
    ("url", "home"),
    [
        ("http://a.test/", True),
        ("http://a.test", True),
        ("http://a.test/index.html", True),
        ("http://a.test/index.php", True),
        ("http://a.test/en/", True),
        ("http://a.test/de-de/", True),
        ("http://a.test/home", True),
        ("http://a.test/?utm_source=x", False),
        ("http://a.test/blog/", False),
        ("http://a.test/about.html", False),
        ("http://a.test/en/products/", False),
        ("http://a.test/ok", False),
        ("http://a.test/go/", False),
        ("http://a.test/xx-yy/", False),
        ("http://a.test/us/", True),
        ("http://a.test/pt_BR/index.html", True),
    ],
)
def test_is_home_path(url, home):
    assert is_home_path(url) is home


@pytest.mark.parametrize(
    ("requested", "final", "expected"),
    [
        ("http://a.test/2019/04/post", "http://a.test/", True),
        ("http://a.test/old", "https://www.a.test/", True),
        # another site's home: shorteners, affiliate and tracking links
        ("http://old.test/page", "https://new.test/", False),
        ("https://bit.ly/3xYz", "https://example.com/", False),
        ("http://blog.test/recommends/seeds", "https://seeds.test/", False),
        ("http://a.test/", "https://a.test/", False),
        ("http://a.test/index.html", "http://a.test/", False),
        ("http://a.test/old", "http://a.test/new", False),
        ("http://a.test/old", "http://a.test/?p=1", False),
    ],
)
def test_is_redirect_to_home(requested, final, expected):
    assert is_redirect_to_home(requested, final) is expected


@pytest.mark.parametrize(
    ("requested", "final", "home", "expected"),
    [
        # a language home counts only where the site's / leads there (issue 11)
        ("http://a.test/old", "http://a.test/en/", "http://a.test/en/", True),
        ("http://a.test/old", "http://a.test/de-at/", "http://a.test/de-at/", True),
        ("http://a.test/old", "http://a.test/en/", None, False),
        ("http://a.test/old", "http://a.test/en/", "http://a.test/", False),
        ("http://a.test/old", "http://a.test/fr/", "http://a.test/en/", False),
        # two letters that are no language or region code: an ordinary page
        ("http://a.test/deep/old", "http://a.test/ok", "http://a.test/ok", False),
        ("http://a.test/deep/old", "http://a.test/go/", "http://a.test/go/", False),
        # real region codes, but / does not lead there: pages like any other
        ("http://a.test/deep/old", "http://a.test/tv", "http://a.test/", False),
        ("http://a.test/deep/old", "http://a.test/us/", None, False),
    ],
)
def test_is_redirect_to_language_home(requested, final, home, expected):
    assert is_redirect_to_home(requested, final, home) is expected


TEMPLATE = (
    "<title>Shop</title><main><h2>Nothing here</h2>"
    "<p>We looked everywhere for {path} but it is not on this site. Try the archive.</p></main>"
)


HOME = "Welcome to the shop. We sell seeds, tools and greenhouse supplies since 1987."
SHELL = (
    '<title>Recipes</title><div id="root"></div><noscript>You need to enable JavaScript'
    ' to run this app.</noscript><script src="/static/js/main.js"></script>'
)


def signals(path, html=TEMPLATE, *, redirected=False, host="shop.test"):
    return page_signals(
        html.replace("{path}", path), f"http://{host}{path}", redirected=redirected
    )


@pytest.mark.parametrize(
    ("requested", "answer", "probe", "why"),
    [
        # the host's template for unknown URLs, path echoed
        ("http://shop.test/old", signals("/old"), signals("/zq7x-probe"), "cannot exist"),
        # the home page served for every unknown path
        (
            "http://shop.test/gone",
            signals("/gone", f"<title>Shop</title><p>{HOME}</p>"),
            signals("/zq7x", f"<title>Shop</title><p>{HOME}</p>"),
            "cannot exist",
        ),
        # a single-page app's shell: the same empty page for every URL proves nothing
        (
            "http://spa.test/recipes/soup",
            signals("/recipes/soup", SHELL),
            signals("/zq7x", SHELL),
            None,
        ),
        # a real page of that host: other title, other text
        (
            "http://shop.test/heaters",
            signals("/heaters", "<title>Heaters | Shop</title><p>Paraffin heaters.</p>"),
            signals("/zq7x"),
            None,
        ),
        # a short page on a host whose not-found page is short too
        (
            "http://shop.test/hours",
            signals("/hours", "<title>Hours | Shop</title><p>9-5.</p>"),
            signals("/zq7x", "<title>Shop</title><p>No.</p>"),
            None,
        ),
        # same title, different text (a catalogue with one template title)
        (
            "http://shop.test/p/1",
            signals("/p/1", "<title>Shop</title><p>" + "Red tomato seeds, 50 per pack. " * 5),
            signals("/zq7x", "<title>Shop</title><p>Welcome to the shop. Browse all seeds.</p>"),
            None,
        ),
        # home pages are never soft 404s, even when identical to the probe
        ("http://shop.test/", signals("/"), signals("/zq7x"), None),
        # deep URL redirected home
        (
            "http://shop.test/2019/post",
            signals("/", "<title>Shop</title>", redirected=True),
            None,
            "home page",
        ),
        # redirected where the probe lands too (a search page), query ignored
        (
            "http://shop.test/articles/old",
            page_signals(
                "<title>Search</title>", "http://shop.test/search?q=old", redirected=True
            ),
            page_signals("<title>Search</title>", "http://shop.test/search?q=zq", redirected=True),
            "land too",
        ),
        # ... but not when the probe was not redirected there
        (
            "http://shop.test/articles/old",
            page_signals(
                "<title>Search</title><p>Results for old</p>",
                "http://shop.test/search?q=old",
                redirected=True,
            ),
            signals("/zq7x"),
            None,
        ),
        # the landing page linked directly
        (
            "http://shop.test/search?q=tomatoes",
            page_signals("<title>Search</title>", "http://shop.test/search?q=tomatoes"),
            page_signals("<title>Search</title>", "http://shop.test/search?q=zq", redirected=True),
            None,
        ),
        # a not-found title needs no probe
        (
            "http://shop.test/x",
            signals("/x", "<title>404 Not Found</title>"),
            None,
            "says not found",
        ),
        # a page that mentions 404 in its text is alive
        (
            "http://shop.test/blog/404s",
            signals("/blog/404s", "<title>Why 404s hurt SEO</title><p>A 404 page not found.</p>"),
            signals("/zq7x"),
            None,
        ),
        # no probe answer (an honest host): only the page's own words count
        ("http://shop.test/page", signals("/page", "<title>Page</title>"), None, None),
    ],
)
def test_soft404_reason(requested, answer, probe, why):
    got = soft404_reason(requested, answer, probe)
    if why is None:
        assert got is None
    else:
        assert got is not None
        assert why in got


def test_page_signals_reads_main_text_and_survives_junk():
    s = page_signals(
        "<?xml version='1.0' encoding='utf-8'?><html><head><title>T</title>"
        "<script>var x = 'script words';</script></head><body><nav>Menu words</nav>"
        "<p>Body words</p><footer>Footer words</footer></body></html>",
        "http://a.test/",
    )
    assert s.words == ("body", "words")
    assert "Menu words" in s.text
    assert "script" not in s.text
    assert page_signals("", "http://a.test/") == PageSignals(url="http://a.test/")
    assert page_signals("\x00\x01", "http://a.test/").title == ""


def test_similarity_ignores_the_urls_own_words():
    a = signals("/old-greenhouse-guide")
    b = signals("/zq7x-probe")
    assert similarity(a, b) == 1.0
    c = signals("/x", "<p>Something else entirely, a real article about heaters.</p>")
    assert similarity(a, c) < 0.5


# --- parked pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "html", "service"),
    [
        ("x.test", "", "var c = {sedoParkingUrl:dto.sedoParkingUrl};", "Sedo"),
        ("x.test", "", '<div id="FOOTER_DOMAIN_PARKING">', "Sedo"),
        (
            "x.test",
            "The Sponsored Listings displayed above are served automatically by a third party.",
            "",
            "ParkingCrew",
        ),
        ("x.test", "Inquire about this domain", "", "ParkingCrew"),
        (
            "",
            "There are millions of other domains available on DAN.COM. You can probably find",
            "",
            "dan.com",
        ),
        ("", "This Web page is parked FREE, courtesy of GoDaddy.com.", "", "GoDaddy"),
        ("x.test - This domain may be for sale!", "", "", "GoDaddy"),
        ("", "", '<script>window.onload=function(){window.location.href="/lander"}', "lander"),
        ("", "This domain is parked free of charge with NameSilo.com", "", "NameSilo"),
        ("", "This site is parked with DreamHost", "", "DreamHost"),
        ("Domain parked by Instra", "", "", "Instra"),
        ("easyname | Domain geparkt", "", "", "easyname"),
        ("Domain Parked", "", "", "generic"),
        ("", "This domain is registered and parked.", "", "generic"),
        ("", "", '<script src="//www.google.com/adsense/domains/caf.js"></script>', "AdSense"),
        ("", "", '<a href="https://www.hugedomains.com/domain_profile.cfm?d=x">', "HugeDomains"),
        ("", "", '<a href="https://www.afternic.com/forsale/x.test">', "Afternic"),
    ],
)
def test_parked_markers(title, text, html, service):
    match = parked.parked_by_markup(title, text, html)
    assert match is not None
    assert service in match.service
    assert match.source


@pytest.mark.parametrize(
    ("title", "text", "html"),
    [
        (
            "Domain parking: earn from your unused domains | ParkingCo",
            (
                "Point your name servers to us and we show a lander with ads and a buy this "
                "domain button. List your domains for sale in our marketplace."
            ),
            "",
        ),
        ("Sedo - Buy and Sell Domains", "The domain marketplace. Park your domains.", ""),
        ("Our new garden", "We bought this domain last year and parked the car.", ""),
        ("Blog", "", '<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'),
        ("Ads", "", '<script src="https://pagead2.googlesyndication.com/adsbygoogle.js">'),
    ],
)
def test_not_parked(title, text, html):
    assert parked.parked_by_markup(title, text, html) is None


@pytest.mark.parametrize(
    ("source", "target", "service"),
    [
        (
            "http://a.test/x",
            "https://www.hugedomains.com/domain_profile.cfm?d=a.test",
            "HugeDomains",
        ),
        ("http://a.test/", "https://www.afternic.com/forsale/a.test", "Afternic"),
        ("http://a.test/", "https://sedo.com/search/details/?domain=a.test", "Sedo"),
        ("http://a.test/", "https://dan.com/buy-domain/a.test", "dan.com"),
        ("http://a.test/", "https://www.godaddy.com/forsale/a.test", "GoDaddy"),
        ("http://a.test/", "https://www.godaddy.com/help/x", None),
        ("http://a.test/", "https://www.sedo.community/", None),
        ("http://sedo.com/", "https://sedo.com/us/", None),  # the marketplace's own redirect
        ("http://a.test/", "http://b.test/", None),
    ],
)
def test_parked_by_redirect(source, target, service):
    match = parked.parked_by_redirect(source, target)
    assert (match.service if match else None) == service


@pytest.mark.parametrize(
    ("address", "service"),
    [
        ("91.195.240.12", "Sedo"),
        ("64.190.63.1", "Sedo"),
        ("199.59.243.220", "BODIS"),
        ("185.53.179.7", "ParkingCrew"),
        ("103.224.182.250", "Above"),
        ("34.102.136.180", "GoDaddy Parking"),
        ("::ffff:91.195.240.12", "Sedo"),
        ("2a05:d014:9da:8c10:306e:3e07:a16f:a552", "dan.com"),
        ("127.0.0.1", None),
        ("8.8.8.8", None),
        ("192.185.0.218", None),  # a placeholder page on a shared host: left out
        ("not an address", None),
        ("", None),
    ],
)
def test_parked_by_address(address, service):
    match = parked.parked_by_address(address)
    assert (match.service if match else None) == service


def test_parking_data_covers_the_corpus_with_sources():
    data = json.loads((PROJECT / "brokenlinks" / "data" / "parking.json").read_text("utf-8"))
    fingerprints = parked.load_fingerprints(data)
    assert len(fingerprints.markers) >= 30
    assert len(fingerprints.marketplaces) >= 15
    for section in ("markers", "marketplaces", "networks"):
        for entry in data[section]:
            assert entry["source"].split(":")[0] in data["_sources"], entry
    corpus = json.loads(
        (DATA / "parking" / "zirngibl2022_parking_services.json").read_text("utf-8")
    )
    ours = {(e["source"], ipaddress.ip_network(e["network"])) for e in data["networks"]}
    want = {
        (f"zirngibl2022:{key}", ipaddress.ip_network(net))
        for key, service in corpus.items()
        if service["type"] != "placeholder"
        for kind in ("a", "aaaa")
        for net in service["record_types"].get(kind, [])
        if isinstance(net, str)
    }
    assert ours == want
    services = {e["service"] for e in data["markers"]} | {
        e["service"] for e in data["marketplaces"]
    }
    for name in ("Sedo", "BODIS", "ParkingCrew", "Above", "dan.com", "Afternic", "HugeDomains"):
        assert any(name.lower() in s.lower() for s in services), name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "markers": [
                    {"service": "X", "in": "text", "pattern": "(", "regex": True, "source": "s"}
                ]
            },
            "bad regex",
        ),
        ({"markers": [{"service": "X", "in": "text", "pattern": "", "source": "s"}]}, "'pattern'"),
        (
            {"networks": [{"service": "X", "network": "300.1.1.0/24", "source": "s"}]},
            "networks[0]",
        ),
        ({"marketplaces": [{"service": "X", "host": "x.test"}]}, "'source'"),
        (
            {
                "_sources": {"a": "doc"},
                "markers": [{"service": "X", "in": "text", "pattern": "p", "source": "b"}],
            },
            "not in _sources",
        ),
    ],
)
def test_parking_data_errors_name_the_entry(data, message):
    with pytest.raises(ValueError, match="parking data") as info:
        parked.load_fingerprints(data)
    assert message in str(info.value)


# --- bot walls -------------------------------------------------------------------------

CF_CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<script>window._cf_chl_opt={cvId: '3'};</script></body></html>"
)


@pytest.mark.parametrize(
    ("status", "headers", "markup", "wall"),
    [
        (403, {"cf-mitigated": "challenge", "server": "cloudflare"}, "", "Cloudflare challenge"),
        (503, {"server": "cloudflare"}, CF_CHALLENGE, "Cloudflare challenge"),
        (200, {}, CF_CHALLENGE, "Cloudflare challenge"),
        (
            403,
            {"server": "cloudflare"},
            "<title>Attention Required! | Cloudflare</title>",
            "Cloudflare challenge",
        ),
        (
            403,
            {"server": "cloudflare"},
            "<h1>Sorry, you have been blocked</h1>",
            "Cloudflare block",
        ),
        (429, {"x-vercel-mitigated": "challenge"}, "", "Vercel challenge"),
        (202, {"x-amzn-waf-action": "challenge"}, "", "AWS WAF challenge"),
        (403, {"x-sucuri-block": "1"}, "", "Sucuri firewall"),
        (
            200,
            {"server": "ddos-guard"},
            "<h1>Checking your browser before accessing</h1>",
            "DDoS-Guard",
        ),
        (403, {}, "<iframe src='/_Incapsula_Resource?x=1'>", "Imperva Incapsula"),
        (403, {}, "<script src='https://ct.captcha-delivery.com/c.js'>", "DataDome captcha"),
        (403, {}, '<div id="px-captcha"></div>', "PerimeterX captcha"),
        (
            403,
            {"server": "AkamaiGHost"},
            "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\nReference&#32;#18.1",
            "Akamai access denied",
        ),
        (503, {}, "<title>Checking your browser - example.com</title>", "browser check"),
        # live pages with the same services' ordinary scripts and headers
        (
            200,
            {"server": "cloudflare", "cf-ray": "8f1d"},
            '<title>Shop</title><script src="/cdn-cgi/challenge-platform/h/b/scripts/jsd/main.js">',
            None,
        ),
        (
            200,
            {"server": "cloudflare"},
            "<title>Just a moment of calm: a garden blog</title>",
            None,
        ),
        (200, {}, "<script src='https://js.datadome.co/tags.js'></script>", None),
        (200, {}, "<p>How we protect against DDoS-Guard and Cloudflare bots.</p>", None),
        (404, {"server": "cloudflare"}, "<title>Not found</title>", None),
        (403, {}, "", None),
    ],
)
def test_detect_bot_wall(status, headers, markup, wall):
    assert detect_bot_wall(status, headers, markup) == wall


# --- Retry-After, origins and probes ---------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        (" 120 ", 120.0),
        ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
        ("Wednesday, 25-Nov-26 12:01:00 GMT", 60.0),  # RFC 850, obsolete but allowed
        ("Wed Nov 25 12:00:10 2026", 10.0),  # asctime
        ("Tue, 24 Nov 2026 12:00:00 GMT", 0.0),  # in the past: at once
        (
            "Fri, 31 Dec 2100 23:59:59 GMT",
            (datetime(2101, 1, 1, tzinfo=UTC) - NOW).total_seconds() - 1,
        ),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("٣", None),  # a non-ASCII digit
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://a.test/x", "http://a.test"),
        ("HTTPS://A.Test:8443/x?y#z", "https://a.test:8443"),
        ("http://user:pw@a.test/x", "http://a.test"),
        ("http://a.test?q", "http://a.test"),
        # one host, one origin, whatever the link's spelling: one probe, one slot
        ("http://u:p@x.test:80/", "http://x.test"),
        ("https://x.test:443/a", "https://x.test"),
        ("http://x.test:0443/", "http://x.test:443"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
    ],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_probe_urls_are_random():
    first, second = probe_url("http://a.test"), probe_url("http://a.test")
    assert first != second
    assert first.startswith("http://a.test/")
    assert "-brokenlinks-probe-" in first


# --- real pages: none of 181 live pages is a not-found page, a lander or a bot wall ----


def test_real_live_pages_raise_no_flag():
    root = DATA / "realpages"
    flagged = []
    count = 0
    with (root / "manifest.jsonl").open(encoding="utf-8") as manifest:
        for line in manifest:
            meta = json.loads(line)
            raw = (root / meta["path"]).read_bytes()
            if meta.get("gzip"):
                raw = gzip.decompress(raw)
            html = decode_html(raw, meta.get("declared_charset")).text
            page = page_signals(html, meta["url"])
            count += 1
            assert page.title or page.words, meta["url"]
            if says_not_found(page.title, page.headings):
                flagged.append(("not found", meta["url"], page.title))
            if (match := parked.parked_by_markup(page.title, page.text, html)) is not None:
                flagged.append(("parked", meta["url"], match.detail))
            walls = {detect_bot_wall(status, {}, html) for status in (200, 403, 503)}
            flagged.extend(("bot wall", meta["url"], wall) for wall in walls - {None})
    assert count == 181
    assert not flagged


@pytest.mark.e2e
def test_language_and_region_codes_come_from_the_bundled_table():
    # the ISO lists are a 4 KB table copied from pycountry (Debian's iso-codes), not the
    # 23 MB package itself
    table = json.loads((PROJECT / "brokenlinks" / "data" / "iso_codes.json").read_text("utf-8"))
    assert "LGPL-2.1" in table["_source"]
    assert (len(table["languages"]), len(table["regions"])) == (184, 249)
    for code in (*table["languages"], *table["regions"]):
        assert len(code) == 2
        assert code.isascii()
        assert code.islower()
    assert {"en", "de", "pt", "zh"} <= set(table["languages"])
    assert {"us", "gb", "at", "br"} <= set(table["regions"])
    assert is_locale_code("pt", "br")
    assert not is_locale_code("ok")
    probe = "import sys, brokenlinks.judge.soft404 as s; s.is_locale_code('en'); print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT
    ).stdout
    assert "'pycountry'" not in loaded
