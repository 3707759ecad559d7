"""Pull every link out of an HTML page, with what a broken-link pitch needs about it.

Pure functions, no settings and no Scrapy: ``extract_page(html, url)`` parses the page
once with lxml and returns a :class:`Page` whose :class:`Link` records carry the raw href,
the target resolved the browser way (``brokenlinks.parsing.urls.resolve_href``), the anchor text,
the rel tokens, whether the link is followed, where on the page it sits and the sentence
around it.

Rules, in the order a reader may wonder about them:

* **Which links.** Every ``<a href>`` and ``<area href>``, also with a namespace prefix
  (``<h:a>``) and inside ``<noscript>`` (a crawler without scripts sees those links, and a
  dead one is as much a prospect as any), except in a page a browser rendered with scripts
  on (``scripted=True``), where ``<noscript>`` content is not shown and left out. An href that is empty or blank, or that starts
  with ``#`` once the characters a URL parser strips are gone, points into the same
  document and is left out. ``mailto:``, ``tel:``, ``javascript:`` links are kept (the
  checker counts them as skipped); an href that does not parse is kept with ``url=None``
  (an ``invalid_url`` link) and never stops the rest of the page. Links inside
  ``<template>`` (inert, never rendered) are left out. The target of a ``<meta
  http-equiv="refresh">`` is a link too (tag ``meta``, no anchor text): the browser
  goes there by itself, so a dead one strands every visitor. With ``references=True``
  (the ``site`` spider's audit), images, frames, canonical and hreflang URLs are links
  of their own ``kind`` too (see :func:`extract_page`).
* **Base URL.** Only the first ``<base>`` with an ``href`` counts (HTML spec); it is
  resolved against the page URL and ignored unless that gives an http(s) URL.
* **Charset** (bytes input): ``brokenlinks.parsing.charsets.decode_html``. A byte order mark
  wins; then the *encoding* argument (the HTTP header); then ``<meta charset>`` /
  ``http-equiv`` (or an XML declaration); then the browsers' fallbacks (UTF-8 if valid,
  a CJK multi-byte encoding, else windows-1252 or ISO-8859-2/windows-1250). Labels map as
  in the WHATWG Encoding standard, so ``iso-8859-1`` and ``us-ascii`` decode as
  windows-1252 and curly quotes survive.
* **Query strings** of hrefs on a page in a legacy encoding are percent-encoded in that
  encoding, as browsers do (``brokenlinks.parsing.urls.resolve_href``).
* **Anchor text.** Whitespace-normalised text of the element without ``<script>``,
  ``<style>`` and comments; an ``<img>`` inside a link contributes its ``alt`` in place;
  an ``<area>``'s text is its ``alt``; an ``<svg>`` inside a link adds its name as
  browsers compute it (nothing when ``aria-hidden``, else its ``aria-label``, else its
  ``<title>``, else its text), and an SVG ``<desc>`` is never text. The context of an
  image link inside a ``<figure>`` carries the figure's ``<figcaption>``.
* **Position.** Decided by the nearest ancestor that says something (the link's own
  attributes do not count): the elements ``nav``, ``aside``, ``header``, ``footer``,
  ``main``, ``article``; the ARIA roles ``navigation``/``menu``/``menubar`` (nav),
  ``banner`` (header), ``contentinfo`` (footer), ``complementary`` (aside), ``main`` and
  ``article`` (content); and ``class``/``id`` names split into tokens on ``-``, ``_``
  and camelCase humps (``mainNav`` → ``main``, ``nav``), matched as whole tokens:
  ``menuitem`` says nothing, ``menu-item`` says nav; ``sidebar``, ``related`` and
  ``widget-area`` say aside, but ``widget`` alone does not (page builders such as
  Elementor and Blogger wrap the article itself in widgets). An element with a name
  holding a content word (``article-header``, ``entry-footer``, ``widget-content``,
  ``navigation-content``, ``article-body pagination-first``) says nothing by class; a
  name holding a state word (``has-sidebar``, ``nav-open``) is ignored; classes on
  ``<html>``/``<body>`` describe the page, not a region, and are ignored. Explicit
  content closer than a boilerplate marker wins (``main``, ``article``, role ``main``),
  with two exceptions: a header or footer (element, role or class) inside an
  ``article`` is the article's own, so content (as in the ARIA mapping of
  ``<header>``), and an ``article`` inside a nav, aside, header or footer element or
  role is a teaser card and stays there. Default: content.
* **Context.** The text of the link's nearest block element (``p``, ``li``, ``td``,
  ``div``, ``h1``-``h6`` ...), where nested blocks and ``<br>`` are breaks, not text, so
  that every piece of text belongs to one block; then the sentence that holds the
  anchor (split after ``.``, ``!``, ``?`` followed by a space and a non-lower-case
  letter, but not after ``e.g.``, ``Dr.``, ``U.S.``, initials and the like; after ``。``
  and friends without a space); if that is longer than 300 characters, a window of at
  most 300 centred on the anchor, cut at word boundaries and marked with ``…``. The
  context always contains the anchor text when that is 1 to 300 characters long; a
  longer anchor gives its own first words as context.

* **Broken markup.** libxml2's HTML parser recovers the way browsers mostly do; on top
  of it an ``<a>`` never nests (a new one ends the open one, as in browsers), an SVG
  ``<title>`` is neither page title nor anchor text, and a page nested deeper than
  libxml2's limit (2,048 open elements, past which it silently drops the rest of the
  page) is read again by a depth-capped fallback builder, so no later link is lost.

One pass over the tree (``lxml.etree.iterwalk``) records links and raw text pieces per
block; text is joined and normalised only for blocks that hold a link, and sentence
boundaries are found once per block, so a page with thousands of links stays linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree  # type: ignore[import-untyped]  # no stubs; see pyproject mypy overrides

from brokenlinks.parsing.charsets import codec_for, decode_html
from brokenlinks.parsing.context import (
    CONTEXT_MAX,
    sentence_bounds,
    sentence_context,
    window,
)
from brokenlinks.parsing.position import Position, element_position
from brokenlinks.parsing.sites import is_outbound
from brokenlinks.parsing.tree import BLOCK_TAGS, parse_html
from brokenlinks.parsing.urls import is_http, resolve_href

__all__ = ["Link", "Page", "Position", "extract_page", "outbound_count"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """One link found on a page (see the module docstring for how each field is made)."""

    href: str
    url: str | None
    anchor_text: str
    rel: tuple[str, ...]
    follow: bool
    position: Position
    context: str
    tag: str
    #: ``link`` (``<a>``, ``<area>``), ``refresh`` (a meta refresh), or with *references*
    #: ``iframe``, ``frame``, ``canonical``, ``alternate``, ``img``, ``source``
    kind: str = "link"


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A page's title, effective base URL and links in document order."""

    url: str
    base_url: str
    title: str | None
    links: list[Link]
    #: the Python codec the page was decoded with (its hrefs' query strings use it)
    encoding: str = "utf-8"


