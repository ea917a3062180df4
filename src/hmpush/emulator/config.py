"""Settings of one local Push server instance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DATABASE_FILE_NAME", "EmulatorConfig"]

DATABASE_FILE_NAME = "emulator.sqlite3"


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How a local Push server behaves; the defaults mirror Huawei's documented limits."""

    # Where the SQLite file lives; None keeps all state in memory (lost at exit).
    data_dir: Path | None = None
    # Per-project flow control in push tokens per second (HTTP 503); None switches it off.
    rate_limit_tokens_per_second: float | None = None
    # Accepted test messages per project per day (spec 3.2: 1000); beyond it the requests are
    # still accepted and every token gets receipt 256 (the device side applies this quota).
    test_requests_per_day: int = 1000
    # Test messages "sent too frequently" (80300029): Huawei publishes no threshold, so this
    # limit per project per minute is off unless set.
    test_requests_per_minute: int | None = None
    # RSA size of the keys the admin API generates; 2048 signs and verifies fastest.
    default_key_bits: int = 2048

    @property
    def database_path(self) -> Path | None:
        """The SQLite file, or None when state is kept in memory."""
        return None if self.data_dir is None else self.data_dir / DATABASE_FILE_NAME
