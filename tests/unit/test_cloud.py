"""The shared Azure helpers: one retry-after parser and one storage-error translator for blob, queue and table."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceModifiedError

from ingestion.cloud.retry_after import parse_retry_after
from ingestion.cloud.storage_errors import translate_storage_error
from ingestion.errors import (
    BadInputError,
    ConfigurationError,
    DocumentRejectedError,
    ThrottledError,
    TransientError,
)


class _Response:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code, self.headers, self.reason = status, headers or {}, "reason"

    def text(self) -> str:
        return ""


def http_error(status: int, headers: dict[str, str] | None = None) -> HttpResponseError:
    url = "https://acct.blob.core.windows.net/c?sig=SECRET"
    error = HttpResponseError(message=url, response=_Response(status, headers))
    error.error_code = "SomeCode"
    return error


def test_retry_after_reads_every_header_form() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "3"}) == 0.25
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after({"retry-after": "later"}) is None


@pytest.mark.parametrize(
    ("service", "transient", "status", "kind", "words"),
    [
        ("queue", frozenset({409}), 409, TransientError, "queue request failed (409 SomeCode)"),
        ("queue", frozenset({409}), 412, ConfigurationError, "queue storage refused the request (412 SomeCode)"),
        ("table", frozenset({409, 412}), 412, TransientError, "table request failed (412 SomeCode)"),
        ("table", frozenset(), 503, ThrottledError, "table storage is throttling (503 SomeCode)"),
        ("storage", frozenset({412, 416}), 403, ConfigurationError, "storage refused the credential (403 SomeCode)"),
        ("storage", frozenset(), 500, TransientError, "storage request failed (500 SomeCode)"),
    ],
)
def test_storage_errors_by_status(
    service: str, transient: frozenset[int], status: int, kind: type[Exception], words: str
) -> None:
    error = translate_storage_error(http_error(status), subject="run r1", service=service, transient=transient)
    assert type(error) is kind and str(error) == f"run r1: {words}"
    assert "SECRET" not in str(error)


def test_a_blob_read_maps_404_and_refusals_to_its_not_found_kind() -> None:
    gone = DocumentRejectedError("/c/a.pdf: the blob is gone")
    assert translate_storage_error(http_error(404), subject="/c/a.pdf", not_found=gone) is gone
    refused = translate_storage_error(http_error(400), subject="/c/a.pdf", not_found=gone)
    assert isinstance(refused, BadInputError) and "storage refused the request (400" in str(refused)
    throttled = translate_storage_error(http_error(429, {"Retry-After": "7"}), subject="/c/a.pdf", not_found=gone)
    assert isinstance(throttled, ThrottledError) and throttled.retry_after == 7.0
    modified = ResourceModifiedError(message="changed", response=_Response(412))
    assert isinstance(translate_storage_error(modified, subject="/c/a.pdf", not_found=gone), TransientError)


def test_no_credential_and_timeouts() -> None:
    missing = translate_storage_error(ClientAuthenticationError("no identity"), subject="queue q", service="queue")
    assert isinstance(missing, ConfigurationError) and "no usable storage credential" in str(missing)
    late = translate_storage_error(TimeoutError(), subject="queue q", service="queue")
    assert isinstance(late, TransientError) and str(late) == "queue q: queue request timed out"
