"""Azure AI Search errors translated, once, into ``ingestion.errors``.

::

    azure-core / azure-identity                     ingestion.errors
    ClientAuthenticationError, HTTP 401 / 403       ConfigurationError   credentials refused or a role missing
    HTTP 404                                        ConfigurationError   the index (or alias) does not exist
    HTTP 429 on a query                             ThrottledError       (with the service's Retry-After, if any)
    HTTP 429 on indexing                            ConfigurationError   the index's document quota is exhausted
    HTTP 400 on indexing                            DocumentRejectedError  the service refused this document
    HTTP 400 on a query or a definition             ConfigurationError   the index does not match schema v1
    HTTP 408, 409, 412, 5xx                         TransientError
    ServiceRequestError / ServiceResponseError      TransientError       connection failed, timed out
    any other AzureError                            TransientError

Messages are one line: what was being done, the status and the service's own message (capped), never a header, a
URL query or a credential.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from ingestion.cloud.retry_after import parse_retry_after
from ingestion.errors import (
    ConfigurationError,
    DocumentRejectedError,
    IngestionError,
    ThrottledError,
    TransientError,
)

MAX_MESSAGE = 300
TRANSIENT_STATUSES = frozenset({408, 409, 412, 500, 502, 503, 504})


def service_message(body: Any) -> str:
    """The ``error.message`` of a service error body (dict, bytes or text), one line and capped; '' if none."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    message = ""
    if isinstance(body, dict):
        error = body.get("error")
        message = str(error.get("message") or "") if isinstance(error, dict) else ""
    return clip(message)


def clip(message: str) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` (or ``retry-after-ms``) header (``cloud.retry_after``)."""
    return parse_retry_after(headers)


def for_status(status: int, message: str, *, what: str, indexing: bool, headers: Any = None) -> IngestionError:
    """The error for an HTTP ``status`` answered to ``what`` (e.g. ``write document /a.pdf``)."""
    said = f": {message}" if message else ""
    if status in (401, 403):
        return ConfigurationError(
            f"{what}: Azure AI Search refused the credentials ({status}); check AZURE_SEARCH_API_KEY or the "
            f"identity's roles{said}"
        )
    if status == 404:
        return ConfigurationError(f"{what}: the Azure AI Search index was not found (404); run ensure first{said}")
    if status == 429 and indexing:
        return ConfigurationError(f"{what}: the index's document quota is exhausted (429){said}")
    if status == 429:
        return ThrottledError(f"{what}: Azure AI Search is throttling (429){said}", retry_after=retry_after(headers))
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(f"{what}: Azure AI Search answered {status}{said}")
    if indexing:
        return DocumentRejectedError(f"{what}: Azure AI Search rejected it ({status}){said}")
    return ConfigurationError(f"{what}: Azure AI Search refused the request ({status}){said}")


def translate(error: BaseException, *, what: str, indexing: bool = False) -> IngestionError:
    """Map an azure-core / azure-identity exception raised while doing ``what``."""
    if isinstance(error, IngestionError):
        return error
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        response = error.response
        message = _message_of(error)
        headers = response.headers if response is not None else None
        return for_status(int(error.status_code), message, what=what, indexing=indexing, headers=headers)
    if isinstance(error, ClientAuthenticationError):
        return ConfigurationError(f"{what}: could not authenticate to Azure AI Search: {type(error).__name__}")
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return TransientError(f"{what}: Azure AI Search did not answer ({type(error).__name__}): {clip(str(error))}")
    if isinstance(error, AzureError):
        return TransientError(f"{what}: Azure AI Search call failed ({type(error).__name__})")
    raise TypeError(f"not an Azure error: {type(error).__name__}")


def _message_of(error: HttpResponseError) -> str:
    model = getattr(error, "error", None)
    message = getattr(model, "message", None) if model is not None else None
    if message:
        return clip(str(message))
    response = error.response
    if response is None:
        return ""
    try:
        return service_message(response.text())
    except Exception:  # a body that cannot be read or decoded says nothing useful
        return ""
