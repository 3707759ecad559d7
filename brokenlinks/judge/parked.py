"""Parked domains: pages of parking services and domain marketplaces, not of the old site.

Pure functions, no settings. The fingerprints live in one data file,
``brokenlinks/data/parking.json`` (each entry names its source), read once with
:func:`default_fingerprints`; :func:`load_fingerprints` validates that format and can read
an extended copy. Three signals, each enough on its own:

* :func:`parked_by_markup`: the markers of a lander in the title, the visible text or the
  raw markup (Sedo's ``sedoParkingUrl``, ParkingCrew's "Sponsored Listings" notice,
  "This domain may be for sale", AdSense-for-domains' ``caf.js``...);
* :func:`parked_by_redirect`: a redirect from another site to a domain marketplace
  (dan.com, Afternic, HugeDomains, Sedo...), decided on the ``Location`` alone, without
  fetching the marketplace;
* :func:`parked_by_lander`: a redirect to ``/lander`` on the same host, the way GoDaddy's
  and Dan.com's landers are reached (decided on the ``Location`` too);
* :func:`parked_by_address`: the answer came from an address range of a parking service
  (``response.ip_address``; 2022 ranges, see the data file).
"""

from __future__ import annotations

import ipaddress
import json
import pkgutil
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from brokenlinks.judge import textsearch
from brokenlinks.parsing.urls import host_of, url_parts

if TYPE_CHECKING:
    from collections.abc import Mapping

_WHERE = frozenset({"title", "text", "html"})
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Marker:
    service: str
    where: str
    regex: re.Pattern[str]
    source: str
    #: folded literals one of which every match contains (see brokenlinks.judge.textsearch)
    literals: tuple[bytes, ...] | None = None


@dataclass(frozen=True, slots=True)
class Marketplace:
    service: str
    host: str
    path: re.Pattern[str] | None
    source: str


@dataclass(frozen=True, slots=True)
class Network:
    service: str
    network: IPNetwork
    source: str


@dataclass(frozen=True, slots=True)
class Fingerprints:
    markers: tuple[Marker, ...]
    marketplaces: tuple[Marketplace, ...]
    networks: tuple[Network, ...]


@dataclass(frozen=True, slots=True)
class ParkedMatch:
    """Which service a parked page belongs to and how it was recognised."""

    service: str
    how: str
    source: str

    @property
    def detail(self) -> str:
        return f"{self.service}: {self.how} ({self.source})"


def _entry_error(section: str, index: int, message: str) -> ValueError:
    return ValueError(f"parking data: {section}[{index}]: {message}")


def load_fingerprints(data: Mapping[str, Any]) -> Fingerprints:
    """Validate and compile the content of a ``parking.json``.

    >>> fp = load_fingerprints({"markers": [{"service": "X", "in": "text",
    ...     "pattern": "parked with X", "source": "doc"}], "marketplaces": [],
    ...     "networks": [{"service": "X", "network": "192.0.2.0/24", "source": "doc"}]})
    >>> fp.markers[0].regex.pattern, str(fp.networks[0].network)
    ('parked\\\\ with\\\\ X', '192.0.2.0/24')
    >>> load_fingerprints({"markers": [{"service": "X", "in": "body", "pattern": "x",
    ...     "source": "doc"}]})
    Traceback (most recent call last):
    ...
    ValueError: parking data: markers[0]: 'in' must be one of html, text, title
    """
    sources = data.get("_sources", {})
    markers: list[Marker] = []
    for i, entry in enumerate(data.get("markers", [])):
        if entry.get("in") not in _WHERE:
            raise _entry_error("markers", i, "'in' must be one of html, text, title")
        _need(entry, "markers", i, ("service", "pattern", "source"), sources)
        if entry.get("regex"):
            pattern = entry["pattern"]
            literals = _declared_literals(entry, i)
        else:
            pattern = re.escape(entry["pattern"])
            literals = textsearch.plain_literals(entry["pattern"])
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as e:
            raise _entry_error("markers", i, f"bad regex: {e}") from e
        markers.append(Marker(entry["service"], entry["in"], compiled, entry["source"], literals))
    marketplaces: list[Marketplace] = []
    for i, entry in enumerate(data.get("marketplaces", [])):
        _need(entry, "marketplaces", i, ("service", "host", "source"), sources)
        path = re.compile(entry["path"], re.IGNORECASE) if entry.get("path") else None
        marketplaces.append(
            Marketplace(entry["service"], entry["host"].lower(), path, entry["source"])
        )
    networks: list[Network] = []
    for i, entry in enumerate(data.get("networks", [])):
        _need(entry, "networks", i, ("service", "network", "source"), sources)
        try:
            network = ipaddress.ip_network(entry["network"], strict=False)
        except ValueError as e:
            raise _entry_error("networks", i, str(e)) from e
        networks.append(Network(entry["service"], network, entry["source"]))
    return Fingerprints(tuple(markers), tuple(marketplaces), tuple(networks))


def _declared_literals(entry: Mapping[str, Any], index: int) -> tuple[bytes, ...] | None:
    """A regex marker's ``literals``: one of them is in every match (none: no prefilter)."""
    literals = entry.get("literals", [])
    if not isinstance(literals, list) or not all(isinstance(n, str) for n in literals):
        raise _entry_error("markers", index, "'literals' must be a list of strings")
    try:
        return textsearch.checked_literals(literals)
    except ValueError as e:
        raise _entry_error("markers", index, str(e)) from e


