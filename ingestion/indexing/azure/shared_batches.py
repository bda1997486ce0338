"""Index actions of many documents share indexing requests: full batches, each document's order and fate its own.

A first ingest used to send 3.4 actions per indexing request (each document wrote its chunks, its stale deletes and
its chunk 0 in requests of its own), while Azure AI Search takes up to 1,000 actions / 16 MB per request and its
indexing throughput depends on batch size. ``SharedBatchSender`` has the ``send`` / ``check_size`` interface of
``batches.BatchSender`` and is what ``AzureSearchIndex`` writes through; one instance per index object, which
the process shares (CLI run, concurrent Functions invocations).

Every ``send`` call queues its actions; one dispatcher packs queued actions, in arrival order, into requests of at
most ``max_actions`` actions and ``max_bytes`` bytes, never two actions for one key in one request (the service does
not order actions inside a batch). With fewer than ``max_in_flight`` requests out, a request is formed at once when
a full one is queued or when no other writer can join it: every document in flight (``in_flight``, the pipeline's
byte budget, when given) is already waiting on a ``send`` (the end of a run, a budget full of documents waiting to
be written, a single document alone); without ``in_flight``, when one writer alone is waiting. Otherwise at most one
request per ``interval`` seconds, carrying everything queued by then. Under load, documents reach the write stage a
few at a time (after each embedding response); waiting up to ``interval`` lets one request carry many of them. The
wait costs each document's two write steps up to ``interval`` each, not throughput: many documents are in flight
(``budget.py``).

What stays exactly as with a request per call:

- ``send`` returns only when the service confirmed every action of the call (200/201), so a document's steps
  (chunks, then stale deletes, then chunk 0: ``index.replace_document``) stay in order: the next step is
  queued only after the previous one returned;
- per item: 409/422/5xx (or unreported) items are sent again after a backoff, at most ``max_attempts`` times, then
  TransientError for *that* call; any other item status fails only the call it belongs to (DocumentRejectedError),
  and that call's actions not sent yet are dropped;
- a whole-request failure (after ``BatchSender``'s own retries) fails every call with actions in that request, as
  it would have failed each alone; a 413 that cannot be split further is retried call by call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingestion.errors import DocumentRejectedError, IngestionError, TransientError
from ingestion.indexing.azure.batches import RETRY_ITEM_STATUSES, Action, BatchSender, request_size

DEFAULT_INTERVAL_SECONDS = 3.0
DEFAULT_MAX_IN_FLIGHT = 2
IN_FLIGHT_POLL_SECONDS = 0.1
"""While holding a request back, how often ``in_flight`` is looked at again (a document that finishes or fails
without writing lowers it without queueing anything, so nothing else would wake the dispatcher)."""
_EMPTY_BODY = request_size([])


@dataclass(eq=False)
class _Call:
    actions: list[Action]
    what: str
    future: asyncio.Future[None]
    sent: int = 0
    open: int = 0
    """Actions handed to requests and not yet confirmed."""

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)
        self.sent = len(self.actions)


@dataclass(eq=False)
class _Batch:
    items: list[tuple[_Call, Action]] = field(default_factory=list)
    size: int = _EMPTY_BODY
    keys: set[str] = field(default_factory=set)


class SharedBatchSender:
    """Shares indexing requests between concurrent ``send`` calls (see the module docstring)."""

    def __init__(
        self,
        sender: BatchSender,
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        in_flight: Callable[[], int] | None = None,
    ) -> None:
        if interval < 0 or max_in_flight < 1:
            raise ValueError("interval must be >= 0 and max_in_flight >= 1")
        self.sender = sender
        self.max_actions = sender.max_actions
        self.max_bytes = sender.max_bytes
        self._interval = interval
        self._last_sent = float("-inf")
        self._max_in_flight = max_in_flight
        self.in_flight = in_flight
        """Documents in flight that may write here (``budget.ByteBudget.documents``); None: unknown."""
        self._senders = 0
        """``send`` calls not returned yet: writers that cannot join another request."""
        self._queue: deque[_Call] = deque()
        self._queued = 0
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self.requests = 0
        self.actions = 0
        """Indexing requests formed and actions they carried (benchmarks, tests)."""

    def check_size(self, action: Action, *, what: str) -> None:
        self.sender.check_size(action, what=what)

    async def send(self, actions: Sequence[Action], *, what: str) -> None:
        """Apply every action, or raise; returns only when the service confirmed each one."""
        if not actions:
            return
        keys = [a.key for a in actions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{what}: two actions for one key in one call")
        loop = asyncio.get_running_loop()
        call = _Call(list(actions), what, loop.create_future())
        self._queue.append(call)
        self._queued += len(actions)
        self._senders += 1
        if self._wake is None or self._dispatcher is None or self._dispatcher.done():
            self._wake = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch())
        self._wake.set()
        try:
            await asyncio.shield(call.future)
        except asyncio.CancelledError:
            self._forget(call)
            call.future.cancel()
            raise
        finally:
            self._senders -= 1

    async def close(self) -> None:
        tasks = [t for t in (self._dispatcher, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dispatcher = None

    # -- dispatching ------------------------------------------------------------------------------------------------
    def _forget(self, call: _Call) -> None:
        if call in self._queue:
            self._queue.remove(call)
            self._queued -= len(call.actions) - call.sent
        call.sent = len(call.actions)

    async def _dispatch(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue or len(self._in_flight) >= self._max_in_flight:
                await self._sleep_until_woken(None)
                continue
            due = self._last_sent + self._interval
            if self._queued < self.max_actions and loop.time() < due and self._others_may_join():
                wait = due - loop.time()
                await self._sleep_until_woken(wait if self.in_flight is None else min(wait, IN_FLIGHT_POLL_SECONDS))
                continue
            batch = self._pack()
            if batch.items:
                self._last_sent = loop.time()
                self.requests += 1
                self.actions += len(batch.items)
                task = loop.create_task(self._deliver(batch.items))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)

    def _others_may_join(self) -> bool:
        if self.in_flight is None:
            return not (len(self._queue) == 1 and not self._in_flight)  # one writer alone: never held back
        return self.in_flight() > self._senders

    async def _sleep_until_woken(self, seconds: float | None) -> None:
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._wake is not None:
            self._wake.set()

    def _pack(self) -> _Batch:
        batch = _Batch()
        for call in list(self._queue):
            while call.sent < len(call.actions) and len(batch.items) < self.max_actions:
                action = call.actions[call.sent]
                extra = len(action.body) + (1 if batch.items else 0)
                if action.key in batch.keys or (batch.items and batch.size + extra > self.max_bytes):
                    return batch
                batch.items.append((call, action))
                batch.keys.add(action.key)
                batch.size += extra
                call.sent += 1
                call.open += 1
                self._queued -= 1
            if call.sent == len(call.actions):
                self._queue.remove(call)
            if len(batch.items) >= self.max_actions:
                break
        return batch

    # -- delivering -------------------------------------------------------------------------------------------------
    async def _deliver(self, items: list[tuple[_Call, Action]]) -> None:
        policy = self.sender.policy
        pending = items
        for attempt in range(1, policy.max_attempts + 1):
            try:
                results = await self.sender.post_batch([action for _, action in pending], what="indexing request")
            except DocumentRejectedError:  # one action too large even alone: find out whose, call by call
                await self._deliver_alone(pending)
                return
            except IngestionError as error:
                for call, _ in pending:
                    self._settle(call, error=_for(call, error))
                return
            retry: list[tuple[_Call, Action]] = []
            for call, action in pending:
                status, message = results.get(action.key, (0, "the service did not report this item"))
                if status in (200, 201):
                    self._settle(call)
                elif status in RETRY_ITEM_STATUSES or status >= 500 or status == 0:
                    retry.append((call, action))
                else:
                    detail = f": {message}" if message else ""
                    rejected = f"{call.what}: Azure AI Search rejected chunk {action.key} ({status}){detail}"
                    self._settle(call, error=DocumentRejectedError(rejected))
            retry = [(call, action) for call, action in retry if not call.future.done()]
            if not retry:
                return
            if attempt == policy.max_attempts:
                for call, _ in retry:
                    message = f"{call.what}: chunk(s) still failing after {attempt} attempts"
                    self._settle(call, error=TransientError(message))
                return
            await asyncio.sleep(policy.delay(attempt))
            pending = retry

    async def _deliver_alone(self, items: list[tuple[_Call, Action]]) -> None:
        calls: dict[_Call, list[Action]] = {}
        for call, action in items:
            calls.setdefault(call, []).append(action)
        for call, actions in calls.items():
            try:
                await self.sender.send(actions, what=call.what)
            except IngestionError as error:
                self._settle(call, error=error, count=len(actions))
            else:
                self._settle(call, count=len(actions))

    def _settle(self, call: _Call, *, error: BaseException | None = None, count: int = 1) -> None:
        call.open -= count
        if call.future.done():
            return
        if error is not None:
            self._forget(call)
            call.fail(error)
        elif call.open == 0 and call.sent == len(call.actions):
            call.future.set_result(None)


def _for(call: _Call, error: IngestionError) -> IngestionError:
    """``error`` re-worded for one call (naming its document), same type when it can be built from a message."""
    try:
        return type(error)(f"{call.what}: {error}")
    except TypeError:
        return error
