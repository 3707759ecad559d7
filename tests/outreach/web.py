"""A small outreach web: referring sites with contacts, the archive, RDAP and the user's site.

Served by :class:`tests.serviceweb.ServiceWeb` on loopback; :data:`HOSTS` are the names to
map in ``BROKENLINKS_RESOLVE``. The same pages serve the end-to-end test of the pitches
(``scrapy demo outreach`` has its own, in ``data/demo/``).
"""

from __future__ import annotations

import json

from tests.serviceweb import Reply, ServiceWeb

GARDENBLOG = "http://gardenblog.test/resources"
VEGGIES = "http://veggies.test/links"
ORCHARD = "http://orchard.test/page"

COMPOST = "http://gone.test/compost-bins"
SEEDS = "http://seedshop.test/seed-saving"
TOMATOES = "http://www.expired-garden.com/tomatoes"
PRUNING = "http://gone.test/pruning"

MINE = "http://mine.test/"
HOSTS = (
    "gardenblog.test",
    "veggies.test",
    "orchard.test",
    "archive.test",
    "iana.test",
    "rdap.test",
    "mine.test",
)
#: the prospects: (referring page, its title, [(target, anchor, context)])
PROSPECTS = {
    GARDENBLOG: (
        "Garden resources",
        [
            (COMPOST, "compost bin guide", "Our favourite compost bin guide explains the basics."),
            (SEEDS, "seed saving", "Learn seed saving from the seed shop."),
        ],
    ),
    VEGGIES: (
        "Vegetable links",
        [
            (COMPOST, "composting", "Composting at home: a guide to bins."),
            (TOMATOES, "growing tomatoes", "Everything about growing tomatoes."),
        ],
    ),
    ORCHARD: (
        '=HYPERLINK("http://evil.test")',
        [(PRUNING, "pruning", "When to prune apple and pear trees.")],
    ),
}

_CDX = ["timestamp", "original", "mimetype", "statuscode"]


def _page(title: str, body: str, head: str = "") -> Reply:
    return Reply(200, f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>")


def _links(page: str) -> str:
    return "".join(
        f"<p>{context.replace(anchor, f'<a href={target!r}>{anchor}</a>', 1)}</p>"
        for target, anchor, context in PROSPECTS[page][1]
    )


def serve(web: ServiceWeb) -> None:
    """Add every route of the outreach web to *web*."""
    # the referring sites: the address on the page; on the contact page; none allowed
    web.add(
        "gardenblog.test",
        "/resources",
        _page(
            "Garden resources",
            _links(GARDENBLOG)
            + '<p>Write to <a href="mailto:ann@gardenblog.test">Ann</a>.</p>'
            + '<a href="https://x.com/anngardens">Ann on X</a>',
            '<meta name="author" content="Ann Gardener">',
        ),
    )
    web.add(
        "veggies.test",
        "/links",
        _page(
            "Vegetable links",
            _links(VEGGIES) + '<footer><a href="/contact">Contact us</a></footer>',
        ),
    )
    web.add(
        "veggies.test",
        "/contact",
        _page("Contact", "<p>Mail the editor: editor [at] veggies [dot] test</p>"),
    )
    web.add(
        "orchard.test",
        "/page",
        _page("Orchard", _links(ORCHARD) + '<a href="/contact">Contact</a>'),
    )
    web.add(
        "orchard.test",
        "/robots.txt",
        Reply(200, "User-agent: *\nDisallow: /contact\n", {"Content-Type": "text/plain"}),
    )
    web.add("orchard.test", "/contact", _page("Contact", "<p>jo@orchard.test</p>"))
    # the archive: one capture for each dead page but the seed shop's
    json_type = {"Content-Type": "application/json"}
    web.add("archive.test", "/cdx/search/cdx", Reply(200, "[]", json_type))
    captures = {
        COMPOST: ("20200505101010", "How to build a compost bin", "Build a bin from pallets."),
        TOMATOES: ("20190101000000", "Growing tomatoes", "Tomatoes need sun and support."),
        PRUNING: ("20180303000000", "Pruning fruit trees", "Prune apple trees in winter."),
    }
    for target, (stamp, title, text) in captures.items():
        rows = [_CDX, [stamp, target, "text/html", "200"]]
        web.add(
            "archive.test", "/cdx/search/cdx", Reply(200, json.dumps(rows), json_type), url=target
        )
        web.add(
            "archive.test",
            f"/web/{stamp}id_/{target}",
            _page(title, f"<h1>{title}</h1><p>{text}</p>"),
        )
    # RDAP: the expired garden domain is free
    bootstrap = {"services": [[["com"], ["http://rdap.test/com/v1/"]]]}
    web.add("iana.test", "/rdap/dns.json", Reply(200, json.dumps(bootstrap), json_type))
    web.add("rdap.test", "/com/v1/domain/expired-garden.com", Reply(404, "{}", json_type))
    # your site: a sitemap and five pages
    pages = {
        "/compost-bins-guide": ("Compost bins: a guide", "Which compost bin to build or buy."),
        "/saving-seeds": ("Saving your own seeds", "Seed saving for tomatoes, beans and peas."),
        "/growing-tomatoes": ("Growing tomatoes in pots", "Sun, support and water for tomatoes."),
        "/pruning-fruit-trees": (
            "Pruning apple and pear trees",
            "When and how to prune fruit trees.",
        ),
        "/about": ("About us", "We are gardeners writing about gardens."),
    }
    urls = "".join(f"<url><loc>http://mine.test{path}</loc></url>" for path in pages)
    web.add(
        "mine.test",
        "/sitemap.xml",
        Reply(
            200,
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
            {"Content-Type": "application/xml"},
        ),
    )
    for path, (title, text) in pages.items():
        web.add("mine.test", path, _page(title, f"<h1>{title}</h1><p>{text}</p>"))
    web.add("mine.test", "/", _page("Mine", '<a href="/about">About</a>'))


def resolve(web: ServiceWeb) -> dict[str, str]:
    return dict.fromkeys(HOSTS, f"127.0.0.1:{web.port}")
