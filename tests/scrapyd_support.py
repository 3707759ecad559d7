"""A real Scrapyd for the tests: own port, own directories, stopped by PID; and the deploy steps.

:class:`ScrapydServer` runs ``python -m scrapyd`` in a temporary directory (its working
directory, where jobs run and relative paths land) with its own ``scrapyd.conf`` and
``HOME``, so no configuration of the machine is read. :func:`copy_project` copies the
checkout so that ``scrapyd-deploy`` builds the egg without writing into the working tree.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

from brokenlinks.testing.localweb import unused_port

from .conftest import PROJECT
from .processes import stop_process

if TYPE_CHECKING:
    from pathlib import Path

PROJECT_NAME = "brokenlinks"
_IGNORE = shutil.ignore_patterns(
    ".git",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
    ".venv",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "*.sqlite3*",
    "*.egg",
)


def copy_project(dest: Path) -> Path:
    """Copy the checkout (tests/ and data/ included, as a user's would be) to *dest*."""
    shutil.copytree(PROJECT, dest, ignore=_IGNORE)
    return dest


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPY", "PYTHONPATH"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def build_egg(project: Path, egg: Path) -> subprocess.CompletedProcess[str]:
    """``scrapyd-deploy --build-egg`` in *project*; the egg is written to *egg*."""
    return subprocess.run(
        [sys.executable, "-m", "scrapyd_client.deploy", "--build-egg", str(egg)],
        cwd=project,
        env=clean_env(project.parent),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deploy(
    project: Path,
    targets: dict[str, str],
    *,
    username: str | None,
    password: str | None,
    version: str,
) -> subprocess.CompletedProcess[str]:
    """Add ``[deploy:NAME]`` targets to the copy's scrapy.cfg and run ``scrapyd-deploy``.

    One target is deployed by name; several with ``-a`` (every target).
    """
    lines = []
    for name, url in targets.items():
        lines += ["", f"[deploy:{name}]", f"url = {url}", f"project = {PROJECT_NAME}"]
        if username is not None:
            lines += [f"username = {username}", f"password = {password or ''}"]
    cfg = project / "scrapy.cfg"
    original = cfg.read_text(encoding="utf-8")
    cfg.write_text(original + "\n".join(lines) + "\n", encoding="utf-8")
    which = ["-a"] if len(targets) > 1 else list(targets)
    try:
        return subprocess.run(
            [sys.executable, "-m", "scrapyd_client.deploy", *which, "-v", version],
            cwd=project,
            env=clean_env(project.parent),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        # the next deploy from this copy brings its own targets
        cfg.write_text(original, encoding="utf-8")


class ScrapydServer:
    """``python -m scrapyd`` on 127.0.0.1, a free port, in its own directory."""

    def __init__(self, root: Path, *, username: str = "", password: str = "") -> None:
        self.root = root
        self.username = username
        self.password = password
        self.node_name = f"brokenlinks-test-{uuid.uuid4().hex[:8]}"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.root / "scrapyd.out"

    def _write_conf(self) -> None:
        conf = f"""[scrapyd]
bind_address = 127.0.0.1
http_port = {self.port}
node_name = {self.node_name}
username = {self.username}
password = {self.password}
eggs_dir = {self.root / "eggs"}
logs_dir = {self.root / "logs"}
dbs_dir = {self.root / "dbs"}
items_dir =
jobs_to_keep = 10
finished_to_keep = 100
max_proc = 2
poll_interval = 0.5
"""
        (self.root / "scrapyd.conf").write_text(conf, encoding="utf-8")

    def start(self, timeout: float = 60) -> None:
        """Start Scrapyd; retried on another port if the chosen one was taken meanwhile."""
        self.root.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            self.port = unused_port()
            self._write_conf()
            with self.log_path.open("ab") as out:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "scrapyd", "--pidfile="],
                    cwd=self.root,
                    env=clean_env(self.root),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout):
                return
            self.stop()
        msg = f"Scrapyd did not start; its output:\n{self.log_path.read_text()[-3000:]}"
        raise RuntimeError(msg)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                data = self.get("daemonstatus.json")
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
                continue
            # another server on this port would answer too: only ours has this node name
            return data.get("node_name") == self.node_name
        return False

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL), and its running jobs with it."""
        if self.process is not None:
            stop_process(self.process)

    # --- the JSON API ---------------------------------------------------------------

    def _headers(self, auth: bool) -> dict[str, str]:
        if not (auth and self.username):
            return {}
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def request(
        self,
        path: str,
        fields: list[tuple[str, str]] | None = None,
        *,
        post: bool = False,
        auth: bool = True,
    ) -> bytes:
        query = urllib.parse.urlencode(fields or [])
        url = self.url + path
        if post:
            req = urllib.request.Request(url, data=query.encode(), headers=self._headers(auth))
        else:
            req = urllib.request.Request(
                f"{url}?{query}" if query else url, headers=self._headers(auth)
            )
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.read()

    def get(self, path: str, fields: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        return json.loads(self.request(path, fields))

    def post(self, path: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
        return json.loads(self.request(path, fields, post=True))

    def wait_finished(self, jobids: set[str], timeout: float = 240) -> dict[str, dict[str, Any]]:
        """Poll listjobs.json until every job in *jobids* is finished; return their entries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.get("listjobs.json", [("project", PROJECT_NAME)])
            finished = {job["id"]: job for job in jobs["finished"] if job["id"] in jobids}
            if len(finished) == len(jobids):
                return finished
            time.sleep(0.5)
        msg = f"jobs {sorted(jobids)} not finished after {timeout} s: {jobs}"
        raise AssertionError(msg)

    def job_log(self, spider: str, jobid: str) -> str:
        return self.request(f"logs/{PROJECT_NAME}/{spider}/{jobid}.log").decode("utf-8")
