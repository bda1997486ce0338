"""One process-wide embedder that packs chunks of many concurrent documents into full embedding requests.

Why: a document of ~1,300 tokens sent on its own makes a small request, and with a few documents in flight request
latency, not the quota, sets the pace (0.57 of a 1.2M TPM quota at default settings). ``BatchingEmbedder`` wraps a
``BatchEmbedder`` (the Azure OpenAI embedder) and is the pipeline's ``Embedder``: every ``embed`` call from any
document (CLI workers, concurrent Functions invocations sharing the process's pipeline) queues its texts, and one
dispatcher packs queued texts, in arrival order, into requests of at most ``max_inputs`` inputs and ``max_tokens``
tokens. A call may span several requests, and a request may carry parts of many calls.

When a request is formed: at once when a full request is queued; otherwise when fewer than ``slots()`` requests are
in flight (the inner rate limiter's window), after waiting at most ``linger`` seconds for more texts while another
request is already in flight. So a lone document is never held back, and under load requests fill up.

Per-document isolation, as if every call were sent alone:

- inputs are validated per call before queueing (empty text, over ``max_input_tokens``): only that call fails;
- a request refused as bad input (400: ``BadInputError``) is resent split per call, so only the offending call fails;
- a transient or throttling failure after the inner embedder's retries fails every call with texts in that request
  (each of those documents fails, as it would have alone); a ConfigurationError reaches every such call too;
- a cancelled call (document timeout) drops its texts not yet sent; vectors of texts already sent are discarded.

Rows come back in each call's order (``Embedder`` contract): a call's vectors are placed by position, never by text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ingestion.errors import BadInputError
from ingestion.tokenizer import Tokenizer

log = logging.getLogger(__name__)

DEFAULT_LINGER_SECONDS = 0.05


class BatchEmbedder(Protocol):
    """An embedder that can send one planned request (the Azure OpenAI embedder)."""

    model_id: str
    dimensions: int
    max_input_tokens: int

    async def embed_request(self, texts: list[str], tokens: int) -> np.ndarray:
        """Exactly one request's worth (within the service limits), with the embedder's own retries."""
        ...

    async def close(self) -> None: ...


@dataclass(eq=False)
class _Call:
    texts: list[str]
    counts: list[int]
    future: asyncio.Future[np.ndarray]
    out: np.ndarray
    sent: int = 0
    """Texts already handed to a request (the next one to pack is ``texts[sent]``)."""
    open: int = 0
    """Requests carrying texts of this call that have not answered yet."""


@dataclass(eq=False)
class _Piece:
    call: _Call
    start: int
    stop: int


@dataclass(eq=False)
class _Request:
    pieces: list[_Piece] = field(default_factory=list)
    tokens: int = 0
    inputs: int = 0


class BatchingEmbedder:
    """Shares embedding requests between concurrent ``embed`` calls (see the module docstring)."""

    def __init__(
        self,
        inner: BatchEmbedder,
        *,
        tokenizer: Tokenizer,
        max_inputs: int,
        max_tokens: int,
        slots: Callable[[], int] = lambda: 8,
        linger: float = DEFAULT_LINGER_SECONDS,
    ) -> None:
        if max_inputs < 1 or max_tokens < inner.max_input_tokens:
            raise ValueError("max_inputs must be >= 1 and max_tokens at least the longest input")
        if linger < 0:
            raise ValueError("linger must be >= 0")
        self.inner = inner
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.max_input_tokens = inner.max_input_tokens
        self._tokenizer = tokenizer
        self._max_inputs = max_inputs
        self._max_tokens = max_tokens
        self._slots = slots
        self._linger = linger
        self._queue: deque[_Call] = deque()
        self._queued_tokens = 0
        self._queued_inputs = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self.requests_sent = 0
        """Requests formed so far (for benchmarks and tests)."""

    @property
    def tokenizer_name(self) -> str:
        return self._tokenizer.name

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        texts = list(texts)
        return await self._submit(texts, await asyncio.to_thread(self._count, texts))

    async def embed_counted(self, texts: Sequence[str], counts: Sequence[int]) -> np.ndarray:
        """``embed`` with the inputs' token counts already known (``CountedEmbedder``): nothing is encoded again."""
        if len(counts) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(counts)} token counts")
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return await self._submit(list(texts), list(counts))

    async def _submit(self, texts: list[str], counts: list[int]) -> np.ndarray:
        self._check(texts, counts)
        loop = asyncio.get_running_loop()
        call = _Call(texts, counts, loop.create_future(), np.empty((len(texts), self.dimensions), dtype=np.float32))
        self._queue.append(call)
        self._queued_tokens += sum(counts)
        self._queued_inputs += len(texts)
        self._ensure_dispatcher(loop)
        try:
            return await asyncio.shield(call.future)
        except asyncio.CancelledError:
            self._drop(call)
            call.future.cancel()
            raise

    async def close(self) -> None:
        tasks = [t for t in (self._dispatcher, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None
        await self.inner.close()

    # -- queueing ---------------------------------------------------------------------------------------------------
    def _count(self, texts: list[str]) -> list[int]:
        encode_batch = getattr(self._tokenizer, "encode_batch", None)
        if encode_batch is not None:
            return [len(tokens) for tokens in encode_batch(texts)]
        return [self._tokenizer.count(text) for text in texts]

    def _check(self, texts: list[str], counts: list[int]) -> None:
        for i, (text, count) in enumerate(zip(texts, counts, strict=True)):
            if not text:
                raise BadInputError(f"embedding input {i} of {len(texts)} is empty")
            if count > self.max_input_tokens:
                raise BadInputError(
                    f"embedding input {i} of {len(texts)} has {count} tokens, over the "
                    f"{self.max_input_tokens}-token limit of {self.model_id}"
                )

    def _drop(self, call: _Call) -> None:
        """A cancelled call: forget what it has not sent yet."""
        if call in self._queue:
            self._queue.remove(call)
            self._queued_tokens -= sum(call.counts[call.sent :])
            self._queued_inputs -= len(call.texts) - call.sent
        call.sent = len(call.texts)

    def _ensure_dispatcher(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._wake is None or self._dispatcher is None or self._dispatcher.done():
            self._wake = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch())
        self._wake.set()

    # -- dispatching ------------------------------------------------------------------------------------------------
    def _full(self) -> bool:
        return self._queued_inputs >= self._max_inputs or self._queued_tokens >= self._max_tokens

    async def _dispatch(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._in_flight) >= max(1, self._slots()):
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._in_flight and not self._full() and self._linger > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        while not self._full():
                            await self._wake.wait()
                            self._wake.clear()
            request = self._pack()
            if request.pieces:
                task = asyncio.get_running_loop().create_task(self._send(request))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)
                self.requests_sent += 1

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._wake is not None:
            self._wake.set()

    def _pack(self) -> _Request:
        request = _Request()
        while self._queue and request.inputs < self._max_inputs:
            call = self._queue[0]
            start = stop = call.sent
            while (
                stop < len(call.texts)
                and request.inputs + (stop - start) < self._max_inputs
                and (request.tokens + call.counts[stop] <= self._max_tokens or (stop == start and not request.pieces))
            ):
                request.tokens += call.counts[stop]
                stop += 1
            if stop == start:
                break  # the next text does not fit: the request is full
            request.pieces.append(_Piece(call, start, stop))
            request.inputs += stop - start
            call.sent = stop
            call.open += 1
            self._queued_inputs -= stop - start
            self._queued_tokens -= sum(call.counts[start:stop])
            if call.sent == len(call.texts):
                self._queue.popleft()
        return request

    async def _send(self, request: _Request) -> None:
        texts = [text for piece in request.pieces for text in piece.call.texts[piece.start : piece.stop]]
        try:
            vectors = await self.inner.embed_request(texts, request.tokens)
        except BadInputError as error:
            if len(request.pieces) == 1:
                self._settle(request.pieces, error=error)
                return
            alone = [_Request([p], self._tokens(p), p.stop - p.start) for p in request.pieces]
            await asyncio.gather(*(self._send(one) for one in alone))
            return
        except asyncio.CancelledError:
            self._settle(request.pieces, error=asyncio.CancelledError())
            raise
        except Exception as error:
            self._settle(request.pieces, error=error)
            return
        row = 0
        for piece in request.pieces:
            size = piece.stop - piece.start
            piece.call.out[piece.start : piece.stop] = vectors[row : row + size]
            row += size
        self._settle(request.pieces)

    @staticmethod
    def _tokens(piece: _Piece) -> int:
        return sum(piece.call.counts[piece.start : piece.stop])

    def _settle(self, pieces: list[_Piece], *, error: BaseException | None = None) -> None:
        for piece in pieces:
            call = piece.call
            call.open -= 1
            if call.future.done():
                continue
            if error is not None:
                call.future.set_exception(error)
                self._drop(call)
            elif call.open == 0 and call.sent == len(call.texts):
                call.future.set_result(call.out)
