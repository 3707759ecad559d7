"""A throwaway PostgreSQL server for the tests: initdb in a temporary directory, stopped by PID.

Debian's ``postgresql`` package provides the binaries (``.ci/run`` installs it); initdb
refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from brokenlinks.testing.localweb import unused_port

#: free ports tried before a server that cannot bind gives up
_PORT_ATTEMPTS = 3


def find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


class PgServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = 0
        self.pid: int | None = None

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        proc = subprocess.run(  # noqa: S603  (PostgreSQL's own binaries)
            [*prefix, *cmd], capture_output=True, text=True, check=False, timeout=120
        )
        if proc.returncode != 0:
            msg = f"{' '.join(cmd)} failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
            raise RuntimeError(msg)

    def start(self) -> None:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            msg = "PostgreSQL is not installed (apt-get install postgresql)"
            raise FileNotFoundError(msg)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._start_server(None)

    def start_again(self) -> None:
        """Start the stopped server again: the same data directory, the same port."""
        self._start_server(self.port)

    def _start_server(self, port: int | None) -> None:
        pg_ctl = find_bin("pg_ctl")
        assert pg_ctl is not None
        # the port is chosen free, then taken by pg_ctl: a server of a test running beside this
        # one (pytest-xdist) can take it in between, so a failed start tries another port
        for attempt in range(1 if port else _PORT_ATTEMPTS):
            self.port = port or unused_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self._run(
                    pg_ctl,
                    "-D",
                    str(self.data),
                    "-o",
                    options,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                break
            except RuntimeError:
                if port or attempt == _PORT_ATTEMPTS - 1:
                    raise
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg  # noqa: PLC0415  (an optional dependency: PostgreSQL stores only)

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
