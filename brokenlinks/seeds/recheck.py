"""What ``scrapy crawl recheck`` visits and what it concludes: the plan and the lost links.

:func:`load_plan` reads the database (in a thread: it blocks): the referring pages of the
stored prospects and, with ``-a domain=``, every stored page that links to those domains,
each with the targets it linked to at its last crawl, and every target whose latest verdict
is dead. :func:`vanished` tells which stored links a new crawl of a page no longer found;
those on the user's own domains are *lost links*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brokenlinks.checker.pages import Scope, target_key
from brokenlinks.parsing.sites import in_domains, site_of_host
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    from collections.abc import Iterable

    from brokenlinks.parsing.extract import Link


@dataclass(frozen=True, slots=True)
class RecheckPlan:
    #: page URL → the target URLs it linked to at its last crawl
    pages: dict[str, list[str]] = field(default_factory=dict)
    #: targets whose latest verdict is dead
    dead_targets: list[str] = field(default_factory=list)


def load_plan(database_url: str, domains: frozenset[str]) -> RecheckPlan:
    """Read the re-check plan from the database at *database_url* (migrated first)."""
    engine = db.create_engine_from_url(database_url)
    try:
        db.migrate(engine)
        pages, dead = store.recheck_plan(engine)
        if domains:
            sites = {site_of_host(d) for d in domains}
            for page, targets in store.pages_linking_to(engine, sites).items():
                mine = [t for t in targets if in_domains(t, domains)]
                if mine:
                    known = pages.setdefault(page, [])
                    known.extend(t for t in mine if t not in known)
    finally:
        engine.dispose()
    return RecheckPlan(pages=pages, dead_targets=dead)


@dataclass(frozen=True, slots=True)
class RecheckScope(Scope):
    """A re-check's scope: the links a :class:`Scope` wants, and the stored dead targets.

    >>> from brokenlinks.parsing.extract import Link, Position
    >>> link = Link(href="https://other.org/x", url="https://other.org/x", anchor_text="x",
    ...             rel=(), follow=True, position=Position.CONTENT, context="x", tag="a")
    >>> scope = RecheckScope(domains=frozenset({"mine.org"}))
    >>> scope.wants(link, "https://blog.org/"), RecheckScope(
    ...     domains=frozenset({"mine.org"}), dead=frozenset({"https://other.org/x"})
    ... ).wants(link, "https://blog.org/")
    (False, True)
    """

    dead: frozenset[str] = frozenset()

    def wants(self, link: Link, page_url: str) -> bool:
        """Tell whether *link*, found on *page_url*, is checked."""
        return target_key(link) in self.dead or Scope.wants(self, link, page_url)


def vanished(stored: Iterable[str], found: Iterable[str]) -> list[str]:
    """Return the *stored* targets of a page that its new crawl did not *found*, in order.

    >>> vanished(["http://a.test/", "http://b.test/"], ["http://b.test/", "http://c.test/"])
    ['http://a.test/']
    """
    now = set(found)
    return [url for url in dict.fromkeys(stored) if url not in now]


def lost(targets: Iterable[str], domains: frozenset[str]) -> list[str]:
    """Return the *targets* on the user's *domains*: those vanished links are lost links.

    >>> lost(["http://mine.test/a", "http://other.test/"], frozenset({"mine.test"}))
    ['http://mine.test/a']
    >>> lost(["http://mine.test/a"], frozenset())
    []
    """
    return [url for url in targets if domains and in_domains(url, domains)]
