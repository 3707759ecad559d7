"""The routes of the local test web: ``ROOT/routes.json`` read into rules a request is answered by.

``ROOT/routes.json`` declares behaviours that override or complement the static files::

    {
      "_comment": "keys starting with _ are ignored everywhere",
      "gone.test": {
        "/404": {"status": 404},
        "/410": {"status": 410, "body": "<h1>Gone</h1>"}
      },
      "nohead.test": {"/head-405": {"status": 200, "head": {"status": 405}}},
      "flaky.test": {
        "/503-once": {"fail": {"times": 1, "status": 503}},
        "/429-once": {"fail": {"times": 1, "status": 429, "headers": {"Retry-After": "1"}}}
      },
      "moved.test": {"/old": {"status": 301, "location": "/new"}},
      "loop.test": {"/a": {"location": "/b"}, "/b": {"location": "http://loop.test/a"}},
      "chain.test": {"/hop/{n}": {"chain": {"hops": 25, "to": "/final"}}},
      "hang.test": {"/never": {"hang": 30}},
      "slow.test": {"default": {"delay": 0.5, "body": "<p>{path} on {host}</p>"}},
      "*.parked.test": {"default": {"file": "parked.test/parked.html"}}
    }

Top-level keys are host patterns: an exact name, ``*.suffix`` (any subdomain of ``suffix``,
at any depth, not ``suffix`` itself; the longest suffix wins) or ``*`` (every host). Only
one host entry applies to a request. Inside a host entry, keys are path patterns, matched
against the request path without its query string, as sent (not percent-decoded):

- ``/exact/path``: that path (exact paths win over patterns);
- ``/prefix/*``: ``*`` matches any characters, ``/`` included;
- ``/hop/{n}``: ``{n}`` matches a decimal number (used by ``chain``);
- ``default``: the answer for paths that no pattern and no static file matches.

Patterns are tried in file order, before the static files. A rule is an object:

``status`` (int, default 200, or 302 when ``location``/``chain`` is given)
    the status code.
``body`` (str) / ``file`` (path relative to ROOT) / ``body_size`` (int)
    the body: a literal, a file's content, or a generated HTML page of exactly that many
    bytes. ``{host}`` and ``{path}`` in ``body`` and ``file`` are replaced (HTML-escaped),
    so a template can serve "every unknown path 200 with a not-found page"; ``{year}`` is
    the current year (UTC), so a page's dated links never go stale. Without any of
    them, a small HTML page naming the status is generated.
``content_type`` (str, default ``text/html; charset=utf-8``) and ``headers`` (object)
    response headers; ``Content-Length`` is set unless ``chunked``.
``chunked`` (bool)
    send the body with ``Transfer-Encoding: chunked`` and no ``Content-Length``, as
    dynamic pages come.
``location`` (str)
    the ``Location`` header, written as given (relative or absolute).
``chain`` (``{"hops": N, "to": "/final"}``, pattern with ``{n}`` required)
    a redirect chain: ``{n}`` below ``N`` redirects to ``n + 1``, ``N`` redirects to ``to``,
    any other number gets 404. ``/hop/1`` → ... → ``/hop/N`` → ``/final`` is N redirects.
``{n+1}`` / ``{n-1}`` in a body or file
    in a route whose pattern has ``{n}``: the matched number plus or minus one (pages
    that link to their neighbours for ever, like a calendar's next and previous month).
``head`` (a rule)
    the answer to HEAD requests instead of this rule (``{"status": 405}``).
``fail`` (a rule plus ``times``)
    the first ``times`` requests (any method) to each (host, path) get this answer, the
    later ones the rule itself; counters reset with :meth:`LocalWeb.reset`.
``hang`` (seconds)
    read the request and never answer: the connection closes without a response after
    that many seconds or when the server stops, whichever comes first.
``delay`` (seconds)
    wait that long before answering.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

#: the content type of generated and HTML answers
HTML_TYPE = "text/html; charset=utf-8"

_RULE_KEYS = frozenset(
    {
        "status",
        "body",
        "file",
        "body_size",
        "content_type",
        "headers",
        "location",
        "chain",
        "head",
        "fail",
        "hang",
        "delay",
        "chunked",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    hops: int
    to: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One behaviour of a routes.json entry (see the module docstring)."""

    status: int = 200
    body: str | None = None
    file: str | None = None
    body_size: int | None = None
    content_type: str = HTML_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    location: str | None = None
    chain: Chain | None = None
    head: Rule | None = None
    fail: Rule | None = None
    fail_times: int = 0
    hang: float | None = None
    delay: float = 0.0
    chunked: bool = False


