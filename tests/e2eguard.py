"""The guard of the fast subset: a test that starts a process must be marked ``e2e``.

A test that starts a process (a ``scrapy`` command, a browser, a server, a database, a
``python -c``) and is not marked ``e2e`` fails, naming what it started, so
``pytest -m "not e2e"`` stays fast without anyone timing it. Processes are seen through
Python's audit events (PEP 578), which ``subprocess`` (and so asyncio's subprocesses),
``os.fork``, ``os.posix_spawn`` and ``os.system`` raise.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

#: the audit events of a new process (fork, exec, spawn); the subprocess module's and
#: asyncio's (a browser's driver) all go through one of them
PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system"}
)
#: what the running test started: (event, first argument), cleared before each phase
_started: list[tuple[str, str]] = []


def _audit(
    event: str,
    args: tuple[Any, ...],
    events: frozenset[str] = PROCESS_EVENTS,
    started: list[tuple[str, str]] = _started,
) -> None:
    # the hook outlives the module's globals (interpreter shutdown sets them to None): it
    # keeps what it needs in its defaults
    if event in events:
        started.append((event, repr(args[:2])[:200]))


# an audit hook cannot be removed: it lives as long as the interpreter (one pytest run or one
# xdist worker), and only appends to a list
sys.addaudithook(_audit)


def _check_started(item: pytest.Item, phase: str) -> None:
    started, _started[:] = list(_started), []
    if started and item.get_closest_marker("e2e") is None:
        pytest.fail(
            f"{item.nodeid} started a process in its {phase} ({started[0][0]} {started[0][1]}) "
            "but is not marked e2e: add @pytest.mark.e2e (or pytestmark for the file)",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    _started.clear()
    result = yield
    _check_started(item, "setup")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _started.clear()
    result = yield
    _check_started(item, "call")
    return result
