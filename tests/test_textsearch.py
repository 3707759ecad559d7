"""The literal prefilter of marker search (``brokenlinks.judge.textsearch``) answers as the regex does."""

from __future__ import annotations

import re
import sys

import pytest
import pytest_twisted
from scrapy.utils.defer import deferred_from_coro

from brokenlinks.judge import botwall, parked, textsearch


def test_fold_covers_every_character_ignorecase_equates_with_ascii():
    # every non-ASCII code point that re.IGNORECASE matches with an ASCII letter or digit
    # must fold to that character, or the prefilter could miss a match the regex finds
    letter = re.compile("[a-z0-9]", re.IGNORECASE)
    equated = [chr(c) for c in range(0x80, sys.maxunicode + 1) if letter.fullmatch(chr(c))]
    assert equated, "this Python still equates some"
    for char in equated:
        folded = textsearch.fold(char)
        assert folded.isascii()
        assert re.fullmatch(re.escape(folded), char, re.IGNORECASE)


PATTERNS = [
    *(m.regex.pattern for m in parked.default_fingerprints().markers),
    *(rule.markup.regex.pattern for rule in botwall._BODY_RULES),
]
TEXTS = [
    "",
    "<title>Shop</title><p>coffee grinders</p>",
    "This Domain May Be For Sale! Inquire about this domain.",
    "THIS DOMAIN NAME MAY BE FOR SALE",
    "this domaın may be for ſale",  # dotless i, long s: IGNORECASE equates them with i, s
    "this domaİn may be for sale",
    "<script>window._CF_CHL_OPT={}</script>",
    "<title> Just a moment... </title>",
    "<TITLE>Checking your browser before accessing</TITLE>",
    "<div id='px-captcha'></div>",
    "var sedoparkingurl = 1; img1.WSIMG.com/parking-lander",
    "<title>Access Denied</title> Reference&#32;#18.2f",
    "domain parked",
    "  Domain Parked  ",
    "this page is parked free, courtesy of",
    "\u212aelvin: window.location.href = '/lander'",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_marker_search_equals_the_regex(pattern):
    marker = textsearch.Marker.compile(pattern)
    for text in TEXTS:
        expected = re.search(pattern, text, re.IGNORECASE) is not None
        assert marker.search(text, textsearch.fold(text)) is expected, (pattern, text)


def test_nearly_every_marker_has_a_literal():
    # the speed comes from these; a marker without one runs its regex on every body
    literals = [textsearch.required_literals(p) for p in PATTERNS]
    assert sum(lit is None for lit in literals) == 0


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"abc(?:d)?efgh", ("efgh",)),
        (r"(?:abcd)+x", ("abcd",)),
        (r"(?:abcd)*xy", None),  # the repeat may be absent; "xy" is too short
        (r"foo\w+barbaz|quux", ("barbaz", "quux")),
        (r"foo\w+barbaz|qu", None),  # one branch has no usable literal
        (r"(?:one|two)three", ("three",)),
        (r"caf[eé] crème", ("caf",)),  # non-ASCII literals are not used
    ],
)
def test_required_literals(pattern, literals):
    assert textsearch.required_literals(pattern) == literals


@pytest_twisted.inlineCallbacks
def test_page_reader_reads_each_distinct_body_once():
    # the reader awaits asyncio futures: run it as an asyncio task
    yield deferred_from_coro(_read_bodies())


async def _read_bodies():
    from brokenlinks.checker.checks import PageReader
    from brokenlinks.checker.workers import WorkerPool
    from brokenlinks.judge.soft404 import page_signals

    template = "<title>Page not found | Shop</title><main><p>Nothing here at all.</p></main>"
    lander = "<title>x.test</title><p>This domain may be for sale</p>"
    reader = PageReader(WorkerPool(0), size=2)

    first, none = await reader(template, "http://shop.test/a", False)
    again, _ = await reader(template, "http://shop.test/b", True)
    assert none is None
    assert reader.hits == 1
    assert again == page_signals(template, "http://shop.test/b", redirected=True)
    assert first == page_signals(template, "http://shop.test/a")
    signals, match = await reader(lander, "http://x.test/", False)
    assert match is not None
    assert match.service == "GoDaddy"
    assert signals.url == "http://x.test/"
    await reader(template, "http://shop.test/c", False)  # used again: the lander is now the oldest
    assert reader.hits == 2
    await reader("<p>third</p>", "http://c.test/", False)  # the least recently used (lander) goes
    await reader(template, "http://shop.test/d", False)
    assert reader.hits == 3
    await reader(lander, "http://x.test/", False)
    assert reader.hits == 3, "the lander was dropped"
    assert len(reader._read) == 2
