"""When a referring page needs a browser: the signals of its raw HTML (``render=auto``).

Pure functions, no settings. :func:`looks_client_rendered` is the sure signal (an app
shell, links that only a script inserts); :func:`render_signal` tells ``"render"``,
``"uncertain"`` (the weaker signals of :mod:`brokenlinks.render.auto`, decided per site by
:class:`brokenlinks.render.auto.SiteRenderLearner`) or ``"plain"``, with the reason.
:mod:`brokenlinks.render.browser` asks them for each page.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html  # type: ignore[import-untyped]  # no stubs; see pyproject mypy overrides
from lxml import etree

from brokenlinks.parsing.urls import is_http, resolve_href
from brokenlinks.render.auto import is_widget, uncertain_reason

_APP_ROOT_IDS = frozenset({"root", "app", "__next", "__nuxt", "___gatsby", "svelte", "main"})
_APP_ROOT_ATTRS = ("data-reactroot", "ng-app", "ng-version", "data-v-app", "data-server-rendered")
#: an app shell has at most this many links of its own
_FEW_LINKS = 3
#: text (outside scripts) below which a page with scripts and no links is an app shell
_LITTLE_TEXT = 200
#: link-like URLs in inline scripts (not links of the page) from which scripts add links
_SCRIPT_LINKS = 3
_CONTAINER_TAGS = (
    "div",
    "main",
    "section",
    "article",
    "aside",
    "body",
    "app-root",
    "ul",
    "ol",
    "tbody",
    "nav",
)
_KEYED_URL = re.compile(
    r"""["']?(?:url|href|link|permalink)["']?\s*:\s*["']((?:https?:)?(?:\\?/){1,2}[^"'\s<>]*)["']""",
    re.IGNORECASE,
)
_ASSET_URL = re.compile(
    r"\.(?:js|mjs|css|png|jpe?g|gif|svg|webp|avif|ico|woff2?|ttf|eot|mp[34]|webm|json|xml|txt|map)"
    r"(?:[?#]|$)",
    re.IGNORECASE,
)
#: configuration URLs of inline scripts that are no page: endpoints, asset folders
_ENDPOINT_URL = re.compile(
    r"^https?://(?:localhost|127\.0\.0\.1)[:/]"
    r"|/(?:wp-json|wp-admin|wp-content|wp-includes|api|ajax|images|img|static|assets|fonts|cdn-cgi)/"
    r"|admin-ajax",
    re.IGNORECASE,
)
_NAMES_ELEMENT = re.compile(
    r"""(?:getElementById\(\s*["'](?P<id>[^"']+)["']"""
    r"""|(?:querySelector(?:All)?|\$|jQuery)\(\s*["'](?P<selector>[#.][\w-]+)["'])"""
)
_FETCH = re.compile(
    r"""(?:\bfetch|\$\.getJSON|\$\.ajax|\$\.get|axios\.get|\.open)\(\s*"""
    r"""(?:["']GET["']\s*,\s*)?["'](?P<url>[^"']+)["']"""
)


def looks_client_rendered(html: str, url: str = "") -> bool:
    """Tell whether a page's links are probably inserted by JavaScript (``render=auto``).

    Only pages with at least one script qualify. Then any of:

    * links only inside ``<noscript>``;
    * an empty framework mount point (``<div id="root"></div>``, ``#app``, ``#__next``,
      ``ng-app``, ``data-reactroot``...), whatever else the page holds (``<div
      id="main"></div>`` only with at most three links elsewhere: the name is common);
    * no link at all and under 200 characters of text;
    * a script that fills an empty element it names (``getElementById("related")``,
      ``querySelector(".cards")``, ``$("#list")``) while the page's inline scripts or
      JSON blobs hold at least three link-like URLs (under ``url``, ``href``, ``link``
      or ``permalink`` keys) that are no link of the page. Needs the page *url*.

    Weaker signals (a script filling an element from the page's own site, htmx, client
    templates...) make a page *uncertain* (:func:`render_signal`): whether its site needs
    the browser is learnt from its first such pages (:mod:`brokenlinks.render.auto`).

    >>> looks_client_rendered('<div id="root"></div><script src="/app.js"></script>')
    True
    >>> looks_client_rendered('<p>Hi</p><noscript><a href="/a">a</a></noscript><script></script>')
    True
    >>> looks_client_rendered('<div id="root"><a href="/a">a</a></div><script></script>')
    False
    >>> looks_client_rendered('<div id="root"></div>')
    False
    >>> looks_client_rendered('<ul id="more"></ul><a href="/a">a</a><a href="/b">b</a>'
    ...     '<a href="/c">c</a><a href="/d">d</a><script>var d = [{"url": "/x"}, {"url": "/y"},'
    ...     ' {"url": "/z"}]; document.getElementById("more").append(d)</script>',
    ...     "https://shop.test/guide")
    True
    """
    doc = _parse(html)
    return doc is not None and _client_rendered(doc, url)


def _parse(html: str) -> Any:
    """The page as lxml.html reads it; ``None`` when it cannot."""
    try:
        return lxml.html.document_fromstring(html or "<html></html>")
    except (etree.ParserError, ValueError):
        return None


def _client_rendered(doc: Any, url: str) -> bool:
    """:func:`looks_client_rendered` of a parsed page (which it leaves as it was)."""
    scripts = doc.xpath("//script")
    if not scripts:
        return False
    if not any("json" not in (script.get("type") or "") for script in scripts):
        return False
    links = len(doc.xpath("//a[@href][not(ancestor::noscript)]"))
    if links == 0 and doc.xpath("//noscript//a[@href]"):
        return True
    empty = _empty_elements(doc)
    for element in empty:
        element_id = (element.get("id") or "").lower()
        is_root = element_id in _APP_ROOT_IDS or any(
            element.get(attr) is not None for attr in _APP_ROOT_ATTRS
        )
        # a consent or chat widget's own small React root is no app shell
        if is_root and (element_id != "main" or links <= _FEW_LINKS) and not is_widget(element):
            return True
    if url and _script_fills_links(doc, scripts, empty, url):
        return True
    if links == 0:
        hidden = (
            "ancestor-or-self::*[self::script or self::style or self::noscript or self::template]"
        )
        shown = doc.xpath(f"//text()[not({hidden})]")
        return len(" ".join(" ".join(shown).split())) < _LITTLE_TEXT
    return False


def render_signal(html: str, url: str = "") -> tuple[str, str | None]:
    """Say whether ``render=auto`` sends a page to the browser: ``(kind, family)``.

    *kind* is ``"render"`` (:func:`looks_client_rendered`: surely needs it),
    ``"uncertain"`` (a weaker signal, :func:`brokenlinks.render.auto.uncertain_reason`
    names its family: the site decides) or ``"static"``.

    >>> render_signal('<div id="root"></div><script src="/app.js"></script>')
    ('render', 'app-shell')
    >>> render_signal('<ul id="l"></ul><a href="/a">a</a><script>fetch("/api/l").then(r => '
    ...     'r.json()).then(d => document.getElementById("l").append(d))</script>',
    ...     "https://a.test/")
    ('uncertain', 'own-request')
    >>> render_signal('<p><a href="/a">a</a></p><script>track()</script>', "https://a.test/")
    ('static', None)
    """
    doc = _parse(html)
    if doc is None:
        return "static", None
    if _client_rendered(doc, url):
        return "render", "app-shell"
    scripts = doc.xpath("//script")
    if not any("json" not in (script.get("type") or "") for script in scripts):
        return "static", None
    reason = uncertain_reason(doc, scripts, url, html)
    return ("static", None) if reason is None else ("uncertain", reason)


def _empty_elements(doc: Any) -> list[Any]:
    """Containers with no child and no text: where a script may put content."""
    return [
        element
        for element in doc.iter(*_CONTAINER_TAGS)
        if len(element) == 0 and not (element.text or "").strip()
    ]


def _fills_empty_element(script: Any, selectors: set[str]) -> bool:
    """Tell whether an inline *script* names an empty element (``#id``/``.class`` *selectors*)."""
    for found in _NAMES_ELEMENT.finditer(script.text or ""):
        name = found["id"]
        if ("#" + name if name else found["selector"]) in selectors:
            return True
    return False


def _selectors(empty: list[Any]) -> set[str]:
    selectors: set[str] = set()
    for element in empty:
        if element.get("id"):
            selectors.add("#" + element.get("id"))
        selectors.update("." + name for name in (element.get("class") or "").split())
    return selectors


def _script_fills_links(doc: Any, scripts: list[Any], empty: list[Any], url: str) -> bool:
    """Tell whether a script fills an empty element with links from data or a JSON request.

    The data: at least ``_SCRIPT_LINKS`` link-like URLs that no link of the page points
    at, in that script itself or in a JSON blob (``<script type="application/json">``);
    the request: JSON from the page's own site.
    """
    selectors = _selectors(empty)
    fillers = [s for s in scripts if s.get("src") is None and _fills_empty_element(s, selectors)]
    if not fillers:
        return False
    present = {resolve_href(href, url) for href in doc.xpath("//a/@href | //area/@href") if href}
    present.add(url)
    blobs = [
        s
        for s in scripts
        if "json" in (s.get("type") or "").lower() and "ld+json" not in s.get("type").lower()
    ]
    return any(
        len(_script_links(script, url, present)) >= _SCRIPT_LINKS for script in (*fillers, *blobs)
    )


def _script_links(script: Any, url: str, present: set[str | None]) -> set[str]:
    """The link-like URLs of one inline script that no link of the page points at."""
    found: set[str] = set()
    for match in _KEYED_URL.finditer(script.text or ""):
        href = match[1].replace("\\/", "/")
        if _ASSET_URL.search(href):
            continue
        target = resolve_href(href, url)
        if (
            target is not None
            and target not in present
            and is_http(target)
            and not _ENDPOINT_URL.search(target.split("?", 1)[0])
        ):
            found.add(target)
    return found
