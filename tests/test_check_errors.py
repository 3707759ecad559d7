"""A check that raises ends as a verdict (blocked ``error``), and the pages linking to it keep their items.

The fault is injected through a real component: a downloader middleware
(``tests.crawl_components.ExplodingBodyMiddleware``) hands the checker a response whose body
cannot be read, for one target that two referring pages link to.
"""

from __future__ import annotations

import pytest

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds
from tests.crawl_components import EXPLODING_URL


def _page(title: str, dead: str) -> str:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><main>"
        f'<p>Read <a href="{EXPLODING_URL}">the exploding page</a> and '
        f'<a href="{dead}">a page that is gone</a>.</p></main></body></html>'
    )


ROUTES = {
    "pages.test": {
        "/a.html": {"body": _page("Page A", "http://gone.test/a")},
        "/b.html": {"body": _page("Page B", "http://gone.test/b")},
        "/robots.txt": {"status": 404},
    },
    # every path answers 200: not an honest host, so the target is read with GET
    "boom.test": {"default": {"body": "<html><title>Boom</title><p>fine</p></html>"}},
    "gone.test": {"default": {"status": 404}},
}


@pytest.mark.e2e
def test_a_raising_check_is_a_verdict_and_pages_keep_their_items(tmp_path):
    with LocalWeb(tmp_path, routes=ROUTES) as web:
        seeds = write_seeds(tmp_path, ["http://pages.test/a.html", "http://pages.test/b.html"])
        result = run_crawl(
            tmp_path,
            web,
            {"seeds": str(seeds)},
            settings={
                "DOWNLOADER_MIDDLEWARES": {
                    "tests.crawl_components.ExplodingBodyMiddleware": 950,
                },
                # one page at a time: the second page finds the first one's finished check
                "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            },
        )
    assert result.returncode == 0, result.stderr[-3000:]
    # both pages keep their prospects (the dead link beside the exploding one)
    assert sorted((i["source_url"], i["target_url"]) for i in result.items) == [
        ("http://pages.test/a.html", "http://gone.test/a"),
        ("http://pages.test/b.html", "http://gone.test/b"),
    ]
    targets = {row["url"]: row for row in result.rows["targets"]}
    boom = targets[EXPLODING_URL]
    assert (boom["kind"], boom["reason"]) == ("blocked", "error")
    assert "RuntimeError: injected fault" in boom["detail"]
    # both occurrences of the exploding link are stored with their pages
    pages = {row["id"]: row["url"] for row in result.rows["pages"]}
    linking = sorted(
        pages[r["page_id"]] for r in result.rows["links"] if r["target_id"] == boom["id"]
    )
    assert linking == ["http://pages.test/a.html", "http://pages.test/b.html"]
    assert result.stats["brokenlinks/targets/check_errors"] == 1
    # logged once: one ERROR line, no traceback at INFO
    errors = [line for line in result.stderr.splitlines() if "failed unexpectedly" in line]
    assert len(errors) == 1, errors
    assert "ERROR" in errors[0]
    assert "Traceback" not in result.stderr
