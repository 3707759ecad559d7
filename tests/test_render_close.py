"""A rendered crawl that went fine logs no ERROR (issue 21, point 5).

Chromium keeps its https connections alive after a page closes; through the egress proxy
each one is an open ``CONNECT`` tunnel. The proxy used to be stopped when the spider closed,
before the browser, by cancelling its handler tasks: Python 3.11's asyncio logs an ERROR
with a traceback for each one. The page here loads an image over https from a local TLS
server (a self-signed certificate, which ``--ignore-certificate-errors``, a harmless launch
option, lets the browser accept), so that a tunnel is open when the crawl ends.
"""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from brokenlinks.testing.localweb import LocalWeb
from tests.conftest import run_crawl, write_seeds

PAGE = """<!doctype html><html><head><title>Widgets</title></head><body>
<div id="root"></div>
<main><p>See <a href="http://gone.test/close-404">this resource</a>.</p></main>
<img src="https://tls.test/pixel.gif">
<script>document.getElementById("root").textContent = "ready";</script>
</body></html>"""


def self_signed(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


class _Pixel(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the browser keeps the connection

    def do_GET(self) -> None:
        body = b"GIF89a"
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002  (the stdlib's name)
        pass


@pytest.fixture
def tls_server(tmp_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pixel)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def widget_web(tmp_path):
    root = tmp_path / "web"
    (root / "widgets.test").mkdir(parents=True)
    (root / "widgets.test" / "index.html").write_text(PAGE, encoding="utf-8")
    with LocalWeb(root, routes={"gone.test": {}}) as web:
        yield web


@pytest.mark.e2e
@pytest.mark.parametrize("render", ["auto", "always"])
def test_a_rendered_crawl_that_went_fine_logs_no_error(tmp_path, widget_web, tls_server, render):
    seeds = write_seeds(tmp_path, ["http://widgets.test/"])
    result = run_crawl(
        tmp_path,
        widget_web,
        {"seeds": str(seeds), "render": render},
        settings={
            "BROKENLINKS_RESOLVE": {
                "tls.test": f"127.0.0.1:{tls_server}",
                "*.test": f"127.0.0.1:{widget_web.port}",
            },
            "PLAYWRIGHT_LAUNCH_OPTIONS": {"args": ["--ignore-certificate-errors"]},
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stats = result.stats
    assert stats["brokenlinks/render/pages"] == 1
    # the image came through a CONNECT tunnel of the egress proxy
    assert stats["brokenlinks/render/egress/requests"] >= 2
    assert [i["target_url"] for i in result.items] == ["http://gone.test/close-404"]
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert errors == []
    assert "Traceback" not in result.stderr
    assert "'log_count/ERROR'" not in result.stderr
