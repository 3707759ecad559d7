"""Pure parts of the outreach steps as tables: contacts, page text, CDX and RDAP answers."""

from __future__ import annotations

import json

import pytest

from brokenlinks.outreach import archive, rdap
from brokenlinks.outreach.contacts import deobfuscate, read_contacts
from brokenlinks.outreach.pagetext import page_text

URL = "https://blog.example/post/1"


@pytest.mark.parametrize(
    ("text", "emails"),
    [
        ("jo@example.org", ["jo@example.org"]),
        ("Jo.Smith+news@Mail.Example.co.uk.", ["jo.smith+news@mail.example.co.uk"]),
        ("jo [at] example [dot] org", ["jo@example.org"]),
        ("jo(at)example(dot)org", ["jo@example.org"]),
        ("jo {at} example {dot} co {dot} uk", ["jo@example.co.uk"]),
        ("jo <at> example <dot> org", ["jo@example.org"]),
        ("jo AT example DOT org", ["jo@example.org"]),
        ("jo [at] example.org", ["jo@example.org"]),
        ("we meet at noon. Bring food", []),
        ("logo@2x.png and icon@3x.webp", []),
        ("a@b", []),
        ("jo@example.org, jo@example.org", ["jo@example.org"]),
    ],
)
def test_deobfuscate(text, emails):
    assert deobfuscate(text) == emails


@pytest.mark.parametrize(
    ("body", "field", "value"),
    [
        ('<a href="mailto:Jo@Example.org?subject=Hi">x</a>', "emails", ["jo@example.org"]),
        ('<a href="mailto:">x</a>', "emails", []),
        ('<a class="__cf_email__" data-cfemail="543e3b14312c35392438317a3b2633">[email&#160;protected]</a>', "emails", ["jo@example.org"]),
        ('<meta name="author" content="Jo Smith">', "author", "Jo Smith"),
        ('<a rel="author" href="/jo">Jo Smith</a>', "author", "Jo Smith"),
        ('<p class="byline">By Jo Smith</p>', "author", "Jo Smith"),
        ('<span itemprop="author" itemscope><span itemprop="name">Jo Smith</span></span>', "author", "Jo Smith"),
        ('<script type="application/ld+json">{"@type": "Article", "author": {"@type": "Person", "name": "Jo Smith"}}</script>', "author", "Jo Smith"),
        ('<script type="application/ld+json">{"@graph": [{"@type": "BlogPosting", "author": [{"name": "Ann"}]}]}</script>', "author", "Ann"),
        ('<a href="/contact-us">Contact us</a>', "contact_page", "https://blog.example/contact-us"),
        ('<a href="/about">About</a><a href="/kontakt">Kontakt</a>', "contact_page", "https://blog.example/kontakt"),
        ('<a href="/a-propos">À propos</a>', "contact_page", "https://blog.example/a-propos"),
        ('<a href="/p/12">Write for us</a><a href="/about">About</a>', "contact_page", "https://blog.example/p/12"),
        ('<a href="/x">お問い合わせ</a>', "contact_page", "https://blog.example/x"),
        ('<a href="/contacto/">Escríbenos</a>', "contact_page", "https://blog.example/contacto/"),
        ('<a href="https://other.example/contact">Contact</a>', "contact_page", None),
        ('<a href="https://twitter.com/share?u=1">t</a><a href="https://www.linkedin.com/in/jo/">in</a>', "social", ["https://linkedin.com/in/jo"]),
        ('<a href="https://facebook.com/sharer.php?u=1">f</a><a href="https://github.com/jo">gh</a>', "social", ["https://github.com/jo"]),
    ],
)  # fmt: skip
def test_read_contacts(body, field, value):
    found = read_contacts(f"<html><body>{body}</body></html>", URL)
    assert getattr(found, field) == value


def test_page_text_without_paragraphs_uses_the_description():
    text = page_text(
        '<title>T</title><meta name="description" content="What it was."><h2>Sub</h2>'
    )
    assert (text.title, text.heading, text.summary) == ("T", "Sub", "What it was.")


def test_page_text_summary_is_short():
    text = page_text("<p>" + "word " * 200 + "</p>")
    assert len(text.summary) <= 300
    assert text.summary.endswith("…")


@pytest.mark.parametrize(
    ("body", "timestamps"),
    [
        ("[]", []),
        ("", []),
        (json.dumps([["timestamp", "original", "mimetype", "statuscode"]]), []),
        (
            json.dumps([
                ["timestamp", "original", "mimetype", "statuscode"],
                ["20200101000000", "http://a/", "text/html", "200"],
                ["20210101000000", "http://a/", "text/html", "301"],  # a redirect capture
                ["20190101000000", "http://a/", "text/html", "200"],
            ]),
            ["20200101000000", "20190101000000"],
        ),
        (json.dumps([["original", "timestamp"], ["http://a/", "2020"]]), ["2020"]),
    ],
)  # fmt: skip
def test_parse_cdx(body, timestamps):
    assert [c.timestamp for c in archive.parse_cdx(body)] == timestamps


def test_parse_cdx_keeps_the_target_s_captures_only():
    rows = [
        ["timestamp", "original", "mimetype", "statuscode"],
        ["20200101000000", "https://www.a.example/x/", "text/html", "200"],
        ["20210101000000", "http://a.example/other", "text/html", "200"],
    ]
    found = archive.parse_cdx(json.dumps(rows), "http://a.example/x")
    assert [c.timestamp for c in found] == ["20200101000000"]


@pytest.mark.parametrize("body", ["<html>Too many requests</html>", '{"a": 1}', "[[1, 2]]"])
def test_parse_cdx_refuses_what_is_no_cdx_answer(body):
    with pytest.raises(ValueError, match="not a CDX JSON answer"):
        archive.parse_cdx(body)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, '{"objectClassName": "domain"}', "registered"),
        (404, "", "unregistered"),
        (404, '{"errorCode": 404}', "unregistered"),
        (429, "", "unknown"),
        (500, "", "unknown"),
        (200, "<html>", "unknown"),
        (200, '{"objectClassName": "entity"}', "unknown"),
    ],
)
def test_rdap_status(status, body, expected):
    assert rdap.domain_status(status, body) == expected


def test_rdap_bootstrap_refuses_other_files():
    with pytest.raises(ValueError, match="RDAP bootstrap"):
        rdap.rdap_servers("<html></html>")
    with pytest.raises(ValueError, match="no services"):
        rdap.rdap_servers('{"version": "1.0"}')
