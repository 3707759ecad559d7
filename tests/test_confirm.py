"""The confirmation pass: a target dead for a reason that can be transient is checked again.

A 503 that lasts through a check and its retries, then stops, is a live page that was
busy: before the confirmation pass it became a prospect. Checked again alone on its
host once the crawl is quiet, it comes back; a 500 that persists and a refused
connection are confirmed dead; a 404 is final and is not checked again.
"""

from __future__ import annotations

import pytest

from brokenlinks.testing.localweb import LocalWeb
from brokenlinks.testing.routes import linking_page
from tests.conftest import run_crawl, write_seeds

#: HEAD and GET, each tried once: a check's 503 is not retried at once, the confirmation
#: pass is its retry (brokenlinks.downloadermiddlewares.retry.META_CONFIRMED_LATER)
FIRST_CHECK = 2


ROUTES = {
    "pages.test": {
        "/robots.txt": {"status": 404},
        "/a.html": linking_page(
            "A",
            [
                "http://flaky.test/p",
                "http://down.test/p",
                "http://refused.test/p",
                "http://gone.test/x",
                "http://ok.test/p",
            ],
        ),
        "/b.html": linking_page("B", ["http://flaky.test/p", "http://ok.test/q"]),
    },
    "flaky.test": {
        "/p": {"body": "<title>Busy page</title>", "fail": {"times": FIRST_CHECK, "status": 503}},
        "default": {"status": 404},
    },
    "down.test": {"/p": {"status": 500}, "default": {"status": 404}},
    "gone.test": {"default": {"status": 404}},
    "ok.test": {
        "/p": {"body": "<title>ok</title>"},
        "/q": {"body": "<title>q</title>"},
        "default": {"status": 404},
    },
}


@pytest.mark.e2e
def test_transient_failures_are_confirmed_or_come_back(tmp_path):
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/a.html", "http://pages.test/b.html"])
        # nothing here hangs: a timeout on a loaded machine would cut flaky.test's count
        result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, settings={"DOWNLOAD_TIMEOUT": 15})
        log = web.requests()
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = {
        row["url"]: (row["kind"], row["reason"], row["status"]) for row in result.rows["targets"]
    }
    assert kinds["http://flaky.test/p"] == ("alive", "ok", 200)
    assert kinds["http://down.test/p"] == ("dead", "http_status", 500)
    assert kinds["http://refused.test/p"][:2] == ("dead", "connection")
    assert kinds["http://gone.test/x"] == ("dead", "http_status", 404)
    prospects = {(i["source_url"], i["target_url"]) for i in result.items}
    assert prospects == {
        ("http://pages.test/a.html", "http://down.test/p"),
        ("http://pages.test/a.html", "http://refused.test/p"),
        ("http://pages.test/a.html", "http://gone.test/x"),
    }
    stats = result.stats
    assert stats["brokenlinks/confirm/queued"] == 3
    assert stats["brokenlinks/confirm/checked"] == 3
    assert stats["brokenlinks/confirm/confirmed"] == 2
    assert stats["brokenlinks/confirm/overturned"] == 1
    assert stats["brokenlinks/confirm/overturned/http_status"] == 1
    # the 404 is final: asked once with HEAD and once with GET, never again
    assert len([r for r in log if r.host == "gone.test" and r.path == "/x"]) == 2
    # checked again later, with the crawl quiet: after every other request of the crawl
    flaky = [n for n, r in enumerate(log) if r.host == "flaky.test" and r.path == "/p"]
    down = [n for n, r in enumerate(log) if r.host == "down.test" and r.path == "/p"]
    others = [n for n, r in enumerate(log) if r.host in {"pages.test", "ok.test", "gone.test"}]
    assert len(flaky) == FIRST_CHECK + 1
    assert flaky[-1] > max(others)
    assert down[-1] > max(others)
    assert "checked again (transient failures): 3, confirmed dead 2, came back 1" in result.stderr
