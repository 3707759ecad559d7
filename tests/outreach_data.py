"""A database holding a few prospects, written through the store as a crawl would write it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.parsing.sites import site_of
from brokenlinks.storage import db, store

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime.now(UTC).isoformat()


def link(target: str, anchor: str, context: str) -> LinkRecord:
    return LinkRecord(
        target_url=target,
        target_domain=site_of(target),
        anchor_text=anchor,
        follow=True,
        position="content",
        context=context,
        checked=True,
    )


def page(url: str, title: str, links: list[LinkRecord]) -> PageItem:
    return PageItem(
        url=url,
        requested_url=url,
        domain=site_of(url),
        title=title,
        status=200,
        error=None,
        links_on_page=len(links) + 10,
        crawled_at=NOW,
        links=links,
    )


def dead(target: str, reason: str = "http_status", status: int | None = 404) -> CheckItem:
    return CheckItem(
        target_url=target,
        target_domain=site_of(target),
        kind="dead",
        reason=reason,
        status=status,
        final_url=None,
        checked_at=NOW,
    )


def make_db(path: Path, pages: list[PageItem], checks: list[CheckItem]) -> str:
    url = f"sqlite:///{path}"
    engine = db.create_engine_from_url(url)
    try:
        db.init_db(engine)
        run_id = store.start_run(engine, "backlinks", {})
        store.write_batch(engine, run_id, [*pages, *checks])
    finally:
        engine.dispose()
    return url
