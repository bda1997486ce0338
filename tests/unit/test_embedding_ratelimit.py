"""The rate limiter's policy, on a fake clock: no real sleeping."""

from __future__ import annotations

import asyncio

import pytest

from ingestion.embedding.ratelimit import AimdWindow, Backoff, RateLimiter, TokenBucket, initial_window


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# -- token bucket -----------------------------------------------------------------------------------------------------
def test_bucket_starts_full_then_makes_an_overdraw_wait_for_the_refill() -> None:
    bucket = TokenBucket(rate=1000, capacity=1000, now=0.0)
    assert bucket.reserve(600, 0.0) == 0.0
    assert bucket.reserve(400, 0.0) == 0.0
    assert bucket.reserve(500, 0.0) == pytest.approx(0.5)
    # the debt carries: the next reservation queues behind it
    assert bucket.reserve(1000, 0.0) == pytest.approx(1.5)


def test_bucket_refills_at_its_rate_up_to_capacity() -> None:
    bucket = TokenBucket(rate=100, capacity=300, now=0.0)
    bucket.reserve(300, 0.0)
    assert bucket.available(1.0) == pytest.approx(100)
    assert bucket.available(60.0) == pytest.approx(300)


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=10, now=0.0)


# -- AIMD -------------------------------------------------------------------------------------------------------------
def test_window_grows_about_one_slot_per_window_of_successes() -> None:
    window = AimdWindow(initial=4, maximum=32)
    for _ in range(4):
        window.on_success()
    assert 4.9 < window.limit < 5.0
    assert window.slots == 4
    window.on_success()
    assert window.slots == 5


def test_window_halves_once_per_congestion_event() -> None:
    window = AimdWindow(initial=16, maximum=32)
    epoch = window.epoch
    # eight requests sent in the same epoch all come back 429: one cut, not eight
    cuts = [window.on_throttle(epoch) for _ in range(8)]
    assert cuts == [True] + [False] * 7
    assert window.limit == 8
    # a request sent after the cut and throttled again cuts again
    assert window.on_throttle(window.epoch) is True
    assert window.limit == 4


def test_window_stays_within_its_bounds() -> None:
    window = AimdWindow(initial=2, minimum=1, maximum=3)
    for _ in range(5):
        window.on_throttle(window.epoch)
    assert window.limit == 1
    for _ in range(100):
        window.on_success()
    assert window.limit == 3
    with pytest.raises(ValueError):
        AimdWindow(initial=0)


