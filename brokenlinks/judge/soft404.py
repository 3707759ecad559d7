"""Soft 404s: pages that answer 200 (or redirect somewhere that does) but say "not found".

Pure functions, no settings and no Scrapy. A check reads the target's answer into
:class:`PageSignals` (final URL, title, first headings, main text) with
:func:`page_signals`; the host's answer to a URL that cannot exist (the checker's probe,
one per host and crawl) is read the same way. :func:`soft404_reason` then decides, in
this order:

1. a URL whose path is the site's home (``/``, ``/index.html``, ``/en/``) is never a soft
   404 (a site that serves its home page for every unknown URL would otherwise make its
   real home page look like one);
2. a deep URL redirected to the home page of its own site is one (a redirect to another
   site's home page is how shorteners and affiliate links work, so it is not). A
   language home (``/en/``, ``/de-at/``) counts only when its first segment is a real
   ISO 639-1 language or ISO 3166-1 region code (``brokenlinks/data/iso_codes.json``,
   from Debian's iso-codes) *and* the site's
   own ``/`` redirects there (*home*, found by the checker): ``/ok``, ``/go`` or ``/tv``
   are ordinary pages on most sites;
3. a redirected URL that lands where the probe landed too (the generic search or listing
   page every unknown path is sent to) is one, unless the link points at that page;
4. a title or first heading that *is* a not-found message, in the common languages
   (:func:`says_not_found`: the whole title segment, so "How to fix 404 errors" is not);
5. an answer that looks like the probe's: same title and nearly the same main text once
   the words of each URL's own path are left out (templates echo the path), provided
   there is enough text to compare (an empty app shell proves nothing).

A page that merely mentions "404" in its text is none of these.
"""

from __future__ import annotations

import json
import pkgutil
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lxml import etree  # type: ignore[import-untyped]  # no stubs, as in brokenlinks.parsing.extract
from lxml import html as lxml_html

from brokenlinks.parsing.sites import site_of
from brokenlinks.parsing.urls import url_parts

if TYPE_CHECKING:
    from collections.abc import Iterable

#: main-text words compared at most (SequenceMatcher is quadratic in the worst case)
MAX_WORDS = 600
#: visible-text characters kept for other checks (parked-page markers)
MAX_TEXT = 100_000
#: main-text similarity from which an answer "looks like" the host's not-found answer
SIMILARITY = 0.9
#: fewer main-text words than this (path words left out) say too little to compare: a
#: single-page app's shell is the same empty page for every URL, live or not
MIN_WORDS = 8

_SKIP_TAGS_ALL = ("script", "style", "noscript", "template")
_WORD = re.compile(r"\w+", re.UNICODE)
#: characters read first for the first ``MAX_WORDS`` words: 10 a word, where a word and
#: its space take about 6 in running text
_WORDS_SPAN = MAX_WORDS * 10
_SEGMENT_SPLIT = re.compile(r"\s+[|\-–—·:»~/]+\s+|\s*[|·»]\s*")
_LEAD_NOISE = re.compile(
    r"^(?:(?:oops|whoops|uh[ -]?oh|sorry|hmm+|ouch|error|fehler|erreur|errore|erro|"
    r"ошибка|http|404|[^\w\s]+)[\s,.!:;-]*)+",
    re.IGNORECASE,
)
_ROOT_PATH = re.compile(r"^/?(?:(?:index|default|home)(?:\.\w+)?)?$", re.IGNORECASE)
_LANGUAGE_PATH = re.compile(
    r"^/(?P<lang>[a-z]{2})(?:[-_](?P<region>[a-z]{2}))?(?:/(?:(?:index|default|home)(?:\.\w+)?)?)?$",
    re.IGNORECASE,
)

