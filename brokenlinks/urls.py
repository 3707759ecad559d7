"""Resolve hrefs the way browsers do (the WHATWG URL standard, through ada-url).

Pure functions, no settings. ``resolve_href`` is the only way the project turns an href
into a target URL, so that extraction, seeds and checks agree on one key per target.
"""

from __future__ import annotations

from functools import lru_cache

import ada_url

HTTP_SCHEMES = frozenset({"http", "https"})
_ASCII_WHITESPACE = "".join(map(chr, range(0x21)))


def drop_fragment(url: str) -> str:
    """Return *url* without its fragment.

    In a serialised WHATWG URL the first ``#`` always starts the fragment: a ``#``
    anywhere else is percent-encoded by the parser.

    >>> drop_fragment("https://example.com/a?b=1#top")
    'https://example.com/a?b=1'
    """
    return url.split("#", 1)[0]


def resolve_href(href: str, base: str) -> str | None:
    """Resolve *href* against *base* as ``new URL(href, base)`` would, without fragment.

    Returns ``None`` when the href is not a URL at all (the link is then ``invalid_url``).

    >>> resolve_href(" ../b\\tc#x ", "http://EXAMPLE.com:80/a/d")
    'http://example.com/bc'
    >>> resolve_href("http://[::1", "http://example.com/") is None
    True
    """
    try:
        return drop_fragment(ada_url.join_url(base, href))
    except ValueError:
        return None


def parse_absolute(url: str) -> str | None:
    """Parse an absolute URL (a seed, a redirect target); ``None`` when it is not one.

    >>> parse_absolute("HTTP://Example.COM")
    'http://example.com/'
    >>> parse_absolute("example.com/page") is None
    True
    """
    try:
        # ASCII whitespace only, as browsers strip; a leading NBSP makes it no URL
        return drop_fragment(ada_url.URL(url.strip(_ASCII_WHITESPACE)).href)
    except ValueError:
        return None


def scheme_of(url: str) -> str:
    """Return the scheme of an already parsed URL, lower-cased, without the colon.

    >>> scheme_of("mailto:someone@example.com")
    'mailto'
    """
    return url.split(":", 1)[0].lower()


def is_http(url: str) -> bool:
    """Tell whether a parsed URL is one a link checker fetches (http or https).

    >>> is_http("https://example.com/"), is_http("javascript:void(0)")
    (True, False)
    """
    return scheme_of(url) in HTTP_SCHEMES


# called for the same URLs again and again while a page is processed (scope test, link
# count, items): a small cache serves those, a big one would only grow with the crawl
@lru_cache(maxsize=8192)
def host_of(url: str) -> str:
    """Return the host name of a parsed URL (IPv6 without brackets), ``""`` if it has none.

    >>> host_of("http://[::1]:8080/x"), host_of("https://Blog.Example.co.uk/")
    ('::1', 'blog.example.co.uk')
    """
    try:
        hostname: str = ada_url.URL(url).hostname
    except ValueError:
        return ""
    return hostname.removeprefix("[").removesuffix("]")
