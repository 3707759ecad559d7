"""Turn a py-spy profile (``--format raw``) into a table of where the CPU went, by phase.

py-spy's raw format is one line per distinct stack: frames from the root to the leaf,
separated by ``;``, each ``function (file:line)`` (plus ``process N:"cmd"`` and, with
``--threads``, ``thread (0x...)`` frames at the root), then a space and the number of
samples. A stack belongs to the phase of its deepest frame that names one of the
project's phases (:data:`PHASES`: the store, body judgement, page extraction, logging,
stats, the feed export); a stack without one belongs to the deepest frame of the
generic phases (:data:`GENERIC`: the checker's own logic, the engine, the download
path); anything else (start-up, imports, the garbage collector's frames) is "other".
Deepest first, so that a log call inside extraction counts as logging, and decoding a
body for judgement counts as judgement, not as Scrapy's ``Response``.

Usage (from the project directory)::

    python benchmarks/phases.py profile.txt [--cpu SECONDS --requests N]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

#: phases the issue asks about; a frame whose file (or ``function (file``) contains one
#: of the fragments belongs to the phase
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "store (SQLAlchemy, sessions, SQL)",
        (
            "brokenlinks/storage/store.py",
            "pipelines/store.py",
            "brokenlinks/storage/db.py",
            "sqlalchemy/",
        ),
    ),
    (
        "body judgement (soft 404, parked, bot wall)",
        (
            "brokenlinks/judge/soft404.py",
            "brokenlinks/judge/parked.py",
            "brokenlinks/judge/botwall.py",
            "_read_page (brokenlinks/checker/checks.py",
            "_markup (brokenlinks/checker/checks.py",
            "_lower_headers (brokenlinks/checker/checks.py",
            "difflib.py",
        ),
    ),
    (
        "page extraction",
        (
            "brokenlinks/parsing/extract.py",
            "brokenlinks/checker/pages.py",
            "parsel/",
            "brokenlinks/parsing/charsets.py",
        ),
    ),
    ("logging", ("logging/__init__.py", "scrapy/logformatter.py", "scrapy/utils/log.py")),
    (
        "stats",
        (
            "scrapy/statscollectors.py",
            "brokenlinks/extensions/progress.py",
            "scrapy/extensions/corestats.py",
            "scrapy/extensions/logstats.py",
        ),
    ),
    ("feed export", ("scrapy/extensions/feedexport.py", "scrapy/exporters.py")),
    # modules imported on first use (download handlers, middlewares): start-up cost
    ("imports", ("<frozen importlib._bootstrap", "importlib/__init__.py")),
)
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("link checker logic", ("brokenlinks/checker/checks.py", "brokenlinks/checker/verdicts.py")),
    # BROKENLINKS_WORKERS: jobs and results pickled and sent between the processes
    (
        "worker pool (pickling, pipes)",
        ("multiprocessing/", "concurrent/futures/process.py", "brokenlinks/checker/workers.py"),
    ),
    (
        "engine, scheduler, spider",
        (
            "scrapy/core/engine.py",
            "scrapy/core/scraper.py",
            "scrapy/core/spidermw.py",
            "scrapy/core/scheduler.py",
            "scrapy/spidermiddlewares/",
            "scrapy/pqueues.py",
            "queuelib/",
            "spiders/",
            "scrapy/utils/signal.py",
            "scrapy/signalmanager.py",
            "pydispatch/",
        ),
    ),
    (
        "download path (handler, Twisted, middlewares, asyncio)",
        (
            "scrapy/core/downloader/",
            "scrapy/core/http",
            "scrapy/downloadermiddlewares/",
            "scrapy/http/",
            "scrapy/responsetypes.py",
            "scrapy/utils/defer.py",
            "scrapy/utils/asyncio.py",
            "twisted/",
            "asyncio/",
            "brokenlinks/net/guard.py",
            "brokenlinks/net/policy.py",
            "brokenlinks/net/resolver.py",
            "brokenlinks/render/egress.py",
            "brokenlinks/downloadermiddlewares/retry.py",
            "brokenlinks/net/downloader.py",
            "brokenlinks/downloadermiddlewares/redirects.py",
            "concurrent/futures/",
            "threading.py",
            "w3lib/",
            "ada_url/",
        ),
    ),
)
OTHER = "other (start-up, imports, garbage collection...)"
IDLE = "idle (waiting in select, a queue, waitpid)"
#: leaf frames that wait rather than work (py-spy's idle detection misses some of them:
#: the thread is in a system call that it does not know as idle)
_IDLE_LEAVES = (
    "select (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "_do_waitpid (asyncio/unix_events.py",
    "wait (threading.py",
    "Queue.get (queue.py",
    # a worker's thread waiting for the crawl process to end
    ".watch (brokenlinks/checker/workers.py",
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


def _phase_of(frame: str, rules: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    found = _FRAME.match(frame)
    if found is None:  # process or thread marker
        return None
    key = f"{found['function']} ({found['file']}"
    for phase, fragments in rules:
        if any(fragment in key for fragment in fragments):
            return phase
    return None


def classify(stack: list[str]) -> str:
    """The phase of one stack (root first).

    >>> classify(["run (twisted/internet/base.py:1)", "parse (spiders/base.py:9)",
    ...           "links (brokenlinks/parsing/extract.py:40)", "debug (logging/__init__.py:7)"])
    'logging'
    >>> classify(["run (twisted/internet/base.py:1)", "_check (brokenlinks/checker/checks.py:3)"])
    'link checker logic'
    >>> classify(['process 1:"python"', "<module> (site.py:1)"])
    'other (start-up, imports, garbage collection...)'
    >>> classify(["run (threading.py:1)", "EpollSelector.select (selectors.py:468)"])
    'idle (waiting in select, a queue, waitpid)'
    >>> classify(["_process_worker (concurrent/futures/process.py:267)",
    ...           "ForkingPickler.dumps (multiprocessing/reduction.py:51)"])
    'worker pool (pickling, pipes)'
    """
    leaf = _FRAME.match(stack[-1]) if stack else None
    if leaf is not None and any(
        f"{leaf['function']} ({leaf['file']}".endswith(idle) for idle in _IDLE_LEAVES
    ):
        return IDLE
    for rules in (PHASES, GENERIC):
        for frame in reversed(stack):
            phase = _phase_of(frame, rules)
            if phase is not None:
                return phase
    return OTHER


def phases(lines: Iterable[str]) -> Counter[str]:
    """Samples per phase in py-spy's raw output (``stack count`` lines)."""
    counts: Counter[str] = Counter()
    for raw in lines:
        line = raw.rstrip("\n")
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        counts[classify(stack.split(";"))] += int(count)
    return counts


