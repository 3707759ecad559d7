"""The network guard: address tables, override tables, the resolver on the running reactor.

Nothing here resolves a real name: host names are IP literals, ``localhost`` (answered by
the guard itself), names under ``.invalid`` (never looked up) or names served by a
table-driven ``getaddrinfo`` handed to Twisted's own ``GAIResolver``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_twisted
from scrapy.exceptions import CannotResolveHostError
from scrapy.settings import Settings
from scrapy.utils.misc import build_from_crawler
from twisted.internet._resolver import GAIResolver
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolutionReceiver
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.web.client import Agent
from twisted.web.resource import Resource
from twisted.web.server import Site
from zope.interface import implementer

from brokenlinks.net import resolver
from brokenlinks.net.guard import (
    GuardedResolver,
    GuardRefused,
    clear_refused_hosts,
    guard_refusal,
    match_override,
    refusal_reason,
    refused_host,
)

# ---------------------------------------------------------------------------------------
# refusal_reason

LOOPBACK = [
    "127.0.0.1",
    "127.1.2.3",
    "127.255.255.254",
    "::1",
    "0:0:0:0:0:0:0:1",
    "[::1]",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",  # the same, in hex
    "::127.0.0.1",  # IPv4-compatible (deprecated; Python calls it global)
    "64:ff9b::7f00:1",  # NAT64 well-known prefix
    "64:ff9b::127.0.0.1",
    "64:ff9b:1::7f00:1",  # NAT64 local-use prefix, /96 layout
    "64:ff9b:1:7f00:0:100::",  # NAT64 local-use prefix, /48 layout (RFC 6052)
    "2002:7f00:1::",  # 6to4
    "2002:7f00:1:1234::5",
    "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (inverted)
]


@pytest.mark.parametrize("address", LOOPBACK)
def test_every_spelling_of_loopback_is_refused(address):
    assert refusal_reason(address) == "loopback"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("10.255.255.255", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("192.168.255.255", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:192.168.1.1", "private"),
        ("64:ff9b::c0a8:101", "private"),
        ("2002:c0a8:101::1", "private"),
        ("169.254.169.254", "link-local"),  # AWS, GCP, Azure metadata
        ("169.254.0.1", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:a9fe:a9fe", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("[fe80::1%25eth0]", "link-local"),
        ("100.64.0.1", "shared address space"),
        ("100.100.100.200", "shared address space"),  # Alibaba Cloud metadata
        ("100.127.255.255", "shared address space"),
        ("::ffff:100.100.100.200", "shared address space"),
        ("fd00::1", "unique-local"),
        ("fd00:ec2::254", "unique-local"),  # AWS metadata over IPv6
        ("fc00::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("ff05::2", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.1", "reserved"),
        ("192.0.0.9", "reserved"),
        ("192.88.99.1", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("2001:2::1", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation"),  # RFC 4380's example
        ("100::1", "reserved"),  # discard-only
        ("2001:10::1", "reserved"),  # ORCHID
        ("5f00::1", "reserved"),
        ("::8.8.8.8", "reserved"),  # IPv4-compatible: no real destination
        ("::ffff:0:808:808", "reserved"),  # IPv4-translated
        ("1::", "reserved"),  # outside 2000::/3
        ("4000::1", "reserved"),
        ("not-an-address", "not an IP address"),
        ("", "not an IP address"),
        ("127.1", "not an IP address"),  # resolved names arrive in canonical form
        ("example.com", "not an IP address"),
    ],
)
def test_refused_addresses(address, reason):
    assert refusal_reason(address) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",  # just below 100.64.0.0/10
        "100.128.0.0",  # just above it
        "172.15.255.255",
        "172.32.0.1",
        "192.167.255.255",
        "192.169.0.0",
        "169.253.255.255",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "[2606:4700::1111]",
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "64:ff9b::808:808",  # NAT64 of a public address
        "64:ff9b:1::808:808",
        "2002:808:808::1",  # 6to4 of a public address
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, client 8.8.8.8
    ],
)
def test_public_addresses_pass(address):
    assert refusal_reason(address) is None


# ---------------------------------------------------------------------------------------
# match_override

OVERRIDES = {
    "shop.test": "127.0.0.1:8080",
    "shop.test:443": "127.0.0.1:8443",
    "*.test": "127.0.0.2",
    "*.test:8000": "127.0.0.3:9000",
    "*.deep.test": "127.0.0.4:81",
    "v6.example": "[::1]:8081",
    "v6bare.example": "::1",
    "API.Example.COM": "10.0.0.1",
    "xn--bcher-kva.example": "127.0.0.5",
    "straße.example": "127.0.0.6",
    "[::1]:80": "127.0.0.7:8080",
}


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("shop.test", 80, ("127.0.0.1", 8080)),  # exact name, value port
        ("shop.test", 443, ("127.0.0.1", 8443)),  # a key with the port beats one without
        ("SHOP.TEST", 80, ("127.0.0.1", 8080)),  # case-insensitive
        ("shop.test.", 80, ("127.0.0.1", 8080)),  # trailing dot
        ("a.shop.test", 80, ("127.0.0.2", 80)),  # wildcard, value without port keeps it
        ("other.test", 443, ("127.0.0.2", 443)),
        ("other.test", 8000, ("127.0.0.3", 9000)),  # wildcard with port beats without
        ("shop.test", 8000, ("127.0.0.1", 8080)),  # exact name beats wildcard with port
        ("a.b.c.test", 80, ("127.0.0.2", 80)),  # any depth
        ("x.deep.test", 80, ("127.0.0.4", 81)),  # longer suffix beats shorter
        ("x.deep.test", 8000, ("127.0.0.3", 9000)),  # ... unless only the shorter has the port
        ("deep.test", 80, ("127.0.0.2", 80)),  # *.deep.test does not match deep.test
        ("test", 80, None),  # nor *.test the bare suffix
        ("shoptest", 80, None),
        ("shop.test.example", 80, None),
        ("v6.example", 443, ("::1", 8081)),
        ("v6bare.example", 443, ("::1", 443)),
        ("api.example.com", 443, ("10.0.0.1", 443)),
        ("bücher.example", 80, ("127.0.0.5", 80)),  # IDN in, A-label key
        ("xn--strae-oqa.example", 80, ("127.0.0.6", 80)),  # A-label in, IDN key
        ("::1", 80, ("127.0.0.7", 8080)),
        ("[::1]", 80, ("127.0.0.7", 8080)),
        ("0:0:0:0:0:0:0:1", 80, ("127.0.0.7", 8080)),
        ("::1", 81, None),
        ("example.com", 80, None),
    ],
)
def test_match_override(host, port, expected):
    assert match_override(host, port, OVERRIDES) == expected


def test_match_override_empty():
    assert match_override("shop.test", 80, {}) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("shop.test", "not-an-ip"),
        ("shop.test", "example.com:80"),
        ("shop.test", "127.0.0.1:0"),
        ("shop.test", "127.0.0.1:65536"),
        ("shop.test", "127.0.0.1:http"),
        ("shop.test", "127.0.0.1:\u00b2"),
        ("shop.test", "[::1"),
        ("shop.test", "[::1]x"),
        ("shop.test", "fe80::1%eth0"),
        ("shop.test:abc", "127.0.0.1"),
        ("*", "127.0.0.1"),
        ("*.", "127.0.0.1"),
        ("a.*.test", "127.0.0.1"),
        ("", "127.0.0.1"),
    ],
)
def test_match_override_rejects_malformed_entries(key, value):
    with pytest.raises(ValueError, match="BROKENLINKS_RESOLVE"):
        match_override("shop.test", 80, {key: value})


# ---------------------------------------------------------------------------------------
# the refused-host registry


@pytest.fixture(autouse=True)
def _clean_registry():
    clear_refused_hosts()
    yield
    clear_refused_hosts()


@pytest.mark.parametrize(
    ("recorded", "asked"),
    [
        ("intranet.example", "INTRANET.example."),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "bücher.example"),
        ("::1", "[::1]"),
        ("0:0:0:0:0:0:0:1", "::1"),
    ],
)
def test_refused_host_normalises_names(recorded, asked):
    resolver._record_refused(recorded, "loopback address 127.0.0.1")
    assert refused_host(asked) == "loopback address 127.0.0.1"


def test_guard_refusal_wraps_only_dns_errors_of_refused_hosts():
    resolver._record_refused("10.1.2.3", "private address 10.1.2.3")
    refusal = guard_refusal(CannotResolveHostError("no address"), "10.1.2.3")
    assert isinstance(refusal, GuardRefused)
    assert (refusal.host, refusal.reason) == ("10.1.2.3", "private address 10.1.2.3")
    assert guard_refusal(CannotResolveHostError("no address"), "10.9.9.9") is None
    assert guard_refusal(ConnectionRefusedError(), "10.1.2.3") is None


def test_registry_is_bounded():
    assert resolver._refused.limit is not None
    assert resolver._refused.limit > 0


# ---------------------------------------------------------------------------------------
# the resolver on the running reactor

PUBLIC = "93.184.216.34"


class TableGetaddrinfo:
    """getaddrinfo() for Twisted's GAIResolver from a table: no name leaves the process."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def __call__(self, host, port, family=socket.AF_UNSPEC, socktype=0, *_):
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        results = []
        for address in self.table[host]:
            if family in (socket.AF_UNSPEC, socket.AF_INET6 if ":" in address else socket.AF_INET):
                results += socket.getaddrinfo(
                    address, port, family, socktype, 0, socket.AI_NUMERICHOST
                )
        return results


