"""Fail fast when a service is down: one shared "is it answering at all?" state per service client.

Without it, an unreachable Azure OpenAI or Azure AI Search endpoint costs every document its full retry budget (about
two minutes each, many documents at a time) before the run ends with hundreds of identical failures. A ``Circuit`` is
shared by every request of one client (the process-wide embedder, one index writer): attempts report whether the
service answered (any HTTP status counts as an answer) or not (connection refused or lost, timeout). Once it has not
answered for ``down_after`` seconds, counted from the start of the first unanswered attempt, the circuit *opens*:
every attempt raises ServiceDownError at once, which stops a CLI run with that one error and makes a queue message
fail fast (the Functions host retries it later). While open, one probe attempt is let through every
``probe_every`` seconds; the first answer closes the circuit again.

Throttling (429) and server errors (5xx) are answers: the service is up and the adapters' own retries handle them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingestion.errors import ServiceDownError

DEFAULT_DOWN_AFTER_SECONDS = 45.0
DEFAULT_PROBE_SECONDS = 10.0


class Circuit:
    def __init__(
        self,
        service: str,
        *,
        down_after: float = DEFAULT_DOWN_AFTER_SECONDS,
        probe_every: float = DEFAULT_PROBE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if down_after <= 0 or probe_every <= 0:
            raise ValueError("down_after and probe_every must be positive")
        self.service = service
        self.down_after = down_after
        self.probe_every = probe_every
        self._clock = clock
        self._silent_since: float | None = None
        self._last_answer = float("-inf")
        self._reason = ""
        self._last_probe = float("-inf")

    @property
    def is_open(self) -> bool:
        since = self._silent_since
        return since is not None and self._clock() - since >= self.down_after

    def check(self) -> None:
        """Before an attempt: raise ServiceDownError while the circuit is open (except for a periodic probe)."""
        if not self.is_open:
            return
        now = self._clock()
        if now - self._last_probe >= self.probe_every:
            self._last_probe = now
            return
        assert self._silent_since is not None
        raise ServiceDownError(
            f"{self.service} has not answered for {now - self._silent_since:.0f} s ({self._reason}); "
            "stopping instead of retrying every document (SERVICE_DOWN_SECONDS)"
        )

    def answered(self) -> None:
        """The service answered (any HTTP status): it is up."""
        self._silent_since = None
        self._last_answer = self._clock()

    def unanswered(self, reason: str, *, started: float | None = None) -> None:
        """An attempt that began at ``started`` (clock time; default now) got no answer at all."""
        when = max(self._clock() if started is None else started, self._last_answer)
        if self._silent_since is None or when < self._silent_since:
            self._silent_since = when
        self._reason = reason

    def now(self) -> float:
        return self._clock()
