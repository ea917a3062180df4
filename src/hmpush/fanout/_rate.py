"""A global rate limit in tokens per second that backs off on flow control (AIMD) and recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# On HTTP 503 the rate halves (at most once per second, so one burst of 503s is one signal);
# after each second without one it climbs back by a tenth of the configured rate.
DECREASE_FACTOR = 0.5
INCREASE_FRACTION = 0.1
ADJUST_INTERVAL = 1.0
MINIMUM_FRACTION = 0.01
# Without a configured rate there is nothing to halve; flow control then pauses sending.
UNLIMITED_PAUSE = 1.0


class AdaptiveRateLimiter:
    """Spaces requests so that tokens per second stay under a rate that adapts to 503s."""

    def __init__(
        self, tokens_per_second: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError(f"rate must be a positive number of tokens/s, got {tokens_per_second}")
        self.target = tokens_per_second
        self.rate = tokens_per_second
        self.lowest = tokens_per_second
        self._clock = clock
        self._next_start = 0.0
        self._paused_until = 0.0
        self._last_decrease = -ADJUST_INTERVAL
        self._last_change = clock()

    async def acquire(self, tokens: int) -> None:
        """Wait until `tokens` more tokens may be sent."""
        now = self._clock()
        start = max(now, self._next_start, self._paused_until)
        if self.rate is not None:
            self._next_start = start + tokens / self.rate
        if start > now:
            await asyncio.sleep(start - now)

    def on_accepted(self) -> None:
        """A request went through: recover the rate step by step."""
        if self.rate is None or self.target is None or self.rate >= self.target:
            return
        now = self._clock()
        if now - self._last_change >= ADJUST_INTERVAL:
            self.rate = min(self.target, self.rate + self.target * INCREASE_FRACTION)
            self._last_change = now

    def on_flow_control(self, retry_after: float | None) -> None:
        """The server answered 503: slow down, and pause for its `Retry-After` if it gave one."""
        now = self._clock()
        pause = retry_after if retry_after is not None else 0.0
        if self.rate is None:
            pause = max(pause, UNLIMITED_PAUSE)
        self._paused_until = max(self._paused_until, now + pause)
        if self.rate is None or self.target is None:
            return
        if now - self._last_decrease >= ADJUST_INTERVAL:
            floor = self.target * MINIMUM_FRACTION
            self.rate = max(floor, self.rate * DECREASE_FACTOR)
            self.lowest = min(self.lowest or self.rate, self.rate)
            self._last_decrease = now
            self._last_change = now
