"""A programmable loopback server for the outside services the outreach steps call.

The Wayback Machine's CDX API and captures, IANA's RDAP bootstrap file and RDAP servers,
and the user's own site answer the documented shapes from here; each route gives a
sequence of replies (the last one repeats), so a test can script "429 then 200". Routes
are keyed by host, path and the ``url`` query parameter (the CDX API's subject).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering (a slow server)
    delay: float = 0.0


@dataclass
class Logged:
    at: float
    host: str
    path: str
    status: int


class ServiceWeb:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str | None], list[Reply]] = {}
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def add(self, host: str, path: str, *replies: Reply, url: str | None = None) -> None:
        self.routes[host, path, url] = list(replies)

    def reply(self, host: str, target: str) -> Reply:
        parts = urlsplit(target)
        url = parse_qs(parts.query).get("url", [None])[0]
        with self._lock:
            replies = self.routes.get((host, parts.path, url)) or self.routes.get(
                (host, parts.path, None)
            )
            if not replies:
                return Reply(404, "not found", {"Content-Type": "text/plain"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def requests(self, host: str, path_start: str = "") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.host == host and r.path.startswith(path_start)]

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.web = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    web: ServiceWeb

    def server_bind(self) -> None:
        # no reverse DNS lookup of the bound address (HTTPServer.server_bind does one)
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on a slow answer on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        web = self.server.web  # type: ignore[attr-defined]
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        reply = web.reply(host, self.path)
        with web._lock:
            web.log.append(Logged(time.monotonic(), host, self.path, reply.status))
        if reply.delay:
            time.sleep(reply.delay)
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        headers = {"Content-Type": "text/html; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)
