"""``render=auto``, second half: signals that a page *may* insert links, and learning per site.

:func:`brokenlinks.render.detect.looks_client_rendered` says when a page surely needs the
browser (an app shell, data-backed fillers). :func:`uncertain_reason` names the weaker
signals, by family, each one seen in a real framework's or widget's documented pattern
(``tests/data/script-links/families.json``): an island rendered in the browser only
(Astro ``client:only``; a whole-page app rendered on the server is no signal), an empty
container that a script fills
(inline, or an external script named after it), a request to the page's own site, an
htmx ``hx-get`` on load, a custom element with a ``src`` (``<include-fragment>``,
``<turbo-frame>``), a client-side template (``x-for``, ``v-for``, ``ng-repeat``,
``:href``), a script template holding links, ``document.write`` of links, a skeleton or
``aria-busy`` placeholder, a "Loading..." placeholder, an inline state blob with link data
beside an empty container. Containers of consent banners, chat, ads and similar widgets
are never a signal: they insert no content link.

Such a page is *uncertain*; :class:`SiteRenderLearner` decides per site. The first uncertain
pages of a site are read both ways (the plain fetch, then the browser): if the browser's
DOM adds content links, the site needs JavaScript and its further uncertain pages are
rendered; after ``PROBES`` pages where it adds none, they are not. Pure logic, no settings;
the decisions are counted by :class:`brokenlinks.render.browser.BrowserContexts`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from brokenlinks.parsing.sites import site_of
from brokenlinks.parsing.urls import is_http, resolve_href

#: uncertain pages of a site read both ways before it is decided that it needs no browser
PROBES = 2

#: id/class tokens of widgets that insert no content link (consent, chat, ads, players...)
_WIDGET_TOKENS = frozenset(
    {
        "ad",
        "ads",
        "adsbygoogle",
        "adslot",
        "advert",
        "advertisement",
        "banner",
        "captcha",
        "chat",
        "cmp",
        "comment",
        "comments",
        "consent",
        "cookie",
        "cookiebot",
        "cookies",
        "didomi",
        "disqus",
        "drift",
        "facebook",
        "follow",
        "followers",
        "gdpr",
        "gpt",
        "hubspot",
        "intercom",
        "likes",
        "livechat",
        "modal",
        "newsletter",
        "onetrust",
        "optanon",
        "outbrain",
        "player",
        "popup",
        "recaptcha",
        "share",
        "sharethis",
        "social",
        "taboola",
        "tawk",
        "toast",
        "tracking",
        "twitter",
        "usercentrics",
        "video",
        "zendesk",
    }
)
_TOKEN = re.compile(r"[a-z]+|[0-9]+")
_PLACEHOLDER_TOKENS = frozenset({"skeleton", "shimmer"})
_LOADING_TEXT = re.compile(
    r"^\s*(?:loading|lädt|chargement|cargando|caricamento)\s*(?:\.\.\.|…)?\s*$", re.IGNORECASE
)
_TEMPLATE_TYPES = frozenset(
    {
        "text/template",
        "text/html",
        "text/x-template",
        "text/x-handlebars-template",
        "text/x-handlebars",
        "text/x-mustache",
        "text/x-jsrender",
        "text/ng-template",
        "text/x-kendo-template",
    }
)
_TEMPLATE_ATTRS = (
    "x-for",
    "v-for",
    "ng-repeat",
    ":href",
    "v-bind:href",
    "x-bind:href",
    "ng-href",
    "[href]",
    "[attr.href]",
)
_DOCUMENT_WRITE = re.compile(r"document\.write(?:ln)?\s*\(\s*['\"`][^'\"`]*<a\s[^'\"`]*href")
_REQUEST = re.compile(
    r"""(?:\bfetch|\$\.getJSON|\$\.ajax|\$\.get|\$\.post|jQuery\.getJSON|jQuery\.get|axios\.get"""
    r"""|\.open|\.load)\(\s*(?:["']GET["']\s*,\s*)?["'`](?P<url>(?:/|\./|\?|https?:)[^"'`]*)["'`]"""
)
_KEYED_URL = re.compile(
    r"""["']?(?:url|href|link|permalink|path|slug)["']?\s*:\s*["']((?:https?:)?(?:\\?/){1,2}[^"'\s<>]*)["']""",
    re.IGNORECASE,
)
_STATE_BLOB = re.compile(
    r"window\.__(?:PRELOADED_STATE|INITIAL_STATE|NUXT|APOLLO_STATE|DATA|STATE)__\s*=|__NEXT_DATA__"
)
_CONTAINERS = (
    "div",
    "section",
    "aside",
    "ul",
    "ol",
    "nav",
    "main",
    "article",
    "tbody",
    "span",
    "p",
)
_SCRIPT_LINKS = 3
#: longer than this, an element's text is no "Loading..." placeholder
_SHORT = 40
#: the markup each family needs in the raw HTML: a page without it skips that family's walk
_NEEDLES = {
    "htmx": ("hx-get",),
    "island": ("astro-island",),
    "template": (*_TEMPLATE_ATTRS, "foreach"),
    "placeholder": ("aria-busy", "skeleton", "shimmer", "oading", "argement", "argando"),
}
_NEEDLE_PATTERNS = {
    family: re.compile("|".join(map(re.escape, needles))) for family, needles in _NEEDLES.items()
}
_ASSET = re.compile(r"\.(?:js|mjs|css|png|jpe?g|gif|svg|webp|ico|woff2?)$", re.IGNORECASE)


def tokens(element: Any) -> frozenset[str]:
    """The lower-case word tokens of an element's id and classes (``jp-relatedposts`` → ...).

    >>> import lxml.html
    >>> sorted(tokens(lxml.html.fromstring('<div id="div-gpt-ad-1" class="AdSlot top">')))
    ['1', 'ad', 'adslot', 'div', 'gpt', 'slot', 'top']
    """
    return _tokens(f"{element.get('id') or ''} {element.get('class') or ''}")


@functools.lru_cache(maxsize=4096)
def _tokens(text: str) -> frozenset[str]:
    # camelCase humps split too ("AdSlot" → ad, slot), the whole word kept as well
    split = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return frozenset(_TOKEN.findall(split.lower())) | frozenset(_TOKEN.findall(text.lower()))


def is_widget(element: Any) -> bool:
    """Tell whether *element* (or a container around it) belongs to a widget without content."""
    return any(tokens(node) & _WIDGET_TOKENS for node in (element, *element.iterancestors()))


def _is_empty(element: Any) -> bool:
    return len(element) == 0 and not (element.text or "").strip()


def uncertain_reason(
    doc: Any, scripts: list[Any], url: str, html: str | None = None
) -> str | None:
    """Name the family of the first weak signal that scripts insert links, ``None`` if none.

    *doc* is the parsed page (lxml.html), *scripts* its ``<script>`` elements, *url* the
    page's URL (for "own site"), *html* its text if at hand (a family whose markup is not
    in it is not looked for in the tree: most pages have none of them).

    >>> import lxml.html
    >>> def reason(html):
    ...     doc = lxml.html.document_fromstring(html)
    ...     return uncertain_reason(doc, doc.xpath("//script"), "https://a.test/p")
    >>> reason('<div hx-get="/more" hx-trigger="load"></div><script src="/htmx.js"></script>')
    'htmx-load'
    >>> reason('<div id="onetrust-consent-sdk"></div><script>x.getElementById('
    ...     '"onetrust-consent-sdk").show()</script>')
    >>> reason('<p>Plain</p><script>track()</script>')
    """
    inline = [
        s
        for s in scripts
        if s.get("src") is None and (s.get("type") or "") != "application/ld+json"
    ]
    code = "\n".join(s.text or "" for s in inline)
    empty = [e for e in doc.iter(*_CONTAINERS, "app-root") if _is_empty(e) and not is_widget(e)]
    fillers = _fillers(inline, empty)

    def has(family: str) -> bool:
        return html is None or _NEEDLE_PATTERNS[family].search(html) is not None

    found: list[tuple[str, bool]] = [
        ("hydration-island", has("island") and _client_only_island(doc)),
        ("htmx-load", has("htmx") and _htmx(doc)),
        ("src-element", _src_element(doc)),
        ("client-template", has("template") and _client_template(doc)),
        ("script-template", _script_template(scripts)),
        ("document-write", bool(_DOCUMENT_WRITE.search(code))),
        # a script that fills an empty container and makes links, or fetches the
        # page's own site (JSON, a fragment)
        ("inline-filler", any(_MAKES_LINKS.search(c) for c in fillers)),
        ("own-request", any(_own_request(c, url) for c in fillers)),
        ("named-script", _named_script(scripts, empty)),
        ("placeholder", has("placeholder") and _placeholder(doc)),
        (
            "state-blob",
            any(_names_content(e) for e in empty) and _state_blob(doc, scripts, url),
        ),
    ]
    for name, hit in found:
        if hit:
            return name
    return None


def _client_only_island(doc: Any) -> bool:
    """An empty island rendered in the browser only (Astro ``client:only``).

    A whole-page app rendered on the server (``data-server-rendered``, a filled
    ``#__next``) hydrates what the HTML already holds: no signal.
    """
    return any(
        _is_empty(element) and (element.get("client") or "").strip().lower() == "only"
        for element in doc.iter("astro-island")
    )


def _htmx(doc: Any) -> bool:
    for element in doc.xpath("//*[@hx-get or @data-hx-get]"):
        trigger = element.get("hx-trigger") or element.get("data-hx-trigger") or ""
        if any(word in trigger for word in ("load", "revealed", "intersect")) and not is_widget(
            element
        ):
            return True
    return False


def _src_element(doc: Any) -> bool:
    """A custom element that loads its content from a URL (``<include-fragment src>``)."""
    for element in doc.xpath("//*[@src][contains(local-name(), '-')]"):
        tag = element.tag if isinstance(element.tag, str) else ""
        src = element.get("src") or ""
        if (
            "-" in tag
            and src
            and not any(word in tag for word in ("img", "image", "video", "audio", "icon"))
            and not _ASSET.search(src.split("?", 1)[0])
            and not is_widget(element)
        ):
            return True
    return False


_TEMPLATE_XPATH = (
    "//*[@*["
    + " or ".join(f"name()='{name}'" for name in _TEMPLATE_ATTRS)
    + "] or contains(@data-bind, 'foreach')]"
)


def _client_template(doc: Any) -> bool:
    return any(not is_widget(element) for element in doc.xpath(_TEMPLATE_XPATH))


#: an anchor whose href and text both come from the data (``<a href="{{url}}">{{title}}``)
_TEMPLATED_ANCHOR = re.compile(
    r"""<a\s[^>]*href\s*=\s*["']?\s*(?:\{\{|<%|\$\{)[^>]*>\s*(?:\{\{|<%|\$\{)"""
)


def _script_template(scripts: list[Any]) -> bool:
    return any(
        (s.get("type") or "").strip().lower() in _TEMPLATE_TYPES
        and _TEMPLATED_ANCHOR.search(s.text or "")
        for s in scripts
    )


_NAMES = re.compile(
    r"""(?:getElementById\(\s*["'](?P<id>[^"']+)["']"""
    r"""|(?:querySelector(?:All)?|\$|jQuery)\(\s*["'](?P<selector>[#.][\w-]+)["'])"""
)


#: a link whose target comes from data: ``a.href = item.url``, ``'<a href="' + url``
_MAKES_LINKS = re.compile(
    r"""\.href\s*=(?!=)|setAttribute\(\s*["']href|href=\\?["']\s*["'`]\s*\+|href=\\?["']\$\{"""
)
#: words of containers that hold links of the page's content
_CONTENT_WORDS = (
    "related",
    "posts",
    "recommended",
    "latest",
    "links",
    "menu",
    "feed",
    "stories",
    "articles",
    "list",
    "more",
    "reading",
    "resources",
)


def _fillers(scripts: list[Any], empty: list[Any]) -> list[str]:
    """The code of inline scripts that name an empty container (``getElementById``...)."""
    selectors: set[str] = set()
    for element in empty:
        if element.get("id"):
            selectors.add("#" + element.get("id"))
        selectors.update("." + name for name in (element.get("class") or "").split())
    if not selectors:
        return []
    return [code for code in (s.text or "" for s in scripts) if _names_any(code, selectors)]


def _names_any(code: str, selectors: set[str]) -> bool:
    for found in _NAMES.finditer(code):
        name = found["id"]
        if ("#" + name if name else found["selector"]) in selectors:
            return True
    return False


def _own_request(code: str, url: str) -> bool:
    """An inline script requests something (JSON, a fragment) from the page's own site."""
    if not url:
        return False
    for match in _REQUEST.finditer(code):
        target = resolve_href(match["url"], url)
        if (
            target is not None
            and is_http(target)
            and site_of(target) == site_of(url)
            and not _ASSET.search(target.split("?", 1)[0])
        ):
            return True
    return False


def _named_script(scripts: list[Any], empty: list[Any]) -> bool:
    """An external script named after an empty container (``related-posts.js``, ``#jp-relatedposts``).

    At least two content words in common: one ("list", "menu") names too many things.
    """
    names = [set(_TOKEN.findall((s.get("src") or "").rsplit("/", 1)[-1].lower())) for s in scripts]
    for element in empty:
        # "jp-relatedposts" holds "related" and "posts" as one word
        text = f"{element.get('id') or ''} {element.get('class') or ''}".lower()
        wanted = {word for word in _CONTENT_WORDS if word in text}
        if len(wanted) >= 2 and any(len(wanted & name) >= 2 for name in names):  # noqa: PLR2004
            return True
    return False


_PLACEHOLDER_XPATH = (
    "//*[@aria-busy='true' or contains(@class, 'skeleton') or contains(@class, 'shimmer')"
    " or contains(@id, 'skeleton')]"
)


def _placeholder(doc: Any) -> bool:
    for element in doc.xpath(_PLACEHOLDER_XPATH):
        if element.get("aria-busy") != "true" and not tokens(element) & _PLACEHOLDER_TOKENS:
            continue  # "skeleton" inside another word
        if not is_widget(element) and not element.xpath(".//a[@href]"):
            return True
    for element in doc.iter(*_CONTAINERS):
        text = element.text
        if (
            text
            and len(element) == 0
            and len(text) < _SHORT
            and _LOADING_TEXT.match(text)
            and not is_widget(element)
            and _names_content(element)
        ):
            return True
    return False


def _names_content(element: Any) -> bool:
    """Tell whether *element* or its parent is named like a list of content links."""
    for node in (element, element.getparent()):
        if node is None:
            continue
        text = f"{node.get('id') or ''} {node.get('class') or ''}".lower()
        if any(word in text for word in _CONTENT_WORDS):
            return True
    return False


def _state_blob(doc: Any, scripts: list[Any], url: str) -> bool:
    """An inline state blob with link-like URLs that no link of the page points at."""
    if not url:
        return False
    present = {resolve_href(h, url) for h in doc.xpath("//a/@href") if h}
    for script in scripts:
        text = script.text or ""
        if not _STATE_BLOB.search(text):
            continue
        new = set()
        for match in _KEYED_URL.finditer(text):
            target = resolve_href(match[1].replace("\\/", "/"), url)
            if target is not None and is_http(target) and target not in present:
                new.add(target)
        if len(new) >= _SCRIPT_LINKS:
            return True
    return False


@dataclass
class _Site:
    probes: int = 0
    needs_js: bool | None = None


@dataclass
class SiteRenderLearner:
    """Per site: do its uncertain pages need the browser? Learnt from the first ones.

    >>> learner = SiteRenderLearner()
    >>> learner.wants("a.test"), learner.learn("a.test", added=0), learner.wants("a.test")
    (True, None, True)
    >>> learner.learn("a.test", added=0), learner.wants("a.test")
    (False, False)
    >>> learner.learn("b.test", added=2), learner.wants("b.test")
    (True, True)
    """

    probes: int = PROBES
    sites: dict[str, _Site] = field(default_factory=dict)

    def wants(self, site: str) -> bool:
        """Tell whether an uncertain page of *site* goes to the browser (a probe or decided)."""
        state = self.sites.setdefault(site, _Site())
        return state.needs_js is not False

    def decided(self, site: str) -> bool | None:
        """What was learnt of *site*: needs JavaScript, does not, or ``None`` (not yet)."""
        state = self.sites.get(site)
        return None if state is None else state.needs_js

    def learn(self, site: str, *, added: int) -> bool | None:
        """Record a probe of *site* whose browser DOM added *added* content links.

        Returns the decision when this probe made it, else ``None``.
        """
        state = self.sites.setdefault(site, _Site())
        if state.needs_js is not None:
            return None
        state.probes += 1
        if added > 0:
            state.needs_js = True
            return True
        if state.probes >= self.probes:
            state.needs_js = False
            return False
        return None
