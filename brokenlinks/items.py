"""Items: the exported prospect (the contract) and the internal records the store keeps.

``ProspectItem`` is the only item the feed exports write (see ``brokenlinks.extensions.feeds``); its
field names and meanings are a contract that users' tools depend on: add fields, never
change one. ``PageItem`` and ``CheckItem`` carry what the database keeps about every
referring page, every link occurrence and every checked target, dead or alive.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(kw_only=True, slots=True)
class ProspectItem:
    """One dead link occurrence: a referring page × a dead target.

    The field order is the export column order (``FEED_EXPORT_FIELDS`` pins it too:
    :data:`PROSPECT_FIELDS`).
    """

    source_url: str
    source_title: str | None
    source_domain: str
    target_url: str
    target_domain: str
    status: int | None
    reason: str
    final_url: str | None
    anchor_text: str
    rel: list[str] = field(default_factory=list)
    follow: bool
    position: str
    context: str
    links_on_page: int
    checked_at: str
    #: added in issue 11: ``link`` (``<a>``/``<area>``), ``refresh`` (a meta refresh), or,
    #: in a site crawl's audit of references, ``img``, ``source``, ``iframe``, ``frame``,
    #: ``canonical``, ``alternate``
    link_kind: str = "link"


#: the export's columns, in the contract's order (``FEED_EXPORT_FIELDS``, set by the add-on)
PROSPECT_FIELDS: list[str] = [f.name for f in fields(ProspectItem)]


@dataclass(kw_only=True, slots=True)
class LinkRecord:
    """One link occurrence on a referring page, stored whatever its target's verdict."""

    target_url: str
    target_domain: str
    anchor_text: str
    rel: list[str] = field(default_factory=list)
    follow: bool
    position: str
    context: str
    #: whether the crawl checked this link (out of scope links are stored, not checked)
    checked: bool
    #: link, refresh, or a reference's kind (see ProspectItem.link_kind)
    link_kind: str = "link"


@dataclass(kw_only=True, slots=True)
class PageItem:
    """A referring page as crawled, with every link found on it."""

    url: str
    requested_url: str
    domain: str
    title: str | None
    status: int | None
    #: why the page itself could not be read (network failure, not HTML...), else None
    error: str | None
    links_on_page: int
    crawled_at: str
    links: list[LinkRecord] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class CheckItem:
    """The verdict of one link target's check."""

    target_url: str
    target_domain: str
    kind: str
    reason: str
    status: int | None
    final_url: str | None
    checked_at: str
    detail: str = ""
