"""End to end: ``scrapy crawl backlinks`` with ``BROKENLINKS_VERDICTS_IN_MEMORY=2``.

A small web of its own where every referring page links the same targets (in a different
order) plus one of its own; the late pages answer after the early pages' targets are all
decided, so their verdicts are found in the spill. The crawl with the bound must give the
same prospects and database rows as the crawl without, with each target checked once (the
server counts the requests per path), and leave no temporary file behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from brokenlinks.storage import db, store
from brokenlinks.testing.localweb import LocalWeb

from .conftest import PROJECT, CrawlResult, resolve_map, run_crawl, write_seeds

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

SHARED = [
    "http://ok.test/a.html",
    "http://ok.test/b.html",
    "http://ok.test/c.html",
    "http://ok.test/d.html",
    "http://gone.test/missing-1",
    "http://gone.test/missing-2",
    "http://gone.test/410",
    "http://moved.test/old",
    "http://nohost.invalid/page",
]
EARLY = [f"http://ref.test/p{i}.html" for i in range(4)]
LATE = [f"http://late.test/p{i}.html" for i in range(3)]
#: the late pages answer after the early pages' checks are done
LATE_DELAY = 1.5


def page(index: int, own: str) -> str:
    rotated = SHARED[index % len(SHARED) :] + SHARED[: index % len(SHARED)]
    links = "".join(f'<li><a href="{url}">link {n}</a></li>' for n, url in enumerate(rotated))
    return (
        f"<!doctype html><html><head><title>Page {index}</title></head><body><main>"
        f'<p>Resources</p><ul>{links}<li><a href="{own}">own</a></li></ul></main></body></html>'
    )


@pytest.fixture
def spill_web(tmp_path):
    root = tmp_path / "web"
    for name in "abcd":
        (root / "ok.test").mkdir(parents=True, exist_ok=True)
        (root / "ok.test" / f"{name}.html").write_text(f"<title>{name}</title><p>fine</p>")
    for host in ("gone.test", "moved.test", "ref.test", "late.test", "own.test"):
        (root / host).mkdir(parents=True, exist_ok=True)
        (root / host / "index.html").write_text(f"<title>{host}</title>")
    (root / "moved.test" / "new.html").write_text("<title>new</title>")
    routes: dict[str, Any] = {
        "gone.test": {"/410": {"status": 410}},
        "moved.test": {"/old": {"status": 301, "location": "/new.html"}},
        "late.test": {},
    }
    for i, url in enumerate(EARLY + LATE):
        host, path = url.removeprefix("http://").split("/", 1)
        own = f"http://own.test/only-{i}" + (".html" if i % 2 else "")
        if i % 2:
            (root / "own.test" / f"only-{i}.html").write_text("<title>own</title>")
        (root / host / path).write_text(page(i, own))
        if host == "late.test":
            routes["late.test"][f"/{path}"] = {"delay": LATE_DELAY, "file": f"late.test/{path}"}
    web = LocalWeb(root, routes=routes)
    web.start()
    yield web
    web.stop()


def target_requests(web: LocalWeb) -> Counter[tuple[str, str, str]]:
    """Requests to link targets by (host, path, method): no pages, robots.txt or probes."""
    return Counter(
        (r.host, r.path, r.method)
        for r in web.requests()
        if r.host not in {"ref.test", "late.test"}
        and r.path != "/robots.txt"
        and "-brokenlinks-probe-" not in r.path
    )


def crawl(
    tmp_path: Path, web: LocalWeb, monkeypatch, name: str, bound: int, **settings: Any
) -> CrawlResult:
    """One crawl of the spill web, with its own TMPDIR (to see what it leaves there)."""
    work = tmp_path / name
    (work / "tmp").mkdir(parents=True)
    web.reset()
    seeds = write_seeds(work, EARLY + LATE)
    monkeypatch.setenv("TMPDIR", str(work / "tmp"))
    result = run_crawl(
        work,
        web,
        {"seeds": str(seeds)},
        # nothing here hangs, and the late pages answer after LATE_DELAY: a loaded machine
        # must not time them out (the runs compare their requests one for one)
        settings={"BROKENLINKS_VERDICTS_IN_MEMORY": bound, "DOWNLOAD_TIMEOUT": 15, **settings},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result.requests = target_requests(web)  # type: ignore[attr-defined]
    result.left = sorted(p.name for p in (work / "tmp").iterdir())  # type: ignore[attr-defined]
    return result


def comparable_items(result: CrawlResult) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(sorted((k, repr(v)) for k, v in item.items() if k != "checked_at"))
        for item in result.items
    )


def comparable_rows(result: CrawlResult) -> dict[str, list[tuple[Any, ...]]]:
    """The pages, targets, links and checks, without ids and times (URLs for the ids)."""
    rows = result.rows
    pages = {p["id"]: p["url"] for p in rows["pages"]}
    targets = {t["id"]: t["url"] for t in rows["targets"]}

    def keep(row: dict[str, Any]) -> tuple[Any, ...]:
        named = {
            **row,
            "page": pages.get(row.get("page_id")),
            "target": targets.get(row.get("target_id")),
        }
        return tuple(
            sorted(
                (k, v) for k, v in named.items() if k != "id" and not k.endswith(("_id", "_at"))
            )
        )

    return {
        name: sorted(keep(row) for row in rows[name])
        for name in ("pages", "targets", "links", "checks")
    }


def test_a_bound_of_two_gives_the_same_results_with_each_target_checked_once(
    tmp_path, spill_web, monkeypatch
):
    free = crawl(tmp_path, spill_web, monkeypatch, "free", 0)
    bounded = crawl(tmp_path, spill_web, monkeypatch, "bounded", 2)

    # the same prospects and database rows
    assert comparable_items(bounded) == comparable_items(free)
    assert len(free.items) == 4 * len(EARLY + LATE) + 4  # 4 dead shared, 4 dead own
    assert comparable_rows(bounded) == comparable_rows(free)
    # each target checked once: the same requests, none sent twice
    assert bounded.requests == free.requests
    assert all(count == 1 for count in bounded.requests.values()), bounded.requests
    assert bounded.requests[("ok.test", "/a.html", "HEAD")] == 1
    assert bounded.requests[("gone.test", "/missing-1", "GET")] == 1  # a 404 HEAD, confirmed
    assert bounded.stats["brokenlinks/targets/checked"] == len(SHARED) + len(EARLY + LATE)
    assert (
        bounded.stats["brokenlinks/targets/checked"] == free.stats["brokenlinks/targets/checked"]
    )
    # the bounded crawl spilled, and found spilled verdicts again
    assert "brokenlinks/verdicts/spilled" not in free.stats
    assert bounded.stats["brokenlinks/verdicts/spilled"] >= len(SHARED)
    # each late page finds at least all but two (the bound) of the shared targets on disk
    assert bounded.stats["brokenlinks/verdicts/spill_hits"] >= (len(SHARED) - 2) * len(LATE)
    # the spill's temporary directory is gone with the crawl
    assert bounded.left == []
    assert free.left == []


def test_the_bound_works_without_the_store(tmp_path, spill_web, monkeypatch):
    free = crawl(tmp_path, spill_web, monkeypatch, "free", 0, BROKENLINKS_STORE_ENABLED=False)
    # no store to read the stats from: Scrapy's stats dump (off by default) says them
    bounded = crawl(
        tmp_path,
        spill_web,
        monkeypatch,
        "bounded",
        2,
        BROKENLINKS_STORE_ENABLED=False,
        STATS_DUMP=True,
    )
    assert comparable_items(bounded) == comparable_items(free)
    assert len(bounded.items) == 4 * len(EARLY + LATE) + 4
    assert bounded.requests == free.requests
    assert re.search(r"'brokenlinks/verdicts/spill_hits': [1-9]", bounded.stderr)
    assert bounded.left == []


def test_the_spill_is_removed_when_the_crawl_is_forced_to_stop(tmp_path, spill_web):
    """Two Ctrl-C: Scrapy stops at once, without closing the spider; the exit removes it."""
    spill_tmp = tmp_path / "tmp"
    spill_tmp.mkdir()
    seeds = write_seeds(tmp_path, EARLY + LATE)
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    settings = {
        "BROKENLINKS_RESOLVE": resolve_map(spill_web),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BROKENLINKS_VERDICTS_IN_MEMORY": 2,
        "LOG_LEVEL": "INFO",
    }
    for key, value in settings.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    env = {**os.environ, "TMPDIR": str(spill_tmp), "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    proc = subprocess.Popen(
        cmd, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    # the log is read as it comes: the second Ctrl-C waits for the first one's line
    lines: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()

    def wait_for(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, f"{what} within 60 s: {''.join(lines)[-3000:]}"
            time.sleep(0.05)

    try:
        # the spill's own database file, not just any temporary entry: the worker pool's fork
        # server puts its socket directory in TMPDIR first
        spilled: list[Path] = []

        def spill_made() -> bool:
            spilled[:] = spill_tmp.glob("brokenlinks-verdicts-*/verdicts.sqlite3")
            return bool(spilled)

        wait_for(spill_made, "no spill")
        proc.send_signal(signal.SIGINT)
        # Scrapy took the first one (a graceful stop begun) before the second forces it
        wait_for(lambda: any("shutting down gracefully" in line for line in lines), "no stop")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=60)
        proc.stderr.close()
    stderr = "".join(lines)
    assert "forcing unclean shutdown" in stderr
    assert not any(path.exists() for path in spilled)
    assert list(spill_tmp.iterdir()) == []


def test_the_bound_works_with_the_store_on_postgres(tmp_path, spill_web, monkeypatch, pg):
    url = pg.create_database("spill_bound")
    free = crawl(tmp_path, spill_web, monkeypatch, "free", 0)
    bounded = crawl(
        tmp_path, spill_web, monkeypatch, "pg", 2, BROKENLINKS_DATABASE_URL=url, STATS_DUMP=True
    )
    assert comparable_items(bounded) == comparable_items(free)
    assert bounded.requests == free.requests
    assert all(count == 1 for count in bounded.requests.values()), bounded.requests
    assert re.search(r"'brokenlinks/verdicts/spill_hits': [1-9]", bounded.stderr)
    engine = db.create_engine_from_url(url)
    try:
        counts = store.count_rows(engine)
    finally:
        engine.dispose()
    expected = {name: len(free.rows[name]) for name in ("pages", "targets", "links", "checks")}
    assert {name: counts[name] for name in expected} == expected
    assert bounded.left == []
