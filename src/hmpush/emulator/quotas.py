"""Every device-side limit the local server applies, in one table, and the counters behind them.

Each limit names the spec section it comes from. Counters are stored per window so that
deciding a quota for 1000 devices is one read and one `executemany`, whatever the inbox size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

__all__ = [
    "COUNTER_SCHEMA",
    "DAY_MS",
    "DEFAULT_MARKETING_DAILY_LIMIT",
    "DEFAULT_TEST_MESSAGE_DAILY_QUOTA",
    "HOUR_MS",
    "LIVE_VIEW_MAX_LIFETIME_MS",
    "LIVE_VIEW_NOT_EXIST_BLOCK_MS",
    "LIVE_VIEW_REST_RECREATE_MS",
    "LIVE_VIEW_STALE_END_MS",
    "OFFLINE_CACHE_MAX_MESSAGES",
    "WIDGET_LIMIT_BLOCK_MS",
    "WIDGET_REMOVED_BLOCK_MS",
    "UpdateWindow",
    "add_device_counts",
    "bump_project_count",
    "day_start",
    "device_counts",
    "forget_old_counters",
    "live_view_update_windows",
    "widget_daily_limit",
]

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# §5.2 / §13: MARKETING notifications per app per device per natural day (5 only for licensed
# news apps; settable per app through the admin API).
DEFAULT_MARKETING_DAILY_LIMIT = 2
# §3.2 / §13: accepted test requests per project per day; beyond it every token gets receipt 256.
DEFAULT_TEST_MESSAGE_DAILY_QUOTA = 1000
# §14 / §11.3 result 15: offline cache per device.
OFFLINE_CACHE_MAX_MESSAGES = 120
# §11.3 result 261: refreshes of a removed widget are blocked for 30 days.
WIDGET_REMOVED_BLOCK_MS = 30 * DAY_MS
# §11.3 result 262: a widget whose refresh count is reached on the device is blocked for a day.
WIDGET_LIMIT_BLOCK_MS = DAY_MS
# §8.1 / §11.3 result 265: updating or ending an unknown activityId blocks it for 24 h.
LIVE_VIEW_NOT_EXIST_BLOCK_MS = 24 * HOUR_MS
# §8.1 / §11.3 result 269: the same activityId cannot be created through REST again within 12 h.
LIVE_VIEW_REST_RECREATE_MS = 12 * HOUR_MS
# §8: a live view without an update for 4 h is ended; none lives longer than 8 h.
LIVE_VIEW_STALE_END_MS = 4 * HOUR_MS
LIVE_VIEW_MAX_LIFETIME_MS = 8 * HOUR_MS


def widget_daily_limit(app_released: bool) -> int:
    """§6 / §13: refreshes per widget per device per day: 2 for released apps, 5 otherwise."""
    return 2 if app_released else 5


@dataclass(frozen=True, slots=True)
class UpdateWindow:
    """At most `limit` updates of one live view within any `length_ms` (a sliding window)."""

    length_ms: int
    limit: int


_LIVE_VIEW_WINDOWS = (UpdateWindow(5 * MINUTE_MS, 10), UpdateWindow(HOUR_MS, 60))
_FAST_LIVE_VIEW_WINDOWS = (UpdateWindow(5 * MINUTE_MS, 30), UpdateWindow(HOUR_MS, 180))
_FAST_LIVE_VIEW_EVENTS = frozenset({"TAXI", "SCORE"})


def live_view_update_windows(event: str | None) -> tuple[UpdateWindow, ...]:
    """§8.16: 10 per 5 min and 60 per hour per live view; TAXI and SCORE 30 and 180."""
    return _FAST_LIVE_VIEW_WINDOWS if event in _FAST_LIVE_VIEW_EVENTS else _LIVE_VIEW_WINDOWS


def day_start(now_ms: int) -> int:
    """Start of the natural day containing `now_ms`; days are UTC days (the spec names no zone)."""
    return now_ms - now_ms % DAY_MS


COUNTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_counters (
    device_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (kind, window_start, device_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS project_counters (
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (kind, window_start, project_id)
) WITHOUT ROWID;
"""


def device_counts(
    conn: sqlite3.Connection, kind: str, window_start: int, device_ids: Iterable[int]
) -> dict[int, int]:
    """How much of counter `kind` each device used in the window (absent = 0); one query."""
    rows = conn.execute(
        "SELECT device_id, used FROM device_counters WHERE kind = ? AND window_start = ?"
        " AND device_id IN (SELECT value FROM json_each(?))",
        (kind, window_start, orjson.dumps(list(device_ids))),
    )
    return dict(rows)


def add_device_counts(
    conn: sqlite3.Connection, kind: str, window_start: int, device_ids: Iterable[int]
) -> None:
    """Count one more use of `kind` for each device."""
    conn.execute(
        "INSERT INTO device_counters (device_id, kind, window_start, used)"
        " SELECT value, ?, ?, 1 FROM json_each(?) WHERE true"
        " ON CONFLICT (kind, window_start, device_id) DO UPDATE SET used = used + 1",
        (kind, window_start, orjson.dumps(list(device_ids))),
    )


def bump_project_count(
    conn: sqlite3.Connection, project_id: str, kind: str, window_start: int
) -> int:
    """Count one more use of `kind` for the project and return the new total."""
    row = conn.execute(
        "INSERT INTO project_counters (project_id, kind, window_start, used) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (kind, window_start, project_id) DO UPDATE SET used = used + 1"
        " RETURNING used",
        (project_id, kind, window_start),
    ).fetchone()
    return int(row[0])


def forget_old_counters(conn: sqlite3.Connection, now_ms: int) -> None:
    """Drop counters of windows that ended more than a day ago."""
    cutoff = day_start(now_ms) - DAY_MS
    conn.execute("DELETE FROM device_counters WHERE window_start < ?", (cutoff,))
    conn.execute("DELETE FROM project_counters WHERE window_start < ?", (cutoff,))
