"""Every ``BROKENLINKS_*`` setting, its default and its validation, read in one place.

Components take the crawler's :class:`BrokenlinksConfig` in ``from_crawler`` with
:func:`config_of` (read once per crawler, when its settings are final), or build one with
``BrokenlinksConfig.from_settings(settings)`` where there is no crawler (commands);
settings.py only overrides. A bad value raises ``ValueError`` naming the setting and the
value, in the form ``BROKENLINKS_NAME: VALUE is not WHAT`` (``scrapy crawl`` prints it as
its one error line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Self
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

PREFIX = "BROKENLINKS_"


def _resolve_map(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return {}
        if value.startswith("{"):
            value = json.loads(value)
        else:
            # curl-like "name=address[:port],name=address" for the command line
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            if any(len(pair) != 2 for pair in pairs):  # noqa: PLR2004
                msg = "expected NAME=ADDRESS[:PORT] pairs separated by commas"
                raise ValueError(msg)
            value = {name.strip(): address.strip() for name, address in pairs}
    if not isinstance(value, dict):
        msg = "expected a mapping of host name to address"
        raise TypeError(msg)
    return {str(k).lower(): str(v) for k, v in value.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenlinksConfig:
    """The project's own settings, with their defaults."""

    #: SQLAlchemy URL of the store
    database_url: str = "sqlite:///data/brokenlinks.sqlite3"
    #: allow connections to private, loopback, link-local and reserved addresses
    allow_private_addresses: bool = False
    #: host name (or ``*.suffix`` pattern) → address[:port], like curl's --resolve
    resolve: dict[str, str] = field(default_factory=dict)
    #: the most body bytes a link check reads from a target
    max_body_bytes: int = 262_144
    #: send HEAD first and confirm with GET only what is not clearly alive
    head_first: bool = True
    #: probe each host once with a URL that cannot exist (soft-404 detection); off:
    #: a 2xx HEAD is trusted everywhere and only GET answers are read for soft 404s
    soft404_probe: bool = True
    #: the longest Retry-After (seconds) honoured for 429/503; longer: give up at once
    retry_after_max: float = 30.0
    #: how many items the store writes in one transaction (a page's item carries all its
    #: links: 500 pages of 55 links held 50 MB more at the peak than 100, for no CPU saved)
    store_batch_size: int = 100
    #: seconds the store may stay unavailable (counted from the first failed write) before
    #: the crawl gives up on it and ends as failed (pipelines/batching.py)
    store_outage_limit: float = 300.0
    #: how many times a timed-out request is retried (others: RETRY_TIMES)
    timeout_retry_times: int = 1
    #: the store pipeline can be switched off (export only)
    store_enabled: bool = True
    #: write the store's batches in a writer process of their own (pipelines/writer.py),
    #: off the crawl process's CPU; off: in a thread of the crawl process
    store_process: bool = True
    #: most check results the crawl keeps in memory; the least recently used beyond it
    #: move to a temporary SQLite file (brokenlinks/checker/spill.py). 0: no bound
    verdicts_in_memory: int = 50_000
    #: check again, alone on its host (early, or once the crawl is quiet), every target that
    #: failed for a reason that can be transient (timeout, connection, 5xx, TLS timeout)
    #: before it is dead
    confirm_enabled: bool = True
    #: most hosts confirmed at once during a confirmation pass (one request per host)
    confirm_concurrency: int = 8
    #: confirm a target during the crawl, once its host (and the host's address) is ours
    #: alone and the event loop keeps up, instead of waiting for the crawl to be quiet
    confirm_early: bool = True
    #: seconds from the start of a target's first try to its early confirmation
    confirm_delay: float = 2.0
    #: event-loop lag (seconds) above which the crawl sends fewer requests at once (0: off)
    lag_max: float = 0.5
    #: processes sharing a crawl's CPU work (page extraction, body reading), the crawl's
    #: own included: 1 does all of it in the crawl process; 0: one per CPU core
    workers: int = 0
    #: processes that check links, each owning the targets of its sites (brokenlinks.cluster):
    #: 1 checks in the crawl process; 0 (the default): one per CPU core (shared among
    #: Scrapyd's crawls), and at least one process with ``REDIS_URL`` (in the cluster)
    check_shards: int = 0
    #: the namespace of a cluster run's keys in Redis (with ``REDIS_URL`` and check shards:
    #: brokenlinks.cluster.remote); "": scrapy-redis' ``SCHEDULER_QUEUE_KEY`` + ``:checks``,
    #: else ``brokenlinks:{spider}``
    cluster_key: str = ""
    #: virtual shards the sites of a cluster are hashed to (each leased by one node);
    #: every node of a cluster must use the same number
    cluster_shards: int = 64
    #: seconds a node's lease of a virtual shard lasts unless renewed: how soon the shards
    #: of a dead node are taken over
    cluster_lease: float = 10.0
    #: nodes a cluster run expects: until that many have joined (for at most three lease
    #: times), a node leases only its share of them, so the first node up does not take
    #: every shard and hand most back a moment later (0: count the nodes alive)
    cluster_nodes: int = 0
    # -- whole-site crawls (spiders/site.py, brokenlinks/parsing/siteurls.py) ----------------
    #: most pages a site crawl fetches (``-a max_pages`` overrides)
    site_max_pages: int = 5000
    #: most link hops from a start URL (``-a depth`` overrides; 0: no limit)
    site_max_depth: int = 10
    #: longest URL a site crawl follows (0: no limit)
    site_max_url_length: int = 512
    #: most times one path segment may occur in a followed URL (0: no limit)
    site_max_repeated_segments: int = 2
    #: calendar-like URLs further than this many years from now are not followed (0: off)
    site_calendar_years: int = 3
    #: query parameters dropped from followed URLs (comma-separated fnmatch patterns)
    site_tracking_params: str = (
        "utm_*,gclid,dclid,gbraid,wbraid,fbclid,msclkid,yclid,mc_cid,mc_eid,_ga,_gl,igshid"
    )
    #: last path segments that name a directory's index page (comma-separated)
    site_index_pages: str = (
        "index.html,index.htm,index.php,index.asp,index.aspx,default.htm,default.html,"
        "default.asp,default.aspx"
    )
    #: most sitemap files read per crawl (indexes included)
    site_max_sitemaps: int = 50
    #: audit the pages' other references too: images (src, srcset), frames, canonical and
    #: hreflang URLs, each stored and exported with its link_kind
    site_references: bool = False
    # -- JavaScript rendering (brokenlinks/render/browser.py) ---------------------------------
    #: the browser executable ("": /usr/bin/chromium if present, else Playwright's own)
    render_browser_path: str = ""
    #: rendered pages per browser context before a fresh one is used (the old one closed)
    render_pages_per_context: int = 100
    #: days a stored verdict stays fresh: such a target is not checked again (0: always check)
    recheck_after: float = 3.0
    # -- outreach (brokenlinks/outreach/, docs/outreach.md) ----------------------------
    #: look dead targets up in the Wayback Machine (``scrapy crawl archive``)
    archive_enabled: bool = True
    #: the Wayback Machine: its CDX API is ``{url}/cdx/search/cdx``, captures ``{url}/web/...``
    archive_url: str = "https://web.archive.org"
    #: look the domains of targets dead by ``dns`` up in RDAP (``scrapy crawl archive``)
    rdap_enabled: bool = True
    #: IANA's RDAP bootstrap registry for domain names (RFC 9224)
    rdap_bootstrap_url: str = "https://data.iana.org/rdap/dns.json"
    #: most of your own pages ``scrapy crawl mysite`` reads per start URL (sitemaps included)
    mysite_max_pages: int = 200
    #: a Jinja2 template file for the pitch drafts ("": the bundled template)
    pitch_template: str = ""
    # -- watching and reporting (brokenlinks/extensions/progress.py, brokenlinks/reporting) -------
    #: show crawl progress: a live line on a terminal, else a log line every LOGSTATS_INTERVAL
    progress_enabled: bool = True
    #: most rows per table of the HTML report (``scrapy report -o report.html``)
    report_max_rows: int = 1000

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        """Read every ``BROKENLINKS_*`` setting; ``ValueError`` names a bad one.

        >>> from scrapy.settings import Settings
        >>> BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_RECHECK_AFTER": "abc"}))
        Traceback (most recent call last):
        ValueError: BROKENLINKS_RECHECK_AFTER: 'abc' is not a number
        >>> BrokenlinksConfig.from_settings(Settings({"BROKENLINKS_RECHECK_AFTER": "-1"}))
        Traceback (most recent call last):
        ValueError: BROKENLINKS_RECHECK_AFTER: -1 is not a number of days, at least 0
        """
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if settings.get(name) is None:
                continue
            try:
                values[f.name] = _read(settings, name, f.type)
            except (TypeError, ValueError, json.JSONDecodeError) as e:
                raw = settings.get(name)
                shown = raw if isinstance(raw, str) else json.dumps(raw, default=str)
                msg = f"{name}: {shown!r} is not {_KIND_TEXT.get(str(f.type), 'valid')}"
                if isinstance(e, json.JSONDecodeError):
                    msg += f" ({e})"
                raise ValueError(msg) from e
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first setting whose value is out of range."""
        for name, (low, high, what) in _RANGES.items():
            value = getattr(self, name)
            if not (low <= value and (high is None or value <= high)):  # NaN fails too
                msg = f"{PREFIX}{name.upper()}: {_show(value)} is not {what}"
                raise ValueError(msg)
        for name in ("archive_url", "rdap_bootstrap_url"):
            value = getattr(self, name)
            if not value.startswith(("http://", "https://")):
                msg = f"{PREFIX}{name.upper()}: {value!r} is not an http(s) URL"
                raise ValueError(msg)
        if not self.database_url.strip():
            msg = f"{PREFIX}DATABASE_URL: empty, expected an SQLAlchemy URL"
            raise ValueError(msg)


_KIND_TEXT = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "dict[str, str]": "NAME=ADDRESS[:PORT] pairs separated by commas, or a JSON object",
}

#: field → (lowest, highest or None, what a good value is)
_RANGES: dict[str, tuple[float, float | None, str]] = {
    "max_body_bytes": (1024, None, "a number of bytes, at least 1024"),
    "retry_after_max": (0, 3600, "a number of seconds from 0 to 3600"),
    "store_batch_size": (1, None, "a whole number, at least 1"),
    "store_outage_limit": (0, None, "a number of seconds, at least 0"),
    "timeout_retry_times": (0, None, "a whole number, at least 0"),
    "verdicts_in_memory": (0, None, "a whole number, at least 0 (0: no bound)"),
    "workers": (0, 256, "a whole number from 0 (one per CPU core) to 256"),
    "check_shards": (0, 256, "a whole number from 0 (one per CPU core) to 256"),
    "cluster_shards": (1, 4096, "a whole number from 1 to 4096"),
    "cluster_lease": (1, 600, "a number of seconds from 1 to 600"),
    "cluster_nodes": (0, 4096, "a whole number from 0 (the nodes alive) to 4096"),
    "confirm_concurrency": (1, None, "a whole number, at least 1"),
    "confirm_delay": (0, 3600, "a number of seconds from 0 to 3600"),
    "lag_max": (0, 60, "a number of seconds from 0 (off) to 60"),
    "site_max_pages": (1, None, "a whole number, at least 1"),
    "site_max_depth": (0, None, "a whole number, at least 0"),
    "site_max_url_length": (0, None, "a whole number, at least 0"),
    "site_max_repeated_segments": (0, None, "a whole number, at least 0"),
    "site_calendar_years": (0, None, "a whole number, at least 0"),
    "site_max_sitemaps": (1, None, "a whole number, at least 1"),
    "render_pages_per_context": (1, None, "a whole number, at least 1"),
    "recheck_after": (0, None, "a number of days, at least 0"),
    "report_max_rows": (1, None, "a whole number, at least 1"),
    "mysite_max_pages": (1, None, "a whole number, at least 1"),
}


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _read(settings: BaseSettings, name: str, kind: object) -> Any:
    if kind == "bool":
        return settings.getbool(name)
    if kind == "int":
        value = settings.get(name)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)  # getint() would truncate 2.5 to 2
        return settings.getint(name)
    if kind == "float":
        number = settings.getfloat(name)
        if number != number or number in {float("inf"), float("-inf")}:  # noqa: PLR0124
            raise ValueError(number)
        return number
    if kind == "dict[str, str]":
        return _resolve_map(settings.get(name))
    return str(settings.get(name))


_CONFIGS: WeakKeyDictionary[Crawler, BrokenlinksConfig] = WeakKeyDictionary()


def config_of(crawler: Crawler) -> BrokenlinksConfig:
    """Return *crawler*'s :class:`BrokenlinksConfig`, read once per crawler.

    Settings may still change until Scrapy freezes them (a spider's ``from_crawler``
    sets some from its arguments): before that each call reads them afresh, after it the
    first read is kept for the crawler's life and handed to every component.
    """
    if not crawler.settings.frozen:
        return BrokenlinksConfig.from_settings(crawler.settings)
    config = _CONFIGS.get(crawler)
    if config is None:
        config = _CONFIGS[crawler] = BrokenlinksConfig.from_settings(crawler.settings)
    return config
