"""Retry-After in a real crawl: a rate-limited host waits on its slot, not in the downloader.

One referring page links to 12 URLs of a host that answers each first request with 429 and
``Retry-After``. Before, every one of those checks slept inside the retry middleware while
counting as active in the downloader: ``needs_backout()`` turned true and no other referring
page was scheduled until the host's wait was over. Now the host's slot is held: its queued
requests do not count, and the other referring pages are read during the wait. The
assertions are on order (the test web's request log), not on time.
"""

from __future__ import annotations

import pytest

from brokenlinks.testing.localweb import LocalWeb
from brokenlinks.testing.routes import linking_page
from tests.conftest import run_crawl, write_seeds

LIMITED = 12
PAGES = 12
#: long enough for the pages, their checks and probes to be done before the first retry,
#: on a loaded machine too
RETRY_AFTER = 5


ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "/limited.html": linking_page("Limited", [f"http://rl.test/p{i}" for i in range(LIMITED)]),
        **{
            f"/{n}.html": linking_page(f"Page {n}", [f"http://ok{n}.other.test/a"])
            for n in range(PAGES)
        },
    },
    "rl.test": {
        "/p*": {
            "body": "<html><title>Fine</title></html>",
            "fail": {"times": 1, "status": 429, "headers": {"Retry-After": str(RETRY_AFTER)}},
        },
        "default": {"status": 404},
    },
    "*.other.test": {
        "/a": {"body": "<html><title>Fine</title></html>"},
        "default": {"status": 404},
    },
}


@pytest.mark.e2e
def test_a_rate_limited_host_does_not_stop_referring_pages(tmp_path):
    seeds = ["http://pages.test/limited.html"] + [
        f"http://pages.test/{n}.html" for n in range(PAGES)
    ]
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(write_seeds(tmp_path, seeds))},
            settings={
                "CONCURRENT_REQUESTS": 4,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
                "DOWNLOAD_TIMEOUT": 30,
            },
        )
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    seen: set[str] = set()
    retries = []
    for n, request in enumerate(log):
        if request.host == "rl.test" and request.path.startswith("/p"):
            if request.path in seen:
                retries.append(n)
            seen.add(request.path)
    page_fetches = [
        n for n, r in enumerate(log) if r.host == "pages.test" and r.path.endswith(".html")
    ]
    assert len(seen) == LIMITED
    assert len(retries) >= LIMITED  # each limited URL was asked again after its wait
    # every referring page was read while the limited host waited: before any retry to it
    assert len(page_fetches) == PAGES + 1
    assert max(page_fetches) < min(retries)
    kinds = {row["url"]: row["kind"] for row in result.rows["targets"]}
    assert all(kinds[f"http://rl.test/p{i}"] == "alive" for i in range(LIMITED))
    assert all(kinds[f"http://ok{n}.other.test/a"] == "alive" for n in range(PAGES))
    assert result.stats["brokenlinks/retry_after/honoured"] >= 1
