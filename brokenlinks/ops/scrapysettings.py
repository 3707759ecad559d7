"""Range checks of the Scrapy settings a crawl depends on, as the crawl will see them.

Scrapy reads its own settings with ``getint``/``getfloat`` wherever a component needs them:
``-s DOWNLOAD_TIMEOUT=fast`` fails deep inside the crawl with a long traceback, and
``-s CONCURRENT_REQUESTS_PER_DOMAIN=-3`` is accepted and makes a crawl that never sends a
request. :func:`check_scrapy_settings` checks them before the crawl starts, after the
add-ons listed in ``ADDONS`` have set their defaults on a copy (the add-on's values are
what a crawl really uses where the user set nothing), and names the first bad one.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: setting → (kind, lowest allowed, what a good value is)
SCRAPY_RANGES: dict[str, tuple[type, float, str]] = {
    "CONCURRENT_ITEMS": (int, 1, "a whole number, at least 1"),
    "CONCURRENT_REQUESTS": (int, 1, "a whole number, at least 1"),
    "CONCURRENT_REQUESTS_PER_DOMAIN": (int, 1, "a whole number, at least 1"),
    "CONCURRENT_REQUESTS_PER_IP": (int, 0, "a whole number, at least 0 (0: per domain)"),
    "DEPTH_LIMIT": (int, 0, "a whole number, at least 0 (0: no limit)"),
    "DNS_TIMEOUT": (float, 0, "a number of seconds above 0"),
    "DOWNLOAD_DELAY": (float, 0, "a number of seconds, at least 0"),
    "DOWNLOAD_MAXSIZE": (int, 0, "a number of bytes, at least 0 (0: no limit)"),
    "DOWNLOAD_TIMEOUT": (float, 0, "a number of seconds above 0"),
    "DOWNLOAD_WARNSIZE": (int, 0, "a number of bytes, at least 0 (0: no warning)"),
    "REDIRECT_MAX_TIMES": (int, 0, "a whole number, at least 0"),
    "RETRY_TIMES": (int, 0, "a whole number, at least 0"),
}
#: settings whose lowest value is excluded (a timeout of 0 s never lets anything finish)
_ABOVE = frozenset({"DNS_TIMEOUT", "DOWNLOAD_TIMEOUT"})


def effective_settings(settings: BaseSettings) -> BaseSettings:
    """A copy of *settings* with the defaults of its add-ons applied, as a crawler does.

    Add-ons built from the crawler (``from_crawler``) are left out: there is none before the
    crawl, and their settings are checked again by Scrapy when it builds them.
    """
    copy = settings.copy()
    for path in build_component_list(copy.getdict("ADDONS")):
        addon = load_object(path)
        if isinstance(addon, type) and not hasattr(addon, "from_crawler"):
            addon().update_settings(copy)
    return copy


def _number(value: Any, kind: type) -> float | None:
    """*value* read as *kind* the way ``-s`` gives it (a string) or Python code sets it."""
    if isinstance(value, bool):
        return None  # True is 1 to Python, not a count a user meant
    try:
        number = float(value) if kind is float else int(str(value).strip())
    except (TypeError, ValueError):
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        return None
    return number if math.isfinite(number) else None


def check_scrapy_settings(settings: BaseSettings) -> None:
    """Raise ``ValueError`` naming the first Scrapy setting whose value a crawl cannot use.

    >>> from scrapy.settings import Settings
    >>> check_scrapy_settings(Settings({"DOWNLOAD_TIMEOUT": "20", "RETRY_TIMES": 0}))
    >>> check_scrapy_settings(Settings({"CONCURRENT_REQUESTS_PER_DOMAIN": "-3"}))
    Traceback (most recent call last):
    ...
    ValueError: setting CONCURRENT_REQUESTS_PER_DOMAIN: '-3' is not a whole number, at least 1
    >>> check_scrapy_settings(Settings({"DOWNLOAD_TIMEOUT": "fast"}))
    Traceback (most recent call last):
    ...
    ValueError: setting DOWNLOAD_TIMEOUT: 'fast' is not a number of seconds above 0
    """
    for name, (kind, low, what) in SCRAPY_RANGES.items():
        value = settings.get(name)
        if value is None:
            continue  # unset (Scrapy's default applies)
        number = _number(value, kind)
        if number is None or number < low or (name in _ABOVE and number <= low):
            msg = f"setting {name}: {value!r} is not {what}"
            raise ValueError(msg)