_CANT = r"(?:can't|cant|cannot|can not|couldn't|couldnt|could not)"
_DOESNT = r"(?:doesn't|doesnt|does not|did not|didn't)"
#: a title segment or heading that is, as a whole, a not-found message
_NOT_FOUND_PHRASES = (
    # English
    r"(?:error )?404(?: error)?(?: page)?",
    (
        r"(?:404 )?(?:the )?(?:page|file|document|article|post|product|content|resource|url)?"
        r" ?(?:was |could )?not (?:be )?found"
    ),
    (
        rf"(?:the |this )?(?:page|url|link) (?:you (?:are|were|re) looking for |you requested )?"
        rf"(?:{_DOESNT} exists?|no longer exists)(?: anymore)?"
    ),
    (
        rf"(?:the |this |that )?page (?:you (?:are|were|re) looking for |you requested )?"
        rf"{_CANT} be (?:found|located)"
    ),
    rf"we {_CANT} find (?:that|this|the|your) page",
    r"page (?:is )?missing",
    r"nothing (?:was )?found(?: here)?",
    # German
    r"(?:die )?seite (?:wurde )?nicht gefunden",
    r"(?:diese |die )?seite (?:existiert|gibt es) (?:leider )?nicht(?: mehr)?",
    r"nicht gefunden",
    # French
    r"(?:la )?page (?:non trouv[ée]e|introuvable|inexistante)",
    r"(?:cette|la) page n ?['’]?existe (?:pas|plus)",
    # Spanish / Portuguese / Italian
    r"(?:la )?p[áa]gina no (?:encontrada|existe|se ha encontrado)",
    r"no se (?:ha podido encontrar|encontr[óo]|encuentra) la p[áa]gina",
    r"p[áa]gina n[ãa]o (?:encontrada|existe)",
    r"(?:la )?pagina non (?:trovata|esiste|esistente)",
    # Dutch / Scandinavian / Finnish
    r"(?:pagina|deze pagina) (?:niet gevonden|bestaat niet)",
    r"sidan (?:kunde inte hittas|hittades inte|finns inte)",
    r"siden (?:blev ikke fundet|ble ikke funnet|findes ikke|finnes ikke|kunne ikke findes)",
    r"sivua ei (?:l[öo]ytynyt|l[öo]ydy)",
    # Polish / Czech / Turkish / Russian
    r"(?:nie znaleziono strony|strona nie (?:zosta[łl]a )?znaleziona|strona nie istnieje)",
    r"str[áa]nka (?:nenalezena|nebyla nalezena|neexistuje)",
    r"sayfa bulunamad[ıi]",
    r"страница не (?:найдена|существует)",
)
_NOT_FOUND = re.compile("|".join(f"(?:{p})" for p in _NOT_FOUND_PHRASES), re.IGNORECASE)
#: scripts without spaces between words: found anywhere in a title segment
_NOT_FOUND_CJK = re.compile(
    "ページが見つかりません|ページは見つかりませんでした|页面未找到|找不到页面|页面不存在|"
    "頁面不存在|找不到網頁|找不到页面|페이지를 찾을 수 없습니다"
)


@dataclass(frozen=True, slots=True)
class PageSignals:
    """What a soft-404 decision reads from one answer."""

    #: the URL that answered (after redirects)
    url: str
    #: the answer was reached through at least one redirect
    redirected: bool = False
    title: str = ""
    #: the first ``h1`` headings (at most three), whitespace-normalised
    headings: tuple[str, ...] = ()
    #: the main text (without scripts, navigation, header and footer), lower-cased words
    words: tuple[str, ...] = ()
    #: the whole visible text, whitespace-normalised (at most ``MAX_TEXT`` characters)
    text: str = ""


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _text(element: etree._Element) -> str:
    # itertext, not text_content(): pieces of separate blocks must not run together
    return _normalise(" ".join(element.itertext()))


def _first_words(text: str) -> tuple[str, ...]:
    """The first ``MAX_WORDS`` words of *text*, lower-cased.

    Found in a prefix first: a page's main text runs to thousands of words, and only
    these are kept. More than ``MAX_WORDS`` words in the prefix means the first ones are
    whole (the prefix can only cut the one after them); fewer, and the whole text is read.

    >>> _first_words("Oops! No Page here.")
    ('oops', 'no', 'page', 'here')
    """
    words = _WORD.findall(text, 0, _WORDS_SPAN)
    if len(words) <= MAX_WORDS:
        words = _WORD.findall(text)
    return tuple(map(str.lower, words[:MAX_WORDS]))


def page_signals(html: str, url: str, *, redirected: bool = False) -> PageSignals:
    """Read the signals of one HTML answer.

    >>> s = page_signals("<title> Page not found | Shop </title><nav>Home</nav>"
    ...                  "<h1>Oops</h1><p>No page at /x.</p>", "http://shop.test/x")
    >>> s.title, s.headings, s.words
    ('Page not found | Shop', ('Oops',), ('oops', 'no', 'page', 'at', 'x'))
    """
    # lxml refuses str input that carries an XML encoding declaration
    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)
    if not html.strip():
        return PageSignals(url=url, redirected=redirected)
    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return PageSignals(url=url, redirected=redirected)
    # stripped in place (the tree is this call's own): lxml's C-level itertext() then
    # reads what is left, without recursing in Python however deep the page
    etree.strip_elements(root, *_SKIP_TAGS_ALL, etree.Comment, with_tail=False)
    titles = root.xpath("//title")
    title = _text(titles[0]) if titles else ""
    headings = tuple(_text(h) for h in root.xpath("//h1")[:3])
    whole = root.find("body")
    text = _text(whole if whole is not None else root)
    mains = root.xpath("//main | //*[@role='main'] | //article")
    if mains:
        main = mains[0]
    else:
        etree.strip_elements(root, "nav", "header", "footer", with_tail=False)
        main = root.find("body")
        main = main if main is not None else root
    words = _first_words(_text(main))
    return PageSignals(
        url=url,
        redirected=redirected,
        title=title,
        headings=tuple(h for h in headings if h),
        words=words,
        text=text[:MAX_TEXT],
    )