def table(counts: Counter[str], *, cpu: float | None = None, requests: int | None = None) -> str:
    """The phase table in Markdown; with *cpu* seconds and *requests*, ms of CPU per request.

    Idle samples are left out: the shares are of the samples that worked.

    >>> print(table(Counter({"logging": 1, "stats": 3, IDLE: 5}), cpu=2.0, requests=1000))
    | phase | samples | share | CPU ms/request |
    |---|---|---|---|
    | stats | 3 | 75.0% | 1.50 |
    | logging | 1 | 25.0% | 0.50 |
    | all | 4 | 100% | 2.00 |
    """
    counts = Counter({phase: n for phase, n in counts.items() if phase != IDLE})
    total = sum(counts.values())
    per = cpu is not None and requests
    head = "| phase | samples | share |" + (" CPU ms/request |" if per else "")
    lines = [head, "|---|---|---|" + ("---|" if per else "")]
    for phase, n in counts.most_common():
        row = f"| {phase} | {n} | {100 * n / total:.1f}% |"
        if per:
            assert cpu is not None
            assert requests
            row += f" {1000 * cpu * n / total / requests:.2f} |"
        lines.append(row)
    last = f"| all | {total} | 100% |"
    if per:
        assert cpu is not None
        assert requests
        last += f" {1000 * cpu / requests:.2f} |"
    lines.append(last)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--cpu", type=float, help="CPU seconds of the profiled run")
    parser.add_argument("--requests", type=int, help="requests the server answered")
    args = parser.parse_args(argv)
    try:
        text = args.profile.read_text(encoding="utf-8")
    except OSError as e:
        parser.error(f"{args.profile}: {e.strerror}")
    counts = phases(text.splitlines())
    if not counts:
        parser.error(f"{args.profile}: no py-spy raw samples in it")
    sys.stdout.write(table(counts, cpu=args.cpu, requests=args.requests) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
