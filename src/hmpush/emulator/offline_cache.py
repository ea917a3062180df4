"""Messages waiting for offline devices (spec §3.2 ttl and collapseKey, §14, result 15).

A held message waits until the device comes online or its ttl runs out. Only the newest message
of a collapse group is kept; a device holds at most 120 messages and drops the oldest beyond.
Choice: a message that leaves the cache undelivered (collapsed, overflowed or expired) gets
receipt 15, so a sender learns about every token eventually.

Held rows are kept small (ids, the category only when the app's differs from the requested one,
collapse group, expiry): token and bundle name are read from the core's `devices` and `apps`
tables when a held message leaves the cache.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence

import orjson

from hmpush.codes import ReceiptResult
from hmpush.emulator.delivery_model import MessageFacts, Outcome, TargetDevice, load_facts
from hmpush.emulator.quotas import OFFLINE_CACHE_MAX_MESSAGES

__all__ = ["OFFLINE_SCHEMA", "expire", "held", "hold", "release"]

OFFLINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS offline_queue (
    device_id INTEGER NOT NULL,
    msg_id INTEGER NOT NULL,
    category TEXT,
    collapse_key INTEGER,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS offline_queue_expiry ON offline_queue (expires_at_ms);
CREATE TABLE IF NOT EXISTS offline_held (
    device_id INTEGER PRIMARY KEY,
    held INTEGER NOT NULL
);
"""
# `offline_held` counts each device's held messages, so the 120-message check reads one small
# row per device instead of counting every held message of 1000 devices on each request.

# One held copy: device_id, msg_id, category (None: the message's requested category).
_Held = tuple[int, int, str | None]
_DROPPED = ReceiptResult.OFFLINE_MESSAGE_CONTROL


def hold(
    conn: sqlite3.Connection,
    facts: MessageFacts,
    devices: Sequence[TargetDevice],
    now_ms: int,
    *,
    with_outcomes: bool = True,
) -> list[Outcome]:
    """Keep `facts` for offline devices; returns the outcomes of the messages it displaced
    (left out when `with_outcomes` is False: nobody will receive their receipts)."""
    if not devices:
        return []
    device_ids = orjson.dumps([device.device_id for device in devices])
    displaced: list[_Held] = []
    if facts.collapse_key is not None:
        displaced += conn.execute(
            "DELETE FROM offline_queue WHERE collapse_key = ?"
            " AND device_id IN (SELECT value FROM json_each(?))"
            " RETURNING device_id, msg_id, category",
            (facts.collapse_key, device_ids),
        ).fetchall()
        _count_held(conn, (row[0] for row in displaced), -1)
    conn.executemany(
        "INSERT OR IGNORE INTO offline_queue"
        " (device_id, msg_id, category, collapse_key, expires_at_ms) VALUES (?, ?, ?, ?, ?)",
        [
            (
                device.device_id,
                facts.msg_id,
                None if device.effective_category == facts.category else device.effective_category,
                facts.collapse_key,
                facts.expires_at_ms,
            )
            for device in devices
        ],
    )
    conn.execute(
        "INSERT INTO offline_held (device_id, held) SELECT value, 1 FROM json_each(?) WHERE true"
        " ON CONFLICT (device_id) DO UPDATE SET held = held + 1",
        (device_ids,),
    )
    displaced += _overflow(conn, device_ids)
    return _outcomes(conn, displaced, now_ms) if with_outcomes else []


def _overflow(conn: sqlite3.Connection, device_ids: bytes) -> list[_Held]:
    """Drop the oldest held messages of devices holding more than the cache keeps."""
    dropped: list[_Held] = []
    while True:  # usually one pass: each request adds one message per device
        full = conn.execute(
            "SELECT device_id FROM offline_held WHERE held > ?"
            " AND device_id IN (SELECT value FROM json_each(?))",
            (OFFLINE_CACHE_MAX_MESSAGES, device_ids),
        ).fetchall()
        if not full:
            return dropped
        rows = conn.execute(
            "SELECT q.device_id, q.msg_id, q.category FROM json_each(?) j"
            " JOIN offline_queue q ON q.device_id = j.value"
            " AND q.msg_id = (SELECT min(msg_id) FROM offline_queue WHERE device_id = j.value)",
            (orjson.dumps([row[0] for row in full]),),
        ).fetchall()
        conn.executemany(
            "DELETE FROM offline_queue WHERE device_id = ? AND msg_id = ?",
            [(row[0], row[1]) for row in rows],
        )
        _count_held(conn, (row[0] for row in rows), -1)
        dropped += rows


