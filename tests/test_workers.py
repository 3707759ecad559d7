"""The worker processes of a crawl (``BROKENLINKS_WORKERS``, ``brokenlinks.checker.workers``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_twisted
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.test import get_crawler

from brokenlinks.checker.workers import (
    INLINE_CHARS,
    SCRAPYD_CRAWLS,
    WorkerPool,
    available_cores,
    crawls_sharing_cores,
    processes_for,
)
from brokenlinks.config import BrokenlinksConfig

from .conftest import PROJECT, resolve_map, run_crawl, write_seeds
from .processes import descendants, wait_gone

PAGES = [
    "http://blog.test/resources.html",
    "http://news.test/article.html",
    "http://news.test/other.html",
    "http://blog.test/slow-links.html",
]


def _exit_in_worker(parent: int) -> str:
    """Die when run in a worker process; answer when run in *parent*."""
    if os.getpid() != parent:
        os._exit(3)
    return "read in the crawl process"


def test_processes_for_counts_the_crawl_process():
    assert processes_for(1) == 0
    assert processes_for(2) == 1
    assert processes_for(8) == 7
    assert processes_for(0, crawls=1) == available_cores() - 1
    assert available_cores() >= 1


@pytest.mark.parametrize("value", ["-1", "257", "2.5", "many"])
def test_bad_workers_setting_is_named(value):
    from scrapy.settings import Settings

    with pytest.raises(ValueError, match=r"^BROKENLINKS_WORKERS: ") as info:
        BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_WORKERS": value}))
    assert value in str(info.value)


@pytest_twisted.inlineCallbacks
@pytest.mark.e2e
def test_pool_runs_jobs_in_another_process_until_closed():
    yield deferred_from_coro(_pool_runs_elsewhere())


async def _pool_runs_elsewhere():
    crawler = get_crawler()
    crawler.stats.open_spider()
    pool = WorkerPool(1, crawler.stats)
    here = os.getpid()
    # until the worker answers, jobs run in a thread here: the crawl never waits for it
    assert await pool.run(os.getpid) == here
    assert await pool.ready()
    there = {await pool.run(os.getpid) for _ in range(5)}
    assert here not in there
    assert len(there) == 1, "one worker process"
    assert crawler.stats.get_value("brokenlinks/workers/jobs") == 5
    pool.close()
    # after the spider closed: whatever still runs is read in the crawl's own process
    assert await pool.run(os.getpid) == here


@pytest_twisted.inlineCallbacks
@pytest.mark.e2e
def test_a_broken_pool_is_rebuilt_once_then_the_crawl_process_works(caplog):
    yield deferred_from_coro(_dead_workers(caplog))


async def _dead_workers(caplog):
    crawler = get_crawler()
    crawler.stats.open_spider()
    pool = WorkerPool(1, crawler.stats)
    here = os.getpid()
    assert await pool.ready()
    with caplog.at_level(logging.WARNING, logger="brokenlinks.checker.workers"):
        assert await pool.run(_exit_in_worker, here) == "read in the crawl process"
        # built again: jobs go to a new worker
        assert await pool.ready()
        assert await pool.run(os.getpid) != here
        assert await pool.run(_exit_in_worker, here) == "read in the crawl process"
        # broken twice: the crawl's own process from now on
        assert not await pool.ready()
        assert await pool.run(_exit_in_worker, here) == "read in the crawl process"
    warnings = [r.getMessage() for r in caplog.records if r.name == "brokenlinks.checker.workers"]
    assert len(warnings) == 2, "one warning per break, not one per job"
    assert "starting the workers again" in warnings[0]
    assert "from now on" in warnings[1]
    assert crawler.stats.get_value("brokenlinks/workers/broken") == 2
    assert crawler.stats.get_value("brokenlinks/workers/rebuilt") == 1


@pytest_twisted.inlineCallbacks
def test_without_workers_small_jobs_run_on_the_loop_large_ones_in_a_thread():
    yield deferred_from_coro(_inline_or_thread())


async def _inline_or_thread():
    import threading

    pool = WorkerPool(0)
    loop_thread = threading.get_ident()
    # a thread's hand-off costs more than a small job: it runs on the loop's own thread
    assert await pool.run(threading.get_ident, size=INLINE_CHARS - 1) == loop_thread
    # a large one would stall the loop: a thread
    assert await pool.run(threading.get_ident, size=INLINE_CHARS) != loop_thread
    # no size given: a thread, as before
    assert await pool.run(threading.get_ident) != loop_thread


@pytest.mark.parametrize(
    ("cores", "environ", "processes"),
    [
        (8, {}, 7),
        (8, {"SCRAPY_JOB": "a1b2"}, 1),  # four Scrapyd jobs: 4 x 2 processes on 8 cores
        (16, {"SCRAPY_JOB": "a1b2"}, 3),
        (2, {"SCRAPY_JOB": "a1b2"}, 0),
        (1, {}, 0),
    ],
)
def test_default_shares_the_cores_among_scrapyd_jobs(cores, environ, processes):
    crawls = crawls_sharing_cores(environ)
    assert crawls == (SCRAPYD_CRAWLS if environ else 1)
    assert processes_for(0, cores=cores, crawls=crawls) == processes
    # an explicit setting is taken as it is
    assert processes_for(3, cores=cores, crawls=crawls) == 2


def test_scrapyd_crawls_is_the_shipped_max_proc():
    conf = (PROJECT / "deploy" / "scrapyd.conf").read_text(encoding="utf-8")
    assert f"max_proc     = {SCRAPYD_CRAWLS}" in conf


@pytest_twisted.inlineCallbacks
def test_closing_while_the_workers_start_leaves_no_worker():
    yield deferred_from_coro(_close_during_start())


async def _close_during_start():
    before = descendants(os.getpid())
    pools = [WorkerPool(1) for _ in range(3)]
    for pool in pools:
        pool.start()
    # the loop closes them while their threads are starting the executors
    await asyncio.sleep(0)
    for pool in pools:
        pool.close()
    for pool in pools:
        assert not await pool.ready()
        assert pool._executor is None
    new = {pid for pid in descendants(os.getpid()) - before if "forkserver" not in _cmdline(pid)}
    workers = {pid for pid in new if "resource_tracker" not in _cmdline(pid)}
    assert wait_gone(workers, wait=15) == set()


def _crawl(tmp_path, web, workers: int):
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(write_seeds(tmp_path, PAGES))},
        output=f"workers-{workers}.jsonl",
        settings={"BROKENLINKS_WORKERS": workers},
        db_path=tmp_path / f"workers-{workers}.sqlite3",
        watch=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.items, result.stats, set(result.processes)


@pytest.mark.e2e
def test_crawl_with_workers_finds_what_one_process_finds_and_leaves_no_process(tmp_path, web):
    alone, alone_stats, _ = _crawl(tmp_path, web, workers=1)
    shared, stats, descendants = _crawl(tmp_path, web, workers=3)

    def key(item: dict) -> tuple:
        return tuple(sorted((k, json.dumps(v)) for k, v in item.items() if k != "checked_at"))

    assert len(alone) > 10
    assert sorted(map(key, shared)) == sorted(map(key, alone))
    assert alone_stats["brokenlinks/workers/processes"] == 0
    assert "brokenlinks/workers/jobs" not in alone_stats
    assert stats["brokenlinks/workers/processes"] == 2
    # whether a job of a crawl this short reaches the workers before it ends depends on
    # the machine's load (jobs run in the crawl process until they answer): that they
    # do is test_pool_runs_jobs_in_another_process_until_closed's; here, none broke
    assert "brokenlinks/workers/broken" not in stats
    # the fork server and its workers were seen, and all of them are gone with the crawl
    assert len(descendants) >= 2
    assert wait_gone(descendants) == set()


@pytest.mark.e2e
def test_killing_the_crawl_leaves_no_worker_behind(tmp_path, web):
    # SIGKILL gives the crawl no chance to stop its workers: the fork server exits when its
    # parent's end of their pipe closes, and each worker watches the crawl process (a pidfd,
    # brokenlinks.checker.workers._exit_with) and exits with it
    seeds = write_seeds(tmp_path, PAGES)
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    settings = {
        "BROKENLINKS_RESOLVE": json.dumps(resolve_map(web)),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'killed.sqlite3'}",
        "BROKENLINKS_WORKERS": "3",
        "DOWNLOAD_TIMEOUT": "2",
    }
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    seen: set[int] = set()
    with subprocess.Popen(
        cmd, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        deadline = time.monotonic() + 120
        # the fork server, the resource tracker and two workers
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= descendants(proc.pid)
            workers = [pid for pid in seen if "forkserver" not in _cmdline(pid)]
            if len(seen) >= 4 and workers:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the crawl ended before its workers were seen"
        proc.kill()
        proc.wait(timeout=30)
    assert len(seen) >= 3
    assert wait_gone(seen, wait=15) == set()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest_twisted.inlineCallbacks
def test_workers_ignore_the_terminals_sigint():
    yield deferred_from_coro(_sigint_to_worker())


async def _sigint_to_worker():
    # Ctrl-C reaches the whole process group: the crawl stops gracefully, its workers
    # must not die under it (a dead worker breaks the pool)
    crawler = get_crawler()
    crawler.stats.open_spider()
    pool = WorkerPool(1, crawler.stats)
    assert await pool.ready()
    worker = await pool.run(os.getpid)
    assert worker != os.getpid()
    os.kill(worker, signal.SIGINT)
    await asyncio.sleep(0.5)  # time for the signal to land, not a bound on anything
    assert await pool.run(os.getpid) == worker
    assert crawler.stats.get_value("brokenlinks/workers/broken") is None
    pool.close()
