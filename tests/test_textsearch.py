"""The literal prefilter of marker search (``brokenlinks.judge.textsearch``) answers as the regex does."""

from __future__ import annotations

import re
import sys

import pytest
import pytest_twisted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
        assert re.fullmatch(re.escape(folded.decode("ascii")), char, re.IGNORECASE)


#: every bundled marker: (pattern, declared literals folded), parked pages' and bot walls'
MARKERS = [
    *((m.regex.pattern, m.literals) for m in parked.default_fingerprints().markers),
    *((rule.markup.regex.pattern, rule.markup.literals) for rule in botwall._BODY_RULES),
]
PATTERNS = [pattern for pattern, _ in MARKERS]
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
    # non-ASCII pages: Latin-1 ones fold as Latin-1 bytes, the others as UTF-8
    "\u00a9 2024 Garden.test \u00b7 THIS DOMAIN MAY BE FOR SALE",
    "Stra\u00dfe caf\u00e9 \u00c0 la carte: domain\u00a0parked",
    "\u201cThis Domain May Be For Sale\u201d \u2014 inquire about this domain",
    "\u6b64\u57df\u540d\u51fa\u552e: this domain may be for sale \U0001f600",
    "\u00a9 domaın may be for ſale",
    "\udc80 undecodable byte kept by surrogateescape: this domain may be for sale",
]


@pytest.mark.parametrize(("pattern", "literals"), MARKERS)
def test_marker_search_equals_the_regex(pattern, literals):
    marker = textsearch.Marker(re.compile(pattern, re.IGNORECASE), literals)
    for text in TEXTS:
        expected = re.search(pattern, text, re.IGNORECASE) is not None
        assert marker.search(text, textsearch.fold(text)) is expected, (pattern, text)


#: IGNORECASE's odd equivalences, put in generated matches (see textsearch.fold)
_ODD_CASES = str.maketrans({"i": "\u0131", "I": "\u0130", "s": "\u017f", "k": "\u212a"})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_contains_a_declared_literal(data):
    # the prefilter's promise: a body the regex matches holds one of the declared literals,
    # so skipping bodies without any never changes an answer (one drawn match per marker;
    # no parametrize: pytest-twisted does not run parametrized @given tests)
    for pattern, literals in MARKERS:
        assert literals is not None, f"{pattern!r} declares no literals"
        regex = re.compile(pattern, re.IGNORECASE)
        text = data.draw(st.from_regex(regex), label=pattern)
        if data.draw(st.booleans()):
            odd = text.translate(_ODD_CASES)
            if regex.search(odd):
                text = odd
        assert regex.search(text)
        folded = textsearch.fold(text)
        assert any(n in folded for n in literals), (pattern, text, literals)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"literals": "for sale"}, "'literals' must be a list of strings"),
        ({"literals": ["ok"]}, "literal 'ok': shorter than 3 characters"),
        ({"literals": ["caf\u00e9"]}, "not an ASCII string"),
    ],
)
def test_parking_data_literals_are_validated(entry, message):
    data = {
        "markers": [
            {"service": "X", "in": "text", "pattern": "x+", "regex": True, "source": "s"} | entry
        ]
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        parked.load_fingerprints(data)


def test_plain_markers_are_their_own_literal():
    fp = parked.load_fingerprints(
        {"markers": [{"service": "X", "in": "html", "pattern": "sedoParkingUrl", "source": "s"}]}
    )
    assert fp.markers[0].literals == (b"sedoparkingurl",)


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