# -- backoff ----------------------------------------------------------------------------------------------------------
def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    low = Backoff(base=0.5, cap=8.0, rng=lambda: 0.0)
    high = Backoff(base=0.5, cap=8.0, rng=lambda: 1.0)
    assert [low.delay(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert high.delay(10_000) == 8.0


# -- the limiter ------------------------------------------------------------------------------------------------------
async def test_limiter_paces_tokens_at_the_tpm() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=60_000, burst_seconds=1.0, clock=clock, sleep=clock.sleep)
    assert limiter.max_request_tokens == 1000
    start = clock.now
    for _ in range(10):
        permit = await limiter.acquire(500)
        limiter.succeeded(permit)
    # 5,000 tokens at 1,000/s with 1,000 up front: the last one may go at t+4 s, not sooner
    assert clock.now - start == pytest.approx(4.0)


async def test_limiter_without_tpm_never_sleeps_for_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(20):
        limiter.succeeded(await limiter.acquire(1_000_000))
    assert clock.sleeps == []
    assert limiter.max_request_tokens is None


async def test_retry_after_pauses_every_later_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(initial_concurrency=4, clock=clock, sleep=clock.sleep)
    first = await limiter.acquire(10)
    second = await limiter.acquire(10)
    limiter.throttled(first, retry_after=2.5)
    assert limiter.paused_for() == pytest.approx(2.5)
    limiter.succeeded(second)
    before = clock.now
    limiter.succeeded(await limiter.acquire(10))
    assert clock.now - before == pytest.approx(2.5)
    assert limiter.window.limit == pytest.approx(2.0 + 1 / 2.0 + 1 / 2.5)  # halved, then two successes


async def test_concurrency_is_bounded_by_the_window_and_handed_over_in_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(initial_concurrency=2, clock=clock, sleep=clock.sleep)
    a = await limiter.acquire(1)
    b = await limiter.acquire(1)
    third = asyncio.create_task(limiter.acquire(1))
    fourth = asyncio.create_task(limiter.acquire(1))
    await asyncio.sleep(0)
    assert not third.done() and not fourth.done()
    assert limiter.in_flight == 2
    limiter.failed(a)
    await asyncio.sleep(0)
    assert third.done() and not fourth.done()
    limiter.failed(b)
    limiter.failed(third.result())
    last = await fourth
    assert limiter.in_flight == 1
    limiter.succeeded(last)
    assert limiter.in_flight == 0


async def test_a_throttle_shrinks_the_window_for_new_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(initial_concurrency=4, clock=clock, sleep=clock.sleep)
    permits = [await limiter.acquire(1) for _ in range(4)]
    for permit in permits:
        limiter.throttled(permit, retry_after=None)
    assert limiter.window.limit == 2
    held = [await limiter.acquire(1) for _ in range(2)]
    blocked = asyncio.create_task(limiter.acquire(1))
    await asyncio.sleep(0)
    assert not blocked.done()
    limiter.succeeded(held[0])
    await asyncio.sleep(0)
    assert blocked.done()
    limiter.succeeded(held[1])
    limiter.succeeded(blocked.result())
    assert limiter.in_flight == 0


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    clock = FakeClock()
    limiter = RateLimiter(initial_concurrency=1, clock=clock, sleep=clock.sleep)
    held = await limiter.acquire(1)
    waiting = asyncio.create_task(limiter.acquire(1))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    limiter.failed(held)
    assert limiter.in_flight == 0
    limiter.succeeded(await limiter.acquire(1))
    assert limiter.in_flight == 0


async def test_releasing_twice_counts_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    permit = await limiter.acquire(1)
    limiter.succeeded(permit)
    limiter.failed(permit)
    limiter.throttled(permit, retry_after=5.0)
    assert limiter.in_flight == 0
    assert limiter.paused_for() == 0.0


# -- ramp-up ----------------------------------------------------------------------------------------------------------
def test_slow_start_doubles_per_window_until_the_first_throttle_then_grows_additively() -> None:
    window = AimdWindow(initial=4, maximum=32, slow_start=True)
    for _ in range(4):  # one window of successes
        window.on_success()
    assert window.limit == 8
    for _ in range(8):
        window.on_success()
    assert window.limit == 16
    assert window.on_throttle(window.epoch) is True
    assert window.limit == 8 and window.slow_start is False
    for _ in range(8):  # after a cut: about +1 per window, never back to doubling
        window.on_success()
    assert 8.9 < window.limit < 9.0
    for _ in range(1_000):
        window.on_success()
    assert window.limit == 32


def test_the_limiter_ramps_from_4_to_its_maximum_in_a_few_round_trips() -> None:
    limiter = RateLimiter(tokens_per_minute=10_000_000, initial_concurrency=4, max_concurrency=32)
    round_trips = 0
    while limiter.window.slots < 32:
        for _ in range(limiter.window.slots):
            limiter.window.on_success()
        round_trips += 1
    assert round_trips == 3  # 4 -> 8 -> 16 -> 32; additive increase took ~80 windows of successes
    assert RateLimiter().window.slow_start is False  # without a TPM hint no bucket guards a doubling window
    assert RateLimiter(tokens_per_minute=600_000, slow_start=False).window.slow_start is False


def test_initial_window_from_the_tpm_hint() -> None:
    assert initial_window(None, 16_384) == 4
    assert initial_window(1_200_000, 16_384) == 4  # 20,000 tokens/s: two requests a second
    assert initial_window(10_000_000, 16_384) == 11  # 166,667 tokens/s in 16k-token requests of ~1 s
    assert initial_window(100_000_000, 16_384) == 32