def _segments(text: str) -> Iterable[str]:
    punctuation = " \t.!?,;:-–—'\"()[]"
    for segment in _SEGMENT_SPLIT.split(text):
        folded = unicodedata.normalize("NFKC", segment).replace("’", "'").strip()
        yield folded.strip(punctuation)
        yield _LEAD_NOISE.sub("", folded).strip(punctuation)


def says_not_found(title: str, headings: Iterable[str] = ()) -> bool:
    """Tell whether a title or first heading *is* a not-found message.

    Each title segment (split at ``|``, `` - ``, ``:`` ...) is matched as a whole, after
    leading noise such as "Oops!", "Error 404:" or "Sorry,":

    >>> says_not_found("Page not found | Greenhouse Supply Co.")
    True
    >>> says_not_found("Greenhouse Supply", ["Oops! We can't find that page"])
    True
    >>> says_not_found("Seite nicht gefunden – Gartenbau Müller")
    True
    >>> says_not_found("How to fix 404 errors | WebDev Notes", ["Fixing 404 Not Found"])
    False
    """
    for text in (title, *headings):
        if _NOT_FOUND_CJK.search(text):
            return True
        if any(_NOT_FOUND.fullmatch(segment) for segment in _segments(text) if segment):
            return True
    return False


@lru_cache(maxsize=1)
def _codes() -> tuple[frozenset[str], frozenset[str]]:
    """ISO 639-1 language codes and ISO 3166-1 alpha-2 region codes, lower-cased.

    Read through pkgutil from the bundled table, so that it works from a zipped egg too.
    """
    raw = pkgutil.get_data("brokenlinks", "data/iso_codes.json")
    if raw is None:  # pragma: no cover  (a loader without get_data)
        msg = "brokenlinks/data/iso_codes.json is missing"
        raise FileNotFoundError(msg)
    table = json.loads(raw)
    return frozenset(table["languages"]), frozenset(table["regions"])


def is_locale_code(lang: str, region: str | None = None) -> bool:
    """Tell whether *lang* (and *region*) name a real language or region, as in ``/en-gb/``.

    The first part may be a language (``de``) or a region (``us``: many sites use
    ``/us/``); a second part must be a region.

    >>> is_locale_code("de", "at"), is_locale_code("us"), is_locale_code("ok")
    (True, True, False)
    >>> is_locale_code("en", "xx")
    False
    """
    languages, regions = _codes()
    lang = lang.lower()
    if region is not None:
        return lang in languages and region.lower() in regions
    return lang in languages or lang in regions


def is_root_path(url: str) -> bool:
    """Tell whether *url* is a site's root page (``/``, ``/index.html``, ``/home``).

    >>> is_root_path("https://example.com/"), is_root_path("https://example.com/en/")
    (True, False)
    """
    parts = url_parts(url)
    return parts is not None and not parts.query and bool(_ROOT_PATH.fullmatch(parts.path or "/"))


def is_language_home(url: str) -> bool:
    """Tell whether *url* is a language home (``/en/``, ``/de-at/index.html``) by its path.

    >>> is_language_home("https://example.com/fr/"), is_language_home("https://example.com/ok")
    (True, False)
    """
    parts = url_parts(url)
    if parts is None or parts.query:
        return False
    found = _LANGUAGE_PATH.fullmatch(parts.path or "/")
    return found is not None and is_locale_code(found["lang"], found["region"])


def is_home_path(url: str) -> bool:
    """Tell whether *url* is a site's home page (``/``, ``/index.html``, ``/en/``...).

    >>> is_home_path("https://example.com/"), is_home_path("https://example.com/en/")
    (True, True)
    >>> is_home_path("https://example.com/blog/post"), is_home_path("https://example.com/?p=7")
    (False, False)
    >>> is_home_path("https://example.com/ok")
    False
    """
    return is_root_path(url) or is_language_home(url)


