"""Scrapy settings of the brokenlinks project: its identity, its add-on, and the process.

The crawl's settings come from the add-on (``brokenlinks.addon``: link-checking defaults,
the project's components); the defaults of the project's own ``BROKENLINKS_*`` settings are
the field defaults of ``brokenlinks.config.BrokenlinksConfig``. What stays here is what a
project names for itself, and what Scrapy reads from the project before any add-on runs.

Loading this module also sets ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""`` in the process
environment (unless it is set already), at process start: Scrapy imports its settings
module before any component, and its cookie middleware builds a ``TLDExtract`` at import
time that would otherwise download the Public Suffix List (and hang without a network).
The project's own code never needs it (``brokenlinks.parsing.sites`` passes
``suffix_list_urls=()``); importing ``brokenlinks`` changes nothing.
"""

import os

from brokenlinks.addon import GUARDED_RESOLVER

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

BOT_NAME = "brokenlinks"
COMMANDS_MODULE = "brokenlinks.commands"
NEWSPIDER_MODULE = "brokenlinks.spiders"
SPIDER_MODULES = ["brokenlinks.spiders"]

ADDONS = {"brokenlinks.Addon": 0}

# The network guard and host overrides live in the resolver, at connection time.
# CrawlerProcess builds it from these settings before any crawler applies its add-ons.
DNSCACHE_ENABLED = True
DNSCACHE_SIZE = 10000
DNS_TIMEOUT = 10
TWISTED_DNS_RESOLVER = GUARDED_RESOLVER

LOG_LEVEL = "INFO"
# the crawl summary (brokenlinks.extensions.summary) is the last thing a crawl prints; it
# logs the stats itself, to the log file or at DEBUG
STATS_DUMP = False
