"""A throwaway Redis server for the tests: 127.0.0.1, a free port, no persistence, stopped by PID.

The binary comes from Debian's ``redis-server`` package (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from brokenlinks.testing.localweb import unused_port
from brokenlinks.testing.processes import stop_process


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            msg = "redis-server not found: apt-get install redis-server (.ci/run does)"
            raise RuntimeError(msg)
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="brokenlinks-multinode-redis-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        for _attempt in range(3):
            self.port = unused_port()
            with (self.root / "redis.log").open("ab") as log:
                self.process = subprocess.Popen(  # noqa: S603  (redis-server, found on PATH)
                    [
                        self.binary,
                        "--bind",
                        "127.0.0.1",
                        "--port",
                        str(self.port),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(self.root),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout):
                return
            self.stop(remove=False)
        msg = f"Redis did not start: {(self.root / 'redis.log').read_text()[-2000:]}"
        raise RuntimeError(msg)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self, *, remove: bool = True) -> None:
        if self.process is not None:
            stop_process(self.process)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
