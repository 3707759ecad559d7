"""What the local test web answers with: answers, the request log, generated pages, content types.

Pure helpers of :mod:`brokenlinks.testing.localweb`: :class:`Answer` (one response),
:class:`LoggedRequest` (one entry of the request log), :func:`html_page` and
:func:`sized_page` (generated bodies), :func:`content_type_for` (a static file's type) and
:func:`host_from_header`.
"""

from __future__ import annotations

import html
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from brokenlinks.testing.routes import HTML_TYPE

if TYPE_CHECKING:
    from pathlib import Path
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_FILLER = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. "
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What the server does with one request."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    #: close the connection without answering after this many seconds (or at stop)
    hang: float | None = None
    delay: float = 0.0
    chunked: bool = False


@dataclass(slots=True, kw_only=True)
class LoggedRequest:
    """One request as the server saw it; ``status`` stays None until (unless) answered."""

    method: str
    host: str
    path: str
    query: str
    #: ``time.monotonic()`` when the request headers had been read
    time: float
    headers: dict[str, str]
    status: int | None = None
    #: body bytes written to the socket (less than the body when the client hung up)
    bytes_sent: int = 0


def host_from_header(value: str) -> str:
    """Return the host name of a ``Host`` header: lower-cased, without port or final dot.

    >>> host_from_header("Gone.TEST:8080"), host_from_header("[::1]:80"), host_from_header("")
    ('gone.test', '::1', '')
    """
    value = value.strip().lower()
    if value.startswith("["):
        host = value[1:].split("]", 1)[0]
    else:
        host = value.rsplit(":", 1)[0] if ":" in value else value
    return host.rstrip(".")


def html_page(status: int, title: str, text: str = "") -> bytes:
    """Return a small HTML page (the body of generated answers)."""
    paragraph = f"<p>{html.escape(text)}</p>" if text else ""
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{status} {html.escape(title)}</title></head>\n"
        f"<body><h1>{status} {html.escape(title)}</h1>{paragraph}</body></html>\n"
    ).encode()


@lru_cache(maxsize=8)
def sized_page(size: int) -> bytes:
    r"""Return an HTML page of exactly *size* bytes (shorter sizes are cut short).

    >>> len(sized_page(5000)), sized_page(5000).endswith(b"</html>\n")
    (5000, True)
    """
    head = b'<!doctype html>\n<html lang="en"><head><title>A large page</title></head><body><p>'
    tail = b"</p></body></html>\n"
    room = size - len(head) - len(tail)
    if room < 0:
        return (head + tail)[:size]
    filler = (_FILLER * (room // len(_FILLER) + 1))[:room].encode()
    return head + filler + tail


def content_type_for(path: Path, data: bytes) -> str:
    """Return the content type of a static file, by extension (and meta charset for HTML)."""
    kind, _ = mimetypes.guess_type(path.name)
    if kind is None:
        return "application/octet-stream"
    if kind == "text/html":
        declared = _META_CHARSET.search(data[:2048])
        charset = declared.group(1).decode("ascii") if declared else "utf-8"
        return f"text/html; charset={charset}"
    if kind.startswith("text/") or kind in {"application/json", "application/xml"}:
        return f"{kind}; charset=utf-8"
    return kind


def reason_phrase(status: int) -> str:
    phrase = BaseHTTPRequestHandler.responses.get(status)
    return phrase[0] if phrase else "Status"


def generated(status: int, title: str, text: str) -> Answer:
    return Answer(
        status=status,
        headers=(("Content-Type", HTML_TYPE),),
        body=html_page(status, title, text),
    )