def _count_held(conn: sqlite3.Connection, device_ids: Iterable[int], change: int) -> None:
    """Add `change` to the held count of each device, once per time it is listed."""
    counts = Counter(device_ids)
    conn.executemany(
        "UPDATE offline_held SET held = held + ? WHERE device_id = ?",
        [(change * times, device_id) for device_id, times in counts.items()],
    )


def release(
    conn: sqlite3.Connection, device_id: int, now_ms: int
) -> tuple[list[tuple[MessageFacts, TargetDevice]], list[Outcome]]:
    """Empty a device's cache: messages still within ttl (oldest first) and expired outcomes."""
    rows = conn.execute(
        "DELETE FROM offline_queue WHERE device_id = ?"
        " RETURNING device_id, msg_id, category, expires_at_ms",
        (device_id,),
    ).fetchall()
    conn.execute("DELETE FROM offline_held WHERE device_id = ?", (device_id,))
    rows.sort(key=lambda row: row[1])
    live: list[_Held] = [row[:3] for row in rows if row[3] > now_ms]
    expired: list[_Held] = [row[:3] for row in rows if row[3] <= now_ms]
    facts = load_facts(conn, (row[1] for row in live))
    devices = _devices(conn, {device_id})
    pending = [(facts[row[1]], _target(devices, facts[row[1]], row)) for row in live]
    return pending, _outcomes(conn, expired, now_ms)


def expire(conn: sqlite3.Connection, now_ms: int) -> list[Outcome]:
    """Drop every held message whose ttl has run out."""
    rows = conn.execute(
        "DELETE FROM offline_queue WHERE expires_at_ms <= ? RETURNING device_id, msg_id, category",
        (now_ms,),
    ).fetchall()
    _count_held(conn, (row[0] for row in rows), -1)
    return _outcomes(conn, rows, now_ms)


def held(conn: sqlite3.Connection, device_id: int) -> list[dict[str, object]]:
    """What waits for a device, oldest first (admin view)."""
    rows = conn.execute(
        "SELECT m.request_id, m.push_type, q.collapse_key, q.expires_at_ms"
        " FROM offline_queue q JOIN delivered_messages m ON m.msg_id = q.msg_id"
        " WHERE q.device_id = ? ORDER BY q.msg_id",
        (device_id,),
    )
    return [
        {"request_id": row[0], "push_type": row[1], "collapse_key": row[2], "expires_at_ms": row[3]}
        for row in rows
    ]


def _devices(
    conn: sqlite3.Connection, device_ids: Iterable[int]
) -> dict[int, tuple[str, int, str]]:
    """device_id → (token, app_id, bundle name), from the core's tables, in one query."""
    rows = conn.execute(
        "SELECT d.id, d.token, d.app_id, a.bundle_name"
        " FROM devices d JOIN apps a ON a.id = d.app_id"
        " WHERE d.id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(sorted(set(device_ids))),),
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _target(
    devices: dict[int, tuple[str, int, str]], facts: MessageFacts, row: _Held
) -> TargetDevice:
    device_id, _, category = row
    token, app_id, bundle_name = devices[device_id]
    return TargetDevice(device_id, token, app_id, bundle_name, category or facts.category)


def _outcomes(conn: sqlite3.Connection, rows: Sequence[_Held], now_ms: int) -> list[Outcome]:
    """Receipt-15 outcomes for held copies that leave the cache undelivered."""
    if not rows:
        return []
    facts = load_facts(conn, (row[1] for row in rows))
    devices = _devices(conn, (row[0] for row in rows))
    return [
        Outcome(facts[row[1]], _target(devices, facts[row[1]], row), _DROPPED, now_ms)
        for row in rows
        if row[0] in devices  # a device the core deleted (reset) gets no receipt
    ]
