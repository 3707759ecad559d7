"""Where on a page a link sits: content, nav, header, footer or aside.

Pure functions, no settings: :func:`element_position` reads what one element says (its
tag, ARIA role, class and id tokens); :mod:`brokenlinks.parsing.extract` walks a link's
ancestors with it. The rules are in :mod:`brokenlinks.parsing.extract`'s docstring.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree  # type: ignore[import-untyped]  # no stubs; see pyproject mypy overrides


class Position(StrEnum):
    """Where a link sits on its page."""

    CONTENT = "content"
    NAV = "nav"
    HEADER = "header"
    FOOTER = "footer"
    ASIDE = "aside"


_TAG_POSITION = {
    "nav": Position.NAV,
    "aside": Position.ASIDE,
    "header": Position.HEADER,
    "footer": Position.FOOTER,
    "main": Position.CONTENT,
    "article": Position.CONTENT,
}
_ROLE_POSITION = {
    "navigation": Position.NAV,
    "menu": Position.NAV,
    "menubar": Position.NAV,
    "banner": Position.HEADER,
    "contentinfo": Position.FOOTER,
    "complementary": Position.ASIDE,
    "main": Position.CONTENT,
    "article": Position.CONTENT,
}
_NAV_WORDS = (
    "nav navbar navigation menu menubar megamenu topnav subnav sitenav mainnav navmenu"
    " breadcrumb breadcrumbs pagination pager"
)
_TOKEN_POSITION = {
    **dict.fromkeys(_NAV_WORDS.split(), Position.NAV),
    **dict.fromkeys(["header", "masthead", "topbar", "siteheader"], Position.HEADER),
    **dict.fromkeys(["footer", "colophon", "sitefooter"], Position.FOOTER),
    **dict.fromkeys(["sidebar", "aside", "related", "sidenav"], Position.ASIDE),
}
# Two-word names: "widget" alone says nothing, because page builders (Elementor, Blogger)
# wrap the article itself in "widget" containers; a WordPress "widget-area" is a sidebar.
_PAIR_POSITION = {("widget", "area"): Position.ASIDE}
# An element with a class or id name holding one of these is (part of) the content, and
# its other names say nothing either: "article-header", "entry-footer", "widget-content",
# "l-sidebar-fixed l-article-body-segment", "article-body pagination-first".
_CONTENT_WORDS = frozenset(["article", "entry", "post", "story", "content", "body", "text"])
# A name holding one of these describes a state or a control, not a region: "has-sidebar",
# "nav-open", "menu-toggle"; only that name is ignored.
_STATE_WORDS = frozenset(
    [
        "has",
        "with",
        "no",
        "without",
        "open",
        "opened",
        "closed",
        "collapsed",
        "expanded",
        "active",
        "is",
        "toggle",
        "toggler",
        "icon",
        "btn",
        "button",
        "trigger",
        "overlay",
        "modal",
    ]
)
_PAGE_ELEMENTS = frozenset({"html", "body"})  # their classes describe the whole page
_TOKEN_SPLIT = re.compile(r"[\s\-_]+|(?<=[a-z0-9])(?=[A-Z])")


def _class_position(names: list[str]) -> Position | None:
    """Return the position said by ``class`` and ``id`` names (the first name that says one).

    >>> _class_position(["site-footer"]), _class_position(["mainNav"])
    (<Position.FOOTER: 'footer'>, <Position.NAV: 'nav'>)
    >>> _class_position(["menuitem"]), _class_position(["sidebar", "entry-content"])
    (None, None)
    """
    split = [[token.lower() for token in _TOKEN_SPLIT.split(name) if token] for name in names]
    if any(_CONTENT_WORDS.intersection(tokens) for tokens in split):
        return None
    for tokens in split:
        if _STATE_WORDS.intersection(tokens):
            continue
        for token in tokens:
            position = _TOKEN_POSITION.get(token)
            if position is not None:
                return position
        for pair, position in _PAIR_POSITION.items():
            if set(pair).issubset(tokens):
                return position
    return None


def element_position(tag: str, element: etree._Element) -> tuple[Position | None, bool]:
    """Return the position one element says, and whether it says it by element or role."""
    position = _TAG_POSITION.get(tag)
    if position is not None:
        return position, True
    role = element.get("role")
    if role:
        for token in role.lower().split():
            position = _ROLE_POSITION.get(token)
            if position is not None:
                return position, True
    if tag in _PAGE_ELEMENTS:
        return None, False
    names = (element.get("id") or "").split() + (element.get("class") or "").split()
    return (_class_position(names) if names else None), False
