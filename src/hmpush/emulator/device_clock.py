"""The delivery side's clock: the server's time plus an offset that tests can move forward.

Quotas per day, ttl expiry and the 4 h / 12 h / 24 h / 30 day live-view and widget rules all
depend on time. Moving this clock through the admin API lets a test over HTTP see tomorrow's
quota or an expired ttl without waiting. The server stamps each accepted request with this
clock too, so the request log, inboxes, quotas, receipts and receipt retries all tell the same
time. Only the flow-control limits (HTTP 503, 80300029) stay on real time.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

__all__ = ["CLOCK_SCHEMA", "advance", "device_now_ms", "offset_ms", "server_now_ms"]

CLOCK_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms INTEGER NOT NULL
);
"""


def server_now_ms(emulator: Any) -> int:
    """The server's now in ms: the emulator's `clock_ms()` if it has one, else wall time."""
    clock = getattr(emulator, "clock_ms", None)
    return int(clock()) if callable(clock) else time.time_ns() // 1_000_000


def offset_ms(conn: sqlite3.Connection) -> int:
    """How far the devices' clock is ahead of the server's."""
    row = conn.execute("SELECT offset_ms FROM device_clock WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def device_now_ms(conn: sqlite3.Connection, emulator: Any) -> int:
    """Now, as the devices see it."""
    return server_now_ms(emulator) + offset_ms(conn)


def advance(conn: sqlite3.Connection, by_ms: int) -> int:
    """Move the devices' clock forward by `by_ms`; returns the new offset."""
    row = conn.execute(
        "INSERT INTO device_clock (id, offset_ms) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET offset_ms = offset_ms + excluded.offset_ms"
        " RETURNING offset_ms",
        (by_ms,),
    ).fetchone()
    return int(row[0])
