"""Pages per second of ``scrapy crawl site`` on the local web, with and without rendering.

Generates a site of ``--pages`` HTML pages (each linking to five other pages of the site
and to three external targets, a tenth of them dead), serves it with
``brokenlinks.testing.localweb.LocalWeb`` on 127.0.0.1, and crawls it once per render mode
through a real ``scrapy crawl site`` process::

    python benchmarks/site_crawl.py --pages 200 --modes never,always

Pages per second is crawled pages divided by the crawl's own elapsed time (the
``elapsed_time_seconds`` stat, start-up of the process excluded). Not a test: the numbers
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from brokenlinks.testing.localweb import LocalWeb

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Page {n}</title></head>
<body><header><nav><a href="/">Home</a></nav></header>
<main><h1>Page {n}</h1>
<p>{internal}</p>
<p>{external}</p>
</main></body></html>
"""


def build_site(root: Path, pages: int) -> None:
    site = root / "bench.test"
    site.mkdir(parents=True)
    for n in range(pages):
        internal = " ".join(
            f'<a href="/p/{(n * 7 + k) % pages}.html">page {(n * 7 + k) % pages}</a>'
            for k in range(1, 6)
        )
        external = " ".join(
            f'<a href="http://{"gone" if (n + k) % 10 == 0 else "alive"}.test/t{(n + k) % 50}">'
            f"target {k}</a>"
            for k in range(3)
        )
        path = site / ("index.html" if n == 0 else f"p/{n}.html")
        path.parent.mkdir(exist_ok=True)
        path.write_text(PAGE.format(n=n, internal=internal, external=external), encoding="utf-8")
    routes = {
        "gone.test": {"default": {"status": 404}},
        "alive.test": {"default": {"body": "<p>{path}</p>"}},
    }
    (root / "routes.json").write_text(json.dumps(routes), encoding="utf-8")


def crawl(web: LocalWeb, work: Path, mode: str, pages: int) -> dict[str, float]:
    db = work / f"{mode}.sqlite3"
    cmd = [
        sys.executable, "-m", "scrapy", "crawl", "site",
        "-a", "start=http://bench.test/", "-a", f"render={mode}", "-a", f"max_pages={pages}",
        "-O", str(work / f"{mode}.jsonl"),
        "-s", f"BROKENLINKS_RESOLVE={json.dumps({'*.test': f'127.0.0.1:{web.port}'})}",
        "-s", f"BROKENLINKS_DATABASE_URL=sqlite:///{db}",
        "-s", "LOG_LEVEL=WARNING",
    ]  # fmt: skip
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    started = time.monotonic()
    subprocess.run(cmd, cwd=PROJECT, env=env, check=True)
    wall = time.monotonic() - started
    con = sqlite3.connect(db)
    try:
        stats = json.loads(con.execute("SELECT stats FROM crawl_runs").fetchone()[0])
    finally:
        con.close()
    crawled = stats.get("brokenlinks/pages/crawled", 0)
    elapsed = stats.get("elapsed_time_seconds") or wall
    return {
        "pages": crawled,
        "rendered": stats.get("brokenlinks/render/pages", 0),
        "elapsed_s": round(elapsed, 2),
        "wall_s": round(wall, 2),
        "pages_per_s": round(crawled / elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--modes", default="never,always")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "web"
        build_site(root, args.pages)
        with LocalWeb(root) as web:
            for mode in args.modes.split(","):
                result = crawl(web, Path(tmp), mode, args.pages)
                sys.stdout.write(f"render={mode}: {json.dumps(result)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