@pytest.fixture
def reactor():
    """The running reactor, with its name resolvers restored after the test."""
    from twisted.internet import reactor as running

    saved = (running._nameResolver, running.resolver)
    yield running
    running._nameResolver, running.resolver = saved


@pytest.fixture
def dns(reactor):
    """A table-driven GAIResolver installed as the reactor's resolver."""
    table = TableGetaddrinfo(
        {
            "public.example": [PUBLIC, "2606:4700::1111"],
            "mixed.example": ["10.0.0.1", PUBLIC, "fd00::1"],
            "intranet.example": ["10.0.0.1", "fd00::1"],
            "metadata.example": ["169.254.169.254"],
            "rebind.example": ["::ffff:127.0.0.1"],
        }
    )
    reactor.installNameResolver(GAIResolver(reactor, reactor.getThreadPool, table))
    return table


def make_resolver(reactor, *, overrides=None, allow_private=False, cache_size=100):
    return GuardedResolver(
        reactor, overrides=overrides or {}, allow_private=allow_private, cache_size=cache_size
    )


@implementer(IResolutionReceiver)
class Receiver:
    def __init__(self):
        self.began = False
        self.addresses = []
        self.done = Deferred()

    def resolutionBegan(self, resolution):
        self.began = True

    def addressResolved(self, address):
        self.addresses.append(address)

    def resolutionComplete(self):
        self.done.callback(self.addresses)


