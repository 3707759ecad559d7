"""Property-based fuzzing of the pure parts with Hypothesis: no exception escapes, invariants hold.

Profiles: ``ci`` (the default: few examples, bounded run time) and ``local`` (many more),
chosen with ``HYPOTHESIS_PROFILE=local pytest tests/test_properties.py``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.exceptions import CannotResolveHostError

from brokenlinks.checker.verdicts import (
    BLOCKED_STATUSES,
    Kind,
    classify_exception,
    classify_status,
)
from brokenlinks.extensions.feeds import SafeCsvItemExporter
from brokenlinks.items import PROSPECT_FIELDS, ProspectItem
from brokenlinks.judge import parked, soft404, textsearch
from brokenlinks.net.guard import HostPolicy, refusal_reason, split_port
from brokenlinks.parsing.extract import extract_page
from brokenlinks.parsing.urls import is_http, parse_absolute, resolve_href
from brokenlinks.reporting.reports import printable
from brokenlinks.seeds.read import SeedFileError, parse_seeds, parse_seeds_bytes

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("local", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

URLISH = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", "mailto", ""]),
        st.from_regex(r"[a-zA-Z0-9.\-\[\]:%@]{0,30}", fullmatch=True),
        st.text(max_size=30),
    ),
)
LINE_END = st.sampled_from(["\n", "\r\n", "\r"])


# -- seeds ------------------------------------------------------------------------


@given(st.lists(st.tuples(URLISH, LINE_END), max_size=30))
def test_seeds_parsing_never_raises_anything_else(lines):
    text = "".join(line + end for line, end in lines)
    try:
        seeds = parse_seeds(text, path="fuzz.txt")
    except SeedFileError as e:
        message = str(e)
    else:
        message = None
    if message is not None:
        assert "\n" not in message
        assert message.startswith("seeds file 'fuzz.txt': ")
        return
    urls = [seed.url for seed in seeds.seeds]
    assert len(urls) == len(set(urls))
    assert all(is_http(url) for url in urls)
    count = text.count("\n") + text.count("\r") - text.count("\r\n") + 1
    assert all(1 <= seed.line <= count for seed in seeds.seeds)
    assert all(1 <= bad.line <= count for bad in seeds.invalid)


@given(st.binary(max_size=400))
def test_seeds_bytes_never_raise_anything_else(data):
    try:
        parse_seeds_bytes(data, path="fuzz.bin")
    except SeedFileError as e:
        message = str(e)
    else:
        message = ""
    assert "\n" not in message


# -- hrefs --------------------------------------------------------------------------


@given(URLISH, st.sampled_from(["http://a.example/b/c?d#e", "https://[::1]:8443/", "http://x/"]))
def test_href_resolution_is_total_and_stable(href, base):
    url = resolve_href(href, base)
    if url is not None:
        # what the resolver returns parses to itself
        assert parse_absolute(url) == url


# -- extraction -------------------------------------------------------------------------

TAGS = st.sampled_from(["div", "p", "nav", "footer", "header", "aside", "main", "span", "b"])
ANCHOR = st.builds(
    lambda href, rel, text: f'<a href="{href}" rel="{rel}">{text}</a>',
    st.one_of(
        URLISH.map(lambda s: s.replace('"', "%22")),
        st.integers(0, 99).map(lambda n: f"http://t{n}.example/"),
    ),
    st.sampled_from(["", "nofollow", "sponsored ugc", "NOFOLLOW noopener"]),
    st.text(max_size=20).map(lambda s: s.replace("<", "&lt;")),
)
HTML = st.recursive(
    st.one_of(ANCHOR, st.text(max_size=20).map(lambda s: s.replace("<", "&lt;"))),
    lambda children: st.builds(
        lambda tag, inner: f"<{tag}>{''.join(inner)}</{tag}>", TAGS, st.lists(children, max_size=4)
    ),
    max_leaves=20,
)


@given(HTML, st.sampled_from(["utf-8", "latin-1", None]))
def test_extraction_never_raises_and_every_href_is_a_link(html, encoding):
    page = extract_page(html.encode("utf-8"), "http://page.example/dir/", encoding=encoding)
    # an href to the page itself (empty, a fragment) is no link; every other one is
    assert len(page.links) <= html.count("<a href=")
    absolute = set(re.findall(r'href="(http://t\d+\.example/)"', html))
    assert absolute <= {link.url for link in page.links}
    for link in page.links:
        assert link.url is None or parse_absolute(link.url) is not None
        assert link.follow == (not {"nofollow", "sponsored", "ugc"} & set(link.rel))
        assert link.position in {"content", "nav", "header", "footer", "aside"}


# -- body judgement ----------------------------------------------------------------------

#: words of every length around the prefix soft404 reads first, non-ASCII and İ included
WORDY = st.lists(
    st.one_of(
        st.text(alphabet="abcXYZ\u00e9\u0130\u03a3\u4e2d_1", min_size=1, max_size=30),
        st.sampled_from([" ", "  ", ", ", "! ", "\u00a0", "\n", "\u2014"]),
    ),
    max_size=4 * soft404.MAX_WORDS,
).map("".join)


@given(WORDY)
def test_first_words_are_the_naive_ones(text):
    naive = tuple(w.lower() for w in soft404._WORD.findall(text))[: soft404.MAX_WORDS]
    assert soft404._first_words(text) == naive


@pytest.mark.parametrize("width", [1, 5, 9, 10, 11, 20, 40])
def test_first_words_of_long_texts(width):
    # words of every width: the prefix holds more than MAX_WORDS of the short ones, and
    # fewer of the long ones (then the whole text is read); a word is cut at its end
    words = [f"W{i:0{width}d}"[: width + 1] for i in range(3 * soft404.MAX_WORDS)]
    text = " ".join(words)
    naive = tuple(w.lower() for w in soft404._WORD.findall(text))[: soft404.MAX_WORDS]
    assert soft404._first_words(text) == naive
    assert len(naive) == soft404.MAX_WORDS


@given(st.text(max_size=80))
def test_fold_keeps_every_ascii_literal(text):
    # an ASCII run of the text, lower-cased, is in the fold: what the prefilter relies on
    folded = textsearch.fold(text)
    for run in re.findall(r"[\x00-\x7f]+", text):
        assert run.lower().encode("ascii") in folded


@given(
    st.text(alphabet=" \t\n\u00a0xyz", max_size=12),
    st.text(alphabet=" \t\n\u00a0domainpkrsle", max_size=40),
    st.booleans(),
    st.integers(0, 120),
)
def test_parked_text_normalised_once_answers_the_same(title, text, landed, cut):
    # a PageSignals' title and text are normalised, the text then cut (maybe after a space)
    if landed:
        text = f"{text} This domain\n is  parked {text}"
    title, text = soft404._normalise(title), soft404._normalise(text)[:cut]
    again = parked.parked_by_markup(title, text, "")
    assert parked.parked_by_markup(title, text, "", normalised=True) == again


# -- verdicts ---------------------------------------------------------------------------


@given(st.integers(min_value=100, max_value=999), st.booleans())
def test_every_status_gets_one_verdict(status, refused_retry):
    verdict = classify_status(status, retry_after_refused=refused_retry)
    assert verdict.kind in set(Kind)
    if 200 <= status < 300:
        assert verdict.kind is Kind.ALIVE
    if status in BLOCKED_STATUSES:
        assert verdict.kind is Kind.BLOCKED
    if status >= 400 and status not in BLOCKED_STATUSES and status != 503:
        assert verdict.kind is Kind.DEAD


@given(st.text(min_size=1, max_size=40))
def test_a_refused_address_is_never_alive(reason):
    verdict = classify_exception(CannotResolveHostError("no results"), refused=reason)
    assert verdict.kind is Kind.SKIPPED


# -- the guard's address parsing -----------------------------------------------------------

IPV4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
IPV6 = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)


@given(st.text(max_size=50))
def test_refusal_reason_is_total(text):
    reason = refusal_reason(text)
    assert reason is None or isinstance(reason, str)


@given(IPV4)
def test_embedded_ipv4_is_judged_as_itself(ip):
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ip))
    expected = refusal_reason(str(ip))
    assert refusal_reason(str(mapped)) == expected
    assert refusal_reason(f"[{nat64}]") == expected
    if not ip.is_global:
        assert expected is not None


@given(st.one_of(IPV4, IPV6))
def test_policy_never_keeps_a_refused_address(ip):
    kept, refusal = HostPolicy({}, allow_private=False).judge([str(ip)])
    if refusal_reason(str(ip)) is None:
        assert kept == [str(ip)]
    else:
        assert kept == []
        assert refusal is not None
    assert HostPolicy({}, allow_private=True).judge([str(ip)]) == ([str(ip)], None)


@given(st.text(max_size=40))
def test_split_port_raises_only_value_error(text):
    try:
        _host, port = split_port(text, "fuzz")
    except ValueError:
        return
    assert port is None or 0 < port <= 65535


# -- exports and terminal output -------------------------------------------------------------------


@given(
    st.text(max_size=30),
    st.lists(st.text(max_size=8), max_size=3),
    st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
)
def test_an_exported_row_has_every_contract_field(text, rel, status):
    item = ProspectItem(
        source_url="http://a.example/",
        source_title=text,
        source_domain="a.example",
        target_url="http://b.example/" + text,
        target_domain="b.example",
        status=status,
        reason="http_status",
        final_url=None,
        anchor_text=text,
        rel=rel,
        follow=True,
        position="content",
        context=text,
        links_on_page=1,
        checked_at="2026-01-01T00:00:00+00:00",
    )
    out = io.BytesIO()
    exporter = SafeCsvItemExporter(out, fields_to_export=PROSPECT_FIELDS)
    exporter.start_exporting()
    exporter.export_item(item)
    exporter.finish_exporting()
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert rows[0] == PROSPECT_FIELDS
    assert len(rows) == 2
    assert len(rows[1]) == len(PROSPECT_FIELDS)
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in rows[1])


@given(st.text(max_size=60))
def test_printable_leaves_no_control_character(text):
    shown = printable(text)
    assert len(shown) == len(text)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in shown)
    assert "\u202e" not in shown
