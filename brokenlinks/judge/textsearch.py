"""Case-insensitive marker search over page bodies, with a literal prefilter.

Parked-page and bot-wall detection search every GET body for dozens of case-insensitive
patterns. Each ``re.search`` with ``IGNORECASE`` walks the whole body (sre cannot use its
literal-prefix scan under ``IGNORECASE``), which made marker search most of the CPU of
judging a body (benchmarks: 62% of body judgement, 13% of a crawl's CPU). Nearly every
pattern contains a literal that every match must contain ("may be for sale",
``sedoParkingUrl``); each marker *declares* those literals beside its pattern
(``brokenlinks/data/parking.json``, ``brokenlinks.judge.botwall``), and :func:`fold`
lower-cases a body once, as bytes, so that a search is a fast substring test that runs the
regex only when a literal is there. The answer is the same as the regex's alone as long as a
match implies one of its literals in the folded body (see :func:`fold` for the characters
``IGNORECASE`` equates with ASCII letters); ``tests/test_textsearch.py`` checks every
bundled marker's literals against strings generated from its pattern. The literals were
once derived from the stdlib's private regex parser (``re._parser``), which may change in
any Python release: declared literals need no private module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: literals shorter than this filter too little to be worth a pass over the body
MIN_LITERAL = 3
#: the non-ASCII characters that ``re.IGNORECASE`` matches with ASCII letters (found by
#: trying every code point; tests/test_textsearch.py checks it against this Python)
_IGNORECASE_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_IGNORECASE_SPECIAL = re.compile("[\u0130\u0131\u017f\u212a]")


def fold(text: str) -> bytes:
    """*text* folded so that an ASCII literal found by ``re.IGNORECASE`` is found in it by ``in``.

    Bytes whose ASCII letters are lower-cased: the Latin-1 bytes of a text that has them
    (nearly every page: one "©" is enough to make a page non-ASCII), else UTF-8. Either
    way an ASCII byte is an ASCII character, so a literal is in the bytes where it is in
    the text. ``bytes.lower()`` is one pass over the bytes; ``str.casefold()`` looks up
    every character of a non-ASCII text (16 times slower on an 18 KB page with a "©").

    >>> fold("DOMAIN Parked © 2024"), fold("\u212aelvin İstanbul")
    (b'domain parked \\xa9 2024', b'kelvin istanbul')
    """
    try:
        # the characters IGNORECASE equates with ASCII letters are all past U+00FF
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        if _IGNORECASE_SPECIAL.search(text):
            # İ would lower-case to "i" + a combining dot, breaking the word; translate()
            # is slow (a lookup per character): only when one is there
            text = text.translate(_IGNORECASE_ASCII)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.lower()


def checked_literals(literals: tuple[str, ...] | list[str]) -> tuple[bytes, ...] | None:
    """Declared literals as the prefilter uses them: folded, or ValueError naming a bad one.

    None when there are none (the regex then runs on every body).

    >>> checked_literals(("May Be For Sale",)), checked_literals(()) is None
    ((b'may be for sale',), True)
    >>> checked_literals(["ok", "fine"])
    Traceback (most recent call last):
    ...
    ValueError: literal 'ok': shorter than 3 characters
    """
    folded: list[bytes] = []
    for literal in literals:
        if not isinstance(literal, str) or not literal.isascii():
            msg = f"literal {literal!r}: not an ASCII string"
            raise ValueError(msg)
        if len(literal) < MIN_LITERAL:
            msg = f"literal {literal!r}: shorter than {MIN_LITERAL} characters"
            raise ValueError(msg)
        folded.append(fold(literal))
    return tuple(folded) or None


def plain_literals(text: str) -> tuple[bytes, ...] | None:
    """The literal of a plain (not regex) case-insensitive pattern: the text itself, folded.

    >>> plain_literals("sedoParkingUrl"), plain_literals("ab"), plain_literals("café")
    ((b'sedoparkingurl',), None, None)
    """
    if len(text) < MIN_LITERAL or not text.isascii():
        return None
    return (fold(text),)


@dataclass(frozen=True, slots=True)
class Marker:
    """A case-insensitive pattern, and the literals its matches contain."""

    regex: re.Pattern[str]
    literals: tuple[bytes, ...] | None = field(default=None)

    @classmethod
    def compile(cls, pattern: str, *literals: str) -> Marker:
        """Compile *pattern*; *literals*: one of them is in every match (case-insensitively)."""
        return cls(re.compile(pattern, re.IGNORECASE), checked_literals(literals))

    def search(self, text: str, folded: bytes) -> bool:
        """Tell whether the pattern matches *text*; *folded* is ``fold(text)``."""
        if self.literals is not None and not any(n in folded for n in self.literals):
            return False
        return self.regex.search(text) is not None
