"""Case-insensitive marker search over page bodies, with a literal prefilter.

Parked-page and bot-wall detection search every GET body for dozens of case-insensitive
patterns. Each ``re.search`` with ``IGNORECASE`` walks the whole body (sre cannot use its
literal-prefix scan under ``IGNORECASE``), which made marker search most of the CPU of
judging a body (benchmarks: 62% of body judgement, 13% of a crawl's CPU). Nearly every
pattern contains a literal that every match must contain ("may be for sale",
``sedoParkingUrl``); :class:`Marker` finds it once, when the pattern is compiled, and
:func:`fold` lower-cases a body once, so that a search is a fast substring test that
runs the regex only when the literal is there. The answer is the same as the regex's
alone: a match implies its literal in the folded body (see :func:`fold` for the
characters ``IGNORECASE`` equates with ASCII letters).
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found]  # the parser's opcodes
import re._parser as sre_parse  # type: ignore[import-not-found]  # the stdlib's regex parser
from dataclasses import dataclass, field
from typing import Any

#: literals shorter than this filter too little to be worth a pass over the body
MIN_LITERAL = 3
#: the non-ASCII characters that ``re.IGNORECASE`` matches with ASCII letters (found by
#: trying every code point; tests/test_textsearch.py checks it against this Python)
_IGNORECASE_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_IGNORECASE_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")


def fold(text: str) -> str:
    """*text* folded so that an ASCII literal found by ``re.IGNORECASE`` is found in it by ``in``.

    >>> fold("DOMAIN Parked"), fold("\u212aelvin İstanbul")
    ('domain parked', 'kelvin istanbul')
    """
    if not text.isascii() and _IGNORECASE_SPECIAL.search(text):
        # before casefold(): İ would fold to "i" + a combining dot, breaking the word;
        # translate() is slow (a lookup per character): only when one is there
        text = text.translate(_IGNORECASE_ASCII)
    return text.casefold()


def _runs(items: Any) -> list[tuple[str, ...]]:
    """Literal alternatives found in a parsed sequence: one of each tuple is in every match."""
    found: list[tuple[str, ...]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            found.append(("".join(run),))
            run.clear()

    for op, av in items:
        if op is sre_constants.LITERAL:
            run.append(chr(av))
            continue
        close()
        if op is sre_constants.SUBPATTERN:
            found.extend(_runs(av[-1]))
        elif op in {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT} and av[0] >= 1:
            found.extend(_runs(av[2]))
        elif op is sre_constants.BRANCH:
            branches = [_best(_runs(branch)) for branch in av[1]]
            if all(b is not None for b in branches):
                found.append(tuple(n for b in branches if b is not None for n in b))
    close()
    return found


def _best(candidates: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    usable = [c for c in candidates if all(len(n) >= MIN_LITERAL and n.isascii() for n in c)]
    if not usable:
        return None
    return max(usable, key=lambda c: min(len(n) for n in c))


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Folded literals one of which every case-insensitive match of *pattern* contains.

    None when there is none worth testing (the regex must then run on every body).

    >>> required_literals(r"this domain (?:name )?may be for sale")
    ('may be for sale',)
    >>> required_literals(r"window\\._cf_chl_opt|cf-browser-verification")
    ('window._cf_chl_opt', 'cf-browser-verification')
    >>> required_literals(r"^\\s*domain parked\\s*$"), required_literals(r"\\w+") is None
    (('domain parked',), True)
    """
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except re.error:
        return None
    best = _best(_runs(parsed))
    return tuple(fold(n) for n in best) if best is not None else None


@dataclass(frozen=True, slots=True)
class Marker:
    """A case-insensitive pattern, and the literals its matches contain."""

    regex: re.Pattern[str]
    literals: tuple[str, ...] | None = field(default=None)

    @classmethod
    def compile(cls, pattern: str) -> Marker:
        return cls(re.compile(pattern, re.IGNORECASE), required_literals(pattern))

    def search(self, text: str, folded: str) -> bool:
        """Tell whether the pattern matches *text*; *folded* is ``fold(text)``."""
        if self.literals is not None and not any(n in folded for n in self.literals):
            return False
        return self.regex.search(text) is not None
