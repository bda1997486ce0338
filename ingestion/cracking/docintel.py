"""Azure AI Document Intelligence as an AsyncCracker: ``prebuilt-layout`` with markdown output.

What goes to the service, decided from the content first and the extension second: PDF (``%PDF`` header), images
(PNG, JPEG, TIFF, HEIF by signature; BMP by signature plus a ``.bmp`` name), DOCX/PPTX/XLSX (a zip named so) and
HTML (``.html``/``.htm``). Everything else (.txt, .md, .csv, .json, a ``.docx`` that is not a zip, ...) goes to the
local ``fallback`` cracker, which never sends anything anywhere.

Checked before any request, with one-line errors naming the document: size over ``max_bytes`` (S0 500 MB, F0 4 MB)
and, for PDFs, more than ``max_pages`` pages (S0 2,000; F0 2) -> DocumentTooLargeError; a PDF that needs a password
(the service refuses them) -> EncryptedDocumentError. A PDF pypdf cannot read is sent anyway: the service decides.

Retries happen per HTTP request inside the SDK pipeline (``BudgetRetryPolicy``), so a failed status poll is retried
without uploading the document again: 408/429/5xx and connection errors, POST included, with jittered exponential
backoff or the server's Retry-After, for at most ``retry_budget_seconds`` per request. The whole analysis (upload and
polling) is bounded by ``operation_timeout_seconds``. What remains is mapped once, here::

    429                                  -> ThrottledError (retry_after from the last answer)
    408, 5xx, connection, timeout        -> TransientError
    401, 403, no Entra ID token, 404     -> ConfigurationError
    400 InvalidContent (or failed op)    -> CorruptDocumentError with the service's message
    400 InvalidContentLength             -> DocumentTooLargeError
    415                                  -> UnsupportedFormatError; any other 4xx -> DocumentRejectedError

Auth: an API key (``AzureKeyCredential``) when one is given, else an ``AsyncTokenCredential`` (by default
``azure.identity.aio.DefaultAzureCredential``, created on first use). azure-core refuses to send a token over plain
http: for a loopback endpoint (a local fake) the requests say ``enforce_https=False``; any other http endpoint with
a token is a ConfigurationError.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from azure.ai.documentintelligence.aio import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeResult, DocumentContentFormat
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PdfReadError

from ingestion.cloud.credentials import default_credential
from ingestion.cloud.retry_after import parse_retry_after
from ingestion.cracking import ooxml, pdf
from ingestion.cracking.base import Cracker
from ingestion.cracking.docintel_markdown import markdown_to_document
from ingestion.cracking.structure import TableLimits, first_line
from ingestion.endpoints import require_tls
from ingestion.errors import (
    ConfigurationError,
    CorruptDocumentError,
    DocumentRejectedError,
    DocumentTooLargeError,
    EncryptedDocumentError,
    IngestionError,
    NoTextError,
    ThrottledError,
    TransientError,
    UnsupportedFormatError,
)
from ingestion.models import CrackedDocument, SourceItem
from ingestion.settings import Secret, Settings

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

log = logging.getLogger(__name__)

MODEL_ID = "prebuilt-layout"
MB = 1024 * 1024
S0_MAX_BYTES = 500 * MB
S0_MAX_PAGES = 2000
F0_MAX_BYTES = 4 * MB
F0_MAX_PAGES = 2

PDF = "application/pdf"
_OFFICE = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_HTML_EXTENSIONS = frozenset({"html", "htm"})
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TRANSIENT_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "Timeout", "TooManyRequests"})
_CORRUPT_CODES = frozenset({"InvalidContent", "InvalidImage", "InvalidPdf", "UnsupportedContent"})
_TOO_LARGE_CODES = frozenset({"InvalidContentLength"})


def service_content_type(extension: str, data: bytes) -> str | None:
    """The MIME type Document Intelligence would analyse this document as, or None to keep it local."""
    if not data:
        return None  # the local cracker says "empty file" without a round trip
    if pdf.has_header(data, anywhere_in_window=extension == "pdf"):
        return PDF
    for signature, mime in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heif"
    if extension == "bmp" and data.startswith(b"BM"):  # two bytes: too weak to trust without the name
        return "image/bmp"
    if extension in _OFFICE and ooxml.is_zip(data):
        return _OFFICE[extension]
    if extension in _HTML_EXTENSIONS:
        return "text/html"
    return None


class BudgetRetryPolicy(AsyncRetryPolicy):
    """azure-core's retry policy with three changes for Document Intelligence.

    POST is retried like GET (azure-core retries POST only on 500/503/504): an analyze request that met a 429, a
    connection error or a 502 is sent again; at worst the service analyses it twice. Waits grow exponentially with
    jitter from the first retry (azure-core retries once without waiting). And a wait that would end more than
    ``budget`` seconds after the request's first try is not taken: the last answer is returned (or the last error
    raised), so the caller sees the 429 with its Retry-After.
    """

    def __init__(
        self,
        *,
        budget: float,
        attempts: int = 10,
        base: float = 0.5,
        cap: float = 30.0,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            retry_total=attempts,
            retry_connect=attempts,
            retry_read=attempts,
            retry_status=attempts,
            retry_backoff_factor=base,
            retry_backoff_max=cap,
        )
        self.budget = budget
        self._rng = rng
        self._clock = clock

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["methods"] = frozenset(settings["methods"]) | {"POST"}
        settings["deadline"] = self._clock() + self.budget
        return settings

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        return self._ceiling(settings) * (0.5 + 0.5 * self._rng())

    def increment(self, settings: dict[str, Any], response: Any = None, error: Exception | None = None) -> bool:
        if not super().increment(settings, response=response, error=error):
            return False
        wait = self.get_retry_after(response) if isinstance(response, PipelineResponse) and error is None else None
        if wait is None:
            wait = self._ceiling(settings)
        return self._clock() + wait <= settings["deadline"]

    @staticmethod
    def _ceiling(settings: Mapping[str, Any]) -> float:
        tries = max(len(settings["history"]), 1)
        return float(min(settings["max_backoff"], settings["backoff"] * 2 ** min(tries - 1, 30)))


class DocumentIntelligenceCracker:
    """Cracks documents with Document Intelligence ``prebuilt-layout``; see the module docstring. Not thread-safe:
    use it from one event loop, and ``await close()`` at the end."""

    def __init__(
        self,
        endpoint: str,
        *,
        fallback: Cracker,
        api_key: str | Secret | None = None,
        credential: AsyncTokenCredential | None = None,
        max_bytes: int = S0_MAX_BYTES,
        max_pages: int = S0_MAX_PAGES,
        polling_interval: float = 1.0,
        retry_budget_seconds: float = 60.0,
        operation_timeout_seconds: float = 1800.0,
        table_limits: TableLimits | None = None,
    ) -> None:
        if min(max_bytes, max_pages) < 1 or min(polling_interval, retry_budget_seconds) < 0:
            raise ValueError("need max_bytes >= 1, max_pages >= 1, polling_interval >= 0, retry_budget_seconds >= 0")
        if operation_timeout_seconds <= 0:
            raise ValueError("operation_timeout_seconds must be positive")
        require_tls("DOCUMENTINTELLIGENCE_ENDPOINT", endpoint or "")  # api-key or token: TLS, or loopback only
        url = urlparse(endpoint or "")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigurationError(f"DOCUMENTINTELLIGENCE_ENDPOINT={endpoint!r} is not an http(s) URL")
        self.endpoint = endpoint.rstrip("/")
        self.max_bytes = max_bytes
        self.max_pages = max_pages
        self.polling_interval = polling_interval
        self.operation_timeout = operation_timeout_seconds
        self._fallback = fallback
        self._api_key = api_key.get() if isinstance(api_key, Secret) else api_key
        self._credential = credential
        self._owns_credential = False
        self._call_options: dict[str, Any] = {}
        if not self._api_key and url.scheme == "http":
            if url.hostname not in _LOOPBACK:
                raise ConfigurationError(
                    f"DOCUMENTINTELLIGENCE_ENDPOINT={endpoint!r}: an Entra ID token is never sent over plain http; "
                    "use https or DOCUMENTINTELLIGENCE_API_KEY"
                )
            self._call_options["enforce_https"] = False
        self._retry = BudgetRetryPolicy(budget=retry_budget_seconds)
        self._table_limits = table_limits or TableLimits()
        self._client: DocumentIntelligenceClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, fallback: Cracker) -> DocumentIntelligenceCracker:
        if not settings.documentintelligence_endpoint:
            raise ConfigurationError("DOCUMENTINTELLIGENCE_ENDPOINT is required for Document Intelligence cracking")
        return cls(
            settings.documentintelligence_endpoint,
            fallback=fallback,
            api_key=settings.documentintelligence_api_key,
            polling_interval=settings.documentintelligence_polling_seconds,
            operation_timeout_seconds=settings.documentintelligence_timeout_seconds,
        )

    async def crack(self, item: SourceItem, data: bytes) -> CrackedDocument:
        """See ``Cracker.crack``; also raises TransientError / ThrottledError, and ConfigurationError when the
        service refuses the credentials."""
        content_type = service_content_type(item.extension, data)
        if content_type is None:
            if asyncio.iscoroutinefunction(self._fallback.crack):  # local parsers in killable worker processes
                return await self._fallback.crack(item, data)  # type: ignore[no-any-return,misc]
            return await asyncio.to_thread(self._fallback.crack, item, data)
        if len(data) > self.max_bytes:
            raise DocumentTooLargeError(
                f"{item.path}: {len(data):,} bytes is over the Document Intelligence limit of {self.max_bytes:,} bytes"
            )
        if content_type == PDF:
            await asyncio.to_thread(self._check_pdf, item, data)
        result = await self._analyze(item, data)
        return await asyncio.to_thread(self._to_document, item, result, content_type)

    async def close(self) -> None:
        closer = getattr(self._fallback, "close", None)
        if closer is not None:
            await closer()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._owns_credential and self._credential is not None:
            await self._credential.close()
            self._credential = None
            self._owns_credential = False

    # -- before sending -----------------------------------------------------------------------------------------------
    def _check_pdf(self, item: SourceItem, data: bytes) -> None:
        """Refuse a PDF that needs a password or has too many pages; one pypdf cannot read goes to the service."""
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and _needs_password(reader):
                raise EncryptedDocumentError(
                    f"{item.path}: password-protected PDF (Document Intelligence refuses these)"
                )
            pages = len(reader.pages)
        except IngestionError:
            raise
        except Exception as error:  # pypdf's own errors: let the service be the judge of a damaged file
            log.debug("%s: pypdf could not count pages (%s); sending it anyway", item.path, type(error).__name__)
            return
        if pages > self.max_pages:
            raise DocumentTooLargeError(
                f"{item.path}: {pages:,} pages is over the Document Intelligence limit of {self.max_pages:,} pages"
            )

    # -- the service --------------------------------------------------------------------------------------------------
    async def _analyze(self, item: SourceItem, data: bytes) -> AnalyzeResult:
        client = self._get_client()
        try:
            async with asyncio.timeout(self.operation_timeout):
                poller = await client.begin_analyze_document(
                    MODEL_ID,
                    data,
                    output_content_format=DocumentContentFormat.MARKDOWN,
                    polling_interval=self.polling_interval,
                    **self._call_options,
                )
                return await poller.result()
        except TimeoutError:
            raise TransientError(
                f"{item.path}: Document Intelligence at {self.endpoint} did not finish within "
                f"{self.operation_timeout:g} s"
            ) from None
        except AzureError as error:
            raise self._translate(item, error) from error

    def _get_client(self) -> DocumentIntelligenceClient:
        if self._client is None:
            credential: AzureKeyCredential | AsyncTokenCredential
            if self._api_key:
                credential = AzureKeyCredential(self._api_key)
            else:
                if self._credential is None:
                    self._credential = default_credential()
                    self._owns_credential = True
                credential = self._credential
            self._client = DocumentIntelligenceClient(
                self.endpoint, credential, retry_policy=self._retry, polling_interval=self.polling_interval
            )
        return self._client

    def _translate(self, item: SourceItem, error: AzureError) -> IngestionError:
        """Map an SDK error once, here, to the pipeline's error tree; messages carry no secret."""
        where = f"{item.path}: Document Intelligence at {self.endpoint}"
        if isinstance(error, HttpResponseError) and error.status_code is not None:
            code, message = _service_error(error)
            return self._translate_status(where, error, code, self._scrub(message))
        if isinstance(error, ClientAuthenticationError):
            return ConfigurationError(
                f"{where}: no Entra ID token ({type(error).__name__}); "
                "set DOCUMENTINTELLIGENCE_API_KEY or give this identity the Cognitive Services User role"
            )
        if isinstance(error, ServiceRequestError | ServiceResponseError):
            return TransientError(f"{where}: connection failed after retries ({type(error).__name__})")
        return TransientError(f"{where}: {type(error).__name__}: {self._scrub(first_line(str(error)))}")

    def _translate_status(self, where: str, error: HttpResponseError, code: str, message: str) -> IngestionError:
        status = int(error.status_code or 0)
        if status in (401, 403):
            return ConfigurationError(f"{where} refused the credentials (HTTP {status}): {message}")
        if status == 404:
            return ConfigurationError(f"{where}: model {MODEL_ID} not found (HTTP 404; check the endpoint): {message}")
        if status == 429 or code == "TooManyRequests":
            return ThrottledError(
                f"{where} is throttling (HTTP 429) after retrying for up to {self._retry.budget:g} s: {message}",
                retry_after=self._retry_after(error),
            )
        if status == 408 or status >= 500 or code in _TRANSIENT_CODES:
            return TransientError(f"{where} failed (HTTP {status} {code}) after retries: {message}")
        what = "rejected it" if status >= 400 else "failed to analyse it"
        detail = f"{where} {what} ({code or f'HTTP {status}'}): {message}"
        if code in _TOO_LARGE_CODES:
            return DocumentTooLargeError(detail)
        if status == 415:
            return UnsupportedFormatError(detail)
        if code in _CORRUPT_CODES:
            return CorruptDocumentError(detail)
        return DocumentRejectedError(detail)

    def _retry_after(self, error: HttpResponseError) -> float | None:
        return parse_retry_after(error.response.headers if error.response is not None else None)

    def _scrub(self, text: str) -> str:
        key = self._api_key
        return text.replace(key, "***") if key and len(key) >= 8 else text

    # -- the answer ---------------------------------------------------------------------------------------------------
    def _to_document(self, item: SourceItem, result: AnalyzeResult, content_type: str) -> CrackedDocument:
        numbers = [page.page_number for page in (result.pages or [])]
        document = markdown_to_document(
            result.content or "",
            page_numbers=numbers,
            fallback_title=item.name,
            content_type=content_type,
            limits=self._table_limits,
        )
        if not document.text.strip():
            raise NoTextError(f"{item.path}: Document Intelligence found no text in it")
        return document


def _needs_password(reader: PdfReader) -> bool:
    """True unless the empty user password opens it (many PDFs only restrict permissions)."""
    try:
        return reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except (DependencyError, NotImplementedError, PdfReadError):
        return True


def _service_error(error: HttpResponseError) -> tuple[str, str]:
    """The innermost error code and message the service sent (Document Intelligence nests ``innererror``)."""
    body = error.error
    code = str(getattr(body, "code", "") or "")
    message = str(getattr(body, "message", "") or "")
    inner: object = getattr(body, "innererror", None)
    while isinstance(inner, Mapping):
        code = str(inner.get("code") or code)
        message = str(inner.get("message") or message)
        inner = inner.get("innererror")
    if not message:
        message = first_line(str(error.reason or error.message or type(error).__name__))
    return code, message
