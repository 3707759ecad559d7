"""What the database answers a returning link builder: broken pages, ranked prospects, lost links.

Pure functions turn the rows :mod:`brokenlinks.storage.store` reads into report rows: how long a
target has been dead (:func:`dead_streak`), the broken pages report
(:func:`broken_pages`), the prospects with their score (:func:`prospect_score`,
:func:`prospects`), and the output, a readable table (:func:`render_table`) or a CSV/JSON
file (:func:`write_rows`). The commands in :mod:`brokenlinks.commands` are thin callers.
Reads no settings.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brokenlinks.extensions.feeds import SafeCsvItemExporter
from brokenlinks.parsing.sites import in_domains

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: outreach statuses after which a prospect needs no more work
CLOSED_STATUSES = frozenset({"won", "lost", "ignored"})
#: file formats ``-o`` writes, by file name suffix
OUTPUT_FORMATS = (".csv", ".json")
_CELL_WIDTH = 40


def dead_streak(
    history: Sequence[tuple[datetime, str]],
) -> tuple[datetime | None, datetime | None]:
    """Return (dead since, first seen dead) from a target's checks, oldest first.

    *Dead since* is the first check of the latest unbroken run of dead verdicts (None if
    the latest check is not dead); *first seen dead* is the first dead check ever.

    >>> t = [datetime(2024, 5, d, tzinfo=UTC) for d in (1, 2, 3, 4)]
    >>> since, first = dead_streak([(t[0], "dead"), (t[1], "alive"), (t[2], "dead"), (t[3], "dead")])
    >>> since.day, first.day
    (3, 1)
    >>> dead_streak([(t[0], "dead"), (t[1], "alive")])[0] is None
    True
    """
    first = next((at for at, kind in history if kind == "dead"), None)
    since: datetime | None = None
    for at, kind in reversed(history):
        if kind != "dead":
            break
        since = at
    return since, first


def came_back(history: Sequence[tuple[datetime, str]]) -> datetime | None:
    """Return when a target that had been dead answered alive again (None if it did not).

    >>> t = [datetime(2024, 5, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> came_back([(t[0], "dead"), (t[1], "alive"), (t[2], "alive")]).day
    2
    >>> came_back([(t[0], "alive"), (t[1], "dead")]) is None
    True
    """
    back: datetime | None = None
    for at, kind in reversed(history):
        if kind != "alive":
            return back if kind == "dead" else None
        back = at
    return None


def prospect_score(
    *,
    referring_domains: int,
    follow: bool,
    position: str,
    links_on_page: int,
    check_age_days: float,
    authority: float | None = None,
) -> int:
    """Rank a prospect (a referring page × a dead target), 0 to 100; higher is better.

    ========================  ======  ==========================================================
    part                      points  why
    ========================  ======  ==========================================================
    referring domains         0–40    8 per site linking to the dead target, at most 40: a
                                      replacement page can win all of them
    follow                    20      a followed link passes value (no nofollow/sponsored/ugc)
    position content          15      editorial links in the text get updated; nav, footer
                                      and sidebar links rarely do
    low link density          0–15    15 × (1 − outbound links on the page / 100), 0 from 100
                                      links on: a curated page, not a link dump
    freshness of the check    0–10    10 when checked within 7 days, 5 within 30, else 0: an
                                      old verdict may have changed
    ========================  ======  ==========================================================

    When the backlink export gave the page an *authority* (0-100, see
    :mod:`brokenlinks.outreach.authority`), the score is 75 % the parts above and 25 % that
    authority: a strong page is worth more of the user's time than a weak one.

    >>> prospect_score(referring_domains=3, follow=True, position="content",
    ...                links_on_page=20, check_age_days=1)
    81
    >>> prospect_score(referring_domains=3, follow=True, position="content",
    ...                links_on_page=20, check_age_days=1, authority=41)
    71
    >>> prospect_score(referring_domains=9, follow=False, position="footer",
    ...                links_on_page=250, check_age_days=40)
    40
    """
    score = min(referring_domains, 5) * 8
    score += 20 if follow else 0
    score += 15 if position == "content" else 0
    score += round(15 * (1 - min(max(links_on_page, 0), 100) / 100))
    if check_age_days <= 7:  # noqa: PLR2004
        score += 10
    elif check_age_days <= 30:  # noqa: PLR2004
        score += 5
    if authority is not None:
        return round(0.75 * score + 0.25 * max(0.0, min(100.0, authority)))
    return score


def top_anchors(anchors: Iterable[str], n: int = 3) -> str:
    """The *n* most common anchor texts, with their counts.

    >>> top_anchors(["guide", "Guide", "guide", "", "tool"])
    'guide (2); Guide; tool'
    """
    counts = Counter(a for a in anchors if a)
    return "; ".join(
        f"{anchor} ({count})" if count > 1 else anchor for anchor, count in counts.most_common(n)
    )


def _streaks(
    history: Mapping[int, Sequence[tuple[datetime, str]]], target_id: int, checked_at: Any
) -> tuple[datetime | None, datetime | None]:
    since, first = dead_streak(history.get(target_id, ()))
    # a target stored before its history was kept: its latest check is all there is
    return since or checked_at, first or checked_at


def broken_pages(
    occurrences: Iterable[Mapping[str, Any]],
    history: Mapping[int, Sequence[tuple[datetime, str]]],
    *,
    domains: frozenset[str] = frozenset(),
    reasons: frozenset[str] = frozenset(),
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per dead target, sorted by referring domains (then pages, then URL)."""
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for row in occurrences:
        groups.setdefault(row["target_id"], []).append(row)
    out: list[dict[str, Any]] = []
    for target_id, rows in groups.items():
        first_row = rows[0]
        if domains and not in_domains(first_row["target_url"], domains):
            continue
        if reasons and first_row["reason"] not in reasons:
            continue
        dead_since, first_dead = _streaks(history, target_id, first_row["checked_at"])
        if since is not None and (dead_since is None or dead_since < since):
            continue
        pages = {r["page_id"] for r in rows}
        out.append(
            {
                "target_url": first_row["target_url"],
                "target_domain": first_row["target_domain"],
                "reason": first_row["reason"],
                "status": first_row["status"],
                "dead_since": _iso(dead_since),
                "first_seen_dead": _iso(first_dead),
                "referring_pages": len(pages),
                "referring_domains": len({r["source_domain"] for r in rows}),
                "followed": len({r["page_id"] for r in rows if r["follow"]}),
                "in_content": len({r["page_id"] for r in rows if r["position"] == "content"}),
                "top_anchors": top_anchors(r["anchor_text"] for r in rows),
                "checked_at": _iso(first_row["checked_at"]),
            }
        )
    out.sort(key=lambda r: (-r["referring_domains"], -r["referring_pages"], r["target_url"]))
    return out


def revived(
    targets: Iterable[Mapping[str, Any]],
    history: Mapping[int, Sequence[tuple[datetime, str]]],
    *,
    domains: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One row per target that came back alive after being dead, latest comeback first."""
    out: list[dict[str, Any]] = []
    for row in targets:
        if domains and not in_domains(row["target_url"], domains):
            continue
        checks = history.get(row["target_id"], ())
        back = came_back(checks)
        if back is None:
            continue
        dead = [at for at, kind in checks if kind == "dead" and at < back]
        out.append(
            {
                "target_url": row["target_url"],
                "target_domain": row["target_domain"],
                "status": row["status"],
                "final_url": row["final_url"],
                "first_seen_dead": _iso(dead[0]),
                "last_seen_dead": _iso(dead[-1]),
                "came_back": _iso(back),
                "checked_at": _iso(row["checked_at"]),
            }
        )
    out.sort(key=lambda r: (r["came_back"], r["target_url"]), reverse=True)
    return out


def _best(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    # the occurrence to pitch about: a followed link in the text first
    return min(rows, key=lambda r: (not r["follow"], r["position"] != "content"))


def prospects(
    occurrences: Iterable[Mapping[str, Any]],
    history: Mapping[int, Sequence[tuple[datetime, str]]],
    outreach: Mapping[tuple[int, int], Mapping[str, Any]],
    *,
    now: datetime,
    domains: frozenset[str] = frozenset(),
    statuses: frozenset[str] = frozenset(),
    authority: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One row per referring page × dead target, ranked by :func:`prospect_score`.

    *authority* maps referring page URLs to their 0-100 authority from backlink exports.
    """
    by_target: dict[int, set[str]] = {}
    groups: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for row in occurrences:
        by_target.setdefault(row["target_id"], set()).add(row["source_domain"])
        groups.setdefault((row["page_id"], row["target_id"]), []).append(row)
    out: list[dict[str, Any]] = []
    for key, rows in groups.items():
        best = _best(rows)
        if domains and not in_domains(best["target_url"], domains):
            continue
        marked = outreach.get(key)
        status = marked["status"] if marked else "new"
        if statuses and status not in statuses:
            continue
        follow = any(r["follow"] for r in rows)
        position = "content" if any(r["position"] == "content" for r in rows) else best["position"]
        referring_domains = len(by_target[key[1]])
        checked_at: datetime = best["checked_at"]
        dead_since, _ = _streaks(history, key[1], checked_at)
        out.append(
            {
                "score": prospect_score(
                    referring_domains=referring_domains,
                    follow=follow,
                    position=position,
                    links_on_page=best["links_on_page"],
                    check_age_days=(now - checked_at).total_seconds() / 86400,
                    authority=(authority or {}).get(best["source_url"]),
                ),
                "outreach": status,
                "source_url": best["source_url"],
                "source_title": best["source_title"],
                "source_domain": best["source_domain"],
                "target_url": best["target_url"],
                "target_domain": best["target_domain"],
                "reason": best["reason"],
                "status": best["status"],
                "anchor_text": best["anchor_text"],
                "follow": follow,
                "position": position,
                "links_on_page": best["links_on_page"],
                "referring_domains": referring_domains,
                "context": best["context"],
                "dead_since": _iso(dead_since),
                "checked_at": _iso(checked_at),
                "note": marked["note"] if marked else "",
            }
        )
    out.sort(key=lambda r: (-r["score"], r["target_url"], r["source_url"]))
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).replace(microsecond=0).isoformat()


#: format characters that join emoji and scripts: harmless, kept
_JOINERS = frozenset("\u200c\u200d")


def printable(text: str) -> str:
    """*text* with every control and format character replaced by U+FFFD.

    Titles and anchors are written by strangers: an escape sequence printed raw would
    drive the user's terminal (clear the screen, set the window title, hide text), and a
    bidi override would reorder what is shown.

    >>> printable("Free\x1b[2J tools\x1b]0;pwned\x07 \u202egnp.exe")
    'Free�[2J tools�]0;pwned� �gnp.exe'
    """
    return "".join(
        "\ufffd" if unicodedata.category(ch)[0] == "C" and ch not in _JOINERS else ch
        for ch in text
    )


def _cell(value: Any, limit: int | None = _CELL_WIDTH) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = printable(" ".join(str(value).split()))
    return _cut(text, limit)


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


#: the narrowest a column is cut to when a table must fit the terminal
_MIN_COLUMN = 8


def fit_widths(widths: Sequence[int], total: int) -> list[int]:
    """Column widths that fit *total* characters (two spaces between columns).

    The widest column gives way first, never below 8 characters (or its own width): ids,
    scores and statuses keep theirs, URLs and texts are cut.

    >>> fit_widths([4, 60, 30], 60)
    [4, 26, 26]
    >>> fit_widths([4, 10], 100)
    [4, 10]
    """
    out = list(widths)
    room = total - 2 * (len(out) - 1)
    while sum(out) > room:
        widest = max(range(len(out)), key=lambda i: out[i])
        if out[widest] <= _MIN_COLUMN:
            break
        out[widest] -= 1
    return out


def render_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], width: int | None = None
) -> str:
    """Render *rows* as a plain-text table of *columns* (None as ``-``).

    Without *width*, cells are cut at 40 characters; with it, the table fits *width*
    characters, the widest columns cut first (:func:`fit_widths`); ``0`` cuts nothing
    (``--wide``). Cells are :func:`printable`: no control or format characters reach the
    terminal.

    >>> print(render_table([{"url": "http://a.test/", "n": 2}], ["url", "n"]))
    url             n
    --------------  -
    http://a.test/  2
    >>> print(render_table([{"url": "http://a.test/long/path", "n": 2}], ["url", "n"], 14))
    url          n
    -----------  -
    http://a.t…  2
    """
    limit = _CELL_WIDTH if width is None else None
    cells = [[_cell(row.get(c), limit) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    if width:
        widths = fit_widths(widths, width)
        cells = [[_cut(cell, w) for cell, w in zip(r, widths, strict=True)] for r in cells]
        columns = [_cut(c, w) for c, w in zip(columns, widths, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )
    return "\n".join(lines)


def output_format(path: str) -> str:
    """Return the format (``csv`` or ``json``) of an ``-o`` file name, or raise ValueError.

    >>> output_format("report.CSV")
    'csv'
    >>> output_format("report.xlsx")
    Traceback (most recent call last):
    ...
    ValueError: -o report.xlsx: use a .csv or .json file name
    """
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        msg = f"-o {path}: use a .csv or .json file name"
        raise ValueError(msg)
    return suffix.removeprefix(".")


def write_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], path: str) -> None:
    """Write *rows* to *path*: CSV (formula-like cells neutralised) or a JSON array."""
    fmt = output_format(path)
    target = Path(path)
    if fmt == "json":
        data = [{c: row.get(c) for c in columns} for row in rows]
        target.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return
    with target.open("wb") as f:
        # the feeds' exporter: one CSV writer, one escaping rule, one way to join lists
        exporter = SafeCsvItemExporter(
            f,  # type: ignore[arg-type]  # Scrapy annotates BytesIO; any binary file works
            fields_to_export=list(columns),
            encoding="utf-8",
        )
        exporter.start_exporting()
        for row in rows:
            exporter.export_item({c: row.get(c) for c in columns})
        exporter.finish_exporting()
