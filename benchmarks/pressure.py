"""Pressure benchmark: whether the verdicts stay right when the machine or the crawl is busy.

One command (from the project directory)::

    python benchmarks/pressure.py [--scale 1] [--busy 2] [--timeout 4] [--only a|b]

(a) **A starved crawl.** The web of :mod:`bigweb` at ``--scale``, crawled by
``scrapy crawl backlinks`` (the settings of ``bench.py``: 8 requests per host, 128 in all)
while ``--busy`` processes spin on the CPU (one per core holds both cores of a 2-core
machine). Prints the F1 of dead targets, how many live targets were reported dead (the
number that matters: each is a false pitch), the dead ones missed, the confirmation
pass's figures and the event-loop lag.

(b) **One page, 300 hosts.** A page links to 300 hosts of the local test web
(:class:`brokenlinks.testing.localweb.LocalWeb`: a threading server with Python's
default listen backlog of 5) that answer after 2 s; ``CONCURRENT_REQUESTS = 16``.
Prints the most requests the server saw in flight at once (all hosts together) and how
many healthy targets came out dead.

(c) **The store goes away.** The web of :mod:`bigweb` at ``--outage-scale`` crawled into a
throwaway PostgreSQL (Debian's ``postgresql``, as the tests start it), stopped once the
crawl has stored a quarter of its pages: once for 30 s (under the outage limit of 120 s: the
crawl waits, nothing is lost) and once for good (a limit of 15 s: the crawl ends with
exit 1 and ``Crawl failed``; what was stored before stays). Prints exit status, wall time,
the summary's store line, the rows stored against a crawl without an outage, and F1.

Not a test: the figures vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench
import bigweb

from brokenlinks.testing.localweb import LocalWeb

PROJECT = Path(__file__).resolve().parents[1]
WIDE_HOSTS = 300
WIDE_DELAY = 2.0
WIDE_BUDGET = 16


def start_busy(n: int) -> list[subprocess.Popen[bytes]]:
    """*n* processes that spin on the CPU until stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_busy(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.kill()
    for process in processes:
        process.wait(timeout=30)


def starved(scale: float, busy: int, timeout: float) -> str:
    """(a): the bench web crawled beside *busy* spinning processes."""
    web = bigweb.generate(scale, port=bigweb.free_port(), seed=7, timeout=timeout)
    work, seeds, server = bench.serve(web, prefix="brokenlinks-pressure-")
    spinners = start_busy(busy)
    try:
        measured, stats, out = bench.run_ours(web, work, seeds, [], [])
    finally:
        stop_busy(spinners)
        server.stop()
    found, _ = bench.read_ours(out)
    shutil.rmtree(work, ignore_errors=True)
    truth = web.dead_targets()
    live_called_dead = sorted(found - truth)
    lines = [
        (
            f"(a) scale {scale}, {busy} busy processes, DOWNLOAD_TIMEOUT {timeout} s: "
            f"exit {measured.returncode}, wall {measured.wall:.1f} s, CPU {measured.cpu:.1f} s"
        ),
        (
            f"    F1 dead targets {bench.f1(found, truth):.4f}; dead found {len(found & truth)}"
            f"/{len(truth)}; live targets reported dead: {len(live_called_dead)}"
        ),
        "    confirmation pass: queued {q}, checked {c}, confirmed dead {d}, came back {o}".format(
            q=stats.get("brokenlinks/confirm/queued", 0),
            c=stats.get("brokenlinks/confirm/checked", 0),
            d=stats.get("brokenlinks/confirm/confirmed", 0),
            o=stats.get("brokenlinks/confirm/overturned", 0),
        ),
        "    event-loop lag: max {m} ms, budget lowered {n} times (lowest {b}); "
        "most requests sent at once {s}".format(
            m=stats.get("brokenlinks/lag/max", 0),
            n=stats.get("brokenlinks/lag/lowered", 0),
            b=stats.get("brokenlinks/lag/lowest_budget", "-"),
            s=stats.get("brokenlinks/downloader/max_sending", "-"),
        ),
    ]
    lines += [f"    live reported dead: {url}" for url in live_called_dead[:20]]
    return "\n".join(lines)


def wide(timeout: float) -> str:
    """(b): one page linking to 300 slow hosts, CONCURRENT_REQUESTS = 16."""
    links = "".join(f'<a href="http://h{i}.wide.test/page">{i}</a>\n' for i in range(WIDE_HOSTS))
    routes = {
        "hub.test": {
            "/robots.txt": {"status": 404},
            "/links.html": {"body": f"<html><title>Hub</title><main>{links}</main></html>"},
        },
        "*.wide.test": {
            "/page": {"delay": WIDE_DELAY, "body": "<html><title>A page</title></html>"},
            "default": {"delay": WIDE_DELAY, "status": 404},
        },
    }
    with tempfile.TemporaryDirectory(prefix="brokenlinks-pressure-") as tmp:
        work = Path(tmp)
        seeds = work / "seeds.txt"
        seeds.write_text("http://hub.test/links.html\n", encoding="utf-8")
        out, db = work / "out.jsonl", work / "db.sqlite3"
        with LocalWeb(work, routes=routes) as web:
            settings = {
                "BROKENLINKS_RESOLVE": json.dumps({"*.test": f"127.0.0.1:{web.port}"}),
                "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "True",
                "BROKENLINKS_DATABASE_URL": f"sqlite:///{db}",
                "CONCURRENT_REQUESTS": str(WIDE_BUDGET),
                "DOWNLOAD_TIMEOUT": str(timeout),
                "LOG_LEVEL": "WARNING",
            }
            cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
            cmd += ["-O", str(out)]
            for key, value in settings.items():
                cmd += ["-s", f"{key}={value}"]
            env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
            started = time.monotonic()
            proc = subprocess.run(cmd, cwd=PROJECT, env=env, capture_output=True, check=False)
            wall = time.monotonic() - started
            most = web.max_total_in_flight()
        dead = [json.loads(line)["target_url"] for line in out.read_text().splitlines()]
    return (
        f"(b) {WIDE_HOSTS} hosts answering after {WIDE_DELAY:.0f} s, CONCURRENT_REQUESTS "
        f"{WIDE_BUDGET}, DOWNLOAD_TIMEOUT {timeout} s: exit {proc.returncode}, wall {wall:.1f} s\n"
        f"    most requests in flight server-side: {most}; healthy targets reported dead: "
        f"{len(dead)}"
    )


def _count(url: str, table: str) -> int:
    import psycopg  # noqa: PLC0415  # the postgres extra, needed by (c) only

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, connect_timeout=5) as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _outage_run(
    web: bigweb.Web, pg: Any, database: str, *, down: float | None, limit: float | None
) -> dict[str, Any]:
    """One crawl into *database*.

    With *limit*, PostgreSQL stops mid-crawl: for *down* seconds, or for good (None).
    """
    url = pg.create_database(database)
    work, seeds, server = bench.serve(web, prefix="brokenlinks-pressure-")
    out = work / "out.jsonl"
    settings = {
        "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES": "True",
        "BROKENLINKS_DATABASE_URL": url,
        "DOWNLOAD_TIMEOUT": str(web.timeout),
        "LOG_LEVEL": "INFO",
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    cmd += ["-O", str(out)]
    if limit is not None:
        settings["BROKENLINKS_STORE_OUTAGE_LIMIT"] = str(limit)
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    started = time.monotonic()
    log = (work / "crawl.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    before = 0
    try:
        if limit is not None:
            target = len(web.pages) // 4
            while proc.poll() is None:
                try:
                    before = _count(url, "pages")
                except Exception:  # noqa: BLE001  # not created yet
                    before = 0
                if before >= target:
                    break
                time.sleep(0.5)
            if proc.poll() is None:
                pg.stop()
                if down is not None:
                    time.sleep(down)
                    pg.start_again()
        proc.wait(timeout=3600)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        server.stop()
    wall = time.monotonic() - started
    if pg.pid is None:
        pg.start_again()
    text = (work / "crawl.log").read_text(encoding="utf-8", errors="replace")
    found, _ = bench.read_ours(out)
    result = {
        "exit": proc.returncode,
        "wall": wall,
        "pages": _count(url, "pages"),
        "links": _count(url, "links"),
        "targets": _count(url, "targets"),
        "before": before,
        "store_line": next((ln.strip() for ln in text.splitlines() if "store outages" in ln), "-"),
        "failed_line": next((ln.strip() for ln in text.splitlines() if "Crawl failed" in ln), "-"),
        "f1": bench.f1(found, web.dead_targets()),
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def outage(scale: float) -> str:
    """(c): PostgreSQL stopped mid-crawl, for 30 s and for good."""
    from brokenlinks.testing.pgserver import PgServer  # noqa: PLC0415  # needs PostgreSQL only here

    web = bigweb.generate(scale, port=bigweb.free_port(), seed=7, timeout=4.0)
    with tempfile.TemporaryDirectory(prefix="brokenlinks-pressure-pg-") as tmp:
        pg = PgServer(Path(tmp))
        pg.start()
        try:
            clean = _outage_run(web, pg, "clean", down=None, limit=None)
            short = _outage_run(web, pg, "short", down=30.0, limit=120.0)
            gone = _outage_run(web, pg, "gone", down=None, limit=15.0)
        finally:
            pg.stop()
    lines = [f"(c) scale {scale}, PostgreSQL stopped once a quarter of the pages was stored"]
    for name, run in (("no outage", clean), ("down 30 s, limit 120 s", short)):
        lines.append(
            f"    {name}: exit {run['exit']}, wall {run['wall']:.1f} s, F1 {run['f1']:.4f}; "
            f"stored pages {run['pages']}, links {run['links']}, targets {run['targets']}; "
            f"{run['store_line']}"
        )
    lines.append(
        f"    down for good, limit 15 s: exit {gone['exit']}, wall {gone['wall']:.1f} s; "
        f"stored before the outage {gone['before']} pages, after it {gone['pages']}; "
        f"{gone['failed_line']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of the web (1: default)")
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="spinning processes")
    parser.add_argument("--timeout", type=float, default=4.0, help="DOWNLOAD_TIMEOUT of (a)")
    parser.add_argument("--only", choices=("a", "b", "c"), help="run one part only")
    parser.add_argument("--outage-scale", type=float, default=0.3, help="size of the web of (c)")
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.timeout <= 0 or args.busy < 0:
        parser.error("--scale and --timeout must be positive, --busy at least 0")
    if args.only in {None, "a"}:
        sys.stdout.write(starved(args.scale, args.busy, args.timeout) + "\n")
        sys.stdout.flush()
    if args.only in {None, "b"}:
        sys.stdout.write(wide(20.0) + "\n")
        sys.stdout.flush()
    if args.only in {None, "c"}:
        sys.stdout.write(outage(args.outage_scale) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
