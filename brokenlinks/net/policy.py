"""The network guard's policy: which addresses a crawler must not connect to, and host overrides.

Pure decisions, no I/O: :func:`refusal_reason` judges a resolved address (private,
loopback, link-local, reserved, IPv4 embedded in IPv6 unwrapped first); ``BROKENLINKS_RESOLVE``
overrides are parsed and matched (:class:`Overrides`, :func:`match_override`, ``*.suffix``
wildcards); :func:`split_port` and :func:`canonical_host` read hosts as the URL parser
writes them; :class:`HostPolicy` bundles these for connections made outside Twisted (the
browser's egress proxy). The resolver that applies them is :mod:`brokenlinks.net.resolver`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

import ada_url

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Net4 = ipaddress.IPv4Network
_Net6 = ipaddress.IPv6Network

# First match wins. Python's ipaddress misses some of these (100.64.0.0/10 is neither
# private nor global to it) and its lists change between Python versions: be explicit.
_IPV4_REFUSED: tuple[tuple[_Net4, str], ...] = tuple(
    (_Net4(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified"),  # "this network"; Linux connects 0.0.0.0 to itself
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space"),  # carrier-grade NAT, some cloud metadata
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # cloud metadata (169.254.169.254)
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments (DS-Lite, NAT64 discovery)
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_IPV6_REFUSED: tuple[tuple[_Net6, str], ...] = tuple(
    (_Net6(net), reason)
    for net, reason in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "reserved"),  # discard-only
        ("2001:2::/48", "benchmarking"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo is unwrapped first)
        ("3fff::/20", "documentation"),
        ("5f00::/16", "reserved"),  # SRv6 SIDs
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

_GLOBAL_UNICAST = _Net6("2000::/3")  # every IANA global unicast allocation is inside
_V4_MAPPED = _Net6("::ffff:0:0/96")
_V4_TRANSLATED = _Net6("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_V4_COMPATIBLE = _Net6("::/96")  # deprecated (RFC 4291 section 2.5.5.1)
_NAT64 = _Net6("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = _Net6("64:ff9b:1::/48")  # RFC 8215 local-use prefix
_SIX_TO_FOUR = _Net6("2002::/16")
_TEREDO = _Net6("2001::/32")

_MAX_NAME_LENGTH = 253
_MAX_LABEL_LENGTH = 63
LOCALHOST_ADDRESSES = ("127.0.0.1", "::1")
_MAX_PORT = 65535


def parse_ip(address: str) -> _IPAddress | None:
    text = address.strip().removeprefix("[").removesuffix("]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _v4(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool] | None:
    """Return the IPv4 addresses *ip* stands for, and whether they alone decide.

    ``None`` when *ip* embeds no IPv4 address. When the second value is false, the
    embedding is one no real destination uses: a refused IPv4 address gives its reason,
    an allowed one still leaves the IPv6 address refused.
    """
    value = int(ip)
    if ip in _V4_MAPPED or ip in _NAT64:
        return [_v4(value)], True
    if ip in _SIX_TO_FOUR:
        return [_v4(value >> 80)], True
    if ip in _TEREDO:
        # the server address in the clear, the client's external address inverted
        return [_v4(value >> 64), _v4(~value)], True
    if ip in _NAT64_LOCAL:
        # RFC 8215 lets the operator choose a /48 to /96 prefix inside 64:ff9b:1::/48,
        # and RFC 6052 places the IPv4 bits by prefix length (skipping bits 64-71).
        if not (value >> 32) & ((1 << 48) - 1):
            return [_v4(value)], True
        candidates = [
            _v4(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF),  # /48
            _v4(((value >> 64) & 0xFF) << 24 | (value >> 32) & 0xFFFFFF),  # /56
            _v4(value >> 24),  # /64
        ]
        return candidates, True
    if ip in _V4_TRANSLATED or ip in _V4_COMPATIBLE:
        return [_v4(value)], False
    return None


def _ipv4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for net, reason in _IPV4_REFUSED:
        if ip in net:
            return reason
    if not ip.is_global:
        return "reserved"
    return None


def refusal_reason(address: str) -> str | None:
    """Return why the guard refuses to connect to IP *address*, ``None`` if it may.

    IPv4 addresses embedded in IPv6 (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo)
    are judged as the IPv4 address they reach. Anything that is not an IP address is
    refused. Brackets and an IPv6 zone (``%eth0``) are ignored.

    >>> refusal_reason("93.184.216.34") is None
    True
    >>> refusal_reason("169.254.169.254"), refusal_reason("100.100.100.200")
    ('link-local', 'shared address space')
    >>> refusal_reason("::ffff:127.0.0.1"), refusal_reason("64:ff9b::a00:1")
    ('loopback', 'private')
    >>> refusal_reason("[fd00::1]"), refusal_reason("2606:4700::1111") is None
    ('unique-local', True)
    """
    ip = parse_ip(address)
    if ip is None:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_reason(ip)
    for net, reason in _IPV6_REFUSED[:2]:  # :: and ::1 sit inside ::/96 too
        if ip in net:
            return reason
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        addresses, decisive = embedded
        for v4 in addresses:
            if (v4_reason := _ipv4_reason(v4)) is not None:
                return v4_reason
        return None if decisive else "reserved"
    for net, reason in _IPV6_REFUSED[2:]:
        if ip in net:
            return reason
    if ip not in _GLOBAL_UNICAST or not ip.is_global:
        return "reserved"
    return None


def canonical_host(host: str) -> str:
    """Return *host* as the URL parser writes it: lower case, IDNA A-labels, no brackets.

    One trailing dot is dropped (``example.com.`` is ``example.com`` to DNS), and IP
    addresses are written in their compressed form.
    """
    host = host.strip().removeprefix("[").removesuffix("]").lower()
    host = host.removesuffix(".")
    ip = parse_ip(host)
    if ip is not None and "%" not in host:
        return ip.compressed
    ascii_host: bytes = ada_url.idna.encode(host)
    return ascii_host.decode("ascii", "replace") if ascii_host else host


def split_port(text: str, what: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            msg = f"invalid {what} {text!r}: expected [IPV6] or [IPV6]:PORT"
            raise ValueError(msg)
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, None  # a name, or an IPv6 address without port
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) <= _MAX_PORT:
        msg = f"invalid {what} {text!r}: bad port {port_text!r}"
        raise ValueError(msg)
    return host, int(port_text)


@dataclass(frozen=True, slots=True)
class Overrides:
    """``BROKENLINKS_RESOLVE`` parsed once: (name, port or None) → (address, port or None)."""

    exact: Mapping[tuple[str, int | None], tuple[str, int | None]]
    #: (".suffix", port or None, target), longest suffix first
    wildcard: tuple[tuple[str, int | None, tuple[str, int | None]], ...]

    @classmethod
    def parse(cls, overrides: Mapping[str, str]) -> Self:
        exact: dict[tuple[str, int | None], tuple[str, int | None]] = {}
        wildcard: list[tuple[str, int | None, tuple[str, int | None]]] = []
        for key, value in overrides.items():
            name, port = split_port(key, "BROKENLINKS_RESOLVE key")
            address, target_port = split_port(value, f"BROKENLINKS_RESOLVE value for {key!r}")
            ip = parse_ip(address)
            if ip is None or "%" in address:
                msg = f"invalid BROKENLINKS_RESOLVE value {value!r} for {key!r}: not an IP address"
                raise ValueError(msg)
            target = (ip.compressed, target_port)
            if name.startswith("*."):
                suffix = "." + canonical_host(name[2:])
                if suffix == ".":
                    msg = f"invalid BROKENLINKS_RESOLVE key {key!r}: empty wildcard suffix"
                    raise ValueError(msg)
                wildcard.append((suffix, port, target))
            elif not name.strip() or "*" in name:
                msg = f"invalid BROKENLINKS_RESOLVE key {key!r}: expected NAME or *.SUFFIX"
                raise ValueError(msg)
            else:
                exact[canonical_host(name), port] = target
        wildcard.sort(key=lambda entry: len(entry[0]), reverse=True)
        return cls(exact, tuple(wildcard))

    def lookup(self, host: str, port: int) -> tuple[str, int] | None:
        host = canonical_host(host)
        target = self.exact.get((host, port)) or self.exact.get((host, None))
        if target is None:
            for with_port in (True, False):
                for suffix, key_port, candidate in self.wildcard:
                    if host.endswith(suffix) and key_port == (port if with_port else None):
                        target = candidate
                        break
                if target is not None:
                    break
        if target is None:
            return None
        address, target_port = target
        return address, port if target_port is None else target_port


def match_override(host: str, port: int, overrides: Mapping[str, str]) -> tuple[str, int] | None:
    """Return the ``(address, port)`` that ``BROKENLINKS_RESOLVE`` maps *host*:*port* to.

    Keys are ``name``, ``name:port``, ``*.suffix`` or ``*.suffix:port`` (case-insensitive;
    ``*.suffix`` matches names under suffix, not suffix itself); values are ``address``,
    ``address:port`` or ``[ipv6]:port``. An exact name beats a wildcard, a longer suffix a
    shorter one, and a key with the port a key without. A value without a port keeps the
    requested port. ``None`` when nothing matches; ``ValueError`` for a malformed entry.

    >>> match_override("shop.test", 443, {"*.test": "127.0.0.1:8080"})
    ('127.0.0.1', 8080)
    >>> match_override("API.example.com", 443, {"api.example.com": "[::1]"})
    ('::1', 443)
    >>> match_override("example.com", 80, {"*.example.com": "10.0.0.1"}) is None
    True
    """
    return Overrides.parse(overrides).lookup(host, port)


def is_dns_name(host: str) -> bool:
    # getaddrinfo() raises UnicodeError (not gaierror) on an empty or over-long label,
    # which Twisted's GAIResolver does not catch: the resolution would never complete.
    if not host.isascii() or len(host) > _MAX_NAME_LENGTH:
        return False
    return all(0 < len(label) <= _MAX_LABEL_LENGTH for label in host.split("."))


def is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def is_invalid(host: str) -> bool:
    return host == "invalid" or host.endswith(".invalid")


class HostPolicy:
    """The resolver's decisions for connections made outside Twisted (the browser's proxy).

    The same order as :meth:`GuardedResolver.resolveHostName`: a ``BROKENLINKS_RESOLVE``
    mapping is trusted; ``*.invalid`` and malformed names resolve nowhere; IP literals and
    ``localhost`` names need no lookup; every other name is looked up by the caller, and
    :meth:`judge` keeps the addresses the guard allows.
    """

    def __init__(self, overrides: Mapping[str, str], *, allow_private: bool) -> None:
        self.overrides = Overrides.parse(overrides)
        self.allow_private = allow_private

    def override(self, host: str, port: int) -> tuple[str, int] | None:
        """The trusted ``(address, port)`` that ``BROKENLINKS_RESOLVE`` maps *host* to."""
        return self.overrides.lookup(host, port)

    def static_addresses(self, host: str) -> list[str] | None:
        """The addresses of *host* known without DNS; ``None``: look it up.

        >>> policy = HostPolicy({}, allow_private=False)
        >>> policy.static_addresses("[::ffff:127.0.0.1]"), policy.static_addresses("a.invalid")
        (['::ffff:7f00:1'], [])
        >>> policy.static_addresses("db.localhost"), policy.static_addresses("example.com")
        (['127.0.0.1', '::1'], None)
        """
        host = canonical_host(host)
        literal = parse_ip(host) if "%" not in host else None
        if literal is not None:
            return [literal.compressed]
        if is_invalid(host) or not is_dns_name(host):
            return []
        if is_localhost(host):
            return list(LOCALHOST_ADDRESSES)
        return None

    def judge(self, addresses: Iterable[str]) -> tuple[list[str], str | None]:
        """Split *addresses* into the ones that may be connected to and why the first was not.

        >>> HostPolicy({}, allow_private=False).judge(["10.0.0.1", "93.184.216.34"])
        (['93.184.216.34'], 'private address 10.0.0.1')
        """
        kept: list[str] = []
        refusal: str | None = None
        for address in addresses:
            reason = None if self.allow_private else refusal_reason(address)
            if reason is None:
                kept.append(address)
            elif refusal is None:
                refusal = f"{reason} address {address}"
        return kept, refusal
