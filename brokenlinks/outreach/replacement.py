"""Which of your pages replaces a dead one: BM25 ranking of your pages per dead target.

Each of your pages (``scrapy crawl mysite``) is a document: its title (twice: it says most
about the page), headings, URL words and summary. Each dead target is a query: the words of
its URL, the anchor texts and contexts that pointed at it, and what the archive says it was
(title, first heading, summary). :func:`rank` scores the documents with BM25+ (the
``rank-bm25`` library) and keeps the best three per target, with the score. BM25+ rather
than Okapi BM25: on a small site Okapi's IDF of a word found in half the pages is 0 (and
negative above), so the one page about "compost" among two could not win. BM25+ gives
every query word a floor (``delta`` × IDF) that a page gets even without the word; the
score reported is above that floor, so 0 means "nothing in common". Pure; reads no
settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: how many replacements are kept per dead target
TOP = 3
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: words that say nothing about a page's topic (English, and URL furniture)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "our",
        "we",
        "us",
        "my",
        "me",
        "i",
        "www",
        "http",
        "https",
        "com",
        "org",
        "net",
        "html",
        "htm",
        "php",
        "asp",
        "aspx",
        "index",
        "page",
        "pages",
        "home",
    ]
)


@dataclass(frozen=True, slots=True)
class Match:
    url: str
    title: str | None
    score: float


def tokens(text: str) -> list[str]:
    """Lower-cased words of *text*, without stop words, single characters and numbers.

    >>> tokens("The 10 Best Keyword-Research tools (2024)")
    ['best', 'keyword', 'research', 'tools']
    """
    return [
        w for w in _WORD.findall(text.lower()) if len(w) > 1 and not w.isdigit() and w not in _STOP
    ]


def url_words(url: str) -> str:
    """The words of a URL's path (its host left out): what its author named it.

    >>> url_words("https://mine.test/guides/Compost_Bins-101.html?id=3")
    'guides compost bins 101'
    """
    path = unquote(urlsplit(url).path)
    path = re.sub(r"\.\w{1,5}$", "", path)
    return " ".join(_WORD.findall(path.replace("_", " ").lower()))


def document(page: Mapping[str, object]) -> list[str]:
    """The tokens of one of your pages (a ``my_pages`` row)."""
    title = str(page.get("title") or "")
    words = str(page.get("url_words") or url_words(str(page.get("url") or "")))
    parts = [title, title, str(page.get("headings") or ""), words]
    parts.append(str(page.get("summary") or ""))
    return tokens(" ".join(parts))


def rank(
    queries: Mapping[str, str], pages: Sequence[Mapping[str, object]], top: int = TOP
) -> dict[str, list[Match]]:
    """The best *top* of *pages* for each dead target (key of *queries*), best first.

    Only pages sharing a word with the query are kept (a score above 0).

    >>> pages = [{"url": "https://mine.test/compost", "title": "Making compost"},
    ...          {"url": "https://mine.test/seeds", "title": "Saving seeds"}]
    >>> best = rank({"http://gone.test/compost-bins": "compost bins how to compost"}, pages)
    >>> [(m.url, m.score > 0) for m in best["http://gone.test/compost-bins"]]
    [('https://mine.test/compost', True)]
    """
    if not pages:
        return {target: [] for target in queries}
    corpus = [document(page) for page in pages]
    # BM25 divides by the average document length: an all-empty corpus has none
    if not any(corpus):
        return {target: [] for target in queries}
    # imported here: numpy costs every scrapy command ~0.3 s at start-up (commands are
    # loaded to list them), and only a report that ranks needs it
    from rank_bm25 import BM25Plus  # noqa: PLC0415

    bm25 = BM25Plus([doc or [""] for doc in corpus])
    out: dict[str, list[Match]] = {}
    for target, text in queries.items():
        words = tokens(text)
        if not words:
            out[target] = []
            continue
        floor = sum(bm25.idf.get(w, 0.0) for w in words) * bm25.delta
        scores = [float(v) - floor for v in bm25.get_scores(words)]
        order = sorted(range(len(pages)), key=lambda i: (-scores[i], str(pages[i]["url"])))
        out[target] = [
            Match(str(pages[i]["url"]), _title(pages[i]), round(float(scores[i]), 3))
            for i in order[:top]
            if scores[i] > 0 and set(words) & set(corpus[i])
        ]
    return out


def _title(page: Mapping[str, object]) -> str | None:
    title = page.get("title")
    return str(title) if title else None


def query(
    target_url: str,
    anchors: Iterable[str],
    contexts: Iterable[str],
    archived: Mapping[str, object] | None,
) -> str:
    """The query text of a dead target: URL words, anchors, contexts and archived text.

    >>> query("http://gone.test/seed-saving", ["seed saving"], ["Read the seed saving guide"],
    ...       {"archived_title": "Seed saving 101", "archived_summary": None})
    'seed saving seed saving Read the seed saving guide Seed saving 101'
    """
    parts = [url_words(target_url), *anchors, *contexts]
    if archived:
        for key in ("archived_title", "archived_heading", "archived_summary"):
            value = archived.get(key)
            if value:
                parts.append(str(value))
    return " ".join(p for p in parts if p)
