"""Components that tests install into real crawls (``-s DOWNLOADER_MIDDLEWARES``) to inject faults.

Imported by the ``scrapy crawl`` subprocess the tests start from the checkout (``tests.`` is
importable from there); never part of the package.
"""

from __future__ import annotations

import time

from scrapy.http import HtmlResponse

#: a GET of this URL comes back as a response that cannot be read (a bug's stand-in)
EXPLODING_URL = "http://boom.test/page"


class UnreadableResponse(HtmlResponse):
    """An answer whose text raises, as a bug in reading a body would."""

    @property
    def text(self) -> str:
        msg = "injected fault: this body cannot be read"
        raise RuntimeError(msg)


class ExplodingBodyMiddleware:
    """Replaces the GET answer of :data:`EXPLODING_URL` with an :class:`UnreadableResponse`."""

    def process_response(self, request, response):
        if request.url == EXPLODING_URL and request.method == "GET":
            return UnreadableResponse(
                response.url,
                status=response.status,
                headers=response.headers,
                body=response.body,
                request=request,
            )
        return response


class LoopBlockingMiddleware:
    """Holds the event loop for a while on each answer of ``busy.test``, as a starved process would."""

    def process_response(self, request, response):
        if request.url.startswith("http://busy.test/"):
            time.sleep(0.8)  # the point: the loop lags
        return response