# --------------------------------------------------------------------------- text

# Text never shown as text; <title> is read on its own, <template> is inert; an SVG
# <desc> is a description, never part of a name (SVG-AAM; accname 1.2).
_SKIP_TEXT_TAGS = frozenset({"script", "style", "template", "title", "head", "desc"})
_BREAK_TAGS = frozenset({"br", "hr"})
_SPACE_TAGS = frozenset({"img", "input", "button", "select", "textarea", "iframe", "video"})
_LINK_TAGS = frozenset({"a", "area"})
_ARTICLE_PARTS = frozenset({Position.HEADER, Position.FOOTER})
_NOFOLLOW = frozenset({"nofollow", "sponsored", "ugc"})

# Markers in a block's piece list (text pieces are plain str).
_SOFT = 1  # a space, if any text follows
_HARD = 2  # a line break: context never crosses it


class _Block:
    """Raw text pieces of one block element and the links that sit in it."""

    __slots__ = ("pieces",)

    def __init__(self) -> None:
        self.pieces: list[str | int | tuple[bool, int]] = []


class _RawLink(NamedTuple):
    element: etree._Element
    tag: str
    href: str
    position: Position
    block: _Block


def _render(block: _Block) -> tuple[str, dict[int, tuple[int, int]]]:
    """Join a block's pieces into normalised text; return it with each link's span."""
    out: list[str] = []
    size = 0
    pending = 0  # 0: nothing, _SOFT: a space, _HARD: a line break
    waiting: list[int] = []  # links that started, whose first character is still to come
    starts: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    for piece in block.pieces:
        if isinstance(piece, str):
            words = piece.split()
            if not words:
                if piece:
                    pending = max(pending, _SOFT)
                continue
            if piece[0].isspace():
                pending = max(pending, _SOFT)
            if pending and size:
                out.append("\n" if pending == _HARD else " ")
                size += 1
            pending = 0
            for index in waiting:
                starts[index] = size
            waiting.clear()
            joined = " ".join(words)
            out.append(joined)
            size += len(joined)
            if piece[-1].isspace():
                pending = _SOFT
        elif isinstance(piece, int):
            pending = max(pending, piece)
        else:
            opening, index = piece
            if opening:
                waiting.append(index)
            elif index in spans:
                continue  # already ended by a later <a> (see _walk)
            elif index in starts:
                spans[index] = (starts.pop(index), size)
            else:
                if index in waiting:
                    waiting.remove(index)
                spans[index] = (size, size)
    return "".join(out), spans