async def resolve(resolver, host, port=80, address_types=None, transport="TCP"):
    receiver = Receiver()
    resolver.resolveHostName(receiver, host, port, address_types, transport)
    addresses = await receiver.done
    assert receiver.began
    return [(type(a).__name__, a.type, a.host, a.port) for a in addresses]


@pytest_twisted.ensureDeferred
async def test_override_name_gets_its_address_and_port(reactor, dns):
    resolver = make_resolver(reactor, overrides={"app.test": "127.0.0.1:8080"})
    assert await resolve(resolver, "app.test", 80) == [("IPv4Address", "TCP", "127.0.0.1", 8080)]
    assert await resolve(resolver, "APP.test.", 80) == [("IPv4Address", "TCP", "127.0.0.1", 8080)]
    assert dns.calls == []
    assert refused_host("app.test") is None


@pytest_twisted.ensureDeferred
async def test_wildcard_override_remaps_the_port(reactor, dns):
    resolver = make_resolver(
        reactor, overrides={"*.test": "127.0.0.1", "*.test:443": "[::1]:8443"}
    )
    assert await resolve(resolver, "shop.test", 80) == [("IPv4Address", "TCP", "127.0.0.1", 80)]
    assert await resolve(resolver, "a.b.test", 443) == [("IPv6Address", "TCP", "::1", 8443)]
    assert await resolve(resolver, "shop.test", 53, transport="UDP") == [
        ("IPv4Address", "UDP", "127.0.0.1", 53)
    ]
    assert dns.calls == []


@pytest_twisted.ensureDeferred
async def test_override_respects_address_types(reactor, dns):
    resolver = make_resolver(reactor, overrides={"v6.test": "::1"})
    assert await resolve(resolver, "v6.test", 80, [IPv4Address]) == []
    assert await resolve(resolver, "v6.test", 80, [IPv6Address]) == [
        ("IPv6Address", "TCP", "::1", 80)
    ]


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "app.localhost"])
async def test_localhost_is_refused_and_recorded(reactor, dns, host):
    resolver = make_resolver(reactor)
    assert await resolve(resolver, host) == []
    assert refused_host(host) == "loopback address 127.0.0.1"
    assert dns.calls == []  # localhost names are answered without a lookup (RFC 6761)


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback address 127.0.0.1"),
        ("::1", "loopback address ::1"),
        ("::ffff:127.0.0.1", "loopback address ::ffff:7f00:1"),
        ("169.254.169.254", "link-local address 169.254.169.254"),
        ("100.100.100.200", "shared address space address 100.100.100.200"),
    ],
)
async def test_ip_literals_are_judged_too(reactor, dns, host, reason):
    resolver = make_resolver(reactor)
    assert await resolve(resolver, host) == []
    assert refused_host(host) == reason
    assert dns.calls == []


