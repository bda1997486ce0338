"""Index actions sent to Azure AI Search by hand: batched, every per-item result read, retried within bounds.

Why not ``SearchClient.index_documents``: in azure-search-documents 12.0.0 its split-on-413 calls itself for the
second half with the wrong argument (``actions=`` for ``batch=``), so any 413 on a batch of two or more actions
raises ``TypeError`` *after the first half was written*; and it never splits below the service limits on its own.
So each action is serialised here once, batches are packed to at most ``max_actions`` actions **and**
``max_bytes`` bytes of the exact JSON body that is sent, and the body goes out through the client's own pipeline
(``send_request``: same credential, user agent and transport; azure-core's retries switched off for these calls so
that the bounds below are the only ones).

What each answer leads to:

- 200 / 207: every item's ``statusCode`` is read. 200/201 are done; 409, 422 and 5xx items are sent again (alone,
  in a new batch) after a jittered exponential backoff, at most ``max_attempts`` times in all, then
  TransientError; any other item status (400 bad document, 404...) is DocumentRejectedError with the service's
  message. An item the answer does not mention counts as failed: nothing is taken as written unconfirmed.
- 413: the batch is split in half and each half sent (down to one action, which is then DocumentRejectedError).
- 408, 409, 412, 5xx for the whole request, a timeout or a lost connection: the same batch again after a backoff
  (Retry-After honoured, up to ``backoff_max``), at most ``max_attempts`` times, then TransientError. Upload and
  delete are idempotent, so resending a batch the service may have applied is safe.
- 429 (document quota exhausted), 401/403, 404 and other 4xx: see ``errors``.

The caller never puts two actions for the same key in one call (the service does not order actions in a batch).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest
from azure.search.documents.aio import SearchClient

from ingestion.errors import DocumentRejectedError, TransientError
from ingestion.indexing.azure.errors import clip, for_status, retry_after, service_message, translate

API_VERSION = "2026-04-01"
MAX_ACTIONS = 1000
MAX_BYTES = 16_000_000
"""A little under the service's 16 MB (16 x 2^20 bytes) per request."""
RETRY_ITEM_STATUSES = frozenset({409, 422})
_PREFIX = b'{"value":['
_SUFFIX = b"]}"


@dataclass(frozen=True)
class Action:
    """One index action, serialised once: ``body`` is its JSON object exactly as sent."""

    key: str
    kind: str
    body: bytes


def encode(kind: str, document: Mapping[str, Any]) -> Action:
    """``upload`` / ``delete`` (...) of ``document`` (JSON-ready values; the key field is ``id``)."""
    payload = {"@search.action": kind, **{str(name): value for name, value in document.items()}}
    try:  # orjson: ~20x faster than json for vectors, and float32 in its shortest exact form (40 % smaller bodies)
        body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as error:
        raise ValueError(f"document {document.get('id')!r} is not JSON-serialisable: {error}") from None
    return Action(key=str(document["id"]), kind=kind, body=body)


def request_size(actions: Sequence[Action]) -> int:
    """Bytes of the request body that carries ``actions``."""
    return len(_PREFIX) + len(_SUFFIX) + sum(len(a.body) for a in actions) + max(len(actions) - 1, 0)


