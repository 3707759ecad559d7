"""One global budget: every request of a crawl, checks included, counts against ``CONCURRENT_REQUESTS``.

One referring page links to 300 hosts that answer after a delay. Link checks go through
``engine.download_async``, which Scrapy's downloader gates per host only: before
``PoliteDownloader`` kept a global count, the server saw about 300 requests at once with
``CONCURRENT_REQUESTS = 16``. The test web counts requests in flight over all hosts.
"""

from __future__ import annotations

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import NO_LAG_CONTROL, run_crawl, write_seeds

HOSTS = 300
BUDGET = 16
LINKS = "".join(f'<a href="http://h{i}.wide.test/page">host {i}</a>\n' for i in range(HOSTS))
ROUTES = {
    "hub.test": {
        "/robots.txt": {"status": 404},
        "/links.html": {
            "body": f"<html><title>Hub</title><body><main><p>{LINKS}</p></main></body></html>"
        },
    },
    # an honest host (unknown paths are 404), so a 2xx HEAD settles each check
    "*.wide.test": {
        "/page": {"delay": 0.2, "body": "<html><title>A page</title><p>Fine.</p></html>"},
        "default": {"delay": 0.2, "status": 404},
    },
}


@pytest.mark.e2e
def test_checks_of_300_hosts_stay_within_concurrent_requests(tmp_path):
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://hub.test/links.html"])
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(seeds)},
            # 600 answers of 0.2 s, 16 at a time, take longer than the timeout: a request
            # waiting in the crawl's own queue has not been sent, and its timeout not started
            # the loop-lag control off: on a busy machine it halves the budget, which
            # "the budget is used" below could then not see
            settings={"CONCURRENT_REQUESTS": BUDGET, "DOWNLOAD_TIMEOUT": 5, **NO_LAG_CONTROL},
        )
        most = web.max_total_in_flight()
        checked = {r.host for r in web.requests(path="/page")}
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(checked) == HOSTS
    assert most <= BUDGET, most
    # the budget is used, not starved
    assert most > BUDGET // 2
    assert result.stats["brokenlinks/downloader/max_sending"] <= BUDGET
    assert "brokenlinks/lag/max" not in result.stats  # the lag control was off
    kinds = {row["url"]: row["kind"] for row in result.rows["targets"]}
    assert len(kinds) == HOSTS
    assert set(kinds.values()) == {"alive"}
    assert "brokenlinks/confirm/queued" not in result.stats  # not one failed, even at first
