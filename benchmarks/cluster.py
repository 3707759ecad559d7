"""Cluster benchmark: N nodes on one machine share one crawl through Redis and PostgreSQL.

One command (from the project directory)::

    python benchmarks/cluster.py [--scale 1] [--nodes 1,2,3] [--kill] [--pin]
        [--cpus-per-node F] [--shards 2] [-s NAME=VALUE ...]

generates the web of :mod:`bigweb` (as ``bench.py`` does) and serves it in this process,
starts a throwaway Redis and a throwaway PostgreSQL (``brokenlinks.testing``; Debian's
``redis-server`` and ``postgresql``), and for each node count runs that many
``scrapy crawl backlinks`` processes on the same seeds: referring pages shared through
scrapy-redis' queue, link checks through the check shards' Redis queues
(``brokenlinks.cluster``), every verdict stored in one PostgreSQL database. ``--pin``
pins node *i* to core *i* modulo the cores (``taskset``), so that each node has its own
core where there are enough. ``--cpus-per-node F`` gives each node a CPU budget of its own
instead: F cores' worth of CPU time (a cgroup's CPU bandwidth limit, ``cpu.cfs_quota_us``
or ``cpu.max``), which no other node and no server can take, while Redis, PostgreSQL and
the web server run outside the budgets. On a machine with fewer cores than nodes plus
servers, that is how "each node has its own core" can be measured: with ``--cpus-per-node
0.5`` on two cores, one node or two get half a core each and the servers keep a core.
``-s NAME=VALUE`` (repeatable) adds a Scrapy setting to every node's command line, after
the benchmark's own (``-s BROKENLINKS_RECHECK_AFTER=0``). ``--kill`` adds a run of two
nodes in which the second is killed (SIGKILL, its whole process group) once the server
has answered a third of the one-node run's requests.

For each run it prints: wall (start of the first node to the exit of the last), the CPU
of every node (its processes, shards and workers included), the server's requests, the
URLs asked by more than one node (server-side, nodes told apart by their User-Agent: each
target, page and robots.txt should be asked by one node only, whatever the retries,
confirmations and HEAD or GET of that node; the soft-404 probes' random URLs left out),
the most requests in flight on one host and on all hosts together (server-side), the F1 of
dead targets (the database's dead targets against the generator's truth), and the CPU of
each node's processes by role, of Redis, of PostgreSQL and of this process (the web
server), which all share the machine's cores. Not a test:
figures vary with the machine's load; compare runs of one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bigweb
from bench import PER_HOST, RETRIES, TOTAL, f1, role_of, serve

from brokenlinks.testing.pgserver import PgServer
from brokenlinks.testing.redisserver import RedisServer

PROJECT = Path(__file__).resolve().parents[1]
#: what the soft-404 probes' random paths contain (brokenlinks.checker.checks.probe_url)
PROBE = "-brokenlinks-probe-"
#: where a host sends a probe (a search for its random path): as random as the probe
PROBE_REDIRECTED = "brokenlinks+probe"


@dataclass
class Node:
    index: int
    process: subprocess.Popen[bytes]
    cpu: float = 0.0
    returncode: int | None = None
    killed: bool = False


_TICKS = os.sysconf("SC_CLK_TCK")
_CGROUP_V1 = Path("/sys/fs/cgroup/cpu")
_CGROUP_V2 = Path("/sys/fs/cgroup")
#: the CPU bandwidth period, microseconds (the kernel's default)
_PERIOD_US = 100_000


class CpuBudgetError(RuntimeError):
    """No cgroup CPU controller this process may write to."""


class CpuBudget:
    """A cgroup with a CPU bandwidth limit of *cores* cores; processes put in it stay there.

    cgroup v1 (a ``cpu`` hierarchy: ``cpu.cfs_quota_us``) or v2 (``cpu.max``, the ``cpu``
    controller enabled for the children of the root). Needs root, or a delegated cgroup.
    """

    def __init__(self, name: str, cores: float) -> None:
        quota = max(1000, round(cores * _PERIOD_US))
        if (_CGROUP_V1 / "cpu.cfs_quota_us").exists():
            self.path = _CGROUP_V1 / name
            limit, value = "cpu.cfs_quota_us", str(quota)
        elif "cpu" in _read(_CGROUP_V2 / "cgroup.controllers").split():
            if "cpu" not in _read(_CGROUP_V2 / "cgroup.subtree_control").split():
                _write(_CGROUP_V2 / "cgroup.subtree_control", "+cpu")
            self.path = _CGROUP_V2 / name
            limit, value = "cpu.max", f"{quota} {_PERIOD_US}"
        else:
            msg = "no cgroup cpu controller (cgroup v1 /sys/fs/cgroup/cpu or v2 cpu.max)"
            raise CpuBudgetError(msg)
        try:
            self.path.mkdir()
            _write(self.path / limit, value)
        except OSError as e:
            self.remove()
            msg = f"cannot set a CPU budget in {self.path}: {e.strerror or e}"
            raise CpuBudgetError(msg) from e

    def wrap(self, cmd: list[str]) -> list[str]:
        """*cmd* run in the budget: its shell enters the cgroup, then becomes *cmd*."""
        procs = self.path / "cgroup.procs"
        return ["sh", "-c", f'echo $$ > "{procs}" && exec "$@"', "sh", *cmd]

    def remove(self) -> None:
        """Remove the cgroup (its processes have exited)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # a process is still leaving
                time.sleep(0.1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        msg = f"cannot write {path}: {e.strerror or e}"
        raise CpuBudgetError(msg) from e


#: servers the nodes share, by their process name in /proc/<pid>/stat
_SERVERS = {"redis-server": "redis", "postgres": "postgres"}


class CpuByProcess(threading.Thread):
    """CPU seconds of every process of the nodes (by role) and of Redis and PostgreSQL.

    Read from ``/proc/<pid>/stat`` twice a second until stopped: a process's last reading
    is kept, so one that exits loses at most half a second. Processes that existed before
    the start (Redis, PostgreSQL) count from their reading then.
    """

    def __init__(self, groups: dict[int, int]) -> None:
        super().__init__(daemon=True)
        #: process group (a node's session leader) → node index
        self.groups = groups
        self.done = threading.Event()
        #: pid → (owner, role, CPU s at the first reading, CPU s at the last)
        self.seen: dict[int, tuple[str, str, float, float]] = {}
        self._before = self._read(servers_only=True)

    def _read(self, *, servers_only: bool = False) -> dict[int, tuple[str, str, float]]:
        out: dict[int, tuple[str, str, float]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / _TICKS
                if name in _SERVERS:
                    out[int(entry.name)] = (_SERVERS[name], "server", cpu)
                elif not servers_only and int(fields[2]) in self.groups:
                    node = f"node{self.groups[int(fields[2])]}"
                    out[int(entry.name)] = (node, role_of(entry), cpu)
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
        return out

    def run(self) -> None:
        while True:
            for pid, (owner, role, cpu) in self._read().items():
                if pid in self.seen:
                    _, known, first, _ = self.seen[pid]
                    # an exited process keeps the role it had (its command line is gone)
                    self.seen[pid] = (owner, known if role == "?" else role, first, cpu)
                else:
                    first = self._before.get(pid, ("", "", 0.0))[2]
                    self.seen[pid] = (owner, role, first, cpu)
            if self.done.wait(0.5):
                return

    def totals(self) -> dict[tuple[str, str], float]:
        """CPU seconds by (owner, role) over the run."""
        out: dict[tuple[str, str], float] = {}
        for owner, role, first, last in self.seen.values():
            out[owner, role] = out.get((owner, role), 0.0) + last - first
        return out


@dataclass
class ClusterRun:
    label: str
    nodes: int
    wall: float
    cpu: list[float]
    requests: int
    by_agent: Counter[tuple[str, str, str]]
    max_per_host: int
    max_total: int
    f1: float
    dead_found: int
    #: dead targets not found, and targets found dead that are not
    missed: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)
    returncodes: list[int | None] = field(default_factory=list)
    duplicates: int = 0
    #: CPU s by (node or server, process role), sampled from /proc
    cpu_by_process: dict[tuple[str, str], float] = field(default_factory=dict)
    #: CPU s of this process (the web server, the samplers) during the run
    bench_cpu: float = 0.0


def node_command(
    index: int, seeds: Path, out: Path, *, redis_url: str, database_url: str, key: str,
    shards: int, web: bigweb.Web, pin: int | None, nodes: int = 0,
    extra: dict[str, str] | None = None,
) -> list[str]:  # fmt: skip
    """The ``scrapy crawl`` of node *index*: the same crawl on every node, one namespace.

    *extra* settings (``--set``) come last: they override the benchmark's own.
    """
    settings = {
        # the server tells the nodes apart by it: a URL asked by two nodes is a duplicate
        "USER_AGENT": f"brokenlinks-bench-node{index}",
        "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "True",
        "BROKENLINKS_DATABASE_URL": database_url,
        "DOWNLOAD_TIMEOUT": str(web.timeout),
        "RETRY_TIMES": str(RETRIES),
        "CONCURRENT_REQUESTS": str(TOTAL),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(PER_HOST),
        "LOG_LEVEL": "INFO",
        # referring pages: one shared queue (docs/deployment.md, "More than one machine")
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": "True",
        "SCHEDULER_QUEUE_KEY": f"{key}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{key}:%(spider)s:dupefilter",
        "REDIS_URL": redis_url,
        # link checks: the check shards' queues in the same Redis
        "BROKENLINKS_CHECK_SHARDS": str(shards),
        "BROKENLINKS_CLUSTER_KEY": key,
        # started together: each leases its share from the start
        "BROKENLINKS_CLUSTER_NODES": str(nodes),
        **(extra or {}),
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    cmd += ["-O", str(out)]
    for name, value in settings.items():
        cmd += ["-s", f"{name}={value}"]
    if pin is not None:
        cmd = ["taskset", "-c", str(pin), *cmd]
    return cmd


def _reap(node: Node) -> None:
    _, status, usage = os.wait4(node.process.pid, 0)
    node.cpu = usage.ru_utime + usage.ru_stime
    node.returncode = os.waitstatus_to_exitcode(status)
    node.process.returncode = node.returncode


def run_cluster(
    label: str, count: int, *, web: bigweb.Web, server: bigweb.BigWebServer, seeds: Path,
    work: Path, redis: RedisServer, pg: PgServer, shards: int, pin: bool,
    kill_after: int | None = None, cpus_per_node: float | None = None,
    extra: dict[str, str] | None = None,
) -> ClusterRun:  # fmt: skip
    """One crawl on *count* nodes, in a database and a Redis namespace of its own."""
    server.reset_counters()
    key = f"bench{count}{'k' if kill_after is not None else ''}-{time.time_ns() % 10**9}"
    database_url = pg.create_database(key.replace("-", "_"))
    cores = len(os.sched_getaffinity(0))
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    nodes: list[Node] = []
    reapers: list[threading.Thread] = []
    budgets = [
        CpuBudget(f"{key}-node{index}", cpus_per_node)
        for index in range(count if cpus_per_node else 0)
    ]
    start = time.monotonic()
    for index in range(count):
        cmd = node_command(
            index, seeds, work / f"{key}-{index}.jsonl", redis_url=redis.url, key=key,
            database_url=database_url, shards=shards, web=web,
            pin=index % cores if pin else None, nodes=count, extra=extra,
        )  # fmt: skip
        if budgets:
            cmd = budgets[index].wrap(cmd)
        with (work / f"{key}-{index}.log").open("wb") as log:
            process = subprocess.Popen(
                cmd, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        node = Node(index, process)
        nodes.append(node)
        reaper = threading.Thread(target=_reap, args=(node,), daemon=True)
        reaper.start()
        reapers.append(reaper)
    own = resource.getrusage(resource.RUSAGE_SELF)
    sampler = CpuByProcess({node.process.pid: node.index for node in nodes})
    sampler.start()
    if kill_after is not None:
        victim = nodes[-1]
        while victim.returncode is None and sum(server.requests.values()) < kill_after:
            time.sleep(0.05)
        if victim.returncode is None:
            os.killpg(victim.process.pid, signal.SIGKILL)
            victim.killed = True
    for reaper in reapers:
        reaper.join()
    wall = time.monotonic() - start
    for budget in budgets:
        budget.remove()
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    dead = _dead_targets(database_url)
    return ClusterRun(
        label=label,
        nodes=count,
        wall=wall,
        cpu=[node.cpu for node in nodes],
        requests=sum(server.requests.values()),
        by_agent=Counter(server.by_agent),
        max_per_host=max(server.max_in_flight.values(), default=0),
        max_total=server.max_total_in_flight,
        f1=f1(dead, web.dead_targets()),
        dead_found=len(dead),
        missed=sorted(web.dead_targets() - dead),
        false=sorted(dead - web.dead_targets()),
        returncodes=[node.returncode for node in nodes],
        cpu_by_process=sampler.totals(),
        bench_cpu=after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime,
    )


def _dead_targets(database_url: str) -> set[str]:
    import sqlalchemy as sa  # noqa: PLC0415  (after the crawls: a fresh connection)

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT url FROM targets WHERE kind = 'dead'"))
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def report(
    runs: list[ClusterRun], web: bigweb.Web, bound: float, cpus_per_node: float | None = None
) -> str:
    budget = (
        f"; each node {cpus_per_node:g} cores of CPU of its own (cgroup)" if cpus_per_node else ""
    )
    lines = [
        (
            f"web: {len(web.pages)} referring pages, {len(web.targets)} targets on "
            f"{len(web.hosts)} hosts; truth: {len(web.dead_targets())} dead targets; "
            f"politeness bound {bound:.2f} s ({PER_HOST}/host, {TOTAL} in all){budget}"
        ),
        "",
        (
            "| run | nodes | wall s | × 1 node | CPU s per node | requests "
            "| URLs asked by two nodes (of which robots.txt) "
            "| max in flight/host | max in flight, all | F1 | exit |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    one = runs[0].wall if runs else 0.0
    notes: list[str] = []
    for run in runs:
        askers: dict[tuple[str, str], set[str]] = {}
        for address, path, agent in run.by_agent:
            if PROBE in path or PROBE_REDIRECTED in path:
                continue  # each probe is a random URL: never the same twice
            askers.setdefault((address, path), set()).add(agent)
        shared = sorted(url for url, agents in askers.items() if len(agents) > 1)
        robots = sum(1 for _, path in shared if path == "/robots.txt")
        others = [f"{address}{path}" for address, path in shared if path != "/robots.txt"]
        if others:
            notes.append(
                f"{run.label}: {len(others)} URLs asked by more than one node, e.g. "
                + "; ".join(others[:8])
            )
        if run.missed or run.false:
            notes.append(
                f"{run.label}: dead targets missed: {', '.join(run.missed[:8]) or 'none'}; "
                f"found dead and alive: {', '.join(run.false[:8]) or 'none'}"
            )
        cpu = " + ".join(f"{c:.1f}" for c in run.cpu)
        lines.append(
            f"| {run.label} | {run.nodes} | {run.wall:.1f} | {run.wall / one:.2f} | {cpu} "
            f"| {run.requests} | {len(shared)} ({robots} robots.txt) | {run.max_per_host} "
            f"| {run.max_total} "
            f"| {run.f1:.3f} | {','.join(str(c) for c in run.returncodes)} |"
        )
    lines += ["", "CPU s by process (sampled from /proc; a process that exits loses up to 0.5 s):"]
    for run in runs:
        parts = [
            f"{owner} {role} {cpu:.1f}"
            for (owner, role), cpu in sorted(run.cpu_by_process.items())
            if cpu >= 0.05
        ]
        lines.append(
            f"- {run.label}: {'; '.join(parts)}; benchmark process (web server, samplers) "
            f"{run.bench_cpu:.1f}"
        )
    return "\n".join([*lines, "", *notes] if notes else lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nodes", default="1,2,3", help="node counts, comma-separated")
    parser.add_argument("--kill", action="store_true", help="add a 2-node run, one killed")
    parser.add_argument("--pin", action="store_true", help="pin node i to core i %% cores")
    parser.add_argument(
        "--cpus-per-node",
        type=float,
        default=None,
        metavar="F",
        help="give each node F cores of CPU time of its own (a cgroup's CPU limit; root)",
    )
    parser.add_argument("--shards", type=int, default=2, help="check shards per node")
    parser.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for every node (repeatable), after the benchmark's own",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.nodes.split(",") if n.strip()]
    extra: dict[str, str] = {}
    for pair in args.set:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            parser.error(f"--set {pair!r}: expected NAME=VALUE")
        extra[name.strip()] = value
    if args.cpus_per_node is not None:
        if args.cpus_per_node <= 0:
            parser.error("--cpus-per-node must be above 0")
        try:  # checked before the web is generated
            CpuBudget(f"brokenlinks-bench-probe-{os.getpid()}", args.cpus_per_node).remove()
        except CpuBudgetError as e:
            sys.stderr.write(f"--cpus-per-node: {e}\n")
            return 1
    web = bigweb.generate(
        args.scale, port=bigweb.free_port(), seed=args.seed, timeout=args.timeout
    )
    bound = web.politeness_bound(PER_HOST, TOTAL)["bound"]
    work, seeds, server = serve(web, prefix="brokenlinks-cluster-")
    pg_root = Path(tempfile.mkdtemp(prefix="brokenlinks-cluster-pg-"))
    redis = RedisServer()
    pg = PgServer(pg_root)
    runs: list[ClusterRun] = []
    try:
        redis.start()
        pg.start()
        common = {
            "web": web, "server": server, "seeds": seeds, "work": work, "redis": redis,
            "pg": pg, "shards": args.shards, "pin": args.pin,
            "cpus_per_node": args.cpus_per_node, "extra": extra,
        }  # fmt: skip
        for count in counts:
            runs.append(run_cluster(f"{count} node(s)", count, **common))  # type: ignore[arg-type]
            sys.stderr.write(report(runs, web, bound, args.cpus_per_node) + "\n")
        if args.kill:
            one = next((r for r in runs if r.nodes == 1), None)
            after = (one.requests if one else len(web.targets)) // 3
            runs.append(
                run_cluster("2 nodes, one killed", 2, kill_after=after, **common)  # type: ignore[arg-type]
            )
    finally:
        server.stop()
        redis.stop()
        pg.stop()
        shutil.rmtree(pg_root, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(report(runs, web, bound, args.cpus_per_node) + "\n")
    if args.keep:
        sys.stdout.write(f"work directory: {work}\n")
    sys.stdout.write(json.dumps({"bound": bound}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
