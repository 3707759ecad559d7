"""Shared fixtures: the local test web and a runner for real ``scrapy crawl`` processes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from brokenlinks.testing.localweb import LocalWeb, refusing_socket

from .pgserver import PgServer
from .processes import run_watched

if TYPE_CHECKING:
    import socket

#: a test that starts a process without the e2e mark fails (tests/e2eguard.py); pytester
#: runs the guard's own test
pytest_plugins = ["tests.e2eguard", "pytester"]

# pytest-xdist's workers run with COLUMNS=80, which every `scrapy` the tests start would
# inherit (a table command fits its table to COLUMNS): tests that want a width set it
os.environ.pop("COLUMNS", None)

PROJECT = Path(__file__).resolve().parents[1]
WEB_ROOT = PROJECT / "tests" / "web"
#: third-party test material copied into the repository, with its licences (tests/data/README.md)
DATA = PROJECT / "tests" / "data"
#: settings that turn off the loop-lag control (brokenlinks.net.lag): a crawl that asserts
#: a concurrency limit is reached exactly uses them, since on a busy machine the control
#: lowers the crawl's budget below the limit (it is tested on its own in test_lag.py)
NO_LAG_CONTROL: dict[str, Any] = {"BROKENLINKS_LAG_MAX": 0}


@pytest.fixture(scope="session")
def test_web():
    web = LocalWeb(WEB_ROOT)
    web.start()
    yield web
    web.stop()


@pytest.fixture
def web(test_web):
    """The session's test web with fresh counters and request log."""
    test_web.reset()
    return test_web


@pytest.fixture(scope="session")
def expected():
    return json.loads((WEB_ROOT / "expected.json").read_text(encoding="utf-8"))


#: refused.test's port: bound and never listening for the whole session, so that no server of
#: a test running beside this one (pytest-xdist) can take it and answer
_REFUSED: list[socket.socket] = []


@pytest.fixture(scope="session", autouse=True)
def _close_refused_port():
    yield
    for sock in _REFUSED:
        sock.close()
    _REFUSED.clear()


def refused_port() -> int:
    if not _REFUSED:
        _REFUSED.append(refusing_socket())
    return int(_REFUSED[0].getsockname()[1])


def resolve_map(web: LocalWeb) -> dict[str, str]:
    return {
        "*.test": f"127.0.0.1:{web.port}",
        "refused.test": f"127.0.0.1:{refused_port()}",
    }


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    items: list[dict[str, Any]]
    db_path: Path
    output: Path
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: with ``watch=True``: every process the crawl started (PID → executable name)
    processes: dict[int, str] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, Any]:
        runs = self.rows.get("crawl_runs") or []
        return json.loads(runs[-1]["stats"] or "{}") if runs else {}


def read_tables(db_path: Path) -> dict[str, list[dict[str, Any]]]:
    if not db_path.exists():
        return {}
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: [dict(r) for r in con.execute(f"SELECT * FROM {n}")] for n in names}
    finally:
        con.close()


def run_crawl(
    tmp_path: Path,
    web: LocalWeb,
    spider_args: dict[str, str],
    *,
    spider: str = "backlinks",
    output: str = "prospects.jsonl",
    settings: dict[str, Any] | None = None,
    db_path: Path | None = None,
    timeout: float = 240,
    watch: bool = False,
) -> CrawlResult:
    """Run ``scrapy crawl`` in a subprocess against the test web.

    With *watch*, the processes it starts are recorded while it runs (``processes``).
    """
    db_path = db_path or tmp_path / "brokenlinks.sqlite3"
    out = tmp_path / output
    merged: dict[str, Any] = {
        "BROKENLINKS_RESOLVE": resolve_map(web),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db_path}",
        "DOWNLOAD_TIMEOUT": 2,
        "LOG_LEVEL": "INFO",
    }
    merged.update(settings or {})
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-O", str(out)]
    for key, value in spider_args.items():
        cmd += ["-a", f"{key}={value}"]
    for key, value in merged.items():
        text = json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)
        cmd += ["-s", f"{key}={text}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    processes: dict[int, str] = {}
    if watch:
        code, stdout, stderr, processes = run_watched(cmd, cwd=PROJECT, env=env, timeout=timeout)
    else:
        proc = subprocess.run(
            cmd, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    items: list[dict[str, Any]] = []
    if out.exists() and output.endswith(".jsonl"):
        items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return CrawlResult(
        returncode=code,
        stdout=stdout,
        stderr=stderr,
        items=items,
        db_path=db_path,
        output=out,
        rows=read_tables(db_path),
        processes=processes,
    )


def write_seeds(tmp_path: Path, urls: list[str], name: str = "seeds.txt") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL server (tests/pgserver.py), shared by the session."""
    root = Path(tempfile.mkdtemp(prefix="brokenlinks-pg-"))
    server = PgServer(root)
    try:
        server.start()
    except FileNotFoundError as e:  # no initdb/pg_ctl at all; a failing server fails
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        why = (
            f"{e}: the PostgreSQL tests need its server binaries "
            "(Debian/Ubuntu: apt-get install postgresql; .ci/run installs it)"
        )
        if os.environ.get("CI"):
            # CI installs them: a skip there would hide every PostgreSQL test
            pytest.fail(why)
        pytest.skip(why)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_server():
    """A throwaway Redis server (brokenlinks.testing.redisserver), one per test module."""
    from .redis_support import RedisServer

    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    """A client of ``redis_server``, emptied for each test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()
