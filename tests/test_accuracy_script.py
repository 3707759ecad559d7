"""The accuracy script (benchmarks/accuracy.py) runs and meets the issue's bar."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import PROJECT

pytestmark = pytest.mark.e2e


def test_accuracy_on_the_test_web():
    proc = subprocess.run(
        [sys.executable, "benchmarks/accuracy.py", "--min", "0.99"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rows = {
        line.split("|")[1].strip(): line
        for line in proc.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| reason")
    }
    for reason in ("soft_404", "parked", "http_status", "dns", "all (dead or not)"):
        assert reason in rows, proc.stdout
    assert "missed:" not in proc.stdout
    assert "extra:" not in proc.stdout
