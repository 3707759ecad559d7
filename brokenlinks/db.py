"""The database engine: built from ``BROKENLINKS_DATABASE_URL``, SQLite tuned on connect, tables created.

:func:`create_engine_from_url` turns the setting's value into an :class:`~sqlalchemy.Engine`.
For SQLite it creates the database file's directory and sets the pragmas every connection
needs (foreign keys on, WAL so readers and a writer share the file, a busy timeout so two
writers wait for each other instead of failing, ``synchronous=NORMAL`` which is durable enough
under WAL). :func:`init_db` creates the tables that do not exist yet. Nothing is created at
import time: the caller (the store pipeline, a command) owns the engine and disposes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from brokenlinks.models import Base

if TYPE_CHECKING:
    from sqlalchemy import URL, Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

SETTING = "BROKENLINKS_DATABASE_URL"

#: milliseconds a connection waits for another writer before SQLite reports "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",
)


def _bad_url(url: str, why: object) -> ValueError:
    # one line, whatever the driver's message looks like
    why = " ".join(str(why).split())
    return ValueError(f"invalid {SETTING}={url!r}: {why}")


def _is_memory(parsed: URL) -> bool:
    database = parsed.database or ""
    return database in {"", ":memory:"} or "mode=memory" in database


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def create_engine_from_url(url: str) -> Engine:
    """Return an engine for the SQLAlchemy *url* (the ``BROKENLINKS_DATABASE_URL`` value).

    A URL that cannot be parsed, or names an unknown dialect or a driver that is not
    installed, raises :class:`ValueError` naming the setting and the URL.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as e:
        raise _bad_url(url, e) from e
    shown = parsed.render_as_string(hide_password=True)
    kwargs: dict[str, Any] = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        if _is_memory(parsed):
            # one connection shared by every thread, or each thread sees its own empty database
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        elif parsed.database and not parsed.database.startswith("file:"):
            try:
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise _bad_url(shown, e) from e
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError, TypeError) as e:
        raise _bad_url(shown, e) from e
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def init_db(engine: Engine) -> None:
    """Create the tables (and their indexes) that do not exist yet."""
    Base.metadata.create_all(engine)
