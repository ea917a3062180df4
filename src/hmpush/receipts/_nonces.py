"""A bounded in-memory nonce store for callback replay protection."""

from __future__ import annotations

import heapq
import threading

from hmpush.receipts._signing import ReplayedNonceError, StaleCallbackError

__all__ = ["DEFAULT_MAX_NONCES", "MemoryNonceCache"]

DEFAULT_MAX_NONCES = 100_000


class MemoryNonceCache:
    """Remembers nonces until they leave the timestamp window, holding at most `max_entries`.

    When full, the oldest nonce is forgotten and its timestamp becomes a floor: any callback not
    newer than the floor is refused as stale, so forgetting never reopens a replay.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_NONCES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._seen: dict[str, int] = {}
        self._by_age: list[tuple[int, str]] = []
        self._floor_ms = -1
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, nonce: str, timestamp_ms: int, *, now_ms: int, window_ms: int) -> None:
        """Record `nonce`; raise `ReplayedNonceError` if seen, `StaleCallbackError` if too old."""
        with self._lock:
            self._forget_before(now_ms - window_ms)
            if nonce in self._seen:
                raise ReplayedNonceError(f"nonce {nonce!r} was already used")
            if timestamp_ms <= self._floor_ms:
                raise StaleCallbackError(
                    "callback is older than the oldest nonce the receiver still remembers"
                )
            self._seen[nonce] = timestamp_ms
            heapq.heappush(self._by_age, (timestamp_ms, nonce))
            while len(self._seen) > self.max_entries:
                oldest_ms, oldest = heapq.heappop(self._by_age)
                del self._seen[oldest]
                self._floor_ms = max(self._floor_ms, oldest_ms)

    def _forget_before(self, cutoff_ms: int) -> None:
        # Nonces older than the window need no memory: their timestamps are refused anyway.
        while self._by_age and self._by_age[0][0] < cutoff_ms:
            _, nonce = heapq.heappop(self._by_age)
            del self._seen[nonce]
