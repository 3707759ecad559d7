"""Verdicts: what a link check's outcome means for a link builder.

Pure functions, no settings. An outcome is an HTTP status (after the checker followed
redirects and retries) or the exception a download raised; it becomes a
:class:`Verdict`: alive, dead, blocked (could not be verified: bot walls, 401/403/429) or
skipped (not checked: non-HTTP links, addresses the network guard refused). Only ``dead``
verdicts become prospects; the reasons are the export contract's ``reason`` values.
Blocked verdicts say why: ``http_status`` (401, 403, 407, 999), ``rate_limited`` (a 429
that did not recover, a Retry-After beyond the cap) or ``bot_wall`` (a challenge page).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import StrEnum

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    NotSupported,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)


class Kind(StrEnum):
    ALIVE = "alive"
    DEAD = "dead"
    BLOCKED = "blocked"
    SKIPPED = "skipped"


class Reason(StrEnum):
    OK = "ok"
    HTTP_STATUS = "http_status"
    DNS = "dns"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    TLS = "tls"
    REDIRECT_LOOP = "redirect_loop"
    SOFT_404 = "soft_404"
    PARKED = "parked"
    INVALID_URL = "invalid_url"
    #: blocked: a challenge or firewall page (Cloudflare, DDoS-Guard, Sucuri...)
    BOT_WALL = "bot_wall"
    #: blocked: 429 that did not recover, or a Retry-After longer than the cap
    RATE_LIMITED = "rate_limited"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    GUARD = "guard"
    OUT_OF_SCOPE = "out_of_scope"
    #: the check failed in a way that says nothing about the target (not dead)
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    reason: Reason
    status: int | None = None
    final_url: str | None = None
    detail: str = ""

    @property
    def is_dead(self) -> bool:
        return self.kind is Kind.DEAD


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A target's verdict in a crawl, and when it was decided (ISO 8601)."""

    url: str
    verdict: Verdict
    checked_at: str


#: the reasons a dead verdict can have (the export's ``reason`` values)
DEAD_REASONS = (
    Reason.HTTP_STATUS,
    Reason.DNS,
    Reason.CONNECTION,
    Reason.TIMEOUT,
    Reason.TLS,
    Reason.REDIRECT_LOOP,
    Reason.SOFT_404,
    Reason.PARKED,
    Reason.INVALID_URL,
)

#: answers that say "you may not see this", not "this is gone"
BLOCKED_STATUSES = frozenset({401, 403, 407, 429, 999})
_TOO_MANY_REQUESTS = 429
#: the detail of a 3xx answer that is not a redirect (alive: browsers show its body)
SHOWN_3XX = "a 3xx without a redirect to follow: browsers show its body"
_UNAVAILABLE = 503


def classify_status(
    status: int, final_url: str | None = None, *, retry_after_refused: bool = False
) -> Verdict:
    """Classify the final HTTP status of a GET (after redirects and retries).

    *retry_after_refused* tells that the server asked to come back later than the
    Retry-After cap allows (the retry middleware gave up waiting): a 503 is then
    ``rate_limited``, not dead.

    >>> classify_status(200, "https://example.com/").kind
    <Kind.ALIVE: 'alive'>
    >>> v = classify_status(410, "https://example.com/old")
    >>> v.kind, v.reason, v.status
    (<Kind.DEAD: 'dead'>, <Reason.HTTP_STATUS: 'http_status'>, 410)
    >>> classify_status(999).kind, classify_status(999).reason
    (<Kind.BLOCKED: 'blocked'>, <Reason.HTTP_STATUS: 'http_status'>)
    >>> classify_status(429).kind, classify_status(429).reason
    (<Kind.BLOCKED: 'blocked'>, <Reason.RATE_LIMITED: 'rate_limited'>)
    >>> classify_status(503, retry_after_refused=True).reason
    <Reason.RATE_LIMITED: 'rate_limited'>
    >>> classify_status(300).kind
    <Kind.ALIVE: 'alive'>
    """
    if 200 <= status < 300 or status == 304:  # noqa: PLR2004
        return Verdict(Kind.ALIVE, Reason.OK, status, final_url)
    if 300 <= status < 400:  # noqa: PLR2004
        # reached only without a redirect to follow (300, or no Location): browsers
        # show such an answer's body (Fetch: only 301/302/303/307/308 with a Location
        # redirect), so the visitor gets a page
        return Verdict(Kind.ALIVE, Reason.OK, status, final_url, SHOWN_3XX)
    if status == _TOO_MANY_REQUESTS or (status == _UNAVAILABLE and retry_after_refused):
        detail = "Retry-After beyond the cap" if retry_after_refused else "429 after retries"
        return Verdict(Kind.BLOCKED, Reason.RATE_LIMITED, status, final_url, detail)
    if status in BLOCKED_STATUSES:
        return Verdict(Kind.BLOCKED, Reason.HTTP_STATUS, status, final_url)
    # 4xx, 5xx that persisted through retries and non-standard codes all mean the
    # visitor gets no page.
    return Verdict(Kind.DEAD, Reason.HTTP_STATUS, status, final_url)


