"""A large generated web for the throughput benchmark, and an asyncio server for it.

:func:`generate` builds, from a seed and a scale, thousands of referring pages on hundreds
of hosts, each page linking to targets on *other* hosts, with every way of being dead
(404, 410, a persistent 500, connection refused, a hang longer than any timeout, a redirect
loop, a name under ``.invalid`` that resolves nowhere) and the truth of every link. Hosts
are distinct loopback addresses (``127.1.x.y``, all of 127.0.0.0/8 is local on Linux), so
any link checker reaches them without DNS tricks; refused targets use addresses under
``127.2.0.0/16`` where nothing listens. :class:`BigWebServer` serves the web from one
asyncio loop in a thread: one listening socket per host address on one port, every answer
delayed by its host's latency; it records the most requests in flight per host.

Not part of the product: used by ``benchmarks/bench.py`` and a smoke test.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import math
import random
import socket
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

#: kinds of targets, and their share of the distinct targets
ALIVE_KINDS = {"ok": 0.80, "redirect": 0.04, "head_405": 0.02}
DEAD_KINDS = {
    "404": 0.05,
    "410": 0.02,
    "500": 0.015,
    "refused": 0.015,
    "loop": 0.015,
    "dns": 0.015,
    "hang": 0.002,
}
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
    HEAD_405 = "head_405"
    NOT_FOUND = "404"
    GONE = "410"
    ERROR = "500"
    REFUSED = "refused"
    LOOP = "loop"
    DNS = "dns"
    HANG = "hang"

    @property
    def dead(self) -> bool:
        return self.value in DEAD_KINDS


@dataclass(slots=True)
class Host:
    index: int
    address: str
    latency: float  # seconds


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

    def dead_targets(self) -> set[str]:
        return {t.url for t in self.targets if t.kind.dead}

    def dead_occurrences(self) -> set[tuple[str, str]]:
        return {(p.url, t.url) for p in self.pages for t in p.links if t.kind.dead}

    def seed_urls(self) -> list[str]:
        return [p.url for p in self.pages]

    def politeness_bound(self, per_host: int = 8, total: int = 128) -> dict[str, float]:
        """The least time any checker needs to send every needed request once.

        Requests: each referring page once, each distinct target once (a redirect: two,
        a loop: the two URLs of the loop), refused and unresolvable targets cost nothing,
        a hang costs the timeout. The bound is the larger of the summed latencies spread
        over *total* connections, the busiest host's sum spread over *per_host*, and the
        longest single chain of waits.
        """
        per: Counter[int] = Counter()
        chain = 0.0
        for page in self.pages:
            per[page.host.index] += page.host.latency
            chain = max(chain, page.host.latency)
        for target in self.targets:
            if target.host is None:
                continue
            lat = target.host.latency
            if target.kind is Kind.HANG:
                chain = max(chain, self.timeout)
                continue
            n = 2 if target.kind in {Kind.REDIRECT, Kind.LOOP} else 1
            per[target.host.index] += n * lat
            chain = max(chain, n * lat)
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


def generate(
    scale: float = 1.0,
    *,
    port: int,
    seed: int = 7,
    hosts: int = 200,
    timeout: float = 5.0,
    latency_ms: tuple[int, int] = (20, 80),
) -> Web:
    """Build the web: ``2000 × scale`` referring pages, ``4000 × scale`` distinct targets.

    Pages carry 8–17 links each (about 25,000 occurrences at scale 1); popular targets are
    linked from many pages. Deterministic for a given seed.

    >>> web = generate(0.05, port=8000)
    >>> len(web.pages), len(web.targets), len({h.address for h in web.hosts})
    (100, 200, 200)
    >>> all(t.host is None or t.host is not p.host for p in web.pages for t in p.links)
    True
    """
    rng = random.Random(seed)
    host_list = [Host(i, _address(i), rng.uniform(*latency_ms) / 1000) for i in range(hosts)]
    n_pages = max(1, round(2000 * scale))
    n_targets = max(1, round(4000 * scale))
    kinds = list(ALIVE_KINDS) + list(DEAD_KINDS)
    weights = list(ALIVE_KINDS.values()) + list(DEAD_KINDS.values())
    web = Web(port=port, timeout=timeout, hosts=host_list, pages=[], targets=[])
    refused_n = 0
    for i in range(n_targets):
        # one of each kind first, so that even a tiny web has every behaviour
        kind = Kind(kinds[i]) if i < len(kinds) else Kind(rng.choices(kinds, weights)[0])
        host = rng.choice(host_list)
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
        url = f"http://{host.address}:{port}{path}"
        web.targets.append(Target(url, kind, host, path))
        if kind is Kind.REDIRECT:
            web.routes[host.address, path] = ("redirect", f"{path}/moved")
            web.routes[host.address, f"{path}/moved"] = ("ok", None)
        elif kind is Kind.LOOP:
            web.routes[host.address, path] = ("redirect", f"{path}/again")
            web.routes[host.address, f"{path}/again"] = ("redirect", path)
        else:
            web.routes[host.address, path] = (kind.value, None)
    # popularity: a few targets are linked from many pages (Zipf-like)
    cum_weights = list(itertools.accumulate(1 / math.sqrt(r + 1) for r in range(n_targets)))
    order = list(range(n_targets))
    rng.shuffle(order)
    next_unlinked = 0
    for p in range(n_pages):
        host = host_list[p % hosts]
        path = f"/resources/{p}-{rng.choice(WORDS)}.html"
        want = rng.randint(8, 17)
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
        page = RefPage(f"http://{host.address}:{port}{path}", host, path, list(chosen.values()))
        web.pages.append(page)
        web.routes[host.address, path] = ("page", page)
    return web


def render_page(page: RefPage, rng: random.Random) -> bytes:
    """A referring page of about 8–10 KB: navigation, paragraphs, links in sentences."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(_sentence(rng, 5))}</title></head><body>",
        # no same-site links: lychee checks them and we do not, and the comparison
        # must be on the same links
        "<header><nav>Home · About · Contact</nav></header>",
        "<main><article><h1>Resources</h1>",
    ]
    for target in page.links:
        anchor = html.escape(" ".join(rng.choice(WORDS) for _ in range(3)))
        parts.append(
            f"<p>{html.escape(_sentence(rng, 25))} See <a href='{html.escape(target.url)}'>"
            f"{anchor}</a> for {html.escape(_sentence(rng, 12))}</p>"
        )
    parts.extend(f"<p>{html.escape(_sentence(rng, 40))}</p>" for _ in range(6))
    parts.append("</article></main><footer><p>© the site</p></footer></body></html>")
    return "".join(parts).encode()


