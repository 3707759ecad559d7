"""Size and time of the HTML report on a large database.

Fills a fresh SQLite database with the web of :mod:`bigweb` (``2000 × scale`` referring
pages, ``4000 × scale`` targets, every way of being dead) through the store's own writer
(:func:`brokenlinks.storage.store.write_batch`, the records a crawl would yield) in three runs: a
first crawl, a re-check where 5 % of the dead targets answer again and 3 % of the pages
dropped a dead link, and a third crawl; then marks 60 prospects for the outreach funnel.
Crawling that web for real takes minutes per 2,000 pages and the report only reads the
store, so the store is filled directly. Then it times ``scrapy report -o report.html``
(the real command, a subprocess) and prints the file's size.

    python benchmarks/report_size.py --scale 10
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import bigweb

from brokenlinks.items import CheckItem, LinkRecord, PageItem
from brokenlinks.parsing.sites import site_of
from brokenlinks.reporting.data import collect
from brokenlinks.reporting.html import render
from brokenlinks.storage import db, store

VERDICTS = {
    "404": ("http_status", 404),
    "410": ("http_status", 410),
    "500": ("http_status", 500),
    "refused": ("connection", None),
    "loop": ("redirect_loop", None),
    "dns": ("dns", None),
    "hang": ("timeout", None),
}


def link(page_url: str, target_url: str, words: list[str]) -> LinkRecord:
    """The same link on every crawl of its page: its texts drawn from a seed of its own."""
    rng = random.Random(f"{page_url} {target_url}")
    return LinkRecord(
        target_url=target_url,
        target_domain=site_of(target_url),
        anchor_text=" ".join(rng.choice(words) for _ in range(3)),
        follow=rng.random() > 0.1,
        position="content" if rng.random() > 0.2 else "footer",
        context=" ".join(rng.choice(words) for _ in range(30)) + ".",
        checked=True,
    )


def fill(database: Path, scale: float, seed: int) -> dict[str, int]:
    web = bigweb.generate(scale, port=8000, seed=seed)
    rng = random.Random(seed)
    words = bigweb.WORDS
    dead = [t for t in web.targets if t.kind.dead]
    came_back = {t.url for t in rng.sample(dead, len(dead) // 20)}
    dropping = {p.url for p in rng.sample(web.pages, len(web.pages) * 3 // 100)}
    engine = db.create_engine_from_url(f"sqlite:///{database}")
    db.migrate(engine)
    try:
        for run in range(3):
            # the crawl's own clock: a loss is told to the run that was going on then
            run_id = store.start_run(engine, "recheck" if run == 1 else "backlinks", {})
            at = datetime.now(UTC).isoformat()
            items: list[object] = []
            for page in web.pages:
                links = [
                    t
                    for t in page.links
                    if not (run and page.url in dropping and t.kind.dead and t is page.links[0])
                ]
                items.append(
                    PageItem(
                        url=page.url,
                        requested_url=page.url,
                        domain=site_of(page.url),
                        title=f"Resources {page.path}",
                        status=200,
                        error=None,
                        links_on_page=len(links),
                        crawled_at=at,
                        links=[link(page.url, t.url, words) for t in links],
                    )
                )
            for target in web.targets:
                alive = not target.kind.dead or (run == 1 and target.url in came_back)
                reason, status = ("ok", 200) if alive else VERDICTS[target.kind.value]
                items.append(
                    CheckItem(
                        target_url=target.url,
                        target_domain=site_of(target.url),
                        kind="alive" if alive else "dead",
                        reason=reason,
                        status=status,
                        final_url=None,
                        checked_at=at,
                    )
                )
            for i in range(0, len(items), 2000):
                store.write_batch(engine, run_id, items[i : i + 2000])
            store.finish_run(
                engine,
                run_id,
                "finished",
                {
                    "brokenlinks/pages/crawled": len(web.pages),
                    "brokenlinks/targets/checked": len(web.targets),
                },
            )
        pairs = [(p.url, t.url) for p in web.pages for t in p.links if t.kind.dead][:60]
        for i, (source, target) in enumerate(pairs):
            status = ("contacted", "contacted", "replied", "won", "lost")[i % 5]
            store.set_outreach(engine, source, target, status)
        return store.count_rows(engine)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database", type=Path, help="keep the database here (filled only if it does not exist)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or Path(tmp) / "big.sqlite3"
        if not database.exists():
            started = time.monotonic()
            counts = fill(database, args.scale, args.seed)
            print(f"filled in {time.monotonic() - started:.0f} s: {counts}")
        engine = db.create_engine_from_url(f"sqlite:///{database}")
        try:
            started = time.monotonic()
            data = collect(engine, now=datetime.now(UTC))
            read = time.monotonic() - started
            started = time.monotonic()
            size = len(render(data).encode())
            print(
                f"in process: read {read:.1f} s, render {time.monotonic() - started:.1f} s, {size:,} bytes"
            )
        finally:
            engine.dispose()
        report = Path(tmp) / "report.html"
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "report",
                "-o",
                str(report),
                "-s",
                f"BROKENLINKS_DATABASE_URL=sqlite:///{database}",
            ],
            check=True,
            env={**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
        )
        elapsed = time.monotonic() - started
        print(f"scrapy report -o report.html: {elapsed:.1f} s, {report.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