@pytest_twisted.ensureDeferred
async def test_allow_private_lets_everything_through(reactor, dns):
    resolver = make_resolver(reactor, allow_private=True)
    assert await resolve(resolver, "localhost", 8080) == [
        ("IPv4Address", "TCP", "127.0.0.1", 8080),
        ("IPv6Address", "TCP", "::1", 8080),
    ]
    assert await resolve(resolver, "127.0.0.1", 81) == [("IPv4Address", "TCP", "127.0.0.1", 81)]
    assert sorted(await resolve(resolver, "intranet.example", 80)) == [
        ("IPv4Address", "TCP", "10.0.0.1", 80),
        ("IPv6Address", "TCP", "fd00::1", 80),
    ]
    assert refused_host("localhost") is None
    assert refused_host("127.0.0.1") is None
    assert refused_host("intranet.example") is None


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("host", ["x.invalid", "INVALID", "a.b.invalid."])
async def test_invalid_names_resolve_nowhere_and_are_not_refusals(reactor, dns, host):
    resolver = make_resolver(reactor, allow_private=True)
    assert await resolve(resolver, host) == []
    assert refused_host(host) is None
    assert dns.calls == []


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example", "x" * 250 + ".example"])
async def test_names_getaddrinfo_cannot_take_complete_without_lookup(reactor, dns, host):
    # getaddrinfo() raises UnicodeError on these, which GAIResolver does not handle
    resolver = make_resolver(reactor)
    assert await resolve(resolver, host) == []
    assert dns.calls == []


@pytest_twisted.ensureDeferred
async def test_resolved_addresses_are_filtered(reactor, dns):
    resolver = make_resolver(reactor)
    assert sorted(await resolve(resolver, "public.example", 443)) == [
        ("IPv4Address", "TCP", PUBLIC, 443),
        ("IPv6Address", "TCP", "2606:4700::1111", 443),
    ]
    assert await resolve(resolver, "mixed.example", 80) == [("IPv4Address", "TCP", PUBLIC, 80)]
    assert refused_host("mixed.example") is None
    assert await resolve(resolver, "intranet.example") == []
    assert refused_host("intranet.example") == "private address 10.0.0.1"
    assert await resolve(resolver, "metadata.example") == []
    assert refused_host("metadata.example") == "link-local address 169.254.169.254"
    assert await resolve(resolver, "rebind.example") == []
    assert refused_host("rebind.example") == "loopback address ::ffff:127.0.0.1"


@pytest_twisted.ensureDeferred
async def test_names_that_do_not_resolve_are_not_refusals(reactor, dns):
    resolver = make_resolver(reactor)
    assert await resolve(resolver, "nowhere.example") == []
    assert dns.calls == ["nowhere.example"]
    assert refused_host("nowhere.example") is None


@pytest_twisted.ensureDeferred
async def test_address_types_reach_the_lookup(reactor, dns):
    resolver = make_resolver(reactor)
    assert await resolve(resolver, "public.example", 80, [IPv6Address]) == [
        ("IPv6Address", "TCP", "2606:4700::1111", 80)
    ]
    assert await resolve(resolver, "public.example", 80, [IPv4Address]) == [
        ("IPv4Address", "TCP", PUBLIC, 80)
    ]
    # the IPv6-only answer was not cached as the answer for every family
    assert len(await resolve(resolver, "public.example", 80)) == 2


@pytest_twisted.ensureDeferred
async def test_cache_is_port_agnostic_and_keeps_only_allowed_answers(reactor, dns):
    resolver = make_resolver(reactor)
    assert await resolve(resolver, "mixed.example", 80) == [("IPv4Address", "TCP", PUBLIC, 80)]
    assert await resolve(resolver, "Mixed.Example", 8443) == [("IPv4Address", "TCP", PUBLIC, 8443)]
    assert dns.calls == ["mixed.example"]
    # refusals are not cached: a name that moves to a public address is seen at once
    await resolve(resolver, "intranet.example")
    await resolve(resolver, "intranet.example")
    assert dns.calls.count("intranet.example") == 2


