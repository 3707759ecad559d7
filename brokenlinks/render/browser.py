"""JavaScript rendering of referring pages with scrapy-playwright, and its network guard.

``-a render=never|auto|always`` (both spiders, default auto).
:func:`brokenlinks.render.detect.looks_client_rendered` is the auto policy: it tells from a page's raw HTML whether its links are probably inserted
by JavaScript. :func:`configure_rendering` writes the settings that put scrapy-playwright's
download handler on http/https (only when rendering can happen: it starts Playwright's
driver, and falls back to Scrapy's own HTTP handler, resolver and guard included, for every
request without ``meta["playwright"]``). The browser's only way out is the crawl's guarded
egress proxy (:mod:`brokenlinks.render.egress`), which applies ``BROKENLINKS_RESOLVE`` and the
network guard to every connection it opens. The options that make it so are merged into the
user's by the handler when it launches the browser (:func:`launch_options`,
:func:`context_options`), so no setting priority replaces them, and
:func:`check_browser_settings` refuses, before the crawl, a setting that would open another
way out. :class:`BrowserGuard` (``PLAYWRIGHT_ABORT_REQUEST``) aborts what it can see of
that earlier, with stats. Only referring pages are rendered (:func:`render_meta`); link
checks stay plain HTTP. A page the browser fails to render is fetched again without it
(:meth:`BrowserContexts.fallback_request`).

Settings read: ``BROKENLINKS_RENDER_BROWSER_PATH``, ``BROKENLINKS_RESOLVE``,
``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES``, ``PLAYWRIGHT_LAUNCH_OPTIONS``, ``PLAYWRIGHT_CONTEXTS``,
``PLAYWRIGHT_BROWSER_TYPE``, ``PLAYWRIGHT_BROWSER_PROVIDER``, ``PLAYWRIGHT_CDP_URL``,
``PLAYWRIGHT_CONNECT_URL``; written (at spider priority, when not set higher):
``DOWNLOAD_HANDLERS``, ``PLAYWRIGHT_ABORT_REQUEST``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy_playwright.page import PageMethod

from brokenlinks.config import BrokenlinksConfig
from brokenlinks.net import guard
from brokenlinks.parsing.extract import Position, extract_page
from brokenlinks.parsing.sites import site_of
from brokenlinks.parsing.urls import host_of, is_http, port_of
from brokenlinks.render.auto import SiteRenderLearner
from brokenlinks.render.detect import render_signal

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import TextResponse
    from scrapy.settings import BaseSettings, Settings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: where Debian (and Ubuntu's snap-less derivatives) install Chromium
DEBIAN_CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT_HANDLER = "brokenlinks.render.handler.LazyPlaywrightHandler"
#: the priority at which spider arguments write settings
ARG_SETTING_PRIORITY = "spider"
#: ids of the mount points of client-side frameworks (React, Vue, Next, Nuxt, Gatsby...)
_RESOLVE_TIMEOUT = 5.0


def browser_path(config: BrokenlinksConfig) -> str | None:
    """The browser executable to launch; ``None``: the one ``playwright install`` put."""
    if config.render_browser_path:
        return config.render_browser_path
    return DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).is_file() else None


#: Chromium switches that would give the browser another way out than the egress proxy
_ROUTING_SWITCHES = (
    "--proxy-server",
    "--proxy-pac-url",
    "--proxy-bypass-list",
    "--no-proxy-server",
    "--proxy-auto-detect",
    "--host-resolver-rules",
    "--host-rules",
    "--force-webrtc-ip-handling-policy",
)


def egress_args(proxy_url: str) -> list[str]:
    """The Chromium switches that make the egress proxy the browser's only way out.

    Loopback is not bypassed (Chromium bypasses it by default), names are resolved by the
    proxy only (any lookup of Chromium's own fails), and WebRTC sends no UDP outside it.

    >>> egress_args("http://127.0.0.1:8080")  # doctest: +NORMALIZE_WHITESPACE
    ['--proxy-server=http://127.0.0.1:8080', '--proxy-bypass-list=<-loopback>',
     '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
     '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
     '--disable-background-networking', '--disable-component-update']
    """
    return [
        f"--proxy-server={proxy_url}",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        # no update checks, sign-in or safe-browsing fetches of the browser's own
        "--disable-background-networking",
        "--disable-component-update",
    ]


def _is_routing_switch(arg: object) -> bool:
    """Tell whether a Chromium switch routes or resolves, however it is spelt.

    Chromium reads ``-switch`` like ``--switch`` on POSIX, and switch names are ASCII
    lower case.

    >>> [_is_routing_switch(a) for a in ("-proxy-server=x", "--No-Proxy-Server", "--lang=de")]
    [True, True, False]
    """
    name = str(arg).strip().lstrip("-").split("=", 1)[0].lower()
    return f"--{name}" in _ROUTING_SWITCHES


def _routing_problem(options: dict[str, Any]) -> str | None:
    """The first launch or context option of *options* that opens another way out."""
    if options.get("proxy") is not None:
        return "proxy"
    for arg in options.get("args") or []:
        if _is_routing_switch(arg):
            return str(arg)
    return None


def launch_options(
    config: BrokenlinksConfig, given: dict[str, Any], proxy_url: str
) -> dict[str, Any]:
    """Merge the project's browser launch options into the user's ``PLAYWRIGHT_LAUNCH_OPTIONS``.

    The user's own proxy and name-resolution switches are dropped (with a warning): the
    egress proxy at *proxy_url* must be the browser's only way out. (Preflight refuses
    them before a crawl starts; this is the enforcement where the browser is launched.)

    >>> launch_options(BrokenlinksConfig(render_browser_path="/opt/chrome"),
    ...     {"args": ["--lang=en", "--proxy-server=http://elsewhere"]},
    ...     "http://127.0.0.1:81")["args"][:3]
    ['--lang=en', '--proxy-server=http://127.0.0.1:81', '--proxy-bypass-list=<-loopback>']
    """
    options = dict(given)
    args = []
    for arg in options.get("args") or []:
        if _is_routing_switch(arg):
            logger.warning(
                "Ignored %(arg)s in PLAYWRIGHT_LAUNCH_OPTIONS: the browser's only way out is "
                "the crawl's guarded egress proxy",
                {"arg": arg},
            )
        else:
            args.append(arg)
    if options.pop("proxy", None) is not None:
        logger.warning(
            "Ignored proxy in PLAYWRIGHT_LAUNCH_OPTIONS: the browser's only way out is the "
            "crawl's guarded egress proxy"
        )
    options["args"] = [*args, *egress_args(proxy_url)]
    options.setdefault("headless", True)
    path = browser_path(config)
    if path is not None:
        options.setdefault("executable_path", path)
    return options


def context_options(
    config: BrokenlinksConfig, given: dict[str, Any] | None, proxy_url: str
) -> dict[str, Any]:
    """A browser context's options with nothing that bypasses the egress proxy.

    A context's own ``proxy`` replaces the browser's: it is dropped (with a warning). A
    persistent context (``user_data_dir``) is a browser launch of its own, which
    scrapy-playwright starts without ``PLAYWRIGHT_LAUNCH_OPTIONS``: it gets the launch
    options the guard needs.

    >>> context_options(BrokenlinksConfig(), {"locale": "de", "proxy": {"server": "x:1"}}, "")
    {'locale': 'de'}
    >>> persistent = context_options(BrokenlinksConfig(), {"user_data_dir": "/tmp/p"},
    ...     "http://127.0.0.1:81")
    >>> persistent["args"][0]
    '--proxy-server=http://127.0.0.1:81'
    """
    options = dict(given or {})
    if options.get("user_data_dir"):
        return launch_options(config, options, proxy_url)
    if options.pop("proxy", None) is not None:
        logger.warning(
            "Ignored the proxy of a browser context: the browser's only way out is the "
            "crawl's guarded egress proxy"
        )
    return options


#: scrapy-playwright's own browser provider: it launches what PLAYWRIGHT_LAUNCH_OPTIONS says
DEFAULT_BROWSER_PROVIDER = "scrapy_playwright.provider.PlaywrightBrowserProvider"


def check_browser_settings(settings: BaseSettings) -> None:
    """Refuse Playwright settings that would let the browser bypass the egress proxy.

    Whatever their priority (command line, Scrapyd's ``setting=``, the project): a browser
    reached over ``PLAYWRIGHT_CDP_URL``/``PLAYWRIGHT_CONNECT_URL`` was not launched by the
    crawl; a launch option or a context's ``proxy``, or a Chromium switch that routes or
    resolves names (``--proxy-server``, ``--no-proxy-server``, ``--proxy-bypass-list``,
    ``--host-resolver-rules``...), replaces the egress proxy or the browser's disabled DNS;
    the guard's switches are Chromium's (``PLAYWRIGHT_BROWSER_TYPE``), and another
    ``PLAYWRIGHT_BROWSER_PROVIDER`` launches what it likes. Harmless options (``args``
    such as ``--lang=de``, ``executable_path``, ``headless``, ``slow_mo``) pass.

    >>> from scrapy.settings import Settings
    >>> check_browser_settings(Settings({"PLAYWRIGHT_LAUNCH_OPTIONS": {"args": ["--lang=de"]}}))
    >>> check_browser_settings(Settings({"PLAYWRIGHT_LAUNCH_OPTIONS":
    ...     '{"args": ["--no-proxy-server"]}'}))
    Traceback (most recent call last):
    ...
    ValueError: PLAYWRIGHT_LAUNCH_OPTIONS: '--no-proxy-server' would bypass the browser's egress proxy (the network guard); remove it
    """
    for name in ("PLAYWRIGHT_CDP_URL", "PLAYWRIGHT_CONNECT_URL"):
        if settings.get(name):
            msg = (
                f"{name}: a browser the crawl did not launch would bypass the network guard; "
                "unset it or use -a render=never"
            )
            raise ValueError(msg)
    try:
        launch = settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") or {}
        contexts = settings.getdict("PLAYWRIGHT_CONTEXTS") or {}
    except (ValueError, TypeError) as e:
        msg = f"PLAYWRIGHT_LAUNCH_OPTIONS/PLAYWRIGHT_CONTEXTS: expected a JSON object ({e})"
        raise ValueError(msg) from e
    if (problem := _routing_problem(launch)) is not None:
        msg = (
            f"PLAYWRIGHT_LAUNCH_OPTIONS: {problem!r} would bypass the browser's egress proxy "
            "(the network guard); remove it"
        )
        raise ValueError(msg)
    for name, kwargs in contexts.items():
        if isinstance(kwargs, dict) and kwargs.get("proxy"):
            msg = (
                f"PLAYWRIGHT_CONTEXTS: context {name!r} sets a proxy, which would bypass the "
                "network guard; remove it or use -a render=never"
            )
            raise ValueError(msg)
        if isinstance(kwargs, dict) and (problem := _routing_problem(kwargs)) is not None:
            msg = (
                f"PLAYWRIGHT_CONTEXTS: context {name!r}: {problem!r} would bypass the "
                "browser's egress proxy (the network guard); remove it"
            )
            raise ValueError(msg)
    browser_type = settings.get("PLAYWRIGHT_BROWSER_TYPE") or "chromium"
    if browser_type != "chromium":
        msg = (
            f"PLAYWRIGHT_BROWSER_TYPE={browser_type!r}: the browser's network guard (egress "
            "proxy, no own DNS) is set with Chromium switches; use chromium"
        )
        raise ValueError(msg)
    provider = settings.get("PLAYWRIGHT_BROWSER_PROVIDER")
    if provider and provider != DEFAULT_BROWSER_PROVIDER:
        msg = (
            f"PLAYWRIGHT_BROWSER_PROVIDER={provider!r}: a provider of its own would launch "
            "a browser without the network guard; unset it"
        )
        raise ValueError(msg)


def configure_rendering(settings: Settings, mode: str, crawler: Crawler | None) -> BrowserContexts:
    """Route http/https through scrapy-playwright's handler when *mode* can render.

    The browser's launch options and its egress proxy are not settings written here: the
    handler (:class:`brokenlinks.render.handler.LazyPlaywrightHandler`) merges what the
    guard needs into whatever ``PLAYWRIGHT_LAUNCH_OPTIONS`` holds when it launches the
    browser, whatever the priority that set them. Returns the :class:`BrowserContexts`
    that gives rendered requests their meta keys.
    """
    config = BrokenlinksConfig.from_settings(settings)
    contexts = BrowserContexts(config.render_pages_per_context, crawler)
    if mode == "never":
        return contexts
    check_browser_settings(settings)
    handlers = dict(settings.getdict("DOWNLOAD_HANDLERS"))
    handlers.update({"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER})
    settings.set("DOWNLOAD_HANDLERS", handlers, priority=ARG_SETTING_PRIORITY)
    if not settings.get("PLAYWRIGHT_ABORT_REQUEST"):
        settings.set(
            "PLAYWRIGHT_ABORT_REQUEST",
            BrowserGuard(config, crawler),
            priority=ARG_SETTING_PRIORITY,
        )
    return contexts


def stats_counter(crawler: Crawler | None) -> Callable[[str], None] | None:
    """Increment a stats key from another thread: on the reactor's, like every stats write."""
    if crawler is None:
        return None

    def count(key: str) -> None:
        from twisted.internet import reactor

        if crawler.stats is not None:
            reactor.callFromThread(crawler.stats.inc_value, key)

    return count


#: meta key of a probe: the page's plain-HTTP content links, to compare with the browser's
PROBE_META = "brokenlinks_render_probe"
#: content links the browser must add to a probe for its site to need JavaScript (a
#: consent banner adds one or two: a policy link, a vendor list)
MIN_ADDED_LINKS = 2
#: meta key of a page's request made again without the browser, after the browser failed
FALLBACK_META = "brokenlinks_render_fallback"
#: the ``playwright_page_methods`` key whose result is the document's encoding
CHARSET_METHOD = "brokenlinks_charset"


def render_meta() -> dict[str, Any]:
    """The meta keys of a referring-page request that is rendered in the browser."""
    return {
        "playwright": True,
        # "networkidle": links inserted after a fetch() arrive after the load event
        "playwright_page_goto_kwargs": {"wait_until": "networkidle"},
        # the encoding the browser decoded the page with: the rendered DOM comes back
        # re-encoded, and a link's query is percent-encoded in the document's encoding
        "playwright_page_methods": {
            CHARSET_METHOD: PageMethod("evaluate", "document.characterSet")
        },
    }


def rendered_charset(meta: dict[str, Any]) -> str | None:
    """The encoding label the browser read a rendered page with (``render_meta``), if known.

    >>> method = PageMethod("evaluate", "document.characterSet")
    >>> method.result = "windows-1251"
    >>> rendered_charset({"playwright_page_methods": {CHARSET_METHOD: method}})
    'windows-1251'
    >>> rendered_charset({}) is None
    True
    """
    methods = meta.get("playwright_page_methods")
    method = methods.get(CHARSET_METHOD) if isinstance(methods, dict) else None
    result = getattr(method, "result", None)
    return result if isinstance(result, str) else None


def _content_links(text: str, url: str, *, scripted: bool) -> set[str]:
    """The http links of a page outside its navigation, header and footer."""
    page = extract_page(text, url, scripted=scripted)
    boilerplate = {Position.NAV, Position.HEADER, Position.FOOTER}
    return {
        link.url
        for link in page.links
        if link.url is not None and is_http(link.url) and link.position not in boilerplate
    }


class BrowserContexts:
    """Rotate browser contexts so that a long rendered crawl does not grow the browser.

    Every ``BROKENLINKS_RENDER_PAGES_PER_CONTEXT`` rendered pages get a fresh context
    (``playwright_context`` meta key); a retired context is closed as soon as its last
    page is (with its cache, cookies and storage). With ``PLAYWRIGHT_MAX_CONTEXTS = 2``
    one context drains while the next fills.
    """

    def __init__(self, pages_per_context: int, crawler: Crawler | None) -> None:
        self.pages_per_context = pages_per_context
        self.crawler = crawler
        self.rendered = 0
        self.current = ""
        self.open: dict[str, Any] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        #: what render=auto learnt per site
        self.learner = SiteRenderLearner()
        self.rendered_sites: set[str] = set()

    def browser_request(
        self, response: TextResponse, mode: str, stats: StatsCollector, text: str
    ) -> Request | None:
        """Return the request that reads *response*'s page again through the browser.

        *text* is the page as decoded once for the crawl (``pages.read_page``).

        That is when ``render=auto`` finds the raw HTML client-rendered; ``None`` means
        the page is used as it is (already rendered, or it needs no browser).
        """
        site = site_of(response.url)
        if response.meta.get("playwright"):
            stats.inc_value("brokenlinks/render/pages")
            if site not in self.rendered_sites:
                self.rendered_sites.add(site)
                stats.set_value("brokenlinks/render/sites", len(self.rendered_sites))
            plain = response.meta.get(PROBE_META)
            if plain is not None:
                self._learn(site, set(plain), text, response.url, stats)
            return None
        if response.meta.get(FALLBACK_META):
            return None  # the browser failed on this page already
        if mode != "auto":
            return None
        kind, family = render_signal(text, response.url)
        if kind == "static":
            return None
        meta = self.meta()
        if kind == "uncertain":
            decided = self.learner.decided(site)
            if decided is False:
                stats.inc_value("brokenlinks/render/auto/site_static")
                return None
            if decided is None:
                # read both ways: this plain reading now, the browser's next
                stats.inc_value("brokenlinks/render/probes")
                meta[PROBE_META] = sorted(_content_links(text, response.url, scripted=False))
        stats.inc_value("brokenlinks/render/auto")
        stats.inc_value(f"brokenlinks/render/auto/{family}")
        assert response.request is not None
        return response.request.replace(dont_filter=True, meta=meta)

    def _learn(
        self, site: str, plain: set[str], text: str, url: str, stats: StatsCollector
    ) -> None:
        """Compare a probe's browser DOM with its plain reading (does the site need JS)."""
        added = len(_content_links(text, url, scripted=True) - plain)
        decision = self.learner.learn(site, added=added if added >= MIN_ADDED_LINKS else 0)
        if decision is None:
            return
        key = "sites_need_js" if decision else "sites_static"
        stats.inc_value(f"brokenlinks/render/{key}")
        logger.info(
            "render=auto: %(site)s %(what)s (the browser added %(added)d content links to "
            "%(url)s)",
            {
                "site": site,
                "what": "needs JavaScript: its uncertain pages are rendered"
                if decision
                else "needs no JavaScript: its uncertain pages are read as served",
                "added": added,
                "url": url,
            },
        )

    def fallback_request(
        self, request: Request, error: BaseException, stats: StatsCollector
    ) -> Request | None:
        """Return the request that reads a page the browser failed on without the browser.

        A navigation timeout, a crash, a certificate only the browser checks: the page's
        plain HTTP body still has its links (for ``render=auto`` it was read once already,
        and found to need the browser). ``None`` when *request* was not rendered, or when
        the browser did get an answer (an HTTP error status, the network guard's refusal),
        which a plain fetch would only repeat. Logs one INFO line and counts
        ``brokenlinks/render/fallback``.
        """
        if not request.meta.get("playwright") or isinstance(error, IgnoreRequest):
            return None  # IgnoreRequest: HttpError (the browser got an answer), robots.txt
        stats.inc_value("brokenlinks/render/fallback")
        why = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        logger.info(
            "Could not render %(url)s (%(why)s): reading its plain HTTP body instead",
            {"url": request.url, "why": why},
        )
        meta = {k: v for k, v in request.meta.items() if not k.startswith("playwright")}
        meta[FALLBACK_META] = True
        return request.replace(meta=meta, dont_filter=True)

    def meta(self) -> dict[str, Any]:
        """The meta keys of the next rendered request."""
        self.current = f"brokenlinks-{self.rendered // self.pages_per_context}"
        self.rendered += 1
        return {
            **render_meta(),
            "playwright_context": self.current,
            "playwright_page_init_callback": self.page_init,
        }

    async def page_init(self, page: Any, request: Any) -> None:
        """``playwright_page_init_callback``: remember the page's context, watch the page."""
        self.open.setdefault(request.meta.get("playwright_context", ""), page.context)
        page.once("close", self._page_closed)

    def _page_closed(self, _page: Any) -> None:
        task = asyncio.ensure_future(self.close_retired())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_retired(self) -> None:
        """Close the contexts that are no longer handed out and have no page open."""
        for name, context in list(self.open.items()):
            if name == self.current or context.pages:
                continue
            del self.open[name]
            await context.close()
            stats = self.crawler.stats if self.crawler is not None else None
            if stats is not None:
                stats.inc_value("brokenlinks/render/contexts_closed")
            logger.debug("Closed browser context %(name)s", {"name": name})


def browser_refusal(
    url: str, config: BrokenlinksConfig, addresses: list[str] | None = None
) -> str | None:
    """Tell why the browser must not load *url*, ``None`` if it may.

    Names mapped by ``BROKENLINKS_RESOLVE`` are trusted, as in the crawler's resolver;
    ``*.invalid`` and non-web schemes (``file:``, ``ftp:``) are refused; an IP-literal host
    is judged by :func:`brokenlinks.net.guard.refusal_reason`, a name by the *addresses* it
    resolves to (any refused address refuses it). ``data:``, ``blob:`` and ``about:``
    never reach the network.

    >>> config = BrokenlinksConfig(resolve={"*.test": "127.0.0.1:8080"})
    >>> browser_refusal("http://js.test/app.js", config) is None
    True
    >>> browser_refusal("http://169.254.169.254/latest/meta-data/", config)
    'link-local'
    >>> browser_refusal("http://intranet.example/", config, ["10.1.2.3"])
    'private'
    >>> browser_refusal("file:///etc/passwd", config)
    'scheme file'
    """
    scheme = url.partition(":")[0].lower()
    if scheme in {"data", "blob", "about"}:
        return None
    if scheme not in {"http", "https", "ws", "wss"}:
        return f"scheme {scheme}"
    host = _host(url)
    port = port_of(url)
    if host.endswith(".invalid") or host == "invalid":
        return "invalid name"
    if guard.match_override(host, port, config.resolve) is not None:
        return None
    if config.allow_private_addresses:
        return None
    if _is_ip(host):
        return guard.refusal_reason(host)
    for address in addresses or ():
        if (reason := guard.refusal_reason(address)) is not None:
            return reason
    return None


def _host(url: str) -> str:
    return host_of(url).rstrip(".")


def _is_ip(host: str) -> bool:
    return guard.refusal_reason(host) != "not an IP address"


class BrowserGuard:
    """``PLAYWRIGHT_ABORT_REQUEST``: abort browser requests the network guard refuses.

    A name is resolved here first (the system resolver, off the event loop) and refused
    when any of its addresses is. This is an early exit with stats, not the boundary: it
    does not see what the browser does not route through Playwright (redirect hops after
    the first URL, WebSocket frames, service workers' own fetches). The egress proxy
    (:mod:`brokenlinks.render.egress`) sees every connection and is what enforces the guard.
    """

    def __init__(self, config: BrokenlinksConfig, crawler: Crawler | None) -> None:
        self.config = config
        # stats exist only once the crawl starts: looked up per aborted request
        self.crawler = crawler

    async def __call__(self, request: Any) -> bool:
        url: str = request.url
        reason = browser_refusal(url, self.config)
        if reason is None and self._needs_lookup(url):
            addresses = await self._addresses(_host(url), port_of(url))
            reason = browser_refusal(url, self.config, addresses)
        if reason is None:
            return False
        stats = self.crawler.stats if self.crawler is not None else None
        if stats is not None:
            stats.inc_value("brokenlinks/render/aborted")
            stats.inc_value(f"brokenlinks/render/aborted/{reason.replace(' ', '_')}")
        logger.debug(
            "Browser request to %(url)s aborted: %(reason)s", {"url": url, "reason": reason}
        )
        return True

    def _needs_lookup(self, url: str) -> bool:
        if url.partition(":")[0].lower() not in {"http", "https", "ws", "wss"}:
            return False
        host = _host(url)
        return (
            not self.config.allow_private_addresses
            and not _is_ip(host)
            and guard.match_override(host, port_of(url), self.config.resolve) is None
        )

    async def _addresses(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT
            )
        except (OSError, TimeoutError):
            return []  # the browser's own lookup fails the same way
        return [str(info[4][0]) for info in infos]
