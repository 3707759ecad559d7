"""Resolve hrefs the way browsers do (the WHATWG URL standard, through ada-url).

Pure functions, no settings. ``resolve_href`` is the only way the project turns an href
into a target URL, so that extraction, seeds and checks agree on one key per target.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import ada_url

HTTP_SCHEMES = frozenset({"http", "https"})
_ASCII_WHITESPACE = "".join(map(chr, range(0x21)))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
# WHATWG URL: the special-query percent-encode set (C0 controls, space, ", #, <, >, ', and
# every byte above ~)
_SPECIAL_QUERY_SET = frozenset([*range(0x21), 0x22, 0x23, 0x27, 0x3C, 0x3E, *range(0x7F, 0x100)])


def drop_fragment(url: str) -> str:
    """Return *url* without its fragment.

    In a serialised WHATWG URL the first ``#`` always starts the fragment: a ``#``
    anywhere else is percent-encoded by the parser.

    >>> drop_fragment("https://example.com/a?b=1#top")
    'https://example.com/a?b=1'
    """
    return url.split("#", 1)[0]


def resolve_href(href: str, base: str, encoding: str = "utf-8") -> str | None:
    """Resolve *href* against *base* as ``new URL(href, base)`` would, without fragment.

    Returns ``None`` when the href is not a URL at all (the link is then ``invalid_url``).
    *encoding* is the Python codec of the document the href is in: the query string of an
    http(s) URL is percent-encoded in it, as browsers do (see :func:`encode_query`).

    >>> resolve_href(" ../b\\tc#x ", "http://EXAMPLE.com:80/a/d")
    'http://example.com/bc'
    >>> resolve_href("http://[::1", "http://example.com/") is None
    True
    >>> resolve_href("/s?q=caf\u00e9", "http://a.test/", "cp1252")
    'http://a.test/s?q=caf%E9'
    """
    try:
        resolved = drop_fragment(ada_url.join_url(base, href))
    except ValueError:
        return None
    # ASCII encodes as itself in every legacy encoding but ISO-2022-JP (its escapes)
    ascii_safe = encoding != "iso2022_jp"
    if encoding == "utf-8" or (ascii_safe and href.isascii()) or not is_http(resolved):
        return resolved
    # ada-url only encodes as UTF-8. In a special URL the first "?" before the fragment
    # starts the query, in the href (no earlier state lets it through) and in the result
    # (the serialiser percent-encodes a "?" anywhere else).
    query = _strip_input(href).split("#", 1)[0].partition("?")[2]
    if ascii_safe and query.isascii():
        return resolved
    return f"{resolved.partition('?')[0]}?{encode_query(query, encoding)}"


def _strip_input(text: str) -> str:
    """The URL parser's input clean-up: outer C0 controls and spaces, inner tabs/newlines."""
    return text.strip(_ASCII_WHITESPACE).translate(_TAB_OR_NEWLINE)


def encode_query(query: str, encoding: str) -> str:
    """Percent-encode a special URL's query in a legacy *encoding* (WHATWG URL, query state).

    The query is encoded with the Python codec *encoding*; a character the encoding cannot
    represent becomes ``&#N;`` (percent-encoded), and the bytes are percent-encoded with the
    special-query percent-encode set. Browsers do this for hrefs in documents that are not
    UTF-8; ada-url, like every URL library, knows UTF-8 only.

    >>> encode_query("q=\u2020 x", "cp1252"), encode_query("\u00a2", "iso8859-2")
    ('q=%86%20x', '%26%23162%3B')
    """
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(_percent_encode("".join(run).encode(encoding)))
            run.clear()

    for char in query:
        refused = encoding == "iso2022_jp" and char in "\x0e\x0f\x1b"
        if char.isascii() and not refused:
            run.append(char)
            continue
        if refused:
            # WHATWG's ISO-2022-JP encoder refuses its own shift and escape bytes, as U+FFFD
            flush()
            out.append("%26%2365533%3B")
            continue
        try:
            char.encode(encoding)
        except UnicodeEncodeError:
            encodable = False
        else:
            # WHATWG's gb18030 encoder refuses U+E5E5, which Python's codec maps
            encodable = not (char == "\ue5e5" and encoding == "gb18030")
        if encodable:
            run.append(char)
        else:
            flush()
            out.append(f"%26%23{ord(char)}%3B")
    flush()
    return "".join(out)


def _percent_encode(data: bytes) -> str:
    return "".join(
        chr(byte) if byte not in _SPECIAL_QUERY_SET else f"%{byte:02X}" for byte in data
    )


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


_DEFAULT_PORTS = {"http:": 80, "https:": 443, "ws:": 80, "wss:": 443, "ftp:": 21}


class UrlParts(NamedTuple):
    """The pieces of a parsed URL that the project reads, as ada-url gives them."""

    #: ``scheme://host[:port]`` without a default port; ``"null"`` for opaque URLs
    origin: str
    #: host name, lower-cased, IPv6 without brackets; ``""`` if none
    host: str
    #: the port connected to: explicit, else the scheme's default (0 if it has none)
    port: int
    #: the path (``/`` at least for http(s))
    path: str
    #: the query without its ``?``
    query: str


# called for the same URLs again and again while a page is processed (scope test, link
# count, items, probes): a small cache serves those, a big one would only grow with the crawl
@lru_cache(maxsize=8192)
def url_parts(url: str) -> UrlParts | None:
    """Parse *url* with ada-url (the WHATWG parser); ``None`` when it is not a URL.

    >>> url_parts("HTTP://u:p@[::1]:8080/a?b#c")
    UrlParts(origin='http://[::1]:8080', host='::1', port=8080, path='/a', query='b')
    """
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    hostname: str = parsed.hostname
    port: str = parsed.port
    search: str = parsed.search
    return UrlParts(
        origin=parsed.origin,
        host=hostname.removeprefix("[").removesuffix("]"),
        port=int(port) if port else _DEFAULT_PORTS.get(parsed.protocol, 0),
        path=parsed.pathname,
        query=search.removeprefix("?"),
    )


def host_of(url: str) -> str:
    """Return the host name of a parsed URL (IPv6 without brackets), ``""`` if it has none.

    >>> host_of("http://[::1]:8080/x"), host_of("https://Blog.Example.co.uk/")
    ('::1', 'blog.example.co.uk')
    """
    parts = url_parts(url)
    return parts.host if parts is not None else ""


def origin_of(url: str) -> str:
    """Return the origin of an http(s) URL: ``scheme://host[:port]``, no default port.

    One host is one origin however a link spells it (case, credentials, a default port),
    so it gets one probe and one politeness slot.

    >>> origin_of("http://Shop.test:8080/a/b?c"), origin_of("http://u:p@x.test:80/")
    ('http://shop.test:8080', 'http://x.test')
    """
    parts = url_parts(url)
    return parts.origin if parts is not None else ""


def port_of(url: str) -> int:
    """Return the port a URL connects to (its scheme's default if none is given).

    >>> port_of("https://a.test/"), port_of("http://a.test:8080/"), port_of("nope")
    (443, 8080, 0)
    """
    parts = url_parts(url)
    return parts.port if parts is not None else 0
