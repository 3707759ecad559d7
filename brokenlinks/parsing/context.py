"""The sentence around a link: sentence boundaries and a window of at most 300 characters.

Pure functions, no settings. :func:`sentence_bounds` finds a block's sentence ends once
(after ``.``, ``!``, ``?`` and a non-lower-case start, not after abbreviations; after
``。`` and friends); :func:`sentence_context` returns the sentence holding an anchor,
windowed around it and cut at word boundaries. Used by :mod:`brokenlinks.parsing.extract`.
"""

from __future__ import annotations

import bisect
import re

CONTEXT_MAX = 300
"""The longest context, in characters (ellipsis marks included)."""

ELLIPSIS = "\u2026"


_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019\u00bb)\]]*(?= )|[\u3002\uff01\uff1f]+")
_ABBREVIATIONS = frozenset(
    [
        "al",
        "approx",
        "apr",
        "aug",
        "ca",
        "capt",
        "cf",
        "co",
        "col",
        "corp",
        "dec",
        "dept",
        "dr",
        "ed",
        "eds",
        "e.g",
        "est",
        "etc",
        "feb",
        "fig",
        "figs",
        "gen",
        "gov",
        "hon",
        "i.e",
        "inc",
        "jan",
        "jr",
        "jul",
        "jun",
        "lt",
        "ltd",
        "mar",
        "messrs",
        "mr",
        "mrs",
        "ms",
        "mt",
        "no",
        "nos",
        "nov",
        "oct",
        "op",
        "p",
        "pp",
        "prof",
        "rep",
        "rev",
        "sen",
        "sep",
        "sept",
        "sgt",
        "sr",
        "st",
        "vol",
        "vs",
    ]
)
_DOTTED_ABBREVIATION = re.compile(r"^(?:[a-z]\.)+[a-z]$")


def _is_sentence_end(text: str, match: re.Match[str]) -> bool:
    """Tell whether a ``.``/``!``/``?`` run really ends a sentence."""
    punctuation = match.group(0)
    if punctuation[0] in "\u3002\uff01\uff1f":
        return True
    following = text[match.end() + 1 : match.end() + 2]
    if following.islower():
        return False
    if punctuation.rstrip("\"'\u201d\u2019\u00bb)]") != ".":
        return True
    word_start = text.rfind(" ", 0, match.start()) + 1
    word = text[word_start : match.start()].lstrip("(\"'\u201c\u2018[").lower()
    if len(word) == 1 and word.isalpha():  # an initial: "J. R. R. Tolkien"
        return False
    return word not in _ABBREVIATIONS and not _DOTTED_ABBREVIATION.match(word)


def sentence_bounds(text: str) -> tuple[list[int], list[int], list[int]]:
    """Sentence boundaries of a block text: (mark positions, sentence ends, next starts)."""
    marks: list[int] = []
    ends: list[int] = []
    nexts: list[int] = []
    breaks = [m.start() for m in re.finditer("\n", text)]
    matches = [m for m in _SENTENCE_END.finditer(text) if _is_sentence_end(text, m)]
    cuts = [(pos, pos, pos + 1) for pos in breaks]
    for m in matches:
        gap = 0 if m.group(0)[0] in "\u3002\uff01\uff1f" else 1
        cuts.append((m.start(), m.end(), m.end() + gap))
    cuts.sort()
    for mark, end, nxt in cuts:
        marks.append(mark)
        ends.append(end)
        nexts.append(nxt)
    return marks, ends, nexts


def cut_words_right(text: str, budget: int) -> str:
    """Keep at most *budget* characters of *text* from the left, ending on a word end."""
    if len(text) <= budget:
        return text
    cut = text[: budget + 1]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space >= 0 else text[:budget]


def _cut_words_left(text: str, budget: int) -> str:
    """Keep at most *budget* characters of *text* from the right, starting on a word start."""
    if len(text) <= budget:
        return text
    cut = text[len(text) - budget - 1 :]
    space = cut.find(" ")
    return cut[space + 1 :].lstrip() if space >= 0 else text[len(text) - budget :]


def window(text: str, start: int, end: int, limit: int = CONTEXT_MAX) -> str:
    """At most *limit* characters of *text* around ``text[start:end]``, always including it."""
    if len(text) <= limit:
        return text
    anchor = text[start:end]
    room = limit - len(anchor)
    before, after = text[:start], text[end:]
    left_budget = right_budget = room // 2
    if len(before) < left_budget:
        right_budget = room - len(before)
    elif len(after) < right_budget:
        left_budget = room - len(after)
    else:
        left_budget = room - right_budget
    if len(before) > left_budget:
        before = ELLIPSIS + _cut_words_left(before, left_budget - 1) if left_budget > 0 else ""
    if len(after) > right_budget:
        after = cut_words_right(after, right_budget - 1) + ELLIPSIS if right_budget > 0 else ""
    return before + anchor + after


def sentence_context(
    text: str, start: int, end: int, bounds: tuple[list[int], list[int], list[int]]
) -> str:
    """Return the sentence of *text* holding ``text[start:end]``, windowed to the limit."""
    if end - start > CONTEXT_MAX:
        return cut_words_right(text[start:end], CONTEXT_MAX - 1) + ELLIPSIS
    marks, ends, nexts = bounds
    index = bisect.bisect_right(nexts, start) - 1
    sentence_start = nexts[index] if index >= 0 else 0
    index = bisect.bisect_left(marks, end)
    sentence_end = ends[index] if index < len(marks) else len(text)
    sentence = text[sentence_start:sentence_end]
    return window(sentence, start - sentence_start, end - sentence_start)