def pack(actions: Sequence[Action], *, max_actions: int, max_bytes: int) -> list[list[Action]]:
    """Consecutive batches of at most ``max_actions`` actions and ``max_bytes`` body bytes (order kept)."""
    batches: list[list[Action]] = []
    current: list[Action] = []
    size = len(_PREFIX) + len(_SUFFIX)
    for action in actions:
        extra = len(action.body) + (1 if current else 0)
        if current and (len(current) >= max_actions or size + extra > max_bytes):
            batches.append(current)
            current, size, extra = [], len(_PREFIX) + len(_SUFFIX), len(action.body)
        current.append(action)
        size += extra
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` tries per batch or item; backoff ``base * 2^(n-1)``, jittered, capped at ``cap``."""

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, *, server_hint: float | None = None) -> float:
        backoff = min(self.cap, self.base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        return min(self.cap, max(backoff, server_hint or 0.0))


class BatchSender:
    """Sends index actions for one index (or alias) through ``client``; see the module docstring."""

    def __init__(
        self,
        client: SearchClient,
        index_name: str,
        *,
        policy: RetryPolicy,
        max_actions: int = MAX_ACTIONS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if not 1 <= max_actions <= MAX_ACTIONS or max_bytes < 1024:
            raise ValueError(f"max_actions must be 1-{MAX_ACTIONS} and max_bytes >= 1024")
        self._client = client
        self._path = f"/indexes('{index_name}')/docs/search.index"
        self._policy = policy
        self.max_actions = max_actions
        self.max_bytes = max_bytes

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    async def post_batch(self, batch: list[Action], *, what: str) -> dict[str, tuple[int, str]]:
        """Send ``batch`` (within the limits) once, splitting on 413, and return each item's (status, message):
        for ``batching.SharedBatchSender``, which decides per item and per document."""
        return await self._send_splitting(batch, what=what)

    def check_size(self, action: Action, *, what: str) -> None:
        """DocumentRejectedError if ``action`` alone cannot fit in one request."""
        size = request_size([action])
        if size > self.max_bytes:
            raise DocumentRejectedError(
                f"{what}: chunk {action.key} serialises to {size} bytes, over the {self.max_bytes}-byte request limit"
            )

    async def send(self, actions: Sequence[Action], *, what: str) -> None:
        """Apply every action, or raise; returns only when the service confirmed each one."""
        keys = [a.key for a in actions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{what}: two actions for one key in one call")
        for batch in pack(actions, max_actions=self.max_actions, max_bytes=self.max_bytes):
            await self._send_until_done(batch, what=what)

    async def _send_until_done(self, batch: list[Action], *, what: str) -> None:
        pending = batch
        for attempt in range(1, self._policy.max_attempts + 1):
            results = await self._send_splitting(pending, what=what)
            retry: list[Action] = []
            reasons: list[str] = []
            for action in pending:
                status, message = results.get(action.key, (0, "the service did not report this item"))
                if status in (200, 201):
                    continue
                if status in RETRY_ITEM_STATUSES or status >= 500 or status == 0:
                    retry.append(action)
                    reasons.append(f"{status}: {message}" if message else str(status))
                    continue
                raise DocumentRejectedError(
                    f"{what}: Azure AI Search rejected chunk {action.key} ({status}){': ' + message if message else ''}"
                )
            if not retry:
                return
            if attempt == self._policy.max_attempts:
                raise TransientError(
                    f"{what}: {len(retry)} chunk(s) still failing after {attempt} attempts (last: {reasons[-1]})"
                )
            await asyncio.sleep(self._policy.delay(attempt))
            pending = retry

    async def _send_splitting(self, batch: list[Action], *, what: str) -> dict[str, tuple[int, str]]:
        """Item results by key for ``batch``, splitting it in halves for as long as the service answers 413."""
        status, payload = await self._post(batch, what=what)
        if status != 413:
            return _item_results(payload)
        if len(batch) == 1:
            raise DocumentRejectedError(f"{what}: chunk {batch[0].key} is too large for one request (413)")
        middle = len(batch) // 2
        first = await self._send_splitting(batch[:middle], what=what)
        return {**first, **await self._send_splitting(batch[middle:], what=what)}

    async def _post(self, batch: list[Action], *, what: str) -> tuple[int, Any]:
        """One request, resent after backoff while the failure is transient; (200/207/413, parsed body)."""
        body = _PREFIX + b",".join(a.body for a in batch) + _SUFFIX
        last: TransientError | None = None
        for attempt in range(1, self._policy.max_attempts + 1):
            request = HttpRequest(
                "POST",
                self._path,
                params={"api-version": API_VERSION},
                headers={"Content-Type": "application/json", "Accept": "application/json;odata.metadata=none"},
                content=body,
            )
            hint: float | None = None
            try:
                response = await self._client.send_request(request, retry_total=0)
            except (ServiceRequestError, ServiceResponseError) as error:
                last = TransientError(f"{what}: Azure AI Search did not answer ({type(error).__name__})")
            except AzureError as error:  # e.g. a token that could not be obtained
                raise translate(error, what=what, indexing=True) from None
            else:
                status, payload, last = _read_answer(response, what=what)
                if last is None:
                    return status, payload
                hint = retry_after(response.headers)
            if attempt < self._policy.max_attempts:
                await asyncio.sleep(self._policy.delay(attempt, server_hint=hint))
        assert last is not None
        raise TransientError(f"{last} (gave up after {self._policy.max_attempts} attempts)")


def _read_answer(response: Any, *, what: str) -> tuple[int, Any, TransientError | None]:
    """(status, parsed body, None) for 200/207/413; (status, None, error) for a transient failure; raise otherwise."""
    status = response.status_code
    if status == 413:
        return status, None, None
    if status in (200, 207):
        try:
            return status, response.json(), None
        except ValueError:
            return status, None, TransientError(f"{what}: Azure AI Search answered {status} with unreadable JSON")
    error = for_status(status, service_message(response.content), what=what, indexing=True, headers=response.headers)
    if not isinstance(error, TransientError):
        raise error
    return status, None, error


def _item_results(payload: Any) -> dict[str, tuple[int, str]]:
    results: dict[str, tuple[int, str]] = {}
    items = payload.get("value") if isinstance(payload, dict) else None
    for item in items or []:
        if isinstance(item, dict) and "key" in item:
            status = item.get("statusCode")
            results[str(item["key"])] = (
                int(status) if isinstance(status, int) else 0,
                clip(item.get("errorMessage") or ""),
            )
    return results
