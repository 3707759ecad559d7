"""The seller's metrics of a backlink export, and one 0-100 ``authority`` per referring page.

Semrush, Ahrefs, Majestic and Moz exports carry their own link metrics. :data:`METRIC_COLUMNS`
maps each export column (normalised: case, spaces and punctuation dropped) to one canonical
metric name; :func:`parse_metrics` turns a row's raw cells into typed values;
:func:`authority` picks one 0-100 figure per referring page.

The vendors' 0-100 scales are *not* comparable with each other (a Moz DA of 40 is not an
Ahrefs UR of 40): ``authority_source`` always says which vendor's metric ``authority`` is,
and a page listed in exports of several vendors gets the mean, marked ``mixed``. Pure; reads
no settings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from brokenlinks.outreach.items import ExportMetricsItem
    from brokenlinks.seeds.read import SeedFile

#: export column (normalised) → canonical metric name
METRIC_COLUMNS: dict[str, str] = {
    # Semrush
    "pageascore": "page_ascore",
    # Ahrefs ("URL Rating" in the exports before 2023)
    "domainrating": "domain_rating",
    "ur": "ur",
    "urlrating": "ur",
    "domaintraffic": "domain_traffic",
    # Majestic (site export and API names)
    "sourcetrustflow": "source_trust_flow",
    "sourcecitationflow": "source_citation_flow",
    # Moz
    "domainauthority": "domain_authority",
    "pageauthority": "page_authority",
    "spamscore": "spam_score",
    # first and last seen, whatever the tool calls them
    "firstseen": "first_seen",
    "datefirstseen": "first_seen",
    "sourcefirstfounddate": "first_seen",
    "firstindexeddate": "first_seen",
    "lastseen": "last_seen",
    "datelastseen": "last_seen",
    "lastseendate": "last_seen",
    "sourcecrawldate": "last_seen",
}

#: the numeric metrics, in export column order
NUMERIC_METRICS = (
    "page_ascore",
    "domain_rating",
    "ur",
    "domain_traffic",
    "source_trust_flow",
    "source_citation_flow",
    "domain_authority",
    "page_authority",
    "spam_score",
)
DATE_METRICS = ("first_seen", "last_seen")
METRICS = NUMERIC_METRICS + DATE_METRICS

#: the metric that is a page's ``authority`` in each vendor's export, best first:
#: page-level where the vendor has one, else domain-level
AUTHORITY_METRICS: dict[str, tuple[str, ...]] = {
    "semrush": ("page_ascore",),
    "ahrefs": ("ur", "domain_rating"),
    "majestic": ("source_trust_flow", "source_citation_flow"),
    "moz": ("page_authority", "domain_authority"),
}

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def parse_number(value: str) -> float | None:
    """Read a metric cell: ``41``, ``3%``, ``1,5`` (decimal comma), ``15 230``; None if blank.

    >>> parse_number("41"), parse_number("3%"), parse_number("1,5"), parse_number("15 230")
    (41.0, 3.0, 1.5, 15230.0)
    >>> parse_number("-") is None, parse_number("") is None
    (True, True)
    """
    text = value.replace("\u00a0", "").replace(" ", "").strip()
    # "15,230" (thousands) vs "1,5" (decimal comma): three digits after the comma is thousands
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        text = text.replace(",", "")
    match = _NUMBER.search(text)
    if match is None:
        return None
    return float(match.group().replace(",", "."))


def parse_date(value: str) -> str | None:
    """Keep the date part of a first/last seen cell (ISO ``YYYY-MM-DD``), else the raw text.

    >>> parse_date("2022-10-04 11:02:17"), parse_date("2024-05-30"), parse_date(" ")
    ('2022-10-04', '2024-05-30', None)
    """
    text = value.strip()
    if not text or text == "-":
        return None
    match = re.match(r"\d{4}-\d{2}-\d{2}", text)
    return match.group() if match else text


def parse_metrics(raw: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Typed metrics from (canonical name, raw cell) pairs; blank cells are left out.

    >>> parse_metrics([("page_ascore", "41"), ("first_seen", "2023-02-11"), ("ur", "")])
    {'page_ascore': 41.0, 'first_seen': '2023-02-11'}
    """
    out: dict[str, Any] = {}
    for name, cell in raw:
        value = parse_date(cell) if name in DATE_METRICS else parse_number(cell)
        if value is not None:
            out[name] = value
    return out


def export_authority(export_format: str, metrics: Mapping[str, Any]) -> tuple[float, str] | None:
    """Return (0-100 authority, ``vendor:metric``) of one export row, or None.

    >>> export_authority("ahrefs", {"domain_rating": 72.0, "ur": 31.0})
    (31.0, 'ahrefs:ur')
    >>> export_authority("moz", {"domain_authority": 60.0})
    (60.0, 'moz:domain_authority')
    >>> export_authority("gsc", {}) is None
    True
    """
    for name in AUTHORITY_METRICS.get(export_format, ()):
        value = metrics.get(name)
        if value is not None:
            return max(0.0, min(100.0, float(value))), f"{export_format}:{name}"
    return None


def authority(rows: Iterable[Mapping[str, Any]]) -> tuple[float | None, str]:
    """Return a page's ``authority`` and ``authority_source`` from its export rows.

    Each row has ``export_format`` and the metric columns. One vendor: its metric (the mean
    over several exports of that vendor). Several vendors: the mean, with the source
    ``mixed:`` and the metrics it came from, since the scales do not compare.

    >>> authority([{"export_format": "semrush", "page_ascore": 41.0}])
    (41.0, 'semrush:page_ascore')
    >>> authority([{"export_format": "semrush", "page_ascore": 40.0},
    ...            {"export_format": "moz", "page_authority": 60.0}])
    (50.0, 'mixed:moz:page_authority,semrush:page_ascore')
    >>> authority([])
    (None, '')
    """
    found = [a for a in (export_authority(r["export_format"], r) for r in rows) if a is not None]
    if not found:
        return None, ""
    value = round(sum(v for v, _ in found) / len(found), 1)
    sources = sorted({s for _, s in found})
    vendors = {s.split(":", 1)[0] for s in sources}
    if len(vendors) > 1:
        return value, "mixed:" + ",".join(sources)
    return value, ",".join(sources)


def export_items(seed_file: SeedFile) -> list[ExportMetricsItem]:
    """One metrics record per referring page of a backlink export that carries metrics.

    >>> from brokenlinks.seeds.read import parse_seeds
    >>> seeds = parse_seeds('''Page ascore,Source url,Target url,First seen
    ... 41,https://blog.example/tools,https://mine.example/guide,2023-02-11
    ... ''', path="exports/semrush.csv")
    >>> item = export_items(seeds)[0]
    >>> item.export_format, item.export_file, item.export_target_url, item.metrics
    ('semrush', 'semrush.csv', 'https://mine.example/guide', {'page_ascore': 41.0, 'first_seen': '2023-02-11'})
    """
    from brokenlinks.outreach.items import ExportMetricsItem  # noqa: PLC0415  (no cycle at import)

    name = seed_file.path.rstrip("/").rsplit("/", 1)[-1] or seed_file.path
    items = []
    for seed in seed_file.seeds:
        metrics = parse_metrics(seed.metrics)
        if not metrics and seed.target_url is None:
            continue
        items.append(
            ExportMetricsItem(
                page_url=seed.url,
                export_format=str(seed_file.format),
                export_file=name,
                export_target_url=seed.target_url,
                metrics=metrics,
            )
        )
    return items