@pytest_twisted.ensureDeferred
async def test_cache_can_be_off(reactor, dns):
    resolver = make_resolver(reactor, cache_size=0)
    await resolve(resolver, "public.example")
    await resolve(resolver, "public.example")
    assert dns.calls == ["public.example", "public.example"]


@pytest_twisted.ensureDeferred
async def test_cache_does_not_shadow_overrides(reactor, dns):
    plain = make_resolver(reactor)
    await resolve(plain, "public.example")
    overridden = make_resolver(reactor, overrides={"public.example": "127.0.0.1:8080"})
    assert await resolve(overridden, "public.example") == [
        ("IPv4Address", "TCP", "127.0.0.1", 8080)
    ]


@pytest_twisted.ensureDeferred
async def test_a_later_allowed_answer_clears_the_refusal(reactor, dns):
    resolver = make_resolver(reactor, cache_size=0)
    await resolve(resolver, "intranet.example")
    assert refused_host("intranet.example") is not None
    dns.table["intranet.example"] = [PUBLIC]
    assert await resolve(resolver, "intranet.example") == [("IPv4Address", "TCP", PUBLIC, 80)]
    assert refused_host("intranet.example") is None


@pytest_twisted.ensureDeferred
async def test_refusals_are_logged_once_per_host(reactor, dns, caplog):
    resolver = make_resolver(reactor)
    with caplog.at_level(logging.INFO, logger="brokenlinks.net.guard"):
        for _ in range(3):
            await resolve(resolver, "intranet.example")
        await resolve(resolver, "127.0.0.1")
    messages = [r.getMessage() for r in caplog.records if r.name == "brokenlinks.net.guard"]
    assert len(messages) == 2
    assert "intranet.example" in messages[0]
    assert "private address 10.0.0.1" in messages[0]


# ---------------------------------------------------------------------------------------
# construction and installation


def test_from_crawler_reads_the_settings():
    reactor = MemoryReactorClock()
    settings = Settings(
        {
            "BROKENLINKS_RESOLVE": "app.test=127.0.0.1:8080,*.test=127.0.0.2",
            "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "true",
            "DNSCACHE_SIZE": 7,
        }
    )
    # CrawlerProcess._setup_reactor passes the CrawlerProcess: only .settings is there
    resolver = build_from_crawler(
        GuardedResolver, SimpleNamespace(settings=settings), reactor=reactor
    )
    assert resolver.allow_private is True
    assert resolver.cache is not None
    assert resolver.cache.limit == 7
    assert resolver.overrides.lookup("app.test", 80) == ("127.0.0.1", 8080)
    assert resolver.overrides.lookup("x.test", 80) == ("127.0.0.2", 80)
    assert resolver.original_resolver is reactor.nameResolver


def test_from_crawler_defaults_and_cache_switch():
    reactor = MemoryReactorClock()
    settings = Settings({"DNSCACHE_ENABLED": False})
    resolver = GuardedResolver.from_crawler(SimpleNamespace(settings=settings), reactor)
    assert resolver.allow_private is False
    assert resolver.cache is None
    assert resolver.overrides.lookup("app.test", 80) is None


def test_from_crawler_rejects_a_bad_override():
    settings = Settings({"BROKENLINKS_RESOLVE": {"app.test": "not-an-address"}})
    with pytest.raises(ValueError, match=r"app\.test"):
        GuardedResolver.from_crawler(SimpleNamespace(settings=settings), MemoryReactorClock())


def test_install_on_reactor_does_not_stack_guards():
    reactor = MemoryReactorClock()
    original = reactor.nameResolver
    first = make_resolver(reactor)
    first.install_on_reactor()
    assert reactor.nameResolver is first
    second = make_resolver(reactor)
    second.install_on_reactor()
    assert reactor.nameResolver is second
    assert second.original_resolver is original


# ---------------------------------------------------------------------------------------
# end to end: Twisted endpoints and agents connect only where the guard says


class Greeter(Protocol):
    def connectionMade(self):
        self.transport.write(b"hello from the guarded side")
        self.transport.loseConnection()


class Collector(Protocol):
    def __init__(self):
        self.data = b""
        self.closed = Deferred()

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason):
        self.closed.callback(self.data)


@pytest.fixture
def greeter_port(reactor):
    port = reactor.listenTCP(0, Factory.forProtocol(Greeter), interface="127.0.0.1")
    yield port.getHost().port
    port.stopListening()


