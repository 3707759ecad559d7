"""The throwaway Redis server lives in :mod:`brokenlinks.testing.redisserver` (benchmarks use it)."""

from brokenlinks.testing.redisserver import RedisServer

__all__ = ["RedisServer"]
