"""Scrapy's per-response and per-item DEBUG lines are not made above DEBUG (quietlogs)."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from brokenlinks.extensions.quietlogs import QuietLogFormatter
from brokenlinks.ops.scrapysettings import effective_settings


def _formatter(**settings: object) -> QuietLogFormatter:
    return build_from_crawler(QuietLogFormatter, get_crawler(Spider, settings_dict=settings))


def _events(formatter: QuietLogFormatter) -> tuple[object, object]:
    request = Request("http://a.test/")
    response = HtmlResponse("http://a.test/", body=b"<html></html>", request=request)
    spider = Spider("s")
    return (
        formatter.crawled(request, response, spider),
        formatter.scraped({"url": "http://a.test/"}, response, spider),
    )


@pytest.mark.parametrize(
    "settings", [{"LOG_LEVEL": "INFO"}, {"LOG_LEVEL": logging.WARNING}, {"LOG_ENABLED": False}]
)
def test_no_line_made_above_debug(settings):
    assert _events(_formatter(**settings)) == (None, None)


@pytest.mark.parametrize("level", ["DEBUG", "debug", logging.DEBUG])
def test_at_debug_the_lines_are_scrapys(level):
    crawled, scraped = _events(_formatter(LOG_LEVEL=level))
    assert isinstance(crawled, dict)
    assert crawled["level"] == logging.DEBUG
    assert crawled["args"]["status"] == 200
    assert isinstance(scraped, dict)
    assert scraped["msg"].startswith("Scraped from")


def test_the_add_on_sets_it_and_a_project_may_set_its_own():
    project = Settings()
    project.setmodule("brokenlinks.settings", priority="project")
    assert effective_settings(project).get("LOG_FORMATTER") == (
        "brokenlinks.extensions.quietlogs.QuietLogFormatter"
    )
    project.set("LOG_FORMATTER", "myproject.logs.Formatter", priority="project")
    assert effective_settings(project).get("LOG_FORMATTER") == "myproject.logs.Formatter"