@pytest_twisted.ensureDeferred
async def test_endpoint_connects_through_override_with_port_remap(reactor, greeter_port):
    # port 9 (discard) is what the URL says; the override sends it to the test server
    make_resolver(
        reactor, overrides={"app.test:9": f"127.0.0.1:{greeter_port}"}
    ).install_on_reactor()
    endpoint = HostnameEndpoint(reactor, "app.test", 9, timeout=5)
    protocol = await endpoint.connect(Factory.forProtocol(Collector))
    assert await protocol.closed == b"hello from the guarded side"


@pytest_twisted.ensureDeferred
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_endpoint_to_refused_address_fails_as_dns_error(reactor, greeter_port, host):
    make_resolver(reactor, overrides={"app.test": "127.0.0.1"}).install_on_reactor()
    endpoint = HostnameEndpoint(reactor, host, greeter_port, timeout=5)
    with pytest.raises(DNSLookupError):
        await endpoint.connect(Factory.forProtocol(Collector))
    assert refused_host(host) == "loopback address 127.0.0.1"


@pytest_twisted.ensureDeferred
async def test_endpoint_with_allow_private_reaches_loopback(reactor, greeter_port):
    make_resolver(reactor, allow_private=True).install_on_reactor()
    endpoint = HostnameEndpoint(reactor, "127.0.0.1", greeter_port, timeout=5)
    protocol = await endpoint.connect(Factory.forProtocol(Collector))
    assert await protocol.closed == b"hello from the guarded side"


@pytest.fixture
def web_port(reactor):
    class Hello(Resource):
        isLeaf = True

        def render_GET(self, request):
            return b"host=" + request.getHeader(b"host")

    port = reactor.listenTCP(0, Site(Hello()), interface="127.0.0.1")
    yield port.getHost().port
    port.stopListening()


@pytest_twisted.ensureDeferred
async def test_agent_reaches_idn_host_through_wildcard(reactor, web_port):
    make_resolver(reactor, overrides={"*.test": f"127.0.0.1:{web_port}"}).install_on_reactor()
    agent = Agent(reactor, connectTimeout=5)
    # Agent hands HostnameEndpoint the A-label; the endpoint passes the U-label on
    response = await agent.request(b"GET", b"http://xn--bcher-kva.test:1/")
    assert response.code == 200
    body = Collector()
    response.deliverBody(body)  # not readBody(), which warns about the asyncio transport
    assert await body.closed == b"host=xn--bcher-kva.test:1"
    with pytest.raises(DNSLookupError):
        await agent.request(b"GET", f"http://127.0.0.1:{web_port}/".encode())
    await agent._pool.closeCachedConnections()


CRAWL_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import scrapy
    from scrapy.crawler import CrawlerProcess

    from brokenlinks.net import guard

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    results = {}

    class Probe(scrapy.Spider):
        name = "probe"

        async def start(self):
            for url in ("http://app.test:1/", f"http://127.0.0.1:{port}/", "http://x.invalid/"):
                yield scrapy.Request(url, callback=self.ok, errback=self.failed, cb_kwargs={"key": url})

        def ok(self, response, key):
            results[key] = ["ok", response.status]

        def failed(self, failure):
            key = failure.request.cb_kwargs["key"]
            host = key.split("/")[2].split(":")[0]
            results[key] = [type(failure.value).__name__, guard.refused_host(host)]

    process = CrawlerProcess(
        {
            "TWISTED_DNS_RESOLVER": "brokenlinks.net.guard.GuardedResolver",
            "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{port}"},
            "RETRY_ENABLED": False,
            "DOWNLOAD_TIMEOUT": 10,
            "ROBOTSTXT_OBEY": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "INFO",
        }
    )
    process.crawl(Probe)
    process.start()
    print(json.dumps({"port": port, "results": results}))
    """
)


@pytest.mark.e2e
def test_scrapy_installs_the_guard_from_twisted_dns_resolver(tmp_path):
    root = str(Path(__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", PYTHONPATH=pythonpath)
    proc = subprocess.run(
        [sys.executable, "-c", CRAWL_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    port = out["port"]
    assert out["results"] == {
        "http://app.test:1/": ["ok", 200],
        f"http://127.0.0.1:{port}/": ["CannotResolveHostError", "loopback address 127.0.0.1"],
        "http://x.invalid/": ["CannotResolveHostError", None],
    }
    assert "Refused to connect to 127.0.0.1: loopback address 127.0.0.1" in proc.stderr
