"""The backlink exports a seeds file can be: each tool's columns, and how a header is told.

Pure data and functions, no settings. :data:`SPECS` lists the exports of Google Search
Console, Semrush, Ahrefs, Majestic and Moz by their column names (normalised by
:func:`norm`: case, spaces and punctuation do not matter); :func:`detect` picks the one a
header row belongs to. :data:`URLS` is a plain URL list with a title row, :data:`ANY_CSV`
any other tool's export read by the URL column the user names. ``brokenlinks.seeds.read``
reads the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ANY_CSV",
    "DELIMITERS",
    "KNOWN_FORMATS",
    "LIST_HEADERS",
    "SITE_LEVEL",
    "SPECS",
    "URLS",
    "SeedFormat",
    "Spec",
    "detect",
    "detect_format",
    "is_known",
    "norm",
]


class SeedFormat(StrEnum):
    """What wrote a seeds file: a plain URL list or one tool's backlink export."""

    URLS = "urls"
    GSC = "gsc"
    SEMRUSH = "semrush"
    AHREFS = "ahrefs"
    MAJESTIC = "majestic"
    MOZ = "moz"
    #: another tool's export (its URL column named), or a CSV without a header row
    CSV = "csv"


DELIMITERS = (",", ";", "\t")

_NOT_WORD = re.compile(r"[\W_]+")


def norm(name: str) -> str:
    """Normalise a column name: case, spaces and punctuation do not matter.

    ``Source url`` (Semrush), ``Source URL`` (Majestic's site export) and ``SourceURL``
    (Majestic's API form) are then one name.
    """
    return _NOT_WORD.sub("", name.casefold())


@dataclass(frozen=True, slots=True)
class Spec:
    format: SeedFormat
    label: str
    # Candidate column names (normalised), in order of preference.
    referring: tuple[str, ...]
    target: tuple[str, ...] = ()
    anchor: tuple[str, ...] = ()
    # Columns only this tool writes; they tell exports with the same URL columns apart.
    signature: re.Pattern[str] = re.compile(r"(?!)")
    # Other columns of the real export, to break ties and to recognise a header line.
    known: frozenset[str] = field(default_factory=frozenset)
    # Moz writes URLs without their scheme in places (its Links API: "moz.com/blog/"), so a
    # scheme-less "host.tld/path" gets http:// (the site's own redirect then picks https).
    schemeless: bool = False


def _names(*names: str) -> frozenset[str]:
    return frozenset(norm(name) for name in names)


_GSC = Spec(
    SeedFormat.GSC,
    "Google Search Console",
    # "Linking page" in today's Links report exports ("Latest links", "More sample links");
    # "Links" in the old "Links to your site" download.
    referring=("linkingpage", "links"),
    signature=re.compile(r"^(?:linkingpage|lastcrawled|firstdiscovered)$"),
    known=_names("Linking page", "Last crawled", "Links", "First discovered"),
)
_SEMRUSH = Spec(
    SeedFormat.SEMRUSH,
    "Semrush",
    referring=("sourceurl",),
    target=("targeturl",),
    anchor=("anchor",),
    signature=re.compile(
        r"^(?:pageascore|pagescore|trustscore|domainscore|sourcetitle|sitewide|newlink|lostlink"
        r"|externallinknumber|internallinknumber)$"
    ),
    known=_names(
        "Page ascore", "Source title", "Source url", "Target url", "Anchor", "External links",
        "Internal links", "Nofollow", "Sponsored", "Ugc", "Text", "Frame", "Form", "Image",
        "Sitewide", "First seen", "Last seen", "New link", "Lost link", "Page score",
        "Trust score", "Redirect",
    ),
)  # fmt: skip
_AHREFS = Spec(
    SeedFormat.AHREFS,
    "Ahrefs",
    referring=("referringpageurl",),
    # "Link URL", "TextPre", "Link Anchor", "TextPost": the Site Explorer export before 2023.
    target=("targeturl", "linkurl"),
    anchor=("anchor", "linkanchor", "anchortext"),
    signature=re.compile(
        r"^(?:referringpage(?:url|title|httpcode)|domainrating|ur|urlrating|domaintraffic"
        r"|referringdomains|linkeddomains|pagetraffic|leftcontext|rightcontext|textpre|textpost"
        r"|linkanchor|linkurl|loststatus|dropreason|discoveredstatus|linksingroup"
        r"|backlinkstatus|daylost|lastcheck)$"
    ),
    known=_names(
        "Referring page title", "Referring page URL", "Language", "Platform",
        "Referring page HTTP code", "Domain rating", "UR", "Domain traffic", "Referring domains",
        "Linked domains", "External links", "Page traffic", "Keywords", "Target URL",
        "Left context", "Anchor", "Right context", "Type", "Content", "Nofollow", "UGC",
        "Sponsored", "Rendered", "Raw", "Lost status", "Drop reason", "Discovered status",
        "First seen", "Last seen", "Lost", "Links in group", "URL Rating", "Link URL", "TextPre",
        "Link Anchor", "TextPost", "Backlink Status", "Last Check", "Day Lost", "Traffic",
        "Keywords Count", "Internal Links Count", "External Links Count",
    ),
)  # fmt: skip
_MAJESTIC = Spec(
    SeedFormat.MAJESTIC,
    "Majestic",
    referring=("sourceurl",),
    target=("targeturl",),
    anchor=("anchortext",),
    signature=re.compile(
        r"trustflow|citationflow|^flag|^(?:source|target)topical|^acrank$|^sourcecrawldate$"
        r"|^sourcefirstfounddate$|^domainid$|^firstindexeddate$|^reasonlost$|^linksubtype$"
    ),
    known=_names(
        "Source URL", "Target URL", "Anchor Text", "Source Crawl Date", "Source First Found Date",
        "Flag No Follow", "Flag Image Link", "Flag Redirect", "Flag Frame", "Flag Old Crawl",
        "Flag Alt Text", "Flag Mention", "Source Citation Flow", "Source Trust Flow",
        "Target Citation Flow", "Target Trust Flow", "ACRank", "Date", "FlagImages",
        "FlagDeleted", "DomainID", "FirstIndexedDate", "LastSeenDate", "DateLost", "ReasonLost",
        "LinkType", "LinkSubType",
    ),
)  # fmt: skip
_MOZ = Spec(
    SeedFormat.MOZ,
    "Moz",
    referring=("sourceurl", "url", "sourcepage"),
    target=("targeturl", "targetpage"),
    anchor=("anchortext",),
    signature=re.compile(
        r"pageauthority|domainauthority|spamscore|^linkequity$|^numberofdomainslinking|^mozrank"
    ),
    known=_names(
        "URL", "Title", "Source URL", "Source Title", "Anchor Text", "Spam Score",
        "Domain Authority", "Page Authority", "Target URL", "Link Type", "Link Equity",
        "Number of Domains Linking to Page", "Number of Domains Linking to Domain",
        "Date First Seen", "Date Last Seen", "Date Lost", "First Seen", "Last Seen", "Nofollow",
    ),
    schemeless=True,
)  # fmt: skip
SPECS = (_GSC, _SEMRUSH, _AHREFS, _MAJESTIC, _MOZ)

