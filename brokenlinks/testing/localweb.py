"""A local virtual-host web server: the test web, the demo web and the benchmarks' web.

One stdlib ``ThreadingHTTPServer`` bound to ``127.0.0.1`` (port 0 by default: the OS picks
the port at bind time) serves many sites, routed by the ``Host`` header (port stripped).
The crawler reaches it through ``BROKENLINKS_RESOLVE`` (``{"*.test": "127.0.0.1:PORT"}``), so
the pages carry ordinary port-less links such as ``http://gone.test/404``. No settings are read.

Content
-------
``ROOT/<host>/<path>`` is served as static files (``/`` and ``/dir/`` give ``index.html``,
``/dir`` redirects to ``/dir/``; the content type comes from the extension, HTML is
``text/html; charset=utf-8`` unless the file declares another charset in a ``<meta>``).
A request for a host that has neither a directory nor a ``routes.json`` entry gets
``404`` "no such host"; a known host's unknown path gets ``404`` (or the host's ``default``).

``ROOT/routes.json`` declares behaviours that override or complement the static files:
its format is :mod:`brokenlinks.testing.routes`'s docstring.

HEAD never gets a body (its ``Content-Length`` is the GET body's). Unknown keys are errors.
Connections are HTTP/1.1 keep-alive. A connection that opens with a TLS handshake (an
``https://`` URL mapped onto this port) gets a plain-HTTP 400 at once, which the client's
TLS layer rejects: a TLS failure, as from a real server speaking HTTP on port 443.

Bookkeeping
-----------
Every request is logged (:class:`LoggedRequest`: method, host, path, query, monotonic time,
headers, status, bytes sent; a refused TLS handshake as method ``TLS``), and the most
requests in flight at once per host is kept (from the end of the request headers to the
start of the answer, after its delay) for politeness tests: :meth:`LocalWeb.max_in_flight`,
and over all hosts together: :meth:`LocalWeb.max_total_in_flight`.

Use::

    with LocalWeb(Path("tests/web")) as web:
        settings = {"BROKENLINKS_RESOLVE": {"*.test": f"127.0.0.1:{web.port}"}}
        ...
        assert web.max_in_flight("slow.test") <= 2

``python -m brokenlinks.testing.localweb ROOT`` prints the server's URL and serves until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
import signal
import socket
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any, Self, cast
from urllib.parse import unquote, urlsplit

from brokenlinks.testing.answers import (
    Answer,
    LoggedRequest,
    content_type_for,
    generated,
    host_from_header,
    html_page,
    reason_phrase,
    sized_page,
)
from brokenlinks.testing.routes import HTML_TYPE, PathRoute, Rule, load_routes, parse_routes

if TYPE_CHECKING:
    import re
    from collections.abc import Mapping, Sequence
    from types import FrameType, TracebackType

logger = logging.getLogger(__name__)

#: how long :meth:`LocalWeb.stop` waits for handler threads to finish
STOP_WAIT_SECONDS = 2.0
#: bodies are written in chunks of this size (``LoggedRequest.bytes_sent`` counts them)
_CHUNK = 65536
#: the first byte of a TLS connection (a handshake record)
_TLS_HANDSHAKE = b"\x16"


class LocalWeb:
    """A virtual-host web server on 127.0.0.1 serving ``root`` (see the module docstring).

    ``routes`` replaces ``root/routes.json`` when given (a parsed-JSON mapping).
    """

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        routes: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.bind_host = host
        self.requested_port = port
        self.routes = parse_routes(routes) if routes is not None else load_routes(self.root)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._log: list[LoggedRequest] = []
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        self._total_in_flight = 0
        self._max_total_in_flight = 0
        self._fail_counts: Counter[tuple[str, str]] = Counter()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle --

    def start(self) -> int:
        """Bind, serve in a daemon thread and return the port."""
        if self._server is not None:
            return self._port
        self.stopping.clear()
        server = _Server((self.bind_host, self.requested_port), _Handler)
        server.web = self
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"localweb-{self._port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("local web serving %s on %s", self.root, self.base)
        return self._port

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection, join the threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        with self._idle:
            while self._connections and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
        if thread is not None:
            thread.join(STOP_WAIT_SECONDS)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._port

    @property
    def base(self) -> str:
        """The server's own URL, ``http://127.0.0.1:PORT``."""
        return f"http://{self.bind_host}:{self._port}"

    # -- bookkeeping --

    def requests(
        self, host: str | None = None, path: str | None = None, method: str | None = None
    ) -> list[LoggedRequest]:
        """Return the logged requests, oldest first, optionally filtered."""
        with self._lock:
            return [
                r
                for r in self._log
                if (host is None or r.host == host)
                and (path is None or r.path == path)
                and (method is None or r.method == method)
            ]

    def count(
        self, host: str | None = None, path: str | None = None, method: str | None = None
    ) -> int:
        """Return how many requests were logged, optionally filtered."""
        return len(self.requests(host, path, method))

    def max_in_flight(self, host: str) -> int:
        """Return the most requests to *host* that were in flight at the same time."""
        with self._lock:
            return self._max_in_flight[host]

    def max_total_in_flight(self) -> int:
        """Return the most requests, all hosts together, that were in flight at the same time."""
        with self._lock:
            return self._max_total_in_flight

    def in_flight(self, host: str) -> int:
        """Return how many requests to *host* are in flight now."""
        with self._lock:
            return self._in_flight[host]

    def reset(self) -> None:
        """Forget the request log, the in-flight maxima and the fail counters."""
        with self._lock:
            self._log.clear()
            self._max_in_flight = Counter(self._in_flight)
            self._max_total_in_flight = self._total_in_flight
            self._fail_counts.clear()

    def reset_counters(self) -> None:
        """Reset only the ``fail`` counters (every fail-then-succeed path fails again)."""
        with self._lock:
            self._fail_counts.clear()

    # -- used by the handler --

    def _begin(self, record: LoggedRequest) -> None:
        with self._lock:
            self._log.append(record)
            self._in_flight[record.host] += 1
            self._max_in_flight[record.host] = max(
                self._max_in_flight[record.host], self._in_flight[record.host]
            )
            self._total_in_flight += 1
            self._max_total_in_flight = max(self._max_total_in_flight, self._total_in_flight)

    def _log_only(self, record: LoggedRequest) -> None:
        with self._lock:
            self._log.append(record)

    def _end(self, record: LoggedRequest) -> None:
        with self._lock:
            self._in_flight[record.host] -= 1
            self._total_in_flight -= 1

    def _register(self, connection: socket.socket, *, add: bool) -> None:
        with self._idle:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)
                self._idle.notify_all()

    def _failing(self, host: str, path: str, times: int) -> bool:
        with self._lock:
            self._fail_counts[host, path] += 1
            return self._fail_counts[host, path] <= times

    # -- routing --

    def answer(self, method: str, host: str, path: str) -> Answer:
        """Decide the answer to *method* on *host* and *path* (without query)."""
        host_routes = self.routes.for_host(host)
        if host_routes is not None:
            matched = host_routes.match(path)
            if matched is not None:
                rule, route, found = matched
                return self._rule_answer(rule, method, host, path, route=route, found=found)
        static = self._static(host, path)
        if static is not None:
            return static
        if host_routes is not None and host_routes.default is not None:
            return self._rule_answer(host_routes.default, method, host, path)
        if host_routes is None and not self._host_dir(host):
            return generated(404, "Not Found", f"No such host: {host}")
        return generated(404, "Not Found", f"No page at {path} on {host}.")

    def _rule_answer(
        self,
        rule: Rule,
        method: str,
        host: str,
        path: str,
        *,
        route: PathRoute | None = None,
        found: re.Match[str] | None = None,
    ) -> Answer:
        if rule.fail is not None and self._failing(host, path, rule.fail_times):
            rule = rule.fail
        if method == "HEAD" and rule.head is not None:
            rule = rule.head
        if rule.hang is not None:
            return Answer(status=0, hang=rule.hang, delay=rule.delay)
        headers = list(rule.headers)
        location = rule.location
        if rule.chain is not None and route is not None and found is not None:
            hop = int(found.group("n"))
            if not 1 <= hop <= rule.chain.hops:
                return generated(404, "Not Found", f"No hop {hop} in this chain.")
            location = (
                route.pattern.replace("{n}", str(hop + 1))
                if hop < rule.chain.hops
                else rule.chain.to
            )
        if location is not None:
            headers.append(("Location", location))
        body = self._rule_body(rule, host, path, location)
        if found is not None and found.groupdict().get("n") is not None:
            # a route with {n} may link to its neighbours: an endless calendar
            hop = int(found.group("n"))
            body = body.replace(b"{n+1}", str(hop + 1).encode()).replace(
                b"{n-1}", str(hop - 1).encode()
            )
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            headers.append(("Content-Type", rule.content_type))
        return Answer(
            status=rule.status,
            headers=tuple(headers),
            body=body,
            delay=rule.delay,
            chunked=rule.chunked,
        )

    def _rule_body(self, rule: Rule, host: str, path: str, location: str | None) -> bytes:
        if rule.body_size is not None:
            return sized_page(rule.body_size)
        if rule.body is not None:
            template = rule.body.encode()
        elif rule.file is not None:
            # bytes as stored: files may be compressed or in any charset
            template = (self.root / rule.file).read_bytes()
        else:
            title = reason_phrase(rule.status)
            text = f"Moved to {location}" if location else ""
            return html_page(rule.status, title, text)
        year = str(datetime.now(UTC).year).encode()
        return (
            template.replace(b"{host}", html.escape(host).encode())
            .replace(b"{path}", html.escape(path).encode())
            .replace(b"{year}", year)
        )

    def _host_dir(self, host: str) -> Path | None:
        if not host or host.startswith(".") or "/" in host or "\\" in host:
            return None
        directory = self.root / host
        return directory if directory.is_dir() else None

    def _static(self, host: str, path: str) -> Answer | None:
        directory = self._host_dir(host)
        if directory is None:
            return None
        relative = unquote(path).lstrip("/")
        target = (directory / relative).resolve()
        if not target.is_relative_to(directory.resolve()):
            return None
        if target.is_dir():
            if not path.endswith("/"):
                return Answer(
                    status=301,
                    headers=(("Location", path + "/"), ("Content-Type", HTML_TYPE)),
                    body=html_page(301, "Moved Permanently", f"Moved to {path}/"),
                )
            target /= "index.html"
        if not target.is_file():
            return None
        data = target.read_bytes()
        return Answer(
            status=200, headers=(("Content-Type", content_type_for(target, data)),), body=data
        )


