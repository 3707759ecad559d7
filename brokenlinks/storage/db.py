"""The database engine: built from ``BROKENLINKS_DATABASE_URL``, SQLite tuned on connect, schema migrated.

:func:`create_engine_from_url` turns the setting's value into an :class:`~sqlalchemy.Engine`.
For SQLite it creates the database file's directory and sets the pragmas every connection
needs (foreign keys on, WAL so readers and a writer share the file, a busy timeout so two
writers wait for each other instead of failing, ``synchronous=NORMAL`` which is durable enough
under WAL). It also takes transactions out of the hands of Python's ``sqlite3`` module, which
would run DDL outside any transaction and start write transactions lazily, so that a
migration is all-or-nothing and a writer (:func:`writer`) takes the write lock up front
(``BEGIN IMMEDIATE``), where the busy timeout applies, instead of failing on a lock upgrade.

:func:`migrate` (alias :func:`init_db`) upgrades the schema to the newest Alembic revision of
:mod:`brokenlinks.storage.migrations`, one process at a time (SQLite's write lock, PostgreSQL's
advisory lock); a database created before migrations existed is recognised and stamped with
the baseline first. The revisions are read from the installed package: from a zipped egg
(Scrapyd) they are copied to a temporary directory, as Alembic reads only real files.
Nothing is created at import time: the caller (the store pipeline, a command) owns the engine
and disposes it.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import URL, Connection, Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

SETTING = "BROKENLINKS_DATABASE_URL"

#: milliseconds a connection waits for another writer before SQLite reports "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: the execution option that makes a SQLite transaction take the write lock at BEGIN
WRITE_OPTION = "brokenlinks_write"
#: the Alembic revision whose schema ``init_db`` created before migrations existed
BASELINE_REVISION = "0001"
#: PostgreSQL advisory lock key held while migrating ("brokenli" in ASCII)
_PG_MIGRATION_LOCK = 0x62726F6B656E6C69

_SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA synchronous=NORMAL",
)


def describe_url(url: str) -> str:
    """Name the database of *url* for people: a SQLite file's path, else the URL sans password.

    >>> describe_url("sqlite:///data/brokenlinks.sqlite3")
    'data/brokenlinks.sqlite3'
    >>> describe_url("postgresql+psycopg://bl:secret@db/bl")
    'postgresql+psycopg://bl:***@db/bl'
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def _bad_url(url: str, why: object) -> ValueError:
    # one line, whatever the driver's message looks like
    why = " ".join(str(why).split())
    return ValueError(f"invalid {SETTING}={url!r}: {why}")


def _is_memory(parsed: URL) -> bool:
    database = parsed.database or ""
    return database in {"", ":memory:"} or "mode=memory" in database


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy's recipe for real SQLite transactions: the driver stops issuing BEGIN
    # itself (and committing around DDL); _sqlite_begin below does it
    dbapi_connection.isolation_level = None
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
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def writer(engine: Engine) -> Engine:
    """Return *engine* for write transactions: on SQLite they take the write lock at BEGIN."""
    return engine.execution_options(**{WRITE_OPTION: True})


@contextlib.contextmanager
def script_location() -> Iterator[Path]:
    """Yield a directory holding the Alembic scripts of :mod:`brokenlinks.storage.migrations`."""
    package = resources.files("brokenlinks.storage.migrations")
    if isinstance(package, Path):
        yield package
        return
    # a zipped egg: Alembic loads env.py and the revisions from files only
    with tempfile.TemporaryDirectory(prefix="brokenlinks-migrations-") as tmp:
        root = Path(tmp)
        for entry in package.iterdir():
            _copy_tree(entry, root / entry.name)
        yield root


def _copy_tree(source: resources.abc.Traversable, dest: Path) -> None:
    if source.name == "__pycache__":
        return
    if source.is_dir():
        dest.mkdir()
        for entry in source.iterdir():
            _copy_tree(entry, dest / entry.name)
    elif source.name.endswith(".py"):
        with source.open("rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to *revision* (the newest by default); a no-op when it is there.

    Runs in one transaction holding the database's write lock (SQLite) or an advisory lock
    (PostgreSQL), so two crawls starting at once on a new database migrate it once, and an
    interrupted migration leaves the database as it was.
    """
    # imported here: Alembic costs a process about 0.15 s of CPU to import, and only the
    # process that migrates (the crawl's preflight, `scrapy db`) needs it, not the store
    # writer, the shards or the read-only commands
    from alembic import command  # noqa: PLC0415
    from alembic.config import Config  # noqa: PLC0415

    with script_location() as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        with (
            writer(engine).connect() as connection,
            _foreign_keys_off(connection),
            connection.begin(),
        ):
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            tables = inspect(connection)
            if tables.has_table("crawl_runs") and not tables.has_table("alembic_version"):
                # created by init_db before migrations existed: the baseline schema
                command.stamp(config, BASELINE_REVISION)
            command.upgrade(config, revision)
            if connection.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:
                    msg = f"migration broke a foreign key: {tuple(broken)}"
                    raise RuntimeError(msg)


@contextlib.contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Turn SQLite's foreign keys off around a migration (a no-op on other databases).

    Alembic's batch mode rebuilds a SQLite table (copy, DROP, rename); with foreign keys
    on, the DROP of a parent table such as ``targets`` cascades into ``links`` and
    ``checks`` and empties them. The pragma only takes effect outside a transaction, so
    it is set on the driver connection before BEGIN; :func:`migrate` checks the keys
    before it commits.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def init_db(engine: Engine) -> None:
    """Create or upgrade the schema (see :func:`migrate`)."""
    migrate(engine)
