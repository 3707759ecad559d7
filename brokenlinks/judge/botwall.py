"""Bot walls: challenge and firewall pages that stand between a crawler and the page.

Pure functions, no settings. A bot wall says nothing about the link (a browser would see
the page), so its verdict is ``blocked`` (reason ``bot_wall``), never dead, whatever its
status: Cloudflare serves its challenge with 403 or 503, some walls with 200.
:func:`detect_bot_wall` reads the headers (enough on their own for Cloudflare's
``cf-mitigated: challenge``, Vercel's and AWS WAF's equivalents) and the markup of the
answer. Markup markers are those of the challenge page itself, not the scripts these
services also inject into ordinary pages (Cloudflare's ``/cdn-cgi/challenge-platform/``
loader, DataDome's and PerimeterX's sensors appear on live pages too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from brokenlinks.judge import textsearch

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class _HeaderRule:
    name: str
    header: str
    value: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _BodyRule:
    name: str
    markup: textsearch.Marker
    #: a header that must also match (name, value pattern), or None
    header: tuple[str, re.Pattern[str]] | None = None
    #: statuses the rule applies to (None: any)
    statuses: frozenset[int] | None = None


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _marker(pattern: str, *literals: str) -> textsearch.Marker:
    """A body pattern and the literals (one is in every match) that prefilter it."""
    return textsearch.Marker.compile(pattern, *literals)


_CHALLENGE_STATUSES = frozenset({200, 202, 403, 429, 503})

_HEADER_RULES = (
    _HeaderRule("Cloudflare challenge", "cf-mitigated", _re(r"^\s*challenge")),
    _HeaderRule("Vercel challenge", "x-vercel-mitigated", _re(r"^\s*challenge")),
    _HeaderRule("AWS WAF challenge", "x-amzn-waf-action", _re(r"^\s*(?:challenge|captcha)")),
    _HeaderRule("Sucuri firewall", "x-sucuri-block", _re(r".")),
)

_BODY_RULES = (
    # Cloudflare: the interstitial ("Just a moment...") and the block page
    _BodyRule(
        "Cloudflare challenge",
        _marker(
            r"window\._cf_chl_opt|cf-browser-verification",
            "window._cf_chl_opt",
            "cf-browser-verification",
        ),
    ),
    _BodyRule(
        "Cloudflare challenge",
        _marker(
            r"<title>\s*(?:just a moment\.\.\.|attention required! \| cloudflare)\s*</title>",
            "just a moment...",
            "attention required! | cloudflare",
        ),
        header=("server", _re(r"cloudflare")),
    ),
    _BodyRule(
        "Cloudflare block",
        _marker(
            r"sorry, you have been blocked|cf-error-details",
            "sorry, you have been blocked",
            "cf-error-details",
        ),
        header=("server", _re(r"cloudflare")),
        statuses=frozenset({403}),
    ),
    _BodyRule(
        "DDoS-Guard",
        _marker(
            r"ddos-guard|checking your browser before accessing",
            "ddos-guard",
            "checking your browser before accessing",
        ),
        header=("server", _re(r"ddos-guard")),
    ),
    _BodyRule(
        "Sucuri firewall",
        _marker(
            r"Sucuri WebSite Firewall - Access Denied", "Sucuri WebSite Firewall - Access Denied"
        ),
    ),
    _BodyRule(
        "Imperva Incapsula",
        _marker(
            r"_Incapsula_Resource|Incapsula incident ID",
            "_Incapsula_Resource",
            "Incapsula incident ID",
        ),
    ),
    _BodyRule(
        "DataDome captcha",
        _marker(
            r"geo\.captcha-delivery\.com|ct\.captcha-delivery\.com",
            "geo.captcha-delivery.com",
            "ct.captcha-delivery.com",
        ),
    ),
    _BodyRule("PerimeterX captcha", _marker(r"id=[\"']px-captcha[\"']", "px-captcha")),
    _BodyRule(
        "Akamai access denied",
        _marker(
            r"(?s)<title>\s*Access Denied\s*</title>.*Reference&#32;#\d",
            "Reference&#32;#",
        ),
        statuses=frozenset({403}),
    ),
    _BodyRule(
        "browser check",
        _marker(
            r"<title>\s*(?:checking your browser|verifying you are human|"
            r"please verify you are a human|ddos protection by)[^<]*</title>",
            "checking your browser",
            "verifying you are human",
            "please verify you are a human",
            "ddos protection by",
        ),
        statuses=_CHALLENGE_STATUSES,
    ),
)


def detect_bot_wall(status: int, headers: Mapping[str, str], markup: str = "") -> str | None:
    """Name the bot wall an answer is, or return None.

    *headers* maps lower-cased names to values; *markup* is the (capped) body, empty
    for HEAD answers.

    >>> detect_bot_wall(403, {"cf-mitigated": "challenge", "server": "cloudflare"})
    'Cloudflare challenge'
    >>> detect_bot_wall(503, {"server": "cloudflare"},
    ...                 "<html><head><title>Just a moment...</title></head></html>")
    'Cloudflare challenge'
    >>> detect_bot_wall(200, {"server": "cloudflare"},
    ...                 '<title>Shop</title><script src="/cdn-cgi/challenge-platform/'
    ...                 'scripts/jsd/main.js"></script>') is None
    True
    """
    for rule in _HEADER_RULES:
        value = headers.get(rule.header)
        if value is not None and rule.value.search(value):
            return rule.name
    if not markup:
        return None
    head = markup[:65536]
    # folded once for every rule's literal prefilter (see brokenlinks.judge.textsearch)
    folded = textsearch.fold(head)
    for body_rule in _BODY_RULES:
        if body_rule.statuses is not None and status not in body_rule.statuses:
            continue
        if body_rule.header is not None:
            name, pattern = body_rule.header
            if not pattern.search(headers.get(name, "")):
                continue
        if body_rule.markup.search(head, folded):
            return body_rule.name
    return None