# A one-column list with a title row ("URL" then one URL a line).
LIST_HEADERS = _names("URL", "URLs", "Link", "Links", "Page", "Pages", "Page URL", "Address")
URLS = Spec(SeedFormat.URLS, "URL list", referring=tuple(sorted(LIST_HEADERS)))

# Another tool's export, read by the URL column the user names: its target and anchor
# columns are found by the names the known tools use.
ANY_CSV = Spec(
    SeedFormat.CSV,
    "CSV",
    referring=(),
    target=tuple(dict.fromkeys(name for spec in SPECS for name in spec.target)),
    anchor=tuple(dict.fromkeys(name for spec in SPECS for name in spec.anchor)),
)

_KNOWN: frozenset[str] = LIST_HEADERS.union(
    *(spec.known.union(spec.referring, spec.target, spec.anchor) for spec in SPECS)
)
# Site- or domain-level exports (Search Console "Top linking sites", "Referring domains"
# reports): they name no page to crawl.
SITE_LEVEL = _names("Site", "Domain", "Top linking sites", "Linking pages", "Referring domain")

KNOWN_FORMATS = (
    "known formats: "
    + ", ".join(s.label for s in SPECS)
    + " (or a plain list of URLs, one per line)"
)


def is_known(name: str) -> bool:
    return name in _KNOWN or any(s.signature.search(name) for s in SPECS)


def detect(header: list[str]) -> Spec | None:
    present = {norm(cell) for cell in header} - {""}
    if len(present) == 1 and present <= LIST_HEADERS:
        return URLS
    best: Spec | None = None
    best_score = (0, 0)
    for spec in SPECS:
        if present.isdisjoint(spec.referring):
            continue
        signature = sum(1 for name in present if spec.signature.search(name))
        known = len(present & spec.known)
        # A referring-page column alone ("URL", "Links") is too common a name to mean a tool.
        if signature == 0 and known < 2:  # noqa: PLR2004
            continue
        if (signature, known) > best_score:
            best, best_score = spec, (signature, known)
    return best


def detect_format(header: list[str]) -> SeedFormat | None:
    """Tell which tool wrote a CSV export from its header row; ``None`` if none is known.

    Names match whatever their case, spacing and punctuation. Semrush, Majestic and Moz all
    have a "Source URL" column: the columns only one of them writes decide.

    >>> detect_format(["Linking page", "Last crawled"])
    <SeedFormat.GSC: 'gsc'>
    >>> detect_format(["Page ascore", "Source title", "Source url", "Target url", "Anchor"])
    <SeedFormat.SEMRUSH: 'semrush'>
    >>> detect_format(["Source URL", "Target URL", "Anchor Text", "Source Trust Flow"])
    <SeedFormat.MAJESTIC: 'majestic'>
    >>> detect_format(["URL", "Title", "Anchor Text", "Page Authority", "Target URL"])
    <SeedFormat.MOZ: 'moz'>
    >>> detect_format(["id", "name", "value"]) is None
    True
    """
    spec = detect(header)
    return None if spec is None else spec.format
