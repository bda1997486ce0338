"""Azure OpenAI embeddings through the ``openai`` SDK, run at the deployment's quota.

Inputs are counted with the injected cl100k tokenizer and split into requests of at most 2,048 inputs and a token
budget (``max_batch_tokens``, further capped at the rate limiter's burst so requests arrive evenly); an input over
8,191 tokens fails the call with BadInputError before anything is sent — never silently truncated. Requests run
concurrently under ``ratelimit.RateLimiter`` (token bucket from the optional TPM hint, AIMD concurrency, the server's
retry-after); the module docstring there explains why several instances converge without a coordinator.

The SDK's own retries are off (``max_retries=0``) so this module alone decides: 408/409/429/5xx, connection errors
and timeouts are retried with jittered exponential backoff (429 waits ``retry-after-ms``/``retry-after`` instead)
until ``retry_budget_seconds`` have passed since the batch's first failure, then ThrottledError / TransientError.
400 and other 4xx -> DocumentRejectedError with the service's message; 401/403/404 -> ConfigurationError.
Attempts that get no answer at all feed ``circuit`` (``ingestion/circuit.py``): once the deployment has not answered
for ``service_down_seconds`` every attempt fails at once with ServiceDownError, which stops the run.

Vectors are requested as base64 (little-endian float32, decoded here) and placed by each item's ``index``; a response
with the wrong count, a missing or repeated index or a wrong size is retried once, then fails: a vector is never
shifted onto another input.

Auth: an API key when one is configured, else Entra ID through ``azure.identity.aio`` (``DefaultAzureCredential`` and
``get_bearer_token_provider`` for the Cognitive Services scope), created on first use.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import openai

from ingestion import telemetry
from ingestion.circuit import DEFAULT_DOWN_AFTER_SECONDS, Circuit
from ingestion.cloud.credentials import default_credential
from ingestion.cloud.retry_after import parse_retry_after
from ingestion.embedding.ratelimit import Backoff, RateLimiter, initial_window
from ingestion.endpoints import require_tls
from ingestion.errors import (
    BadInputError,
    ConfigurationError,
    DocumentRejectedError,
    ThrottledError,
    TransientError,
)
from ingestion.settings import Secret, Settings
from ingestion.tokenizer import Tokenizer

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

log = logging.getLogger(__name__)

MAX_INPUTS_PER_REQUEST = 2048
MAX_INPUT_TOKENS = 8191
NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
_RETRYABLE_STATUS = frozenset({408, 409, 429})


def resolve_dimensions(model: str, requested: int | None) -> tuple[int, bool]:
    """The vector size for ``model`` and whether to send ``dimensions`` (only text-embedding-3-* accept it)."""
    native = NATIVE_DIMENSIONS.get(model)
    accepts = model.startswith("text-embedding-3-")
    if requested is None:
        if native is None:
            raise ConfigurationError(f"AZURE_OPENAI_EMBEDDING_DIMENSIONS is required for model {model!r}")
        return native, accepts
    if accepts:
        if native is not None and requested > native:
            raise ConfigurationError(
                f"AZURE_OPENAI_EMBEDDING_DIMENSIONS={requested} exceeds the {native} dimensions of {model}"
            )
        return requested, True
    if native is not None and requested != native:
        raise ConfigurationError(
            f"AZURE_OPENAI_EMBEDDING_DIMENSIONS={requested}: {model} does not accept dimensions (always {native})"
        )
    return requested, False


def plan_batches(token_counts: Sequence[int], *, max_inputs: int, max_tokens: int) -> list[range]:
    """Split consecutive inputs into ranges of at most ``max_inputs`` inputs and ``max_tokens`` tokens each."""
    batches: list[range] = []
    start, tokens = 0, 0
    for i, count in enumerate(token_counts):
        if i > start and (i - start >= max_inputs or tokens + count > max_tokens):
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += count
    if start < len(token_counts):
        batches.append(range(start, len(token_counts)))
    return batches


@dataclass
class _Retry(Exception):
    """A failed attempt worth repeating (internal: never leaves this module)."""

    reason: str
    retry_after: float | None = None
    throttled: bool = False
    malformed: bool = False
    unanswered: bool = False
    """No answer at all (connection failed, timed out): counts against the circuit."""


class AzureOpenAIEmbedder:
    def __init__(
        self,
        *,
        endpoint: str,
        deployment: str,
        tokenizer: Tokenizer,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        api_version: str = "2024-10-21",
        api_key: Secret | str | None = None,
        credential: AsyncTokenCredential | None = None,
        tokens_per_minute: int | None = None,
        max_batch_tokens: int = 16_384,
        max_batch_inputs: int = MAX_INPUTS_PER_REQUEST,
        retry_budget_seconds: float = 120.0,
        request_timeout: float = 60.0,
        limiter: RateLimiter | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        service_down_seconds: float = DEFAULT_DOWN_AFTER_SECONDS,
    ) -> None:
        if not endpoint or not deployment:
            raise ConfigurationError("AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_EMBEDDING_DEPLOYMENT are required")
        require_tls("AZURE_OPENAI_ENDPOINT", endpoint)  # both the api-key and a bearer token ride on every request
        if not 1 <= max_batch_inputs <= MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"max_batch_inputs must be between 1 and {MAX_INPUTS_PER_REQUEST}")
        if max_batch_tokens < MAX_INPUT_TOKENS:
            raise ValueError(f"max_batch_tokens must be at least {MAX_INPUT_TOKENS}")
        if retry_budget_seconds < 0:
            raise ValueError("retry_budget_seconds must be >= 0")
        self.model = model
        self.dimensions, self._send_dimensions = resolve_dimensions(model, dimensions)
        self.model_id = f"azure_openai/{model}"
        self.max_input_tokens = MAX_INPUT_TOKENS
        self.endpoint = endpoint
        self.deployment = deployment
        self._api_version = api_version
        self._api_key = api_key.get() if isinstance(api_key, Secret) else api_key
        self._credential = credential
        self._owns_credential = False
        self._tokenizer = tokenizer
        if limiter is None:
            per_second = (tokens_per_minute or 0) // 60  # the bucket's burst, which also caps a request
            request = max(MAX_INPUT_TOKENS, min(max_batch_tokens, per_second or max_batch_tokens))
            initial = initial_window(tokens_per_minute, request)
            limiter = RateLimiter(tokens_per_minute=tokens_per_minute, initial_concurrency=initial)
        self._limiter = limiter
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._retry_budget = retry_budget_seconds
        self._timeout = request_timeout
        burst = self._limiter.max_request_tokens
        self._max_batch_tokens = (
            max_batch_tokens if burst is None else max(MAX_INPUT_TOKENS, min(max_batch_tokens, burst))
        )
        self._max_batch_inputs = max_batch_inputs
        self._client: openai.AsyncAzureOpenAI | None = None
        self.circuit = Circuit(f"Azure OpenAI at {endpoint}", down_after=service_down_seconds, clock=clock)

    @classmethod
    def from_settings(cls, settings: Settings, tokenizer: Tokenizer) -> AzureOpenAIEmbedder:
        if not settings.azure_openai_endpoint or not settings.azure_openai_embedding_deployment:
            raise ConfigurationError("AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_EMBEDDING_DEPLOYMENT are required")
        return cls(
            endpoint=settings.azure_openai_endpoint,
            deployment=settings.azure_openai_embedding_deployment,
            tokenizer=tokenizer,
            model=settings.azure_openai_embedding_model,
            dimensions=settings.azure_openai_embedding_dimensions,
            api_version=settings.azure_openai_api_version,
            api_key=settings.azure_openai_api_key,
            tokens_per_minute=settings.azure_openai_tpm,
            max_batch_tokens=settings.azure_openai_max_batch_tokens,
            service_down_seconds=settings.service_down_seconds,
        )

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        counts = await asyncio.to_thread(self._count_tokens, list(texts))
        self._check_inputs(texts, counts)
        batches = plan_batches(counts, max_inputs=self._max_batch_inputs, max_tokens=self._max_batch_tokens)
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        tasks = [
            asyncio.ensure_future(self._embed_batch([texts[i] for i in batch], sum(counts[i] for i in batch)))
            for batch in batches
        ]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:  # one batch failed for good (or we were cancelled): stop the others, raise as is
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for batch, vectors in zip(batches, results, strict=True):
            out[batch.start : batch.stop] = vectors
        return out

    @property
    def max_batch_tokens(self) -> int:
        """Token budget of one request (AZURE_OPENAI_MAX_BATCH_TOKENS, capped at the rate limiter's burst)."""
        return self._max_batch_tokens

    @property
    def max_batch_inputs(self) -> int:
        return self._max_batch_inputs

    def request_slots(self) -> int:
        """Requests the rate limiter lets in flight now (its AIMD window)."""
        return self._limiter.window.slots

    async def embed_request(self, texts: list[str], tokens: int) -> np.ndarray:
        """One request of already counted and checked ``texts`` (``tokens`` in all), with this module's retries:
        the entry point of ``batching.BatchingEmbedder``, which plans requests across documents."""
        return await self._embed_batch(texts, tokens)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._owns_credential and self._credential is not None:
            await self._credential.close()
            self._credential = None
            self._owns_credential = False

    # -- inputs -------------------------------------------------------------------------------------------------------
    def _count_tokens(self, texts: list[str]) -> list[int]:
        encode_batch = getattr(self._tokenizer, "encode_batch", None)
        if encode_batch is not None:
            return [len(tokens) for tokens in encode_batch(texts)]
        return [self._tokenizer.count(text) for text in texts]

    def _check_inputs(self, texts: Sequence[str], counts: Sequence[int]) -> None:
        for i, (text, count) in enumerate(zip(texts, counts, strict=True)):
            if not text:
                raise BadInputError(f"embedding input {i} of {len(texts)} is empty; {self.model} refuses empty input")
            if count > MAX_INPUT_TOKENS:
                raise BadInputError(
                    f"embedding input {i} of {len(texts)} has {count} tokens, over the {MAX_INPUT_TOKENS}-token "
                    f"limit of {self.model}"
                )

    # -- one batch, with retries --------------------------------------------------------------------------------------
    async def _embed_batch(self, texts: list[str], tokens: int) -> np.ndarray:
        deadline: float | None = None
        attempt = malformed = 0
        while True:
            self.circuit.check()
            started = self.circuit.now()
            try:
                vectors = await self._attempt(texts, tokens)
            except _Retry as retry:
                if retry.unanswered:
                    self.circuit.unanswered(retry.reason, started=started)
                else:
                    self.circuit.answered()
                now = self._clock()
                deadline = now + self._retry_budget if deadline is None else deadline
                malformed += retry.malformed
                delay = retry.retry_after or self._backoff.delay(attempt)
                attempt += 1
                if retry.throttled:
                    telemetry.embedding_throttled(delay)
                if malformed > 1 or now + delay > deadline:
                    raise self._give_up(retry, attempt) from None
                log.log(
                    logging.DEBUG if retry.throttled else logging.INFO,
                    "Azure OpenAI deployment %s: %s; retry %d in %.2f s",
                    self.deployment,
                    retry.reason,
                    attempt,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                self.circuit.answered()
                return vectors

    def _give_up(self, retry: _Retry, attempts: int) -> TransientError:
        message = f"Azure OpenAI deployment {self.deployment!r} failed after {attempts} attempt(s): {retry.reason}"
        if retry.throttled:
            return ThrottledError(message, retry_after=retry.retry_after)
        return TransientError(message)

    async def _attempt(self, texts: list[str], tokens: int) -> np.ndarray:
        client = self._get_client()
        extra: dict[str, Any] = {"dimensions": self.dimensions} if self._send_dimensions else {}
        permit = await self._limiter.acquire(tokens)
        try:
            response = await client.embeddings.create(input=texts, model=self.model, encoding_format="base64", **extra)
        except openai.RateLimitError as exc:
            retry_after = parse_retry_after(exc.response.headers)
            self._limiter.throttled(permit, retry_after=retry_after)
            raise _Retry("429 too many requests", retry_after=retry_after, throttled=True) from None
        except Exception as exc:
            self._limiter.failed(permit)
            translated = self._translate(exc)
            if translated is None:
                raise
            raise translated from exc
        except BaseException:  # cancelled: free the slot and let it through
            self._limiter.failed(permit)
            raise
        self._limiter.succeeded(permit)
        telemetry.embedding_sent(tokens)
        return self._decode(response.data, len(texts))

    def _translate(self, exc: Exception) -> Exception | None:
        """Map a foreign error once, here: a _Retry for what may pass, an IngestionError for what will not."""
        if isinstance(exc, openai.APITimeoutError):
            return _Retry("request timed out", unanswered=True)
        if isinstance(exc, openai.APIConnectionError):
            return _Retry(f"connection failed ({type(exc.__cause__ or exc).__name__})", unanswered=True)
        if isinstance(exc, openai.APIStatusError):
            return self._translate_status(exc.status_code, _service_message(exc.body, exc.message))
        if _is_credential_error(exc):
            return ConfigurationError(
                f"no Entra ID token for Azure OpenAI at {self.endpoint} ({type(exc).__name__}); "
                "set AZURE_OPENAI_API_KEY or configure a managed identity"
            )
        return None

    def _translate_status(self, status: int, message: str) -> Exception:
        message = self._scrub(message)
        where = f"Azure OpenAI deployment {self.deployment!r} at {self.endpoint}"
        if status in _RETRYABLE_STATUS or status >= 500:
            return _Retry(f"HTTP {status}: {message}")
        if status in (401, 403):
            return ConfigurationError(f"{where} refused the credentials (HTTP {status}): {message}")
        if status == 404:
            return ConfigurationError(
                f"{where} not found (HTTP 404; check the deployment name and API version "
                f"{self._api_version}): {message}"
            )
        return DocumentRejectedError(f"{where} rejected the input (HTTP {status}): {message}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    # -- responses ----------------------------------------------------------------------------------------------------
    def _decode(self, items: Sequence[object], expected: int) -> np.ndarray:
        """Place each vector by its ``index``; any doubt about which input a vector belongs to is a _Retry."""
        if len(items) != expected:
            raise _Retry(f"malformed response: {len(items)} vectors for {expected} inputs", malformed=True)
        out = np.empty((expected, self.dimensions), dtype=np.float32)
        seen = np.zeros(expected, dtype=bool)
        for item in items:
            index = getattr(item, "index", None)
            if not isinstance(index, int) or not 0 <= index < expected or seen[index]:
                raise _Retry(f"malformed response: bad or repeated index {index!r}", malformed=True)
            vector = _as_vector(getattr(item, "embedding", None))
            if vector is None or vector.shape != (self.dimensions,) or not np.isfinite(vector).all():
                raise _Retry(f"malformed response: vector {index} is not {self.dimensions} floats", malformed=True)
            out[index] = vector
            seen[index] = True
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)

    # -- the client ---------------------------------------------------------------------------------------------------
    def _get_client(self) -> openai.AsyncAzureOpenAI:
        if self._client is None:
            auth: dict[str, Any]
            if self._api_key:
                auth = {"api_key": self._api_key}
            else:
                auth = {"azure_ad_token_provider": self._token_provider()}
            self._client = openai.AsyncAzureOpenAI(
                azure_endpoint=self.endpoint,
                azure_deployment=self.deployment,
                api_version=self._api_version,
                max_retries=0,
                timeout=self._timeout,
                **auth,
            )
        return self._client

    def _token_provider(self) -> Callable[[], Any]:
        from azure.identity.aio import get_bearer_token_provider

        if self._credential is None:
            self._credential = default_credential()
            self._owns_credential = True
        return get_bearer_token_provider(self._credential, COGNITIVE_SERVICES_SCOPE)


def _as_vector(raw: object) -> np.ndarray | None:
    if isinstance(raw, str):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            return None
        return np.frombuffer(data, dtype="<f4") if len(data) % 4 == 0 else None
    if isinstance(raw, list):
        return np.asarray(raw, dtype=np.float32)
    return None


def _service_message(body: object, fallback: str) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return fallback


def _is_credential_error(exc: Exception) -> bool:
    try:
        from azure.core.exceptions import ClientAuthenticationError
    except ImportError:  # pragma: no cover - azure-core is a pinned dependency
        return False
    return isinstance(exc, ClientAuthenticationError)