# Sentence ends: runs of . ! ? (with closing quotes or brackets) before a space; CJK full
# stops need no space.
def _normalise(text: str) -> str:
    return " ".join(text.split())


def _rel_tokens(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(dict.fromkeys(value.lower().split()))


_C0_AND_SPACE = "".join(map(chr, range(33)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")


def _is_same_document(href: str) -> bool:
    """Empty, blank or ``#…`` once stripped as a URL parser strips (C0 and space; tab/LF/CR)."""
    stripped = href.strip(_C0_AND_SPACE).translate(_TAB_NEWLINE)
    return not stripped or stripped.startswith("#")


# --------------------------------------------------------------------------- walk


def _local_name(tag: object) -> str | None:
    if not isinstance(tag, str):
        return None  # comments, processing instructions, entities
    return tag.rpartition(":")[2].lower()


class _Walk:
    """What one pass over the tree collects."""

    __slots__ = ("base_href", "links", "seen_title", "title")

    def __init__(self) -> None:
        self.links: list[_RawLink] = []
        self.title: str | None = None
        self.seen_title = False
        self.base_href: str | None = None


class _State(NamedTuple):
    """What an open element passes on to its children."""

    position: Position
    in_article: bool  # a header or footer in an article is the article's own
    in_boilerplate: bool  # inside a nav/aside/header/footer element or role
    block: _Block
    skip_text: bool  # inside script, style, head, title, template
    in_template: bool  # inert markup: its links are not links of the page
    open_links: tuple[int, ...]  # links this element is inside of (itself included)
    own_link: int  # the link this element is, or -1
    tag: str | None


def _in_svg(element: etree._Element) -> bool:
    return any(True for _ in element.iterancestors("svg"))


def _svg_name(svg: etree._Element) -> str | None:
    """What an ``<svg>`` inside a link adds to the link's name; ``None``: its text does.

    As browsers compute a link's accessible name from its content: a hidden graphic adds
    nothing, ``aria-label`` wins, then the graphic's own ``<title>`` child.
    """
    if (svg.get("aria-hidden") or "").strip().lower() == "true":
        return ""
    label = (svg.get("aria-label") or "").strip()
    if label:
        return label
    for child in svg:
        if _local_name(child.tag) == "title":
            return "".join(child.itertext())
    return None


def _walk(root: etree._Element, *, references: bool = False, scripted: bool = False) -> _Walk:
    """One pass over the tree: links, their blocks and positions, title, first base href."""
    found = _Walk()
    stack = [_State(Position.CONTENT, False, False, _Block(), False, False, (), -1, None)]
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            state = stack.pop()
            parent = stack[-1]
            if state.own_link >= 0:
                state.block.pieces.append((False, state.own_link))
            if state.block is not parent.block:
                parent.block.pieces.append(_HARD)
            elif state.tag in _BREAK_TAGS:
                parent.block.pieces.append(_SOFT if parent.open_links else _HARD)
            elif state.tag in _SPACE_TAGS or state.tag in BLOCK_TAGS:
                parent.block.pieces.append(_SOFT)
            if element.tail and not parent.skip_text:
                parent.block.pieces.append(element.tail)
            continue

        parent = stack[-1]
        tag = _local_name(element.tag)
        if tag is None:
            stack.append(parent._replace(skip_text=True, own_link=-1, tag=None))
            continue
        if tag == "title" and not found.seen_title and not _in_svg(element):
            found.seen_title = True
            found.title = _normalise("".join(element.itertext())) or None
        elif tag == "base" and found.base_href is None:
            found.base_href = element.get("href")

        position, in_article, in_boilerplate = (
            parent.position,
            parent.in_article,
            parent.in_boilerplate,
        )
        block, open_links, own_link = parent.block, parent.open_links, -1
        skip_text = parent.skip_text or tag in _SKIP_TEXT_TAGS
        # with scripts on, a browser shows no <noscript> content: as inert as a template
        inert = tag == "template" or (scripted and tag == "noscript")
        in_template = parent.in_template or inert
        skip_text = skip_text or inert
        if tag == "svg" and open_links and not skip_text:
            name = _svg_name(element)
            if name is not None:
                block.pieces.extend((_SOFT, name, _SOFT))
                skip_text = True

        if tag in _LINK_TAGS:
            # The link's own class ("nav-link") does not place it: its containers do.
            href = element.get("href")
            if href is not None and not in_template and not _is_same_document(href):
                if tag == "a" and open_links:
                    # An <a> never nests in a browser: the new one ends the open ones
                    # (libxml2 keeps them open across a <p> in "<p><a>one<p><a>two").
                    for index in open_links:
                        block.pieces.append((False, index))
                    open_links = ()
                own_link = len(found.links)
                found.links.append(_RawLink(element, tag, href, position, block))
                block.pieces.append((True, own_link))
                open_links = (*open_links, own_link)
                if tag == "area":
                    block.pieces.append(element.get("alt") or "")
        else:
            said, explicit = element_position(tag, element)
            if said is Position.CONTENT:
                article = tag == "article" or "article" in (element.get("role") or "").split()
                # A teaser card in a nav, aside, header or footer is still part of it.
                if not (article and in_boilerplate):
                    position, in_boilerplate = said, False
                    in_article = in_article or article
            elif said is not None and not (said in _ARTICLE_PARTS and in_article):
                # (inside an article, a header or footer is the article's own)
                position, in_boilerplate = said, in_boilerplate or explicit
            if tag in BLOCK_TAGS and not skip_text:
                if open_links:  # a block inside a link: its words stay the link's
                    block.pieces.append(_SOFT)
                else:
                    block.pieces.append(_HARD)
                    block = _Block()
            elif tag in _SPACE_TAGS and not skip_text:
                block.pieces.append(_SOFT)
                alt = element.get("alt") if tag == "img" and open_links else None
                if alt:
                    block.pieces.extend((alt, _SOFT))
            elif tag == "meta" and not in_template:
                refresh = refresh_url(element.get("content") or "")
                if (
                    (element.get("http-equiv") or "").strip().lower() == "refresh"
                    and refresh is not None
                    and not _is_same_document(refresh)
                ):
                    # browsers go there by themselves: a link a visitor follows
                    own_link = len(found.links)
                    found.links.append(_RawLink(element, "meta", refresh, position, block))
                    block.pieces.append((True, own_link))
            if references and not in_template and tag in _REFERENCE_TAGS:
                found.links.extend(
                    _RawLink(element, tag, href, position, block)
                    for href in _reference_hrefs(tag, element)
                )
        if element.text and not skip_text:
            block.pieces.append(element.text)
        stack.append(
            _State(
                position,
                in_article,
                in_boilerplate,
                block,
                skip_text,
                in_template,
                open_links,
                own_link,
                tag,
            )
        )
    return found


def refresh_url(content: str) -> str | None:
    """The URL of a ``<meta http-equiv="refresh" content>``; ``None`` if it names none.

    The HTML standard's "shared declarative refresh steps": a time, then ``;`` or
    ``,``, then the URL, optionally after ``url=`` and in quotes.

    >>> refresh_url("0; URL='https://new.test/page'"), refresh_url("5;url=/next")
    ('https://new.test/page', '/next')
    >>> refresh_url("10"), refresh_url("soon; url=/x")
    (None, None)
    """
    text = content.lstrip(_ASCII_SPACE)
    time = len(text) - len(text.lstrip("0123456789."))
    if time == 0:
        return None
    rest = text[time:]
    if rest and rest[0] not in ";," + _ASCII_SPACE:
        return None
    rest = rest.lstrip(_ASCII_SPACE)
    if rest[:1] in {";", ","}:
        rest = rest[1:].lstrip(_ASCII_SPACE)
    if not rest:
        return None
    if rest[:3].lower() == "url":
        after = rest[3:].lstrip(_ASCII_SPACE)
        if after[:1] == "=":
            rest = after[1:].lstrip(_ASCII_SPACE)
    if rest[:1] in {"'", '"'}:
        quote, rest = rest[0], rest[1:]
        rest = rest.split(quote, 1)[0]
    return rest.strip(_ASCII_SPACE) or None


_ASCII_SPACE = " \t\n\f\r"


def _figure_caption(element: etree._Element) -> str:
    """The ``<figcaption>`` of the figure an image (or image link) sits in, ``""`` if none."""
    if not any(True for _ in element.iter("img")):
        return ""
    for figure in element.iterancestors("figure"):
        for caption in figure.iter("figcaption"):
            return _normalise(" ".join(caption.itertext()))
        return ""
    return ""


def _base_url(base_href: str | None, url: str, encoding: str) -> str:
    if base_href is None:
        return url
    base = resolve_href(base_href, url, encoding)
    return base if base is not None and is_http(base) else url


def extract_page(
    html: str | bytes,
    url: str,
    *,
    encoding: str | None = None,
    references: bool = False,
    scripted: bool = False,
) -> Page:
    """Extract the title, effective base URL and every link of a page.

    *encoding* is the charset label of the HTTP ``Content-Type``. Bytes input is decoded
    with it in preference to what the page declares (a byte order mark still wins); for
    text input, already decoded, it names the encoding the text came in. Either way the
    document's encoding percent-encodes the query strings of its hrefs (WHATWG URL).
    With *references*, the page's other references are links too, each with its ``kind``:
    ``<iframe>``/``<frame>`` src, ``<link rel=canonical>`` and ``<link rel=alternate
    hreflang>`` href, ``<img>`` src and srcset, ``<source>`` srcset (``data:`` URLs left
    out). Their anchor text is the ``alt`` (images), ``title`` (frames) or ``hreflang``.
    *scripted* says that *html* is the DOM a browser produced with scripts on (a rendered
    page): ``<noscript>`` content, which such a browser does not show, is left out.

    >>> page = extract_page(
    ...     '<title> Best  tools </title><base href="/docs/">'
    ...     '<nav><a href="/">Home</a></nav>'
    ...     '<p>Intro. We like <a href="https://tool.test/x" rel="Nofollow">this tool</a> a lot.'
    ...     ' <a href="#top">Top</a> <a href="mailto:a@b.test">Mail us</a></p>',
    ...     "https://example.com/page",
    ... )
    >>> page.title, page.base_url
    ('Best tools', 'https://example.com/docs/')
    >>> for link in page.links:
    ...     print(link.url, link.position)
    https://example.com/ nav
    https://tool.test/x content
    mailto:a@b.test content
    >>> link = page.links[1]
    >>> link.anchor_text, link.rel, link.follow, link.context
    ('this tool', ('nofollow',), False, 'We like this tool a lot.')
    """
    if isinstance(html, bytes):
        text, document_encoding = decode_html(html, encoding)
    else:
        text, document_encoding = html, codec_for(encoding) or "utf-8"
    root = parse_html(text)
    if root is None:
        return Page(url=url, base_url=url, title=None, links=[], encoding=document_encoding)
    found = _walk(root, references=references, scripted=scripted)
    base_url = _base_url(found.base_href, url, document_encoding)

    rendered: dict[int, tuple[str, dict[int, tuple[int, int]]]] = {}
    bounds: dict[int, tuple[list[int], list[int], list[int]]] = {}
    links: list[Link] = []
    for index, raw in enumerate(found.links):
        if raw.tag in _REFERENCE_TAGS:
            links.append(_reference(raw, base_url, document_encoding))
            continue
        key = id(raw.block)
        if key not in rendered:
            rendered[key] = _render(raw.block)
        block_text, spans = rendered[key]
        start, end = spans.get(index, (0, 0))
        anchor = block_text[start:end]
        if key not in bounds:
            bounds[key] = sentence_bounds(block_text)
        context = sentence_context(block_text, start, end, bounds[key])
        caption = _figure_caption(raw.element) if raw.tag == "a" else ""
        if caption and caption not in context and len(context) < CONTEXT_MAX:
            # an image link's own block is its alt text: the caption says what it shows
            context = window(f"{context} {caption}", 0, len(context))
        rel = _rel_tokens(raw.element.get("rel"))
        links.append(
            Link(
                href=raw.href,
                url=resolve_href(raw.href, base_url, document_encoding),
                anchor_text=anchor,
                rel=rel,
                follow=not _NOFOLLOW.intersection(rel),
                position=raw.position,
                context=context,
                tag=raw.tag,
                kind="refresh" if raw.tag == "meta" else "link",
            )
        )
    return Page(
        url=url, base_url=base_url, title=found.title, links=links, encoding=document_encoding
    )


#: elements whose URLs an audit of references checks (``references=True``)
_REFERENCE_TAGS = frozenset({"iframe", "frame", "link", "img", "source"})


def _srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset`` (HTML's "parse a srcset attribute", descriptors dropped).

    >>> _srcset_urls("a.jpg 1x, /b,c.jpg 2x,d.jpg")
    ['a.jpg', '/b,c.jpg', 'd.jpg']
    """
    urls: list[str] = []
    rest = value
    while True:
        rest = rest.lstrip(_ASCII_SPACE + ",")
        if not rest:
            return urls
        end = next((i for i, c in enumerate(rest) if c in _ASCII_SPACE), len(rest))
        candidate, rest = rest[:end], rest[end:]
        if candidate.endswith(","):
            candidate = candidate.rstrip(",")
        else:
            # descriptors ("2x", "640w") run to the next comma
            rest = rest.split(",", 1)[1] if "," in rest else ""
        if candidate:
            urls.append(candidate)


def _reference_hrefs(tag: str, element: etree._Element) -> list[str]:
    """The URLs an element refers to, for an audit of references."""
    if tag == "link":
        rel = _rel_tokens(element.get("rel"))
        wanted = "canonical" in rel or ("alternate" in rel and element.get("hreflang"))
        hrefs = [element.get("href") or ""] if wanted else []
    elif tag in {"iframe", "frame"}:
        hrefs = [element.get("src") or ""]
    else:
        hrefs = [element.get("src") or ""] if tag == "img" else []
        hrefs += _srcset_urls(element.get("srcset") or "")
    # inline data (data: placeholders of lazy images) refers to nothing
    return list(
        dict.fromkeys(
            h
            for h in hrefs
            if not _is_same_document(h) and not h.strip().lower().startswith("data:")
        )
    )


def _reference(raw: _RawLink, base_url: str, encoding: str) -> Link:
    """A reference (image, frame, canonical...) as a :class:`Link` of its own kind."""
    element, tag = raw.element, raw.tag
    if tag == "link":
        kind = "canonical" if "canonical" in _rel_tokens(element.get("rel")) else "alternate"
        anchor = element.get("hreflang") or "" if kind == "alternate" else ""
    else:
        kind = tag
        anchor = element.get("alt" if tag == "img" else "title") or ""
    anchor = _normalise(anchor)
    context = anchor
    if tag == "img":
        caption = _figure_caption(element)
        if caption:
            context = window(f"{anchor} {caption}".strip(), 0, len(anchor))
    return Link(
        href=raw.href,
        url=resolve_href(raw.href, base_url, encoding),
        anchor_text=anchor[:CONTEXT_MAX],
        rel=(),
        follow=True,
        position=raw.position,
        context=context[:CONTEXT_MAX],
        tag=tag,
        kind=kind,
    )


def outbound_count(page: Page) -> int:
    """Count the page's http(s) links to another site (the contract's ``links_on_page``).

    >>> page = extract_page(
    ...     '<a href="https://other.test/">a</a> <a href="/local">b</a>'
    ...     ' <a href="https://blog.example.com/">c</a> <a href="mailto:x@other.test">d</a>',
    ...     "https://www.example.com/",
    ... )
    >>> outbound_count(page)
    1
    """
    return sum(
        1
        for link in page.links
        if link.kind in _LINK_KINDS
        and link.url is not None
        and is_http(link.url)
        and is_outbound(link.url, page.url)
    )


#: kinds a visitor follows (the others are references of an audit: images, frames...)
_LINK_KINDS = frozenset({"link", "refresh"})
