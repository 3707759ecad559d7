"""The browser starts on the first page to render, not with every crawl that might render.

``brokenlinks.render.handler.LazyPlaywrightHandler``: scrapy-playwright would start a
Node.js driver per handler (http, https) at engine start, ~120 MB each, whether or not
any page is rendered. These crawls watch the processes ``scrapy crawl`` starts.
"""

from __future__ import annotations

import pytest

from .conftest import run_crawl, write_seeds
from .processes import wait_gone

pytestmark = pytest.mark.e2e


def _browser_processes(processes: dict[int, str]) -> set[str]:
    # the driver's main thread names itself "node-MainThread"
    names = {name.split("-", 1)[0] for name in processes.values()}
    return names & {"node", "chromium", "chrome"}


def test_a_crawl_that_renders_nothing_starts_no_browser(tmp_path, web):
    seeds = write_seeds(tmp_path, ["http://blog.test/resources.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, watch=True)  # render=auto
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.items, "the page's dead links were found"
    assert _browser_processes(result.processes) == set()
    assert "playwright/browser_count" not in result.stats
    assert "brokenlinks/render/pages" not in result.stats


def test_the_first_page_to_render_starts_the_browser_once(tmp_path, web):
    # an app-like page (its links inserted by a script): render=auto sends it to the browser
    seeds = write_seeds(tmp_path, ["http://scripted.test/related.html"])
    result = run_crawl(tmp_path, web, {"seeds": str(seeds)}, watch=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(i["target_url"] for i in result.items) == [
        f"http://gone.test/js-inline-{n}" for n in (1, 2, 3)
    ]
    assert result.stats["brokenlinks/render/pages"] == 1
    assert result.stats["playwright/browser_count"] == 1
    assert "node" in _browser_processes(result.processes)
    assert wait_gone(set(result.processes)) == set(), "the browser stopped with the crawl"
