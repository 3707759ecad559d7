"""Time every cyclic garbage collection of a Python process; write the totals at its exit.

py-spy cannot show the collector: CPython runs a collection inside whichever allocation
crosses the threshold, so a profile charges it to that line. This module times each one
through :data:`gc.callbacks`, in thread CPU time and in wall time, by generation. Python
imports a ``sitecustomize`` module found on its path at start-up, so no code changes::

    GCPROBE_DIR=/tmp/gc PYTHONPATH=benchmarks/gcprobe \\
        python benchmarks/bench.py --only ours --scale 1
    python benchmarks/gcprobe/summary.py /tmp/gc

Every Python process of the command writes ``GCPROBE_DIR/<pid>.json`` at its exit (the
crawl's workers leave through ``os._exit`` and write nothing). ``GCPROBE_COUNT=1`` also
records how many objects each full collection left in generation 2 (a list of them is
built: a little slower). Not imported at all without ``GCPROBE_DIR``.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_OUT = os.environ.get("GCPROBE_DIR")
_COUNT = bool(os.environ.get("GCPROBE_COUNT"))
_START = time.monotonic()
_began = [0.0, 0.0]
_stats: dict[str, Any] = {
    "collections": [0, 0, 0],
    "wall_s": [0.0, 0.0, 0.0],
    "cpu_s": [0.0, 0.0, 0.0],
    # per full collection: (seconds since start, wall ms, CPU ms, objects left in gen 2)
    "full": [],
}


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _began[0], _began[1] = time.perf_counter(), time.thread_time()
        return
    wall = time.perf_counter() - _began[0]
    cpu = time.thread_time() - _began[1]
    generation = info["generation"]
    _stats["collections"][generation] += 1
    _stats["wall_s"][generation] += wall
    _stats["cpu_s"][generation] += cpu
    if generation == 2:
        left = len(gc.get_objects(generation=2)) if _COUNT else 0
        since = round(time.monotonic() - _START, 2)
        _stats["full"].append((since, round(wall * 1000, 2), round(cpu * 1000, 2), left))


def _write() -> None:
    _stats["argv"] = sys.argv[:3]
    _stats["process_cpu_s"] = time.process_time()
    _stats["wall_s_total"] = time.monotonic() - _START
    _stats["threshold"] = gc.get_threshold()
    assert _OUT is not None
    Path(_OUT, f"{os.getpid()}.json").write_text(json.dumps(_stats), encoding="utf-8")


if _OUT:
    gc.callbacks.append(_on_collection)
    atexit.register(_write)
