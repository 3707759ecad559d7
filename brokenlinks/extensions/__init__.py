"""Scrapy extensions of the crawl: prospect feeds, the progress line, the summary, quiet logs."""
