"""Tables for the site crawl's URL policy, the site arguments and the rendering helpers."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.params import ArgumentError, BacklinksParams, SiteParams
from brokenlinks.parsing.siteurls import (
    TrapLimits,
    calendar_year,
    canonical_url,
    split_list,
    trap_reason,
)
from brokenlinks.render.browser import (
    PLAYWRIGHT_HANDLER,
    BrowserGuard,
    browser_refusal,
    check_browser_settings,
    configure_rendering,
    egress_args,
    launch_options,
)
from brokenlinks.render.detect import looks_client_rendered

TRACKING = split_list(BrokenlinksConfig().site_tracking_params)
INDEX = split_list(BrokenlinksConfig().site_index_pages)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://garden.test/", "http://garden.test/"),
        ("HTTP://GARDEN.TEST:80/about.html", "http://garden.test/about.html"),
        ("https://garden.test:443/", "https://garden.test/"),
        ("https://garden.test:8443/", "https://garden.test:8443/"),
        ("http://garden.test/a#section", "http://garden.test/a"),
        ("http://garden.test/a?", "http://garden.test/a"),
        ("http://garden.test/a?utm_source=x&utm_medium=y", "http://garden.test/a"),
        ("http://garden.test/a?UTM_Source=x&id=3", "http://garden.test/a?id=3"),
        ("http://garden.test/a?id=3&fbclid=z&page=2", "http://garden.test/a?id=3&page=2"),
        ("http://garden.test/a?gclid=1&msclkid=2&_ga=3", "http://garden.test/a"),
        ("http://garden.test/a?b=1&a=2", "http://garden.test/a?b=1&a=2"),
        ("http://garden.test/a?utm=keep", "http://garden.test/a?utm=keep"),
        ("http://garden.test/guides/index.html", "http://garden.test/guides/"),
        ("http://garden.test/Index.HTML", "http://garden.test/"),
        ("http://garden.test/default.aspx?x=1", "http://garden.test/?x=1"),
        ("http://garden.test/index.html/more", "http://garden.test/index.html/more"),
        ("http://garden.test/my-index.html", "http://garden.test/my-index.html"),
        ("http://garden.test/A/B", "http://garden.test/A/B"),
        ("http://garden.test/a/../b/./c", "http://garden.test/b/c"),
        ("http://bücher.test/", "http://xn--bcher-kva.test/"),
        ("http://[oops", None),
        ("/relative", None),
    ],
)
def test_canonical_url(url, expected):
    assert canonical_url(url, tracking=TRACKING, index_pages=INDEX) == expected


def test_canonical_url_without_patterns_keeps_parameters():
    assert canonical_url("http://g.test/index.html?utm_source=x") == (
        "http://g.test/index.html?utm_source=x"
    )


@pytest.mark.parametrize(
    ("url", "year"),
    [
        ("http://g.test/calendar/2031/", 2031),
        ("http://g.test/calendar/2031/05/", 2031),
        ("http://g.test/calendar/2031/05/17", 2031),
        ("http://g.test/events/2031-05-17", 2031),
        ("http://g.test/events?month=2031-05", 2031),
        ("http://g.test/events?year=1999", 1999),
        ("http://g.test/events?date=2031", 2031),
        ("http://g.test/2015/05/my-post", None),
        ("http://g.test/item?id=2031", None),
        ("http://g.test/products/12345/", None),
        ("http://g.test/calendar/0999/", None),
        ("http://g.test/", None),
    ],
)
def test_calendar_year(url, year):
    assert calendar_year(url) == year


@pytest.mark.parametrize(
    ("url", "limits", "reason"),
    [
        ("http://g.test/guides/seeds.html", TrapLimits(), None),
        ("http://g.test/" + "a" * 520, TrapLimits(), "url_length"),
        ("http://g.test/" + "a" * 520, TrapLimits(max_url_length=0), None),
        ("http://g.test/guides/guides/", TrapLimits(), None),
        ("http://g.test/guides/guides/guides/", TrapLimits(), "repeated_segments"),
        ("http://g.test/a/b/a/b/a/", TrapLimits(), "repeated_segments"),
        ("http://g.test/a/b/a/b/a/", TrapLimits(max_repeated_segments=0), None),
        ("http://g.test/calendar/2029/", TrapLimits(), None),
        ("http://g.test/calendar/2030/", TrapLimits(), "calendar"),
        ("http://g.test/calendar/2022/", TrapLimits(), "calendar"),
        ("http://g.test/calendar/2030/", TrapLimits(calendar_years=0), None),
        ("http://g.test/events?month=2040-01", TrapLimits(), "calendar"),
        ("http://g.test/2001/01/an-old-post", TrapLimits(), None),
    ],
)
def test_trap_reason(url, limits, reason):
    assert trap_reason(url, limits, this_year=2026) == reason


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<div id="root"></div><script src="/app.js"></script>', True),
        ('<div id="__next"></div><script>boot()</script>', True),
        ('<app-root></app-root><script src="main.js"></script>', True),  # no link, no text
        ('<div ng-app="x"></div><a href="/a">a</a><script></script>', True),
        ('<div id="app">  </div><a href="/1">1</a><a href="/2">2</a><script></script>', True),
        # an empty mount point, whatever else the page holds (issue 11)
        (
            '<div id="app"></div>'
            + "".join(f'<a href="/{n}">{n}</a>' for n in range(4))
            + "<script></script>",
            True,
        ),
        # ... but "main" is a common name: only on a page with few links
        (
            '<div id="main"></div>'
            + "".join(f'<a href="/{n}">{n}</a>' for n in range(4))
            + "<script></script>",
            False,
        ),
        ('<p>Hi</p><noscript><a href="/a">a</a></noscript><script></script>', True),
        ("<p>Loading…</p><script src='/x.js'></script>", True),
        ("<p>" + "Words. " * 50 + "</p><script src='/x.js'></script>", False),
        ('<div id="root"><a href="/a">a</a></div><script></script>', False),
        ('<div id="root"></div>', False),  # no script: nothing would fill it
        ('<div id="root"></div><script type="application/ld+json">{}</script>', False),
        ('<main><a href="/a">a</a></main><script>track()</script>', False),
        ("", False),
    ],
)
def test_looks_client_rendered(html, expected):
    assert looks_client_rendered(html) is expected


_LINKS = "".join(f'<a href="/page-{n}">page {n}</a>' for n in range(5))
_DATA = ", ".join(f'{{"title": "t{n}", "url": "https://other.test/{n}"}}' for n in range(3))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # inline data with link-like URLs that are no links, and a script filling an
        # empty element with them
        (
            (
                f'<ul id="more"></ul>{_LINKS}<script>var d = [{_DATA}];'
                'd.forEach(x => document.getElementById("more").append(x.url))</script>'
            ),
            True,
        ),
        (
            (
                f'<div class="cards"></div>{_LINKS}<script>var d = [{_DATA}];'
                '$(".cards").html(d)</script>'
            ),
            True,
        ),
        # the same data in a JSON blob, read by a script that fills the element
        (
            (
                f'<div class="cards"></div>{_LINKS}<script type="application/json" id="d">'
                f'[{_DATA}]</script><script>document.querySelector(".cards").append(1)</script>'
            ),
            True,
        ),
        # JSON from the page's own site, into an empty element: no longer sure (a text-only
        # widget does that too), so "uncertain": its site decides (test_render_signal)
        (
            (
                f'<ol id="list"></ol>{_LINKS}<script>fetch("/api/list").then(r => r.json())'
                '.then(d => document.getElementById("list").append(d))</script>'
            ),
            False,
        ),
        # JSON from another site (a widget's own API): not the page's content
        (
            (
                f'<ol id="list"></ol>{_LINKS}<script>fetch("https://widgets.other.test/feed.json")'
                '.then(d => document.getElementById("list").append(d))</script>'
            ),
            False,
        ),
        # the URLs are links of the page already
        (
            (
                f'<ul id="more"></ul><a href="https://other.test/0">0</a><a href="https://other.test/1">'
                f'1</a><a href="https://other.test/2">2</a><script>var d = [{_DATA}];'
                'd.forEach(x => document.getElementById("more").append(x.url))</script>'
            ),
            False,
        ),
        # data without a script that fills an empty element (analytics, settings)
        (
            (
                f'<ul id="more"><li>x</li></ul>{_LINKS}<script>var d = [{_DATA}];'
                'document.getElementById("more").dataset.n = d.length</script>'
            ),
            False,
        ),
        # endpoints and asset folders are no links
        (
            (
                f'<ul id="more"></ul>{_LINKS}<script>var c = {{"url": "/wp-admin/admin-ajax.php",'
                ' "href": "https://s.test/images/emoji/", "link": "https://s.test/app.js"};'
                'document.getElementById("more").append(c)</script>'
            ),
            False,
        ),
        # fewer than three URLs
        (
            (
                f'<ul id="more"></ul>{_LINKS}<script>var d = [{{"url": "https://other.test/0"}}];'
                'document.getElementById("more").append(d)</script>'
            ),
            False,
        ),
        # structured data names the page's own URLs
        (
            (
                f'<ul id="more"></ul>{_LINKS}<script type="application/ld+json">[{_DATA}]</script>'
                '<script>document.getElementById("more").append(1)</script>'
            ),
            False,
        ),
    ],
)
def test_script_inserted_links_on_server_rendered_pages(html, expected):
    assert looks_client_rendered(html, "https://shop.test/guide") is expected
    # without the page's URL only the URL-free rules apply
    assert looks_client_rendered(html) is False


RESOLVE = BrokenlinksConfig(resolve={"*.test": "127.0.0.1:8080", "intranet.example": "10.0.0.5"})


@pytest.mark.parametrize(
    ("url", "config", "addresses", "reason"),
    [
        ("http://js.test/app.js", RESOLVE, None, None),
        ("http://intranet.example/x", RESOLVE, None, None),  # mapped: trusted, as in the crawler
        ("http://169.254.169.254/latest/", RESOLVE, None, "link-local"),
        ("http://10.0.0.1/pixel.gif", RESOLVE, None, "private"),
        ("http://127.0.0.1:9/", RESOLVE, None, "loopback"),
        ("http://[::1]:8080/", RESOLVE, None, "loopback"),
        ("http://[::ffff:7f00:1]/", RESOLVE, None, "loopback"),
        ("http://100.100.100.200/", RESOLVE, None, "shared address space"),
        ("http://93.184.216.34/", RESOLVE, None, None),
        ("http://cdn.example/x.js", RESOLVE, ["93.184.216.34"], None),
        ("http://evil.example/", RESOLVE, ["93.184.216.34", "192.168.1.1"], "private"),
        ("http://gone.invalid/", RESOLVE, None, "invalid name"),
        ("file:///etc/passwd", RESOLVE, None, "scheme file"),
        ("ftp://ftp.example/", RESOLVE, None, "scheme ftp"),
        ("data:image/png;base64,AAAA", RESOLVE, None, None),
        ("ws://10.0.0.1/socket", RESOLVE, None, "private"),
        ("http://10.0.0.1/", BrokenlinksConfig(allow_private_addresses=True), None, None),
    ],
)
def test_browser_refusal(url, config, addresses, reason):
    assert browser_refusal(url, config, addresses) == reason


def test_browser_guard_looks_up_only_unmapped_names():
    guard = BrowserGuard(RESOLVE, None)
    assert guard._needs_lookup("http://cdn.example/x.js")
    assert not guard._needs_lookup("http://js.test/x.js")
    assert not guard._needs_lookup("http://10.0.0.1/")
    assert not guard._needs_lookup("data:,x")
    assert not BrowserGuard(BrokenlinksConfig(allow_private_addresses=True), None)._needs_lookup(
        "http://cdn.example/"
    )


def test_launch_options_keep_the_users_and_add_ours(tmp_path):
    browser = tmp_path / "chrome"
    browser.write_text("")
    config = BrokenlinksConfig(render_browser_path=str(browser), resolve={"*.test": "127.0.0.1:1"})
    proxy = "http://127.0.0.1:9"
    options = launch_options(config, {"headless": False, "args": ["--lang=de"]}, proxy)
    assert options == {
        "headless": False,
        "args": ["--lang=de", *egress_args(proxy)],
        "executable_path": str(browser),
    }
    given = launch_options(config, {"executable_path": "/elsewhere"}, proxy)
    assert given["executable_path"] == "/elsewhere"
    assert launch_options(BrokenlinksConfig(), {}, proxy)["args"] == egress_args(proxy)


def test_launch_options_drop_every_other_way_out():
    given = {
        "proxy": {"server": "http://elsewhere:3128"},
        "args": [
            "--proxy-server=socks5://elsewhere",
            "--no-proxy-server",
            "--proxy-bypass-list=*",
            "--host-resolver-rules=MAP * 10.0.0.1",
            "--proxy-pac-url=http://x/p.pac",
            "--lang=de",
        ],
    }
    options = launch_options(BrokenlinksConfig(), given, "http://127.0.0.1:9")
    assert "proxy" not in options
    assert options["args"] == ["--lang=de", *egress_args("http://127.0.0.1:9")]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"PLAYWRIGHT_CDP_URL": "http://10.0.0.1:9222"}, "PLAYWRIGHT_CDP_URL: a browser"),
        ({"PLAYWRIGHT_CONNECT_URL": "ws://10.0.0.1:3000"}, "PLAYWRIGHT_CONNECT_URL: a browser"),
        (
            {"PLAYWRIGHT_CONTEXTS": {"c": {"proxy": {"server": "http://x:1"}}}},
            "context 'c' sets a proxy",
        ),
    ],
)
def test_browser_settings_that_bypass_the_guard_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        check_browser_settings(Settings(settings))
    check_browser_settings(Settings({"PLAYWRIGHT_CONTEXTS": {"c": {"locale": "de"}}}))


@pytest.mark.parametrize("mode", ["auto", "always"])
def test_configure_rendering_installs_the_handler(mode):
    settings = Settings(
        {"BROKENLINKS_RESOLVE": {"*.test": "127.0.0.1:1"}, "DOWNLOAD_HANDLERS": {"ftp": None}}
    )
    configure_rendering(settings, mode, None)
    handlers = settings.getdict("DOWNLOAD_HANDLERS")
    assert handlers == {"ftp": None, "http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER}
    assert isinstance(settings["PLAYWRIGHT_ABORT_REQUEST"], BrowserGuard)
    # the guard's launch options are merged where the browser is launched (the handler),
    # not written as a setting that a higher priority would replace
    assert not settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")


def test_configure_rendering_never_changes_nothing():
    settings = Settings({"DOWNLOAD_HANDLERS": {"ftp": None}})
    configure_rendering(settings, "never", None)
    assert settings.getdict("DOWNLOAD_HANDLERS") == {"ftp": None}
    assert not settings.get("PLAYWRIGHT_ABORT_REQUEST")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"start": "http://garden.test"}, SiteParams(start=("http://garden.test/",))),
        (
            {
                "start": "http://a.test/, http://b.test/x,http://a.test/",
                "depth": "2",
                "max_pages": "50",
            },
            SiteParams(start=("http://a.test/", "http://b.test/x"), depth=2, max_pages=50),
        ),
        (
            {"start": "http://a.test/", "render": "NEVER", "_job": "1"},
            SiteParams(start=("http://a.test/",), render="never"),
        ),
        (
            {"start": "http://a.test/", "depth": "0"},
            SiteParams(start=("http://a.test/",), depth=0),
        ),
    ],
)
def test_site_params(kwargs, expected):
    assert SiteParams.from_kwargs(kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "site: missing argument start"),
        ({"start": " , "}, "start: empty value"),
        ({"start": "ftp://a.test/"}, "start: 'ftp://a.test/' is not an absolute http(s) URL"),
        ({"start": "http://a.test/", "depth": "x"}, "depth: 'x' is not a whole number >= 0"),
        (
            {"start": "http://a.test/", "max_pages": "0"},
            "max_pages: '0' is not a whole number >= 1",
        ),
        ({"start": "http://a.test/", "render": "sometimes"}, "render: 'sometimes' is not one of"),
        ({"start": "http://a.test/", "seeds": "x"}, "site: unknown argument(s) 'seeds'"),
    ],
)
def test_site_params_errors(kwargs, message):
    with pytest.raises(ArgumentError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        SiteParams.from_kwargs(kwargs)


def test_backlinks_render_argument(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("http://a.test/\n")
    assert BacklinksParams.from_kwargs({"seeds": str(seeds)}).render == "auto"
    assert (
        BacklinksParams.from_kwargs({"seeds": str(seeds), "render": "always"}).render == "always"
    )
    with pytest.raises(ArgumentError, match=r"^render: 'x' is not one of never, auto, always$"):
        BacklinksParams.from_kwargs({"seeds": str(seeds), "render": "x"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "BROKENLINKS_SITE_MAX_PAGES",
            0,
            "BROKENLINKS_SITE_MAX_PAGES: 0 is not a whole number, at least 1",
        ),
        (
            "BROKENLINKS_SITE_MAX_DEPTH",
            -1,
            "BROKENLINKS_SITE_MAX_DEPTH: -1 is not a whole number, at least 0",
        ),
        (
            "BROKENLINKS_SITE_MAX_SITEMAPS",
            0,
            "BROKENLINKS_SITE_MAX_SITEMAPS: 0 is not a whole number, at least 1",
        ),
    ],
)
def test_site_settings_validated(name, value, message):
    crawler = get_crawler(settings_dict={name: value})
    with pytest.raises(ValueError, match=message):
        BrokenlinksConfig.from_settings(crawler.settings)
