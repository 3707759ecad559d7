"""The messages between the coordinator and its shards, and how they travel.

Each message is a tuple, pickled and framed by its length (4 bytes, big-endian) on a
stream socket. Pickle, because both ends are the same code in the same version
(a shard is started from the coordinator's own interpreter and path), and verdicts,
responses and Scrapy's exceptions pickle as they are; the frames are small.

Coordinator → shard: ``("check", url)``, ``("fetch", rid, request_state)``, ``("stop",)``
(abandon every check under way: the crawl is stopping), ``("close",)``.
Shard → coordinator: ``("result", url, CheckResult)``, ``("stopped", url)`` (the check
was abandoned), ``("fetched", rid, response_state, error_state)``, ``("log", fields)``,
``("stats", stats)`` (a snapshot: sent whenever the shard runs out of work, every half
second while it is busy, and when it closes; the coordinator merges the last one it has
when the crawl closes, so the one at the end of the work must come unbidden).
"""

from __future__ import annotations

import asyncio
import ipaddress
import pickle
import struct
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.http import Headers
from scrapy.http.request import NO_CALLBACK
from scrapy.responsetypes import responsetypes

from brokenlinks.net import guard
from brokenlinks.parsing.urls import host_of

if TYPE_CHECKING:
    from scrapy.http import Response

_LENGTH = struct.Struct(">I")

#: request meta a page fetch carries to its shard (what the coordinator's middlewares set
#: that the download itself reads)
FETCH_META = (
    "download_timeout",
    "download_maxsize",
    "download_warnsize",
    "download_fail_on_dataloss",
    "proxy",
    "_auth_proxy",
    "bindaddress",
    "download_slot",
)


async def send(writer: asyncio.StreamWriter, message: tuple[Any, ...]) -> None:
    """Write one message and wait while the peer's buffer is full."""
    write(writer, message)
    await writer.drain()


def write(writer: asyncio.StreamWriter, message: tuple[Any, ...]) -> None:
    """Write one message (buffered: never blocks the event loop)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_LENGTH.pack(len(data)) + data)


async def receive(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """Read one message; ``None`` once the peer has closed the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
        (length,) = _LENGTH.unpack(head)
        data = await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    message: tuple[Any, ...] = pickle.loads(data)  # noqa: S301  (our own child process)
    return message


# -- page fetches: a request out, a response (or the error) back ------------------------


def _plain_headers(headers: Headers) -> dict[bytes, list[bytes]]:
    """Scrapy's headers as plain data (every value of a repeated header kept)."""
    return {k: list(v) for k, v in headers.items()}


def request_state(request: Request) -> dict[str, Any]:
    """What a shard needs to download *request* as the coordinator would have."""
    return {
        "url": request.url,
        "method": request.method,
        "headers": _plain_headers(request.headers),
        "body": request.body,
        "meta": {k: request.meta[k] for k in FETCH_META if k in request.meta},
        "robots": is_robots_txt(request),
    }


def is_robots_txt(request: Request) -> bool:
    """A GET of a robots.txt, or of where a robots.txt redirected (one answer per crawl)."""
    origin = (request.meta.get("redirect_urls") or [request.url])[0]
    return request.method == "GET" and urlsplit(origin).path == "/robots.txt"


def request_from_state(state: dict[str, Any], **meta: Any) -> Request:
    """The request a shard downloads for a page fetch (its middlewares stand aside)."""
    return Request(
        state["url"],
        method=state["method"],
        headers=state["headers"],
        body=state["body"],
        callback=NO_CALLBACK,
        dont_filter=True,
        meta={**state["meta"], **meta},
    )


def response_state(response: Response) -> dict[str, Any]:
    """A downloaded response as plain data (the certificate is not carried)."""
    return {
        "url": response.url,
        "status": response.status,
        "headers": _plain_headers(response.headers),
        "body": response.body,
        "flags": list(response.flags),
        "ip_address": None if response.ip_address is None else str(response.ip_address),
        "protocol": response.protocol,
    }


def response_from_state(state: dict[str, Any], request: Request) -> Response:
    """Rebuild a response in the coordinator, of the class Scrapy would have chosen."""
    headers = Headers(state["headers"])
    cls = responsetypes.from_args(headers=headers, url=state["url"], body=state["body"])
    address = state["ip_address"]
    return cls(
        url=state["url"],
        status=state["status"],
        headers=headers,
        body=state["body"],
        flags=state["flags"],
        request=request,
        ip_address=None if address is None else ipaddress.ip_address(address),
        protocol=state["protocol"],
    )


class ShardFetchError(OSError):
    """A page fetch failed in its shard with an error that could not be carried as is."""


def error_state(error: BaseException, url: str) -> dict[str, Any]:
    """A failed page fetch: the exception (pickled, else described), the guard's refusal."""
    try:
        blob = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)  # noqa: S301  (ours: an exception that cannot come back is described)
    except Exception:  # noqa: BLE001  (any exception may fail to pickle)
        blob = None
    host = host_of(url)
    refusal = guard.guard_refusal(error, host) if host else None
    return {
        "exception": blob,
        "description": f"{type(error).__name__}: {error}",
        "refused": None if refusal is None else (refusal.host, refusal.reason),
    }


def error_from_state(state: dict[str, Any]) -> BaseException:
    """The exception of a failed page fetch, the guard's refusal noted in this process."""
    if state["refused"] is not None:
        # the guard's side channel is per process: the page's failure must read as refused
        guard.record_refused(*state["refused"])
    if state["exception"] is not None:
        error: BaseException = pickle.loads(state["exception"])  # noqa: S301
        return error
    return ShardFetchError(state["description"])
