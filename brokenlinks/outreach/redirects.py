"""The redirect map: each dead page of yours that still has backlinks → your best live page.

:func:`plan` takes the dead link occurrences whose target is on one of your sites (reclaim
work), ranks your live pages of the same site for each dead page with the replacement
ranking (:func:`brokenlinks.outreach.replacement.rank`) and orders the dead pages by their
referring domains. A dead page gets no target (and a ``reason``) when none of your pages
shares a word with it, or the best one scores below *min_score*; your home page is never a
target (search engines treat a redirect of a deep page to the home page as a soft 404).
:func:`nginx` and :func:`apache` write the rules, the pages without a target as comments;
the CSV is written by :func:`brokenlinks.reporting.reports.write_rows`. Pure; reads no
settings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from brokenlinks.outreach.replacement import query, rank

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

#: the columns of ``scrapy redirects -o redirects.csv``
COLUMNS = (
    "dead_url",
    "target_url",
    "status",
    "referring_domains",
    "linking_pages",
    "score",
    "target_title",
    "reason",
    "alternatives",
)
#: the default lowest ranking score a redirect target needs
MIN_SCORE = 1.0
#: the formats ``-o`` writes, by how the file name ends
FORMATS = {".csv": "csv", ".json": "json", ".nginx": "nginx", ".conf": "nginx"}
FORMATS_HELP = ".csv, .json, .conf or .nginx (nginx), .htaccess or .apache (Apache)"


def output_format(path: str) -> str:
    """The format ``-o`` *path* asks for; ``ValueError`` (one line) for any other.

    >>> [output_format(p) for p in ("r.csv", "r.conf", "site.htaccess", ".htaccess", "r.apache")]
    ['csv', 'nginx', 'apache', 'apache', 'apache']
    >>> output_format("r.txt")
    Traceback (most recent call last):
    ...
    ValueError: -o r.txt: unknown format; use .csv, .json, .conf or .nginx (nginx), .htaccess or .apache (Apache)
    """
    name = path.lower()
    if name.endswith((".htaccess", ".apache")):
        return "apache"
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    msg = f"-o {path}: unknown format; use {FORMATS_HELP}"
    raise ValueError(msg)


def _is_home(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in {"", "/"} and not parts.query


def plan(
    occurrences: Iterable[Mapping[str, Any]],
    my_pages: Sequence[Mapping[str, Any]],
    captures: Mapping[str, Mapping[str, Any]],
    own_sites: frozenset[str],
    *,
    min_score: float = MIN_SCORE,
) -> list[dict[str, Any]]:
    """One row per dead page of *own_sites* still linked: its best live page of yours, or why not.

    Ordered by referring domains (other sites linking to it), then linking pages, then URL.
    """
    anchors: dict[str, list[str]] = {}
    contexts: dict[str, list[str]] = {}
    referring: dict[str, set[str]] = {}
    pages: dict[str, set[str]] = {}
    site_of: dict[str, str] = {}
    for link in occurrences:
        target = link["target_url"]
        if link["target_domain"] not in own_sites:
            continue
        site_of[target] = link["target_domain"]
        anchors.setdefault(target, []).append(link["anchor_text"])
        contexts.setdefault(target, []).append(link["context"])
        pages.setdefault(target, set()).add(link["source_url"])
        domains = referring.setdefault(target, set())
        if link["source_domain"] not in own_sites:
            domains.add(link["source_domain"])
    dead = set(site_of)
    out: list[dict[str, Any]] = []
    for target in sorted(site_of):
        candidates = [
            page
            for page in my_pages
            if page.get("site") == site_of[target]
            and page["url"] not in dead
            and page["url"] != target
            and not _is_home(str(page["url"]))
        ]
        text = query(target, anchors[target], contexts[target], captures.get(target))
        matches = rank({target: text}, candidates)[target]
        best = matches[0] if matches else None
        row: dict[str, Any] = {
            "dead_url": target,
            "target_url": None,
            "status": None,
            "referring_domains": len(referring[target]),
            "linking_pages": len(pages[target]),
            "score": best.score if best else None,
            "target_title": None,
            "reason": None,
            "alternatives": " ".join(f"{m.url} ({m.score})" for m in matches[1:]) or None,
        }
        if not candidates:
            row["reason"] = f"no live page of yours on {site_of[target]} (scrapy crawl mysite)"
        elif best is None:
            row["reason"] = "none of your pages shares a word with it"
        elif best.score < min_score:
            row["reason"] = (
                f"best match {best.url} scored {best.score}, below {min_score}: check by hand"
            )
        else:
            row.update(target_url=best.url, status=301, target_title=best.title)
        out.append(row)
    out.sort(key=lambda r: (r["target_url"] is None, -r["referring_domains"], -r["linking_pages"]))
    return out


def _location(url: str) -> str:
    """What a redirect names the target as: its path when on the same host, else the URL."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _target(dead: str, target: str) -> str:
    same = urlsplit(dead)[:2] == urlsplit(target)[:2]
    return _location(target) if same else target


def _nginx_string(value: str, *, quote: bool = False) -> str:
    # nginx splits on whitespace and ends a directive at ";" or "{"; a double-quoted string
    # takes backslash escapes of '"' and "\"
    if quote or re.search(r'[\s;{}"\'#\\]', value) or not value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _no_variables(url: str) -> str:
    # "$name" in a return URL is an nginx (or mod_alias "$1") variable; %24 is the same URL
    return url.replace("$", "%24")


def _heading(rows: Sequence[Mapping[str, Any]], comment: str) -> list[str]:
    done = sum(1 for r in rows if r["target_url"])
    return [
        (
            f"{comment} brokenlinks redirect map: {done} dead pages of yours with backlinks -> "
            "your best live page,"
        ),
        (
            f"{comment} ordered by referring domains; {len(rows) - done} without a good match "
            "are listed as comments at the end."
        ),
    ]


