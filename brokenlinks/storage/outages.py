"""Store outages: whether a failed write means "the store is unavailable", worth waiting for.

:func:`is_outage` tells a store that cannot be written now (unreachable, shut down, locked
past its busy timeout, full or unwritable) from a batch it refuses; the batching pipelines
(:mod:`brokenlinks.pipelines.batching`) wait for the former and raise the latter. The store's
writer process (:mod:`brokenlinks.storage.writer_process`) classifies its failures with it
too, and sends back a :class:`RemoteWriteError` when an exception cannot travel. Reads no
settings; imports no Scrapy (the writer process does without).
"""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError

#: the exceptions a write that failed because of the store may raise (see is_outage)
OUTAGE_ERRORS = (OperationalError, InterfaceError, OSError)
#: SQLite result codes of a store that cannot be written now (locked, full, read-only,
#: gone), as opposed to a statement it refuses
_SQLITE_OUTAGES = frozenset(
    {
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_IOERR",
        "SQLITE_FULL",
        "SQLITE_READONLY",
        "SQLITE_CANTOPEN",
        "SQLITE_PERM",
        "SQLITE_PROTOCOL",
    }
)
#: SQLSTATE classes of the same on PostgreSQL: connection exception, insufficient resources,
#: operator intervention (shut down), system error
_SQLSTATE_OUTAGES = frozenset({"08", "53", "57", "58"})


class RemoteWriteError(Exception):
    """A write that failed in another process, whose exception could not be sent back as is.

    Carries that process's verdict: *outage* when :func:`is_outage` said so there.
    """

    def __init__(self, text: str, *, outage: bool) -> None:
        super().__init__(text)
        self.outage = outage


def is_outage(error: BaseException) -> bool:
    """Tell whether a failed write means "the store is unavailable", worth waiting for.

    A batch the database refuses (a value too large for an index, a missing table) is not
    an outage: retrying it would only fail again.

    >>> import sqlite3
    >>> locked = sqlite3.OperationalError("database is locked")
    >>> locked.sqlite_errorname = "SQLITE_BUSY"
    >>> is_outage(OperationalError("INSERT", {}, locked))
    True
    >>> missing = sqlite3.OperationalError("no such table: pages")
    >>> missing.sqlite_errorname = "SQLITE_ERROR"
    >>> is_outage(OperationalError("INSERT", {}, missing))
    False
    >>> is_outage(OSError(28, "No space left on device"))
    True
    >>> is_outage(RemoteWriteError("OperationalError: disk I/O error", outage=True))
    True
    """
    if isinstance(error, RemoteWriteError):
        return error.outage
    if isinstance(error, OSError | InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        # extended codes (SQLITE_IOERR_WRITE) carry their primary code's name first
        return any(name == code or name.startswith(code + "_") for code in _SQLITE_OUTAGES)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _SQLSTATE_OUTAGES
    # no server answer to classify (a connection that could not be made): the store is away
    return True


def one_line(error: BaseException) -> str:
    """The first line of *error*'s message (of the driver's error under SQLAlchemy's)."""
    orig = getattr(error, "orig", None)  # SQLAlchemy's wrapper: the driver's own message
    text = str(orig if orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__
