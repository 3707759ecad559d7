"""Is an expired domain free? RDAP lookups through IANA's bootstrap registry (RFC 9224).

IANA publishes which RDAP server answers for each top-level domain
(``https://data.iana.org/rdap/dns.json``: ``{"services": [[["com", "net"],
["https://rdap.verisign.com/com/v1/"]], ...]}``). :func:`rdap_servers` reads that file,
:func:`domain_url` builds the query ``{server}domain/{name}`` (RFC 9082), and
:func:`domain_status` turns the answer into registered (200 with a domain object),
unregistered (404) or unknown (anything else: rate limited, no RDAP server for the TLD, a
network failure). Pure; reads no settings.
"""

from __future__ import annotations

import json
from typing import Any

REGISTERED = "registered"
UNREGISTERED = "unregistered"
UNKNOWN = "unknown"


def rdap_servers(body: bytes | str) -> dict[str, str]:
    """Map each TLD of a bootstrap file to its first (https preferred) RDAP base URL.

    >>> rdap_servers('{"services": [[["com", "NET"], ["http://r.example/", "https://r.example/"]]]}')
    {'com': 'https://r.example/', 'net': 'https://r.example/'}
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"not an RDAP bootstrap file: {e}"
        raise ValueError(msg) from e
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, list):
        msg = "not an RDAP bootstrap file: no services array"
        raise ValueError(msg)  # noqa: TRY004  (bad input, reported like the JSON error)
    servers: dict[str, str] = {}
    for service in services:
        if not (isinstance(service, list) and len(service) >= 2):  # noqa: PLR2004
            continue
        tlds, urls = service[0], service[1]
        if not urls:
            continue
        url = next((u for u in urls if str(u).startswith("https:")), urls[0])
        for tld in tlds:
            servers.setdefault(str(tld).lower(), str(url))
    return servers


def domain_url(servers: dict[str, str], domain: str) -> str | None:
    """The RDAP query URL for *domain*, or None when no server is known for its TLD.

    >>> domain_url({"com": "https://r.example/com/v1/"}, "Gone.COM")
    'https://r.example/com/v1/domain/gone.com'
    >>> domain_url({"com": "https://r.example/v1"}, "a.com"), domain_url({}, "a.zz")
    ('https://r.example/v1/domain/a.com', None)
    """
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    # the longest matching suffix first (bootstrap entries may name multi-label suffixes)
    for i in range(len(labels)):
        base = servers.get(".".join(labels[i:]))
        if base is not None:
            return f"{base.rstrip('/')}/domain/{domain}"
    return None


def domain_status(status: int, body: bytes | str) -> str:
    """registered, unregistered or unknown, from an RDAP answer's status and body.

    >>> domain_status(200, '{"objectClassName": "domain", "ldhName": "a.com"}')
    'registered'
    >>> domain_status(404, ''), domain_status(429, ''), domain_status(200, 'oops')
    ('unregistered', 'unknown', 'unknown')
    """
    if status == 404:  # noqa: PLR2004
        return UNREGISTERED
    if status != 200:  # noqa: PLR2004
        return UNKNOWN
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return UNKNOWN
    if isinstance(data, dict) and data.get("objectClassName") == "domain":
        return REGISTERED
    return UNKNOWN
