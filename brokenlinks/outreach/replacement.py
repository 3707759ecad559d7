"""Which of your pages replaces a dead one: BM25 ranking of your pages per dead target.

Each of your pages (``scrapy crawl mysite``) is a document: its title (twice: it says most
about the page), headings, URL words and summary. Each dead target is a query: the words of
its URL, the anchor texts and contexts that pointed at it, and what the archive says it was
(title, first heading, summary), weighted by :data:`QUERY_WEIGHTS` (what the page was above
the sentence around its link). Words are compared with their plurals folded (:func:`stem`). :func:`rank` scores the documents with BM25+
(:class:`BM25Plus`, Lv and Zhai 2011) and keeps the best three per target, with the score.
BM25+ rather than Okapi BM25: on a small site Okapi's IDF of a word found in half the pages
is 0 (and negative above), so the one page about "compost" among two could not win. BM25+
gives every query word a floor (``delta`` × IDF) that a page gets even without the word;
the score reported is above that floor, so 0 means "nothing in common". Pure; reads no
settings.

:class:`BM25Plus` is the ``rank-bm25`` library's formula in plain Python (its scores to
the last digit): that library has had no release since 2022 and pulls in numpy for sums
over a few hundred pages. SQLite's FTS5 ``bm25()`` was measured too: the same 24 of 25
labelled targets first (``tests/test_outreach_ranking.py``), but it is Okapi BM25 with the
IDF of a word in half the pages or more clamped to 1e-6, so on a two-page site the right
page scores 0.000.
"""

from __future__ import annotations

import math
import re
from collections import Counter
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
        # what generic anchors say ("click here", "read more", "this link"): nothing of a topic
        "click",
        "here",
        "read",
        "more",
        "link",
    ]
)


@dataclass(frozen=True, slots=True)
class Match:
    url: str
    title: str | None
    score: float


def tokens(text: str) -> list[str]:
    """Lower-cased words of *text*, plurals folded, no stop words, letters or numbers.

    >>> tokens("The 10 Best Keyword-Research tools (2024)")
    ['best', 'keyword', 'research', 'tool']
    """
    return [
        stem(w)
        for w in _WORD.findall(text.lower())
        if len(w) > 1 and not w.isdigit() and w not in _STOP
    ]


_KEEP_S = ("ss", "us", "is", "ous")


def stem(word: str) -> str:
    """One stem for an English word's singular and plural, so that "brownies" finds "brownie".

    Only the regular endings, and a final ``y``/``ie`` written ``i`` (as Porter's stemmer
    does) so that both numbers meet: what a page title and a URL slug say of one thing
    ("tomatoes"/"tomato", "butterflies"/"butterfly", "cookies"/"cookie", "bins"/"bin").

    >>> [stem(w) for w in ["tomatoes", "butterflies", "butterfly", "brownies", "brownie"]]
    ['tomato', 'butterfli', 'butterfli', 'browni', 'browni']
    >>> [stem(w) for w in ["boxes", "bins", "grass", "bus", "tools"]]
    ['box', 'bin', 'grass', 'bus', 'tool']
    """
    if len(word) <= 3:  # noqa: PLR2004
        return word
    if word.endswith("ies"):
        return word[:-3] + "i"
    if word.endswith("ie"):
        return word[:-2] + "i"
    if word.endswith("y"):
        return word[:-1] + "i"
    if not word.endswith("s") or word.endswith(_KEEP_S):
        return word
    if word.endswith(("oes", "xes", "ches", "shes", "sses", "zes")):
        return word[:-2]
    return word[:-1]


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
    bm25 = BM25Plus([doc or [""] for doc in corpus])
    out: dict[str, list[Match]] = {}
    for target, text in queries.items():
        words = tokens(text)
        if not words:
            out[target] = []
            continue
        floor = sum(bm25.idf.get(w, 0.0) for w in words) * bm25.delta
        scores = [v - floor for v in bm25.scores(words)]
        order = sorted(range(len(pages)), key=lambda i: (-scores[i], str(pages[i]["url"])))
        out[target] = [
            Match(str(pages[i]["url"]), _title(pages[i]), round(scores[i], 3))
            for i in order[:top]
            if scores[i] > 0 and set(words) & set(corpus[i])
        ]
    return out


class BM25Plus:
    """BM25+ over a corpus of token lists (``k1`` 1.5, ``b`` 0.75, ``delta`` 1, as rank-bm25).

    >>> bm25 = BM25Plus([["compost", "bins"], ["saving", "seeds"]])
    >>> [round(s, 3) for s in bm25.scores(["compost"])]
    [2.197, 1.099]
    """

    def __init__(
        self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75, delta: float = 1
    ) -> None:
        self.k1, self.b, self.delta = k1, b, delta
        self.freqs = [Counter(doc) for doc in corpus]
        self.lengths = [len(doc) for doc in corpus]
        self.average_length = sum(self.lengths) / len(corpus)
        in_docs = Counter(word for doc in self.freqs for word in doc)
        # rank-bm25's BM25+ IDF: never 0, however common the word
        self.idf = {word: math.log((len(corpus) + 1) / n) for word, n in in_docs.items()}

    def scores(self, words: Sequence[str]) -> list[float]:
        """The score of each document for the query *words* (a word may repeat)."""
        out: list[float] = []
        for freqs, length in zip(self.freqs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.average_length)
            score = 0.0
            for word in words:
                f = freqs.get(word, 0)
                score += self.idf.get(word, 0.0) * (self.delta + f * (self.k1 + 1) / (norm + f))
            out.append(score)
        return out


def _title(page: Mapping[str, object]) -> str | None:
    title = page.get("title")
    return str(title) if title else None


#: how many times each part of what is known of a dead target counts in its query: what the
#: page was (its URL's words, its archived title) above what pointed at it (anchors), above
#: the sentence around the link, which talks about the linking page as much as the target
QUERY_WEIGHTS = {
    "url": 3,
    "archived_title": 3,
    "archived_heading": 2,
    "anchor": 1,
    "context": 1,
    "archived_summary": 1,
}


def query(
    target_url: str,
    anchors: Iterable[str],
    contexts: Iterable[str],
    archived: Mapping[str, object] | None,
) -> str:
    """The query text of a dead target: URL words, anchors, contexts and archived text.

    Each part is repeated as :data:`QUERY_WEIGHTS` says (BM25 counts a query word as often
    as it occurs), so that the dead page's own words outweigh the sentence around its link.

    >>> query("http://gone.test/seed-saving", ["seed saving"], ["Read the seed saving guide"],
    ...       {"archived_title": "Seed saving 101", "archived_summary": None})
    'seed saving seed saving seed saving seed saving Read the seed saving guide Seed saving 101 Seed saving 101 Seed saving 101'
    """
    weighted: list[tuple[str, str]] = [("url", url_words(target_url))]
    weighted += [("anchor", anchor) for anchor in anchors]
    weighted += [("context", context) for context in contexts]
    if archived:
        for key in ("archived_title", "archived_heading", "archived_summary"):
            value = archived.get(key)
            if value:
                weighted.append((key, str(value)))
    return " ".join(" ".join([text] * QUERY_WEIGHTS[part]) for part, text in weighted if text)