@dataclass(frozen=True, slots=True)
class PathRoute:
    pattern: str
    regex: re.Pattern[str]
    rule: Rule


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRoutes:
    """The rules of one host pattern: exact paths, patterns in order, and the default."""

    exact: dict[str, Rule] = field(default_factory=dict)
    patterns: tuple[PathRoute, ...] = ()
    default: Rule | None = None

    def match(self, path: str) -> tuple[Rule, PathRoute | None, re.Match[str] | None] | None:
        if path in self.exact:
            return self.exact[path], None, None
        for route in self.patterns:
            found = route.regex.fullmatch(path)
            if found:
                return route.rule, route, found
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Routes:
    """A parsed routes.json: host patterns to :class:`HostRoutes`."""

    exact: dict[str, HostRoutes] = field(default_factory=dict)
    #: ``*.suffix`` entries as (suffix, routes), longest suffix first
    wildcards: tuple[tuple[str, HostRoutes], ...] = ()
    catch_all: HostRoutes | None = None

    def for_host(self, host: str) -> HostRoutes | None:
        if host in self.exact:
            return self.exact[host]
        for suffix, routes in self.wildcards:
            if host.endswith("." + suffix):
                return routes
        return self.catch_all


def parse_routes(data: Mapping[str, Any]) -> Routes:
    """Parse the content of a routes.json (see the module docstring for the format).

    Raises ``ValueError`` naming the host, path and key at fault.

    >>> routes = parse_routes({"a.test": {"/x": {"status": 404}, "/hop/{n}": {"chain":
    ...     {"hops": 2, "to": "/end"}}}, "*.b.test": {"default": {"hang": 1}}})
    >>> routes.for_host("a.test").match("/x")[0].status
    404
    >>> routes.for_host("deep.sub.b.test").default.hang, routes.for_host("b.test")
    (1.0, None)
    >>> parse_routes({"a.test": {"/x": {"stauts": 404}}})
    Traceback (most recent call last):
    ...
    ValueError: routes: a.test /x: unknown key 'stauts'
    """
    if not isinstance(data, dict):
        msg = "routes: expected an object of host patterns"
        raise ValueError(msg)  # noqa: TRY004  (a format error, like the others)
    exact: dict[str, HostRoutes] = {}
    wildcards: list[tuple[str, HostRoutes]] = []
    catch_all = None
    for host_key, entry in data.items():
        if host_key.startswith("_"):
            continue
        host = host_key.lower().rstrip(".")
        parsed = _parse_host(host, entry)
        if host == "*":
            catch_all = parsed
        elif host.startswith("*."):
            wildcards.append((host[2:], parsed))
        elif "*" in host:
            msg = f"routes: {host_key}: only '*' or '*.suffix' host wildcards are supported"
            raise ValueError(msg)
        else:
            exact[host] = parsed
    wildcards.sort(key=lambda item: len(item[0]), reverse=True)
    return Routes(exact=exact, wildcards=tuple(wildcards), catch_all=catch_all)


def load_routes(root: Path) -> Routes:
    """Read ``root/routes.json``; no file means no routes."""
    path = root / "routes.json"
    if not path.is_file():
        return Routes()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        msg = f"{path}: {e}"
        raise ValueError(msg) from e
    return parse_routes(data)


