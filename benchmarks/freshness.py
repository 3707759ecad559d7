"""Benchmark: a re-crawl with the freshness cache against one that checks everything again.

Serves the test web (``tests/web``) on loopback, crawls its resource pages three times into
one new SQLite database (first crawl; again within ``BROKENLINKS_RECHECK_AFTER``; again with
``BROKENLINKS_RECHECK_AFTER=0``) and prints, per crawl, the wall time, the requests the web
received and the targets checked / reused. Run from the project directory:
``python benchmarks/freshness.py``.
"""

from __future__ import annotations

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

from brokenlinks.testing.localweb import LocalWeb, unused_port

PAGES = [
    "http://blog.test/resources.html",
    "http://news.test/article.html",
    "http://news.test/other.html",
    "http://blog.test/slow-links.html",
]


def crawl(
    web: LocalWeb, tmp: Path, seeds: Path, db: Path, **settings: object
) -> dict[str, object]:
    resolve = {"*.test": f"127.0.0.1:{web.port}", "refused.test": f"127.0.0.1:{unused_port()}"}
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "backlinks",
        "-a",
        f"seeds={seeds}",
        "-O",
        str(tmp / "out.jsonl"),
        "-s",
        f"BROKENLINKS_RESOLVE={json.dumps(resolve)}",
        "-s",
        f"BROKENLINKS_DATABASE_URL=sqlite:///{db}",
        "-s",
        "DOWNLOAD_TIMEOUT=2",
    ]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    web.reset()
    started = time.monotonic()
    subprocess.run(
        cmd,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
    )
    elapsed = time.monotonic() - started
    stats = {k: v for k, v in _stats(db).items() if k.startswith("brokenlinks/targets")}
    return {"seconds": round(elapsed, 1), "requests": len(web.requests()), **stats}


def _stats(db: Path) -> dict[str, object]:
    con = sqlite3.connect(db)
    try:
        (text,) = con.execute("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    return json.loads(text)


def main() -> None:
    web = LocalWeb(PROJECT / "tests" / "web")
    web.start()
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            seeds = tmp / "seeds.txt"
            seeds.write_text("\n".join(PAGES) + "\n", encoding="utf-8")
            db = tmp / "bench.sqlite3"
            for label, settings in (
                ("first crawl", {}),
                ("re-crawl, fresh verdicts reused", {}),
                ("re-crawl, BROKENLINKS_RECHECK_AFTER=0", {"BROKENLINKS_RECHECK_AFTER": 0}),
            ):
                print(f"{label}: {crawl(web, tmp, seeds, db, **settings)}")
    finally:
        web.stop()


if __name__ == "__main__":
    main()
