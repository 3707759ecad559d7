"""A throwaway PostgreSQL cluster for the tests: its own directory and port, stopped by PID.

The server binaries come from Debian's ``postgresql`` package (``.ci/run`` installs it).
PostgreSQL refuses to run as root, so ``initdb`` and ``postgres`` run as the ``postgres``
user in a directory that user owns; clients connect over TCP on 127.0.0.1 with ``trust``
authentication, as the ``brokenlinks`` role.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from brokenlinks.localweb import unused_port


def server_bin() -> Path:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        msg = "PostgreSQL server binaries not found: apt-get install postgresql (.ci/run does)"
        raise RuntimeError(msg)
    return found[-1].parent


class PostgresServer:
    user = "postgres"
    role = "brokenlinks"

    def __init__(self) -> None:
        self.bin = server_bin()
        self.root = Path(tempfile.mkdtemp(prefix="brokenlinks-multinode-pg-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.role}@127.0.0.1:{self.port}/{self.role}"

    def _run_as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            user=self.user,
            group=self.user,
            extra_groups=[],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def start(self, timeout: float = 60) -> None:
        entry = pwd.getpwnam(self.user)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)
        data = self.root / "data"
        self._run_as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            self.role,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        for _attempt in range(3):
            self.port = unused_port()
            with (self.root / "server.log").open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        str(self.bin / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(self.port),
                        "-k",
                        str(self.root),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                    ],
                    user=self.user,
                    group=self.user,
                    extra_groups=[],
                    cwd=self.root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout):
                self._run_as_postgres(
                    str(self.bin / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    self.role,
                    self.role,
                )
                return
            self.stop(remove=False)
        msg = f"PostgreSQL did not start: {(self.root / 'server.log').read_text()[-2000:]}"
        raise RuntimeError(msg)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.2)
        return False

    def stop(self, *, remove: bool = True) -> None:
        """Fast shutdown by PID (SIGINT), then remove the cluster's directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
