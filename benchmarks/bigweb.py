"""A large generated web for the throughput benchmark, and an asyncio server for it.

:func:`generate` builds, from a seed and a scale, thousands of referring pages on hundreds
of hosts with the mix a real crawl meets (docs/benchmark.md, "The web's mix"): 30–80 links
a page, navigation and related posts on the page's own host, the rest to targets on
*other* hosts; hosts that answer unknown paths with a 404, with a 200 "not found"
template, with one generic page, with a redirect to the home page or to a search page;
parked hosts, hosts behind a bot wall, hosts that refuse HEAD, slow hosts, gzip. Targets
are dead in every way (a missing page on each kind of host, 410, a persistent 500,
connection refused, a hang longer than any timeout, a redirect loop, a name under
``.invalid``), and the truth of every link is kept. Hosts are distinct loopback
addresses (``127.1.x.y``, all of 127.0.0.0/8 is local on Linux), so any link checker
reaches them without DNS tricks; refused targets use addresses under ``127.2.0.0/16``
where nothing listens. :class:`BigWebServer` serves the web from one asyncio loop in a
thread: one listening socket per host address on one port, every answer delayed by its
host's latency; it records the most requests in flight per host and the requests by
method.

Not part of the product: used by ``benchmarks/bench.py`` and a smoke test.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import html
import itertools
import math
import random
import socket
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: kinds of targets, and their share of the distinct targets. ``missing`` is a path the
#: host does not have: what it answers depends on the host (:class:`Behaviour`): a 404 on
#: an honest host, a soft 404 elsewhere. On parked hosts and behind bot walls every
#: target gets the host's one answer whatever its kind (``parked`` / ``walled``).
ALIVE_KINDS = {"ok": 0.80, "redirect": 0.06}
DEAD_KINDS = {
    "missing": 0.07,
    "410": 0.015,
    "500": 0.01,
    "refused": 0.01,
    "loop": 0.01,
    "dns": 0.013,
    "hang": 0.002,
}
#: how a host answers a path it does not have, and its share of the hosts (see
#: docs/benchmark.md, "The web's mix", for where the shares come from)
BEHAVIOUR_SHARES = {
    "honest": 0.66,  # 404
    "soft404_title": 0.08,  # 200, a template whose title says "Page not found"
    "soft404_template": 0.06,  # 200, the same generic page for every unknown path
    "redirect_home": 0.08,  # 302 to /
    "redirect_search": 0.04,  # 302 to /search?q=<the path's words>
    "parked": 0.04,  # every path: 200, a parking lander
    "bot_wall": 0.04,  # every path: 403, a Cloudflare challenge
}
#: host traits, independent of the behaviour, and their share of the hosts
HEAD_REFUSED_SHARE = 0.06  # HEAD answered 405 for every path
SLOW_SHARE = 0.05  # 300-1,500 ms per answer instead of the usual latency
GZIP_SHARE = 0.6  # compresses HTML when the client accepts gzip
SLOW_MS = (300, 1500)
#: links on a referring page, internal (navigation, related posts) included
LINKS_PER_PAGE = (30, 80)
#: the navigation every live site has (internal links of every referring page)
NAV_PATHS = ("/", "/about/", "/contact/", "/blog/", "/category/guides/", "/category/reviews/")
WORDS = [
    "coffee",
    "grinder",
    "burr",
    "kettle",
    "filter",
    "roast",
    "bean",
    "brew",
    "ratio",
    "water",
    "scale",
    "dripper",
    "paper",
    "espresso",
    "crema",
    "aroma",
    "origin",
    "washed",
    "natural",
    "honey",
    "process",
    "cupping",
    "tasting",
    "notes",
    "acidity",
    "body",
    "sweetness",
    "bloom",
    "pour",
    "agitation",
    "extraction",
    "yield",
    "temperature",
    "recipe",
    "guide",
    "review",
]


class Kind(StrEnum):
    OK = "ok"
    REDIRECT = "redirect"
    MISSING = "missing"
    GONE = "410"
    ERROR = "500"
    REFUSED = "refused"
    LOOP = "loop"
    DNS = "dns"
    HANG = "hang"
    #: on a parked host (dead: the old site is gone)
    PARKED = "parked"
    #: behind a bot wall (not dead: blocked, never a prospect)
    WALLED = "walled"

    @property
    def dead(self) -> bool:
        return self.value in DEAD_KINDS or self is Kind.PARKED


class Behaviour(StrEnum):
    HONEST = "honest"
    SOFT404_TITLE = "soft404_title"
    SOFT404_TEMPLATE = "soft404_template"
    REDIRECT_HOME = "redirect_home"
    REDIRECT_SEARCH = "redirect_search"
    PARKED = "parked"
    BOT_WALL = "bot_wall"

    @property
    def serves_site(self) -> bool:
        """A live site (its own pages, navigation), not a parking lander or a wall."""
        return self not in {Behaviour.PARKED, Behaviour.BOT_WALL}


@dataclass(slots=True)
class Host:
    index: int
    address: str
    latency: float  # seconds
    behaviour: Behaviour = Behaviour.HONEST
    head_refused: bool = False
    slow: bool = False
    gzip: bool = False


@dataclass(slots=True)
class Target:
    url: str
    kind: Kind
    host: Host | None  # None: refused or dns (no server answers)
    path: str


@dataclass(slots=True)
class RefPage:
    url: str
    host: Host
    path: str
    links: list[Target]
    #: same-site links (navigation, related posts): all alive, not link targets of the
    #: backlinks crawl (it checks outbound links), but every link checker sees them
    internal: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Web:
    port: int
    timeout: float
    hosts: list[Host]
    pages: list[RefPage]
    targets: list[Target]
    #: (host address, path) → what the server does
    routes: dict[tuple[str, str], tuple[str, object]] = field(default_factory=dict)

    @property
    def occurrences(self) -> int:
        return sum(len(p.links) for p in self.pages)

    @property
    def internal_occurrences(self) -> int:
        return sum(len(p.internal) for p in self.pages)

    def dead_targets(self) -> set[str]:
        return {t.url for t in self.targets if t.kind.dead}

    def dead_occurrences(self) -> set[tuple[str, str]]:
        return {(p.url, t.url) for p in self.pages for t in p.links if t.kind.dead}

    def seed_urls(self) -> list[str]:
        return [p.url for p in self.pages]

    def politeness_bound(self, per_host: int = 8, total: int = 128) -> dict[str, float]:
        """The least time any checker needs to send every needed request once.

        Requests: each referring page once, each distinct target once (a redirect, a
        loop, or a missing page on a host that redirects unknown paths: two), one probe
        of each host that does not answer unknown paths with a 404 (two if it
        redirects them); refused and unresolvable targets cost nothing, a hang costs the
        timeout. The bound is the larger of the summed latencies spread over *total*
        connections, the busiest host's sum spread over *per_host*, and the longest
        single chain of waits.
        """
        per: Counter[int] = Counter()
        chain = 0.0
        for page in self.pages:
            per[page.host.index] += page.host.latency
            chain = max(chain, page.host.latency)
        redirecting = {Behaviour.REDIRECT_HOME, Behaviour.REDIRECT_SEARCH}
        probed: set[int] = set()
        for target in self.targets:
            host = target.host
            if host is None:
                continue
            lat = host.latency
            if target.kind is Kind.HANG:
                chain = max(chain, self.timeout)
                continue
            n = 1
            if target.kind in {Kind.REDIRECT, Kind.LOOP} or (
                target.kind is Kind.MISSING and host.behaviour in redirecting
            ):
                n = 2
            if host.behaviour is not Behaviour.HONEST and host.index not in probed:
                probed.add(host.index)
                n += 2 if host.behaviour in redirecting else 1
            per[host.index] += n * lat
            chain = max(chain, 2 * lat if n > 1 else lat)
        sum_all = sum(per.values())
        worst = max(per.values()) if per else 0.0
        return {
            "sum_over_total": sum_all / total,
            "worst_host_over_per_host": worst / per_host,
            "longest_chain": chain,
            "bound": max(sum_all / total, worst / per_host, chain),
        }


def _address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _hosts(
    rng: random.Random, n: int, latency_ms: tuple[int, int], slow_ms: tuple[int, int]
) -> list[Host]:
    """*n* hosts with the behaviours and traits in their shares (exact, then shuffled)."""
    behaviours: list[Behaviour] = []
    for name, share in BEHAVIOUR_SHARES.items():
        if name != Behaviour.HONEST:
            behaviours += [Behaviour(name)] * round(share * n)
    behaviours += [Behaviour.HONEST] * (n - len(behaviours))
    rng.shuffle(behaviours)

    def flags(share: float) -> list[bool]:
        out = [i < round(share * n) for i in range(n)]
        rng.shuffle(out)
        return out

    head_refused, slow, gzip_ = flags(HEAD_REFUSED_SHARE), flags(SLOW_SHARE), flags(GZIP_SHARE)
    hosts = []
    for i in range(n):
        latency = rng.uniform(*(slow_ms if slow[i] else latency_ms)) / 1000
        hosts.append(
            Host(i, _address(i), latency, behaviours[i], head_refused[i], slow[i], gzip_[i])
        )
    return hosts


def generate(
    scale: float = 1.0,
    *,
    port: int,
    seed: int = 7,
    hosts: int = 400,
    timeout: float = 4.0,
    latency_ms: tuple[int, int] = (20, 80),
    slow_ms: tuple[int, int] = SLOW_MS,
) -> Web:
    """Build the web: ``2000 × scale`` referring pages, ``8000 × scale`` distinct targets.

    Pages carry 30–80 links each: the site's navigation and a few related posts on its
    own host, the rest outbound (about 84,000 outbound occurrences at scale 1); popular
    targets are linked from many pages. Hosts answer unknown paths each their own way
    (:data:`BEHAVIOUR_SHARES`). Deterministic for a given seed.

    >>> web = generate(0.05, port=8000, hosts=200)
    >>> len(web.pages), len(web.targets), len({h.address for h in web.hosts})
    (100, 400, 200)
    >>> all(t.host is None or t.host is not p.host for p in web.pages for t in p.links)
    True
    """
    rng = random.Random(seed)
    host_list = _hosts(rng, hosts, latency_ms, slow_ms)
    n_pages = max(1, round(2000 * scale))
    n_targets = max(1, round(8000 * scale))
    kinds = list(ALIVE_KINDS) + list(DEAD_KINDS)
    weights = list(ALIVE_KINDS.values()) + list(DEAD_KINDS.values())
    web = Web(port=port, timeout=timeout, hosts=host_list, pages=[], targets=[])
    refused_n = 0
    for i in range(n_targets):
        # one of each kind first, so that even a tiny web has every behaviour
        kind = Kind(kinds[i]) if i < len(kinds) else Kind(rng.choices(kinds, weights)[0])
        host = host_list[i] if i < len(host_list) else rng.choice(host_list)
        path = f"/t{i}/{rng.choice(WORDS)}-{rng.choice(WORDS)}"
        if kind is Kind.REFUSED:
            refused_n += 1
            url = f"http://127.2.{refused_n // 250}.{refused_n % 250 + 1}:{port}{path}"
            web.targets.append(Target(url, kind, None, path))
            continue
        if kind is Kind.DNS:
            url = f"http://gone-{i}.invalid:{port}{path}"
            web.targets.append(Target(url, kind, None, path))
            continue
        # a parked host or a wall answers every path alike, whatever the old page was
        if host.behaviour is Behaviour.PARKED:
            kind = Kind.PARKED
        elif host.behaviour is Behaviour.BOT_WALL:
            kind = Kind.WALLED
        url = f"http://{host.address}:{port}{path}"
        web.targets.append(Target(url, kind, host, path))
        if kind is Kind.REDIRECT:
            web.routes[host.address, path] = ("redirect", f"{path}/moved")
            web.routes[host.address, f"{path}/moved"] = ("ok", None)
        elif kind is Kind.LOOP:
            web.routes[host.address, path] = ("redirect", f"{path}/again")
            web.routes[host.address, f"{path}/again"] = ("redirect", path)
        elif kind in {Kind.OK, Kind.GONE, Kind.ERROR, Kind.HANG}:
            web.routes[host.address, path] = (kind.value, None)
        # missing, parked, walled: no route; the host's behaviour answers
    # popularity: a few targets are linked from many pages (Zipf-like)
    cum_weights = list(itertools.accumulate(1 / math.sqrt(r + 1) for r in range(n_targets)))
    order = list(range(n_targets))
    rng.shuffle(order)
    next_unlinked = 0
    page_hosts = [h for h in host_list if h.behaviour.serves_site]
    pages_by_host: defaultdict[int, list[str]] = defaultdict(list)
    for p in range(n_pages):
        host = page_hosts[p % len(page_hosts)]
        path = f"/resources/{p}-{rng.choice(WORDS)}.html"
        total = rng.randint(*LINKS_PER_PAGE)
        # navigation, and up to four earlier posts of the same site
        internal = [*NAV_PATHS, *pages_by_host[host.index][-4:]]
        pages_by_host[host.index].append(path)
        want = max(1, total - len(internal))
        chosen: dict[str, Target] = {}
        tries = 0
        while len(chosen) < want and tries < want * 20:
            tries += 1
            fresh = next_unlinked < n_targets
            if fresh:
                target = web.targets[order[next_unlinked]]
            if not fresh or target.host is host or target.url in chosen:
                fresh = False
                target = web.targets[rng.choices(order, cum_weights=cum_weights)[0]]
                if target.host is host or target.url in chosen:
                    continue
            if fresh:
                next_unlinked += 1
            chosen[target.url] = target
        origin = f"http://{host.address}:{port}"
        page = RefPage(
            f"{origin}{path}", host, path, list(chosen.values()), [origin + i for i in internal]
        )
        web.pages.append(page)
        web.routes[host.address, path] = ("page", page)
    return web


def render_page(page: RefPage, rng: random.Random) -> bytes:
    """A referring page: navigation, paragraphs, outbound links in sentences, a footer."""
    origin = page.url.removesuffix(page.path)
    nav = "".join(
        f"<li><a href='{html.escape(u.removeprefix(origin))}'>{html.escape(_sentence(rng, 1))}</a></li>"
        for u in page.internal[: len(NAV_PATHS)]
    )
    related = "".join(
        f"<li><a href='{html.escape(u.removeprefix(origin))}'>{html.escape(_sentence(rng, 4))}</a></li>"
        for u in page.internal[len(NAV_PATHS) :]
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(_sentence(rng, 5))}</title>",
        "<link rel='stylesheet' href='/assets/site.css'></head><body>",
        f"<header><nav><ul>{nav}</ul></nav></header>",
        "<main><article><h1>Resources</h1>",
    ]
    for target in page.links:
        anchor = html.escape(" ".join(rng.choice(WORDS) for _ in range(3)))
        parts.append(
            f"<p>{html.escape(_sentence(rng, 25))} See <a href='{html.escape(target.url)}'>"
            f"{anchor}</a> for {html.escape(_sentence(rng, 12))}</p>"
        )
    parts.extend(f"<p>{html.escape(_sentence(rng, 40))}</p>" for _ in range(6))
    parts.append(f"</article><aside><h2>Related</h2><ul>{related}</ul></aside></main>")
    parts.append("<footer><p>© the site</p></footer></body></html>")
    return "".join(parts).encode()


@functools.lru_cache(maxsize=4096)
def _site_page(title: str, heading: str, words: str | None = None) -> bytes:
    """A page of a live site, about 18 KB: *words* repeated (a template), or its own text.

    Without *words*, the text is seeded by the title, so that every page of a site reads
    differently (as real pages do) and the same page the same each time.
    """
    nav = "".join(f"<li><a href='{p}'>{p.strip('/') or 'home'}</a></li>" for p in NAV_PATHS)
    if words is None:
        rng = random.Random(title)
        paragraphs = "".join(f"<p>{s}</p>" for s in rng.choices(_paragraphs(), k=60))
    else:
        paragraphs = f"<p>{html.escape(words)}</p>" * 30
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><header><nav><ul>{nav}</ul></nav></header><main><h1>"
        f"{html.escape(heading)}</h1>{paragraphs}</main>"
        "<footer><p>© the site</p></footer></body></html>"
    ).encode()


@functools.cache
def _paragraphs() -> list[str]:
    # a live page's 60 paragraphs are drawn from these (two pages share about one): the
    # server makes one per GET of a live target, and 2,400 random words each took most
    # of its CPU, on the cores the crawl it serves runs on
    rng = random.Random(0)
    return [_sentence(rng, 40) for _ in range(4096)]


def _soft404_title_page(site: str) -> bytes:
    return _site_page(
        f"Page not found | {site}",
        "Oops! That page can't be found.",
        "It looks like nothing was found at this location. Maybe try one of the links"
        " below or a search?",
    )


def _soft404_template_page(site: str, path: str) -> bytes:
    # no "not found" anywhere: only a comparison with the host's answer to a URL that
    # cannot exist tells (the template echoes the path, as many do)
    return _site_page(
        site,
        f"Results for {path}",
        "Browse our latest articles on brewing, roasting and tasting, or pick a"
        " category from the menu to find more guides and reviews",
    )


_PARKED_BODY = (
    b"<!doctype html><html><head><title>This domain may be for sale</title>"
    b"<script>var sedoParkingUrl='https://sedo.com/';</script></head><body>"
    b"<h1>This domain may be for sale</h1><p>Related searches: coffee, espresso, grinder</p>"
    b"<p>The Sponsored Listings displayed above are served automatically by a third party."
    b"</p></body></html>"
)
_WALL_BODY = (
    b"<!doctype html><html><head><title>Just a moment...</title></head><body>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript>"
    b"<script>window._cf_chl_opt={cType:'managed'};</script></body></html>"
)
_WALL_HEADERS = {"Content-Type": "text/html", "Server": "cloudflare", "cf-mitigated": "challenge"}
_HTML = {"Content-Type": "text/html; charset=utf-8"}


class BigWebServer:
    """Serve a :class:`Web` from one event loop in a background thread.

    The web stands in for servers on other machines, yet shares the benchmark machine's
    cores with the crawl it serves: it answers from an :class:`asyncio.Protocol` (no task
    or stream per connection) on uvloop when it is installed (the ``bench`` extra), so
    that it takes as little of them as it can. ``bench.py`` prints what it took.
    """

    def __init__(self, web: Web) -> None:
        self.web = web
        self.by_address = {h.address: h for h in web.hosts}
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.methods: Counter[str] = Counter()
        #: requests per (address, path and query): the same URL asked twice shows here
        self.by_url: Counter[tuple[str, str]] = Counter()
        #: requests per (address, path and query, User-Agent): which client asked what
        self.by_agent: Counter[tuple[str, str, str]] = Counter()
        #: requests in flight on every host together, and their most
        self.total_in_flight = 0
        self.max_total_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: set[_Connection] = set()

    def reset_counters(self) -> None:
        self.in_flight.clear()
        self.max_in_flight.clear()
        self.requests.clear()
        self.methods.clear()
        self.by_url.clear()
        self.by_agent.clear()
        self.total_in_flight = self.max_total_in_flight = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bigweb", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._bind())
        except BaseException as e:  # noqa: BLE001 (reported to the starting thread)
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for server in self._servers:
                server.close()
            for connection in list(self._connections):
                connection.abort()
            # the aborted transports' connection_lost, and the servers' sockets closed
            loop.run_until_complete(asyncio.sleep(0.05))
            for server in self._servers:
                loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        for host in self.web.hosts:
            server = await loop.create_server(
                functools.partial(_Connection, self, host),
                host.address,
                self.web.port,
                backlog=512,
                reuse_address=True,
            )
            self._servers.append(server)

    def _started(self, address: str, method: bytes, target: bytes, head: bytes) -> None:
        self.requests[address] += 1
        self.methods[method.decode("latin-1")] += 1
        path = target.decode("latin-1")
        self.by_url[address, path] += 1
        self.by_agent[address, path, _header(head, b"user-agent").strip().decode("latin-1")] += 1
        self.in_flight[address] += 1
        self.max_in_flight[address] = max(self.max_in_flight[address], self.in_flight[address])
        self.total_in_flight += 1
        self.max_total_in_flight = max(self.max_total_in_flight, self.total_in_flight)

    def _ended(self, address: str) -> None:
        self.in_flight[address] -= 1
        self.total_in_flight -= 1

    def _answer(self, host: Host, method: bytes, target: bytes, head: bytes) -> tuple[bytes, bool]:
        """The bytes answering one request, and whether it is a hang (no answer at all)."""
        if method == b"HEAD" and host.head_refused:
            status, headers, body = 405, {"Allow": "GET"}, b""
        else:
            status, headers, body = self._respond(host, target.decode("latin-1"))
        if status == 0:
            return b"", True
        if body and host.gzip and b"gzip" in _header(head, b"accept-encoding"):
            body = _gzipped(body)
            headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        out_body = b"" if method == b"HEAD" else body
        return _response(status, headers, len(body), out_body), False

    def _respond(self, host: Host, target: str) -> tuple[int, dict[str, str], bytes]:
        """Status, headers, body of the answer to a GET of *target* on *host*."""
        path, _, query = target.partition("?")
        behaviour = host.behaviour
        site = f"Site {host.index}"
        if behaviour is Behaviour.PARKED:
            return 200, _HTML, _PARKED_BODY
        if behaviour is Behaviour.BOT_WALL:
            return 403, _WALL_HEADERS, _WALL_BODY
        route = self.web.routes.get((host.address, path))
        if route is None:
            return self._site(host, site, path, query)
        what, arg = route
        if what == "page":
            assert isinstance(arg, RefPage)
            return 200, _HTML, _page_body(arg)
        if what == "ok":
            words = " ".join(w for w in path.replace("-", "/").split("/") if w)
            return 200, _HTML, _site_page(f"{words.title()} | {site}", words.title())
        if what == "redirect":
            return 301, {"Location": str(arg)}, b""
        if what == "hang":
            return 0, {}, b""
        return int(what), _HTML, b"<html><body>Error</body></html>"

    def _site(
        self, host: Host, site: str, path: str, query: str
    ) -> tuple[int, dict[str, str], bytes]:
        """The answer to a path without a route: the site's own pages, or its not-found."""
        if path in NAV_PATHS:
            return 200, _HTML, _site_page(f"{path.strip('/') or 'Home'} | {site}", site)
        behaviour = host.behaviour
        if path == "/search" and behaviour is Behaviour.REDIRECT_SEARCH:
            return 200, _HTML, _site_page(f"Search | {site}", "Search results", _LOREM)
        if behaviour is Behaviour.SOFT404_TITLE:
            return 200, _HTML, _soft404_title_page(site)
        if behaviour is Behaviour.SOFT404_TEMPLATE:
            return 200, _HTML, _soft404_template_page(site, path)
        if behaviour is Behaviour.REDIRECT_HOME:
            return 302, {"Location": "/"}, b""
        if behaviour is Behaviour.REDIRECT_SEARCH:
            words = "+".join(w for w in path.replace("-", "/").split("/") if w)
            return 302, {"Location": f"/search?q={words}"}, b""
        return 404, _HTML, b"<html><body>Not found</body></html>"


