"""A page the browser fails to render is read from its plain HTTP body (issue 21, point 4).

The page below waits on an image that never arrives, so the browser's navigation (which
waits for the network to go idle) times out. Before, such a page was stored as failed with
no link; now it is fetched again without the browser and its links are checked.
"""

from __future__ import annotations

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds

PAGE = """<!doctype html><html><head><title>Slow widget</title></head><body>
<div id="root"></div>
<main><p>Our picks: <a href="http://gone.test/fallback-404">a dead resource</a> and
<a href="http://live.test/">a live one</a>.</p></main>
<img src="http://hang.test/pixel.gif">
<script>document.getElementById("root").textContent = "loading";</script>
</body></html>"""


@pytest.fixture
def slow_web(tmp_path):
    root = tmp_path / "web"
    for host in ("slow.test", "live.test"):
        (root / host).mkdir(parents=True)
    (root / "slow.test" / "index.html").write_text(PAGE, encoding="utf-8")
    (root / "live.test" / "index.html").write_text("<p>here</p>", encoding="utf-8")
    routes = {"hang.test": {"/pixel.gif": {"hang": 8}}, "gone.test": {}}
    with LocalWeb(root, routes=routes) as web:
        yield web


@pytest.mark.e2e
@pytest.mark.parametrize("render", ["always", "auto"])
def test_a_page_the_browser_fails_on_keeps_its_links(tmp_path, slow_web, render):
    seeds = write_seeds(tmp_path, ["http://slow.test/"])
    result = run_crawl(
        tmp_path,
        slow_web,
        {"seeds": str(seeds), "render": render},
        settings={
            "BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{slow_web.port}"},
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 1500,
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats["brokenlinks/render/fallback"] == 1
    assert "brokenlinks/pages/failed" not in stats
    assert stats["brokenlinks/pages/crawled"] == 1
    # the browser was really asked (and failed), then the page read without it
    if render == "auto":
        assert stats["brokenlinks/render/auto"] == 1
    assert "brokenlinks/render/pages" not in stats
    (page,) = result.rows["pages"]
    assert page["error"] is None
    assert page["links_on_page"] == 2
    assert [(i["target_url"], i["status"]) for i in result.items] == [
        ("http://gone.test/fallback-404", 404)
    ]
    lines = [line for line in result.stderr.splitlines() if "Could not render" in line]
    assert len(lines) == 1, lines
    assert "INFO: Could not render http://slow.test/ (TimeoutError: " in lines[0]
    # always: the browser's request and the plain one; auto: a first plain fetch before
    # (a plain fetch that timed out on a busy machine is retried: one more each)
    fetches = {"always": 2, "auto": 3}[render]
    count = slow_web.count(host="slow.test", path="/")
    assert fetches <= count <= fetches + stats.get("retry/count", 0), (count, stats)
