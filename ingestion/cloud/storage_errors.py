"""The one translation of Azure Storage SDK errors (blob, queue, table) into ``ingestion.errors``.

The SDK's own message is left out (it may quote a URL with a SAS token); the status and error code are kept.

    TimeoutError, connection errors, 408, 5xx, ``transient`` statuses     TransientError
    ClientAuthenticationError without a status (no usable credential)   ConfigurationError
    401, 403                                                             ConfigurationError
    429, 503                                                             ThrottledError (with the server's retry-after)
    404                                                                  ``not_found`` when given (blob reads)
    ResourceModifiedError, DecodeError during a blob read               TransientError (the blob changed mid-read)
    anything else                                                        ConfigurationError, or BadInputError when
                                                                         ``not_found`` is one (a refused document)
"""

from __future__ import annotations

from azure.core.exceptions import ClientAuthenticationError, DecodeError, HttpResponseError, ResourceModifiedError

from ingestion.cloud.retry_after import parse_retry_after
from ingestion.errors import BadInputError, ConfigurationError, IngestionError, ThrottledError, TransientError


def translate_storage_error(
    error: Exception,
    *,
    subject: str,
    service: str = "storage",
    transient: frozenset[int] = frozenset(),
    not_found: IngestionError | None = None,
) -> IngestionError:
    """``error`` as an ingestion error about ``subject``; ``service`` (``storage``, ``queue``, ``table``) words it."""
    storage = "storage" if service == "storage" else f"{service} storage"
    if isinstance(error, TimeoutError):
        return TransientError(f"{subject}: {service} request timed out")
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        return ConfigurationError(f"{subject}: no usable storage credential ({type(error).__name__})")
    if isinstance(error, ResourceModifiedError | DecodeError) and not_found is not None:  # a blob read
        return TransientError(f"{subject}: blob changed or the download broke off; try again")
    if not isinstance(error, HttpResponseError) or error.status_code is None:
        return TransientError(f"{subject}: {service} request failed ({type(error).__name__})")
    status, code = error.status_code, getattr(error.error_code, "value", error.error_code) or "no error code"
    if status == 404 and not_found is not None:
        return not_found
    if status in (401, 403):
        return ConfigurationError(f"{subject}: storage refused the credential ({status} {code})")
    if status in (429, 503):
        wait = parse_retry_after(getattr(error.response, "headers", None))
        return ThrottledError(f"{subject}: {storage} is throttling ({status} {code})", retry_after=wait)
    if status == 408 or status in transient or status >= 500:
        return TransientError(f"{subject}: {service} request failed ({status} {code})")
    refused = BadInputError if isinstance(not_found, BadInputError) else ConfigurationError
    return refused(f"{subject}: {storage} refused the request ({status} {code})")
