"""Client-side pacing for a token-metered API: token bucket + AIMD concurrency + server retry-after gate.

Azure OpenAI meters an embedding deployment in tokens per minute (TPM) but enforces it over short windows (1-10 s), so
a client that sends a minute's worth of tokens at once is refused even though it is under quota. ``RateLimiter`` keeps
several requests in flight and combines three controls:

* ``TokenBucket`` (only when the TPM is known): refills at TPM/60 tokens per second and holds at most
  ``burst_seconds`` of them, so traffic is spread evenly over short windows instead of arriving in bursts.
* ``AimdWindow``: the number of requests in flight. Each success adds ``1/limit`` (about +1 per full window of
  successes); a 429 halves it, once per congestion event (429s of requests sent before the last cut do not cut
  again). With a TPM hint it starts where the hint says it will be needed (``initial_window``) and in slow start
  (TCP's): each success adds 1, so the window doubles per round trip until the first 429 or ``maximum``. That is
  safe only with the hint, whose token bucket, not the window, keeps the rate under the quota; without it a
  doubling window overshoots into 429s and smaller requests (measured: a 300-page ingest at 1.2M TPM made 153
  requests and 22 429s instead of 110 and 13), so the window stays additive.
* A retry-after gate: a 429's ``retry-after-ms``/``retry-after`` pauses *every* request of this limiter until then.

Several instances (Function hosts) sharing one deployment converge without a coordinator: each sees the server's
429s for the shared quota, halves its window and waits the retry-after the server computed for the shared quota, then
grows back additively. Multiplicative decrease with additive increase drives independent senders towards an equal
share of the capacity (Chiu and Jain, 1989, the argument behind TCP congestion control), and the retry-after gate stops
them from hammering the service while it is saturated. The TPM hint is an upper bound per instance, never a promise.

The policy classes are synchronous and take ``now`` explicitly, so they are tested with a fake clock; ``RateLimiter``
takes an injectable ``clock`` and ``sleep``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class TokenBucket:
    """Tokens refill at ``rate`` per second up to ``capacity``; a reservation may overdraw and then waits it out."""

    def __init__(self, *, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("token bucket rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._available = capacity
        self._updated = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self._available

    def reserve(self, tokens: float, now: float) -> float:
        """Take ``tokens`` now and return how many seconds the caller must wait before using them (0 if none)."""
        self._refill(now)
        self._available -= tokens
        return 0.0 if self._available >= 0 else -self._available / self.rate

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._available = min(self.capacity, self._available + (now - self._updated) * self.rate)
            self._updated = now


class AimdWindow:
    """How many requests may be in flight: additive increase on success, multiplicative decrease on throttling."""

    def __init__(
        self,
        *,
        initial: float,
        minimum: float = 1.0,
        maximum: float = 32.0,
        decrease: float = 0.5,
        slow_start: bool = False,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError("need 1 <= minimum <= initial <= maximum")
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        self.limit = float(initial)
        self.minimum = float(minimum)
        self.maximum = float(maximum)
        self.decrease = decrease
        self.epoch = 0
        """Counts the cuts; a request remembers the epoch it started in."""
        self.slow_start = slow_start
        """Multiplicative increase (+1 per success) until the first cut."""

    @property
    def slots(self) -> int:
        return max(1, int(self.limit))

    def on_success(self) -> None:
        step = 1.0 if self.slow_start else 1.0 / self.limit
        self.limit = min(self.maximum, self.limit + step)

    def on_throttle(self, started_epoch: int) -> bool:
        """Cut the window unless it was already cut after this request started; return whether it was cut."""
        if started_epoch != self.epoch:
            return False
        self.limit = max(self.minimum, self.limit * self.decrease)
        self.epoch += 1
        self.slow_start = False
        return True


def initial_window(
    tokens_per_minute: int | None, request_tokens: int, *, floor: int = 4, ceiling: int = 32, latency: float = 1.0
) -> int:
    """Requests in flight needed to carry the TPM hint with requests of ``request_tokens`` answered in about
    ``latency`` seconds (an assumption; the window adapts from there), within ``[floor, ceiling]``."""
    if not tokens_per_minute:
        return floor
    needed = -(-int(tokens_per_minute / 60 * latency) // max(1, request_tokens))
    return max(floor, min(ceiling, needed))


class Backoff:
    """Exponential backoff with jitter: attempt ``n`` waits between half and all of ``min(cap, base * 2**n)``."""

    def __init__(self, *, base: float = 0.5, cap: float = 20.0, rng: Callable[[], float] = random.random) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rng = rng

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 30))
        return ceiling * (0.5 + 0.5 * self._rng())


@dataclass
class Permit:
    """One request's right to be in flight; hand it back exactly once through the limiter."""

    tokens: int
    epoch: int
    released: bool = False


class RateLimiter:
    """Admits requests under the AIMD window, the token bucket and the retry-after gate (see module docstring)."""

    def __init__(
        self,
        *,
        tokens_per_minute: int | None = None,
        burst_seconds: float = 1.0,
        initial_concurrency: int = 4,
        max_concurrency: int = 32,
        slow_start: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        if slow_start is None:  # only with a TPM hint (see the module docstring)
            slow_start = tokens_per_minute is not None
        self.window = AimdWindow(initial=initial_concurrency, maximum=max_concurrency, slow_start=slow_start)
        self.bucket: TokenBucket | None = None
        if tokens_per_minute is not None:
            rate = tokens_per_minute / 60.0
            self.bucket = TokenBucket(rate=rate, capacity=max(1.0, rate * burst_seconds), now=clock())
        self._paused_until = 0.0
        self._in_flight = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_request_tokens(self) -> int | None:
        """Largest request the bucket holds at once (None without a TPM): batches bigger than this arrive as bursts."""
        return None if self.bucket is None else int(self.bucket.capacity)

    def paused_for(self) -> float:
        """Seconds left before the server's last retry-after expires."""
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, tokens: int) -> Permit:
        """Wait for a slot in the window, the retry-after gate and the bucket; the caller then sends at once."""
        await self._take_slot()
        permit = Permit(tokens=tokens, epoch=self.window.epoch)
        try:
            await self._wait_gate()
            if self.bucket is not None:
                wait = self.bucket.reserve(tokens, self._clock())
                if wait > 0:
                    await self._sleep(wait)
                await self._wait_gate()
        except BaseException:
            self._release(permit)
            raise
        return permit

    def succeeded(self, permit: Permit) -> None:
        if not permit.released:
            self.window.on_success()
        self._release(permit)

    def throttled(self, permit: Permit, *, retry_after: float | None) -> None:
        """The server answered 429: cut the window (once per congestion event) and pause everyone for retry-after."""
        if not permit.released:
            self.window.on_throttle(permit.epoch)
            if retry_after is not None and retry_after > 0:
                self._paused_until = max(self._paused_until, self._clock() + retry_after)
        self._release(permit)

    def failed(self, permit: Permit) -> None:
        """Any other outcome (error, timeout): free the slot without judging the rate."""
        self._release(permit)

    async def _wait_gate(self) -> None:
        while (left := self.paused_for()) > 0:
            await self._sleep(left)

    async def _take_slot(self) -> None:
        """First come, first served: a released slot is handed straight to the oldest waiter."""
        if not self._waiters and self._in_flight < self.window.slots:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():  # the slot arrived together with the cancellation
                self._in_flight -= 1
                self._wake()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _release(self, permit: Permit) -> None:
        if permit.released:
            return
        permit.released = True
        self._in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.window.slots:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
