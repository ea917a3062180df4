"""Flow control: a per-project token bucket counted in push tokens per second (HTTP 503)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "TestMessageLimiter", "retry_after_header"]

# Refills are float sums; a bucket that is full "up to rounding" is full.
_EPSILON = 1e-9


@dataclass(slots=True)
class _Bucket:
    level: float
    updated_at: float


class RateLimiter:
    """Token buckets, one per project, refilled at `rate` push tokens per second.

    A bucket holds at most one second's worth of tokens. A request may take more tokens than
    the bucket holds: it is admitted when the bucket is full and leaves a debt that later
    requests wait out, so large batches pass at the configured average rate instead of never.
    """

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate_limit_tokens_per_second must be > 0 (or None to switch it off)")
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, project_id: str, tokens: int) -> float | None:
        """Take `tokens` from the project's bucket; None if admitted, else seconds to wait."""
        rate = self.rate
        if rate is None:
            return None
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(project_id)
            if bucket is None:
                bucket = self._buckets[project_id] = _Bucket(rate, now)
            bucket.level = min(rate, bucket.level + (now - bucket.updated_at) * rate)
            bucket.updated_at = now
            needed = min(tokens, rate)
            if bucket.level + _EPSILON >= needed:
                bucket.level -= tokens
                return None
            return (needed - bucket.level) / rate

    def reset(self) -> None:
        """Forget every bucket (all projects start full)."""
        with self._lock:
            self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class TestMessageLimiter:
    """Test messages sent "too frequently" (80300029): at most `per_minute` per project in any
    60 seconds.

    Huawei documents the code but not its threshold, so the limit is off unless configured. The
    documented daily test quota (1000 accepted requests, receipt 256 beyond it) is a delivery
    matter and lives in the device-side quotas.
    """

    __test__ = False  # not a pytest class despite the name

    def __init__(
        self, per_minute: int | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if per_minute is not None and per_minute < 1:
            raise ValueError("test_requests_per_minute must be >= 1 (or None to switch it off)")
        self.per_minute = per_minute
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, project_id: str) -> bool:
        """Count one test request; False if the project already sent its share this minute."""
        if self.per_minute is None:
            return True
        now = self._clock()
        with self._lock:
            sent = self._sent.setdefault(project_id, deque())
            while sent and sent[0] <= now - 60.0:
                sent.popleft()
            if len(sent) >= self.per_minute:
                return False
            sent.append(now)
            return True

    def reset(self) -> None:
        """Forget every project's history."""
        with self._lock:
            self._sent.clear()
