"""The report's charts as inline SVG, drawn on the server: no script, nothing to load.

Two shapes cover the report: horizontal bars (:func:`bar_chart`: counts by reason, the
broken pages with the most referring domains, the outreach funnel) and grouped columns
(:func:`column_chart`: dead, lost and came-back links per crawl run). The SVG scales with
the page (``viewBox``), prints sharply, and its text can be selected and searched. Every
label is escaped (URLs and reasons come from crawled pages); a label cut to fit keeps its
full text in a ``<title>`` tooltip. Reads no settings.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from collections.abc import Sequence

#: colour-blind-safe colours (Okabe & Ito), in the order series use them
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_WIDTH = 640
_BAR = 20
_GAP = 6
_LABEL_CHARS = 38
#: up to this many groups, column labels stand upright; more are slanted
_UPRIGHT_LABELS = 4
#: most tick labels under a column chart (the others are in each column's tooltip)
_MAX_TICK_LABELS = 15


def shorten(text: str, limit: int = _LABEL_CHARS) -> str:
    """Cut *text* to about *limit* characters, keeping its start and its end (a URL's page).

    >>> shorten("http://example.test/a/very/long/path/to/the/page.html", 24)
    'http://examp…he/page.html'
    >>> shorten("dns")
    'dns'
    """
    if len(text) <= limit:
        return text
    head = limit // 2
    return text[:head] + "…" + text[-(limit - head) :]


def nice_max(value: int) -> int:
    """The axis maximum: *value* rounded up to 1, 2 or 5 times a power of ten.

    >>> [nice_max(v) for v in (0, 1, 7, 12, 380)]
    [1, 1, 10, 20, 500]
    """
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return int(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def _open_svg(height: int, title: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    )


def bar_chart(items: Sequence[tuple[str, int]], *, title: str, color: str = PALETTE[0]) -> Markup:
    """Horizontal bars, one per (label, count), longest bar = largest count."""
    top = max((count for _, count in items), default=0) or 1
    label_width = 290
    bar_space = _WIDTH - label_width - 60
    height = len(items) * (_BAR + _GAP) + _GAP
    parts = [_open_svg(height, title)]
    for i, (label, count) in enumerate(items):
        y = _GAP + i * (_BAR + _GAP)
        length = max(round(bar_space * count / top), 1 if count else 0)
        text = escape(shorten(label))
        parts.append(
            f'<g class="bar"><title>{escape(label)}: {count}</title>'
            f'<text x="{label_width - 8}" y="{y + _BAR * 0.72:.1f}" text-anchor="end">'
            f"{text}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{_BAR}" '
            f'fill="{color}"/>'
            f'<text x="{label_width + length + 6}" y="{y + _BAR * 0.72:.1f}">{count}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every label above went through escape())


def column_chart(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, title: str
) -> Markup:
    """Grouped columns: one group per label (a crawl run), one column per series."""
    height, left, bottom, top_pad, legend = 300, 44, 80, 12, 22
    plot_w = _WIDTH - left - 8
    plot_h = height - bottom - top_pad - legend
    top = nice_max(max((v for _, values in series for v in values), default=0))
    group_w = plot_w / max(len(labels), 1)
    column_w = max(min(group_w * 0.8 / max(len(series), 1), 28), 1.5)
    parts = [_open_svg(height, title)]
    label_every = max(1, -(-len(labels) // _MAX_TICK_LABELS))
    for i, (name, _) in enumerate(series):
        x = left + i * 150
        parts.append(
            f'<rect x="{x}" y="2" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 17}" y="12">{escape(name)}</text>'
        )
    base = top_pad + legend + plot_h
    steps = next(n for n in (5, 4, 2, 1) if top % n == 0)
    for step in range(steps + 1):
        value = top * step / steps
        y = base - plot_h * step / steps
        parts.append(
            f'<line class="grid" x1="{left}" x2="{_WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    for g, label in enumerate(labels):
        x0 = left + g * group_w + (group_w - column_w * len(series)) / 2
        for i, (name, values) in enumerate(series):
            value = values[g]
            h = plot_h * value / top
            parts.append(
                f'<rect x="{x0 + i * column_w:.1f}" y="{base - h:.1f}" '
                f'width="{column_w:.1f}" height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                f"<title>{escape(label)}: {value} {escape(name)}</title></rect>"
            )
        cx = left + g * group_w + group_w / 2
        if g % label_every:
            continue  # a label every few columns: 30 rotated labels overlap
        tick = escape(shorten(label, 24))
        if len(labels) <= _UPRIGHT_LABELS:
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{base + 16}" text-anchor="middle">'
                f"{tick}</text>"
            )
        else:
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{base + 12}" text-anchor="end" '
                f'transform="rotate(-35 {cx:.1f} {base + 12})">{tick}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every label above went through escape())
