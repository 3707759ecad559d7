"""Verdicts as a table: outcome → kind, reason."""

from __future__ import annotations

import ssl

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    UnsupportedURLSchemeError,
)
from twisted.internet.error import ConnectionLost
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseNeverReceived

from brokenlinks.checker.verdicts import (
    Kind,
    Reason,
    classify_exception,
    classify_status,
    head_is_conclusive,
    invalid_url,
    redirect_loop,
    unsupported_scheme,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, Kind.ALIVE),
        (201, Kind.ALIVE),
        (204, Kind.ALIVE),
        (206, Kind.ALIVE),
        (304, Kind.ALIVE),
        # not a redirect (300, or no Location): browsers show the body (issue 11)
        (300, Kind.ALIVE),
        (301, Kind.ALIVE),
        (308, Kind.ALIVE),
        (400, Kind.DEAD),
        (401, Kind.BLOCKED),
        (402, Kind.DEAD),
        (403, Kind.BLOCKED),
        (404, Kind.DEAD),
        (405, Kind.DEAD),
        (407, Kind.BLOCKED),
        (408, Kind.DEAD),
        (410, Kind.DEAD),
        (418, Kind.DEAD),
        (429, Kind.BLOCKED),
        (451, Kind.DEAD),
        (500, Kind.DEAD),
        (502, Kind.DEAD),
        (503, Kind.DEAD),
        (504, Kind.DEAD),
        (520, Kind.DEAD),
        (999, Kind.BLOCKED),
        (100, Kind.DEAD),
    ],
)
def test_status_table(status, kind):
    verdict = classify_status(status, "https://example.com/x")
    assert verdict.kind is kind
    assert verdict.status == status
    assert verdict.final_url == "https://example.com/x"
    if kind is Kind.ALIVE:
        assert verdict.reason is Reason.OK
    elif status == 429:
        # a 429 that outlived the retries: rate limited, not refused
        assert verdict.reason is Reason.RATE_LIMITED
    else:
        assert verdict.reason is Reason.HTTP_STATUS


@pytest.mark.parametrize(
    ("status", "refused", "kind", "reason"),
    [
        (503, False, Kind.DEAD, Reason.HTTP_STATUS),
        (503, True, Kind.BLOCKED, Reason.RATE_LIMITED),
        (429, False, Kind.BLOCKED, Reason.RATE_LIMITED),
        (429, True, Kind.BLOCKED, Reason.RATE_LIMITED),
        (500, True, Kind.DEAD, Reason.HTTP_STATUS),  # only 429 and 503 carry Retry-After here
        (200, True, Kind.ALIVE, Reason.OK),
    ],
)
def test_retry_after_refused(status, refused, kind, reason):
    verdict = classify_status(status, retry_after_refused=refused)
    assert (verdict.kind, verdict.reason) == (kind, reason)


@pytest.mark.parametrize(
    ("status", "conclusive"),
    [
        (200, True),
        (204, True),
        (299, True),
        (301, False),
        (404, False),
        (405, False),
        (403, False),
        (501, False),
        (500, False),
        (999, False),
    ],
)
def test_head_is_conclusive(status, conclusive):
    assert head_is_conclusive(status) is conclusive


def _never_received(exc):
    return ResponseNeverReceived([Failure(exc)])


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (CannotResolveHostError("no results"), Kind.DEAD, Reason.DNS),
        (DownloadConnectionRefusedError("refused"), Kind.DEAD, Reason.CONNECTION),
        (DownloadTimeoutError("took longer"), Kind.DEAD, Reason.TIMEOUT),
        (DownloadFailedError("lost"), Kind.DEAD, Reason.CONNECTION),
        (DownloadCancelledError("cancelled"), Kind.DEAD, Reason.CONNECTION),
        (ResponseDataLossError("data loss"), Kind.DEAD, Reason.CONNECTION),
        (ConnectionLost(), Kind.DEAD, Reason.CONNECTION),
        (ConnectionResetError(104, "reset"), Kind.DEAD, Reason.CONNECTION),
        (UnsupportedURLSchemeError("ftp"), Kind.SKIPPED, Reason.UNSUPPORTED_SCHEME),
        (ssl.SSLError(1, "wrong version number"), Kind.DEAD, Reason.TLS),
        (IgnoreRequest("decompression limit"), Kind.BLOCKED, Reason.ERROR),
        (ValueError("odd"), Kind.BLOCKED, Reason.ERROR),
    ],
)
def test_exception_table(exc, kind, reason):
    verdict = classify_exception(exc)
    assert (verdict.kind, verdict.reason, verdict.status, verdict.final_url) == (
        kind,
        reason,
        None,
        None,
    )
    assert type(exc).__name__ in verdict.detail


def test_tls_error_wrapped_by_twisted_and_scrapy():
    from OpenSSL import SSL

    inner = _never_received(SSL.Error([("SSL routines", "", "wrong version number")]))
    outer = DownloadFailedError(str(inner))
    outer.__cause__ = inner
    assert classify_exception(outer).reason is Reason.TLS


def test_guard_refusal_is_skipped_not_dns():
    verdict = classify_exception(CannotResolveHostError("x"), refused="loopback address ::1")
    assert (verdict.kind, verdict.reason, verdict.detail) == (
        Kind.SKIPPED,
        Reason.GUARD,
        "loopback address ::1",
    )


def test_local_verdicts():
    assert redirect_loop("http://a.test/", 302, 2, looped=True).reason is Reason.REDIRECT_LOOP
    assert "too many" in redirect_loop("http://a.test/", 302, 21, looped=False).detail
    assert invalid_url("http://[x").kind is Kind.DEAD
    assert unsupported_scheme("TEL:+1").detail == "tel: link"
