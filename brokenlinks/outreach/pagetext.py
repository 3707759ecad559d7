"""What a page is about, in a few strings: title, headings, meta description, a short summary.

Used for archived captures of dead pages and for the user's own pages. Pure (parsel/lxml);
reads no settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsel import Selector

#: the longest summary kept, in characters (cut at a word boundary)
SUMMARY_MAX = 300
_SKIP = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageText:
    title: str | None
    heading: str | None
    headings: list[str] = field(default_factory=list)
    description: str | None
    summary: str


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    """Cut *text* at a word boundary to at most *limit* characters, with an ellipsis.

    >>> shorten("one two three", 9)
    'one two…'
    >>> shorten("short")
    'short'
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def page_text(html: str) -> PageText:
    """Read a page's title, first heading, headings (h1-h3), meta description and summary.

    The summary is the first paragraphs of the main text (navigation, headers, footers and
    scripts left out), or the meta description when the page has no paragraph.

    >>> text = page_text('''<html><head><title> SEO  tools </title>
    ... <meta name="description" content="A list of tools."></head>
    ... <body><nav><p>Home</p></nav><h1>The tools</h1><h2>Free</h2>
    ... <p>We tested forty tools.</p><p>Here are the best.</p></body></html>''')
    >>> text.title, text.heading, text.headings, text.description
    ('SEO tools', 'The tools', ['The tools', 'Free'], 'A list of tools.')
    >>> text.summary
    'We tested forty tools. Here are the best.'
    """
    sel = Selector(text=html or "<html></html>")
    title = _clean(sel.xpath("string(//title)").get())
    headings = [
        t
        for t in (_clean(node.xpath("string(.)").get()) for node in sel.xpath("//h1|//h2|//h3"))
        if t
    ]
    h1 = next(
        (t for t in (_clean(n.xpath("string(.)").get()) for n in sel.xpath("//h1")) if t), None
    )
    description = _clean(
        sel.xpath(
            "//meta[translate(@name,'DESCRIPTION','description')='description']/@content"
            "|//meta[@property='og:description']/@content"
        ).get()
    )
    skip = " or ".join(f"ancestor::{tag}" for tag in _SKIP)
    paragraphs = [
        t
        for t in (_clean(p.xpath("string(.)").get()) for p in sel.xpath(f"//body//p[not({skip})]"))
        if t
    ]
    text = " ".join(paragraphs)
    if not text:
        text = description or ""
    return PageText(
        title=title,
        heading=h1 or (headings[0] if headings else None),
        headings=headings[:20],
        description=description,
        summary=shorten(text),
    )