def unused_port(host: str = "127.0.0.1") -> int:
    """Return a port on *host* where nothing listens (for "connection refused" tests).

    The port is bound, noted and closed; another process could take it in between, which
    the tests accept (they use it at once, on loopback).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def refusing_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port on *host* that never listens: connections are refused.

    Unlike :func:`unused_port`, the port stays taken while the socket is open, so no other
    server (another test process running beside this one) can start answering on it. Close
    the socket when done.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
    except OSError:
        sock.close()
        raise
    return sock


# --- server -----------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    web: LocalWeb

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can
        # stall without a network; the name is never used here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop connections mid-answer on purpose (body caps, timeouts).
        # socketserver calls this from its except clause, hence sys.exc_info().
        logger.debug("local web: error with client %s", client_address, exc_info=sys.exc_info())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: idle keep-alive connections and stalled clients are dropped after this
    timeout = 30

    @property
    def web(self) -> LocalWeb:
        return cast("_Server", self.server).web

    def setup(self) -> None:
        super().setup()
        # A fixed send buffer turns off the kernel's autotuning, which on loopback lets a
        # whole 1 MiB body vanish into socket buffers before a client that stopped
        # reading hangs up: ``bytes_sent`` then stays close to what the client took.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _CHUNK)
        self.web._register(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.web._register(self.connection, add=False)

    def handle(self) -> None:
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == _TLS_HANDSHAKE:
            self._refuse_tls()
            return
        super().handle()

    def _refuse_tls(self) -> None:
        # A TLS client (https://tls.test/ mapped onto this plain-HTTP port) gets a plain
        # HTTP answer, which its TLS layer rejects at once ("wrong version number"), as
        # with a real server that speaks HTTP on 443. Waiting for a request line instead
        # would make it a timeout whenever the ClientHello holds no newline byte.
        self.web._log_only(
            LoggedRequest(
                method="TLS", host="", path="", query="", time=time.monotonic(), headers={}
            )
        )
        with contextlib.suppress(OSError):
            self.wfile.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        self.close_connection = True

    def version_string(self) -> str:
        return "localweb/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib name)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("local web: %s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        target = self.path
        host = host_from_header(self.headers.get("Host", ""))
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            host = host_from_header(parts.netloc)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
        path, _, query = target.partition("?")
        record = LoggedRequest(
            method=self.command,
            host=host,
            path=path,
            query=query,
            time=time.monotonic(),
            headers=dict(self.headers.items()),
        )
        web = self.web
        web._begin(record)
        ended = False
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)
            answer = web.answer(self.command, host, path)
            if answer.delay and web.stopping.wait(answer.delay):
                self.close_connection = True
                return
            if answer.hang is not None:
                web.stopping.wait(answer.hang)
                self.close_connection = True
                return
            # out of flight as the answer starts: once its last byte is sent, the client
            # may send its next request before this thread runs again, and counting
            # until then would see that request overlap this one
            ended = True
            web._end(record)
            self._write(answer, record)
        finally:
            if not ended:
                web._end(record)

    def _write(self, answer: Answer, record: LoggedRequest) -> None:
        record.status = answer.status
        self.send_response(answer.status, reason_phrase(answer.status))
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        body = memoryview(answer.body)
        for start in range(0, len(body), _CHUNK):
            chunk = body[start : start + _CHUNK]
            # counted before the write, so the count is final once the client has it all
            record.bytes_sent += len(chunk)
            try:
                if answer.chunked:
                    self.wfile.write(b"%x\r\n" % len(chunk) + bytes(chunk) + b"\r\n")
                else:
                    self.wfile.write(chunk)
            except OSError:
                record.bytes_sent -= len(chunk)
                raise
        if answer.chunked:
            self.wfile.write(b"0\r\n\r\n")


# --- command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve ROOT until interrupted; print the server's URL on the first line."""
    parser = argparse.ArgumentParser(
        prog="python -m brokenlinks.testing.localweb",
        description="Serve a local virtual-host web.",
    )
    parser.add_argument("root", type=Path, help="directory of <host>/ folders and routes.json")
    parser.add_argument("--bind", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"not a directory: {args.root}")
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    with LocalWeb(args.root, host=args.bind, port=args.port) as web:
        sys.stdout.write(f"{web.base}\n")
        sys.stdout.flush()
        try:
            while not done.wait(0.25):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
