"""Render the report as one self-contained HTML file and write it.

The page is the Jinja2 template ``templates/report.html.j2`` with autoescaping on, so every
value from the store (titles, anchors, contexts, URLs: text written by strangers) is escaped;
only the charts, built escaped by :mod:`~brokenlinks.reporting.charts`, go in as markup.
The stylesheet and the script are inlined. A Content-Security-Policy in the page forbids
every network request and allows only the page's own script (by its hash), so the file
opens offline, and markup that slipped through could neither run nor load anything.
A link is made only from an http(s) URL. Reads no settings.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from brokenlinks.reporting import charts
from brokenlinks.reporting.data import cell_text

if TYPE_CHECKING:
    import os

    from brokenlinks.reporting.data import ReportData

logger = logging.getLogger(__name__)


def is_web_url(value: Any) -> bool:
    """Whether *value* may become a link: an http(s) URL (never ``javascript:``).

    >>> [is_web_url(v) for v in ("https://a.test/", "javascript:alert(1)", None)]
    [True, False, False]
    """
    return isinstance(value, str) and urlsplit(value).scheme.lower() in {"http", "https"}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("brokenlinks.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = cell_text
    env.tests["web_url"] = is_web_url
    return env


def _asset(name: str) -> str:
    return (files("brokenlinks.reporting") / "templates" / name).read_text(encoding="utf-8")


def _charts(data: ReportData) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if data.dead_by_reason:
        out.append(
            (
                "Dead targets by reason",
                charts.bar_chart(data.dead_by_reason, title="Dead targets by reason"),
            )
        )
    if data.top_pages:
        out.append(
            (
                "Broken pages with the most referring domains",
                charts.bar_chart(
                    data.top_pages,
                    title="Broken pages with the most referring domains",
                    color=charts.PALETTE[1],
                ),
            )
        )
    if data.timeline:
        out.append(
            (
                "Across crawl runs",
                charts.column_chart(
                    [p.label for p in data.timeline],
                    [
                        ("dead targets", [p.dead for p in data.timeline]),
                        ("links lost", [p.lost for p in data.timeline]),
                        ("came back", [p.came_back for p in data.timeline]),
                    ],
                    title="Dead, lost and came-back links across crawl runs",
                ),
            )
        )
    if data.funnel:
        out.append(
            (
                "Outreach",
                charts.bar_chart(
                    data.funnel, title="Prospects by outreach status", color=charts.PALETTE[2]
                ),
            )
        )
    return out


def render(data: ReportData) -> str:
    """The report page as HTML text."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            charts=_charts(data),
            style=_asset("report.css"),
            script=script,
            script_hash=f"sha256-{digest}",
        )
    )


def write_report(data: ReportData, path: str | os.PathLike[str]) -> int:
    """Write the report of *data* to *path*; return its size in bytes."""
    body = render(data).encode("utf-8")
    Path(path).write_bytes(body)
    logger.debug("report written to %s (%d bytes)", path, len(body))
    return len(body)
