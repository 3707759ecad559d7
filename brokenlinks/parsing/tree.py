"""Parse a page's HTML into an lxml tree the way browsers recover, whatever its depth.

Pure functions, no settings. :func:`parse_html` uses libxml2's HTML parser; a page nested
deeper than libxml2's limit (2,048 open elements, past which it silently drops the rest of
the page) is read again by a depth-capped builder, so no later link is lost. Used by
:mod:`brokenlinks.parsing.extract`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from lxml import etree  # type: ignore[import-untyped]  # no stubs; see pyproject mypy overrides


def parse_html(text: str) -> etree._Element | None:
    """Parse HTML text with libxml2's forgiving HTML parser; ``None`` for an empty page."""
    # The text is handed over as UTF-8 bytes with the encoding pinned, so that a <meta
    # charset> or <?xml encoding?> in it cannot make libxml2 decode it a second time.
    parser = etree.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        no_network=True,
        huge_tree=True,
        default_doctype=False,
    )
    data = text.encode("utf-8", "replace")
    if not data.strip():
        return None
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:  # nothing at all that libxml2 could make an element of
        root = None
    if any(_is_depth_error(error) for error in parser.error_log):
        # libxml2 gives up, silently for lxml, at 2,048 open elements (256 without
        # huge_tree) and drops the rest of the page: a few thousand unclosed <div>s
        # would hide every later link. Rebuild the tree with the depth capped instead.
        return _parse_capped(text)
    return root


def _is_depth_error(error: etree._LogEntry) -> bool:
    return "RESOURCE_LIMIT" in error.type_name or "Excessive depth" in error.message


#: elements that start a block of text (a break between words, and a link's context)
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)

_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_KEPT_ATTRIBUTES = frozenset({"href", "rel", "alt", "class", "id", "role"})
_TAG_NAME = re.compile(r"[a-z][a-z0-9\-]*\Z")
_MAX_DEPTH = 1024
_EXTRA_DEPTH = 64
# Built even past the cap: links, and elements whose text must stay out of the context.
_KEPT_PAST_CAP = frozenset({"a", "script", "style", "template", "title", "head"})


class _CappedTreeBuilder(HTMLParser):
    """Build an lxml tree from the stdlib tokenizer, never much deeper than ``_MAX_DEPTH``.

    Only a fallback for pages that libxml2 refuses: no implied end tags, no foster
    parenting, just the elements and attributes that link extraction reads. Past the cap,
    only links and elements whose text is not page text are built; the content of other
    elements goes to the deepest built one.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = etree.TreeBuilder()
        self.builder.start("html", {})
        self.open: list[tuple[str, bool]] = []  # (tag, built) of every open element
        self.depth = 1  # built elements open, <html> included

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.rpartition(":")[2]
        if tag == "html":
            return
        if not _TAG_NAME.match(tag):
            tag = "span"
        void = tag in _VOID_TAGS
        if (
            not void
            and self.depth >= _MAX_DEPTH
            and not (tag in _KEPT_PAST_CAP and self.depth < _MAX_DEPTH + _EXTRA_DEPTH)
        ):
            self.open.append((tag, False))
            if tag in BLOCK_TAGS:
                self.builder.data(" ")  # keep the words of unbuilt blocks apart
            return
        kept: dict[str, str] = {}
        for name, value in attrs:
            if name in _KEPT_ATTRIBUTES and name not in kept:  # the first one wins
                kept[name] = value or ""
        self.builder.start(tag, kept)
        if void:
            self.builder.end(tag)
        else:
            self.open.append((tag, True))
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # "/>" means nothing on an HTML element

    def handle_endtag(self, tag: str) -> None:
        tag = tag.rpartition(":")[2]
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                break
        else:
            return  # a stray end tag
        self._close_down_to(index)

    def _close_down_to(self, index: int) -> None:
        while len(self.open) > index:
            name, built = self.open.pop()
            if built:
                self.builder.end(name)
                self.depth -= 1
            elif name in BLOCK_TAGS:
                self.builder.data(" ")

    def handle_data(self, data: str) -> None:
        self.builder.data(data)

    def close_tree(self) -> etree._Element:
        self.close()
        self._close_down_to(0)
        self.builder.end("html")
        return self.builder.close()


def _parse_capped(text: str) -> etree._Element:
    """Parse *text* with the depth-capped fallback builder."""
    builder = _CappedTreeBuilder()
    builder.feed(text)
    return builder.close_tree()
