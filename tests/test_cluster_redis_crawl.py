"""End to end: two nodes (two ``scrapy crawl`` processes) share their checks through Redis.

Everything is real and on loopback: one throwaway Redis, the test web, and for the first
test one PostgreSQL database both nodes write to. Each node tells itself apart by its
``USER_AGENT``, so that the server's request log says which node made each request.

- Two nodes crawl half the seeds each (pages of one link to targets of the other's): every
  target is checked by one node only (every request to it from one node, the request
  sequences of one crawl), a host's pages and checks keep its one limit across both nodes,
  every verdict is right, and the store holds each verdict once.
- The same seeds on two nodes through one scrapy-redis queue: the cluster's namespace is
  derived from ``SCHEDULER_QUEUE_KEY``, each page is read once and each target checked once.
- Without a reachable Redis, a node checks with its own shards (one WARNING).
- A node killed while it checks: its shards are taken over by the other node, which
  redoes what it had claimed and finishes with every verdict.
- The referring pages of a scrapy-redis queue (``brokenlinks.cluster.pages``): every page
  popped ends acknowledged, the odd ones too (robots.txt, redirects, errors, not HTML);
  a node killed while it holds popped pages whose records are not stored: the other node
  puts them back once the dead node's heartbeat is a lease old, reads them and stores
  them, and every dead link only they had is found, each page stored once. A node whose
  own pages are done waits while a live node holds pages, and reads them when it dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

import pytest
import redis
import sqlalchemy as sa

from brokenlinks.testing.localweb import LocalWeb

from .conftest import (
    NO_LAG_CONTROL,
    PROJECT,
    read_tables,
    refused_port,
    resolve_map,
    run_crawl,
    write_seeds,
)
from .redis_support import RedisServer
from .test_crawl_backlinks import RESOURCE_PAGES, ROBOTS_DISALLOWED, checked_links

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

#: referring pages on slow.test (0.3 s each), whose links slow-links.html checks too
SLOW_PAGES = [f"http://slow.test/maker-{n}" for n in range(101, 117)]


@pytest.fixture(scope="module")
def redis_url():
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


class Node:
    """One ``scrapy crawl backlinks`` process: a node of the cluster."""

    def __init__(
        self,
        tmp: Path,
        name: str,
        seeds: Path,
        settings: dict[str, object],
        *,
        core: int | None = None,
    ) -> None:
        self.name = name
        self.out = tmp / f"{name}.jsonl"
        self.log = tmp / f"{name}.log"
        cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-O", str(self.out)]
        if core is not None:  # a node of one core (its affinity)
            cmd = ["taskset", "-c", str(core), *cmd]
        cmd += ["-a", f"seeds={seeds}"]
        for key, value in {**settings, "USER_AGENT": f"brokenlinks-{name}"}.items():
            text = json.dumps(value) if isinstance(value, dict | list | bool) else str(value)
            cmd += ["-s", f"{key}={text}"]
        # temporary files under the test's directory: a node killed (the dead-node test)
        # cannot remove its shards' socket directory itself
        (tmp / f"{name}-tmp").mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
            "TMPDIR": str(tmp / f"{name}-tmp"),
        }
        with self.log.open("wb") as log:
            # a session of its own: the test kills the node with its shard processes
            self.process = subprocess.Popen(
                cmd,
                cwd=PROJECT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait(self, timeout: float = 240) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        else:
            # its shard processes, if any outlived it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    @property
    def items(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def query(url: str, sql: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(sa.text(sql))]
    finally:
        engine.dispose()


def timeouts(stats: dict) -> int:
    """How many downloads of a crawl (its shards' included) timed out."""
    return sum(
        value
        for key, value in stats.items()
        if key.startswith("downloader/exception_type_count/") and key.endswith("TimeoutError")
    )


def spare_requests(runs: list[dict], requests: list) -> int:
    """How many requests beyond a crawl's own the nodes' timeouts may have caused.

    With ``DOWNLOAD_TIMEOUT`` 2, a loaded machine can time out a request the server answers
    (slow.test's 0.3 s ones): that request is retried, or confirmed later, and the server
    sees one request more for each such timeout. hang.test's requests all time out by
    design: the ones the server saw are not spare.
    """
    hung = len([r for r in requests if r.host == "hang.test"])
    return max(0, sum(timeouts(stats) for stats in runs) - hung)


def collapse(methods: list[str]) -> list[str]:
    """*methods* with each run of one method made one (a retry repeats its request).

    >>> collapse(["HEAD", "HEAD", "GET", "GET"])
    ['HEAD', 'GET']
    """
    return [m for i, m in enumerate(methods) if i == 0 or methods[i - 1] != m]


def node_of(request) -> str:
    return request.headers.get("User-Agent", request.headers.get("user-agent", ""))


def wait_for(condition, what: str, node: Node, timeout: float = 90) -> None:
    """Return once *condition()* holds; fail with *node*'s log after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: {node.output[-3000:]}")
        time.sleep(0.05)


def cluster_settings(web, redis_url: str, key: str) -> dict[str, object]:
    return {
        "BROKENLINKS_RESOLVE": resolve_map(web),
        "DOWNLOAD_TIMEOUT": 2,
        "LOG_LEVEL": "INFO",
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "BROKENLINKS_CHECK_SHARDS": 2,
        "BROKENLINKS_CLUSTER_KEY": key,
        "REDIS_URL": redis_url,
    }


#: each node's half of the seeds: pages of one node link to the targets of the other's
#: (gone.test/404 from resources.html and article.html, mysite.test/old-guide.html from
#: article.html and other.html), and both read pages on slow.test, whose 24 links
#: slow-links.html checks
HALVES = (
    [RESOURCE_PAGES[0], RESOURCE_PAGES[2], RESOURCE_PAGES[3], *SLOW_PAGES[::2]],
    [RESOURCE_PAGES[1], RESOURCE_PAGES[4], ROBOTS_DISALLOWED, *SLOW_PAGES[1::2]],
)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory, test_web, redis_url, pg):
    """The resource pages and 16 slow.test pages, half on each node, one PostgreSQL."""
    test_web.reset()
    tmp = tmp_path_factory.mktemp("redis-cluster")
    database = pg.create_database("redis_cluster")
    settings = {
        **cluster_settings(test_web, redis_url, "t-two-nodes"),
        "BROKENLINKS_DATABASE_URL": database,
        # the first node up does not do everything before the other has started
        "BROKENLINKS_CLUSTER_NODES": 2,
        # the loop-lag control off: on a busy machine it lowers a node's budget, and
        # slow.test's limit of 2 (test_a_hosts_limit_holds_across_nodes) could go unreached
        **NO_LAG_CONTROL,
    }
    started = time.monotonic()
    nodes = [
        Node(tmp, f"node{i}", write_seeds(tmp, half, name=f"seeds{i}.txt"), settings)
        for i, half in enumerate(HALVES, start=1)
    ]
    try:
        codes = [node.wait() for node in nodes]
    finally:
        for node in nodes:  # one that timed out must not leave the other running
            node.kill()
    for node, code in zip(nodes, codes, strict=True):
        assert code == 0, node.output[-4000:]
    requests = test_web.requests()
    runs = [json.loads(r["stats"]) for r in query(database, "SELECT stats FROM crawl_runs")]
    return {
        "nodes": nodes,
        "database": database,
        "requests": requests,
        "runs": runs,
        "spare": spare_requests(runs, requests),
        "max_in_flight": {h: test_web.max_in_flight(h) for h in ("slow.test", "gone.test")},
        "wall": time.monotonic() - started,
        "lost": [
            line for n in nodes for line in n.output.splitlines() if "Lost the lease" in line
        ],
    }


def test_each_target_is_checked_by_one_node_once(two_nodes, expected):
    targets = {link["target_url"] for _, link in checked_links(expected, RESOURCE_PAGES)}
    by_url = defaultdict(list)
    for request in two_nodes["requests"]:
        by_url[f"http://{request.host}{request.path}"].append(request)
    checked = 0
    for url in targets:
        requests = by_url.get(url or "", [])
        if not requests:
            continue
        checked += 1
        # a check's retries and confirmation included: all of it by one node
        made = [(node_of(r), r.method, r.time) for r in requests]
        assert len({node for node, _, _ in made}) == 1, (url, made, two_nodes["lost"])
    assert checked > 40
    # the request sequences of one crawl (test_crawl_backlinks), made once in the cluster:
    # gone.test/404 is linked from two pages (HEAD, then one confirming GET); a request
    # repeated after a timeout is one of the timeouts' spare requests, and no more
    extra = 0
    for url, methods in [
        ("http://gone.test/404", ["HEAD", "GET"]),
        ("http://ok.test/page", ["HEAD"]),
        ("http://nohead.test/head-405", ["HEAD", "GET"]),
    ]:
        made = [r.method for r in by_url[url]]
        assert collapse(made) == methods, (url, made)
        extra += len(made) - len(methods)
    makers = [r for url in targets if "slow.test/" in (url or "") for r in by_url[url]]
    assert len({r.path for r in makers}) == 24
    extra += len(makers) - 24
    assert extra <= two_nodes["spare"], (extra, two_nodes["spare"])


def test_both_nodes_worked_and_shared(two_nodes):
    nodes, database = two_nodes["nodes"], two_nodes["database"]
    runs = [json.loads(r["stats"]) for r in query(database, "SELECT stats FROM crawl_runs")]
    assert len(runs) == 2
    served = sum(s.get("brokenlinks/cluster/served", 0) for s in runs)
    claimed = sum(s.get("brokenlinks/cluster/claimed", 0) for s in runs)
    assert served == claimed > 40
    assert all(s.get("brokenlinks/cluster/served", 0) > 0 for s in runs)
    assert all(s["brokenlinks/cluster/nodes_max"] == 2 for s in runs)
    for node in nodes:
        assert "Checking links with the cluster t-two-nodes:" in node.output
        # two nodes expected: neither took every shard at first to hand half back
        first = re.search(r"holds (\d+) of 64 virtual shards", node.output)
        assert first is not None, node.output[-3000:]
        assert first.group(1) == "32", node.output[-3000:]
    # every referring page was read once, by one of the nodes
    pages = query(database, "SELECT url FROM pages")
    assert sorted(p["url"] for p in pages) == sorted(
        {*RESOURCE_PAGES, ROBOTS_DISALLOWED, *SLOW_PAGES}
    )


def test_a_sites_robots_txt_is_fetched_once_for_both_nodes(two_nodes):
    robots = Counter(r.host for r in two_nodes["requests"] if r.path == "/robots.txt")
    # both nodes read pages of slow.test (and of blog.test): one download each (a download
    # that timed out is repeated: one of the timeouts' spare requests)
    assert robots["slow.test"] >= 1
    assert set(robots.values()) >= {1}, robots
    assert sum(robots.values()) - len(robots) <= two_nodes["spare"], robots
    runs = two_nodes["runs"]
    assert sum(s.get("brokenlinks/cluster/robots_shared", 0) for s in runs) >= 1


def test_a_hosts_limit_holds_across_nodes(two_nodes):
    slow = [r for r in two_nodes["requests"] if r.host == "slow.test"]
    # its pages and its checks: both nodes' pages, one owner
    assert len({node_of(r) for r in slow}) == 2  # pages of both nodes' queues
    assert two_nodes["max_in_flight"]["slow.test"] == 2
    assert two_nodes["max_in_flight"]["gone.test"] <= 2
    paths = {p.removeprefix("http://slow.test") for p in SLOW_PAGES}
    pages = [r for r in slow if r.path in paths]
    # each page read once (a read that timed out is repeated: a spare request)
    assert {r.path for r in pages} == paths
    assert len(pages) - 16 <= two_nodes["spare"], (len(pages), two_nodes["spare"])


def test_verdicts_right_and_stored_once(two_nodes, expected):
    database = two_nodes["database"]
    targets = {row["url"]: row for row in query(database, "SELECT * FROM targets")}
    seen = 0
    for page, link in checked_links(expected, RESOURCE_PAGES):
        key = link["target_url"] if link["target_url"] is not None else link["href"].strip()
        row = targets[key]
        got = (row["kind"], row["reason"], row["status"], row["final_url"])
        want = (link["kind"], link["reason"], link["status"], link["final_url"])
        assert got == want, f"{page} -> {key}"
        seen += 1
    assert seen > 70
    checks = query(database, "SELECT target_id, count(*) AS n FROM checks GROUP BY target_id")
    assert checks
    assert {row["n"] for row in checks} == {1}


@pytest.mark.parametrize("one_core", [False, True], ids=["two shards each", "one core each"])
def test_two_nodes_on_one_scrapy_redis_queue(tmp_path, test_web, redis_url, expected, one_core):
    """The same seeds on both nodes through scrapy-redis: the cluster's key is derived.

    Nodes of one core each, with the default shards (one per core), are in the cluster
    too: one shard process each.
    """
    test_web.reset()
    seeds = write_seeds(tmp_path, [*RESOURCE_PAGES, *SLOW_PAGES])
    # a queue of its own: the dupefilter of another run (SCHEDULER_PERSIST) would drop every seed
    queue = "t-queue-1core" if one_core else "t-queue"
    settings = {
        **cluster_settings(test_web, redis_url, ""),
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"{queue}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{queue}:%(spider)s:dupefilter",
        # a few pages at a time: the node that starts first does not take them all
        "CONCURRENT_REQUESTS": 4,
    }
    del settings["BROKENLINKS_CLUSTER_KEY"]
    if one_core:
        del settings["BROKENLINKS_CHECK_SHARDS"]
    cores = len(os.sched_getaffinity(0))
    nodes = [
        Node(
            tmp_path,
            f"node{i}",
            seeds,
            {**settings, "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / f'node{i}'}.sqlite3"},
            core=i % cores if one_core else None,
        )
        for i in (1, 2)
    ]
    try:
        codes = [node.wait() for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, code in zip(nodes, codes, strict=True):
        assert code == 0, node.output[-4000:]
        assert f"Checking links with the cluster {queue}:backlinks:requests:checks:" in node.output
        shards = 1 if one_core else 2
        assert f"Checking links in {shards} shard processes" in node.output
    # each page read once, by one node, each target checked by one node (a read that
    # timed out is repeated: one of the timeouts' spare requests)
    requests = test_web.requests()
    runs = [
        json.loads(run["stats"])
        for name in ("node1", "node2")
        for run in read_tables(tmp_path / f"{name}.sqlite3").get("crawl_runs", [])
    ]
    assert len(runs) == 2
    # every page popped was held by its node until stored, then acknowledged
    assert_every_page_acknowledged(redis_url, f"{queue}:backlinks:requests", runs)
    assert sum(s["brokenlinks/cluster/pages_taken"] for s in runs) >= 21
    spare = spare_requests(runs, requests)
    extra = 0
    for page in [*RESOURCE_PAGES, *SLOW_PAGES]:
        path = page.split("/", 3)[3]
        host = page.split("/")[2]
        reads = len([r for r in requests if r.host == host and r.path == f"/{path}"])
        assert reads >= 1, page
        extra += reads - 1
    assert extra <= spare, (extra, spare)
    by_url = defaultdict(set)
    for request in requests:
        by_url[f"http://{request.host}{request.path}"].add(node_of(request))
    targets = {}
    for name in ("node1", "node2"):
        for row in read_tables(tmp_path / f"{name}.sqlite3").get("targets", []):
            targets.setdefault(row["url"], row)
    for page, link in checked_links(expected, RESOURCE_PAGES):
        assert len(by_url.get(link["target_url"] or "", {"-"})) == 1, link["target_url"]
        row = targets[
            link["target_url"] if link["target_url"] is not None else link["href"].strip()
        ]
        assert (row["kind"], row["reason"]) == (link["kind"], link["reason"]), page
    assert test_web.max_in_flight("slow.test") <= 2
    if one_core:
        return
    # a node started after the others finished (SCHEDULER_PERSIST): every seed is queued
    # already, and it skips them before they become requests (brokenlinks.cluster.seeds)
    late = Node(
        tmp_path,
        "node3",
        seeds,
        {**settings, "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / 'node3'}.sqlite3"},
    )
    try:
        assert late.wait() == 0, late.output[-4000:]
    finally:
        late.kill()
    count = len([*RESOURCE_PAGES, *SLOW_PAGES])
    assert f"{count} of {count} referring pages were queued by another node already" in (
        late.output
    )
    assert "referring pages: 0 crawled" in late.output


def assert_every_page_acknowledged(redis_url: str, queue: str, runs: list[dict]) -> None:
    """Nothing is left taken in Redis, and each node acknowledged every page it popped."""
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.keys(f"{queue}:taken:*") == []
        assert client.zcard(f"{queue}:nodes") == 0
    finally:
        client.close()
    for stats in runs:
        taken = stats.get("brokenlinks/cluster/pages_taken", 0)
        assert stats.get("brokenlinks/cluster/pages_acked", 0) == taken, stats
        assert "brokenlinks/cluster/pages_given_back" not in stats, stats


#: quick checks node1 finishes before it is killed (other.html's targets)
QUICK = {("mysite.test", "/old-guide.html"), ("shop.mysite.test", "/"), ("gone.test", "/410")}


def test_a_killed_node_is_taken_over(tmp_path, web, redis_url, expected):
    pages = ["http://blog.test/slow-links.html", "http://news.test/other.html"]
    makers = {f"/maker-{n}" for n in range(1, 25)}
    seeds = write_seeds(tmp_path, pages)
    settings = {
        **cluster_settings(web, redis_url, "t-killed"),
        # slow.test's 24 links one at a time, 1 s each: node1 is still at them when killed
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 0.7,
        # node1's shards are taken over 4 s after it died (10 by default)
        "BROKENLINKS_CLUSTER_LEASE": 4,
        # nothing here hangs: a loaded machine must not time out a check this test counts
        "DOWNLOAD_TIMEOUT": 15,
    }

    def database(name: str) -> dict[str, str]:
        return {"BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite3"}

    def made_by(node: str, host: str | None = None) -> list:
        return [r for r in web.requests(host=host) if node_of(r) == f"brokenlinks-{node}"]

    first = Node(tmp_path, "node1", seeds, {**settings, **database("node1")})
    second = None
    try:
        # node1 alone leases every shard: other.html's targets checked, slow.test's begun
        wait_for(
            lambda: (
                {(r.host, r.path) for r in made_by("node1") if r.status} >= QUICK
                and len(made_by("node1", "slow.test")) >= 2
            ),
            "node1 checked nothing",
            first,
        )
        time.sleep(1)
        # node2 joins the cluster (node1 holds every shard), then node1 dies
        second = Node(tmp_path, "node2", seeds, {**settings, **database("node2")})
        wait_for(
            lambda: "Checking links with the cluster" in second.output, "node2 never joined", first
        )
        begun = {r.path for r in made_by("node1", "slow.test")} & makers
        assert len(begun) < len(makers), "node1 was done before it could be killed"
        first.kill()
        killed_at = time.monotonic()
        assert second.wait() == 0, second.output[-4000:]
    finally:
        first.kill()
        if second is not None:
            second.kill()
    output = second.output
    # what node1 had decided stays decided: node2 asked nothing of those hosts
    assert not {(r.host, r.path) for r in made_by("node2")} & QUICK
    # what node1 had claimed and not answered, node2 checked once, after node1's leases
    # expired (node1 claimed all 24; its checks of one host go one at a time, each after
    # the one before, so some may have been answered before it died)
    answered = {r.path for r in made_by("node1", "slow.test") if r.status} & makers
    redone = [r for r in made_by("node2", "slow.test") if r.path in makers]
    assert {r.path for r in redone} >= makers - answered, output[-3000:]
    assert {r.path for r in redone} | answered == makers
    assert len(redone) == len({r.path for r in redone})
    assert [r.method for r in redone] == ["HEAD"] * len(redone)
    assert all(r.time > killed_at for r in redone)
    assert web.max_in_flight("slow.test") == 1
    rows = read_tables(tmp_path / "node2.sqlite3")
    targets = {row["url"]: row for row in rows["targets"]}
    for page, link in checked_links(expected, pages):
        row = targets[link["target_url"]]
        assert (row["kind"], row["reason"]) == (link["kind"], link["reason"]), page
    stats = json.loads(rows["crawl_runs"][-1]["stats"])
    assert stats["brokenlinks/cluster/redone"] >= len(makers - answered), stats
    assert stats["brokenlinks/cluster/shared"] >= 27, stats
    assert "This node holds 64 of 64 virtual shards (1 nodes)" in output


def test_without_redis_the_node_checks_alone(tmp_path, web, expected):
    page = "http://news.test/other.html"
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(write_seeds(tmp_path, [page]))},
        settings={
            "BROKENLINKS_CHECK_SHARDS": 2,
            "REDIS_URL": f"redis://:secret@127.0.0.1:{refused_port()}",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cannot be reached" in result.stderr
    assert "links are checked by this node's shards alone" in result.stderr
    assert "secret" not in result.stderr
    assert "[shard 1/2]" in result.stderr
    targets = {row["url"]: row for row in result.rows["targets"]}
    for _, link in checked_links(expected, [page]):
        assert targets[link["target_url"]]["kind"] == link["kind"], link["target_url"]


def queue_settings(redis_url: str, name: str) -> dict[str, object]:
    """scrapy-redis' scheduler on the test Redis, with keys of the test's own (persisted)."""
    return {
        "REDIS_URL": redis_url,
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"{name}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{name}:%(spider)s:dupefilter",
    }


#: referring pages that make no ordinary PageItem: disallowed by robots.txt, a redirect to
#: another seed, a redirect to itself, an HTTP error, not HTML, a name that resolves nowhere
ODD_PAGES = [
    ROBOTS_DISALLOWED,
    "http://news.test/old-article",
    "http://loop.test/self",
    "http://gone.test/404",
    "http://seeds.test/resources.txt",
    "http://expired-domain.invalid/",
]


def test_every_page_popped_is_acknowledged(tmp_path, web, redis_url):
    """One node on a scrapy-redis queue: every page leaves the taken record, odd ones too."""
    seeds = write_seeds(tmp_path, ["http://news.test/other.html", RESOURCE_PAGES[1], *ODD_PAGES])
    result = run_crawl(
        tmp_path,
        web,
        {"seeds": str(seeds)},
        settings={
            **queue_settings(redis_url, "t-acks"),
            "BROKENLINKS_CHECK_SHARDS": 1,
            # acknowledged batch by batch, the last one written when the crawl is idle
            "BROKENLINKS_STORE_BATCH_SIZE": 3,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Referring pages of t-acks:backlinks:requests are held by node" in result.stderr
    stats = result.stats
    assert_every_page_acknowledged(redis_url, "t-acks:backlinks:requests", [stats])
    # the seeds, and the requests the redirects made
    assert stats["brokenlinks/cluster/pages_taken"] >= 8, stats
    assert stats["brokenlinks/store/batches"] > 3, stats
    stored = {row["url"] for row in result.rows["pages"]}
    assert {"http://news.test/other.html", RESOURCE_PAGES[1], "http://gone.test/404"} <= stored


#: the kill test's referring pages: each links to a dead target of its own and to one
#: target all of them share
KILL_PAGES = 60
KILL_ROUTES = {
    "pages.test": {
        "/p/{n}": {
            "delay": 0.5,
            "body": (
                "<!doctype html><html><head><title>Page {path}</title></head><body>"
                '<p><a href="http://gone.test{path}">only here</a> and '
                '<a href="http://ok.test/shared">everywhere</a></p></body></html>'
            ),
        },
        "default": {"status": 404},
    },
    "gone.test": {"default": {"status": 404}},
    "ok.test": {"default": {"status": 200}},
}


def test_a_killed_nodes_unstored_pages_are_read_by_the_other(tmp_path, redis_url, pg):
    """Killed holding popped pages whose records are unstored: the other node stores them."""
    web = LocalWeb(tmp_path, routes=KILL_ROUTES)
    web.start()
    pages = [f"http://pages.test/p/{n}" for n in range(1, KILL_PAGES + 1)]
    seeds = write_seeds(tmp_path, pages)
    database = pg.create_database("reliable_pages")
    settings = {
        "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{web.port}"},
        "BROKENLINKS_DATABASE_URL": database,
        "LOG_LEVEL": "INFO",
        "DOWNLOAD_TIMEOUT": 15,
        **queue_settings(redis_url, "t-kill"),
        # no check shards: each node downloads the pages it popped (the server's log says
        # which node popped a page); a dead node is one whose heartbeat is 2 s old
        "BROKENLINKS_CHECK_SHARDS": 1,
        "BROKENLINKS_CLUSTER_LEASE": 2,
        # two pages at a time; records written seven at a time (a page makes two or
        # three): when killed, node1 has pages stored and pages whose records wait
        "CONCURRENT_REQUESTS": 2,
        "BROKENLINKS_STORE_BATCH_SIZE": 7,
    }

    def read_by(node: str) -> set[str]:
        return {
            f"http://pages.test{r.path}"
            for r in web.requests(host="pages.test")
            if node_of(r) == f"brokenlinks-{node}" and r.path.startswith("/p/") and r.status
        }

    first = Node(tmp_path, "node1", seeds, settings)
    second = None
    try:
        wait_for(lambda: len(read_by("node1")) >= 4, "node1 read no page", first)
        second = Node(tmp_path, "node2", seeds, settings)
        wait_for(lambda: "Read 60 referring pages" in second.output, "node2 never started", second)
        wait_for(lambda: len(read_by("node1")) >= 12, "node1 read too few pages", first)
        first.kill()
        killed_at = time.monotonic()
        assert second.wait() == 0, second.output[-4000:]
    finally:
        first.kill()
        if second is not None:
            second.kill()
        web.stop()
    output = second.output
    runs = {
        row["id"]: row
        for row in query(database, "SELECT id, stats, finish_reason FROM crawl_runs")
    }
    assert len(runs) == 2
    (run2,) = [i for i, row in runs.items() if row["finish_reason"] == "finished"]
    (run1,) = [i for i in runs if i != run2]
    stats = json.loads(runs[run2]["stats"])
    # every page stored once (one row each, its two links once), every dead link found
    rows = query(database, "SELECT url, last_run_id, error FROM pages")
    assert sorted(row["url"] for row in rows) == sorted(pages)
    assert all(row["error"] is None for row in rows)
    links = query(
        database,
        "SELECT p.url AS page, t.url AS target, t.kind FROM links l "
        "JOIN pages p ON p.id = l.page_id JOIN targets t ON t.id = l.target_id",
    )
    assert len(links) == 2 * KILL_PAGES
    dead = {row["target"] for row in links if row["kind"] == "dead"}
    assert dead == {page.replace("pages.test", "gone.test") for page in pages}
    # node1 stored some pages before it died: node2 did not read those again
    by_node1 = {row["url"] for row in rows if row["last_run_id"] == run1}
    assert by_node1, "node1 stored nothing before it was killed"
    assert not by_node1 & read_by("node2")
    # node1 held pages it had read and not stored: node2 read them again, after the kill
    held = read_by("node1") - by_node1
    assert held, "node1 held no page when it was killed"
    assert held <= read_by("node2")
    again = [
        r
        for r in web.requests(host="pages.test")
        if node_of(r) == "brokenlinks-node2" and f"http://pages.test{r.path}" in held
    ]
    assert all(r.time > killed_at for r in again)
    assert len(again) == len(held)
    assert stats["brokenlinks/cluster/pages_redone"] >= len(held), stats
    # a verdict per check made: one for a page read once; a page read again may have had
    # its first check stored (a batch can end between a page's checks and the page)
    checks = query(
        database,
        "SELECT t.url, count(*) AS n FROM checks c JOIN targets t ON t.id = c.target_id "
        "GROUP BY t.url",
    )
    for row in checks:
        if row["url"] == "http://ok.test/shared":
            assert row["n"] <= 2, row  # checked by each node (no check shards)
        elif row["n"] != 1:
            assert (row["n"], row["url"].replace("gone.test", "pages.test") in held) == (2, True)
    assert "is dead (no heartbeat for 2 s)" in output
    assert "referring pages it had taken and not stored are back in the queue" in output
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.keys("t-kill:backlinks:requests:taken:*") == []
    finally:
        client.close()


#: a page whose first request is answered after 60 s, later ones at once
SLOW_ROUTE = {
    "body": KILL_ROUTES["pages.test"]["/p/{n}"]["body"],
    "fail": {"times": 1, "delay": 60, "body": KILL_ROUTES["pages.test"]["/p/{n}"]["body"]},
}


def test_an_idle_node_waits_for_the_pages_a_live_node_holds(tmp_path, redis_url):
    """Its own pages done, a node stays while another holds pages, and reads them when it dies."""
    routes = {**KILL_ROUTES, "pages.test": {"/slow/{n}": SLOW_ROUTE, **KILL_ROUTES["pages.test"]}}
    web = LocalWeb(tmp_path, routes=routes)
    web.start()
    slow = [f"http://pages.test/slow/{n}" for n in (1, 2)]
    fast = [f"http://pages.test/p/{n}" for n in range(1, 7)]
    settings = {
        "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{web.port}"},
        "LOG_LEVEL": "INFO",
        "DOWNLOAD_TIMEOUT": 90,
        **queue_settings(redis_url, "t-idle"),
        "BROKENLINKS_CHECK_SHARDS": 1,
        "BROKENLINKS_CLUSTER_LEASE": 2,
    }

    def database(name: str) -> dict[str, object]:
        return {"BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite3"}

    # node1 takes the two slow pages (two requests at a time: no room for more)
    first = Node(
        tmp_path,
        "node1",
        write_seeds(tmp_path, slow, name="slow.txt"),
        {**settings, **database("node1"), "CONCURRENT_REQUESTS": 2},
    )
    second = None
    try:
        wait_for(lambda: web.count(host="pages.test") >= 3, "node1 took no page", first)
        second = Node(
            tmp_path,
            "node2",
            write_seeds(tmp_path, fast, name="fast.txt"),
            {**settings, **database("node2")},
        )
        # node2 reads its six pages, then waits for node1's two
        wait_for(
            lambda: "Waiting for 2 referring pages other nodes hold" in second.output,
            "node2 did not wait",
            second,
        )
        first.kill()
        killed_at = time.monotonic()
        assert second.wait() == 0, second.output[-4000:]
    finally:
        first.kill()
        if second is not None:
            second.kill()
        web.stop()
    output = second.output
    assert "is dead (no heartbeat for 2 s): the 2 referring pages" in output
    rows = read_tables(tmp_path / "node2.sqlite3")
    assert sorted(row["url"] for row in rows["pages"]) == sorted([*slow, *fast])
    dead = {row["url"] for row in rows["targets"] if row["kind"] == "dead"}
    assert {"http://gone.test/slow/1", "http://gone.test/slow/2"} <= dead
    for page in slow:
        path = page.removeprefix("http://pages.test")
        requests = web.requests(host="pages.test", path=path)
        assert [node_of(r) for r in requests] == ["brokenlinks-node1", "brokenlinks-node2"]
        assert requests[1].time > killed_at
