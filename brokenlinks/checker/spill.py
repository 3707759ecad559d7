"""The crawl's verdicts by URL, the most recently used in memory and the rest on disk.

Each target is checked once per crawl, so the checker must find every verdict it gave
until the crawl ends: one per distinct target, which on a crawl of a million links is
more than memory should hold. :class:`VerdictMemory` keeps at most
``BROKENLINKS_VERDICTS_IN_MEMORY`` of them in a dict in least-recently-used order; past
that the least recently used move to a temporary SQLite database (the standard library's
``sqlite3``, whatever store the crawl writes to, or none) and are looked up there on a
miss, moving back to memory when found. The database lives in its own temporary
directory (under ``TMPDIR``), made at the first spill and removed by :meth:`close`, or at
the latest when the interpreter exits.

A row is compact: the verdict's kind, reason and whether its final URL is the URL itself
are one integer, the rest is the status, the final URL (when it is another), the detail
and the time of the check, as UTF-8 (with lone surrogates passed through, so that any
``str`` comes back exactly). Not thread-safe: the checker calls it from the reactor thread
only.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from brokenlinks.checker.verdicts import CheckResult, Kind, Reason, Verdict

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

_KINDS: tuple[Kind, ...] = tuple(Kind)
_REASONS: tuple[Reason, ...] = tuple(Reason)
_KIND_CODES = {kind: i for i, kind in enumerate(_KINDS)}
_REASON_CODES = {reason: i for i, reason in enumerate(_REASONS)}
#: bits of a row's code: kind, then reason, then "the final URL is the URL"
_KIND_BITS = 2
_REASON_BITS = 5
_FINAL_IS_URL = 1 << (_KIND_BITS + _REASON_BITS)
assert len(_KINDS) <= 1 << _KIND_BITS
assert len(_REASONS) <= 1 << _REASON_BITS
#: past the bound, this share of it is spilled at once (1/16: 3,125 of 50,000)
_EVICT_SHARE = 16
#: spilled rows per transaction (the database is thrown away: no durability wanted)
_COMMIT_EVERY = 1000

#: one row of the spill: url, code, status, final URL, detail, checked at (UTF-8)
Row = tuple[bytes, int, int | None, bytes | None, bytes, bytes]


def _encode(text: str) -> bytes:
    # surrogatepass: any str round-trips (sqlite3 refuses lone surrogates in TEXT)
    return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def pack(result: CheckResult) -> Row:
    """The spill row of *result* (see :func:`unpack`).

    >>> from brokenlinks.checker import verdicts
    >>> pack(CheckResult("http://a.test/", verdicts.classify_status(200, "http://a.test/"), "t"))
    (b'http://a.test/', 128, 200, None, b'', b't')
    """
    verdict = result.verdict
    code = _KIND_CODES[verdict.kind] | _REASON_CODES[verdict.reason] << _KIND_BITS
    final_url = verdict.final_url
    if final_url is not None and final_url == result.url:
        code |= _FINAL_IS_URL
        final_url = None
    return (
        _encode(result.url),
        code,
        verdict.status,
        None if final_url is None else _encode(final_url),
        _encode(verdict.detail),
        _encode(result.checked_at),
    )


def unpack(row: Row) -> CheckResult:
    """The result a spill row holds: equal to the one :func:`pack` was given."""
    raw_url, code, status, raw_final, detail, checked_at = row
    url = _decode(raw_url)
    kind = _KINDS[code & ((1 << _KIND_BITS) - 1)]
    reason = _REASONS[(code >> _KIND_BITS) & ((1 << _REASON_BITS) - 1)]
    final_url = url if code & _FINAL_IS_URL else None if raw_final is None else _decode(raw_final)
    verdict = Verdict(kind, reason, status, final_url, _decode(detail))
    return CheckResult(url, verdict, _decode(checked_at))


class _Spill:
    """The on-disk part: a throw-away SQLite database in a directory of its own."""

    def __init__(self, parent: str | None = None) -> None:
        # TemporaryDirectory removes the directory at interpreter exit too (a finalizer),
        # should the crawl end without closing the checker
        self._dir = tempfile.TemporaryDirectory(
            prefix="brokenlinks-verdicts-", dir=parent, ignore_cleanup_errors=True
        )
        self.path = Path(self._dir.name) / "verdicts.sqlite3"
        # autocommit mode, transactions opened by hand: sqlite3's implicit ones differ
        # between Python versions
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # a crash loses nothing that matters: the file is deleted with the crawl
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE verdicts (url BLOB PRIMARY KEY, code INTEGER NOT NULL,"
            " status INTEGER, final_url BLOB, detail BLOB NOT NULL, checked_at BLOB NOT NULL)"
            " WITHOUT ROWID"
        )
        self._uncommitted = 0
        logger.debug("Spilling verdicts to %(path)s", {"path": self.path})

    def write(self, rows: list[Row]) -> None:
        if not self._uncommitted:
            self._db.execute("BEGIN")
        self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._uncommitted += len(rows)
        if self._uncommitted >= _COMMIT_EVERY:
            self._db.execute("COMMIT")
            self._uncommitted = 0

    def read(self, url: str) -> CheckResult | None:
        row = self._db.execute("SELECT * FROM verdicts WHERE url = ?", (_encode(url),)).fetchone()
        return unpack(row) if row is not None else None

    def has(self, url: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM verdicts WHERE url = ?", (_encode(url),)).fetchone()
            is not None
        )

    def __len__(self) -> int:
        count: int = self._db.execute("SELECT count(*) FROM verdicts").fetchone()[0]
        return count

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


class VerdictMemory:
    """Check results by URL: at most *limit* in memory (0: no bound), the rest spilled.

    ``get`` and ``put`` make a result the most recently used; past the limit the least
    recently used (a sixteenth of the limit at a time) are written to the spill, where
    ``get`` finds them again (and brings them back; one that comes back unchanged is not
    written again). With *stats*, counts ``brokenlinks/verdicts/spilled`` (results written
    to the spill) and ``brokenlinks/verdicts/spill_hits`` (lookups the spill answered).
    *directory* is where the spill's temporary directory is made (None: ``TMPDIR``).
    """

    def __init__(
        self,
        limit: int,
        *,
        stats: StatsCollector | None = None,
        directory: str | None = None,
    ) -> None:
        if limit < 0:
            msg = f"limit must be at least 0, not {limit}"
            raise ValueError(msg)
        self.limit = limit
        self.stats = stats
        self.directory = directory
        self._memory: OrderedDict[str, CheckResult] = OrderedDict()
        self._spill: _Spill | None = None
        #: ``hash()`` of every spilled URL: a miss (most lookups of a new target) is
        #: answered here, without a query; a collision only costs one
        self._spilled: set[int] = set()
        #: URLs in memory whose result came back from the spill unchanged (not rewritten)
        self._clean: set[str] = set()
        self._closed = False
        #: the spill could not be made or written: no more spilling
        self._failed = False

    @property
    def spill_path(self) -> Path | None:
        """The spill's database file, once something was spilled (until closed)."""
        return self._spill.path if self._spill is not None else None

    def in_memory(self) -> list[str]:
        """The URLs held in memory, least recently used first."""
        return list(self._memory)

    def get(self, url: str) -> CheckResult | None:
        """The result of *url*, from memory or the spill; None if there is none."""
        result = self._memory.get(url)
        if result is not None:
            if self.limit:
                self._memory.move_to_end(url)
            return result
        if self._spill is None or hash(url) not in self._spilled:
            return None
        result = self._spill.read(url)
        if result is not None:
            self._inc("brokenlinks/verdicts/spill_hits")
            self._clean.add(url)
            self._keep(result)
        return result

    def put(self, result: CheckResult) -> None:
        """Hold *result* (replacing any earlier one of its URL) as the most recently used."""
        self._memory.pop(result.url, None)
        self._clean.discard(result.url)
        self._keep(result)

    def __contains__(self, url: object) -> bool:
        if url in self._memory:
            return True
        return (
            isinstance(url, str)
            and self._spill is not None
            and hash(url) in self._spilled
            and self._spill.has(url)
        )

    def __len__(self) -> int:
        """How many distinct URLs have a result (a spilled one may be in memory too)."""
        if self._spill is None:
            return len(self._memory)
        return len(self._spill) + sum(1 for url in self._memory if not self._spill.has(url))

    def close(self) -> None:
        """Remove the spill (its results are gone; memory keeps the rest, unbounded).

        Idempotent; nothing is spilled after it.
        """
        self._closed = True
        if self._spill is not None:
            spill, self._spill = self._spill, None
            spill.close()
            self._spilled.clear()

    def _keep(self, result: CheckResult) -> None:
        self._memory[result.url] = result
        if not self.limit or self._closed or self._failed or len(self._memory) <= self.limit:
            return
        # a share of the bound at a time: one transaction for many rows, not one per put
        keep = self.limit - self.limit // _EVICT_SHARE
        evicted: list[CheckResult] = []
        while len(self._memory) > keep:
            url, old = self._memory.popitem(last=False)
            if url in self._clean:
                self._clean.discard(url)  # its row is on disk already
            else:
                evicted.append(old)
        if not evicted:
            return
        try:
            if self._spill is None:
                self._spill = _Spill(self.directory)
            self._spill.write([pack(old) for old in evicted])
            self._spilled.update(hash(old.url) for old in evicted)
        except (OSError, sqlite3.Error) as e:
            # a full or unwritable TMPDIR: hold everything in memory rather than check a
            # target twice or fail the crawl
            self._failed = True
            for old in reversed(evicted):
                self._memory[old.url] = old
                self._memory.move_to_end(old.url, last=False)
            logger.error(
                "Cannot spill verdicts to a temporary file (%(error)s): keeping them all in "
                "memory (BROKENLINKS_VERDICTS_IN_MEMORY no longer holds; see TMPDIR)",
                {"error": e},
            )
            return
        self._inc("brokenlinks/verdicts/spilled", len(evicted))

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)
