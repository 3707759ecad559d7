"""What a dead page was: the Wayback Machine's CDX API and its captures, read without toolbar.

Pure functions around the two requests ``scrapy crawl archive`` makes per dead target:

1. the CDX API (``{endpoint}/cdx/search/cdx``, JSON output): the target's captures that
   answered 200, the last few in the index (``limit=-5``, the CDX server's "last N"), which
   :func:`parse_cdx` returns newest first, HTML before other types;
2. the newest capture itself as archived, without the archive's toolbar and link rewriting
   (the ``id_`` flag after the timestamp: ``{endpoint}/web/{timestamp}id_/{url}``), read
   by :func:`brokenlinks.outreach.pagetext.page_text`.

Reads no settings: the endpoint comes from ``BROKENLINKS_ARCHIVE_URL`` through the spider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

#: how many of the newest 200 captures the CDX query asks for
CDX_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Capture:
    timestamp: str
    original: str
    mimetype: str


def cdx_url(endpoint: str, target_url: str) -> str:
    """The CDX API query for the newest captures of *target_url* that answered 200.

    >>> cdx_url("https://web.archive.org", "http://a.example/x?y=1")
    'https://web.archive.org/cdx/search/cdx?url=http%3A%2F%2Fa.example%2Fx%3Fy%3D1&output=json&fl=timestamp%2Coriginal%2Cmimetype%2Cstatuscode&filter=statuscode%3A200&limit=-5'
    """
    query = urlencode(
        {
            "url": target_url,
            "output": "json",
            "fl": "timestamp,original,mimetype,statuscode",
            "filter": "statuscode:200",
            "limit": str(-CDX_LIMIT),
        }
    )
    return f"{endpoint.rstrip('/')}/cdx/search/cdx?{query}"


def url_key(url: str) -> str:
    """What the CDX index files a URL under, roughly: no scheme, no ``www.``, case-folded host.

    http and https, ``www.`` or not, and a trailing slash are one page to the index (its
    SURT ``urlkey``), so a capture of any of them is a capture of the target.

    >>> url_key("https://WWW.Example.com:443/a/?b=1") == url_key("http://example.com/a?b=1")
    True
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in {None, 80, 443} else None
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{f':{port}' if port else ''}{path}{query}"


def parse_cdx(body: bytes | str, target_url: str | None = None) -> list[Capture]:
    """Captures in a CDX JSON answer, newest first, HTML first; ``[]`` for no capture.

    The JSON output is an array whose first row names the fields (an empty array when
    nothing matches). Raises ``ValueError`` for an answer that is not that. With
    *target_url*, rows of other pages (by :func:`url_key`) are left out: what the archive
    has of another page says nothing of this one.

    >>> rows = [["timestamp", "original", "mimetype", "statuscode"],
    ...         ["20190101000000", "http://a.example/", "text/html", "200"],
    ...         ["20210101000000", "http://a.example/", "application/pdf", "200"],
    ...         ["20200101000000", "http://a.example/", "text/html", "200"]]
    >>> [c.timestamp for c in parse_cdx(json.dumps(rows))]
    ['20200101000000', '20190101000000', '20210101000000']
    >>> parse_cdx("[]"), parse_cdx("")
    ([], [])
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"not a CDX JSON answer ({e.msg} at character {e.pos})"
        raise ValueError(msg) from e
    if not isinstance(data, list):
        msg = f"not a CDX JSON answer (a JSON {type(data).__name__}, not an array)"
        raise ValueError(msg)  # noqa: TRY004  (bad input, reported like the JSON error)
    if not data:
        return []
    header = data[0]
    if not isinstance(header, list) or "timestamp" not in header or "original" not in header:
        msg = f"not a CDX JSON answer (first row {header!r})"
        raise ValueError(msg)
    ts, orig = header.index("timestamp"), header.index("original")
    mime = header.index("mimetype") if "mimetype" in header else None
    status = header.index("statuscode") if "statuscode" in header else None
    captures = [
        Capture(row[ts], row[orig], row[mime] if mime is not None else "")
        for row in data[1:]
        if isinstance(row, list)
        and len(row) == len(header)
        and (status is None or row[status] == "200")
        and str(row[ts]).isdigit()
        and (target_url is None or url_key(str(row[orig])) == url_key(target_url))
    ]
    captures.sort(key=lambda c: c.timestamp, reverse=True)
    captures.sort(key=lambda c: "html" not in c.mimetype)
    return captures


def capture_url(endpoint: str, capture: Capture) -> str:
    """The capture as archived, without the toolbar (``id_``).

    >>> capture_url("https://web.archive.org/", Capture("20200101000000", "http://a.example/", ""))
    'https://web.archive.org/web/20200101000000id_/http://a.example/'
    """
    return f"{endpoint.rstrip('/')}/web/{capture.timestamp}id_/{capture.original}"


def capture_time(timestamp: str) -> str:
    """A CDX timestamp (``YYYYMMDDhhmmss``, possibly shorter) as ISO 8601 UTC.

    >>> capture_time("20200131235959"), capture_time("2020")
    ('2020-01-31T23:59:59+00:00', '2020-01-01T00:00:00+00:00')
    """
    digits = timestamp[:14]
    # the CDX server pads a short timestamp to the start of the period it names
    padded = digits + "00000101000000"[len(digits) :]
    return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC).isoformat()
