"""The redirect map's choices and its rules' escaping (brokenlinks/outreach/redirects.py)."""

from __future__ import annotations

import pytest

from brokenlinks.outreach import redirects

MINE = frozenset({"mine.test"})
PAGES = [
    {"url": "http://mine.test/", "site": "mine.test", "title": "Compost and seeds home"},
    {"url": "http://mine.test/compost-guide", "site": "mine.test", "title": "Compost guide"},
    {"url": "http://mine.test/seed-saving", "site": "mine.test", "title": "Seed saving"},
    {"url": "http://other.test/compost", "site": "other.test", "title": "Compost elsewhere"},
]


def link(target, source, anchor="compost bins", context="see the compost bins page"):
    return {
        "target_url": target,
        "target_domain": target.split("/")[2].removeprefix("www."),
        "source_url": source,
        "source_domain": source.split("/")[2],
        "anchor_text": anchor,
        "context": context,
    }


def test_plan_orders_by_referring_domains_and_lists_misses_apart():
    occurrences = [
        link("http://mine.test/old-compost", "http://a.test/1"),
        link("http://mine.test/seeds-2019", "http://a.test/2", "saving seeds", "seed saving"),
        link("http://mine.test/seeds-2019", "http://b.test/1", "saving seeds", "seed saving"),
        # an internal link counts as a linking page, not as a referring domain
        link("http://mine.test/seeds-2019", "http://mine.test/blog", "seeds", "seeds"),
        link("http://mine.test/quantum", "http://c.test/1", "quantum physics", "quantum physics"),
        # not one of your sites: not in the map
        link("http://rival.test/compost", "http://a.test/1"),
    ]
    rows = redirects.plan(occurrences, PAGES, {}, MINE)
    assert [(r["dead_url"], r["target_url"], r["referring_domains"], r["linking_pages"]) for r in rows] == [
        ("http://mine.test/seeds-2019", "http://mine.test/seed-saving", 2, 3),
        ("http://mine.test/old-compost", "http://mine.test/compost-guide", 1, 1),
        ("http://mine.test/quantum", None, 1, 1),
    ]  # fmt: skip
    assert rows[2]["reason"] == "none of your pages shares a word with it"
    # never the home page, never a page of another site, even when they match best
    assert all(
        r["target_url"] not in {"http://mine.test/", "http://other.test/compost"} for r in rows
    )


def test_plan_min_score_and_no_pages():
    occurrences = [link("http://mine.test/old-compost", "http://a.test/1")]
    low = redirects.plan(occurrences, PAGES, {}, MINE, min_score=1000)
    assert low[0]["target_url"] is None
    assert low[0]["reason"].startswith("best match http://mine.test/compost-guide scored ")
    assert low[0]["reason"].endswith(", below 1000: check by hand")
    none = redirects.plan(occurrences, [], {}, MINE)
    assert none[0]["reason"] == "no live page of yours on mine.test (scrapy crawl mysite)"


def row(dead, target):
    return {
        "dead_url": dead,
        "target_url": target,
        "referring_domains": 1,
        "linking_pages": 1,
        "score": 5.0,
        "reason": None,
    }


@pytest.mark.parametrize(
    ("dead", "target", "nginx", "apache"),
    [
        (
            "http://mine.test/old",
            "http://mine.test/new",
            "location = /old { return 301 /new; }",
            ["RedirectMatch 301 ^/old$ /new"],
        ),
        # nginx and Apache match the decoded path; regex characters escaped for Apache
        (
            "http://mine.test/caf%C3%A9/a.b(1)",
            "http://mine.test/cafe",
            "location = /café/a.b(1) { return 301 /cafe; }",
            ["RedirectMatch 301 ^/café/a\\.b\\(1\\)$ /cafe"],
        ),
        # a space or a ';' would end an nginx argument: quoted; Apache quotes the space
        (
            "http://mine.test/a%20b;c",
            "http://mine.test/new",
            'location = "/a b;c" { return 301 /new; }',
            ['RedirectMatch 301 "^/a b;c$" /new'],
        ),
        # a query string: nginx compares the raw request URI, Apache needs mod_rewrite, and
        # "%N" in a RewriteRule substitution is a back-reference: escaped
        (
            "http://mine.test/p?id=3&x=a.b",
            "http://mine.test/new%20page",
            'if ($request_uri = "/p?id=3&x=a.b") { return 301 /new%20page; }',
            [
                "RewriteCond %{QUERY_STRING} ^id=3&x=a\\.b$",
                "RewriteRule ^/?p$ /new\\%20page [R=301,L,NE,QSD]",
            ],
        ),
        # "$" in a target would be a variable (nginx) or a back-reference (mod_alias)
        (
            "http://mine.test/old",
            "http://mine.test/price$5",
            "location = /old { return 301 /price%245; }",
            ["RedirectMatch 301 ^/old$ /price%245"],
        ),
        # another host of the site: the whole URL
        (
            "http://mine.test/old",
            "https://www.mine.test/new",
            "location = /old { return 301 https://www.mine.test/new; }",
            ["RedirectMatch 301 ^/old$ https://www.mine.test/new"],
        ),
    ],
)
def test_rules_escaping(dead, target, nginx, apache):
    rules = [line.split("  # ")[0] for line in redirects.nginx([row(dead, target)]).splitlines()]
    assert nginx in rules
    lines = [line.split("  # ")[0] for line in redirects.apache([row(dead, target)]).splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith(("Redirect", "RewriteCond")))
    assert lines[start : start + len(apache)] == apache


def test_nginx_cannot_match_a_dollar_in_a_query():
    text = redirects.nginx([row("http://mine.test/p?a=$x", "http://mine.test/new")])
    assert "if (" not in text
    assert "# by hand: http://mine.test/p?a=$x -> http://mine.test/new (" in text
    assert "RewriteCond %{QUERY_STRING} ^a=\\$x$" in redirects.apache(
        [row("http://mine.test/p?a=$x", "http://mine.test/new")]
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("r.csv", "csv"),
        ("r.JSON", "json"),
        ("r.conf", "nginx"),
        ("r.nginx", "nginx"),
        (".htaccess", "apache"),
        ("site.apache", "apache"),
    ],
)
def test_output_format(name, kind):
    assert redirects.output_format(name) == kind