#: the longest request head a connection buffers before it is dropped
_MAX_HEAD = 65536


class _Connection(asyncio.Protocol):
    """One client connection: requests answered in turn, each after its host's latency.

    A request is in flight (for the server's counters) from its head's arrival to its
    answer, or, for a hang, until the client gives up and closes the connection.
    """

    def __init__(self, server: BigWebServer, host: Host) -> None:
        self.server = server
        self.host = host
        # asyncio's or uvloop's (which does not subclass asyncio.Transport)
        self.transport: Any = None
        self.buffer = b""
        #: the request being answered (its in-flight count is held), if any
        self.busy = False
        self.close_after = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.server._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > _MAX_HEAD:
                self.abort()
            return
        head, self.buffer = self.buffer[: end + 4], self.buffer[end + 4 :]
        try:
            method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
        except ValueError:
            self.abort()
            return
        lower = head.lower()
        self.close_after = b"connection: close" in lower
        self.busy = True
        self.server._started(self.host.address, method, target, lower)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.host.latency, self._reply, method, target, lower)

    def _reply(self, method: bytes, target: bytes, head: bytes) -> None:
        self.timer = None
        answer, hang = self.server._answer(self.host, method, target, head)
        if hang:
            # never answered: in flight until the client gives up (connection_lost)
            return
        self._end_request()
        self.transport.write(answer)
        if self.close_after:
            self.transport.close()
        elif self.buffer:
            self._next()

    def _end_request(self) -> None:
        if self.busy:
            self.busy = False
            self.server._ended(self.host.address)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self._end_request()
        self.server._connections.discard(self)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _new_loop() -> asyncio.AbstractEventLoop:
    """An event loop for the server's thread: uvloop's when installed (it costs less CPU)."""
    try:
        import uvloop  # noqa: PLC0415  (optional: the bench extra)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


