"""An in-process Azure OpenAI embeddings endpoint on 127.0.0.1, faithful enough for the real ``openai`` SDK.

Speaks the documented REST subset ``POST /openai/deployments/{deployment}/embeddings?api-version=...`` with an
``api-key`` header or an ``Authorization: Bearer`` token, and enforces what the service enforces: credentials (401),
unknown deployment (404), at most 2,048 inputs and 8,191 cl100k tokens per input (400), empty input (400),
``dimensions`` only for text-embedding-3-* models (400), and a TPM quota over a *sliding* window (default 10 s, so
TPM/6 tokens per window) answering 429 with ``retry-after-ms`` and ``retry-after``. Vectors are deterministic (seeded
by the SHA-256 of the text), unit length, truncated and renormalised for a smaller ``dimensions`` as the service does;
``encoding_format: base64`` returns little-endian float32.

``api-version`` is checked as the service checks it: the deployment route needs one of the real GA or preview
versions of the data-plane inference API (``API_VERSIONS``; missing or unknown: 404 "Resource not found", as the
service answers). The v1 endpoint ``POST /openai/v1/embeddings`` (the ``openai.AsyncOpenAI`` client with
``base_url=<endpoint>/openai/v1/``) takes the deployment as ``model`` in the body and needs no api-version; it
accepts only ``preview`` or ``latest`` if one is given (400 otherwise), and the key as ``api-key`` or as a bearer.

Faults are programmable (``fail_next``, ``malform_next``, ``delay_next``) and every request is recorded
(``records``) with counters (``counters()``). The server runs in a background thread with its own event loop, so
synchronous and asynchronous callers can both use it::

    with FakeOpenAIServer(tokens_per_minute=600_000) as server:
        client = AsyncAzureOpenAI(azure_endpoint=server.url, api_key=server.api_key, api_version="2024-10-21")
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from aiohttp import web

from ingestion.tokenizer import get_tokenizer
from tests.fakes.loopback import LoopbackServer

NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8191
GA_API_VERSIONS = frozenset({"2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21"})
PREVIEW_API_VERSIONS = frozenset(
    f"{month}-preview"
    for month in (
        "2023-03-15", "2023-06-01", "2023-07-01", "2023-08-01", "2023-09-01", "2023-10-01", "2023-12-01",
        "2024-02-15", "2024-03-01", "2024-04-01", "2024-05-01", "2024-07-01", "2024-08-01", "2024-09-01",
        "2024-10-01", "2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01",
    )
)  # fmt: skip
API_VERSIONS = GA_API_VERSIONS | PREVIEW_API_VERSIONS
"""The api-versions of the data-plane inference API (``/openai/deployments/...``) the service answers."""
V1_API_VERSIONS = frozenset({"preview", "latest"})


def expected_vector(text: str, dimensions: int, *, model: str = "text-embedding-3-small") -> np.ndarray:
    """The vector the fake returns for ``text``: seeded by SHA-256, unit length, truncated to ``dimensions``."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    full = np.random.default_rng(seed).standard_normal(NATIVE_DIMENSIONS.get(model, dimensions))
    cut = full[:dimensions]
    return (cut / np.linalg.norm(cut)).astype(np.float32)


@dataclass(frozen=True)
class RequestRecord:
    at: float
    deployment: str
    status: int
    inputs: int
    tokens: int
    auth: str
    """``api-key``, ``bearer:<token>`` or ``none``."""
    body: Mapping[str, object]
    """The request body without ``input``."""