def is_redirect_to_home(requested_url: str, final_url: str, home: str | None = None) -> bool:
    """Tell whether a deep URL was redirected to the home page of its own site.

    *home* is where the site's ``/`` itself leads (after its redirects), if known: a
    language home (``/en/``) is the home page only when it is that one.

    >>> is_redirect_to_home("http://a.test/2019/old-post", "https://www.a.test/")
    True
    >>> is_redirect_to_home("http://a.test/", "https://www.a.test/")
    False
    >>> is_redirect_to_home("http://a.test/old", "http://a.test/new")
    False
    >>> is_redirect_to_home("https://bit.ly/3xYz", "https://example.com/")
    False
    >>> is_redirect_to_home("http://a.test/old", "http://a.test/en/")
    False
    >>> is_redirect_to_home("http://a.test/old", "http://a.test/en/", home="http://a.test/en/")
    True
    """
    if is_home_path(requested_url) or site_of(requested_url) != site_of(final_url):
        return False
    if is_root_path(final_url):
        return True
    return (
        home is not None
        and is_language_home(final_url)
        and _without_query(final_url) == _without_query(home)
    )


def _without_query(url: str) -> str:
    parts = url_parts(url)
    return f"{parts.origin}{parts.path or '/'}" if parts is not None else url


def _path_words(url: str) -> set[str]:
    parts = url_parts(url)
    if parts is None:
        return set()
    return {w.lower() for w in _WORD.findall(unquote(parts.path + " " + parts.query))}


def similarity(a: PageSignals, b: PageSignals) -> float:
    """Similarity of two answers' main texts, without the words of their own URLs' paths.

    >>> a = page_signals("<p>Sorry, old-guide does not exist.</p>", "http://s.test/old-guide")
    >>> b = page_signals("<p>Sorry, zq7x does not exist.</p>", "http://s.test/zq7x")
    >>> similarity(a, b)
    1.0
    """
    words_a, words_b = _compared_words(a, b)
    if not words_a and not words_b:
        return 1.0
    return SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def is_similar(a: PageSignals, b: PageSignals, threshold: float = SIMILARITY) -> bool:
    """Tell whether ``similarity(a, b) >= threshold``, computing as little as it can.

    Equal word lists (a template that only echoes the path) need no matching, and
    difflib's cheap upper bounds rule most different pages out; ``ratio()`` on a
    template that repeats one sentence is slow (long runs of the same words).

    >>> a = page_signals("<p>Sorry, old-guide does not exist.</p>", "http://s.test/old-guide")
    >>> b = page_signals("<p>Sorry, zq7x does not exist.</p>", "http://s.test/zq7x")
    >>> is_similar(a, b), is_similar(a, page_signals("<p>Fresh beans daily</p>", "http://s.test/"))
    (True, False)
    """
    words_a, words_b = _compared_words(a, b)
    if words_a == words_b:
        return True
    matcher = SequenceMatcher(None, words_a, words_b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= threshold
        and matcher.quick_ratio() >= threshold
        and matcher.ratio() >= threshold
    )


def _compared_words(a: PageSignals, b: PageSignals) -> tuple[list[str], list[str]]:
    drop = _path_words(a.url) | _path_words(b.url)
    return [w for w in a.words if w not in drop], [w for w in b.words if w not in drop]


def _title_key(signals: PageSignals) -> str:
    drop = _path_words(signals.url)
    return " ".join(w for w in _WORD.findall(signals.title.lower()) if w not in drop)


def soft404_reason(
    requested_url: str,
    answer: PageSignals,
    probe: PageSignals | None = None,
    *,
    home: str | None = None,
) -> str | None:
    """Say why a 2xx *answer* to *requested_url* is a soft 404, or None if it is not one.

    *probe* is the host's 2xx answer to a URL that cannot exist, if it gave one; *home*
    is where the site's ``/`` leads (see :func:`is_redirect_to_home`).

    >>> probe = page_signals("<title>Search</title><p>Results for zq7x</p>",
    ...                      "http://s.test/search?q=zq7x", redirected=True)
    >>> answer = page_signals("<title>Search</title><p>Results for old</p>",
    ...                       "http://s.test/search?q=old", redirected=True)
    >>> soft404_reason("http://s.test/articles/old", answer, probe)
    'redirected to http://s.test/search, where unknown URLs land too'
    >>> soft404_reason("http://s.test/search", answer, probe) is None
    True
    """
    if is_home_path(requested_url):
        return None
    if answer.redirected and is_redirect_to_home(requested_url, answer.url, home):
        return f"deep URL redirected to the home page {answer.url}"
    landing = _without_query(answer.url)
    if (
        probe is not None
        and answer.redirected
        and probe.redirected
        and landing == _without_query(probe.url)
        and _without_query(requested_url) != landing
    ):
        return f"redirected to {landing}, where unknown URLs land too"
    if says_not_found(answer.title, answer.headings):
        return "title or heading says not found"
    if (
        probe is not None
        and _without_query(requested_url) != _without_query(probe.url)
        and _title_key(answer) == _title_key(probe)
        and min(len(words) for words in _compared_words(answer, probe)) >= MIN_WORDS
        and is_similar(answer, probe)
    ):
        return "same page as the host's answer to a URL that cannot exist"
    return None
