"""Precision and recall of dead-link rows, per reason, on the local test web.

Serves ``tests/web`` on a loopback port, crawls every referring page listed in
``tests/web/expected.json`` with ``scrapy crawl backlinks`` (robots.txt off, so that every
listed page is read), and compares the exported rows (one per dead link occurrence) with
the dead links expected.json lists. A row is a (referring page, target, anchor text)
triple; per reason, precision is the share of rows exported with that reason that
expected.json lists as dead with that reason, recall the share of expected rows with that
reason that were exported with it. "all (dead or not)" ignores the reason.

    python benchmarks/accuracy.py [--min 0.99]

Exits 1 when the overall precision or recall is below ``--min``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from brokenlinks.testing.localweb import LocalWeb, unused_port

WEB = PROJECT / "tests" / "web"


def expected_rows(expected: dict[str, list[dict]]) -> Counter[tuple[str, str, str, str]]:
    rows: Counter[tuple[str, str, str, str]] = Counter()
    for page, links in expected.items():
        for link in links:
            if link["kind"] == "dead":
                target = link["target_url"] or link["href"].strip()
                rows[page, target, link["anchor_text"], link["reason"]] += 1
    return rows


def crawl(pages: list[str], tmp: Path, port: int) -> tuple[list[dict], float]:
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(pages) + "\n", encoding="utf-8")
    out = tmp / "prospects.jsonl"
    resolve = {"*.test": f"127.0.0.1:{port}", "refused.test": f"127.0.0.1:{unused_port()}"}
    settings = {
        "BROKENLINKS_RESOLVE": json.dumps(resolve),
        "BROKENLINKS_DATABASE_URL": f"sqlite:///{tmp / 'accuracy.sqlite3'}",
        "ROBOTSTXT_OBEY": "False",
        "DOWNLOAD_TIMEOUT": "2",
        "LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "scrapy", "crawl", "backlinks", "-a", f"seeds={seeds}"]
    cmd += ["-O", str(out)]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=PROJECT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        msg = f"scrapy crawl failed with exit status {proc.returncode}"
        raise SystemExit(msg)
    lines = out.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], elapsed


def ratio(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def table(expected: Counter, got: Counter) -> list[tuple[str, int, int, int, float, float]]:
    reasons = sorted({key[3] for key in expected} | {key[3] for key in got})
    out = []
    for reason in reasons:
        want = Counter({k: n for k, n in expected.items() if k[3] == reason})
        have = Counter({k: n for k, n in got.items() if k[3] == reason})
        hits = sum((want & have).values())
        n_want, n_have = sum(want.values()), sum(have.values())
        out.append((reason, n_want, n_have, hits, ratio(hits, n_have), ratio(hits, n_want)))
    strip = Counter()
    for key, n in expected.items():
        strip[key[:3]] += n
    have_any = Counter()
    for key, n in got.items():
        have_any[key[:3]] += n
    hits = sum((strip & have_any).values())
    n_want, n_have = sum(strip.values()), sum(have_any.values())
    out.append(
        ("all (dead or not)", n_want, n_have, hits, ratio(hits, n_have), ratio(hits, n_want))
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min", type=float, default=0.0, help="fail below this overall")
    args = parser.parse_args(argv)
    expected = json.loads((WEB / "expected.json").read_text(encoding="utf-8"))
    want = expected_rows(expected)
    with LocalWeb(WEB) as web, tempfile.TemporaryDirectory() as tmp:
        # an index page is fetched by its file's own URL (a host may answer only that:
        # indexonly.test); expected.json keys it by its directory URL
        pages = [url + "index.html" if url.endswith("/") else url for url in sorted(expected)]
        items, elapsed = crawl(pages, Path(tmp), web.port)
        requests = web.count()
    got: Counter[tuple[str, str, str, str]] = Counter(
        (
            i["source_url"].removesuffix("index.html"),
            i["target_url"],
            i["anchor_text"],
            i["reason"],
        )
        for i in items
    )
    rows = table(want, got)
    print(
        f"{len(expected)} referring pages, {requests} requests, {elapsed:.1f} s\n\n"
        "| reason | expected | exported | correct | precision | recall |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for reason, n_want, n_have, hits, precision, recall in rows:
        print(f"| {reason} | {n_want} | {n_have} | {hits} | {precision:.3f} | {recall:.3f} |")
    wrong = sorted((want - got) + (got - want))
    for key in wrong:
        side = "missed" if key in want and got[key] < want[key] else "extra"
        print(f"{side}: {key}")
    overall = rows[-1]
    return 1 if min(overall[4], overall[5]) < args.min else 0


if __name__ == "__main__":
    sys.exit(main())