class _SlidingWindow:
    """At most ``limit`` units within any ``seconds``-long window."""

    def __init__(self, limit: float, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._entries: deque[tuple[float, int]] = deque()
        self._used = 0

    def wait(self, units: int, now: float) -> float | None:
        """None when ``units`` fit now, else the seconds until enough old entries leave the window."""
        while self._entries and self._entries[0][0] <= now - self.seconds:
            self._used -= self._entries.popleft()[1]
        if self._used + units <= self.limit:
            return None
        freed = 0
        for at, used in self._entries:
            freed += used
            if self._used - freed + units <= self.limit:
                return at + self.seconds - now
        return self.seconds

    def record(self, units: int, now: float) -> None:
        self._entries.append((now, units))
        self._used += units


class FakeOpenAIServer(LoopbackServer):
    def __init__(
        self,
        *,
        deployments: Mapping[str, str] | None = None,
        api_key: str = "fake-openai-key-0123456789",
        bearer_tokens: tuple[str, ...] = (),
        tokens_per_minute: int | None = None,
        requests_per_minute: int | None = None,
        window_seconds: float = 10.0,
        latency: float = 0.0,
        latency_per_1k_tokens: float = 0.0,
        shuffle_order: bool = False,
    ) -> None:
        self.deployments = dict(deployments or {"embed": "text-embedding-3-small"})
        self.api_key = api_key
        self.bearer_tokens = set(bearer_tokens)
        self.latency = latency
        self.latency_per_1k_tokens = latency_per_1k_tokens
        self.shuffle_order = shuffle_order
        share = window_seconds / 60.0
        self._tokens = _SlidingWindow(tokens_per_minute * share, window_seconds) if tokens_per_minute else None
        self._requests = _SlidingWindow(requests_per_minute * share, window_seconds) if requests_per_minute else None
        self._lock = threading.Lock()
        self._faults: deque[tuple[int, float | None]] = deque()
        self._in_flight = 0
        self.max_in_flight = 0
        """Most requests the server was handling at the same moment."""
        self._malformed = 0
        self._delays: deque[float] = deque()
        self.records: list[RequestRecord] = []
        self.arrivals = 0
        """Requests received, counted on arrival (``records`` are written when the answer is ready)."""

    # -- lifecycle ----------------------------------------------------------------------------------------------------
    thread_name = "fake-openai"

    def start(self) -> str:
        """Start serving and return the base URL (the ``azure_endpoint``); loads the tokenizer first."""
        get_tokenizer()
        return super().start()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self._embeddings)
        app.router.add_post("/openai/v1/embeddings", self._embeddings)
        return app

    # -- programmable faults and counters -----------------------------------------------------------------------------
    def fail_next(self, count: int, *, status: int = 500, retry_after: float | None = None) -> None:
        """The next ``count`` valid requests answer ``status`` (e.g. 500, 503, 408, 429) instead of embedding.

        ``retry_after`` (seconds) adds ``retry-after-ms`` and ``retry-after`` headers to those answers.
        """
        with self._lock:
            self._faults.extend([(status, retry_after)] * count)

    def malform_next(self, count: int = 1) -> None:
        """The next ``count`` successful responses lose the ``index`` of one item."""
        with self._lock:
            self._malformed += count

    def delay_next(self, count: int, seconds: float) -> None:
        """The next ``count`` requests wait ``seconds`` before answering."""
        with self._lock:
            self._delays.extend([seconds] * count)

    def counters(self) -> dict[str, int]:
        with self._lock:
            records = list(self.records)
        ok = [r for r in records if r.status == 200]
        return {
            "requests": len(records),
            "accepted": len(ok),
            "tokens_accepted": sum(r.tokens for r in ok),
            "inputs_accepted": sum(r.inputs for r in ok),
            "throttled": sum(r.status == 429 for r in records),
            "errors": sum(r.status not in (200, 429) for r in records),
        }

    def tokens_accepted_between(self, start: float, end: float) -> int:
        """Tokens of requests accepted with ``start <= at < end`` (``time.monotonic`` seconds)."""
        with self._lock:
            return sum(r.tokens for r in self.records if r.status == 200 and start <= r.at < end)

    # -- the endpoint -------------------------------------------------------------------------------------------------
    async def _embeddings(self, request: web.Request) -> web.Response:
        with self._lock:
            self.arrivals += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return await self._handle(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        v1 = "deployment" not in request.match_info
        deployment = request.match_info.get("deployment", "")
        auth = self._auth(request, v1=v1)
        with self._lock:
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        body: dict[str, object] = {}
        status, payload, headers, inputs, tokens = 200, {}, {}, 0, 0
        try:
            if auth == "none" or auth == "invalid":
                raise _Reply(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
            _check_api_version(request.query.get("api-version"), v1=v1)
            body = await _json_body(request)
            if v1:
                deployment = str(body.get("model") or "")
            if deployment not in self.deployments:
                raise _Reply(404, "DeploymentNotFound", "The API deployment for this resource does not exist.")
            model = self.deployments[deployment]
            texts, counts = _parse_input(body.get("input"))
            inputs, tokens = len(texts), sum(counts)
            dimensions = _check_dimensions(model, body.get("dimensions"))
            self._admit(tokens, time.monotonic())
            payload = self._respond(model, texts, counts, dimensions, str(body.get("encoding_format") or "float"))
            await asyncio.sleep(self.latency + self.latency_per_1k_tokens * tokens / 1000)
        except _Reply as reply:
            status, payload, headers = reply.status, reply.payload(), reply.headers
        shown = {k: v for k, v in body.items() if k != "input"}
        with self._lock:
            self.records.append(RequestRecord(now, deployment, status, inputs, tokens, auth, shown))
        return web.json_response(payload, status=status, headers=headers)

    def _auth(self, request: web.Request, *, v1: bool) -> str:
        key = request.headers.get("api-key")
        if key is not None:
            return "api-key" if key == self.api_key else "invalid"
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            token = bearer[len("Bearer ") :]
            if v1 and token == self.api_key:  # the v1 endpoint takes the key as a bearer (what openai.OpenAI sends)
                return "api-key"
            return f"bearer:{token}" if token in self.bearer_tokens else "invalid"
        return "none"

    def _admit(self, tokens: int, now: float) -> None:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                status, retry_after = fault
                headers = _retry_headers(retry_after) if retry_after is not None else {}
                raise _Reply(
                    status, str(status), "The server had an error while processing your request.", headers=headers
                )
            windows = [(w, units) for w, units in ((self._requests, 1), (self._tokens, tokens)) if w is not None]
            waits = [w.wait(units, now) for w, units in windows]
            if all(w is None for w in waits):
                for window, units in windows:
                    window.record(units, now)
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            seconds = max(wait, 0.001)
            raise _Reply(
                429,
                "429",
                "Requests to the Embeddings_Create Operation have exceeded the token rate limit of your current "
                f"pricing tier. Please retry after {math.ceil(seconds)} seconds.",
                headers=_retry_headers(seconds),
            )

    def _respond(
        self, model: str, texts: list[str], counts: list[int], dimensions: int, encoding: str
    ) -> dict[str, object]:
        data: list[dict[str, object]] = []
        for index, text in enumerate(texts):
            vector = expected_vector(text, dimensions, model=model)
            encoded: object = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                if encoding == "base64"
                else [float(x) for x in vector]
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        if self.shuffle_order:
            random.shuffle(data)
        with self._lock:
            if self._malformed and data:
                self._malformed -= 1
                del data[len(data) // 2]["index"]
        total = sum(counts)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": total, "total_tokens": total},
        }


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after-ms": str(math.ceil(seconds * 1000)), "retry-after": str(math.ceil(seconds))}


class _Reply(Exception):
    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


def _check_api_version(version: str | None, *, v1: bool) -> None:
    if v1:
        if version is not None and version not in V1_API_VERSIONS:
            raise _Reply(400, "BadRequest", f"API version not supported: {version!r} (the v1 API takes none).")
        return
    if version not in API_VERSIONS:
        raise _Reply(404, "404", "Resource not found")


async def _json_body(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Reply(400, "BadRequest", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _Reply(400, "BadRequest", "The request body must be a JSON object.")
    return body


def _parse_input(raw: object) -> tuple[list[str], list[int]]:
    """Texts (token arrays decoded) and their cl100k token counts; 400 for anything the service refuses."""
    tokenizer = get_tokenizer()
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise _Reply(400, "invalid_request_error", "'$.input' is invalid. Please check the API reference.")
    if len(raw) > MAX_INPUTS:
        raise _Reply(400, "invalid_request_error", f"Too many inputs. The max number of inputs is {MAX_INPUTS}.")
    texts: list[str] = []
    counts: list[int] = []
    for item in raw:
        if isinstance(item, str) and item:
            texts.append(item)
            counts.append(tokenizer.count(item))
        elif isinstance(item, list) and item and all(isinstance(x, int) for x in item):
            texts.append(tokenizer.decode(item))
            counts.append(len(item))
        else:
            raise _Reply(400, "invalid_request_error", "'$.input' is invalid. Please check the API reference.")
    longest = max(counts)
    if longest > MAX_INPUT_TOKENS:
        raise _Reply(
            400,
            "context_length_exceeded",
            f"This model's maximum context length is 8192 tokens, however you requested {longest} tokens. "
            "Please reduce your prompt.",
        )
    return texts, counts


def _check_dimensions(model: str, requested: object) -> int:
    native = NATIVE_DIMENSIONS[model]
    if requested is None:
        return native
    if not model.startswith("text-embedding-3-"):
        raise _Reply(400, "invalid_request_error", "This model does not support specifying dimensions.")
    if not isinstance(requested, int) or not 1 <= requested <= native:
        raise _Reply(400, "invalid_request_error", f"'dimensions' must be between 1 and {native}.")
    return requested