_LOREM = (
    "Notes on brewing coffee at home: grind size, water temperature, ratio and the"
    " tools that make a difference, tested over many mornings"
)


_PAGE_CACHE = 4096
_page_bodies: dict[str, bytes] = {}


def _page_body(page: RefPage) -> bytes:
    # the same bytes each time (seeded by the URL); the cache is bounded so that the
    # server does not hold a 10x web in memory
    body = _page_bodies.get(page.url)
    if body is None:
        if len(_page_bodies) >= _PAGE_CACHE:
            _page_bodies.clear()
        body = _page_bodies[page.url] = render_page(page, random.Random(page.url))
    return body


@functools.lru_cache(maxsize=8192)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=1, mtime=0)


def _header(head: bytes, name: bytes) -> bytes:
    """The value of header *name* in a lower-cased request head (b"" if absent)."""
    start = head.find(b"\r\n" + name + b":")
    if start < 0:
        return b""
    end = head.find(b"\r\n", start + 2)
    return head[start + len(name) + 3 : end]


def _response(status: int, headers: dict[str, str], length: int, body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {length}"]
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def free_port(attempts: int = 50, hosts: int = 400) -> int:
    """A port free on every host address and refusing on the refused range."""
    rng = random.Random()
    for _ in range(attempts):
        port = rng.randint(20000, 60000)
        try:
            for i in range(hosts):
                with socket.socket() as s:
                    s.bind((_address(i), port))
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.2.0.1", port)) == 0:
                    continue
        except OSError:
            continue
        return port
    msg = "no free port for the benchmark web"
    raise RuntimeError(msg)


def occurrences_by_kind(web: Web) -> dict[str, int]:
    """Link occurrences per target kind (for the report)."""
    counts: defaultdict[str, int] = defaultdict(int)
    for page in web.pages:
        for target in page.links:
            counts[target.kind.value] += 1
    return dict(counts)