def _parse_host(host: str, entry: object) -> HostRoutes:
    if not isinstance(entry, dict):
        msg = f"routes: {host}: expected an object of path patterns"
        raise ValueError(msg)  # noqa: TRY004
    exact: dict[str, Rule] = {}
    patterns: list[PathRoute] = []
    default = None
    for key, value in entry.items():
        where = f"{host} {key}"
        if key.startswith("_"):
            continue
        if key == "default":
            default = _parse_rule(value, where)
            continue
        if not key.startswith("/"):
            msg = f"routes: {where}: a path pattern starts with '/' (or is 'default')"
            raise ValueError(msg)
        rule = _parse_rule(value, where)
        if "*" not in key and "{n}" not in key:
            if rule.chain is not None:
                msg = f"routes: {where}: 'chain' needs a path pattern with {{n}}"
                raise ValueError(msg)
            exact[key] = rule
            continue
        if rule.chain is not None and ("*" in key or key.count("{n}") != 1):
            msg = f"routes: {where}: 'chain' needs exactly one {{n}} and no '*'"
            raise ValueError(msg)
        regex = "".join(
            ".*" if part == "*" else "(?P<n>[0-9]+)" if part == "{n}" else re.escape(part)
            for part in re.split(r"(\*|\{n\})", key)
        )
        patterns.append(PathRoute(key, re.compile(regex), rule))
    return HostRoutes(exact=exact, patterns=tuple(patterns), default=default)


def _parse_rule(value: object, where: str, *, allow_times: bool = False) -> Rule:
    def fail(message: str) -> ValueError:
        return ValueError(f"routes: {where}: {message}")

    if not isinstance(value, dict):
        raise fail("a rule is an object")
    allowed = _RULE_KEYS | {"times"} if allow_times else _RULE_KEYS
    for key in value:
        if key not in allowed and not key.startswith("_"):
            raise fail(f"unknown key {key!r}")
    bodies = [key for key in ("body", "file", "body_size") if key in value]
    if len(bodies) > 1:
        raise fail(f"only one of {', '.join(bodies)}")
    kwargs: dict[str, Any] = {}
    for key, kind in (("body", str), ("file", str), ("content_type", str), ("location", str)):
        if key in value:
            if not isinstance(value[key], kind):
                raise fail(f"{key!r} must be a string")
            kwargs[key] = value[key]
    for key in ("status", "body_size"):
        if key in value:
            number = value[key]
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise fail(f"{key!r} must be a non-negative integer")
            kwargs[key] = number
    if "status" in kwargs and not 100 <= kwargs["status"] <= 999:  # noqa: PLR2004
        raise fail("'status' must be within 100-999")
    for key in ("hang", "delay"):
        if key in value:
            seconds = value[key]
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise fail(f"{key!r} must be a number of seconds")
            kwargs[key] = float(seconds)
    if "chunked" in value:
        if not isinstance(value["chunked"], bool):
            raise fail("'chunked' must be true or false")
        kwargs["chunked"] = value["chunked"]
    if "headers" in value:
        headers = value["headers"]
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise fail("'headers' must be an object of strings")
        kwargs["headers"] = tuple(headers.items())
    if "chain" in value:
        chain = value["chain"]
        if (
            not isinstance(chain, dict)
            or set(chain) != {"hops", "to"}
            or not isinstance(chain["hops"], int)
            or chain["hops"] < 1
            or not isinstance(chain["to"], str)
        ):
            raise fail('\'chain\' must be {"hops": N >= 1, "to": URL}')
        kwargs["chain"] = Chain(hops=chain["hops"], to=chain["to"])
    if "head" in value:
        kwargs["head"] = _parse_rule(value["head"], f"{where} head")
    if "fail" in value:
        failure = value["fail"]
        kwargs["fail"] = _parse_rule(failure, f"{where} fail", allow_times=True)
        times = failure.get("times", 1)
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise fail("'fail.times' must be a positive integer")
        kwargs["fail_times"] = times
    if "status" not in kwargs and ("location" in kwargs or "chain" in kwargs):
        kwargs["status"] = 302
    return Rule(**kwargs)


def linking_page(title: str, links: list[str]) -> dict[str, str]:
    """A route answering a referring page that links to each of *links* (anchors ``link N``).

    >>> linking_page("A", ["http://gone.test/x"])["body"]
    '<html><title>A</title><body><main><p><a href="http://gone.test/x">link 0</a>\\n</p></main></body></html>'
    """
    anchors = "".join(f'<a href="{url}">link {n}</a>\n' for n, url in enumerate(links))
    return {
        "body": f"<html><title>{title}</title><body><main><p>{anchors}</p></main></body></html>"
    }
