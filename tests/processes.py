"""Stopping the servers the tests start (Scrapyd, Redis) by their PID."""

from __future__ import annotations

import signal
import subprocess


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process by its PID: SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
