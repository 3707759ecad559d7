"""GuardedResolver: the reactor's name resolver that applies the network guard.

:class:`GuardedResolver` is the Twisted name resolver Scrapy installs on the reactor from
``TWISTED_DNS_RESOLVER = "brokenlinks.net.guard.GuardedResolver"``. Twisted's
``HostnameEndpoint`` asks it for the addresses of every host it connects to (IP literals
included) and connects only to what it delivers, ports included. So the guard judges the
addresses that will really be connected to, and DNS rebinding cannot get around it. It
maps names listed in ``BROKENLINKS_RESOLVE`` to their address (and port) without any DNS
query, answers nothing for names under ``.invalid``, and drops every resolved address that
:func:`~brokenlinks.net.policy.refusal_reason` refuses unless
``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES`` is set.

A host whose addresses were all refused fails like a name that does not resolve
(Scrapy's ``CannotResolveHostError``); :func:`refused_host` is the side channel that lets the
verdict code tell the two apart.

Settings read: ``BROKENLINKS_RESOLVE``, ``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES`` (through
:class:`~brokenlinks.config.BrokenlinksConfig`), ``DNSCACHE_ENABLED``, ``DNSCACHE_SIZE``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal, Protocol, Self, cast

from scrapy.exceptions import CannotResolveHostError
from scrapy.resolver import HostResolution
from scrapy.utils.datatypes import LocalCache
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from zope.interface import implementer  # type: ignore[import-untyped]  # no stubs or py.typed

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.net.policy import (
    LOCALHOST_ADDRESSES,
    Overrides,
    canonical_host,
    is_dns_name,
    is_invalid,
    is_localhost,
    parse_ip,
    refusal_reason,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from scrapy.settings import BaseSettings
    from twisted.internet.base import ReactorBase
    from twisted.internet.interfaces import IAddress

# the guard's lines keep the logger name they had before the split (users filter on it)
logger = logging.getLogger("brokenlinks.net.guard")

_refused: LocalCache[str, str] = LocalCache(10_000)


class GuardRefused(Exception):
    """A download did not happen because the guard refused every address of its host.

    The resolver itself cannot raise it (Twisted turns an empty answer into a DNS error):
    :func:`guard_refusal` builds it from Scrapy's ``CannotResolveHostError`` and the
    :func:`refused_host` registry.
    """

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason}")
        self.host = host
        self.reason = reason


def refused_host(host: str) -> str | None:
    """Return why the guard refused every address of *host*, ``None`` if it did not.

    Call it after a download failed with ``CannotResolveHostError``: a name that resolved
    only to refused addresses fails the same way as one that did not resolve.

    >>> clear_refused_hosts()
    >>> _record_refused("Intranet.Example.", "private address 10.0.0.1")
    >>> refused_host("intranet.example"), refused_host("example.com")
    ('private address 10.0.0.1', None)
    >>> clear_refused_hosts()
    """
    return _refused.get(canonical_host(host))


def guard_refusal(exception: BaseException, host: str) -> GuardRefused | None:
    """Return a :class:`GuardRefused` if *exception* is the guard refusing *host*.

    >>> clear_refused_hosts()
    >>> _record_refused("10.0.0.1", "private address 10.0.0.1")
    >>> guard_refusal(CannotResolveHostError("no address"), "10.0.0.1")
    GuardRefused('10.0.0.1: private address 10.0.0.1')
    >>> guard_refusal(TimeoutError(), "10.0.0.1") is None
    True
    >>> clear_refused_hosts()
    """
    if not isinstance(exception, CannotResolveHostError):
        return None
    reason = refused_host(host)
    return None if reason is None else GuardRefused(host, reason)


def clear_refused_hosts() -> None:
    """Forget every refused host (for tests)."""
    _refused.clear()


def record_refused(host: str, reason: str) -> None:
    """Note that the guard refused *host* (in another process: a check shard's fetch)."""
    _refused[canonical_host(host)] = reason


_record_refused = record_refused


def _forget_refused(host: str) -> None:
    _refused.pop(canonical_host(host), None)


_Address = IPv4Address | IPv6Address
_Transport = Literal["TCP", "UDP"]
_CacheKey = tuple[str, frozenset[type["IAddress"]] | None, str]


# Twisted's interfaces are zope Interfaces, which mypy does not read as protocols (there
# is no mypy-zope plugin here): these protocols state what the resolver uses of them.
class _Resolution(Protocol):
    name: str

    def cancel(self) -> None: ...


class _Receiver(Protocol):
    def resolutionBegan(self, resolutionInProgress: _Resolution) -> None: ...

    def addressResolved(self, address: _Address) -> None: ...

    def resolutionComplete(self) -> None: ...


class _NameResolver(Protocol):
    def resolveHostName(
        self,
        resolutionReceiver: _Receiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> _Resolution: ...


class _HasSettings(Protocol):
    """A Crawler or, as in ``CrawlerProcess._setup_reactor``, the CrawlerProcess."""

    @property
    def settings(self) -> BaseSettings: ...


def _make_address(address: str, port: int, transport: _Transport) -> _Address:
    if ":" in address:
        return IPv6Address(transport, address, port)
    return IPv4Address(transport, address, port)


def _with_port(address: _Address, port: int) -> _Address:
    if isinstance(address, IPv6Address):
        return IPv6Address(address.type, address.host, port, address.flowInfo, address.scopeID)
    return IPv4Address(address.type, address.host, port)


@implementer(IHostnameResolver)
class GuardedResolver:
    """The reactor's name resolver: overrides, ``.invalid``, cache, address guard.

    Install it with ``TWISTED_DNS_RESOLVER = "brokenlinks.net.guard.GuardedResolver"``. Like
    Scrapy's ``CachingHostnameResolver`` it resolves IPv4 and IPv6 through the reactor's
    previous resolver (``getaddrinfo`` in the thread pool) and ignores ``DNS_TIMEOUT``.
    """

    def __init__(
        self,
        reactor: ReactorBase,
        *,
        overrides: Mapping[str, str],
        allow_private: bool,
        cache_size: int,
    ) -> None:
        self.reactor = reactor
        previous = cast("_NameResolver", reactor.nameResolver)
        # installing a second guard must not stack it on the first one
        while isinstance(previous, GuardedResolver):
            previous = previous.original_resolver
        self.original_resolver: _NameResolver = previous
        self.overrides = Overrides.parse(overrides)
        self.allow_private = allow_private
        self.cache: LocalCache[_CacheKey, list[_Address]] | None = (
            LocalCache(cache_size) if cache_size > 0 else None
        )
        self._logged: LocalCache[str, bool] = LocalCache(10_000)

    @classmethod
    def from_crawler(cls, crawler: _HasSettings, reactor: ReactorBase) -> Self:
        settings = crawler.settings
        config = BrokenlinksConfig.from_settings(settings)
        enabled = settings.getbool("DNSCACHE_ENABLED")
        return cls(
            reactor,
            overrides=config.resolve,
            allow_private=config.allow_private_addresses,
            cache_size=settings.getint("DNSCACHE_SIZE") if enabled else 0,
        )

    def install_on_reactor(self) -> None:
        # zope's implementer() is invisible to mypy
        self.reactor.installNameResolver(self)  # type: ignore[arg-type]

    def resolveHostName(
        self,
        resolutionReceiver: _Receiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> _Resolution:
        """Deliver the addresses *hostName* may be connected to (see the module docstring)."""
        host = canonical_host(hostName)
        types = None if addressTypes is None else frozenset(addressTypes)
        transport: _Transport = "UDP" if transportSemantics == "UDP" else "TCP"
        override = self.overrides.lookup(host, portNumber)
        if override is not None:
            # an operator's explicit mapping is trusted: no guard, no DNS
            address, port = override
            found = [_make_address(address, port, transport)]
            return _deliver(resolutionReceiver, hostName, found, types)
        if is_invalid(host) or not is_dns_name(host):
            # RFC 6761 section 6.4; getaddrinfo() would raise UnicodeError on a bad name
            return _deliver(resolutionReceiver, hostName, [], types)
        key: _CacheKey = (host, types, transport)
        if self.cache is not None and key in self.cache:
            cached = [_with_port(address, portNumber) for address in self.cache[key]]
            return _deliver(resolutionReceiver, hostName, cached, types)
        receiver = _GuardingReceiver(self, resolutionReceiver, host, key)
        literal = parse_ip(host) if "%" not in host else None
        if literal is not None or is_localhost(host):
            # IP literals and localhost names (RFC 6761 section 6.3) need no lookup
            texts = (literal.compressed,) if literal is not None else LOCALHOST_ADDRESSES
            found = [_make_address(text, portNumber, transport) for text in texts]
            return _deliver(receiver, hostName, found, types)
        return self.original_resolver.resolveHostName(
            receiver, host, portNumber, addressTypes, transportSemantics
        )

    def refusal(self, address: _Address) -> str | None:
        """Return why a resolved *address* is dropped, ``None`` to keep it."""
        if self.allow_private:
            return None
        return refusal_reason(address.host)

    def completed(
        self,
        host: str,
        key: _CacheKey,
        kept: list[_Address],
        refused: list[tuple[_Address, str]],
    ) -> None:
        """Cache what was kept, or record and log that every address was refused."""
        if kept:
            _forget_refused(host)
            if self.cache is not None:
                # port-agnostic entries; the requested port is set on cache hits
                self.cache[key] = [_with_port(address, 0) for address in kept]
            if refused:
                logger.debug(
                    "Dropped %(count)d refused addresses of %(host)s",
                    {"count": len(refused), "host": host},
                )
            return
        if not refused:
            _forget_refused(host)
            return
        address, reason = refused[0]
        detail = f"{reason} address {address.host}"
        _record_refused(host, detail)
        if host not in self._logged:
            self._logged[host] = True
            logger.info(
                "Refused to connect to %(host)s: %(detail)s (see "
                "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES and BROKENLINKS_RESOLVE)",
                {"host": host, "detail": detail},
            )


def _deliver(
    receiver: _Receiver,
    name: str,
    addresses: Iterable[_Address],
    types: frozenset[type[IAddress]] | None,
) -> _Resolution:
    resolution = HostResolution(name)
    receiver.resolutionBegan(resolution)
    for address in addresses:
        if types is None or type(address) in types:
            receiver.addressResolved(address)
    receiver.resolutionComplete()
    return resolution


@implementer(IResolutionReceiver)
class _GuardingReceiver:
    """Passes on the addresses the guard keeps, then tells the guard how it went."""

    def __init__(
        self, guard: GuardedResolver, receiver: _Receiver, host: str, key: _CacheKey
    ) -> None:
        self.guard = guard
        self.receiver = receiver
        self.host = host
        self.key = key
        self.kept: list[_Address] = []
        self.refused: list[tuple[_Address, str]] = []

    def resolutionBegan(self, resolutionInProgress: _Resolution) -> None:
        self.receiver.resolutionBegan(resolutionInProgress)

    def addressResolved(self, address: _Address) -> None:
        reason = self.guard.refusal(address)
        if reason is None:
            self.kept.append(address)
            self.receiver.addressResolved(address)
        else:
            self.refused.append((address, reason))

    def resolutionComplete(self) -> None:
        # record a refusal before the endpoint fails, so that its errback can see it
        self.guard.completed(self.host, self.key, self.kept, self.refused)
        self.receiver.resolutionComplete()
