"""The campaign's global rate limit: spacing, halving on 503, recovery, Retry-After."""

from __future__ import annotations

import pytest

from hmpush.fanout._rate import AdaptiveRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_503_halves_the_rate_once_per_second_and_quiet_seconds_restore_it() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(10_000, clock=clock)
    limiter.on_flow_control(None)
    limiter.on_flow_control(None)  # same burst: one signal
    assert limiter.rate == 5_000
    clock.now += 1.0
    limiter.on_flow_control(None)
    assert limiter.rate == 2_500 and limiter.lowest == 2_500
    for _ in range(3):
        clock.now += 0.5
        limiter.on_accepted()
    assert limiter.rate == 3_500  # +10 % of the target per quiet second, not per request
    for _ in range(20):
        clock.now += 1.0
        limiter.on_accepted()
    assert limiter.rate == 10_000


def test_rate_never_falls_below_one_percent_of_the_target() -> None:
    clock = FakeClock()
    limiter = AdaptiveRateLimiter(1_000, clock=clock)
    for _ in range(20):
        clock.now += 1.0
        limiter.on_flow_control(None)
    assert limiter.rate == 10


@pytest.mark.anyio
async def test_requests_are_spaced_by_tokens_over_rate_and_retry_after_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    monkeypatch.setattr("hmpush.fanout._rate.asyncio.sleep", fake_sleep)
    limiter = AdaptiveRateLimiter(2_000, clock=clock)
    await limiter.acquire(1000)  # first request goes at once
    await limiter.acquire(1000)  # then one every 0.5 s
    await limiter.acquire(1000)
    assert slept == [0.5, 1.0]
    limiter.on_flow_control(retry_after=3.0)
    await limiter.acquire(1000)
    assert slept[-1] == 3.0  # paused for Retry-After, longer than the spacing


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive number of tokens/s"):
        AdaptiveRateLimiter(0)
