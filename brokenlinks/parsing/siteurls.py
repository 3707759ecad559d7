"""Which URLs a whole-site crawl fetches: one canonical URL per page, and spider-trap guards.

Pure functions, used by the ``site`` spider. :func:`canonical_url` maps the many spellings
of one page to one key (default ports, case of scheme and host, fragments, trailing index
pages, tracking parameters); :func:`trap_reason` tells why a URL is cut off (too long,
repeated path segments, an endless calendar). The settings behind their arguments are
``BROKENLINKS_SITE_TRACKING_PARAMS``, ``BROKENLINKS_SITE_INDEX_PAGES``,
``BROKENLINKS_SITE_MAX_URL_LENGTH``, ``BROKENLINKS_SITE_MAX_REPEATED_SEGMENTS`` and
``BROKENLINKS_SITE_CALENDAR_YEARS`` (read by the spider through ``BrokenlinksConfig``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from urllib.parse import unquote

import ada_url

if TYPE_CHECKING:
    from collections.abc import Iterable

_YEAR_MIN = 1800
_YEAR_MAX = 2999
# a date at the end of the path: /2031/, /2031/05/, /2031/05/17, /2031-05-17
_PATH_DATE = re.compile(
    r"/(?P<y>\d{4})(?:[/-](?P<m>\d{1,2})(?:[/-](?P<d>\d{1,2}))?)?/?$", re.ASCII
)
_QUERY_DATE = re.compile(r"^(?P<y>\d{4})(?:-\d{1,2}(?:-\d{1,2})?)?$", re.ASCII)
_DATE_KEYS = ("year", "month", "date", "day", "cal", "week")


def split_list(value: str) -> tuple[str, ...]:
    """Split a comma-separated setting value into its lower-cased, non-empty items.

    >>> split_list(" utm_*, GCLID ,,fbclid")
    ('utm_*', 'gclid', 'fbclid')
    """
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


def _is_tracking(name: str, tracking: Iterable[str]) -> bool:
    key = unquote(name).lower()
    return any(fnmatchcase(key, pattern) for pattern in tracking)


def canonical_url(
    url: str, *, tracking: Iterable[str] = (), index_pages: Iterable[str] = ()
) -> str | None:
    """Return the one URL a site crawl fetches for *url*; ``None`` if it is not a URL.

    The WHATWG parser already lower-cases the scheme and host and drops default ports;
    this also drops the fragment, query parameters whose name matches one of the
    *tracking* patterns (``fnmatch``, case-insensitive), an empty query, and a last path
    segment that is one of the *index_pages* (case-insensitive). Other parameters keep
    their order and spelling: ``?b=1&a=2`` and ``?a=2&b=1`` may be two pages.

    >>> canonical_url("HTTP://Garden.TEST:80/guides/index.html?utm_source=x&page=2#top",
    ...               tracking=("utm_*",), index_pages=("index.html",))
    'http://garden.test/guides/?page=2'
    >>> canonical_url("https://garden.test/about.html?", tracking=("utm_*",))
    'https://garden.test/about.html'
    >>> canonical_url("not a url") is None
    True
    """
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    parsed.hash = ""
    search = parsed.search.removeprefix("?")
    if search:
        kept = [
            part
            for part in search.split("&")
            if part and not _is_tracking(part.split("=", 1)[0], tracking)
        ]
        parsed.search = "&".join(kept)
    elif parsed.href.endswith("?"):
        parsed.search = ""
    path: str = parsed.pathname
    head, _, last = path.rpartition("/")
    if last and last.lower() in {page.lower() for page in index_pages}:
        parsed.pathname = head + "/"
    href: str = parsed.href
    return href.removesuffix("?")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrapLimits:
    """Where a site crawl stops following URLs (0 turns a limit off)."""

    max_url_length: int = 512
    max_repeated_segments: int = 2
    calendar_years: int = 3


def calendar_year(url: str) -> int | None:
    """Return the year a calendar-like URL points at, ``None`` if it is not one.

    A calendar URL ends its path with a date (``/2031/``, ``/2031/05/``, ``/2031-05-17``)
    or has a date-like query value (``?month=2031-05``, ``?year=2031``). A date followed
    by more path (``/2015/05/my-post``) is an archived post, not a calendar.

    >>> calendar_year("http://g.test/calendar/2031/05/"), calendar_year("http://g.test/e?d=2031-05")
    (2031, 2031)
    >>> calendar_year("http://g.test/events?year=1999"), calendar_year("http://g.test/2015/05/post")
    (1999, None)
    >>> calendar_year("http://g.test/item?id=2031") is None
    True
    """
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    found = _PATH_DATE.search(parsed.pathname)
    if found is not None and _YEAR_MIN <= int(found["y"]) <= _YEAR_MAX:
        return int(found["y"])
    for part in parsed.search.removeprefix("?").split("&"):
        name, _, value = unquote(part).partition("=")
        match = _QUERY_DATE.match(value)
        if match is None or not _YEAR_MIN <= int(match["y"]) <= _YEAR_MAX:
            continue
        if "-" in value or any(key in name.lower() for key in _DATE_KEYS):
            return int(match["y"])
    return None


def trap_reason(url: str, limits: TrapLimits, *, this_year: int) -> str | None:
    """Tell why a site crawl does not follow *url* (a spider trap), ``None`` if it may.

    ``url_length``: longer than ``max_url_length`` characters. ``repeated_segments``: a
    path segment occurs more than ``max_repeated_segments`` times (relative links that
    nest a path into itself). ``calendar``: a calendar-like URL (:func:`calendar_year`)
    more than ``calendar_years`` years away from *this_year*.

    >>> limits = TrapLimits()
    >>> trap_reason("http://g.test/guides/seeds.html", limits, this_year=2026) is None
    True
    >>> trap_reason("http://g.test/a/b/a/b/a/", limits, this_year=2026)
    'repeated_segments'
    >>> trap_reason("http://g.test/calendar/2031/", limits, this_year=2026)
    'calendar'
    >>> trap_reason("http://g.test/" + "x" * 600, limits, this_year=2026)
    'url_length'
    """
    if limits.max_url_length and len(url) > limits.max_url_length:
        return "url_length"
    try:
        path: str = ada_url.URL(url).pathname
    except ValueError:
        return None
    if limits.max_repeated_segments:
        counts = Counter(segment for segment in path.split("/") if segment)
        if counts and max(counts.values()) > limits.max_repeated_segments:
            return "repeated_segments"
    if limits.calendar_years:
        year = calendar_year(url)
        if year is not None and abs(year - this_year) > limits.calendar_years:
            return "calendar"
    return None
