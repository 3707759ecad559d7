"""The site of a URL: its registered domain, by the bundled Public Suffix List (offline).

Pure functions around one offline ``TLDExtract``. Where the suffix is unknown (an IP
address, ``localhost``, reserved names such as ``*.test``), the site is the host name
itself without a leading ``www.``.
"""

from __future__ import annotations

from functools import lru_cache

import tldextract

from brokenlinks.parsing.urls import host_of

# The private section too (github.io, blogspot.com...): the browser's registrable domain,
# so that two people's blogs on one platform are two sites.
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


@lru_cache(maxsize=65536)
def site_of_host(host: str) -> str:
    """Return the site of a host name.

    >>> site_of_host("blog.example.co.uk")
    'example.co.uk'
    >>> site_of_host("www.shop.test"), site_of_host("127.0.0.1"), site_of_host("localhost")
    ('shop.test', '127.0.0.1', 'localhost')
    """
    host = host.lower().rstrip(".")
    registered: str = _EXTRACT.extract_str(host).top_domain_under_public_suffix
    if registered:
        return registered
    return host.removeprefix("www.")


def site_of(url: str) -> str:
    """Return the site of a parsed URL (``""`` for URLs without a host, like ``mailto:``).

    >>> site_of("https://news.bbc.co.uk/sport/")
    'bbc.co.uk'
    """
    host = host_of(url)
    return site_of_host(host) if host else ""


def is_outbound(url: str, page_url: str) -> bool:
    """Tell whether *url* is on another site than *page_url*.

    >>> is_outbound("https://other.org/x", "https://www.example.com/")
    True
    >>> is_outbound("https://shop.example.com/x", "https://www.example.com/")
    False
    """
    return site_of(url) != site_of(page_url)


def in_domains(url: str, domains: frozenset[str]) -> bool:
    """Tell whether *url*'s host is one of *domains* or a subdomain of one.

    >>> in_domains("https://blog.example.com/x", frozenset({"example.com"}))
    True
    >>> in_domains("https://notexample.com/", frozenset({"example.com"}))
    False
    """
    host = host_of(url).removesuffix(".")
    return any(host == d or host.endswith("." + d) for d in domains)
