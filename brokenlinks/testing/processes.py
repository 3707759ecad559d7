"""Stopping the servers the tests start (Scrapyd, Redis) by their PID."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from pathlib import Path


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


def descendants(pid: int) -> set[int]:
    """The PIDs of every live descendant of *pid* (Linux ``/proc``)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue  # it ended meanwhile
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def command_name(pid: int) -> str:
    """The executable name of *pid* ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def run_watched(
    cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 240
) -> tuple[int, str, str, dict[int, str]]:
    """Run *cmd*; its exit status, output, errors and every descendant seen (PID → name).

    Polled every 50 ms: a process that lives shorter than that may be missed. Output
    goes through files, so that a chatty command cannot block on a full pipe.
    """
    seen: dict[int, str] = {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err) as proc:  # noqa: S603
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                for pid in descendants(proc.pid) - seen.keys():
                    seen[pid] = command_name(pid)
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        texts = []
        for stream in (out, err):
            stream.seek(0)
            texts.append(stream.read().decode("utf-8", "replace"))
    return proc.returncode, texts[0], texts[1], seen


def wait_gone(pids: set[int], wait: float = 10) -> set[int]:
    """Wait up to *wait* seconds for *pids* to exit; those still alive."""
    deadline = time.monotonic() + wait
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists()}
        if alive:
            time.sleep(0.1)
    return alive
