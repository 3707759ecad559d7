"""Spider arguments (``-a key=value``), validated into frozen dataclasses before any request.

Unknown keys are rejected, except ``_job`` and ``_version``, which Scrapyd adds to every
job. Errors are :class:`ArgumentError` with a one-line message naming the argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import ada_url

#: keys Scrapyd passes to every spider
SCRAPYD_KEYS = frozenset({"_job", "_version"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class ArgumentError(ValueError):
    """A spider argument is missing, unknown or malformed (one-line message)."""


def _check_keys(kwargs: dict[str, Any], known: set[str], spider: str) -> None:
    unknown = sorted(set(kwargs) - known - SCRAPYD_KEYS)
    if unknown:
        msg = (
            f"{spider}: unknown argument(s) {', '.join(repr(k) for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
        raise ArgumentError(msg)


def parse_domain(value: str) -> str:
    """Normalise one ``domain`` value: a bare host name, IDN allowed, no scheme or path.

    >>> parse_domain("Example.COM."), parse_domain("bücher.de")
    ('example.com', 'xn--bcher-kva.de')
    >>> parse_domain("https://example.com/")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: domain: 'https://example.com/' is not a domain name (give a bare host name such as example.com)
    """
    raw = value.strip()
    host = raw.lower().rstrip(".")
    try:
        ascii_host = ada_url.idna_to_ascii(host) if host else b""
    except ValueError:
        ascii_host = b""
    host = ascii_host.decode("ascii") if isinstance(ascii_host, bytes) else str(ascii_host)
    labels = host.split(".") if host else []
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):  # noqa: PLR2004
        msg = f"domain: {raw!r} is not a domain name (give a bare host name such as example.com)"
        raise ArgumentError(msg)
    return host


def parse_domains(value: str) -> frozenset[str]:
    """Parse the comma-separated ``domain`` argument.

    >>> sorted(parse_domains("example.com, blog.example.org"))
    ['blog.example.org', 'example.com']
    """
    parts = [p for p in value.split(",") if p.strip()]
    if not parts:
        msg = "domain: empty value (give one or more domain names separated by commas)"
        raise ArgumentError(msg)
    return frozenset(parse_domain(p) for p in parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklinksParams:
    """``scrapy crawl backlinks -a seeds=FILE [-a domain=D1,D2]``."""

    seeds: str
    domains: frozenset[str] = frozenset()

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, {"seeds", "domain"}, "backlinks")
        seeds = str(kwargs.get("seeds", "")).strip()
        if not seeds:
            msg = "backlinks: missing argument seeds (-a seeds=FILE: a URL list or a backlink CSV export)"
            raise ArgumentError(msg)
        path = Path(seeds)
        if not path.exists():
            msg = f"seeds: file {seeds!r} does not exist"
            raise ArgumentError(msg)
        if not path.is_file():
            msg = f"seeds: {seeds!r} is not a file"
            raise ArgumentError(msg)
        domains = parse_domains(str(kwargs["domain"])) if "domain" in kwargs else frozenset()
        return cls(seeds=seeds, domains=domains)

    def as_dict(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "domain": ",".join(sorted(self.domains))}


@dataclass(frozen=True, slots=True, kw_only=True)
class RecheckParams:
    """``scrapy crawl recheck [-a domain=D1,D2]``."""

    domains: frozenset[str] = frozenset()

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, {"domain"}, "recheck")
        domains = parse_domains(str(kwargs["domain"])) if "domain" in kwargs else frozenset()
        return cls(domains=domains)
