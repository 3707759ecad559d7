"""Two Scrapyd nodes, one PostgreSQL: the seeds split by site, one part per node.

Everything is real and local: two Scrapyd servers (own ports, directories, credentials),
one throwaway PostgreSQL cluster, ``scrapyd-deploy -a`` to both, ``scrapy splitseeds`` for
the parts, one ``schedule.json`` call per node with the same ``BROKENLINKS_DATABASE_URL``.
Every server is stopped by its PID at the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from brokenlinks.parsing.sites import site_of

from .conftest import PROJECT, resolve_map, write_seeds
from .redis_support import RedisServer
from .scrapyd_support import PROJECT_NAME, ScrapydServer, copy_project, deploy

pytestmark = pytest.mark.e2e

USERNAME = "agency"
PASSWORD = "two-nodes"
PAGES = [
    "http://blog.test/resources.html",
    "http://news.test/article.html",
    "http://blocked.test/",
    "http://news.test/other.html",
]


@pytest.fixture(scope="module")
def postgres(pg):
    """The URL of a fresh database on the session's PostgreSQL server."""
    return pg.create_database("multinode")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("nodes")
    servers = [
        ScrapydServer(root / f"node{i}", username=USERNAME, password=PASSWORD) for i in (1, 2)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def query(url, sql):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_two_nodes_share_one_postgresql(nodes, postgres, test_web, tmp_path):
    test_web.reset()
    project = copy_project(tmp_path / "project")
    targets = {f"node{i}": node.url for i, node in enumerate(nodes, start=1)}
    deployed = deploy(project, targets, username=USERNAME, password=PASSWORD, version="v1")
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    answers = [json.loads(line) for line in deployed.stdout.splitlines() if line.strip()]
    assert [(a["status"], a["node_name"]) for a in answers] == [
        ("ok", node.node_name) for node in nodes
    ]

    seeds = write_seeds(tmp_path, PAGES, name="pages.txt")
    split = subprocess.run(
        [sys.executable, "-m", "scrapy", "splitseeds", str(seeds), "-n", "2", "-d", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert split.returncode == 0, split.stderr
    parts = [tmp_path / f"pages-{i}-of-2.txt" for i in (1, 2)]

    jobs = []
    for node, part in zip(nodes, parts, strict=True):
        answer = node.post(
            "schedule.json",
            [
                ("project", PROJECT_NAME),
                ("spider", "backlinks"),
                ("seeds", str(part)),
                ("setting", f"BROKENLINKS_DATABASE_URL={postgres}"),
                ("setting", f"BROKENLINKS_RESOLVE={json.dumps(resolve_map(test_web))}"),
                ("setting", "DOWNLOAD_TIMEOUT=2"),
            ],
        )
        assert answer["status"] == "ok", answer
        jobs.append(answer["jobid"])
    for node, jobid in zip(nodes, jobs, strict=True):
        node.wait_finished({jobid})
        log = node.job_log("backlinks", jobid)
        assert "Spider closed (finished)" in log, log[-3000:]
        assert "] ERROR:" not in log, log[-3000:]
        # the password-less URL is shown as is; the node wrote to the shared database
        assert f"in {postgres}" in log

    runs = query(postgres, "SELECT spider, finish_reason, arguments FROM crawl_runs")
    assert sorted(json.loads(run["arguments"])["seeds"] for run in runs) == sorted(
        str(p) for p in parts
    )
    assert {run["finish_reason"] for run in runs} == {"finished"}

    pages = query(postgres, "SELECT url FROM pages")
    assert sorted(row["url"] for row in pages) == sorted(PAGES)
    # each site was crawled by one node only
    by_part = [
        {site_of(line) for line in part.read_text().splitlines() if not line.startswith("#")}
        for part in parts
    ]
    assert by_part[0].isdisjoint(by_part[1])
    assert by_part[0] | by_part[1] == {"blog.test", "news.test", "blocked.test"}

    targets = query(postgres, "SELECT url, kind, reason FROM targets WHERE kind IS NOT NULL")
    verdicts = {row["url"]: (row["kind"], row["reason"]) for row in targets}
    assert verdicts["http://gone.test/404"] == ("dead", "http_status")
    assert verdicts["http://mysite.test/old-guide.html"] == ("dead", "http_status")
    assert len(targets) == len(verdicts)
    links = query(
        postgres,
        "SELECT DISTINCT p.url FROM links l JOIN pages p ON p.id = l.page_id",
    )
    assert {row["url"] for row in links} == set(PAGES)


@pytest.fixture(scope="module")
def redis():
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_two_nodes_share_a_scrapy_redis_queue(nodes, postgres, redis, test_web, tmp_path):
    """The same crawl on both nodes, one frontier in Redis: each referring page read once."""
    test_web.reset()
    project = copy_project(tmp_path / "project")
    targets = {f"node{i}": node.url for i, node in enumerate(nodes, start=1)}
    deployed = deploy(project, targets, username=USERNAME, password=PASSWORD, version="v2")
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    seeds = write_seeds(tmp_path, PAGES, name="shared.txt")
    # this run's own keys, kept until both nodes are done, so that a node that starts
    # after the other has finished does not find an empty filter
    run = f"redis-{tmp_path.name}"
    settings = {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "REDIS_URL": redis.url,
        "SCHEDULER_PERSIST": "True",
        "SCHEDULER_QUEUE_KEY": f"{run}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{run}:%(spider)s:dupefilter",
        "BROKENLINKS_DATABASE_URL": postgres,
        "BROKENLINKS_RESOLVE": json.dumps(resolve_map(test_web)),
        "DOWNLOAD_TIMEOUT": "2",
    }
    jobs = []
    for node in nodes:
        answer = node.post(
            "schedule.json",
            [
                ("project", PROJECT_NAME),
                ("spider", "backlinks"),
                ("_version", "v2"),
                ("seeds", str(seeds)),
                *(("setting", f"{k}={v}") for k, v in settings.items()),
            ],
        )
        assert answer["status"] == "ok", answer
        jobs.append(answer["jobid"])
    crawled = 0
    for node, jobid in zip(nodes, jobs, strict=True):
        node.wait_finished({jobid})
        log = node.job_log("backlinks", jobid)
        assert "Spider closed (finished)" in log, log[-3000:]
        assert "] ERROR:" not in log, log[-3000:]
        assert "scrapy_redis.scheduler.Scheduler" in log
        match = re.search(r"'brokenlinks/pages/crawled': (\d+)", log)
        crawled += int(match[1]) if match else 0
    # every referring page read once in all, by one node or the other
    assert crawled == len(PAGES)
    fetched = [
        r.host + r.path
        for r in test_web.requests()
        if r.method == "GET"
        and r.path != "/robots.txt"
        and r.host in {"blog.test", "news.test", "blocked.test"}
    ]
    assert sorted(fetched) == sorted(url.removeprefix("http://") for url in PAGES)
    runs = query(postgres, "SELECT arguments FROM crawl_runs")
    assert sum(json.loads(r["arguments"])["seeds"] == str(seeds) for r in runs) == 2
