"""The tests' process helpers live in :mod:`brokenlinks.testing.processes` (benchmarks use them)."""

from brokenlinks.testing.processes import (
    command_name,
    descendants,
    run_watched,
    stop_process,
    wait_gone,
)

__all__ = ["command_name", "descendants", "run_watched", "stop_process", "wait_gone"]
