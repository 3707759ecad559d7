"""The Scrapy add-on: everything a crawl needs from brokenlinks, installed in one line.

``ADDONS = {"brokenlinks.Addon": 0}`` (the project's own settings.py does it) sets the
link-checking defaults at the add-on priority, so that project, spider and command-line
settings still win, and puts the project's components in Scrapy's component dictionaries
whatever their priority: the link checker and its extensions, the retry and redirect
middlewares that replace Scrapy's, the polite downloader, the prospect feeds and the
store pipelines.

With scrapy-redis' scheduler (``SCHEDULER = "scrapy_redis.scheduler.Scheduler"``), the
add-on also swaps scrapy-redis' queue class for its reliable equivalent
(:mod:`brokenlinks.cluster.queues`): a referring page a node popped is held until its
records are stored. A queue class it cannot wrap is kept, with one WARNING naming
``SCHEDULER_QUEUE_CLASS``.

The resolver's settings cannot come from an add-on: ``TWISTED_DNS_RESOLVER`` (the network
guard), ``DNS_TIMEOUT`` and ``DNSCACHE_*`` are read by ``CrawlerProcess`` from the project's
settings before any crawler applies its add-ons. Projects that use the add-on set them
themselves, as brokenlinks' settings.py does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from brokenlinks import __version__
from brokenlinks.cluster.queues import reliable_queue_class
from brokenlinks.extensions.feeds import export_prospects_only
from brokenlinks.items import PROSPECT_FIELDS

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

#: the resolver that applies the network guard (``brokenlinks.net.guard``)
GUARDED_RESOLVER = "brokenlinks.net.guard.GuardedResolver"

#: plain settings, set at the add-on priority: link-checking defaults, not scraping ones
SETTINGS: dict[str, Any] = {
    # Identity: say who is checking, and where to read about it.
    "USER_AGENT": f"brokenlinks/{__version__} (+https://github.com/brokenlinks/brokenlinks)",
    # Politeness: many hosts at once, few requests to each. Referring pages obey robots.txt;
    # a link check is a single click and does not (brokenlinks.checker.checks).
    "CONCURRENT_REQUESTS": 128,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    "DOWNLOAD_DELAY": 0,
    "ROBOTSTXT_OBEY": True,
    # Waiting: a dead host must not hold a check for minutes (Scrapy: 180 s x 3 tries).
    "DOWNLOAD_TIMEOUT": 20,
    "DNS_TIMEOUT": 10,
    "RETRY_ENABLED": True,
    "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
    "RETRY_TIMES": 2,
    # Bodies: referring pages are read whole up to a bound; checks cap their own reads.
    "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 8 * 1024 * 1024,
    # Throughput (benchmarks/): Scrapy starts CONCURRENT_ITEMS tasks per parsed page
    # whatever its item count, which cost 18% of the CPU of a 2,000-page crawl at 100.
    "CONCURRENT_ITEMS": 16,
    # The network guard: the crawler's view of the resolver the process installs (see the
    # module docstring).
    "TWISTED_DNS_RESOLVER": GUARDED_RESOLVER,
    # Keep CONCURRENT_REQUESTS_PER_DOMAIN true under the asyncio reactor.
    "DOWNLOADER": "brokenlinks.net.downloader.PoliteDownloader",
    # JavaScript rendering (-a render=auto|always, brokenlinks.render): scrapy-playwright's
    # handler is installed by the spider only when a page can be rendered. Few pages at once,
    # each closed after its response; contexts rotate (one draining while the next fills).
    "PLAYWRIGHT_BROWSER_TYPE": "chromium",
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
    "PLAYWRIGHT_MAX_CONTEXTS": 2,
    "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    # Feeds export prospects only, in the contract's column order, CSV cells made safe.
    "FEED_EXPORT_ENCODING": "utf-8",
    "FEED_EXPORT_FIELDS": PROSPECT_FIELDS,
    "FEED_STORE_EMPTY": True,
    # A page with <meta http-equiv="refresh"> is read as itself: its links are checked and
    # the refresh target is one of them (brokenlinks.parsing.extract), not a replacement.
    "METAREFRESH_ENABLED": False,
    # The crawl summary (brokenlinks.extensions.summary) is the last thing a crawl prints; it
    # logs the stats itself, to the log file or at DEBUG.
    "STATS_DUMP": False,
    # No log record made per response and per item when the log is above DEBUG.
    "LOG_FORMATTER": "brokenlinks.extensions.quietlogs.QuietLogFormatter",
}

#: component dictionaries: (setting, component import path, order); order None switches a
#: component of Scrapy's off where one of ours takes its place
COMPONENTS: list[tuple[str, str, int | None]] = [
    # Only the web: a page must not make the crawler read local files, S3 or FTP.
    ("DOWNLOAD_HANDLERS", "data", None),
    ("DOWNLOAD_HANDLERS", "file", None),
    ("DOWNLOAD_HANDLERS", "ftp", None),
    ("DOWNLOAD_HANDLERS", "s3", None),
    ("EXTENSIONS", "brokenlinks.checker.checks.LinkChecker", 100),
    ("EXTENSIONS", "brokenlinks.checker.freshness.FreshVerdicts", 110),
    ("EXTENSIONS", "brokenlinks.extensions.feeds.ProspectFeedExporter", 0),
    ("EXTENSIONS", "brokenlinks.net.lag.LoopLag", 120),
    ("EXTENSIONS", "brokenlinks.extensions.progress.CrawlProgress", 490),
    ("EXTENSIONS", "brokenlinks.extensions.summary.CrawlSummary", 500),
    ("EXTENSIONS", "brokenlinks.extensions.quietlogs.QuietRobotsErrors", 510),
    # The cyclic garbage collector: start-up frozen, young objects collected less often
    # (issue 23: a fifth to two fifths of the crawl process's CPU, growing with the heap).
    ("EXTENSIONS", "brokenlinks.extensions.gctuning.GarbageCollectorTuning", 520),
    ("EXTENSIONS", "scrapy.extensions.feedexport.FeedExporter", None),
    ("EXTENSIONS", "scrapy.extensions.telnet.TelnetConsole", None),
    ("ITEM_PIPELINES", "brokenlinks.pipelines.store.StorePipeline", 300),
    ("ITEM_PIPELINES", "brokenlinks.pipelines.outreach.OutreachStorePipeline", 310),
    # Retry-After: 429 and 503 wait as the server asks (up to BROKENLINKS_RETRY_AFTER_MAX),
    # per host, in place of Scrapy's immediate retry. A hung host is not retried twice:
    # BROKENLINKS_TIMEOUT_RETRY_TIMES, in the same middleware.
    (
        "DOWNLOADER_MIDDLEWARES",
        "brokenlinks.downloadermiddlewares.retry.RetryAfterMiddleware",
        550,
    ),
    ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.retry.RetryMiddleware", None),
    # A referring page that redirects to itself or to another seed must not vanish in the
    # duplicate filter.
    (
        "DOWNLOADER_MIDDLEWARES",
        "brokenlinks.downloadermiddlewares.redirects.PageRedirectMiddleware",
        600,
    ),
    ("DOWNLOADER_MIDDLEWARES", "scrapy.downloadermiddlewares.redirect.RedirectMiddleware", None),
    # Check shards (BROKENLINKS_CHECK_SHARDS): a referring page is downloaded by the shard
    # that owns its site, in the same per-host slot as the site's checks.
    ("DOWNLOADER_MIDDLEWARES", "brokenlinks.cluster.middleware.ShardFetchMiddleware", 840),
]


class Addon:
    """Install brokenlinks in a Scrapy crawl (``ADDONS = {"brokenlinks.Addon": 0}``)."""

    def update_settings(self, settings: BaseSettings) -> None:
        for name, value in SETTINGS.items():
            settings.set(name, value, "addon")
        for name, component, order in COMPONENTS:
            # an entry the user set already (any priority) is theirs: keep it
            current = settings.getdict(name)
            if component in current:
                continue
            current[component] = order
            settings.set(name, current, settings.getpriority(name) or 0)
        settings.set(
            "FEED_EXPORTERS",
            {"csv": "brokenlinks.extensions.feeds.SafeCsvItemExporter"}
            | settings.getdict("FEED_EXPORTERS"),
            settings.getpriority("FEED_EXPORTERS") or 0,
        )
        # feeds export prospects unless they say otherwise: -O, Scrapyd and the spider have
        # set theirs by now (Scrapy has no setting for a default item class)
        export_prospects_only(settings)
        queue_class, warning = reliable_queue_class(
            settings.get("SCHEDULER"), settings.get("SCHEDULER_QUEUE_CLASS")
        )
        if queue_class is not None:
            # scrapy-redis' own queue, or its default: the same queue, each page held
            priority = settings.getpriority("SCHEDULER_QUEUE_CLASS")
            settings.set("SCHEDULER_QUEUE_CLASS", queue_class, priority or "addon")
        if warning is not None:
            logger.warning("%s", warning)
