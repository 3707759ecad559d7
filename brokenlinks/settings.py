"""Scrapy settings of brokenlinks: link-checking defaults rather than scraping defaults.

Only overrides live here; the defaults of the project's own ``BROKENLINKS_*`` settings
are the field defaults of ``brokenlinks.config.BrokenlinksConfig``.

Loading this module also sets ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""`` in the process
environment (unless it is set already), at process start: Scrapy imports its settings
module before any component, and its cookie middleware builds a ``TLDExtract`` at import
time that would otherwise download the Public Suffix List (and hang without a network).
The project's own code never needs it (``brokenlinks.sites`` passes ``suffix_list_urls=()``);
importing ``brokenlinks`` changes nothing.
"""

import os

from brokenlinks import __version__

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

BOT_NAME = "brokenlinks"
COMMANDS_MODULE = "brokenlinks.commands"
NEWSPIDER_MODULE = "brokenlinks.spiders"
SPIDER_MODULES = ["brokenlinks.spiders"]

# Identity: say who is checking, and where to read about it.
USER_AGENT = f"brokenlinks/{__version__} (+https://github.com/brokenlinks/brokenlinks)"

# Politeness: many hosts at once, few requests to each. Referring pages obey robots.txt;
# a link check is a single click and does not (see brokenlinks.checks).
CONCURRENT_REQUESTS = 128
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
ROBOTSTXT_OBEY = True

# Waiting: a dead host must not hold a check for minutes (Scrapy: 180 s x 3 tries).
DOWNLOAD_TIMEOUT = 20
DNS_TIMEOUT = 10
RETRY_ENABLED = True
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
RETRY_TIMES = 2

# Bodies: referring pages are read whole up to a bound; checks cap their own reads.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024

# Throughput (benchmarks/): Scrapy starts CONCURRENT_ITEMS tasks per parsed page
# whatever its item count, which cost 18% of the CPU of a 2,000-page crawl at 100.
CONCURRENT_ITEMS = 16

# Only the web: a page must not make the crawler read local files, S3 or FTP.
DOWNLOAD_HANDLERS = {"data": None, "file": None, "ftp": None, "s3": None}

# The network guard and host overrides live in the resolver, at connection time.
DNSCACHE_ENABLED = True
DNSCACHE_SIZE = 10000
TWISTED_DNS_RESOLVER = "brokenlinks.guard.GuardedResolver"

# Keep CONCURRENT_REQUESTS_PER_DOMAIN true under the asyncio reactor.
DOWNLOADER = "brokenlinks.downloader.PoliteDownloader"

# JavaScript rendering (-a render=auto|always, brokenlinks/render.py): scrapy-playwright's
# handler is installed by the spider only when a page can be rendered. Few pages at once,
# each closed after its response; contexts rotate (one draining while the next fills).
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_MAX_CONTEXTS = 2
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4

EXTENSIONS = {
    "brokenlinks.checks.LinkChecker": 100,
    "brokenlinks.freshness.FreshVerdicts": 110,
    "brokenlinks.feeds.ProspectFeedExporter": 0,
    "brokenlinks.progress.CrawlProgress": 490,
    "brokenlinks.summary.CrawlSummary": 500,
    "brokenlinks.quietlogs.QuietRobotsErrors": 510,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.telnet.TelnetConsole": None,
}

ITEM_PIPELINES = {
    "brokenlinks.pipelines.store.StorePipeline": 300,
    "brokenlinks.pipelines.outreach.OutreachStorePipeline": 310,
}

# Feeds export prospects only, in the contract's column order.
FEED_EXPORT_ENCODING = "utf-8"
FEED_EXPORT_FIELDS = [
    "source_url",
    "source_title",
    "source_domain",
    "target_url",
    "target_domain",
    "status",
    "reason",
    "final_url",
    "anchor_text",
    "rel",
    "follow",
    "position",
    "context",
    "links_on_page",
    "checked_at",
    "link_kind",
]
FEED_EXPORTERS = {"csv": "brokenlinks.feeds.SafeCsvItemExporter"}
FEED_STORE_EMPTY = True

LOG_LEVEL = "INFO"

# Retry-After: 429 and 503 wait as the server asks (up to BROKENLINKS_RETRY_AFTER_MAX),
# per host, in place of Scrapy's immediate retry (brokenlinks.retry). A hung host is not
# retried twice: BROKENLINKS_TIMEOUT_RETRY_TIMES, in the same middleware.
DOWNLOADER_MIDDLEWARES = {
    "brokenlinks.retry.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    # a referring page that redirects to itself or to another seed must not vanish in
    # the duplicate filter (brokenlinks.redirects)
    "brokenlinks.redirects.PageRedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
}
# A page with <meta http-equiv="refresh"> is read as itself: its links are checked and
# the refresh target is one of them (brokenlinks.extract), not a replacement page.
METAREFRESH_ENABLED = False
