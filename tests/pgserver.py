"""The throwaway PostgreSQL server lives in :mod:`brokenlinks.testing.pgserver` (benchmarks use it)."""

from brokenlinks.testing.pgserver import PgServer, find_bin

__all__ = ["PgServer", "find_bin"]