_OK_BODY = (
    b"<!doctype html><html><head><title>A page</title></head><body><h1>Here it is</h1>"
    + b"<p>coffee brewing notes and tools</p>" * 40
    + b"</body></html>"
)


class BigWebServer:
    """Serve a :class:`Web` from one asyncio loop in a background thread."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.by_address = {h.address: h for h in web.hosts}
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def reset_counters(self) -> None:
        self.in_flight.clear()
        self.max_in_flight.clear()
        self.requests.clear()

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
        loop = asyncio.new_event_loop()
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
            for writer in list(self._writers):
                writer.transport.abort()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _bind(self) -> None:
        for host in self.web.hosts:
            server = await asyncio.start_server(
                self._handle, host.address, self.web.port, backlog=512, reuse_address=True
            )
            self._servers.append(server)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("sockname")[0]
        host = self.by_address[address]
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
                close = b"connection: close" in head.lower()
                self.requests[address] += 1
                self.in_flight[address] += 1
                self.max_in_flight[address] = max(
                    self.max_in_flight[address], self.in_flight[address]
                )
                try:
                    await asyncio.sleep(host.latency)
                    status, headers, body = self._respond(address, target.decode("latin-1"))
                    if status == 0:  # a hang: never answer, until the client gives up
                        await reader.read()
                        return
                finally:
                    self.in_flight[address] -= 1
                out_body = body
                if method == b"HEAD":
                    out_body = b""
                    if headers is None:  # this host refuses HEAD
                        status, headers, body = 405, {"Allow": "GET"}, b""
                writer.write(_response(status, headers, len(body), out_body))
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _respond(self, address: str, path: str) -> tuple[int, dict[str, str] | None, bytes]:
        """Status, headers (None: HEAD is refused), body."""
        path = path.split("?", 1)[0]
        route = self.web.routes.get((address, path))
        if route is None:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not found</body></html>"
        what, arg = route
        if what == "page":
            assert isinstance(arg, RefPage)
            # rendered each time (the same bytes: seeded by the URL), so that the
            # server does not hold a 100x web in memory
            body = render_page(arg, random.Random(arg.url))
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body
        if what == "ok":
            return 200, {"Content-Type": "text/html"}, _OK_BODY
        if what == "head_405":
            return 200, None, _OK_BODY
        if what == "redirect":
            return 301, {"Location": str(arg)}, b""
        if what == "hang":
            return 0, None, b""
        status = int(what)
        return status, {"Content-Type": "text/html"}, b"<html><body>Error</body></html>"


def _response(status: int, headers: dict[str, str] | None, length: int, body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {length}"]
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def free_port(attempts: int = 50, hosts: int = 200) -> int:
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
