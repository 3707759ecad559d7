"""End to end: link checks in shard processes (``BROKENLINKS_CHECK_SHARDS``).

The resource-page crawl of ``test_crawl_backlinks`` runs again with two shards, and every
one of its assertions must hold unchanged (verdicts case by case, one check per target,
politeness, robots.txt, rows, summary). Then what only shards can break: a host that
serves referring pages *and* targets keeps its one limit, and a shard killed mid-crawl
is started again with nothing lost.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import (
    NO_LAG_CONTROL,
    PROJECT,
    read_tables,
    resolve_map,
    run_crawl,
    write_seeds,
)
from .test_crawl_backlinks import (  # the same assertions, on a crawl through shards
    RESOURCE_PAGES,
    ROBOTS_DISALLOWED,
    test_case_by_case,
    test_database_rows,
    test_every_checked_link_gets_its_verdict,
    test_head_first_and_bodies_capped,
    test_one_check_per_target_and_fan_out,
    test_politeness_per_host,
    test_prospects_carry_every_contract_field,
    test_robots_txt_is_obeyed_for_referring_pages,
    test_summary_in_log,
)

pytestmark = pytest.mark.e2e

__all__ = [
    "test_case_by_case",
    "test_database_rows",
    "test_every_checked_link_gets_its_verdict",
    "test_head_first_and_bodies_capped",
    "test_one_check_per_target_and_fan_out",
    "test_politeness_per_host",
    "test_prospects_carry_every_contract_field",
    "test_robots_txt_is_obeyed_for_referring_pages",
    "test_summary_in_log",
]

SHARDS = {"BROKENLINKS_CHECK_SHARDS": 2}


@pytest.fixture(scope="module")
def resource_crawl(tmp_path_factory, test_web):
    """The resource pages of test_crawl_backlinks, checked by two shard processes."""
    test_web.reset()
    tmp = tmp_path_factory.mktemp("sharded")
    seeds = write_seeds(tmp, [*RESOURCE_PAGES, ROBOTS_DISALLOWED, RESOURCE_PAGES[0]])
    result = run_crawl(
        tmp,
        test_web,
        {"seeds": str(seeds)},
        settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 4, **SHARDS, **NO_LAG_CONTROL},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result.web_requests = test_web.requests()  # type: ignore[attr-defined]
    result.max_in_flight = {  # type: ignore[attr-defined]
        host: test_web.max_in_flight(host) for host in ("slow.test", "ok.test", "gone.test")
    }
    return result


def test_the_checks_ran_in_the_shards(resource_crawl):
    stats = resource_crawl.stats
    assert stats["brokenlinks/shards/processes"] == 2
    assert "brokenlinks/shards/died" not in stats
    # the shards' downloads are counted once, in the crawl's stats
    served = len(resource_crawl.web_requests)
    assert stats["downloader/request_count"] >= served - 5
    assert stats["brokenlinks/requests/head"] > 50
    assert "[shard 1/2]" in resource_crawl.stderr
    assert "[shard 2/2]" in resource_crawl.stderr


def test_pages_and_checks_of_one_host_share_its_limit(tmp_path, web):
    # slow.test serves referring pages (each 0.5 s) and is the target of 24 links: with
    # shards its pages are fetched by the shard that checks its links, in one slot
    pages = [f"http://slow.test/page-{n}.html" for n in range(40)]
    seeds = write_seeds(tmp_path, ["http://blog.test/slow-links.html", *pages])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={"CONCURRENT_REQUESTS_PER_DOMAIN": 2, **SHARDS, **NO_LAG_CONTROL},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = {r.path for r in web.requests() if r.host == "slow.test"}
    assert {f"/page-{n}.html" for n in range(40)} <= fetched
    assert len([p for p in result.rows["pages"] if p["url"].startswith("http://slow.test/")]) == 40
    assert web.max_in_flight("slow.test") == 2
    assert "brokenlinks/lag/max" not in result.stats  # the lag control was off


def _shard_pids(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"brokenlinks.cluster.node" in argv:
            pids.append(int(entry.name))
    return sorted(pids)


def test_a_killed_shard_is_started_again_and_nothing_is_lost(tmp_path, web, expected):
    seeds = write_seeds(tmp_path, ["http://blog.test/slow-links.html", *RESOURCE_PAGES[:2]])
    db = tmp_path / "brokenlinks.sqlite3"
    out = tmp_path / "prospects.jsonl"
    settings = {
        "BROKENLINKS_RESOLVE": resolve_map(web),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db}",
        "DOWNLOAD_TIMEOUT": 2,
        "LOG_LEVEL": "INFO",
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        **SHARDS,
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-O", str(out)]
    cmd += ["-a", f"seeds={seeds}"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={json.dumps(value) if isinstance(value, dict) else value}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    crawl = subprocess.Popen(
        cmd, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        killed = None
        deadline = time.monotonic() + 60
        # slow.test's 24 links, one at a time, take 12 s: kill its shard while it works
        while killed is None and time.monotonic() < deadline and crawl.poll() is None:
            if any(r.host == "slow.test" for r in web.requests()):
                pids = _shard_pids(crawl.pid)
                if len(pids) == 2:
                    killed = pids[0]
                    os.kill(killed, signal.SIGKILL)
                    for pid in pids[1:]:
                        os.kill(pid, signal.SIGKILL)
                    break
            time.sleep(0.05)
        _, stderr = crawl.communicate(timeout=240)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()
    assert killed is not None, "no shard was found to kill"
    assert crawl.returncode == 0, stderr[-3000:]
    assert re.search(r"Check shard [12] died \(exit status -9\): starting it again", stderr)
    rows = read_tables(db)
    targets = {row["url"]: row for row in rows["targets"]}
    for link in expected["http://blog.test/slow-links.html"]:
        if link["kind"] == "unchecked":
            continue
        assert targets[link["target_url"]]["kind"] == link["kind"], link["target_url"]
    assert json.loads(rows["crawl_runs"][-1]["stats"])["brokenlinks/shards/died"] == 2
