"""A decided target is reused without a task: ``LinkChecker.known`` and ``pages.check_links``."""

from __future__ import annotations

from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.checker import verdicts
from brokenlinks.checker.checks import LinkChecker
from brokenlinks.checker.pages import Scope, check_links
from brokenlinks.parsing.extract import extract_page


def _checker() -> LinkChecker:
    return build_from_crawler(LinkChecker, get_crawler())


@deferred_f_from_coro_f
async def test_known_returns_decided_verdicts_only_and_counts_reuse():
    checker = _checker()
    assert checker.known("http://gone.test/x") is None
    assert checker.crawler.stats.get_value("brokenlinks/targets/reused") is None
    decided = await checker.check(
        "http://gone.test/x", verdicts.classify_status(404, "http://gone.test/x")
    )
    assert checker.known("http://gone.test/x") is decided
    assert checker.known("http://gone.test/x") is decided
    assert checker.crawler.stats.get_value("brokenlinks/targets/reused") == 2


@deferred_f_from_coro_f
async def test_check_links_reuses_without_downloading():
    """Every in-scope target is decided already: the results come back without a request."""
    checker = _checker()
    dead = await checker.check(
        "http://gone.test/x", verdicts.classify_status(404, "http://gone.test/x")
    )
    alive = await checker.check(
        "http://ok.test/", verdicts.classify_status(200, "http://ok.test/")
    )
    page = extract_page(
        '<a href="http://gone.test/x">a</a> <a href="http://ok.test/">b</a>'
        ' <a href="http://gone.test/x">again</a> <a href="/local">c</a>',
        "http://blog.test/page.html",
    )
    results = await check_links(page, Scope(), checker)
    assert results == {"http://gone.test/x": dead, "http://ok.test/": alive}
    assert checker.crawler.stats.get_value("brokenlinks/targets/reused") == 2
