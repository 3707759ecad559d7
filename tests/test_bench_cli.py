"""Every benchmark script answers ``--help`` (its options are the way users run it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(
    path
    for path in BENCHMARKS.glob("*.py")
    if "argparse" in path.read_text(encoding="utf-8") and not path.name.startswith("_")
)


def test_the_scripts_are_found():
    assert {"bench.py", "cluster.py", "pressure.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help(script):
    proc = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=BENCHMARKS.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage:")
