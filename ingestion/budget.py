"""How much work may be in flight at once: a byte budget shared by every document of a pipeline, and slots for the
CPU-bound stages (``CrackSlots``).

The pipeline keeps many documents cracked and chunked ahead so that shared embedding and indexing requests fill up
(``embedding/batching.py``, ``indexing/azure/shared_batches.py``). What bounds that read-ahead is memory, not a
count: each document holds ``charge(size)`` bytes of the budget from before its bytes are read until it is indexed
(or failed). A document larger than the whole budget is let in alone (it holds the whole budget), so it is never
refused here: ``MAX_DOCUMENT_BYTES`` decides that. Waiters are served first come, first served, so a large document
is not starved by a stream of small ones.

The charge is the source size with a floor (``MIN_CHARGE``): a small document still costs its chunks, vectors and
Python objects. Peak memory is a small multiple of the budget (text, chunks and vectors of a document are of the
order of its size); docs/performance.md has the measured figures.

The budget also counts the documents holding it (``documents``). Shared indexing requests wait for more writers
only while some document in flight is not already waiting on one (``indexing/azure/shared_batches.py``): at the end
of a run, or when the whole budget is held by documents waiting to be written, nobody else can join a request, so
holding it back would only add idle time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

MIN_CHARGE = 64 * 1024


class ByteBudget:
    """At most ``capacity`` bytes held at once (see the module docstring)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.used = 0
        self.peak = 0
        self.documents = 0
        """Documents holding part of the budget."""
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def charge(self, size: int) -> int:
        return min(self.capacity, max(MIN_CHARGE, size))

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        """Hold ``charge(size)`` bytes for the duration of the block."""
        amount = self.charge(size)
        await self._acquire(amount)
        self.documents += 1
        try:
            yield
        finally:
            self.documents -= 1
            self._release(amount)

    async def _acquire(self, amount: int) -> None:
        if not self._waiters and self.used + amount <= self.capacity:
            self._take(amount)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((amount, waiter))
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # granted together with the cancellation: give it back
                self._release(amount)
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove((amount, waiter))
                self._wake()
            raise

    def _take(self, amount: int) -> None:
        self.used += amount
        self.peak = max(self.peak, self.used)

    def _release(self, amount: int) -> None:
        self.used -= amount
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            amount, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self.used + amount > self.capacity:
                return
            self._waiters.popleft()
            self._take(amount)
            waiter.set_result(None)


class CrackSlots:
    """At most ``size`` documents in the CPU-bound stages at once; bound to the running loop on first use."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.size)
        return self._semaphore
