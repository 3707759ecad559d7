"""Spider arguments (``-a key=value``), validated into frozen dataclasses before any request.

Unknown keys are rejected, except ``_job`` and ``_version``, which Scrapyd adds to every
job. Errors are :class:`ArgumentError` with a one-line message naming the argument. A seeds
argument is a file path (relative to the working directory: under Scrapyd, Scrapyd's) or an
http(s) URL, which the spider downloads when it starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import ada_url

from brokenlinks.parsing.urls import is_http, parse_absolute

#: keys Scrapyd passes to every spider
SCRAPYD_KEYS = frozenset({"_job", "_version"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class ArgumentError(ValueError):
    """A spider argument is missing, unknown or malformed (one-line message)."""


@dataclass(frozen=True, slots=True)
class Argument:
    """One ``-a NAME=VALUE`` a spider accepts, as ``scrapy crawl -h`` lists it."""

    name: str
    value: str
    help: str
    required: bool = False

    def usage(self) -> str:
        return f"-a {self.name}={self.value}"


def is_url(value: str) -> bool:
    """Tell whether a seeds argument is meant as a URL rather than a file path.

    >>> is_url("https://example.com/seeds.txt"), is_url("HTTP://x"), is_url("data/seeds.txt")
    (True, True, False)
    """
    return value[:8].lower().startswith(("http://", "https://"))


def parse_seeds_url(value: str) -> str:
    """Validate a seeds URL: an absolute http(s) URL with a host, returned normalised.

    >>> parse_seeds_url("https://Example.com/exports/seeds.csv?key=1")
    'https://example.com/exports/seeds.csv?key=1'
    >>> parse_seeds_url("http://[oops/seeds.txt")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: seeds: 'http://[oops/seeds.txt' is not a valid URL
    """
    try:
        url = ada_url.URL(value)
    except ValueError:
        url = None
    if url is None or url.protocol not in {"http:", "https:"} or not url.hostname:
        msg = f"seeds: {value!r} is not a valid URL"
        raise ArgumentError(msg)
    return str(url.href)


def _check_seeds_file(value: str) -> None:
    path = Path(value)
    # a relative path is read from the working directory, which under Scrapyd is
    # Scrapyd's own: name it, or "does not exist" leaves the user guessing
    where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
    if not path.exists():
        msg = f"seeds: file {value!r} does not exist{where}"
        raise ArgumentError(msg)
    if not path.is_file():
        msg = f"seeds: {value!r} is not a file{where}"
        raise ArgumentError(msg)


#: every spider's ``-a campaign=NAME``: the campaign its run belongs to
CAMPAIGN = Argument(
    "campaign",
    "NAME",
    "the campaign this crawl belongs to (default: from the mode and domain, e.g. "
    "reclaim-example.com, competitor-rival.com, resources, site-example.com)",
)
_CAMPAIGN_MAX = 200


def parse_campaign(value: str) -> str:
    """Validate a campaign name: printable, at most 200 characters, not ``all``.

    >>> parse_campaign(" reclaim-example.com ")
    'reclaim-example.com'
    >>> parse_campaign("all")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: campaign: 'all' is reserved (it means every campaign)
    """
    name = value.strip()
    if not name or len(name) > _CAMPAIGN_MAX or not name.isprintable():
        msg = f"campaign: {value!r} is not a campaign name (1-200 printable characters)"
        raise ArgumentError(msg)
    if name == "all":
        msg = "campaign: 'all' is reserved (it means every campaign)"
        raise ArgumentError(msg)
    return name


def _check_keys(kwargs: dict[str, Any], arguments: tuple[Argument, ...], spider: str) -> None:
    if "campaign" in kwargs:
        parse_campaign(str(kwargs["campaign"]))
    known = {argument.name for argument in arguments}
    unknown = sorted(set(kwargs) - known - SCRAPYD_KEYS)
    if unknown:
        msg = (
            f"{spider}: unknown argument(s) {', '.join(repr(k) for k in unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
        raise ArgumentError(msg)


def parse_domain(value: str) -> str:
    """Normalise one ``domain`` value: a bare host name, IDN allowed, no scheme or path.

    >>> parse_domain("Example.COM."), parse_domain("bücher.de")
    ('example.com', 'xn--bcher-kva.de')
    >>> parse_domain("https://example.com/")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: domain: 'https://example.com/' is not a domain name (give a bare host name such as example.com)
    """
    raw = value.strip()
    host = raw.lower().rstrip(".")
    try:
        ascii_host = ada_url.idna_to_ascii(host) if host else b""
    except ValueError:
        ascii_host = b""
    host = ascii_host.decode("ascii") if isinstance(ascii_host, bytes) else str(ascii_host)
    labels = host.split(".") if host else []
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):  # noqa: PLR2004
        msg = f"domain: {raw!r} is not a domain name (give a bare host name such as example.com)"
        raise ArgumentError(msg)
    return host


def parse_domains(value: str) -> frozenset[str]:
    """Parse the comma-separated ``domain`` argument.

    >>> sorted(parse_domains("example.com, blog.example.org"))
    ['blog.example.org', 'example.com']
    """
    parts = [p for p in value.split(",") if p.strip()]
    if not parts:
        msg = "domain: empty value (give one or more domain names separated by commas)"
        raise ArgumentError(msg)
    return frozenset(parse_domain(p) for p in parts)


#: values of ``-a render``
RENDER_MODES = ("never", "auto", "always")


def parse_render(value: str) -> str:
    """Parse ``-a render``: never, auto (the default) or always.

    >>> parse_render(" Always ")
    'always'
    >>> parse_render("yes")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: render: 'yes' is not one of never, auto, always
    """
    mode = value.strip().lower()
    if mode not in RENDER_MODES:
        msg = f"render: {value!r} is not one of {', '.join(RENDER_MODES)}"
        raise ArgumentError(msg)
    return mode


def parse_count(name: str, value: str, *, minimum: int) -> int:
    """Parse a whole-number argument such as ``-a depth=3``.

    >>> parse_count("depth", "3", minimum=0)
    3
    >>> parse_count("max_pages", "0", minimum=1)
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: max_pages: '0' is not a whole number >= 1
    """
    text = value.strip()
    if not text.isdigit() or int(text) < minimum:
        msg = f"{name}: {value!r} is not a whole number >= {minimum}"
        raise ArgumentError(msg)
    return int(text)


def parse_start(value: str) -> tuple[str, ...]:
    """Parse ``-a start``: one or more absolute http(s) URLs separated by commas.

    >>> parse_start("https://Garden.test, http://other.test/a")
    ('https://garden.test/', 'http://other.test/a')
    >>> parse_start("garden.test")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: start: 'garden.test' is not an absolute http(s) URL
    """
    urls: list[str] = []
    for part in value.split(","):
        if not part.strip():
            continue
        url = parse_absolute(part)
        if url is None or not is_http(url):
            msg = f"start: {part.strip()!r} is not an absolute http(s) URL"
            raise ArgumentError(msg)
        if url not in urls:
            urls.append(url)
    if not urls:
        msg = "start: empty value (give one or more URLs separated by commas)"
        raise ArgumentError(msg)
    return tuple(urls)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteParams:
    """``scrapy crawl site -a start=URL[,URL] [-a depth=N] [-a max_pages=N] [-a render=M]``.

    ``depth`` and ``max_pages`` are ``None`` when not given (the settings decide).
    """

    ARGUMENTS: ClassVar[tuple[Argument, ...]] = (
        Argument("start", "URL[,URL]", "where the crawl begins; its sites are crawled", True),
        Argument(
            "depth", "N", "most link hops from a start URL (BROKENLINKS_SITE_MAX_DEPTH; 0: any)"
        ),
        Argument("max_pages", "N", "most pages fetched (BROKENLINKS_SITE_MAX_PAGES)"),
        Argument("render", "never|auto|always", "render pages in a browser first (auto)"),
        CAMPAIGN,
    )

    start: tuple[str, ...]
    depth: int | None = None
    max_pages: int | None = None
    render: str = "auto"

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, cls.ARGUMENTS, "site")
        if not str(kwargs.get("start", "")).strip():
            msg = "site: missing argument start (-a start=URL[,URL]: where the crawl begins)"
            raise ArgumentError(msg)
        return cls(
            start=parse_start(str(kwargs["start"])),
            depth=parse_count("depth", str(kwargs["depth"]), minimum=0)
            if "depth" in kwargs
            else None,
            max_pages=parse_count("max_pages", str(kwargs["max_pages"]), minimum=1)
            if "max_pages" in kwargs
            else None,
            render=parse_render(str(kwargs.get("render", "auto"))),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklinksParams:
    """``scrapy crawl backlinks -a seeds=FILE|URL [-a domain=D1,D2] [-a render=M] [-a url_column=NAME]``."""

    ARGUMENTS: ClassVar[tuple[Argument, ...]] = (
        Argument(
            "seeds",
            "FILE|URL",
            "a URL list or backlink CSV export (file or http(s) URL)",
            True,
        ),
        Argument(
            "domain",
            "D1,D2",
            "only links to these domains (reclaim, competitor); default: all outbound",
        ),
        Argument("render", "never|auto|always", "render pages in a browser first (auto)"),
        Argument(
            "url_column",
            "NAME",
            "the column of referring page URLs in another tool's CSV export",
        ),
        CAMPAIGN,
    )

    seeds: str
    domains: frozenset[str] = frozenset()
    render: str = "auto"
    url_column: str | None = None

    @property
    def seeds_is_url(self) -> bool:
        """The seeds are downloaded (an http(s) URL), not read from a file."""
        return is_url(self.seeds)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, cls.ARGUMENTS, "backlinks")
        seeds = str(kwargs.get("seeds", "")).strip()
        if not seeds:
            msg = "backlinks: missing argument seeds (-a seeds=FILE: a URL list or a backlink CSV export)"
            raise ArgumentError(msg)
        if is_url(seeds):
            seeds = parse_seeds_url(seeds)
        else:
            _check_seeds_file(seeds)
        domains = parse_domains(str(kwargs["domain"])) if "domain" in kwargs else frozenset()
        render = parse_render(str(kwargs.get("render", "auto")))
        url_column = None
        if "url_column" in kwargs:
            url_column = str(kwargs["url_column"]).strip()
            if not url_column:
                msg = (
                    "url_column: empty value (give the name of the column of referring page URLs)"
                )
                raise ArgumentError(msg)
        return cls(seeds=seeds, domains=domains, render=render, url_column=url_column)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecheckParams:
    """``scrapy crawl recheck [-a domain=D1,D2]``."""

    ARGUMENTS: ClassVar[tuple[Argument, ...]] = (
        Argument(
            "domain", "D1,D2", "also re-crawl the pages linking to these domains (lost links)"
        ),
        CAMPAIGN,
    )

    domains: frozenset[str] = frozenset()

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, cls.ARGUMENTS, "recheck")
        domains = parse_domains(str(kwargs["domain"])) if "domain" in kwargs else frozenset()
        return cls(domains=domains)


def parse_flag(name: str, value: str) -> bool:
    """Parse a yes/no argument such as ``-a again=1``.

    >>> parse_flag("again", "yes"), parse_flag("again", "0")
    (True, False)
    >>> parse_flag("again", "maybe")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: again: 'maybe' is not one of 1, 0, true, false, yes, no
    """
    text = value.strip().lower()
    if text in {"1", "true", "yes"}:
        return True
    if text in {"0", "false", "no"}:
        return False
    msg = f"{name}: {value!r} is not one of 1, 0, true, false, yes, no"
    raise ArgumentError(msg)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutreachParams:
    """``scrapy crawl archive|contacts [-a again=1]``: *again* looks up what was looked up."""

    again: bool = False

    ARGUMENTS: ClassVar[tuple[Argument, ...]] = (
        Argument("again", "1", "look up again what an earlier run looked up (default 0)"),
        CAMPAIGN,
    )

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any], spider: str) -> Self:
        _check_keys(kwargs, cls.ARGUMENTS, spider)
        return cls(again=parse_flag("again", str(kwargs.get("again", "0"))))


def parse_mysite(value: str) -> tuple[str, ...]:
    """Parse ``-a mysite``: home pages, sitemaps or URL lists (http(s) URLs or list files).

    >>> parse_mysite("https://Mine.test/, https://mine.test/sitemap.xml")
    ('https://mine.test/', 'https://mine.test/sitemap.xml')
    >>> parse_mysite("mine.test")
    Traceback (most recent call last):
    ...
    brokenlinks.params.ArgumentError: mysite: 'mine.test' is neither an http(s) URL nor a file
    """
    out: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        url = parse_absolute(part) if is_url(part) else None
        if url is not None and is_http(url):
            item = url
        elif Path(part).is_file():
            item = part
        else:
            msg = f"mysite: {part!r} is neither an http(s) URL nor a file"
            raise ArgumentError(msg)
        if item not in out:
            out.append(item)
    if not out:
        msg = "mysite: empty value (give your home page, sitemap or URL list)"
        raise ArgumentError(msg)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class MysiteParams:
    """``scrapy crawl mysite -a mysite=URL[,URL] [-a max_pages=N]``."""

    mysite: tuple[str, ...]
    max_pages: int | None = None

    ARGUMENTS: ClassVar[tuple[Argument, ...]] = (
        Argument("mysite", "URL[,URL]", "your home page, sitemap or URL list file", required=True),
        Argument("max_pages", "N", "read at most N of your pages (BROKENLINKS_MYSITE_MAX_PAGES)"),
        CAMPAIGN,
    )

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> Self:
        _check_keys(kwargs, cls.ARGUMENTS, "mysite")
        if not str(kwargs.get("mysite", "")).strip():
            msg = "mysite: missing argument mysite (-a mysite=URL: your home page, sitemap or URL list)"
            raise ArgumentError(msg)
        return cls(
            mysite=parse_mysite(str(kwargs["mysite"])),
            max_pages=parse_count("max_pages", str(kwargs["max_pages"]), minimum=1)
            if "max_pages" in kwargs
            else None,
        )


#: the arguments of each spider of the project, by spider name (``scrapy crawl -h``)
SPIDER_ARGUMENTS: dict[str, tuple[Argument, ...]] = {
    "backlinks": BacklinksParams.ARGUMENTS,
    "site": SiteParams.ARGUMENTS,
    "recheck": RecheckParams.ARGUMENTS,
    "archive": OutreachParams.ARGUMENTS,
    "contacts": OutreachParams.ARGUMENTS,
    "mysite": MysiteParams.ARGUMENTS,
}


def arguments_help(spiders: dict[str, tuple[Argument, ...]] = SPIDER_ARGUMENTS) -> str:
    """The spider arguments as ``scrapy crawl -h`` lists them, one line each.

    >>> print(arguments_help({"recheck": RecheckParams.ARGUMENTS}))
    Spider arguments (-a NAME=VALUE):
      scrapy crawl recheck
        -a domain=D1,D2               also re-crawl the pages linking to these domains (lost links)
        -a campaign=NAME              the campaign this crawl belongs to (default: from the mode and domain, e.g. reclaim-example.com, competitor-rival.com, resources, site-example.com)
    """
    width = max(len(a.usage()) for arguments in spiders.values() for a in arguments) + 2
    width = max(width, 30)
    lines = ["Spider arguments (-a NAME=VALUE):"]
    for spider, arguments in spiders.items():
        lines.append(f"  scrapy crawl {spider}")
        lines.extend(
            f"    {a.usage():<{width}}{'required: ' if a.required else ''}{a.help}"
            for a in arguments
        )
    return "\n".join(lines)