def _hosts(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    by_host: dict[str, list[Mapping[str, Any]]] = {}  # one server block per host
    for row in rows:
        by_host.setdefault(urlsplit(row["dead_url"]).netloc, []).append(row)
    return by_host


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _why(row: Mapping[str, Any]) -> str:
    return (
        f"{_count(row['referring_domains'], 'referring domain')}, "
        f"{_count(row['linking_pages'], 'linking page')}"
    )


def nginx(rows: Sequence[Mapping[str, Any]]) -> str:
    """The redirect map as nginx rules, one ``location = /old`` per dead page.

    ``location`` matches the decoded path (nginx decodes ``%XX`` first), so the path is
    decoded; a dead URL with a query string is matched on ``$request_uri`` (raw) instead.

    >>> print(nginx([{"dead_url": "http://me.test/old guide?", "target_url": "http://me.test/new",
    ...               "referring_domains": 2, "linking_pages": 3, "score": 4.2}]))
    ... # doctest: +NORMALIZE_WHITESPACE
    # brokenlinks redirect map: 1 dead pages of yours with backlinks -> your best live page,
    # ordered by referring domains; 0 without a good match are listed as comments at the end.
    <BLANKLINE>
    # server_name me.test;
    location = "/old guide" { return 301 /new; }  # 2 referring domains, 3 linking pages
    """
    lines = _heading(rows, "#")
    for host, group in _hosts(rows).items():
        lines += ["", f"# server_name {host};"]
        for row in group:
            if not row["target_url"]:
                continue
            dead = urlsplit(row["dead_url"])
            to = _nginx_string(_no_variables(_target(row["dead_url"], row["target_url"])))
            if dead.query and "$" in _location(row["dead_url"]):
                # nginx reads "$name" in the compared string as a variable and has no escape
                lines.append(
                    f"# by hand: {row['dead_url']} -> {row['target_url']} ({_why(row)}): "
                    "its query string has a $, which an nginx condition cannot match"
                )
                continue
            if dead.query:
                # quoted always: a ")" would end the condition
                uri = _nginx_string(_location(row["dead_url"]), quote=True)
                rule = f"if ($request_uri = {uri}) {{ return 301 {to}; }}"
            else:
                rule = (
                    f"location = {_nginx_string(unquote(dead.path) or '/')} {{ return 301 {to}; }}"
                )
            lines.append(f"{rule}  # {_why(row)}")
        lines += [
            f"# no good match: {row['dead_url']} ({_why(row)}): {row['reason']}"
            for row in group
            if not row["target_url"]
        ]
    return "\n".join(lines) + "\n"


def _pcre(text: str) -> str:
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def _apache_string(value: str) -> str:
    # Apache splits arguments on whitespace; inside double quotes only \" is an escape
    # (ap_getword_conf), so other backslashes (the regex's) stay as they are
    if re.search(r'[\s"]', value) or not value:
        return '"' + value.replace('"', '\\"') + '"'
    return value


def apache(rows: Sequence[Mapping[str, Any]]) -> str:
    r"""The redirect map as Apache rules (server config or ``.htaccess``).

    ``RedirectMatch`` with an anchored pattern rather than ``Redirect``: ``Redirect /old``
    also redirects ``/old/anything`` and ``/older``. Both match the decoded path. A dead
    URL with a query string needs mod_rewrite (``RewriteCond %{QUERY_STRING}``); in its
    substitution ``$`` and ``%`` are escaped (``%N`` is a back-reference there).

    >>> print(apache([{"dead_url": "http://me.test/a.b?x=1", "target_url": "http://me.test/c%20d",
    ...                "referring_domains": 1, "linking_pages": 1, "score": 3.0},
    ...               {"dead_url": "http://me.test/x(1)", "target_url": "http://me.test/y",
    ...                "referring_domains": 1, "linking_pages": 1, "score": 3.0}]).split("\n")[3:])
    ... # doctest: +NORMALIZE_WHITESPACE
    ['# ServerName me.test', 'RewriteEngine On', 'RewriteCond %{QUERY_STRING} ^x=1$',
     'RewriteRule ^/?a\\.b$ /c\\%20d [R=301,L,NE,QSD]  # 1 referring domain, 1 linking page',
     'RedirectMatch 301 ^/x\\(1\\)$ /y  # 1 referring domain, 1 linking page', '']
    """
    lines = _heading(rows, "#")
    for host, group in _hosts(rows).items():
        lines += ["", f"# ServerName {host}"]
        if any(row["target_url"] and urlsplit(row["dead_url"]).query for row in group):
            lines.append("RewriteEngine On")
        for row in group:
            if not row["target_url"]:
                continue
            dead = urlsplit(row["dead_url"])
            to = _no_variables(_target(row["dead_url"], row["target_url"]))
            path = _pcre(unquote(dead.path) or "/")
            if dead.query:
                lines.append(
                    f"RewriteCond %{{QUERY_STRING}} {_apache_string('^' + _pcre(dead.query) + '$')}"
                )
                pattern = _apache_string(f"^/?{path.removeprefix('/')}$")
                sub = _apache_string(to.replace("%", "\\%"))
                lines.append(f"RewriteRule {pattern} {sub} [R=301,L,NE,QSD]  # {_why(row)}")
            else:
                pattern = _apache_string(f"^{path}$")
                lines.append(f"RedirectMatch 301 {pattern} {_apache_string(to)}  # {_why(row)}")
        lines += [
            f"# no good match: {row['dead_url']} ({_why(row)}): {row['reason']}"
            for row in group
            if not row["target_url"]
        ]
    return "\n".join(lines) + "\n"
