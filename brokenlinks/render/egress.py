"""The browser's only way out: a local HTTP proxy that applies the network guard.

Chromium resolves names and follows redirects on its own, and Playwright's request
interception does not see every request it makes (redirect hops, workers, WebSockets).
So when pages are rendered, the crawl starts an :class:`EgressProxy` on ``127.0.0.1:0``
and launches Chromium with ``--proxy-server`` pointing at it, loopback not bypassed
(``--proxy-bypass-list=<-loopback>``) and its own name resolution switched off: every
connection the browser opens is a request to this proxy (the pattern of egress proxies
such as Stripe's Smokescreen). The proxy resolves the name itself with the crawler's rules
(:class:`brokenlinks.net.guard.HostPolicy`: ``BROKENLINKS_RESOLVE`` overrides, ``.invalid``,
``BROKENLINKS_ALLOW_PRIVATE_ADDRESSES``), drops every refused address, and connects only to
an address it judged, so DNS rebinding cannot get around it either. A refused request
gets ``403`` with an ``X-Brokenlinks-Refused`` header (for ``CONNECT``: the tunnel is
refused, which Chromium reports as ``ERR_TUNNEL_CONNECTION_FAILED``).

It speaks what Chromium sends to an HTTP proxy: ``CONNECT host:port`` tunnels (https,
wss and ws) and absolute-form ``http://`` requests, one request per client connection
(``Connection: close`` both ways, so that a kept-alive connection can never carry a
request for another host to an upstream vetted for the first). Upstream failures are a
gateway's answers: ``502`` (cannot connect, no usable response head), ``504`` (no answer in
time); a connection with no byte either way for ``IDLE_TIMEOUT`` seconds is closed. It runs
its own asyncio loop in a thread, so it works whatever reactor the crawl uses; the download
handler starts it with the first rendered page (a failure to start is raised: no browser
without its proxy) and stops it after the browser has closed, closing its connections
before their handlers end (a handler task cancelled with its connection open makes
Python 3.11's asyncio log an ERROR traceback).

Written here rather than taken from a proxy library. proxy.py (2.4) has the hook
(``HttpProxyBasePlugin.resolve_dns``), but it is synchronous, returns one address (no
judging and dropping each address of a name), refuses only by raising from another hook,
and brings its own acceptor/worker process model configured by command-line flags, to run
inside a Scrapy process; mitmproxy brings TLS interception and dozens of dependencies.
What matters is the decision, and that is the guard's own code (``HostPolicy``); the
relaying is ~300 lines with tests (``tests/test_egress.py``).

Stats: ``brokenlinks/render/egress/requests``, ``brokenlinks/render/egress/refused`` and
``brokenlinks/render/egress/refused/<reason>`` (``loopback``, ``private``, ...),
``brokenlinks/render/egress/unresolved`` (names that resolve nowhere: answered ``403`` too),
``brokenlinks/render/egress/upstream_502``/``upstream_504`` and
``brokenlinks/render/egress/idle_closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from brokenlinks.net.guard import HostPolicy, split_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from brokenlinks.config import BrokenlinksConfig

logger = logging.getLogger(__name__)

#: the longest request or response head read (request line or status line plus headers)
MAX_HEAD_BYTES = 65_536
_HEAD_TIMEOUT = 30.0
_RESOLVE_TIMEOUT = 10.0
_CONNECT_TIMEOUT = 10.0
_CHUNK = 65_536
_START_TIMEOUT = 10.0
#: how long stop() lets handlers end on their own once their connections are closed
_CLOSE_TIMEOUT = 2.0
#: a tunnel or relayed response with no byte either way for this long is closed
IDLE_TIMEOUT = 60.0
#: hop-by-hop headers the proxy sets itself (RFC 9110 section 7.6.1)
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te", b"trailer"}
)
_STATUS_CONTINUE_MIN = 100
_STATUS_FINAL_MIN = 200
_SWITCHING_PROTOCOLS = 101


class Refused(Exception):
    """The guard refused every address of the host (or the name resolved nowhere)."""

    def __init__(self, host: str, reason: str, detail: str) -> None:
        super().__init__(f"{host}: {detail}")
        self.host = host
        self.reason = reason
        self.detail = detail


class UpstreamError(Exception):
    """The upstream server could not be reached or answered nothing usable (502 or 504)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class EgressProxy:
    """A guarded HTTP proxy on ``127.0.0.1``, serving from its own thread.

    >>> from brokenlinks.config import BrokenlinksConfig
    >>> proxy = EgressProxy(BrokenlinksConfig())
    >>> proxy.start() > 0 and proxy.url.startswith("http://127.0.0.1:")
    True
    >>> proxy.stop()
    """

    def __init__(
        self,
        config: BrokenlinksConfig,
        *,
        count: Callable[[str], None] | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.policy = HostPolicy(config.resolve, allow_private=config.allow_private_addresses)
        #: called (from the proxy's thread) with each stats key to increment
        self.count = count
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._logged: set[str] = set()
        #: every open stream (client and upstream), closed by stop()
        self._streams: set[asyncio.StreamWriter] = set()
        #: seconds without a byte either way after which a relayed connection is closed
        self.idle_timeout = idle_timeout
        self.connect_timeout = _CONNECT_TIMEOUT
        #: seconds an upstream server has to send its response head
        self.response_timeout = _HEAD_TIMEOUT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> int:
        """Bind ``127.0.0.1:0``, serve from a daemon thread, return the port.

        Raises ``OSError`` when it cannot bind or serve: a browser without its proxy must
        not be launched.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()
        failed: list[BaseException] = []

        async def serve() -> None:
            try:
                self._server = await asyncio.start_server(
                    self._handle, sock=sock, limit=MAX_HEAD_BYTES
                )
            except BaseException as e:
                failed.append(e)
                raise
            finally:
                ready.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except Exception:  # noqa: BLE001  (kept in *failed*, raised by start())
                sock.close()
                loop.close()
                return
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="brokenlinks-egress", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or failed:
            if failed:  # the thread closed its loop and ends
                self._thread.join(_START_TIMEOUT)
                self._loop = self._thread = None
            else:
                self.stop()
            why = failed[0] if failed else "not serving after 10 s"
            msg = f"the browser's egress proxy could not start: {why}"
            raise OSError(msg) from (failed[0] if failed else None)
        logger.debug("Browser egress proxy listening on %(url)s", {"url": self.url})
        return self.port

    def stop(self) -> None:
        """Stop accepting, close every relayed connection, end the thread.

        Connections are closed first, so that their handlers end on their own: a handler
        task cancelled while its client connection is open makes Python 3.11's asyncio log
        an ERROR with a traceback (``StreamReaderProtocol``), one per open tunnel.
        """
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for stream in list(self._streams):
                stream.transport.abort()
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            loop.stop()

        with contextlib.suppress(RuntimeError):  # the loop already ended
            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(10)

    def _inc(self, key: str) -> None:
        if self.count is not None:
            self.count(key)

    async def resolve(self, host: str, port: int) -> list[tuple[str, int]]:
        """The addresses (and ports) the browser may reach for *host*:*port*.

        Raises :class:`Refused` when there are none.
        """
        override = self.policy.override(host, port)
        if override is not None:
            return [override]
        addresses = self.policy.static_addresses(host)
        if addresses is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT
                )
            except (OSError, UnicodeError, TimeoutError):
                infos = []
            addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        kept, refusal = self.policy.judge(addresses)
        if kept:
            return [(address, port) for address in kept]
        if refusal is None:
            raise Refused(host, "unresolved", "does not resolve")
        raise Refused(host, refusal.split(" address ", 1)[0].replace(" ", "_"), refusal)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # every upstream stream opened for this client, closed however the relay ends
        opened: list[asyncio.StreamWriter] = []
        self._streams.add(writer)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
            request_line, _, header_block = head[:-4].partition(b"\r\n")
            parts = request_line.decode("latin-1").split(" ")
            if len(parts) != 3:  # noqa: PLR2004
                await _answer(writer, 400, "bad request line")
                return
            method, target, version = parts
            self._inc("brokenlinks/render/egress/requests")
            if method == "CONNECT":
                await self._tunnel(target, reader, writer, opened)
            else:
                await self._forward(
                    (method, target, version), header_block, reader, writer, opened
                )
        except Refused as e:
            self._refused(e)
            await _answer(writer, 403, f"refused by the network guard: {e}", refused=e.detail)
        except UpstreamError as e:
            self._inc(f"brokenlinks/render/egress/upstream_{e.status}")
            await _answer(writer, e.status, str(e))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            await _answer(writer, 400, "incomplete or oversized request head")
        except (ConnectionError, OSError):
            pass
        finally:
            for stream in (*opened, writer):
                stream.close()
                self._streams.discard(stream)

    def _refused(self, error: Refused) -> None:
        if error.reason == "unresolved":
            # not the guard: the browser's own lookup would have failed the same way
            self._inc("brokenlinks/render/egress/unresolved")
            logger.debug("Browser request to %(host)s: does not resolve", {"host": error.host})
            return
        self._inc("brokenlinks/render/egress/refused")
        self._inc(f"brokenlinks/render/egress/refused/{error.reason}")
        host = error.host.lower()
        log = logger.debug if host in self._logged else logger.info
        self._logged.add(host)
        log(
            "Browser request to %(host)s refused: %(detail)s (see "
            "BROKENLINKS_ALLOW_PRIVATE_ADDRESSES and BROKENLINKS_RESOLVE)",
            {"host": error.host, "detail": error.detail},
        )

    async def _connect(
        self,
        host: str,
        port: int,
        writer: asyncio.StreamWriter,
        opened: list[asyncio.StreamWriter],
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        last: OSError | None = None
        timed_out = True
        for address, target_port in await self.resolve(host, port):
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(address, target_port, limit=MAX_HEAD_BYTES),
                    self.connect_timeout,
                )
            except TimeoutError:
                last = OSError(f"no answer within {self.connect_timeout:g} s")
            except OSError as e:
                last, timed_out = e, False
            else:
                opened.append(up_writer)
                self._streams.add(up_writer)
                return up_reader, up_writer
        # a gateway's answers (RFC 9110 15.6.3, 15.6.5): the browser reports them as such,
        # not as its own request's fault
        raise UpstreamError(504 if timed_out else 502, f"cannot connect to {host}:{port}: {last}")

    async def _tunnel(
        self,
        target: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        opened: list[asyncio.StreamWriter],
    ) -> None:
        try:
            host, port = split_port(target, "CONNECT target")
        except ValueError:
            port = None
        if port is None:
            await _answer(writer, 400, "CONNECT needs HOST:PORT")
            return
        up_reader, up_writer = await self._connect(host, port, writer, opened)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self._relay_both(reader, writer, up_reader, up_writer)

    async def _forward(
        self,
        request_line: tuple[str, str, str],
        header_block: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        opened: list[asyncio.StreamWriter],
    ) -> None:
        method, target, version = request_line
        url = urlsplit(target)
        try:
            host, port = url.hostname, url.port or 80
        except ValueError:
            host = None
        if url.scheme.lower() != "http" or not host:
            await _answer(writer, 400, "expected an absolute http:// URL or CONNECT")
            return
        headers = [line for line in header_block.split(b"\r\n") if line]
        names = [line.partition(b":")[0].strip().lower() for line in headers]
        if b"transfer-encoding" in names:
            # Chromium streams request bodies over HTTP/2 only; over HTTP/1.1 a chunked
            # body would need parsing to know where the one request ends
            await _answer(writer, 501, "chunked request bodies are not relayed")
            return
        length = 0
        for name, line in zip(names, headers, strict=True):
            if name == b"content-length":
                value = line.partition(b":")[2].strip()
                if not value.isdigit():
                    await _answer(writer, 400, "bad Content-Length")
                    return
                length = int(value)
        up_reader, up_writer = await self._connect(host, port, writer, opened)
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        kept = [line for name, line in zip(names, headers, strict=True) if name not in _HOP_BY_HOP]
        up_writer.write(
            f"{method} {path} {version}\r\n".encode("latin-1")
            + b"".join(line + b"\r\n" for line in kept)
            + b"Connection: close\r\n\r\n"
        )
        if length:
            await _copy_exactly(reader, up_writer, length)
        await up_writer.drain()
        while True:
            try:
                head = await asyncio.wait_for(
                    up_reader.readuntil(b"\r\n\r\n"), self.response_timeout
                )
            except TimeoutError as e:
                msg = f"{host}:{port} sent no response head within {self.response_timeout:g} s"
                raise UpstreamError(504, msg) from e
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                msg = f"{host}:{port} closed or overflowed before a complete response head"
                raise UpstreamError(502, msg) from e
            status = _status(head)
            writer.write(_close_head(head))
            await writer.drain()
            if not _STATUS_CONTINUE_MIN <= status < _STATUS_FINAL_MIN or status == (
                _SWITCHING_PROTOCOLS
            ):
                break
        if status == _SWITCHING_PROTOCOLS:
            await self._relay_both(reader, writer, up_reader, up_writer)
        else:
            idle = _Idle(self.idle_timeout, (writer, up_writer))
            await _relay(up_reader, writer, idle)
            self._idle_closed(idle)

    async def _relay_both(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        # either side closing ends its direction (the other gets its EOF); no byte either
        # way for idle_timeout seconds closes both
        idle = _Idle(self.idle_timeout, (writer, up_writer))
        await asyncio.gather(_relay(reader, up_writer, idle), _relay(up_reader, writer, idle))
        self._idle_closed(idle)

    def _idle_closed(self, idle: _Idle) -> None:
        if idle.expired:
            self._inc("brokenlinks/render/egress/idle_closed")
            logger.debug("Closed a browser connection idle for %(s)g s", {"s": idle.timeout})


def _status(head: bytes) -> int:
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _close_head(head: bytes) -> bytes:
    """*head* without its hop-by-hop headers, saying that the connection closes."""
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [
        line for line in lines[1:] if line.partition(b":")[0].strip().lower() not in _HOP_BY_HOP
    ]
    return b"\r\n".join([*kept, b"Connection: close", b"Proxy-Connection: close"]) + b"\r\n\r\n"


async def _answer(
    writer: asyncio.StreamWriter, status: int, text: str, *, refused: str | None = None
) -> None:
    reasons = {
        400: "Bad Request",
        403: "Forbidden",
        501: "Not Implemented",
        502: "Bad Gateway",
        504: "Gateway Timeout",
    }
    body = (text + "\n").encode("utf-8", "replace")
    extra = f"X-Brokenlinks-Refused: {refused}\r\n" if refused else ""
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\nProxy-Connection: close\r\n\r\n"
    )
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(head.encode("latin-1", "replace") + body)
        await writer.drain()


async def _copy_exactly(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, length: int
) -> None:
    while length > 0:
        data = await reader.read(min(length, _CHUNK))
        if not data:
            return
        writer.write(data)
        length -= len(data)
        await writer.drain()


class _Idle:
    """When a relayed connection last carried a byte; closes its streams once idle too long."""

    def __init__(self, timeout: float, streams: tuple[asyncio.StreamWriter, ...]) -> None:
        self.timeout = timeout
        self.streams = streams
        self.last = time.monotonic()
        self.expired = False

    def touch(self) -> None:
        self.last = time.monotonic()

    def left(self) -> float:
        """Seconds until the connection counts as idle (``<= 0``: it is)."""
        return self.last + self.timeout - time.monotonic()

    def expire(self) -> None:
        self.expired = True
        for stream in self.streams:
            stream.transport.abort()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: _Idle) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while True:
            try:
                data = await asyncio.wait_for(reader.read(_CHUNK), max(idle.left(), 0.01))
            except TimeoutError:
                if idle.expired:
                    return
                if idle.left() <= 0:
                    idle.expire()
                    return
                continue  # the other direction carried bytes meanwhile
            if not data:
                break
            idle.touch()
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()
