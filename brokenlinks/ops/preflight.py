"""Checks ``scrapy crawl`` runs before a crawl starts: settings (ours and Scrapy's), browser settings, the store.

Each check returns one line saying what is wrong (``None``: fine), so that a bad setting or
an unusable database fails like a bad argument: ``error: <line>``, exit status 1, no
traceback, and nothing written. The components check the same things again when the
crawl builds them; these checks only move the failure before the crawl.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from brokenlinks.config import PREFIX, BrokenlinksConfig
from brokenlinks.net.guard import HostPolicy
from brokenlinks.ops.scrapysettings import check_scrapy_settings, effective_settings
from brokenlinks.render.browser import check_browser_settings
from brokenlinks.storage.db import create_engine_from_url, migrate, writer

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

_PROBE_TABLE = "brokenlinks_write_probe"


def preflight(settings: BaseSettings) -> str | None:
    """Check the project's settings, Scrapy's and the store; the first problem, ``None`` if none."""
    try:
        check_scrapy_settings(effective_settings(settings))
        config = BrokenlinksConfig.from_settings(settings)
        HostPolicy(config.resolve, allow_private=config.allow_private_addresses)
        check_browser_settings(settings)
    except ValueError as e:
        return str(e)
    if config.store_enabled:
        return check_store(config.database_url)
    return None


def check_store(url: str) -> str | None:
    """Open the store at *url*, bring its schema up to date and prove it can be written.

    The write probe (creating a table) is rolled back: nothing is left behind.

    >>> check_store("sqlite://") is None
    True
    >>> check_store("nosuchdialect://x")
    "invalid BROKENLINKS_DATABASE_URL='nosuchdialect://x': Can't load plugin: sqlalchemy.dialects:nosuchdialect"
    """
    try:
        engine = create_engine_from_url(url)
    except ValueError as e:
        return str(e)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        migrate(engine)
        with writer(engine).connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(text(f"CREATE TABLE {_PROBE_TABLE} (x INTEGER)"))
            finally:
                transaction.rollback()
    except (SQLAlchemyError, OSError) as e:
        reason = getattr(e, "orig", None) or e
        why = " ".join(str(reason).split())
        return f"{PREFIX}DATABASE_URL: cannot use the store {shown!r}: {why}"
    finally:
        engine.dispose()
    return None
