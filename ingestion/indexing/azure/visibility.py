"""Read-your-own-writes on Azure AI Search, which is only near-real-time.

The service acknowledges an indexing request once the documents are durable, but reads (searches, ``$count``,
lookups by key) see them only after the next refresh, about a second later, and it promises no bound. Reads made
right after a write can therefore miss it. For this writer that matters in two places:

- ``replace_document`` lists a document's stored chunks to delete the stale ones. If the same document was written
  a moment earlier (two blob events for one blob, a quick re-run), that earlier version's chunks may not be listed
  yet, and its tail past the new chunk count would stay forever: later runs see the document unchanged.
- ``delete_document`` lists the chunks to delete: a document written a moment earlier looks absent and survives.

``OwnWrites`` remembers, per document, what this process last wrote (the chunk keys that must be listed and those
that must not) for ``settle_seconds``, and ``listing`` re-reads until a listing agrees with that, or the time is up.
A listing that agrees shows a refresh newer than our last write, so every earlier write is visible in it too.
Documents this process did not write recently cost nothing extra: the common case (the previous version was written
long ago) reads once. Writes by other processes within the refresh interval are not covered (the next change of the
document repairs its chunks). Whole-index counts lag the same way: a migration's verification waits for them
(``schema.migrate.verify``, up to the index's ``settle_seconds``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DEFAULT_SETTLE_SECONDS = 10.0
"""How long to wait for the service to show our own writes (its refresh takes about 1 s; this is the ceiling)."""
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Expected:
    at: float
    present: frozenset[str]
    absent: frozenset[str]


class OwnWrites:
    """What this process last wrote per document, for ``settle_seconds`` after it wrote it."""

    def __init__(self, settle_seconds: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``settle_seconds`` None: ``DEFAULT_SETTLE_SECONDS`` (read when called, so tests can lower it)."""
        seconds = DEFAULT_SETTLE_SECONDS if settle_seconds is None else settle_seconds
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"settle_seconds must be a finite number >= 0, got {seconds}")
        self.settle_seconds = seconds
        self._clock = clock
        self._recent: OrderedDict[str, _Expected] = OrderedDict()
        """Oldest write first, so forgetting expired entries costs only what expired."""

    def wrote(self, parent_key: str, *, present: set[str], absent: set[str]) -> None:
        """Record that ``parent_key`` now has exactly the chunk keys ``present`` (``absent`` were deleted)."""
        now = self._clock()
        self._forget_before(now - self.settle_seconds)
        self._recent.pop(parent_key, None)
        self._recent[parent_key] = _Expected(now, frozenset(present), frozenset(absent - present))

    def __len__(self) -> int:
        """How many documents' last writes are remembered (only those written within ``settle_seconds``)."""
        return len(self._recent)

    @contextmanager
    def changing(self, parent_key: str) -> Iterator[None]:
        """Around a write of the document: when it fails part-way, what is stored is unknown, so the expectation of
        its last write is dropped (else the next listing would wait for a state that no longer exists)."""
        try:
            yield
        except BaseException:
            self._recent.pop(parent_key, None)
            raise

    async def listing(self, parent_key: str, read: Callable[[], Awaitable[set[str]]]) -> set[str]:
        """``read()`` (the document's stored chunk keys), repeated until it shows this process's last write of the
        document or ``settle_seconds`` after that write have passed; then the last listing."""
        keys = await read()
        expected = self._recent.get(parent_key)
        while expected is not None and not _shows(keys, expected):
            if self._clock() >= expected.at + self.settle_seconds:
                break
            await asyncio.sleep(POLL_SECONDS)
            keys = await read()
        return keys

    def _forget_before(self, horizon: float) -> None:
        while self._recent and next(iter(self._recent.values())).at < horizon:
            self._recent.popitem(last=False)


def _shows(keys: set[str], expected: _Expected) -> bool:
    return expected.present <= keys and not (expected.absent & keys)