def _need(
    entry: Mapping[str, Any],
    section: str,
    index: int,
    keys: tuple[str, ...],
    sources: Mapping[str, str],
) -> None:
    for key in keys:
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise _entry_error(section, index, f"{key!r} must be a non-empty string")
    source = entry["source"].split(":", 1)[0]
    if sources and source not in sources:
        raise _entry_error(section, index, f"source {source!r} is not in _sources")


@lru_cache(maxsize=1)
def default_fingerprints() -> Fingerprints:
    """The bundled fingerprints (``brokenlinks/data/parking.json``), read once.

    Read through pkgutil, so that it works from a zipped egg under Scrapyd too.
    """
    raw = pkgutil.get_data("brokenlinks", "data/parking.json")
    if raw is None:  # pragma: no cover  (a loader without get_data)
        msg = "brokenlinks/data/parking.json is missing"
        raise FileNotFoundError(msg)
    return load_fingerprints(json.loads(raw))


def parked_by_markup(
    title: str,
    text: str,
    html: str,
    fingerprints: Fingerprints | None = None,
    *,
    normalised: bool = False,
) -> ParkedMatch | None:
    """Find a parking lander's marker in a page's title, visible text or markup.

    *normalised*: *title* and *text* have their whitespace runs made single spaces
    already (a :class:`~brokenlinks.judge.soft404.PageSignals`' have), so they are not
    split and joined again: a tenth of reading a body.

    >>> parked_by_markup("garden.test - This domain may be for sale!", "", "").service
    'GoDaddy'
    >>> parked_by_markup("", "", '<script src="//www.google.com/adsense/domains/caf.js">'
    ...                  "</script>").service
    'Google AdSense for domains'
    >>> parked_by_markup("Domain parking: earn from unused domains", "Park your domains"
    ...                  " with us and earn from every visit.", "") is None
    True
    """
    fp = fingerprints or default_fingerprints()
    # the title is visible text too (in the tab), and landers repeat their claim there
    text = f"{title} {text}".strip() if normalised else " ".join(f"{title} {text}".split())
    haystacks = {"title": title, "text": text, "html": html}
    folded: dict[str, bytes] = {}
    for marker in fp.markers:
        haystack = haystacks[marker.where]
        if marker.literals is not None:
            # a substring test on the body folded once, instead of a case-insensitive
            # regex pass per marker: most of judging a body's CPU before
            if marker.where not in folded:
                folded[marker.where] = textsearch.fold(haystack)
            if not any(n in folded[marker.where] for n in marker.literals):
                continue
        if marker.regex.search(haystack):
            return ParkedMatch(marker.service, f"{marker.where} marker", marker.source)
    return None


def _host_in(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def parked_by_redirect(
    from_url: str, to_url: str, fingerprints: Fingerprints | None = None
) -> ParkedMatch | None:
    """Tell whether a redirect from *from_url* to *to_url* sends the visitor to a marketplace.

    >>> parked_by_redirect("http://oldnursery.test/roses",
    ...     "https://www.hugedomains.com/domain_profile.cfm?d=oldnursery.test").service
    'HugeDomains'
    >>> parked_by_redirect("https://sedo.com/", "https://sedo.com/us/") is None
    True
    >>> parked_by_redirect("http://a.test/", "https://www.godaddy.com/help") is None
    True
    """
    fp = fingerprints or default_fingerprints()
    source_host = host_of(from_url)
    parts = url_parts(to_url)
    host = parts.host if parts is not None else ""
    for market in fp.marketplaces:
        if not _host_in(host, market.host) or _host_in(source_host, market.host):
            continue
        if market.path is not None and not market.path.search(parts.path if parts else "/"):
            continue
        return ParkedMatch(market.service, f"redirect to {host}", market.source)
    return None


#: the path parking landers redirect every URL of a parked domain to
LANDER_PATH = "/lander"


def parked_by_lander(from_url: str, to_url: str) -> ParkedMatch | None:
    """Tell whether a redirect sends the visitor to the host's parking lander (``/lander``).

    >>> parked_by_lander("http://oldplot.test/seed-swap", "http://oldplot.test/lander").how
    'redirect to /lander'
    >>> parked_by_lander("http://a.test/x", "http://b.test/lander") is None
    True
    """
    source, target = url_parts(from_url), url_parts(to_url)
    if (
        source is None
        or target is None
        or target.path.rstrip("/") != LANDER_PATH
        or source.path.rstrip("/") == LANDER_PATH
        or source.host != target.host
    ):
        return None
    return ParkedMatch(
        "GoDaddy / Dan.com lander", f"redirect to {LANDER_PATH}", "signatures-lander"
    )


def parked_by_address(
    address: str | None, fingerprints: Fingerprints | None = None
) -> ParkedMatch | None:
    """Tell whether an answer came from a parking service's addresses.

    >>> parked_by_address("185.53.178.9").service
    'ParkingCrew'
    >>> parked_by_address("127.0.0.1") is None, parked_by_address(None) is None
    (True, True)
    """
    if not address:
        return None
    if fingerprints is None:
        # every answer asks, and a crawl meets few addresses (one or two per host)
        return _parked_by_default_address(address)
    return _parked_by_address(address, fingerprints)


@lru_cache(maxsize=4096)
def _parked_by_default_address(address: str) -> ParkedMatch | None:
    return _parked_by_address(address, default_fingerprints())


def _parked_by_address(address: str, fp: Fingerprints) -> ParkedMatch | None:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for entry in fp.networks:
        if ip.version == entry.network.version and ip in entry.network:
            return ParkedMatch(entry.service, f"address {ip}", entry.source)
    return None