def head_is_conclusive(status: int) -> bool:
    """Tell whether a HEAD answer settles the check without a GET.

    Only a clear 2xx does: many servers answer HEAD with 405, 501, 404 or 403 for
    pages that GET serves, so anything else is confirmed with GET.

    >>> head_is_conclusive(200), head_is_conclusive(405), head_is_conclusive(404)
    (True, False, False)
    """
    return 200 <= status < 300  # noqa: PLR2004


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, its chained causes and the failures a Twisted error wraps."""
    seen: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack and len(seen) < 32:  # noqa: PLR2004
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend(n for n in (current.__cause__, current.__context__) if n is not None)
        # twisted.web._newclient.ResponseFailed / ResponseNeverReceived keep a list
        # of Failures in .reasons
        values = (getattr(r, "value", None) for r in getattr(current, "reasons", None) or ())
        stack.extend(v for v in values if isinstance(v, BaseException))
    return seen


def is_tls_error(exc: BaseException) -> bool:
    """Tell whether a download failure comes from the TLS layer.

    >>> is_tls_error(ssl.SSLError(1, "handshake failure"))
    True
    """
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return True
        module = type(cause).__module__
        if module.startswith("OpenSSL") or "tls" in module.lower():
            return True
    return False


def classify_exception(exc: BaseException, *, refused: str | None = None) -> Verdict:
    """Classify a download failure raised by Scrapy (after its retries).

    *refused* is the network guard's reason when it refused the host's addresses; the
    failure then surfaces as a DNS error but the link was never tried, so it is skipped.

    >>> classify_exception(CannotResolveHostError("no such host")).reason
    <Reason.DNS: 'dns'>
    >>> v = classify_exception(CannotResolveHostError("x"), refused="loopback 127.0.0.1")
    >>> v.kind, v.reason
    (<Kind.SKIPPED: 'skipped'>, <Reason.GUARD: 'guard'>)
    >>> classify_exception(DownloadTimeoutError("took too long")).reason
    <Reason.TIMEOUT: 'timeout'>
    """
    detail = f"{type(exc).__name__}: {exc}"[:300]
    if isinstance(exc, CannotResolveHostError):
        if refused is not None:
            return Verdict(Kind.SKIPPED, Reason.GUARD, detail=refused)
        return Verdict(Kind.DEAD, Reason.DNS, detail=detail)
    if isinstance(exc, (UnsupportedURLSchemeError, NotSupported)):
        return Verdict(Kind.SKIPPED, Reason.UNSUPPORTED_SCHEME, detail=detail)
    if isinstance(exc, DownloadTimeoutError):
        return Verdict(Kind.DEAD, Reason.TIMEOUT, detail=detail)
    if is_tls_error(exc):
        return Verdict(Kind.DEAD, Reason.TLS, detail=detail)
    if isinstance(
        exc,
        (
            DownloadConnectionRefusedError,
            DownloadFailedError,
            DownloadCancelledError,
            ResponseDataLossError,
            ConnectionError,
            OSError,
        ),
    ):
        return Verdict(Kind.DEAD, Reason.CONNECTION, detail=detail)
    # Twisted's ConnectionLost/ConnectionDone/ConnectError reach here only when a
    # handler let them through unwrapped; they are still failures to connect.
    if type(exc).__module__.startswith("twisted.internet.error"):
        return Verdict(Kind.DEAD, Reason.CONNECTION, detail=detail)
    # Anything else (a middleware's IgnoreRequest, a decompression limit...) says
    # nothing about the target: never call a link dead without evidence.
    return Verdict(Kind.BLOCKED, Reason.ERROR, detail=detail)


#: dead reasons a busy crawl, machine or network can cause: checked again before reported
TRANSIENT_REASONS = frozenset({Reason.TIMEOUT, Reason.CONNECTION})
_SERVER_ERROR = 500


def needs_confirmation(verdict: Verdict) -> bool:
    """Tell whether a dead verdict may be the crawl's own doing, to be checked again.

    Timeouts, refused or reset connections and 5xx answers happen to live sites under
    load (theirs, the network's or the crawler's); a TLS failure only when it is a
    handshake that timed out. A 404, a DNS answer that the name does not exist, a redirect
    loop, a soft 404 or a parked page are what the site says: final.

    >>> needs_confirmation(Verdict(Kind.DEAD, Reason.TIMEOUT))
    True
    >>> needs_confirmation(Verdict(Kind.DEAD, Reason.HTTP_STATUS, 503))
    True
    >>> needs_confirmation(Verdict(Kind.DEAD, Reason.HTTP_STATUS, 404))
    False
    >>> needs_confirmation(Verdict(Kind.DEAD, Reason.TLS, detail="SSL handshake timed out"))
    True
    >>> needs_confirmation(Verdict(Kind.DEAD, Reason.TLS, detail="certificate verify failed"))
    False
    """
    if verdict.kind is not Kind.DEAD:
        return False
    if verdict.reason in TRANSIENT_REASONS:
        return True
    if verdict.reason is Reason.HTTP_STATUS:
        return verdict.status is not None and verdict.status >= _SERVER_ERROR
    if verdict.reason is Reason.TLS:
        return "timed out" in verdict.detail.lower() or "timeout" in verdict.detail.lower()
    return False


#: the exceptions of a connection the host's own system refused (nothing listens there)
_REFUSALS = ("DownloadConnectionRefusedError:", "ConnectionRefusedError:")


def host_answered(verdict: Verdict) -> bool:
    """Tell whether a transient verdict carries the host's own answer.

    A 5xx is the server's answer and a refused connection its system's (a reset sent to a
    connection attempt: nothing listens on the port): neither is what a congested network
    or a starved crawler makes of a live page. A timeout, a reset or lost connection and a
    TLS handshake that timed out can be either.

    >>> host_answered(Verdict(Kind.DEAD, Reason.HTTP_STATUS, 502))
    True
    >>> host_answered(Verdict(Kind.DEAD, Reason.CONNECTION, detail="ConnectionRefusedError: x"))
    True
    >>> host_answered(Verdict(Kind.DEAD, Reason.CONNECTION, detail="ConnectionLost: x"))
    False
    >>> host_answered(Verdict(Kind.DEAD, Reason.TIMEOUT))
    False
    """
    if verdict.reason is Reason.HTTP_STATUS:
        return verdict.status is not None
    return verdict.reason is Reason.CONNECTION and verdict.detail.startswith(_REFUSALS)


def check_error(error: BaseException) -> Verdict:
    """The verdict of a check that failed in the checker itself (a bug, not the target).

    Blocked, not dead: the link was not verified, and a link builder must never write to
    a site owner because of a fault of ours. Not kept as fresh (re-checked next crawl).

    >>> v = check_error(KeyError("x"))
    >>> v.kind, v.reason, v.detail
    (<Kind.BLOCKED: 'blocked'>, <Reason.ERROR: 'error'>, "check failed: KeyError: 'x'")
    """
    return Verdict(
        Kind.BLOCKED, Reason.ERROR, detail=f"check failed: {type(error).__name__}: {error}"[:300]
    )


def redirect_loop(final_url: str, status: int | None, hops: int, *, looped: bool) -> Verdict:
    """The verdict for a redirect chain the checker gave up on.

    >>> redirect_loop("https://example.com/a", 301, 3, looped=True).detail
    'redirect loop after 3 redirects'
    """
    what = "redirect loop" if looped else "too many redirects"
    return Verdict(
        Kind.DEAD, Reason.REDIRECT_LOOP, status, final_url, f"{what} after {hops} redirects"
    )


def invalid_url(href: str) -> Verdict:
    """The verdict for an href that is not a URL at all.

    >>> invalid_url("http://[oops").kind
    <Kind.DEAD: 'dead'>
    """
    return Verdict(Kind.DEAD, Reason.INVALID_URL, detail=f"unparseable href {href[:200]!r}")


def unsupported_scheme(url: str) -> Verdict:
    """The verdict for a link a web crawler does not fetch (mailto:, tel:, javascript:...).

    >>> unsupported_scheme("mailto:me@example.com").reason
    <Reason.UNSUPPORTED_SCHEME: 'unsupported_scheme'>
    """
    scheme = url.split(":", 1)[0].lower()
    return Verdict(Kind.SKIPPED, Reason.UNSUPPORTED_SCHEME, detail=f"{scheme}: link")


def redirect_off_web(target: str, status: int) -> Verdict:
    """The verdict for a redirect to a URL that is not http(s) (``ftp:``, ``file:``...).

    Browsers fail such a redirect (Fetch, "HTTP-redirect fetch": a location whose scheme
    is not HTTP(S) is a network error), so the link is dead for whoever clicks it: reason
    ``http_status`` with the redirect's own status, as for an unusable ``Location``.

    >>> v = redirect_off_web("ftp://files.example.com/a.pdf", 301)
    >>> v.kind, v.reason, v.status, v.detail
    (<Kind.DEAD: 'dead'>, <Reason.HTTP_STATUS: 'http_status'>, 301, 'redirect to a ftp: URL')
    """
    scheme = target.split(":", 1)[0].lower()
    return Verdict(Kind.DEAD, Reason.HTTP_STATUS, status, target, f"redirect to a {scheme}: URL")
